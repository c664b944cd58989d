import numpy as np
import pytest

from ludus.league.matchmaking import pfsp_weights, remove_monotonic_suffix
from ludus.league.payoff import Payoff, bradley_terry


def payoff_with(*players, **kw):
    p = Payoff(**kw)
    for name in players:
        p.add(name)
    return p


def test_win_rate_counts_draws_half_and_unplayed_as_even():
    p = payoff_with("a", "b", "c", decay=1.0)
    for outcome in ("win", "win", "draw", "loss"):
        p.update("a", "b", outcome)
    assert p.win_rate("a", ["b", "c"]).tolist() == [0.625, 0.5]
    assert p.win_rate("b", ["a"]).tolist() == [0.375]  # the mirror pair is kept in step
    assert np.allclose(p.matrix() + p.matrix().T, 1.0)


def test_decay_weighs_recent_results_more():
    p = payoff_with("a", "b", decay=0.5)
    p.update("a", "b", "loss")
    p.update("a", "b", "win")  # the loss now counts half: (1) / (1 + 0.5)
    assert p.win_rate("a", ["b"])[0] == pytest.approx(1 / 1.5)
    assert p.counts[0, 1, 3] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="decay"):
        Payoff(decay=0.0)


def test_min_games_before_a_win_rate_counts():
    p = payoff_with("a", "b", decay=1.0, min_games=3)
    p.update("a", "b", "win")
    p.update("a", "b", "win")
    assert p.win_rate("a", ["b"])[0] == 0.5
    p.update("a", "b", "win")
    assert p.win_rate("a", ["b"])[0] == 1.0


def test_state_round_trip_and_errors():
    p = payoff_with("a", "b", decay=0.9)
    p.update("b", "a", "draw")
    q = Payoff.from_state(p.state_dict())
    assert q.ids == ["a", "b"] and np.allclose(q.counts, p.counts)
    with pytest.raises(KeyError, match="'z' is not in the payoff"):
        p.win_rate("z", ["a"])
    with pytest.raises(ValueError, match="outcome"):
        p.update("a", "b", "tie")
    with pytest.raises(ValueError, match="already"):
        p.add("a")


@pytest.mark.parametrize("weighting,expected", [
    ("squared", [0.81, 0.25, 0.01, 0.0]),
    ("variance", [0.09, 0.25, 0.09, 0.0]),
    ("linear", [0.9, 0.5, 0.1, 0.0]),
    ("linear_capped", [0.5, 0.5, 0.1, 0.0]),
])
def test_pfsp_weightings_on_hand_made_win_rates(weighting, expected):
    probs = pfsp_weights(np.array([0.1, 0.5, 0.9, 1.0]), weighting)
    assert probs == pytest.approx(np.array(expected) / sum(expected))


@pytest.mark.parametrize("weighting", ["squared", "variance", "linear", "linear_capped"])
def test_pfsp_all_won_or_all_lost_stays_a_distribution(weighting):
    for rate in (0.0, 1.0):
        probs = pfsp_weights(np.full(4, rate), weighting)
        assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)
    # everything beaten: no weight anywhere, so uniform (the pseudocode gave NaN here)
    assert pfsp_weights(np.ones(4), weighting) == pytest.approx(np.full(4, 0.25))


def test_pfsp_bad_input():
    with pytest.raises(ValueError, match="weighting"):
        pfsp_weights(np.array([0.5]), "cubic")
    with pytest.raises(ValueError, match="at least one"):
        pfsp_weights(np.array([]))


def test_remove_monotonic_suffix_on_arrays():
    rates, players = remove_monotonic_suffix(np.array([0.9, 0.5, 0.8, 0.7]), list("abcd"))
    assert rates.tolist() == [0.9, 0.5, 0.8] and players == list("abc")
    rates, players = remove_monotonic_suffix(np.array([0.9, 0.8, 0.6]), list("abc"))
    assert len(rates) == 0 and players == []  # newer copies harder: nothing forgotten
    assert remove_monotonic_suffix(np.array([]), [])[1] == []


def play(payoff, strengths, games, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(strengths)
    for _ in range(games):
        a, b = rng.choice(len(ids), 2, replace=False)
        win = 1 / (1 + 10 ** ((strengths[ids[b]] - strengths[ids[a]]) / 400))
        payoff.update(ids[a], ids[b], "win" if rng.random() < win else "loss")


def test_bradley_terry_recovers_known_strengths_with_honest_intervals():
    payoff = Payoff(decay=1.0)
    strengths = {"a": 1300.0, "b": 1100.0, "c": 900.0, "d": 700.0}
    for pid in [*strengths, "new"]:
        payoff.add(pid)
    play(payoff, strengths, 4000)
    ratings, sds = bradley_terry(payoff)
    fitted = ratings[:4] - ratings[:4].mean()
    true = np.array(list(strengths.values())) - 1000.0
    assert np.all(np.abs(fitted - true) < 3 * sds[:4]), (fitted, true, sds)
    assert np.all(sds[:4] < 20) and sds[4] > 300  # 4000 games vs none: unknown, at the prior
    assert ratings[4] == pytest.approx(1000.0)


def test_ratings_do_not_depend_on_the_order_of_the_games():
    """Sequential Elo does; a fit to the counts cannot."""
    results = [("a", "b", "win")] * 30 + [("a", "b", "loss")] * 10 + [("b", "c", "win")] * 20
    fits = []
    for order in (results, results[::-1]):
        payoff = Payoff(decay=1.0)
        for pid in "abc":
            payoff.add(pid)
        for home, away, outcome in order:
            payoff.update(home, away, outcome)
        fits.append(bradley_terry(payoff))
    np.testing.assert_allclose(fits[0][0], fits[1][0])
    # an unbeaten player gets a finite rating, above the player it beat
    assert np.isfinite(fits[0][0]).all() and fits[0][0][1] > fits[0][0][2]
    assert bradley_terry(Payoff())[0].shape == (0,)
