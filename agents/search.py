"""Batched tree search with a policy-value network: PUCT (Silver et al. 2017, "Mastering the
game of Go without human knowledge"; AlphaZero, Science 2018) and, as an option, Gumbel
AlphaZero's root (Danihelka et al., ICLR 2022: Gumbel top-k with sequential halving, and the
deterministic improved-policy selection below the root).

B games are searched together: every simulation walks all B trees at once in numpy and
evaluates all B new leaves with one network call. A tree's nodes are rows of a game batch of
the same kind (`game.spawn(B * S)`), so expanding a node is copying its parent's row and
playing one move; the games need only `spawn` and `copy_rows` beside the TurnGame methods.
Values are in [-1, 1] for the player to move at a node; a finished game's value is its exact
outcome. Two-player zero-sum games: a child's value counts negated when the mover changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""evaluate(observations (n, ...), legal masks (n, A)) -> (logits (n, A), values (n,))."""


class SearchGame(Protocol):
    """A batch of turn-based games (envs.TurnGame) whose positions can be copied."""

    num_envs: int
    num_actions: int
    to_move: np.ndarray

    def spawn(self, num_envs: int) -> SearchGame:
        """A new batch of the same game."""

    def copy_rows(self, dst: np.ndarray, source: Any, src: np.ndarray) -> None:
        """Games `dst` become copies of `source`'s games `src`."""

    def observation(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The movers' observations of games `rows`."""

    def action_mask(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, A) legal moves of games `rows`."""

    def play(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rewards (n, P), terminated (n,), truncated (n,))."""


@dataclass
class SearchConfig:
    """Tree search settings (AlphaZero's PUCT, or Gumbel AlphaZero's root)."""

    num_simulations: int = 200
    """Simulations (network evaluations) per move."""
    c_puct: float = 1.25
    """Exploration constant of PUCT (AlphaZero's c_init)."""
    dirichlet_alpha: float = 1.0
    """Dirichlet noise concentration at the root while training (PUCT only)."""
    dirichlet_fraction: float = 0.25
    """Share of the root prior replaced by Dirichlet noise while training (PUCT only)."""
    gumbel: bool = False
    """Gumbel AlphaZero: Gumbel top-k with sequential halving at the root, the improved
    policy as training target (strong with 16-32 simulations)."""
    max_considered: int = 4
    """Gumbel: actions sampled at the root (m; with 16 simulations tic-tac-toe learned best
    with 4: 8 and 16 left more lost games against random)."""
    c_visit: float = 50.0
    """Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q."""
    c_scale: float = 0.1
    """Gumbel: see c_visit (q rescaled to [0, 1] per node; 0.1 as mctx's value_scale: 1.0
    made tic-tac-toe's targets near one-hot, and learning slow)."""
    reuse_tree: bool = True
    """Keep the subtree of the move played for the next search (PUCT only)."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        if self.num_simulations < 1:
            raise ValueError(f"a search needs at least 1 simulation, got {self.num_simulations}")
        if self.c_puct <= 0 or self.dirichlet_alpha <= 0 or self.max_considered < 1:
            raise ValueError("c_puct, dirichlet_alpha and max_considered must be positive")
        if not 0.0 <= self.dirichlet_fraction <= 1.0:
            raise ValueError(f"dirichlet_fraction must be in [0, 1], got "
                             f"{self.dirichlet_fraction}")


@dataclass
class SearchResult:
    """One search of B roots."""

    visits: np.ndarray  # (B, A) root visit counts
    q: np.ndarray  # (B, A) root action values for the mover (0 where unvisited)
    value: np.ndarray  # (B,) root value for the mover: network value and visits averaged
    prior: np.ndarray  # (B, A) the network's root policy (before noise)
    policy: np.ndarray  # (B, A) training target: visit shares, or Gumbel's improved policy
    action: np.ndarray  # (B,) the move to play when not sampling from `policy`


def halving_table(m: int, n: int) -> np.ndarray:
    """Sequential halving's visit schedule: entry k is the visit count every action still
    considered has before simulation k (phases of log2(m) rounds that halve the actions and
    share the n simulations equally among the phases)."""
    table: list[int] = []
    visits, remaining = 0, m
    phases = max(1, math.ceil(math.log2(m)))
    while len(table) < n:
        rounds = max(1, n // (phases * remaining))
        for _ in range(rounds):
            table += [visits] * remaining
            visits += 1
        remaining = max(2, remaining // 2) if m > 1 else 1
    return np.asarray(table[:n], dtype=np.int64)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


class TreeSearch:
    """Search trees for B games at a time, kept between moves for reuse."""

    def __init__(self, evaluate: Evaluator, cfg: SearchConfig, rng: np.random.Generator
                 ) -> None:
        cfg.validate()
        self.evaluate, self.cfg, self.rng = evaluate, cfg, rng
        self.capacity = 2 * cfg.num_simulations + 2  # nodes per tree: a reused subtree + a search
        self.store: Any = None
        self.B = 0
        self.tables = {}  # m -> halving table

    # ----- tree storage -------------------------------------------------------------------
    def _allocate(self, game: SearchGame, batch: int) -> None:
        B, S, A = batch, self.capacity, game.num_actions
        self.B, self.A = B, A
        self.store = game.spawn(B * S)
        self.children = np.full((B, S, A), -1, dtype=np.int64)
        self.N = np.zeros((B, S, A), dtype=np.float32)  # edge visits
        self.W = np.zeros((B, S, A), dtype=np.float32)  # edge value sums, node mover's view
        self.R = np.zeros((B, S, A), dtype=np.float32)  # reward of the move for the mover
        self.P = np.zeros((B, S, A), dtype=np.float32)  # priors
        self.legal = np.zeros((B, S, A), dtype=bool)
        self.V = np.zeros((B, S), dtype=np.float32)  # network value of the node
        self.mover = np.zeros((B, S), dtype=np.int64)
        self.terminal = np.zeros((B, S), dtype=bool)
        self.parent = np.full((B, S), -1, dtype=np.int64)
        self.size = np.zeros(B, dtype=np.int64)
        self.fresh = np.ones(B, dtype=bool)  # no reusable tree at the root

    def forget(self, rows: np.ndarray | None = None) -> None:
        """Drop the trees of `rows` (all when None): their next search starts afresh."""
        if self.store is not None:
            self.fresh[slice(None) if rows is None else rows] = True

    def _row(self, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        return b * self.capacity + s

    def _clear(self, b: np.ndarray) -> None:
        """Empty the trees `b`."""
        self.children[b] = -1
        for array in (self.N, self.W, self.R, self.P, self.V):
            array[b] = 0
        self.legal[b] = False
        self.terminal[b] = False
        self.parent[b] = -1
        self.size[b] = 0

    def _evaluate_nodes(self, b: np.ndarray, s: np.ndarray) -> None:
        """Priors and values of the nodes (b, s) from one network call."""
        rows = self._row(b, s)
        mask = self.store.action_mask(rows).astype(bool)
        logits, values = self.evaluate(self.store.observation(rows), mask)
        logits = np.where(mask, np.asarray(logits, dtype=np.float64), -np.inf)
        self.P[b, s] = _softmax(logits)
        self.legal[b, s] = mask
        self.V[b, s] = np.clip(values, -1.0, 1.0)

    def _set_roots(self, game: SearchGame, rows: np.ndarray) -> None:
        """Trees for the positions `rows` of `game`: the kept subtree where one is reusable,
        else a new root evaluated by the network."""
        B = len(rows)
        if self.store is None or self.B != B or type(self.store) is not type(game):
            self._allocate(game, B)
        b = np.flatnonzero(self.fresh | (self.cfg.gumbel))
        if len(b):
            self._clear(b)
            zero = np.zeros(len(b), dtype=np.int64)
            self.store.copy_rows(self._row(b, zero), game, rows[b])
            self.mover[b, 0] = self.store.to_move[self._row(b, zero)]
            self.size[b] = 1
            self._evaluate_nodes(b, zero)
        self.fresh[:] = False

    def advance(self, actions: np.ndarray, ended: np.ndarray | None = None) -> None:
        """After `actions` (B,) were played from the roots: each tree keeps the subtree below
        its move (PUCT with reuse_tree), or is dropped where its game ended, the move was
        never expanded, or the subtree would leave too little room for the next search."""
        if self.store is None:
            return
        B, S = self.B, self.capacity
        b = np.arange(B)
        new_root = self.children[b, 0, actions]
        ok = (new_root > 0) & ~self.terminal[b, np.maximum(new_root, 0)]
        if ended is not None:
            ok &= ~ended
        if not (self.cfg.reuse_tree and not self.cfg.gumbel):
            ok[:] = False
        keep = np.zeros((B, S), dtype=bool)
        keep[b[ok], new_root[ok]] = True
        for s in range(1, S):  # children come after their parents
            live = self.parent[:, s] >= 0
            keep[live, s] |= keep[b[live], self.parent[live, s]]
        ok &= keep.sum(1) <= S - self.cfg.num_simulations - 1
        self.fresh |= ~ok
        if not ok.any():
            return
        keep[~ok] = False
        order = np.argsort(~keep, axis=1, kind="stable")  # kept nodes first, in order
        index = np.cumsum(keep, axis=1) - 1  # old node -> new node
        g = b[ok]
        for array in (self.N, self.W, self.R, self.P, self.legal):
            array[g] = np.take_along_axis(array[g], order[g][..., None], 1)
        for array in (self.V, self.mover, self.terminal):
            array[g] = np.take_along_axis(array[g], order[g], 1)
        children = np.take_along_axis(self.children[g], order[g][..., None], 1)
        self.children[g] = np.where(children >= 0, np.take_along_axis(
            index[g], np.maximum(children, 0).reshape(len(g), -1), 1).reshape(children.shape),
            -1)
        parent = np.take_along_axis(self.parent[g], order[g], 1)
        self.parent[g] = np.where(parent >= 0, np.take_along_axis(index[g], np.maximum(
            parent, 0), 1), -1)
        size = keep[g].sum(1)
        self.parent[g, 0] = -1
        for k, tree in enumerate(g):  # the positions move with their nodes
            n = int(size[k])
            self.store.copy_rows(self._row(tree, np.arange(n)), self.store,
                                 self._row(tree, order[tree, :n]))
            self.children[tree, n:] = -1
            self.parent[tree, n:] = -1
            self.N[tree, n:], self.W[tree, n:] = 0, 0
        self.size[g] = size

    # ----- selection ----------------------------------------------------------------------
    def _completed_q(self, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Gumbel's completed Q (visited: mean value; unvisited: the mixed value v_mix),
        rescaled to [0, 1] over the legal actions, then sigma-transformed."""
        N, W, P, legal = self.N[b, s], self.W[b, s], self.P[b, s], self.legal[b, s]
        visited = N > 0
        q = np.where(visited, W / np.maximum(N, 1), 0.0)
        total = N.sum(1)
        seen_p = (P * visited).sum(1)
        weighted = (P * q * visited).sum(1) / np.maximum(seen_p, 1e-12)
        v_mix = (self.V[b, s] + total * np.where(seen_p > 0, weighted, 0.0)) / (1 + total)
        q = np.where(visited, q, v_mix[:, None])
        low = np.where(legal, q, np.inf).min(1, keepdims=True)
        high = np.where(legal, q, -np.inf).max(1, keepdims=True)
        q = (q - low) / np.maximum(high - low, 1e-8)
        return (self.cfg.c_visit + N.max(1, keepdims=True)) * self.cfg.c_scale * q

    def _select(self, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The action to follow below the non-root nodes (b, s)."""
        N, legal = self.N[b, s], self.legal[b, s]
        total = N.sum(1, keepdims=True)
        if self.cfg.gumbel:  # argmax of the improved policy minus the visit shares
            logits = np.log(np.maximum(self.P[b, s], 1e-30)) + self._completed_q(b, s)
            score = _softmax(np.where(legal, logits, -np.inf)) - N / (1 + total)
        else:  # PUCT; an unvisited action's value is the node's network value
            q = np.where(N > 0, self.W[b, s] / np.maximum(N, 1), self.V[b, s][:, None])
            score = q + self.cfg.c_puct * self.P[b, s] * np.sqrt(np.maximum(total, 1)) / (1 + N)
        return np.where(legal, score, -np.inf).argmax(1)

    def _root_scores(self, k: int) -> np.ndarray:
        """Gumbel root: g + logits + sigma(q) over the actions with the visits sequential
        halving asks for at simulation k (-inf elsewhere)."""
        b = np.arange(self.B)
        zero = np.zeros(self.B, dtype=np.int64)
        N = self.N[:, 0]
        wanted = self.schedule[:, k]
        score = self.gumbel_noise + self.root_logits + self._completed_q(b, zero)
        return np.where(self.legal[:, 0] & (wanted[:, None] == N), score, -np.inf)

    def _table(self, m: int) -> np.ndarray:
        if m not in self.tables:
            self.tables[m] = halving_table(m, self.cfg.num_simulations)
        return self.tables[m]

    # ----- one simulation -------------------------------------------------------------------
    def _simulate(self, k: int) -> None:
        """Select a leaf in every tree, expand all new leaves at once (one copy, one move)
        and evaluate them with one network call, back the values up."""
        B = self.B
        node = np.zeros(B, dtype=np.int64)
        live = np.arange(B)
        path: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (trees, nodes, actions)
        grow, parents, moves = [], [], []  # the edges to expand, one per tree at most
        root = True
        while len(live):
            if root and self.cfg.gumbel:
                actions = self._root_scores(k).argmax(1)
            else:
                actions = self._select(live, node[live])
            root = False
            here = node[live]
            path.append((live, here, actions))
            child = self.children[live, here, actions]
            new = child < 0
            if new.any():
                grow.append(live[new])
                parents.append(here[new])
                moves.append(actions[new])
            go_on = ~new & ~self.terminal[live, np.maximum(child, 0)]
            node[live[go_on]] = child[go_on]
            live = live[go_on]
        leaf_value = np.zeros(B, dtype=np.float32)  # value of the last edge's child
        if grow:
            self._expand(np.concatenate(grow), np.concatenate(parents), np.concatenate(moves),
                         leaf_value)
        self._backup(path, leaf_value)

    def _expand(self, trees: np.ndarray, parents: np.ndarray, actions: np.ndarray,
                leaf_value: np.ndarray) -> None:
        """New children: copy each parent's position, play the move, score finished games
        exactly and evaluate the others (their values into `leaf_value`)."""
        idx = self.size[trees]
        self.size[trees] += 1
        self.children[trees, parents, actions] = idx
        self.parent[trees, idx] = parents
        rows = self._row(trees, idx)
        self.store.copy_rows(rows, self.store, self._row(trees, parents))
        rewards, term, trunc = self.store.play(actions, rows)
        self.R[trees, parents, actions] = rewards[np.arange(len(trees)), self.mover[trees, parents]]
        ended = term | trunc
        self.terminal[trees, idx] = ended
        self.mover[trees, idx] = self.store.to_move[rows]
        if not ended.all():
            open_, at = trees[~ended], idx[~ended]
            self._evaluate_nodes(open_, at)
            leaf_value[open_] = self.V[open_, at]

    def _backup(self, path: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                leaf_value: np.ndarray) -> None:
        """Add each tree's leaf value along its path, in each node's mover's view."""
        S, A = self.capacity, self.A
        N, W, R = self.N.reshape(-1), self.W.reshape(-1), self.R.reshape(-1)
        children, terminal = self.children.reshape(-1), self.terminal.reshape(-1)
        mover = self.mover.reshape(-1)
        value = leaf_value.copy()  # (B,) value of the child below the current level
        for trees, nodes, actions in reversed(path):
            node_row = trees * S + nodes
            edge = node_row * A + actions
            child_row = trees * S + children[edge]
            below = np.where(terminal[child_row], 0.0, value[trees])
            q = R[edge] + np.where(mover[child_row] == mover[node_row], below, -below)
            N[edge] += 1
            W[edge] += q
            value[trees] = q

    # ----- the search -----------------------------------------------------------------------
    def run(self, game: SearchGame, rows: np.ndarray | None = None, explore: bool = False
            ) -> SearchResult:
        """Search the positions `rows` (all when None) of `game`, whose games must not be
        over. `explore`: Dirichlet noise at the root (PUCT) or Gumbel noise (Gumbel), as in
        self-play training; without it the search is deterministic."""
        rows = np.arange(game.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        self._set_roots(game, rows)
        B, cfg = self.B, self.cfg
        prior = self.P[:, 0].copy()
        legal = self.legal[:, 0]
        if cfg.gumbel:
            self.root_logits = np.where(legal, np.log(np.maximum(prior, 1e-30)), -np.inf)
            self.gumbel_noise = self.rng.gumbel(size=prior.shape) if explore else np.zeros(
                prior.shape)
            considered = np.minimum(np.minimum(cfg.max_considered, legal.sum(1)),
                                    cfg.num_simulations)
            self.schedule = np.stack([self._table(int(m)) for m in considered])  # (B, n)
        elif explore and cfg.dirichlet_fraction > 0:
            noise = self.rng.dirichlet(np.full(self.A, cfg.dirichlet_alpha), size=B)
            noise = noise * legal
            noise /= noise.sum(1, keepdims=True)
            self.P[:, 0] = (1 - cfg.dirichlet_fraction) * prior + cfg.dirichlet_fraction * noise
        for k in range(cfg.num_simulations):
            self._simulate(k)
        self.P[:, 0] = prior
        return self._result(prior, legal)

    def _result(self, prior: np.ndarray, legal: np.ndarray) -> SearchResult:
        N, W = self.N[:, 0], self.W[:, 0]
        b, zero = np.arange(self.B), np.zeros(self.B, dtype=np.int64)
        q = np.where(N > 0, W / np.maximum(N, 1), 0.0)
        value = (self.V[:, 0] + W.sum(1)) / (1 + N.sum(1))
        if self.cfg.gumbel:
            sigma = self._completed_q(b, zero)
            policy = _softmax(np.where(legal, self.root_logits + sigma, -np.inf))
            best = legal & (N.max(1, keepdims=True) == N)
            action = np.where(best, self.gumbel_noise + self.root_logits + sigma,
                              -np.inf).argmax(1)
        else:
            policy = N / np.maximum(N.sum(1, keepdims=True), 1)
            action = np.where(legal, N + 1e-3 * prior, -np.inf).argmax(1)
        return SearchResult(N.copy(), q, value, prior, policy, action)
