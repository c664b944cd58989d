"""Action distributions over a policy head's output: categorical logits for Discrete
actions, a diagonal Gaussian (mean and log-std) for Box actions, and the tanh-squashed
Gaussian (SAC) and deterministic (TD3) actors scaled to a Box's bounds. Each samples with the
agent's own generator and gives its mode; log-probabilities, entropies and KLs where they
exist."""

from __future__ import annotations

import math
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.core import kl_divergence, log_prob_entropy, sample_logits

LOG_2PI_E = math.log(2 * math.pi * math.e)


class Distribution(Protocol):
    """What the policy-gradient agents and Policy need of an action distribution."""

    def sample(self, params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Actions drawn from each row's distribution."""

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """Each row's most probable action."""

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor,
                         with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) of `actions` and the entropy per row (0 unless asked for)."""

    def kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """KL(p || q) per row."""


class Categorical:
    """Masked logits (..., A) over Discrete actions."""

    def sample(self, params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return sample_logits(params, generator)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1)

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor,
                         with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        return log_prob_entropy(params, actions, with_entropy)

    def kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return kl_divergence(p, q)


class DiagGaussian:
    """(..., 2A): the mean and the log standard deviation of independent Gaussians over the
    A dimensions of a Box action (CleanRL's ppo_continuous_action; actions are clipped to
    the bounds by the agent when they reach the env, never before their log-probability)."""

    @staticmethod
    def split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std), each (..., A)."""
        return params.chunk(2, dim=-1)

    def sample(self, params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mean, log_std = self.split(params)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean + log_std.exp() * noise

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return self.split(params)[0]

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor,
                         with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.split(params)
        z = (actions - mean) * torch.exp(-log_std)
        log_prob = (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        if not with_entropy:
            return log_prob, torch.zeros((), device=params.device)
        return log_prob, (log_std + 0.5 * LOG_2PI_E).sum(-1)

    def kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        mp, lp = self.split(p)
        mq, lq = self.split(q)
        return (lq - lp + (torch.exp(2 * lp) + (mp - mq) ** 2) / (2 * torch.exp(2 * lq))
                - 0.5).sum(-1)


class StateDependentNoise:
    """gSDE's sampler (Raffin et al. 2021) for a GaussianHead with sde: exploration matrices
    theta ~ N(0, sigma^2) (N, F, A), one per env, redrawn by reset(); an action is
    mean + z @ theta for the head's last features z, so it changes smoothly with the state
    and the same state gives the same action until the next reset."""

    def __init__(self, head: torch.nn.Module) -> None:
        self.head = head
        self.theta: torch.Tensor | None = None

    def reset(self, num_envs: int, generator: torch.Generator) -> None:
        """Draw new exploration matrices."""
        std = self.head.log_std.detach().exp()
        self.theta = std * torch.randn((num_envs, *std.shape), generator=generator,
                                       device=std.device)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Actions (N, A) for the params of the head's last forward (N rows)."""
        mean = DiagGaussian.split(params)[0]
        return mean + (self.head.latent.unsqueeze(1) @ self.theta).squeeze(1)


class SquashedGaussian:
    """(..., 2A): mean and log-std of u ~ N; the action is tanh(u) scaled to the Box bounds,
    and its log-density carries the change of variables (Haarnoja et al. 2018, appendix C):
    log pi(a|s) = log N(u) - sum log(scale (1 - tanh(u)^2))."""

    def __init__(self, action_space: gym.spaces.Box) -> None:
        low, high = (torch.as_tensor(b, dtype=torch.float32) for b in
                     (action_space.low, action_space.high))
        self.scale, self.bias = (high - low) / 2, (high + low) / 2

    def _to(self, device: torch.device) -> None:
        if self.scale.device != device:
            self.scale, self.bias = self.scale.to(device), self.bias.to(device)

    def rsample(self, params: torch.Tensor, generator: torch.Generator | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised actions (B, A) and their log-probabilities (B,): gradients flow
        back to `params` (SAC's actor loss)."""
        mean, log_std = DiagGaussian.split(params)
        self._to(params.device)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        u = mean + log_std.exp() * noise
        y = torch.tanh(u)
        # 1e-6 keeps the log finite where tanh saturates (as CleanRL and SB3 do)
        log_prob = (-0.5 * noise * noise - log_std - 0.5 * math.log(2 * math.pi)
                    - torch.log(self.scale * (1 - y * y) + 1e-6)).sum(-1)
        return y * self.scale + self.bias, log_prob

    def sample(self, params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.rsample(params, generator)[0]

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        self._to(params.device)
        return torch.tanh(DiagGaussian.split(params)[0]) * self.scale + self.bias

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor,
                         with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) of actions inside the bounds; the entropy has no closed form, so it is
        the one-sample estimate -log pi(a|s)."""
        mean, log_std = DiagGaussian.split(params)
        self._to(params.device)
        y = ((actions - self.bias) / self.scale).clamp(-1 + 1e-6, 1 - 1e-6)
        z = (torch.atanh(y) - mean) * torch.exp(-log_std)
        log_prob = (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)
                    - torch.log(self.scale * (1 - y * y) + 1e-6)).sum(-1)
        return log_prob, -log_prob if with_entropy else torch.zeros((), device=params.device)

    def kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        raise ValueError("a squashed Gaussian has no closed-form KL; distill a Gaussian or "
                         "categorical policy instead")


class Deterministic:
    """(..., A): TD3's actor output u; the action is tanh(u) scaled to the Box bounds. It has
    no density: exploration noise is the learner's, added outside the policy."""

    def __init__(self, action_space: gym.spaces.Box) -> None:
        self.squash = SquashedGaussian(action_space)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        self.squash._to(params.device)
        return torch.tanh(params) * self.squash.scale + self.squash.bias

    def sample(self, params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.mode(params)

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor,
                         with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        raise ValueError("a deterministic (TD3) policy has no log-probabilities")

    def kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        raise ValueError("a deterministic (TD3) policy has no KL divergence")


def distribution(action_space: gym.Space, kind: str | None = None) -> Distribution:
    """The distribution of a policy over `action_space`: `kind` is the net's `action_dist`
    (categorical, gaussian, squashed_gaussian, deterministic); None picks categorical for
    Discrete and gaussian for one-dimensional Box actions."""
    if kind == "squashed_gaussian":
        return SquashedGaussian(action_space)
    if kind == "deterministic":
        return Deterministic(action_space)
    if kind not in (None, "categorical", "gaussian"):
        raise ValueError(f"unknown action distribution {kind!r}")
    if isinstance(action_space, gym.spaces.Discrete):
        return Categorical()
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return DiagGaussian()
    raise ValueError(f"unsupported action space {action_space}: ludus policies take Discrete "
                     f"or one-dimensional Box actions")


def to_env(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """Actions as the env takes them: Box actions clipped to their bounds (as Stable-
    Baselines3 and CleanRL do), Discrete ones unchanged."""
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(actions, action_space.low, action_space.high).astype(action_space.dtype)
    return actions
