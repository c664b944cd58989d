"""Train an AlphaStar-style league: python scripts/league.py --env-id connect_four --minutes 60.

Main agents, main exploiters and league exploiters learn against opponents chosen by
prioritized fictitious self-play over the payoff matrix; snapshots, ratings and the payoff
live in the league folder (leagues/<name>/league.json). `--preset tiny` is a small fast
league; `--resume FOLDER` continues a league after a crash (with --minutes or
--total-timesteps to extend its budget, on either --backend); `--track` logs to Weights &
Biases. `--backend ray [--address auto] [--num-workers N]` runs the learners and the games
as Ray actors on every core (and machine) of a Ray cluster.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import gymnasium as gym
import tyro

from ludus.agents import CheckpointError
from ludus.agents.files import FolderLockedError
from ludus.agents.registry import from_dict
from ludus.league.config import PRESETS, LeagueConfig, league_section, stored_config
from ludus.league.runner import LeagueRunner


def has_board(env_id: str) -> bool:
    """Whether the watch and play windows can draw this game."""
    from ludus.envs.render import renderer_game

    try:
        renderer_game(env_id)
    except ValueError:
        return False
    return True


def runner_class(backend: str) -> type[LeagueRunner]:
    """The league runner of a backend (Ray is imported only when asked for)."""
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ImportError("--backend ray needs Ray: pip install 'ludus[ray]'") from None
        from ludus.league.ray_backend import RayLeagueRunner

        return RayLeagueRunner
    return LeagueRunner


def parse(argv: list[str]) -> tuple[LeagueConfig, str | None]:
    """(config, folder to resume or None) from the command line."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", choices=sorted(PRESETS))
    pre.add_argument("--resume")
    pre.add_argument("--env-id")
    pre.add_argument("--config")
    known, rest = pre.parse_known_args(argv)
    if known.resume:
        budget = argparse.ArgumentParser(description="resume a league")
        budget.add_argument("--minutes", type=float)
        budget.add_argument("--total-timesteps", type=int)
        budget.add_argument("--no-console", action="store_true")
        budget.add_argument("--backend", choices=("local", "ray"))
        budget.add_argument("--address")
        budget.add_argument("--num-workers", type=int)
        b = budget.parse_args(rest)
        overrides: dict[str, Any] = {k: v for k, v in (("minutes", b.minutes),
                                                        ("total_timesteps", b.total_timesteps),
                                                        ("backend", b.backend),
                                                        ("address", b.address),
                                                        ("num_workers", b.num_workers))
                                     if v is not None}
        if b.no_console:
            overrides["console"] = False
        return stored_config(known.resume, overrides), known.resume
    # the game's shipped league settings, then the preset, then the flags
    rest += [arg for key in ("env_id", "config") if getattr(known, key)
             for arg in (f"--{key.replace('_', '-')}", getattr(known, key))]
    data = league_section(known.env_id or LeagueConfig.env_id, known.config)
    for key, value in (PRESETS[known.preset] if known.preset else {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    default = from_dict(LeagueConfig, {**data, "env_id": known.env_id or LeagueConfig.env_id,
                                       "config": known.config})
    return tyro.cli(LeagueConfig, default=default, args=rest, description=__doc__), None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        cfg, resume = parse(argv)
        summary = runner_class(cfg.backend)(cfg, resume).train()
    except (ValueError, CheckpointError, FileNotFoundError, FolderLockedError, ImportError,
            gym.error.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"league:      {summary['folder']}  ({summary['players']} players, "
          f"{summary['total_steps']:,} steps)")
    for path in summary["main_agents"]:
        print(f"main agent:  {path}")
    for path in summary["averages"]:
        print(f"average:     {path}  (the main agent's average policy)")
    folder = summary["folder"]
    if has_board(cfg.env_id):  # the pygame windows draw boards
        print(f"watch:       python scripts/watch.py {folder}")
        print(f"play:        python scripts/play.py {folder}")
    print(f"evaluate:    python scripts/evaluate.py {folder} --opponent random --games 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
