"""Build an actor-critic, Q network or squashed actor from a small spec and the env's spaces."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ludus.nets.attention import AttentionCore, AttentionEncoder
from ludus.nets.cnn import BoardCNN, NatureCNN
from ludus.nets.continuous import SquashedActor, TwinQ
from ludus.nets.heads import DuelingQHead, GaussianHead, policy_head, q_head, value_head
from ludus.nets.masking import apply_mask
from ludus.nets.mlp import MLP
from ludus.nets.normalize import RunningNorm
from ludus.nets.recurrent import RecurrentCore, State


@dataclass
class NetSpec:
    """The architecture of a net; stored in every checkpoint as JSON."""

    encoder: Literal["auto", "mlp", "nature_cnn", "board_cnn", "attention"] = "auto"
    """auto: nature_cnn for uint8 images, board_cnn for other 3-d planes, mlp otherwise;
    attention: a Transformer over a board's cells."""
    hidden: tuple[int, ...] = (64, 64)
    """MLP encoder widths."""
    activation: Literal["relu", "leaky_relu", "elu", "tanh"] = "tanh"
    """Activation of hidden layers."""
    layer_norm: bool = False
    """LayerNorm after each hidden linear layer."""
    dropout: float = 0.0
    """Dropout after each hidden layer."""
    batch_norm: bool = False
    """BatchNorm after each hidden layer and convolution (supervised tasks: in RL, batch
    statistics shift with the policy)."""
    channels: tuple[int, ...] = (64, 64)
    """board_cnn convolution widths."""
    cnn_dim: int = 512
    """Width of the dense layer after the convolutions."""
    core: Literal["none", "lstm", "gru", "attention"] = "none"
    """Recurrent core after the encoder (attention: over the last `context` steps)."""
    core_size: int = 64
    """Hidden size of an LSTM or GRU core."""
    forget_bias: float = 0.0
    """LSTM forget-gate bias at initialisation (1.0 keeps memories at first: Gers et al.
    2000, Jozefowicz et al. 2015)."""
    attention_dim: int = 64
    """Width of the attention encoder and core."""
    attention_heads: int = 4
    """Attention heads per layer."""
    attention_layers: int = 2
    """Attention blocks."""
    context: int = 16
    """Attention core: the steps each step attends to (itself included)."""
    gated: bool = False
    """Attention: GTrXL's gated residuals instead of sums."""
    head_hidden: tuple[int, ...] = ()
    """Extra hidden layers between the encoder/core and the heads."""
    ortho_init: bool = True
    """Orthogonal initialisation (sqrt 2 hidden, 0.01 policy, 1.0 value)."""
    shared: bool = False
    """Actor and critic share one body (else each has its own)."""
    dueling: bool = False
    """Q networks: dueling head."""
    obs_norm: bool = False
    """Normalise observations by running statistics kept in the net."""
    log_std_init: float = 0.0
    """Gaussian policies (Box actions): initial log standard deviation."""
    sde: bool = False
    """Gaussian policies: generalized state-dependent exploration (gSDE, Raffin et al. 2021;
    feed-forward nets)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetSpec:
        """Inverse of to_json; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown net spec keys {unknown}; known: {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def observation_space(space: gym.Space) -> gym.spaces.Box:
    """The array part of an observation space (the `observation` key of a dict space)."""
    if isinstance(space, gym.spaces.Dict):
        if "observation" not in space.spaces:
            raise ValueError(f"dict observation spaces need an 'observation' key, got {list(space)}")
        space = space["observation"]
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"unsupported observation space {space}; expected a Box")
    return space


def num_actions(space: gym.Space) -> int:
    """Number of actions of a Discrete action space."""
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"unsupported action space {space}; this head needs Discrete actions "
                         f"(policy-gradient agents also take one-dimensional Box actions)")
    return int(space.n)


def is_continuous(space: gym.Space) -> bool:
    """True for one-dimensional Box action spaces (Gaussian policies); False for Discrete;
    anything else is an error naming the space."""
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return True
    num_actions(space)
    return False


