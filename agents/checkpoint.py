"""Checkpoints: a directory of safetensors weights plus JSON, written atomically, never pickled.

Layout of one checkpoint directory:
    model.safetensors      net weights (all that load_policy needs besides meta.json)
    meta.json              format, algorithm, net spec, spaces, env id, counters, configs
    train_state.safetensors + train_state.json
                           optimizer, RNG, replay buffer, counters: what --resume needs
A run keeps checkpoints/step_<N>/ directories and a `latest` symlink to the newest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, load_file, save, save_file

from ludus.agents.files import UnsafePathError, atomic_dir, fsync_dir, inside

FORMAT = "ludus-checkpoint"
FORMAT_VERSION = 1
LUDUS_VERSION = "0.1.0"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or does not fit; the message names the path."""


# --- spaces as JSON -------------------------------------------------------------------------

def space_to_json(space: gym.Space) -> dict[str, Any]:
    """Describe a Box, Discrete or Dict space as JSON."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        def bound(x: np.ndarray) -> Any:
            flat = x.flatten()
            value = flat[0] if (flat == flat[0]).all() else x
            return np.asarray(value).tolist()
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": bound(space.low), "high": bound(space.high)}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(v) for k, v in space.spaces.items()}}
    raise CheckpointError(f"cannot store space {space} in a checkpoint")


def space_from_json(data: dict[str, Any]) -> gym.Space:
    """Inverse of space_to_json."""
    kind = data.get("type")
    if kind == "Discrete":
        return gym.spaces.Discrete(data["n"], start=data.get("start", 0))
    if kind == "Box":
        dtype = np.dtype(data["dtype"])
        def bound(x: Any) -> np.ndarray:
            # JSON has no infinity: float("inf") round-trips through Python's json as Infinity.
            return np.broadcast_to(np.asarray(x, dtype=np.float64), data["shape"]).astype(dtype)
        return gym.spaces.Box(bound(data["low"]), bound(data["high"]), tuple(data["shape"]), dtype)
    if kind == "Dict":
        return gym.spaces.Dict({k: space_from_json(v) for k, v in data["spaces"].items()})
    raise CheckpointError(f"unknown space type {kind!r}")


# --- nested state <-> (tensors, JSON) ---------------------------------------------------------

def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "s") -> Any:
    """Move every tensor/array of a nested structure into `tensors`; return a JSON-ready tree."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, np.ndarray):
        tensors[prefix] = torch.from_numpy(np.ascontiguousarray(obj))
        return {"__ndarray__": prefix}
    if isinstance(obj, dict):
        keys_are_int = bool(obj) and all(isinstance(k, int) for k in obj)
        items = {str(k): flatten_state(v, tensors, f"{prefix}.{k}") for k, v in obj.items()}
        return {"__intkeys__": items} if keys_are_int else items
    if isinstance(obj, list | tuple):
        return [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise CheckpointError(f"cannot store {type(obj).__name__} at {prefix} without pickle")


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of flatten_state (arrays come back as numpy, tensors as torch)."""
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__ndarray__" in tree:
            return tensors[tree["__ndarray__"]].numpy()
        if "__intkeys__" in tree:
            return {int(k): unflatten_state(v, tensors) for k, v in tree["__intkeys__"].items()}
        return {k: unflatten_state(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    return tree


# --- writing and reading ----------------------------------------------------------------------

def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def weights_bytes(net: torch.nn.Module) -> bytes:
    """The net's weights as safetensors bytes: what a learner publishes to rollout workers
    (plain bytes cross processes and machines; no tensor is pickled)."""
    return save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()})


def load_weights_bytes(net: torch.nn.Module, data: bytes) -> None:
    """Load weights_bytes() into `net` (on the net's own device)."""
    net.load_state_dict(load(data))


def save_checkpoint(directory: Path | str, net: torch.nn.Module, meta: dict[str, Any],
                    train_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically and durably (files.atomic_dir): built beside
    it, flushed, then renamed into place."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
                  str(tmp / "model.safetensors"))
        _write_json(tmp / "meta.json", {"format": FORMAT, "format_version": FORMAT_VERSION,
                                        "ludus_version": LUDUS_VERSION, **meta})
        if train_state is not None:
            tensors: dict[str, torch.Tensor] = {}
            tree = flatten_state(train_state, tensors)
            save_file(tensors, str(tmp / "train_state.safetensors"))
            _write_json(tmp / "train_state.json", tree)
    return directory


def point_latest(checkpoints: Path, target: Path) -> None:
    """Atomically and durably repoint checkpoints/latest at `target` (a relative symlink)."""
    tmp = checkpoints / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target.name, tmp)
    os.replace(tmp, checkpoints / "latest")
    fsync_dir(checkpoints)


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint directory from a checkpoint path or a run folder (its checkpoints/latest)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not (path / "meta.json").exists() and (path / "checkpoints" / "latest").exists():
        path = path / "checkpoints" / "latest"
    if path.name == "latest" and path.is_symlink():
        # the link is followed only inside its own folder: a crafted one names no other run
        try:
            path = inside(path.parent, "latest", str(path))
        except UnsafePathError as exc:
            raise CheckpointError(str(exc)) from None
    if not (path / "meta.json").exists():
        raise CheckpointError(f"{path} is not a ludus checkpoint (no meta.json)")
    return path.resolve()


def read_meta(path: Path | str) -> dict[str, Any]:
    """The validated meta.json of a checkpoint directory."""
    path = resolve_checkpoint(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise CheckpointError(f"corrupt {path / 'meta.json'}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path / 'meta.json'} is not a ludus checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format_version')}, "
                              f"this ludus reads {FORMAT_VERSION}")
    return meta


def _load_tensors(file: Path) -> dict[str, torch.Tensor]:
    if not file.exists():
        raise CheckpointError(f"checkpoint file {file} is missing")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"corrupt checkpoint file {file}: {exc}") from None


def load_weights(net: torch.nn.Module, path: Path | str) -> None:
    """Load model.safetensors into `net`; a mismatch names the checkpoint and the keys."""
    path = resolve_checkpoint(path)
    weights = _load_tensors(path / "model.safetensors")
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = "; ".join(line.strip() for line in first[1:4]) or first[0]
        raise CheckpointError(f"checkpoint {path} does not fit the net spec: {detail}") from None


def is_encoder(name: str) -> bool:
    """Whether a parameter or buffer name belongs to an encoder (actor's or critic's)."""
    return name.startswith("encoder.") or ".encoder." in name


def load_encoder(net: torch.nn.Module, path: Path | str) -> int:
    """Copy a checkpoint's encoder weights (any net with an `encoder`: an agent's, or a
    supervised model from scripts/aux.py) into every encoder of `net` (actor and critic
    bodies), matched by their names below `encoder.`. Returns the number of tensors copied;
    a missing or misshapen one is an error naming it."""
    path = resolve_checkpoint(path)
    source: dict[str, torch.Tensor] = {}
    weights = _load_tensors(path / "model.safetensors")
    for key in sorted(weights, key=lambda k: k.startswith("critic.")):  # the actor's first
        if is_encoder(key):
            source.setdefault(key.split("encoder.", 1)[1], weights[key])
    if not source:
        raise CheckpointError(f"checkpoint {path} has no encoder weights")
    copied = 0
    with torch.no_grad():
        for name, tensor in list(net.named_parameters()) + list(net.named_buffers()):
            if not is_encoder(name):
                continue
            part = name.split("encoder.", 1)[1]
            if part not in source or source[part].shape != tensor.shape:
                found = None if part not in source else tuple(source[part].shape)
                raise CheckpointError(f"encoder of {path} does not fit: {name} has shape "
                                      f"{tuple(tensor.shape)}, the checkpoint {found}")
            tensor.copy_(source[part])
            copied += 1
    return copied


def freeze_encoder(net: torch.nn.Module) -> None:
    """Stop every encoder parameter of `net` from training."""
    for name, param in net.named_parameters():
        if is_encoder(name):
            param.requires_grad_(False)


def load_train_state(path: Path | str) -> dict[str, Any]:
    """The resume state saved beside a checkpoint's weights."""
    path = resolve_checkpoint(path)
    tensors = _load_tensors(path / "train_state.safetensors")
    file = path / "train_state.json"
    try:
        tree = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"corrupt or missing {file}: {exc}") from None
    try:
        state = unflatten_state(tree, tensors)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{file} names tensors {path.name} does not hold: "
                              f"{type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} must hold a mapping, not {type(state).__name__}")
    return state


def load_policy(path: Path | str, device: torch.device | str = "cpu") -> Any:
    """Open a checkpoint directory (or a run folder's latest) as a Policy, without pickle
    (its parameters are frozen: it is for acting)."""
    from ludus.agents.policy import Policy
    from ludus.nets import NetSpec, build_net

    path = resolve_checkpoint(path)
    meta = read_meta(path)
    try:
        spec = NetSpec.from_json(meta["net_spec"])
        obs_space = space_from_json(meta["obs_space"])
        action_space = space_from_json(meta["action_space"])
        net = build_net(spec, obs_space, action_space, meta["net_kind"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path / 'meta.json'} is incomplete or invalid: "
                              f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    load_weights(net, path)
    return Policy(net.requires_grad_(False).eval().to(device), obs_space, action_space, device)
