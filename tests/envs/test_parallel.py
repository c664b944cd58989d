"""envs.parallel: every agent of a PettingZoo parallel env as a row, agents that leave or join
mid-episode, team returns, and one shared PPO learning a cooperative game."""

import functools
import sys

import gymnasium as gym
import numpy as np
import pytest

from ludus import envs
from ludus.agents import RunConfig, Trainer
from ludus.agents.dqn import DQNConfig
from ludus.agents.ppo import PPOConfig
from ludus.envs.parallel import AgentVectorEnv


class Signals:
    """A parallel env of 3 agents, 4 steps: each sees a bit and earns 1 for saying it back.
    `runner` leaves after step 2; `late` joins at step 1 (PettingZoo's parallel API)."""

    possible_agents = ["a", "runner", "late"]

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 1.0, (2,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def _obs(self):
        self.bits = {a: int(self.rng.integers(2)) for a in self.agents}
        return {a: np.eye(2, dtype=np.float32)[b] for a, b in self.bits.items()}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t, self.agents = 0, ["a", "runner"]
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents), (actions, self.agents)
        rewards = {a: float(actions[a] == self.bits[a]) for a in self.agents}
        self.t += 1
        terms = {a: a == "runner" and self.t == 2 for a in self.agents}
        truncs = {a: self.t == 4 for a in self.agents}
        obs = self._obs()
        self.agents = [a for a in self.agents if not (terms[a] or truncs[a])]
        if self.t == 1:
            self.agents.append("late")
        obs = self._obs() if self.agents else obs
        return obs, rewards, terms, truncs, {a: {} for a in rewards}

    def close(self):
        pass


def test_rows_follow_agents_that_leave_and_join():
    env = AgentVectorEnv(Signals, 2)
    assert env.num_envs == 6 and env.team_size == 3
    obs, info = env.reset(seed=0)
    assert info["active"].tolist() == [True, True, False] * 2
    assert (obs[2] == 0).all()
    actives, ends, teams = [], [], []
    for _ in range(8):
        obs, reward, terminated, truncated, info = env.step(np.ones(6, dtype=np.int64))
        actives.append(info["active"][:3].tolist())
        ends.append((terminated[:3].tolist(), truncated[:3].tolist()))
        if info["_team_return"].any():
            teams.append(info["team_return"][info["_team_return"]])
            assert info["_team_return"].tolist() == [True, False, False, True, False, False]
        assert (reward[~info["active"]] == 0).all()
    # step 1: late absent; 2: runner leaves (terminated); 3-4: runner out; then a new episode
    assert actives[:5] == [[True, True, False], [True, True, True], [True, False, True],
                           [True, False, True], [True, True, False]]
    assert ends[1] == ([False, True, False], [False, False, False])
    assert ends[3] == ([False, False, False], [True, False, True])
    assert len(teams) == 2 and teams[0].shape == (2,)


def test_agents_with_different_spaces_are_one_clear_error():
    class Mixed(Signals):
        def action_space(self, agent):
            return gym.spaces.Discrete(3 if agent == "late" else 2)

    with pytest.raises(ValueError, match="different action spaces.*pad_action_space"):
        AgentVectorEnv(Mixed, 1)


def test_shared_ids_check_their_row_count_and_extra(monkeypatch):
    with pytest.raises(ValueError, match="3 agents per copy.*multiple of 3, got 4"):
        envs.make("shared:simple_spread", 4)
    env = envs.make("shared:simple_spread", 6, seed=0, vectorization="sync")
    assert env.single_observation_space.shape == (18,) and env.single_action_space.n == 5
    env.close()
    for name in ("mpe2", "mpe2.simple_spread_v3"):  # as if the marl extra were missing
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(gym.error.DependencyNotInstalled, match=r"pip install 'ludus\[marl\]'"):
        envs.make("shared:simple_spread", 6, vectorization="sync")


