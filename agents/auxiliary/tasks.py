"""The auxiliary tasks: supervised and generative benchmarks of the shared nets, one function
each, given its data (an envs.datasets.Split) and a Tracker. Each returns its headline
metrics and writes its pictures (image grids, confusion matrix) into the run folder, and to
wandb when the tracker has it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ludus.agents.auxiliary.generative import (
    GenerativeConfig,
    image_grid,
    reconstruction_mse,
    sample,
    train_autoencoder,
    train_gan,
    train_rbm,
    train_som,
)
from ludus.agents.auxiliary.supervised import Predictor, SupervisedConfig, confusion_matrix, fit, predict
from ludus.agents.checkpoint import save_checkpoint
from ludus.agents.files import atomic_path
from ludus.agents.tracking import Tracker
from ludus.nets import NetSpec

NETS = {
    "digits-perceptron": NetSpec(hidden=(), ortho_init=False),
    "digits-mlp": NetSpec(hidden=(256, 128), activation="relu", dropout=0.2, batch_norm=True),
    "digits-cnn": NetSpec(encoder="board_cnn", channels=(64, 64, 64), cnn_dim=128,
                          activation="relu", batch_norm=True),
    "sequence-lstm": NetSpec(hidden=(), core="lstm", core_size=128, ortho_init=False,
                             forget_bias=1.0),
    "sequence-gru": NetSpec(hidden=(), core="gru", core_size=128, ortho_init=False),
    "sequence-attention": NetSpec(hidden=(), core="attention", attention_dim=64,
                                  attention_heads=4, attention_layers=2, context=32,
                                  ortho_init=False),
}
"""The net of each supervised task: the lectures' progression, one flag apart."""

MLP_WINDOW = 10
"""The copy task's feed-forward baseline sees the last this many steps (frame stacking)."""


def _save_png(tracker: Tracker, name: str, picture: np.ndarray, step: int) -> Path:
    """Write a picture as <run>/<name>.png and send it to wandb (if on)."""
    import imageio.v3 as iio

    path = tracker.run_dir / f"{name}.png"
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, picture)
    tracker.log_media(lambda wandb: {f"media/{name}": wandb.Image(picture)}, step)
    return path


def _logger(tracker: Tracker) -> Callable[[dict[str, float], int], None]:
    return lambda metrics, epoch: tracker.log(metrics, epoch)


def classify(task: str, data: Any, cfg: SupervisedConfig, tracker: Tracker) -> dict[str, float]:
    """Train the task's classifier; logs curves, the confusion matrix (table + PNG + wandb),
    and saves the model as a checkpoint (`model/`) whose encoder RL agents can load."""
    torch.manual_seed(cfg.seed)
    model = Predictor(cfg.net, data.x_train.shape[1:], data.num_classes)
    metrics = fit(model, data, cfg, _logger(tracker))
    predicted = predict(model, data.x_test).argmax(-1)
    matrix = confusion_matrix(data.y_test, predicted, data.num_classes)
    scale = (255 * (1 - matrix / max(matrix.max(), 1))).astype(np.uint8)
    _save_png(tracker, "confusion_matrix", np.kron(scale, np.ones((24, 24), np.uint8)),
              int(metrics["epochs"]))
    tracker.log_media(lambda wandb: {"test/confusion_matrix": wandb.plot.confusion_matrix(
        y_true=data.y_test.tolist(), preds=predicted.tolist(),
        class_names=[str(c) for c in range(data.num_classes)])}, int(metrics["epochs"]))
    save_checkpoint(tracker.run_dir / "model", model,
                    {"kind": "supervised", "task": task, "net_spec": cfg.net.to_json(),
                     "input_shape": list(data.x_train.shape[1:]), "outputs": data.num_classes,
                     "config": dataclasses.asdict(cfg), **metrics})
    return {**metrics, "confusion_matrix": matrix.tolist()}


def check_context(net: NetSpec, copy: Any) -> None:
    """An attention core must see a copy-task sequence whole: its symbol comes first."""
    steps = copy.x_train.shape[1]
    if net.core == "attention" and steps > net.context:
        raise ValueError(f"the copy task's sequences have {steps} steps, longer than the "
                         f"attention core's context of {net.context}: the symbol would fall "
                         f"out of its memory (lower --delay or raise --context)")


