"""Fuzzing the files ludus reads (hypothesis): random bytes, random JSON and random edits of
valid league.json, meta.json, train_state.json, config YAML and .npz datasets either load or
give one clear error naming the file (a ValueError: LeagueError, CheckpointError,
UnsafePathError), never another exception, and a refused file changes nothing on disk."""

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ludus.agents import Trainer, load_policy, load_run
from ludus.agents.registry import CONFIG_DIR, load_config_file
from ludus.envs.datasets import GameDataset
from ludus.league.config import stored_config
from ludus.league.coordinator import League
from ludus.league.matchmaking import MatchmakingConfig, Player
from ludus.league.payoff import Payoff
from ludus.league.recorder import record, save_dataset
from tests.agents.helpers import factory, tiny_run

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
# no subnormals: training turns on flush-to-zero for the whole process (see agents/loop.py)
scalars = (st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_subnormal=False)
           | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)


@st.composite
def edits(draw, document):
    """`document` with one random change deep inside: a value replaced or a key dropped."""
    data = copy.deepcopy(document)
    parent, key, node = None, None, data
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        parent = node
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        node = node[key]
    if parent is None:
        return draw(json_values)
    if isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
        del parent[key]
    else:
        parent[key] = draw(json_values)
    return data


def contents(folder):
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def refused_cleanly(exc, file):
    """A ValueError whose message is one line naming the file."""
    assert isinstance(exc, ValueError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert "\n" not in message and str(file.parent) in message, message


def check(call, file, folder):
    """Run `call`; it loads, or refuses with one clear error and writes nothing."""
    before = contents(folder)
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the point: only clear errors may escape
        refused_cleanly(exc, file)
        assert contents(folder) == before


def write(file, data):
    file.write_text(json.dumps(data)) if not isinstance(data, bytes) else file.write_bytes(data)


# --- league.json -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def league_json(tmp_path_factory):
    folder = tmp_path_factory.mktemp("league") / "lg"
    league = League(folder, "tictactoe", MatchmakingConfig(), Payoff())
    league.add(Player("main_agent_0", "main_agent", checkpoint="learners/main_agent_0/state_1"))
    league.add(Player("main_agent_0.0", "snapshot", "main_agent_0", "players/main_agent_0.0"))
    league.add(Player("random", "fixed", checkpoint="random"))
    league.report("main_agent_0", "random", 0, "win")
    league.extra["config"] = {"env_id": "tictactoe", "total_timesteps": 1000}
    league.save()
    return json.loads((folder / "league.json").read_text())


@SETTINGS
@given(data=st.data())
def test_league_json(tmp_path, league_json, data):
    folder = tmp_path / "lg"
    folder.mkdir(exist_ok=True)
    file = folder / "league.json"
    write(file, data.draw(st.binary(max_size=64) | json_values | edits(league_json)))
    check(lambda: (League.load(folder), stored_config(folder)), file, folder)


# --- checkpoints -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    run, cfg = tiny_run(tmp, "ppo", total_timesteps=64, num_envs=2, num_steps=32,
                        minibatch_size=64)
    Trainer(run, cfg, factory()).train()
    return (tmp / "run" / "checkpoints" / "latest").resolve()


def fresh_copy(checkpoint, tmp_path):
    run = tmp_path / "run"
    if run.exists():
        shutil.rmtree(run)
    target = run / "checkpoints" / checkpoint.name
    shutil.copytree(checkpoint, target)
    (run / "checkpoints" / "latest").symlink_to(checkpoint.name)
    return target


def resume(target):
    run, cfg, ckpt = load_run(target)
    Trainer(run, cfg, factory(), resume_from=ckpt).close()


@pytest.mark.parametrize("name, read", [
    ("meta.json", lambda target: (load_policy(target), load_run(target))),
    ("train_state.json", resume)])
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_checkpoint_json(tmp_path, checkpoint, name, read, data):
    target = fresh_copy(checkpoint, tmp_path)
    file = target / name
    document = json.loads(file.read_text())
    write(file, data.draw(st.binary(max_size=64) | json_values | edits(document)))
    check(lambda: read(target), file, tmp_path / "run")


# --- config YAML -------------------------------------------------------------------------------

@SETTINGS
@given(data=st.data())
def test_config_yaml(tmp_path, data):
    from ludus.agents import split_config
    from ludus.league.selfplay import split_selfplay

    shipped = load_config_file(data.draw(st.sampled_from(sorted(
        p.stem for p in CONFIG_DIR.glob("*.yaml")))))
    file = tmp_path / "c.yaml"
    text = data.draw(st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
                     | json_values.map(yaml.safe_dump) | edits(shipped).map(yaml.safe_dump))
    file.write_text(text)

    def parse():
        rest, selfplay = split_selfplay(load_config_file(str(file)), str(file))
        split_config(rest, str(file))
    check(parse, file, tmp_path)


# --- .npz datasets -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return record("tictactoe", "random", "random", 3, seed=0)


@SETTINGS
@given(data=st.data())
def test_npz_dataset(tmp_path, dataset, data):
    file = tmp_path / "d.npz"
    if data.draw(st.booleans()):
        file.write_bytes(data.draw(st.binary(max_size=200)))
    else:  # a real .npz with one array replaced
        arrays = {"obs": dataset.obs, "mask": dataset.mask, "action": dataset.action,
                  "probs": dataset.probs, "outcome": dataset.outcome,
                  "game_index": dataset.game_index,
                  "meta": np.array(json.dumps({"game": "tictactoe"}))}
        key = data.draw(st.sampled_from(sorted(arrays)))
        numbers = st.integers(-5, 5) | st.floats(allow_subnormal=False)
        arrays[key] = np.asarray(data.draw(st.lists(numbers, max_size=5)))
        save_dataset(dataset, file)
        with open(file, "wb") as f:
            np.savez(f, **arrays)
    check(lambda: GameDataset.load(file), file, tmp_path)
