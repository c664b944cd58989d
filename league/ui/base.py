"""What the watch and play windows need of a scene, without pygame: the Scene protocol the
window drives, the seats (who plays, their role and rating), the analysis of a position
(action probabilities and value) and the refusal of an illegal move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


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


def analyse(player: Any, obs: Any, state: Any = None) -> tuple[np.ndarray, float | None, Any]:
    """(probabilities (A,), value estimate or None, next state) of one position; for a
    policy over Box actions, its greedy action (A,) in place of the probabilities."""
    if hasattr(player, "think"):  # a search player (league.search): its root value too
        result = player.think(obs)
        return result.policy[0].astype(np.float64), float(result.value[0]), state
    if hasattr(player, "logits"):  # a ludus Policy: its value head too
        import torch

        logits, value, state = player.logits(obs, state, need_value=True)
        if player.continuous:
            out = player.dist.mode(logits)[0].cpu().numpy().astype(np.float64)
        else:
            out = torch.softmax(logits, -1)[0].cpu().numpy()
        return out, None if value is None else float(value[0]), state
    probs, state = player.action_probs(obs, state)
    return np.asarray(probs[0], dtype=np.float64), None, state


@dataclass
class Analysis:
    """The panel's view of the last position a seat decided on: action probabilities, or
    for Box actions the greedy action vector (probs) within `bounds` (low, high)."""

    probs: np.ndarray
    legal: np.ndarray
    value: float | None = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None
    visits: np.ndarray | None = None  # a search player's root visit counts



class Scene(Protocol):
    """What ludus.league.ui.window.Window drives: a match shown one move at a time (a board
    game between two seats, or a Gymnasium env's episodes)."""

    seats: list[Seat]
    """Who plays: two seats on boards, one in a Gymnasium env."""
    score: list[Any]
    """Boards: [wins of seats[0], wins of seats[1], draws]; envs: finished episodes' returns."""
    result: str | None
    """How the current game ended ("draw", "<name> wins", "return 200.0"), None while on."""
    message: str
    """A refusal or note for the panel."""
    analysis: dict[int, Analysis]
    """The last analysis per seat index."""
    shown: int | None
    """The seat whose analysis the panel shows (None before any)."""
    pace: float
    """Seconds per move when watching (and per frame in videos)."""

    @property
    def to_move(self) -> int:
        """Index into seats of the player to move."""

    @property
    def over(self) -> bool:
        """The current game has ended."""

    @property
    def finished(self) -> int:
        """Games (episodes) finished so far."""

    @property
    def thinker(self) -> str:
        """Name of the player whose analysis the panel shows."""

    def size(self) -> tuple[int, int]:
        """(width, height) in pixels of the drawing."""

    def draw(self, surface: Any, origin: tuple[int, int] = (0, 0)) -> None:
        """Draw the position on a pygame surface."""

    def colour(self, i: int) -> tuple[int, int, int] | None:
        """Piece colour of seats[i] (None without pieces)."""

    def labels(self) -> list[str]:
        """Name of each action for the panel."""

    def keys_to_action(self) -> dict[tuple[str, ...], int] | None:
        """Pressed keys -> action when a person plays with the keyboard, else None."""

    def think(self) -> Analysis:
        """The mover's analysis of the current position (worked out once per position)."""

    def step(self) -> int:
        """The agent to move decides and moves; returns its action."""

    def play(self, action: int) -> None:
        """Play `action` for the side to move (IllegalMove if the rules refuse it)."""

    def click(self, x: int, y: int) -> int | None:
        """A person's click at drawing pixel (x, y): their move, or None outside the board."""

    def undo(self) -> None:
        """Take back a person's last move and the replies since."""

    def restart(self, swap: bool = False) -> None:
        """A new game (the seats swap who moves first when `swap`)."""