def sequences(cfg: SupervisedConfig, series: Any, copy: Any, tracker: Tracker
              ) -> dict[str, float]:
    """Next-value prediction on noisy sines (MSE against repeating the last value, after a
    10-step warm-up in which no predictor knows the frequencies yet), and the
    copy-after-delay memory task, beside a feed-forward MLP on the last MLP_WINDOW steps."""
    check_context(cfg.net, copy)
    torch.manual_seed(cfg.seed)
    model = Predictor(cfg.net, series.x_train.shape[1:], 1)
    done = int(fit(model, series, dataclasses.replace(cfg, loss="mse"), _logger(tracker))["epochs"])
    pred = predict(model, series.x_test)[:, 10:]
    target, last = series.y_test[:, 10:], series.x_test[:, 10:]
    mse, naive = float(((pred - target) ** 2).mean()), float(((last - target) ** 2).mean())
    out = {"sine/mse": mse, "sine/repeat_last_mse": naive, "sine/improvement": naive / mse}
    memory = Predictor(cfg.net, copy.x_train.shape[1:], copy.num_classes, last_step=True)
    result = fit(memory, copy, dataclasses.replace(cfg, loss="cross_entropy"),
                 lambda m, e: tracker.log({f"copy/{k}": v for k, v in m.items()}, done + e))
    out["copy/accuracy"] = result["test/accuracy"]
    window = dataclasses.replace(copy, **{k: getattr(copy, k)[:, -MLP_WINDOW:]
                                          for k in ("x_train", "x_val", "x_test")})
    mlp_cfg = dataclasses.replace(cfg, loss="cross_entropy", net=NETS["digits-mlp"])
    mlp = Predictor(mlp_cfg.net, window.x_train.shape[1:], copy.num_classes)
    out["copy/mlp_accuracy"] = fit(mlp, window, mlp_cfg)["test/accuracy"]
    out["copy/delay"] = copy.x_train.shape[1] - 1
    return out


def autoencoder(data: Any, cfg: GenerativeConfig, tracker: Tracker) -> dict[str, float]:
    """Train; picture: rows of test originals over their reconstructions."""
    model, metrics = train_autoencoder(data.x_train, data.x_test, cfg, _logger(tracker))
    originals = data.x_test[:10]
    with torch.no_grad():
        recon = model(torch.as_tensor(originals)).numpy()
    metrics["test/mse"] = reconstruction_mse(model, data.x_test)
    # the baseline: every test image reconstructed as the mean training image
    mean = data.x_train.mean(0, keepdims=True)
    metrics["test/mean_image_mse"] = float(((data.x_test - mean) ** 2).mean())
    picture = image_grid(np.concatenate([originals, recon]), cols=10, scale=6)
    _save_png(tracker, "reconstructions", picture, cfg.epochs)
    return metrics


def gan(data: Any, cfg: GenerativeConfig, tracker: Tracker, judge: torch.nn.Module | None = None
        ) -> dict[str, float]:
    """Train; picture: 100 samples. With a digits classifier `judge`, quality = its mean max
    probability on 2000 samples and diversity = the frequency of each predicted class."""
    if data.x_train.shape[1:] != (1, 8, 8):
        raise ValueError(f"the GAN is sized for 1x8x8 images (the digits), not "
                         f"{data.x_train.shape[1:]}")
    generator = train_gan(data.x_train, cfg, _logger(tracker))
    images = sample(generator, 2000, cfg.seed + 1)
    _save_png(tracker, "samples", image_grid(images[:100], cols=10, scale=6), cfg.epochs)
    metrics: dict[str, Any] = {}
    if judge is not None:
        probs = torch.softmax(torch.as_tensor(predict(judge, images)), -1).numpy()
        freq = np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)
        metrics = {"gan/mean_max_prob": float(probs.max(1).mean()),
                   "gan/min_class_freq": float(freq.min()), "gan/max_class_freq": float(freq.max()),
                   "gan/class_freq": freq.round(4).tolist()}
    return metrics


