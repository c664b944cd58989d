"""Kuhn and Leduc poker (OpenSpiel) as a watch/play scene: a table with the cards one seat
may see (the viewer's: a person's, else the first seat's), the rival's card face down until
a showdown, the public card, the pot and the betting so far, and a button per action; the
panel shows the mover's action probabilities as on the boards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ludus.league.ui.base import IllegalMove
from ludus.league.ui.board_scene import BoardMatch

POKER = ("spiel:kuhn_poker", "spiel:leduc_poker")
RANKS = "JQK"
FELT, EDGE, CARD, BACK, INK, GREY, GOLD = (22, 96, 60), (12, 60, 36), (245, 245, 240), \
    (60, 70, 140), (20, 20, 24), (120, 130, 125), (235, 200, 90)
WIDTH, HEIGHT = 480, 400
CARD_W, CARD_H = 56, 80
BUTTON_W, BUTTON_H, BUTTON_Y = 130, 36, HEIGHT - 52


@dataclass
class PokerMatch(BoardMatch):
    """Games of Kuhn or Leduc poker between `seats` (seat 0 acts first in the first game;
    seats swap after each game). Undo replays the same deal."""

    def setup(self) -> None:
        if self.game_id not in POKER:
            raise ValueError(f"poker tables are drawn for {', '.join(POKER)}, not {self.game_id}")
        self.leduc = self.game_id == "spiel:leduc_poker"
        self.chips = [0.0, 0.0]  # chips won by each seat over the games
        self.deal = 0

    def new_game(self, replay: bool) -> None:
        """Deal: a new seed for the cards, or the same one to replay the game."""
        if not replay:
            self.deal = int(self.rng.integers(2**31))
        self.game.reseed(self.deal)
        self.game.reset()

    @property
    def state(self) -> Any:
        """The OpenSpiel state of the game on the table."""
        return self.game.states[0]

    @property
    def viewer(self) -> int:
        """The seat whose cards are shown: the person's, else the first seat."""
        return next((i for i, s in enumerate(self.seats) if s.human), 0)

    def player_of(self, i: int) -> int:
        """OpenSpiel's player number of seats[i] this game."""
        return (i - self.first) % 2

    # --- what the table shows ------------------------------------------------------------
    def card(self, i: int) -> int:
        """seats[i]'s private card (Kuhn 0-2, Leduc 0-5)."""
        p = self.player_of(i)
        return int(self.state.private_card(p)) if self.leduc else int(self.state.history()[p])

    def public_card(self) -> int | None:
        """Leduc's public card once dealt, else None."""
        card = int(self.state.public_card()) if self.leduc else -1
        return card if card >= 0 else None

    def betting(self) -> list[int]:
        """The players' actions so far, in order (OpenSpiel ids)."""
        if self.leduc:
            return [int(a) for a in (*self.state.round1(), *self.state.round2())]
        return [int(a) for a in self.state.history()[2:]]

    def pot(self) -> int:
        """Chips in the pot."""
        if self.leduc:
            return int(self.state.pot())
        return 2 + sum(self.betting())  # antes of 1, and each bet or call adds 1

    def folded(self) -> bool:
        """Whether the game ended by a fold (no showdown)."""
        acts = self.betting()
        if self.leduc:
            return 0 in acts
        return self.state.is_terminal() and 1 in acts and acts[-1] == 0

    def showdown(self) -> bool:
        """The hands are shown: the game ended without a fold."""
        return self.state.is_terminal() and not self.folded()

    def labels(self) -> list[str]:
        """OpenSpiel's names of the actions (Kuhn: Pass, Bet; Leduc: Fold, Call, Raise)."""
        names = ("Fold", "Call", "Raise") if self.leduc else ("Pass", "Bet")
        return list(names[: self.game.num_actions])

    def refusal(self, action: Any) -> str:
        names = self.labels()
        name = names[int(action)] if isinstance(action, int) and 0 <= action < len(names) \
            else str(action)
        return f"{name} is not a legal action now"

    # --- moves ---------------------------------------------------------------------------
    def play(self, action: int) -> None:
        """As on the boards; a finished game also counts its chips."""
        super().play(action)
        if self.over:
            returns = self.state.returns()
            for i in (0, 1):
                self.chips[i] += returns[self.player_of(i)]
            if self.winner is not None:
                self.result += f" {abs(returns[self.player_of(self.winner)]):g}"
            else:
                self.result = "split pot"

    def buttons(self) -> list[tuple[int, Any]]:
        """(action, pygame.Rect) of each action button."""
        import pygame

        n = len(self.labels())
        left = (WIDTH - n * BUTTON_W - (n - 1) * 12) // 2
        return [(a, pygame.Rect(left + a * (BUTTON_W + 12), BUTTON_Y, BUTTON_W, BUTTON_H))
                for a in range(n)]

    def click(self, x: int, y: int) -> int | None:
        """A person's click on an action button: their action; None off the buttons.
        Refusals (an illegal action, not their turn, the game over) raise IllegalMove."""
        hit = next((a for a, rect in self.buttons() if rect.collidepoint(x, y)), None)
        if hit is None:
            return None
        if self.over:
            raise IllegalMove("the game is over: press r for a new one")
        if not self.seats[self.to_move].human:
            raise IllegalMove("wait for the agent's move")
        self.play(hit)
        return hit

    # --- drawing -------------------------------------------------------------------------
    def colour(self, i: int) -> None:
        """Poker has no pieces."""
        return None

    def size(self) -> tuple[int, int]:
        return WIDTH, HEIGHT

    def draw(self, surface: Any, origin: tuple[int, int] = (0, 0)) -> None:
        """The table: the rival's seat on top, the viewer's at the bottom, the pot and the
        public card between, the betting so far, and the action buttons."""
        import pygame

        ox, oy = origin
        font, small = pygame.font.Font(None, 28), pygame.font.Font(None, 22)
        surface.fill(EDGE, pygame.Rect(ox, oy, WIDTH, HEIGHT))
        pygame.draw.ellipse(surface, FELT, pygame.Rect(ox + 12, oy + 12, WIDTH - 24, HEIGHT - 90))
        me, rival = self.viewer, 1 - self.viewer
        centre = ox + WIDTH // 2

        def text(s: str, x: int, y: int, colour: tuple[int, int, int] = CARD,
                 f: Any = small) -> None:
            image = f.render(s, True, colour)
            surface.blit(image, (x - image.get_width() // 2, y))

        def card(x: int, y: int, value: int | None) -> None:
            rect = pygame.Rect(x - CARD_W // 2, y, CARD_W, CARD_H)
            pygame.draw.rect(surface, CARD if value is not None else BACK, rect, border_radius=6)
            pygame.draw.rect(surface, INK, rect, 2, border_radius=6)
            if value is not None:
                rank = RANKS[value // 2 if self.leduc else value]
                text(rank, x, y + CARD_H // 2 - 12, INK, font)

        mover = None if self.over else self.to_move
        for i, y, label_y in ((rival, oy + 34, oy + 16), (me, oy + HEIGHT - 190, oy + HEIGHT - 108)):
            shown = i == me or self.showdown()
            card(centre, y, self.card(i) if shown else None)
            name = self.seats[i].name[:28] + ("  (to act)" if i == mover else "")
            text(name, centre, label_y, GOLD if i == mover else CARD)
        public = self.public_card()
        if self.leduc:
            card(centre + 110, oy + HEIGHT // 2 - 76, public)
            text("public", centre + 110, oy + HEIGHT // 2 + 8)
        # a finished game's pot is paid out: the table shows who took what
        text(self.result if self.over else f"pot {self.pot()}", centre - 110,
             oy + HEIGHT // 2 - 48, GOLD, font)
        names = self.labels()
        line = ", ".join(names[a] for a in self.betting()[-6:]) or "no bets yet"
        text(line, centre - 110, oy + HEIGHT // 2 - 20)
        legal = self.legal() if not self.over else None
        for a, rect in self.buttons():
            on = legal is not None and bool(legal[a]) and self.seats[self.to_move].human
            rect = rect.move(ox, oy)
            pygame.draw.rect(surface, GOLD if on else GREY, rect, border_radius=8)
            text(names[a], rect.centerx, rect.y + 10, INK)
