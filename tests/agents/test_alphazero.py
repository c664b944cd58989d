"""AlphaZero (agents/alphazero.py): learning tic-tac-toe, mirrors, resume with the replay,
starting weights, refusals."""

import numpy as np
import pytest
import torch

from ludus import envs
from ludus.agents import load_policy, load_run
from ludus.agents.alphazero import AlphaZero, AlphaZeroConfig
from ludus.agents.search import SearchConfig
from ludus.envs.connect_four import ConnectFour
from ludus.envs.tictactoe import TicTacToe
from ludus.league.arena import play_match
from ludus.league.bots import RandomBot
from ludus.league.selfplay import SelfPlayConfig, selfplay_trainer
from tests.agents.helpers import tiny_run

SMALL = {"num_envs": 32, "search": {"num_simulations": 24}, "min_replay": 512,
         "train_every": 256, "sample_reuse": 8, "batch_size": 128, "temperature_moves": 4,
         "net": {"encoder": "mlp", "hidden": [64, 64], "activation": "relu", "shared": True}}


@pytest.mark.learning
@pytest.mark.parametrize("search, steps, max_losses", [
    ({"num_simulations": 24}, 12_000, 10), ({"num_simulations": 16, "gumbel": True}, 20_000, 10)])
def test_alphazero_beats_random_at_tictactoe_within_seconds(tmp_path, search, steps, max_losses):
    run, cfg = tiny_run(tmp_path, "alphazero", "tictactoe", total_timesteps=steps,
                        **{**SMALL, "search": search})
    summary = selfplay_trainer(run, cfg, SelfPlayConfig()).train()
    policy = load_policy(summary["checkpoint"])
    result = play_match("tictactoe", policy, RandomBot(seed=1), 200, seed=0)
    assert result.score > 0.85, result.report()  # random against random: about 0.5
    assert sum(result.losses) <= max_losses, result.report()


def test_resume_keeps_the_replay(tmp_path):
    run, cfg = tiny_run(tmp_path, "alphazero", "tictactoe", total_timesteps=1_024,
                        checkpoint_every=1_024, **{**SMALL, "min_replay": 4096})
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig())
    trainer.train()
    stored = len(trainer.agent)
    assert stored > 0
    run2, cfg2, ckpt = load_run(tmp_path / "run", {"total_timesteps": 1_056})
    resumed = selfplay_trainer(run2, cfg2, SelfPlayConfig(), resume_from=ckpt)
    try:
        assert resumed.agent.replay_restored and len(resumed.agent) == stored
        np.testing.assert_array_equal(resumed.agent.replay["policy"][:stored],
                                      trainer.agent.replay["policy"][:stored])
    finally:
        resumed.close()


def test_a_checkpoint_without_the_replay_says_it_was_rebuilt(tmp_path):
    messages = []
    run, cfg = tiny_run(tmp_path, "alphazero", "tictactoe", total_timesteps=512,
                        checkpoint_every=512, checkpoint_replay=False, **SMALL)
    selfplay_trainer(run, cfg, SelfPlayConfig()).train()
    run2, cfg2, ckpt = load_run(tmp_path / "run", {"total_timesteps": 544})
    resumed = selfplay_trainer(run2, cfg2, SelfPlayConfig(), resume_from=ckpt,
                               warn=messages.append)
    resumed.close()
    assert any("rebuilt" in m for m in messages)


@pytest.mark.parametrize("game_cls", [ConnectFour, TicTacToe])
def test_the_mirror_maps_positions_and_moves_together(game_cls):
    games = game_cls(8)
    games.reset()
    rng = np.random.default_rng(0)
    for _ in range(3):
        mask = games.action_mask()
        games.play((rng.random(mask.shape) * mask).argmax(1))
    obs = games.observation()
    axis, actions = games.mirror
    mirrored = game_cls(8)
    mirrored.load(np.arange(8), np.flip(obs, axis=axis))
    np.testing.assert_array_equal(mirrored.action_mask(), games.action_mask()[:, actions])
    assert sorted(actions.tolist()) == list(range(games.num_actions))
    assert (actions != np.arange(games.num_actions)).any()


def test_init_starts_from_a_checkpoints_weights(tmp_path):
    from ludus.league.selfplay import selfplay_trainer as trainer_for

    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=256, num_envs=8,
                        num_steps=16, net={"encoder": "mlp", "hidden": [64, 64],
                                           "activation": "relu", "shared": True})
    ppo = trainer_for(run, cfg, SelfPlayConfig()).train()
    env = envs.SelfPlay(TicTacToe(2))
    cfg = AlphaZeroConfig(num_envs=2, init=ppo["checkpoint"], net=cfg.net)
    agent = AlphaZero(cfg, env.single_observation_space, env.single_action_space)
    source = load_policy(ppo["checkpoint"]).net
    for a, b in zip(agent.net.parameters(), source.parameters(), strict=True):
        assert torch.equal(a, b)


def test_alphazero_refuses_what_it_cannot_search():
    space_env = envs.SelfPlay(TicTacToe(2))
    agent = AlphaZero(AlphaZeroConfig(num_envs=2), space_env.single_observation_space,
                      space_env.single_action_space)
    with pytest.raises(ValueError, match="plays every seat"):
        agent.attach(envs.make("CartPole-v1", 2))
    with pytest.raises(ValueError, match="perfect information without chance"):
        agent.attach(envs.SelfPlay(envs.make_game("spiel:kuhn_poker", 2)))
    with pytest.raises(ValueError, match="at least 1 simulation"):
        AlphaZero(AlphaZeroConfig(num_envs=2, search=SearchConfig(num_simulations=0)),
                  space_env.single_observation_space, space_env.single_action_space)


def test_same_seed_same_weights_and_moves():
    moves = []
    for _ in range(2):
        env = envs.SelfPlay(TicTacToe(4))
        agent = AlphaZero(AlphaZeroConfig(num_envs=4, search=SearchConfig(num_simulations=8)),
                          env.single_observation_space, env.single_action_space, seed=5)
        agent.attach(env)
        obs, _ = env.reset(seed=1)
        weights = [float(p.detach().sum()) for p in agent.net.parameters()]
        moves.append((agent.act(obs).tolist(), weights))
    assert moves[0] == moves[1]


def test_alphazero_trains_on_an_openspiel_game_without_a_mirror(tmp_path):
    run, cfg = tiny_run(tmp_path, "alphazero", "spiel:tic_tac_toe", total_timesteps=600,
                        **{**SMALL, "num_envs": 8, "min_replay": 200, "train_every": 128})
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig())
    assert trainer.agent.flip is None  # OpenSpiel's planes are not ludus's boards
    trainer.train()
    assert trainer.agent.num_updates > 0 and trainer.agent.num_games > 0
