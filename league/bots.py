"""Evaluation bots for the board games: uniform random, one-ply greedy (win now, else block
now), depth-limited alpha-beta negamax for connect four and perfect minimax for tic-tac-toe.

Bots read the same observations as learned policies (the mover's plane 0, the opponent's
plane 1, legal-action mask) and answer through the Policy interface: act() and
action_probs() on batches, with no recurrent state.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ludus.envs.connect_four import CELL_BITS as C4_BITS
from ludus.envs.connect_four import COLS, ROWS, STRIDE
from ludus.envs.history import board_planes
from ludus.envs.tictactoe import LINES as TTT_LINES

C4_SHIFTS = (1, STRIDE, STRIDE - 1, STRIDE + 1)
TTT_LINE_INTS = [int(x) for x in TTT_LINES]
WIN = 1_000_000  # a won position's score; sooner wins score higher (WIN - plies)


def planes_to_bits(planes: np.ndarray, cell_bits: np.ndarray) -> tuple[int, int]:
    """(mover bitboard, opponent bitboard) of one (rows, cols, 2) observation."""
    weights = [1 << int(b) for b in cell_bits.ravel()]
    own = sum(w for w, v in zip(weights, planes[..., 0].ravel(), strict=True) if v)
    other = sum(w for w, v in zip(weights, planes[..., 1].ravel(), strict=True) if v)
    return own, other


def c4_won(bits: int) -> bool:
    """True when a connect-four bitboard holds four in a row."""
    for s in C4_SHIFTS:
        pairs = bits & (bits >> s)
        if pairs & (pairs >> (2 * s)):
            return True
    return False


def c4_moves(own: int, other: int) -> list[tuple[int, int]]:
    """(column, bit of the landing cell) for every legal move."""
    occupied = own | other
    moves = []
    for col in range(COLS):
        for row in range(ROWS):
            bit = 1 << (col * STRIDE + row)
            if not occupied & bit:
                moves.append((col, bit))
                break
    return moves


@functools.cache
def c4_windows() -> tuple[int, ...]:
    """Bitmasks of the 69 lines of four cells."""
    windows = []
    for col in range(COLS):
        for row in range(ROWS):
            for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                cells = [(col + k * dc, row + k * dr) for k in range(4)]
                if all(0 <= c < COLS and 0 <= r < ROWS for c, r in cells):
                    windows.append(sum(1 << (c * STRIDE + r) for c, r in cells))
    return tuple(windows)


def c4_heuristic(own: int, other: int) -> int:
    """Open lines: +1 / +4 for each of the mover's lines holding 2 / 3 discs and none of the
    opponent's, minus the same for the opponent."""
    points = (0, 0, 1, 4, 0)
    score = 0
    for window in c4_windows():
        if not window & other:
            score += points[(own & window).bit_count()]
        elif not window & own:
            score -= points[(other & window).bit_count()]
    return score


