"""Auxiliary tasks on the shared nets: supervised, sequence and generative benchmarks, and
behaviour cloning of a game policy.

    python scripts/aux.py --task digits-mlp          # also digits-perceptron, digits-cnn
    python scripts/aux.py --task sequence-lstm       # sequence-gru: noisy sines + copy task
    python scripts/aux.py --task autoencoder --noise 0.2      # denoising
    python scripts/aux.py --task gan                 # rbm, som
    python scripts/aux.py --task bc                  # clone alphabeta-h:4 at connect four
    python scripts/league.py --env-id connect_four --init runs/<bc run>/checkpoint

Data: scikit-learn's 8x8 digits (a fixed split by --seed), or MNIST-format IDX files with
--idx-images/--idx-labels. Results go to runs/<task>__<seed>__<time>/ (metrics.jsonl,
pictures as PNG, the trained model), and to Weights & Biases with --track.
"""

from __future__ import annotations

import difflib
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import tyro

from ludus.agents.files import atomic_write_json
from ludus.agents.tracking import Tracker, WandbConfig

TASKS = ("digits-perceptron", "digits-mlp", "digits-cnn", "digits-capsules", "sequence-lstm",
         "sequence-gru", "sequence-attention", "autoencoder", "gan", "rbm", "som", "bc", "glove",
         "masked-moves")
EPOCHS = {"digits-perceptron": 100, "digits-mlp": 100, "digits-cnn": 60, "digits-capsules": 30,
          "sequence-lstm": 40,
          "sequence-gru": 40, "sequence-attention": 40, "autoencoder": 100, "gan": 200,
          "rbm": 50, "som": 20, "bc": 60, "glove": 2000, "masked-moves": 4000}
GAMES = {"bc": 9000, "glove": 1000, "masked-moves": 4000}


@dataclass
class Args:
    """Run one auxiliary task."""

    task: str = "digits-mlp"
    """One of: digits-perceptron, digits-mlp, digits-cnn, digits-capsules, sequence-lstm,
    sequence-gru, sequence-attention, autoencoder, gan, rbm, som, bc, glove, masked-moves
    (its --epochs are training batches)."""
    epochs: int | None = None
    """Training epochs (default per task; supervised tasks also stop early)."""
    seed: int = 0
    """Seed of the split, weights and batches."""
    idx_images: str | None = None
    """MNIST-format IDX image file (instead of the digits; image tasks)."""
    idx_labels: str | None = None
    """Its IDX label file."""
    noise: float = 0.0
    """autoencoder: Gaussian input noise (denoising autoencoder)."""
    delay: int = 20
    """sequence tasks: steps between the symbol and its recall in the copy task."""
    context: int = 32
    """sequence-attention: the steps each step attends to (at least --delay + 1)."""
    env_id: str = "connect_four"
    """bc, glove, masked-moves: the game."""
    teacher: str = "alphabeta-h:4"
    """bc: the player to clone; glove, masked-moves: the player whose games (against
    itself) are read."""
    games: int | None = None
    """bc, glove, masked-moves: games to record (default 9000, 1000 and 4000; about 2.5
    minutes per 1000 alphabeta-h:4 games on one core)."""
    dataset: str | None = None
    """bc, glove: a recorded game dataset (.npz) instead of recording; masked-moves: recorded
    move sequences (league.recorder.record_moves, .npz)."""
    mask_rate: float = 0.15
    """masked-moves: share of a history's moves chosen for prediction."""
    attention_dim: int = 64
    """masked-moves: width of the attention encoder (a policy starting from it needs the
    same)."""
    window: int = 2
    """glove: moves within this many plies co-occur."""
    torch_threads: int = 1
    """torch intra-op threads (these nets are small: one thread is fastest)."""
    run_dir: str = "runs"
    """Parent folder of runs."""
    track: bool = False
    """Log to Weights & Biases (honours WANDB_MODE=offline)."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """Weights & Biases settings."""
    console: bool = True
    """Progress bar."""


def check_task(name: str) -> None:
    """Raise ValueError naming the closest tasks."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(f"unknown task {name!r}{hint} tasks: {', '.join(TASKS)}")


def images(args: Args):  # noqa: ANN201 - an envs.datasets.Split
    """The image data: IDX files when given, else the digits."""
    from ludus.envs import datasets

    if args.idx_images or args.idx_labels:
        if not (args.idx_images and args.idx_labels):
            raise ValueError("give both --idx-images and --idx-labels")
        return datasets.idx_images(args.idx_images, args.idx_labels, args.seed)
    return datasets.digits(args.seed)


def games(args: Args):  # noqa: ANN201 - an envs.datasets.GameDataset
    """Recorded games of a board game: --dataset, else --games of --teacher against itself
    (random openings of up to 8 moves)."""
    from ludus.envs import datasets

    if args.dataset is not None:
        data = datasets.GameDataset.load(args.dataset)
    else:
        from ludus.league.recorder import record

        data = record(args.env_id, args.teacher, args.teacher, args.games or GAMES[args.task],
                      opening_moves=8, seed=args.seed)
    datasets.check_boards(data)
    return data


