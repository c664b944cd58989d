"""Benchmark ludus against Stable-Baselines3 side by side, in one process, with
rl-baselines3-zoo's settings: PPO and DQN on CartPole-v1, SAC on Pendulum-v1.

For every algorithm and seed it reports environment steps per second of training, the
wall seconds of training until the greedy policy's mean return reaches the target (CartPole:
475 over 20 episodes; Pendulum: -200 over 10), evaluation time excluded, same evaluation
code and schedule for both, and the ratios ludus/SB3. On CartPole ludus runs twice: on its
batched CartPole ("ludus") and on Gymnasium's SyncVectorEnv ("ludus-sync"), the same env
class SB3 steps in its DummyVecEnv.

    python scripts/bench.py                       # ppo, dqn and sac, seeds 1-5
    python scripts/bench.py --algos sac --seeds 1 2 --out bench.json

`--algos ppo-shared` is the multi-agent benchmark: one PPO for every agent of MPE's
simple_spread_v3, ludus's envs.parallel rows against Stable-Baselines3's PPO on SuperSuit's
pettingzoo_env_to_vec_env_v1 + concat_vec_envs_v1 (PettingZoo's tutorial), the same
hyperparameters (agents/configs/ppo_simple_spread.yaml) and the same number of agent steps
(`--shared-steps`); it reports steps/s and the greedy team return at the end (mean over
seeds with a bootstrap 95% interval). "ludus" runs on its batched simple_spread, "ludus-sync"
on mpe2's own env, the one SB3 steps.

Needs the bench extra (stable-baselines3).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import tyro

from ludus import envs
from ludus.agents import Trainer, split_config
from ludus.agents.evaluate import evaluate
from ludus.agents.files import atomic_write_json
from ludus.agents.registry import load_config_file, tuned_config

ENVS = {"ppo": "CartPole-v1", "dqn": "CartPole-v1", "sac": "Pendulum-v1"}
"""The env each algorithm is benchmarked on."""


@dataclass
class BenchConfig:
    """Benchmark settings."""

    algos: tuple[str, ...] = ("ppo", "dqn", "sac")
    """Algorithms to compare (ppo, dqn, sac; ppo-shared: the multi-agent benchmark)."""
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    """Seeds; each runs ludus, ludus on Gymnasium's SyncVectorEnv, and SB3."""
    target: dict[str, float] = field(default_factory=lambda: {"CartPole-v1": 475.0,
                                                              "Pendulum-v1": -200.0})
    """Greedy mean return that counts as solved, per env."""
    eval_episodes: dict[str, int] = field(default_factory=lambda: {"CartPole-v1": 20,
                                                                   "Pendulum-v1": 10})
    """Episodes per evaluation, per env."""
    eval_every: dict[str, int] = field(default_factory=lambda: {"ppo": 2048, "dqn": 2560,
                                                                "sac": 1000})
    """Evaluation interval in environment steps, per algorithm."""
    shared_steps: int = 307_200
    """ppo-shared: agent steps each library trains for (100 rollouts of ppo_simple_spread)."""
    sync: bool = True
    """Also run ludus on the env SB3 steps where ludus has a batched one of its own
    (Gymnasium's SyncVectorEnv for CartPole, mpe2's env for simple_spread)."""
    out: str | None = None
    """Write the results as JSON to this file."""


