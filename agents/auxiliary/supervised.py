"""Supervised learning on the shared nets: Rosenblatt's perceptron (1958; here its softmax
form, no hidden layer), multi-layer perceptrons trained by backpropagation (Rumelhart et al.
1986), convolutional nets (LeCun et al. 1989) and LSTM/GRU sequence models (Hochreiter &
Schmidhuber 1997; Cho et al. 2014), with cross-entropy, MSE or KL losses, SGD with
momentum, Adam, RMSProp or Adagrad, and early stopping on a validation set.

The model is an ordinary nets.Body (MLP, board CNN, recurrent core) with one linear output,
so what trains here is what the agents use."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ludus.nets import Body, NetSpec
from ludus.nets.capsules import margin_loss


@dataclass
class SupervisedConfig:
    """A supervised task's net and optimisation."""

    net: NetSpec = field(default_factory=lambda: NetSpec(hidden=(256, 128), activation="relu"))
    """The net (hidden=() is a perceptron; encoder board_cnn a CNN; core lstm/gru a sequence
    model)."""
    loss: Literal["cross_entropy", "mse", "kl", "margin"] = "cross_entropy"
    """cross_entropy (class labels), mse (regression), kl (target distributions), margin
    (capsule lengths against class labels)."""
    optimizer: Literal["sgd", "adam", "rmsprop", "adagrad"] = "adam"
    """Optimizer."""
    learning_rate: float = 1e-3
    """Learning rate."""
    momentum: float = 0.9
    """SGD and RMSProp momentum."""
    weight_decay: float = 0.0
    """L2 penalty."""
    epochs: int = 60
    """Passes over the training set (at most: early stopping may end sooner)."""
    batch_size: int = 64
    """Examples per step."""
    max_grad_norm: float | None = None
    """Clip the global gradient norm (recurrent nets: exploding gradients, Pascanu et al.
    2013)."""
    patience: int = 10
    """Stop after this many epochs without a better validation loss (0: never); the best
    epoch's weights are kept."""
    seed: int = 0
    """Seed of the initial weights and the batch order."""


class Predictor(nn.Module):
    """A nets.Body and one linear output: class logits or regression values. With a
    recurrent core, inputs are batch-first sequences (B, T, F) and outputs (B, T, out), or
    (B, out) from the last step when `last_step`."""

    def __init__(self, spec: NetSpec, in_shape: tuple[int, ...], out_dim: int,
                 last_step: bool = False) -> None:
        super().__init__()
        self.sequence = spec.core != "none"
        shape = in_shape[1:] if self.sequence else in_shape
        self.body = Body(spec, gym.spaces.Box(-np.inf, np.inf, shape, np.float32))
        self.out = nn.Linear(self.body.out_dim, out_dim)
        self.last_step = last_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.sequence:
            return self.out(self.body(x)[0])
        x = x.transpose(0, 1)  # (T, B, F): the cores are time-major
        state = self.body.core.initial_state(x.shape[1], x.device)
        features, _ = self.body(x, state, torch.zeros(x.shape[:2], device=x.device))
        y = self.out(features).transpose(0, 1)
        return y[:, -1] if self.last_step else y


def make_optimizer(cfg: SupervisedConfig, params: Any) -> torch.optim.Optimizer:
    """The configured optimizer over `params`."""
    lr, wd = cfg.learning_rate, cfg.weight_decay
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr, momentum=cfg.momentum, weight_decay=wd)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr, weight_decay=wd)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr, momentum=cfg.momentum, weight_decay=wd)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd, adam, rmsprop, adagrad")


def loss_fn(kind: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Mean loss of predictions against targets."""
    if kind == "cross_entropy":
        return nn.functional.cross_entropy
    if kind == "mse":
        return nn.functional.mse_loss
    if kind == "kl":  # targets are distributions; predictions logits
        return lambda logits, p: nn.functional.kl_div(torch.log_softmax(logits, -1), p,
                                                      reduction="batchmean")
    if kind == "margin":  # predictions are capsule lengths
        return margin_loss
    raise ValueError(f"unknown loss {kind!r}; choose cross_entropy, mse, kl, margin")


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs on `x`, in evaluation mode."""
    model.eval()
    out = [model(torch.as_tensor(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def score(model: nn.Module, x: np.ndarray, y: np.ndarray, kind: str) -> dict[str, float]:
    """Loss, and accuracy for labels."""
    pred = predict(model, x)
    target = torch.as_tensor(y)
    out = {"loss": float(loss_fn(kind)(torch.as_tensor(pred), target))}
    if kind in ("cross_entropy", "margin"):
        out["accuracy"] = float((pred.argmax(-1) == y).mean())
    return out


def fit(model: nn.Module, data: Any, cfg: SupervisedConfig,
        log: Callable[[dict[str, float], int], None] | None = None) -> dict[str, float]:
    """Train `model` on data.x_train/y_train (an envs.datasets.Split), stopping early on
    the validation loss; returns the test metrics of the best epoch (`test/accuracy`,
    `test/loss`, `epochs`). `log(metrics, epoch)` receives each epoch's curves. A model
    with an `extra_loss(x, y)` (a capsule net's reconstruction) adds it while training."""
    torch.manual_seed(cfg.seed)
    lossf = loss_fn(cfg.loss)
    optimizer = make_optimizer(cfg, model.parameters())
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    generator = torch.Generator().manual_seed(cfg.seed)
    best, best_state, since, epoch = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    while epoch < cfg.epochs:
        epoch += 1
        model.train()
        total = torch.zeros(())
        for idx in torch.randperm(len(x), generator=generator).split(cfg.batch_size):
            loss = lossf(model(x[idx]), y[idx])
            if hasattr(model, "extra_loss"):
                loss = loss + model.extra_loss(x[idx], y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            total += loss.detach() * len(idx)
        val = score(model, data.x_val, data.y_val, cfg.loss)
        if log is not None:
            log({"loss/train": float(total) / len(x),
                 **{f"val/{k}": v for k, v in val.items()}}, epoch)
        if val["loss"] < best - 1e-6:
            best, best_state, since = val["loss"], copy.deepcopy(model.state_dict()), 0
        elif cfg.patience and (since := since + 1) >= cfg.patience:
            break
    model.load_state_dict(best_state)
    test = score(model, data.x_test, data.y_test, cfg.loss)
    return {**{f"test/{k}": v for k, v in test.items()}, "val/best_loss": best,
            "epochs": float(epoch)}


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(out, (labels, predicted), 1)
    return out
