"""Nets of the off-policy continuous-control learners: a tanh-squashed actor (a Gaussian for
SAC, deterministic for TD3) and twin Q critics Q(s, a) evaluated as one ensemble."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ludus.nets.layers import activation

# bounds on the actor's log-std, clamped as the original SAC code and Stable-Baselines3 do
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def flat_box(space: gym.Space, what: str) -> gym.spaces.Box:
    """`space` if it is a one-dimensional Box; else one error naming it."""
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        raise ValueError(f"{what} must be a one-dimensional Box, got {space}")
    return space


def squash_bounds(space: gym.Space) -> gym.spaces.Box:
    """A Box action space a tanh-squashed policy can cover: finite bounds on every dimension."""
    if isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"SAC and TD3 act in Box spaces, got {space}; for Discrete actions use "
                         f"dqn, ppo or a2c")
    box = flat_box(space, "the action space of a squashed (SAC/TD3) policy")
    if not (np.isfinite(box.low).all() and np.isfinite(box.high).all()):
        raise ValueError(f"a squashed (SAC/TD3) policy needs finite action bounds, got low="
                         f"{box.low.tolist()} high={box.high.tolist()}; wrap the env with "
                         f"gymnasium.wrappers.RescaleAction or ClipAction to give it bounds")
    return box


class SquashedActor(nn.Module):
    """obs -> MLP -> pre-tanh action parameters: a mean and a log-std (SAC, Haarnoja et al.
    2018) or the action itself (TD3). Actions are tanh(u) scaled to the Box bounds; the
    scaling lives with the action distribution, this net outputs u's parameters (B, 2A) or
    (B, A)."""

    recurrent = False

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, hidden: tuple[int, ...],
                 activation_name: str, stochastic: bool) -> None:
        super().__init__()
        obs_dim = flat_box(obs_space, "the observation space of SAC/TD3").shape[0]
        action_dim = squash_bounds(action_space).shape[0]
        self.stochastic = stochastic
        self.action_dist = "squashed_gaussian" if stochastic else "deterministic"
        layers, dim = [], obs_dim
        for width in hidden:
            layers += [nn.Linear(dim, width), activation(activation_name)]
            dim = width
        self.body = nn.Sequential(*layers)
        self.policy_head = nn.Linear(dim, 2 * action_dim if stochastic else action_dim)

    @property
    def norms(self) -> list:
        """No observation normaliser."""
        return []

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> None:
        """Feed-forward: no state."""
        return None

    def forward(self, obs: torch.Tensor, state: None = None, episode_start: None = None,
                action_mask: None = None, need_value: bool = False
                ) -> tuple[torch.Tensor, None, None]:
        """obs (B, O) -> (u's mean and log-std (B, 2A), or u (B, A); None; None), in the
        shape of ActorCritic's outputs so Policy drives both."""
        out = self.policy_head(self.body(obs.float()))
        if self.stochastic:
            mean, log_std = out.chunk(2, -1)
            out = torch.cat([mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)], -1)
        return out, None, None


class TwinQ(nn.Module):
    """K critics Q_k(s, a), each an MLP over [s, a] initialised as nn.Linear is (Fujimoto et
    al. 2018's clipped double Q uses K=2). Separate layers, not one batched product: on CPU
    two matrix products of a critic's size run faster than one batched product of both."""

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, hidden: tuple[int, ...],
                 activation_name: str, num_critics: int = 2) -> None:
        super().__init__()
        dims = [flat_box(obs_space, "the observation space of SAC/TD3").shape[0]
                + flat_box(action_space, "the action space of SAC/TD3").shape[0], *hidden]

        def critic() -> nn.Sequential:
            layers: list[nn.Module] = []
            for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
                layers += [nn.Linear(fan_in, fan_out), activation(activation_name)]
            return nn.Sequential(*layers, nn.Linear(dims[-1], 1))

        self.critics = nn.ModuleList(critic() for _ in range(num_critics))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """obs (B, O), action (B, A) -> Q-values (K, B)."""
        x = torch.cat([obs.float(), action], -1)
        return torch.stack([q(x).squeeze(-1) for q in self.critics])
