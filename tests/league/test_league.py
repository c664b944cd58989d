import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ludus.agents import load_policy
from ludus.league.arena import load_player
from ludus.league.config import LeagueConfig, stored_config
from ludus.league.coordinator import League, LeagueError
from ludus.league.matchmaking import MatchmakingConfig, Player
from ludus.league.payoff import Payoff
from ludus.league.runner import LeagueRunner
from ludus.league.snapshots import SnapshotStore

ROOT = Path(__file__).resolve().parents[2]
TINY = """algo: ppo
num_envs: 16
num_steps: 16
minibatch_size: 128
update_epochs: 4
learning_rate: 0.001
anneal_lr: false
ent_coef: 0.05
net: {encoder: mlp, hidden: [32, 32], activation: relu}
selfplay: {opening_moves: 2}
"""
FAST_RULES = MatchmakingConfig(main_snapshot_steps=2048, exploiter_min_steps=1024,
                               exploiter_max_steps=2048)


def tiny_config(tmp_path, **kw):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    base = dict(env_id="tictactoe", config=str(config), main_exploiters=1, league_exploiters=1,
                total_timesteps=6000, interval_steps=2048, eval_games=20,
                matchmaking=FAST_RULES, league_dir=str(tmp_path / "leagues"), name="t",
                console=False)
    return LeagueConfig(**{**base, **kw})


def files_of(folder):
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_league_trains_snapshots_and_saves(tmp_path):
    runner = LeagueRunner(tiny_config(tmp_path, fixed=("random",)))
    first = runner.folder / "players"
    summary = runner.train()
    league = League.load(summary["folder"])
    roles = [p.role for p in league.players.values()]
    assert roles.count("main_agent") == roles.count("main_exploiter") == 1
    assert "fixed" in roles and roles.count("snapshot") >= 3
    assert league.total_steps >= 6000 and league.interval >= 3
    for player in league.players.values():
        if player.role != "fixed":
            load_policy(league.folder / player.checkpoint)  # every member loads
    # snapshots are immutable: read-only, and a further run leaves their bytes alone
    before = files_of(first)
    assert all(not os.access(p, os.W_OK) for p in before if os.getuid() != 0)
    LeagueRunner(stored_config(runner.folder, {"total_timesteps": 9000}), runner.folder).train()
    after = files_of(first)
    assert all(after[p] == data for p, data in before.items())
    lines = [json.loads(x) for x in (runner.folder / "matchmaking.jsonl").read_text().splitlines()]
    assert {"home", "away", "seat", "wins", "draws", "losses"} <= set(lines[0])
    main = load_player(str(runner.folder))  # a league folder names its main agent
    assert main.obs_shape == (3, 3, 2)
    assert {x["seat"] for x in lines} == {0, 1}
    # fitted ratings with deviations, logged per interval and drawn beside league.json
    league = League.load(runner.folder)
    assert all(0 < p.rating_sd < 400 for p in league.players.values() if p.role != "snapshot")
    logged = [json.loads(x) for x in (runner.folder / "metrics.jsonl").read_text().splitlines()]
    assert sum("rating_sd/main_agent_0" in row for row in logged) >= 3
    import imageio.v3 as iio
    for picture in ("payoff.png", "ratings.png"):
        image = iio.imread(runner.folder / picture)
        assert image.ndim == 3 and image.std() > 10, picture


def test_exploiters_get_their_share_of_the_compute(tmp_path):
    summary = LeagueRunner(tiny_config(tmp_path, exploiter_share=0.5, eval_games=2)).train()
    steps = {p.role: p.steps for p in League.load(summary["folder"]).learners()}
    rollout = 16 * 16
    assert steps["main_agent"] >= 3000
    # the main agent plays 2 steps per exploiter step, to within one rollout
    for role in ("main_exploiter", "league_exploiter"):
        assert abs(steps["main_agent"] - 2 * steps[role]) <= 2 * rollout, steps


