"""The algorithm registry and config building (dataclasses from dicts, YAML files)."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from ludus.agents.a2c import A2C, A2CConfig
from ludus.agents.alphazero import AlphaZero, AlphaZeroConfig
from ludus.agents.dqn import DQN, DQNConfig
from ludus.agents.mmd import MMD, MMDConfig
from ludus.agents.ppo import PPO, PPOConfig, RecurrentPPOConfig
from ludus.agents.reinforce import Reinforce, ReinforceConfig
from ludus.agents.sac import SAC, SACConfig
from ludus.agents.td3 import TD3, TD3Config

ALGOS: dict[str, tuple[type, type]] = {
    "dqn": (DQN, DQNConfig),
    "reinforce": (Reinforce, ReinforceConfig),
    "a2c": (A2C, A2CConfig),
    "ppo": (PPO, PPOConfig),
    "ppo-lstm": (PPO, RecurrentPPOConfig),
    "mmd": (MMD, MMDConfig),
    "sac": (SAC, SACConfig),
    "td3": (TD3, TD3Config),
    "alphazero": (AlphaZero, AlphaZeroConfig),
}
CONFIG_DIR = Path(__file__).parent / "configs"


def closest(name: str, options: typing.Iterable[str]) -> str:
    """' (did you mean a, b?)' for the nearest options, or ''."""
    matches = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(matches)}?)" if matches else ""


def algo_entry(algo: str) -> tuple[type, type]:
    """(agent class, config class) of an algorithm name."""
    if not isinstance(algo, str) or algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}{closest(str(algo), ALGOS)}; choose from "
                         f"{sorted(ALGOS)}")
    return ALGOS[algo]


def net_kind(algo: str) -> str:
    """The kind of net (nets.build_net) an algorithm's checkpoints hold: 'q' for DQN, the
    actor's kind for SAC and TD3, 'actor_critic' otherwise."""
    agent_cls, _ = algo_entry(algo)
    return {"dqn": "q"}.get(algo, getattr(agent_cls, "kind", "actor_critic"))


def make_agent(algo: str, cfg: Any, obs_space: gym.Space, action_space: gym.Space,
               seed: int = 0, device: torch.device | str = "cpu") -> Any:
    """Instantiate an algorithm for the given spaces."""
    agent_cls, _ = algo_entry(algo)
    return agent_cls(cfg, obs_space, action_space, seed=seed, device=device)


class _Refused:
    """A value no numeric field takes (a YAML `yes` for a float): dacite then names the field."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _number(kind: type) -> Any:
    """A dacite type hook: numbers as `kind`, and numbers PyYAML left as strings (it reads
    `1e-3` and `1e6` as text) converted; anything else is left for dacite to refuse."""
    def hook(value: Any) -> Any:
        if isinstance(value, bool):
            return _Refused(value)
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value
        if not isinstance(number, int | float):
            return value
        if kind is int:
            return int(number) if float(number).is_integer() else value
        return float(number)
    return hook


def _check_keys(cls: type, data: Any, where: str) -> None:
    """Unknown keys, at any depth, name themselves, where they were found and the closest
    names (dacite's strict mode would only say it cannot match them)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping of names to values, got {data!r}"[:200])
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"unknown key {key!r} in {where}{closest(str(key), names)}")
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            _check_keys(hints[key], value, f"{where}.{key}")


def _with_defaults(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Nested dataclass fields given in part start from the field's own default."""
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for f in dataclasses.fields(cls):
        value = data.get(f.name)
        if dataclasses.is_dataclass(hints[f.name]) and isinstance(value, dict):
            if f.default_factory is not dataclasses.MISSING:
                base = dataclasses.asdict(f.default_factory())
            elif f.default is not dataclasses.MISSING and f.default is not None:
                base = dataclasses.asdict(f.default)
            else:
                base = {}
            out[f.name] = _with_defaults(hints[f.name], {**base, **value})
    return out


def from_dict(cls: type, data: Any, where: str = "config") -> Any:
    """Build dataclass `cls` from a dict (YAML, JSON or flags), checked against the field
    types by dacite's strict mode: nested dataclasses come from nested dicts, lists become
    tuples, numbers PyYAML read as text (`1e-3`) are converted, and anything else of the
    wrong type, an unknown key or a missing one raises a ValueError naming the key."""
    import dacite

    _check_keys(cls, data, where)
    config = dacite.Config(strict=True, cast=[tuple],
                           type_hooks={float: _number(float), int: _number(int)})
    try:
        return dacite.from_dict(cls, _with_defaults(cls, data), config)
    except dacite.WrongTypeError as exc:
        value = exc.value.value if isinstance(exc.value, _Refused) else exc.value
        kind = getattr(exc.field_type, "__name__", None) or str(exc.field_type)
        if typing.get_origin(exc.field_type) is typing.Literal:
            kind = " or ".join(repr(a) for a in typing.get_args(exc.field_type))
        raise ValueError(f"{where}: {exc.field_path} must be {kind}, got {value!r}"[:300]) from None
    except dacite.DaciteError as exc:
        raise ValueError(f"{where}: {exc}") from None


def tuned_config(algo: str, env_id: str) -> str | None:
    """The name of the shipped tuned config for (algo, env_id), if there is one: the file
    agents/configs/<algo>_<env>.yaml whose algo and env_id are these, <env> being the env
    id without namespace or version, lower-cased (LunarLanderContinuous-v3 ->
    sac_lunarlandercontinuous, spiel:kuhn_poker -> ppo_kuhn_poker)."""
    env = re.sub(r"-v\d+$", "", re.split(r"[/:]", env_id)[-1]).lower().replace("-", "")
    name = f"{algo.replace('-', '_')}_{env}"
    if not (CONFIG_DIR / f"{name}.yaml").exists():
        return None
    data = load_config_file(name)
    return name if (data.get("algo"), data.get("env_id")) == (algo, env_id) else None


SECTIONS = ("selfplay", "league", "best_response")
"""Sections of a config file for other uses of the game's learner: self-play settings,
scripts/league.py's league and the best responder's overrides (league.exploitability)."""


def without_sections(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict's learner settings: everything but its SECTIONS."""
    return {k: v for k, v in data.items() if k not in SECTIONS}


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
