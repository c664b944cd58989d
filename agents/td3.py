"""TD3: Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic
Methods": clipped double-Q learning, delayed policy updates and target policy smoothing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import gymnasium as gym
import torch

from ludus.agents.offpolicy import OffPolicyActorCritic, OffPolicyConfig, step
from ludus.nets import NetSpec


@dataclass
class TD3Config(OffPolicyConfig):
    """TD3; defaults follow Stable-Baselines3 (Gaussian exploration noise as CleanRL's)."""

    learning_rate: float = 1e-3
    """Adam learning rate of the actor and the critics."""
    exploration_noise: float = 0.1
    """Standard deviation of the Gaussian noise added to actions while acting (unit box)."""
    policy_delay: int = 2
    """Critic updates per actor and target update."""
    target_policy_noise: float = 0.2
    """Standard deviation of the noise that smooths the target policy (unit box)."""
    target_noise_clip: float = 0.5
    """Bound of that noise."""
    net: NetSpec = field(default_factory=lambda: NetSpec(hidden=(400, 300), activation="relu",
                                                         ortho_init=False))
    """Actor and critic MLPs (the paper's 400-300)."""


class TD3(OffPolicyActorCritic):
    """Twin delayed deep deterministic policy gradient on the shared off-policy machinery."""

    kind = "deterministic"

    def __init__(self, cfg: TD3Config, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        super().__init__(cfg, obs_space, action_space, seed, device)
        self.actor_target = copy.deepcopy(self.net).requires_grad_(False)
        self.num_critic_steps = 0

    def targets(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        """Critics and the actor both have targets."""
        return [(self.critic, self.critic_target), (self.net, self.actor_target)]

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """The actor's action plus Gaussian noise, clipped to the unit box."""
        action = torch.tanh(self.net(obs)[0])
        noise = torch.randn(action.shape, generator=self.generator, device=action.device)
        return (action + self.cfg.exploration_noise * noise).clamp(-1.0, 1.0)

    def gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Critics on the smoothed clipped double-Q target; every policy_delay steps, the
        actor on Q_1 and the targets."""
        cfg = self.cfg
        with torch.no_grad():
            next_action = torch.tanh(self.actor_target(batch["next_obs"])[0])
            noise = torch.randn(next_action.shape, generator=self.generator,
                                device=next_action.device) * cfg.target_policy_noise
            next_action = (next_action + noise.clamp(-cfg.target_noise_clip,
                                                     cfg.target_noise_clip)).clamp(-1.0, 1.0)
            next_q = self.critic_target(batch["next_obs"], next_action).min(0).values
            target = batch["returns"] + batch["discounts"] * next_q
        metrics = {"loss/critic": self.critic_step(batch, target)}
        self.num_critic_steps += 1
        if self.num_critic_steps % cfg.policy_delay == 0:
            action = torch.tanh(self.net(batch["obs"])[0])
            actor_loss = -self.critic(batch["obs"], action)[0].mean()
            step(self.actor_optimizer, self.actor_params,
                 torch.autograd.grad(actor_loss, self.actor_params))
            metrics["loss/actor"] = actor_loss.detach()
            self.polyak()
        return metrics

    def train_state(self) -> dict:
        """The shared state plus the critic step count (the delay's phase)."""
        return {**super().train_state(), "num_critic_steps": self.num_critic_steps}

    def load_train_state(self, state: dict) -> None:
        """Restore train_state()."""
        super().load_train_state(state)
        self.num_critic_steps = int(state["num_critic_steps"])
