"""Small pieces every agent shares: the Step record, observation splitting, sampling, schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.optim.adam import adam


class TrainingError(RuntimeError):
    """A run cannot continue (for example a non-finite loss); the message says where."""


@dataclass
class Step:
    """One vectorised environment transition, all arrays with leading dim num_envs.

    `next_obs` is what the agent sees next (already reset where an episode ended);
    `final_obs` equals it except in rows that ended, where it holds the episode's last
    observation, needed to bootstrap through truncation. `active` (None: all) marks the rows
    whose agent took part in this step (envs.parallel: an agent that left its episode early
    is inactive until its copy resets); learners leave the other rows out.
    """

    obs: Any
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: Any
    final_obs: Any
    active: np.ndarray | None = None


class Agent(Protocol):
    """What the training loop needs from an algorithm."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    global_step: int
    progress: float
    """Fraction of the training budget spent, in [0, 1]; set by the loop, drives schedules."""

    def act(self, obs: Any) -> np.ndarray:
        """Exploratory actions for a batch of observations."""

    def observe(self, step: Step) -> None:
        """Store a transition."""

    def ready(self) -> bool:
        """True when enough data is stored for update()."""

    def update(self) -> dict[str, float]:
        """Learn from stored data; returns metrics keyed `group/name`."""

    def train_state(self) -> dict[str, Any]:
        """Everything besides the weights needed to resume: nested dicts/lists of numbers,
        strings, tensors and numpy arrays (stored without pickle)."""

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore what train_state() returned."""


def split_obs(obs: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(observation array, action mask or None) from an array or an {'observation', 'action_mask'} dict."""
    if isinstance(obs, dict):
        return obs["observation"], obs.get("action_mask")
    return obs, None


def as_tensor(x: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """numpy -> torch on `device` without a copy where possible."""
    if x is None:
        return None
    return torch.as_tensor(np.asarray(x), device=device)


def sample_logits(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Sample from Categorical(logits) (..., A) with the given generator; masked logits get
    probability 0."""
    probs = torch.softmax(logits, -1)
    return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1,
                             generator=generator).reshape(probs.shape[:-1])


def log_prob_entropy(logits: torch.Tensor, actions: torch.Tensor, with_entropy: bool = True
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a|s) of the taken actions and the policy entropy (0 unless asked for)."""
    log_p = torch.log_softmax(logits, dim=-1)
    log_prob = log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    if not with_entropy:
        return log_prob, torch.zeros((), device=logits.device)
    # exp(masked) is exactly 0, so masked actions add 0 * finite = 0 to the entropy.
    return log_prob, -(log_p.exp() * log_p).sum(-1)


def kl_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row of two (masked) logit batches; 0 where p is 0 (illegal moves)."""
    log_p, log_q = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Linear from `start` to `end` over the first `fraction` of training, then `end`.

    `progress` is the fraction of training done, in [0, 1].
    """
    if fraction <= 0:
        return end
    return start + (end - start) * min(1.0, progress / fraction)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / (std + 1e-8), the usual advantage normalisation."""
    return (x - x.mean()) / (x.std() + 1e-8) if x.numel() > 1 else x


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def gradient_step(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                  loss: torch.Tensor, max_grad_norm: float) -> None:
    """Backpropagate `loss`, clip the global gradient norm, and step the optimizer.

    Same arithmetic as zero_grad / backward / clip_grad_norm_ / step, with less per-call
    bookkeeping: these steps run thousands of times on tiny nets, where that bookkeeping
    costs as much as the maths.
    """
    for p in params:
        p.grad = None
    loss.backward()
    grads = [p.grad for p in params if p.grad is not None]
    # clip_grad_norm_'s arithmetic, bit for bit, minus its bookkeeping; below the bound its
    # scale is clamped to exactly 1, so the multiplication is skipped there.
    total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    coef = max_grad_norm / (total_norm + 1e-6)
    if coef.item() < 1.0:
        torch._foreach_mul_(grads, coef)
    optimizer_step(optimizer)


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """optimizer.step(); a fused Adam whose state exists is stepped by calling the functional
    kernel its step() calls (torch.optim.adam.adam) on its own state tensors."""
    if not (isinstance(optimizer, torch.optim.Adam) and optimizer.defaults.get("fused")):
        optimizer.step()
        return
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state.get(p) for p in params]
        if group["amsgrad"] or not all(states):  # the first step creates the state
            optimizer.step()
            return
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state[p] for p in params]
        beta1, beta2 = group["betas"]
        adam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
             [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states], fused=True,
             amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
             weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])


def policy_gradient_step(agent: Any, logits: torch.Tensor, values: torch.Tensor,
                         actions: torch.Tensor, advantages: torch.Tensor, returns: torch.Tensor
                         ) -> dict[str, float]:
    """One step on -A log pi(a|s) + vf_coef (V - G)^2 - ent_coef H (A2C and REINFORCE).

    `agent` provides cfg (ent_coef, vf_coef, max_grad_norm, norm_adv), its action
    distribution `dist`, optimizer, params and global_step.
    """
    cfg = agent.cfg
    log_prob, entropy = agent.dist.log_prob_entropy(logits, actions)
    if cfg.norm_adv:
        advantages = normalize(advantages)
    pg_loss = -(advantages * log_prob).mean()
    v_loss = ((returns - values) ** 2).mean()
    ent = entropy.mean()
    loss = pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
    check_finite(loss, type(agent).__name__, agent.global_step)
    gradient_step(agent.optimizer, agent.params, loss, cfg.max_grad_norm)
    return {"loss/policy": pg_loss.item(), "loss/value": v_loss.item(), "loss/entropy": ent.item()}


def sampler_train_state(agent: Any) -> dict[str, Any]:
    """Optimizer, torch sampling generator and counters: the resume state of a policy learner."""
    return {"optimizer": agent.optimizer.state_dict(), "generator": agent.generator.get_state(),
            "num_updates": agent.num_updates, "global_step": agent.global_step}


def load_sampler_train_state(agent: Any, state: dict[str, Any]) -> None:
    """Inverse of sampler_train_state."""
    agent.optimizer.load_state_dict(state["optimizer"])
    agent.generator.set_state(state["generator"].cpu())
    agent.num_updates, agent.global_step = state["num_updates"], state["global_step"]


def check_finite(loss: torch.Tensor, name: str, step: int) -> None:
    """Raise TrainingError when a loss is NaN or infinite."""
    value = loss.item()
    if not math.isfinite(value):
        raise TrainingError(f"non-finite {name} loss ({value}) at step {step}; update stopped")


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
