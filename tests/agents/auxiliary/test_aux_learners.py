"""Each auxiliary learner on a tiny slice: it learns, in a few seconds."""

import dataclasses

import numpy as np
import pytest
import torch

from ludus.agents.auxiliary.generative import (
    RBM,
    SOM,
    Autoencoder,
    Discriminator,
    GenerativeConfig,
    Generator,
    image_grid,
    reconstruction_mse,
    train_autoencoder,
    train_gan,
    train_rbm,
    train_som,
)
from ludus.agents.auxiliary.supervised import Predictor, SupervisedConfig, confusion_matrix, fit, predict
from ludus.envs import datasets
from ludus.nets import NetSpec


@pytest.fixture(scope="module")
def digits():
    d = datasets.digits(0)
    return dataclasses.replace(d, x_train=d.x_train[:400], y_train=d.y_train[:400])


@pytest.mark.learning
@pytest.mark.parametrize("spec, optimizer, floor", [
    (NetSpec(hidden=(), ortho_init=False), "sgd", 0.8),  # the perceptron
    (NetSpec(hidden=(64,), activation="relu", dropout=0.1, batch_norm=True), "adam", 0.85),
    (NetSpec(hidden=(64,), activation="tanh", layer_norm=True), "rmsprop", 0.85),
    (NetSpec(encoder="board_cnn", channels=(8,), cnn_dim=32, activation="relu"), "adagrad", 0.8),
])
def test_classifiers_beat_chance_by_a_margin(digits, spec, optimizer, floor):
    cfg = SupervisedConfig(net=spec, optimizer=optimizer, epochs=8, patience=3,
                           learning_rate={"sgd": 0.05, "adagrad": 0.05, "adam": 3e-3,
                                          "rmsprop": 1e-3}[optimizer])
    torch.manual_seed(0)
    model = Predictor(spec, (1, 8, 8), 10)
    curve = []
    metrics = fit(model, digits, cfg, lambda m, e: curve.append(m["loss/train"]))
    assert curve[-1] < curve[0]
    assert metrics["test/accuracy"] > floor  # chance: 0.1
    matrix = confusion_matrix(digits.y_test, predict(model, digits.x_test).argmax(-1), 10)
    assert matrix.sum() == len(digits.y_test)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["test/accuracy"])


def test_early_stopping_keeps_the_best_epoch(digits):
    spec = NetSpec(hidden=(32,), activation="relu")
    cfg = SupervisedConfig(net=spec, epochs=50, patience=2, learning_rate=0.5, optimizer="sgd")
    metrics = fit(Predictor(spec, (1, 8, 8), 10), digits, cfg)
    assert metrics["epochs"] < 50  # a too-large step stops improving quickly


def test_kl_and_mse_losses():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    probs = np.stack([np.full(256, 0.8), np.full(256, 0.2)], 1).astype(np.float32)
    split = datasets.split(x, probs, seed=0)
    spec = NetSpec(hidden=(16,))
    model = Predictor(spec, (4,), 2)
    fit(model, split, SupervisedConfig(net=spec, loss="kl", epochs=40, learning_rate=1e-2))
    out = torch.softmax(torch.as_tensor(predict(model, split.x_test)), -1).numpy()
    np.testing.assert_allclose(out.mean(0), [0.8, 0.2], atol=0.03)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32))[:, None]
    reg = datasets.split(x, y, seed=0)
    model = Predictor(spec, (4,), 1)
    metrics = fit(model, reg, SupervisedConfig(net=spec, loss="mse", epochs=60, learning_rate=1e-2))
    assert metrics["test/loss"] < 0.1 * float(y.var())


@pytest.mark.learning
@pytest.mark.parametrize("core", ["lstm", "gru", "attention"])
def test_recurrent_nets_remember_across_a_delay(core):
    copy = datasets.copy_task(num=1500, symbols=4, delay=8, seed=0)
    spec = NetSpec(hidden=(), core=core, core_size=32, ortho_init=False, attention_dim=32,
                   attention_layers=1, context=9)
    torch.manual_seed(0)
    model = Predictor(spec, copy.x_train.shape[1:], 4, last_step=True)
    metrics = fit(model, copy, SupervisedConfig(
        net=spec, epochs=40, learning_rate=1e-2 if core != "attention" else 3e-3,
        patience=40))
    assert metrics["test/accuracy"] > 0.9  # chance 0.25
    sine = datasets.sine_sequences(num=200, length=20, seed=0)
    seq = Predictor(spec, sine.x_train.shape[1:], 1)
    assert predict(seq, sine.x_test).shape == sine.y_test.shape


