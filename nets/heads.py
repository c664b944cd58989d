"""Output heads: categorical policy logits, state value, Q-values and dueling Q-values."""

from __future__ import annotations

import torch
from torch import nn

from ludus.nets.layers import layer_init


def policy_head(in_dim: int, num_actions: int, ortho_init: bool = True) -> nn.Linear:
    """Logits of a categorical policy; gain 0.01 keeps the initial policy near uniform."""
    layer = nn.Linear(in_dim, num_actions)
    return layer_init(layer, 0.01) if ortho_init else layer


def value_head(in_dim: int, ortho_init: bool = True) -> nn.Linear:
    """State value V(s), one output."""
    layer = nn.Linear(in_dim, 1)
    return layer_init(layer, 1.0) if ortho_init else layer


def q_head(in_dim: int, num_actions: int, ortho_init: bool = False) -> nn.Linear:
    """One Q-value per action."""
    layer = nn.Linear(in_dim, num_actions)
    return layer_init(layer, 1.0) if ortho_init else layer


class DuelingQHead(nn.Module):
    """Wang et al. 2016: Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')."""

    def __init__(self, in_dim: int, num_actions: int, ortho_init: bool = False) -> None:
        super().__init__()
        self.value = value_head(in_dim, ortho_init)
        self.advantage = q_head(in_dim, num_actions, ortho_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, in_dim) -> Q (B, num_actions)."""
        advantage = self.advantage(x)
        return self.value(x) + advantage - advantage.mean(dim=-1, keepdim=True)
