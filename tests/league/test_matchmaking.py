from collections import Counter

import numpy as np
import pytest

from ludus.league.matchmaking import Matchmaker, MatchmakingConfig, Player
from ludus.league.payoff import Payoff


def league(**cfg):
    players = {p.id: p for p in [
        Player("main", "main_agent"), Player("mexp", "main_exploiter"),
        Player("lexp", "league_exploiter"), Player("main.0", "snapshot", "main"),
        Player("main.1", "snapshot", "main"), Player("mexp.0", "snapshot", "mexp"),
        Player("random", "fixed", checkpoint="random")]}
    payoff = Payoff(decay=1.0)
    for pid in players:
        payoff.add(pid)
    return Matchmaker(MatchmakingConfig(**cfg), players, payoff, np.random.default_rng(0))


def set_rate(mm, home, away, wins, games=100):
    for k in range(games):
        mm.payoff.update(home, away, "win" if k < wins else "loss")


def draws(mm, me, n=4000):
    counts = Counter(mm.get_match(me) for _ in range(n))
    return {k: v / n for k, v in counts.items()}


def test_main_agent_proportions_with_an_even_payoff():
    share = draws(league(), "main")
    # 50% PFSP over the frozen players; self-play otherwise (verification finds nothing)
    assert share["main"] == pytest.approx(0.5, abs=0.03)
    assert set(share) == {"main", "main.0", "main.1", "mexp.0", "random"}
    assert "mexp" not in share and "lexp" not in share  # live exploiters are not opponents


def test_main_agent_verifies_against_exploiters_it_cannot_beat():
    mm = league()
    set_rate(mm, "main", "mexp.0", wins=10)  # beaten: verification and squared PFSP find it
    share = draws(mm, "main")
    # 15% verification, plus its squared-PFSP share: 0.81 / (0.81 + 3 * 0.25) of 50%
    expected = 0.15 + 0.5 * 0.81 / (0.81 + 3 * 0.25)
    assert share["mexp.0"] == pytest.approx(expected, abs=0.03)


def test_main_agent_revisits_forgotten_copies():
    mm = league(pfsp_prob=0.0, verification_prob=1.0)
    set_rate(mm, "main", "main.0", wins=40)  # older copy beaten less than the newer: forgotten
    set_rate(mm, "main", "main.1", wins=80)
    share = draws(mm, "main", 500)
    assert set(share) <= {"main.0", "main.1"} and share["main.0"] > 0.8  # squared weighting


def test_selfplay_falls_back_to_past_copies_of_a_main_agent_it_cannot_beat():
    mm = league(pfsp_prob=0.0, verification_prob=0.0)
    assert set(draws(mm, "main", 200)) == {"main"}
    for player in (Player("main2", "main_agent"), Player("main2.0", "snapshot", "main2")):
        mm.players[player.id] = player
        mm.payoff.add(player.id)
    set_rate(mm, "main", "main2", wins=10)
    share = draws(mm, "main", 2000)
    assert set(share) == {"main", "main2.0"} and share["main"] == pytest.approx(0.5, abs=0.05)


def test_main_exploiter_plays_main_agents_then_their_copies():
    mm = league()
    assert set(draws(mm, "mexp", 200)) == {"main"}
    set_rate(mm, "mexp", "main", wins=5)  # cannot win: PFSP (variance) over the main's copies
    set_rate(mm, "mexp", "main.0", wins=50)
    set_rate(mm, "mexp", "main.1", wins=100)
    assert set(draws(mm, "mexp", 200)) == {"main.0"}  # variance is 0 for a sure win


def test_league_exploiter_pfsp_over_everyone_frozen():
    mm = league()
    set_rate(mm, "lexp", "random", wins=100)
    share = draws(mm, "lexp")
    assert set(share) == {"main.0", "main.1", "mexp.0"}  # linear_capped gives 0 to a sure win
    with pytest.raises(ValueError, match="only learners"):
        mm.get_match("random")


def test_snapshot_rules_per_role():
    mm = league(main_snapshot_steps=100, exploiter_min_steps=50, exploiter_max_steps=200)
    p = mm.players
    p["main"].steps = 99
    assert not mm.snapshot_due("main")
    p["main"].steps = 100
    assert mm.snapshot_due("main")
    p["mexp"].steps = 40
    set_rate(mm, "mexp", "main", wins=90)
    assert not mm.snapshot_due("mexp")  # beats the main agent, but too soon
    p["mexp"].steps = 60
    assert mm.snapshot_due("mexp")
    p["lexp"].steps = 60
    assert not mm.snapshot_due("lexp")  # unplayed opponents count 0.5, not > 0.7
    p["lexp"].steps = 200
    assert mm.snapshot_due("lexp")  # the step limit


def test_resets_after_snapshot():
    mm = league()
    assert mm.resets_after_snapshot("mexp") and not mm.resets_after_snapshot("main")
    rate = np.mean([mm.resets_after_snapshot("lexp") for _ in range(4000)])
    assert rate == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize("field,value", [("snapshot_threshold", 1.2), ("pfsp_prob", -0.1),
                                         ("league_exploiter_reset_prob", 2.0)])
def test_thresholds_outside_unit_interval_fail(field, value):
    with pytest.raises(ValueError, match=f"{field} must be in \\[0, 1\\], got {value}"):
        MatchmakingConfig(**{field: value}).validate()


def test_team_players_meet_only_the_other_side():
    sides = {"a": "pred", "b": "prey"}
    players = {}
    for side in sides.values():
        for pid, role, parent in [("main", "main_agent", None), ("mexp", "main_exploiter", None),
                                  ("lexp", "league_exploiter", None), ("main.0", "snapshot", "main"),
                                  ("mexp.0", "snapshot", "mexp")]:
            p = Player(f"{side}_{pid}", role, parent and f"{side}_{parent}", side=side)
            players[p.id] = p
    payoff = Payoff(decay=1.0)
    for pid in players:
        payoff.add(pid)
    mm = Matchmaker(MatchmakingConfig(), players, payoff, np.random.default_rng(0))
    set_rate(mm, "pred_main", "prey_mexp.0", 10)  # verification: an exploiter it cannot beat
    for me in ("pred_main", "pred_mexp", "pred_lexp", "prey_main", "prey_mexp", "prey_lexp"):
        side = players[me].side
        met = set(draws(mm, me, 600))
        assert met and all(players[o].side != side for o in met), (me, met)
    assert set(draws(mm, "pred_main", 2000)) == {"prey_main", "prey_main.0", "prey_mexp.0"}
    assert mm.frozen("prey_lexp") == ["pred_main.0", "pred_mexp.0"]


def test_exploiters_reset_to_the_latest_main_agent_snapshot_when_asked():
    mm = league()
    mm.players["main"].num_snapshots = 2
    assert mm.reset_source("mexp") is None  # reset_to init: the league's starting model
    mm = league(reset_to="main_agent")
    assert mm.reset_source("mexp") is None  # no main agent snapshot yet
    mm.players["main"].num_snapshots = 2
    assert mm.reset_source("mexp") == mm.reset_source("lexp") == "main.1"
    with pytest.raises(ValueError, match="reset_to must be init or main_agent, got 'best'"):
        MatchmakingConfig(reset_to="best").validate()
