import numpy as np

from ludus.envs.connect_four import ConnectFour
from ludus.envs.tictactoe import TicTacToe
from ludus.envs.versus import Versus
from ludus.league.bots import GreedyBot, RandomBot


def test_learner_sees_its_own_pieces_and_alternates_seats():
    env = Versus(TicTacToe(4), RandomBot(seed=0))
    obs, _ = env.reset()
    # envs 1 and 3 start with the learner second: the opponent has one mark already
    assert obs["observation"][:, :, :, 1].sum(axis=(1, 2)).tolist() == [0, 1, 0, 1]
    assert obs["observation"][:, :, :, 0].sum() == 0
    seats_seen = {0: set(), 1: set()}
    rng = np.random.default_rng(0)
    for _ in range(200):
        before = env.learner_seat.copy()
        mask = obs["action_mask"]
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        obs, reward, terminated, truncated, info = env.step(actions)
        assert not truncated.any() and set(np.unique(reward)) <= {-1.0, 0.0, 1.0}
        assert (reward[~terminated] == 0).all()
        for i in np.flatnonzero(terminated):
            seats_seen[i % 2].add(int(before[i]))
            final = info["final_obs"][i]["observation"]
            if reward[i] == 1:  # the learner's last move made a line of its own plane
                assert final[..., 0].sum() >= 3
        # the learner is always the player to move when it acts
        assert (env.game.to_move == env.learner_seat).all()
    assert seats_seen == {0: {0, 1}, 1: {0, 1}}


def test_rewards_favour_the_stronger_player_from_both_seats():
    env = Versus(ConnectFour(64), RandomBot(seed=0))
    learner = GreedyBot(seed=1)
    obs, _ = env.reset()
    results = {0: [], 1: []}
    while min(len(r) for r in results.values()) < 100:
        seats = env.learner_seat.copy()
        obs, reward, terminated, _, _ = env.step(learner.act(obs)[0])
        for i in np.flatnonzero(terminated):
            results[int(seats[i])].append(reward[i])
    for seat, rewards in results.items():
        assert np.mean(np.array(rewards) == 1.0) > 0.7, (seat, np.mean(rewards))


def test_random_openings_vary_the_start_and_keep_the_learner_to_move():
    env = Versus(ConnectFour(256), RandomBot(seed=0), opening_moves=6, seed=3)
    obs, _ = env.reset()
    pieces = obs["observation"].sum(axis=(1, 2, 3))
    assert pieces.min() == 0 and pieces.max() >= 6 and len(np.unique(pieces)) >= 6
    assert (env.game.to_move == env.learner_seat).all()
    plain, _ = Versus(ConnectFour(4), RandomBot(seed=0)).reset()
    assert plain["observation"].sum(axis=(1, 2, 3)).tolist() == [0, 1, 0, 1]
