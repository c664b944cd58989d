"""The training loop every algorithm shares: act, step, observe, update, evaluate, checkpoint."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from ludus.agents.checkpoint import (
    CheckpointError,
    load_train_state,
    load_weights,
    point_latest,
    read_meta,
    resolve_checkpoint,
    save_checkpoint,
    space_to_json,
)
from ludus.agents.core import Step, resolve_device
from ludus.agents.evaluate import evaluate, record_episode
from ludus.agents.files import UnsafePathError, WriterLock, atomic_dir, inside, numbered
from ludus.agents.policy import Policy
from ludus.agents.registry import algo_entry, closest, from_dict, make_agent, net_kind
from ludus.agents.tracking import Tracker, WandbConfig

EnvFactory = Callable[..., gym.vector.VectorEnv]
"""make_env(num_envs, seed, **kwargs) -> a vector env with same-step autoreset."""


@dataclass
class RunConfig:
    """What to train on, for how long, and where results go."""

    algo: str = "ppo"
    """Algorithm: dqn, reinforce, a2c, ppo, ppo-lstm, mmd, sac, td3, alphazero."""
    env_id: str = "CartPole-v1"
    """Environment id (see envs.make)."""
    seed: int = 1
    """Seed for weights, sampling and environments."""
    total_timesteps: int | None = None
    """Environment steps to train (default 100000, or unlimited when --minutes is set)."""
    minutes: float | None = None
    """Wall-clock budget in minutes (the run ends at whichever budget runs out first)."""
    device: str = "cpu"
    """cpu, cuda, or auto (CUDA when available)."""
    torch_threads: int = 1
    """torch intra-op threads (small nets run fastest on one)."""
    vectorization: Literal["auto", "native", "sync", "async"] = "auto"
    """native: ludus's batched env; sync/async: Gymnasium's; auto: native where one exists."""
    eval_every: int = 10_000
    """Evaluate the greedy policy every this many steps (0: only at the end)."""
    eval_episodes: int = 20
    """Episodes per evaluation."""
    eval_target: float | None = None
    """Stop once the greedy evaluation mean return reaches this."""
    checkpoint_every: int = 50_000
    """Save a checkpoint every this many steps (and always at the end)."""
    keep_checkpoints: int = 3
    """How many step checkpoints to keep (at least 1: the latest is what --resume reads)."""
    log_every: int = 2_000
    """Log training metrics every this many steps."""
    run_dir: str = "runs"
    """Parent folder of run folders."""
    run_name: str | None = None
    """Run folder name (default env__algo__seed__time)."""
    track: bool = False
    """Log to Weights & Biases (honours WANDB_MODE=offline)."""
    tensorboard: bool = False
    """Also write TensorBoard event files to <run>/tb/."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """Weights & Biases settings."""
    capture_video: bool = False
    """Record one greedy episode per evaluation (GIF, and wandb.Video when tracking)."""
    console: bool = True
    """Show a progress bar."""

    def validate(self) -> None:
        """Raise ValueError for budgets and intervals that make no sense."""
        algo_entry(self.algo)
        if self.total_timesteps is not None and self.total_timesteps <= 0:
            raise ValueError(f"total_timesteps must be positive, got {self.total_timesteps}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        for name in ("eval_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.eval_episodes <= 0:
            raise ValueError(f"eval_episodes must be positive, got {self.eval_episodes}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1 (the latest checkpoint is what "
                             f"--resume reads), got {self.keep_checkpoints}")

    @property
    def budget_steps(self) -> float:
        """The step budget (infinite when only minutes bound the run)."""
        if self.total_timesteps is not None:
            return self.total_timesteps
        return float("inf") if self.minutes is not None else 100_000


def split_config(data: dict[str, Any], where: str = "config") -> tuple[RunConfig, Any]:
    """(RunConfig, algorithm config) from one flat dict of run and algorithm keys."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping of option names to values")
    run_keys = {f.name for f in dataclasses.fields(RunConfig)}
    algo = data.get("algo", RunConfig.algo)
    try:
        _, cfg_cls = algo_entry(algo)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    algo_keys = {f.name for f in dataclasses.fields(cfg_cls)}
    for key in data:
        if key not in run_keys and key not in algo_keys:
            raise ValueError(f"unknown key {key!r} in {where} for algo {algo!r}"
                             f"{closest(str(key), run_keys | algo_keys)}")
    run = from_dict(RunConfig, {k: v for k, v in data.items() if k in run_keys}, where)
    cfg = from_dict(cfg_cls, {k: v for k, v in data.items() if k in algo_keys}, where)
    return run, cfg


