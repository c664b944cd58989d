"""What the watch and play windows show, without pygame: seats (who plays, their role and
rating), a board game played move by move with each mover's action probabilities and value
estimate, undo by replay, and the score (Gymnasium envs: league/gym_scene.py).

league/window.py draws these scenes; tests drive them directly or through the window."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents import load_policy
from agents.checkpoint import read_meta
from envs.render import BoardRenderer, board_of, renderer_game
from league.arena import checkpoint_of, choose_move
from league.bots import is_bot, make_bot
from league.coordinator import League, LeagueError


class IllegalMove(ValueError):
    """A move the rules refuse; the message says why, for the window to show."""


@dataclass
class Seat:
    """One side of a match: a name, its league role and rating (if any) and who moves for it
    (a policy or bot; None for a person)."""

    name: str
    role: str = ""
    rating: float | None = None
    player: Any = None

    @property
    def human(self) -> bool:
        return self.player is None

    def label(self) -> str:
        """'name (role, 1234)'."""
        extra = [x for x in (self.role, None if self.rating is None else f"{self.rating:.0f}") if x]
        return f"{self.name} ({', '.join(extra)})" if extra else self.name


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
        target = checkpoint_of(spec)
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


def analyse(player: Any, obs: Any, state: Any = None) -> tuple[np.ndarray, float | None, Any]:
    """(probabilities (A,), value estimate or None, next state) of one position."""
    if hasattr(player, "logits"):  # a ludus Policy: its value head too
        import torch

        logits, value, state = player.logits(obs, state, need_value=True)
        probs = torch.softmax(logits, -1)[0].cpu().numpy()
        return probs, None if value is None else float(value[0]), state
    probs, state = player.action_probs(obs, state)
    return np.asarray(probs[0], dtype=np.float64), None, state


@dataclass
class Analysis:
    """The panel's view of the last position a seat decided on."""

    probs: np.ndarray
    legal: np.ndarray
    value: float | None = None