def rbm(data: Any, cfg: GenerativeConfig, tracker: Tracker) -> dict[str, float]:
    """Train; pictures: test digits over their reconstructions, and Gibbs chain samples
    (chains started from noise, one row per 100 steps)."""
    model, errors = train_rbm(data.x_train, data.x_test, cfg, _logger(tracker))
    shape = data.x_test.shape[-2:]
    test = (torch.as_tensor(data.x_test[:10]).flatten(1) > 0.5).float()
    recon = model.visible_probs(model.hidden_probs(test))
    _save_png(tracker, "reconstructions",
              image_grid(torch.cat([test, recon]).view(-1, *shape).numpy(), 10, scale=6),
              cfg.epochs)
    v, rows = torch.bernoulli(torch.full((10, test.shape[1]), 0.2), generator=model.g), []
    for _ in range(5):
        probs = model.gibbs(v, 100)
        v = torch.bernoulli(probs, generator=model.g)
        rows.append(probs)
    _save_png(tracker, "gibbs_samples",
              image_grid(torch.cat(rows).view(-1, *shape).numpy(), 10, 6), cfg.epochs)
    return {"rbm/first_error": errors[0], "rbm/final_error": errors[-1],
            "rbm/error_falls": float(all(b <= a + 1e-3 for a, b in zip(errors, errors[1:],
                                                                           strict=False)))}


def som(data: Any, cfg: GenerativeConfig, tracker: Tracker) -> dict[str, float]:
    """Train; picture: every unit's prototype as an image, in map order."""
    model, errors = train_som(data.x_train, data.x_test, cfg, _logger(tracker))
    _save_png(tracker, "map", image_grid(model.weights.reshape(-1, *data.x_test.shape[-2:]),
                                         cfg.som_size, 4), cfg.epochs)
    return {"som/first_error": errors[0], "som/final_error": errors[-1],
            "som/neighbour_distance_ratio": model.neighbour_distance()}


def capsules(data: Any, moved: dict[str, np.ndarray], cfg: SupervisedConfig, tracker: Tracker
             ) -> dict[str, float]:
    """A capsule net (nets.capsules: routing by agreement, margin loss, reconstruction) and
    the digits CNN trained on the same split, both tested on the test digits as they are
    and as `moved` gives them (name -> data.x_test shifted or scaled, never seen in
    training). Picture: test digits over their reconstructions from the true class's
    capsule."""
    from ludus.nets.capsules import CapsNet

    if data.x_train.ndim != 4 or data.num_classes < 2:
        raise ValueError(f"capsules take labelled images (N, C, H, W), got {data.x_train.shape}")
    torch.manual_seed(cfg.seed)
    caps = CapsNet(tuple(data.x_train.shape[1:]), data.num_classes)
    out = {f"caps/{k}": v for k, v in fit(caps, data, dataclasses.replace(cfg, loss="margin"),
                                          lambda m, e: tracker.log(
                                              {f"caps/{k}": v for k, v in m.items()}, e)).items()}
    torch.manual_seed(cfg.seed)
    cnn = Predictor(NETS["digits-cnn"], data.x_train.shape[1:], data.num_classes)
    out.update({f"cnn/{k}": v for k, v in fit(cnn, data, dataclasses.replace(
        cfg, net=NETS["digits-cnn"], loss="cross_entropy")).items()})
    for name, x in moved.items():
        for model, key in ((caps, "caps"), (cnn, "cnn")):
            accuracy = float((predict(model, x).argmax(-1) == data.y_test).mean())
            out[f"{key}/{name}_accuracy"] = accuracy
    for key in ("caps", "cnn"):
        out[f"{key}/moved_accuracy"] = float(np.mean([out[f"{key}/{n}_accuracy"]
                                                      for n in moved]))
    with torch.no_grad():
        caps.eval()
        caps(torch.as_tensor(data.x_test[:10]))
        recon = caps.reconstruct(torch.as_tensor(data.y_test[:10])).numpy()
    _save_png(tracker, "reconstructions", image_grid(
        np.concatenate([data.x_test[:10], recon]), cols=10, scale=6), int(out["caps/epochs"]))
    save_checkpoint(tracker.run_dir / "model", caps, {
        "kind": "capsules", "input_shape": list(data.x_train.shape[1:]),
        "outputs": data.num_classes, "config": dataclasses.asdict(cfg),
        **{k: v for k, v in out.items() if k.startswith("caps/")}})
    return out


