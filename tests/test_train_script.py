"""scripts/train.py: a short run, --help, and one clear line for each kind of bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ludus.scripts.train import main

ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_short_run_prints_checkpoint_and_metrics(tmp_path, capsys):
    code, out, _ = run_main(capsys, "--algo", "ppo", "--env-id", "CartPole-v1", "--seed", "1",
                            "--total-timesteps", "512", "--run-dir", str(tmp_path),
                            "--run-name", "r", "--no-console", "--num-steps", "64")
    assert code == 0
    assert f"checkpoint: {tmp_path}/r/checkpoints/step_000000512" in out
    meta = json.loads(Path(tmp_path / "r" / "checkpoints" / "latest" / "meta.json").read_text())
    assert meta["config"]["num_steps"] == 64 and meta["run"]["seed"] == 1


def test_config_file_then_flag_override_and_resume(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("algo: dqn\nenv_id: CartPole-v1\ntotal_timesteps: 300\nlearning_starts: 50\n")
    code, _, _ = run_main(capsys, "--config", str(cfg), "--batch-size", "16", "--run-dir",
                          str(tmp_path), "--run-name", "d", "--no-console")
    assert code == 0
    meta = json.loads(Path(tmp_path / "d" / "checkpoints" / "latest" / "meta.json").read_text())
    assert meta["algo"] == "dqn" and meta["config"]["batch_size"] == 16
    code, out, _ = run_main(capsys, "--resume", str(tmp_path / "d"), "--total-timesteps", "400",
                            "--no-console")
    assert code == 0 and "step_000000400" in out


@pytest.mark.parametrize("args,message", [
    (["--algo", "dqm"], "unknown algo 'dqm' (did you mean dqn"),
    (["--env-id", "CartPol-v1", "--total-timesteps", "10"], "unknown env id 'CartPol-v1'"),
    (["--total-timesteps", "0"], "total_timesteps must be positive, got 0"),
    (["--config", "ppo_cartpol"], "did you mean ppo_cartpole"),
    (["--resume", "/nonexistent/run"], "checkpoint /nonexistent/run does not exist"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    code, _, err = run_main(capsys, *args, *(["--run-dir", str(tmp_path)] if "--resume" not in args
                                            else []))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("algo: ppo\nlearnin_rate: 0.1\n")
    code, _, err = run_main(capsys, "--config", str(cfg))
    assert code == 2 and "unknown key 'learnin_rate'" in err and "learning_rate" in err


def test_help_lists_algorithm_options():
    out = subprocess.run([sys.executable, "scripts/train.py", "--algo", "dqn", "--help"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--target-update-interval" in out and "--total-timesteps" in out


def test_self_play_on_a_board_game(tmp_path, capsys):
    code, out, _ = run_main(capsys, "--algo", "ppo", "--env-id", "tictactoe", "--self-play",
                            "--total-timesteps", "1024", "--snapshot-every", "1",
                            "--run-dir", str(tmp_path), "--run-name", "sp", "--no-console")
    assert code == 0 and "step_000001024" in out
    from ludus.agents import load_policy

    policy = load_policy(tmp_path / "sp")
    obs = {"observation": np.zeros((1, 3, 3, 2), np.int8),
           "action_mask": np.array([[0, 1, 1, 1, 1, 1, 1, 1, 0]], np.int8)}
    probs, _ = policy.action_probs(obs)
    assert probs[0, 0] == 0 and probs[0, 8] == 0 and np.isclose(probs.sum(), 1)


def test_board_game_without_an_opponent_is_one_clear_line(tmp_path, capsys):
    code, _, err = run_main(capsys, "--env-id", "connect_four", "--run-dir", str(tmp_path))
    assert code == 2 and "multi-agent game" in err and len(err.strip().splitlines()) == 1


def test_self_play_starts_from_the_shipped_game_config(tmp_path, capsys):
    code, out, _ = run_main(capsys, "--algo", "ppo", "--env-id", "tictactoe", "--self-play",
                            "--total-timesteps", "2048", "--minutes", "5", "--run-dir",
                            str(tmp_path), "--run-name", "t", "--no-console", "--eval-every", "0")
    assert code == 0
    meta = json.loads(Path(tmp_path / "t" / "checkpoints" / "latest" / "meta.json").read_text())
    assert meta["config"]["ent_coef"] == 0.1 and meta["config"]["net"]["hidden"] == [128, 128]
    assert json.loads((tmp_path / "t" / "selfplay.json").read_text())["opening_moves"] == 4
    code, out, _ = run_main(capsys, "--resume", str(tmp_path / "t"), "--total-timesteps", "4096",
                            "--no-console")
    assert code == 0 and "steps: 4096" in out


def test_evaluate_script_reports_both_seats(tmp_path, capsys):
    from ludus.scripts.evaluate import main as evaluate

    assert evaluate(["minimax", "--opponent", "random", "--env-id", "tictactoe",
                     "--games", "40"]) == 0
    out = capsys.readouterr().out
    assert "40 games" in out and "loss    0.0%" in out and "seat 1 (moves second)" in out
    assert evaluate([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_tuned_config_is_picked_and_config_defaults_opts_out(tmp_path, capsys):
    common = ["--algo", "sac", "--env-id", "Pendulum-v1", "--total-timesteps", "150",
              "--learning-starts", "100", "--eval-episodes", "1", "--run-dir", str(tmp_path),
              "--no-console"]
    code, out, _ = run_main(capsys, *common, "--run-name", "tuned")
    assert code == 0 and "using the shipped tuned config sac_pendulum" in out
    meta = json.loads(Path(tmp_path / "tuned/checkpoints/latest/meta.json").read_text())
    assert meta["config"]["learning_rate"] == 1e-3 and meta["run"]["eval_every"] == 2000
    code, out, _ = run_main(capsys, "--config", "defaults", *common, "--run-name", "plain")
    assert code == 0 and "tuned config" not in out
    meta = json.loads(Path(tmp_path / "plain/checkpoints/latest/meta.json").read_text())
    assert meta["config"]["learning_rate"] == 3e-4


def test_a_missing_extra_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco", None)  # as if the mujoco extra were missing
    code, _, err = run_main(capsys, "--algo", "sac", "--env-id", "HalfCheetah-v5",
                            "--run-dir", str(tmp_path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "pip install 'ludus[mujoco]'" in lines[0], err
