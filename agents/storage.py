"""Rollout storage for on-policy agents and generalised advantage estimation."""

from __future__ import annotations

import torch

from ludus.nets import State


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
                episode_end: torch.Tensor, gamma: float, gae_lambda: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (Schulman et al. 2016) over a (T, N) rollout.

    next_values[t] is the value to bootstrap from after step t: V(s_{t+1}) normally,
    V(final observation) where the episode was truncated, and 0 where it terminated.
    episode_end[t] (terminated or truncated) stops the advantage trace.
    Returns (advantages, returns), each (T, N), with returns = advantages + values.
    """
    deltas = rewards + gamma * next_values - values
    carry = (gamma * gae_lambda) * (1.0 - episode_end)
    advantages = torch.zeros_like(rewards)  # (T, N)
    last = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        last = deltas[t] + carry[t] * last
        advantages[t] = last
    return advantages, advantages + values


def discounted_returns(rewards: torch.Tensor, gamma: float, bootstrap: float = 0.0) -> torch.Tensor:
    """Returns-to-go G_t = r_t + gamma G_{t+1} of one episode (T,), G_T = bootstrap."""
    returns = torch.zeros_like(rewards)
    running = torch.tensor(bootstrap, dtype=rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class RolloutStorage:
    """Fixed-size (T, N) buffers for one rollout, preallocated on the learner's device."""

    def __init__(self, num_steps: int, num_envs: int, obs_shape: tuple[int, ...],
                 obs_dtype: torch.dtype, num_actions: int, masked: bool,
                 device: torch.device, action_shape: tuple[int, ...] = ()) -> None:
        """`action_shape` () stores Discrete action indices; (A,) stores Box actions."""
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs = T, N
        self.obs = torch.zeros((T, N, *obs_shape), dtype=obs_dtype, device=device)
        self.action_mask = torch.ones((T, N, num_actions), dtype=torch.bool, device=device) \
            if masked else None
        self.actions = torch.zeros((T, N, *action_shape), device=device,
                                   dtype=torch.float32 if action_shape else torch.long)
        self.log_probs = torch.zeros((T, N), device=device)
        self.values = torch.zeros((T, N), device=device)
        self.rewards = torch.zeros((T, N), device=device)
        self.terminated = torch.zeros((T, N), device=device)
        self.truncated = torch.zeros((T, N), device=device)
        self.final_values = torch.zeros((T, N), device=device)  # V(final obs), truncated rows
        self.episode_start = torch.zeros((T, N), device=device)  # 1 where obs[t] begins an episode
        self.active = torch.ones((T, N), dtype=torch.bool, device=device)  # rows that took part
        self.initial_state: State | None = None  # recurrent state before obs[0]
        self.step = 0

    @property
    def full(self) -> bool:
        """True once num_steps transitions are stored."""
        return self.step >= self.num_steps

    def next_values(self, last_value: torch.Tensor) -> torch.Tensor:
        """Bootstrap targets per step: V(s_{t+1}), V(final obs) on truncation, 0 on termination."""
        nxt = torch.cat([self.values[1:], last_value.unsqueeze(0)])
        nxt = torch.where(self.truncated.bool(), self.final_values, nxt)
        return nxt * (1.0 - self.terminated)

    def advantages(self, last_value: torch.Tensor, gamma: float, gae_lambda: float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(advantages, returns) of the stored rollout, each (T, N)."""
        end = torch.maximum(self.terminated, self.truncated)
        return compute_gae(self.rewards, self.values, self.next_values(last_value), end,
                           gamma, gae_lambda)
