"""Team games in the league: two-sided PettingZoo games (envs.parallel.TEAMS, e.g. MPE's
simple_tag, predators against prey) where each side's learners drive all of that side's
agents with one shared policy, and matchmaking seats players of the other side at the
rival agents. The league's records stay those of a two-player zero-sum game: each episode
has one winning side (the game's rule), recorded for the learner's player against the
rival player with the learner's side index as its seat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ludus import envs
from ludus.agents.evaluate import UniformPolicy
from ludus.envs.parallel import SHARED, TEAMS, Sides, side_action_space, sides_of
from ludus.league.arena import MatchResult, Seated, SeatedOpponents


def member_side(spec: str) -> str | None:
    """The side of the league player a spec names (a league folder: its first main agent;
    `<league folder>/<player id>`: that member); None for anything else."""
    from ludus.league.coordinator import League

    path = Path(spec)
    if (path / "league.json").exists():
        mains = League.load(path).learners("main_agent")
        return mains[0].side if mains else None
    if not path.exists() and (path.parent / "league.json").exists():
        return League.load(path.parent).member(path.name).side
    return None


def rival_side(sides: Sides, side: str) -> str:
    """The side that `side` plays against."""
    return sides.names[1 - sides.index(side)]


class TeamResults(gym.vector.VectorWrapper):
    """Reports each finished episode of a learner's side (the rival player, its side index,
    win or loss by the game's rule) to `report`."""

    def __init__(self, env: gym.vector.VectorEnv, seats: SeatedOpponents, sides: Sides,
                 side: str, report: Callable[[str, int, str], None]) -> None:
        super().__init__(env)
        self.seats, self.sides, self.seat = seats, sides, sides.index(side)
        self.report = report

    def step(self, actions: Any) -> Any:
        away = self.seats.seat_of.copy()  # the episodes that end get new opponents in step()
        obs, reward, terminated, truncated, info = self.env.step(actions)
        for row, outcome in episode_outcomes(info, self.sides, self.seat):
            copy = row // self.env.team_size
            self.report(away[copy * self.seats.group], self.seat, outcome)
        return obs, reward, terminated, truncated, info


def episode_outcomes(info: dict[str, Any], sides: Sides, seat: int) -> list[tuple[int, str]]:
    """(first row of the copy, "win" or "loss") for each episode that ended in this step,
    as seen from side index `seat`."""
    out = []
    for row in np.flatnonzero(info.get("_team_return", ())):
        own, rival = info["team_return"][row], info["rival_return"][row]
        returns = (own, rival) if seat == 0 else (rival, own)
        out.append((int(row), "win" if sides.winner(*returns) == seat else "loss"))
    return out


def play_team_match(env_id: str, side: str, player: Any, opponent: Any, num_games: int,
                    copies: int = 32, seed: int = 0, deterministic: bool = False) -> MatchResult:
    """`num_games` episodes of the team game `env_id` with `player` driving every agent of
    `side` and `opponent` the other side's (both sampling unless `deterministic`); results
    are counted at the seat of `side`'s index."""
    if num_games <= 0:
        raise ValueError(f"num_games must be positive, got {num_games}")
    sides = sides_of(env_id)
    if sides is None:
        raise ValueError(f"{env_id} is not a team game (two-sided games: "
                         f"{', '.join(SHARED + t for t in TEAMS)})")
    seat, other = sides.index(side), rival_side(sides, side)
    n = min(num_games, copies)
    rivals = Seated(opponent, n * envs.team_size(env_id, other), deterministic)
    env = envs.make(env_id, n * envs.team_size(env_id, side), seed, side=side, opponent=rivals)
    me = Seated(player, env.num_envs, deterministic)
    result = MatchResult()
    tally = {"win": result.wins, "loss": result.losses}
    try:
        obs, _ = env.reset(seed=seed)
        me.start(np.arange(env.num_envs))
        while result.games < num_games:
            obs, _, terminated, truncated, info = env.step(me.act_rows(obs, np.arange(env.num_envs)))
            for _, outcome in episode_outcomes(info, sides, seat):
                if result.games < num_games:
                    tally[outcome][seat] += 1
            ended = np.flatnonzero(terminated | truncated)
            if len(ended):
                me.start(ended)
    finally:
        env.close()
    return result


def evaluate_team_mains(league: Any, live: dict[str, Any], env_id: str, sides: Sides,
                        games: int, seed: int) -> dict[str, float]:
    """Each main agent's score against uniformly random rivals and against the other side's
    main agents (their current parameters), sampling as they play in the league."""
    out: dict[str, float] = {}
    mains = league.learners("main_agent")
    for main in mains:
        other = rival_side(sides, main.side)
        rival_mains = {m.id: live[m.id] for m in mains if m.side == other}
        random_team = UniformPolicy(side_action_space(env_id, other), seed)
        for name, rival in {"random": random_team, **rival_mains}.items():
            result = play_team_match(env_id, main.side, live[main.id], rival, games, seed=seed)
            out[f"eval/{main.id}/vs_{name}"] = result.score
    return out
