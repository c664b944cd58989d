"""Gymnasium wrappers ludus applies when making environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class MaskVelocity(gym.ObservationWrapper):
    """Zero the velocity entries of CartPole's observation (as rl-baselines3-zoo's
    CartPoleNoVel), turning it into a POMDP that only memory can solve."""

    VELOCITY = np.array([1, 3])

    def observation(self, observation: np.ndarray) -> np.ndarray:
        observation = observation.copy()
        observation[self.VELOCITY] = 0.0
        return observation


def atari(env: gym.Env, frame_stack: int = 4) -> gym.Env:
    """Nature-DQN preprocessing: no-op starts, 4-frame skip with max-pooling, 84x84 grey,
    frame stack; observations (frame_stack, 84, 84) uint8."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                          grayscale_obs=True)
    return gym.wrappers.FrameStackObservation(env, frame_stack)
