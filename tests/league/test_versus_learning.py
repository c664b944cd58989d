"""PPO, unchanged, learns a board game through the Versus adapter."""

import pytest

from ludus.agents import Trainer
from ludus.envs.tictactoe import TicTacToe
from ludus.envs.versus import Versus
from ludus.league.bots import RandomBot
from tests.agents.helpers import tiny_run


def make_env(num_envs, seed=None, **kwargs):
    return Versus(TicTacToe(num_envs), RandomBot(seed=seed or 0))


@pytest.mark.learning
def test_ppo_learns_tictactoe_against_the_random_bot(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=15_000, seed=1,
                        eval_episodes=200, num_envs=16, num_steps=32, minibatch_size=256,
                        learning_rate=1e-3, ent_coef=0.01)
    summary = Trainer(run, cfg, make_env).train()
    # 200 games, half of them as the second player; random play averages about +0.15
    assert summary["best_eval"] >= 0.5, summary
