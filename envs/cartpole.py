"""CartPole-v1 stepped for a whole batch at once in numpy, with same-step autoreset.

The dynamics, thresholds, rewards and the 500-step time limit are those of Gymnasium's
CartPole-v1 (Barto, Sutton & Anderson 1983, Euler integration, float64 state); only the
per-env Python loop is gone.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, FORCE, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
THETA_LIMIT, X_LIMIT, MAX_STEPS = 12 * 2 * np.pi / 360, 2.4, 500


class BatchedCartPole(gym.vector.VectorEnv):
    """num_envs CartPole-v1 copies; `mask_velocity` zeroes the velocities (CartPoleNoVel)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, mask_velocity: bool = False) -> None:
        self.num_envs = num_envs
        self.mask_velocity = mask_velocity
        high = np.array([X_LIMIT * 2, np.inf, THETA_LIMIT * 2, np.inf], dtype=np.float32)
        self.single_observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.state = np.zeros((num_envs, 4))  # (N, 4): x, x_dot, theta, theta_dot
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.np_random = np.random.default_rng()

    def _obs(self, state: np.ndarray) -> np.ndarray:
        obs = state.astype(np.float32)
        if self.mask_velocity:
            obs[:, [1, 3]] = 0.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env; a seed reseeds the batch's generator."""
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.state = self.np_random.uniform(-0.05, 0.05, size=(self.num_envs, 4))
        self.steps[:] = 0
        return self._obs(self.state), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        """Advance every env one step; ended envs are reset in the same call."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or ((actions != 0) & (actions != 1)).any():
            raise ValueError(f"CartPole actions must be {self.num_envs} values in {{0, 1}}, "
                             f"got {actions!r}")
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(actions == 1, FORCE, -FORCE)
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos**2 / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        self.state = np.stack([x + TAU * x_dot, x_dot + TAU * x_acc,
                               theta + TAU * theta_dot, theta_dot + TAU * theta_acc], axis=1)
        self.steps += 1
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (np.abs(x) > X_LIMIT) | (np.abs(theta) > THETA_LIMIT)
        truncated = (self.steps >= MAX_STEPS) & ~terminated
        reward = np.ones(self.num_envs)
        obs, info = self._obs(self.state), {}
        ended = terminated | truncated
        if ended.any():
            final = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(ended):
                final[i] = obs[i].copy()
            info = {"final_obs": final, "_final_obs": ended}
            self.state[ended] = self.np_random.uniform(-0.05, 0.05, size=(int(ended.sum()), 4))
            self.steps[ended] = 0
            obs = self._obs(self.state)
        return obs, reward, terminated, truncated, info
