"""League memory benchmark: the resident memory of a league process (coordinator, learners
and the opponents they load) with many snapshots against the same league with few.

    python scripts/bench_league.py --sizes 10 200 --steps 200000

Each size runs in a fresh process: a league on --env-id whose main agent has `size` extra
past copies (separate checkpoint directories), trained for --steps env steps so that PFSP
draws opponents from all of them; it reports peak and final resident memory, the memory of
the nets the process holds at the end (parameters and buffers of every live torch module:
the learners and the cached opponents), and how many times a frozen player was read from
disk. The ratio of the largest to the smallest size is the figure to watch (lazy loading
keeps it near 1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass
class Args:
    """League memory benchmark."""

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


def memory_kib() -> dict[str, int]:
    """Current and peak resident memory of this process (KiB, from /proc)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "peak_kib": int(fields["VmHWM"].split()[0])}


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
            config: str | None = None) -> dict[str, float]:
    """Build a league with `size` extra snapshots, train it, measure memory."""
    from ludus.league.config import LeagueConfig
    from ludus.league.matchmaking import Player
    from ludus.league.runner import LeagueRunner

    with tempfile.TemporaryDirectory() as tmp:
        cfg = LeagueConfig(env_id=env_id, total_timesteps=steps, interval_steps=steps,
                           eval_games=2, league_exploiters=1, console=False, league_dir=tmp,
                           name=f"m{size}", snapshot_cache=cache, menu_size=menu_size,
                           config=config)
        runner = LeagueRunner(cfg)
        init = runner.folder / "init"
        for i in range(size):  # distinct directories, hard-linked files: cheap to make
            shutil.copytree(init, runner.folder / "players" / f"extra_{i}", copy_function=os.link)
            runner.league.add(Player(f"main_agent_0.extra_{i}", "snapshot", "main_agent_0",
                                     f"players/extra_{i}"))
        before, nets_before = memory_kib(), nets_mib()
        runner.train()
        after, nets_after = memory_kib(), nets_mib()
        played = int((runner.league.payoff.counts[..., 3] > 0).any(axis=1).sum())
        return {"size": size, "players": len(runner.league.players),
                "players_played": played, "disk_loads": runner.store.loads,
                "cached": len(runner.store.cache), "nets_mib": nets_after - nets_before,
                "rss_before_mib": before["rss_kib"] / 1024, "rss_mib": after["rss_kib"] / 1024,
                "peak_mib": after["peak_kib"] / 1024}


def main() -> None:
    """Run every size in a fresh process and print the comparison."""
    args = tyro.cli(Args)
    if args.child is not None:
        print(json.dumps(run_one(args.env_id, args.child, args.steps, args.cache,
                                 args.menu_size, args.config)))
        return
    results = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--env-id", args.env_id, "--steps",
                              str(args.steps), "--cache", str(args.cache), "--menu-size",
                               str(args.menu_size), "--child", str(size),
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


if __name__ == "__main__":
    main()
