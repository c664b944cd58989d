"""PPO: Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (clipped objective),
with GAE, value clipping, advantage normalisation, entropy bonus, annealing and a target-KL
stop; with an LSTM/GRU core it is recurrent PPO, trained on whole sequences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import gymnasium as gym
import torch

from ludus.agents.checkpoint import load_policy
from ludus.agents.core import (
    check_finite,
    gradient_step,
    normalize,
    set_learning_rate,
)
from ludus.agents.onpolicy import ActorCriticAgent, OnPolicyConfig
from ludus.nets import NetSpec


@dataclass
class PPOConfig(OnPolicyConfig):
    """PPO (Schulman et al. 2017); defaults follow CleanRL's ppo.py."""

    num_envs: int = 4
    """Parallel environments."""
    num_steps: int = 128
    """Steps per environment per rollout."""
    learning_rate: float = 2.5e-4
    """Adam learning rate."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over training."""
    minibatch_size: int = 128
    """Transitions per minibatch (recurrent: rounded to whole env sequences)."""
    update_epochs: int = 4
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """Policy ratio clip range epsilon."""
    anneal_clip: bool = False
    """Anneal the clip range linearly to 0 over training."""
    clip_vloss: bool = True
    """Clip the value update around the old values (same epsilon)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    anneal_ent: bool = False
    """Anneal the entropy bonus linearly to 0 over training (in self-play: a pull toward the
    uniform policy that fades, as in magnetic mirror descent's annealed regularisation)."""
    target_kl: float | None = None
    """Stop the epochs when the approximate KL of a minibatch exceeds 1.5x this."""
    teacher: str | None = None
    """Checkpoint of a teacher policy (e.g. behaviour-cloned) that a KL penalty pulls toward."""
    teacher_kl_coef: float = 0.0
    """Coefficient of KL(teacher || policy) in the loss (AlphaStar's penalty toward the
    supervised policy)."""
    anneal_teacher_kl: bool = True
    """Anneal the teacher KL coefficient linearly to 0 over training."""


@dataclass
class RecurrentPPOConfig(PPOConfig):
    """Recurrent PPO: PPO with an LSTM core per body, trained on whole sequences."""

    net: NetSpec = field(default_factory=lambda: NetSpec(
        hidden=(), core="lstm", core_size=64, head_hidden=(64,)))
    """Network architecture (an LSTM or GRU core)."""


class PPO(ActorCriticAgent):
    """Clipped-surrogate PPO over rollouts collected by ActorCriticAgent."""

    cfg: PPOConfig

    def __init__(self, cfg: PPOConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        super().__init__(cfg, obs_space, action_space, seed, device)
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.learning_rate, eps=1e-5, fused=True)
        self.teacher = None
        if cfg.teacher_kl_coef > 0:
            if cfg.teacher is None:
                raise ValueError("teacher_kl_coef > 0 needs a teacher checkpoint (teacher=...)")
            self.teacher = load_policy(cfg.teacher, self.device).net
            if self.teacher.recurrent or self.net.recurrent:
                raise ValueError("the teacher KL penalty needs feed-forward nets")
        self.teacher_kl_coef = cfg.teacher_kl_coef

    masks_inactive = True  # feed-forward updates leave inactive rows out (Step.active)

    @property
    def _minibatch_layout(self) -> tuple[int, int]:
        """(minibatch size, number of items): flat transitions of active rows, or env columns
        if recurrent."""
        T, N = self.cfg.num_steps, self.cfg.num_envs
        if self.net.recurrent:
            return max(1, min(N, self.cfg.minibatch_size // T)), N
        total = int(self.storage.active.sum())
        return min(total, self.cfg.minibatch_size), total

    @property
    def _single_minibatch(self) -> bool:
        size, total = self._minibatch_layout
        return size >= total

    def _minibatches(self) -> Iterator[torch.Tensor | slice]:
        """Shuffled indices: flat (T*N) positions, or env columns for recurrent nets."""
        size, total = self._minibatch_layout
        if size >= total:  # one minibatch holds everything: order does not change the mean
            yield slice(None)
            return
        perm = torch.randperm(total, generator=self.generator, device=self.device)
        for start in range(0, total, size):
            yield perm[start : start + size]

    def _epoch(self, data: list[torch.Tensor], mask_all: torch.Tensor | None, clip: float,
               stats: dict[str, list[torch.Tensor]] | None) -> bool:
        """One pass over the rollout in minibatches; False when the target-KL stop fired.

        Metrics are recorded only when `stats` is given (the last epoch), to keep the hot
        loop short.
        """
        cfg, s = self.cfg, self.storage
        for idx in self._minibatches():
            if self.net.recurrent:
                obs, actions, old_logp, adv, ret, old_v = (x[:, idx] for x in data)
                mask = None if mask_all is None else mask_all[:, idx]
                state = tuple(h[:, idx] for h in s.initial_state)
                logits, value, _ = self.net(obs, state, s.episode_start[:, idx], mask)
            else:
                obs, actions, old_logp, adv, ret, old_v = (x[idx] for x in data)
                mask = None if mask_all is None else mask_all[idx]
                logits, value, _ = self.net(obs, None, None, mask)
            log_prob, entropy = self.dist.log_prob_entropy(logits, actions, cfg.ent_coef > 0
                                                           or stats is not None)
            log_ratio = log_prob - old_logp
            ratio = log_ratio.exp()
            if stats is not None or cfg.target_kl is not None:
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's k3 estimator
                if cfg.target_kl is not None and approx_kl.item() > 1.5 * cfg.target_kl:
                    return False
            if cfg.norm_adv and adv.numel() > 1 and not isinstance(idx, slice):
                adv = normalize(adv)  # per minibatch, as in SB3
            pg_loss = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
            if cfg.clip_vloss:
                v_clipped = old_v + (value - old_v).clamp(-clip, clip)
                v_loss = torch.max((value - ret) ** 2, (v_clipped - ret) ** 2).mean()
            else:
                v_loss = ((value - ret) ** 2).mean()
            ent = entropy.mean()
            loss = pg_loss + cfg.vf_coef * v_loss
            if cfg.ent_coef:
                loss = loss - self.ent_coef * ent
            for name, coef, term in self.penalties(obs, mask, logits):
                loss = loss + coef * term
                if stats is not None:
                    stats[name].append(term.detach())
            check_finite(loss, "ppo", self.global_step)
            gradient_step(self.optimizer, self.params, loss, cfg.max_grad_norm)
            if stats is not None:
                with torch.no_grad():
                    clipfrac = ((ratio - 1).abs() > clip).float().mean()
                for key, term in (("loss/policy", pg_loss), ("loss/value", v_loss),
                                  ("loss/entropy", ent), ("charts/approx_kl", approx_kl),
                                  ("charts/clipfrac", clipfrac)):
                    stats[key].append(term.detach())
        return True

    def penalties(self, obs: torch.Tensor, mask: torch.Tensor | None, logits: torch.Tensor
                  ) -> list[tuple[str, float, torch.Tensor]]:
        """(metric name, coefficient, term) of the regularisers added to a minibatch's loss:
        here KL(teacher || policy) when there is a teacher."""
        if self.teacher is None:
            return []
        with torch.no_grad():
            teacher_logits = self.teacher(obs, None, None, mask, False)[0]
        return [("loss/teacher_kl", self.teacher_kl_coef,
                 self.dist.kl(teacher_logits, logits).mean())]

    def set_coefficients(self) -> None:
        """The entropy and teacher-KL coefficients of this update (annealed when asked)."""
        cfg = self.cfg
        self.ent_coef = cfg.ent_coef * (1.0 - self.progress if cfg.anneal_ent else 1.0)
        self.teacher_kl_coef = cfg.teacher_kl_coef * (
            1.0 - self.progress if cfg.anneal_teacher_kl else 1.0)

    def lr_scale(self) -> float:
        """The learning rate's factor on this update (linear to 0 with anneal_lr)."""
        return 1.0 - self.progress if self.cfg.anneal_lr else 1.0

    def update(self) -> dict[str, float]:
        """Run the PPO epochs on the full rollout."""
        cfg, s = self.cfg, self.storage
        advantages, returns = self.finish_rollout()
        lr = cfg.learning_rate * self.lr_scale()
        set_learning_rate(self.optimizer, lr)
        clip = cfg.clip_coef * (1.0 - self.progress if cfg.anneal_clip else 1.0)
        self.set_coefficients()
        recurrent = self.net.recurrent
        if recurrent:  # whole sequences: an inactive row's zero steps stay in them
            flat = lambda x: x  # noqa: E731
        else:
            active = s.active.flatten()
            everyone = bool(active.all())
            flat = lambda x: x.flatten(0, 1) if everyone else x.flatten(0, 1)[active]  # noqa: E731
        data = [flat(x) for x in (s.obs, s.actions, s.log_probs, advantages, returns, s.values)]
        if cfg.norm_adv and self._single_minibatch:  # normalised once: the batch never changes
            data[3] = normalize(data[3])
        mask_all = None if s.action_mask is None else flat(s.action_mask)
        stats: dict[str, list[torch.Tensor]] = defaultdict(list)
        for epoch in range(cfg.update_epochs):
            last = epoch == cfg.update_epochs - 1
            if not self._epoch(data, mask_all, clip, stats if last else None):
                break
        self.update_norms()
        self.num_updates += 1
        var_y = returns.var()
        explained = float("nan") if var_y == 0 else 1 - ((returns - s.values).var() / var_y).item()
        # Metrics stay tensors during the epochs: one sync at the end, not one per minibatch.
        metrics = {k: torch.stack(v).mean().item() for k, v in stats.items() if v}
        metrics.update({"charts/learning_rate": lr, "charts/clip": clip, "charts/ent_coef": self.ent_coef,
                        "charts/teacher_kl_coef": self.teacher_kl_coef,
                        "charts/explained_variance": explained})
        return metrics
