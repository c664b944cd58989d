"""Seat fixed opponents inside a batched turn-based game, so a learner sees an ordinary
Gymnasium vector env (dict observations with an action mask) and any algorithm trains
unchanged.

The learner's reward is its own seat's reward, summed over its move and the opponents'
replies, so it arrives on the step that ends the game whoever made the last move (zero-sum
games give +1 win, -1 loss, 0 draw). Each env moves the learner to the next seat from one
game to the next, and the envs start at staggered seats, so the learner plays every seat
equally often.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from ludus.envs.board import random_legal


class TurnGame(Protocol):
    """A batch of `num_envs` turn-based games: the one multi-agent interface of ludus
    (its board games, PettingZoo envs and OpenSpiel games all implement it).

    Seats are numbered 0..num_players-1; `to_move` (N,) says whose turn it is in each game.
    A game with chance (cards, dice) may also define reseed(seed), which Versus.reset(seed=)
    calls.
    """

    num_envs: int
    num_players: int
    num_actions: int
    observation_space: gym.Space
    to_move: np.ndarray

    def reset(self, rows: np.ndarray | None = None) -> None:
        """Start new games in `rows` (all when None), played up to the first decision."""

    def observation(self, rows: np.ndarray | None = None, seat: np.ndarray | None = None
                    ) -> np.ndarray:
        """Observations of games `rows` as seen by `seat` (default: the player to move)."""

    def action_mask(self) -> np.ndarray:
        """(N, num_actions) int8, 1 where the player to move may play that action."""

    def play(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The player to move in each game `rows` plays its action; returns rewards
        (n, num_players), terminated (n,) and truncated (n,)."""


def final_info(last: dict[str, np.ndarray], ended: np.ndarray, done: np.ndarray
               ) -> dict[str, Any]:
    """Gymnasium's same-step autoreset info: `last` (the batched final observations of the
    envs `ended`) split into one dict per env under "final_obs", `done` (N,) its mask."""
    final = np.empty(len(done), dtype=object)
    for k, i in enumerate(ended):
        final[i] = {key: value[k] for key, value in last.items()}
    return {"final_obs": final, "_final_obs": done}


class Opponent(Protocol):
    """Anything that answers like a ludus Policy (policies, bots).

    An opponent may also define start(rows), called when new games begin in those envs
    (to pick who sits there and reset its memory), and act_rows(obs, rows), which then
    replaces act() so it knows which envs it answers for.
    """

    def act(self, obs: Any, state: Any = None, action_mask: Any = None,
            deterministic: bool = False) -> tuple[np.ndarray, Any]: ...


