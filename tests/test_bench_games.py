"""scripts/bench_games.py, selfplay_targets.py and bench_league.py run end to end (the
figures come from full runs, not from tests), and the league's memory stays flat."""

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


TINY = """algo: ppo
num_envs: 16
num_steps: 16
minibatch_size: 128
update_epochs: 2
net: {encoder: mlp, hidden: [64, 64], activation: relu}
"""


def test_league_memory_stays_flat_as_the_league_grows(tmp_path):
    """What the README promises: the nets a league process holds (learners aside) are
    bounded by the snapshot cache plus the opponents seated in unfinished games, whatever
    the league's size; without the bound (a cache as large as the league) they grow."""
    from ludus.scripts.bench_league import run_one

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    cache, menu, learners = 2, 4, 3

    def held(size, capacity):
        return run_one("tictactoe", size, 6000, capacity, menu, str(config))
    small, large, unbounded = held(4, cache), held(30, cache), held(30, 30)
    assert large["players"] == 30 + learners + 1 and large["players_played"] >= 20
    assert large["disk_loads"] > cache and large["cached"] <= cache  # evicted and reloaded
    net = policy_net_of(config)  # one opponent's net
    one = sum(p.numel() * p.element_size() for p in net.parameters()) / 2**20
    bound = (cache + learners * menu) * one
    assert small["nets_mib"] <= bound and large["nets_mib"] <= bound, (small, large, bound)
    assert unbounded["nets_mib"] > large["nets_mib"] + 5 * one  # the measure sees growth


def policy_net_of(config):
    from ludus import envs
    from ludus.agents import split_config
    from ludus.agents.registry import load_config_file, make_agent
    from ludus.league.bots import RandomBot

    run, cfg = split_config(load_config_file(str(config)))
    env = envs.make("tictactoe", 1, opponent=RandomBot())
    return make_agent(run.algo, cfg, env.single_observation_space, env.single_action_space).net


def test_bench_ppo_shared_runs_both_libraries(tmp_path):
    from ludus.scripts.bench import BenchConfig
    from ludus.scripts.bench import main as bench

    out = tmp_path / "bench.json"
    summary = bench(BenchConfig(algos=("ppo-shared",), seeds=(1,), shared_steps=3072,
                                out=str(out)))
    rows = summary["ppo-shared"]
    assert set(rows) == {"ludus", "ludus-sync", "sb3"} and rows["ludus"]["sps_ratio"] > 0
    assert out.exists()


def test_bench_search_smoke(tmp_path, capsys):
    import json

    from ludus.scripts import bench_search

    out = tmp_path / "s.json"
    assert bench_search.main(["--seconds", "0.2", "--repeats", "1", "--games", "1", "8",
                              "--simulations", "8", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"openspiel_mctsbot", "ludus_1", "ludus_8"}
    assert all(r["simulations_per_s"] > 0 for r in results.values())
    assert "ludus_8" in capsys.readouterr().out
