"""Batched two-player board games on bitboards: the shared core of connect_four and
tictactoe. Every game of the batch is stepped by the same numpy operations.

Conventions follow PettingZoo's classic games: the observation of the player to move is
(rows, cols, 2) int8 with plane 0 its own pieces and plane 1 the opponent's, row 0 at the
top; a finished game gives the mover +1 for a win, 0 for a draw.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

ONE = np.uint64(1)


def check_actions(actions: np.ndarray, mask: np.ndarray, rows: np.ndarray) -> None:
    """Raise ValueError naming the first illegal action, its game and the legal mask.

    actions (n,) int, mask (n, A) 0/1 of the games `rows` (n,)."""
    legal = (actions >= 0) & (actions < mask.shape[1])
    legal[legal] = mask[legal.nonzero()[0], actions[legal]] == 1
    if not legal.all():
        i = int(np.flatnonzero(~legal)[0])
        raise ValueError(f"illegal action {int(actions[i])} in game {int(rows[i])}; legal "
                         f"mask {mask[i].tolist()}")


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) one uniformly random legal action per row of a (n, A) 0/1 mask."""
    return (rng.random(mask.shape) * mask).argmax(1)


class BoardGame:
    """`num_envs` games; subclasses define the board shape, where a move lands and wins."""

    rows: int
    cols: int
    num_actions: int
    num_players = 2
    # (rows, cols) bit index of each observation cell, set by subclasses
    cell_bits: np.ndarray
    # per-game arrays that make up a position: what copy_rows copies
    row_arrays: tuple[str, ...] = ("bits", "to_move", "num_moves")

    def __init__(self, num_envs: int) -> None:
        if num_envs <= 0:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        self.num_envs = num_envs
        self.bits = np.zeros((num_envs, 2), dtype=np.uint64)  # (N, 2): each seat's pieces
        self.to_move = np.zeros(num_envs, dtype=np.int64)     # (N,): seat 0 or 1
        self.num_moves = np.zeros(num_envs, dtype=np.int64)
        self._shifts = self.cell_bits.astype(np.uint64)

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        """(rows, cols, 2)."""
        return (self.rows, self.cols, 2)

    @property
    def observation_space(self) -> gym.spaces.Box:
        """One player's observation planes."""
        return gym.spaces.Box(0, 1, self.obs_shape, np.int8)

    def reset(self, rows: np.ndarray | None = None) -> None:
        """Empty the boards of the selected games (all when `rows` is None)."""
        rows = slice(None) if rows is None else rows
        self.bits[rows] = 0
        self.to_move[rows] = 0
        self.num_moves[rows] = 0
        self._reset_rows(rows)

    def _reset_rows(self, rows: np.ndarray | slice) -> None:
        """Game-specific state to clear on reset."""

    def observation(self, rows: np.ndarray | None = None, seat: np.ndarray | None = None
                    ) -> np.ndarray:
        """(n, rows, cols, 2) int8 of the games `rows` (all when None) from the viewpoint of
        `seat` (one per game; default the player to move)."""
        idx = np.arange(self.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        seat = self.to_move[idx] if seat is None else np.asarray(seat, dtype=np.int64)
        own = self.bits[idx, seat]
        other = self.bits[idx, 1 - seat]
        obs = np.empty((len(idx), self.rows, self.cols, 2), dtype=np.int8)
        obs[..., 0] = (own[:, None, None] >> self._shifts) & ONE
        obs[..., 1] = (other[:, None, None] >> self._shifts) & ONE
        return obs

    def action_mask(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, num_actions) int8 of the games `rows` (all when None), 1 where the move is
        legal."""
        raise NotImplementedError

    @property
    def mirror(self) -> tuple[int, np.ndarray]:
        """The left-right mirror image as (axis of a batch of observations to flip, the
        permutation of actions): actions are columns (connect four) or cells in row-major
        order (tic-tac-toe). Training data doubles with it."""
        cells = np.arange(self.rows * self.cols).reshape(self.rows, self.cols)
        perm = cells[:, ::-1].ravel() if self.num_actions == cells.size \
            else np.arange(self.cols)[::-1]
        return 2, perm.copy()

    def spawn(self, num_envs: int) -> BoardGame:
        """A new batch of `num_envs` empty games of this kind (a tree search's node store)."""
        return type(self)(num_envs)

    def copy_rows(self, dst: np.ndarray, source: BoardGame, src: np.ndarray) -> None:
        """Set games `dst` to the positions of `source`'s games `src` (one to one)."""
        for name in self.row_arrays:
            getattr(self, name)[dst] = getattr(source, name)[src]

    def load(self, rows: np.ndarray, planes: np.ndarray) -> None:
        """Set games `rows` to the positions of (n, rows, cols, 2) observations: the mover
        (plane 0) becomes seat 0. A board game's observation is its whole state, so a search
        can start from what a player sees."""
        rows = np.asarray(rows, dtype=np.int64)
        planes = np.asarray(planes)
        if planes.shape[1:] != self.obs_shape:
            raise ValueError(f"positions of {type(self).__name__} are {self.obs_shape} planes, "
                             f"got {planes.shape[1:]}")
        weights = ONE << self._shifts.ravel()
        for seat in (0, 1):
            cells = planes[..., seat].reshape(len(rows), -1).astype(bool)
            self.bits[rows, seat] = np.bitwise_or.reduce(np.where(cells, weights, 0), axis=1)
        self.to_move[rows] = 0
        self.num_moves[rows] = planes.reshape(len(rows), -1).sum(1)
        self._load_rows(rows, planes)

    def _load_rows(self, rows: np.ndarray, planes: np.ndarray) -> None:
        """Game-specific state derived from loaded positions."""

    def _landing_bits(self, actions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Bit index where each move of the games `rows` places its piece (and bookkeeping)."""
        raise NotImplementedError

    def _won(self, bits: np.ndarray) -> np.ndarray:
        """(N,) True where the bitboard holds a winning line."""
        raise NotImplementedError

    def step(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play one move in every game (or in the games `rows`; `actions` then has one move per
        row). Returns (won, draw, done) for the player who just moved, one entry per game
        stepped; that game's player to move switches. Illegal moves raise ValueError."""
        idx = np.arange(self.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != idx.shape:
            raise ValueError(f"expected {len(idx)} actions, got shape {actions.shape}")
        check_actions(actions, self.action_mask(idx), idx)
        seat = self.to_move[idx]
        self.bits[idx, seat] |= ONE << self._landing_bits(actions, idx).astype(np.uint64)
        self.num_moves[idx] += 1
        won = self._won(self.bits[idx, seat])
        draw = ~won & (self.num_moves[idx] == self.rows * self.cols)
        self.to_move[idx] = 1 - seat
        return won, draw, won | draw

    def play(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """step() in the TurnGame form: (rewards (n, 2) per seat, terminated, truncated)."""
        idx = np.arange(self.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        mover = self.to_move[idx].copy()
        won, _, done = self.step(actions, rows)
        rewards = np.zeros((len(idx), 2), dtype=np.float32)
        k = np.arange(len(idx))
        rewards[k, mover] = won
        rewards[k, 1 - mover] = -won.astype(np.float32)
        return rewards, done, np.zeros(len(idx), dtype=bool)
