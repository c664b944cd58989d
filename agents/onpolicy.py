"""Rollout collection shared by the actor-critic agents (A2C, PPO and recurrent PPO)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.checkpoint import freeze_encoder, load_encoder
from ludus.agents.core import Step, as_tensor, load_sampler_train_state, sampler_train_state, split_obs
from ludus.agents.distributions import StateDependentNoise, distribution, to_env
from ludus.agents.storage import RolloutStorage
from ludus.nets import NetSpec, RunningNorm, build_net, is_continuous, observation_space

TORCH_DTYPES = {np.dtype(np.uint8): torch.uint8, np.dtype(np.int8): torch.int8}


@dataclass
class PolicyGradientConfig:
    """Settings every policy-gradient agent with a value baseline shares."""

    num_envs: int = 8
    """Parallel environments."""
    learning_rate: float = 3e-4
    """Optimizer learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient (the value loss is the plain MSE, as in Stable-Baselines3)."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    norm_adv: bool = True
    """Normalise advantages."""
    net: NetSpec = field(default_factory=NetSpec)
    """Network architecture."""
    encoder_init: str | None = None
    """Start the encoders from this checkpoint's (transfer: a supervised or cloned model)."""
    freeze_encoder: bool = False
    """Keep the loaded encoder fixed (else it is fine-tuned)."""


def policy_net(cfg: PolicyGradientConfig, obs_space: gym.Space, action_space: gym.Space,
               seed: int, device: torch.device) -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
    """The actor-critic net (with a pretrained encoder if configured) and its trainable
    parameters."""
    net = build_net(cfg.net, obs_space, action_space, "actor_critic", seed).to(device)
    if cfg.encoder_init is not None:
        load_encoder(net, cfg.encoder_init)
    if cfg.freeze_encoder:  # also on resume, where the weights come from the checkpoint
        freeze_encoder(net)
    return net, [p for p in net.parameters() if p.requires_grad]


@dataclass
class OnPolicyConfig(PolicyGradientConfig):
    """Settings of the agents that learn from fixed-length rollouts with GAE."""

    num_steps: int = 32
    """Steps per environment per rollout."""
    anneal_lr: bool = False
    """Anneal the learning rate linearly to 0 over training."""
    gae_lambda: float = 0.95
    """GAE lambda (1.0 gives Monte-Carlo advantages)."""
    sde_sample_freq: int = -1
    """With net.sde (gSDE): redraw the exploration matrices every this many steps (-1: only
    at the start of each rollout)."""
    norm_reward: bool = False
    """Scale rewards by the running standard deviation of the discounted return, clipped to
    +-10 (Stable-Baselines3's VecNormalize, the zoo's `normalize: true`); episode returns are
    still reported unscaled."""


