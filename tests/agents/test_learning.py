"""Each algorithm learns CartPole to a modest greedy threshold within seconds."""

import pytest

from ludus.agents import Trainer
from ludus.agents.registry import load_config_file
from tests.agents.helpers import factory, tiny_run

pytestmark = pytest.mark.learning


def _zoo(name):
    data = load_config_file(name)
    for key in ("algo", "env_id", "total_timesteps", "eval_target"):
        data.pop(key, None)
    return data


CASES = {
    "ppo": ("CartPole-v1", 10_000, 100.0, _zoo("ppo_cartpole")),
    "a2c": ("CartPole-v1", 30_000, 150.0, {"num_envs": 8}),
    "reinforce": ("CartPole-v1", 40_000, 60.0, {}),
    "dqn": ("CartPole-v1", 10_000, 100.0, {
        "learning_rate": 1e-3, "learning_starts": 500, "train_freq": 4, "gradient_steps": 1,
        "target_update_interval": 250, "exploration_fraction": 0.3, "buffer_size": 10_000,
        "batch_size": 64, "net": {"hidden": [64, 64]}}),
    "ppo-lstm": ("CartPoleNoVel-v1", 12_000, 60.0, _zoo("ppo_lstm_cartpole_novel")),
}


@pytest.mark.parametrize("algo", sorted(CASES))
def test_learns_cartpole(tmp_path, algo):
    env_id, steps, threshold, hyper = CASES[algo]
    run, cfg = tiny_run(tmp_path, algo, env_id, total_timesteps=steps, eval_episodes=10,
                        seed=1, **hyper)
    summary = Trainer(run, cfg, factory(env_id)).train()
    assert summary["best_eval"] >= threshold, summary
