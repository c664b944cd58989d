"""The league's Ray actors (Moritz et al. 2018): one coordinator, one learner per learning
player, and rollout workers, as in IMPALA's and AlphaStar's actor-learner split.

- The coordinator is the only writer of league state: it hands out match jobs (a learner, a
  menu of opponents drawn by matchmaking, a match id), journals each job's results before
  acknowledging them and counts them once (League.record), registers snapshots and writes
  league.json.
- A learner owns one learning player's Trainer: it takes rollouts, updates, and publishes
  its weights as safetensors bytes in the object store under a version key
  `<incarnation>:<updates>`. Rollouts acted with weights more than `max_policy_lag` updates
  old (or by an earlier incarnation, before a restart) are dropped; younger ones are used
  as PPO uses its own: the clipped ratio to the behaviour policy's log-probs corrects them.
- A rollout worker plays one rollout of batched games for each job, with the learner's
  latest weights; opponents are fixed when a game starts, a learner seated as an opponent
  by the version it had then. Policies are kept in an LRU by (player, version), frozen
  members read from disk, so a worker's memory does not grow with the league.

Every class here is plain Python; league/ray_backend.py wraps them as actors. Actors restart
after a crash (max_restarts=-1) and calls in flight are retried (max_task_retries=-1), which
is why every call is safe to repeat: a job repeated reports under the same match id.
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ludus import envs
from ludus.agents import RunConfig, Trainer
from ludus.agents.checkpoint import load_weights_bytes, weights_bytes
from ludus.agents.loop import play_step
from ludus.agents.policy import Policy
from ludus.agents.registry import algo_entry, from_dict, make_agent
from ludus.league.arena import load_player
from ludus.league.coordinator import League, next_learner
from ludus.league.runner import LeagueSeats, Results, reset_learner
from ludus.league.selfplay import SelfPlayConfig
from ludus.league.snapshots import freeze_files

VERSION_SEP = "#"  # a live opponent's seat key: <player id>#<version key> (ids are plain names)
FETCH_TRIES = 20  # asks for a live learner's weights while it restarts, 0.5 s apart
# Rollout workers run at the lowest priority and learners, the league's serial path, at nice 0
# on a cluster ludus starts (Ray's default puts every actor at 15): a learner is seldom
# preempted (the README's speed table measures it).
WORKER_NICE = 19
LEARNER_NICE = 0


class Usage:
    """An actor's working time (callers add to `busy`) and this process's CPU, each as a
    share of the wall time since the last read."""

    def __init__(self) -> None:
        self.busy, self.since, self.cpu = 0.0, time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        """(busy share, CPU in cores) since the last read; starts the next period."""
        now, cpu = time.perf_counter(), time.process_time()
        wall = max(now - self.since, 1e-9)
        out = self.busy / wall, (cpu - self.cpu) / wall
        self.busy, self.since, self.cpu = 0.0, now, cpu
        return out


class Coordinator:
    """Owner of the league folder while the Ray backend runs it."""

    def __init__(self, folder: str, menu_size: int, rollout_steps: dict[str, int],
                 shares: dict[str, float]) -> None:
        """Load the league (its journal's results since league.json counted). A restarted
        coordinator runs this again and goes on from the files. `shares`: each learner's
        share of the compute."""
        self.league = League.load(folder, resume=True)
        self.menu_size, self.rollout_steps, self.shares = menu_size, rollout_steps, shares
        # steps played or handed out: learners get their shares of experience as on the
        # local backend
        self.issued = {p.id: p.steps for p in self.league.learners()}
        self.epoch, self.count = uuid.uuid4().hex[:12], 0  # match ids never repeat
        self.pending: dict[str, str] = {}  # learner -> snapshot path being written

    def job(self) -> dict[str, Any]:
        """The next match job: a learner and the menu of opponents its games will meet
        (learners among them by id, frozen members with the path they load from)."""
        learner = next_learner(self.issued, self.shares)
        self.issued[learner] += self.rollout_steps[learner]
        self.count += 1
        menu = [self.league.get_match(learner) for _ in range(self.menu_size)]
        players = self.league.players
        return {"match_id": f"{self.epoch}-{self.count}", "learner": learner, "menu": menu,
                "frozen": {o: self.league.policy_path(players[o]) for o in set(menu)
                           if not players[o].learner}}

    def report(self, match_id: str, learner: str, steps: int,
               games: list[tuple[str, int, str]]) -> dict[str, Any]:
        """Record a job's results once (journalled first); returns whether they were new,
        the league's steps and the snapshots now due as (learner, path) for the driver."""
        recorded = self.league.record(match_id, learner, steps, games)
        due = []
        for p in self.league.learners():
            if p.id not in self.pending and self.league.matchmaker.snapshot_due(p.id):
                self.pending[p.id] = f"players/{p.id}.{p.num_snapshots}"
                due.append((p.id, self.pending[p.id]))
        return {"recorded": recorded, "total_steps": self.league.total_steps, "due": due}

    def snapshot(self, learner: str, checkpoint: str) -> str | None:
        """Register a written snapshot (league.json rewritten at once, so no restart loses
        it); returns the model the learner starts again from if its role resets it now."""
        self.league.snapshot(learner, checkpoint)
        self.pending.pop(learner, None)
        start = self.league.reset_start(learner)
        self.league.save(end_interval=False)
        return None if start is None else str(start)

    def checkpoint_of(self, learner: str) -> str:
        """Where a learner's last saved state is (what a restarted learner loads)."""
        return self.league.checkpoint_path(self.league.players[learner])

    def save(self, players: dict[str, dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
        """End an interval: the learners' new checkpoints (and averages), the driver's extra
        state, then league.json; returns the league's state."""
        for pid, fields in players.items():
            for key, value in fields.items():
                setattr(self.league.players[pid], key, value)
        self.league.extra.update(extra)
        self.league.save()
        return self.state()

    def state(self) -> dict[str, Any]:
        """The league as league.json holds it (a read-only view for the driver)."""
        return self.league.state_dict()


class Learner:
    """One learning player's Trainer, fed by rollout workers."""

    def __init__(self, folder: str, player_id: str, algo: str, config: dict[str, Any],
                 run: dict[str, Any], names: str, max_policy_lag: int) -> None:
        """Start from the learner's last saved state, which the coordinator names (a
        restarted learner runs this again). `names`: the prefix of the league's actor names
        (handles are looked up by name: an actor handle among constructor arguments stops
        Ray from restarting the actor reliably, ray-project/ray#53727)."""
        import ray

        coordinator = ray.get_actor(f"{names}coordinator")
        checkpoint = Path(ray.get(coordinator.checkpoint_of.remote(player_id)))
        cfg = from_dict(algo_entry(algo)[1], config, f"learner {player_id}")
        game = run["env_id"]
        self.trainer = Trainer(from_dict(RunConfig, run), cfg, lambda n, seed=None, **_: envs.make(
            game, n, seed, opponent=load_player("random")), resume_from=checkpoint)
        self.trainer.begin()
        self.folder, self.max_policy_lag = Path(folder), max_policy_lag
        self.incarnation, self.version = uuid.uuid4().hex[:12], 0
        self.lags: list[int] = []
        self.dropped = 0
        self.usage = Usage()
        self.lock = threading.Lock()  # everything but latest() takes turns
        self._publish()

    def _publish(self) -> None:
        import ray

        # one assignment: latest() runs on another thread (the actor serves it while an
        # update runs, so workers never wait for one) and sees the old pair or the new one
        self.published = (f"{self.incarnation}:{self.version}",
                          [ray.put(weights_bytes(self.trainer.agent.net))])

    def latest(self) -> tuple[str, list[Any]]:
        """(version key, [weights ref]): the ref in a list, so callers hold it unresolved."""
        return self.published

    def set_progress(self, progress: float) -> None:
        """Fraction of the league's budget spent (the learner's schedules follow it)."""
        self.trainer.agent.progress = progress

    def learn(self, rollout: dict[str, Any], key: str) -> dict[str, Any]:
        """Update from a rollout acted with weights `key`, unless they are too old."""
        with self.lock:
            start = time.perf_counter()
            incarnation, version = key.split(":")
            lag = self.version - int(version) if incarnation == self.incarnation else None
            if lag is None or lag > self.max_policy_lag:
                self.dropped += 1
                return {"lag": lag, "dropped": True}
            agent = self.trainer.agent
            agent.load_rollout(rollout)
            self.trainer.metrics.update(agent.update())
            self.version += 1
            self._publish()
            self.lags.append(lag)
            self.usage.busy += time.perf_counter() - start
            return {"lag": lag, "dropped": False}

    def save_state(self, relative: str) -> str:
        """Everything a restart needs, at `relative` inside the league folder."""
        with self.lock:
            self.trainer.save_state(self.folder / relative)
            return relative

    def save_policy(self, relative: str) -> str:
        """A frozen snapshot of the current weights (read-only files)."""
        with self.lock:
            freeze_files(self.trainer.save_policy(self.folder / relative))
            return relative

    def reset(self, start: str) -> None:
        """Back to `start` (League.reset_start) with a fresh optimizer (a new version)."""
        with self.lock:
            reset_learner(self.trainer, Path(start))
            self.version += 1
            self._publish()

    def metrics(self, step: int) -> dict[str, float]:
        """Update metrics since the last call, with the policy lag and the busy share; they
        are also logged to the learner's own metrics.jsonl at the player's `step`."""
        with self.lock:
            return self._metrics(step)

    def _metrics(self, step: int) -> dict[str, float]:
        busy, cpu = self.usage.read()
        out = {**self.trainer.metrics, "perf/learner_busy": busy, "perf/learner_cpu": cpu,
               "perf/dropped_rollouts": float(self.dropped)}
        if self.lags:
            out["perf/policy_lag"] = float(np.mean(self.lags))
            out["perf/policy_lag_max"] = float(max(self.lags))
        self.trainer.tracker.log(out, step)
        self.trainer.metrics, self.lags, self.dropped = {}, [], 0
        return out

    def close(self) -> None:
        """Release the learner's folder."""
        with self.lock:
            self.trainer.close()


class RolloutWorker:
    """Plays the games of match jobs for any learner of the league."""

    def __init__(self, game: str, roles: dict[str, tuple[str, dict[str, Any], dict[str, Any]]],
                 names: str, seed: int, cache_size: int) -> None:
        """`roles`: per learner, (algorithm, config, self-play settings); `names`: the
        prefix of the league's actor names (as Learner)."""
        import ray

        envs.make_game(game, 1, seed)  # a game this machine cannot make fails here, in one line
        torch.set_num_threads(1)  # one CPU per worker; acting is many small forward passes
        os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICE)
        self.game, self.roles, self.seed, self.cache_size = game, roles, seed, cache_size
        self.coordinator = ray.get_actor(f"{names}coordinator")
        self.learners = {pid: ray.get_actor(f"{names}learner-{pid}") for pid in roles}
        self.slots: dict[str, dict[str, Any]] = {}
        self.cache: OrderedDict[str, Any] = OrderedDict()  # seat key -> policy (LRU)
        self.pending: dict[str, Any] = {}  # learner -> its learn() call in flight
        self.loads = 0
        self.usage = Usage()

    def ready(self) -> bool:
        """True once constructed (the driver waits on it to surface a failed start)."""
        return True

    def _slot(self, learner: str) -> dict[str, Any]:
        """The learner's games on this worker: env, seats and an acting copy of its agent."""
        if learner not in self.slots:
            algo, config, selfplay = self.roles[learner]
            cfg = from_dict(algo_entry(algo)[1], config, f"learner {learner}")
            sp = from_dict(SelfPlayConfig, selfplay, f"learner {learner}")
            slot: dict[str, Any] = {"games": [], "key": None, "menu": []}
            seed = self.seed + len(self.slots)
            seats = LeagueSeats(lambda: slot["menu"], self._player, cfg.num_envs,
                                sp.opponent_epsilon, seed)
            versus = envs.make(self.game, cfg.num_envs, seed, opponent=seats,
                               opening_moves=sp.opening_moves)
            env = Results(versus, seats, lambda away, seat, outcome: slot["games"].append(
                (away.split(VERSION_SEP)[0], seat, outcome)))
            agent = make_agent(algo, cfg, env.single_observation_space,
                               env.single_action_space, seed, "cpu")
            slot.update(env=env, seats=seats, agent=agent, obs=None, seed=seed,
                        ep_return=np.zeros(cfg.num_envs), ep_length=np.zeros(cfg.num_envs, int),
                        steps=cfg.num_envs * cfg.num_steps, num_steps=cfg.num_steps)
            self.slots[learner] = slot
        return self.slots[learner]

    def _player(self, key: str) -> Any:
        """The policy for a seat key, from the LRU (a live learner's key names its version)."""
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        import ray

        if VERSION_SEP in key:
            pid, version = key.split(VERSION_SEP)
            slot = self._slot(pid)
            env = slot["env"]
            # a copy of the learner's acting net, then its weights: a fresh net's orthogonal
            # init cost about 20x the copy, once per live opponent version
            net = copy.deepcopy(slot["agent"].net).eval()
            data = self._versions[key]
            load_weights_bytes(net, data if isinstance(data, bytes) else ray.get(data))
            policy = Policy(net, env.single_observation_space, env.single_action_space, "cpu",
                            self.seed)
        else:
            policy = load_player(self._frozen[key], seed=self.seed + self.loads)
        self.loads += 1
        self.cache[key] = policy
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return policy

    def _latest(self, learner: str, cached: Any) -> tuple[str, Any, bytes | None]:
        """A live learner's version key, weights ref and weights (None where `cached(key)`).
        Its objects die with it: weights published by a learner that was killed since are
        asked for again from the restarted one."""
        import ray

        for attempt in range(1, FETCH_TRIES + 1):
            key, (ref,) = ray.get(self.learners[learner].latest.remote())
            try:
                return key, ref, None if cached(key) else ray.get(ref)
            except ray.exceptions.ObjectLostError:
                if attempt == FETCH_TRIES:
                    raise
                time.sleep(0.5)
        raise ValueError("FETCH_TRIES must be positive")

    def work(self, job: dict[str, Any]) -> dict[str, Any]:
        """Play one rollout of the job's learner against the job's menu, send the rollout to
        the learner and the finished games to the coordinator; returns what the driver
        tracks."""
        import ray

        start = time.perf_counter()
        learner = job["learner"]
        slot = self._slot(learner)
        key, _, data = self._latest(learner, lambda k: k == slot["key"])
        if data is not None:
            load_weights_bytes(slot["agent"].net, data)
            slot["key"] = key
        self._frozen, self._versions, menu = job["frozen"], {}, []
        for opponent in job["menu"]:
            if opponent in self.learners:  # a live learner plays with the version it has now
                version, ref, data = self._latest(
                    opponent, lambda k, o=opponent: f"{o}{VERSION_SEP}{k}" in self.cache)
                opponent = f"{opponent}{VERSION_SEP}{version}"
                self._versions[opponent] = ref if data is None else data  # (ref: if evicted)
            menu.append(opponent)
        slot["menu"], slot["games"] = menu, []
        slot["seats"].menu = menu
        env, agent, obs = slot["env"], slot["agent"], slot["obs"]
        if obs is None:  # the first games start with the first menu
            obs, _ = env.reset(seed=slot["seed"])
        returns: list[tuple[float, int]] = []  # (return, length) of the learner's episodes
        ep_return, ep_length = slot["ep_return"], slot["ep_length"]
        for _ in range(slot["num_steps"]):
            obs, reward, ended, _ = play_step(agent, env, obs)
            ep_return += reward
            ep_length += 1
            returns += [(float(ep_return[i]), int(ep_length[i])) for i in np.flatnonzero(ended)]
            ep_return[ended], ep_length[ended] = 0.0, 0
        slot["obs"] = obs
        rollout = agent.rollout()
        learned = None
        if learner in self.pending:  # one rollout in flight per learner: back-pressure
            learned = _outcome(self.pending.pop(learner))
        self.pending[learner] = self.learners[learner].learn.remote(rollout, slot["key"])
        report = ray.get(self.coordinator.report.remote(job["match_id"], learner, slot["steps"],
                                                         slot["games"]))
        self.usage.busy += time.perf_counter() - start
        return {"learner": learner, "steps": slot["steps"], "games": len(slot["games"]),
                "returns": returns, "learned": learned, **report}

    def stats(self) -> dict[str, float]:
        """Since the last call: the share of the time this worker spent working and the
        CPU it used (cores); its resident memory and peak (MiB, from /proc), and how many
        policies it loaded."""
        busy, cpu = self.usage.read()
        return {"busy": busy, "cpu": cpu, "loads": float(self.loads), **resident_mib()}


def resident_mib() -> dict[str, float]:
    """This process's resident memory and its peak (`rss_mib`, `peak_mib`, from /proc);
    empty where there is no /proc."""
    status = Path("/proc/self/status")
    if not status.exists():
        return {}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
    return {"rss_mib": int(fields["VmRSS"].split()[0]) / 1024,
            "peak_mib": int(fields["VmHWM"].split()[0]) / 1024}


def _outcome(ref: Any) -> dict[str, Any] | None:
    """A learn() call's result; None when its learner died meanwhile (the rollout is lost,
    as one acted by a previous incarnation would be dropped anyway)."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError:
        return None