def test_lazy_loading_keeps_at_most_capacity(tmp_path):
    runner = LeagueRunner(tiny_config(tmp_path, total_timesteps=2048))
    path = runner.folder / "init"
    runner.close()
    store = SnapshotStore(runner.league, capacity=2)
    players = [Player(f"p{i}", "snapshot", checkpoint="init") for i in range(5)]
    for player in players + players[-2:]:
        store.get(player)
        assert len(store.cache) <= 2
    assert store.loads == 5  # the last two were still cached
    assert store.get(Player("bot", "fixed", checkpoint="greedy")).__class__.__name__ == "GreedyBot"
    assert path.exists()


def test_save_crash_keeps_the_last_league_and_cuts_the_log(tmp_path, monkeypatch):
    league = League(tmp_path, "tictactoe", MatchmakingConfig(), Payoff(decay=1.0))
    for pid in ("a", "b"):
        league.add(Player(pid, "main_agent" if pid == "a" else "fixed", checkpoint="random"))
    league.report("a", "b", 0, "win")
    league.save()
    league.report("a", "b", 1, "loss")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing league.json")
    monkeypatch.setattr("ludus.league.coordinator.atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        league.save()  # the log got the second interval, league.json did not
    assert len((tmp_path / "matchmaking.jsonl").read_text().splitlines()) == 2
    League.load(tmp_path)  # reading leaves a (possibly running) league alone
    assert len((tmp_path / "matchmaking.jsonl").read_text().splitlines()) == 2
    again = League.load(tmp_path, resume=True)
    assert len((tmp_path / "matchmaking.jsonl").read_text().splitlines()) == 1
    assert again.payoff.win_rate("a", ["b"])[0] == 1.0 and again.interval == 1


def test_bad_league_input(tmp_path):
    with pytest.raises(ValueError, match="at least one main agent"):
        LeagueRunner(tiny_config(tmp_path, main_agents=0, main_exploiters=0, league_exploiters=0))
    with pytest.raises(ValueError, match="snapshot_threshold must be in \\[0, 1\\], got 1.5"):
        LeagueRunner(tiny_config(tmp_path, matchmaking=MatchmakingConfig(snapshot_threshold=1.5)))
    with pytest.raises(ValueError, match="exploiter_share must be positive, got 0"):
        LeagueRunner(tiny_config(tmp_path, exploiter_share=0))
    with pytest.raises(ValueError, match="two-player zero-sum game; spiel:bargaining"):
        LeagueRunner(tiny_config(tmp_path, env_id="spiel:bargaining"))
    with pytest.raises(LeagueError, match="no league.json"):
        League.load(tmp_path)
    (tmp_path / "league.json").write_text(json.dumps({"format": "ludus-league", "version": 0}))
    with pytest.raises(LeagueError, match="version 0, this ludus reads version 1"):
        League.load(tmp_path)


def test_script_errors_are_one_line(tmp_path):
    out = subprocess.run([sys.executable, "scripts/league.py", "--env-id", "tictactoe",
                          "--matchmaking.snapshot-threshold", "2", "--league-dir", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: snapshot_threshold must be in [0, 1], got 2.0"


def league_state(folder):
    league = League.load(folder, resume=True)  # a corrupt league.json would raise here
    lines = [json.loads(x) for x in (folder / "matchmaking.jsonl").read_text().splitlines()]
    # the log holds the saved intervals; the journal's later games count from the resume on
    logged = sum(x["wins"] + x["draws"] + x["losses"] for x in lines) + sum(
        sum(r) for r in league._results.values())
    matches = league.journal_matches()
    assert league.num_games == len(matches) == len(set(matches))  # each game counted once
    games = league.payoff.counts[..., 3].sum() / 2  # each game counted from both sides
    assert all(x["interval"] < league.interval for x in lines)
    for player in league.players.values():
        if player.role != "fixed":
            load_policy(folder / player.checkpoint)
    return league, logged, games


def test_kill_9_at_any_moment_then_resume_loses_at_most_an_interval(tmp_path):
    config = tiny_config(tmp_path)
    args = [sys.executable, "scripts/league.py", "--config", config.config, "--env-id",
            "tictactoe", "--main-exploiters", "1", "--league-exploiters", "1",
            "--total-timesteps", "1000000", "--interval-steps", "768", "--eval-games", "4",
            "--payoff-decay", "1.0", "--matchmaking.main-snapshot-steps", "1024",
            "--matchmaking.exploiter-min-steps", "512", "--matchmaking.exploiter-max-steps",
            "1024", "--league-dir", str(tmp_path), "--name", "k", "--no-console"]
    folder = tmp_path / "k"
    rng = np.random.default_rng(0)
    steps_before = 0
    for attempt in range(3):
        cmd = args if attempt == 0 else [sys.executable, "scripts/league.py", "--resume",
                                         str(folder), "--total-timesteps", "1000000"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.time() + 90
        start_interval = League.load(folder).interval if attempt else 0
        while time.time() < deadline and proc.poll() is None:
            if (folder / "league.json").exists() and League.load(folder).interval \
                    >= start_interval + 2:
                break
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 0.5)))  # mid-game or mid-save, wherever it falls
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        league, logged, games = league_state(folder)
        assert logged == pytest.approx(games)  # the log and the journal hold every game
        assert league.total_steps >= steps_before
        steps_before = league.total_steps
    out = subprocess.run([sys.executable, "scripts/league.py", "--resume", str(folder),
                          "--total-timesteps", str(steps_before + 1500)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"evaluate:    python scripts/evaluate.py {folder}" in out.stdout
    assert f"watch:       python scripts/watch.py {folder}" in out.stdout
    league, logged, games = league_state(folder)
    assert league.total_steps >= steps_before + 1500 and logged == pytest.approx(games)


@pytest.mark.learning
def test_tiny_tictactoe_league_rates_its_main_agent_above_random(tmp_path):
    runner = LeagueRunner(tiny_config(tmp_path, fixed=("random",), total_timesteps=90_000,
                                      interval_steps=30_000, eval_games=200))
    runner.train()
    league = League.load(runner.folder)
    main, bot = league.players["main_agent_0"], league.players["random"]
    assert main.rating > bot.rating + 100, (main.rating, bot.rating)
    evals = [json.loads(x) for x in (runner.folder / "metrics.jsonl").read_text().splitlines()]
    scores = [e["eval/main_agent_0/vs_random"] for e in evals if "eval/main_agent_0/vs_random" in e]
    assert scores[-1] > 0.75 and scores[-1] > scores[0], scores


def test_wandb_offline_gets_the_dashboards_and_resume_keeps_the_run(tmp_path, monkeypatch):
    from ludus.agents.tracking import Tracker

    messages = []
    monkeypatch.setattr(Tracker, "message", lambda self, text: messages.append(text))
    runner = LeagueRunner(tiny_config(tmp_path, total_timesteps=2048, track=True))
    runner.train()
    run_id = League.load(runner.folder).extra["wandb_run_id"]
    assert run_id and not messages, messages
    images = list(runner.folder.rglob("media/images/league/payoff_heatmap*.png"))
    tables = list(runner.folder.rglob("media/table/league/payoff*.table.json"))
    assert images and tables
    # a main-agent game as a video, drawn by the board renderer
    videos = sorted((runner.folder / "videos").glob("interval_*.gif"))
    assert videos and list(runner.folder.rglob("media/videos/league/main_agent_game*.gif"))
    import imageio.v3 as iio
    frames = iio.imread(videos[-1])
    assert frames.shape[0] >= 6 and frames.shape[1:] == (240, 240, 3)  # 5+ moves of a game
    again = LeagueRunner(stored_config(runner.folder, {"total_timesteps": 4096}), runner.folder)
    assert again.tracker.wandb_run_id == run_id
    again.train()


def test_league_settings_come_from_the_game_then_the_preset_then_flags():
    from ludus.scripts.league import parse

    cfg, _ = parse(["--env-id", "spiel:leduc_poker"])
    assert (cfg.main_exploiters, cfg.minutes, cfg.matchmaking.pfsp_prob) == (0, 60, 0.0)
    cfg, _ = parse(["--preset", "tiny", "--env-id", "spiel:leduc_poker", "--main-exploiters", "2"])
    assert cfg.minutes == 3.0 and cfg.main_exploiters == 2
    assert cfg.matchmaking.pfsp_prob == 0.0 and cfg.matchmaking.main_snapshot_steps == 50_000
    assert parse(["--env-id", "tictactoe"])[0].main_exploiters == LeagueConfig.main_exploiters


def test_poker_league_keeps_the_main_agents_average_policy_as_a_checkpoint(tmp_path):
    from ludus.league.arena import checkpoint_of

    cfg = tiny_config(tmp_path, env_id="spiel:kuhn_poker", config=None, main_exploiters=0,
                      league_exploiters=0, total_timesteps=8192, interval_steps=4096,
                      matchmaking=MatchmakingConfig(pfsp_prob=0.0, verification_prob=0.0,
                                                    main_snapshot_steps=1024))
    runner = LeagueRunner(cfg)
    runner.train()
    main = League.load(runner.folder).players["main_agent_0"]
    assert main.average.startswith("learners/main_agent_0/average_")
    assert [p.name for p in (runner.folder / "learners" / "main_agent_0").glob("average_*")] \
        == [Path(main.average).name]  # the older averages went once league.json moved on
    assert checkpoint_of(str(runner.folder)) == str(runner.folder / main.average)
    rows = [json.loads(x) for x in (runner.folder / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "eval/main_agent_0/average_nash_conv" in r][-1]
    # the checkpoint plays the average policy itself: the same exploitability
    assert last["eval/main_agent_0/average_checkpoint_nash_conv"] == pytest.approx(
        last["eval/main_agent_0/average_nash_conv"], abs=0.02)
    assert last["eval/main_agent_0/average_nash_conv"] < 0.9  # better than uniform (0.917)


def test_an_mmd_league_names_its_main_agents_policy_itself(tmp_path):
    from ludus.league.arena import checkpoint_of

    cfg = tiny_config(tmp_path, env_id="spiel:kuhn_poker", config="mmd_kuhn_poker",
                      exploit_every=1, exploit_minutes=0.05,
                      main_exploiters=0, league_exploiters=0, total_timesteps=4096,
                      interval_steps=2048, matchmaking=MatchmakingConfig(
                          pfsp_prob=0.0, verification_prob=0.0, main_snapshot_steps=1024))
    runner = LeagueRunner(cfg)
    runner.train()
    main = League.load(runner.folder).players["main_agent_0"]
    assert main.average is None and not list(runner.folder.rglob("average_*"))
    assert checkpoint_of(str(runner.folder)) == str(runner.folder / main.checkpoint)
    rows = [json.loads(x) for x in (runner.folder / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/main_agent_0/nash_conv" in r]
    assert evals and not any("eval/main_agent_0/average_nash_conv" in r for r in rows)
    # a learned best response every interval: it wins something, never more than the exact
    # best response (within its sampling noise: the 95% interval's width is about 4 SE)
    for r in evals:
        low, value, high = (r[f"eval/main_agent_0/learned_br{k}"] for k in ("_low", "", "_high"))
        assert low <= value <= r["eval/main_agent_0/nash_conv"] / 2 + (high - low)
    assert any("main_agent_0/loss/magnet_kl" in r for r in rows)


def test_shipped_league_sections_are_valid():
    from ludus.agents.registry import CONFIG_DIR, from_dict, load_config_file

    sections = {p.stem: load_config_file(p.stem).get("league") for p in CONFIG_DIR.glob("*.yaml")}
    sections = {k: v for k, v in sections.items() if v}
    assert {"ppo_connect_four", "ppo_kuhn_poker", "ppo_leduc_poker"} <= set(sections)
    for name, section in sections.items():
        from_dict(LeagueConfig, section, name).validate()


def test_a_league_starts_from_a_cloned_checkpoint_resets_to_it_and_pulls_toward_it(tmp_path):
    from ludus.agents.checkpoint import read_meta
    from ludus.league.recorder import clone_checkpoint, record

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    clone_checkpoint(record("tictactoe", "minimax", "random", 6, seed=0), tmp_path / "bc",
                     config=str(config), epochs=3)
    with pytest.raises(ValueError, match="teacher_kl_coef needs --init"):
        LeagueRunner(tiny_config(tmp_path, teacher_kl_coef=0.1))
    runner = LeagueRunner(tiny_config(tmp_path, init=str(tmp_path / "bc"), teacher_kl_coef=1.0,
                                      league_exploiters=0))
    start = load_policy(tmp_path / "bc").net.state_dict()
    for learner in runner.trainers.values():  # every learner starts from the clone
        for key, value in learner.agent.net.state_dict().items():
            assert torch.equal(value, start[key]), key
    runner.train()
    folder = runner.folder
    for key, value in load_policy(folder / "init").net.state_dict().items():
        assert torch.equal(value, start[key])  # the reset point is the clone
    assert read_meta(folder / "init")["env_id"] == "tictactoe"
    logged = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert any("main_agent_0/loss/teacher_kl" in x for x in logged)
    # the pull: the main agent stays nearer the clone than one trained without the penalty
    free = LeagueRunner(tiny_config(tmp_path, init=str(tmp_path / "bc"), league_exploiters=0,
                                    name="free"))
    free.train()
    positions = record("tictactoe", "random", "random", 30, seed=5)
    teacher = load_policy(tmp_path / "bc")
    pulled, unpulled = (mean_kl(teacher, r.live["main_agent_0"], positions) for r in (runner, free))
    assert pulled < 0.5 * unpulled, (pulled, unpulled)
    # the main exploiter snapshots and resets: to exactly the clone, with a fresh optimizer
    assert League.load(folder).players["main_exploiter_0"].num_snapshots >= 1
    exploiter = runner.trainers["main_exploiter_0"].agent
    assert exploiter.teacher is not None
    steps = exploiter.global_step
    runner._snapshot("main_exploiter_0")
    for key, value in exploiter.net.state_dict().items():
        assert torch.equal(value, start[key]), key
    assert not exploiter.optimizer.state_dict()["state"]
    # its step count goes on: the learner's metrics.jsonl (and a resume's cut) keep order
    assert exploiter.global_step == steps == runner.league.players["main_exploiter_0"].steps


def mean_kl(teacher, student, data):
    """Mean KL(teacher || student) over recorded positions."""
    obs = {"observation": data.obs, "action_mask": data.mask}
    p, _ = teacher.action_probs(obs)
    q, _ = student.action_probs(obs)
    legal = data.mask.astype(bool)
    terms = np.where(legal, p * (np.log(np.maximum(p, 1e-12)) - np.log(np.maximum(q, 1e-12))), 0)
    return float(terms.sum(1).mean())


def test_old_learner_states_go_only_after_league_json_is_on_disk(tmp_path, monkeypatch):
    import shutil

    runner = LeagueRunner(tiny_config(tmp_path, league_exploiters=0, main_exploiters=0))
    events = []
    real_fsync, real_rmtree = os.fsync, shutil.rmtree

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def rmtree(path, *args, **kwargs):
        events.append(("rmtree", str(path)))
        return real_rmtree(path, *args, **kwargs)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    runner._save()  # state_000001 replaces state_000000
    runner.close()
    removed = next(i for i, (kind, p) in enumerate(events)
                   if kind == "rmtree" and p.endswith("state_000000"))
    written = next(i for i, (kind, p) in enumerate(events)
                   if kind == "fsync" and Path(p).name.startswith(".league.") and "partial" in p)
    folder_synced = next(i for i, (kind, p) in enumerate(events)
                         if i > written and kind == "fsync" and p == str(runner.folder.resolve()))
    assert written < folder_synced < removed, events
    league = League.load(runner.folder)
    assert league.players["main_agent_0"].checkpoint.endswith("state_000001")


def test_exploiters_can_reset_to_the_main_agents_latest_snapshot(tmp_path):
    rules = dataclasses.replace(FAST_RULES, reset_to="main_agent")
    runner = LeagueRunner(tiny_config(tmp_path, league_exploiters=0, matchmaking=rules))
    runner.train()
    main = runner.league.players["main_agent_0"]
    assert main.num_snapshots >= 1
    latest = load_policy(runner.folder / "players" / f"main_agent_0.{main.num_snapshots - 1}")
    exploiter = runner.trainers["main_exploiter_0"].agent
    runner._snapshot("main_exploiter_0")
    for key, value in exploiter.net.state_dict().items():  # the main agent's weights
        assert torch.equal(value, latest.net.state_dict()[key]), key
    assert not exploiter.optimizer.state_dict()["state"]  # and a fresh optimizer
    with pytest.raises(LeagueError, match="reset_to main_agent needs exploiters with the main"):
        LeagueRunner(tiny_config(tmp_path, matchmaking=rules, exploiter_config=str(
            tmp_path / "tiny.yaml"), name="other"))
