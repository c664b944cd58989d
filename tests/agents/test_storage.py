import numpy as np
import pytest
import torch

from ludus.agents.replay import PrioritizedReplayBuffer, ReplayBuffer, SumTree
from ludus.agents.storage import RolloutStorage, compute_gae, discounted_returns


def test_gae_hand_computed_bootstraps_through_truncation_not_termination():
    s = RolloutStorage(3, 2, (1,), torch.float32, 2, False, torch.device("cpu"))
    s.rewards[:] = 1.0
    s.values[:] = torch.tensor([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]])
    s.truncated[0, 1] = 1.0      # env 1: time limit after step 0, final obs valued 2.0
    s.final_values[0, 1] = 2.0
    s.terminated[2, 1] = 1.0     # env 1: terminal after step 2: no bootstrap
    adv, ret = s.advantages(torch.tensor([0.8, 0.8]), gamma=0.9, gae_lambda=0.5)
    # env 0: deltas 1.04, 1.03, 1.02; A2 = 1.02, A1 = 1.03 + .45 * 1.02, A0 = 1.04 + .45 * A1
    assert adv[:, 0].tolist() == pytest.approx([1.71005, 1.489, 1.02])
    # env 1: delta0 = 1 + .9 * 2.0 - .5 = 2.3 with the trace cut at the truncation;
    # delta2 = 1 + 0 - .7 = 0.3; A1 = 1.03 + .45 * 0.3
    assert adv[:, 1].tolist() == pytest.approx([2.3, 1.165, 0.3])
    assert torch.allclose(ret, adv + s.values)


def test_gae_with_lambda_one_is_discounted_return_minus_value():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.1], [0.2], [0.3]])
    next_values = torch.tensor([[0.2], [0.3], [0.0]])
    end = torch.tensor([[0.0], [0.0], [1.0]])
    adv, ret = compute_gae(rewards, values, next_values, end, 0.9, 1.0)
    expected = discounted_returns(rewards[:, 0], 0.9)
    assert torch.allclose(ret[:, 0], expected)
    assert expected.tolist() == pytest.approx([1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3])


def _buffer(n_step, cls=ReplayBuffer, **kw):
    return cls(100, 1, (1,), np.float32, 2, False, n_step=n_step, gamma=0.5, **kw)


def _add(buf, t, reward, terminated=False, truncated=False):
    buf.add(np.array([[t]], np.float32), np.array([0]), np.array([reward], np.float32),
            np.array([[t + 100]], np.float32), np.array([terminated]), np.array([truncated]))


def test_n_step_returns_stop_at_episode_ends_and_newest_transition():
    buf = _buffer(3)
    for t, (r, term, trunc) in enumerate([(1, 0, 0), (2, 0, 0), (4, 1, 0), (8, 0, 0),
                                          (16, 0, 1), (1, 0, 0), (1, 0, 0), (1, 0, 0)]):
        _add(buf, t, r, bool(term), bool(trunc))
    b = buf.gather(np.array([0, 1, 3, 4, 5, 7]))
    assert b["returns"].tolist() == pytest.approx([1 + 1 + 1, 2 + 2, 8 + 8, 16, 1.75, 1])
    # termination: no bootstrap; truncation: bootstrap gamma^k from the final observation
    assert b["discounts"].tolist() == pytest.approx([0, 0, 0.25, 0.5, 0.125, 0.5])
    assert b["next_obs"][:, 0].tolist() == [102, 102, 104, 104, 107, 107]
    assert b["obs"][:, 0].tolist() == [0, 1, 3, 4, 5, 7]


def test_one_step_replay_wraps_around():
    buf = ReplayBuffer(4, 2, (1,), np.float32, 2, False)
    for t in range(6):
        buf.add(np.full((2, 1), t, np.float32), np.zeros(2, int), np.full(2, t, np.float32),
                np.full((2, 1), t + 1, np.float32), np.zeros(2, bool), np.zeros(2, bool))
    assert len(buf) == 4 and buf.full
    b = buf.gather(np.arange(4))
    assert sorted(b["obs"][:, 0].tolist()) == [4, 4, 5, 5]
    assert np.allclose(b["returns"], b["obs"][:, 0]) and np.allclose(b["discounts"], 0.99)


def test_sum_tree_find_and_total():
    tree = SumTree(5)
    tree.set(np.arange(5), np.array([1.0, 0.0, 2.0, 3.0, 4.0]))
    assert tree.total == 10.0
    assert tree.find(np.array([0.5, 1.5, 2.9, 3.5, 9.9])).tolist() == [0, 2, 2, 3, 4]


def test_prioritized_sampling_frequencies_and_weights():
    buf = _buffer(1, PrioritizedReplayBuffer, alpha=1.0, eps=0.0)
    for t in range(4):
        _add(buf, t, 0.0)
    buf.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    rng = np.random.default_rng(0)
    counts = np.bincount(np.concatenate([buf.sample_indices(100, rng) for _ in range(400)]),
                         minlength=4)
    assert np.allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.01)
    # w_i = (N P_i)^-beta / max_j w_j; beta = 1 gives 1/p normalised by the smallest p
    assert buf.weights(np.arange(4), 1.0).tolist() == pytest.approx([1, 0.5, 1 / 3, 0.25])
    assert buf.weights(np.arange(4), 0.0).tolist() == pytest.approx([1, 1, 1, 1])


def test_prioritized_new_transitions_get_max_priority():
    buf = _buffer(1, PrioritizedReplayBuffer, alpha=0.5)
    _add(buf, 0, 0.0)
    buf.update_priorities(np.array([0]), np.array([9.0]))
    _add(buf, 1, 0.0)
    assert buf.tree.get(np.array([1]))[0] == pytest.approx(buf.tree.get(np.array([0]))[0])