def glove(sequences: list[np.ndarray], board: tuple[int, int], cfg: Any, tracker: Tracker,
          random_draws: int = 20) -> dict[str, Any]:
    """GloVe embeddings of the cells (row * cols + col) that recorded games' moves fill
    (`sequences`: envs.datasets.move_sequences of a (rows, cols) board game), probed for
    each cell's column and row, which they were never told, beside the same probe on random
    embeddings of equal size (leave-one-out accuracy, Wilson 95% intervals). Picture: the
    embeddings' first two principal components, labelled row,col, coloured by column."""
    from ludus.agents.auxiliary.embeddings import cooccurrence, probe_accuracy, train_glove
    from ludus.agents.evaluate import wilson

    cfg.validate()
    rows, cols = board
    vocab = rows * cols
    counts = cooccurrence(sequences, vocab, cfg.window)
    vectors, losses = train_glove(counts, cfg, _logger(tracker))
    out: dict[str, Any] = {"games": len(sequences), "moves": int(sum(map(len, sequences))),
                           "glove/first_loss": losses[0], "glove/final_loss": losses[-1]}
    rng = np.random.default_rng(cfg.seed)
    for name, labels in (("column", np.arange(vocab) % cols), ("row", np.arange(vocab) // cols)):
        acc = probe_accuracy(vectors, labels)
        draws = [probe_accuracy(rng.standard_normal(vectors.shape), labels)
                 for _ in range(random_draws)]
        out[f"probe/{name}"], out[f"probe/{name}_interval"] = acc, wilson(acc * vocab, vocab)
        out[f"probe/{name}_random"] = float(np.mean(draws))
        out[f"probe/{name}_random_interval"] = wilson(sum(draws) * vocab, vocab * random_draws)
        out[f"probe/{name}_chance"] = 1.0 / (labels.max() + 1)
    _embedding_picture(tracker, vectors, rows, cols, cfg.epochs)
    return out


def _embedding_picture(tracker: Tracker, vectors: np.ndarray, rows: int, cols: int,
                       step: int) -> Path:
    """embeddings.png: a 2-D PCA of the cell embeddings, labelled."""
    from matplotlib.figure import Figure

    centred = vectors - vectors.mean(0)
    xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    points = ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)) % cols, cmap="tab10", s=60)
    for k, (x, y) in enumerate(xy):
        ax.annotate(f"{k // cols},{k % cols}", (x, y), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    fig.colorbar(points, ax=ax, label="column (never shown to GloVe)")
    ax.set_title("GloVe embeddings of the cells moves fill (row,col), 2-D PCA")
    path = tracker.run_dir / "embeddings.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    tracker.log_media(lambda wandb: {"media/embeddings": wandb.Image(str(path))}, step)
    return path


def masked_moves(records: Any, num_actions: int, encode: Any, cfg: Any, tracker: Tracker
                 ) -> dict[str, Any]:
    """Masked-move pretraining (agents/auxiliary/masked.py) on recorded whole games (an
    envs.datasets.MoveRecords; `encode` its game's history observation): held-out accuracy
    on the masked moves beside the majority-move and bigram guesses, the model as a
    checkpoint (`model/`, whose encoder a policy on `<game>_moves` can start from), and a
    picture of the training loss."""
    from matplotlib.figure import Figure

    from ludus.agents.auxiliary.masked import train_masked

    losses: list[tuple[int, float]] = []

    def log(metrics: dict[str, float], step: int) -> None:
        losses.append((step, metrics["masked/loss"]))
        tracker.log(metrics, step)
    model, out = train_masked(records, num_actions, encode, cfg, log)
    length, width = model.encoder.tokens, model.encoder.embed.in_features
    save_checkpoint(tracker.run_dir / "model", model, {
        "kind": "masked_moves", "game": records.game, "input_shape": [length, width],
        "net_spec": NetSpec(encoder="attention", attention_dim=cfg.dim,
                            attention_heads=cfg.heads, attention_layers=cfg.layers).to_json(),
        "config": dataclasses.asdict(cfg), **out})
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(*zip(*losses, strict=True))
    ax.set_xlabel("batch")
    ax.set_ylabel("cross-entropy of the chosen moves")
    ax.set_title(f"masked moves: held-out accuracy {out['masked/accuracy']:.3f} (bigram "
                 f"{out['baseline/bigram']:.3f}, majority {out['baseline/majority']:.3f})")
    path = tracker.run_dir / "loss.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return {**out, "games": len(records)}
