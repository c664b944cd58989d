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

from ludus.agents.core import Step, as_tensor, check_finite, gradient_step, linear_schedule, split_obs
from ludus.agents.replay import PrioritizedReplayBuffer, ReplayBuffer
from ludus.nets import NetSpec, build_net, num_actions, observation_space


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
    checkpoint_replay: bool = True
    """Save the replay buffer with each checkpoint so --resume continues with it (turn off
    for buffers too large for the disk; a resumed run then refills it)."""
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
        # Parameters and buffers (e.g. observation statistics), in matching order.
        self.online_tensors = [*self.net.parameters(), *self.net.buffers()]
        self.target_tensors = [*self.target.parameters(), *self.target.buffers()]
        self.params = list(self.net.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.learning_rate, fused=True)
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
        """Polyak update theta' <- tau theta + (1 - tau) theta' (a copy when tau = 1)."""
        if self.cfg.tau >= 1.0:
            torch._foreach_copy_(self.target_tensors, self.online_tensors)
        else:
            torch._foreach_lerp_(self.target_tensors, self.online_tensors, self.cfg.tau)

    def ready(self) -> bool:
        """True at a learning phase after learning_starts."""
        return (self.global_step >= self.cfg.learning_starts
                and self.num_vector_steps % self.cfg.train_freq == 0 and len(self.buffer) > 0)

    def update(self) -> dict[str, float]:
        """A learning phase of gradient_steps TD updates."""
        cfg, dev = self.cfg, self.device
        steps = cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.train_freq * cfg.num_envs
        B = cfg.batch_size
        losses = []
        if cfg.prioritized:  # priorities change after every step: sample one batch at a time
            for _ in range(steps):
                flat = self.buffer.sample_indices(B, self.rng)
                batch = self._tensors(self.buffer.gather(flat))
                beta = cfg.per_beta + (1.0 - cfg.per_beta) * self.progress
                weights = torch.as_tensor(self.buffer.weights(flat, beta), device=dev)
                td, loss = self._gradient_step(batch["obs"], batch["actions"],
                                               self._targets(batch), weights)
                self.buffer.update_priorities(flat, td.cpu().numpy())
                losses.append(loss)
        else:
            # Uniform batches are i.i.d. and the target net is fixed within a phase, so all
            # batches are drawn at once and, without double DQN, all TD targets computed in
            # one pass of the target net.
            batch = self._tensors(self.buffer.gather(self.buffer.sample_indices(steps * B,
                                                                                 self.rng)))
            targets = None if cfg.double_dqn else self._targets(batch)
            for k in range(steps):
                part = slice(k * B, (k + 1) * B)
                target = targets[part] if targets is not None else self._targets(
                    {n: v[part] for n, v in batch.items()})
                _, loss = self._gradient_step(batch["obs"][part], batch["actions"][part], target)
                losses.append(loss)
        # One check per phase: a non-finite loss stops the run before anything is saved.
        mean_loss = torch.stack(losses).mean()
        check_finite(mean_loss, "td", self.global_step)
        self.num_updates += 1
        return {"loss/td": mean_loss.item(), "charts/epsilon": self.epsilon}

    def _tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}

    @torch.no_grad()
    def _targets(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """TD targets R + gamma^k max_a Q'(s', a) (double DQN: a chosen by the online net)."""
        next_q = self.target(b["next_obs"], b.get("next_mask"))
        if self.cfg.double_dqn:
            best = self.net(b["next_obs"], b.get("next_mask")).argmax(-1, keepdim=True)
            next_v = next_q.gather(-1, best).squeeze(-1)
        else:
            next_v = next_q.max(-1).values
        return b["returns"] + b["discounts"] * next_v

    def _gradient_step(self, obs: torch.Tensor, actions: torch.Tensor, target: torch.Tensor,
                       weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One Huber TD step; returns (TD errors, loss), detached."""
        q = self.net(obs).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        if weights is None:
            loss = F.smooth_l1_loss(q, target)
        else:
            loss = (weights * F.smooth_l1_loss(q, target, reduction="none")).mean()
        gradient_step(self.optimizer, self.params, loss, self.cfg.max_grad_norm)
        return (q - target).detach(), loss.detach()

    def train_state(self) -> dict[str, Any]:
        """Optimizer, target net, replay buffer, RNG and counters."""
        return {"optimizer": self.optimizer.state_dict(), "target": self.target.state_dict(),
                "buffer": self.buffer.state() if self.cfg.checkpoint_replay else None,
                "rng": self.rng.bit_generator.state,
                "num_updates": self.num_updates, "global_step": self.global_step,
                "num_vector_steps": self.num_vector_steps}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.target.load_state_dict(state["target"])
        if state["buffer"] is not None:
            self.buffer.load_state(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.num_updates, self.global_step = state["num_updates"], state["global_step"]
        self.num_vector_steps = state["num_vector_steps"]
