import numpy as np
import pytest
import torch

from league.selfplay import OpponentPool, SelfPlayConfig, selfplay_trainer
from tests.agents.helpers import tiny_run

HYPER = {"num_envs": 16, "num_steps": 32, "minibatch_size": 256, "learning_rate": 1e-3,
         "ent_coef": 0.01}


def test_frozen_opponents_are_deep_copies(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=1024, **HYPER)
    trainer = selfplay_trainer(run, cfg, "tictactoe", SelfPlayConfig(snapshot_every=1))
    first = trainer.pool.members[0]
    before = [p.clone() for p in first.net.parameters()]
    trainer.train()
    assert len(trainer.pool.members) == 3  # the start plus one per update
    for frozen, old, live in zip(first.net.parameters(), before, trainer.agent.net.parameters(),
                                 strict=True):
        assert torch.equal(frozen, old) and not frozen.requires_grad
        assert frozen.data_ptr() != live.data_ptr()
    assert not all(torch.equal(a, b) for a, b in zip(first.net.parameters(),
                                                      trainer.agent.net.parameters(), strict=True))


def test_pool_draws_per_env_and_drops_the_oldest():
    pool = OpponentPool(8, SelfPlayConfig(pool_size=2, latest_prob=1.0))
    with pytest.raises(RuntimeError, match="empty"):
        pool.start(np.arange(8))
    class Stub:
        def __init__(self, name):
            self.name = name

        def initial_state(self, batch_size):
            return None

    for name in "abc":
        pool.add(Stub(name))
    assert [m.name for m in pool.members] == ["b", "c"]
    pool.start(np.arange(8))
    assert (pool.seat_of == 1).all()  # latest_prob 1: always the newest
    with pytest.raises(ValueError, match="latest_prob"):
        SelfPlayConfig(latest_prob=1.5).validate()


@pytest.mark.learning
def test_tictactoe_selfplay_beats_random(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=20_000, seed=1,
                        eval_episodes=200, **HYPER)
    summary = selfplay_trainer(run, cfg, "tictactoe", SelfPlayConfig(snapshot_every=5)).train()
    # evaluation: 200 greedy games against the random bot, half of them moving second
    assert summary["best_eval"] >= 0.5, summary


def test_recurrent_learner_and_opponents_run(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo-lstm", "tictactoe", total_timesteps=1024, num_envs=8,
                        num_steps=32, minibatch_size=128)
    trainer = selfplay_trainer(run, cfg, "tictactoe", SelfPlayConfig(snapshot_every=1))
    assert trainer.train()["global_step"] == 1024
    state = trainer.pool.states[-1]
    assert state is not None and state[0].shape == (1, 8, 64)


def test_dqn_learner_runs_in_self_play(tmp_path):
    run, cfg = tiny_run(tmp_path, "dqn", "tictactoe", total_timesteps=1000, num_envs=4,
                        learning_starts=200)
    trainer = selfplay_trainer(run, cfg, "tictactoe", SelfPlayConfig(snapshot_every=20))
    assert trainer.train()["global_step"] == 1000
    assert len(trainer.pool.members) > 1 and trainer.pool.members[-1].is_q
