"""Behaviour cloning (Pomerleau 1991; AlphaStar's supervised starting point): fit a policy
net's action distributions to target distributions by cross-entropy.

Targets may be a teacher's probabilities or one-hot moves. The league uses it to keep a
main agent's average policy (a mixture of its snapshots) as one ordinary checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.core import as_tensor


def fit_policy(net: torch.nn.Module, obs: np.ndarray, targets: np.ndarray,
               mask: np.ndarray | None = None, weights: np.ndarray | None = None,
               steps: int = 2000, lr: float = 1e-3) -> float:
    """Train the feed-forward actor-critic `net` so that its masked policy on `obs` (S, ...)
    matches `targets` (S, A): full-batch Adam on the `weights`-weighted (default uniform)
    cross-entropy. Returns the final weighted mean KL(target || policy)."""
    if net.recurrent:
        raise ValueError("fit_policy takes feed-forward nets (a recurrent policy depends on "
                         "its history, not on one observation)")
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
        logits, _, _ = net(obs_t, None, None, mask_t, False)
        # masked logits are finite and very negative: target 0 there contributes 0
        cross = -(target * torch.log_softmax(logits, -1)).sum(-1)
        loss = (w * cross).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        logits, _, _ = net(obs_t, None, None, mask_t, False)
        kl = (w * (neg_entropy - (target * torch.log_softmax(logits, -1)).sum(-1))).sum()
    return float(kl)
