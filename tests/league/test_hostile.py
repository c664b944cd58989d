"""Crafted files and second processes: a league.json, link, meta.json or selfplay.json that
names a path outside its folder gets one error line and nothing outside is read, written or
deleted; a second writer of a league or run is refused; resume bookkeeping is exact."""

import contextlib
import importlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from ludus.agents import load_run
from ludus.league.coordinator import League
from ludus.league.runner import LeagueRunner
from ludus.league.selfplay import SelfPlayConfig, load_selfplay_config, selfplay_trainer
from tests.agents.helpers import tiny_run
from tests.agents.test_files import hold_lock
from tests.league.test_league import files_of, tiny_config

HYPER = {"num_envs": 8, "num_steps": 32, "minibatch_size": 128}


@pytest.fixture(scope="module")
def league_folder(tmp_path_factory):
    """A finished tiny tic-tac-toe league with a fixed bot (its learners, a snapshot)."""
    tmp = tmp_path_factory.mktemp("league")
    runner = LeagueRunner(tiny_config(tmp, total_timesteps=2500, fixed=("random",),
                                      league_exploiters=0))
    runner.train()
    return runner.folder


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A finished self-play run with checkpoints every 512 steps and a fixed opponent."""
    tmp = tmp_path_factory.mktemp("run")
    run, cfg = tiny_run(tmp, "ppo", "tictactoe", total_timesteps=2048, checkpoint_every=512,
                        keep_checkpoints=10, log_every=256, **HYPER)
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=1, pool_size=10,
                                                        opponents=("greedy",)))
    trainer.train()
    return trainer.run_path


def script(name, *args):
    """(exit code, stderr) of scripts/<name> run on `args` (in this process: the holder of
    a lock is the other process)."""
    main = importlib.import_module(f"ludus.scripts.{name.removesuffix('.py')}").main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([*map(str, args), *(["--no-console"] if name != "evaluate.py" else [])]
                    if name in ("league.py", "train.py") else list(map(str, args)))
    return code, err.getvalue().strip()


def one_line_error(rc, err, *fragments):
    assert rc == 2 and err.startswith("error: ") and "\n" not in err, (rc, err)
    for fragment in fragments:
        assert fragment in err, err


def outside_checkpoint(tmp_path, league_folder):
    """A valid checkpoint outside the league (what a crafted path would reach)."""
    target = tmp_path / "outside" / "ckpt"
    shutil.copytree(league_folder / "init", target)
    return target


def crafted(league_folder, tmp_path, edit):
    """A copy of the league whose league.json `edit` changed."""
    folder = tmp_path / "lg"
    shutil.copytree(league_folder, folder, symlinks=True)
    for p in folder.rglob("*"):  # snapshots are read-only; the copy must be removable
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    data = json.loads((folder / "league.json").read_text())
    edit(data, folder)
    (folder / "league.json").write_text(json.dumps(data))
    return folder


def rename(data, old, new):
    for p in data["players"]:
        p["id"] = new if p["id"] == old else p["id"]
        p["parent"] = new if p["parent"] == old else p["parent"]
    data["payoff"]["ids"] = [new if i == old else i for i in data["payoff"]["ids"]]


def test_a_crafted_learner_id_deletes_nothing_outside(league_folder, tmp_path):
    victim = tmp_path / "victim" / "state_000000"
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    before = files_of(tmp_path / "victim")
    folder = crafted(league_folder, tmp_path,
                     lambda d, f: rename(d, "main_exploiter_0", "../../victim"))
    rc, err = script("league.py", "--resume", folder, "--total-timesteps", 5000)
    one_line_error(rc, err, "'../../victim' is not a valid id")
    assert files_of(tmp_path / "victim") == before


@pytest.mark.parametrize("how", ["relative", "absolute", "link", "average"])
def test_a_crafted_checkpoint_path_reads_nothing_outside(league_folder, tmp_path, how):
    outside = outside_checkpoint(tmp_path, league_folder)
    before = files_of(outside.parent)

    def edit(data, folder):
        snap = next(p for p in data["players"] if p["role"] == "snapshot")
        if how == "relative":
            snap["checkpoint"] = "../outside/ckpt"
        elif how == "absolute":
            snap["checkpoint"] = str(outside)
        elif how == "link":
            (folder / "players").mkdir(exist_ok=True)
            os.symlink(outside, folder / "players" / "evil")
            snap["checkpoint"] = "players/evil"
        else:
            next(p for p in data["players"] if p["role"] == "main_agent")["average"] = \
                "learners/../../outside/ckpt"
    folder = crafted(league_folder, tmp_path, edit)
    for name, args in (("evaluate.py", [folder, "--opponent", "random", "--games", "2"]),
                       ("watch.py", [folder, "--list"]),
                       ("league.py", ["--resume", folder, "--total-timesteps", 5000])):
        rc, err = script(name, *args)
        one_line_error(rc, err, "league.json")
    assert files_of(outside.parent) == before
    assert not (folder / ".lock.json").exists()  # refused before anything was written


def test_evaluation_opponents_in_league_json_are_bots(league_folder, tmp_path):
    outside = outside_checkpoint(tmp_path, league_folder)

    def edit(data, folder):
        data["extra"]["config"]["eval_bots"] = [str(outside)]
    folder = crafted(league_folder, tmp_path, edit)
    rc, err = script("league.py", "--resume", folder, "--total-timesteps", 5000)
    one_line_error(rc, err, "eval_bots are bot names")


def test_a_league_copies_outside_checkpoints_it_names(league_folder, tmp_path):
    """--fixed and --init checkpoints are copied in: league.json names only its own files."""
    outside = outside_checkpoint(tmp_path, league_folder)
    runner = LeagueRunner(tiny_config(tmp_path, total_timesteps=600, interval_steps=600,
                                      fixed=("greedy", str(outside)), init=str(outside),
                                      league_exploiters=0, main_exploiters=0))
    runner.train()
    league = League.load(runner.folder)
    fixed = [p for p in league.players.values() if p.role == "fixed"]
    assert fixed[0].id == "greedy" and fixed[0].checkpoint == "greedy"
    assert fixed[1].checkpoint == f"players/{fixed[1].id}" and "/" not in fixed[1].id
    shutil.rmtree(outside.parent)  # the league no longer needs the original
    LeagueRunner(stored_budget(runner.folder, 1200), runner.folder).train()


def test_fixed_ids_are_plain_names():
    from ludus.league.config import fixed_id

    assert fixed_id("alphabeta:2", {}) == "alphabeta_2"
    assert fixed_id("runs/x/../checkpoints/latest", {}) == "runs_x_checkpoints_latest"
    assert fixed_id("alphabeta:2", {"alphabeta_2": 1}) == "alphabeta_2_1"


def stored_budget(folder, steps):
    from ludus.league.config import stored_config

    return stored_config(folder, {"total_timesteps": steps})


def test_a_second_league_writer_is_refused_and_the_log_kept(league_folder, tmp_path):
    folder = crafted(league_folder, tmp_path, lambda d, f: None)
    log = (folder / "matchmaking.jsonl").read_bytes()
    with open(folder / "matchmaking.jsonl", "ab") as f:
        f.write(b'{"interval": 99}\n')  # what a live writer appended since league.json
    with hold_lock(folder) as holder:
        rc, err = script("league.py", "--resume", folder, "--total-timesteps", 5000)
        one_line_error(rc, err, f"is being written by pid {holder.pid}")
        assert (folder / "matchmaking.jsonl").read_bytes() == log + b'{"interval": 99}\n'


def test_a_second_run_writer_is_refused(run_folder, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_folder, run, symlinks=True)
    with hold_lock(run) as holder:
        rc, err = script("train.py", "--resume", run, "--total-timesteps", 4096)
        one_line_error(rc, err, f"is being written by pid {holder.pid}")


def test_a_latest_link_leaving_the_run_is_refused(run_folder, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_folder, other, symlinks=True)
    before = files_of(other)
    run = tmp_path / "run"
    shutil.copytree(run_folder, run, symlinks=True)
    latest = run / "checkpoints" / "latest"
    latest.unlink()
    os.symlink(other / "checkpoints" / "step_000001024", latest)
    rc, err = script("train.py", "--resume", run, "--total-timesteps", 4096)
    one_line_error(rc, err, "latest", "leads outside")
    assert files_of(other) == before  # pruning beside the link's target would have cut it


def test_selfplay_json_naming_outside_opponents_is_refused(run_folder, tmp_path, league_folder):
    outside = outside_checkpoint(tmp_path, league_folder)
    run = tmp_path / "run"
    shutil.copytree(run_folder, run, symlinks=True)
    data = json.loads((run / "selfplay.json").read_text())
    data["opponents"] = [str(outside)]
    (run / "selfplay.json").write_text(json.dumps(data))
    rc, err = script("train.py", "--resume", run, "--total-timesteps", 4096)
    one_line_error(rc, err, "selfplay.json", "is not a path relative to")


def test_meta_json_paths_are_not_followed_on_resume(tmp_path, league_folder):
    """A teacher is the run's own copy; an encoder comes back with the weights."""
    teacher = outside_checkpoint(tmp_path, league_folder)
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=256, teacher=str(teacher),
                        teacher_kl_coef=0.1, encoder_init=str(teacher), freeze_encoder=True,
                        net={"encoder": "mlp", "hidden": [32, 32], "activation": "relu"}, **HYPER)
    first = selfplay_trainer(run, cfg, SelfPlayConfig())
    first.train()
    assert (first.run_path / "teacher" / "model.safetensors").exists()
    shutil.rmtree(teacher.parent)  # neither path exists any more
    run2, cfg2, ckpt = load_run(first.run_path, {"total_timesteps": 512})
    assert Path(cfg2.teacher) == first.run_path / "teacher" and cfg2.encoder_init is None
    again = selfplay_trainer(run2, cfg2, load_selfplay_config(first.run_path), resume_from=ckpt)
    frozen = [p for n, p in again.agent.net.named_parameters() if "encoder." in n]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert again.train()["global_step"] == 512


