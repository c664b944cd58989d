"""Pure-torch building blocks: encoders, recurrent cores, heads, masking and the net builder."""

from nets.builder import (
    ActorCritic,
    Body,
    NetSpec,
    QNetwork,
    build_net,
    num_actions,
    observation_space,
)
from nets.cnn import BoardCNN, NatureCNN
from nets.heads import DuelingQHead, policy_head, q_head, value_head
from nets.layers import activation, layer_init
from nets.masking import apply_mask, mask_value
from nets.mlp import MLP
from nets.normalize import RunningNorm
from nets.recurrent import RecurrentCore, State

__all__ = [
    "MLP", "ActorCritic", "Body", "BoardCNN", "DuelingQHead", "NatureCNN", "NetSpec", "QNetwork",
    "RecurrentCore", "RunningNorm", "State", "activation", "apply_mask", "build_net",
    "layer_init", "mask_value", "num_actions", "observation_space", "policy_head", "q_head",
    "value_head",
]
