"""Agents: DQN, REINFORCE, A2C, PPO and recurrent PPO, with the machinery they share
(rollout storage and GAE, replay buffers, the training loop, checkpoints, tracking)."""

from agents.checkpoint import CheckpointError, load_policy
from agents.core import Step, TrainingError
from agents.loop import RunConfig, Trainer, load_run, resume, split_config, train
from agents.policy import Policy
from agents.registry import ALGOS, algo_entry, make_agent

__all__ = [
    "ALGOS", "CheckpointError", "Policy", "RunConfig", "Step", "Trainer", "TrainingError",
    "algo_entry", "load_policy", "load_run", "make_agent", "resume", "split_config", "train",
]
