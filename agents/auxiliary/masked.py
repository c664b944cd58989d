"""Masked-move pretraining: BERT's objective (Devlin et al. 2019) on game records. A
position is the history of moves that led to it, seen by the player to move (the
`<game>_moves` observation of envs/history.py); 15% of its moves are chosen, of which 80%
are replaced by a mask token, 10% by a random move and 10% left alone, and the attention
encoder (nets.AttentionEncoder over the steps) predicts the chosen moves. Its encoder is
what a policy on the same observation starts from (`--encoder-init`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ludus.nets import AttentionEncoder

Encoder = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""encode(actions (n, L), mine (n, L), num_actions) -> histories (n, L, num_actions + 2):
the game's history observation (envs.history.encode), given by the caller."""


@dataclass
class MaskedConfig:
    """The masked-move model and its training."""

    dim: int = 64
    """Attention width (the policy's encoder must match to start from it)."""
    heads: int = 4
    """Attention heads."""
    layers: int = 2
    """Attention blocks."""
    mask_rate: float = 0.15
    """Share of a history's moves chosen for prediction (BERT's 15%)."""
    steps: int = 4000
    """Training batches."""
    batch_size: int = 256
    """Positions per batch."""
    learning_rate: float = 1e-3
    """AdamW learning rate (linear warm-up over the first 5% of steps, then cosine decay)."""
    held_out: float = 0.1
    """Share of games held out for measuring."""
    seed: int = 0
    """Seed of the split, the masks and the weights."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        if not 0.0 < self.mask_rate < 1.0:
            raise ValueError(f"mask_rate must be in (0, 1), got {self.mask_rate}")
        if not 0.0 < self.held_out < 1.0:
            raise ValueError(f"held_out must be in (0, 1), got {self.held_out}")


class MaskedMoveModel(nn.Module):
    """An attention encoder over move histories (L, A + 2) and a linear read-out of each
    step's move."""

    def __init__(self, length: int, num_actions: int, cfg: MaskedConfig) -> None:
        super().__init__()
        self.encoder = AttentionEncoder((length, num_actions + 2), cfg.dim, cfg.heads,
                                        cfg.layers)
        self.head = nn.Linear(cfg.dim, num_actions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, A + 2) histories -> (B, L, A) logits of every step's move."""
        return self.head(self.encoder.cells(x)[:, 1:])


class Positions:
    """Positions of recorded games (an envs.datasets.MoveRecords) as (history, player to
    move's flags), sampled by game."""

    def __init__(self, records: Any, games: np.ndarray) -> None:
        self.records, self.games = records, games
        self.lengths = (records.moves[games] >= 0).sum(1)  # (G,) plies of each game

    def sample(self, count: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`count` positions: (actions (n, L) with -1 past the position, mine (n, L),
        first chosen ply allowed (n,): after the game's random opening)."""
        pick = rng.integers(len(self.games), size=count)
        games = self.games[pick]
        plies = rng.integers(1, self.lengths[pick] + 1)  # moves made before the position
        moves = self.records.moves[games].astype(np.int64)
        steps = np.arange(moves.shape[1])[None]
        moves = np.where(steps < plies[:, None], moves, -1)
        mine = (steps % 2) == (plies[:, None] % 2)  # the player to move made every other move
        return moves, mine, self.records.openings[games]


def mask_moves(moves: np.ndarray, mine: np.ndarray, first: np.ndarray, num_actions: int,
               rate: float, rng: np.random.Generator, encode: Encoder
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT's corruption: (inputs (n, L, A + 2), chosen (n, L) bool, replaced (n, L) bool:
    the chosen steps given the mask token). Only the players' own moves (after `first`
    random ones) are chosen; every position gets at least one."""
    played = (moves >= 0) & (np.arange(moves.shape[1])[None] >= first[:, None])
    scores = np.where(played, rng.random(moves.shape), 2.0)
    chosen = played & (scores < rate)
    lone = played.any(1) & ~chosen.any(1)  # at least one target per position that has one
    chosen[np.flatnonzero(lone), scores[lone].argmin(1)] = True
    roll = rng.random(moves.shape)
    replaced = chosen & (roll < 0.8)
    randomised = chosen & (roll >= 0.8) & (roll < 0.9)
    corrupted = np.where(randomised, rng.integers(num_actions, size=moves.shape), moves)
    corrupted = np.where(replaced, -1, corrupted)
    inputs = encode(corrupted, mine & (moves >= 0), num_actions)
    inputs[..., num_actions + 1] = replaced  # the mask token
    return torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(chosen), \
        torch.as_tensor(replaced)


def baselines(records: Any, train: np.ndarray, moves: np.ndarray, replaced: np.ndarray,
              a: int) -> dict[str, float]:
    """Accuracy on the replaced moves of two guesses without a model: the most common move
    of the training games, and the most common move after the one before it (bigram)."""
    games = records.moves[train].astype(np.int64)
    flat = games[games >= 0]
    majority = int(np.bincount(flat, minlength=a).argmax())
    pairs = np.zeros((a, a))
    prev, nxt = games[:, :-1], games[:, 1:]
    ok = (prev >= 0) & (nxt >= 0)
    np.add.at(pairs, (prev[ok], nxt[ok]), 1)
    after = pairs.argmax(1)
    n, k = np.nonzero(replaced)
    target = moves[n, k]
    previous = np.where(k > 0, moves[n, np.maximum(k - 1, 0)], -1)
    bigram = np.where(previous >= 0, after[np.maximum(previous, 0)], majority)
    return {"baseline/majority": float((target == majority).mean()),
            "baseline/bigram": float((target == bigram).mean())}


def train_masked(records: Any, num_actions: int, encode: Encoder, cfg: MaskedConfig,
                 log: Callable[[dict[str, float], int], None] | None = None
                 ) -> tuple[MaskedMoveModel, dict[str, float]]:
    """Train on all but `held_out` of the recorded games (records.moves (G, L), -1 past a
    game's end; records.openings (G,) random first moves), split by game; returns the model
    and its held-out accuracy on the masked moves (and on every chosen move), with the
    baselines'."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(records))
    cut = max(1, int(round(cfg.held_out * len(records))))
    held, train = Positions(records, order[:cut]), Positions(records, order[cut:])
    a, length = num_actions, records.moves.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = MaskedMoveModel(length, a, cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    warmup = max(1, cfg.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup)
                                                 * 0.5 * (1 + np.cos(np.pi * s / cfg.steps)))
    for step in range(1, cfg.steps + 1):
        moves, mine, first = train.sample(cfg.batch_size, rng)
        x, chosen, _ = mask_moves(moves, mine, first, a, cfg.mask_rate, rng, encode)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits[chosen], torch.as_tensor(moves)[chosen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if log is not None and (step % 100 == 0 or step == cfg.steps):
            log({"masked/loss": float(loss.detach())}, step)
    test_rng = np.random.default_rng(cfg.seed + 1)  # the same held-out positions every time
    moves, mine, first = held.sample(4000, test_rng)
    x, chosen, replaced = mask_moves(moves, mine, first, a, cfg.mask_rate, test_rng,
                                      encode)
    model.eval()
    with torch.no_grad():
        guess = model(x).argmax(-1).numpy()
    target = moves
    out = {"masked/accuracy": float((guess == target)[replaced.numpy()].mean()),
           "masked/chosen_accuracy": float((guess == target)[chosen.numpy()].mean()),
           "masked/held_out_moves": int(replaced.sum()),
           **baselines(records, order[cut:], moves, replaced.numpy(), a)}
    return model, out
