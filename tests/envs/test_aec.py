"""ludus's board games as PettingZoo AEC envs: PettingZoo's own API test, move-for-move
agreement with connect_four_v3 / tictactoe_v3, and the render modes."""

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3, tictactoe_v3
from pettingzoo.test import api_test

from ludus.envs.aec import aec_env
from ludus.envs.render import RED, YELLOW

GAMES = [("connect_four", connect_four_v3), ("tictactoe", tictactoe_v3)]


@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
def test_pettingzoo_api_test(game):
    api_test(aec_env(game), num_cycles=200)


@pytest.mark.parametrize("game,reference", GAMES)
def test_thousand_random_games_agree_with_pettingzoo(game, reference):
    rng = np.random.default_rng(1)
    ours, theirs = aec_env(game), reference.env()
    for _ in range(1000):
        ours.reset()
        theirs.reset()
        while True:
            assert ours.agent_selection == theirs.agent_selection
            for agent in theirs.agents:
                a, b = ours.observe(agent), theirs.observe(agent)
                np.testing.assert_array_equal(a["observation"], b["observation"])
                np.testing.assert_array_equal(a["action_mask"], b["action_mask"])
                assert ours.rewards[agent] == theirs.rewards[agent]
                assert ours.terminations[agent] == theirs.terminations[agent]
                assert ours.truncations[agent] == theirs.truncations[agent]
            if any(theirs.terminations.values()):
                break
            mask = theirs.observe(theirs.agent_selection)["action_mask"]
            action = int(rng.choice(np.flatnonzero(mask)))
            ours.step(action)
            theirs.step(action)


def test_illegal_move_in_the_aec_env_names_the_mask():
    env = aec_env("tictactoe")
    env.reset()
    env.step(4)
    with pytest.raises(ValueError, match=r"illegal action 4 in game 0; legal mask \[1, 1, 1, 1, 0"):
        env.step(4)


def test_render_modes(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = aec_env("connect_four", render_mode="ansi")
    env.reset()
    for col in (3, 3):
        env.step(col)
    assert env.render().splitlines()[-3:-1] == [". . . Y . . .", ". . . R . . ."]
    env = aec_env("connect_four", render_mode="rgb_array")
    env.reset()
    for col in (3, 3):
        env.step(col)
    frame = env.render()
    cell = frame.shape[1] // 7
    assert frame.shape == (6 * cell, 7 * cell, 3)
    centre = lambda r, c: tuple(frame[r * cell + cell // 2, c * cell + cell // 2])  # noqa: E731
    assert centre(5, 3) == RED and centre(4, 3) == YELLOW and centre(5, 0) != RED
    human = aec_env("tictactoe", render_mode="human")
    human.reset()
    human.step(0)
    assert human.render() is None
    human.close()
