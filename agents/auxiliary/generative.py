"""Generative and unsupervised models on images in [0, 1]: the autoencoder (plain and
denoising, Vincent et al. 2008) on nets.MLP, a DCGAN-style GAN (Goodfellow et al. 2014;
Radford et al. 2016), the restricted Boltzmann machine trained by contrastive divergence
(Hinton 2002) and Kohonen's self-organizing map (1982)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ludus.nets import MLP

Log = Callable[[dict[str, float], int], None]


@dataclass
class GenerativeConfig:
    """Training of the generative models (each uses the fields that concern it)."""

    epochs: int = 100
    """Passes over the training images (GAN: generator steps = epochs * batches)."""
    batch_size: int = 64
    """Images per step."""
    learning_rate: float = 1e-3
    """Adam learning rate (RBM: SGD rate; SOM: initial rate)."""
    latent: int = 16
    """Autoencoder code size; GAN noise size."""
    hidden: int = 128
    """Autoencoder layer width; RBM hidden units."""
    noise: float = 0.0
    """Denoising autoencoder: std of the Gaussian corruption of its inputs."""
    cd_steps: int = 1
    """RBM: Gibbs steps of contrastive divergence (CD-k)."""
    som_size: int = 10
    """SOM: units per side of the square map."""
    seed: int = 0
    """Seed of weights, batches and noise."""


def _batches(n: int, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(n, generator=generator).split(size))


# --- autoencoder -------------------------------------------------------------------------
class Autoencoder(nn.Module):
    """x -> MLP encoder -> code (latent) -> MLP decoder -> sigmoid image of x's shape."""

    def __init__(self, shape: tuple[int, ...], hidden: int = 128, latent: int = 16) -> None:
        super().__init__()
        self.shape, dim = shape, math.prod(shape)
        self.encoder = nn.Sequential(MLP(dim, (hidden,), "relu"), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(MLP(latent, (hidden,), "relu"), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encoder(x))).view(-1, *self.shape)


def train_autoencoder(x_train: np.ndarray, x_test: np.ndarray, cfg: GenerativeConfig,
                      log: Log | None = None) -> tuple[Autoencoder, dict[str, float]]:
    """Minimise the reconstruction MSE of clean images from (optionally noisy) inputs;
    returns the model and its test reconstruction MSE."""
    torch.manual_seed(cfg.seed)
    model = Autoencoder(x_train.shape[1:], cfg.hidden, cfg.latent)
    opt = torch.optim.Adam(model.parameters(), cfg.learning_rate)
    x, g = torch.as_tensor(x_train), torch.Generator().manual_seed(cfg.seed)
    for epoch in range(1, cfg.epochs + 1):
        total = torch.zeros(())
        for idx in _batches(len(x), cfg.batch_size, g):
            clean = x[idx]
            noisy = clean + cfg.noise * torch.randn(clean.shape, generator=g) if cfg.noise else clean
            loss = nn.functional.mse_loss(model(noisy.clamp(0, 1)), clean)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        if log is not None:
            log({"loss/train": float(total) / len(x),
                 "test/mse": reconstruction_mse(model, x_test)}, epoch)
    return model, {"test/mse": reconstruction_mse(model, x_test)}


@torch.no_grad()
def reconstruction_mse(model: nn.Module, x: np.ndarray) -> float:
    """Mean squared error between images and their reconstructions."""
    xt = torch.as_tensor(x)
    return float(nn.functional.mse_loss(model(xt), xt))