def test_autoencoder_reconstruction_improves(digits):
    ae = Autoencoder((1, 8, 8), 32, 8)
    assert ae(torch.zeros(3, 1, 8, 8)).shape == (3, 1, 8, 8)
    before = reconstruction_mse(ae, digits.x_test)
    for noise in (0.0, 0.3):
        model, metrics = train_autoencoder(digits.x_train, digits.x_test,
                                           GenerativeConfig(epochs=15, hidden=32, latent=8,
                                                            noise=noise))
        assert metrics["test/mse"] < 0.6 * before


def test_gan_shapes_and_a_short_training_step(digits):
    G, D = Generator(latent=8), Discriminator()
    fake = G(torch.randn(5, 8))
    assert fake.shape == (5, 1, 8, 8) and fake.min() >= 0 and fake.max() <= 1
    assert D(fake).shape == (5,)
    losses = []
    train_gan(digits.x_train[:128], GenerativeConfig(epochs=2, latent=8, learning_rate=2e-4),
              lambda m, e: losses.append(m))
    assert len(losses) == 2 and all(np.isfinite(list(m.values())).all() for m in losses)


def test_rbm_reconstruction_error_falls(digits):
    rbm, errors = train_rbm(digits.x_train, digits.x_test,
                            GenerativeConfig(epochs=8, hidden=32, learning_rate=0.05))
    assert errors[-1] < 0.7 * errors[0]
    assert isinstance(rbm, RBM) and rbm.gibbs(torch.zeros(2, 64), 3).shape == (2, 64)


def test_som_orders_its_map_and_quantises_better(digits):
    som, errors = train_som(digits.x_train, digits.x_test,
                            GenerativeConfig(epochs=4, som_size=5, learning_rate=0.5))
    assert errors[-1] < 0.6 * errors[0]
    assert som.neighbour_distance() < 0.8  # neighbours hold similar prototypes
    assert SOM(3, 2).neighbour_distance() > 0.8  # a random map is not ordered


def test_image_grid_tiles_images():
    grid = image_grid(np.ones((5, 1, 8, 8)), cols=3, scale=2, pad=1)
    assert grid.shape == ((2 * 9 + 1) * 2, (3 * 9 + 1) * 2) and grid.dtype == np.uint8


def test_capsule_parts_do_what_the_paper_says():
    from ludus.nets.capsules import CapsNet, margin_loss, squash

    v = squash(torch.randn(100, 16) * 10)
    assert (v.norm(dim=-1) < 1).all() and (squash(torch.zeros(3, 4)) == 0).all()
    small = squash(torch.full((1, 4), 0.01)).norm()
    assert small < 0.001  # short vectors shrink to almost nothing
    lengths = torch.tensor([[0.95, 0.05], [0.5, 0.5]])
    assert margin_loss(lengths[:1], torch.tensor([0])) == 0
    assert margin_loss(lengths[1:], torch.tensor([0])) > 0
    net = CapsNet((1, 8, 8), 10)
    out = net(torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 10) and ((out >= 0) & (out < 1)).all()
    assert net.reconstruct(torch.arange(5)).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match="too small"):
        CapsNet((1, 4, 4))


@pytest.mark.learning
def test_capsules_learn_the_digits(digits):
    from ludus.nets.capsules import CapsNet

    torch.manual_seed(0)
    net = CapsNet((1, 8, 8), 10)
    metrics = fit(net, digits, SupervisedConfig(loss="margin", epochs=4, patience=0))
    assert metrics["test/accuracy"] > 0.8, metrics  # chance 0.1


def test_transformed_images_move_and_scale_about_the_centre():
    x = np.zeros((1, 1, 8, 8), np.float32)
    x[0, 0, 3, 4] = 1.0
    np.testing.assert_array_equal(datasets.transform_images(x), x)
    down = datasets.transform_images(x, (1.0, 0.0))
    assert down[0, 0, 4, 4] == 1.0 and down.sum() == 1.0
    gone = datasets.transform_images(x, (0.0, 10.0))
    assert gone.sum() == 0  # moved out of the frame
    wide = np.ones((1, 1, 8, 8), np.float32)
    assert datasets.transform_images(wide, scale=0.5).sum() < 0.5 * wide.sum()
