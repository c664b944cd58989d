"""Layer initialisation and activation lookup shared by every encoder and head."""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}

# Orthogonal init with gain sqrt(2) for hidden layers (Saxe et al. 2014; used by the
# PPO/A2C baselines), 0.01 for the policy output and 1.0 for the value output.
HIDDEN_GAIN = math.sqrt(2)


def activation(name: str) -> nn.Module:
    """Return a fresh activation module by name (relu, leaky_relu, elu, tanh)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def layer_init(layer: nn.Module, gain: float = HIDDEN_GAIN, bias: float = 0.0) -> nn.Module:
    """Orthogonally initialise a Linear/Conv layer's weight and set its bias to a constant."""
    nn.init.orthogonal_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer
