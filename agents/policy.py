"""The inference-side policy object returned by load_policy() and used for evaluation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.core import as_tensor, split_obs
from ludus.agents.distributions import DiagGaussian, SquashedGaussian, distribution, to_env
from ludus.nets import State, observation_space


class Policy:
    """Acts with a trained ActorCritic or QNetwork on batches of numpy observations.

    Q networks act greedily: their action_probs put all mass on the best legal action.
    Policies over Box actions (PPO's Gaussian, SAC's squashed Gaussian, TD3's deterministic
    actor) act in the env's units, within the Box bounds; deterministic=True takes the mode.
    They have a density, not action probabilities: action_distribution() is their sibling of
    action_probs(). The net acts in eval mode (dropout off, batch norm on its running
    statistics) and is handed back in the mode it had: a learner's own net, seated as an
    opponent, keeps training in train mode.
    """

    def __init__(self, net: torch.nn.Module, obs_space: gym.Space, action_space: gym.Space,
                 device: torch.device | str = "cpu", seed: int = 0) -> None:
        self.net = net
        self.device = torch.device(device)
        self.obs_space, self.action_space = obs_space, action_space
        self.obs_shape = observation_space(obs_space).shape
        self.is_q = not hasattr(net, "policy_head")
        self.dist = None if self.is_q else distribution(action_space,
                                                        getattr(net, "action_dist", None))
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    @property
    def recurrent(self) -> bool:
        """True when act() carries a recurrent state."""
        return bool(getattr(self.net, "recurrent", False))

    def initial_state(self, batch_size: int) -> State | None:
        """Fresh recurrent state for a batch of new episodes; None for feed-forward nets."""
        return self.net.initial_state(batch_size, self.device)

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        training = self.net.training
        if training:
            self.net.eval()
        try:
            yield
        finally:
            if training:
                self.net.train()

    def _inputs(self, obs: Any, action_mask: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        array, dict_mask = split_obs(obs)
        array = np.asarray(array)
        if array.shape[1:] != tuple(self.obs_shape):
            raise ValueError(f"observation batch has shape {array.shape[1:]} per item, but the "
                             f"policy expects {tuple(self.obs_shape)}")
        mask = action_mask if action_mask is not None else dict_mask
        mask_t = None if mask is None else as_tensor(mask, self.device).bool()
        return as_tensor(array, self.device), mask_t

    @torch.no_grad()
    def logits(self, obs: Any, state: State | None = None, action_mask: Any = None,
               need_value: bool = True, episode_start: Any = None
               ) -> tuple[torch.Tensor, torch.Tensor | None, State | None]:
        """Masked logits (B, A), value estimates (B,) (None for Q nets, or when not needed by
        a feed-forward net), and the next state. `episode_start` (B,) of 0/1 marks the rows
        where a new episode begins: a recurrent policy forgets their state first (as
        Stable-Baselines3's predict does); None means none do."""
        obs_t, mask_t = self._inputs(obs, action_mask)
        with self._eval_mode():
            if self.is_q:
                q = self.net(obs_t, mask_t)
                # Greedy policy as logits: 0 on the best action, the mask value elsewhere.
                greedy = torch.full_like(q, torch.finfo(q.dtype).min / 2)
                greedy.scatter_(-1, q.argmax(-1, keepdim=True), 0.0)
                return greedy, q.max(-1).values, None
            if self.recurrent:
                batch = obs_t.shape[0]
                start = torch.zeros(1, batch, device=self.device) if episode_start is None else \
                    as_tensor(np.asarray(episode_start, dtype=np.float32).reshape(1, batch),
                              self.device)
                if state is None:
                    state = self.initial_state(batch)
                logits, value, state = self.net(obs_t.unsqueeze(0), state, start,
                                                None if mask_t is None else mask_t.unsqueeze(0))
                return logits[0], value[0], state
            return self.net(obs_t, None, None, mask_t, need_value)

    @property
    def continuous(self) -> bool:
        """True for a policy over Box actions."""
        return isinstance(self.action_space, gym.spaces.Box)

    def action_probs(self, obs: Any, state: State | None = None, action_mask: Any = None,
                     episode_start: Any = None) -> tuple[np.ndarray, State | None]:
        """Action probabilities (B, A), exactly 0 on illegal actions, and the next state."""
        if self.continuous:
            raise ValueError("a policy over Box actions has a density, not action "
                             "probabilities: use action_distribution()")
        logits, _, state = self.logits(obs, state, action_mask, need_value=self.recurrent,
                                       episode_start=episode_start)
        return torch.softmax(logits, -1).cpu().numpy(), state

    def act(self, obs: Any, state: State | None = None, action_mask: Any = None,
            deterministic: bool = False, episode_start: Any = None
            ) -> tuple[np.ndarray, State | None]:
        """Actions (B,) or, for Box actions, (B, A), sampled (or the mode when deterministic)
        and the next state;
        `episode_start` as in logits()."""
        # a recurrent critic must still advance its state; a feed-forward one can be skipped
        logits, _, state = self.logits(obs, state, action_mask, need_value=self.recurrent,
                                       episode_start=episode_start)
        if self.is_q or deterministic:
            actions = logits.argmax(-1) if self.dist is None else self.dist.mode(logits)
        else:
            actions = self.dist.sample(logits, self.generator)
        return to_env(actions.cpu().numpy(), self.action_space), state

    def action_distribution(self, obs: Any, state: State | None = None,
                            episode_start: Any = None
                            ) -> tuple[np.ndarray, np.ndarray, State | None]:
        """A Box-action policy's action distribution as (loc, scale, state): loc (B, A) is the
        greedy action in the env's units (a Gaussian's mean before clipping to the bounds;
        tanh of the mean, scaled to the bounds, for a squashed Gaussian); scale (B, A) is the
        standard deviation of the Gaussian (for a squashed one, of the Gaussian before the
        tanh; 0 for a deterministic actor); state is the next recurrent state."""
        if not self.continuous:
            raise ValueError("action_distribution is for policies over Box actions; "
                             "use action_probs()")
        params, _, state = self.logits(obs, state, need_value=self.recurrent,
                                       episode_start=episode_start)
        if isinstance(self.dist, DiagGaussian | SquashedGaussian):
            scale = DiagGaussian.split(params)[1].exp()
        else:
            scale = torch.zeros_like(params)
        return self.dist.mode(params).cpu().numpy(), scale.cpu().numpy(), state
