"""Every agent of a PettingZoo parallel env as a row of one vector env, so a single learner
acts for all of them with one set of weights (parameter sharing, as PettingZoo's tutorials do
with SuperSuit's pettingzoo_env_to_vec_env_v1 and Stable-Baselines3).

Rows are (env copy, agent) pairs in `possible_agents` order. An agent that leaves an episode
early (terminated or truncated while others play on) ends its row's episode there; until its
copy's episode ends the row is inactive: zero observations, zero reward, `info["active"]`
False, actions ignored. An agent that joins mid-episode is inactive until it appears.
Learners leave inactive rows out of their updates. Team returns (the sum of every agent's
rewards over a copy's episode) come in `info["team_return"]`, on the copy's first row.

Two-sided games (TEAMS, e.g. MPE's simple_tag: predators against prey) give one side's
agents as rows and seat an opponent for the other side's; the game's rule names each
episode's winning side, which is what a league records.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ludus.envs.versus import Opponent

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
    # MPE's predator-prey: three slower predators chase one faster prey among two obstacles
    "simple_tag": ("mpe2.simple_tag_v3", {"num_good": 1, "num_adversaries": 3,
                                          "num_obstacles": 2, "max_cycles": 25,
                                          "continuous_actions": False}, False, False),
}


@dataclass(frozen=True)
class Sides:
    """The two sides of a team game: their names, the prefix of each side's agent names,
    and the rule that names an episode's winner from the sides' team returns."""

    names: tuple[str, str]
    prefixes: tuple[str, str]
    winner: Callable[[float, float], int]
    """(side 0's team return, side 1's) -> the winning side, 0 or 1."""

    def index(self, side: str) -> int:
        """The index of side `side`; an unknown name names the sides."""
        if side not in self.names:
            raise ValueError(f"unknown side {side!r}; the sides are {', '.join(self.names)}")
        return self.names.index(side)

    def agents(self, side: str, possible_agents: Sequence[str]) -> list[str]:
        """The agents of side `side` among a copy's agents."""
        prefix = self.prefixes[self.index(side)]
        return [a for a in possible_agents if a.startswith(prefix)]


TEAMS: dict[str, Sides] = {
    # tag: the predators win an episode when they touch the prey at least once (each touch
    # gives every predator +10, and nothing else rewards them), the prey when it escapes
    "simple_tag": Sides(("predator", "prey"), ("adversary_", "agent_"),
                        lambda predators, prey: 0 if predators > 0 else 1),
}


def sides_of(env_id: str) -> Sides | None:
    """The sides of a two-sided `shared:` game (TEAMS), None for any other id."""
    return TEAMS.get(env_id.removeprefix(SHARED)) if env_id.startswith(SHARED) else None


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


def team_size(env_id: str, side: str | None = None) -> int:
    """Agents per copy of a `shared:` id, or of one `side` of a two-sided game (rows per
    team in its vector env); 1 otherwise."""
    if not env_id.startswith(SHARED):
        return 1
    name = env_id.removeprefix(SHARED)
    if name == "simple_spread":  # also the batched version's, which needs no mpe2
        return PRESETS[name][1]["N"]
    return len(_probe(name, side)[0])


def side_action_space(env_id: str, side: str) -> gym.Space:
    """The action space of the agents of `side` in the two-sided game `env_id`."""
    agents, probe = _probe(env_id.removeprefix(SHARED), side, keep=True)
    try:
        return probe.action_space(agents[0])
    finally:
        probe.close()


def _probe(name: str, side: str | None, keep: bool = False) -> tuple[list[str], Any]:
    """The agents (of `side`) of a copy of `shared:<name>`, and the copy when `keep` (closed
    otherwise; the caller closes a kept one)."""
    module, kwargs = PRESETS[name][:2] if name in PRESETS else (name, {})
    probe = pettingzoo_parallel(module, **kwargs)()
    agents = list(probe.possible_agents)
    if side is not None:
        agents = _side_agents(name, side, agents)
    if not keep:
        probe.close()
    return agents, probe


