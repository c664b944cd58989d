"""Every agent of a PettingZoo parallel env as a row of one vector env, so a single learner
acts for all of them with one set of weights (parameter sharing, as PettingZoo's tutorials do
with SuperSuit's pettingzoo_env_to_vec_env_v1 and Stable-Baselines3).

Rows are (env copy, agent) pairs in `possible_agents` order. An agent that leaves an episode
early (terminated or truncated while others play on) ends its row's episode there; until its
copy's episode ends the row is inactive: zero observations, zero reward, `info["active"]`
False, actions ignored. An agent that joins mid-episode is inactive until it appears.
Learners leave inactive rows out of their updates. Team returns (the sum of every agent's
rewards over a copy's episode) come in `info["team_return"]`, on the copy's first row.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

SHARED = "shared:"

# Named set-ups: (module, parallel_env kwargs, pixel preprocessing, agent one-hot)
PRESETS: dict[str, tuple[str, dict[str, Any], bool, bool]] = {
    # MPE's cooperative navigation, discrete actions (PettingZoo's defaults)
    "simple_spread": ("mpe2.simple_spread_v3", {"N": 3, "local_ratio": 0.5, "max_cycles": 25,
                                                "continuous_actions": False}, False, False),
    # PettingZoo's Stable-Baselines3 tutorial: continuous pistons, 84x84 grey frames x 3
    "pistonball": ("butterfly.pistonball_v6", {"n_pistons": 20, "continuous": True,
                                               "max_cycles": 125}, True, False),
    # vector observations; archers and knights share one policy told apart by a one-hot
    "knights_archers_zombies": ("butterfly.knights_archers_zombies_v11",
                                {"obs_method": "vector", "max_cycles": 900}, False, True),
}


def pettingzoo_parallel(name: str, **kwargs: Any) -> Callable[[], Any]:
    """A maker of the parallel env `name`: a module path such as mpe2.simple_spread_v3 or
    butterfly.pistonball_v6 (pettingzoo. is implied for PettingZoo's own families)."""
    module_name = name if name.startswith(("mpe2.", "pettingzoo.")) else f"pettingzoo.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.split(".")[0] in ("mpe2", "pymunk", "supersuit"):
            raise gym.error.DependencyNotInstalled(
                f"{SHARED}{name} needs ludus's marl extra: pip install 'ludus[marl]' "
                f"(no module {missing!r})") from None
        raise ValueError(f"unknown PettingZoo parallel env {SHARED}{name} (no module "
                         f"{module_name!r}; e.g. {SHARED}mpe2.simple_spread_v3 or "
                         f"{SHARED}butterfly.pistonball_v6)") from None
    return lambda: module.parallel_env(**kwargs)


def pixels(env: Any, size: int = 84, stack: int = 3) -> Any:
    """The PettingZoo tutorial's preprocessing of pixel observations with SuperSuit: the
    blue channel as grey, resized to size x size, the last `stack` frames (channels last)."""
    try:
        import supersuit as ss
    except ModuleNotFoundError:
        raise gym.error.DependencyNotInstalled(
            "pixel preprocessing needs ludus's marl extra: pip install 'ludus[marl]' (no "
            "module 'supersuit')") from None
    env = ss.color_reduction_v0(env, mode="B")
    env = ss.resize_v1(env, x_size=size, y_size=size)
    return ss.frame_stack_v1(env, stack)


def agents_per_copy(maker: Callable[[], Any]) -> int:
    """How many agents a copy of the env from `maker` has."""
    probe = maker()
    try:
        return len(probe.possible_agents)
    finally:
        probe.close()


def team_size(env_id: str) -> int:
    """Agents per copy of a `shared:` id (rows per team in its vector env); 1 otherwise."""
    if not env_id.startswith(SHARED):
        return 1
    name = env_id.removeprefix(SHARED)
    if name == "simple_spread":  # also the batched version's, which needs no mpe2
        return PRESETS[name][1]["N"]
    module, kwargs = PRESETS[name][:2] if name in PRESETS else (name, {})
    return agents_per_copy(pettingzoo_parallel(module, **kwargs))


def make_shared(name: str, num_envs: int, seed: int | None = None, vectorization: str = "auto",
                **kwargs: Any) -> gym.vector.VectorEnv:
    """`shared:<name>`: a preset (simple_spread, pistonball, knights_archers_zombies) or a
    module path (mpe2.simple_tag_v3, butterfly.cooperative_pong_v5) with `kwargs` for its
    parallel_env; `num_envs` counts rows, agents over all copies, so it is a multiple of
    the number of agents per copy. simple_spread runs on ludus's batched numpy version
    (envs.spread) unless vectorization is "sync" (mpe2's own env, one copy at a time)."""
    if vectorization not in ("auto", "native", "sync"):
        raise ValueError(f"vectorization of {SHARED}{name} is auto, native or sync, got "
                         f"{vectorization!r}")
    if name == "simple_spread" and vectorization != "sync" and set(kwargs) <= {
            "N", "local_ratio", "max_cycles"}:
        from ludus.envs.spread import BatchedSimpleSpread

        env = BatchedSimpleSpread(num_envs, **kwargs)
        if seed is not None:
            env.reset(seed=seed)
        return env
    if vectorization == "native":
        raise ValueError(f"no native batched implementation of {SHARED}{name} (have "
                         f"{SHARED}simple_spread)")
    agent_id = bool(kwargs.pop("agent_id", False))
    preprocess = False
    if name in PRESETS:
        module, preset, preprocess, agent_id = PRESETS[name]
        kwargs = {**preset, **kwargs}
        name = module
    maker = pettingzoo_parallel(name, **kwargs)
    if preprocess:
        base, maker = maker, lambda: pixels(base())
    team = agents_per_copy(maker)
    if num_envs <= 0 or num_envs % team:
        raise ValueError(f"{SHARED}{name} has {team} agents per copy: num_envs counts agents "
                         f"and must be a positive multiple of {team}, got {num_envs}")
    env = AgentVectorEnv(maker, num_envs // team, agent_id, f"{SHARED}{name}")
    if seed is not None:
        env.reset(seed=seed)
    return env


class AgentVectorEnv(gym.vector.VectorEnv):
    """`num_envs` copies of a parallel env, one row per (copy, agent); same-step autoreset:
    where a copy's episode ends its rows already hold the next episode's first observations
    and `info["final_obs"]` the last ones. `agent_id` appends a one-hot of the agent's index
    to the flattened observations (SuperSuit's agent_indicator)."""

    def __init__(self, make_env: Callable[[], Any], num_envs: int, agent_id: bool = False,
                 name: str = "parallel env") -> None:
        if num_envs <= 0:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        self.copies = [make_env() for _ in range(num_envs)]
        first = self.copies[0]
        self.agent_names = list(first.possible_agents)
        M = self.team_size = len(self.agent_names)
        obs_space = self._one_space(first.observation_space, "observation", name)
        self.single_action_space = self._one_space(first.action_space, "action", name)
        self.agent_id = agent_id
        if not isinstance(obs_space, gym.spaces.Box):
            raise ValueError(f"{name}: observations must be a Box, got {obs_space}")
        if obs_space.dtype == np.float64:  # nets run in float32
            obs_space = gym.spaces.Box(obs_space.low, obs_space.high, dtype=np.float32)
        if agent_id:  # flattened, then the one-hot
            obs_space = gym.spaces.Box(np.concatenate([obs_space.low.ravel(), np.zeros(M)]),
                                       np.concatenate([obs_space.high.ravel(), np.ones(M)]),
                                       dtype=np.float32)
        self.single_observation_space = obs_space
        self.num_envs = num_envs * M
        self.observation_space = gym.vector.utils.batch_space(obs_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
                         "render_modes": []}
        self.obs = np.zeros(self.observation_space.shape, obs_space.dtype)
        self.live = np.zeros(self.num_envs, dtype=bool)  # rows whose agent is in its episode
        self.team = np.zeros(num_envs)  # each copy's team return so far
        self.seed: int | None = None
        self.episodes = 0

    def _one_space(self, space_of: Callable[[str], gym.Space], kind: str, name: str) -> gym.Space:
        """The agents' common space; a clear error when they differ."""
        spaces = {a: space_of(a) for a in self.agent_names}
        first = spaces[self.agent_names[0]]
        different = {a: s for a, s in spaces.items() if s != first}
        if different:
            other, space = next(iter(different.items()))
            raise ValueError(f"{name}: agents have different {kind} spaces ({self.agent_names[0]}"
                             f": {first}, {other}: {space}); one shared policy needs one space: "
                             f"wrap the env (e.g. SuperSuit's pad_observations_v0 / "
                             f"pad_action_space_v0) or train the agents separately")
        return first

    def _row(self, obs: Any, k: int) -> np.ndarray:
        """One agent's observation as a row (with its one-hot when asked)."""
        obs = np.asarray(obs, dtype=self.single_observation_space.dtype)
        if not self.agent_id:
            return obs
        one_hot = np.zeros(self.team_size, dtype=np.float32)
        one_hot[k] = 1.0
        return np.concatenate([obs.ravel(), one_hot])

    def _fill(self, e: int, observations: dict[str, Any]) -> None:
        """Rows of copy e from a fresh observation dict (absent agents: inactive, zeros)."""
        M = self.team_size
        for k, agent in enumerate(self.agent_names):
            row = e * M + k
            self.live[row] = agent in observations
            self.obs[row] = self._row(observations[agent], k) if self.live[row] else 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy (copy i seeded seed + i)."""
        self.seed, self.episodes = seed, 0
        for e, env in enumerate(self.copies):
            observations, _ = env.reset(seed=None if seed is None else seed + e, options=options)
            self._fill(e, observations)
        self.team[:] = 0.0
        return self.obs.copy(), {"active": self.live.copy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """Step every copy with its live agents' actions; rows as the class describes."""
        M, R = self.team_size, self.num_envs
        reward = np.zeros(R, dtype=np.float32)
        terminated, truncated = np.zeros(R, dtype=bool), np.zeros(R, dtype=bool)
        active = self.live.copy()
        final = self.obs.copy()
        ended_copy = np.zeros(R, dtype=bool)
        team_return = np.zeros(R)
        for e, env in enumerate(self.copies):
            rows = slice(e * M, (e + 1) * M)
            act = {a: actions[e * M + k] for k, a in enumerate(self.agent_names)
                   if active[e * M + k]}
            observations, rewards, terms, truncs, _ = env.step(act)
            for k, agent in enumerate(self.agent_names):
                row = e * M + k
                if not active[row]:
                    continue
                reward[row] = rewards.get(agent, 0.0)
                terminated[row] = bool(terms.get(agent, False))
                truncated[row] = bool(truncs.get(agent, False))
                if agent in observations:
                    final[row] = self._row(observations[agent], k)
            self.team[e] += reward[rows].sum()
            if env.agents:  # play on: agents that left become inactive, newcomers active
                self._fill(e, {a: observations[a] for a in env.agents if a in observations})
                continue
            # the copy's episode is over: every active row ends here, reset the copy
            truncated[rows] |= active[rows] & ~terminated[rows]
            ended_copy[rows] = True
            team_return[e * M] = self.team[e]
            self.team[e] = 0.0
            self.episodes += 1
            seed = None if self.seed is None else self.seed + len(self.copies) * self.episodes + e
            observations, _ = env.reset(seed=seed)
            self._fill(e, observations)
        ended = terminated | truncated
        obs = self.obs.copy()
        # rows whose agent left mid-episode show zeros until their copy resets
        left = ended & ~ended_copy
        obs[left] = 0
        self.live[left] = False
        info: dict[str, Any] = {"active": active, "final_obs": final, "_final_obs": ended,
                                "team_return": team_return,
                                "_team_return": ended_copy & (np.arange(R) % M == 0)}
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        """Close every copy."""
        for env in self.copies:
            env.close()
