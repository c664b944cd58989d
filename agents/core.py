"""Small pieces every agent shares: the Step record, observation splitting, sampling, schedules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch


class TrainingError(RuntimeError):
    """A run cannot continue (for example a non-finite loss); the message says where."""


@dataclass
class Step:
    """One vectorised environment transition, all arrays with leading dim num_envs.

    `next_obs` is what the agent sees next (already reset where an episode ended);
    `final_obs` equals it except in rows that ended, where it holds the episode's last
    observation, needed to bootstrap through truncation.
    """

    obs: Any
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: Any
    final_obs: Any


class Agent(Protocol):
    """What the training loop needs from an algorithm."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    global_step: int
    progress: float
    """Fraction of the training budget spent, in [0, 1]; set by the loop, drives schedules."""

    def act(self, obs: Any) -> np.ndarray:
        """Exploratory actions for a batch of observations."""

    def observe(self, step: Step) -> None:
        """Store a transition."""

    def ready(self) -> bool:
        """True when enough data is stored for update()."""

    def update(self) -> dict[str, float]:
        """Learn from stored data; returns metrics keyed `group/name`."""

    def train_state(self) -> dict[str, Any]:
        """Everything besides the weights needed to resume: nested dicts/lists of numbers,
        strings, tensors and numpy arrays (stored without pickle)."""

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore what train_state() returned."""


def split_obs(obs: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(observation array, action mask or None) from an array or an {'observation', 'action_mask'} dict."""
    if isinstance(obs, dict):
        return obs["observation"], obs.get("action_mask")
    return obs, None


def as_tensor(x: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """numpy -> torch on `device` without a copy where possible."""
    if x is None:
        return None
    return torch.as_tensor(np.asarray(x), device=device)


def sample_logits(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Sample from Categorical(logits) by the Gumbel-max trick, using the given generator."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    return (logits - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(-1)


def log_prob_entropy(logits: torch.Tensor, actions: torch.Tensor, with_entropy: bool = True
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a|s) of the taken actions and the policy entropy (0 unless asked for)."""
    log_p = torch.log_softmax(logits, dim=-1)
    log_prob = log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    if not with_entropy:
        return log_prob, torch.zeros((), device=logits.device)
    # exp(masked) is exactly 0, so masked actions add 0 * finite = 0 to the entropy.
    return log_prob, -(log_p.exp() * log_p).sum(-1)


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Linear from `start` to `end` over the first `fraction` of training, then `end`.

    `progress` is the fraction of training done, in [0, 1].
    """
    if fraction <= 0:
        return end
    return start + (end - start) * min(1.0, progress / fraction)


def check_finite(loss: torch.Tensor, name: str, step: int) -> None:
    """Raise TrainingError when a loss is NaN or infinite."""
    if not bool(torch.isfinite(loss)):
        raise TrainingError(f"non-finite {name} loss ({loss.item()}) at step {step}; update stopped")


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