def move_records(args: Args):  # noqa: ANN201 - an envs.datasets.MoveRecords
    """Whole games as move sequences: --dataset, else --games of --teacher against itself
    (random openings of up to 4 moves)."""
    from ludus.agents.auxiliary.masked import MaskedConfig
    from ludus.envs import datasets

    MaskedConfig(mask_rate=args.mask_rate).validate()
    if args.dataset is not None:
        records = datasets.MoveRecords.load(args.dataset)
    else:
        from ludus.league.recorder import record_moves

        records = record_moves(args.env_id, args.teacher, args.teacher,
                               args.games or GAMES[args.task], opening_moves=4, seed=args.seed)
    if records.game not in ("connect_four", "tictactoe"):
        raise ValueError(f"masked-move pretraining reads connect_four or tictactoe games, not "
                         f"{records.game}")
    return records


def run(args: Args) -> dict:
    """Run the task; returns its headline metrics (also in <run>/summary.json)."""
    from ludus.agents.auxiliary import tasks as auxiliary
    from ludus.agents.auxiliary.generative import GenerativeConfig
    from ludus.agents.auxiliary.supervised import Predictor, SupervisedConfig, fit
    from ludus.envs import datasets

    check_task(args.task)
    torch.set_num_threads(args.torch_threads)
    task, epochs = args.task, args.epochs or EPOCHS[args.task]
    # data first: a bad path fails before a run folder exists
    if task.startswith("sequence-"):
        data = (datasets.sine_sequences(seed=args.seed),
                datasets.copy_task(delay=args.delay, seed=args.seed))
        auxiliary.check_context(replace(auxiliary.NETS[task], context=args.context), data[1])
    elif task == "bc":
        data = None
        if args.dataset is not None:
            datasets.GameDataset.load(args.dataset)
    elif task == "glove":
        data = games(args)
    elif task == "masked-moves":
        data = move_records(args)
    else:
        data = images(args)
    folder = Path(args.run_dir) / f"{task}__{args.seed}__{int(time.time())}"
    tracker = Tracker(folder, folder.name, {"aux": vars(args) | {"wandb": None}},
                      console=args.console, total=epochs,
                      wandb=args.wandb if args.track else None)
    gen = GenerativeConfig(epochs=epochs, seed=args.seed, noise=args.noise)
    try:
        if task == "digits-capsules":
            cfg = SupervisedConfig(epochs=epochs, patience=10, seed=args.seed)
            metrics = auxiliary.capsules(data, datasets.moved_images(data.x_test), cfg, tracker)
        elif task.startswith("digits-"):
            cfg = SupervisedConfig(net=auxiliary.NETS[task], epochs=epochs,
                                   patience=15, seed=args.seed)
            metrics = auxiliary.classify(task, data, cfg, tracker)
        elif task.startswith("sequence-"):
            net = auxiliary.NETS[task]
            if net.core == "attention":
                net = replace(net, context=args.context)
            cfg = SupervisedConfig(net=net, epochs=epochs, patience=20, seed=args.seed,
                                   learning_rate=3e-3 if net.core != "attention" else 1e-3,
                                   max_grad_norm=1.0)
            metrics = auxiliary.sequences(cfg, *data, tracker)
        elif task == "autoencoder":
            metrics = auxiliary.autoencoder(data, gen, tracker)
        elif task == "gan":  # judged by a digits CNN trained here
            judge_cfg = SupervisedConfig(net=auxiliary.NETS["digits-cnn"], seed=args.seed)
            judge = Predictor(judge_cfg.net, data.x_train.shape[1:], data.num_classes)
            accuracy = fit(judge, data, judge_cfg)["test/accuracy"]
            metrics = {**auxiliary.gan(data, replace(gen, learning_rate=2e-4), tracker, judge),
                       "judge/test_accuracy": accuracy}
        elif task == "rbm":
            metrics = auxiliary.rbm(data, replace(gen, learning_rate=0.05, hidden=100), tracker)
        elif task == "som":
            metrics = auxiliary.som(data, replace(gen, learning_rate=0.5), tracker)
        elif task == "masked-moves":
            from ludus import envs
            from ludus.agents.auxiliary.masked import MaskedConfig
            from ludus.envs.history import encode

            metrics = auxiliary.masked_moves(
                data, envs.make_game(data.game, 1).num_actions, encode,
                MaskedConfig(dim=args.attention_dim, mask_rate=args.mask_rate, steps=epochs,
                             seed=args.seed), tracker)
        elif task == "glove":
            from ludus.agents.auxiliary.embeddings import GloVeConfig

            metrics = auxiliary.glove(datasets.move_sequences(data), data.obs.shape[1:3],
                                      GloVeConfig(window=args.window, epochs=epochs,
                                                  seed=args.seed), tracker)
        else:
            from ludus.league.recorder import behaviour_clone

            metrics = behaviour_clone(folder, args.env_id, args.teacher,
                                      num_games=args.games or GAMES["bc"],
                                      dataset=args.dataset, epochs=epochs, seed=args.seed)
        tracker.log({k: v for k, v in metrics.items() if isinstance(v, int | float)},
                    max(epochs, tracker.last_step))
    finally:
        tracker.close()
    atomic_write_json(folder / "summary.json", metrics)
    return {"folder": str(folder), **metrics}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    try:
        result = run(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key, value in result.items():
        if key != "confusion_matrix":
            print(f"{key:28s} {value:.4f}" if isinstance(value, float) else f"{key:28s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