def test_resume_from_an_earlier_checkpoint_forgets_the_lost_future(run_folder, tmp_path):
    """metrics.jsonl is cut back to the checkpoint's step and pool copies newer than its
    weights are dropped."""
    run = tmp_path / "run"
    shutil.copytree(run_folder, run, symlinks=True)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2048
    run2, cfg2, ckpt = load_run(run / "checkpoints" / "step_000001024", {"total_timesteps": 2048})
    again = selfplay_trainer(run2, cfg2, load_selfplay_config(run), resume_from=ckpt)
    pool = sorted(int(Path(again.pool.names[i]).name[5:]) for i in again.pool.active
                  if "pool" in again.pool.names[i])
    assert pool and max(pool) <= 1024
    assert all(int(p.name[5:]) <= 1024 for p in (run / "pool").glob("step_*"))
    again.train()
    logged = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_steps = [s for s, row in zip(logged, (run / "metrics.jsonl").read_text().splitlines(),
                                       strict=True) if "perf/sps" in row]
    assert train_steps == sorted(set(train_steps)), train_steps  # no step logged twice
    assert max(logged) == 2048


def test_keep_checkpoints_zero_is_refused(tmp_path, capsys):
    from ludus.scripts.train import main

    assert main(["--algo", "ppo", "--keep-checkpoints", "0", "--run-dir", str(tmp_path)]) == 2
    assert "keep_checkpoints must be >= 1" in capsys.readouterr().err


