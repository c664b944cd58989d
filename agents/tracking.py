"""Experiment tracking: one Tracker fanning metrics out to jsonl (always), the console,
TensorBoard and wandb."""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class WandbConfig:
    """Weights & Biases settings (used with --track)."""

    project: str = "ludus"
    """wandb project."""
    entity: str | None = None
    """wandb entity (user or team)."""
    group: str | None = None
    """wandb run group."""
    tags: tuple[str, ...] = field(default_factory=tuple)
    """wandb tags."""


class JsonlBackend:
    """Appends one JSON object per log call to a file (the run's durable record). A resumed
    run first cuts the file back to the step it resumes from: no step is logged twice."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        if resume_step is not None and path.exists():
            cut_log(path, resume_step)
        self.file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the tracker

    def log(self, metrics: dict[str, Any], step: int) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in metrics.items()}
        self.file.write(json.dumps({"step": step, "time": time.time(), **clean}) + "\n")

    def close(self) -> None:
        self.file.close()


def cut_log(path: Path, step: int) -> None:
    """Keep the lines of a metrics.jsonl logged at or before `step` (and drop a torn last
    line), rewriting the file atomically."""
    from ludus.agents.files import atomic_write

    kept = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    atomic_write(path, "".join(f"{line}\n" for line in kept))


class TensorBoardBackend:
    """Scalars to TensorBoard event files in <run>/tb/ (torch.utils.tensorboard), as CleanRL
    and Stable-Baselines3 users read them."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tb"))

    def log(self, metrics: dict[str, Any], step: int) -> None:
        for key, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and math.isfinite(value):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class ConsoleBackend:
    """A rich progress bar with steps/s, episodic return and the main losses."""

    SHOWN = ("charts/episodic_return", "eval/return_mean", "loss/policy", "loss/value", "loss/td")

    def __init__(self, total: int | None, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"))
        self.task = self.progress.add_task(description, total=total, info="")
        self.progress.start()
        self.last: dict[str, float] = {}

    def log(self, metrics: dict[str, Any], step: int) -> None:
        self.last.update({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        parts = [f"{self.last['perf/sps']:.0f} sps"] if "perf/sps" in self.last else []
        parts += [f"{k.split('/')[-1]} {self.last[k]:.3g}" for k in self.SHOWN if k in self.last]
        self.progress.update(self.task, completed=step, info="  ".join(parts))

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


class WandbBackend:
    """Logs to a wandb run; resumes the same run id when one is given."""

    def __init__(self, cfg: WandbConfig, run_dir: Path, name: str, config: dict[str, Any],
                 run_id: str | None) -> None:
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project=cfg.project, entity=cfg.entity, group=cfg.group,
                              tags=list(cfg.tags), name=name, config=config, dir=str(run_dir),
                              id=run_id, resume="allow", reinit="finish_previous",
                              settings=wandb.Settings(init_timeout=60, silent=True))
        self.run_id = self.run.id

    def log(self, metrics: dict[str, Any], step: int) -> None:
        self.run.log(metrics, step=step)

    def log_video(self, key: str, path: Path, step: int) -> None:
        self.run.log({key: self.wandb.Video(str(path))}, step=step)

    def close(self) -> None:
        self.run.finish()


class Tracker:
    """Fans metrics out to its backends; a failing optional backend is dropped with a warning,
    never failing the run."""

    def __init__(self, run_dir: Path | str, name: str = "run", config: dict[str, Any] | None = None,
                 console: bool = True, total: int | None = None, wandb: WandbConfig | None = None,
                 wandb_run_id: str | None = None, tensorboard: bool = False,
                 resume_step: int | None = None) -> None:
        """`resume_step`: a resumed run's step; metrics.jsonl is cut back to it."""
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.last_step = 0  # the highest step logged (wandb steps only go forward)
        self.backends: list[Any] = [JsonlBackend(self.run_dir / "metrics.jsonl", resume_step)]
        self.console = ConsoleBackend(total, name) if console else None
        if self.console:
            self.backends.append(self.console)
        if tensorboard:
            try:
                self.backends.append(TensorBoardBackend(self.run_dir))
            except ImportError as exc:  # the tensorboard extra is not installed
                self.message(f"tensorboard disabled: {exc}")
        self.wandb: WandbBackend | None = None
        if wandb is not None:
            try:
                self.wandb = WandbBackend(wandb, self.run_dir, name, config or {}, wandb_run_id)
                self.backends.append(self.wandb)
            except Exception as exc:  # wandb missing, offline misconfigured, server unreachable
                self.message(f"wandb disabled: {type(exc).__name__}: {exc}")

    @property
    def wandb_run_id(self) -> str | None:
        """The wandb run id, stored in checkpoints so a resumed run continues it."""
        return self.wandb.run_id if self.wandb else None

    def log(self, metrics: dict[str, Any], step: int) -> None:
        """Record metrics at an environment step."""
        self.last_step = max(self.last_step, step)
        for backend in list(self.backends):
            try:
                backend.log(metrics, step)
            except Exception as exc:
                if backend is self.backends[0]:
                    raise  # the jsonl record is not optional
                self.backends.remove(backend)
                self.message(f"{type(backend).__name__} disabled: {exc}")

    def log_video(self, key: str, path: Path, step: int) -> None:
        """Attach an episode video to wandb when it is enabled."""
        if self.wandb is not None:
            try:
                self.wandb.log_video(key, path, step)
            except Exception as exc:
                self.message(f"video not logged: {exc}")

    def log_media(self, make: Callable[[Any], dict[str, Any]], step: int) -> None:
        """Log wandb objects (images, tables) built by make(wandb module), when wandb is on."""
        if self.wandb is not None:
            try:
                self.wandb.run.log(make(self.wandb.wandb), step=step)
            except Exception as exc:
                self.message(f"media not logged: {exc}")

    def show(self, renderable: Any) -> None:
        """Print a rich renderable (such as a summary table) on the console, if there is one."""
        if self.console is not None:
            self.console.progress.console.print(renderable)

    def message(self, text: str) -> None:
        """A human-readable note: console when present, else a warning."""
        if self.console is not None:
            self.console.message(text)
        else:
            warnings.warn(text, stacklevel=2)

    def close(self) -> None:
        """Flush and close every backend."""
        for backend in self.backends:
            with contextlib.suppress(Exception):  # closing must not mask the run's outcome
                backend.close()
