"""Multi-layer perceptron encoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ludus.nets.layers import activation, layer_init


class MLP(nn.Module):
    """Linear -> [LayerNorm | BatchNorm] -> activation -> [Dropout] blocks; `out_dim` is the
    last width.

    With no hidden sizes it flattens its input and passes it through unchanged.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        act: str = "tanh",
        layer_norm: bool = False,
        dropout: float = 0.0,
        ortho_init: bool = True,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for size in hidden:
            linear = nn.Linear(width, size)
            layers.append(layer_init(linear) if ortho_init else linear)
            if layer_norm:
                layers.append(nn.LayerNorm(size))
            elif batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.net = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, *obs_shape) -> (B, out_dim)."""
        return self.net(x.flatten(1)) if len(self.net) else x.flatten(1)
