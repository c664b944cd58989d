"""Small shared fixtures for agent tests: a tiny run config and an env factory."""

from __future__ import annotations

import functools
from typing import Any

from ludus import envs
from ludus.agents import RunConfig, split_config


def tiny_run(tmp_path, algo: str = "ppo", env_id: str = "CartPole-v1", **overrides: Any
             ) -> tuple[RunConfig, Any]:
    """A quiet run under tmp_path with small budgets; overrides may set run or algo keys."""
    data: dict[str, Any] = {"algo": algo, "env_id": env_id, "seed": 3, "total_timesteps": 2048,
                            "eval_every": 0, "eval_episodes": 2, "checkpoint_every": 0,
                            "run_dir": str(tmp_path), "run_name": "run", "console": False}
    data.update(overrides)
    return split_config(data)


def factory(env_id: str = "CartPole-v1"):
    """make_env for envs.make."""
    return functools.partial(envs.make, env_id)
