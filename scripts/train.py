"""Train an agent: python scripts/train.py --algo ppo --env-id CartPole-v1 --seed 1.

`--config NAME|FILE.yaml` loads stored hyperparameters (shipped ones live in agents/configs/);
flags given after it override them. Without --config, `--algo A --env-id E` starts from the
shipped tuned config for (A, E) when there is one (e.g. sac_pendulum for sac on Pendulum-v1;
it says so), and `--config defaults` from the algorithm's defaults. `--resume RUN_DIR`
continues a run from its latest checkpoint (accepts --total-timesteps and --minutes to extend
the budget). `--self-play` trains on a multi-agent game (connect_four, tictactoe,
spiel:<game>, pettingzoo:<env>) against a pool of the learner's frozen past selves; the
shipped config for that game (e.g. ppo_connect_four) has the budget that reaches the
documented strength. `python scripts/train.py --algo dqn --help` lists DQN's options.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from typing import Annotated, Any

import gymnasium as gym
import tyro

from ludus import envs
from ludus.agents import CheckpointError, Trainer, TrainingError, load_run, split_config, train
from ludus.agents.files import FolderLockedError
from ludus.agents.registry import CONFIG_DIR, algo_entry, load_config_file, tuned_config
from ludus.league.selfplay import (
    SelfPlayConfig,
    load_selfplay_config,
    selfplay_trainer,
    split_selfplay,
)


def env_factory(env_id: str) -> Any:
    """make_env(num_envs, seed, **kwargs) for one env id."""
    envs.check_id(env_id)
    return functools.partial(envs.make, env_id)


def parse(argv: list[str]) -> tuple[Any, Any, SelfPlayConfig | None]:
    """(RunConfig, algorithm config, self-play config or None) from --config/--algo,
    --self-play and the remaining flags."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--algo")
    pre.add_argument("--config")
    pre.add_argument("--self-play", action="store_true")
    pre.add_argument("--env-id")
    known, rest = pre.parse_known_args(argv)
    if known.env_id:
        rest += ["--env-id", known.env_id]
    config = None if known.config == "defaults" else known.config
    if known.config is None and known.env_id:
        # the zoo's habit: a shipped tuned config for this (algo, env) is the starting point
        config = tuned_config(known.algo or "ppo", known.env_id)
        if config is not None:
            print(f"using the shipped tuned config {config} ({CONFIG_DIR / config}.yaml); "
                  f"--config defaults starts from the algorithm's defaults instead")
    data = load_config_file(config) if config else {}
    if known.algo:
        data["algo"] = known.algo
    data, selfplay_defaults = split_selfplay(data, config or "config")
    run, cfg = split_config(data, config or "config")
    _, cfg_cls = algo_entry(run.algo)
    fields: list[tuple[str, Any]] = [
        ("run", Annotated[type(run), tyro.conf.OmitArgPrefixes]),
        ("algo", Annotated[cfg_cls, tyro.conf.OmitArgPrefixes]),
    ]
    defaults = [run, cfg]
    # AlphaZero always plays itself: its shipped configs carry the self-play section
    if known.self_play or getattr(algo_entry(run.algo)[0], "plays_every_seat", False):
        fields.append(("selfplay", Annotated[SelfPlayConfig, tyro.conf.OmitArgPrefixes]))
        defaults.append(selfplay_defaults)
    args_cls = dataclasses.make_dataclass("Args", fields)
    args_cls.__doc__ = __doc__
    args = tyro.cli(args_cls, default=args_cls(*defaults), args=rest)
    args.run.algo = run.algo
    return args.run, args.algo, getattr(args, "selfplay", None)


def parse_resume(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """(run path, overrides) for --resume."""
    p = argparse.ArgumentParser(description="resume a run")
    p.add_argument("--resume", required=True)
    p.add_argument("--total-timesteps", type=int)
    p.add_argument("--minutes", type=float)
    p.add_argument("--no-console", action="store_true")
    a = p.parse_args(argv)
    overrides: dict[str, Any] = {k: v for k, v in (("total_timesteps", a.total_timesteps),
                                                    ("minutes", a.minutes)) if v is not None}
    if a.no_console:
        overrides["console"] = False
    return a.resume, overrides


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if any(a == "--resume" or a.startswith("--resume=") for a in argv):
            path, overrides = parse_resume(argv)
            run, cfg, ckpt = load_run(path, overrides)
            selfplay = load_selfplay_config(ckpt.parent.parent)
            if selfplay is not None:
                summary = selfplay_trainer(run, cfg, selfplay, resume_from=ckpt).train()
            else:
                summary = Trainer(run, cfg, env_factory(run.env_id), resume_from=ckpt).train()
        else:
            run, cfg, selfplay = parse(argv)
            if selfplay is not None:
                summary = selfplay_trainer(run, cfg, selfplay).train()
            else:
                summary = train(run, cfg, env_factory(run.env_id))
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, CheckpointError, FileNotFoundError, FolderLockedError, ImportError,
            gym.error.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {summary['checkpoint']}")
    print(f"metrics:    {summary['run_dir']}/metrics.jsonl")
    print(f"steps: {summary['global_step']}  train seconds: {summary['train_seconds']:.1f}  "
          f"best greedy eval return: {summary['best_eval']:.1f}")
    if summary["solved"]:
        print(f"reached eval_target at step {summary['solved']['step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
