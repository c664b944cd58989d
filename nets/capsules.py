"""Capsule networks (Sabour, Frosst and Hinton 2017): a convolution, primary capsules, class
capsules reached by dynamic routing by agreement, the margin loss, and a decoder that
reconstructs the input from the true class's capsule (a regulariser), sized for small
images such as the 8x8 digits."""

from __future__ import annotations

import math

import torch
from torch import nn


def squash(s: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shrink a vector's length into [0, 1) keeping its direction: |s|^2 / (1 + |s|^2) s/|s|."""
    n2 = (s * s).sum(dim, keepdim=True)
    return n2 / (1.0 + n2) * s / torch.sqrt(n2 + 1e-8)


def margin_loss(lengths: torch.Tensor, labels: torch.Tensor, m_plus: float = 0.9,
                m_minus: float = 0.1, down: float = 0.5) -> torch.Tensor:
    """The paper's margin loss, summed over classes and averaged over the batch: the true
    class's capsule longer than m_plus, the others shorter than m_minus."""
    present = nn.functional.one_hot(labels, lengths.shape[-1]).float()
    loss = present * torch.relu(m_plus - lengths) ** 2 \
        + down * (1 - present) * torch.relu(lengths - m_minus) ** 2
    return loss.sum(-1).mean()


class CapsNet(nn.Module):
    """conv (ReLU) -> primary capsules (a convolution's channels grouped into `primary_dim`-d
    vectors, squashed) -> one `class_dim`-d capsule per class by `routing` iterations of
    routing by agreement. forward() returns the class capsules' lengths (B, classes), the
    probability that each class is present; the capsules stay in `self.capsules` for the
    reconstruction loss."""

    def __init__(self, shape: tuple[int, int, int] = (1, 8, 8), classes: int = 10,
                 channels: int = 64, primary_types: int = 8, primary_dim: int = 8,
                 class_dim: int = 16, routing: int = 3, kernel: int = 3,
                 reconstruction_weight: float = 0.0005) -> None:
        super().__init__()
        if routing < 1:
            raise ValueError(f"routing needs >= 1 iteration, got {routing}")
        c, h, w = shape
        self.conv = nn.Conv2d(c, channels, kernel)
        self.primary = nn.Conv2d(channels, primary_types * primary_dim, kernel)
        side_h, side_w = h - 2 * (kernel - 1), w - 2 * (kernel - 1)
        if side_h < 1 or side_w < 1:
            raise ValueError(f"images of shape {shape} are too small for two {kernel}x{kernel} "
                             f"convolutions")
        self.num_primary = primary_types * side_h * side_w
        self.primary_types, self.primary_dim, self.routing = primary_types, primary_dim, routing
        self.weights = nn.Parameter(torch.randn(self.num_primary, classes, class_dim, primary_dim)
                                    / math.sqrt(primary_dim))  # W_ij: u_i -> u_hat_j|i
        self.decoder = nn.Sequential(
            nn.Linear(classes * class_dim, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
            nn.Linear(256, c * h * w), nn.Sigmoid())
        self.shape, self.reconstruction_weight = shape, reconstruction_weight
        self.capsules: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        p = self.primary(torch.relu(self.conv(x)))  # (B, types * dim, h', w')
        u = p.view(b, self.primary_types, self.primary_dim, -1).permute(0, 1, 3, 2)
        u = squash(u.reshape(b, self.num_primary, self.primary_dim))  # (B, N, dim)
        u_hat = torch.einsum("njdp,bnp->bnjd", self.weights, u)  # (B, N, classes, class_dim)
        logits = torch.zeros(u_hat.shape[:3], device=x.device)  # b_ij
        for r in range(self.routing):
            coupling = torch.softmax(logits, dim=2)  # c_ij: each primary splits over classes
            v = squash((coupling[..., None] * u_hat).sum(1))  # (B, classes, class_dim)
            if r + 1 < self.routing:
                logits = logits + (u_hat * v[:, None]).sum(-1)  # agreement
        self.capsules = v
        return v.norm(dim=-1)

    def reconstruct(self, labels: torch.Tensor) -> torch.Tensor:
        """Images decoded from the last forward's capsule of `labels` (others masked)."""
        mask = nn.functional.one_hot(labels, self.capsules.shape[1]).float()[..., None]
        return self.decoder((self.capsules * mask).flatten(1)).view(-1, *self.shape)

    def extra_loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The reconstruction regulariser of the last forward: weight * summed squared error
        per image (the paper's 0.0005 per pixel), averaged over the batch."""
        error = (self.reconstruct(labels) - x) ** 2
        return self.reconstruction_weight * error.flatten(1).sum(1).mean()
