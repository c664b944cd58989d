"""Tree search (agents/search.py): exact wins, prior-following visits, perfect-value play,
batched = unbatched, tree reuse, Gumbel's halving schedule."""

import numpy as np
import pytest

from ludus.agents.search import SearchConfig, TreeSearch, halving_table
from ludus.envs.connect_four import ConnectFour
from ludus.envs.tictactoe import TicTacToe
from ludus.league.bots import planes_to_bits, tictactoe_lines, ttt_value


def uniform(obs, mask):
    return np.zeros(mask.shape), np.zeros(len(mask))


def position(game_cls, moves):
    game = game_cls(1)
    game.reset()
    for move in moves:
        game.play(np.array([move]))
    return game


def search(game, sims, evaluate=uniform, gumbel=False, seed=0):
    return TreeSearch(evaluate, SearchConfig(num_simulations=sims, gumbel=gumbel),
                      np.random.default_rng(seed)).run(game)


@pytest.mark.parametrize("gumbel", [False, True])
def test_a_win_in_one_is_found_with_few_simulations(gumbel):
    # X on 0 and 1, O on 3 and 4: X completes the top row at 2
    result = search(position(TicTacToe, [0, 3, 1, 4]), 16, gumbel=gumbel)
    assert result.action[0] == 2
    assert result.q[0, 2] == 1.0  # scored exactly: a finished game


def test_a_win_in_three_is_found():
    # connect four: X on the bottom of columns 2 and 3, O on top of them. X to move makes an
    # open three with column 1 or 4 and wins at whichever end O leaves open.
    game = position(ConnectFour, [2, 2, 3, 3])
    result = search(game, 400)
    assert result.action[0] in (1, 4)
    assert result.value[0] > 0.5


def test_visits_follow_the_prior_when_every_value_is_equal():
    # no game ends within reach of these visits: every value stays 0
    prior = np.array([0.35, 0.25, 0.15, 0.1, 0.07, 0.05, 0.03])

    def evaluate(obs, mask):
        return np.log(np.broadcast_to(prior, mask.shape)), np.zeros(len(mask))

    result = search(position(ConnectFour, []), 400, evaluate)
    assert result.value[0] == 0.0
    shares = result.visits[0] / result.visits[0].sum()
    assert np.abs(shares - prior).max() < 0.02
    assert (np.diff(result.visits[0]) <= 0).all()


def perfect_value(obs, mask):
    """tic-tac-toe's exact value for the mover, uniform priors."""
    values = [ttt_value(*planes_to_bits(o, np.arange(9).reshape(3, 3))) for o in obs]
    return np.zeros(mask.shape), np.array(values, dtype=np.float64)


class Searcher:
    """A player that searches every position it is shown."""

    def __init__(self, evaluate, sims):
        self.search = TreeSearch(evaluate, SearchConfig(num_simulations=sims),
                                 np.random.default_rng(0))

    def initial_state(self, batch_size):
        return None

    def act(self, obs, state=None, action_mask=None, deterministic=True):
        game = TicTacToe(len(obs["observation"]))
        game.load(np.arange(len(game.bits)), obs["observation"])
        self.search.forget()
        return self.search.run(game).action, None


def test_search_with_a_perfect_value_never_loses():
    counts = tictactoe_lines(Searcher(perfect_value, 20), all_replies=True)
    assert counts["loss"] == 0 and counts["win"] > 0


def random_positions(n, plies, seed):
    game = ConnectFour(n)
    game.reset()
    rng = np.random.default_rng(seed)
    for _ in range(plies):
        mask = game.action_mask()
        game.play((rng.random(mask.shape) * mask).argmax(1))
    return game


def exact_net(seed=0):
    """A fixed evaluator whose outputs do not depend on the batch (dyadic weights: exact sums)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-8, 9, size=(84, 8)) / 8

    def evaluate(obs, mask):
        out = obs.reshape(len(obs), -1).astype(np.float64) @ w
        return out[:, :7], np.tanh(out[:, 7] / 4)
    return evaluate


def test_batched_search_equals_unbatched_move_for_move():
    games = random_positions(6, 5, seed=1)
    cfg = SearchConfig(num_simulations=60)
    together = TreeSearch(exact_net(), cfg, np.random.default_rng(0)).run(games)
    for i in range(games.num_envs):
        alone = TreeSearch(exact_net(), cfg, np.random.default_rng(0)).run(games, np.array([i]))
        assert alone.action[0] == together.action[i]
        np.testing.assert_array_equal(alone.visits[0], together.visits[i])


def test_a_reused_tree_starts_at_the_position_played():
    games = random_positions(4, 3, seed=2)
    tree = TreeSearch(exact_net(1), SearchConfig(num_simulations=40), np.random.default_rng(0))
    first = tree.run(games)
    kept = first.visits[np.arange(4), first.action]
    games.play(first.action)
    tree.advance(first.action)
    # the kept subtree's root holds the position after the move and its earlier visits
    root_rows = np.arange(4) * tree.capacity
    np.testing.assert_array_equal(tree.store.observation(root_rows), games.observation())
    assert (tree.N[:, 0].sum(1) == kept - 1).all()
    second = tree.run(games)
    assert (second.visits.sum(1) == kept - 1 + 40).all()


def test_sequential_halving_table():
    # 4 actions, 2 phases of 8 simulations: 2 visits each to all 4, then 4 each to the best 2
    assert halving_table(4, 16).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert halving_table(1, 5).tolist() == [0, 1, 2, 3, 4]


def test_gumbel_policy_target_prefers_the_winning_move():
    result = search(position(TicTacToe, [0, 3, 1, 4]), 8, gumbel=True)
    assert result.policy[0].argmax() == 2
    np.testing.assert_allclose(result.policy[0].sum(), 1.0, rtol=1e-6)
    assert result.policy[0][~position(TicTacToe, [0, 3, 1, 4]).action_mask()[0].astype(bool)
                            ].sum() == 0


def test_zero_simulations_are_refused():
    with pytest.raises(ValueError, match="at least 1 simulation"):
        SearchConfig(num_simulations=0).validate()


def test_openspiel_states_are_searched_by_cloning():
    from ludus import envs

    game = envs.make_game("spiel:tic_tac_toe", 1)
    game.reset()
    for move in (0, 3, 1, 4):  # x on 0 and 1: x wins at 2
        game.play(np.array([move]))
    assert search(game, 16).action[0] == 2
    with pytest.raises(ValueError, match="perfect information without chance"):
        envs.make_game("spiel:kuhn_poker", 1).spawn(4)
