"""Magnetic mirror descent on PPO (Sokota et al., ICLR 2023, "A Unified Approach to
Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum Games"): PPO's
clipped step toward better actions plays the mirror-descent proximity term, and the loss adds
a reverse KL from the policy to a magnet policy, alpha * KL(pi || magnet), beside the entropy
bonus. The regularised game's equilibrium is a quantal response equilibrium near the
magnet; moving the magnet toward the policy (an exponential moving average of the
parameters, or a copy every M updates) and shrinking alpha walk it toward a Nash
equilibrium, so the last iterate converges, with no average of past policies.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import torch

from ludus.agents.ppo import PPO, PPOConfig

Schedule = Literal["constant", "linear", "inverse_sqrt"]
SCHEDULES = ("constant", "linear", "inverse_sqrt")


@dataclass
class MMDConfig(PPOConfig):
    """PPO with a magnet: reverse-KL regularisation toward a slowly moving policy."""

    magnet_kl_coef: float = 0.5
    """alpha: coefficient of KL(policy || magnet) in the loss (with a moving magnet a
    strong pull damps self-play's cycling without moving its fixed point)."""
    magnet: Literal["ema", "refresh"] = "ema"
    """How the magnet follows the policy: an exponential moving average of its parameters
    after every update, or a copy of them every `magnet_every` updates."""
    magnet_tau: float = 0.05
    """EMA weight of the policy's parameters at each update (ema magnet)."""
    magnet_every: int = 50
    """Updates between copies of the policy into the magnet (refresh magnet)."""
    magnet_schedule: Schedule = "constant"
    """Schedule of magnet_kl_coef: constant, linear to 0 over the budget, or constant for
    `schedule_steps` env steps then falling as 1/sqrt(steps) (the paper's alpha_t
    proportional to 1/sqrt(t))."""
    ent_schedule: Schedule = "inverse_sqrt"
    """Schedule of ent_coef, the same choices: the entropy bonus biases the fixed point
    toward uniform play (a quantal response equilibrium), so it falls; a moving magnet
    biases nothing and may stay."""
    lr_schedule: Schedule = "constant"
    """Schedule of learning_rate on top of anneal_lr: the paper's deep runs shrink the
    mirror-descent step eta_t with alpha_t, both as 1/sqrt(t)."""
    schedule_steps: int = 100_000
    """Env steps before an inverse_sqrt schedule starts to fall."""

    def __post_init__(self) -> None:
        if self.magnet_kl_coef < 0:
            raise ValueError(f"magnet_kl_coef must be >= 0, got {self.magnet_kl_coef}")
        if not 0.0 < self.magnet_tau <= 1.0:
            raise ValueError(f"magnet_tau must be in (0, 1], got {self.magnet_tau}")
        for name in ("magnet_every", "schedule_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.magnet not in ("ema", "refresh"):
            raise ValueError(f"magnet is ema or refresh, got {self.magnet!r}")
        for name in ("magnet_schedule", "ent_schedule", "lr_schedule"):
            if getattr(self, name) not in SCHEDULES:
                raise ValueError(f"{name} is one of {', '.join(SCHEDULES)}, got "
                                 f"{getattr(self, name)!r}")
        if self.anneal_ent:
            raise ValueError("MMD schedules ent_coef itself (ent_schedule=); anneal_ent must "
                             "stay false")


class MMD(PPO):
    """PPO whose loss adds alpha_t * KL(pi || magnet); the magnet is a frozen copy of the
    net that follows the policy."""

    cfg: MMDConfig
    last_iterate = True  # its current policy is the product (no snapshot average needed)

    def __init__(self, cfg: MMDConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        super().__init__(cfg, obs_space, action_space, seed, device)
        if self.net.recurrent:
            raise ValueError("the MMD magnet needs a feed-forward net")
        if self.dist is None or not hasattr(self.dist, "kl"):
            raise ValueError("MMD needs a policy distribution with a KL")
        self.magnet_net = copy.deepcopy(self.net).requires_grad_(False)
        self.magnet_kl_coef = cfg.magnet_kl_coef

    def scale(self, schedule: str) -> float:
        """A schedule's factor on its coefficient now."""
        if schedule == "linear":
            return 1.0 - self.progress
        if schedule == "inverse_sqrt":
            steps = self.cfg.schedule_steps
            return math.sqrt(steps / max(self.global_step, steps))
        return 1.0

    def lr_scale(self) -> float:
        """PPO's learning-rate factor times lr_schedule's."""
        return super().lr_scale() * self.scale(self.cfg.lr_schedule)

    def set_coefficients(self) -> None:
        """PPO's coefficients, then the entropy and magnet ones on MMD's schedules."""
        super().set_coefficients()
        cfg = self.cfg
        self.ent_coef = cfg.ent_coef * self.scale(cfg.ent_schedule)
        self.magnet_kl_coef = cfg.magnet_kl_coef * self.scale(cfg.magnet_schedule)

    def penalties(self, obs: torch.Tensor, mask: torch.Tensor | None, logits: torch.Tensor
                  ) -> list[tuple[str, float, torch.Tensor]]:
        """PPO's penalties and the reverse KL to the magnet."""
        out = super().penalties(obs, mask, logits)
        if self.magnet_kl_coef:
            with torch.no_grad():
                magnet_logits = self.magnet_net(obs, None, None, mask, False)[0]
            out.append(("loss/magnet_kl", self.magnet_kl_coef,
                        self.dist.kl(logits, magnet_logits).mean()))
        return out

    @torch.no_grad()
    def move_magnet(self) -> None:
        """The magnet follows the policy: EMA after every update, or a copy every M."""
        params = [p for p in self.net.parameters()]
        magnet = [p for p in self.magnet_net.parameters()]
        if self.cfg.magnet == "ema":
            torch._foreach_lerp_(magnet, params, self.cfg.magnet_tau)
        elif self.num_updates % self.cfg.magnet_every == 0:
            torch._foreach_copy_(magnet, params)

    def update(self) -> dict[str, float]:
        """PPO's epochs, then the magnet's move."""
        metrics = super().update()
        self.move_magnet()
        metrics["charts/magnet_kl_coef"] = self.magnet_kl_coef
        return metrics

    def train_state(self) -> dict[str, Any]:
        """PPO's state plus the magnet's parameters."""
        return {**super().train_state(), "magnet": dict(self.magnet_net.state_dict())}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        super().load_train_state(state)
        self.magnet_net.load_state_dict(state["magnet"])
