"""The league on Ray: the same league as the local backend, results counted once whatever
dies (rollout workers, learners, the coordinator, a node), resumable on either backend."""

import json
import os
import sys
import threading
import time

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one test process holds the shared Ray instance

from ludus.agents import load_policy  # noqa: E402
from ludus.league.config import LeagueConfig, stored_config  # noqa: E402
from ludus.league.coordinator import League, LeagueError  # noqa: E402
from ludus.league.distributed import LEARNER_NICE, WORKER_NICE  # noqa: E402
from ludus.league.ray_backend import RayLeagueRunner, connect  # noqa: E402
from ludus.league.runner import LeagueRunner  # noqa: E402
from tests.league.test_league import tiny_config  # noqa: E402


@pytest.fixture
def ray_local():
    """One Ray instance with 2 CPUs for the tests that share it (started once; a test that
    needs its own cluster shuts it down and the next one starts it again)."""
    connect(None, 2, num_cpus=2)
    yield


def ray_config(tmp_path, **kw):
    return tiny_config(tmp_path, **{"backend": "ray", "num_workers": 2, "league_exploiters": 0,
                                    **kw})


def check_invariants(folder, played=True):
    """league.json and every checkpoint it names load; each game is counted once."""
    league = League.load(folder, resume=True)  # (a resume counts the journal's tail)
    matches = league.journal_matches()
    assert len(matches) == len(set(matches)), "a match id was journalled twice"
    assert league.num_games == len(matches) and (len(matches) > 0 or not played)
    for player in league.players.values():
        if player.role != "fixed":
            load_policy(league.folder / player.checkpoint)
    return league


def niceness(actor_class):
    """The nice values of this machine's processes that run a `actor_class` actor."""
    from pathlib import Path

    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.joinpath("cmdline").read_bytes().startswith(f"ray::{actor_class}".encode()):
                found.add(os.getpriority(os.PRIO_PROCESS, int(proc.name)))
        except OSError:  # (a process that ended meanwhile)
            pass
    return found


def test_ray_league_trains_snapshots_and_counts_every_game_once(tmp_path, ray_local):
    runner = RayLeagueRunner(ray_config(tmp_path, total_timesteps=8000, exploiter_share=0.5))
    thread, out = run_in_thread(runner)
    wait_for(lambda: runner.league.total_steps > 0 or "error" in out)
    if sys.platform == "linux":  # the learners, the serial path, run above the workers
        assert niceness("Learner") == {LEARNER_NICE}
        assert niceness("RolloutWorker") == {WORKER_NICE}
    thread.join(timeout=300)
    assert "error" not in out, out.get("error")
    summary = out["summary"]
    league = check_invariants(summary["folder"])
    assert league.total_steps >= 8000
    # jobs follow the compute shares (2 main agent steps per exploiter step), as locally
    main, exploiter = (league.players[p].steps for p in ("main_agent_0", "main_exploiter_0"))
    assert 1.5 * exploiter <= main <= 2.5 * exploiter, (main, exploiter)
    assert [p.role for p in league.players.values()].count("snapshot") >= 3  # (with .init)
    lags = [line for line in (league.folder / "metrics.jsonl").read_text().splitlines()
            if "main_agent_0/perf/policy_lag" in line]
    assert lags  # the policy lag is tracked
    last = json.loads(lags[-1])  # and the CPU each kind of actor used, in cores
    assert 0 < last["main_agent_0/perf/learner_cpu"] <= 1.5
    assert 0 < last["main_agent_0/perf/workers_cpu"] <= 2 * 1.5
    # the learners' schedules and states went on in their own folders
    assert (league.folder / "learners" / "main_agent_0" / "metrics.jsonl").exists()


def test_a_ray_league_resumes_on_either_backend(tmp_path, ray_local):
    folder = RayLeagueRunner(ray_config(tmp_path, total_timesteps=2000)).train()["folder"]
    LeagueRunner(stored_config(folder, {"total_timesteps": 3000, "backend": "local"}),
                 folder).train()
    league = check_invariants(folder)
    assert league.total_steps >= 3000
    RayLeagueRunner(stored_config(folder, {"total_timesteps": 4000}), folder).train()
    assert check_invariants(folder).total_steps >= 4000
    with pytest.raises(LeagueError, match="ray backend.*resume it"):
        LeagueRunner(ray_config(tmp_path))


def run_in_thread(runner):
    out = {}

    def target():
        try:
            out["summary"] = runner.train()
        except BaseException as exc:  # surfaced by the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def free(lock):
    """Whether no process holds a folder's lock (the learner actors of a killed driver
    release theirs when Ray ends them)."""
    from filelock import FileLock, Timeout

    try:
        FileLock(str(lock), timeout=0).acquire().lock.release()
    except Timeout:
        return False
    return True


