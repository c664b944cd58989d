"""Token embeddings the GloVe way (Pennington, Socher and Manning 2014) on game records:
co-occurrence counts of tokens (here the cells moves fill) within a window, weighted by
1/distance, factorised by GloVe's weighted least squares; and a linear probe that asks what
the embeddings know about a property they were never told."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class GloVeConfig:
    """GloVe's factorisation: the paper's loss and weighting; a window, rate and number of
    full-batch epochs measured on connect four's 42 cells (2000 epochs: at the paper's 300
    the probes stay near chance)."""

    dim: int = 10
    """Embedding size."""
    window: int = 2
    """Tokens within this many steps of each other co-occur (weight 1/distance)."""
    x_max: float = 100.0
    """Counts above this get full weight in the loss."""
    alpha: float = 0.75
    """Weighting exponent: f(x) = (x / x_max)^alpha below x_max."""
    learning_rate: float = 0.2
    """AdaGrad learning rate (the paper's 0.05 fits a big corpus's many small steps)."""
    epochs: int = 2000
    """Full passes over the non-zero counts."""
    seed: int = 0
    """Seed of the initial vectors."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        if self.window < 1 or self.dim < 1 or self.epochs < 1:
            raise ValueError(f"window, dim and epochs must be >= 1, got {self.window}, "
                             f"{self.dim}, {self.epochs}")


def cooccurrence(sequences: Sequence[np.ndarray], vocab: int, window: int) -> np.ndarray:
    """(vocab, vocab) symmetric counts: tokens d <= window steps apart add 1/d."""
    if window < 1:
        raise ValueError(f"the co-occurrence window must be >= 1, got {window}")
    counts = np.zeros((vocab, vocab))
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int64)
        if len(seq) and (seq.min() < 0 or seq.max() >= vocab):
            raise ValueError(f"tokens must be in 0..{vocab - 1}, got {seq.min()}..{seq.max()}")
        for d in range(1, window + 1):
            np.add.at(counts, (seq[:-d], seq[d:]), 1.0 / d)
    return counts + counts.T


class GloVe(nn.Module):
    """Word and context vectors with biases: w_i . w~_j + b_i + b~_j ~ log X_ij."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.w, self.w_ctx = nn.Embedding(vocab, dim), nn.Embedding(vocab, dim)
        self.b, self.b_ctx = nn.Embedding(vocab, 1), nn.Embedding(vocab, 1)
        for table in (self.w, self.w_ctx):
            nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)
        for table in (self.b, self.b_ctx):
            nn.init.zeros_(table.weight)

    def forward(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return (self.w(i) * self.w_ctx(j)).sum(-1) + self.b(i)[:, 0] + self.b_ctx(j)[:, 0]

    def vectors(self) -> np.ndarray:
        """The embeddings: w + w~, as the paper uses them."""
        return (self.w.weight + self.w_ctx.weight).detach().numpy().copy()


def train_glove(counts: np.ndarray, cfg: GloVeConfig,
                log: Callable[[dict[str, float], int], None] | None = None
                ) -> tuple[np.ndarray, list[float]]:
    """(embeddings (vocab, dim), loss per epoch) of GloVe's weighted least squares over the
    non-zero counts, with AdaGrad."""
    cfg.validate()
    i, j = np.nonzero(counts)
    if not len(i):
        raise ValueError("no co-occurrences: the sequences are empty or shorter than 2")
    x = torch.as_tensor(counts[i, j], dtype=torch.float32)
    weight = torch.clamp(x / cfg.x_max, max=1.0) ** cfg.alpha
    target = torch.log(x)
    i_t, j_t = torch.as_tensor(i), torch.as_tensor(j)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = GloVe(len(counts), cfg.dim)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=cfg.learning_rate)
    losses = []
    for epoch in range(1, cfg.epochs + 1):
        loss = (weight * (model(i_t, j_t) - target) ** 2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if log is not None and (epoch % 10 == 0 or epoch == cfg.epochs):
            log({"glove/loss": losses[-1]}, epoch)
    return model.vectors(), losses


def probe_accuracy(vectors: np.ndarray, labels: np.ndarray, l2: float = 1e-2,
                   steps: int = 300) -> float:
    """Leave-one-out accuracy of a linear (softmax) classifier of `labels` from `vectors`
    (standardised; L2-penalised): what a linear read-out of the embeddings knows."""
    x = torch.as_tensor((vectors - vectors.mean(0)) / (vectors.std(0) + 1e-8), dtype=torch.float32)
    y = torch.as_tensor(labels)
    classes, correct = int(labels.max()) + 1, 0
    for k in range(len(x)):
        train = torch.arange(len(x)) != k
        linear = nn.Linear(x.shape[1], classes)
        optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

        def closure(linear: nn.Module = linear, optimizer: torch.optim.Optimizer = optimizer,
                    train: torch.Tensor = train) -> torch.Tensor:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(linear(x[train]), y[train]) \
                + l2 * (linear.weight ** 2).sum()
            loss.backward()
            return loss
        optimizer.step(closure)
        correct += int(linear(x[k:k + 1]).argmax() == y[k])
    return correct / len(x)
