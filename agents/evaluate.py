"""Greedy evaluation of a policy over whole episodes, and episode recording."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents.files import atomic_path
from ludus.agents.policy import Policy


def evaluate(policy: Policy, make_env: Callable[..., Any], num_episodes: int, seed: int = 0,
             deterministic: bool = True) -> np.ndarray:
    """Returns (num_episodes,) of one episode in each of num_episodes parallel envs. For an
    env whose rows are the agents of teams (envs.parallel, `team_size` agents per copy),
    num_episodes counts rows and the result is each copy's team return (the sum of its
    agents' returns), (num_episodes / team_size,)."""
    env = make_env(num_episodes, seed)
    try:
        obs, _ = env.reset(seed=seed)
        state = policy.initial_state(num_episodes)
        returns = np.zeros(num_episodes)
        done = np.zeros(num_episodes, dtype=bool)
        while not done.all():
            actions, state = policy.act(obs, state, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(actions)
            returns += np.where(done, 0.0, reward)
            done |= terminated | truncated
        team = getattr(env, "team_size", 1)
        return returns.reshape(-1, team).sum(1) if team > 1 else returns
    finally:
        env.close()


class UniformPolicy:
    """Uniform random actions from a Discrete or Box space: the baseline a return curve is
    read against. Answers like a Policy (initial_state, act)."""

    def __init__(self, action_space: Any, seed: int = 0) -> None:
        self.action_space, self.rng = action_space, np.random.default_rng(seed)

    def initial_state(self, batch_size: int) -> None:
        return None

    def act(self, obs: Any, state: Any = None, deterministic: bool = False) -> tuple[np.ndarray,
                                                                                    None]:
        space, n = self.action_space, len(obs)
        if hasattr(space, "n"):
            return self.rng.integers(space.n, size=n), None
        return self.rng.uniform(space.low, space.high, (n, *space.shape)).astype(space.dtype), None


def record_episode(policy: Policy, make_env: Callable[..., Any], path: Path, seed: int = 0,
                   fps: int = 30) -> Path:
    """Play one greedy episode with rgb_array rendering and write it as a GIF (imageio)."""
    env = make_env(1, seed, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=seed)
        state = policy.initial_state(1)
        frames = [np.asarray(env.render()[0])]
        done = False
        while not done:
            actions, state = policy.act(obs, state, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(actions)
            done = bool(terminated[0] or truncated[0])
            if not done:
                frames.append(np.asarray(env.render()[0]))
    finally:
        env.close()
    return write_video(path, frames, fps)


def write_video(path: Path | str, frames: list[np.ndarray], fps: float = 30) -> Path:
    """Write (H, W, 3) uint8 frames as a GIF or MP4 (by the suffix; MP4 through
    imageio-ffmpeg), atomically: a half-written video never carries the final name."""
    import imageio.v3 as iio

    path = Path(path)
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"video {path} must end in .gif or .mp4")
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            iio.imwrite(tmp, np.stack(frames), duration=1000 / fps, loop=0)
        else:  # frames are sized in multiples of 16 where ludus draws them: no rescaling
            iio.imwrite(tmp, np.stack(frames), fps=fps, codec="libx264", macro_block_size=1,
                        plugin="FFMPEG")
    return path


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (95% for z = 1.96)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