@dataclass
class BoardMatch:
    """Games of a two-player board game between `seats`, one move at a time. Seat 0 of the
    list moves first in the first game; the seats swap after each game."""

    game_id: str
    seats: list[Seat]
    seed: int = 0
    greedy: bool = True
    moves: list[int] = field(default_factory=list)
    score: list[int] = field(default_factory=lambda: [0, 0, 0])  # wins of seats[0], [1], draws
    result: str | None = None
    message: str = ""
    analysis: dict[int, Analysis] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.renderer = BoardRenderer(renderer_game(self.game_id))
        self.game = envs.make_game(self.game_id, 1)
        self.rng = np.random.default_rng(self.seed)
        self.first = 0  # index into seats of the player moving first this game
        self.restart()
        for seat in self.seats:  # a player that cannot play this game fails now, not mid-game
            if not seat.human:
                try:
                    analyse(seat.player, self.obs(), seat.player.initial_state(1))
                except (ValueError, RuntimeError) as exc:
                    raise ValueError(f"{seat.name} cannot play {self.game_id}: {exc}") from None

    # --- state ---------------------------------------------------------------------------
    @property
    def to_move(self) -> int:
        """Index into `seats` of the player to move."""
        return (self.first + int(self.game.to_move[0])) % 2

    @property
    def over(self) -> bool:
        return self.result is not None

    def legal(self) -> np.ndarray:
        """(A,) 0/1 legal moves now."""
        return self.game.action_mask()[0].copy()

    def board(self) -> np.ndarray:
        """(rows, cols): 0 empty, 1 the first mover's piece, 2 the second's."""
        return board_of(self.game.observation(seat=np.array([0]))[0])

    def obs(self) -> dict[str, np.ndarray]:
        return {"observation": self.game.observation()[:1], "action_mask": self.game.action_mask()[:1]}

    # --- moves ---------------------------------------------------------------------------
    def restart(self, swap: bool = False) -> None:
        """A new game (the seats swap who moves first when `swap`)."""
        if swap:
            self.first = 1 - self.first
        self.game.reset()
        self.moves, self.result, self.analysis = [], None, {}
        self.thought, self.shown = None, None
        self.states = [s.player.initial_state(1) if not s.human else None for s in self.seats]

    @property
    def finished(self) -> int:
        """Games finished so far."""
        return sum(self.score)

    def think(self) -> Analysis:
        """The mover's probabilities and value on the current position, worked out once per
        position (a recurrent player's memory advances once per decision); the panel shows
        it as `shown`."""
        i = self.to_move
        if self.thought != len(self.moves):
            probs, value, self.states[i] = analyse(self.seats[i].player, self.obs(),
                                                   self.states[i])
            self.analysis[i] = Analysis(probs, self.legal(), value)
            self.thought = len(self.moves)
        self.shown = i
        return self.analysis[i]

    def step(self) -> int:
        """The player to move (not a person) decides and moves; returns its action."""
        if self.over or self.seats[self.to_move].human:
            raise IllegalMove("not the agent's turn")
        action = choose_move(self.think().probs, self.rng, self.greedy)
        self.play(action)
        return action

    def play(self, action: int) -> None:
        """Play `action` for the side to move; an illegal one raises IllegalMove (the game is
        unchanged)."""
        if self.over:
            raise IllegalMove("the game is over: press r for a new one")
        legal = self.legal()
        if int(action) != action or not 0 <= action < len(legal) or not legal[int(action)]:
            what = "column" if self.renderer.game == "connect_four" else "cell"
            raise IllegalMove(f"{what} {action} is not a legal move")
        mover, action = self.to_move, int(action)
        rewards, terminated, truncated = self.game.play(np.array([action]), np.array([0]))
        self.moves.append(action)
        self.message = ""
        if terminated[0] or truncated[0]:
            r = rewards[0][(mover - self.first) % 2]
            winner = mover if r > 0 else 1 - mover if r < 0 else None
            self.score[2 if winner is None else winner] += 1
            self.winner = winner
            self.result = "draw" if winner is None else f"{self.seats[winner].name} wins"

    def undo(self) -> None:
        """Take back the last move of the person and the replies since (replaying the rest)."""
        human = [i for i, s in enumerate(self.seats) if s.human]
        if not self.moves or not human:
            return
        moves = list(self.moves)
        if self.over:  # the finished game no longer counts
            self.score[2 if self.winner is None else self.winner] -= 1
        # cut back to just before the person's last move
        keep = len(moves) - 1
        while keep > 0 and (self.first + keep) % 2 != human[0]:
            keep -= 1
        self.restart()
        for action in moves[:keep]:
            if not self.seats[self.to_move].human:
                self.think()  # recurrent players see their positions again
            self.play(action)

    def click(self, x: int, y: int) -> int | None:
        """A person's click at board pixel (x, y): their move (column or cell), or None
        outside the board. Refusals raise IllegalMove."""
        if self.over:
            raise IllegalMove("the game is over: press r for a new one")
        if not self.seats[self.to_move].human:
            raise IllegalMove("wait for the agent's move")
        cell = self.renderer.cell_at(int(x), int(y), self.board())
        if cell is None:
            return None
        action = cell[1] if self.renderer.game == "connect_four" else cell[0] * 3 + cell[1]
        self.play(action)
        return action

    pace = 0.6  # seconds per move when watching

    def colour(self, i: int) -> tuple[int, int, int] | None:
        """The piece colour of seats[i] this game."""
        return self.renderer.style.colours[(i - self.first) % 2]

    @property
    def thinker(self) -> str:
        """Whose analysis the panel shows."""
        return self.seats[self.shown].name

    def keys_to_action(self) -> None:
        """Boards are played with the mouse."""
        return None

    def labels(self) -> list[str]:
        """Name of each action for the panel."""
        return [f"{'col' if self.renderer.game == 'connect_four' else 'cell'} {a}"
                for a in range(self.game.num_actions)]

    def draw(self, surface: Any, origin: tuple[int, int] = (0, 0)) -> None:
        self.renderer.draw(surface, self.board(), origin)

    def size(self) -> tuple[int, int]:
        return self.renderer.size(self.board())


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
               seed: int = 0, greedy: bool = True) -> Any:
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
        from league.gym_scene import GymScene  # after this module: it builds on Seat

        return GymScene(game, seat_of(player, seed), human=opponent == "human", seed=seed,
                        greedy=greedy)
    renderer_game(game)  # a game without a board renderer fails before any loading
    seats = [seat_of(player, seed), seat_of(opponent or "random", seed + 1)]
    return BoardMatch(game, seats, seed, greedy)