# --- GAN ---------------------------------------------------------------------------------
class Generator(nn.Module):
    """DCGAN generator for 8x8 images: noise -> 64x2x2 -> transposed convs -> 1x8x8 in [0, 1]."""

    def __init__(self, latent: int = 16, width: int = 64) -> None:
        super().__init__()
        self.latent, self.width = latent, width
        self.fc = nn.Sequential(nn.Linear(latent, width * 4), nn.BatchNorm1d(width * 4), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.ConvTranspose2d(width // 2, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, self.width, 2, 2))


class Discriminator(nn.Module):
    """DCGAN discriminator for 8x8 images: strided convs with LeakyReLU -> one logit."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width // 2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width // 2, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(width * 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def train_gan(x_train: np.ndarray, cfg: GenerativeConfig, log: Log | None = None
              ) -> Generator:
    """Non-saturating GAN with DCGAN's Adam settings (beta1 = 0.5) and one-sided label
    smoothing (real targets 0.9, Salimans et al. 2016)."""
    torch.manual_seed(cfg.seed)
    G, D = Generator(cfg.latent), Discriminator()
    opt_g = torch.optim.Adam(G.parameters(), cfg.learning_rate, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), cfg.learning_rate, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    x, g = torch.as_tensor(x_train), torch.Generator().manual_seed(cfg.seed)
    for epoch in range(1, cfg.epochs + 1):
        for idx in _batches(len(x), cfg.batch_size, g):
            real = x[idx]
            fake = G(torch.randn(len(idx), cfg.latent, generator=g))
            d_loss = bce(D(real), torch.full((len(idx),), 0.9)) + \
                bce(D(fake.detach()), torch.zeros(len(idx)))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = bce(D(fake), torch.ones(len(idx)))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
        if log is not None:
            log({"loss/discriminator": d_loss.item(), "loss/generator": g_loss.item()}, epoch)
    return G


@torch.no_grad()
def sample(generator: Generator, n: int, seed: int = 0) -> np.ndarray:
    """(n, 1, 8, 8) generated images."""
    generator.eval()
    z = torch.randn(n, generator.latent, generator=torch.Generator().manual_seed(seed))
    return generator(z).numpy()


# --- restricted Boltzmann machine --------------------------------------------------------
class RBM:
    """Bernoulli-Bernoulli RBM: energy -v.W.h - b.v - c.h; trained by CD-k (Hinton 2002)."""

    def __init__(self, visible: int, hidden: int, seed: int = 0) -> None:
        self.g = torch.Generator().manual_seed(seed)
        self.W = 0.01 * torch.randn(visible, hidden, generator=self.g)
        self.b, self.c = torch.zeros(visible), torch.zeros(hidden)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v @ self.W + self.c)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.W.T + self.b)

    def gibbs(self, v: torch.Tensor, steps: int = 1) -> torch.Tensor:
        """`steps` rounds of v -> h -> v sampling; returns the last visible probabilities."""
        probs = v
        for _ in range(steps):
            h = torch.bernoulli(self.hidden_probs(v), generator=self.g)
            probs = self.visible_probs(h)
            v = torch.bernoulli(probs, generator=self.g)
        return probs

    def cd_step(self, v0: torch.Tensor, k: int, lr: float) -> None:
        """One contrastive-divergence update: data statistics minus k-step model statistics."""
        h0 = self.hidden_probs(v0)
        vk = v0
        for _ in range(k):
            h = torch.bernoulli(self.hidden_probs(vk), generator=self.g)
            vk = torch.bernoulli(self.visible_probs(h), generator=self.g)
        hk = self.hidden_probs(vk)
        n = len(v0)
        self.W += lr * (v0.T @ h0 - vk.T @ hk) / n
        self.b += lr * (v0 - vk).mean(0)
        self.c += lr * (h0 - hk).mean(0)

    def reconstruction_error(self, v: torch.Tensor) -> float:
        """Mean squared error of the one-step mean-field reconstruction."""
        return float(((self.visible_probs(self.hidden_probs(v)) - v) ** 2).mean())


def train_rbm(x_train: np.ndarray, x_test: np.ndarray, cfg: GenerativeConfig,
              log: Log | None = None) -> tuple[RBM, list[float]]:
    """CD-k on binarised images (pixel > 0.5); returns the RBM and the test reconstruction
    error after each epoch."""
    data = (torch.as_tensor(x_train).flatten(1) > 0.5).float()
    test = (torch.as_tensor(x_test).flatten(1) > 0.5).float()
    rbm = RBM(data.shape[1], cfg.hidden, cfg.seed)
    errors = [rbm.reconstruction_error(test)]
    for epoch in range(1, cfg.epochs + 1):
        for idx in _batches(len(data), cfg.batch_size, rbm.g):
            rbm.cd_step(data[idx], cfg.cd_steps, cfg.learning_rate)
        errors.append(rbm.reconstruction_error(test))
        if log is not None:
            log({"test/reconstruction_error": errors[-1]}, epoch)
    return rbm, errors


# --- self-organizing map -----------------------------------------------------------------
class SOM:
    """A size x size map of prototype vectors; each input pulls its best-matching unit and,
    through a Gaussian neighbourhood that shrinks over training, the units near it."""

    def __init__(self, size: int, dim: int, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.weights = self.rng.uniform(0, 1, (size * size, dim))
        rows, cols = np.divmod(np.arange(size * size), size)
        self.grid = np.stack([rows, cols], 1).astype(np.float64)  # (units, 2) map positions

    def winners(self, x: np.ndarray) -> np.ndarray:
        """Best-matching unit of each input."""
        d = (x ** 2).sum(1, keepdims=True) - 2 * x @ self.weights.T + (self.weights ** 2).sum(1)
        return d.argmin(1)

    def quantisation_error(self, x: np.ndarray) -> float:
        """Mean distance from each input to its best-matching unit's prototype."""
        return float(np.linalg.norm(x - self.weights[self.winners(x)], axis=1).mean())

    def neighbour_distance(self) -> float:
        """Mean prototype distance between 4-neighbours on the map, over the mean distance
        between random pairs of units: < 1 means the map is ordered."""
        w = self.weights.reshape(self.size, self.size, -1)
        near = np.concatenate([np.linalg.norm(w[1:] - w[:-1], axis=-1).ravel(),
                               np.linalg.norm(w[:, 1:] - w[:, :-1], axis=-1).ravel()]).mean()
        i, j = self.rng.integers(0, len(self.weights), (2, 2000))
        return float(near / np.linalg.norm(self.weights[i] - self.weights[j], axis=1).mean())

    def update(self, x: np.ndarray, lr: float, sigma: float) -> None:
        """Batch of inputs, one at a time (Kohonen's online rule)."""
        for v in x:
            bmu = self.grid[self.winners(v[None])[0]]
            h = np.exp(-((self.grid - bmu) ** 2).sum(1) / (2 * sigma ** 2))
            self.weights += lr * h[:, None] * (v - self.weights)


def train_som(x_train: np.ndarray, x_test: np.ndarray, cfg: GenerativeConfig,
              log: Log | None = None) -> tuple[SOM, list[float]]:
    """Rate and neighbourhood radius decay exponentially (radius from half the map to 0.5);
    returns the map and the test quantisation error after each epoch."""
    data, test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    som = SOM(cfg.som_size, data.shape[1], cfg.seed)
    errors = [som.quantisation_error(test)]
    start_sigma = cfg.som_size / 2
    for epoch in range(1, cfg.epochs + 1):
        frac = (epoch - 1) / max(cfg.epochs - 1, 1)
        lr = cfg.learning_rate * (0.02 ** frac)
        sigma = start_sigma * ((0.5 / start_sigma) ** frac)
        som.update(data[som.rng.permutation(len(data))], lr, sigma)
        errors.append(som.quantisation_error(test))
        if log is not None:
            log({"test/quantisation_error": errors[-1], "charts/sigma": sigma}, epoch)
    return som, errors


def image_grid(images: np.ndarray, cols: int, scale: int = 4, pad: int = 1) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) images in [0, 1] tiled into one (rows*H, cols*W) uint8
    picture, each pixel repeated `scale` times."""
    images = images.reshape(len(images), *images.shape[-2:])
    rows = math.ceil(len(images) / cols)
    h, w = images.shape[1] + pad, images.shape[2] + pad
    grid = np.ones((rows * h + pad, cols * w + pad))
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        grid[pad + r * h: (r + 1) * h, pad + c * w: (c + 1) * w] = img
    big = np.kron(np.clip(grid, 0, 1), np.ones((scale, scale)))
    return (255 * big).astype(np.uint8)
