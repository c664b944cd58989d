"""Connect four for a batch of games: bitboards with 7 bits per column (6 cells and a
sentinel), wins found by shift-and tests (the classic Tromp/Pons layout)."""

from __future__ import annotations

import numpy as np

from ludus.envs.board import BoardGame

ROWS, COLS, STRIDE = 6, 7, 7
# observation row 0 is the top row: cell (r, c) is bit c * 7 + (5 - r)
CELL_BITS = np.array([[c * STRIDE + (ROWS - 1 - r) for c in range(COLS)] for r in range(ROWS)])
SHIFTS = [np.uint64(s) for s in (1, STRIDE, STRIDE - 1, STRIDE + 1)]  # | - / \


class ConnectFour(BoardGame):
    """Batched connect four; action = column 0..6."""

    rows, cols, num_actions = ROWS, COLS, COLS
    cell_bits = CELL_BITS
    row_arrays = (*BoardGame.row_arrays, "heights")

    def __init__(self, num_envs: int) -> None:
        super().__init__(num_envs)
        self.heights = np.zeros((num_envs, COLS), dtype=np.int64)  # (N, 7) discs per column

    def _reset_rows(self, rows: np.ndarray | slice) -> None:
        self.heights[rows] = 0

    def action_mask(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, 7) int8: columns that are not full."""
        heights = self.heights if rows is None else self.heights[rows]
        return (heights < ROWS).astype(np.int8)

    def _load_rows(self, rows: np.ndarray, planes: np.ndarray) -> None:
        self.heights[rows] = planes.sum(axis=(1, 3))  # discs stack: a column's count

    def _landing_bits(self, actions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        bits = actions * STRIDE + self.heights[rows, actions]
        self.heights[rows, actions] += 1
        return bits

    def _won(self, bits: np.ndarray) -> np.ndarray:
        won = np.zeros(len(bits), dtype=bool)
        for s in SHIFTS:
            pairs = bits & (bits >> s)
            won |= (pairs & (pairs >> (s + s))) != 0
        return won
