import gymnasium as gym
import numpy as np
import pytest

from ludus import envs
from ludus.envs.cartpole import BatchedCartPole


def test_batched_cartpole_matches_gymnasium_step_for_step():
    rng = np.random.default_rng(0)
    n = 64
    batched = BatchedCartPole(n)
    batched.reset(seed=0)
    singles = [gym.make("CartPole-v1").unwrapped for _ in range(n)]
    for env, state in zip(singles, batched.state, strict=True):
        env.reset(seed=0)
        env.state = state.copy()
    alive = np.ones(n, dtype=bool)
    for _ in range(200):
        actions = rng.integers(0, 2, n)
        obs, reward, terminated, _, _ = batched.step(actions)
        for i in np.flatnonzero(alive):
            o, r, term, _, _ = singles[i].step(int(actions[i]))
            assert r == reward[i] and term == terminated[i]
            if not term:
                np.testing.assert_array_equal(o, obs[i])
        alive &= ~terminated
    assert not alive.all()  # some episodes ended along the way


def test_batched_cartpole_autoreset_and_truncation():
    env = BatchedCartPole(3)
    env.reset(seed=1)
    env.steps[:] = [0, 499, 0]
    env.state[2, 0] = 2.45  # past the cart limit: terminates on this step
    obs, _, terminated, truncated, info = env.step(np.array([0, 0, 0]))
    assert terminated.tolist() == [False, False, True]
    assert truncated.tolist() == [False, True, False]
    assert info["_final_obs"].tolist() == [False, True, True]
    assert abs(info["final_obs"][2][0]) > 2.4 and np.abs(obs[1:]).max() <= 0.05
    assert env.steps.tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="actions must be 3 values"):
        env.step(np.array([0, 2, 1]))


def test_make_resolves_ids_and_vectorization():
    assert isinstance(envs.make("CartPole-v1", 4), BatchedCartPole)
    sync = envs.make("CartPole-v1", 2, vectorization="sync")
    assert isinstance(sync, gym.vector.SyncVectorEnv)
    assert sync.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    novel = envs.make("CartPoleNoVel-v1", 2, seed=0, vectorization="sync")
    obs, *_ = novel.step(np.array([1, 1]))
    assert (obs[:, [1, 3]] == 0).all() and (obs[:, [0, 2]] != 0).any()
    assert (envs.make("CartPoleNoVel-v1", 2, seed=0).step(np.array([1, 1]))[0][:, [1, 3]] == 0).all()


def test_unknown_env_id_names_closest():
    with pytest.raises(ValueError, match="unknown env id 'CartPole-v9' \\(did you mean CartPole"):
        envs.make("CartPole-v9")
    with pytest.raises(ValueError, match="vectorization"):
        envs.make("CartPole-v1", vectorization="threads")


def test_sync_env_reports_final_obs_same_step():
    env = envs.make("CartPole-v1", 1, seed=0, vectorization="sync")
    for _ in range(500):
        obs, _, terminated, truncated, info = env.step(np.array([0]))
        if terminated[0] or truncated[0]:
            assert "final_obs" in info and not np.array_equal(info["final_obs"][0], obs[0])
            return
    pytest.fail("CartPole pushed left never ended")


def test_atari_preprocessing_gives_stacked_uint8_frames():
    env = envs.make("ALE/Pong-v5", 1, seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 4, 84, 84) and obs.dtype == np.uint8
    obs, *_ = env.step(np.array([0]))
    assert obs.shape == (1, 4, 84, 84)
    env.close()
