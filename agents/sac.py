"""SAC: Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications": a tanh-squashed
Gaussian actor, twin critics with clipped double-Q targets, and automatic entropy tuning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch

from ludus.agents.distributions import SquashedGaussian
from ludus.agents.offpolicy import OffPolicyActorCritic, OffPolicyConfig, adam, step


@dataclass
class SACConfig(OffPolicyConfig):
    """SAC; defaults follow Stable-Baselines3."""

    ent_coef: float | None = None
    """Fixed temperature alpha; None tunes it automatically towards target_entropy."""
    ent_coef_init: float = 1.0
    """Initial alpha when tuned automatically."""
    target_entropy: float | None = None
    """Entropy the tuned alpha aims for (None: -dim(A), the paper's heuristic)."""


class SAC(OffPolicyActorCritic):
    """Soft actor-critic on the shared off-policy machinery."""

    kind = "squashed_gaussian"

    def __init__(self, cfg: SACConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        super().__init__(cfg, obs_space, action_space, seed, device)
        self.unit = SquashedGaussian(gym.spaces.Box(-1.0, 1.0, (self.action_dim,)))
        self.auto_alpha = cfg.ent_coef is None
        initial = cfg.ent_coef_init if self.auto_alpha else cfg.ent_coef
        if not initial > 0:
            raise ValueError(f"SAC's temperature must be positive, got {initial}")
        self.log_alpha = torch.tensor(float(initial), device=self.device).log().requires_grad_(
            self.auto_alpha)
        self.target_entropy = float(-self.action_dim if cfg.target_entropy is None
                                    else cfg.target_entropy)
        self.alpha_optimizer = adam([self.log_alpha], cfg.learning_rate) if self.auto_alpha \
            else None

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Actor, critic and (when tuned) temperature optimizers."""
        out = super().optimizers
        if self.alpha_optimizer is not None:
            out["alpha"] = self.alpha_optimizer
        return out

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """A sample of the squashed Gaussian."""
        return self.unit.sample(self.net(obs)[0], self.generator)

    def gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Critics on the soft clipped double-Q target, then actor and temperature."""
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            next_action, next_log_prob = self.unit.rsample(self.net(batch["next_obs"])[0],
                                                           self.generator)
            next_q = self.critic_target(batch["next_obs"], next_action).min(0).values
            target = batch["returns"] + batch["discounts"] * (next_q - alpha * next_log_prob)
        critic_loss = self.critic_step(batch, target)

        action, log_prob = self.unit.rsample(self.net(batch["obs"])[0], self.generator)
        q_pi = self.critic(batch["obs"], action).min(0).values
        actor_loss = (alpha * log_prob - q_pi).mean()
        # gradients for the actor only: the critics' would be thrown away
        step(self.actor_optimizer, self.actor_params,
             torch.autograd.grad(actor_loss, self.actor_params))
        metrics = {"loss/critic": critic_loss, "loss/actor": actor_loss.detach(),
                   "charts/alpha": alpha, "charts/entropy": -log_prob.detach().mean()}
        if self.alpha_optimizer is not None:
            # SB3's form: the loss is linear in log alpha
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            step(self.alpha_optimizer, [self.log_alpha],
                 torch.autograd.grad(alpha_loss, [self.log_alpha]))
            metrics["loss/alpha"] = alpha_loss.detach()
        self.polyak()
        return metrics

    def train_state(self) -> dict[str, Any]:
        """The shared state plus log alpha."""
        return {**super().train_state(), "log_alpha": self.log_alpha.detach()}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        super().load_train_state(state)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
