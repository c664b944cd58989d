"""The arena: seated players keep per-env memory and lose it where a game starts; matches
count both seats; Wilson intervals."""

import numpy as np
import pytest
import torch

from ludus.agents.evaluate import wilson
from ludus.league.arena import Seated, play_match
from ludus.league.bots import AlphaBetaBot, PerfectTicTacToeBot, RandomBot


class Counter:
    """A recurrent stand-in: its state counts the moves made in each env."""

    def initial_state(self, n):
        return (torch.zeros(1, n, 1),)

    def act(self, obs, state, deterministic=False):
        (h,) = state
        return np.zeros(len(obs["action_mask"]), dtype=np.int64), (h + 1,)


def test_seated_state_is_per_env_and_reset_where_games_start():
    seated = Seated(Counter(), 4)
    obs = {"action_mask": np.ones((2, 3))}
    seated.act_rows(obs, np.array([0, 2]))
    seated.act_rows(obs, np.array([0, 3]))
    assert seated.state[0][0, :, 0].tolist() == [2, 0, 1, 1]
    seated.start(np.array([0, 3]))
    assert seated.state[0][0, :, 0].tolist() == [0, 0, 1, 0]


def test_play_match_counts_both_seats():
    result = play_match("tictactoe", PerfectTicTacToeBot(seed=0), RandomBot(seed=1), 50,
                        num_envs=8)
    assert result.games == 50 and sum(result.losses) == 0
    assert abs((result.wins[0] + result.draws[0]) - (result.wins[1] + result.draws[1])) <= 8
    strong = play_match("connect_four", AlphaBetaBot(2, seed=0), RandomBot(seed=0), 40)
    assert strong.score > 0.8


def test_wilson_interval():
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.404, abs=1e-3) and high == pytest.approx(0.596, abs=1e-3)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_match_openings_are_seeded():
    from ludus.league.bots import make_bot

    same = play_match("connect_four", make_bot("greedy"), make_bot("greedy"), 40)
    varied = play_match("connect_four", make_bot("greedy"), make_bot("greedy"), 40,
                        opening_moves=4, seed=3)
    assert same.games == varied.games == 40
    again = play_match("connect_four", make_bot("greedy"), make_bot("greedy"), 40,
                       opening_moves=4, seed=3)
    assert (varied.wins, varied.losses) == (again.wins, again.losses)  # seeded


def test_opponents_load_in_first_seen_order():
    """Loads (and the seeds they take) follow the draw, not string hashing, which changes
    from one process to the next: the same league seed gives the same league."""
    from ludus.league.arena import SeatedOpponents

    keys = [f"player_{c}" for c in "qwertyuiopas"]

    class Recording(SeatedOpponents):
        loaded: list = []

        def choose(self, count):
            return (keys * 2)[:count]

        def player(self, key):
            self.loaded.append(key)
            return RandomBot()

    seats = Recording(len(keys) * 2)
    seats.start(np.arange(len(keys) * 2))
    assert seats.loaded == keys
