"""Behaviour cloning (Pomerleau 1991; AlphaStar's supervised starting point): fit a policy
net's action distributions to target distributions by cross-entropy.

Targets may be a teacher's probabilities or one-hot moves. The league uses it to start its
players from recorded games and to keep a main agent's average policy (a mixture of its
snapshots) as one ordinary checkpoint.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ludus.agents.core import as_tensor


def _cross_entropy(net: torch.nn.Module, obs: torch.Tensor, target: torch.Tensor,
                   mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-position cross-entropy H(target, policy), masked logits)."""
    logits, _, _ = net(obs, None, None, mask, False)
    # masked logits are finite and very negative: target 0 there contributes 0
    return -(target * torch.log_softmax(logits, -1)).sum(-1), logits


def _feed_forward(net: torch.nn.Module) -> None:
    if net.recurrent:
        raise ValueError("behaviour cloning takes feed-forward nets (a recurrent policy "
                         "depends on its history, not on one observation)")


def fit_policy(net: torch.nn.Module, obs: np.ndarray, targets: np.ndarray,
               mask: np.ndarray | None = None, weights: np.ndarray | None = None,
               steps: int = 2000, lr: float = 1e-3) -> float:
    """Train the feed-forward actor-critic `net` so that its masked policy on `obs` (S, ...)
    matches `targets` (S, A): full-batch Adam on the `weights`-weighted (default uniform)
    cross-entropy. Returns the final weighted mean KL(target || policy)."""
    _feed_forward(net)
    device = next(net.parameters()).device
    obs_t = as_tensor(obs, device)
    mask_t = None if mask is None else as_tensor(mask, device).bool()
    target = as_tensor(np.asarray(targets, dtype=np.float32), device)
    w = torch.full((len(obs),), 1.0 / len(obs), device=device) if weights is None else \
        as_tensor(np.asarray(weights, dtype=np.float32) / np.sum(weights), device)
    # target * log(target), with 0 log 0 = 0: turns the cross-entropy into a KL for reporting
    neg_entropy = (target * torch.log(target.clamp_min(1e-12))).sum(-1)
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    net.train()
    for _ in range(steps):
        loss = (w * _cross_entropy(net, obs_t, target, mask_t)[0]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        kl = (w * (neg_entropy + _cross_entropy(net, obs_t, target, mask_t)[0])).sum()
    return float(kl)


def clone_policy(net: torch.nn.Module, obs: np.ndarray, targets: np.ndarray, mask: np.ndarray,
                 train: np.ndarray, held: np.ndarray, epochs: int = 30, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 0.0, patience: int = 5, seed: int = 0
                 ) -> dict[str, float]:
    """Minibatch Adam on the cross-entropy to `targets` (S, A) over positions `train`, with
    early stopping on the held-out positions `held` (the best epoch's weights are kept).

    Returns held-out `agreement` (the policy's most probable move is one of the teacher's
    most probable), `loss/train`, `loss/held_out` and the epochs run."""
    _feed_forward(net)
    device = next(net.parameters()).device
    tensor = lambda x, idx: as_tensor(np.asarray(x)[idx], device)  # noqa: E731
    x_tr, x_ho = tensor(obs, train), tensor(obs, held)
    t_tr, t_ho = (tensor(np.asarray(targets, np.float32), i) for i in (train, held))
    m_tr, m_ho = (tensor(mask, i).bool() for i in (train, held))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, since, loss_tr = float("inf"), copy.deepcopy(net.state_dict()), 0, 0.0
    ran = 0
    while ran < epochs:
        ran += 1
        net.train()
        total = 0.0
        for idx in torch.randperm(len(train), generator=generator).split(batch_size):
            loss = _cross_entropy(net, x_tr[idx], t_tr[idx], m_tr[idx])[0].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        loss_tr = total / len(train)
        held_loss, _ = evaluate_clone(net, x_ho, t_ho, m_ho)
        if held_loss < best - 1e-4:
            best, best_state, since = held_loss, copy.deepcopy(net.state_dict()), 0
        elif (since := since + 1) >= patience:
            break
    net.load_state_dict(best_state)
    held_loss, agreement = evaluate_clone(net, x_ho, t_ho, m_ho)
    return {"agreement": agreement, "loss/train": loss_tr, "loss/held_out": held_loss,
            "epochs": float(ran)}


@torch.no_grad()
def evaluate_clone(net: torch.nn.Module, obs: torch.Tensor, target: torch.Tensor,
                   mask: torch.Tensor | None) -> tuple[float, float]:
    """(mean cross-entropy, agreement: the net's argmax is among the target's best moves)."""
    net.eval()
    cross, logits = _cross_entropy(net, obs, target, mask)
    chosen = target.gather(1, logits.argmax(-1, keepdim=True)).squeeze(1)
    agree = chosen >= target.max(-1).values - 1e-6
    return float(cross.mean()), float(agree.float().mean())