def final_observation(next_obs: Any, info: dict[str, Any], ended: np.ndarray) -> Any:
    """next_obs with the rows of ended episodes replaced by their last observation."""
    if not ended.any() or "final_obs" not in info:
        return next_obs
    rows = np.flatnonzero(info["_final_obs"])
    if isinstance(next_obs, dict):
        out = {k: v.copy() for k, v in next_obs.items()}
        for i in rows:
            for k in out:
                out[k][i] = info["final_obs"][i][k]
        return out
    out = next_obs.copy()
    for i in rows:
        out[i] = info["final_obs"][i]
    return out


def play_step(agent: Any, env: gym.vector.VectorEnv, obs: Any
              ) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """Every env steps once with the agent's actions and the agent records the transition;
    returns (next_obs, reward, ended, info)."""
    actions = agent.act(obs)
    next_obs, reward, terminated, truncated, info = env.step(actions)
    ended = terminated | truncated
    agent.observe(Step(obs, actions, reward, terminated, truncated, next_obs,
                       final_observation(next_obs, info, ended), info.get("active")))
    return next_obs, reward, ended, info


def run_name(run: RunConfig) -> str:
    """'<algo> run on <env id>', for messages."""
    return f"{run.algo} run on {run.env_id}"


def default_run_name(run: RunConfig) -> str:
    """env__algo__seed__unixtime with path-unsafe characters replaced."""
    env = re.sub(r"[^A-Za-z0-9_.-]", "_", run.env_id)
    return f"{env}__{run.algo}__{run.seed}__{int(time.time())}"


