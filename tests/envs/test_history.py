"""Board games observed as their move histories (envs/history.py)."""

import numpy as np
import pytest

from ludus import envs
from ludus.envs.history import board_planes
from ludus.league.arena import play_match
from ludus.league.bots import make_bot


@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
def test_a_history_game_plays_as_its_board_and_replays_onto_it(game):
    history, board = envs.make_game(f"{game}_moves", 16), envs.make_game(game, 16)
    history.reset()
    board.reset()
    rng = np.random.default_rng(0)
    assert history.observation().shape == (16, *history.observation_space.shape)
    for _ in range(40):
        live = np.flatnonzero(board.action_mask().any(1))
        mask = board.action_mask()[live]
        actions = (rng.random(mask.shape) * mask).argmax(1)
        for a, b in zip(board.play(actions, live), history.play(actions, live), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(history.action_mask(), board.action_mask())
        for seat in (None, np.zeros(16, dtype=np.int64)):
            np.testing.assert_array_equal(board_planes(history.observation(seat=seat),
                                                       history.board_shape),
                                          board.observation(seat=seat))
        ended = np.flatnonzero(~board.action_mask().any(1))
        board.reset(ended)
        history.reset(ended)
        assert not history.observation(ended).any()


def test_bots_read_histories_and_a_history_needs_its_game():
    result = play_match("connect_four_moves", make_bot("alphabeta:2"), make_bot("random"), 20)
    assert sum(result.wins) >= 16
    with pytest.raises(ValueError, match="do not fit"):
        board_planes(np.zeros((1, 5, 6), np.int8), (6, 7))
    assert "connect_four_moves" in envs.known_ids()
