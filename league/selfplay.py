"""Self-play: the learner plays against frozen copies of itself seated by the Versus adapter.

Only the learner's own transitions reach its algorithm (the opponent moves inside the env),
rewards are zero-sum from the learner's seat, seats alternate, every frozen copy is a deep
copy that later updates cannot touch, and an opponent's recurrent state is reset whenever a
new game (and so possibly a new opponent) starts in that env.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import envs
from agents import Policy, RunConfig, Trainer


@dataclass
class SelfPlayConfig:
    """How the pool of past selves is kept and sampled."""

    snapshot_every: int = 10
    """Add a frozen copy of the learner to the pool every this many updates."""
    pool_size: int = 20
    """Most recent copies kept."""
    latest_prob: float = 0.5
    """Probability that a new game is played against the newest copy (else uniform)."""
    eval_opponent: str = "random"
    """Bot the greedy learner is evaluated against: random or greedy."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        if self.snapshot_every <= 0 or self.pool_size <= 0:
            raise ValueError(f"snapshot_every and pool_size must be positive, got "
                             f"{self.snapshot_every} and {self.pool_size}")
        if not 0.0 <= self.latest_prob <= 1.0:
            raise ValueError(f"latest_prob must be in [0, 1], got {self.latest_prob}")


def freeze(policy_net: torch.nn.Module, obs_space: Any, action_space: Any, seed: int) -> Policy:
    """A Policy over a deep copy of `policy_net` with gradients off."""
    net = copy.deepcopy(policy_net).requires_grad_(False).eval()
    return Policy(net, obs_space, action_space, next(net.parameters()).device, seed)


class OpponentPool:
    """Frozen policies; each env's opponent is drawn when a game starts there."""

    def __init__(self, num_envs: int, cfg: SelfPlayConfig, seed: int = 0) -> None:
        self.cfg, self.num_envs = cfg, num_envs
        self.rng = np.random.default_rng(seed)
        self.members: list[Policy] = []
        self.states: list[Any] = []
        self.seat_of = np.zeros(num_envs, dtype=np.int64)  # (N,) member index per env

    def add(self, policy: Policy) -> None:
        """Add a frozen member; the oldest drops out beyond pool_size."""
        self.members.append(policy)
        self.states.append(policy.initial_state(self.num_envs))
        if len(self.members) > self.cfg.pool_size:
            self.members.pop(0)
            self.states.pop(0)
            self.seat_of = np.maximum(self.seat_of - 1, 0)

    def start(self, rows: np.ndarray) -> None:
        """Choose the opponents of new games in `rows` and reset their memory there."""
        if not self.members:
            raise RuntimeError("the opponent pool is empty: add a policy before playing")
        newest = len(self.members) - 1
        pick = self.rng.integers(len(self.members), size=len(rows))
        self.seat_of[rows] = np.where(self.rng.random(len(rows)) < self.cfg.latest_prob,
                                      newest, pick)
        for state in self.states:
            if state is not None:
                for h in state:
                    h[:, torch.as_tensor(rows)] = 0.0

    def act_rows(self, obs: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Each env's own opponent answers (sampling, not greedy)."""
        actions = np.zeros(len(rows), dtype=np.int64)
        for m in np.unique(self.seat_of[rows]):
            sel = np.flatnonzero(self.seat_of[rows] == m)
            sub = {k: v[sel] for k, v in obs.items()}
            state = self.states[m]
            index = torch.as_tensor(rows[sel])
            part = None if state is None else tuple(h[:, index] for h in state)
            actions[sel], part = self.members[m].act(sub, part)
            if state is not None:
                for h, new in zip(state, part, strict=True):
                    h[:, index] = new
        return actions


def selfplay_trainer(run: RunConfig, cfg: Any, game: str,
                     selfplay: SelfPlayConfig | None = None) -> Trainer:
    """A Trainer whose learner plays `game` against a pool of its own frozen past copies,
    starting from a copy of its initial parameters; evaluation plays a fixed bot. The pool
    is reachable as `trainer.pool`."""
    from league.bots import GreedyBot, RandomBot

    selfplay = selfplay or SelfPlayConfig()
    selfplay.validate()
    pool = OpponentPool(cfg.num_envs, selfplay, run.seed)
    bots = {"random": RandomBot, "greedy": GreedyBot}
    if selfplay.eval_opponent not in bots:
        raise ValueError(f"unknown eval_opponent {selfplay.eval_opponent!r}; choose {sorted(bots)}")

    def make_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> envs.Versus:
        return envs.Versus(envs.board_game(game, num_envs), pool)

    def make_eval_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> envs.Versus:
        return envs.Versus(envs.board_game(game, num_envs),
                           bots[selfplay.eval_opponent](seed=seed or 0))

    def on_update(trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.agent.num_updates % selfplay.snapshot_every == 0:
            pool.add(snapshot(trainer))
        metrics["league/pool_size"] = len(pool.members)

    def snapshot(trainer: Trainer) -> Policy:
        env = trainer.env
        return freeze(trainer.agent.net, env.single_observation_space, env.single_action_space,
                      int(pool.rng.integers(2**31)))

    trainer = Trainer(run, cfg, make_env, make_eval_env=make_eval_env, on_update=on_update)
    pool.add(snapshot(trainer))  # the starting model, not random weights
    trainer.pool = pool
    return trainer
