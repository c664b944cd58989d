import builtins
import json
from pathlib import Path

import pytest

from ludus.agents import Trainer
from ludus.agents.checkpoint import resolve_checkpoint
from ludus.agents.tracking import Tracker, WandbConfig
from tests.agents.helpers import factory, tiny_run


def test_jsonl_always_written_and_non_finite_values_become_null(tmp_path):
    tracker = Tracker(tmp_path, console=False)
    tracker.log({"loss/value": 1.5, "charts/x": float("nan")}, step=10)
    tracker.close()
    row = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert row["step"] == 10 and row["loss/value"] == 1.5 and row["charts/x"] is None


def test_tensorboard_gets_the_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=512, log_every=128, tensorboard=True,
                        num_envs=4, num_steps=32, minibatch_size=64)
    Trainer(run, cfg, factory()).train()
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert {"perf/sps", "loss/policy", "eval/return_mean"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("perf/sps")] == sorted(
        {e.step for e in events.Scalars("perf/sps")})


def test_wandb_offline_run_is_created_and_resumed_with_same_id(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=512, track=True,
                        wandb=WandbConfig(project="ludus-test", tags=("unit",)))
    first = Trainer(run, cfg, factory())
    first.train()
    run_id = first.tracker.wandb_run_id
    assert run_id
    offline_runs = list((Path(tmp_path) / "run" / "wandb").glob("offline-run-*"))
    assert offline_runs and any(run_id in p.name for p in offline_runs)
    meta_state = json.load(open(Path(tmp_path) / "run" / "checkpoints" / "latest"
                                / "train_state.json"))
    assert meta_state["loop"]["wandb_run_id"] == run_id
    run2, cfg2 = tiny_run(tmp_path, "ppo", total_timesteps=1024, track=True,
                          wandb=WandbConfig(project="ludus-test"))
    second = Trainer(run2, cfg2, factory(), resume_from=resolve_checkpoint(Path(tmp_path) / "run"))
    assert second.train()["global_step"] == 1024
    assert second.tracker.wandb_run_id == run_id


def test_missing_wandb_never_fails_the_run(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=512, track=True)
    with pytest.warns(UserWarning, match="wandb disabled"):
        summary = Trainer(run, cfg, factory()).train()
    assert summary["global_step"] == 512
    assert (Path(summary["run_dir"]) / "metrics.jsonl").exists()
