"""League benchmarks.

Speed (the default): the same league on each backend, one after the other in one run and
alternating over --repeats, each for --minutes of training:

    python scripts/bench_league.py --backend local ray --workers 1 2

reports env steps/s, updates/s (one per learner rollout), the CPU it used (cores, and
core-milliseconds per 1,000 steps: what a step costs, whatever else shares the machine; on
Ray the driver's, the learners' and the workers'), the share of time the busiest learner
and the workers are busy and the policy lag, each configuration's median and its ratio to
the local backend; then the coordinator's capacity (synthetic match jobs recorded per second, with
matchmaking and the journal's flush, and the games in them) and the bytes one weight
publication moves, from which follows how many rollout workers one coordinator can feed.

Memory (--part memory): the resident memory of the process that holds the opponents (the
league process on the local backend, the largest rollout worker on Ray) with many
snapshots against the same league with few:

    python scripts/bench_league.py --part memory --sizes 10 200 --steps 200000

Each size runs in a fresh process: a league on --env-id whose main agent has `size` extra
past copies (separate checkpoint directories), trained for --steps env steps so that PFSP
draws opponents from all of them; it reports peak and final resident memory, the memory of
the nets the process holds at the end (local backend: parameters and buffers of every live
torch module, the learners and the cached opponents), and how many times a frozen player was
read from disk. The ratio of the largest to the smallest size is the figure to watch (lazy
loading keeps it near 1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tyro


@dataclass
class Args:
    """League benchmarks: speed by backend, or memory by league size."""

    part: Literal["speed", "memory"] = "speed"
    """speed: steps/s by backend and workers; memory: resident memory by league size."""
    backend: tuple[str, ...] = ("local", "ray")
    """Backends to compare (speed), or the one whose opponent holder is measured (memory)."""
    workers: tuple[int, ...] = (1, 2)
    """Ray rollout workers per configuration (speed; memory uses the first)."""
    minutes: float = 2.0
    """Training minutes per configuration and repeat (speed)."""
    repeats: int = 3
    """Runs of each configuration, alternating (speed); the medians are reported."""
    out: str | None = None
    """Also write the results as JSON here."""
    env_id: str = "connect_four"
    """Game of the league (its shipped self-play config sizes the nets)."""
    config: str | None = None
    """Learners' config instead of the game's shipped one."""
    sizes: tuple[int, ...] = (10, 200)
    """Numbers of snapshots to compare."""
    steps: int = 200_000
    """Env steps each league trains (all learners together)."""
    cache: int = 8
    """Frozen players kept in memory (a cache as large as the league shows what lazy loading
    saves)."""
    menu_size: int = 8
    """Matches drawn per learner rollout (opponents seated in unfinished games stay loaded)."""
    child: int | None = None
    """(internal) run one size in this process and print its JSON result."""
    speed_child: bool = False
    """(internal) run one speed configuration in this process and print its JSON result."""


def nets_mib() -> float:
    """MiB of the parameters and buffers of every torch module alive in this process."""
    import gc
    import itertools

    import torch

    gc.collect()
    seen, total = set(), 0
    # type() rather than isinstance: proxies (torch.distributed's) warn when asked
    for obj in (o for o in gc.get_objects() if issubclass(type(o), torch.nn.Module)):
        for t in itertools.chain(obj.parameters(recurse=False), obj.buffers(recurse=False)):
            if t.data_ptr() not in seen:
                seen.add(t.data_ptr())
                total += t.numel() * t.element_size()
    return total / 2**20


def run_one(env_id: str, size: int, steps: int, cache: int, menu_size: int = 8,
            config: str | None = None, backend: str = "local", workers: int = 1
            ) -> dict[str, float]:
    """Build a league with `size` extra snapshots, train it, measure memory (of this
    process on the local backend, of the largest rollout worker on Ray)."""
    from ludus.league.config import LeagueConfig
    from ludus.league.distributed import resident_mib
    from ludus.league.matchmaking import Player
    from ludus.scripts.league import runner_class

    with tempfile.TemporaryDirectory() as tmp:
        cfg = LeagueConfig(env_id=env_id, total_timesteps=steps, interval_steps=steps,
                           eval_games=2, league_exploiters=1, console=False, league_dir=tmp,
                           name=f"m{size}", snapshot_cache=cache, menu_size=menu_size,
                           config=config, backend=backend, num_workers=workers)
        runner = runner_class(backend)(cfg)
        init = runner.folder / "init"
        for i in range(size):  # distinct directories, hard-linked files: cheap to make
            shutil.copytree(init, runner.folder / "players" / f"extra_{i}", copy_function=os.link)
            runner.league.add(Player(f"main_agent_0.extra_{i}", "snapshot", "main_agent_0",
                                     f"players/extra_{i}"))
        runner._save()  # (the Ray coordinator reads the league from its folder)
        before, nets_before = resident_mib(), nets_mib()
        runner.train()
        after, nets_after = resident_mib(), nets_mib()
        played = int((runner.league.payoff.counts[..., 3] > 0).any(axis=1).sum())
        out = {"size": size, "players": len(runner.league.players),
               "players_played": played, "disk_loads": runner.store.loads,
               "cached": len(runner.store.cache), "nets_mib": nets_after - nets_before,
               "rss_before_mib": before["rss_mib"], "rss_mib": after["rss_mib"],
               "peak_mib": after["peak_mib"]}
        if backend == "ray":  # the workers hold the opponents
            last = final_metrics(runner.folder)
            out.update(rss_mib=last["main_agent_0/perf/worker_rss_mib"],
                       peak_mib=last["main_agent_0/perf/worker_peak_mib"], nets_mib=float("nan"),
                       disk_loads=-1, cached=-1)
        return out


def final_metrics(folder: Path) -> dict[str, Any]:
    """The league's last metrics row."""
    return json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])


