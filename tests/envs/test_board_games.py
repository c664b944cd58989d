"""ludus's batched connect four and tic-tac-toe agree move for move with PettingZoo."""

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3, tictactoe_v3

from ludus.envs.connect_four import ConnectFour
from ludus.envs.tictactoe import TicTacToe

GAMES = [(ConnectFour, connect_four_v3), (TicTacToe, tictactoe_v3)]


@pytest.mark.parametrize("game_cls,pz", GAMES)
def test_random_games_agree_with_pettingzoo(game_cls, pz):
    rng = np.random.default_rng(0)
    n_games = 300
    game = game_cls(n_games)
    envs = [pz.env() for _ in range(n_games)]
    for env in envs:
        env.reset()
    alive = np.ones(n_games, dtype=bool)
    while alive.any():
        obs, mask = game.observation(), game.action_mask()
        actions = np.zeros(n_games, dtype=np.int64)
        for i in np.flatnonzero(alive):
            ref = envs[i].observe(envs[i].agent_selection)
            np.testing.assert_array_equal(obs[i], ref["observation"])
            np.testing.assert_array_equal(mask[i], ref["action_mask"])
            actions[i] = rng.choice(np.flatnonzero(mask[i]))
        # finished games keep stepping with a legal dummy move; their results are ignored
        for i in np.flatnonzero(~alive):
            actions[i] = np.flatnonzero(mask[i])[0] if mask[i].any() else 0
            game.reset(np.array([i]))
        won, draw, done = game.step(actions)
        for i in np.flatnonzero(alive):
            mover = envs[i].agent_selection
            envs[i].step(int(actions[i]))
            assert envs[i].terminations[mover] == done[i]
            if done[i]:
                assert envs[i].rewards[mover] == (1 if won[i] else 0)
                assert draw[i] == (envs[i].rewards[mover] == 0)
                alive[i] = False


def test_illegal_action_names_action_and_mask():
    game = ConnectFour(2)
    for _ in range(6):
        game.step(np.array([3, 0]))
    with pytest.raises(ValueError, match=r"illegal action 3 in game 0; legal mask \[1, 1, 1, 0"):
        game.step(np.array([3, 1]))
    with pytest.raises(ValueError, match="illegal action 9"):
        TicTacToe(1).step(np.array([9]))


def test_known_wins():
    game = ConnectFour(1)
    for col in (0, 6, 1, 6, 2, 6):
        assert not game.step(np.array([col]))[0].any()
    won, _, done = game.step(np.array([3]))  # bottom row 0-1-2-3 by the first player
    assert won[0] and done[0]
    ttt = TicTacToe(1)
    for cell in (0, 3, 4, 5):
        ttt.step(np.array([cell]))
    won, _, _ = ttt.step(np.array([8]))  # diagonal 0-4-8
    assert won[0]
