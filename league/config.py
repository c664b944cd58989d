"""League settings: the LeagueConfig dataclass (its fields are scripts/league.py's flags),
presets, and the learners' hyperparameters taken from a game's shipped config."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ludus.agents import split_config
from ludus.agents.registry import CONFIG_DIR, algo_entry, from_dict, load_config_file
from ludus.agents.tracking import WandbConfig
from ludus.league.bots import is_bot
from ludus.league.coordinator import League, learner_ids
from ludus.league.matchmaking import MatchmakingConfig
from ludus.league.selfplay import SelfPlayConfig, split_selfplay


@dataclass
class LeagueConfig:
    """A league run: the game, its members, the budget, matchmaking and tracking."""

    env_id: str = "connect_four"
    """Two-player zero-sum game: connect_four, tictactoe, spiel:<game>, pettingzoo:<env>; or
    a two-sided team game, shared:simple_tag (each side has its own learners)."""
    config: str | None = None
    """Learners' hyperparameters: a config name or YAML file (default: the game's shipped
    self-play config, e.g. ppo_connect_four, whose opening_moves and opponent_epsilon apply)."""
    exploiter_config: str | None = None
    """Exploiters' hyperparameters when they differ from the main agents' (default: the
    same; for an alphazero main agent, which trains by self-play with search, the game's
    shipped PPO config)."""
    main_agents: int = 1
    """Main agents (never reset; the league's product)."""
    main_exploiters: int = 1
    """Main exploiters (train against the main agents; reset after each snapshot)."""
    league_exploiters: int = 2
    """League exploiters (PFSP over the whole league)."""
    exploiter_share: float = 1.0
    """Env steps each exploiter plays per main agent step (1: every learner its own equal
    compute, as AlphaStar; below 1 the main agents, the league's product, get more)."""
    fixed: tuple[str, ...] = ()
    """Frozen members from outside: bot names or checkpoint paths, rated like the rest."""
    init: str | None = None
    """Checkpoint every learner starts from and resets to (default: one random init), e.g.
    a behaviour-cloned one (scripts/aux.py --task bc)."""
    teacher_kl_coef: float = 0.0
    """PPO learners add this times KL(init || learner), annealed to 0 over the budget
    (AlphaStar's KL toward the supervised policy; needs --init)."""
    minutes: float | None = None
    """Wall-clock budget (default 30 minutes unless --total-timesteps is given)."""
    total_timesteps: int | None = None
    """Env steps of all learners together."""
    interval_steps: int = 500_000
    """Evaluate, track and save the league every this many steps (a crash loses at most one)."""
    eval_bots: tuple[str, ...] | None = None
    """Bots the main agents play every interval (default: random plus the game's strongest)."""
    eval_games: int = 100
    """Games per main agent and bot at each evaluation (both seats)."""
    exploit_every: int = 0
    """Every this many intervals, train a fresh PPO best response against each main agent
    and log what it wins per game, with an interval (eval/<id>/learned_br: exploitability
    from below, for games too large for exact NashConv; 0: never)."""
    exploit_minutes: float = 2.0
    """Wall-clock budget of each of those best responses."""
    matchmaking: MatchmakingConfig = field(default_factory=MatchmakingConfig)
    """Matchmaking and snapshot rules."""
    payoff_decay: float = 0.99
    """Payoff counters are multiplied by this before each new result of a pair."""
    min_games: float = 5.0
    """A pair's win rate counts after this many (decayed) games; before, it is 0.5."""
    snapshot_cache: int = 8
    """Frozen players kept in memory (the rest load from disk when drawn)."""
    menu_size: int = 8
    """Matches drawn per learner rollout; its new games take one of them each (see
    LeagueSeats)."""
    seed: int = 1
    """Seed of the initial parameters, matchmaking and games."""
    device: str = "cpu"
    """cpu, cuda, or auto."""
    torch_threads: int = 1
    """torch intra-op threads."""
    backend: str = "local"
    """local (every learner in this process, in turns) or ray (a coordinator, a learner per
    learning player and rollout workers as Ray actors, on every core and machine)."""
    address: str | None = None
    """Ray backend: the cluster to join (auto, or HOST:PORT of `ray start --head`); default a
    Ray instance started for this league on this machine."""
    num_workers: int = 2
    """Ray backend: rollout workers (one CPU each)."""
    learner_device: str | None = None
    """Ray backend: the learners' device (auto: a GPU where the cluster has one); default
    --device."""
    max_policy_lag: int = 3
    """Ray backend: learners drop rollouts acted with weights more than this many updates
    older than theirs (younger ones are corrected by PPO's clipped ratio)."""
    league_dir: str = "leagues"
    """Parent folder of league folders."""
    name: str | None = None
    """League folder name (default <game>__league__<seed>__<time>)."""
    track: bool = False
    """Log to Weights & Biases (honours WANDB_MODE=offline)."""
    tensorboard: bool = False
    """Also write TensorBoard event files to <league>/tb/."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """Weights & Biases settings."""
    console: bool = True
    """Progress bar and a summary table every interval."""

    def validate(self) -> None:
        """Raise ValueError with the offending setting."""
        self.matchmaking.validate()
        learner_ids(self.counts())
        for bot in self.eval_bots or ():
            if not is_bot(bot):  # league.json names them: no path may lead out of the folder
                raise ValueError(f"eval_bots are bot names (random, greedy, alphabeta:D, "
                                 f"minimax; a checkpoint can join with --fixed), got {bot!r}")
        if self.teacher_kl_coef and self.init is None:
            raise ValueError("teacher_kl_coef needs --init (the teacher is the starting checkpoint)")
        if self.exploit_every < 0 or self.exploit_minutes <= 0:
            raise ValueError(f"need exploit_every >= 0 and exploit_minutes > 0, got "
                             f"{self.exploit_every}, {self.exploit_minutes}")
        if self.backend not in ("local", "ray"):
            raise ValueError(f"backend is local or ray, got {self.backend!r}")
        if self.exploiter_share <= 0:
            raise ValueError(f"exploiter_share must be positive, got {self.exploiter_share}")
        if self.max_policy_lag < 0:
            raise ValueError(f"max_policy_lag must be >= 0, got {self.max_policy_lag}")
        for name in ("interval_steps", "eval_games", "snapshot_cache", "menu_size",
                     "num_workers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        if self.total_timesteps is not None and self.total_timesteps <= 0:
            raise ValueError(f"total_timesteps must be positive, got {self.total_timesteps}")

    def counts(self) -> dict[str, int]:
        """Learners per role."""
        return {"main_agent": self.main_agents, "main_exploiter": self.main_exploiters,
                "league_exploiter": self.league_exploiters}


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"main_agents": 1, "main_exploiters": 1, "league_exploiters": 1, "minutes": 3.0,
             "interval_steps": 100_000, "eval_games": 50,
             "matchmaking": {"main_snapshot_steps": 50_000, "exploiter_min_steps": 25_000,
                             "exploiter_max_steps": 100_000}},
}


def default_eval_bots(game: str) -> tuple[str, ...]:
    """random, plus the strongest bot the game has."""
    return {"connect_four": ("random", "alphabeta:2"),
            "tictactoe": ("random", "minimax")}.get(game, ("random",))


def is_shipped(config: str) -> bool:
    """Whether a config name is one of ludus's shipped configs (agents/configs/)."""
    return (CONFIG_DIR / f"{config}.yaml").exists() and "/" not in config and "\\" not in config


def fixed_id(spec: str, taken: Any) -> str:
    """A member id for a fixed player given by a bot name or checkpoint path: the spec with
    anything but letters, digits, '_', '.' and '-' replaced (alphabeta:2 -> alphabeta_2),
    numbered if taken."""
    base = re.sub(r"(?:[^A-Za-z0-9_.-]|\.\.)+", "_", spec)
    base = re.sub(r"_+", "_", base).strip("._") or "fixed"
    pid, k = base, 1
    while pid in taken:
        pid, k = f"{base}_{k}", k + 1
    return pid


def config_name(env_id: str, config: str | None) -> str | None:
    """The learners' config: `config`, else the game's shipped self-play config if any."""
    if config is not None:
        return config
    shipped = f"ppo_{env_id.split(':', 1)[-1]}"  # spiel:kuhn_poker, shared:simple_tag
    return shipped if (CONFIG_DIR / f"{shipped}.yaml").exists() else None


def league_section(env_id: str, config: str | None) -> dict[str, Any]:
    """The `league:` section of the learners' config: this game's league settings (defaults
    that presets and flags override)."""
    name = config_name(env_id, config)
    return dict(load_config_file(name).get("league") or {}) if name else {}


def learner_configs(cfg: LeagueConfig, name: str | None = None
                    ) -> tuple[str, Any, SelfPlayConfig]:
    """(algorithm, algorithm config, self-play settings) of the learners (of the config
    `name`; default the main agents')."""
    name = name or config_name(cfg.env_id, cfg.config)
    data = load_config_file(name) if name else {"algo": "ppo"}
    data, selfplay = split_selfplay(data, name or "config")
    data = {k: v for k, v in data.items() if k not in ("minutes", "total_timesteps", "env_id")}
    run, algo_cfg = split_config(data, name or "config")
    if cfg.teacher_kl_coef:
        if not hasattr(algo_cfg, "teacher"):
            raise ValueError(f"teacher_kl_coef needs PPO learners, not {run.algo}")
        algo_cfg.teacher, algo_cfg.teacher_kl_coef = cfg.init, cfg.teacher_kl_coef
    return run.algo, algo_cfg, selfplay


def exploiter_configs(cfg: LeagueConfig, main_algo: str
                      ) -> tuple[str, Any, SelfPlayConfig] | None:
    """The exploiters' settings where they differ from the main agents': exploiter_config,
    or, for main agents that play every seat of their own games (alphazero), the game's
    shipped PPO config; None when every learner shares the main agents' settings."""
    name = cfg.exploiter_config
    if name is None:
        if not getattr(algo_entry(main_algo)[0], "plays_every_seat", False):
            return None
        name = config_name(cfg.env_id, None)
        if name is None:
            raise ValueError(f"{main_algo} main agents train on their own self-play; their "
                             f"exploiters need a config of their own (--exploiter-config)")
    found = learner_configs(cfg, name)
    if getattr(algo_entry(found[0])[0], "plays_every_seat", False):
        raise ValueError(f"exploiters learn against the league's members; {found[0]} only "
                         f"plays itself (exploiter config {name})")
    return found


def stored_config(folder: Path | str, overrides: dict[str, Any] | None = None) -> LeagueConfig:
    """The LeagueConfig a league folder was started with, with `overrides` (e.g. a new
    budget) applied."""
    league = League.load(folder)
    data = {**league.extra.get("config", {}), **(overrides or {})}
    data.pop("elo_k", None)  # leagues before fitted ratings kept an Elo K factor
    return from_dict(LeagueConfig, data, f"{Path(folder) / 'league.json'}: config")
