import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ludus.agents import Trainer, TrainingError, load_policy, resume, split_config
from ludus.agents.registry import load_config_file
from tests.agents.helpers import factory, tiny_run


def _metrics(run_dir):
    return [json.loads(line) for line in open(Path(run_dir) / "metrics.jsonl")]


@pytest.mark.parametrize("algo", ["ppo", "dqn", "a2c", "reinforce", "ppo-lstm"])
def test_same_seed_same_actions(tmp_path, algo):
    results = []
    for name in ("a", "b"):
        run, cfg = tiny_run(tmp_path, algo, total_timesteps=1200, run_name=name,
                            **({"learning_starts": 200, "train_freq": 4} if algo == "dqn" else {}))
        summary = Trainer(run, cfg, factory()).train()
        policy = load_policy(summary["checkpoint"])
        obs = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
        results.append(policy.action_probs(obs, policy.initial_state(32))[0])
    np.testing.assert_array_equal(results[0], results[1])


def test_jsonl_metrics_and_eval(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=4096, eval_every=2048, log_every=1024)
    summary = Trainer(run, cfg, factory()).train()
    rows = _metrics(summary["run_dir"])
    assert any("loss/policy" in r for r in rows) and any("perf/sps" in r for r in rows)
    evals = [r for r in rows if "eval/return_mean" in r]
    assert [r["step"] for r in evals] == [2048, 4096]
    assert summary["global_step"] == 4096


def test_eval_target_stops_early(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=50_000, eval_every=512, eval_target=5.0)
    summary = Trainer(run, cfg, factory()).train()
    assert summary["solved"] and summary["global_step"] == 512


def test_resume_continues_counters_and_run(tmp_path):
    run, cfg = tiny_run(tmp_path, "dqn", total_timesteps=1000, checkpoint_every=500,
                        learning_starts=100, buffer_size=5000)
    first = Trainer(run, cfg, factory()).train()
    ckpt = Path(first["checkpoint"])
    assert ckpt.name == "step_000001000" and (ckpt.parent / "step_000000500").exists()
    summary = resume(first["run_dir"], factory, {"total_timesteps": 1600})
    assert summary["global_step"] == 1600
    meta = json.load(open(Path(summary["checkpoint"]) / "meta.json"))
    assert meta["global_step"] == 1600 and meta["num_updates"] > 0
    policy = load_policy(summary["run_dir"])
    assert policy.act(np.zeros((1, 4), np.float32))[0].shape == (1,)


def test_resume_matches_uninterrupted_counters(tmp_path):
    """A run cut at 1024 steps and resumed to 2048 ends with the counters of a straight run."""
    straight, cfg = tiny_run(tmp_path, "ppo", total_timesteps=2048, run_name="straight")
    full = Trainer(straight, cfg, factory()).train()
    cut, cfg = tiny_run(tmp_path, "ppo", total_timesteps=1024, run_name="cut")
    Trainer(cut, cfg, factory()).train()
    resumed = resume(Path(tmp_path) / "cut", factory, {"total_timesteps": 2048})
    a = json.load(open(Path(full["checkpoint"]) / "meta.json"))
    b = json.load(open(Path(resumed["checkpoint"]) / "meta.json"))
    assert (a["global_step"], a["num_updates"]) == (b["global_step"], b["num_updates"])


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=2048, checkpoint_every=512)
    trainer = Trainer(run, cfg, factory())
    original = trainer.agent.update
    calls = []

    def poisoned():
        calls.append(1)
        if len(calls) == 3:
            with torch.no_grad():
                next(trainer.agent.net.parameters()).fill_(float("nan"))
        return original()

    monkeypatch.setattr(trainer.agent, "update", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite .* at step \d+"):
        trainer.train()
    latest = Path(tmp_path) / "run" / "checkpoints" / "latest"
    policy = load_policy(latest)
    probs, _ = policy.action_probs(np.zeros((1, 4), np.float32))
    assert np.isfinite(probs).all()
    assert not any(p.name.startswith(".") for p in latest.parent.iterdir() if p.name != ".latest")


@pytest.mark.parametrize("data,message", [
    ({"algo": "ppo2"}, "unknown algo 'ppo2' \\(did you mean ppo"),
    ({"algo": "ppo", "learning_rat": 1e-3}, "unknown key 'learning_rat'.*did you mean learning_rate"),
    ({"algo": "dqn", "net": {"hiden": [3]}}, "unknown key 'hiden' in config.net"),
])
def test_config_errors_name_the_key(data, message):
    with pytest.raises(ValueError, match=message):
        split_config(data)


@pytest.mark.parametrize("key,value", [("total_timesteps", 0), ("total_timesteps", -5),
                                       ("minutes", 0.0), ("eval_episodes", 0)])
def test_bad_budgets(tmp_path, key, value):
    run, cfg = tiny_run(tmp_path, **{key: value})
    with pytest.raises(ValueError, match=key):
        Trainer(run, cfg, factory())


def test_minutes_budget_ends_the_run(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=None, minutes=0.02)
    summary = Trainer(run, cfg, factory()).train()
    assert 0 < summary["train_seconds"] < 5


def test_shipped_configs_parse():
    from ludus.agents.registry import CONFIG_DIR

    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert len(names) >= 9
    for name in names:
        data = load_config_file(name)
        data.pop("selfplay", None)  # read by league.selfplay (tests/league/test_selfplay.py)
        data.pop("league", None)  # read by league.config (tests/league/test_league.py)
        best_response = data.pop("best_response", None) or {}  # league.exploitability's
        run, cfg = split_config(data, name)
        assert run.env_id and cfg.net
        split_config({**data, **best_response}, f"{name}: best_response")


def test_capture_video_writes_gif(tmp_path):
    import imageio.v3 as iio

    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=256, capture_video=True)
    Trainer(run, cfg, factory()).train()
    gifs = list((Path(tmp_path) / "run" / "videos").glob("*.gif"))
    assert len(gifs) == 1 and iio.imread(gifs[0]).shape[0] >= 8
    assert os.path.getsize(gifs[0]) > 1000


