"""Attention (Vaswani et al. 2017), pre-norm (Xiong et al. 2020): a board encoder whose
tokens are the cells, and a memory core over the last K time steps for recurrent PPO that
keeps each layer's inputs of those steps, as Transformer-XL does (Dai et al. 2019), with an
optional gated residual (GTrXL, Parisotto et al. 2020)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ludus.nets.recurrent import State


class Gate(nn.Module):
    """GTrXL's GRU-type gate: how much of the new stream y replaces the residual x
    (r = s(Wr y + Ur x), z = s(Wz y + Uz x - b), h = tanh(Wg y + Ug (r * x)),
    out = (1 - z) x + z h); b = 2 starts it near the identity."""

    def __init__(self, dim: int, bias: float = 2.0) -> None:
        super().__init__()
        self.w = nn.Linear(dim, 3 * dim, bias=False)
        self.u = nn.Linear(dim, 2 * dim, bias=False)
        self.ug = nn.Linear(dim, dim, bias=False)
        self.bias = nn.Parameter(torch.full((dim,), bias))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        wr, wz, wg = self.w(y).chunk(3, -1)
        ur, uz = self.u(x).chunk(2, -1)
        r, z = torch.sigmoid(wr + ur), torch.sigmoid(wz + uz - self.bias)
        return (1 - z) * x + z * torch.tanh(wg + self.ug(r * x))


class Block(nn.Module):
    """x + attention(norm(x), over norm([memory, x])), then x + feed-forward(norm(x));
    `gated` replaces both sums by GTrXL gates."""

    def __init__(self, dim: int, heads: int, gated: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.gates = nn.ModuleList([Gate(dim), Gate(dim)]) if gated else None

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, D) attends over [memory (B, K, D), x]; mask (B * heads, T, K + T) of
        additive scores (-inf: not attended)."""
        keys = x if memory is None else torch.cat([memory, x], 1)
        h, kv = self.norm1(x), self.norm1(keys)
        y = self.attn(h, kv, kv, attn_mask=mask, need_weights=False)[0]
        x = x + y if self.gates is None else self.gates[0](x, torch.relu(y))
        y = self.ff(self.norm2(x))
        return x + y if self.gates is None else self.gates[1](x, torch.relu(y))


class AttentionEncoder(nn.Module):
    """Tokens with learned position embeddings and a class token in front, through `layers`
    blocks; the class token's output is the encoding. The tokens of a board (rows, cols,
    planes) are its cells; of a sequence (length, features), its steps (a move history)."""

    def __init__(self, shape: tuple[int, ...], dim: int = 64, heads: int = 4, layers: int = 2,
                 gated: bool = False) -> None:
        super().__init__()
        if len(shape) not in (2, 3):
            raise ValueError(f"the attention encoder takes boards (rows, cols, planes) or "
                             f"sequences (length, features), got observations of shape "
                             f"{tuple(shape)}")
        self.tokens = int(math.prod(shape[:-1]))
        self.embed = nn.Linear(shape[-1], dim)
        self.position = nn.Parameter(torch.randn(1, self.tokens + 1, dim) * 0.02)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, gated) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def cells(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *tokens, features) -> every token's output (B, 1 + tokens, D), the class
        token first."""
        tokens = self.embed(x.reshape(x.shape[0], self.tokens, -1))
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], 1) + self.position
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cells(x)[:, 0]


class AttentionCore(nn.Module):
    """A memory core over time: each step attends, in every layer, to the steps of its own
    episode among the last `context` ones (itself included), with a learned bias per head
    and distance (relative positions: the window slides).

    Its state holds, for the last `context` steps, each layer's input (context, B, dim) and
    whether the step belongs to the current episode (context, B, 1). Zeros are an empty
    memory, so a state resets like an LSTM's (zeroed rows) and is sliced by batch on dim 1.
    Step by step or a sequence at once, the outputs are the same.
    """

    def __init__(self, in_dim: int, dim: int = 64, heads: int = 4, layers: int = 2,
                 context: int = 16, gated: bool = False) -> None:
        super().__init__()
        if context < 1:
            raise ValueError(f"the attention core needs a context of >= 1 steps, got {context}")
        self.dim, self.context, self.heads = dim, context, heads
        self.embed = nn.Linear(in_dim, dim)
        self.distance_bias = nn.Parameter(torch.zeros(heads, context))
        self.blocks = nn.ModuleList(Block(dim, heads, gated) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        """An empty memory for `batch_size` sequences."""
        zeros = [torch.zeros(self.context, batch_size, self.dim, device=device)
                 for _ in self.blocks]
        return (*zeros, torch.zeros(self.context, batch_size, 1, device=device))

    def forward(self, x: torch.Tensor, state: State, episode_start: torch.Tensor
                ) -> tuple[torch.Tensor, State]:
        """x (T, B, F); episode_start (T, B), 1 where x[t] is an episode's first step.
        Returns outputs (T, B, dim) and the memory after the last step."""
        *memories, valid = state
        k, (t, b), device = self.context, x.shape[:2], x.device
        ok = torch.cat([valid[..., 0] > 0.5, torch.ones(t, b, dtype=torch.bool, device=device)])
        starts = torch.cat([torch.zeros(k, b, device=device), episode_start.float()])
        episode = starts.cumsum(0).T  # (B, K + T): the steps of one episode share a number
        distance = torch.arange(k, k + t, device=device)[:, None] \
            - torch.arange(k + t, device=device)[None, :]  # (T, K + T)
        allowed = ((distance >= 0) & (distance < k))[None] & ok.T[:, None, :] \
            & (episode[:, None, :] == episode[:, k:, None])  # (B, T, K + T)
        bias = self.distance_bias[:, distance.clamp(0, k - 1)]  # (H, T, K + T)
        mask = torch.where(allowed[:, None], bias[None], -math.inf)
        mask = mask.reshape(b * self.heads, t, k + t)
        h = self.embed(x).transpose(0, 1)  # (B, T, D)
        new_memories = []
        for block, memory in zip(self.blocks, memories, strict=True):
            memory = memory.transpose(0, 1)  # (B, K, D)
            new_memories.append(torch.cat([memory, h], 1)[:, -k:].transpose(0, 1).detach())
            h = block(h, memory, mask)
        new_valid = (ok.T & (episode == episode[:, -1:]))[:, -k:].T[..., None].float()
        return self.norm(h).transpose(0, 1), (*new_memories, new_valid)