class Body(nn.Module):
    """[RunningNorm] -> encoder -> [recurrent core] -> [head_hidden MLP]."""

    def __init__(self, spec: NetSpec, obs_space: gym.spaces.Box) -> None:
        super().__init__()
        shape = obs_space.shape
        self.obs_ndim = len(shape)
        self.norm = RunningNorm(shape) if spec.obs_norm else None
        kind = spec.encoder
        if kind == "auto":
            kind = "mlp" if len(shape) != 3 else (
                "nature_cnn" if obs_space.dtype == np.uint8 else "board_cnn")
        if kind == "mlp":
            self.encoder: nn.Module = MLP(int(np.prod(shape)), spec.hidden, spec.activation,
                                          spec.layer_norm, spec.dropout, spec.ortho_init,
                                          spec.batch_norm)
        elif kind == "nature_cnn":
            self.encoder = NatureCNN(shape, spec.cnn_dim, spec.activation, spec.ortho_init)
        elif kind == "board_cnn":
            self.encoder = BoardCNN(shape, spec.channels, spec.cnn_dim, spec.activation,
                                    spec.ortho_init, spec.batch_norm)
        elif kind == "attention":
            self.encoder = AttentionEncoder(shape, spec.attention_dim, spec.attention_heads,
                                            spec.attention_layers, spec.gated)
        else:
            raise ValueError(f"unknown encoder {spec.encoder!r}")
        dim = self.encoder.out_dim
        self.core: nn.Module | None = None
        if spec.core == "attention":
            self.core = AttentionCore(dim, spec.attention_dim, spec.attention_heads,
                                      spec.attention_layers, spec.context, spec.gated)
        elif spec.core != "none":
            self.core = RecurrentCore(dim, spec.core_size, spec.core, spec.ortho_init,
                                      spec.forget_bias)
        if self.core is not None:
            dim = self.core.out_dim
        self.head = MLP(dim, spec.head_hidden, spec.activation, spec.layer_norm, spec.dropout,
                        spec.ortho_init) if spec.head_hidden else None
        self.out_dim = self.head.out_dim if self.head is not None else dim

    def forward(self, x: torch.Tensor, state: State | None = None,
                episode_start: torch.Tensor | None = None) -> tuple[torch.Tensor, State | None]:
        """Feed-forward: x (B, *obs) -> (B, F). Recurrent: x (T, B, *obs) -> (T, B, F)."""
        lead = x.shape[: x.dim() - self.obs_ndim]
        if len(lead) != 1:
            x = x.reshape(-1, *x.shape[len(lead):])
        if x.dtype != torch.float32:
            x = x.float()
        if self.norm is not None:
            x = self.norm(x)
        features = self.encoder(x)
        if self.core is not None:
            features, state = self.core(features.view(*lead, -1), state, episode_start)
            features = features.reshape(-1, features.shape[-1])
        if self.head is not None:
            features = self.head(features)
        return (features if len(lead) == 1 else features.view(*lead, -1)), state