def test_dqn_resume_restores_the_replay_buffer_unless_told_not_to(tmp_path):
    from ludus.agents.checkpoint import load_train_state

    for keep in (True, False):
        run, cfg = tiny_run(tmp_path, "dqn", total_timesteps=300, learning_starts=50,
                            buffer_size=1000, checkpoint_replay=keep, run_name=f"r{keep}")
        first = Trainer(run, cfg, factory()).train()
        buffer = load_train_state(first["checkpoint"])["agent"]["buffer"]
        assert (buffer is not None) == keep
        if keep:
            assert buffer["pos"] == 300 and buffer["arrays"]["obs"][:300].any()
        assert resume(first["run_dir"], factory, {"total_timesteps": 400})["global_step"] == 400


@pytest.mark.parametrize("algo, env_id, name", [
    ("sac", "LunarLanderContinuous-v3", "sac_lunarlandercontinuous"),
    ("ppo", "spiel:kuhn_poker", "ppo_kuhn_poker"),
    ("ppo", "shared:simple_spread", "ppo_simple_spread"),
    ("dqn", "ALE/Pong-v5", "dqn_pong"),
    ("ppo-lstm", "CartPoleNoVel-v1", None),  # its config has another name
    ("td3", "CartPole-v1", None),
])
def test_tuned_config_is_the_file_named_for_the_pair(algo, env_id, name):
    from ludus.agents.registry import tuned_config

    assert tuned_config(algo, env_id) == name


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_a_shipped_rollout_updates_as_the_local_one(algo):
    """A rollout acted in one process and learned in another (the league's Ray backend)
    brings its values and bootstrap, so the learner's advantages and update match acting
    and learning in one agent."""
    from ludus import envs
    from ludus.agents.loop import play_step
    from ludus.agents.registry import make_agent

    _, cfg = split_config({"algo": algo, "env_id": "CartPole-v1", "num_envs": 4,
                           "num_steps": 16})
    env = envs.make("CartPole-v1", 4, 0)
    local, actor, learner = (make_agent(algo, cfg, env.single_observation_space,
                                        env.single_action_space, 0) for _ in range(3))
    for agent in (local, actor):
        env = envs.make("CartPole-v1", 4, 0)
        obs, _ = env.reset(seed=0)
        for _ in range(cfg.num_steps):
            obs, *_ = play_step(agent, env, obs)
    shipped = actor.rollout()
    assert {"values", "last_value"} <= set(shipped)
    learner.load_rollout(shipped)
    learner._critic_pass = None  # the values came with the rollout: the learner needs none
    local.update()
    learner.update()
    for a, b in zip(local.net.parameters(), learner.net.parameters(), strict=True):
        torch.testing.assert_close(a, b)
