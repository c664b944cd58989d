"""The league coordinator: who is in the league, who plays whom, what happened, and the
league folder that holds it all.

It only takes and returns serialisable values (ids, outcomes, relative paths), so learners
and workers can talk to it through plain method calls, in one process or as Ray actors.

Folder layout (DESIGN.md):
    league.json          players (id, role, parent, checkpoint, rating, steps), payoff,
                         matchmaking settings, RNG, counters; rewritten atomically
    matchmaking.jsonl    per interval, per pair and seat: games won, drawn and lost
    init/                the starting model every learner begins from and resets to
    players/<id>/        immutable snapshot checkpoints
    learners/<id>/       learners' current parameters and optimizer state
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents.checkpoint import atomic_write_text
from ludus.league.matchmaking import LEARNER_ROLES, Matchmaker, MatchmakingConfig, Player
from ludus.league.payoff import Payoff, elo_update

FORMAT, VERSION = "ludus-league", 1


class LeagueError(ValueError):
    """A league folder that cannot be used; the message names the file."""


class League:
    """Players, payoff, ratings and matchmaking of one league folder."""

    def __init__(self, folder: Path | str, env_id: str, matchmaking: MatchmakingConfig,
                 payoff: Payoff, seed: int = 0, elo_k: float = 16.0) -> None:
        matchmaking.validate()
        self.folder, self.env_id = Path(folder), env_id
        self.players: dict[str, Player] = {}
        self.payoff, self.elo_k = payoff, elo_k
        self.rng = np.random.default_rng(seed)
        self.matchmaker = Matchmaker(matchmaking, self.players, payoff, self.rng)
        self.interval = 0
        self.total_steps = 0
        self.extra: dict[str, Any] = {}  # the runner's own resumable state (e.g. wandb id)
        self._results: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])

    # --- members ---------------------------------------------------------------------------
    def add(self, player: Player) -> Player:
        """Add a member (learner, snapshot or fixed) with no games yet."""
        if player.id in self.players:
            raise ValueError(f"the league already has a player {player.id!r}")
        self.players[player.id] = player
        self.payoff.add(player.id)
        return player

    def member(self, player_id: str) -> Player:
        """The player `player_id`; an unknown id names the league's members."""
        if player_id not in self.players:
            raise LeagueError(f"{self.folder} has no player {player_id!r}; members: "
                              f"{', '.join(self.players) or 'none'}")
        return self.players[player_id]

    def learners(self, role: str | None = None) -> list[Player]:
        """Learners (of one role), in the order they were added."""
        return [p for p in self.players.values() if p.learner and role in (None, p.role)]

    def snapshot(self, learner: str, checkpoint: str) -> Player:
        """Record a frozen copy of `learner` (already written to `checkpoint`, relative to the
        folder); returns the new member."""
        parent = self.players[learner]
        parent.num_snapshots += 1
        parent.checkpoint_step = parent.steps
        return self.add(Player(f"{learner}.{parent.num_snapshots - 1}", "snapshot", learner,
                               checkpoint, parent.rating, parent.steps))

    # --- matches ---------------------------------------------------------------------------
    def get_match(self, learner: str) -> str:
        """The opponent for `learner`'s next game."""
        return self.matchmaker.get_match(learner)

    def report(self, home: str, away: str, seat: int, outcome: str) -> None:
        """One finished game of `home` (sitting in `seat`) against `away`."""
        self.payoff.update(home, away, outcome)
        ratings = {home: self.players[home].rating, away: self.players[away].rating}
        elo_update(ratings, home, away, outcome, self.elo_k)
        self.players[home].rating, self.players[away].rating = ratings[home], ratings[away]
        self._results[(home, away, seat)][("win", "draw", "loss").index(outcome)] += 1

    # --- persistence -----------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.folder / "matchmaking.jsonl"

    def state_dict(self) -> dict[str, Any]:
        """Everything league.json holds."""
        return {"format": FORMAT, "version": VERSION, "env_id": self.env_id,
                "interval": self.interval, "total_steps": self.total_steps,
                "players": [dataclasses.asdict(p) for p in self.players.values()],
                "payoff": self.payoff.state_dict(),
                "matchmaking": dataclasses.asdict(self.matchmaker.cfg),
                "elo_k": self.elo_k, "rng": self.rng.bit_generator.state,
                "log_bytes": self.log_path.stat().st_size if self.log_path.exists() else 0,
                "extra": self.extra}

    def save(self) -> None:
        """Close the interval: append its results to the matchmaking log, then rewrite
        league.json atomically. A crash in between leaves log lines that league.json does
        not count; load() cuts them off."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._results:
            lines = [json.dumps({"interval": self.interval, "step": self.total_steps,
                                 "home": h, "away": a, "seat": s, "wins": r[0], "draws": r[1],
                                 "losses": r[2]})
                     for (h, a, s), r in sorted(self._results.items())]
            with open(self.log_path, "a") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._results.clear()
        self.interval += 1
        atomic_write_text(self.folder / "league.json", json.dumps(self.state_dict(), indent=1))

    @classmethod
    def load(cls, folder: Path | str, resume: bool = False) -> League:
        """The league saved in `folder` (league.json). With `resume`, the matchmaking log is
        cut back to what league.json counts (lines of an interval that a crash interrupted);
        a plain read changes nothing, so it is safe beside a running league."""
        folder = Path(folder)
        file = folder / "league.json"
        if not file.exists():
            raise LeagueError(f"{folder} is not a league folder (no league.json)")
        try:
            data = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LeagueError(f"corrupt {file}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LeagueError(f"{file} is not a ludus league file")
        if data.get("version") != VERSION:
            raise LeagueError(f"{file} is league format version {data.get('version')}, this "
                              f"ludus reads version {VERSION}")
        try:
            league = cls(folder, data["env_id"], MatchmakingConfig(**data["matchmaking"]),
                         Payoff.from_state(data["payoff"]), elo_k=data["elo_k"])
            for entry in data["players"]:
                player = Player(**entry)
                league.players[player.id] = player
            league.rng.bit_generator.state = data["rng"]
            league.interval, league.total_steps = data["interval"], data["total_steps"]
            league.extra = data.get("extra", {})
            log_bytes = data["log_bytes"]
        except (KeyError, TypeError, ValueError) as exc:
            raise LeagueError(f"{file} is incomplete or invalid: {exc}") from None
        if set(league.players) != set(league.payoff.ids):
            raise LeagueError(f"{file}: players and payoff matrix disagree")
        if resume and league.log_path.exists() and league.log_path.stat().st_size > log_bytes:
            with open(league.log_path, "r+") as f:
                f.truncate(log_bytes)
        return league


def learner_ids(counts: dict[str, int]) -> list[tuple[str, str]]:
    """[(id, role)] for `counts` learners per role, e.g. main_agent_0, league_exploiter_1."""
    unknown = set(counts) - set(LEARNER_ROLES)
    if unknown:
        raise ValueError(f"unknown learner roles {sorted(unknown)}; roles are {LEARNER_ROLES}")
    if any(n < 0 for n in counts.values()):
        raise ValueError(f"learner counts must be >= 0, got {counts}")
    if counts.get("main_agent", 0) == 0:
        raise ValueError(f"a league needs at least one main agent, got {counts}")
    return [(f"{role}_{i}", role) for role in LEARNER_ROLES for i in range(counts.get(role, 0))]