def wait_for(condition, timeout=120.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_killed_actors_restart_and_no_result_is_lost_or_counted_twice(tmp_path, ray_local):
    """A rollout worker (always inside a rollout: its games are dropped and its job
    replayed under the same match id), a learner (back from its saved state) and the
    coordinator (back from league.json and the journal), one after another."""
    runner = RayLeagueRunner(ray_config(tmp_path, total_timesteps=10000))
    thread, out = run_in_thread(runner)
    for steps, kill in ((2000, lambda: runner.workers[0]),
                        (4000, lambda: runner.learner_actors["main_agent_0"]),
                        (6000, lambda: runner.coordinator)):
        wait_for(lambda s=steps: getattr(runner, "actors", None)
                 and runner.league.total_steps >= s or "error" in out)
        if thread.is_alive():
            ray.kill(kill(), no_restart=False)
    thread.join(timeout=300)
    assert "error" not in out, out.get("error")
    league = check_invariants(out["summary"]["folder"])
    assert league.total_steps >= 10000
    assert league.players["main_agent_0"].steps > 4000  # half the steps: it went on


def test_bad_ray_settings_are_one_line(tmp_path, ray_local):
    with pytest.raises(LeagueError, match="cannot reach a Ray cluster at --address 127.0.0.1:1"):
        RayLeagueRunner(ray_config(tmp_path, address="127.0.0.1:1"))
    with pytest.raises(LeagueError, match="2 CPUs, fewer than the 5 rollout workers"):
        RayLeagueRunner(ray_config(tmp_path, num_workers=5))
    assert not (tmp_path / "leagues").exists()  # nothing written
    recurrent = tmp_path / "lstm.yaml"
    recurrent.write_text((tmp_path / "tiny.yaml").read_text().replace(
        "activation: relu}", "activation: relu, core: lstm}"))
    with pytest.raises(LeagueError, match="feed-forward learners"):
        RayLeagueRunner(ray_config(tmp_path, config=str(recurrent)))
    assert not (tmp_path / "leagues" / "t" / "league.json").exists()  # still free to start
    dqn = tmp_path / "dqn.yaml"
    dqn.write_text("algo: dqn\nnum_envs: 4\nnet: {encoder: mlp, hidden: [32]}\n")
    with pytest.raises(LeagueError, match="actor-critic learners .* not dqn"):
        RayLeagueRunner(ray_config(tmp_path, config=str(dqn)))
    with pytest.raises(LeagueError, match="learner-device cuda: the Ray cluster has no GPU"):
        RayLeagueRunner(ray_config(tmp_path, learner_device="cuda", name="gpu"))
    with pytest.raises(ValueError, match="backend is local or ray"):
        LeagueConfig(backend="spark").validate()


def test_a_worker_that_cannot_make_the_game_says_so_in_one_line(ray_local):
    """(as on a node without the game's extra installed)"""
    from ludus.league.distributed import RolloutWorker
    from ludus.league.ray_backend import cause

    worker = ray.remote(RolloutWorker).options(max_restarts=-1).remote(
        "spiel:no_such_game", {}, "nobody-", 0, 1)
    with pytest.raises(ray.exceptions.RayError) as failed:
        ray.get(worker.ready.remote(), timeout=60)
    assert "no_such_game" in cause(failed.value) and "\n" not in cause(failed.value)


def test_a_league_survives_a_node_removed_mid_run(tmp_path):
    """A head and two 1-CPU nodes; the node of one worker leaves mid-run."""
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level="error")
        cluster.wait_for_nodes()
        runner = RayLeagueRunner(ray_config(tmp_path, total_timesteps=8000))
        thread, out = run_in_thread(runner)
        wait_for(lambda: getattr(runner, "actors", None) and runner.league.total_steps >= 2000)
        cluster.remove_node(nodes[1])
        cluster.add_node(num_cpus=1)  # a replacement, where the lost worker restarts
        thread.join(timeout=300)
        assert "error" not in out, out.get("error")
        assert check_invariants(out["summary"]["folder"]).total_steps >= 8000
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_kill_9_of_the_driver_at_random_moments_20_times(tmp_path):
    """The driver (and with it the Ray instance it started) killed 20 times, at random
    moments of starting, training and saving: every resume goes on, and after each kill
    league.json and every checkpoint load and every game counts once."""
    import random
    import signal
    import subprocess
    import sys

    from tests.league.test_league import ROOT

    config = tiny_config(tmp_path)  # writes tiny.yaml
    folder = tmp_path / "leagues" / "k"
    base = [sys.executable, str(ROOT / "scripts" / "league.py")]
    start = [*base, "--env-id", "tictactoe", "--config", config.config, "--backend", "ray",
             "--league-dir", str(tmp_path / "leagues"), "--name", "k", "--no-console",
             "--total-timesteps", "400000", "--interval-steps", "4096"]
    rng = random.Random(0)
    for _ in range(20):
        command = start if not (folder / "league.json").exists() else [
            *base, "--resume", str(folder), "--total-timesteps", "400000", "--no-console"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(3.0, 20.0))
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)  # the driver alone: its Ray instance follows it
        proc.wait()
        wait_for(lambda: all(free(lock) for lock in folder.glob("learners/*/.lock")), 60)
        if (folder / "league.json").exists():
            check_invariants(folder, played=False)
    done = subprocess.run([*base, "--resume", str(folder), "--total-timesteps", "1",
                           "--no-console"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert check_invariants(folder).total_steps > 0
