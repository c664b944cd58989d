"""Search as a player (league/search.py): named with @mcts:N / @gumbel:N wherever players are
named (evaluate, watch, the arena), and one clear line for what cannot search."""

import numpy as np
import pytest

from ludus.league.arena import load_player, play_match
from ludus.league.bots import RandomBot
from ludus.league.search import SearchPlayer, split_search
from ludus.league.selfplay import SelfPlayConfig, selfplay_trainer
from ludus.league.ui.scenes import make_scene
from ludus.league.ui.window import Window
from ludus.scripts import evaluate
from tests.agents.helpers import tiny_run

NET = {"encoder": "mlp", "hidden": [32], "activation": "relu", "shared": True}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny PPO checkpoints of tic-tac-toe and Kuhn poker, and a DQN one of CartPole."""
    root = tmp_path_factory.mktemp("search")
    out = {}
    for game in ("tictactoe", "spiel:kuhn_poker"):
        run, cfg = tiny_run(root / game.replace(":", "_"), "ppo", game, total_timesteps=128,
                            num_envs=8, num_steps=16, net=NET)
        out[game] = selfplay_trainer(run, cfg, SelfPlayConfig()).train()["checkpoint"]
    run, cfg = tiny_run(root / "dqn", "dqn", "CartPole-v1", total_timesteps=64, learning_starts=32,
                        net={"hidden": [16]})
    from ludus.agents import train
    from tests.agents.helpers import factory
    out["dqn"] = train(run, cfg, factory())["checkpoint"]
    return out


def test_a_search_suffix_makes_a_search_player(checkpoints):
    player = load_player(f"{checkpoints['tictactoe']}@mcts:12")
    assert isinstance(player, SearchPlayer)
    result = play_match("tictactoe", player, RandomBot(seed=0), 6, seed=0)
    assert result.games == 6
    assert (player.last.visits.sum(1) == 12).all()  # every simulation reached the root
    gumbel = load_player(f"{checkpoints['tictactoe']}@gumbel:8")
    assert gumbel.cfg.gumbel and gumbel.cfg.num_simulations == 8


def test_evaluate_plays_a_search_player(checkpoints, capsys):
    code = evaluate.main([f"{checkpoints['tictactoe']}@mcts:8", "--opponent", "random",
                          "--games", "4"])
    assert code == 0
    assert "4 games" in capsys.readouterr().out


def test_the_watch_panel_shows_visits_and_the_root_value(checkpoints):
    scene = make_scene(f"{checkpoints['tictactoe']}@mcts:10", "random")
    assert scene.seats[0].name.endswith("@mcts:10")
    first = scene.seats.index(next(s for s in scene.seats if s.name.endswith("@mcts:10")))
    while scene.to_move != first:
        scene.step()
    analysis = scene.think()
    assert analysis.visits is not None and analysis.visits.sum() == 10
    assert analysis.value is not None and -1 <= analysis.value <= 1
    np.testing.assert_allclose(analysis.probs.sum(), 1.0, rtol=1e-6)
    frame = Window(scene, delay=0, games=1).frame()
    assert frame.shape[2] == 3


@pytest.mark.parametrize("spec, message", [
    ("{tictactoe}@mcts:0", "at least 1 simulation"),
    ("{tictactoe}@mcts:-3", "at least 1 simulation"),
    ("{tictactoe}@beam:3", "unknown search suffix"),
    ("alphabeta:4@mcts:10", "bots play by their own rules"),
    ("{dqn}@mcts:10", "policy and value heads"),
    ("{kuhn}@mcts:10", "show whole positions"),
])
def test_what_cannot_search_is_one_clear_line(checkpoints, spec, message):
    spec = spec.format(tictactoe=checkpoints["tictactoe"], dqn=checkpoints["dqn"],
                       kuhn=checkpoints["spiel:kuhn_poker"])
    with pytest.raises(ValueError, match=message) as info:
        load_player(spec)
    assert "\n" not in str(info.value)


def test_split_search_leaves_plain_specs_alone():
    assert split_search("runs/x") == ("runs/x", None)
    assert split_search("alphabeta:4") == ("alphabeta:4", None)
    base, cfg = split_search("runs/a@b/x@mcts:200")
    assert base == "runs/a@b/x" and cfg.num_simulations == 200 and not cfg.gumbel


def test_a_league_keeps_a_search_backed_fixed_member(checkpoints, tmp_path):
    from ludus.league.coordinator import League
    from ludus.league.runner import LeagueRunner
    from tests.league.test_league import tiny_config

    spec = f"{checkpoints['tictactoe']}@mcts:6"
    runner = LeagueRunner(tiny_config(tmp_path, fixed=(spec,), main_exploiters=0,
                                      league_exploiters=0, total_timesteps=1024))
    runner.train()
    league = League.load(runner.folder)
    fixed = next(p for p in league.players.values() if p.role == "fixed")
    assert fixed.checkpoint.startswith("players/") and fixed.checkpoint.endswith("@mcts:6")
    player = load_player(league.checkpoint_path(fixed))
    assert isinstance(player, SearchPlayer)
    main = league.learners()[0].id
    assert league.payoff.counts[league.payoff.index[main], league.payoff.index[fixed.id], 3] > 0


AZ_NET = "net: {encoder: mlp, hidden: [32, 32], activation: relu, shared: true}\n"


def test_an_alphazero_main_agent_with_ppo_exploiters(tmp_path):
    from ludus.league.config import LeagueConfig, stored_config
    from ludus.league.coordinator import League
    from ludus.league.matchmaking import MatchmakingConfig
    from ludus.league.runner import LeagueRunner

    main = tmp_path / "az.yaml"
    main.write_text("algo: alphazero\nnum_envs: 16\nsearch: {num_simulations: 4}\n"
                    "min_replay: 64\ntrain_every: 128\nbatch_size: 64\n" + AZ_NET)
    exploiters = tmp_path / "ppo.yaml"
    exploiters.write_text("algo: ppo\nnum_envs: 8\nnum_steps: 16\nminibatch_size: 64\n" + AZ_NET)
    runner = LeagueRunner(LeagueConfig(
        env_id="tictactoe", config=str(main), exploiter_config=str(exploiters),
        main_exploiters=1, league_exploiters=0, total_timesteps=3000, interval_steps=1500,
        eval_games=4, matchmaking=MatchmakingConfig(main_snapshot_steps=1000,
                                                    exploiter_min_steps=500,
                                                    exploiter_max_steps=1000),
        league_dir=str(tmp_path / "leagues"), name="az", console=False))
    assert isinstance(runner.live["main_agent_0"], SearchPlayer)
    assert runner.trainers["main_exploiter_0"].run.algo == "ppo"
    runner.train()
    league = League.load(runner.folder)
    copies = [p for p in league.players.values() if p.parent == "main_agent_0"]
    assert copies and all(p.checkpoint.endswith("@mcts:4") for p in copies)
    assert isinstance(load_player(league.checkpoint_path(copies[-1])), SearchPlayer)
    index = league.payoff.index
    assert league.payoff.counts[index["main_exploiter_0"], index["main_agent_0"], 3] > 0
    assert league.extra["exploiters"]["algo"] == "ppo"
    resumed = LeagueRunner(stored_config(runner.folder, {"total_timesteps": 3200}),
                           resume=runner.folder)
    try:
        assert resumed.trainers["main_exploiter_0"].run.algo == "ppo"
        assert isinstance(resumed.live["main_agent_0"], SearchPlayer)
    finally:
        resumed.close()


def test_alphazero_exploiters_are_refused(tmp_path):
    from ludus.league.config import LeagueConfig
    from ludus.league.runner import LeagueRunner

    main = tmp_path / "az.yaml"
    main.write_text("algo: alphazero\nnum_envs: 4\n" + AZ_NET)
    with pytest.raises(ValueError, match="only plays itself"):
        LeagueRunner(LeagueConfig(env_id="tictactoe", config=str(main),
                                  exploiter_config=str(main), league_dir=str(tmp_path),
                                  console=False))
