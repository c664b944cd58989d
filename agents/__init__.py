"""Agents: DQN, REINFORCE, A2C, PPO, recurrent PPO, SAC and TD3, with the machinery they share
(rollout storage and GAE, replay buffers, the training loop, checkpoints, tracking)."""

from ludus.agents.checkpoint import CheckpointError, load_policy
from ludus.agents.core import Step, TrainingError
from ludus.agents.loop import RunConfig, Trainer, load_run, resume, split_config, train
from ludus.agents.policy import Policy
from ludus.agents.registry import ALGOS, algo_entry, make_agent

__all__ = [
    "ALGOS", "CheckpointError", "Policy", "RunConfig", "Step", "Trainer", "TrainingError",
    "algo_entry", "load_policy", "load_run", "make_agent", "resume", "split_config", "train",
]
