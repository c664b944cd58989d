"""A2C: Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning", in its
synchronous form: one gradient step per short rollout from parallel environments."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import torch

from ludus.agents.core import policy_gradient_step, set_learning_rate
from ludus.agents.onpolicy import ActorCriticAgent, OnPolicyConfig


@dataclass
class A2CConfig(OnPolicyConfig):
    """A2C; defaults follow Stable-Baselines3 (RMSprop, 5-step rollouts)."""

    num_steps: int = 5
    """Steps per environment per rollout."""
    learning_rate: float = 7e-4
    """RMSprop learning rate."""
    gae_lambda: float = 1.0
    """GAE lambda (1.0: n-step returns as in the paper)."""
    norm_adv: bool = False
    """Normalise advantages."""
    rmsprop_alpha: float = 0.99
    """RMSprop smoothing constant."""
    rmsprop_eps: float = 1e-5
    """RMSprop epsilon."""


class A2C(ActorCriticAgent):
    """Advantage actor-critic: policy gradient with a learned baseline, one step per rollout."""

    cfg: A2CConfig
    masks_inactive = True  # feed-forward updates leave inactive rows out (Step.active)

    def __init__(self, cfg: A2CConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        super().__init__(cfg, obs_space, action_space, seed, device)
        self.optimizer = torch.optim.RMSprop(self.params, lr=cfg.learning_rate,
                                             alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps,
                                             foreach=True)

    def update(self) -> dict[str, float]:
        """One gradient step on the whole rollout."""
        cfg, s = self.cfg, self.storage
        advantages, returns = self.finish_rollout()
        lr = cfg.learning_rate * (1.0 - self.progress if cfg.anneal_lr else 1.0)
        set_learning_rate(self.optimizer, lr)
        if self.net.recurrent:
            logits, values, _ = self.net(s.obs, s.initial_state, s.episode_start, s.action_mask)
            actions = s.actions
        else:
            active = s.active.flatten()
            flat = lambda x: x.flatten(0, 1)[active]  # noqa: E731
            mask = None if s.action_mask is None else flat(s.action_mask)
            logits, values, _ = self.net(flat(s.obs), None, None, mask)
            advantages, returns, actions = flat(advantages), flat(returns), flat(s.actions)
        metrics = policy_gradient_step(self, logits, values, actions, advantages, returns)
        self.update_norms()
        self.num_updates += 1
        return {**metrics, "charts/learning_rate": lr}
