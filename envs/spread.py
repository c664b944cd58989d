"""MPE's simple_spread (cooperative navigation, Lowe et al. 2017) for many copies at once in
numpy: the dynamics, rewards and observations of mpe2's simple_spread_v3 with discrete
actions, one row per (copy, agent) as envs.parallel lays them out, without the per-agent
Python of the AEC loop. `tests/envs/test_spread.py` steps both side by side."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

# mpe2's constants: agent size 0.15, dt 0.1, damping 0.25, contact force 100 with a softplus
# margin of 1e-3, unit mass, discrete moves of acceleration 5
SIZE, DT, DAMPING, CONTACT_FORCE, CONTACT_MARGIN, ACCEL = 0.15, 0.1, 0.25, 100.0, 1e-3, 5.0
MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.float64) * ACCEL


class BatchedSimpleSpread(gym.vector.VectorEnv):
    """`num_envs` rows = copies x N agents; same-step autoreset after `max_cycles` steps
    (every agent truncated); `info` as envs.parallel.AgentVectorEnv gives it (active,
    final_obs, team_return)."""

    def __init__(self, num_envs: int, N: int = 3, local_ratio: float = 0.5,
                 max_cycles: int = 25) -> None:
        if num_envs <= 0 or num_envs % N:
            raise ValueError(f"simple_spread has {N} agents per copy: num_envs counts agents and "
                             f"must be a positive multiple of {N}, got {num_envs}")
        self.N, self.copies, self.team_size = N, num_envs // N, N
        self.local_ratio, self.max_cycles = local_ratio, max_cycles
        self.num_envs = num_envs
        obs_dim = 4 + 2 * N + 4 * (N - 1)  # vel, pos, landmarks, others, their silent comms
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.single_action_space = gym.spaces.Discrete(5)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
                         "render_modes": []}
        E = self.copies
        self.pos, self.vel = np.zeros((E, N, 2)), np.zeros((E, N, 2))
        self.landmarks = np.zeros((E, N, 2))
        self.t = np.zeros(E, dtype=np.int64)
        self.team = np.zeros(E)
        self.rng = np.random.default_rng()
        self.others = np.array([[j for j in range(N) if j != i] for i in range(N)])

    def _place(self, copies: np.ndarray) -> None:
        """New episodes in `copies`: agents then landmarks uniform in [-1, 1]^2, at rest."""
        n = len(copies)
        self.pos[copies] = self.rng.uniform(-1, 1, (n, self.N, 2))
        self.landmarks[copies] = self.rng.uniform(-1, 1, (n, self.N, 2))
        self.vel[copies] = 0.0
        self.t[copies] = 0
        self.team[copies] = 0.0

    def _observe(self) -> np.ndarray:
        """(rows, obs_dim): own velocity and position, landmarks and other agents relative
        to it, then the others' (zero) communication."""
        E, N = self.copies, self.N
        rel_landmarks = self.landmarks[:, None, :, :] - self.pos[:, :, None, :]  # (E, N, L, 2)
        rel_others = self.pos[:, self.others, :] - self.pos[:, :, None, :]  # (E, N, N-1, 2)
        obs = np.concatenate([self.vel, self.pos, rel_landmarks.reshape(E, N, -1),
                              rel_others.reshape(E, N, -1), np.zeros((E, N, 2 * (N - 1)))], -1)
        return obs.reshape(E * N, -1).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Every copy starts a new episode."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._place(np.arange(self.copies))
        return self._observe(), {"active": np.ones(self.num_envs, dtype=bool)}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """Move every agent (force = its move plus contact forces), then reward the team by
        the distance of each landmark's nearest agent and each agent by its collisions."""
        E, N = self.copies, self.N
        force = MOVES[np.asarray(actions).reshape(E, N)]
        delta = self.pos[:, :, None, :] - self.pos[:, None, :, :]  # (E, N, N, 2): a - b
        dist = np.sqrt(np.square(delta).sum(-1))  # (E, N, N)
        off = ~np.eye(N, dtype=bool)
        penetration = np.logaddexp(0, -(dist - 2 * SIZE) / CONTACT_MARGIN) * CONTACT_MARGIN
        with np.errstate(invalid="ignore", divide="ignore"):
            contact = CONTACT_FORCE * delta / dist[..., None] * penetration[..., None]
        force += np.where(off[None, :, :, None], contact, 0.0).sum(2)
        self.pos += self.vel * DT
        self.vel = self.vel * (1 - DAMPING) + force * DT
        # rewards on the new positions
        to_landmarks = np.sqrt(np.square(self.pos[:, :, None, :] - self.landmarks[:, None, :, :]
                                         ).sum(-1))  # (E, agents, landmarks)
        global_reward = -to_landmarks.min(1).sum(-1)  # (E,)
        delta = self.pos[:, :, None, :] - self.pos[:, None, :, :]
        collisions = ((np.sqrt(np.square(delta).sum(-1)) < 2 * SIZE) & off).sum(-1)  # (E, N)
        reward = global_reward[:, None] * (1 - self.local_ratio) - collisions * self.local_ratio
        self.team += reward.sum(1)
        self.t += 1
        ended_copies = self.t >= self.max_cycles
        truncated = np.repeat(ended_copies, N)
        info: dict[str, Any] = {"active": np.ones(self.num_envs, dtype=bool)}
        team_return = np.zeros(self.num_envs)
        if ended_copies.any():
            info["final_obs"], info["_final_obs"] = self._observe(), truncated
            team_return[::N] = np.where(ended_copies, self.team, 0.0)
            info["team_return"] = team_return
            info["_team_return"] = np.zeros(self.num_envs, dtype=bool)
            info["_team_return"][::N] = ended_copies
            self._place(np.flatnonzero(ended_copies))
        return (self._observe(), reward.reshape(-1).astype(np.float32),
                np.zeros(self.num_envs, dtype=bool), truncated, info)
