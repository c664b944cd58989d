"""The algorithm registry and config building (dataclasses from dicts, YAML files)."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from ludus.agents.a2c import A2C, A2CConfig
from ludus.agents.dqn import DQN, DQNConfig
from ludus.agents.ppo import PPO, PPOConfig, RecurrentPPOConfig
from ludus.agents.reinforce import Reinforce, ReinforceConfig

ALGOS: dict[str, tuple[type, type]] = {
    "dqn": (DQN, DQNConfig),
    "reinforce": (Reinforce, ReinforceConfig),
    "a2c": (A2C, A2CConfig),
    "ppo": (PPO, PPOConfig),
    "ppo-lstm": (PPO, RecurrentPPOConfig),
}
CONFIG_DIR = Path(__file__).parent / "configs"


def closest(name: str, options: typing.Iterable[str]) -> str:
    """' (did you mean a, b?)' for the nearest options, or ''."""
    matches = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(matches)}?)" if matches else ""


def algo_entry(algo: str) -> tuple[type, type]:
    """(agent class, config class) of an algorithm name."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}{closest(algo, ALGOS)}; choose from {sorted(ALGOS)}")
    return ALGOS[algo]


def net_kind(algo: str) -> str:
    """'q' for value-based algorithms, 'actor_critic' otherwise."""
    return "q" if algo == "dqn" else "actor_critic"


def make_agent(algo: str, cfg: Any, obs_space: gym.Space, action_space: gym.Space,
               seed: int = 0, device: torch.device | str = "cpu") -> Any:
    """Instantiate an algorithm for the given spaces."""
    agent_cls, _ = algo_entry(algo)
    return agent_cls(cfg, obs_space, action_space, seed=seed, device=device)


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass `cls` from a dict; nested dataclasses come from nested dicts.

    An unknown key raises ValueError naming it, where it was found, and the closest names.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"unknown key {key!r} in {where}{closest(key, names)}")
        hint = _field_type(cls, key)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            base = dataclasses.asdict(getattr(cls(), key))
            value = from_dict(hint, {**base, **value}, f"{where}.{key}")
        elif isinstance(value, list) and _is_tuple(hint):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _is_tuple(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple(arg) for arg in typing.get_args(hint))
    return origin is tuple


def load_config_file(path_or_name: str) -> dict[str, Any]:
    """Read a YAML config: a path, or the name of a shipped one in agents/configs/."""
    import yaml

    path = Path(path_or_name)
    if not path.exists():
        shipped = CONFIG_DIR / f"{path_or_name}.yaml"
        if not shipped.exists():
            names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise ValueError(f"config {path_or_name!r} is neither a file nor a shipped config"
                             f"{closest(path_or_name, names)}; shipped: {names}")
        path = shipped
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"config {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must hold a mapping of option names to values")
    return data
