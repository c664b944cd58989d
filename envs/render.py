"""Board renderers shared by the AEC envs' render modes, the watch and play windows and videos:
one style per game, drawing a position onto a pygame surface (pygame is imported on use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BLUE, DARK, RED, YELLOW = (30, 70, 200), (15, 25, 60), (220, 40, 40), (245, 210, 40)
WHITE, BLACK = (245, 245, 245), (20, 20, 20)


@dataclass(frozen=True)
class BoardStyle:
    """How one game looks: board colour and the drawing of each seat's pieces."""

    background: tuple[int, int, int]
    pieces: str  # "discs" (connect four) or "marks" (tic-tac-toe: X for seat 0, O for seat 1)
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]  # seat 0's and seat 1's pieces


STYLES = {"connect_four": BoardStyle(BLUE, "discs", (RED, YELLOW)),
          "tictactoe": BoardStyle(WHITE, "marks", (RED, BLUE))}


def renderer_game(env_id: str) -> str:
    """The board style of a game id: ludus's boards and PettingZoo's versions of them share
    one observation convention and so one renderer; other games have none (one clear error)."""
    for game in STYLES:
        if env_id == game or (env_id.startswith("pettingzoo:") and game in env_id):
            return game
    raise ValueError(f"no board renderer for {env_id!r}: boards are drawn for "
                     f"{', '.join(sorted(STYLES))} (and their PettingZoo versions); Gymnasium "
                     f"envs are shown from their rgb_array frames")


def board_of(planes: np.ndarray) -> np.ndarray:
    """(rows, cols) int8 with 0 empty, 1 seat 0, 2 seat 1, from (rows, cols, 2) planes given
    from seat 0's viewpoint."""
    return (planes[..., 0] + 2 * planes[..., 1]).astype(np.int8)


def ansi(board: np.ndarray, game: str) -> str:
    """A text picture of `board` (row 0 at the top), with column or cell numbers."""
    marks = ".XO" if game == "tictactoe" else ".RY"
    lines = [" ".join(marks[v] for v in row) for row in board]
    if game == "connect_four":
        lines.append(" ".join(str(c) for c in range(board.shape[1])))
    return "\n".join(lines)


MARK = (40, 220, 120)  # the last move's ring and the winning line
IN_A_ROW = {"connect_four": 4, "tictactoe": 3}


def winning_line(board: np.ndarray, k: int) -> list[tuple[int, int]] | None:
    """The cells of the first k pieces of one seat in a row (across, down or diagonal) on
    `board` ((rows, cols), 0 empty), or None."""
    rows, cols = board.shape
    for r, c in np.ndindex(board.shape):
        if not board[r, c]:
            continue
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            cells = [(r + i * dr, c + i * dc) for i in range(k)]
            if all(0 <= y < rows and 0 <= x < cols and board[y, x] == board[r, c]
                   for y, x in cells):
                return cells
    return None


class BoardRenderer:
    """Draws positions of `game` on pygame surfaces, `cell` pixels per square."""

    def __init__(self, game: str, cell: int = 80) -> None:
        if game not in STYLES:
            raise ValueError(f"no renderer for {game!r}; have {sorted(STYLES)}")
        self.game, self.style, self.cell = game, STYLES[game], cell

    def size(self, board: np.ndarray) -> tuple[int, int]:
        """(width, height) in pixels of a board drawing."""
        return board.shape[1] * self.cell, board.shape[0] * self.cell

    def cell_at(self, x: int, y: int, board: np.ndarray) -> tuple[int, int] | None:
        """(row, col) under pixel (x, y) of a drawing at the origin, or None outside."""
        r, c = y // self.cell, x // self.cell
        return (r, c) if 0 <= r < board.shape[0] and 0 <= c < board.shape[1] else None

    def draw(self, surface: Any, board: np.ndarray, origin: tuple[int, int] = (0, 0),
             last: tuple[int, int] | None = None) -> None:
        """Draw `board` ((rows, cols): 0 empty, 1 seat 0, 2 seat 1) with its top-left at
        origin; a ring marks the `last` move's cell and a line the winning row."""
        import pygame

        self._pieces(surface, board, origin)
        s, (ox, oy) = self.cell, origin
        centre = lambda r, c: (ox + c * s + s // 2, oy + r * s + s // 2)  # noqa: E731
        if last is not None:
            pygame.draw.circle(surface, MARK, centre(*last), int(s * 0.45), max(2, s // 20))
        line = winning_line(board, IN_A_ROW[self.game])
        if line is not None:
            pygame.draw.line(surface, MARK, centre(*line[0]), centre(*line[-1]), max(4, s // 10))

    def _pieces(self, surface: Any, board: np.ndarray, origin: tuple[int, int]) -> None:
        """The board and its pieces."""
        import pygame

        s, (ox, oy) = self.cell, origin
        surface.fill(self.style.background, pygame.Rect(ox, oy, *self.size(board)))
        for r, c in np.ndindex(board.shape):
            centre = (ox + c * s + s // 2, oy + r * s + s // 2)
            if self.style.pieces == "discs":
                colour = (DARK, *self.style.colours)[board[r, c]]
                pygame.draw.circle(surface, colour, centre, int(s * 0.4))
                continue
            pygame.draw.rect(surface, BLACK, pygame.Rect(ox + c * s, oy + r * s, s, s), 2)
            if board[r, c] == 1:
                d = int(s * 0.3)
                for sign in (1, -1):
                    pygame.draw.line(surface, self.style.colours[0], (centre[0] - d, centre[1] - sign * d),
                                     (centre[0] + d, centre[1] + sign * d), max(3, s // 12))
            elif board[r, c] == 2:
                pygame.draw.circle(surface, self.style.colours[1], centre, int(s * 0.32),
                                   max(3, s // 12))

    def frame(self, board: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 picture of `board`."""
        import pygame

        surface = pygame.Surface(self.size(board))
        self.draw(surface, board)
        return np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)).copy()
