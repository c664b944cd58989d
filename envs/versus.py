"""Seat a fixed opponent inside a batched two-player board game, so a learner sees an
ordinary Gymnasium vector env (dict observations with an action mask) and any algorithm
trains unchanged.

Rewards are zero-sum from the learner's seat (+1 win, -1 loss, 0 draw) and arrive on the
step that ends the game, whoever made the last move. Each env alternates the learner's
seat from one game to the next, and half the envs start with the learner second, so the
learner plays first and second equally.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from envs.board import BoardGame


class Opponent(Protocol):
    """Anything that answers like a ludus Policy (policies, bots).

    An opponent may also define start(rows), called when new games begin in those envs
    (to pick who sits there and reset its memory), and act_rows(obs, rows), which then
    replaces act() so it knows which envs it answers for.
    """

    def act(self, obs: Any, state: Any = None, action_mask: Any = None,
            deterministic: bool = False) -> tuple[np.ndarray, Any]: ...


class Versus(gym.vector.VectorEnv):
    """`game.num_envs` games of `game` against `opponent`, with same-step autoreset."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, game: BoardGame, opponent: Opponent) -> None:
        self.game, self.opponent = game, opponent
        self.num_envs = n = game.num_envs
        self.single_observation_space = gym.spaces.Dict({
            "observation": gym.spaces.Box(0, 1, game.obs_shape, np.int8),
            "action_mask": gym.spaces.Box(0, 1, (game.num_actions,), np.int8)})
        self.single_action_space = gym.spaces.Discrete(game.num_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)
        self.learner_seat = np.arange(n) % 2  # (N,): 0 moves first

    def _view(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The learner's observation of games `rows` (planes swapped when it is not to move)."""
        obs = self.game.observation(rows)
        flip = self.game.to_move[rows] != self.learner_seat[rows]
        obs[flip] = obs[flip][..., ::-1]
        return {"observation": obs, "action_mask": self.game.action_mask()[rows]}

    def _opponent_moves(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        obs = {"observation": self.game.observation(rows),
               "action_mask": self.game.action_mask()[rows]}
        if hasattr(self.opponent, "act_rows"):
            actions = self.opponent.act_rows(obs, rows)
        else:
            actions, _ = self.opponent.act(obs)
        return self.game.step(np.asarray(actions), rows)

    def _start(self, rows: np.ndarray) -> None:
        """New games in `rows`; the opponent opens where the learner sits second."""
        self.game.reset(rows)
        if hasattr(self.opponent, "start"):
            self.opponent.start(rows)
        second = rows[self.learner_seat[rows] == 1]
        if len(second):
            self._opponent_moves(second)

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start every game (the opponent's randomness is its own)."""
        all_rows = np.arange(self.num_envs)
        self.learner_seat = all_rows % 2
        self._start(all_rows)
        return self._view(all_rows), {}

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        """The learner moves in every game, then the opponent answers where the game goes on."""
        n = self.num_envs
        reward = np.zeros(n, dtype=np.float32)
        won, _, terminated = self.game.step(actions)
        reward[won] = 1.0
        live = np.flatnonzero(~terminated)
        if len(live):
            o_won, _, o_done = self._opponent_moves(live)
            reward[live[o_won]] = -1.0
            terminated[live[o_done]] = True
        info: dict[str, Any] = {}
        ended = np.flatnonzero(terminated)
        if len(ended):
            last = self._view(ended)
            final = np.empty(n, dtype=object)
            for k, i in enumerate(ended):
                final[i] = {key: value[k] for key, value in last.items()}
            info = {"final_obs": final, "_final_obs": terminated.copy()}
            self.learner_seat[ended] ^= 1
            self._start(ended)
        return self._view(np.arange(n)), reward, terminated, np.zeros(n, dtype=bool), info
