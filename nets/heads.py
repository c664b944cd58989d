"""Output heads: categorical policy logits, Gaussian policy parameters, state value,
Q-values and dueling Q-values."""

from __future__ import annotations

import torch
from torch import nn

from ludus.nets.layers import layer_init


def policy_head(in_dim: int, num_actions: int, ortho_init: bool = True) -> nn.Linear:
    """Logits of a categorical policy; gain 0.01 keeps the initial policy near uniform."""
    layer = nn.Linear(in_dim, num_actions)
    return layer_init(layer, 0.01) if ortho_init else layer


class GaussianHead(nn.Module):
    """A diagonal Gaussian policy over Box actions: a linear mean (gain 0.01, near 0 at
    first) and a log standard deviation. Outputs (..., 2A): the mean, then the log-std.

    Plain: a state-independent log-std (CleanRL's ppo_continuous_action). `sde`:
    generalized state-dependent exploration (Raffin et al. 2021), whose noise is z @ theta
    for the features z and a matrix theta ~ N(0, sigma^2) (F, A) held for several steps;
    given z that is a Gaussian with variance (z^2) @ sigma^2, the log-std output here. The
    features of the last forward are kept in `latent` for the sampler (detached, as SB3's
    default: exploration does not shape the features).
    """

    def __init__(self, in_dim: int, action_dim: int, ortho_init: bool = True,
                 log_std: float = 0.0, sde: bool = False) -> None:
        super().__init__()
        self.mean = nn.Linear(in_dim, action_dim)
        if ortho_init:
            layer_init(self.mean, 0.01)
        self.sde = sde
        self.log_std = nn.Parameter(torch.full((in_dim, action_dim) if sde else (action_dim,),
                                               log_std))
        self.latent: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean(x)
        if not self.sde:
            return torch.cat([mean, self.log_std.expand_as(mean)], -1)
        self.latent = x.detach()
        variance = self.latent.square() @ torch.exp(2 * self.log_std)
        return torch.cat([mean, 0.5 * torch.log(variance + 1e-6)], -1)


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