def negamax(own: int, other: int, depth: int, alpha: int, beta: int, heuristic: bool,
            ply: int = 0) -> int:
    """Alpha-beta negamax value for the mover; leaves are 0 unless won or lost (or the open
    window heuristic when asked)."""
    if c4_won(other):
        return -(WIN - ply)
    moves = c4_moves(own, other)
    if not moves:
        return 0
    if depth == 0:
        return c4_heuristic(own, other) if heuristic else 0
    best = -WIN * 2
    for _, bit in sorted(moves, key=lambda m: abs(m[0] - COLS // 2)):  # centre first
        value = -negamax(other, own | bit, depth - 1, -beta, -alpha, heuristic, ply + 1)
        best = max(best, value)
        alpha = max(alpha, value)
        if alpha >= beta:
            break
    return best


@functools.cache
def ttt_value(own: int, other: int) -> int:
    """Exact tic-tac-toe value for the mover: +1 win, 0 draw, -1 loss."""
    if any(other & line == line for line in TTT_LINE_INTS):
        return -1
    empty = [1 << i for i in range(9) if not (own | other) & (1 << i)]
    if not empty:
        return 0
    return max(-ttt_value(other, own | bit) for bit in empty)


class Bot:
    """Base: batched act()/action_probs() from a per-position move scorer."""

    name = "bot"
    game: str | None = None  # the one game a bot knows; None: any ludus board

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    @property
    def recurrent(self) -> bool:
        return False

    def initial_state(self, batch_size: int) -> None:
        """Bots carry no state."""
        return None

    def scores(self, planes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(A,) scores of one position's moves; the best legal ones share the probability."""
        return np.zeros(len(mask))

    def action_probs(self, obs: Any, state: Any = None, action_mask: Any = None
                     ) -> tuple[np.ndarray, None]:
        """(B, A): uniform over the legal moves with the best score."""
        planes, mask = _split(obs, action_mask)
        if self.game is not None and planes.shape[1:3] != BOARDS[self.game]:
            raise ValueError(f"bot {self.name} plays {self.game}, not boards of shape "
                             f"{planes.shape[1:3]}")
        probs = np.zeros(mask.shape)
        for i in range(len(mask)):
            legal = mask[i].astype(bool)
            scores = np.where(legal, self.scores(planes[i], mask[i]), -np.inf)
            best = legal & (scores == scores.max())
            probs[i] = best / best.sum()
        return probs, None

    def act(self, obs: Any, state: Any = None, action_mask: Any = None,
            deterministic: bool = False) -> tuple[np.ndarray, None]:
        """A best move per position, ties broken at random (also when deterministic)."""
        probs, _ = self.action_probs(obs, state, action_mask)
        return np.array([self.rng.choice(len(p), p=p) for p in probs]), None


def _split(obs: Any, action_mask: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(obs, dict):
        planes, mask = obs["observation"], obs["action_mask"]
    else:
        planes, mask = obs, None
    mask = action_mask if action_mask is not None else mask
    if mask is None:
        raise ValueError("bots need an action mask (a dict observation or action_mask=)")
    planes = np.asarray(planes)
    if planes.ndim == 3:  # a move history (envs/history.py): replayed onto its board
        shape = {COLS: BOARDS["connect_four"], 9: BOARDS["tictactoe"]}.get(planes.shape[-1] - 2)
        if shape is None:
            raise ValueError(f"bots read boards or move histories of their games, not "
                             f"observations of shape {planes.shape[1:]}")
        planes = board_planes(planes, shape)
    return planes, np.asarray(mask)


class RandomBot(Bot):
    """Uniform over legal moves."""

    name = "random"


class GreedyBot(Bot):
    """One ply: play a winning move if there is one, else block the opponent's, else random."""

    name = "greedy"

    def scores(self, planes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        game = _game_of(planes)
        own, other = planes_to_bits(planes, game["cell_bits"])
        scores = np.zeros(len(mask))
        for action, bit in game["moves"](own, other):
            if game["won"](own | bit):
                scores[action] = 2
            elif game["won"](other | bit):
                scores[action] = 1
        return scores


class AlphaBetaBot(Bot):
    """Connect four: depth-limited alpha-beta negamax (`heuristic` scores the leaves)."""

    game = "connect_four"

    def __init__(self, depth: int = 4, heuristic: bool = False, seed: int = 0) -> None:
        super().__init__(seed)
        if depth < 1:
            raise ValueError(f"alpha-beta depth must be >= 1, got {depth}")
        self.depth, self.heuristic = depth, heuristic
        self.name = f"alphabeta{depth}" + ("h" if heuristic else "")

    def scores(self, planes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        own, other = planes_to_bits(planes, C4_BITS)
        scores = np.full(len(mask), -np.inf)
        for col, bit in c4_moves(own, other):
            # full window per root move: equal moves keep equal scores for random tie-breaks
            scores[col] = -negamax(other, own | bit, self.depth - 1, -WIN * 2, WIN * 2,
                                   self.heuristic, 1)
        return scores


class PerfectTicTacToeBot(Bot):
    """Tic-tac-toe by exact minimax: never loses."""

    name = "minimax"
    game = "tictactoe"

    def scores(self, planes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        own, other = planes_to_bits(planes, np.arange(9).reshape(3, 3))
        scores = np.full(len(mask), -np.inf)
        for cell in range(9):
            bit = 1 << cell
            if not (own | other) & bit:
                scores[cell] = -ttt_value(other, own | bit)
        return scores


def _ttt_moves(own: int, other: int) -> list[tuple[int, int]]:
    return [(i, 1 << i) for i in range(9) if not (own | other) & (1 << i)]


def _ttt_won(bits: int) -> bool:
    return any(bits & line == line for line in TTT_LINE_INTS)


def _game_of(planes: np.ndarray) -> dict[str, Any]:
    if planes.shape[:2] == (ROWS, COLS):
        return {"cell_bits": C4_BITS, "moves": c4_moves, "won": c4_won}
    if planes.shape[:2] == (3, 3):
        return {"cell_bits": np.arange(9).reshape(3, 3), "moves": _ttt_moves, "won": _ttt_won}
    raise ValueError(f"no bot knows a board of shape {planes.shape}")


BOARDS = {"connect_four": (ROWS, COLS), "tictactoe": (3, 3)}
BOTS = ("random", "greedy", "alphabeta:<depth>", "alphabeta-h:<depth>", "minimax")


def is_bot(spec: str) -> bool:
    """True when `spec` names a bot (see make_bot) rather than a checkpoint path."""
    return spec.partition(":")[0] in {b.partition(":")[0] for b in BOTS}


def make_bot(spec: str, seed: int = 0) -> Bot:
    """A bot from its name: random, greedy, alphabeta:D (connect four, leaves 0 unless won or
    lost), alphabeta-h:D (with the window heuristic) or minimax (perfect tic-tac-toe)."""
    name, _, depth = spec.partition(":")
    if name in ("alphabeta", "alphabeta-h") and depth.isdigit():
        return AlphaBetaBot(int(depth), heuristic=name == "alphabeta-h", seed=seed)
    simple = {"random": RandomBot, "greedy": GreedyBot, "minimax": PerfectTicTacToeBot}
    if name in simple and not depth:
        return simple[name](seed=seed)
    raise ValueError(f"unknown bot {spec!r}; choose one of {', '.join(BOTS)}")


def tictactoe_lines(player: Any, all_replies: bool = False) -> dict[str, int]:
    """Play `player` greedily from both seats against every perfect-minimax reply (every
    legal reply if `all_replies`), and count the outcomes of all lines of play.

    A player that never loses to perfect play has {"loss": 0}; the counts are over leaves of
    the game tree, so one position can contribute several lines.
    """
    counts = {"win": 0, "draw": 0, "loss": 0}
    cells = np.arange(9).reshape(3, 3)

    def visit(own: int, other: int, player_to_move: bool) -> None:
        if _ttt_won(other):  # whoever moved last has won
            counts["loss" if player_to_move else "win"] += 1
            return
        moves = _ttt_moves(own, other)
        if not moves:
            counts["draw"] += 1
            return
        if player_to_move:
            planes = np.stack([(own >> cells) & 1, (other >> cells) & 1], -1).astype(np.int8)
            mask = np.array([[not (own | other) & (1 << i) for i in range(9)]], dtype=np.int8)
            action, _ = player.act({"observation": planes[None], "action_mask": mask},
                                   player.initial_state(1), deterministic=True)
            visit(other, own | (1 << int(action[0])), False)
            return
        values = {cell: -ttt_value(other, own | bit) for cell, bit in moves}
        for cell, bit in moves:
            if all_replies or values[cell] == max(values.values()):
                visit(other, own | bit, True)

    visit(0, 0, True)
    visit(0, 0, False)
    return counts
