"""ludus's board games as standard PettingZoo AEC envs: one game of the batched core, agents
and observations named and shaped as in PettingZoo's connect_four_v3 and tictactoe_v3, and
render modes human, rgb_array and ansi drawn by envs.render."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils import AgentSelector

from ludus.envs.registry import BOARD_GAMES
from ludus.envs.render import BoardRenderer, ansi, board_of

AGENTS = {"connect_four": ["player_0", "player_1"], "tictactoe": ["player_1", "player_2"]}


class BoardAEC(AECEnv):
    """One game of a ludus board game under PettingZoo's AEC API."""

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "name": "ludus_board",
                "is_parallelizable": False, "render_fps": 2}

    def __init__(self, game: str, render_mode: str | None = None) -> None:
        super().__init__()
        if game not in BOARD_GAMES:
            raise ValueError(f"unknown board game {game!r}; have {sorted(BOARD_GAMES)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; choose "
                             f"{self.metadata['render_modes']}")
        self.game_name, self.render_mode = game, render_mode
        self.metadata = {**self.metadata, "name": f"ludus_{game}"}
        self.core = BOARD_GAMES[game](1)
        self.possible_agents = list(AGENTS[game])
        n = self.core.num_actions
        space = gym.spaces.Dict({"observation": self.core.observation_space,
                                 "action_mask": gym.spaces.Box(0, 1, (n,), np.int8)})
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = {a: gym.spaces.Discrete(n) for a in self.possible_agents}
        self.renderer: BoardRenderer | None = None
        self.window: Any = None

    def observation_space(self, agent: str) -> gym.Space:
        """Dict of `observation` planes and `action_mask`."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.Space:
        """Column (connect four) or cell (tic-tac-toe)."""
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """An empty board; the first agent moves (the game itself has no randomness)."""
        self.core.reset()
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self._selector = AgentSelector(self.agents)
        self.agent_selection = self._selector.reset()
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """`agent`'s planes (its own pieces first); its mask is empty unless it is to move."""
        seat = self.possible_agents.index(agent)
        mask = (self.core.action_mask()[0] if agent == self.agent_selection
                else np.zeros(self.core.num_actions, dtype=np.int8))
        return {"observation": self.core.observation(seat=np.array([seat]))[0],
                "action_mask": mask}

    def step(self, action: int) -> None:
        """The agent to move plays `action`; illegal moves raise ValueError naming the mask."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        won, _, done = self.core.step(np.array([action]))
        following = self._selector.next()
        if won[0]:
            self.rewards[agent] += 1
            self.rewards[following] -= 1
        if done[0]:
            self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = following
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def board(self) -> np.ndarray:
        """(rows, cols) int8: 0 empty, 1 the first agent's piece, 2 the second's."""
        return board_of(self.core.observation(seat=np.array([0]))[0])

    def render(self) -> np.ndarray | str | None:
        """human: draw in a window; rgb_array: an (H, W, 3) frame; ansi: a text board."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        if self.render_mode == "ansi":
            return ansi(self.board(), self.game_name)
        self.renderer = self.renderer or BoardRenderer(self.game_name)
        if self.render_mode == "rgb_array":
            return self.renderer.frame(self.board())
        import pygame

        if self.window is None:
            pygame.display.init()
            pygame.display.set_caption(f"ludus {self.game_name}")
            self.window = pygame.display.set_mode(self.renderer.size(self.board()))
        pygame.event.pump()  # keep the window responsive
        self.renderer.draw(self.window, self.board())
        pygame.display.flip()
        return None

    def close(self) -> None:
        """Close the window, if any."""
        if self.window is not None:
            import pygame

            pygame.display.quit()
            self.window = None


def aec_env(game: str, render_mode: str | None = None) -> AECEnv:
    """A ludus board game as a PettingZoo AEC env, wrapped like PettingZoo's classic envs
    (ludus's core raises on illegal moves itself, so no illegal-move wrapper)."""
    from pettingzoo.utils import wrappers

    return wrappers.OrderEnforcingWrapper(BoardAEC(game, render_mode))
