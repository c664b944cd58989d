"""Measure the auxiliary tasks against their targets: accuracy, error ratios, sample quality
and the wall time of each training run on this machine.

    python scripts/bench_aux.py                     # every task, seed 0
    python scripts/bench_aux.py --seeds 0 1 2       # the classifiers over three splits
    python scripts/bench_aux.py --tasks digits-mlp --runs runs/bc__0__<time> runs/masked-moves__0__<time>
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from ludus.scripts.aux import TASKS, Args, run

TARGETS = {  # task: (headline metric, check of a run's metrics, target text)
    "digits-perceptron": ("test/accuracy", lambda m: m["test/accuracy"] >= 0.9,
                          ">= 0.90 (beside the MLP)"),
    "digits-mlp": ("test/accuracy", lambda m: m["test/accuracy"] >= 0.97, ">= 0.97 in < 60 s"),
    "digits-cnn": ("test/accuracy", lambda m: m["test/accuracy"] >= 0.985, ">= 0.985 in < 60 s"),
    "bc": ("agreement", lambda m: m["agreement"] >= 0.8 and m["wins_vs_random"] >= 0.95,
           ">= 0.80 and >= 0.95 wins vs random"),
    "digits-capsules": ("caps/test/accuracy", lambda m: m["caps/test/accuracy"] >= 0.98,
                        ">= 0.98; shifted/scaled beside the CNN"),
    "masked-moves": ("masked/accuracy", lambda m: m["masked/accuracy"] >= 0.6
                     and m["masked/accuracy"] > m["baseline/bigram"], ">= 0.60, above bigram"),
    "glove": ("probe/column", lambda m: m["probe/column_interval"][0]
              > m["probe/column_random_interval"][1],
              "column probe's interval above random embeddings'"),
    "sequence-lstm": ("sine/improvement", lambda m: m["sine/improvement"] >= 10
                      and m["copy/accuracy"] > 0.95 and m["copy/mlp_accuracy"] < 0.5,
                      ">= 10x lower MSE; copy > 0.95, MLP < 0.5"),
    "autoencoder": ("test/mse", lambda m: m["test/mse"] <= 0.25 * m["test/mean_image_mse"],
                    "<= 1/4 of the mean image's"),
    "gan": ("gan/mean_max_prob", lambda m: m["gan/mean_max_prob"] >= 0.9
            and m["gan/min_class_freq"] >= 0.05 and m["gan/max_class_freq"] <= 0.15,
            ">= 0.9, classes 5-15%"),
    "rbm": ("rbm/final_error", lambda m: m["rbm/final_error"] < 0.75 * m["rbm/first_error"],
            "< 3/4 of the first epoch's"),
    "som": ("som/final_error", lambda m: m["som/final_error"] < m["som/first_error"]
            and m["som/neighbour_distance_ratio"] < 1, "falls; neighbours similar"),
}
TARGETS["sequence-gru"] = TARGETS["sequence-attention"] = TARGETS["sequence-lstm"]
DETAILS = {"sequence-lstm": ("sine/mse", "sine/repeat_last_mse", "copy/accuracy",
                             "copy/mlp_accuracy", "copy/delay"),
           "autoencoder": ("test/mean_image_mse",),
           "glove": ("probe/column_random", "probe/row", "probe/row_random"),
           "masked-moves": ("baseline/bigram", "baseline/majority", "games"),
           "digits-capsules": ("cnn/test/accuracy", "caps/moved_accuracy", "cnn/moved_accuracy"),
           "gan": ("gan/min_class_freq", "gan/max_class_freq", "judge/test_accuracy"),
           "rbm": ("rbm/first_error", "rbm/error_falls"),
           "som": ("som/first_error", "som/neighbour_distance_ratio"),
           "bc": ("agreement", "wins_vs_random", "positions")}
DETAILS["sequence-gru"] = DETAILS["sequence-attention"] = DETAILS["sequence-lstm"]


@dataclass
class Bench:
    """Run the auxiliary tasks and compare with their targets."""

    tasks: tuple[str, ...] = tuple(t for t in TASKS if t not in ("bc", "masked-moves"))
    """Tasks to run (bc and masked-moves record 9000 and 4000 games and train for long:
    give --runs with finished ones instead; glove records 1000, about 2.5 minutes)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds (data split, weights) per task."""
    runs: tuple[str, ...] = ()
    """Finished `aux.py` run folders (any task) to report against their targets."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints one line per task and seed."""
    import json

    bench = tyro.cli(Bench, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        for task in bench.tasks:
            for seed in bench.seeds:
                start = time.perf_counter()
                m = run(Args(task=task, seed=seed, run_dir=tmp, console=False))
                seconds = time.perf_counter() - start
                report(task, f"seed {seed}", m, f"{seconds:5.1f} s", seconds)
    for folder in bench.runs:
        task = Path(folder).name.split("__")[0]
        report(task, "run", json.loads((Path(folder) / "summary.json").read_text()), folder)
    return 0


def report(task: str, label: str, m: dict, note: str, seconds: float = 0.0) -> None:
    """One line: the task's headline metric, its target and whether it was met."""
    metric, check, target = TARGETS[task]
    ok = check(m) and (seconds < 60 or task not in ("digits-mlp", "digits-cnn"))
    details = "  ".join(f"{k} {m[k]:.4g}" for k in DETAILS.get(task, ()))
    print(f"{task:18s} {label}  {metric} {m[metric]:.4f}  ({target}: "
          f"{'met' if ok else 'MISSED'})  {note}  {details}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
