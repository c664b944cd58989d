"""Search as a player: any checkpoint with a value head thinks with tree search before each
move (agents/search.py), wherever a player is named: `runs/x@mcts:200` (PUCT with 200
simulations) or `runs/x@gumbel:32` (Gumbel AlphaZero's root with 32).

A board game's observation is its whole position, so the search starts from what the player
sees: it loads the positions into a fresh batch of the game and searches copies of them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from ludus import envs
from ludus.agents.core import split_obs
from ludus.agents.search import SearchConfig, SearchResult, TreeSearch

SUFFIX = re.compile(r"^(?P<base>.+)@(?P<kind>mcts|gumbel):(?P<sims>[+-]?\d+)$")
KINDS = "@mcts:<simulations> or @gumbel:<simulations>"


def split_search(spec: str) -> tuple[str, SearchConfig | None]:
    """(player spec, search settings or None) of a spec with an optional search suffix."""
    match = SUFFIX.match(spec)
    if match is None:
        if "@" in spec and re.search(r"@[a-z]+:", spec):
            raise ValueError(f"unknown search suffix in {spec!r}; use {KINDS}")
        return spec, None
    sims = int(match["sims"])
    if sims < 1:
        raise ValueError(f"a search needs at least 1 simulation, got {sims} in {spec!r}")
    return match["base"], SearchConfig(num_simulations=sims, gumbel=match["kind"] == "gumbel")


class SearchPlayer:
    """A policy-value net that plays the move its tree search chooses (no exploration noise).

    `last` holds the latest search (visit counts, root value) for the watch panel;
    action_probs() returns the search's policy (visit shares, or Gumbel's improved policy).
    """

    recurrent = False

    def __init__(self, policy: Any, env_id: str, cfg: SearchConfig, seed: int = 0,
                 name: str = "player") -> None:
        if getattr(policy, "is_q", True) or getattr(policy, "continuous", False) \
                or policy.recurrent:
            raise ValueError(f"{name} cannot search: tree search needs a feed-forward "
                             f"checkpoint with policy and value heads (PPO, A2C, alphazero)")
        game = envs.make_game(env_id, 1)
        if not hasattr(game, "load"):
            raise ValueError(f"{name} cannot search {env_id}: a search starts from what a "
                             f"player sees, and only ludus's boards ({', '.join(envs.BOARD_GAMES)})"
                             f" show whole positions")
        self.policy, self.cfg, self.game = policy, cfg, game
        self.obs_shape = policy.obs_shape
        self.search = TreeSearch(self._evaluate, cfg, np.random.default_rng(seed))
        self.rng = np.random.default_rng(seed + 1)
        self.last: SearchResult | None = None

    def initial_state(self, batch_size: int) -> None:
        """Search players carry no state."""
        return None

    def _evaluate(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, value, _ = self.policy.logits({"observation": obs, "action_mask": mask})
        return logits.float().cpu().numpy(), value.float().cpu().numpy()

    def think(self, obs: Any, action_mask: Any = None) -> SearchResult:
        """Search the positions of a batch of observations."""
        planes, mask = split_obs(obs)
        mask = action_mask if action_mask is not None else mask
        planes = np.asarray(planes)
        games = self.game.spawn(len(planes))
        games.load(np.arange(len(planes)), planes)
        if mask is not None and (games.action_mask().astype(bool) != np.asarray(mask, bool)).any():
            raise ValueError("the legal moves given differ from the positions' own")
        self.search.forget()  # each call may be any positions: no tree to reuse
        with torch.no_grad():
            self.last = self.search.run(games)
        return self.last

    def action_probs(self, obs: Any, state: Any = None, action_mask: Any = None
                     ) -> tuple[np.ndarray, None]:
        """(B, A) the search's policy."""
        return self.think(obs, action_mask).policy, None

    def act(self, obs: Any, state: Any = None, action_mask: Any = None,
            deterministic: bool = False) -> tuple[np.ndarray, None]:
        """The search's move (deterministic), or one sampled from its policy."""
        result = self.think(obs, action_mask)
        if deterministic:
            return result.action.copy(), None
        return np.array([self.rng.choice(len(p), p=p / p.sum()) for p in result.policy]), None