class SB3Policy:
    """Adapter giving an SB3 model the act()/initial_state() of a ludus Policy."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def initial_state(self, batch_size: int) -> None:
        return None

    def act(self, obs: np.ndarray, state: Any = None, deterministic: bool = True) -> tuple:
        return self.model.predict(obs, deterministic=deterministic)[0], None


def run_ludus(algo: str, seed: int, bench: BenchConfig, vectorization: str) -> dict[str, Any]:
    """Train ludus with the shipped zoo config until solved or out of budget."""
    env_id = ENVS[algo]
    data = load_config_file(tuned_config(algo, env_id))
    data.update(seed=seed, eval_every=bench.eval_every[algo],
                eval_episodes=bench.eval_episodes[env_id], eval_target=bench.target[env_id],
                checkpoint_every=0, console=False,
                vectorization=vectorization, run_dir=tempfile.mkdtemp(prefix="ludus-bench-"),
                run_name="run")
    run, cfg = split_config(data)
    summary = Trainer(run, cfg, functools.partial(envs.make, env_id)).train()
    return {"solved": bool(summary["solved"]),
            "solve_seconds": summary["solved"]["train_seconds"] if summary["solved"] else None,
            "solve_steps": summary["solved"]["step"] if summary["solved"] else None,
            "steps": summary["global_step"], "train_seconds": summary["train_seconds"],
            "sps": summary["global_step"] / summary["train_seconds"]}


def sb3_model(algo: str, seed: int) -> tuple[Any, int]:
    """The SB3 model with the zoo's settings, and its step budget."""
    from stable_baselines3 import DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env

    env_id = ENVS[algo]
    if algo == "sac":
        env = make_vec_env(env_id, n_envs=1, seed=seed)
        return SAC("MlpPolicy", env, learning_rate=1e-3, seed=seed, device="cpu"), 20_000
    if algo == "ppo":
        env = make_vec_env(env_id, n_envs=8, seed=seed)
        return PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                   n_epochs=20, ent_coef=0.0, learning_rate=lambda f: 1e-3 * f,
                   clip_range=lambda f: 0.2 * f, seed=seed, device="cpu"), 100_000
    env = make_vec_env(env_id, n_envs=1, seed=seed)
    return DQN("MlpPolicy", env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
               learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
               gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
               policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu"), 50_000


def run_sb3(algo: str, seed: int, bench: BenchConfig) -> dict[str, Any]:
    """Train SB3 with an evaluation callback whose time is excluded from the clock."""
    from stable_baselines3.common.callbacks import BaseCallback

    model, budget = sb3_model(algo, seed)
    env_id = ENVS[algo]
    every, eval_env = bench.eval_every[algo], functools.partial(envs.make, env_id)
    episodes, target = bench.eval_episodes[env_id], bench.target[env_id]

    class Clock(BaseCallback):
        def _on_training_start(self) -> None:
            self.start, self.paused, self.next_eval, self.solved = time.perf_counter(), 0.0, \
                every, None

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += every
            t = time.perf_counter()
            mean = float(np.mean(evaluate(SB3Policy(self.model), eval_env, episodes,
                                          seed=seed + 10_000)))
            self.paused += time.perf_counter() - t
            if mean >= target:
                self.solved = (self.num_timesteps, self.elapsed)
                return False
            return True

        @property
        def elapsed(self) -> float:
            return time.perf_counter() - self.start - self.paused

    clock = Clock()
    model.learn(budget, callback=clock)
    steps = model.num_timesteps
    return {"solved": clock.solved is not None,
            "solve_seconds": clock.solved[1] if clock.solved else None,
            "solve_steps": clock.solved[0] if clock.solved else None,
            "steps": steps, "train_seconds": clock.elapsed, "sps": steps / clock.elapsed}


def median(values: list[float | None]) -> float | None:
    """Median of the values, counting unsolved (None) runs as infinitely slow."""
    if not values:
        return None
    m = statistics.median([v if v is not None else float("inf") for v in values])
    return None if m == float("inf") else m


def summarise(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per algorithm and library: solved count, median solve seconds and steps/s, ratios."""
    summary: dict[str, Any] = {}
    for algo, by_lib in results.items():
        rows = {lib: {"solved": sum(r["solved"] for r in runs), "runs": len(runs),
                      "median_solve_seconds": median([r["solve_seconds"] for r in runs]),
                      "median_solve_steps": median([r["solve_steps"] for r in runs]),
                      "median_sps": statistics.median(r["sps"] for r in runs)}
                for lib, runs in by_lib.items()}
        sb3 = rows["sb3"]
        for lib, row in rows.items():
            if lib == "sb3":
                continue
            solve = row["median_solve_seconds"]
            row["solve_time_ratio"] = (solve / sb3["median_solve_seconds"]
                                       if solve and sb3["median_solve_seconds"] else None)
            row["sps_ratio"] = row["median_sps"] / sb3["median_sps"]
        summary[algo] = rows
    return summary


def print_table(summary: dict[str, Any]) -> None:
    """A rich table of the summary."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"zoo settings, torch threads {torch.get_num_threads()}")
    for col in ("algo", "env", "library", "solved", "median s to solve", "median steps to solve",
                "median steps/s", "solve-time ratio", "steps/s ratio"):
        table.add_column(col)
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for algo, rows in summary.items():
        for lib, r in rows.items():
            table.add_row(algo, ENVS[algo], lib, f"{r['solved']}/{r['runs']}",
                          fmt(r["median_solve_seconds"], ".2f"),
                          fmt(r["median_solve_steps"], ".0f"), fmt(r["median_sps"], ".0f"),
                          fmt(r.get("solve_time_ratio"), ".2f"), fmt(r.get("sps_ratio"), ".2f"))
    Console(width=140).print(table)


SHARED_ENV = "shared:simple_spread"


def shared_config(seed: int, bench: BenchConfig, vectorization: str = "auto"
                  ) -> tuple[Any, Any]:
    """(RunConfig, PPOConfig) of the ppo-shared benchmark."""
    data = load_config_file("ppo_simple_spread")
    data.update(seed=seed, total_timesteps=bench.shared_steps, eval_every=0, checkpoint_every=0,
                console=False, run_dir=tempfile.mkdtemp(prefix="ludus-bench-"), run_name="run",
                vectorization=vectorization)
    return split_config(data)


def team_return(policy: Any, run: Any) -> float:
    """Mean greedy team return over run.eval_episodes copies, the same code for both."""
    rows = run.eval_episodes * 3
    return float(np.mean(evaluate(policy, functools.partial(envs.make, SHARED_ENV), rows,
                                  seed=run.seed + 10_000)))


def run_shared_ludus(seed: int, bench: BenchConfig, vectorization: str = "auto"
                     ) -> dict[str, Any]:
    """ludus: the parameter-shared PPO on the batched simple_spread ("auto"), or on mpe2's
    own env in envs.parallel rows ("sync", the env SB3 steps)."""
    run, cfg = shared_config(seed, bench, vectorization)
    trainer = Trainer(run, cfg, functools.partial(envs.make, SHARED_ENV))
    summary = trainer.train()
    return {"team_return": summary["best_eval"], "steps": summary["global_step"],
            "train_seconds": summary["train_seconds"],
            "sps": summary["global_step"] / summary["train_seconds"]}


def run_shared_sb3(seed: int, bench: BenchConfig) -> dict[str, Any]:
    """Stable-Baselines3's PPO through SuperSuit, as PettingZoo's tutorial wires it."""
    import supersuit as ss
    from mpe2 import simple_spread_v3
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    run, cfg = shared_config(seed, bench)
    env = ss.pettingzoo_env_to_vec_env_v1(simple_spread_v3.parallel_env(
        N=3, local_ratio=0.5, max_cycles=25, continuous_actions=False))
    env = ss.concat_vec_envs_v1(env, cfg.num_envs // 3, num_cpus=1,
                                base_class="stable_baselines3")
    model = PPO("MlpPolicy", env, n_steps=cfg.num_steps, batch_size=cfg.minibatch_size,
                n_epochs=cfg.update_epochs, learning_rate=cfg.learning_rate, gamma=cfg.gamma,
                gae_lambda=cfg.gae_lambda, ent_coef=cfg.ent_coef, clip_range=cfg.clip_coef,
                vf_coef=cfg.vf_coef, max_grad_norm=cfg.max_grad_norm, device="cpu")
    # SuperSuit's ConcatVecEnv has no seed() for PPO(seed=...) to call: seed torch and numpy
    set_random_seed(seed)
    start = time.perf_counter()
    model.learn(bench.shared_steps)
    seconds = time.perf_counter() - start
    env.close()
    return {"team_return": team_return(SB3Policy(model), run), "steps": model.num_timesteps,
            "train_seconds": seconds, "sps": model.num_timesteps / seconds}


def bootstrap(values: list[float], seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (10_000, len(values))).mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def shared_summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per library: mean team return with its interval, median steps/s, and ludus/SB3."""
    out = {lib: {"team_return": float(np.mean([r["team_return"] for r in rs])),
                 "interval": bootstrap([r["team_return"] for r in rs]),
                 "median_sps": statistics.median(r["sps"] for r in rs), "runs": len(rs)}
           for lib, rs in runs.items()}
    for lib in out:
        if lib != "sb3":
            out[lib]["sps_ratio"] = out[lib]["median_sps"] / out["sb3"]["median_sps"]
    return out


def main(bench: BenchConfig) -> dict[str, Any]:
    """Run every algorithm and seed, print the table, optionally write JSON."""
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # the same process settings for both libraries
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    shared: dict[str, Any] = {}
    for algo in bench.algos:
        if algo == "ppo-shared":
            runs = {"ludus": [], "sb3": []} | ({"ludus-sync": []} if bench.sync else {})
            for seed in bench.seeds:
                runs["ludus"].append(run_shared_ludus(seed, bench))
                if bench.sync:
                    runs["ludus-sync"].append(run_shared_ludus(seed, bench, "sync"))
                runs["sb3"].append(run_shared_sb3(seed, bench))
                print(algo, seed, {lib: rs[-1] for lib, rs in runs.items()}, flush=True)
            shared = {"runs": runs, "summary": shared_summary(runs)}
            print(json.dumps(shared["summary"], indent=1))
            continue
        sync = bench.sync and ENVS[algo] in envs.NATIVE_VECTOR_ENVS
        libs = results.setdefault(algo, {"ludus": [], "sb3": []} | (
            {"ludus-sync": []} if sync else {}))
        for seed in bench.seeds:  # interleaved, so machine noise hits all libraries alike
            libs["ludus"].append(run_ludus(algo, seed, bench, "auto"))
            if sync:
                libs["ludus-sync"].append(run_ludus(algo, seed, bench, "sync"))
            libs["sb3"].append(run_sb3(algo, seed, bench))
            print(algo, seed, {lib: {k: round(v, 2) if isinstance(v, float) else v
                                     for k, v in runs[-1].items()} for lib, runs in libs.items()},
                  flush=True)
    summary = summarise(results)
    if summary:
        print_table(summary)
    if shared:
        summary["ppo-shared"] = shared["summary"]
        results["ppo-shared"] = shared["runs"]
    if bench.out:
        atomic_write_json(bench.out, {"config": dataclasses.asdict(bench), "runs": results,
                                      "summary": summary})
    return summary


if __name__ == "__main__":
    main(tyro.cli(BenchConfig, description=__doc__))
    sys.exit(0)