class ActorCriticAgent:
    """Acts with an ActorCritic net, fills a RolloutStorage, and computes advantages.

    Subclasses supply the optimizer and `update()`.
    """

    def __init__(self, cfg: OnPolicyConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        self.net, self.params = policy_net(cfg, obs_space, action_space, seed, self.device)
        box = observation_space(obs_space)
        self.action_space, self.dist = action_space, distribution(action_space)
        head = self.net.policy_head
        self.sde = StateDependentNoise(head) if getattr(head, "sde", False) else None
        continuous = is_continuous(action_space)
        self.storage = RolloutStorage(
            cfg.num_steps, cfg.num_envs, box.shape, TORCH_DTYPES.get(box.dtype, torch.float32),
            0 if continuous else int(action_space.n), isinstance(obs_space, gym.spaces.Dict),
            self.device, action_space.shape if continuous else ())
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.state = self.net.initial_state(cfg.num_envs, self.device)
        self.episode_start = torch.ones(cfg.num_envs, device=self.device)
        # the running variance of the discounted return that norm_reward divides by
        self.return_norm = RunningNorm(()).to(self.device) if cfg.norm_reward else None
        self.discounted_return = torch.zeros(cfg.num_envs, device=self.device)
        self.num_updates = 0
        self.global_step = 0
        self.last_value: torch.Tensor | None = None  # a loaded rollout's bootstrap value
        self.progress = 0.0  # fraction of the budget spent, set by the training loop

    def _forward(self, obs: torch.Tensor, state: Any, start: torch.Tensor,
                 mask: torch.Tensor | None, need_value: bool = True):
        """One time step through the net; recurrent nets get a length-1 sequence."""
        if self.net.recurrent:
            logits, value, state = self.net(obs.unsqueeze(0), state, start.unsqueeze(0),
                                            None if mask is None else mask.unsqueeze(0), need_value)
            return logits[0], None if value is None else value[0], state
        return self.net(obs, None, None, mask, need_value)

    @torch.no_grad()
    def act(self, obs: Any) -> np.ndarray:
        """Sample actions and record obs, action, log-prob and value at the current slot;
        returns them as the env takes them (Box actions clipped to the bounds)."""
        s, t = self.storage, self.storage.step
        array, mask = split_obs(obs)
        obs_t = as_tensor(array, self.device)
        mask_t = None if mask is None else as_tensor(mask, self.device).bool()
        if t == 0:
            s.initial_state = self.state
        # A feed-forward critic is evaluated once for the whole rollout in _critic_pass().
        recurrent = self.net.recurrent
        logits, value, self.state = self._forward(obs_t, self.state, self.episode_start, mask_t,
                                                  need_value=recurrent)
        if self.sde is None:
            actions = self.dist.sample(logits, self.generator)
        else:
            freq = self.cfg.sde_sample_freq
            if t == 0 or (freq > 0 and t % freq == 0):
                self.sde.reset(self.cfg.num_envs, self.generator)
            actions = self.sde.sample(logits)
        log_prob, _ = self.dist.log_prob_entropy(logits, actions, with_entropy=False)
        s.obs[t] = obs_t
        if mask_t is not None:
            s.action_mask[t] = mask_t
        s.actions[t], s.log_probs[t] = actions, log_prob
        if recurrent:
            s.values[t] = value
        s.episode_start[t] = self.episode_start
        return to_env(actions.cpu().numpy(), self.action_space)

    @torch.no_grad()
    def observe(self, step: Step) -> None:
        """Record reward and episode ends; value the final observation of truncated episodes."""
        s, t = self.storage, self.storage.step
        reward = as_tensor(step.reward, self.device).float()
        terminated = as_tensor(step.terminated, self.device).float()
        truncated = as_tensor(step.truncated, self.device).float()
        if self.return_norm is not None:
            self.discounted_return = self.discounted_return * self.cfg.gamma + reward
            self.return_norm.update(self.discounted_return)
            reward = (reward / torch.sqrt(self.return_norm.var + 1e-8)).clamp(-10.0, 10.0)
            self.discounted_return *= 1.0 - torch.maximum(terminated, truncated)
        s.rewards[t] = reward
        s.terminated[t], s.truncated[t] = terminated, truncated
        if step.truncated.any():
            s.final_values[t] = self.value(step.final_obs, self.state)
        self.episode_start = torch.maximum(terminated, truncated)
        if step.active is not None:
            active = as_tensor(step.active, self.device).bool()
            s.active[t] = active
            # a row that sat out this step starts afresh when its agent is back
            self.episode_start = torch.where(active, self.episode_start, 1.0)
        self.next_obs = step.next_obs
        s.step += 1
        self.global_step += self.cfg.num_envs

    def value(self, obs: Any, state: Any) -> torch.Tensor:
        """V(obs) for a batch (N,), continuing from recurrent `state`."""
        array, _ = split_obs(obs)
        zeros = torch.zeros(self.cfg.num_envs, device=self.device)
        _, value, _ = self._forward(as_tensor(array, self.device), state, zeros, None)
        return value

    def ready(self) -> bool:
        """True when the rollout is full."""
        return self.storage.full

    @torch.no_grad()
    def _critic_pass(self) -> torch.Tensor:
        """Store the full rollout's values (a feed-forward critic's in one pass) and return
        the value of the next observation, which the advantages bootstrap from."""
        # The value of the next observation must see the reset applied at episode starts.
        array, _ = split_obs(self.next_obs)
        _, last_value, _ = self._forward(as_tensor(array, self.device), self.state,
                                         self.episode_start, None)
        if not self.net.recurrent:
            s = self.storage
            _, values, _ = self.net(s.obs.flatten(0, 1), None, None, None)
            s.values.copy_(values.view_as(s.values))
        return last_value

    @torch.no_grad()
    def finish_rollout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Advantages and returns (T, N) of the full rollout, bootstrapped from the next obs
        (with the values a loaded rollout brought, else this net's)."""
        last_value = self.last_value if self.last_value is not None else self._critic_pass()
        self.last_value = None
        self.storage.step = 0
        return self.storage.advantages(last_value, self.cfg.gamma, self.cfg.gae_lambda)

    ROLLOUT_FIELDS = ("obs", "action_mask", "actions", "log_probs", "values", "rewards",
                      "terminated", "truncated", "final_values", "episode_start", "active")

    def rollout(self) -> dict[str, Any]:
        """The full rollout as numpy arrays, with what its advantages bootstrap from (the next
        observation and episode starts): a rollout worker's product, which a learner takes
        with load_rollout(). Its log-probs and values are the behaviour policy's (the critic
        runs here, where the acting is, not on the learner, the serial path)."""
        if self.net.recurrent:  # the recurrent state before obs[0] would have to travel too
            raise ValueError("rollouts travel between processes for feed-forward nets only")
        s = self.storage
        last_value = self._critic_pass()
        out = {k: getattr(s, k).cpu().numpy() for k in self.ROLLOUT_FIELDS
               if getattr(s, k) is not None}
        out["next_obs"], out["next_episode_start"] = self.next_obs, self.episode_start.cpu().numpy()
        out["last_value"] = last_value.cpu().numpy()
        s.step = 0
        return out

    def load_rollout(self, rollout: dict[str, Any]) -> None:
        """Fill the storage with a rollout() from another process (same num_steps and
        num_envs), ready for update(); the steps count as this agent's."""
        s = self.storage
        for k in self.ROLLOUT_FIELDS:
            if getattr(s, k) is not None:
                getattr(s, k).copy_(torch.as_tensor(rollout[k]))
        self.last_value = torch.as_tensor(rollout["last_value"], device=self.device)
        self.next_obs = rollout["next_obs"]
        self.episode_start = torch.as_tensor(rollout["next_episode_start"], device=self.device)
        s.step = s.num_steps
        self.global_step += s.num_steps * s.num_envs

    def update_norms(self) -> None:
        """Fold the rollout's observations into the observation normalisers (after learning,
        so log-probs recorded while acting match the net that is being updated)."""
        obs = self.storage.obs.flatten(0, 1)[self.storage.active.flatten()]
        for norm in self.net.norms:
            norm.update(obs)

    def train_state(self) -> dict[str, Any]:
        """Optimizer, sampler RNG, counters and the reward scale's statistics."""
        state = sampler_train_state(self)
        if self.return_norm is not None:
            state["return_norm"] = dict(self.return_norm.state_dict())
        return state

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state(); the rollout restarts from fresh episodes."""
        load_sampler_train_state(self, state)
        if self.return_norm is not None:
            self.return_norm.load_state_dict(state["return_norm"])
            self.discounted_return.zero_()
        self.storage.step = 0
        self.state = self.net.initial_state(self.cfg.num_envs, self.device)
        self.episode_start.fill_(1.0)
