"""A two-player board game as a watch/play scene: played move by move with each mover's
action probabilities and value estimate, undo by replay, and the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ludus import envs
from ludus.envs.render import BoardRenderer, board_of, renderer_game
from ludus.league.arena import choose_move
from ludus.league.ui.base import Analysis, IllegalMove, Seat, analyse


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
        self.setup()
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

    def setup(self) -> None:
        """The game's drawing (a board renderer here)."""
        self.renderer = BoardRenderer(renderer_game(self.game_id))

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
    def restart(self, swap: bool = False, replay: bool = False) -> None:
        """A new game (the seats swap who moves first when `swap`); `replay` starts the
        same game again (the same deal, in games of chance), for undo."""
        if swap:
            self.first = 1 - self.first
        self.new_game(replay)
        self.moves, self.result, self.analysis = [], None, {}
        self.thought, self.shown = None, None
        self.states = [s.player.initial_state(1) if not s.human else None for s in self.seats]

    def new_game(self, replay: bool) -> None:
        """Reset the game (boards have no chance: a replay is a plain reset)."""
        self.game.reset()

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
            last = getattr(self.seats[i].player, "last", None)  # a search's visit counts
            self.analysis[i] = Analysis(probs, self.legal(), value,
                                        visits=None if last is None else last.visits[0])
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
            raise IllegalMove(self.refusal(action))
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
        self.restart(replay=True)
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

    def refusal(self, action: Any) -> str:
        """Why `action` cannot be played now."""
        what = "column" if self.renderer.game == "connect_four" else "cell"
        return f"{what} {action} is not a legal move"

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

    def last_cell(self) -> tuple[int, int] | None:
        """(row, col) of the last move's piece, None before any."""
        if not self.moves:
            return None
        board, action = self.board(), self.moves[-1]
        if self.renderer.game == "tictactoe":
            return divmod(action, 3)
        filled = np.flatnonzero(board[:, action])  # connect four: the column's top piece
        return (int(filled[0]), action) if len(filled) else None

    def draw(self, surface: Any, origin: tuple[int, int] = (0, 0)) -> None:
        self.renderer.draw(surface, self.board(), origin, self.last_cell())

    def size(self) -> tuple[int, int]:
        return self.renderer.size(self.board())