def make_signals(num_envs, seed=None, **kwargs):
    env = AgentVectorEnv(Signals, num_envs // 3)
    env.reset(seed=seed)
    return env


def run_config(tmp_path, algo, steps):
    return RunConfig(algo=algo, env_id="signals", total_timesteps=steps, eval_every=0,
                     eval_episodes=4, checkpoint_every=0, run_dir=str(tmp_path), run_name=algo,
                     console=False, log_every=600)


@pytest.mark.learning
def test_one_shared_ppo_learns_every_agents_signal(tmp_path):
    cfg = PPOConfig(num_envs=12, num_steps=16, minibatch_size=64, learning_rate=3e-3)
    trainer = Trainer(run_config(tmp_path, "ppo", 6000), cfg, make_signals)
    summary = trainer.train()
    # a team of 2 + 1 + 3 agent-steps per episode scores 6 at best, 3 by chance
    assert summary["best_eval"] > 5.5
    lines = (tmp_path / "ppo" / "metrics.jsonl").read_text()
    assert "charts/team_return" in lines


def test_a_learner_without_masks_refuses_agents_that_leave(tmp_path):
    cfg = DQNConfig(num_envs=3, learning_starts=10)
    with pytest.raises(ValueError, match="leave an episode early.*use ppo or a2c"):
        Trainer(run_config(tmp_path, "dqn", 300), cfg, make_signals).train()


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_inactive_rows_cannot_move_the_update(algo):
    import torch

    from ludus.agents import Step, make_agent
    from ludus.agents.a2c import A2CConfig

    cfg = (PPOConfig(num_envs=2, num_steps=4, minibatch_size=3, update_epochs=2) if algo == "ppo"
           else A2CConfig(num_envs=2, num_steps=4))
    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    rng = np.random.default_rng(0)
    real_obs = rng.uniform(-1, 1, (5, 2, 2)).astype(np.float32)
    # row 1 leaves at step 1 (terminated) and sits out steps 2-3
    active = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], dtype=bool)
    weights = []
    for junk in (0.0, 100.0):
        agent = make_agent(algo, cfg, space, gym.spaces.Discrete(2), seed=0)
        for t in range(4):
            obs = np.where(active[t][:, None], real_obs[t], junk)
            action = agent.act(obs)
            reward = np.where(active[t], [1.0, 0.5], junk)
            terminated = np.array([False, t == 1])
            nxt = np.where(active[min(t + 1, 3)][:, None], real_obs[t + 1], junk)
            agent.observe(Step(obs, action, reward, terminated, np.zeros(2, bool), nxt, nxt,
                               active[t]))
        agent.update()
        weights.append([p.detach().clone() for p in agent.net.parameters()])
    for a, b in zip(*weights, strict=True):
        torch.testing.assert_close(a, b)


def test_ppo_runs_on_knights_archers_zombies_with_its_one_hots(tmp_path):
    env = envs.make("shared:knights_archers_zombies", 4, seed=0)
    assert env.single_observation_space.shape == (27 * 5 + 4,)  # flattened + agent one-hot
    env.close()
    run = RunConfig(algo="ppo", env_id="shared:knights_archers_zombies", total_timesteps=1024,
                    eval_every=0, eval_episodes=1, checkpoint_every=0, run_dir=str(tmp_path),
                    run_name="kaz", console=False)
    summary = Trainer(run, PPOConfig(num_envs=4, num_steps=128), functools.partial(
        envs.make, "shared:knights_archers_zombies")).train()
    assert summary["global_step"] == 1024 and np.isfinite(summary["best_eval"])


def test_video_capture_of_many_agents_is_refused_in_one_line(tmp_path):
    run = run_config(tmp_path, "ppo", 100)
    run.capture_video = True
    with pytest.raises(ValueError, match="3 agents per copy"):
        Trainer(run, PPOConfig(num_envs=3), make_signals)