def _side_agents(name: str, side: str, possible_agents: Sequence[str]) -> list[str]:
    """The agents of `side` in the game `name`; a clear line when it has no sides."""
    if name not in TEAMS:
        raise ValueError(f"{SHARED}{name} has no sides (two-sided games: "
                         f"{', '.join(SHARED + t for t in TEAMS)})")
    return TEAMS[name].agents(side, possible_agents)


def make_shared(name: str, num_envs: int, seed: int | None = None, vectorization: str = "auto",
                side: str | None = None, opponent: Opponent | None = None,
                **kwargs: Any) -> gym.vector.VectorEnv:
    """`shared:<name>`: a preset (simple_spread, pistonball, knights_archers_zombies,
    simple_tag) or a module path (mpe2.simple_adversary_v3, butterfly.cooperative_pong_v5)
    with `kwargs` for its parallel_env; `num_envs` counts rows, agents over all copies, so
    it is a multiple of the number of agents per copy. simple_spread runs on ludus's batched
    numpy version (envs.spread) unless vectorization is "sync" (mpe2's own env, one copy at
    a time). In a two-sided game (TEAMS) `side` names the side whose agents are rows and
    `opponent` plays the other side (AgentVectorEnv)."""
    if vectorization not in ("auto", "native", "sync"):
        raise ValueError(f"vectorization of {SHARED}{name} is auto, native or sync, got "
                         f"{vectorization!r}")
    if side is not None or opponent is not None:
        if side is None or opponent is None:
            raise ValueError(f"{SHARED}{name}: a side and an opponent go together")
        _side_agents(name, side, ())  # a game without sides fails before any env is made
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
    preprocess, preset_name = False, name
    if name in PRESETS:
        module, preset, preprocess, agent_id = PRESETS[name]
        kwargs = {**preset, **kwargs}
        name = module
    maker = pettingzoo_parallel(name, **kwargs)
    if preprocess:
        base, maker = maker, lambda: pixels(base())
    probe = maker()
    agents = list(probe.possible_agents)
    probe.close()
    if side is not None:
        agents = _side_agents(preset_name, side, agents)
    team, whose = len(agents), f"the {side} side" if side else "each copy"
    if num_envs <= 0 or num_envs % team:
        raise ValueError(f"{SHARED}{preset_name}: {whose} has {team} agents: num_envs counts "
                         f"agents and must be a positive multiple of {team}, got {num_envs}")
    env = AgentVectorEnv(maker, num_envs // team, agent_id, f"{SHARED}{preset_name}",
                         agents if side else None, opponent)
    if seed is not None and opponent is None:  # an opponent is seated at the first reset
        env.reset(seed=seed)
    return env


