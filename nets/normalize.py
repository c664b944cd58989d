"""Running mean/variance observation normalisation kept inside the net.

The statistics are buffers, so they travel with the weights in every checkpoint and a loaded
policy normalises exactly as it did in training.
"""

from __future__ import annotations

import torch
from torch import nn


class RunningNorm(nn.Module):
    """Normalise inputs by running statistics (parallel-variance update, Chan et al. 1979)."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4))
        self.clip, self.eps = clip, eps

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch x: (B, *shape) into the running statistics."""
        x = x.float()
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (x - mean) / sqrt(var + eps), clipped to +-clip."""
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)
