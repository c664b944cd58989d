from pathlib import Path

import numpy as np
import pytest
import torch

from ludus.agents import load_run
from ludus.league.arena import play_match
from ludus.league.bots import RandomBot
from ludus.league.selfplay import OpponentPool, SelfPlayConfig, load_selfplay_config, selfplay_trainer
from tests.agents.helpers import tiny_run

HYPER = {"num_envs": 16, "num_steps": 32, "minibatch_size": 256, "learning_rate": 1e-3,
         "ent_coef": 0.01}


def test_frozen_opponents_are_deep_copies(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=1024, **HYPER)
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=1))
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


class Stub:
    def __init__(self, name):
        self.name = name

    def initial_state(self, batch_size):
        return None

    def act(self, obs, state=None, action_mask=None, deterministic=False):
        return np.full(len(obs["action_mask"]), ord(self.name)), None


def test_pool_draws_per_env_and_drops_the_oldest():
    pool = OpponentPool(8, SelfPlayConfig(pool_size=2, latest_prob=1.0))
    with pytest.raises(RuntimeError, match="empty"):
        pool.start(np.arange(8))
    for name in "abc":
        pool.add(Stub(name), name)
    assert [m.name for m in pool.members] == ["b", "c"]
    pool.start(np.arange(8))
    assert [pool.names[i] for i in pool.seat_of] == ["c"] * 8  # latest_prob 1: the newest
    with pytest.raises(ValueError, match="latest_prob"):
        SelfPlayConfig(latest_prob=1.5).validate()


def test_a_retired_opponent_finishes_its_games():
    pool = OpponentPool(4, SelfPlayConfig(pool_size=1, latest_prob=1.0))
    pool.add(Stub("a"), "a")
    pool.start(np.arange(4))
    pool.add(Stub("b"), "b")  # "a" leaves the pool but still sits at all four boards
    obs = {"action_mask": np.ones((2, 3))}
    assert pool.act_rows(obs, np.array([1, 3])).tolist() == [ord("a")] * 2
    pool.start(np.array([0, 1]))
    assert pool.act_rows(obs, np.array([1, 3])).tolist() == [ord("b"), ord("a")]
    pool.start(np.array([2, 3]))
    assert sorted(pool.names.values()) == ["b"]  # forgotten once no game uses it


def test_fixed_opponents_stay_and_broken_checkpoints_are_skipped(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    other_game, cfg = tiny_run(tmp_path, "ppo", "connect_four", total_timesteps=512,
                               run_name="c4", **HYPER)
    c4 = selfplay_trainer(other_game, cfg).train()["checkpoint"]
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=1024, **HYPER)
    warnings = []
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(
        snapshot_every=1, pool_size=1, opponents=("minimax", str(broken), c4)),
        warn=warnings.append)
    assert len(warnings) == 2 and str(broken) in warnings[0]
    assert "expects observations of shape (6, 7, 2), tictactoe gives (3, 3, 2)" in warnings[1]
    trainer.train()
    names = [trainer.pool.names[i] for i in trainer.pool.active]
    assert names[0] == "minimax" and len(names) == 2  # the bot and the newest copy


def test_selfplay_resumes_with_its_pool(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=1024, **HYPER)
    first = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=1, pool_size=5))
    first.train()
    stored = sorted(p.name for p in (first.run_path / "pool").glob("step_*"))
    assert stored == ["step_000000000", "step_000000512", "step_000001024"]
    run2, cfg2, ckpt = load_run(first.run_path, {"total_timesteps": 2048})
    again = selfplay_trainer(run2, cfg2, load_selfplay_config(first.run_path), resume_from=ckpt)
    assert [Path(again.pool.names[i]).name for i in again.pool.active] == stored
    assert again.train()["global_step"] == 2048


@pytest.mark.learning
def test_tictactoe_selfplay_beats_random(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", "tictactoe", total_timesteps=40_000, seed=1,
                        **{**HYPER, "ent_coef": 0.1, "learning_rate": 2e-3})
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=5, opening_moves=4))
    trainer.train()
    result = play_match("tictactoe", trainer.policy(), RandomBot(seed=0), 200)
    assert sum(result.wins) / result.games > 0.9, result.report()


def test_recurrent_learner_and_opponents_run(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo-lstm", "tictactoe", total_timesteps=1024, num_envs=8,
                        num_steps=32, minibatch_size=128)
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=1))
    assert trainer.train()["global_step"] == 1024
    pool = trainer.pool
    state = next(iter(pool.seated.values())).state
    assert state is not None and state[0].shape == (1, 8, 64)


def test_dqn_learner_runs_in_self_play(tmp_path):
    run, cfg = tiny_run(tmp_path, "dqn", "tictactoe", total_timesteps=1000, num_envs=4,
                        learning_starts=200)
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=20))
    assert trainer.train()["global_step"] == 1000
    assert len(trainer.pool.members) > 1 and trainer.pool.members[-1].is_q


def test_shipped_selfplay_sections_parse():
    from ludus.agents import split_config
    from ludus.agents.registry import CONFIG_DIR, load_config_file
    from ludus.league.selfplay import split_selfplay

    games = [p.stem for p in CONFIG_DIR.glob("*.yaml") if "selfplay" in load_config_file(p.stem)]
    assert {"ppo_connect_four", "ppo_tictactoe"} <= set(games)
    for name in games:
        data, selfplay = split_selfplay(load_config_file(name), name)
        selfplay.validate()
        split_config(data, name)
    with pytest.raises(ValueError, match="unknown key 'opening'"):
        split_selfplay({"selfplay": {"opening": 3}})


def test_opponent_epsilon_plays_random_legal_moves():
    pool = OpponentPool(64, SelfPlayConfig(opponent_epsilon=1.0), seed=0)
    pool.add(Stub("a"), "a")  # would always answer ord("a"), an illegal move here
    pool.start(np.arange(64))
    mask = np.zeros((64, 7), dtype=np.int8)
    mask[:, [1, 4]] = 1
    actions = pool.act_rows({"action_mask": mask}, np.arange(64))
    assert set(actions.tolist()) == {1, 4}
    with pytest.raises(ValueError, match="opponent_epsilon"):
        SelfPlayConfig(opponent_epsilon=-0.1).validate()
