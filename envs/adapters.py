"""PettingZoo and OpenSpiel games behind ludus's TurnGame interface (envs.versus), so self-play
and the league train on them exactly as on ludus's own batched games.

Each adapter holds one game object per env and steps them in a Python loop: they are for
breadth, while ludus's bitboard games are for speed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from ludus.envs.board import check_actions


def _rows(rows: np.ndarray | None, n: int) -> np.ndarray:
    return np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)


class ObjectGames:
    """Shared by the adapters: one game object per env, stepped one by one. Subclasses set
    num_envs, num_players, num_actions, observation_space and define reset(), observe(i, seat)
    and play_one(i, action) -> (rewards (P,), terminated, truncated)."""

    num_envs: int
    num_players: int
    num_actions: int
    to_move: np.ndarray  # (N,) seat to act per game
    _mask: np.ndarray  # (N, A) int8 legal moves of the player to move

    def observe(self, i: int, seat: int) -> np.ndarray:
        """Game i as seen by `seat`."""
        raise NotImplementedError

    def play_one(self, i: int, action: int) -> tuple[Any, bool, bool]:
        """Play `action` in game i."""
        raise NotImplementedError

    def observation(self, rows: np.ndarray | None = None, seat: np.ndarray | None = None
                    ) -> np.ndarray:
        """Observations of games `rows` as seen by `seat` (default the player to move)."""
        rows = _rows(rows, self.num_envs)
        seat = self.to_move[rows] if seat is None else seat
        return np.stack([self.observe(int(i), int(s)) for i, s in zip(rows, seat, strict=True)])

    def action_mask(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, num_actions) int8 of the games `rows` (all when None)."""
        return self._mask.copy() if rows is None else self._mask[rows]

    def play(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The player to move in each game `rows` acts: (rewards (n, P), terminated, truncated).
        Illegal actions raise ValueError naming the action and the mask."""
        rows = _rows(rows, self.num_envs)
        actions = np.asarray(actions, dtype=np.int64)
        check_actions(actions, self._mask[rows], rows)
        rewards = np.zeros((len(rows), self.num_players), dtype=np.float32)
        terminated = np.zeros(len(rows), dtype=bool)
        truncated = np.zeros(len(rows), dtype=bool)
        for k, (i, a) in enumerate(zip(rows, actions, strict=True)):
            rewards[k], terminated[k], truncated[k] = self.play_one(int(i), int(a))
        return rewards, terminated, truncated


class PettingZooGame(ObjectGames):
    """`num_envs` copies of a PettingZoo AEC env (parallel envs: convert them with
    pettingzoo.utils.parallel_to_aec first); every agent is a seat.

    Agents must share one Discrete action space. Observations are the `observation` entry
    of dict observations (whose `action_mask` becomes the mask; else infos' `action_mask`,
    else all actions are legal); Discrete observations are one-hot encoded. A game ends
    when any agent terminates or is truncated.
    """

    def __init__(self, make_env: Callable[[], Any], num_envs: int, seed: int | None = None
                 ) -> None:
        self.envs = [make_env() for _ in range(num_envs)]
        self.num_envs, self.seed = num_envs, seed
        first = self.envs[0]
        self.agents = list(first.possible_agents)
        self.num_players = len(self.agents)
        spaces = [first.action_space(a) for a in self.agents]
        if not all(isinstance(s, gym.spaces.Discrete) and s.n == spaces[0].n for s in spaces):
            raise ValueError(f"PettingZoo env {first.metadata.get('name', first)!r} needs one "
                             f"Discrete action space shared by every agent, got {spaces}")
        self.num_actions = int(spaces[0].n)
        space = first.observation_space(self.agents[0])
        self._dict_obs = isinstance(space, gym.spaces.Dict) and "observation" in space.spaces
        inner = space["observation"] if self._dict_obs else space
        self._one_hot = isinstance(inner, gym.spaces.Discrete)
        self.observation_space = (gym.spaces.Box(0.0, 1.0, (int(inner.n),), np.float32)
                                  if self._one_hot else inner)
        self.to_move = np.zeros(num_envs, dtype=np.int64)
        self._mask = np.ones((num_envs, self.num_actions), dtype=np.int8)
        self._resets = 0

    def _encode(self, obs: Any) -> np.ndarray:
        obs = obs["observation"] if self._dict_obs else obs
        if self._one_hot:
            return np.eye(self.observation_space.shape[0], dtype=np.float32)[int(obs)]
        return np.asarray(obs)

    def _sync(self, i: int) -> None:
        """Read whose turn it is and their legal moves."""
        env = self.envs[i]
        agent = env.agent_selection
        self.to_move[i] = self.agents.index(agent)
        obs = env.observe(agent)
        mask = obs.get("action_mask") if self._dict_obs else env.infos[agent].get("action_mask")
        self._mask[i] = 1 if mask is None else mask

    def reseed(self, seed: int) -> None:
        """Seed env k with seed + k at its next reset."""
        self.seed, self._resets = seed, 0

    def reset(self, rows: np.ndarray | None = None) -> None:
        """New games in `rows` (env k is seeded with seed + k on its first reset)."""
        for i in _rows(rows, self.num_envs):
            seed = None if self.seed is None or self._resets >= self.num_envs else self.seed + i
            self._resets += 1
            self.envs[i].reset(seed=None if seed is None else int(seed))
            self._sync(int(i))

    def observe(self, i: int, seat: int) -> np.ndarray:
        """Env i's observation of agent `seat`."""
        return self._encode(self.envs[i].observe(self.agents[seat]))

    def play_one(self, i: int, action: int) -> tuple[list[float], bool, bool]:
        """Step env i; the game ends when any agent terminates or is truncated."""
        env = self.envs[i]
        env.step(action)
        rewards = [env.rewards.get(agent, 0.0) for agent in self.agents]
        terminated = any(env.terminations.values())
        truncated = not terminated and any(env.truncations.values())
        if not (terminated or truncated):
            self._sync(i)
        return rewards, terminated, truncated


def pettingzoo_game(name: str, num_envs: int, seed: int | None = None, **kwargs: Any
                    ) -> PettingZooGame:
    """A PettingZooGame from a registry id (`classic/connect_four-v3`) or a module path
    (`classic.connect_four_v3`)."""
    import pettingzoo

    env_id = name if "/" in name else "/".join(name.rsplit(".", 1))
    head, _, version = env_id.rpartition("_v")
    if version.isdigit():
        env_id = f"{head}-v{version}"
    if env_id not in pettingzoo.aec_registry:
        import difflib

        close = difflib.get_close_matches(env_id, list(pettingzoo.aec_registry), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join('pettingzoo:' + c for c in close)}?)" if close else ""
        raise ValueError(f"unknown PettingZoo env {name!r}{hint}")
    return PettingZooGame(lambda: pettingzoo.make("aec", env_id, **kwargs), num_envs, seed)


