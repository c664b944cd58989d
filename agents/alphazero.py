"""AlphaZero: Silver et al. 2018, "A general reinforcement learning algorithm that masters chess,
shogi, and Go through self-play" (AlphaGo Zero, Nature 2017, for the loss and the search):
a policy-value network trained on the visit distributions of its own tree search
(agents/search.py) and on the outcomes of its self-play games.

The learner plays every seat of the env's games (envs.SelfPlay), searching copies of them:
`attach(env)` hands it the live games. Two-player zero-sum games with alternating or any
other turn order: each position's outcome is the final return of the seat that moved there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from ludus.agents.core import Step, TrainingError, as_tensor, check_finite, split_obs
from ludus.agents.search import SearchConfig, TreeSearch
from ludus.nets import NetSpec, build_net, observation_space


@dataclass
class AlphaZeroConfig:
    """AlphaZero self-play and training settings."""

    num_envs: int = 64
    """Self-play games played (and searched) together."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """Tree search settings."""
    temperature_moves: int = 8
    """Moves of each game sampled in proportion to the visit counts; later moves are the
    most visited (PUCT; Gumbel samples through its Gumbel noise throughout)."""
    replay_size: int = 100_000
    """Positions kept for training (the oldest are overwritten)."""
    min_replay: int = 2_000
    """Positions stored before the first update."""
    train_every: int = 1_024
    """Self-play moves (over all games) between updates."""
    sample_reuse: float = 4.0
    """How many times each new position is sampled for training, on average."""
    batch_size: int = 256
    """Positions per gradient step."""
    learning_rate: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW weight decay (AlphaZero's L2 term)."""
    max_grad_norm: float = 1.0
    """Gradient clipping by global norm."""
    value_target: Literal["outcome", "blend"] = "blend"
    """outcome: the game's result z; blend: the mean of z and the root's search value (lower
    variance early on, when the outcome of a long game says little about one move)."""
    mirror: bool = True
    """Train on left-right mirrored copies of half the positions, in games that have a
    mirror image (ludus's boards)."""
    checkpoint_replay: bool = True
    """Save the replay buffer with each checkpoint so --resume continues with it."""
    net: NetSpec = field(default_factory=lambda: NetSpec(
        encoder="mlp", hidden=(512, 512), activation="relu", shared=True))
    """Policy-value network (the PPO connect-four league's, so its agents can start one)."""
    init: str | None = None
    """Start from this checkpoint's weights (any actor-critic with the same net spec and
    spaces: a PPO league agent, a behaviour clone)."""


