"""The arena: seat players (policies, bots, checkpoints) in a batch of games, play matches on
both seats and report win/draw/loss with 95% intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ludus import envs
from ludus.agents import load_policy
from ludus.agents.evaluate import wilson
from ludus.envs.board import random_legal
from ludus.envs.parallel import SHARED, TEAMS, sides_of
from ludus.league.bots import is_bot, make_bot


def checkpoint_of(spec: str) -> str:
    """A league folder's first main agent's checkpoint (its average policy where the league
    keeps one: OpenSpiel games), `<league folder>/<player id>` that member's checkpoint (or
    bot name); any other spec unchanged."""
    from ludus.league.coordinator import League, LeagueError

    path = Path(spec)
    if (path / "league.json").exists():
        league = League.load(path)
        mains = league.learners("main_agent")
        if not mains:
            raise LeagueError(f"league {path} has no main agent to play")
        return league.policy_path(mains[0])
    if not path.exists() and (path.parent / "league.json").exists():
        league = League.load(path.parent)
        return league.checkpoint_path(league.member(path.name))
    return spec


def check_two_player_zero_sum(env_id: str, what: str = "a league") -> None:
    """Raise ValueError unless `env_id` is a two-player zero-sum game (what win rates and
    PFSP assume; PettingZoo envs are trusted to be when they have two agents) or a two-sided
    team game (envs.parallel.TEAMS: one winning side per episode); `what` needs it."""
    if env_id.startswith(SHARED):
        if sides_of(env_id) is None:
            raise ValueError(f"{what} needs a two-player zero-sum game or a two-sided team "
                             f"game ({', '.join(SHARED + t for t in TEAMS)}); {env_id} has no "
                             f"sides")
        return
    game = envs.make_game(env_id, 1)
    if game.num_players != 2:
        raise ValueError(f"{what} needs a two-player zero-sum game; {env_id} has "
                         f"{game.num_players} players")
    spiel = getattr(game, "game", None)  # an OpenSpiel game says what its utilities are
    if spiel is not None:
        import pyspiel

        utility = spiel.get_type().utility
        if utility not in (pyspiel.GameType.Utility.ZERO_SUM,
                           pyspiel.GameType.Utility.CONSTANT_SUM):
            raise ValueError(f"{what} needs a two-player zero-sum game; {env_id} is {utility}")


def load_player(spec: str, seed: int = 0) -> Any:
    """A bot by name (random, greedy, alphabeta:D, alphabeta-h:D, minimax), the policy of a
    checkpoint directory or run folder, a league folder's first main agent, or a league
    member (`<league folder>/<player id>`); any of these but a bot with a search suffix
    (`@mcts:200`, `@gumbel:32`) thinks with tree search (league.search)."""
    from ludus.agents.checkpoint import read_meta
    from ludus.league.search import SearchPlayer, split_search

    base, search = split_search(spec)
    path = checkpoint_of(base)
    if is_bot(path):
        if search is not None:
            raise ValueError(f"{spec}: bots play by their own rules; only checkpoints with a "
                             f"value head can search")
        return make_bot(path, seed)
    policy = load_policy(path)
    if search is None:
        return policy
    return SearchPlayer(policy, read_meta(path)["env_id"], search, seed, name=spec)


def choose_move(probs: np.ndarray, rng: np.random.Generator, greedy: bool) -> int:
    """A move from one position's probabilities: sampled, or (greedy) uniform among the most
    probable (bots' equally best moves)."""
    if greedy:
        return int(rng.choice(np.flatnonzero(probs >= probs.max() - 1e-9)))
    return int(rng.choice(len(probs), p=probs / probs.sum()))


class Seated:
    """A player seated at the envs of a batch: it keeps its recurrent state per env, resets
    it where a new game starts, and answers only for the envs it is asked about (the
    start/act_rows protocol of envs.Versus)."""

    def __init__(self, player: Any, num_envs: int, deterministic: bool = False) -> None:
        self.player, self.deterministic = player, deterministic
        self.state = player.initial_state(num_envs)

    def start(self, rows: np.ndarray) -> None:
        """Fresh memory where new games start (an opponent change must never leak state)."""
        if self.state is not None:
            index = torch.as_tensor(rows)
            for h in self.state:
                h[:, index] = 0.0

    def act_rows(self, obs: dict[str, np.ndarray] | np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Actions for the envs `rows`, whose observations are `obs`."""
        if self.state is None:
            return self.player.act(obs, None, deterministic=self.deterministic)[0]
        index = torch.as_tensor(rows)
        part = tuple(h[:, index] for h in self.state)
        actions, part = self.player.act(obs, part, deterministic=self.deterministic)
        for h, new in zip(self.state, part, strict=True):
            h[:, index] = new
        return actions


class SeatedOpponents:
    """Each env's opponent is chosen when a game starts there, seated with fresh memory, and
    answers only for its own envs; a player no env sits with any more is let go. Subclasses
    say how to choose (`choose`) and where a chosen key's player comes from (`player`)."""

    def __init__(self, num_envs: int, epsilon: float = 0.0, seed: int = 0, group: int = 1
                 ) -> None:
        """`epsilon`: probability that an opponent plays a uniformly random legal move instead
        (lines its policy never plays get visited; games with action masks). `group`: rows
        come in groups of that many consecutive rows that share one opponent (the agents of
        one side of a team game's copy)."""
        self.num_envs, self.epsilon, self.group = num_envs, epsilon, group
        self.rng = np.random.default_rng(seed)
        self.seat_of = np.full(num_envs, None, dtype=object)  # (N,) key of each env's opponent
        self.seated: dict[Any, Seated] = {}

    def reseed(self, seed: int) -> None:
        """A new seed for choosing opponents and their random moves."""
        self.rng = np.random.default_rng(seed)

    def choose(self, count: int) -> list[Any]:
        """Keys of the opponents of `count` new games."""
        raise NotImplementedError

    def player(self, key: Any) -> Any:
        """The player (policy or bot) for a chosen key."""
        raise NotImplementedError

    def start(self, rows: np.ndarray) -> None:
        """Choose the opponents of new games in `rows` and reset their memory there."""
        keys = [key for key in self.choose(len(rows) // self.group) for _ in range(self.group)]
        for i, key in zip(rows, keys, strict=True):
            self.seat_of[i] = key
        for key in dict.fromkeys(keys):  # first-seen order: loads (and their seeds) repeat
            if key not in self.seated:
                self.seated[key] = Seated(self.player(key), self.num_envs)
            self.seated[key].start(rows)
        in_use = set(self.seat_of.tolist())
        for key in [k for k in self.seated if k not in in_use]:
            del self.seated[key]

    def act_rows(self, obs: dict[str, np.ndarray] | np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each env's own opponent answers (sampling, not greedy)."""
        actions = np.zeros(len(rows), dtype=np.int64)
        keys = self.seat_of[rows]
        for key in dict.fromkeys(keys.tolist()):
            sel = np.flatnonzero(keys == key)
            part = {k: v[sel] for k, v in obs.items()} if isinstance(obs, dict) else obs[sel]
            actions[sel] = self.seated[key].act_rows(part, rows[sel])
        if self.epsilon and isinstance(obs, dict):
            explore = self.rng.random(len(rows)) < self.epsilon
            if explore.any():
                actions[explore] = random_legal(obs["action_mask"][explore], self.rng)
        return actions


@dataclass
class MatchResult:
    """Outcomes of the player's games, counted per seat it sat in (seat 0 moves first)."""

    wins: list[int] = field(default_factory=lambda: [0, 0])
    draws: list[int] = field(default_factory=lambda: [0, 0])
    losses: list[int] = field(default_factory=lambda: [0, 0])

    @property
    def games(self) -> int:
        """Games played."""
        return sum(self.wins) + sum(self.draws) + sum(self.losses)

    @property
    def score(self) -> float:
        """(wins + draws / 2) / games: the win rate of the payoff matrix."""
        return (sum(self.wins) + sum(self.draws) / 2) / max(self.games, 1)

    def rates(self) -> dict[str, tuple[float, float, float]]:
        """{"win"|"draw"|"loss": (rate, low, high)} with Wilson 95% intervals."""
        n = self.games
        return {name: (sum(c) / max(n, 1), *wilson(sum(c), n))
                for name, c in (("win", self.wins), ("draw", self.draws), ("loss", self.losses))}

    def report(self, seat_names: tuple[str, str] = ("moves first", "moves second")) -> str:
        """A few lines for people: totals with intervals, then per seat (named by
        `seat_names`: the sides of a team game)."""
        lines = [f"{self.games} games, score {self.score:.3f}"]
        for name, (rate, low, high) in self.rates().items():
            lines.append(f"  {name:<5} {rate:6.1%}  (95% CI {low:.1%} - {high:.1%})")
        for seat in (0, 1):
            if self.wins[seat] + self.draws[seat] + self.losses[seat]:
                lines.append(f"  seat {seat} ({seat_names[seat]}): W {self.wins[seat]}  "
                             f"D {self.draws[seat]}  L {self.losses[seat]}")
        return "\n".join(lines)


def play_match(game: str, player: Any, opponent: Any, num_games: int, *,
               deterministic: bool = True, opponent_deterministic: bool = True,
               num_envs: int | None = None, opening_moves: int = 0,
               seed: int | None = None,
               observer: Callable[[np.ndarray, np.ndarray], None] | None = None) -> MatchResult:
    """Play `num_games` games of `game` (half with `player` first), counting its results.

    Players are anything with act/initial_state (policies, bots); `deterministic` makes a
    policy play its most probable move (bots keep their own randomness). `opening_moves` > 0
    starts each game after 0..opening_moves random moves (seeded by `seed`): two greedy
    players otherwise replay the same two games. `observer(reward, done)` sees each of the
    player's steps ((n,) its rewards and game ends), after its move and the replies.
    """
    if num_games <= 0:
        raise ValueError(f"num_games must be positive, got {num_games}")
    n = min(num_games, num_envs or num_games)
    env = envs.Versus(envs.make_game(game, n), Seated(opponent, n, opponent_deterministic),
                      opening_moves, seed)
    me = Seated(player, n, deterministic)
    result = MatchResult()
    started = n  # games begun so far, counting the first batch
    active = np.ones(n, dtype=bool)  # env still plays a counted game
    obs, _ = env.reset()
    while active.any():
        seat = env.learner_seat.copy()
        obs, reward, terminated, truncated, _ = env.step(me.act_rows(obs, np.arange(n)))
        if observer is not None:
            observer(reward, terminated | truncated)
        for i in np.flatnonzero((terminated | truncated) & active):
            tally = result.wins if reward[i] > 0 else result.losses if reward[i] < 0 else result.draws
            tally[int(seat[i]) % 2] += 1
            if started < num_games:
                started += 1
            else:
                active[i] = False
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            me.start(ended)
    return result