def league_settings(env_id: str, config: str | None) -> dict[str, Any]:
    """The game's shipped league (its `league:` section), as scripts/league.py starts it."""
    from ludus.league.config import league_section

    return league_section(env_id, config)


def speed_one(env_id: str, config: str | None, backend: str, workers: int,
              minutes: float) -> dict[str, float]:
    """Train the game's shipped league for `minutes` on one backend; its steps/s, updates/s,
    actors' busy shares and policy lag."""
    from ludus.agents.registry import from_dict
    from ludus.league.config import LeagueConfig
    from ludus.scripts.league import runner_class

    with tempfile.TemporaryDirectory() as tmp:
        data = {**league_settings(env_id, config), "env_id": env_id, "config": config,
                "minutes": minutes, "total_timesteps": None, "interval_steps": 10**12,
                "eval_games": 2, "eval_bots": ["random"], "console": False, "league_dir": tmp,
                "name": "speed", "backend": backend, "num_workers": workers}
        runner = runner_class(backend)(from_dict(LeagueConfig, data))
        rollout = runner.algo_cfg.num_envs * runner.algo_cfg.num_steps
        learners = [p.id for p in runner.league.learners()]
        cpu = time.process_time()
        runner.train()
        cpu = time.process_time() - cpu  # this process: the whole league on the local backend
        last = final_metrics(runner.folder)
    seconds = last["time/train_seconds"]
    sps = last["step"] / seconds
    out = {"backend": backend, "workers": workers if backend == "ray" else 0, "sps": sps,
           "updates_per_s": sps / rollout, "steps": last["step"], "cores": cpu / seconds}
    if backend == "ray":
        def mean(key: str) -> float:
            values = [last[f"{pid}/{key}"] for pid in learners if f"{pid}/{key}" in last]
            return float(np.mean(values)) if values else float("nan")
        # the driver, the learners and the workers (Ray's own processes are left out)
        out["cores"] += (sum(last[f"{pid}/perf/learner_cpu"] for pid in learners)
                         + last[f"{learners[0]}/perf/workers_cpu"])
        out.update(learner_busy=max(last[f"{pid}/perf/learner_busy"] for pid in learners),
                   worker_busy=last[f"{learners[0]}/perf/worker_busy"],
                   policy_lag=mean("perf/policy_lag"),
                   policy_lag_max=max(last.get(f"{p}/perf/policy_lag_max", 0) for p in learners))
    return out


def coordinator_capacity(env_id: str, config: str | None, seconds: float = 5.0,
                         snapshots: int = 50, games: int = 100) -> dict[str, float]:
    """Synthetic match jobs a coordinator hands out and records per second (matchmaking
    over a league of `snapshots` frozen copies, each result journalled and flushed), with
    `games` finished games per job; and the bytes of one weight publication."""
    from ludus import envs
    from ludus.agents.checkpoint import weights_bytes
    from ludus.agents.registry import make_agent
    from ludus.league.arena import load_player
    from ludus.league.config import LeagueConfig, learner_configs
    from ludus.league.coordinator import League
    from ludus.league.distributed import Coordinator
    from ludus.league.matchmaking import MatchmakingConfig, Player
    from ludus.league.payoff import Payoff

    algo, algo_cfg, _ = learner_configs(LeagueConfig(env_id=env_id, config=config))
    env = envs.make(env_id, 1, 0, opponent=load_player("random"))
    agent = make_agent(algo, algo_cfg, env.single_observation_space, env.single_action_space)
    publication = len(weights_bytes(agent.net))
    with tempfile.TemporaryDirectory() as tmp:
        league = League(tmp, env_id, MatchmakingConfig(), Payoff(), 0)
        for pid, role in (("main_agent_0", "main_agent"), ("main_exploiter_0", "main_exploiter")):
            league.add(Player(pid, role, checkpoint="init"))
        for i in range(snapshots):
            league.add(Player(f"main_agent_0.{i}", "snapshot", "main_agent_0", "init"))
        league.save()
        rollout = algo_cfg.num_envs * algo_cfg.num_steps
        coordinator = Coordinator(tmp, 8, {"main_agent_0": rollout, "main_exploiter_0": rollout},
                                  {"main_agent_0": 1.0, "main_exploiter_0": 1.0})
        jobs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            job = coordinator.job()
            results = [(job["menu"][k % len(job["menu"])], k % 2, ("win", "draw", "loss")[k % 3])
                       for k in range(games)]
            coordinator.report(job["match_id"], job["learner"], rollout, results)
            jobs += 1
        elapsed = time.perf_counter() - start
    return {"jobs_per_s": jobs / elapsed, "games_per_s": jobs * games / elapsed,
            "publication_bytes": publication, "rollout_steps": rollout}


