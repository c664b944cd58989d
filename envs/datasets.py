"""Data sources of the auxiliary tasks, beside the environments: the digits set bundled with
scikit-learn, MNIST-format IDX files, synthetic sequence tasks and recorded game datasets.

Every array set is split reproducibly by seed; files are numpy archives read with
allow_pickle=False and written atomically."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Split:
    """Inputs `x` and targets `y` of a train / validation / test split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = 0
    """Classes of a classification set (0: regression targets)."""


def split(x: np.ndarray, y: np.ndarray, seed: int = 0, val: float = 0.15, test: float = 0.15,
          num_classes: int = 0) -> Split:
    """A shuffled train / validation / test split, fixed by `seed`."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test, n_val = int(round(test * len(x))), int(round(val * len(x)))
    te, va, tr = np.split(order, [n_test, n_test + n_val])
    return Split(x[tr], y[tr], x[va], y[va], x[te], y[te], num_classes)


def digits(seed: int = 0) -> Split:
    """scikit-learn's 1797 8x8 digits as (N, 1, 8, 8) float32 in [0, 1], labels 0..9."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    return split(x, data.target.astype(np.int64), seed, num_classes=10)


def transform_images(x: np.ndarray, shift: tuple[float, float] = (0.0, 0.0),
                     scale: float = 1.0) -> np.ndarray:
    """(N, C, H, W) images moved by `shift` pixels (down, right) and scaled by `scale` about
    their centre, bilinear, zeros where the source falls outside the frame."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    h, w = x.shape[-2:]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    sy = (rows - cy - shift[0]) / scale + cy  # where each output pixel samples the input
    sx = (cols - cx - shift[1]) / scale + cx
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    out = np.zeros_like(x)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        yy, xx = y0 + dy, x0 + dx
        weight = (1 - np.abs(sy - yy)) * (1 - np.abs(sx - xx))
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        out += np.where(inside, weight, 0.0) * x[..., np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
    return out.astype(x.dtype)


MOVES = {  # name: (shift (down, right) in pixels, scale about the centre)
    "shift_up": ((-1.0, 0.0), 1.0), "shift_down": ((1.0, 0.0), 1.0),
    "shift_left": ((0.0, -1.0), 1.0), "shift_right": ((0.0, 1.0), 1.0),
    "scale_0.8": ((0.0, 0.0), 0.8), "scale_1.2": ((0.0, 0.0), 1.2),
}
"""Small moves of an image within its frame (what the capsules are compared on)."""


def moved_images(x: np.ndarray) -> dict[str, np.ndarray]:
    """`x` (N, C, H, W) under each of MOVES."""
    return {name: transform_images(x, shift, scale) for name, (shift, scale) in MOVES.items()}


def read_idx(path: Path | str) -> np.ndarray:
    """An array from an IDX file (MNIST's format; .gz allowed); a bad file names itself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist")
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape} but the file holds {len(body)} bytes")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def idx_images(images: Path | str, labels: Path | str, seed: int = 0) -> Split:
    """An MNIST-format image set (e.g. train-images-idx3-ubyte + labels) as a Split, images
    (N, 1, H, W) float32 in [0, 1]."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{images} and {labels} do not match: shapes {x.shape} and {y.shape}")
    return split((x / 255.0).astype(np.float32)[:, None], y.astype(np.int64), seed,
                 num_classes=int(y.max()) + 1)


def sine_sequences(num: int = 2000, length: int = 50, frequencies: int = 3, noise: float = 0.01,
                   seed: int = 0) -> Split:
    """Next-value prediction on noisy sums of `frequencies` sines with random frequency and
    phase: x (N, length, 1) is the series, y (N, length, 1) the same series one step ahead."""
    rng = np.random.default_rng(seed)
    t = np.arange(length + 1)
    freq = rng.uniform(0.1, 0.5, (num, frequencies, 1))  # radians per step
    phase = rng.uniform(0, 2 * np.pi, (num, frequencies, 1))
    series = np.sin(freq * t + phase).mean(1) + noise * rng.standard_normal((num, length + 1))
    series = series.astype(np.float32)[..., None]
    return split(series[:, :-1], series[:, 1:], seed)


def copy_task(num: int = 4000, symbols: int = 8, delay: int = 20, seed: int = 0) -> Split:
    """Copy-after-delay memory task: a symbol (one-hot, of `symbols`) shown at step 0, then
    `delay` blank steps; the target is that symbol at the last step. x (N, delay + 1,
    symbols + 1) with the last channel marking the recall step, y (N,) the symbol."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, symbols, num)
    x = np.zeros((num, delay + 1, symbols + 1), np.float32)
    x[np.arange(num), 0, y] = 1.0
    x[:, -1, symbols] = 1.0
    return split(x, y.astype(np.int64), seed, num_classes=symbols)


