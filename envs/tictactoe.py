"""Tic-tac-toe for a batch of games: 9-bit boards, cell i = bit i in PettingZoo's order
(observation cell (r, c) is cell 3r + c), wins by the 8 line masks."""

from __future__ import annotations

import numpy as np

from ludus.envs.board import BoardGame

LINES = np.array([sum(1 << i for i in line) for line in (
    (0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))],
    dtype=np.uint64)


class TicTacToe(BoardGame):
    """Batched tic-tac-toe; action = cell 0..8."""

    rows, cols, num_actions = 3, 3, 9
    cell_bits = np.arange(9).reshape(3, 3)

    def action_mask(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, 9) int8: empty cells."""
        bits = self.bits if rows is None else self.bits[rows]
        occupied = bits[:, 0] | bits[:, 1]
        return (((occupied[:, None] >> np.arange(9, dtype=np.uint64)) & np.uint64(1)) == 0
                ).astype(np.int8)

    def _landing_bits(self, actions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return actions

    def _won(self, bits: np.ndarray) -> np.ndarray:
        return ((bits[:, None] & LINES) == LINES).any(axis=1)
