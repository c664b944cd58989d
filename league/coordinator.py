"""The league coordinator: who is in the league, who plays whom, what happened, and the
league folder that holds it all.

It only takes and returns serialisable values (ids, outcomes, relative paths), so learners
and workers can talk to it through plain method calls, in one process or as Ray actors.

Folder layout (DESIGN.md):
    league.json          players (id, role, parent, checkpoint, rating, steps), payoff,
                         matchmaking settings, RNG, counters; rewritten atomically
    matchmaking.jsonl    per interval, per pair and seat: games won, drawn and lost
    results.jsonl        the journal: one line per match job (a learner's rollout: its steps
                         and finished games), flushed before its results count; the lines
                         after league.json's are counted again on resume
    init/                the starting model every learner begins from and resets to
    players/<id>/        immutable snapshot checkpoints (and copies of fixed checkpoints)
    learners/<id>/       learners' current parameters and optimizer state

Every id in league.json is a plain name and every checkpoint path it holds stays inside the
folder (links followed): a crafted file gets one error line, and nothing outside the folder
is read, written or deleted because of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents.files import UnsafePathError, atomic_write_json, check_id, fsync_dir, inside
from ludus.agents.registry import from_dict
from ludus.league.bots import is_bot
from ludus.league.matchmaking import LEARNER_ROLES, ROLES, Matchmaker, MatchmakingConfig, Player
from ludus.league.payoff import Payoff, bradley_terry
from ludus.league.search import split_search

FORMAT, VERSION = "ludus-league", 1


class LeagueError(ValueError):
    """A league folder that cannot be used; the message names the file."""


class League:
    """Players, payoff, ratings and matchmaking of one league folder."""

    def __init__(self, folder: Path | str, env_id: str, matchmaking: MatchmakingConfig,
                 payoff: Payoff, seed: int = 0) -> None:
        matchmaking.validate()
        self.folder, self.env_id = Path(folder), env_id
        self.players: dict[str, Player] = {}
        self.payoff = payoff
        self.rng = np.random.default_rng(seed)
        self.matchmaker = Matchmaker(matchmaking, self.players, payoff, self.rng)
        self.interval = 0
        self.total_steps = 0
        self.extra: dict[str, Any] = {}  # the runner's own resumable state (e.g. wandb id)
        self._results: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.num_games = 0  # every result counted, undecayed (the payoff's counts decay)
        self.recorded: set[str] = set()  # match ids in the journal (results.jsonl)

    # --- members ---------------------------------------------------------------------------
    def add(self, player: Player) -> Player:
        """Add a member (learner, snapshot or fixed) with no games yet."""
        check_id(player.id, f"{self.folder}: player id")
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

    def checkpoint_path(self, player: Player) -> str:
        """Where a member is loaded from: a bot's name, or its checkpoint directory (which
        must be inside the league folder)."""
        if player.checkpoint is None:
            raise LeagueError(f"{self.folder}: player {player.id!r} has no checkpoint")
        if player.role == "fixed" and is_bot(player.checkpoint):
            return player.checkpoint
        base, _ = split_search(player.checkpoint)  # a fixed member may think with search
        return str(inside(self.folder, base, f"{self.folder / 'league.json'}: "
                          f"{player.id}.checkpoint")) + player.checkpoint[len(base):]

    def init_dir(self, side: str | None = None) -> Path:
        """The starting model of the learners (of one side, in a team game)."""
        return self.folder / "init" if side is None else self.folder / "init" / side

    def reset_start(self, learner: str) -> Path | None:
        """Where `learner` starts again after its snapshot, if its role resets it: the
        starting model, or a main agent's latest snapshot (MatchmakingConfig.reset_to);
        None when it goes on."""
        if not self.matchmaker.resets_after_snapshot(learner):
            return None
        source = self.matchmaker.reset_source(learner)
        if source is None:
            return self.init_dir(self.players[learner].side)
        return Path(split_search(self.checkpoint_path(self.players[source]))[0])

    def policy_path(self, player: Player) -> str:
        """What plays for a member: its average policy where the league keeps one, else its
        checkpoint (inside the league folder either way)."""
        if player.average is not None:
            return str(inside(self.folder, player.average,
                              f"{self.folder / 'league.json'}: {player.id}.average"))
        return self.checkpoint_path(player)

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
                               checkpoint, parent.rating, parent.steps, side=parent.side))

    # --- matches ---------------------------------------------------------------------------
    def get_match(self, learner: str) -> str:
        """The opponent for `learner`'s next game."""
        return self.matchmaker.get_match(learner)

    def report(self, home: str, away: str, seat: int, outcome: str) -> None:
        """One finished game of `home` (sitting in `seat`) against `away`."""
        self.payoff.update(home, away, outcome)
        self._results[(home, away, seat)][("win", "draw", "loss").index(outcome)] += 1
        self.num_games += 1

    def record(self, match_id: str, learner: str, steps: int,
               games: list[tuple[str, int, str]]) -> bool:
        """The results of one match job of `learner`: its env steps and its finished games
        (opponent, seat, outcome). Journalled (written and flushed to results.jsonl) before
        anything counts, and counted once: a match id already recorded changes nothing and
        returns False. Game k of the job is the match `<match_id>/<k>`."""
        if match_id in self.recorded:
            return False
        line = json.dumps({"match": match_id, "learner": learner, "steps": steps,
                           "games": games}) + "\n"
        new = not self.journal_path.exists()
        with open(self.journal_path, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_dir(self.folder)
        self.recorded.add(match_id)
        self._apply(learner, steps, games)
        return True

    def _apply(self, learner: str, steps: int, games: list[Any]) -> None:
        self.players[learner].steps += steps
        self.total_steps += steps
        for away, seat, outcome in games:
            self.report(learner, away, int(seat), outcome)

    def fit_ratings(self) -> None:
        """Every member's rating and its uncertainty, fitted to the payoff counts
        (payoff.bradley_terry; ratings are for people, the payoff drives matchmaking)."""
        ratings, sds = bradley_terry(self.payoff)
        for pid, rating, sd in zip(self.payoff.ids, ratings, sds, strict=True):
            self.players[pid].rating, self.players[pid].rating_sd = float(rating), float(sd)

    def check_members(self, where: Path | str) -> None:
        """Raise if a member's id, role, parent or checkpoint paths are unsafe or unknown."""
        for p in self.players.values():
            if not (p.role == "fixed" and p.id == p.checkpoint and is_bot(p.id)):
                # (leagues before plain ids named fixed bots by their spec, alphabeta:2: a
                # name, never a folder)
                check_id(p.id, f"{where}: player id")
            if p.role not in ROLES:
                raise LeagueError(f"{where}: player {p.id!r} has unknown role {p.role!r}")
            if p.parent is not None:
                check_id(p.parent, f"{where}: {p.id}.parent")
            if p.checkpoint is None and not p.learner:
                raise LeagueError(f"{where}: frozen player {p.id!r} has no checkpoint")
            if p.checkpoint is not None or p.average is not None:
                self.policy_path(p)
            if p.checkpoint is not None:
                self.checkpoint_path(p)

    # --- persistence -----------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.folder / "matchmaking.jsonl"

    @property
    def journal_path(self) -> Path:
        return self.folder / "results.jsonl"

    def journal_matches(self) -> list[str]:
        """The match id of every game in the journal (`<job>/<k>`), repeats included: the
        payoff counts num_games == len(set(...)) of them, each once."""
        if not self.journal_path.exists():
            return []
        out = []
        for line in self.journal_path.read_text().splitlines():
            job = json.loads(line)
            out += [f"{job['match']}/{k}" for k in range(len(job["games"]))]
        return out

    def _replay(self, journal_bytes: int) -> None:
        """Read the journal: every match id is recorded, and the jobs written after
        league.json was (acknowledged, so they count) are applied. A torn last line was
        never acknowledged and is cut off."""
        good = 0
        with open(self.journal_path, "rb") as f:
            for raw in f:
                try:
                    if not raw.endswith(b"\n"):
                        raise ValueError("torn line")
                    job = json.loads(raw)
                    match_id = str(job["match"])
                    if good >= journal_bytes and match_id not in self.recorded:
                        self._apply(job["learner"], int(job["steps"]), job["games"])
                except (ValueError, KeyError, TypeError) as exc:
                    if raw.endswith(b"\n"):  # a whole line that does not parse: not ours
                        raise LeagueError(f"{self.journal_path}: line at byte {good} is "
                                          f"not a journal entry: {exc}") from None
                    break
                self.recorded.add(match_id)
                good += len(raw)
        if self.journal_path.stat().st_size > good:
            with open(self.journal_path, "r+") as f:
                f.truncate(good)

    def state_dict(self) -> dict[str, Any]:
        """Everything league.json holds."""
        return {"format": FORMAT, "version": VERSION, "env_id": self.env_id,
                "interval": self.interval, "total_steps": self.total_steps,
                "players": [dataclasses.asdict(p) for p in self.players.values()],
                "payoff": self.payoff.state_dict(),
                "matchmaking": dataclasses.asdict(self.matchmaker.cfg),
                "rng": self.rng.bit_generator.state,
                "log_bytes": self.log_path.stat().st_size if self.log_path.exists() else 0,
                "num_games": self.num_games,
                "journal_bytes": (self.journal_path.stat().st_size
                                  if self.journal_path.exists() else 0),
                "extra": self.extra}

    def save(self, end_interval: bool = True) -> None:
        """Close the interval: append its results to the matchmaking log, then rewrite
        league.json atomically. A crash in between leaves log lines that league.json does
        not count; load() cuts them off. `end_interval=False` only rewrites league.json (a
        new snapshot registered mid-interval)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not end_interval:
            atomic_write_json(self.folder / "league.json", self.state_dict())
            return
        if self._results:
            lines = [json.dumps({"interval": self.interval, "step": self.total_steps,
                                 "home": h, "away": a, "seat": s, "wins": r[0], "draws": r[1],
                                 "losses": r[2]})
                     for (h, a, s), r in sorted(self._results.items())]
            new = not self.log_path.exists()
            with open(self.log_path, "a") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            if new:
                fsync_dir(self.folder)
            self._results.clear()
        self.interval += 1
        self.fit_ratings()
        atomic_write_json(self.folder / "league.json", self.state_dict())

    @classmethod
    def load(cls, folder: Path | str, resume: bool = False) -> League:
        """The league saved in `folder` (league.json), its ids and paths checked. With
        `resume`, the matchmaking log is cut back to what league.json counts (lines of an
        interval that a crash interrupted) and the journal's results since league.json are
        counted; a plain read changes nothing, so it is safe beside a running league."""
        folder = Path(folder)
        file = folder / "league.json"
        if not file.exists():
            raise LeagueError(f"{folder} is not a league folder (no league.json)")
        try:
            data = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LeagueError(f"corrupt {file}: {exc}") from None
        league = cls.from_state(folder, data)
        if resume and league.log_path.exists() and league.log_path.stat().st_size > data["log_bytes"]:
            with open(league.log_path, "r+") as f:
                f.truncate(data["log_bytes"])
        if resume and league.journal_path.exists():
            league._replay(int(data.get("journal_bytes", 0)))
        return league

    @classmethod
    def from_state(cls, folder: Path | str, data: Any) -> League:
        """The league a state_dict() describes (as league.json holds it), checked."""
        folder = Path(folder)
        file = folder / "league.json"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LeagueError(f"{file} is not a ludus league file")
        if data.get("version") != VERSION:
            raise LeagueError(f"{file} is league format version {data.get('version')}, this "
                              f"ludus reads version {VERSION}")
        try:
            league = cls(folder, data["env_id"], from_dict(MatchmakingConfig, data["matchmaking"]),
                         Payoff.from_state(data["payoff"]))
            for entry in data["players"]:
                player = from_dict(Player, entry, f"{file}: players")
                league.players[player.id] = player
            league.rng.bit_generator.state = data["rng"]
            league.interval, league.total_steps = int(data["interval"]), int(data["total_steps"])
            league.extra = dict(data.get("extra") or {})
            league.num_games = int(data.get("num_games", 0))
            int(data["log_bytes"]), int(data.get("journal_bytes", 0))  # the offsets load() uses
        except UnsafePathError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise LeagueError(f"{file} is incomplete or invalid: {type(exc).__name__}: "
                              f"{exc}".splitlines()[0]) from None
        if set(league.players) != set(league.payoff.ids):
            raise LeagueError(f"{file}: players and payoff matrix disagree")
        league.check_members(file)
        return league


def next_learner(steps: dict[str, float], shares: dict[str, float]) -> str:
    """The learner whose rollout comes next on either backend: the fewest env steps (played,
    or handed out) per unit of its compute share; ties go to the first."""
    return min(steps, key=lambda pid: steps[pid] / shares[pid])


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
