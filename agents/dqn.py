"""DQN: Mnih et al. 2015, "Human-level control through deep reinforcement learning"; options
for double DQN (van Hasselt et al. 2016), dueling heads (Wang et al. 2016), n-step returns
and prioritized replay (Schaul et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.core import Step, as_tensor, check_finite, linear_schedule, split_obs
from agents.replay import PrioritizedReplayBuffer, ReplayBuffer
from nets import NetSpec, build_net, num_actions, observation_space


@dataclass
class DQNConfig:
    """DQN; defaults follow Stable-Baselines3."""

    num_envs: int = 1
    """Parallel environments."""
    learning_rate: float = 1e-4
    """Adam learning rate."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 100
    """Environment steps before learning begins."""
    batch_size: int = 32
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 1.0
    """Target update rate (1.0 copies the online net)."""
    target_update_interval: int = 10_000
    """Environment steps between target updates."""
    train_freq: int = 4
    """Vector steps between learning phases."""
    gradient_steps: int = 1
    """Gradient steps per learning phase (-1: as many as environment steps collected)."""
    exploration_fraction: float = 0.1
    """Fraction of training over which epsilon decays."""
    exploration_initial_eps: float = 1.0
    """Initial epsilon."""
    exploration_final_eps: float = 0.05
    """Final epsilon."""
    max_grad_norm: float = 10.0
    """Global gradient norm clip."""
    double_dqn: bool = False
    """Choose the next action with the online net, value it with the target net."""
    n_step: int = 1
    """Length of the n-step return."""
    prioritized: bool = False
    """Prioritized experience replay (proportional)."""
    per_alpha: float = 0.6
    """Prioritization exponent alpha."""
    per_beta: float = 0.4
    """Initial importance-sampling exponent, annealed to 1 over training."""
    net: NetSpec = field(default_factory=lambda: NetSpec(activation="relu", ortho_init=False))
    """Network architecture (set dueling=True for a dueling head)."""


class DQN:
    """Epsilon-greedy Q-learning from replay with a periodically updated target net."""

    def __init__(self, cfg: DQNConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        self.net = build_net(cfg.net, obs_space, action_space, "q", seed).to(self.device)
        self.target = build_net(cfg.net, obs_space, action_space, "q").to(self.device)
        self.target.load_state_dict(self.net.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        box = observation_space(obs_space)
        self.num_actions = num_actions(action_space)
        buffer_cls = PrioritizedReplayBuffer if cfg.prioritized else ReplayBuffer
        extra = {"alpha": cfg.per_alpha} if cfg.prioritized else {}
        self.buffer = buffer_cls(cfg.buffer_size, cfg.num_envs, box.shape, box.dtype,
                                 self.num_actions, isinstance(obs_space, gym.spaces.Dict),
                                 cfg.n_step, cfg.gamma, **extra)
        self.rng = np.random.default_rng(seed)
        self.num_updates = self.global_step = self.num_vector_steps = 0
        self.progress = 0.0  # fraction of the budget spent, set by the training loop

    @property
    def epsilon(self) -> float:
        """Current exploration rate."""
        c = self.cfg
        return linear_schedule(c.exploration_initial_eps, c.exploration_final_eps,
                               c.exploration_fraction, self.progress)

    @torch.no_grad()
    def act(self, obs: Any) -> np.ndarray:
        """Epsilon-greedy actions (random ones drawn among legal actions)."""
        array, mask = split_obs(obs)
        n = len(array)
        explore = self.rng.random(n) < self.epsilon
        if mask is None:
            actions = self.rng.integers(0, self.num_actions, size=n)
        else:  # uniform among legal actions: argmax of random keys on legal entries
            actions = np.where(mask, self.rng.random(mask.shape), -1.0).argmax(-1)
        if not explore.all():
            mask_t = None if mask is None else as_tensor(mask, self.device).bool()
            q = self.net(as_tensor(array, self.device), mask_t)
            actions = np.where(explore, actions, q.argmax(-1).cpu().numpy())
        return actions

    def observe(self, step: Step) -> None:
        """Store the transition (bootstrapping from the final observation on truncation)."""
        obs, _ = split_obs(step.obs)
        final, _ = split_obs(step.final_obs)
        # The legal actions after the transition come from the final obs where an episode ended.
        _, next_mask = split_obs(step.final_obs)
        self.buffer.add(obs, step.action, step.reward, final, step.terminated, step.truncated,
                        next_mask)
        self.global_step += self.cfg.num_envs
        self.num_vector_steps += 1
        every = max(self.cfg.target_update_interval // self.cfg.num_envs, 1)
        if self.num_vector_steps % every == 0:
            self._update_target()

    @torch.no_grad()
    def _update_target(self) -> None:
        if self.cfg.tau >= 1.0:
            self.target.load_state_dict(self.net.state_dict())
            return
        for p, tp in zip(self.net.parameters(), self.target.parameters(), strict=True):
            tp.lerp_(p, self.cfg.tau)

    def ready(self) -> bool:
        """True at a learning phase after learning_starts."""
        return (self.global_step >= self.cfg.learning_starts
                and self.num_vector_steps % self.cfg.train_freq == 0 and len(self.buffer) > 0)

    def update(self) -> dict[str, float]:
        """A learning phase of gradient_steps TD updates."""
        cfg = self.cfg
        steps = cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.train_freq * cfg.num_envs
        losses, qs = [], []
        for _ in range(steps):
            loss, q = self._gradient_step()
            losses.append(loss)
            qs.append(q)
        self.num_updates += 1
        return {"loss/td": float(np.mean(losses)), "charts/q_values": float(np.mean(qs)),
                "charts/epsilon": self.epsilon}

    def _gradient_step(self) -> tuple[float, float]:
        cfg, dev = self.cfg, self.device
        flat = self.buffer.sample_indices(cfg.batch_size, self.rng)
        b = {k: torch.as_tensor(v, device=dev) for k, v in self.buffer.gather(flat).items()}
        next_mask = b.get("next_mask")
        with torch.no_grad():
            next_q = self.target(b["next_obs"], next_mask)
            if cfg.double_dqn:
                best = self.net(b["next_obs"], next_mask).argmax(-1, keepdim=True)
                next_v = next_q.gather(-1, best).squeeze(-1)
            else:
                next_v = next_q.max(-1).values
            target = b["returns"] + b["discounts"] * next_v
        q = self.net(b["obs"]).gather(-1, b["actions"].unsqueeze(-1)).squeeze(-1)
        if cfg.prioritized:
            beta = cfg.per_beta + (1.0 - cfg.per_beta) * self.progress
            weights = torch.as_tensor(self.buffer.weights(flat, beta), device=dev)
            loss = (weights * F.smooth_l1_loss(q, target, reduction="none")).mean()
            self.buffer.update_priorities(flat, (q - target).detach().cpu().numpy())
        else:
            loss = F.smooth_l1_loss(q, target)
        check_finite(loss, "td", self.global_step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return loss.item(), q.mean().item()

    def train_state(self) -> dict[str, Any]:
        """Optimizer, target net, replay buffer, RNG and counters."""
        return {"optimizer": self.optimizer.state_dict(), "target": self.target.state_dict(),
                "buffer": self.buffer.state(), "rng": self.rng.bit_generator.state,
                "num_updates": self.num_updates, "global_step": self.global_step,
                "num_vector_steps": self.num_vector_steps}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.target.load_state_dict(state["target"])
        self.buffer.load_state(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.num_updates, self.global_step = state["num_updates"], state["global_step"]
        self.num_vector_steps = state["num_vector_steps"]
