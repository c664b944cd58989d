"""Every algorithm trains on dict observations with an action mask and never plays an
illegal action (the toy env raises if it does)."""

import gymnasium as gym
import numpy as np
import pytest

from ludus.agents import Trainer
from tests.agents.helpers import tiny_run

N = 4


class PickHighestLegal(gym.Env):
    """Each step a random non-empty set of actions is legal; reward 1 for the highest one."""

    observation_space = gym.spaces.Dict({
        "observation": gym.spaces.Box(0, 1, (N,), np.float32),
        "action_mask": gym.spaces.Box(0, 1, (N,), np.int8)})
    action_space = gym.spaces.Discrete(N)

    def _draw(self):
        mask = (self.np_random.random(N) < 0.5).astype(np.int8)
        mask[self.np_random.integers(N)] = 1
        self.mask, self.t = mask, getattr(self, "t", 0)
        return {"observation": mask.astype(np.float32), "action_mask": mask}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def step(self, action):
        if not self.mask[action]:
            raise ValueError(f"illegal action {action} under mask {self.mask}")
        reward = float(action == np.flatnonzero(self.mask).max())
        self.t += 1
        return self._draw(), reward, False, self.t >= 10, {}


def make_env(num_envs, seed=None, **kwargs):
    env = gym.vector.SyncVectorEnv([PickHighestLegal] * num_envs,
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    if seed is not None:
        env.reset(seed=seed)
    return env


@pytest.mark.parametrize("algo,steps,extra", [
    ("ppo", 6000, {"num_envs": 8, "num_steps": 64, "minibatch_size": 128, "learning_rate": 3e-3}),
    ("a2c", 3000, {}),
    ("reinforce", 3000, {"batch_steps": 200}),
    ("dqn", 3000, {"learning_starts": 200, "exploration_fraction": 0.3, "learning_rate": 1e-3,
                   "target_update_interval": 200}),
])
def test_masked_training_never_plays_illegal_actions(tmp_path, algo, steps, extra):
    run, cfg = tiny_run(tmp_path, algo, total_timesteps=steps, eval_episodes=20, **extra)
    summary = Trainer(run, cfg, make_env).train()
    assert summary["global_step"] >= steps
    if algo == "ppo":  # random legal play scores about half of 10; the rule is learnable
        assert summary["best_eval"] >= 9.0
