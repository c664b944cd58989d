"""scripts/bench_games.py runs end to end (figures come from full runs, not from tests)."""

from scripts.bench_games import GameBench, main


def test_bench_games_smoke(tmp_path):
    out = tmp_path / "b.json"
    results = main(GameBench(seconds=0.3, num_envs=256, collect_envs=16, out=str(out)))
    assert out.exists() and results["raw_ludus"] > 0 and results["collect_pettingzoo"] > 0
    assert results["raw_ratio"] > 1  # batched bitboards beat a per-move Python loop at all
    assert 0 < results["train"]["update_share"] < 1