def speed(args: Args) -> dict[str, Any]:
    """Every configuration --repeats times, alternating, each in a fresh process."""
    configs = [(b, w) for b in args.backend for w in (args.workers if b == "ray" else (0,))]
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for backend, workers in configs:
            out = subprocess.run([sys.executable, __file__, "--env-id", args.env_id,
                                  "--minutes", str(args.minutes), "--backend", backend,
                                  "--workers", str(max(workers, 1)), "--speed-child",
                                  *(["--config", args.config] if args.config else [])],
                                 capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{backend} run failed: {out.stderr.strip()[-2000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            runs.setdefault(f"{backend}:{workers}", []).append(result)
    table = {key: {k: float(np.median([r[k] for r in rs])) for k in rs[0]
                   if isinstance(rs[0][k], (int, float))} for key, rs in runs.items()}
    local = table.get("local:0", {}).get("sps")
    print(f"{'backend':>10} {'workers':>7} {'steps/s':>9} {'updates/s':>9} {'x local':>7} "
          f"{'cores':>5} {'core-ms/1k':>10} {'learner busy':>12} {'worker busy':>11} "
          f"{'lag':>5} {'lag max':>7}")
    for key, row in table.items():
        backend, workers = key.split(":")
        ratio = row["sps"] / local if local else float("nan")
        row["core_ms_per_1k"] = 1e6 * row["cores"] / row["sps"]
        print(f"{backend:>10} {workers:>7} {row['sps']:>9.0f} {row['updates_per_s']:>9.3f} "
              f"{ratio:>7.2f} {row['cores']:>5.2f} {row['core_ms_per_1k']:>10.0f} "
              f"{row.get('learner_busy', float('nan')):>12.2f} "
              f"{row.get('worker_busy', float('nan')):>11.2f} "
              f"{row.get('policy_lag', float('nan')):>5.2f} "
              f"{row.get('policy_lag_max', float('nan')):>7.0f}")
        row["x_local"] = ratio
    capacity = coordinator_capacity(args.env_id, args.config)
    per_worker = max((row["updates_per_s"] / int(key.split(":")[1])
                      for key, row in table.items() if key.startswith("ray")), default=None)
    print(f"coordinator: {capacity['jobs_per_s']:.0f} match jobs/s ({capacity['games_per_s']:.0f} "
          f"games/s, journalled); one weight publication: {capacity['publication_bytes']:,} bytes")
    if per_worker:
        capacity["workers_fed"] = capacity["jobs_per_s"] / per_worker
        print(f"one rollout worker asks {per_worker:.2f} jobs/s: one coordinator feeds about "
              f"{capacity['workers_fed']:.0f} workers")
    return {"runs": runs, "medians": table, "coordinator": capacity}


def memory(args: Args) -> dict[str, Any]:
    """Every size in a fresh process; the comparison."""
    results = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--env-id", args.env_id, "--steps",
                              str(args.steps), "--cache", str(args.cache), "--menu-size",
                              str(args.menu_size), "--child", str(size), "--backend",
                              args.backend[0], "--workers", str(args.workers[0]),
                              *(["--config", args.config] if args.config else [])],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'snapshots':>9} {'players':>7} {'played':>6} {'loads':>6} {'nets MiB':>8} "
          f"{'rss MiB':>8} {'peak MiB':>8}")
    for r in results:
        print(f"{r['size']:>9} {r['players']:>7} {r['players_played']:>6} {r['disk_loads']:>6} "
              f"{r['nets_mib']:>8.2f} {r['rss_mib']:>8.1f} {r['peak_mib']:>8.1f}")
    base = results[0]
    for r in results[1:]:
        print(f"peak memory {r['size']} / {base['size']} snapshots: "
              f"{r['peak_mib'] / base['peak_mib']:.2f}x  (final rss "
              f"{r['rss_mib'] / base['rss_mib']:.2f}x)")
    return {"sizes": results}


def main() -> None:
    """Run the chosen part and print (and with --out write) its results."""
    args = tyro.cli(Args)
    if args.child is not None:
        print(json.dumps(run_one(args.env_id, args.child, args.steps, args.cache,
                                 args.menu_size, args.config, args.backend[0], args.workers[0])))
        return
    if args.speed_child:
        print(json.dumps(speed_one(args.env_id, args.config, args.backend[0], args.workers[0],
                                   args.minutes)))
        return
    results = speed(args) if args.part == "speed" else memory(args)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
