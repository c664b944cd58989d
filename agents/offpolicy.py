"""What SAC and TD3 share: a tanh-squashed actor, twin Q critics with Polyak-averaged
targets, replay, uniform random actions before learning starts, and the learning schedule.

Actions are learned in the unit box [-1, 1]^A, where the actor's tanh lives: the replay
buffer stores them there and the critics see them there (as Stable-Baselines3 does, so the
zoo's settings, such as target entropy -A and TD3's noise scales, mean the same); the env
gets them scaled to its bounds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.core import Step, as_tensor, check_finite, optimizer_step, set_learning_rate
from ludus.agents.replay import ReplayBuffer
from ludus.nets import NetSpec, build_net, squash_bounds


@dataclass
class OffPolicyConfig:
    """Settings SAC and TD3 share; defaults follow Stable-Baselines3."""

    num_envs: int = 1
    """Parallel environments."""
    learning_rate: float = 3e-4
    """Adam learning rate of the actor, the critics (and SAC's temperature)."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """linear: decay the learning rate to 0 over training (the zoo's lin_<lr>)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 100
    """Environment steps of uniform random actions before learning begins."""
    batch_size: int = 256
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target nets."""
    train_freq: int = 1
    """Vector steps between learning phases."""
    gradient_steps: int = 1
    """Gradient steps per learning phase (-1: as many as environment steps collected)."""
    checkpoint_replay: bool = True
    """Save the replay buffer with each checkpoint so --resume continues with it."""
    net: NetSpec = field(default_factory=lambda: NetSpec(hidden=(256, 256), activation="relu",
                                                         ortho_init=False))
    """Actor and critic MLPs (hidden sizes and activation)."""


def adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam as every off-policy net here uses it (fused: one kernel per step)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def step(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
         grads: tuple[torch.Tensor, ...]) -> None:
    """Apply gradients computed by torch.autograd.grad (no clipping: SAC and TD3 use none)."""
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    optimizer_step(optimizer)


class OffPolicyActorCritic:
    """Acting, storing and the learning schedule of SAC and TD3; subclasses supply
    `explore(obs)` and `gradient_step(batch)`, and name their actor's net kind."""

    kind = "squashed_gaussian"

    def __init__(self, cfg: OffPolicyConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        box = squash_bounds(action_space)
        self.net = build_net(cfg.net, obs_space, action_space, self.kind, seed).to(self.device)
        self.critic = build_net(cfg.net, obs_space, action_space, "twin_q", seed + 1).to(
            self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_params = list(self.net.parameters())
        self.critic_params = list(self.critic.parameters())
        self.actor_optimizer = adam(self.actor_params, cfg.learning_rate)
        self.critic_optimizer = adam(self.critic_params, cfg.learning_rate)
        self.scale, self.bias = (box.high - box.low) / 2, (box.high + box.low) / 2
        self.action_dim = box.shape[0]
        self.buffer = ReplayBuffer(cfg.buffer_size, cfg.num_envs, obs_space.shape, np.float32, 0,
                                   False, 1, cfg.gamma, action_shape=(self.action_dim,))
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.num_updates = self.global_step = self.num_vector_steps = 0
        self.progress = 0.0  # fraction of the budget spent, set by the training loop

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimizer by name (the learning-rate schedule and resume walk them)."""
        return {"actor": self.actor_optimizer, "critic": self.critic_optimizer}

    def targets(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        """(online, target) pairs that Polyak averaging ties together."""
        return [(self.critic, self.critic_target)]

    @torch.no_grad()
    def act(self, obs: Any) -> np.ndarray:
        """Uniform random actions until learning starts, then the learner's exploration;
        returned in the env's units."""
        if self.global_step < self.cfg.learning_starts:
            unit = self.rng.uniform(-1.0, 1.0, (len(obs), self.action_dim))
        else:
            unit = self.explore(as_tensor(obs, self.device)).cpu().numpy()
        return (self.bias + self.scale * unit).astype(np.float32)

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """Exploratory actions in the unit box (B, A)."""
        raise NotImplementedError

    def observe(self, step: Step) -> None:
        """Store the transition in the unit box (the final observation bootstraps a
        truncated episode)."""
        unit = (np.asarray(step.action, dtype=np.float32) - self.bias) / self.scale
        self.buffer.add(step.obs, unit, step.reward, step.final_obs, step.terminated,
                        step.truncated)
        self.global_step += self.cfg.num_envs
        self.num_vector_steps += 1

    def ready(self) -> bool:
        """True at a learning phase once learning_starts steps are stored."""
        return (self.global_step > self.cfg.learning_starts
                and self.num_vector_steps % self.cfg.train_freq == 0)

    def update(self) -> dict[str, float]:
        """A learning phase of gradient_steps steps on i.i.d. batches drawn at once."""
        cfg = self.cfg
        if cfg.lr_schedule == "linear":
            for optimizer in self.optimizers.values():
                set_learning_rate(optimizer, cfg.learning_rate * (1.0 - self.progress))
        steps = cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.train_freq * cfg.num_envs
        B = cfg.batch_size
        flat = self.buffer.sample_indices(steps * B, self.rng)
        batch = {k: torch.as_tensor(v, device=self.device)
                 for k, v in self.buffer.gather(flat).items()}
        stats: dict[str, list[torch.Tensor]] = {}
        for k in range(steps):
            part = {n: v[k * B:(k + 1) * B] for n, v in batch.items()}
            for name, value in self.gradient_step(part).items():
                stats.setdefault(name, []).append(value)
        metrics = {name: torch.stack(values).mean() for name, values in stats.items()}
        # one check per phase: a non-finite loss stops the run before anything is saved
        check_finite(metrics["loss/critic"], "critic", self.global_step)
        self.num_updates += 1
        return {name: value.item() for name, value in metrics.items()}

    def gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One gradient step on a batch (obs, actions, returns, next_obs, discounts); returns
        detached losses."""
        raise NotImplementedError

    def critic_step(self, batch: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Both critics regress on one target: 0.5 sum_k mean (Q_k - y)^2 (as SB3)."""
        q = self.critic(batch["obs"], batch["actions"])
        loss = 0.5 * (q - target).square().mean(-1).sum()
        step(self.critic_optimizer, self.critic_params,
             torch.autograd.grad(loss, self.critic_params))
        return loss.detach()

    @torch.no_grad()
    def polyak(self) -> None:
        """theta' <- tau theta + (1 - tau) theta' for every target net."""
        if not hasattr(self, "_polyak_pairs"):  # parameter lists once, not every step
            self._polyak_pairs = [(list(target.parameters()), list(online.parameters()))
                                  for online, target in self.targets()]
        for target, online in self._polyak_pairs:
            torch._foreach_lerp_(target, online, self.cfg.tau)

    def train_state(self) -> dict[str, Any]:
        """Optimizers, critics and targets, replay buffer, RNGs and counters."""
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "nets": {f"{i}_{j}": net.state_dict() for i, pair in enumerate(self.targets())
                         for j, net in enumerate(pair) if net is not self.net},
                "buffer": self.buffer.state() if self.cfg.checkpoint_replay else None,
                "rng": self.rng.bit_generator.state, "generator": self.generator.get_state(),
                "num_updates": self.num_updates, "global_step": self.global_step,
                "num_vector_steps": self.num_vector_steps}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state()."""
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for i, pair in enumerate(self.targets()):
            for j, net in enumerate(pair):
                if net is not self.net:
                    net.load_state_dict(state["nets"][f"{i}_{j}"])
        if state["buffer"] is not None:
            self.buffer.load_state(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"].cpu())
        self.num_updates, self.global_step = state["num_updates"], state["global_step"]
        self.num_vector_steps = state["num_vector_steps"]
