"""A Gymnasium env as a watch/play scene: its rgb_array frames, played by an agent or by a
person at the keyboard with the agent's advice on the panel (ludus.league.ui.window draws it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from ludus import envs
from ludus.league.arena import choose_move
from ludus.league.ui.base import Analysis, IllegalMove, Seat, analyse

# Keyboard layouts for Gymnasium envs without get_keys_to_action(), in gymnasium.utils.play's
# form: pressed keys (pygame names) -> action; () is what happens with no key pressed.
KEYS = {
    "CartPole": {("left",): 0, ("right",): 1},
    "MountainCar": {(): 1, ("left",): 0, ("right",): 2},
    "Acrobot": {(): 1, ("left",): 0, ("right",): 2},
    "LunarLander": {(): 0, ("right",): 1, ("up",): 2, ("left",): 3},
}


@dataclass
class GymScene:
    """Episodes of a single-agent Gymnasium env, shown from its rgb_array frames: played by
    `seat`'s policy, or by a person (`human`) with `seat` advising in the panel."""

    env_id: str
    seat: Seat
    human: bool = False
    seed: int = 0
    greedy: bool = True
    score: list[float] = field(default_factory=list)  # returns of finished episodes
    result: str | None = None
    message: str = ""
    analysis: dict[int, Analysis] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        """Episodes finished so far."""
        return len(self.score)

    def __post_init__(self) -> None:
        if self.seat.human:
            raise ValueError("a Gymnasium env needs an agent (a checkpoint) to watch or advise")
        self.env = envs.make(self.env_id, 1, self.seed, render_mode="rgb_array",
                             vectorization="sync")
        self.seats = [Seat("you", "human") if self.human else self.seat]
        self.rng = np.random.default_rng(self.seed)
        self.restart()

    to_move = 0  # one seat

    @property
    def over(self) -> bool:
        return self.result is not None

    def restart(self, swap: bool = False) -> None:
        """A new episode."""
        self.obs, _ = self.env.reset(seed=self.seed + len(self.score))
        self.state = self.seat.player.initial_state(1)
        self.episode_return, self.result, self.analysis = 0.0, None, {}
        self.steps, self.thought, self.shown, self.state_before = 0, None, None, self.state
        self.image = np.asarray(self.env.render()[0])

    @property
    def box(self) -> gym.spaces.Box | None:
        """The action space when actions are continuous, else None."""
        space = self.env.single_action_space
        return space if isinstance(space, gym.spaces.Box) else None

    def legal(self) -> np.ndarray:
        space = self.env.single_action_space
        return np.ones(space.shape[0] if self.box else space.n, dtype=np.int8)

    def think(self) -> Analysis:
        """The agent's probabilities (Box actions: its greedy action vector) and value in the
        current state (once per state)."""
        if self.thought != self.steps:
            self.state_before = self.state
            probs, value, self.state = analyse(self.seat.player, self.obs, self.state)
            bounds = (self.box.low, self.box.high) if self.box else None
            self.analysis[0] = Analysis(probs, self.legal(), value, bounds)
            self.thought, self.shown = self.steps, 0
        return self.analysis[0]

    def step(self) -> int | np.ndarray:
        """The agent acts (greedy or sampled); returns the action."""
        if self.human:
            raise IllegalMove("you play this one: use the keyboard")
        analysis = self.think()
        if self.box is None:
            action = choose_move(analysis.probs, self.rng, self.greedy)
        elif self.greedy:
            action = np.clip(analysis.probs, self.box.low, self.box.high).astype(self.box.dtype)
        else:  # a draw from the policy's own distribution, from the state it thought in
            action = self.seat.player.act(self.obs, self.state_before)[0][0]
        self.play(action)
        return action

    def play(self, action: int | np.ndarray) -> None:
        """Step the env with `action`."""
        if self.over:
            raise IllegalMove("the episode is over: press r for a new one")
        self.obs, reward, terminated, truncated, _ = self.env.step(np.array([action]))
        self.steps += 1
        self.episode_return += float(reward[0])
        self.image = np.asarray(self.env.render()[0])
        if terminated[0] or truncated[0]:
            self.score.append(self.episode_return)
            self.result = f"return {self.episode_return:.1f}"

    pace = 1 / 30  # seconds per step when watching (and 30 frames/s in videos)

    def colour(self, i: int) -> None:
        """No pieces."""
        return None

    @property
    def thinker(self) -> str:
        """The agent, acting or advising."""
        return self.seat.name

    def keys_to_action(self) -> dict[tuple[str, ...], int] | None:
        """Pressed keys -> action when a person plays (else None), Gymnasium's play
        convention: the env's own get_keys_to_action() (Atari) or ludus's layouts of the
        classic-control and Box2D envs. An env without either cannot be played by keyboard
        (one clear error)."""
        if not self.human:
            return None
        unwrapped = self.env.envs[0].unwrapped
        if hasattr(unwrapped, "get_keys_to_action"):
            import pygame

            return {tuple(sorted(pygame.key.name(k) for k in keys)): a
                    for keys, a in unwrapped.get_keys_to_action().items()}
        family = self.env_id.split("/")[-1].split("-")[0].removesuffix("NoVel")
        if family not in KEYS:
            raise ValueError(f"{self.env_id} has no keyboard layout (layouts: "
                             f"{', '.join(sorted(KEYS))} and Atari)")
        return KEYS[family]

    def undo(self) -> None:
        """Episodes cannot be taken back."""
        self.message = "no undo in Gymnasium envs"

    def click(self, x: int, y: int) -> int | None:
        raise IllegalMove("use the keyboard")

    def labels(self) -> list[str]:
        if self.box is not None:
            return [f"a[{i}]" for i in range(self.box.shape[0])]
        return [f"action {a}" for a in range(self.env.single_action_space.n)]

    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h

    def draw(self, surface: Any, origin: tuple[int, int] = (0, 0)) -> None:
        import pygame

        surface.blit(pygame.surfarray.make_surface(self.image.transpose(1, 0, 2)), origin)