class Versus(gym.vector.VectorEnv):
    """`game.num_envs` games of `game` against `opponent` (every seat but the learner's),
    with same-step autoreset."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, game: TurnGame, opponent: Opponent, opening_moves: int = 0,
                 seed: int | None = None) -> None:
        """`opening_moves` > 0 starts each game after a uniform 0..opening_moves random
        legal moves (by either side), for a variety of positions; `seed` seeds them."""
        if opening_moves < 0:
            raise ValueError(f"opening_moves must be >= 0, got {opening_moves}")
        self.game, self.opponent, self.opening_moves = game, opponent, opening_moves
        self.rng = np.random.default_rng(seed)
        self.num_envs = n = game.num_envs
        self.single_observation_space = gym.spaces.Dict({
            "observation": game.observation_space,
            "action_mask": gym.spaces.Box(0, 1, (game.num_actions,), np.int8)})
        self.single_action_space = gym.spaces.Discrete(game.num_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)
        self.learner_seat = np.arange(n) % game.num_players  # (N,): 0 moves first

    def _view(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The learner's observation of games `rows`."""
        return {"observation": self.game.observation(rows, self.learner_seat[rows]),
                "action_mask": self.game.action_mask()[rows]}

    def _opponents_move(self, rows: np.ndarray, reward: np.ndarray, terminated: np.ndarray,
                        truncated: np.ndarray) -> None:
        """Opponents play in games `rows` until the learner is to move or the game ends,
        adding the learner's rewards into `reward` and game ends into the flags."""
        game = self.game
        rows = rows[game.to_move[rows] != self.learner_seat[rows]]
        while len(rows):
            obs = {"observation": game.observation(rows), "action_mask": game.action_mask()[rows]}
            if hasattr(self.opponent, "act_rows"):
                actions = self.opponent.act_rows(obs, rows)
            else:
                actions, _ = self.opponent.act(obs)
            rewards, term, trunc = game.play(np.asarray(actions), rows)
            reward[rows] += rewards[np.arange(len(rows)), self.learner_seat[rows]]
            terminated[rows] |= term
            truncated[rows] |= trunc
            rows = rows[~(term | trunc)]
            rows = rows[game.to_move[rows] != self.learner_seat[rows]]

    def _start(self, rows: np.ndarray) -> None:
        """New games in `rows`; opponents play until the learner's first move. A game that
        ends before it (possible after a random opening) is started again."""
        n = self.num_envs
        for _ in range(100):
            self.game.reset(rows)
            if self.opening_moves:
                self._random_opening(rows)
            if hasattr(self.opponent, "start"):
                self.opponent.start(rows)
            ended = np.zeros(n, dtype=bool)
            self._opponents_move(rows, np.zeros(n, dtype=np.float32), ended, ended.copy())
            rows = np.flatnonzero(ended)
            if not len(rows):
                return
        raise RuntimeError(f"games {rows.tolist()} keep ending before the learner's first move")

    def _random_opening(self, rows: np.ndarray) -> None:
        """Random legal moves in games `rows`; a game that ends during them starts afresh."""
        plies = self.rng.integers(self.opening_moves + 1, size=len(rows))
        for ply in range(self.opening_moves):
            live = rows[plies > ply]
            if not len(live):
                break
            choice = random_legal(self.game.action_mask()[live], self.rng)
            _, term, trunc = self.game.play(choice, live)
            if (term | trunc).any():
                self.game.reset(live[term | trunc])
                plies[np.isin(rows, live[term | trunc])] = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start every game. A `seed` seeds the random openings, and the game's chance and
        the opponent's draws where they can be reseeded (a `reseed(seed)` method): the same
        seed and the same actions give the same games."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            for offset, part in enumerate((self.game, self.opponent), start=1):
                if hasattr(part, "reseed"):
                    part.reseed(seed + offset)
        all_rows = np.arange(self.num_envs)
        self.learner_seat = all_rows % self.game.num_players
        self._start(all_rows)
        return self._view(all_rows), {}

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        """The learner moves in every game, then the opponents answer where the game goes on."""
        n = self.num_envs
        rewards, terminated, truncated = self.game.play(np.asarray(actions))
        reward = rewards[np.arange(n), self.learner_seat].astype(np.float32)
        self._opponents_move(np.flatnonzero(~(terminated | truncated)), reward, terminated,
                             truncated)
        info: dict[str, Any] = {}
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            info = final_info(self._view(ended), ended, terminated | truncated)
            self.learner_seat[ended] = (self.learner_seat[ended] + 1) % self.game.num_players
            self._start(ended)
        return self._view(np.arange(n)), reward, terminated, truncated, info


class SelfPlay(gym.vector.VectorEnv):
    """One player in every seat of `game.num_envs` games (AlphaZero's self-play), with
    same-step autoreset: each step the player to move in every game plays, and the next
    observation is the next mover's view.

    The reward is the mover's own reward for its move (+1 for a winning move); in a
    two-player zero-sum game the other seat's is its negative. `self.game` is the live batch
    of games, which a tree search copies its roots from.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
    plays_every_seat = True

    def __init__(self, game: TurnGame, seed: int | None = None) -> None:
        self.game, self.num_envs = game, game.num_envs
        self.single_observation_space = gym.spaces.Dict({
            "observation": game.observation_space,
            "action_mask": gym.spaces.Box(0, 1, (game.num_actions,), np.int8)})
        self.single_action_space = gym.spaces.Discrete(game.num_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.seed = seed

    def _view(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"observation": self.game.observation(rows),
                "action_mask": self.game.action_mask()[rows]}

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start every game (a `seed` reseeds a game with chance)."""
        if seed is not None and hasattr(self.game, "reseed"):
            self.game.reseed(seed)
        self.game.reset()
        return self._view(np.arange(self.num_envs)), {}

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        """The player to move in every game plays its action."""
        n = self.num_envs
        mover = self.game.to_move.copy()
        rewards, terminated, truncated = self.game.play(np.asarray(actions))
        reward = rewards[np.arange(n), mover].astype(np.float32)
        info: dict[str, Any] = {}
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            # the last position as the player who just moved sees it
            last = {"observation": self.game.observation(ended, mover[ended]),
                    "action_mask": self.game.action_mask()[ended]}
            info = final_info(last, ended, terminated | truncated)
            self.game.reset(ended)
        return self._view(np.arange(n)), reward, terminated, truncated, info