def load_spiel_game(name: str, params: dict[str, Any] | None = None) -> Any:
    """An OpenSpiel game by name, with parameters given as a dict or in OpenSpiel's string
    form (`dark_hex(board_size=3)`), not both; a malformed one is one line."""
    import pyspiel

    if "(" in name and params:
        raise ValueError(f"OpenSpiel game {name!r}: give its parameters in the name or as "
                         f"keyword arguments, not both")
    try:
        return pyspiel.load_game(name) if "(" in name else pyspiel.load_game(name, params or {})
    except pyspiel.SpielError as exc:
        raise ValueError(f"OpenSpiel game {name!r}: {exc}") from None


class SpielGame(ObjectGames):
    """`num_envs` games of an OpenSpiel sequential game. The observation is the acting
    player's information-state tensor (or, in a game of perfect information without one, its
    observation tensor), actions are OpenSpiel's ids, chance nodes are sampled from the
    game's own outcome probabilities with this object's Generator."""

    def __init__(self, name: str, num_envs: int, seed: int | None = None, **params: Any) -> None:
        import pyspiel

        base = name.split("(", 1)[0]  # OpenSpiel's own spelling: dark_hex(board_size=3)
        if base not in pyspiel.registered_names():
            import difflib

            close = difflib.get_close_matches(base, pyspiel.registered_names(), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join('spiel:' + c for c in close)}?)" if close else ""
            raise ValueError(f"unknown OpenSpiel game {base!r}{hint}")
        self.game = load_spiel_game(name, params)
        kind = self.game.get_type()
        if kind.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
            raise ValueError(f"OpenSpiel game {name!r} has simultaneous moves; ludus plays "
                             "sequential games (wrap it with a turn-based transform)")
        # a game of perfect information is observed whole by its observation tensor
        self.perfect = kind.information == pyspiel.GameType.Information.PERFECT_INFORMATION
        if not kind.provides_information_state_tensor and not (
                self.perfect and kind.provides_observation_tensor):
            raise ValueError(f"OpenSpiel game {name!r} has no information-state tensor")
        self.info_state = kind.provides_information_state_tensor
        self.num_envs = num_envs
        self.num_players = self.game.num_players()
        self.num_actions = self.game.num_distinct_actions()
        shape = tuple(self.game.information_state_tensor_shape() if self.info_state
                      else self.game.observation_tensor_shape())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape, np.float32)
        self.rng = np.random.default_rng(seed)
        self.states: list[Any] = [None] * num_envs
        self.to_move = np.zeros(num_envs, dtype=np.int64)
        self._mask = np.ones((num_envs, self.num_actions), dtype=np.int8)

    def reseed(self, seed: int) -> None:
        """A new seed for the chance outcomes."""
        self.rng = np.random.default_rng(seed)

    def spawn(self, num_envs: int) -> SpielGame:
        """A new batch of `num_envs` games (a tree search's node store); only games of perfect
        information without chance can be searched from copied states."""
        import pyspiel

        kind = self.game.get_type()
        if (kind.information != pyspiel.GameType.Information.PERFECT_INFORMATION
                or kind.chance_mode != pyspiel.GameType.ChanceMode.DETERMINISTIC):
            raise ValueError(f"tree search needs a game of perfect information without chance; "
                             f"OpenSpiel's {kind.short_name} has {kind.information.name.lower()} "
                             f"and {kind.chance_mode.name.lower()} chance")
        other = copy.copy(self)
        other.num_envs = num_envs
        other.states = [None] * num_envs
        other.to_move = np.zeros(num_envs, dtype=np.int64)
        other._mask = np.ones((num_envs, self.num_actions), dtype=np.int8)
        return other

    def copy_rows(self, dst: np.ndarray, source: SpielGame, src: np.ndarray) -> None:
        """Set games `dst` to clones of `source`'s games `src` (one to one)."""
        clones = [source.states[int(i)].clone() for i in src]
        for i, state in zip(dst, clones, strict=True):
            self.states[int(i)] = state
        self.to_move[dst] = source.to_move[src]
        self._mask[dst] = source._mask[src]

    def _settle(self, i: int) -> None:
        """Sample chance nodes until a player must act (or the game ends)."""
        state = self.states[i]
        while state.is_chance_node():
            outcomes, probs = zip(*state.chance_outcomes(), strict=True)
            state.apply_action(int(self.rng.choice(outcomes, p=probs)))
        if not state.is_terminal():
            player = state.current_player()
            self.to_move[i] = player
            self._mask[i] = state.legal_actions_mask(player)

    def reset(self, rows: np.ndarray | None = None) -> None:
        """New games in `rows`."""
        for i in _rows(rows, self.num_envs):
            self.states[i] = self.game.new_initial_state()
            self._settle(int(i))

    def observe(self, i: int, seat: int) -> np.ndarray:
        """Game i's information-state tensor for player `seat` (the observation tensor in a
        game of perfect information that has no information-state tensor)."""
        state = self.states[i]
        tensor = state.information_state_tensor(seat) if self.info_state \
            else state.observation_tensor(seat)
        return np.asarray(tensor, dtype=np.float32).reshape(self.observation_space.shape)

    def play_one(self, i: int, action: int) -> tuple[np.ndarray, bool, bool]:
        """Apply `action` and sample chance; the reward is the change of the returns."""
        state = self.states[i]
        before = np.asarray(state.returns())
        state.apply_action(action)
        self._settle(i)
        return np.asarray(state.returns()) - before, state.is_terminal(), False