class AgentVectorEnv(gym.vector.VectorEnv):
    """`num_envs` copies of a parallel env, one row per (copy, agent); same-step autoreset:
    where a copy's episode ends its rows already hold the next episode's first observations
    and `info["final_obs"]` the last ones. `agent_id` appends a one-hot of the agent's index
    (within its side) to the flattened observations (SuperSuit's agent_indicator).

    With `agents` (one side of a two-sided game) only those agents are rows; `opponent`
    plays the others (the rivals) with the start/act_rows protocol of envs.Versus: its rows
    are (copy, rival) pairs, and start(rows) names every rival row of the copies whose new
    episodes begin. `info["rival_return"]` then holds the rivals' team returns beside
    `info["team_return"]`.
    """

    def __init__(self, make_env: Callable[[], Any], num_envs: int, agent_id: bool = False,
                 name: str = "parallel env", agents: Sequence[str] | None = None,
                 opponent: Opponent | None = None) -> None:
        if num_envs <= 0:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        self.copies = [make_env() for _ in range(num_envs)]
        first = self.copies[0]
        every = list(first.possible_agents)
        self.agent_names = list(every if agents is None else agents)
        unknown = [a for a in self.agent_names if a not in every]
        if unknown or not self.agent_names:
            raise ValueError(f"{name}: agents {unknown or self.agent_names} are not among its "
                             f"agents {every}")
        self.rival_names = [a for a in every if a not in self.agent_names]
        if self.rival_names and opponent is None:
            raise ValueError(f"{name}: agents {self.rival_names} are not rows, so they need an "
                             f"opponent to play them")
        self.opponent = opponent
        self.agent_id = agent_id
        M = self.team_size = len(self.agent_names)
        obs_space = self._space(first, self.agent_names, name)
        self.single_action_space = self._one_space(first.action_space, "action", name,
                                                   self.agent_names)
        self.single_observation_space = obs_space
        self.num_envs = num_envs * M
        self.observation_space = gym.vector.utils.batch_space(obs_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
                         "render_modes": []}
        self.obs = np.zeros(self.observation_space.shape, obs_space.dtype)
        self.live = np.zeros(self.num_envs, dtype=bool)  # rows whose agent is in its episode
        self.team = np.zeros(num_envs)  # each copy's team return so far
        rival_space = self._space(first, self.rival_names, name) if self.rival_names else obs_space
        self.rival_obs = np.zeros((num_envs * len(self.rival_names), *rival_space.shape),
                                  rival_space.dtype)
        self.rival_live = np.zeros(len(self.rival_obs), dtype=bool)
        self.rival_team = np.zeros(num_envs)
        self.seed: int | None = None
        self.episodes = 0

    def _space(self, env: Any, names: list[str], name: str) -> gym.spaces.Box:
        """The observation space of one side's rows (float32, with the one-hot if asked)."""
        space = self._one_space(env.observation_space, "observation", name, names)
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"{name}: observations must be a Box, got {space}")
        if space.dtype == np.float64:  # nets run in float32
            space = gym.spaces.Box(space.low, space.high, dtype=np.float32)
        if self.agent_id:  # flattened, then the one-hot
            M = len(names)
            space = gym.spaces.Box(np.concatenate([space.low.ravel(), np.zeros(M)]),
                                   np.concatenate([space.high.ravel(), np.ones(M)]),
                                   dtype=np.float32)
        return space

    @staticmethod
    def _one_space(space_of: Callable[[str], gym.Space], kind: str, name: str,
                   names: list[str]) -> gym.Space:
        """The agents' common space; a clear error when they differ."""
        spaces = {a: space_of(a) for a in names}
        first = spaces[names[0]]
        different = {a: s for a, s in spaces.items() if s != first}
        if different:
            other, space = next(iter(different.items()))
            raise ValueError(f"{name}: agents have different {kind} spaces ({names[0]}"
                             f": {first}, {other}: {space}); one shared policy needs one space: "
                             f"wrap the env (e.g. SuperSuit's pad_observations_v0 / "
                             f"pad_action_space_v0) or train the agents separately")
        return first

    def _groups(self) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
        """(agent names, observation rows, live flags) of the learner's side and the rivals'."""
        return [(self.agent_names, self.obs, self.live),
                (self.rival_names, self.rival_obs, self.rival_live)]

    def _fill(self, e: int, observations: dict[str, Any]) -> None:
        """Rows of copy e from a fresh observation dict (absent agents: inactive, zeros)."""
        for names, obs, live in self._groups():
            M = len(names)
            for k, agent in enumerate(names):
                row = e * M + k
                live[row] = agent in observations
                obs[row] = self._row(observations[agent], k, M, obs.dtype) if live[row] else 0

    def _row(self, obs: Any, k: int, M: int, dtype: Any) -> np.ndarray:
        """One agent's observation as a row (with its one-hot among M when asked)."""
        obs = np.asarray(obs, dtype=dtype)
        if not self.agent_id:
            return obs
        one_hot = np.zeros(M, dtype=np.float32)
        one_hot[k] = 1.0
        return np.concatenate([obs.ravel(), one_hot])

    def _start_rivals(self, copies: list[int]) -> None:
        """New episodes in `copies`: the opponent seats its players at their rival rows."""
        Mr = len(self.rival_names)
        if Mr and copies:
            self.opponent.start(np.concatenate([np.arange(e * Mr, (e + 1) * Mr) for e in copies]))

    def _rival_actions(self) -> np.ndarray:
        """The opponent's actions for every rival row (zeros where the rival is gone)."""
        actions = np.zeros(len(self.rival_obs), dtype=np.int64)
        rows = np.flatnonzero(self.rival_live)
        if len(rows):
            obs = self.rival_obs[rows]
            if hasattr(self.opponent, "act_rows"):
                actions[rows] = self.opponent.act_rows(obs, rows)
            else:
                actions[rows] = self.opponent.act(obs)[0]
        return actions

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy (copy i seeded seed + i)."""
        self.seed, self.episodes = seed, 0
        for e, env in enumerate(self.copies):
            observations, _ = env.reset(seed=None if seed is None else seed + e, options=options)
            self._fill(e, observations)
        self.team[:] = 0.0
        self.rival_team[:] = 0.0
        self._start_rivals(list(range(len(self.copies))))
        return self.obs.copy(), {"active": self.live.copy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """Step every copy with its live agents' actions (and the opponent's for the rivals);
        rows as the class describes."""
        M, R, Mr = self.team_size, self.num_envs, len(self.rival_names)
        reward = np.zeros(R, dtype=np.float32)
        terminated, truncated = np.zeros(R, dtype=bool), np.zeros(R, dtype=bool)
        active, rival_active = self.live.copy(), self.rival_live.copy()
        rival_actions = self._rival_actions() if Mr else None
        final = self.obs.copy()
        ended_copy = np.zeros(R, dtype=bool)
        team_return, rival_return = np.zeros(R), np.zeros(R)
        restarted: list[int] = []
        for e, env in enumerate(self.copies):
            rows = slice(e * M, (e + 1) * M)
            act = {a: actions[e * M + k] for k, a in enumerate(self.agent_names)
                   if active[e * M + k]}
            act.update({a: rival_actions[e * Mr + k] for k, a in enumerate(self.rival_names)
                        if rival_active[e * Mr + k]})
            observations, rewards, terms, truncs, _ = env.step(act)
            for k, agent in enumerate(self.agent_names):
                row = e * M + k
                if not active[row]:
                    continue
                reward[row] = rewards.get(agent, 0.0)
                terminated[row] = bool(terms.get(agent, False))
                truncated[row] = bool(truncs.get(agent, False))
                if agent in observations:
                    final[row] = self._row(observations[agent], k, M, self.obs.dtype)
            self.team[e] += reward[rows].sum()
            self.rival_team[e] += sum(rewards.get(a, 0.0) for a in self.rival_names)
            if env.agents:  # play on: agents that left become inactive, newcomers active
                self._fill(e, {a: observations[a] for a in env.agents if a in observations})
                continue
            # the copy's episode is over: every active row ends here, reset the copy
            truncated[rows] |= active[rows] & ~terminated[rows]
            ended_copy[rows] = True
            team_return[e * M], rival_return[e * M] = self.team[e], self.rival_team[e]
            self.team[e] = self.rival_team[e] = 0.0
            self.episodes += 1
            seed = None if self.seed is None else self.seed + len(self.copies) * self.episodes + e
            observations, _ = env.reset(seed=seed)
            self._fill(e, observations)
            restarted.append(e)
        self._start_rivals(restarted)
        ended = terminated | truncated
        obs = self.obs.copy()
        # rows whose agent left mid-episode show zeros until their copy resets
        left = ended & ~ended_copy
        obs[left] = 0
        self.live[left] = False
        first_rows = ended_copy & (np.arange(R) % M == 0)
        info: dict[str, Any] = {"active": active, "final_obs": final, "_final_obs": ended,
                                "team_return": team_return, "_team_return": first_rows}
        if Mr:
            info.update(rival_return=rival_return, _rival_return=first_rows)
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        """Close every copy."""
        for env in self.copies:
            env.close()
