"""REINFORCE with a learned baseline: Williams 1992, "Simple Statistical Gradient-Following
Algorithms for Connectionist Reinforcement Learning"; Monte-Carlo returns of whole episodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.core import (
    Step,
    as_tensor,
    load_sampler_train_state,
    policy_gradient_step,
    sampler_train_state,
    split_obs,
)
from ludus.agents.distributions import distribution, to_env
from ludus.agents.onpolicy import PolicyGradientConfig, policy_net
from ludus.agents.storage import discounted_returns


@dataclass
class ReinforceConfig(PolicyGradientConfig):
    """REINFORCE with a state-value baseline, updated on complete episodes."""

    batch_steps: int = 2048
    """Update once complete episodes hold at least this many steps."""
    learning_rate: float = 1e-3
    """Adam learning rate."""


class Reinforce:
    """Collects whole episodes per environment, then one policy-gradient step."""

    def __init__(self, cfg: ReinforceConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        if cfg.net.core != "none":
            raise ValueError("REINFORCE here is feed-forward; use ppo-lstm for recurrent nets")
        self.cfg, self.device = cfg, torch.device(device)
        self.net, self.params = policy_net(cfg, obs_space, action_space, seed, self.device)
        self.action_space, self.dist = action_space, distribution(action_space)
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.learning_rate, fused=True)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.running: list[dict[str, list]] = [self._empty() for _ in range(cfg.num_envs)]
        self.episodes: list[dict[str, torch.Tensor]] = []
        self.num_updates = self.global_step = 0
        self.progress = 0.0  # fraction of the budget spent, set by the training loop

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"obs": [], "mask": [], "actions": [], "rewards": []}

    @torch.no_grad()
    def act(self, obs: Any) -> np.ndarray:
        """Sample actions (remembered with each env's observation); returned as the env takes
        them."""
        array, mask = split_obs(obs)
        mask_t = None if mask is None else as_tensor(mask, self.device).bool()
        logits, _, _ = self.net(as_tensor(array, self.device), None, None, mask_t, False)
        actions = self.dist.sample(logits, self.generator).cpu().numpy()
        for e, ep in enumerate(self.running):
            ep["obs"].append(np.array(array[e]))
            ep["mask"].append(None if mask is None else np.array(mask[e]))
            ep["actions"].append(actions[e])
        return to_env(actions, self.action_space)

    @torch.no_grad()
    def observe(self, step: Step) -> None:
        """Append rewards; close the episodes that ended."""
        self.global_step += self.cfg.num_envs
        ended = np.logical_or(step.terminated, step.truncated)
        for e, ep in enumerate(self.running):
            ep["rewards"].append(float(step.reward[e]))
            if ended[e]:
                self._close(e, bool(step.truncated[e] and not step.terminated[e]), step.final_obs)

    def _close(self, e: int, truncated: bool, final_obs: Any) -> None:
        ep, bootstrap = self.running[e], 0.0
        if truncated:  # a time limit is not the end of the task: bootstrap from the baseline
            array, _ = split_obs(final_obs)
            obs = as_tensor(array[e : e + 1], self.device)
            bootstrap = float(self.net(obs)[1][0])
        rewards = torch.tensor(ep["rewards"], dtype=torch.float32)
        self.episodes.append({
            "obs": torch.as_tensor(np.stack(ep["obs"]), device=self.device),
            "mask": None if ep["mask"][0] is None
            else torch.as_tensor(np.stack(ep["mask"]), device=self.device).bool(),
            "actions": torch.as_tensor(np.array(ep["actions"]), device=self.device),
            "returns": discounted_returns(rewards, self.cfg.gamma, bootstrap).to(self.device),
        })
        self.running[e] = self._empty()

    def ready(self) -> bool:
        """True when complete episodes hold batch_steps steps."""
        return sum(len(ep["returns"]) for ep in self.episodes) >= self.cfg.batch_steps

    def update(self) -> dict[str, float]:
        """One gradient step: -(G_t - b(s_t)) log pi(a_t|s_t) + baseline regression."""
        eps = self.episodes
        obs = torch.cat([ep["obs"] for ep in eps])
        mask = None if eps[0]["mask"] is None else torch.cat([ep["mask"] for ep in eps])
        actions = torch.cat([ep["actions"] for ep in eps])
        returns = torch.cat([ep["returns"] for ep in eps])
        logits, values, _ = self.net(obs, None, None, mask)
        metrics = policy_gradient_step(self, logits, values, actions, returns - values.detach(),
                                       returns)
        self.episodes = []
        self.num_updates += 1
        return {**metrics, "charts/episodes_per_update": len(eps)}

    def train_state(self) -> dict[str, Any]:
        """Optimizer, sampler RNG and counters (open episodes restart on resume)."""
        return sampler_train_state(self)

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        load_sampler_train_state(self, state)
        self.running = [self._empty() for _ in range(self.cfg.num_envs)]
        self.episodes = []
