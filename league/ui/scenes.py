"""Scenes from what people name on the command line: bots, checkpoints, run folders, league
folders and their members, a person ("human"); the game they play; the scene for them."""

from __future__ import annotations

from pathlib import Path

from ludus import envs
from ludus.agents import load_policy
from ludus.agents.checkpoint import read_meta
from ludus.envs.render import renderer_game
from ludus.league.arena import checkpoint_of, load_player
from ludus.league.bots import is_bot, make_bot
from ludus.league.coordinator import League, LeagueError
from ludus.league.search import split_search
from ludus.league.ui.base import Scene, Seat
from ludus.league.ui.board_scene import BoardMatch
from ludus.league.ui.gym_scene import GymScene
from ludus.league.ui.poker_scene import POKER, PokerMatch


def members(folder: Path | str) -> list[tuple[str, str, float]]:
    """(id, role, rating) of a league's members, best rated first; a league with none is an
    error naming the folder."""
    league = League.load(folder)
    if not league.players:
        raise LeagueError(f"league {folder} has no players")
    return sorted(((p.id, p.role, p.rating) for p in league.players.values()), key=lambda m: -m[2])


def seat_of(spec: str, seed: int = 0) -> Seat:
    """A Seat for a bot name, checkpoint or run folder, league folder (its main agent) or
    league member (`<league folder>/<player id>`)."""
    if spec == "human":
        return Seat("you", "human")
    base, search = split_search(spec)
    if search is not None:  # a checkpoint that thinks with tree search
        seat = seat_of(base, seed)
        return Seat(f"{seat.name}@{'gumbel' if search.gumbel else 'mcts'}:"
                    f"{search.num_simulations}", seat.role, seat.rating,
                    load_player(spec, seed))
    path = Path(spec)
    folder, member = (path, None) if (path / "league.json").exists() else (path.parent, path.name)
    if (folder / "league.json").exists():
        league = League.load(folder)
        if not league.players:
            raise LeagueError(f"league {folder} has no players")
        if member is None:
            mains = league.learners("main_agent")
            if not mains:
                raise LeagueError(f"league {folder} has no main agent to play")
            member = mains[0].id
        p = league.member(member)
        target = checkpoint_of(str(folder / member))
        player = make_bot(target, seed) if is_bot(target) else load_policy(target)
        return Seat(p.id, p.role, p.rating, player)
    if is_bot(spec):
        return Seat(spec, "bot", None, make_bot(spec, seed))
    policy = load_policy(spec)
    name = path.name if path.name not in ("latest", "") else path.parent.parent.name
    return Seat(name, "checkpoint", None, policy)


def game_of(specs: list[str], env_id: str | None) -> str:
    """The game to play: `env_id`, else the first checkpoint's env; every checkpoint must have
    been trained on it (one clear error otherwise)."""
    games = {}
    for spec in specs:
        if spec == "human" or is_bot(spec):
            continue
        target = checkpoint_of(split_search(spec)[0])
        if not is_bot(target):
            games[spec] = read_meta(target).get("env_id")
    if env_id is None:
        if not games:
            raise ValueError("no checkpoint names the game: give --env-id")
        env_id = next(iter(games.values()))
    for spec, game in games.items():
        if game != env_id:
            raise ValueError(f"{spec} was trained on {game}, not {env_id}")
    return env_id


def league_spec(spec: str, base: str) -> str:
    """`spec` as a member of `base`'s league when it names one by id (watch.py leagues/x
    --vs main_exploiter_0.2); else unchanged."""
    path = Path(base)
    folder = path if (path / "league.json").exists() else path.parent
    if (folder / "league.json").exists() and not Path(spec).exists() and spec != "human" \
            and spec in League.load(folder).players:  # a member (even a bot) with its rating
        return str(folder / spec)
    return spec


def make_scene(player: str, opponent: str | None = None, env_id: str | None = None,
               seed: int = 0, greedy: bool = True) -> Scene:
    """The scene for `player` (any spec seat_of takes) against `opponent` ("human" for a
    person; default the best other member of its league, else random), on `env_id` (default
    the checkpoints' game). Gymnasium envs give a GymScene (a person plays when opponent is
    "human"). Every problem is found here, before a window opens."""
    if opponent is not None:
        opponent = league_spec(opponent, player)
    elif Path(player).joinpath("league.json").exists():
        seat = seat_of(player, seed)  # the main agent; its rival: the best-rated other member
        others = [m for m, _, _ in members(player) if m != seat.name]
        opponent = str(Path(player) / others[0]) if others else "random"
    game = game_of([s for s in (player, opponent) if s is not None], env_id)
    if not envs.is_game(game):
        return GymScene(game, seat_of(player, seed), human=opponent == "human", seed=seed,
                        greedy=greedy)
    if game not in POKER:
        renderer_game(game)  # a game without a board renderer fails before any loading
    seats = [seat_of(player, seed), seat_of(opponent or "random", seed + 1)]
    return (PokerMatch if game in POKER else BoardMatch)(game, seats, seed, greedy)
