"""Replay buffers for off-policy agents: uniform with n-step returns, and prioritized
(Schaul et al. 2016, proportional variant over a sum tree)."""

from __future__ import annotations

from typing import Any

import numpy as np


class ReplayBuffer:
    """Circular (capacity, num_envs) buffer; n-step returns are assembled when sampling.

    Each stored transition keeps its own next observation (the final observation where an
    episode ended), so an n-step return may stop early at an episode end or at the newest
    transition and still bootstrap correctly with gamma^k.
    """

    def __init__(self, capacity: int, num_envs: int, obs_shape: tuple[int, ...],
                 obs_dtype: np.dtype, num_actions: int, masked: bool, n_step: int = 1,
                 gamma: float = 0.99, action_shape: tuple[int, ...] = ()) -> None:
        """`action_shape` () stores Discrete action indices; (A,) stores Box actions."""
        if capacity < num_envs:
            raise ValueError(f"buffer capacity {capacity} is below num_envs {num_envs}")
        self.capacity, self.num_envs = capacity // num_envs, num_envs
        self.n_step, self.gamma = n_step, gamma
        C, N = self.capacity, num_envs
        self.arrays: dict[str, np.ndarray] = {
            "obs": np.zeros((C, N, *obs_shape), dtype=obs_dtype),
            "next_obs": np.zeros((C, N, *obs_shape), dtype=obs_dtype),
            "actions": np.zeros((C, N, *action_shape),
                                dtype=np.float32 if action_shape else np.int64),
            "rewards": np.zeros((C, N), dtype=np.float32),
            "terminated": np.zeros((C, N), dtype=bool),
            "ended": np.zeros((C, N), dtype=bool),
        }
        if masked:
            self.arrays["next_mask"] = np.ones((C, N, num_actions), dtype=bool)
        self.pos, self.full = 0, False

    def __len__(self) -> int:
        return (self.capacity if self.full else self.pos) * self.num_envs

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray, next_mask: np.ndarray | None = None
            ) -> np.ndarray:
        """Store one vectorised transition; returns the flat indices written (N,)."""
        a, p = self.arrays, self.pos
        a["obs"][p], a["next_obs"][p], a["actions"][p] = obs, next_obs, action
        a["rewards"][p], a["terminated"][p] = reward, terminated
        a["ended"][p] = np.logical_or(terminated, truncated)
        if next_mask is not None:
            a["next_mask"][p] = next_mask
        self.pos = (p + 1) % self.capacity
        self.full = self.full or self.pos == 0
        return p * self.num_envs + np.arange(self.num_envs)

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform flat indices into the stored transitions."""
        return rng.integers(0, len(self), size=batch_size)

    def gather(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The batch at flat indices, with n-step `returns`, `discounts` and `next_obs`.

        discounts = gamma^k, or 0 where the return ends in a termination.
        """
        a, C, N = self.arrays, self.capacity, self.num_envs
        i, e = flat // N, flat % N
        after = (self.pos - 1 - i) % C  # transitions of env e stored after i
        returns = np.zeros(len(flat), dtype=np.float32)
        discount = np.ones(len(flat), dtype=np.float32)
        alive = np.ones(len(flat), dtype=bool)
        last = i.copy()
        for k in range(self.n_step):
            idx = (i + k) % C
            use = alive & (k <= after)
            returns += np.where(use, discount * a["rewards"][idx, e], 0.0)
            last = np.where(use, idx, last)
            discount = np.where(use, discount * self.gamma, discount)
            alive = use & ~a["ended"][idx, e]
        batch = {"obs": a["obs"][i, e], "actions": a["actions"][i, e], "returns": returns,
                 "next_obs": a["next_obs"][last, e],
                 "discounts": discount * ~a["terminated"][last, e]}
        if "next_mask" in a:
            batch["next_mask"] = a["next_mask"][last, e]
        return batch

    def state(self) -> dict[str, Any]:
        """The stored data and write position, for checkpoints."""
        return {"arrays": dict(self.arrays), "pos": self.pos, "full": self.full}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore state()."""
        for k, v in state["arrays"].items():
            if self.arrays[k].shape != tuple(v.shape):
                raise ValueError(f"replay array {k!r} has shape {tuple(v.shape)}, "
                                 f"expected {self.arrays[k].shape}")
            self.arrays[k][...] = np.asarray(v)
        self.pos, self.full = int(state["pos"]), bool(state["full"])


class SumTree:
    """Binary tree whose internal nodes hold the sum of their children (leaves = priorities)."""

    def __init__(self, size: int) -> None:
        self.leaves = 1 << max(0, (size - 1).bit_length())
        self.tree = np.zeros(2 * self.leaves, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self.tree[1])

    def set(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Set leaf priorities and refresh their ancestors."""
        nodes = np.asarray(idx) + self.leaves
        self.tree[nodes] = values
        while nodes[0] > 1:
            nodes = np.unique(nodes // 2)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def get(self, idx: np.ndarray) -> np.ndarray:
        """Leaf priorities."""
        return self.tree[np.asarray(idx) + self.leaves]

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf index whose prefix-sum interval contains each mass value."""
        node = np.ones(len(mass), dtype=np.int64)
        mass = mass.copy()
        while node[0] < self.leaves:
            left = 2 * node
            right = mass > self.tree[left]
            mass -= np.where(right, self.tree[left], 0.0)
            node = np.where(right, left + 1, left)
        return node - self.leaves


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay: P(i) = p_i^alpha / sum_k p_k^alpha, importance
    weights (N P(i))^-beta normalised by the batch maximum."""

    def __init__(self, *args: Any, alpha: float = 0.6, eps: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alpha, self.eps = alpha, eps
        self.tree = SumTree(self.capacity * self.num_envs)
        self.max_priority = 1.0

    def add(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """Store a transition with the highest priority seen so far."""
        flat = super().add(*args, **kwargs)
        self.tree.set(flat, np.full(len(flat), self.max_priority ** self.alpha))
        return flat

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Stratified proportional sampling: one draw per equal slice of the total mass."""
        bounds = self.tree.total * (np.arange(batch_size) + rng.random(batch_size)) / batch_size
        return np.minimum(self.tree.find(bounds), len(self) - 1)

    def weights(self, flat: np.ndarray, beta: float) -> np.ndarray:
        """Importance-sampling weights (B,), max 1."""
        probs = self.tree.get(flat) / self.tree.total
        w = (len(self) * probs) ** (-beta)
        return (w / w.max()).astype(np.float32)

    def update_priorities(self, flat: np.ndarray, td_errors: np.ndarray) -> None:
        """Priorities from absolute TD errors: p = |delta| + eps."""
        priorities = np.abs(td_errors) + self.eps
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.set(flat, priorities ** self.alpha)

    def state(self) -> dict[str, Any]:
        """Stored data plus the priority tree."""
        return {**super().state(), "tree": self.tree.tree, "max_priority": self.max_priority}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore state()."""
        super().load_state(state)
        self.tree.tree[...] = np.asarray(state["tree"])
        self.max_priority = float(state["max_priority"])