class Trainer:
    """Owns one run: env, agent, tracker, evaluation and checkpoints."""

    def __init__(self, run: RunConfig, cfg: Any, make_env: EnvFactory,
                 resume_from: Path | None = None, make_eval_env: EnvFactory | None = None,
                 on_update: Callable[[Trainer, dict[str, float]], None] | None = None,
                 on_eval: Callable[[Policy], dict[str, float]] | None = None) -> None:
        """`make_eval_env` builds evaluation envs (default: make_env); `on_update` is called
        after every learning update with the trainer and its metrics (self-play uses it to
        snapshot the learner); `on_eval` adds metrics of the evaluated policy (such as its
        exploitability)."""
        run.validate()
        self.run, self.cfg, self.make_env = run, cfg, make_env
        self.make_eval_env = make_eval_env or make_env
        self.on_update, self.on_eval = on_update, on_eval
        self.run_path = Path(run.run_dir) / (run.run_name or default_run_name(run))
        run.run_name = self.run_path.name
        torch.set_num_threads(run.torch_threads)
        # Adam's second moments decay into the float32 denormal range, where x86 arithmetic
        # is 10-100x slower; flushing them to zero changes nothing a net can notice.
        torch.set_flush_denormal(True)
        self.device = resolve_device(run.device)
        self.env = make_env(cfg.num_envs, run.seed, vectorization=run.vectorization)
        try:
            if run.capture_video and getattr(self.env, "team_size", 1) > 1:
                raise ValueError(f"--capture-video records one agent's episode; {run.env_id} "
                                 f"has {self.env.team_size} agents per copy (no video yet)")
            self._build(resume_from)
        except BaseException:
            self.env.close()
            raise

    def _build(self, resume_from: Path | None) -> None:
        """The agent (restored when resuming: read only, so a bad checkpoint changes nothing),
        then the run folder's lock, then what is written there."""
        run = self.run
        self.agent = make_agent(run.algo, self.cfg, self.env.single_observation_space,
                                self.env.single_action_space, run.seed, self.device)
        if hasattr(self.agent, "attach"):  # a searching agent plays copies of the env's games
            self.agent.attach(self.env)
        self.rng = np.random.default_rng(run.seed)
        self.train_seconds = 0.0
        self.next_eval, self.next_checkpoint = run.eval_every, run.checkpoint_every
        self.best_eval = -float("inf")
        self.last_eval_step = -1
        self.solved: dict[str, Any] | None = None
        wandb_id = None
        if resume_from is not None:
            wandb_id = self._restore(resume_from)
        self.lock = WriterLock(self.run_path)
        try:
            if resume_from is None:
                self.cfg = own_teacher(self.cfg, self.run_path)
            self.tracker = Tracker(
                self.run_path, run.run_name, {"run": dataclasses.asdict(run),
                                              "algo": dataclasses.asdict(self.cfg)},
                console=run.console, total=None if run.total_timesteps is None and run.minutes
                else int(run.budget_steps), wandb=run.wandb if run.track else None,
                wandb_run_id=wandb_id, tensorboard=run.tensorboard,
                resume_step=None if resume_from is None else self.global_step)
        except BaseException:
            self.lock.release()
            raise

    def _restore(self, path: Path) -> str | None:
        """Weights, optimizer, RNG and loop counters from a checkpoint; anything in its files
        that does not fit is one CheckpointError naming it."""
        load_weights(self.agent.net, path)
        state = load_train_state(path)
        try:
            self.agent.load_train_state(state["agent"])
            loop = state["loop"]
            self.rng.bit_generator.state = loop["rng"]
            self.train_seconds, self.next_eval = float(loop["train_seconds"]), int(loop["next_eval"])
            self.next_checkpoint = int(loop["next_checkpoint"])
            self.best_eval = float(loop["best_eval"])
            wandb_id = loop.get("wandb_run_id")
            if wandb_id is not None and not isinstance(wandb_id, str):
                raise TypeError(f"wandb_run_id {wandb_id!r} is not a string")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"{Path(path) / 'train_state.json'} does not fit this "
                                  f"{run_name(self.run)}: {type(exc).__name__}: {exc}"
                                  .splitlines()[0][:300]) from None
        return wandb_id

    @property
    def global_step(self) -> int:
        return self.agent.global_step

    def progress(self, start: float) -> float:
        """Fraction of the budget spent: the larger of the step and time fractions."""
        frac = self.global_step / self.run.budget_steps
        if self.run.minutes is not None:
            frac = max(frac, (self.train_seconds + time.perf_counter() - start)
                       / (60 * self.run.minutes))
        return min(frac, 1.0)

    def train(self) -> dict[str, Any]:
        """Run until the budget is spent or eval_target is reached; returns a summary."""
        try:
            return self._loop()
        finally:
            self.close()

    def close(self) -> None:
        """Close the envs and the tracker, and let the next writer into the run folder."""
        try:
            self.env.close()
            self.tracker.close()
        finally:
            self.lock.release()

    def begin(self) -> None:
        """Reset the envs and the episode counters (train() calls it; a league steps its
        learners itself with begin() and advance())."""
        n = self.cfg.num_envs
        self.obs, _ = self.env.reset(seed=int(self.rng.integers(2**31)))
        self.ep_return, self.ep_length = np.zeros(n), np.zeros(n, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []  # (return, length) since the last log
        self.team_finished: list[float] = []  # team returns (envs.parallel) since the last log
        self.metrics: dict[str, float] = {}  # update metrics since the last log

    def advance(self) -> bool:
        """Every env steps once, then the agent learns if it is ready; True after an update."""
        agent = self.agent
        next_obs, reward, ended, info = play_step(agent, self.env, self.obs)
        active = info.get("active")
        if active is not None and not active.all() and not getattr(agent, "masks_inactive",
                                                                    False):
            raise ValueError(f"{self.run.env_id} has agents that leave an episode early, and "
                             f"{self.run.algo} cannot leave their rows out of its updates: "
                             f"use ppo or a2c")
        if "_team_return" in info and info["_team_return"].any():
            self.team_finished += info["team_return"][info["_team_return"]].tolist()
        self.obs = next_obs
        self.ep_return += reward
        self.ep_length += 1 if active is None else active  # sat-out steps do not count
        if ended.any():
            self.finished += [(self.ep_return[i], self.ep_length[i]) for i in np.flatnonzero(ended)]
            self.ep_return[ended], self.ep_length[ended] = 0.0, 0
        if not agent.ready():
            return False
        self.metrics.update(agent.update())
        if self.on_update is not None:
            self.on_update(self, self.metrics)
        return True

    def episode_metrics(self) -> dict[str, float]:
        """Mean return and length of the episodes finished since the last call (an agent's
        own, for envs of many agents), and the mean team return where the env reports it."""
        out = {}
        if self.finished:
            out = {"charts/episodic_return": float(np.mean([r for r, _ in self.finished])),
                   "charts/episodic_length": float(np.mean([k for _, k in self.finished]))}
        if self.team_finished:
            out["charts/team_return"] = float(np.mean(self.team_finished))
        self.finished, self.team_finished = [], []
        return out

    def _loop(self) -> dict[str, Any]:
        run, agent = self.run, self.agent
        self.begin()
        start, last_log, steps_at_log = time.perf_counter(), self.global_step, self.global_step
        time_at_log = self.train_seconds
        while (p := self.progress(start)) < 1.0:
            agent.progress = p
            self.advance()
            if self.global_step - last_log >= run.log_every:
                elapsed = self.train_seconds + time.perf_counter() - start
                metrics = {**self.metrics, **self.episode_metrics(), "perf/sps": (
                    self.global_step - steps_at_log) / max(elapsed - time_at_log, 1e-9)}
                self.tracker.log(metrics, self.global_step)
                self.metrics = {}
                last_log, steps_at_log, time_at_log = self.global_step, self.global_step, elapsed
            due_eval = run.eval_every and self.global_step >= self.next_eval
            due_ckpt = run.checkpoint_every and self.global_step >= self.next_checkpoint
            if due_eval or due_ckpt:
                self.train_seconds += time.perf_counter() - start
                if due_eval:
                    self.next_eval += run.eval_every
                    if self._evaluate():
                        break
                if due_ckpt:
                    self.next_checkpoint += run.checkpoint_every
                    self.save()
                start = time.perf_counter()
        else:
            self.train_seconds += time.perf_counter() - start
            if self.last_eval_step != self.global_step:
                self._evaluate()
        checkpoint = self.save()
        return {"run_dir": str(self.run_path), "checkpoint": str(checkpoint),
                "global_step": self.global_step, "train_seconds": self.train_seconds,
                "best_eval": self.best_eval, "solved": self.solved}

    def policy(self) -> Policy:
        """The agent's current greedy-capable policy."""
        return Policy(self.agent.net, self.env.single_observation_space,
                      self.env.single_action_space, self.device, self.run.seed)

    def _evaluate(self) -> bool:
        """Greedy evaluation (not counted in train time); True when eval_target is reached."""
        run = self.run
        self.last_eval_step = self.global_step
        policy = self.policy()
        # an env of many agents evaluates eval_episodes copies, each a team's episode
        rows = run.eval_episodes * getattr(self.env, "team_size", 1)
        returns = evaluate(policy, self.make_eval_env, rows, seed=run.seed + 10_000)
        mean = float(np.mean(returns))
        self.best_eval = max(self.best_eval, mean)
        metrics = {"eval/return_mean": mean, "eval/return_std": float(np.std(returns)),
                   "time/train_seconds": self.train_seconds}
        if self.on_eval is not None:
            metrics.update(self.on_eval(policy))
        self.tracker.log(metrics, self.global_step)
        if run.capture_video:
            path = record_episode(policy, self.make_eval_env, self.run_path / "videos"
                                  / f"step_{self.global_step:09d}.gif", seed=run.seed)
            self.tracker.log_video("eval/video", path, self.global_step)
        if run.eval_target is not None and mean >= run.eval_target and not self.solved:
            self.solved = {"step": self.global_step, "train_seconds": self.train_seconds,
                           "return_mean": mean}
            return True
        return False

    def meta(self) -> dict[str, Any]:
        """What a checkpoint of the current learner records beside its weights."""
        run, env = self.run, self.env
        return {
            "algo": run.algo, "net_kind": net_kind(run.algo), "env_id": run.env_id,
            "net_spec": self.cfg.net.to_json(),
            "obs_space": space_to_json(env.single_observation_space),
            "action_space": space_to_json(env.single_action_space),
            "global_step": self.global_step, "num_updates": self.agent.num_updates,
            "config": dataclasses.asdict(self.cfg), "run": dataclasses.asdict(run),
        }

    def save_policy(self, path: Path) -> Path:
        """Write the current weights as a checkpoint without training state (a snapshot)."""
        return save_checkpoint(path, self.agent.net, self.meta())

    def save_state(self, path: Path) -> Path:
        """Write a checkpoint with everything --resume needs (optimizer, RNG, loop counters)."""
        loop = {"rng": self.rng.bit_generator.state, "train_seconds": self.train_seconds,
                "next_eval": self.next_eval, "next_checkpoint": self.next_checkpoint,
                "best_eval": self.best_eval,
                "wandb_run_id": self.tracker.wandb_run_id}
        return save_checkpoint(path, self.agent.net, self.meta(),
                               {"agent": self.agent.train_state(), "loop": loop})

    def save(self) -> Path:
        """Write checkpoints/step_<N> atomically, repoint `latest`, prune old ones."""
        checkpoints = self.run_path / "checkpoints"
        path = self.save_state(checkpoints / f"step_{self.global_step:09d}")
        point_latest(checkpoints, path)
        for old in numbered(checkpoints, "step_")[: -self.run.keep_checkpoints]:
            if old != path:
                shutil.rmtree(old, ignore_errors=True)
        return path


def train(run: RunConfig, cfg: Any, make_env: EnvFactory) -> dict[str, Any]:
    """Train `run.algo` with config `cfg` on envs from `make_env`; returns a summary dict."""
    return Trainer(run, cfg, make_env).train()


def own_teacher(cfg: Any, run_path: Path) -> Any:
    """`cfg` with its teacher checkpoint (if any) copied into the run folder (`teacher/`):
    a run folder holds every checkpoint it depends on, so a resume reads no path from its
    files that leads elsewhere."""
    teacher = getattr(cfg, "teacher", None)
    target = run_path / "teacher"
    if teacher is None or Path(teacher).resolve() == target.resolve():
        return cfg
    source = resolve_checkpoint(teacher)
    with atomic_dir(target) as tmp:
        for name in ("model.safetensors", "meta.json"):
            shutil.copyfile(source / name, tmp / name)
    return dataclasses.replace(cfg, teacher=str(target))


def load_run(path: Path | str, overrides: dict[str, Any] | None = None
             ) -> tuple[RunConfig, Any, Path]:
    """(RunConfig, algorithm config, checkpoint dir) to continue a run from its latest
    checkpoint (or a given one); `overrides` may change run settings such as
    total_timesteps or minutes. Paths stored in meta.json are not followed: the encoder
    comes back with the weights, and a teacher is the run's own copy (`teacher/`)."""
    meta = read_meta(path)
    ckpt = resolve_checkpoint(path)
    folder = ckpt.parent.parent
    where = f"{ckpt}/meta.json"
    try:
        run_data = {**meta["run"], **(overrides or {})}
        run_data["run_dir"] = str(folder.parent)
        run_data["run_name"] = folder.name
        run, _ = split_config(run_data, where)
        _, cfg_cls = algo_entry(meta["algo"])
        cfg = from_dict(cfg_cls, meta["config"], where)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{where} is incomplete or invalid: {type(exc).__name__}: "
                              f"{exc}") from None
    except ValueError as exc:
        message = str(exc)
        raise CheckpointError(message if where in message else f"{where}: {message}") from None
    for name in ("encoder_init", "init"):  # starting weights: the checkpoint has them now
        if getattr(cfg, name, None) is not None:
            cfg = dataclasses.replace(cfg, **{name: None})
    if getattr(cfg, "teacher", None) is not None:
        try:
            teacher = inside(folder, "teacher", f"{ckpt}/meta.json: teacher")
        except UnsafePathError as exc:
            raise CheckpointError(str(exc)) from None
        cfg = dataclasses.replace(cfg, teacher=str(teacher))
    return run, cfg, ckpt


def resume(path: Path | str, make_env_for: Callable[[str], EnvFactory],
           overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Continue a run with its stored configs (see load_run); returns the summary."""
    run, cfg, ckpt = load_run(path, overrides)
    return Trainer(run, cfg, make_env_for(run.env_id), resume_from=ckpt).train()
