"""envs.spread: the batched simple_spread steps exactly as mpe2's simple_spread_v3."""

import numpy as np
import pytest

from ludus import envs
from ludus.envs.spread import BatchedSimpleSpread

mpe2 = pytest.importorskip("mpe2.simple_spread_v3")


def test_batched_simple_spread_matches_mpe2_step_for_step():
    reference = mpe2.parallel_env(N=3, local_ratio=0.5, max_cycles=25, continuous_actions=False)
    obs, _ = reference.reset(seed=3)
    world = reference.unwrapped.world
    native = BatchedSimpleSpread(3)
    native.reset(seed=0)
    # start the batched copy from the reference's state
    native.pos[0] = [a.state.p_pos for a in world.agents]
    native.landmarks[0] = [lm.state.p_pos for lm in world.landmarks]
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(native._observe(), np.stack([obs[a] for a in reference.agents]),
                               atol=1e-6)
    # crowd the agents together so that contacts and collision penalties happen
    for agent in world.agents:
        agent.state.p_pos = np.array([0.1, 0.1]) + rng.normal(0, 0.05, 2)
    native.pos[0] = [a.state.p_pos for a in world.agents]
    collided = False
    for t in range(25):
        actions = rng.integers(0, 5, 3)
        names = list(reference.agents)
        obs, rewards, terms, truncs, _ = reference.step(dict(zip(names, actions, strict=True)))
        n_obs, n_reward, n_term, n_trunc, info = native.step(actions)
        expected = np.array([rewards[a] for a in names])
        np.testing.assert_allclose(n_reward, expected, atol=1e-5, err_msg=f"step {t}")
        gaps = np.linalg.norm(native.pos[0][:, None] - native.pos[0][None], axis=-1)
        collided |= bool((gaps[~np.eye(3, dtype=bool)] < 0.3).any())
        assert list(n_trunc) == [truncs[a] for a in names]
        final = info["final_obs"] if n_trunc.any() else n_obs
        np.testing.assert_allclose(final, np.stack([obs[a] for a in names]), atol=1e-5,
                                   err_msg=f"step {t}")
    assert collided  # the collision penalty was exercised
    assert info["_team_return"][0] and np.isfinite(info["team_return"][0])


def test_shared_simple_spread_is_native_unless_sync():
    assert isinstance(envs.make("shared:simple_spread", 6), BatchedSimpleSpread)
    sync = envs.make("shared:simple_spread", 6, vectorization="sync")
    assert not isinstance(sync, BatchedSimpleSpread) and sync.team_size == 3
    with pytest.raises(ValueError, match="multiple of 3, got 5"):
        envs.make("shared:simple_spread", 5)