class AlphaZero:
    """Self-play with tree search, a replay of (observation, search policy, outcome), and the
    AlphaZero loss: cross-entropy to the search policy plus squared value error."""

    kind = "actor_critic"
    plays_every_seat = True  # trained on envs.SelfPlay: self-play is its only setting

    def __init__(self, cfg: AlphaZeroConfig, obs_space: gym.Space, action_space: gym.Space,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"alphazero needs Discrete actions, got {action_space}")
        for name in ("num_envs", "replay_size", "min_replay", "train_every", "batch_size"):
            if getattr(cfg, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(cfg, name)}")
        if cfg.sample_reuse <= 0:
            raise ValueError(f"sample_reuse must be positive, got {cfg.sample_reuse}")
        self.cfg, self.device = cfg, torch.device(device)
        self.net = build_net(cfg.net, obs_space, action_space, "actor_critic", seed).to(self.device)
        if cfg.init is not None:
            from ludus.agents.checkpoint import load_weights

            load_weights(self.net, cfg.init)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=cfg.learning_rate,
                                           weight_decay=cfg.weight_decay)
        self.rng = np.random.default_rng(seed)
        self.search = TreeSearch(self.evaluate, cfg.search, self.rng)
        box = observation_space(obs_space)
        self.obs_shape, self.obs_dtype = box.shape, box.dtype
        self.num_actions = int(action_space.n)
        self.flip: tuple[int, np.ndarray] | None = None  # the game's mirror, set by attach()
        C, A = cfg.replay_size, self.num_actions
        self.replay = {"obs": np.zeros((C, *self.obs_shape), dtype=self.obs_dtype),
                       "mask": np.zeros((C, A), dtype=bool),
                       "policy": np.zeros((C, A), dtype=np.float32),
                       "value": np.zeros(C, dtype=np.float32)}
        self.pos, self.full = 0, False
        self.games: list[list[tuple[Any, ...]]] = [[] for _ in range(cfg.num_envs)]
        self.moves = np.zeros(cfg.num_envs, dtype=np.int64)
        self.returns = np.zeros((cfg.num_envs, 2), dtype=np.float64)  # per game and seat
        self.game: Any = None
        self.last_actions: np.ndarray | None = None
        self.global_step, self.num_updates, self.progress = 0, 0, 0.0
        self.since_update = 0
        self.timing = {"search": 0.0, "network": 0.0, "train": 0.0}
        self.simulations = 0
        self.num_games = 0
        self._since = (time.perf_counter(), 0)  # (clock, games) at the last update

    # ----- acting -------------------------------------------------------------------------
    def attach(self, env: Any) -> None:
        """Search copies of `env.game`, the live games of an envs.SelfPlay env."""
        game = getattr(env, "game", None)
        if game is None or not hasattr(game, "spawn") or not getattr(env, "plays_every_seat",
                                                                          False):
            raise ValueError("alphazero plays every seat of a game it can copy: train it on a "
                             "board game (train.py --algo alphazero --env-id connect_four)")
        game.spawn(1)  # refuses games whose states cannot be searched, in one line
        if game.num_players != 2:
            raise ValueError(f"alphazero needs a two-player zero-sum game, this one has "
                             f"{game.num_players} players")
        self.game = game
        self.flip = getattr(game, "mirror", None) if self.cfg.mirror else None

    @torch.no_grad()
    def evaluate(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's (logits (n, A), values (n,)) for a batch of positions."""
        start = time.perf_counter()
        if self.net.training:  # acts in eval mode; update() switches to train and back
            self.net.eval()
        logits, value, _ = self.net(as_tensor(obs, self.device), None, None,
                                    as_tensor(mask, self.device))
        out = logits.float().cpu().numpy(), value.float().cpu().numpy()
        self.timing["network"] += time.perf_counter() - start
        return out

    def act(self, obs: Any) -> np.ndarray:
        """Search every game's position and pick the moves (sampled early in a game)."""
        if self.game is None:
            raise TrainingError("alphazero acts by searching its games: attach(env) first")
        start = time.perf_counter()
        result = self.search.run(self.game, explore=True)
        self.timing["search"] += time.perf_counter() - start
        self.simulations += self.cfg.search.num_simulations * self.cfg.num_envs
        actions = result.action.copy()
        if not self.cfg.search.gumbel:
            early = np.flatnonzero(self.moves < self.cfg.temperature_moves)
            for i in early:
                p = result.visits[i] / result.visits[i].sum()
                actions[i] = self.rng.choice(self.num_actions, p=p)
        planes, mask = split_obs(obs)
        seats = self.game.to_move.copy()
        for i in range(self.cfg.num_envs):
            self.games[i].append((planes[i], mask[i], result.policy[i], result.value[i],
                                  seats[i]))
        self.last_actions = actions
        return actions

    def observe(self, step: Step) -> None:
        """Add the move's reward to its game's returns; store finished games' positions with
        their outcomes."""
        n = self.cfg.num_envs
        ended = np.logical_or(step.terminated, step.truncated)
        seats = np.array([g[-1][4] for g in self.games])
        self.returns[np.arange(n), seats] += step.reward
        self.returns[np.arange(n), 1 - seats] -= step.reward  # zero-sum
        self.search.advance(self.last_actions, ended)
        for i in np.flatnonzero(ended):
            self._store(self.games[i], self.returns[i])
            self.games[i], self.returns[i], self.moves[i] = [], 0.0, 0
            self.num_games += 1
        self.moves[~ended] += 1
        self.global_step += n
        self.since_update += n

    def _store(self, positions: list[tuple[Any, ...]], returns: np.ndarray) -> None:
        """One finished game's positions into the replay."""
        blend = 0.5 if self.cfg.value_target == "blend" else 0.0
        for planes, mask, policy, root_value, seat in positions:
            z = float(np.clip(returns[seat], -1.0, 1.0))
            p = self.pos
            self.replay["obs"][p], self.replay["mask"][p] = planes, mask
            self.replay["policy"][p] = policy
            self.replay["value"][p] = (1 - blend) * z + blend * root_value
            self.pos = (p + 1) % self.cfg.replay_size
            self.full = self.full or self.pos == 0

    def __len__(self) -> int:
        return self.cfg.replay_size if self.full else self.pos

    # ----- learning -----------------------------------------------------------------------
    def ready(self) -> bool:
        """True when the replay holds min_replay positions and train_every moves were played."""
        return len(self) >= self.cfg.min_replay and self.since_update >= self.cfg.train_every

    def update(self) -> dict[str, float]:
        """Gradient steps on replay samples (sample_reuse per new position on average)."""
        cfg = self.cfg
        start = time.perf_counter()
        steps = max(1, round(self.since_update * cfg.sample_reuse / cfg.batch_size))
        totals = np.zeros(3)
        self.net.train()
        for _ in range(steps):
            idx = self.rng.integers(0, len(self), size=cfg.batch_size)
            batch = {k: v[idx] for k, v in self.replay.items()}
            if self.flip is not None:
                self._mirror(batch, self.rng.random(cfg.batch_size) < 0.5)
            obs = as_tensor(batch["obs"], self.device)
            mask = as_tensor(batch["mask"], self.device)
            target = as_tensor(batch["policy"], self.device)
            z = as_tensor(batch["value"], self.device)
            logits, value, _ = self.net(obs, None, None, mask)
            log_p = F.log_softmax(logits, -1)
            policy_loss = -(target * log_p.masked_fill(~mask, 0.0)).sum(-1).mean()
            value_loss = F.mse_loss(value, z)
            loss = policy_loss + value_loss
            check_finite(loss, "alphazero", self.global_step)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            entropy = -(log_p.exp() * log_p.masked_fill(~mask, 0.0)).sum(-1).mean()
            totals += [policy_loss.item(), value_loss.item(), entropy.item()]
        self.net.eval()
        self.num_updates += 1
        self.since_update = 0
        self.timing["train"] += time.perf_counter() - start
        totals /= steps
        search = self.timing["search"]
        now, games = time.perf_counter(), self.num_games
        per_hour = 3600 * (games - self._since[1]) / max(now - self._since[0], 1e-9)
        self._since = (now, games)
        return {"loss/policy": totals[0], "loss/value": totals[1], "loss/entropy": totals[2],
                "perf/simulations_per_s": self.simulations / max(search, 1e-9),
                "perf/games_per_hour": per_hour,
                "charts/games": float(self.num_games), "charts/replay": float(len(self)),
                # where the time went: search (its network calls included), network, learning
                "time/search": search, "time/network": self.timing["network"],
                "time/learn": self.timing["train"]}

    def _mirror(self, batch: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Flip the boards of `rows` left-right, with their masks and policies."""
        board_axis, actions = self.flip
        batch["obs"][rows] = np.flip(batch["obs"][rows], axis=board_axis)
        for key in ("mask", "policy"):
            batch[key][rows] = batch[key][rows][:, actions]

    # ----- resume -------------------------------------------------------------------------
    def train_state(self) -> dict[str, Any]:
        """Optimizer, RNG, counters and (checkpoint_replay) the replay; games in progress
        are not kept: a resumed run starts new ones."""
        replay = None
        if self.cfg.checkpoint_replay:
            size = len(self)
            replay = {k: v[:size] for k, v in self.replay.items()}
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state,
                "global_step": self.global_step, "num_updates": self.num_updates,
                "num_games": self.num_games, "replay": replay, "pos": self.pos,
                "full": self.full}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore train_state(); a checkpoint without a replay means a rebuilt one."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.global_step, self.num_updates = int(state["global_step"]), int(state["num_updates"])
        self.num_games = int(state["num_games"])
        replay = state.get("replay")
        self.replay_restored = replay is not None
        if replay is None:
            return
        size = len(replay["value"])
        if size > self.cfg.replay_size:
            raise ValueError(f"stored replay holds {size} positions, more than replay_size "
                             f"{self.cfg.replay_size}")
        for key, array in self.replay.items():
            stored = np.asarray(replay[key])
            if stored.shape[1:] != array.shape[1:]:
                raise ValueError(f"replay {key!r} has shape {stored.shape[1:]}, expected "
                                 f"{array.shape[1:]}")
            array[:size] = stored
        self.pos, self.full = int(state["pos"]), bool(state["full"])

