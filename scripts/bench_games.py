"""Game throughput, ludus beside PettingZoo in one run:

1. raw env steps/s on connect four with random legal moves, producing the observation
   planes and masks: ludus's batched bitboards vs PettingZoo's connect_four_v3 AEC loop;
2. self-play collection env steps/s (moves of either seat, with the learner's and the
   opponent's inference and rollout storage; no updates) with the same net: ludus's game vs
   the same batched collector over PettingZoo envs (ludus's adapter), and vs a plain
   one-env PettingZoo loop running the net on each move;
3. end-to-end self-play training steps/s, and the share of time spent in updates.

    python scripts/bench_games.py --seconds 10 --out bench_games.json
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
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
from ludus.envs.board import random_legal
from ludus.league.selfplay import selfplay_trainer, split_selfplay


@dataclass
class GameBench:
    """Game throughput on connect four, ludus beside PettingZoo: raw env steps/s, self-play
    collection and end-to-end training."""

    seconds: float = 10.0
    """Seconds per measurement."""
    num_envs: int = 4096
    """Games per batch for the raw ludus measurement."""
    collect_envs: int = 64
    """Envs of the self-play collectors (the config's num_envs for training)."""
    config: str = "ppo_connect_four"
    """Training config (shipped name or YAML file) for the collectors' net and training."""
    out: str | None = None
    """Write the results as JSON to this file."""


def timed(step: Any, seconds: float) -> float:
    """Calls of step() per second (step returns how many env steps it made)."""
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        steps += step()
    return steps / elapsed


def raw_ludus(num_envs: int, seconds: float) -> float:
    """Batched connect four: random legal moves, observation planes, masks, auto-reset."""
    game = envs.make_game("connect_four", num_envs)
    rng = np.random.default_rng(0)

    def step() -> int:
        game.observation()
        mask = game.action_mask()
        _, _, done = game.step(random_legal(mask, rng))
        if done.any():
            game.reset(np.flatnonzero(done))
        return num_envs

    return timed(step, seconds)


def raw_pettingzoo(seconds: float) -> float:
    """PettingZoo connect_four_v3 AEC loop with random legal moves."""
    from pettingzoo.classic import connect_four_v3

    env = connect_four_v3.env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def step() -> int:
        obs, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.reset()
            return 0
        env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        return 1

    return timed(step, seconds)


def learner(bench: GameBench, game_id: str) -> tuple[Any, Any, tuple[Any, Any]]:
    """The config's agent, an env of `game_id` where a frozen copy of its net answers, and
    the learner's (observation, action) spaces."""
    from ludus.agents import Policy
    from ludus.league.bots import RandomBot

    n = bench.collect_envs
    data, _ = split_selfplay(load_config_file(bench.config))
    run, cfg = split_config({**data, "num_envs": n})
    probe = envs.Versus(envs.make_game("connect_four", 1), RandomBot())
    spaces = probe.single_observation_space, probe.single_action_space
    agent = make_agent(run.algo, cfg, *spaces, seed=0)
    opponent = CountingSeat(Policy(copy.deepcopy(agent.net), *spaces), n)
    return agent, envs.make(game_id, n, seed=0, opponent=opponent), spaces


class CountingSeat:
    """A seated opponent that counts the moves it makes (env steps of the other seat)."""

    def __init__(self, player: Any, num_envs: int) -> None:
        from ludus.league.arena import Seated

        self.seated, self.moves = Seated(player, num_envs), 0

    def start(self, rows: np.ndarray) -> None:
        self.seated.start(rows)

    def act_rows(self, obs: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        self.moves += len(rows)
        return self.seated.act_rows(obs, rows)


def collect(bench: GameBench, game_id: str) -> float:
    """Self-play collection env steps/s: the learner acts and stores, the opponent answers,
    full rollouts are valued (GAE); no gradient updates."""
    from ludus.agents import Step
    from ludus.agents.loop import final_observation

    agent, env, _ = learner(bench, game_id)
    obs = [env.reset()[0]]

    def step() -> int:
        actions = agent.act(obs[0])
        next_obs, reward, terminated, truncated, info = env.step(actions)
        ended = terminated | truncated
        agent.observe(Step(obs[0], actions, reward, terminated, truncated, next_obs,
                           final_observation(next_obs, info, ended)))
        if agent.ready():
            agent.finish_rollout()
        obs[0] = next_obs
        replies, env.opponent.moves = env.opponent.moves, 0
        return env.num_envs + replies  # env steps: the learner's moves and the replies

    return timed(step, bench.seconds)


def collect_single_pettingzoo(bench: GameBench) -> float:
    """The plain collector: one PettingZoo env, the same net run on one observation per move."""
    from pettingzoo.classic import connect_four_v3

    from ludus.agents import Policy

    agent, _, spaces = learner(bench, "connect_four")
    policy = Policy(agent.net, *spaces)
    env = connect_four_v3.env()
    env.reset(seed=0)

    def step() -> int:
        obs, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.reset()
            return 0
        action, _ = policy.act({k: v[None] for k, v in obs.items()})
        env.step(int(action[0]))
        return 1

    return timed(step, bench.seconds)


def train_end_to_end(bench: GameBench) -> dict[str, float]:
    """Self-play training for `seconds`: steps/s and the share of time in updates."""
    with tempfile.TemporaryDirectory() as tmp:
        data, selfplay = split_selfplay(load_config_file(bench.config))
        data.update(minutes=bench.seconds / 60, total_timesteps=None, eval_every=0,
                    checkpoint_every=0, run_dir=tmp, console=False)
        run, cfg = split_config(data)
        trainer = selfplay_trainer(run, cfg, selfplay)
        spent = {"update": 0.0}
        update = trainer.agent.update

        def timed_update() -> dict[str, float]:
            start = time.perf_counter()
            metrics = update()
            spent["update"] += time.perf_counter() - start
            return metrics

        trainer.agent.update = timed_update
        summary = trainer.train()
    seconds = summary["train_seconds"]
    return {"steps_per_second": summary["global_step"] / seconds,
            "update_share": spent["update"] / seconds}


def main(bench: GameBench) -> dict[str, Any]:
    """Run every measurement and print the ratios."""
    torch.set_num_threads(1)
    results: dict[str, Any] = {
        "raw_ludus": raw_ludus(bench.num_envs, bench.seconds),
        "raw_pettingzoo": raw_pettingzoo(bench.seconds),
        "collect_ludus": collect(bench, "connect_four"),
        "collect_pettingzoo": collect(bench, "pettingzoo:classic.connect_four_v3"),
        "collect_pettingzoo_single": collect_single_pettingzoo(bench),
        "train": train_end_to_end(bench),
    }
    results["raw_ratio"] = results["raw_ludus"] / results["raw_pettingzoo"]
    results["collect_ratio"] = results["collect_ludus"] / results["collect_pettingzoo"]
    results["collect_ratio_single"] = results["collect_ludus"] / results["collect_pettingzoo_single"]
    print(json.dumps(results, indent=1))
    if bench.out:
        atomic_write_json(bench.out, results)
    return results


if __name__ == "__main__":
    main(tyro.cli(GameBench, args=sys.argv[1:]))