class ActorCritic(nn.Module):
    """Categorical policy and state-value heads over one shared or two separate bodies."""

    def __init__(self, spec: NetSpec, obs_space: gym.Space, action_space: gym.Space) -> None:
        super().__init__()
        box = observation_space(obs_space)
        self.actor = Body(spec, box)
        self.critic = None if spec.shared else Body(spec, box)
        self.continuous = is_continuous(action_space)
        self.action_dist = "gaussian" if self.continuous else "categorical"
        if spec.sde and (not self.continuous or spec.core != "none"):
            raise ValueError("sde (gSDE) needs a feed-forward net over Box actions")
        self.policy_head = GaussianHead(self.actor.out_dim, action_space.shape[0], spec.ortho_init,
                                        spec.log_std_init, spec.sde) \
            if self.continuous else policy_head(self.actor.out_dim, num_actions(action_space),
                                                spec.ortho_init)
        self.value_head = value_head(self.actor.out_dim if spec.shared else self.critic.out_dim,
                                     spec.ortho_init)
        self.recurrent = spec.core != "none"

    @property
    def norms(self) -> list[RunningNorm]:
        """The observation normalisers (one per body) to update during collection."""
        return [b.norm for b in (self.actor, self.critic) if b is not None and b.norm is not None]

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State | None:
        """Zero recurrent state (actor's then critic's tensors), or None for feed-forward nets."""
        if not self.recurrent:
            return None
        state = self.actor.core.initial_state(batch_size, device)
        if self.critic is not None:
            state = state + self.critic.core.initial_state(batch_size, device)
        return state

    def forward(self, obs: torch.Tensor, state: State | None = None,
                episode_start: torch.Tensor | None = None, action_mask: torch.Tensor | None = None,
                need_value: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None, State | None]:
        """Return masked logits (.., A) (Box actions: Gaussian parameters (.., 2A)), value
        (..) or None, and the next state."""
        k = len(state) // 2 if (state is not None and self.critic is not None) else None
        actor_state = state[:k] if k else state
        features, new_actor = self.actor(obs, actor_state, episode_start)
        logits = self.policy_head(features)
        if not self.continuous:
            logits = apply_mask(logits, action_mask)
        value, new_critic = None, state[k:] if k else None
        if need_value:
            if self.critic is None:
                value = self.value_head(features).squeeze(-1)
            else:
                critic_features, new_critic = self.critic(obs, state[k:] if k else None,
                                                          episode_start)
                value = self.value_head(critic_features).squeeze(-1)
        if not self.recurrent:
            return logits, value, None
        return logits, value, (new_actor + new_critic if k else new_actor)


class QNetwork(nn.Module):
    """Q-values for every action, optionally with a dueling head; masked actions get -huge."""

    recurrent = False

    def __init__(self, spec: NetSpec, obs_space: gym.Space, action_space: gym.Space) -> None:
        super().__init__()
        if spec.core != "none":
            raise ValueError("Q networks are feed-forward; set core='none'")
        self.body = Body(spec, observation_space(obs_space))
        n = num_actions(action_space)
        self.q = (DuelingQHead if spec.dueling else q_head)(self.body.out_dim, n, spec.ortho_init)

    @property
    def norms(self) -> list[RunningNorm]:
        """The observation normaliser, if any."""
        return [self.body.norm] if self.body.norm is not None else []

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> None:
        """Q networks carry no state."""
        return None

    def forward(self, obs: torch.Tensor, action_mask: torch.Tensor | None = None) -> torch.Tensor:
        """obs (B, *obs) -> Q (B, A)."""
        return apply_mask(self.q(self.body(obs)[0]), action_mask)


def squashed_actor(spec: NetSpec, obs_space: gym.Space, action_space: gym.Space,
                   stochastic: bool = True) -> SquashedActor:
    """SAC's (stochastic) or TD3's actor: an MLP of spec.hidden over flat observations."""
    if spec.core != "none" or spec.obs_norm or spec.encoder not in ("auto", "mlp"):
        raise ValueError("SAC and TD3 nets are MLPs over flat observations: set core='none', "
                         "obs_norm=False and encoder='mlp'")
    return SquashedActor(obs_space, action_space, spec.hidden, spec.activation, stochastic)


def twin_q(spec: NetSpec, obs_space: gym.Space, action_space: gym.Space) -> TwinQ:
    """SAC's and TD3's twin critics: MLPs of spec.hidden over [s, a]."""
    return TwinQ(obs_space, action_space, spec.hidden, spec.activation)


NET_KINDS: dict[str, Callable[[NetSpec, gym.Space, gym.Space], nn.Module]] = {
    "actor_critic": ActorCritic, "q": QNetwork,
    "squashed_gaussian": partial(squashed_actor, stochastic=True),  # SAC's actor
    "deterministic": partial(squashed_actor, stochastic=False),  # TD3's actor
    "twin_q": twin_q,
}


def build_net(spec: NetSpec, obs_space: gym.Space, action_space: gym.Space,
              kind: str = "actor_critic", seed: int | None = None
              ) -> nn.Module:
    """Build a net for the spaces; with a seed the initial weights are reproducible.

    The seed is applied in a forked RNG so the caller's global torch RNG is untouched.
    """
    if kind not in NET_KINDS:
        raise ValueError(f"unknown net kind {kind!r}; choose from {sorted(NET_KINDS)}")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return NET_KINDS[kind](spec, obs_space, action_space)
