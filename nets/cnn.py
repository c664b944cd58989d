"""Convolutional encoders: the Nature-DQN Atari trunk and a small same-padded board CNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ludus.nets.layers import activation, layer_init


def channels_last(shape: Sequence[int]) -> bool:
    """Guess the layout of an image shape: (H, W, C) when the last axis is the smallest."""
    return shape[-1] < shape[0]


class _ConvEncoder(nn.Module):
    """Shared plumbing: layout handling, uint8 scaling and sizing by one dummy forward."""

    def __init__(self, obs_shape: Sequence[int], convs: nn.Sequential, out_dim: int, act: str,
                 ortho_init: bool) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"CNN encoders need a 3-d image observation, got shape {tuple(obs_shape)}")
        self.channels_last = channels_last(obs_shape)
        c = obs_shape[-1] if self.channels_last else obs_shape[0]
        self.convs = convs
        with torch.no_grad():
            dummy = torch.zeros(1, c, *(obs_shape[:2] if self.channels_last else obs_shape[1:]))
            flat = self.convs(dummy).flatten(1).shape[1]
        linear = nn.Linear(flat, out_dim)
        self.fc = nn.Sequential(layer_init(linear) if ortho_init else linear, activation(act))
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) or (B, C, H, W) -> (B, out_dim)."""
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.fc(self.convs(self.scale(x)).flatten(1))

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return x


class NatureCNN(_ConvEncoder):
    """Mnih et al. 2015 (Nature DQN): 32x8s4, 64x4s2, 64x3s1 convs, then a 512-unit layer."""

    def __init__(self, obs_shape: Sequence[int], out_dim: int = 512, act: str = "relu",
                 ortho_init: bool = True) -> None:
        c = obs_shape[-1] if channels_last(obs_shape) else obs_shape[0]
        init = layer_init if ortho_init else (lambda m: m)
        convs = nn.Sequential(
            init(nn.Conv2d(c, 32, 8, stride=4)), activation(act),
            init(nn.Conv2d(32, 64, 4, stride=2)), activation(act),
            init(nn.Conv2d(64, 64, 3, stride=1)), activation(act),
        )
        super().__init__(obs_shape, convs, out_dim, act, ortho_init)

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        # Atari frames arrive as uint8 pixels; the buffers keep them that way to save memory.
        return x / 255.0


class BoardCNN(_ConvEncoder):
    """3x3 same-padded convolutions that keep the board size, then one dense layer."""

    def __init__(self, obs_shape: Sequence[int], channels: Sequence[int] = (64, 64),
                 out_dim: int = 128, act: str = "relu", ortho_init: bool = True,
                 batch_norm: bool = False) -> None:
        c = obs_shape[-1] if channels_last(obs_shape) else obs_shape[0]
        init = layer_init if ortho_init else (lambda m: m)
        layers: list[nn.Module] = []
        for width in channels:
            layers += [init(nn.Conv2d(c, width, 3, padding=1)),
                       *([nn.BatchNorm2d(width)] if batch_norm else []), activation(act)]
            c = width
        super().__init__(obs_shape, nn.Sequential(*layers), out_dim, act, ortho_init)
