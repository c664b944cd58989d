"""scripts/bench_games.py, selfplay_targets.py and bench_league.py run end to end (the
figures come from full runs, not from tests)."""

from ludus.scripts.bench_games import GameBench, main


def test_bench_games_smoke(tmp_path):
    out = tmp_path / "b.json"
    results = main(GameBench(seconds=0.3, num_envs=256, collect_envs=16, out=str(out)))
    assert out.exists() and results["raw_ludus"] > 0 and results["collect_pettingzoo"] > 0
    assert results["raw_ratio"] > 1  # batched bitboards beat a per-move Python loop at all
    assert 0 <= results["train"]["update_share"] < 1


def test_selfplay_target_measurements():
    from ludus.league.bots import PerfectTicTacToeBot, RandomBot
    from ludus.scripts.selfplay_targets import measure

    ttt = measure("tictactoe", PerfectTicTacToeBot(seed=0), (0, 0, 0))
    assert ttt["vs_minimax_replies"]["loss"] == 0 and ttt["vs_every_reply"]["loss"] == 0
    c4 = measure("connect_four", RandomBot(seed=0), (20, 10, 2))
    assert c4["alphabeta:2"]["score"] < 0.3 and 0.2 < c4["random"]["score"] < 0.8
    assert abs(measure("spiel:kuhn_poker", RandomBot(), (0, 0, 0))["nash_conv"] - 0.9167) < 1e-3


def test_bench_league_smoke():
    from ludus.scripts.bench_league import run_one

    result = run_one("tictactoe", 5, 3000, cache=2)
    assert result["players"] == 3 + 1 + 5  # 3 learners, the initial copy, 5 extra copies
    assert result["disk_loads"] >= 3 and result["peak_mib"] >= result["rss_before_mib"]
