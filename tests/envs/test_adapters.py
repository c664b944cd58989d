"""PettingZoo and OpenSpiel games through the one TurnGame interface and envs.make."""

import numpy as np
import pytest

from ludus import envs
from ludus.league.arena import play_match
from ludus.league.bots import RandomBot
from ludus.league.exploitability import nash_conv


def test_pettingzoo_connect_four_replays_ludus_games_exactly():
    # same bots, same seeds: identical games on PettingZoo's env and ludus's bitboards
    ours = play_match("connect_four", RandomBot(seed=1), RandomBot(seed=2), 60)
    theirs = play_match("pettingzoo:classic.connect_four_v3", RandomBot(seed=1),
                        RandomBot(seed=2), 60)
    assert ours == theirs and ours.games == 60


def test_spiel_kuhn_poker_through_envs_make():
    env = envs.make("spiel:kuhn_poker", 8, seed=0, opponent=RandomBot(seed=0))
    assert env.single_observation_space["observation"].shape == (11,)
    obs, _ = env.reset()
    rewards, seats = [], set()
    for _ in range(40):
        seats |= set(env.learner_seat.tolist())
        mask = obs["action_mask"]
        obs, reward, terminated, truncated, _ = env.step(mask.argmax(1))
        rewards += reward[terminated].tolist()
        assert not reward[~terminated].any()
    assert seats == {0, 1} and set(rewards) <= {-2.0, -1.0, 1.0, 2.0} and rewards
    with pytest.raises(ValueError, match="illegal action 5"):
        env.step(np.full(8, 5))


def test_pettingzoo_parallel_game_with_discrete_observations():
    game = envs.make_game("pettingzoo:classic.rps_v2", 4, seed=0)  # rock-paper-scissors
    assert game.num_players == 2 and game.observation_space.shape == (4,)
    result = play_match("pettingzoo:classic.rps_v2", RandomBot(seed=1), RandomBot(seed=2), 40)
    assert result.games == 40 and sum(result.draws) > 0


def test_pettingzoo_butterfly_images():
    game = envs.make_game("pettingzoo:butterfly/cooperative_pong-v6", 2, seed=0)
    game.reset()
    obs = game.observation()
    assert obs.shape == (2, *game.observation_space.shape) and obs.dtype == np.uint8
    rewards, _, _ = game.play(np.zeros(2, dtype=np.int64))
    assert rewards.shape == (2, 2)


@pytest.mark.parametrize("bad,hint", [("spiel:kuhn_pokr", "spiel:kuhn_poker"),
                                      ("pettingzoo:classic.conect_four_v3",
                                       "pettingzoo:classic/connect_four-v3"),
                                      ("conect_four", "connect_four")])
def test_unknown_games_name_the_closest(bad, hint):
    with pytest.raises(ValueError, match=f"did you mean {hint}"):
        envs.make_game(bad, 1)


def test_nash_conv_of_uniform_random_on_kuhn():
    assert nash_conv("spiel:kuhn_poker", RandomBot()) == pytest.approx(0.9167, abs=1e-4)
