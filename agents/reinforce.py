"""REINFORCE with a learned baseline: Williams 1992, "Simple Statistical Gradient-Following
Algorithms for Connectionist Reinforcement Learning"; Monte-Carlo returns of whole episodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.core import Step, as_tensor, check_finite, log_prob_entropy, sample_logits, split_obs
from agents.storage import discounted_returns
from nets import NetSpec, build_net


@dataclass
class ReinforceConfig:
    """REINFORCE with a state-value baseline, updated on complete episodes."""

    num_envs: int = 8
    """Parallel environments."""
    batch_steps: int = 2048
    """Update once complete episodes hold at least this many steps."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Baseline (value) loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    norm_adv: bool = True
    """Normalise the advantages G_t - b(s_t) over the batch."""
    net: NetSpec = field(default_factory=NetSpec)
    """Network architecture (feed-forward)."""


class Reinforce:
    """Collects whole episodes per environment, then one policy-gradient step."""

    def __init__(self, cfg: ReinforceConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        if cfg.net.core != "none":
            raise ValueError("REINFORCE here is feed-forward; use ppo-lstm for recurrent nets")
        self.cfg, self.device = cfg, torch.device(device)
        self.net = build_net(cfg.net, obs_space, action_space, "actor_critic", seed).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate, fused=True)
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
        """Sample actions; remember each env's observation and action."""
        array, mask = split_obs(obs)
        mask_t = None if mask is None else as_tensor(mask, self.device).bool()
        logits, _, _ = self.net(as_tensor(array, self.device), None, None, mask_t, False)
        actions = sample_logits(logits, self.generator).cpu().numpy()
        for e, ep in enumerate(self.running):
            ep["obs"].append(np.array(array[e]))
            ep["mask"].append(None if mask is None else np.array(mask[e]))
            ep["actions"].append(actions[e])
        return actions

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
        cfg, eps = self.cfg, self.episodes
        obs = torch.cat([ep["obs"] for ep in eps])
        mask = None if eps[0]["mask"] is None else torch.cat([ep["mask"] for ep in eps])
        actions = torch.cat([ep["actions"] for ep in eps])
        returns = torch.cat([ep["returns"] for ep in eps])
        logits, values, _ = self.net(obs, None, None, mask)
        log_prob, entropy = log_prob_entropy(logits, actions)
        advantages = returns - values.detach()
        if cfg.norm_adv and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        pg_loss = -(advantages * log_prob).mean()
        v_loss = ((values - returns) ** 2).mean()
        ent = entropy.mean()
        loss = pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
        check_finite(loss, "reinforce", self.global_step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.episodes = []
        self.num_updates += 1
        return {"loss/policy": pg_loss.item(), "loss/value": v_loss.item(),
                "loss/entropy": ent.item(), "charts/episodes_per_update": len(eps)}

    def train_state(self) -> dict[str, Any]:
        """Optimizer, sampler RNG and counters (open episodes restart on resume)."""
        return {"optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                "num_updates": self.num_updates, "global_step": self.global_step}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self.num_updates, self.global_step = state["num_updates"], state["global_step"]
        self.running = [self._empty() for _ in range(self.cfg.num_envs)]
        self.episodes = []
