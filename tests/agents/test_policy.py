"""Players behave the same everywhere: a Policy never changes its net's mode behind a
learner's back, acts in eval mode, resets recurrent state at episode starts, and a Versus
env's reset seed seeds what it says."""

import gymnasium as gym
import numpy as np
import torch

from ludus import envs
from ludus.agents import Policy
from ludus.league.bots import RandomBot
from ludus.nets import NetSpec, build_net

OBS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACTIONS = gym.spaces.Discrete(3)


def test_a_policy_acts_in_eval_mode_and_hands_the_net_back_in_train_mode():
    net = build_net(NetSpec(hidden=(64,), dropout=0.5), OBS, ACTIONS, seed=0).train()
    policy = Policy(net, OBS, ACTIONS)
    assert net.training  # building a Policy switched nothing
    obs = np.random.default_rng(0).uniform(-1, 1, (16, 4)).astype(np.float32)
    first, _ = policy.action_probs(obs)
    second, _ = policy.action_probs(obs)
    np.testing.assert_array_equal(first, second)  # dropout off while acting
    assert net.training and all(m.training for m in net.modules())
    net.eval()
    policy.act(obs)
    assert not net.training  # an eval-mode net stays in eval mode


def test_episode_start_resets_a_recurrent_policy():
    net = build_net(NetSpec(hidden=(16,), core="lstm", core_size=8), OBS, ACTIONS, seed=0)
    policy = Policy(net, OBS, ACTIONS)
    rng = np.random.default_rng(1)
    obs = [rng.uniform(-1, 1, (2, 4)).astype(np.float32) for _ in range(4)]
    state = policy.initial_state(2)
    for o in obs[:3]:
        _, state = policy.action_probs(o, state)
    fresh, _ = policy.action_probs(obs[3], policy.initial_state(2))
    carried, _ = policy.action_probs(obs[3], state)
    mixed, _ = policy.action_probs(obs[3], state, episode_start=np.array([1, 0]))
    assert not np.allclose(carried[0], fresh[0])  # memory matters ...
    np.testing.assert_allclose(mixed[0], fresh[0], rtol=1e-6)  # ... and row 0 forgot it
    np.testing.assert_allclose(mixed[1], carried[1], rtol=1e-6)  # row 1 kept its own


def trajectory(env_id, seed, opening_moves=0):
    """Observations of a few steps of a Versus env reset with `seed`, the learner playing
    the first legal move."""
    env = envs.make(env_id, 8, None, opponent=RandomBot(seed=123),
                    opening_moves=opening_moves)
    obs, _ = env.reset(seed=seed)
    seen = [obs["observation"].copy()]
    for _ in range(3):
        obs, *_ = env.step(obs["action_mask"].argmax(1))
        seen.append(obs["observation"].copy())
    return np.stack(seen)


def test_versus_reset_seed_seeds_openings_and_chance():
    for env_id, opening in (("connect_four", 6), ("spiel:kuhn_poker", 0)):
        a, b, c = trajectory(env_id, 7, opening), trajectory(env_id, 7, opening), \
            trajectory(env_id, 8, opening)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c), env_id


def test_a_policy_uses_no_global_rng():
    net = build_net(NetSpec(hidden=(8,)), OBS, ACTIONS, seed=0)
    obs = np.zeros((64, 4), np.float32)
    torch.manual_seed(0)
    a, _ = Policy(net, OBS, ACTIONS, seed=5).act(obs)
    torch.manual_seed(99)
    b, _ = Policy(net, OBS, ACTIONS, seed=5).act(obs)
    np.testing.assert_array_equal(a, b)
