"""Self-play: the learner plays any multi-agent game (envs.make_game) against frozen copies of
itself and optional fixed opponents, seated by the Versus adapter.

Only the learner's own transitions reach its algorithm (opponents move inside the env),
rewards come from the learner's seat, seats rotate, and an opponent's recurrent state is
reset whenever a new game (and so possibly a new opponent) starts in that env. Frozen copies
are written to the run folder (`pool/step_<N>`) and loaded back from there: a later update
can never touch them, and a resumed run finds its pool again (without copies newer than the
weights it resumes). Fixed and evaluation opponents that are checkpoints are copied into the
run folder (`opponents/`) when the run starts, and selfplay.json names those copies: a
resumed run reads nothing outside its folder. An opponent checkpoint that fails to load is
reported and skipped.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ludus import envs
from ludus.agents import CheckpointError, RunConfig, Trainer
from ludus.agents.files import atomic_write_json, inside, numbered
from ludus.agents.registry import algo_entry
from ludus.league.arena import Seated, SeatedOpponents, checkpoint_of, load_player
from ludus.league.bots import is_bot
from ludus.league.snapshots import copy_policy


@dataclass
class SelfPlayConfig:
    """How the pool of past selves is kept and sampled."""

    snapshot_every: int = 10
    """Add a frozen copy of the learner to the pool every this many updates."""
    pool_size: int = 20
    """Most recent copies kept."""
    latest_prob: float = 0.5
    """Probability that a new game is played against the newest copy (else uniform)."""
    opponents: tuple[str, ...] = ()
    """Fixed opponents always in the pool: bot names (random, greedy, alphabeta:D, minimax)
    or checkpoint paths."""
    opening_moves: int = 0
    """Start training games after 0..this many random moves (variety against collapse onto
    one line of play); evaluation games always start from the initial position."""
    opponent_epsilon: float = 0.0
    """Probability that an opponent plays a uniformly random legal move instead of its own:
    lines its policy never plays get visited, and the learner must answer them."""
    eval_opponent: str = "random"
    """Bot (or checkpoint) the greedy learner is evaluated against."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        if self.snapshot_every <= 0 or self.pool_size <= 0:
            raise ValueError(f"snapshot_every and pool_size must be positive, got "
                             f"{self.snapshot_every} and {self.pool_size}")
        for name in ("latest_prob", "opponent_epsilon"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


class OpponentPool(SeatedOpponents):
    """Frozen players; each env's opponent is drawn when a game starts there.

    Members have ids that never change; a member dropped from the pool stays seated in the
    games it is playing until they end, so no game switches opponent halfway.
    """

    def __init__(self, num_envs: int, cfg: SelfPlayConfig, seed: int = 0) -> None:
        super().__init__(num_envs, cfg.opponent_epsilon, seed)
        self.cfg = cfg
        self.players: dict[int, Any] = {}  # id -> player, for members new games may draw
        self.names: dict[int, str] = {}
        self.active: list[int] = []  # ids that new games may draw, oldest first
        self.fixed: set[int] = set()
        self._next_id = 0

    @property
    def members(self) -> list[Any]:
        """The players new games may draw, oldest first."""
        return [self.players[i] for i in self.active]

    def add(self, player: Any, name: str, fixed: bool = False) -> None:
        """Add a frozen player; beyond pool_size the oldest non-fixed one retires."""
        member = self._next_id
        self._next_id += 1
        self.players[member], self.names[member] = player, name
        self.active.append(member)
        if fixed:
            self.fixed.add(member)
        copies = [i for i in self.active if i not in self.fixed]
        if len(copies) > self.cfg.pool_size:
            self.active.remove(copies[0])
            del self.players[copies[0]]

    def choose(self, count: int) -> list[int]:
        """The newest member with probability latest_prob, else a uniform draw."""
        if not self.active:
            raise RuntimeError("the opponent pool is empty: add a player before playing")
        pick = np.asarray(self.active)[self.rng.integers(len(self.active), size=count)]
        latest = self.rng.random(count) < self.cfg.latest_prob
        return np.where(latest, self.active[-1], pick).tolist()

    def player(self, key: int) -> Any:
        return self.players[key]

    def start(self, rows: np.ndarray) -> None:
        """Seat new games' opponents; forget the names of retired members no game uses."""
        super().start(rows)
        for member in [m for m in self.names if m not in self.players and m not in self.seated]:
            del self.names[member]


def split_selfplay(data: dict[str, Any], where: str = "config") -> tuple[dict[str, Any],
                                                                         SelfPlayConfig]:
    """A config dict without its sections (SECTIONS), and its `selfplay:` section as a
    SelfPlayConfig."""
    from ludus.agents.registry import from_dict, without_sections

    selfplay = from_dict(SelfPlayConfig, data.get("selfplay") or {}, f"{where}: selfplay")
    return without_sections(data), selfplay


def load_selfplay_config(run_path: Path | str) -> SelfPlayConfig | None:
    """The self-play settings stored in a run folder (None for a plain run)."""
    from ludus.agents.registry import from_dict

    file = Path(run_path) / "selfplay.json"
    if not file.exists():
        return None
    try:
        data = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt {file}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{file} must hold the self-play settings as a mapping")
    return from_dict(SelfPlayConfig, data, str(file))


def own_opponents(selfplay: SelfPlayConfig, run_path: Path,
                  warn: Callable[[str], None]) -> SelfPlayConfig:
    """`selfplay` with its checkpoint opponents copied into `run_path/opponents/` and named
    by those copies (relative paths); bots keep their names. A fixed opponent that cannot be
    copied is reported and dropped; an evaluation opponent that cannot is an error."""
    fixed = []
    for k, spec in enumerate(selfplay.opponents):
        if is_bot(spec):
            fixed.append(spec)
            continue
        try:
            copy_policy(spec, run_path / "opponents" / str(k))
            fixed.append(f"opponents/{k}")
        except (CheckpointError, OSError, ValueError) as exc:
            warn(f"skipped opponent {spec}: {exc}")
    evaluation = selfplay.eval_opponent
    if not is_bot(evaluation):
        copy_policy(evaluation, run_path / "opponents" / "eval")
        evaluation = "opponents/eval"
    return dataclasses.replace(selfplay, opponents=tuple(fixed), eval_opponent=evaluation)


def opponent_spec(spec: str, run_path: Path) -> str:
    """A bot name as it is; anything else is a copy inside the run folder."""
    return spec if is_bot(spec) else str(inside(run_path, spec, f"{run_path / 'selfplay.json'}"))


def strength_metrics(game: str) -> Callable[[Any], dict[str, float]] | None:
    """Exact strength measures logged at each evaluation where the game has one: NashConv for
    OpenSpiel games, lines lost to perfect play for tic-tac-toe."""
    if game.startswith("spiel:"):
        from ludus.league.exploitability import exact_is_feasible, nash_conv

        # games too large for exact NashConv are measured by scripts/exploit.py
        return (lambda policy: {"eval/nash_conv": nash_conv(game, policy)}) \
            if exact_is_feasible(game) else None
    if game == "tictactoe":
        from ludus.league.bots import tictactoe_lines

        return lambda policy: {"eval/minimax_lines_lost": tictactoe_lines(policy)["loss"],
                               "eval/any_reply_lines_lost": tictactoe_lines(policy, True)["loss"]}
    return None


def selfplay_trainer(run: RunConfig, cfg: Any, selfplay: SelfPlayConfig | None = None,
                     resume_from: Path | None = None,
                     warn: Callable[[str], None] | None = None) -> Trainer:
    """A Trainer whose learner plays `run.env_id` against its own frozen copies (starting from
    its initial parameters, or on resume the copies in the run's pool folder) and the
    configured fixed opponents; evaluation plays `eval_opponent` and logs strength_metrics.
    The pool is `trainer.pool`.
    `warn` receives messages about opponents that could not be loaded (default: tracked)."""
    selfplay = selfplay or SelfPlayConfig()
    selfplay.validate()
    game = run.env_id
    if getattr(cfg, "init", None) is not None:  # a league folder or member plays its policy
        cfg = dataclasses.replace(cfg, init=checkpoint_of(cfg.init))
    pool = OpponentPool(cfg.num_envs, selfplay, run.seed)
    eval_player: list[Any] = []  # loaded once the run folder (and its copies) exist

    every_seat = getattr(algo_entry(run.algo)[0], "plays_every_seat", False)
    if every_seat and selfplay.opponents:
        raise ValueError(f"{run.algo} plays every seat itself; drop the self-play opponents "
                         f"{list(selfplay.opponents)}")

    def make_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> Any:
        if every_seat:  # AlphaZero: one player (searching) in every seat
            return envs.SelfPlay(envs.make_game(game, num_envs, seed), seed)
        return envs.make(game, num_envs, seed, opponent=pool,
                         opening_moves=selfplay.opening_moves)

    def make_eval_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> envs.Versus:
        return envs.make(game, num_envs, seed, opponent=Seated(eval_player[0], num_envs, True))

    def on_update(trainer: Trainer, metrics: dict[str, float]) -> None:
        if every_seat:
            return
        if trainer.agent.num_updates % selfplay.snapshot_every == 0:
            snapshot(trainer)
        metrics["league/pool_size"] = len(pool.active)

    def snapshot(trainer: Trainer) -> None:
        path = trainer.save_policy(trainer.run_path / "pool" / f"step_{trainer.global_step:09d}")
        add_player(str(path))
        for old in numbered(path.parent, "step_")[: -selfplay.pool_size]:
            shutil.rmtree(old, ignore_errors=True)

    def add_player(spec: str, fixed: bool = False) -> None:
        try:
            player = load_player(spec, seed=int(pool.rng.integers(2**31)))
            expected = trainer.env.single_observation_space["observation"].shape
            shape = tuple(getattr(player, "obs_shape", expected))
            if shape != tuple(expected):
                raise ValueError(f"it expects observations of shape {shape}, {game} gives "
                                 f"{tuple(expected)}")
            pool.add(player, spec, fixed)
        except (CheckpointError, OSError, ValueError) as exc:
            (warn or trainer.tracker.message)(f"skipped opponent {spec}: {exc}")

    trainer = Trainer(run, cfg, make_env, resume_from=resume_from, make_eval_env=make_eval_env,
                      on_update=on_update, on_eval=strength_metrics(game))
    try:
        if resume_from is None:
            selfplay = own_opponents(selfplay, trainer.run_path, warn or trainer.tracker.message)
        atomic_write_json(trainer.run_path / "selfplay.json", dataclasses.asdict(selfplay))
        if resume_from is not None and getattr(trainer.agent, "replay_restored", True) is False:
            (warn or trainer.tracker.message)("the checkpoint holds no replay buffer "
                                              "(checkpoint_replay: false): it is rebuilt from "
                                              "new self-play games")
        eval_player.append(load_player(opponent_spec(selfplay.eval_opponent, trainer.run_path),
                                       seed=run.seed + 1))
        trainer.pool = pool
        for spec in selfplay.opponents:
            add_player(opponent_spec(spec, trainer.run_path), fixed=True)
        stored = numbered(trainer.run_path / "pool", "step_") if resume_from else []
        for path in stored:  # copies from after the resumed weights belong to a lost future
            if int(path.name.removeprefix("step_")) > trainer.global_step:
                shutil.rmtree(path, ignore_errors=True)
        stored = [p for p in stored if p.exists()]
        for path in stored[-selfplay.pool_size:]:
            add_player(str(path))
        if not every_seat and all(member in pool.fixed for member in pool.active):
            snapshot(trainer)  # no copy yet: the starting model, not random weights
    except BaseException:
        trainer.close()
        raise
    return trainer
