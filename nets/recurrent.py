"""LSTM and GRU cores whose hidden state resets where an episode starts."""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, ...]
"""Recurrent state: (h, c) for an LSTM, (h,) for a GRU; each (1, B, hidden)."""


class RecurrentCore(nn.Module):
    """One-layer LSTM or GRU over time-major sequences with done-masked state reset."""

    def __init__(self, in_dim: int, hidden: int, kind: str = "lstm", ortho_init: bool = True,
                 forget_bias: float = 0.0) -> None:
        super().__init__()
        if kind not in ("lstm", "gru"):
            raise ValueError(f"unknown recurrent core {kind!r}; choose 'lstm' or 'gru'")
        self.kind = kind
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(in_dim, hidden)
        if ortho_init:
            for name, param in self.rnn.named_parameters():
                if "bias" in name:
                    nn.init.constant_(param, 0.0)
                else:
                    nn.init.orthogonal_(param, 1.0)
        if kind == "lstm" and forget_bias:  # gates are ordered i, f, g, o
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden:2 * hidden] = forget_bias
                self.rnn.bias_hh_l0[hidden:2 * hidden] = 0.0
        self.out_dim = hidden

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        """Zero state for `batch_size` sequences."""
        zeros = torch.zeros(1, batch_size, self.out_dim, device=device)
        return (zeros, zeros.clone()) if self.kind == "lstm" else (zeros,)

    def forward(self, x: torch.Tensor, state: State, episode_start: torch.Tensor
                ) -> tuple[torch.Tensor, State]:
        """x: (T, B, F); episode_start: (T, B), 1 where x[t] is an episode's first step.

        Returns outputs (T, B, hidden) and the state after the last step.
        """
        # Run whole chunks between the time steps where any sequence restarts: one cuDNN/MKL
        # call per chunk instead of one per step, with identical results.
        restarts = torch.nonzero(episode_start.any(dim=1)).flatten().tolist()
        bounds = sorted({0, *restarts, x.shape[0]})
        outputs = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            keep = (1.0 - episode_start[a]).view(1, -1, 1)
            state = tuple(s * keep for s in state)
            out, new = self.rnn(x[a:b], state if self.kind == "lstm" else state[0])
            state = new if self.kind == "lstm" else (new,)
            outputs.append(out)
        return torch.cat(outputs), state
