"""Tree search speed on connect four, ludus beside OpenSpiel in one run: simulations per
second of ludus's batched PUCT search (agents/search.py) with the shipped AlphaZero net at
1, 16, 64 and 256 games searched together, and of OpenSpiel's Python MCTSBot (one game,
random-rollout evaluator). Measurements alternate between the contestants, `--repeats`
times, and the medians are reported with their ratio to OpenSpiel.

    python scripts/bench_search.py --seconds 5 --repeats 3 --out bench_search.json
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import tyro

from ludus import envs
from ludus.agents import split_config
from ludus.agents.files import atomic_write_json
from ludus.agents.registry import load_config_file, make_agent
from ludus.agents.search import SearchConfig, TreeSearch
from ludus.league.selfplay import split_selfplay


@dataclass
class SearchBench:
    """Tree search simulations/s on connect four: ludus's batched PUCT beside OpenSpiel's
    MCTSBot."""

    seconds: float = 5.0
    """Seconds per measurement."""
    repeats: int = 3
    """Rounds of all measurements (medians reported)."""
    games: tuple[int, ...] = (1, 16, 64, 256)
    """Numbers of games searched together by ludus."""
    simulations: int = 200
    """Simulations per move (both contestants)."""
    config: str = "alphazero_connect_four"
    """AlphaZero config whose net ludus searches with."""
    checkpoint: str | None = None
    """Trained weights for that net (default: its initial weights; the speed is the same)."""
    uct_c: float = 2.0
    """OpenSpiel MCTSBot's exploration constant."""
    out: str | None = None
    """Write the results as JSON to this file."""
    torch_threads: int = 1
    """torch intra-op threads."""


def ludus_speed(agent: Any, games: int, sims: int, seconds: float, seed: int
                ) -> dict[str, float]:
    """Simulations/s of self-play moves searched `games` at a time (trees reused), and the
    share of that time spent in the network."""
    env = envs.SelfPlay(envs.make_game("connect_four", games), seed)
    env.reset(seed=seed)
    tree = TreeSearch(agent.evaluate, SearchConfig(num_simulations=sims),
                      np.random.default_rng(seed))
    agent.timing["network"] = 0.0
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        result = tree.run(env.game, explore=True)
        _, _, terminated, truncated, _ = env.step(result.action)
        tree.advance(result.action, terminated | truncated)
        done += games * sims
    return {"simulations_per_s": done / elapsed, "network_share": agent.timing["network"] / elapsed}


def openspiel_speed(sims: int, uct_c: float, seconds: float, seed: int) -> float:
    """Simulations/s of OpenSpiel's Python MCTSBot playing connect four against itself."""
    import pyspiel
    from open_spiel.python.algorithms import mcts

    game = pyspiel.load_game("connect_four")
    rng = np.random.RandomState(seed)
    bot = mcts.MCTSBot(game, uct_c, sims, mcts.RandomRolloutEvaluator(1, rng), random_state=rng)
    state, done, start = game.new_initial_state(), 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        state.apply_action(bot.step(state))
        done += sims
        if state.is_terminal():
            state = game.new_initial_state()
    return done / elapsed


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = tyro.cli(SearchBench, args=sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.torch_threads)
    torch.set_flush_denormal(True)
    data, _ = split_selfplay(load_config_file(args.config))  # its self-play and league parts
    run, cfg = split_config(data, args.config)
    env = envs.SelfPlay(envs.make_game(run.env_id, 1))
    agent = make_agent("alphazero", cfg, env.single_observation_space, env.single_action_space)
    if args.checkpoint:
        from ludus.agents.checkpoint import load_weights

        load_weights(agent.net, args.checkpoint)
    rows: dict[str, list[dict[str, float]]] = {"openspiel_mctsbot": []}
    for r in range(args.repeats):
        rows["openspiel_mctsbot"].append({"simulations_per_s": openspiel_speed(
            args.simulations, args.uct_c, args.seconds, r)})
        for games in args.games:
            rows.setdefault(f"ludus_{games}", []).append(
                ludus_speed(agent, games, args.simulations, args.seconds, r))
    base = float(np.median([m["simulations_per_s"] for m in rows["openspiel_mctsbot"]]))
    results = {}
    print(f"connect four, {args.simulations} simulations per move, medians of {args.repeats}")
    for name, measured in rows.items():
        speed = float(np.median([m["simulations_per_s"] for m in measured]))
        share = [m["network_share"] for m in measured if "network_share" in m]
        results[name] = {"simulations_per_s": speed, "ratio_to_openspiel": speed / base,
                         "runs": [m["simulations_per_s"] for m in measured]}
        note = f"  network {np.median(share):.0%} of the time" if share else ""
        print(f"{name:<20} {speed:>10,.0f} sims/s  {speed / base:5.2f}x{note}")
    if args.out:
        atomic_write_json(args.out, {"settings": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
