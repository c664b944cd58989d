"""The league on Ray: `scripts/league.py --backend ray`. This process is the driver: it
prepares the league folder as the local backend does (members, starting model, learners'
first states), then hands the folder to the actors of league/distributed.py, keeps the
rollout workers busy, has snapshots written when the coordinator says they are due, and at
every interval saves, evaluates and tracks exactly as the local backend does.

The folder must be on storage that every node sees at the same path (one machine, or a
shared file system): workers load frozen snapshots from it. The coordinator and the
learners run on the driver's node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents import Trainer
from ludus.agents.checkpoint import load_weights_bytes
from ludus.agents.registry import algo_entry
from ludus.league.config import LeagueConfig
from ludus.league.coordinator import League, LeagueError
from ludus.league.distributed import LEARNER_NICE, Coordinator, Learner, RolloutWorker
from ludus.league.runner import LeagueRunner

DRAIN_SECONDS = 120.0  # how long the end of a run waits for the rollouts in flight


def connect(address: str | None, num_workers: int, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at `address` (or start one on this machine, with `num_cpus`, by
    default all); True if this call started Ray. A cluster that cannot be reached or has
    fewer CPUs than workers is one LeagueError line."""
    import ray

    started = False
    if address not in (None, "auto") and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        try:  # Ray itself retries an unreachable head for minutes
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise LeagueError(f"cannot reach a Ray cluster at --address {address}: "
                              f"{exc}") from None
    if not ray.is_initialized():
        if address is None:  # a cluster of this machine's: its actors start at LEARNER_NICE
            os.environ.setdefault("RAY_worker_niceness", str(LEARNER_NICE))
        try:
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                     log_to_driver=False, logging_level="error")
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LeagueError(f"cannot reach a Ray cluster at --address {address}: {first}") from None
        started = True
    cpus = ray.cluster_resources().get("CPU", 0.0)
    if cpus < num_workers:
        if started:
            ray.shutdown()
        raise LeagueError(f"the Ray cluster has {cpus:g} CPUs, fewer than the {num_workers} "
                          f"rollout workers asked (--num-workers; one CPU each)")
    return started


def cause(exc: Exception) -> str:
    """The first line of what went wrong inside an actor."""
    inner = getattr(exc, "cause", None) or exc
    text = str(inner).strip().splitlines()
    return next((line for line in reversed(text) if line.strip()), type(inner).__name__)


