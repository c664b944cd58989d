"""Measure a self-play agent's strength the way the project's targets are stated: train with
the game's shipped config (or take an existing run), then evaluate the greedy policy.

    python scripts/selfplay_targets.py --game tictactoe            # train 5 min, then measure
    python scripts/selfplay_targets.py --game connect_four --run runs/<run>   # measure only

tictactoe: lines of play lost against every perfect-minimax reply (and every reply), both
seats. connect_four: win/draw/loss against random, alphabeta:2 and alphabeta:4, both seats.
spiel:<game>: exact NashConv (OpenSpiel best responses).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import tyro

from ludus.agents import load_policy, split_config
from ludus.agents.files import atomic_write_json
from ludus.agents.registry import load_config_file
from ludus.league.arena import play_match
from ludus.league.bots import make_bot, tictactoe_lines
from ludus.league.exploitability import nash_conv
from ludus.league.selfplay import selfplay_trainer, split_selfplay


@dataclass
class Targets:
    """A self-play agent's strength as the targets state it: train with the game's shipped
    config (unless --run names a run), then measure the greedy policy."""

    game: str = "tictactoe"
    """connect_four, tictactoe or spiel:<game>."""
    run: str | None = None
    """Measure this run folder or checkpoint instead of training."""
    minutes: float | None = None
    """Training budget (default: the shipped config's)."""
    seed: int = 1
    """Training seed."""
    games: tuple[int, int, int] = (1000, 400, 200)
    """connect four games against random, alphabeta:2, alphabeta:4."""
    out: str | None = None
    """Write the measurements as JSON here."""


def measure(game: str, policy: Any, games: tuple[int, int, int]) -> dict[str, Any]:
    """The target measurements of `policy` on `game`."""
    if game == "tictactoe":
        return {"vs_minimax_replies": tictactoe_lines(policy),
                "vs_every_reply": tictactoe_lines(policy, all_replies=True)}
    if game == "connect_four":
        report = {}
        for bot, n in zip(("random", "alphabeta:2", "alphabeta:4"), games, strict=True):
            result = play_match(game, policy, make_bot(bot, seed=7), n)
            report[bot] = {"score": result.score, "wins": result.wins, "draws": result.draws,
                           "losses": result.losses, "win_rate": sum(result.wins) / result.games,
                           "win_ci95": result.rates()["win"][1:]}
        return report
    if game.startswith("spiel:"):
        return {"nash_conv": nash_conv(game, policy)}
    raise ValueError(f"no target measurement for {game!r}")


def main(args: Targets) -> dict[str, Any]:
    """Train or load, measure, print."""
    summary: dict[str, Any] = {}
    if args.run is None:
        name = f"ppo_{args.game.removeprefix('spiel:')}"
        data, selfplay = split_selfplay(load_config_file(name), name)
        data.update(seed=args.seed, console=False)
        if args.minutes is not None:
            data["minutes"] = args.minutes
        run, cfg = split_config(data, name)
        summary = selfplay_trainer(run, cfg, selfplay).train()
        args.run = summary["checkpoint"]
    results = {"run": args.run, "train_seconds": summary.get("train_seconds"),
               "steps": summary.get("global_step"),
               **measure(args.game, load_policy(args.run), args.games)}
    print(json.dumps(results, indent=1))
    if args.out:
        atomic_write_json(args.out, results)
    return results


if __name__ == "__main__":
    main(tyro.cli(Targets, args=sys.argv[1:]))