@dataclass
class GameDataset:
    """Positions recorded from matches: what the recorded player saw and did."""

    game: str
    obs: np.ndarray
    """(S, *obs_shape) observations of the recorded player."""
    mask: np.ndarray
    """(S, A) int8 legal moves."""
    action: np.ndarray
    """(S,) the move it played."""
    probs: np.ndarray
    """(S, A) its move probabilities (a bot's: uniform over its best moves)."""
    outcome: np.ndarray
    """(S,) the final result of that game for the recorded player: +1, 0 or -1."""
    game_index: np.ndarray
    """(S,) which game each position comes from (splits keep games whole)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Who played (teacher, opponent), how many games, seeds."""

    def __len__(self) -> int:
        return len(self.action)

    def to_bytes(self) -> bytes:
        """The dataset as a compressed .npz (no pickled objects), for an atomic writer
        (ludus.league.recorder.save_dataset) to put on disk."""
        return npz_bytes({k: getattr(self, k) for k in GAME_ARRAYS}, {"game": self.game, **self.info})

    @classmethod
    def load(cls, path: Path | str) -> GameDataset:
        """Read a dataset written by to_bytes(); a missing, foreign or inconsistent file is
        one error naming it (arrays are read without pickle)."""
        meta, arrays = read_npz(path, "ludus game dataset", GAME_ARRAYS, check_dataset)
        return cls(meta.pop("game"), **arrays, info=meta)

    def split(self, val: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Indices of (train, held-out) positions; whole games go to one side."""
        games = np.unique(self.game_index)
        held = np.random.default_rng(seed).permutation(games)[: max(1, int(round(val * len(games))))]
        out = np.isin(self.game_index, held)
        return np.flatnonzero(~out), np.flatnonzero(out)


@dataclass
class MoveRecords:
    """Whole games as move sequences, from the first move (envs/history.py's form): what
    sequence models such as a masked-move encoder learn from."""

    game: str
    """The board game (connect_four, tictactoe)."""
    moves: np.ndarray
    """(G, L) int8 actions of each game in order, -1 past its end."""
    openings: np.ndarray
    """(G,) how many random moves each game began with (not the players' choices)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Who played, seeds."""

    def __len__(self) -> int:
        return len(self.moves)

    def to_bytes(self) -> bytes:
        """A compressed .npz (no pickled objects) for an atomic writer."""
        return npz_bytes({"moves": self.moves, "openings": self.openings},
                         {"game": self.game, **self.info})

    @classmethod
    def load(cls, path: Path | str) -> MoveRecords:
        """Read records written by to_bytes(); a missing or foreign file is one error."""
        def check(arrays: dict[str, np.ndarray]) -> None:
            moves, openings = arrays["moves"], arrays["openings"]
            if moves.ndim != 2 or openings.shape != (len(moves),) or moves.dtype.kind not in "iu":
                raise ValueError(f"moves {moves.shape} and openings {openings.shape} disagree")
        meta, arrays = read_npz(path, "ludus move record", ("moves", "openings"), check)
        return cls(meta.pop("game"), arrays["moves"], arrays["openings"], meta)


GAME_ARRAYS = ("obs", "mask", "action", "probs", "outcome", "game_index")


def npz_bytes(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    """Arrays and a JSON meta (with a "game") as a compressed .npz, without pickled objects."""
    import io
    import json

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, meta=np.array(json.dumps(meta)))
    return buffer.getvalue()


def read_npz(path: Path | str, what: str, keys: tuple[str, ...],
             check: Callable[[dict[str, np.ndarray]], None]) -> tuple[dict[str, Any],
                                                                     dict[str, np.ndarray]]:
    """(meta, arrays) of an .npz written by npz_bytes, read without pickle; a missing file,
    a foreign one or arrays that fail `check` are one error naming the file."""
    import json
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta, arrays = json.loads(str(z["meta"])), {k: z[k] for k in keys}
        if not isinstance(meta, dict) or not isinstance(meta.get("game"), str):
            raise ValueError("its meta names no game")
        check(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a {what}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                         ) from None
    return meta, arrays


def check_dataset(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless a dataset's arrays agree: S positions, A actions, numbers."""
    count = len(arrays["action"]) if arrays["action"].ndim == 1 else -1
    for key, ndim in (("action", 1), ("outcome", 1), ("game_index", 1), ("mask", 2), ("probs", 2)):
        a = arrays[key]
        if a.ndim != ndim or len(a) != count or a.dtype.kind not in "biuf":
            raise ValueError(f"array {key!r} has shape {a.shape} and dtype {a.dtype}")
    obs, mask, probs = arrays["obs"], arrays["mask"], arrays["probs"]
    if obs.ndim < 2 or len(obs) != count or obs.dtype.kind not in "biuf":
        raise ValueError(f"array 'obs' has shape {obs.shape} and dtype {obs.dtype}")
    if mask.shape != probs.shape or not np.isfinite(probs).all():
        raise ValueError(f"'mask' {mask.shape} and 'probs' {probs.shape} do not match")
    actions = arrays["action"]
    if count and (actions.min() < 0 or actions.max() >= mask.shape[1]):
        raise ValueError(f"actions outside 0..{mask.shape[1] - 1}")


def check_boards(data: GameDataset) -> None:
    """Raise ValueError unless `data` holds a board game's positions (rows, cols, 2)."""
    if data.obs.ndim != 4 or data.obs.shape[-1] != 2:
        raise ValueError(f"move sequences need board planes (rows, cols, 2); {data.game} "
                         f"has observations of shape {data.obs.shape[1:]}")


def move_sequences(data: GameDataset) -> list[np.ndarray]:
    """Each recorded game of a board game as the cells (row * cols + col) its moves filled,
    in order: the recorder's moves from its positions and actions, the other side's from the
    piece that appears between two of its positions (or the one piece on the board at its
    first position). Pieces of a random opening have no known order and are left out, as is
    a last reply that ended the game."""
    check_boards(data)
    gravity = data.game.endswith("connect_four")
    rows, cols = data.obs.shape[1:3]
    games = []
    for g in np.unique(data.game_index):
        known = None
        moves: list[int] = []
        for k in np.flatnonzero(data.game_index == g):
            board = data.obs[k].astype(bool)  # plane 0: the recorder (to move), 1: the other
            if known is not None:
                moves += np.flatnonzero((board[..., 1] & ~known).ravel()).tolist()
            elif board.sum() == 1:  # the other side moved first
                moves += np.flatnonzero(board[..., 1].ravel()).tolist()
            col = int(data.action[k])
            cell = (rows - 1 - int(board[:, col].any(-1).sum())) * cols + col if gravity else col
            moves.append(cell)
            known = board.any(-1).ravel().copy()
            known[cell] = True
            known = known.reshape(rows, cols)
        games.append(np.asarray(moves, np.int64))
    return games


def mirrored(data: GameDataset) -> GameDataset:
    """`data` plus its left-right mirror image (connect four and tic-tac-toe are symmetric
    under it): twice the positions for behaviour cloning, at no recording cost."""
    cols = data.obs.shape[2]
    if data.game.endswith("connect_four"):
        perm = np.arange(cols)[::-1]
    elif data.game.endswith("tictactoe"):
        perm = np.array([r * 3 + 2 - c for r in range(3) for c in range(3)])
    else:
        raise ValueError(f"no mirror symmetry known for {data.game}")
    both = lambda a, b: np.concatenate([a, b])  # noqa: E731
    return GameDataset(data.game, both(data.obs, data.obs[:, :, ::-1]),
                       both(data.mask, data.mask[:, perm]), both(data.action, perm[data.action]),
                       both(data.probs, data.probs[:, perm]), both(data.outcome, data.outcome),
                       both(data.game_index, data.game_index), {**data.info, "mirrored": True})