def test_config_values_are_typed(tmp_path, capsys):
    """PyYAML reads 1e-3 as text: converted; a value of the wrong type: one line naming it."""
    from ludus.agents import load_policy
    from ludus.scripts.league import main as league
    from ludus.scripts.train import main as train

    good = tmp_path / "good.yaml"
    good.write_text("algo: ppo\nlearning_rate: 1e-3\ntotal_timesteps: 1e2\nnum_envs: 4\n"
                    "num_steps: 16\nminibatch_size: 64\n")
    assert train(["--config", str(good), "--run-dir", str(tmp_path), "--run-name", "g",
                  "--no-console"]) == 0
    policy_meta = json.loads((tmp_path / "g" / "checkpoints" / "latest" / "meta.json").read_text())
    assert policy_meta["config"]["learning_rate"] == 0.001 and load_policy(tmp_path / "g")
    bad = tmp_path / "bad.yaml"
    for text, key in (("algo: ppo\nlearning_rate: fast\n", "learning_rate"),
                      ("algo: ppo\nnet: {hidden: [a, b]}\n", "net.hidden"),
                      ("algo: ppo\nanneal_lr: [1]\n", "anneal_lr")):
        bad.write_text(text)
        capsys.readouterr()
        assert train(["--config", str(bad), "--run-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert key in err and "\n" not in err, err
        assert league(["--env-id", "tictactoe", "--config", str(bad), "--league-dir",
                       str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert key in err and "\n" not in err, err


def test_older_leagues_with_bot_names_as_ids_still_load(tmp_path):
    from ludus.league.matchmaking import MatchmakingConfig
    from ludus.league.payoff import Payoff

    League(tmp_path / "lg", "connect_four", MatchmakingConfig(), Payoff()).save()
    data = json.loads((tmp_path / "lg" / "league.json").read_text())
    data["players"] = [{"id": "alphabeta:2", "role": "fixed", "checkpoint": "alphabeta:2"}]
    data["payoff"]["ids"], data["payoff"]["counts"] = ["alphabeta:2"], [[[0, 0, 0, 0]]]
    (tmp_path / "lg" / "league.json").write_text(json.dumps(data))
    assert list(League.load(tmp_path / "lg").players) == ["alphabeta:2"]
    data["players"][0]["checkpoint"] = "players/x"  # a checkpoint under such an id is refused
    (tmp_path / "lg" / "league.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not a valid id"):
        League.load(tmp_path / "lg")
