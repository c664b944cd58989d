"""A board game seen as its move history (`connect_four_moves`, `tictactoe_moves`): the
observation is the sequence of moves so far, the input of sequence models such as a
masked-move (BERT-style) encoder, instead of the board they produce. The rules, rewards
and legal masks are the board game's.

Observation (max_plies, num_actions + 2) int8, one row per ply from the first: the move's
one-hot action, 1 in column A where the viewing seat made it, and column A + 1 (always 0
here) that marks a masked move in pretraining; rows past the last ply are zeros.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ludus.envs.board import BoardGame


class MoveHistory:
    """`game`'s batch of games, observed as move histories (a TurnGame)."""

    def __init__(self, game: BoardGame) -> None:
        self.game = game
        self.num_envs, self.num_players = game.num_envs, game.num_players
        self.num_actions = game.num_actions
        self.max_plies = game.rows * game.cols
        self.board_shape = (game.rows, game.cols)
        self.moves = np.full((self.num_envs, self.max_plies), -1, dtype=np.int64)  # (N, L)
        self.movers = np.zeros((self.num_envs, self.max_plies), dtype=np.int64)  # (N, L)
        self.plies = np.zeros(self.num_envs, dtype=np.int64)

    @property
    def to_move(self) -> np.ndarray:
        return self.game.to_move

    @property
    def observation_space(self) -> gym.spaces.Box:
        """One seat's view of the history."""
        return gym.spaces.Box(0, 1, (self.max_plies, self.num_actions + 2), np.int8)

    def reset(self, rows: np.ndarray | None = None) -> None:
        """New games in `rows` (all when None)."""
        self.game.reset(rows)
        rows = slice(None) if rows is None else rows
        self.moves[rows], self.plies[rows] = -1, 0

    def action_mask(self) -> np.ndarray:
        """(N, num_actions) the board game's legal moves."""
        return self.game.action_mask()

    def observation(self, rows: np.ndarray | None = None, seat: np.ndarray | None = None
                    ) -> np.ndarray:
        """(n, max_plies, num_actions + 2) int8 of the games `rows` seen by `seat` (default
        the player to move)."""
        idx = np.arange(self.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        seat = self.to_move[idx] if seat is None else np.asarray(seat, dtype=np.int64)
        return encode(self.moves[idx], self.movers[idx] == seat[:, None], self.num_actions)

    def play(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The board game's play(), with each move written down."""
        idx = np.arange(self.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        mover = self.to_move[idx].copy()
        out = self.game.play(actions, rows)  # illegal moves raise before anything is written
        self.moves[idx, self.plies[idx]] = np.asarray(actions, dtype=np.int64)
        self.movers[idx, self.plies[idx]] = mover
        self.plies[idx] += 1
        return out


def encode(moves: np.ndarray, mine: np.ndarray, num_actions: int) -> np.ndarray:
    """(n, L) actions (-1: no move) and (n, L) whose flags -> (n, L, num_actions + 2) int8."""
    out = np.zeros((*moves.shape, num_actions + 2), dtype=np.int8)
    played = moves >= 0
    n, k = np.nonzero(played)
    out[n, k, moves[played]] = 1
    out[..., num_actions] = played & mine
    return out


def board_planes(history: np.ndarray, board_shape: tuple[int, int]) -> np.ndarray:
    """Board planes (n, rows, cols, 2) int8 of the viewer (plane 0 its pieces) replayed from
    histories (n, L, A + 2): connect four's pieces fall (A = cols), tic-tac-toe's fill the
    cell (A = rows * cols). What bots read when a game is observed as its history."""
    rows, cols = board_shape
    n, length, width = history.shape
    actions = width - 2
    if actions not in (cols, rows * cols):
        raise ValueError(f"histories with {actions} actions do not fit a {rows}x{cols} board")
    planes = np.zeros((n, rows, cols, 2), dtype=np.int8)
    height = np.zeros((n, cols), dtype=np.int64)
    for k in range(length):
        played = history[:, k, :actions].any(1)
        if not played.any():
            break
        game = np.flatnonzero(played)
        move = history[game, k, :actions].argmax(1)
        plane = 1 - history[game, k, actions].astype(np.int64)
        if actions == cols:  # gravity
            r, c = rows - 1 - height[game, move], move
            height[game, move] += 1
        else:
            r, c = np.divmod(move, cols)
        planes[game, r, c, plane] = 1
    return planes
