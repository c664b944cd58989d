import json
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from ludus.agents import CheckpointError, Trainer, load_policy
from ludus.agents.checkpoint import (
    flatten_state,
    load_train_state,
    save_checkpoint,
    space_from_json,
    space_to_json,
    unflatten_state,
)
from tests.agents.helpers import factory, tiny_run

ALGOS = [("ppo", "CartPole-v1"), ("dqn", "CartPole-v1"), ("ppo-lstm", "CartPoleNoVel-v1"),
         ("a2c", "CartPole-v1"), ("reinforce", "CartPole-v1")]


@pytest.fixture(autouse=True)
def _forbid_pickle(monkeypatch):
    """Checkpoints must never unpickle: any pickle or torch.load use fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize("algo,env_id", ALGOS)
def test_save_load_gives_identical_actions(tmp_path, algo, env_id):
    run, cfg = tiny_run(tmp_path, algo, env_id, total_timesteps=600)
    trainer = Trainer(run, cfg, factory(env_id))
    summary = trainer.train()
    live = trainer.policy()
    loaded = load_policy(summary["checkpoint"])
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    s1, s2 = live.initial_state(16), loaded.initial_state(16)
    for _ in range(3):  # several steps, so recurrent state is compared too
        p1, s1 = live.action_probs(obs, s1)
        p2, s2 = loaded.action_probs(obs, s2)
        np.testing.assert_array_equal(p1, p2)
        assert np.allclose(p1.sum(-1), 1.0)
    a1, _ = live.act(obs, live.initial_state(16), deterministic=True)
    a2, _ = loaded.act(obs, loaded.initial_state(16), deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    # a run folder resolves to its latest checkpoint
    np.testing.assert_array_equal(load_policy(summary["run_dir"]).act(
        obs, loaded.initial_state(16), deterministic=True)[0], a2)


def test_action_mask_gives_zero_probability(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=300)
    policy = load_policy(Trainer(run, cfg, factory()).train()["checkpoint"])
    mask = np.array([[1, 0], [0, 1]])
    probs, _ = policy.action_probs(np.zeros((2, 4), np.float32), action_mask=mask)
    assert probs[0, 1] == 0.0 and probs[1, 0] == 0.0 and np.allclose(probs.sum(-1), 1)
    actions, _ = policy.act(np.zeros((2, 4), np.float32), action_mask=mask)
    assert actions.tolist() == [0, 1]


def test_wrong_observation_shape_names_both(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=300)
    policy = load_policy(Trainer(run, cfg, factory()).train()["checkpoint"])
    with pytest.raises(ValueError, match=r"\(5,\).*\(4,\)"):
        policy.act(np.zeros((2, 5), np.float32))


@pytest.fixture
def checkpoint(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", total_timesteps=300)
    return Trainer(run, cfg, factory()).train()["checkpoint"]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a ludus checkpoint"):
        load_policy(tmp_path)


def test_corrupt_weights_file(checkpoint):
    path = f"{checkpoint}/model.safetensors"
    with open(path, "r+b") as f:
        f.write(b"garbage!" * 4)
    with pytest.raises(CheckpointError, match="corrupt checkpoint file .*model.safetensors"):
        load_policy(checkpoint)


def test_corrupt_meta(checkpoint):
    with open(f"{checkpoint}/meta.json", "w") as f:
        f.write("{not json")
    with pytest.raises(CheckpointError, match="corrupt .*meta.json"):
        load_policy(checkpoint)


def test_incompatible_net_spec(checkpoint):
    meta_path = f"{checkpoint}/meta.json"
    meta = json.loads(Path(meta_path).read_text())
    meta["net_spec"]["hidden"] = [32, 32]
    Path(meta_path).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit the net spec"):
        load_policy(checkpoint)


def test_future_format_version_is_refused(checkpoint):
    meta_path = f"{checkpoint}/meta.json"
    meta = json.loads(Path(meta_path).read_text())
    meta["format_version"] = 99
    Path(meta_path).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format 99"):
        load_policy(checkpoint)


def test_nested_state_roundtrip_without_pickle(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng": np.random.default_rng(5).bit_generator.state,
             "buffer": np.arange(6, dtype=np.uint8).reshape(2, 3), "flags": [True, None, 1.5]}
    save_checkpoint(tmp_path / "ck", net, {"algo": "x"}, state)
    back = load_train_state(tmp_path / "ck")
    opt2 = torch.optim.Adam(net.parameters())
    opt2.load_state_dict(back["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    rng = np.random.default_rng()
    rng.bit_generator.state = back["rng"]
    assert rng.random() == np.random.default_rng(5).random()
    np.testing.assert_array_equal(back["buffer"], state["buffer"])
    assert back["flags"] == [True, None, 1.5]
    tensors: dict = {}
    assert unflatten_state(flatten_state({1: 2, 3: [4]}, tensors), tensors) == {1: 2, 3: [4]}
    assert unflatten_state(flatten_state({"a": (1, 2)}, tensors), tensors) == {"a": [1, 2]}


def test_spaces_roundtrip():
    spaces = [gym.spaces.Discrete(7), gym.spaces.Box(-1, 1, (3,), np.float32),
              gym.spaces.Box(np.array([0, -np.inf]), np.array([1, np.inf]), dtype=np.float64),
              gym.spaces.Dict({"observation": gym.spaces.Box(0, 1, (6, 7, 2), np.int8),
                               "action_mask": gym.spaces.Box(0, 1, (7,), np.int8)})]
    for space in spaces:
        assert space_from_json(json.loads(json.dumps(space_to_json(space)))) == space


def test_rewriting_a_checkpoint_replaces_it_atomically(tmp_path):
    net = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "ck", net, {"v": 1})
    save_checkpoint(tmp_path / "ck", net, {"v": 2})
    assert json.loads(Path(tmp_path / "ck" / "meta.json").read_text())["v"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temp leftovers


def test_wrong_observation_shape_names_both_shapes():
    import gymnasium as gym
    import numpy as np

    from ludus.agents.policy import Policy
    from ludus.nets import NetSpec, build_net

    obs_space, act_space = gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2)
    policy = Policy(build_net(NetSpec(), obs_space, act_space, "actor_critic"), obs_space,
                    act_space)
    with pytest.raises(ValueError, match=r"shape \(6, 7, 2\) per item, but the policy "
                                         r"expects \(4,\)"):
        policy.act(np.zeros((3, 6, 7, 2), np.int8))


def test_an_rl_agent_starts_from_a_pretrained_encoder_frozen_or_fine_tuned(tmp_path):
    run, cfg = tiny_run(tmp_path, "ppo", num_envs=4, num_steps=32, minibatch_size=64,
                        run_name="source")
    source = Trainer(run, cfg, factory()).save_policy(tmp_path / "pretrained")
    pretrained = load_policy(source).net.actor.encoder.state_dict()
    for freeze in (True, False):
        run, cfg = tiny_run(tmp_path, "ppo", num_envs=4, num_steps=32, minibatch_size=64, seed=9,
                            encoder_init=str(source), freeze_encoder=freeze,
                            run_name=f"transfer_{freeze}")
        trainer = Trainer(run, cfg, factory())
        net = trainer.agent.net
        for body in (net.actor, net.critic):  # both bodies start from it
            for key, value in body.encoder.state_dict().items():
                torch.testing.assert_close(value, pretrained[key])
        head = net.policy_head.weight.detach().clone()
        trainer.begin()
        while not trainer.advance():
            pass
        moved = any(not torch.equal(v, pretrained[k])
                    for k, v in net.actor.encoder.state_dict().items())
        assert moved is not freeze  # frozen stays put; fine-tuned trains
        assert not torch.equal(head, net.policy_head.weight)  # the heads always train
    run, cfg = tiny_run(tmp_path, "ppo", env_id="Acrobot-v1", encoder_init=str(source),
                        run_name="misfit")
    with pytest.raises(CheckpointError, match="does not fit: actor.encoder.net.0.weight"):
        Trainer(run, cfg, factory("Acrobot-v1"))