class RayLeagueRunner(LeagueRunner):
    """A LeagueRunner whose learners, games and league state live in Ray actors."""

    backend = "ray"

    def __init__(self, cfg: LeagueConfig, resume: Path | str | None = None) -> None:
        """As LeagueRunner, after joining the Ray cluster (so that a cluster that cannot
        serve fails before the folder is touched)."""
        cfg.validate()
        self.started_ray = connect(cfg.address, cfg.num_workers)
        try:
            super().__init__(cfg, resume)
        except BaseException:
            self._shutdown()
            raise

    def _shutdown(self) -> None:
        if self.started_ray:
            import ray

            ray.shutdown()
            self.started_ray = False

    def _check_backend(self) -> None:
        name = self.cfg.env_id
        if self.sides is not None:
            raise LeagueError(f"{name}: team games run on the local backend only")
        for algo, algo_cfg in [(self.algo, self.algo_cfg), *([self.exploiters[:2]]
                                                             if self.exploiters else [])]:
            cls = algo_entry(algo)[0]
            if not hasattr(cls, "rollout") or getattr(cls, "plays_every_seat", False):
                raise LeagueError(f"the ray backend runs on-policy actor-critic learners (ppo, "
                                  f"a2c, mmd), not {algo}")
            if algo_cfg.net.core != "none":
                raise LeagueError(f"the ray backend runs feed-forward learners, not a "
                                  f"{algo_cfg.net.core} core")
        import ray

        if (self.cfg.learner_device or self.cfg.device) == "cuda" and not ray.cluster_resources(
                ).get("GPU", 0):
            raise LeagueError("--learner-device cuda: the Ray cluster has no GPU")

    # --- actors ----------------------------------------------------------------------------
    def _start(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cfg = self.cfg
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        restart = {"max_restarts": -1, "max_task_retries": -1}
        for trainer in self.trainers.values():  # the learner actors take their folders over
            trainer.close()
            trainer.finished, trainer.team_finished, trainer.metrics = [], [], {}
        learners = self.league.learners()
        steps = {p.id: self._role_config(p)[1].num_envs * self._role_config(p)[1].num_steps
                 for p in learners}
        names = f"ludus-{uuid.uuid4().hex[:8]}-"
        self.coordinator = ray.remote(Coordinator).options(
            name=f"{names}coordinator", num_cpus=0, scheduling_strategy=here, **restart).remote(
            str(self.folder), cfg.menu_size, steps, self.shares())
        device, found = cfg.learner_device or cfg.device, ray.cluster_resources().get("GPU", 0)
        # learners share the cluster's GPUs (a fraction each where there are fewer)
        gpus = min(1.0, found / len(learners)) if device in ("auto", "cuda") and found else 0
        self.learner_actors = {}
        for p in learners:
            algo, algo_cfg = self._role_config(p)
            run = dataclasses.replace(self.runs[p.id], device="cuda" if gpus else "cpu")
            self.learner_actors[p.id] = ray.remote(Learner).options(
                name=f"{names}learner-{p.id}", num_cpus=0, num_gpus=gpus, max_concurrency=4,
                scheduling_strategy=here, **restart).remote(
                str(self.folder), p.id, algo, dataclasses.asdict(algo_cfg),
                dataclasses.asdict(run), names, cfg.max_policy_lag)
        roles = {p.id: (self._role_config(p)[0], dataclasses.asdict(self._role_config(p)[1]),
                        dataclasses.asdict(self.selfplay)) for p in learners}
        self.workers = [ray.remote(RolloutWorker).options(
            num_cpus=1, scheduling_strategy="SPREAD", **restart).remote(
            cfg.env_id, roles, names, cfg.seed + 1000 * (i + 1), cfg.snapshot_cache)
            for i in range(cfg.num_workers)]
        self.actors = [self.coordinator, *self.learner_actors.values(), *self.workers]
        try:
            ray.get([w.ready.remote() for w in self.workers]
                    + [a.latest.remote() for a in self.learner_actors.values()])
        except ray.exceptions.RayError as exc:
            raise LeagueError(f"a league actor failed to start: {cause(exc)}") from None

    def close(self) -> None:
        """Stop the actors (learners release their folders first), then as LeagueRunner."""
        if self.closed:
            return
        try:
            if getattr(self, "actors", None):
                import ray

                for actor in self.learner_actors.values():
                    with contextlib.suppress(ray.exceptions.RayError):  # a dead one holds none
                        ray.get(actor.close.remote(), timeout=30)
                for actor in self.actors:
                    ray.kill(actor, no_restart=True)
        finally:
            try:
                super().close()
            finally:
                self._shutdown()

    # --- the loop --------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """As LeagueRunner.train, with the learners and games in Ray actors."""
        import ray

        try:
            self._start()
            start = time.perf_counter()  # the budget counts from the first job
            running: dict[Any, int] = {}

            def submit(i: int) -> None:
                running[self.workers[i].work.remote(self.coordinator.job.remote())] = i

            for i in range(len(self.workers)):
                submit(i)
            next_save = self.league.total_steps + self.cfg.interval_steps
            told = -1.0
            while (progress := self.progress(start)) < 1.0:
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    i = running.pop(ref)
                    self._absorb(self._result(ref))
                    submit(i)
                if progress - told >= 0.002:  # the learners' schedules follow the budget
                    told = progress
                    for actor in self.learner_actors.values():
                        actor.set_progress.remote(progress)
                if self.league.total_steps >= next_save:
                    start = self._interval(start)
                    next_save += self.cfg.interval_steps
            done, _ = ray.wait(list(running), num_returns=len(running), timeout=DRAIN_SECONDS)
            for ref in done:  # the rollouts in flight report before the last save
                self._absorb(self._result(ref))
            self._interval(start)
        finally:
            self.close()
        return self.summary()

    def _result(self, ref: Any) -> dict[str, Any]:
        import ray

        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # a bug or bad input, not a lost worker
            raise LeagueError(f"a rollout worker failed: {cause(exc)}") from None

    def _absorb(self, result: dict[str, Any]) -> None:
        """A finished job: the league's step count, episode returns, due snapshots."""
        import ray

        self.league.total_steps = max(self.league.total_steps, result["total_steps"])
        self.trainers[result["learner"]].finished += result["returns"]
        for learner, relative in result["due"]:
            actor = self.learner_actors[learner]
            ray.get(actor.save_policy.remote(relative))
            start = ray.get(self.coordinator.snapshot.remote(learner, relative))
            if start is not None:
                actor.reset.remote(start)

    def _interval(self, start: float) -> float:
        self._pull()
        began = time.perf_counter()
        after = super()._interval(start)
        # the workers played on through the evaluation: its time counts toward the budget
        return after - (time.perf_counter() - began)

    def _pull(self) -> None:
        """The coordinator's league, the learners' weights (for evaluation) and metrics."""
        import ray

        self.league = League.from_state(self.folder, ray.get(self.coordinator.state.remote()))
        self.store.league = self.league
        self.pulled: dict[str, dict[str, float]] = {}
        stats = ray.get([w.stats.remote() for w in self.workers])
        workers = {"perf/worker_busy": float(np.mean([s["busy"] for s in stats])),
                   "perf/workers_cpu": float(sum(s["cpu"] for s in stats))}
        if all("rss_mib" in s for s in stats):
            workers["perf/worker_rss_mib"] = max(s["rss_mib"] for s in stats)
            workers["perf/worker_peak_mib"] = max(s["peak_mib"] for s in stats)
        for pid, actor in self.learner_actors.items():
            _, (ref,) = ray.get(actor.latest.remote())
            load_weights_bytes(self.trainers[pid].agent.net, ray.get(ref))
            self.pulled[pid] = {**ray.get(actor.metrics.remote(self.league.players[pid].steps)),
                                **workers}

    def _learner_metrics(self, learner: str, trainer: Trainer) -> dict[str, float]:
        # the learner actor logged its own; the returns come from the workers' games
        return {**self.pulled.get(learner, {}), **trainer.episode_metrics()}

    def _save(self) -> None:
        """Learners' states, then league.json by the coordinator (before the actors start,
        as the local backend)."""
        if not getattr(self, "actors", None):
            return super()._save()
        import ray

        self.league.extra["wandb_run_id"] = self.tracker.wandb_run_id if self.tracker else None
        self.league.extra["config"] = dataclasses.asdict(self.cfg)
        refs = {pid: actor.save_state.remote(f"learners/{pid}/state_{self.league.interval:06d}")
                for pid, actor in self.learner_actors.items()}
        players = {pid: {"checkpoint": ray.get(ref), "average": self.league.players[pid].average}
                   for pid, ref in refs.items()}
        state = ray.get(self.coordinator.save.remote(players, self.league.extra))
        self.league = League.from_state(self.folder, state)
        self.store.league = self.league
        self._prune()

