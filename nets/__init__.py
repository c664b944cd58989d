"""Pure-torch building blocks: encoders, recurrent cores, heads, masking and the net builder."""

from ludus.nets.attention import AttentionCore, AttentionEncoder
from ludus.nets.builder import (
    ActorCritic,
    Body,
    NetSpec,
    QNetwork,
    build_net,
    is_continuous,
    num_actions,
    observation_space,
)
from ludus.nets.cnn import BoardCNN, NatureCNN
from ludus.nets.continuous import SquashedActor, TwinQ, squash_bounds
from ludus.nets.heads import DuelingQHead, GaussianHead, policy_head, q_head, value_head
from ludus.nets.layers import activation, layer_init
from ludus.nets.masking import apply_mask, mask_value
from ludus.nets.mlp import MLP
from ludus.nets.normalize import RunningNorm
from ludus.nets.recurrent import RecurrentCore, State

__all__ = [
    "MLP", "ActorCritic", "AttentionCore", "AttentionEncoder", "Body", "BoardCNN",
    "DuelingQHead", "GaussianHead", "NatureCNN", "NetSpec", "QNetwork", "is_continuous",
    "RecurrentCore", "RunningNorm", "SquashedActor", "TwinQ", "squash_bounds", "State",
    "activation", "apply_mask", "build_net",
    "layer_init", "mask_value", "num_actions", "observation_space", "policy_head", "q_head",
    "value_head",
]