def test_evaluate_script_reports_team_returns(tmp_path, capsys):
    from ludus.scripts.evaluate import main

    run = RunConfig(algo="ppo", env_id="shared:simple_spread", total_timesteps=96,
                    eval_every=0, eval_episodes=1, checkpoint_every=0, run_dir=str(tmp_path),
                    run_name="spread", console=False)
    Trainer(run, PPOConfig(num_envs=6, num_steps=16),
            functools.partial(envs.make, "shared:simple_spread")).train()
    assert main([str(tmp_path / "spread"), "--games", "4"]) == 0
    out = capsys.readouterr().out
    assert "on shared:simple_spread: mean team return" in out and "4 episodes" in out
    assert envs.team_size("shared:simple_spread") == 3 and envs.team_size("CartPole-v1") == 1
    assert main(["random", "--env-id", "shared:simple_spread", "--games", "4"]) == 0
    assert "random on shared:simple_spread: mean team return" in capsys.readouterr().out
    assert main(["random", "--env-id", "Pendulum-v1", "--games", "2"]) == 0
    assert "random on Pendulum-v1: mean return" in capsys.readouterr().out


class Answerer:
    """Says every rival's bit back (its observation is the bit's one-hot), and records the
    rows it is asked to start and to answer."""

    def __init__(self):
        self.started, self.asked = [], []

    def start(self, rows):
        self.started.append(rows.tolist())

    def act_rows(self, obs, rows):
        self.asked.append(rows.tolist())
        return obs.argmax(axis=1)


def test_one_side_as_rows_and_an_opponent_for_the_others():
    rivals = Answerer()
    env = AgentVectorEnv(Signals, 2, agents=["a"], opponent=rivals)
    assert env.num_envs == 2 and env.team_size == 1
    env.reset(seed=0)
    assert rivals.started == [[0, 1, 2, 3]]  # (copy, rival) rows: runner and late of 2 copies
    returns = []
    for _ in range(8):
        _, _, _, _, info = env.step(np.ones(2, dtype=np.int64))  # Signals asserts every live
        if info["_team_return"].any():  # agent got an action
            returns.append(info["rival_return"][info["_team_return"]].tolist())
    # runner answers at steps 1-2, late at 2-4: 5 right answers per episode
    assert returns == [[5.0, 5.0], [5.0, 5.0]]
    assert rivals.asked[0] == [0, 2] and rivals.asked[1] == [0, 1, 2, 3]  # late joins
    assert rivals.asked[2] == [1, 3]  # runner left (terminated at step 2)
    assert rivals.started[1:] == [[0, 1, 2, 3], [0, 1, 2, 3]]  # both copies restart together
    with pytest.raises(ValueError, match=r"agents \['runner', 'late'\] are not rows.*opponent"):
        AgentVectorEnv(Signals, 1, agents=["a"])


def test_team_game_sides_and_their_errors():
    from ludus.agents.evaluate import UniformPolicy
    from ludus.league.arena import Seated

    assert envs.team_size("shared:simple_tag") == 4
    assert envs.team_size("shared:simple_tag", "predator") == 3
    rivals = Seated(UniformPolicy(gym.spaces.Discrete(5)), 2)
    env = envs.make("shared:simple_tag", 6, seed=0, side="predator", opponent=rivals)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 16) and env.rival_obs.shape == (2, 14)
    env.close()
    with pytest.raises(ValueError, match="unknown side 'hunter'; the sides are predator, prey"):
        envs.make("shared:simple_tag", 3, side="hunter", opponent=rivals)
    with pytest.raises(ValueError, match="shared:simple_spread has no sides.*shared:simple_tag"):
        envs.make("shared:simple_spread", 3, side="prey", opponent=rivals)
    with pytest.raises(ValueError, match="the predator side has 3 agents.*multiple of 3, got 4"):
        envs.make("shared:simple_tag", 4, side="predator", opponent=rivals)
