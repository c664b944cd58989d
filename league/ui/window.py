"""The pygame window of scripts/watch.py and scripts/play.py: the board (or an env's frame)
beside a panel with the players, the score and the mover's action probabilities and value.

Keys: space pause, right arrow one move, + / - speed, r restart, u undo, s switch seats
(play), q or Esc quit; a person plays boards with the mouse and Gymnasium envs with the
keyboard. Events are pumped every frame, so the window never freezes while agents think.
The frames it shows are the frames it records (`record`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents.evaluate import write_video
from ludus.league.ui.base import IllegalMove, Scene

PANEL_WIDTH, MIN_HEIGHT = 320, 480  # multiples of 16: videos need no rescaling
BACKGROUND, TEXT, DIM, ALERT, BAR = (24, 26, 32), (235, 235, 235), (130, 130, 140), \
    (240, 90, 80), (80, 160, 240)


@dataclass(kw_only=True)
class ViewOptions:
    """Options of the watch and play windows (scripts/watch.py and play.py flags)."""

    env_id: str | None = None
    """Game or Gymnasium env (default: the checkpoint's)."""
    delay: float | None = None
    """Seconds between an agent's moves (+ / - change it; default 0.6 on boards, 1/30 in
    Gymnasium envs)."""
    record: str | None = None
    """Write what the window shows to a .gif or .mp4 when it closes (one frame per move)."""
    greedy: bool = True
    """Agents play their most probable move (--no-greedy samples)."""
    seed: int = 0
    """Seed of bots and sampling."""


class Window:
    """Shows `scene` (a BoardMatch or GymScene: see base.Scene) and runs its games: agents move
    every `delay` seconds; `games` stops after that many finished games; `record` writes
    every new picture to a .gif or .mp4 when the window closes. `headless` draws off-screen
    (no display: league videos)."""

    def __init__(self, scene: Scene, delay: float | None = None, games: int | None = None,
                 record: Path | str | None = None, headless: bool = False, fps: int = 30,
                 title: str = "ludus") -> None:
        import pygame

        if record is not None and Path(record).suffix.lower() not in (".gif", ".mp4"):
            raise ValueError(f"--record {record} must end in .gif or .mp4")
        pygame.font.init()
        if delay is None:
            delay = scene.pace
        self.scene, self.delay, self.games, self.fps = scene, delay, games, fps
        self.record = None if record is None else Path(record)
        width, height = scene.size()
        self.board_width = width
        self.size = (width + PANEL_WIDTH, max(height + height % 16, MIN_HEIGHT))
        self.headless = headless
        if headless:
            self.surface = pygame.Surface(self.size)
        else:
            pygame.display.init()
            pygame.display.set_caption(title)
            self.surface = pygame.display.set_mode(self.size)
        self.font, self.small = pygame.font.Font(None, 24), pygame.font.Font(None, 20)
        self.keys = scene.keys_to_action()
        self.paused, self.running = False, True
        self.next_move, self.restart_at = 0.0, None
        self.frames: list[np.ndarray] = []
        self.capture()

    # --- input ---------------------------------------------------------------------------
    def handle(self, event: Any) -> None:
        """React to one pygame event."""
        import pygame

        scene = self.scene
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            key = event.key
            if key in (pygame.K_q, pygame.K_ESCAPE):
                self.running = False
            elif key == pygame.K_SPACE:
                self.paused = not self.paused
            elif key == pygame.K_RIGHT and self.paused and self._agent_turn():
                self._agent_move()
            elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                self.delay /= 1.5
            elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
                self.delay = min(self.delay * 1.5, 10.0)
            elif key == pygame.K_r:
                scene.restart()
                self.restart_at = None
                self.capture()
            elif key == pygame.K_u:
                scene.undo()
                self.capture()
            elif key == pygame.K_s and len(scene.seats) == 2:
                scene.restart(swap=True)
                self.capture()
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            x, y = event.pos
            if x < self.board_width:
                try:
                    if scene.click(x, y) is not None:
                        self.next_move = time.monotonic() + self.delay
                        self.capture()
                except IllegalMove as exc:
                    scene.message = str(exc)

    def _agent_turn(self) -> bool:
        scene = self.scene
        return not scene.over and not scene.seats[scene.to_move].human

    def _agent_move(self) -> None:
        self.scene.step()
        self.next_move = time.monotonic() + self.delay
        self.capture()

    def tick(self, now: float) -> None:
        """Advance the match: agents move when due, finished games restart after a pause, a
        person's held keys step a Gymnasium env."""
        scene = self.scene
        if scene.over:
            if self.restart_at is None:
                self.restart_at = now + 3 * self.delay
                if self.games is not None and scene.finished >= self.games:
                    self.running = False
            elif now >= self.restart_at and not self.paused:
                scene.restart(swap=True)
                self.restart_at = None
                self.capture()
        elif self.keys is not None:
            import pygame

            pressed = pygame.key.get_pressed()
            held = tuple(sorted(name for keys in self.keys for name in keys
                                if pressed[pygame.key.key_code(name)]))
            action = self.keys.get(held)
            if action is not None and not self.paused:
                scene.think()  # the agent's advice for this state
                scene.play(action)
                self.capture()
        elif self._agent_turn():
            scene.think()  # shown in the panel while it is this player's move
            if not self.paused and now >= self.next_move:
                self._agent_move()

    # --- drawing -------------------------------------------------------------------------
    def draw(self) -> None:
        """Board and panel onto the surface."""
        import pygame

        scene, surface = self.scene, self.surface
        surface.fill(BACKGROUND)
        scene.draw(surface, (0, 0))
        x, y = self.board_width + 14, 12
        for i, seat in enumerate(scene.seats):
            marker = ">" if (len(scene.seats) > 1 and i == scene.to_move and not scene.over) else " "
            if (colour := scene.colour(i)) is not None:  # the seat's pieces
                pygame.draw.circle(surface, colour, (x + 20, y + 8), 7)
            self._text(marker, x, y, TEXT)
            y = self._text(seat.label(), x + 32, y, TEXT)
        if len(scene.seats) == 2:
            a, b = scene.seats
            y = self._text(f"score {scene.score[0]}-{scene.score[1]}, draws {scene.score[2]}",
                           x, y + 4, TEXT)
        elif scene.score:
            y = self._text(f"{len(scene.score)} episodes, mean {np.mean(scene.score):.1f}",
                           x, y + 4, TEXT)
        status = scene.result or ("paused" if self.paused else "")
        y = self._text(status, x, y + 4, TEXT)
        y = self._text(scene.message, x, y, ALERT, self.small)
        y = self._analysis(x, y + 8)
        help_line = "space pause  > step  +/- speed  r new  q quit"
        if any(s.human for s in scene.seats):
            help_line = "u undo  s switch seats  r new  q quit"
        self._text(help_line, x, self.size[1] - 22, DIM, self.small)

    def _analysis(self, x: int, y: int) -> int:
        import pygame

        scene = self.scene
        if scene.shown is None:
            return y
        a = scene.analysis[scene.shown]
        name = scene.thinker
        value = "" if a.value is None else f", value {a.value:+.2f}"
        if a.visits is not None:
            value += f", {int(a.visits.sum())} visits"
        y = self._text(f"{name}{value}", x, y, TEXT, self.small)
        for i, (label, p, legal) in enumerate(zip(scene.labels(), a.probs, a.legal, strict=True)):
            colour = TEXT if legal else DIM
            self._text(label, x, y, colour, self.small)
            if a.bounds is None:  # a probability: a bar from the left
                left, width = x + 70, int(150 * float(p))
            else:  # a Box action: a bar from the middle of its bounds, signed
                low, high = float(a.bounds[0][i]), float(a.bounds[1][i])
                half = (high - low) / 2 or 1.0
                reach = int(75 * max(-1.0, min(1.0, (float(p) - (low + high) / 2) / half)))
                left, width = x + 145 + min(reach, 0), abs(reach)
            if width:
                pygame.draw.rect(self.surface, BAR, pygame.Rect(left, y + 3, width, 12))
            number = f"{p:+.2f}" if a.bounds is not None else f"{p:.2f}"
            if a.visits is not None:
                number += f"  {int(a.visits[i])}"
            self._text(number, x + 230, y, colour, self.small)
            y += 18
            if y > self.size[1] - 40:
                break
        return y

    def _text(self, text: str, x: int, y: int, colour: tuple[int, int, int],
              font: Any = None) -> int:
        """One line of text at (x, y), cut with '...' to stay inside the window; returns
        the next line's y."""
        font = font or self.font
        room = self.size[0] - x - 6
        if text and font.size(text)[0] > room:
            while text and font.size(text + "...")[0] > room:
                text = text[:-1]
            text += "..."
        if text:
            self.surface.blit(font.render(text, True, colour), (x, y))
        return y + font.get_linesize()

    def frame(self) -> np.ndarray:
        """The current picture, (H, W, 3) uint8."""
        import pygame

        self.draw()
        return np.transpose(pygame.surfarray.array3d(self.surface), (1, 0, 2)).copy()

    def capture(self) -> None:
        """After a change: the panel turns to the new mover (an agent's thoughts are worked
        out now), and the picture is kept for the video when recording."""
        if self._agent_turn():
            self.scene.think()
        if self.record is not None:
            self.frames.append(self.frame())

    # --- loop ----------------------------------------------------------------------------
    def step(self) -> None:
        """One frame: pump every event, advance, draw, show."""
        import pygame

        for event in pygame.event.get():
            self.handle(event)
        self.tick(time.monotonic())
        self.draw()
        if not self.headless:
            pygame.display.flip()

    def run(self, max_frames: int | None = None) -> None:
        """Until quit (or `games` played, or `max_frames`); then close."""
        import pygame

        clock, n = pygame.time.Clock(), 0
        try:
            while self.running and (max_frames is None or n < max_frames):
                self.step()
                clock.tick(self.fps)
                n += 1
        finally:
            self.close()

    def close(self) -> Path | None:
        """Write the recording (if any) and close the window; returns the video path."""
        import pygame

        path = None
        if self.record is not None and self.frames:
            # videos move at the scene's own pace: 1/0.6 moves/s on boards, 30 env steps/s
            path = write_video(self.record, self.frames, fps=1 / self.scene.pace)
            self.frames = []
        if not self.headless:
            pygame.display.quit()
        return path

