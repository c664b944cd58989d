"""Box actions: the distributions against torch.distributions, PPO/A2C/SAC/TD3 learning a
continuous target, checkpoints, resume and bad spaces."""


import gymnasium as gym
import numpy as np
import pytest
import torch

from ludus.agents import RunConfig, Trainer, load_policy, make_agent
from ludus.agents.a2c import A2CConfig
from ludus.agents.core import Step
from ludus.agents.distributions import (
    DiagGaussian,
    SquashedGaussian,
    StateDependentNoise,
    distribution,
)
from ludus.agents.loop import load_run
from ludus.agents.ppo import PPOConfig
from ludus.agents.reinforce import ReinforceConfig
from ludus.agents.sac import SACConfig
from ludus.agents.td3 import TD3Config
from ludus.nets import NetSpec, build_net

BOX = gym.spaces.Box(np.array([-2.0, 0.0], dtype=np.float32), np.array([2.0, 1.0], dtype=np.float32))


class Target(gym.Env):
    """One-step contextual bandit: reward -||a - t||^2 for a target t drawn in the bounds;
    a policy that copies t into its action scores 0, uniform actions about -1.1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = BOX

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return self.target, {}

    def step(self, action):
        goal = self.target * np.array([1.5, 0.4], np.float32) + np.array([0.0, 0.5], np.float32)
        reward = -float(np.square(np.asarray(action) - goal).sum())
        return self.target, reward, True, False, {}


def make_env(num_envs, seed=None, **kwargs):
    env = gym.vector.SyncVectorEnv([Target] * num_envs,
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env.reset(seed=seed)
    return env


def params(batch=5, dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2 * dim, generator=g)


def test_gaussian_matches_torch():
    p, q = params(seed=0), params(seed=1)
    dist = DiagGaussian()
    actions = dist.sample(p, torch.Generator().manual_seed(0))
    mean, log_std = p.chunk(2, -1)
    ref = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    log_prob, entropy = dist.log_prob_entropy(p, actions)
    torch.testing.assert_close(log_prob, ref.log_prob(actions))
    torch.testing.assert_close(entropy, ref.entropy())
    mq, lq = q.chunk(2, -1)
    ref_q = torch.distributions.Independent(torch.distributions.Normal(mq, lq.exp()), 1)
    torch.testing.assert_close(dist.kl(p, q), torch.distributions.kl_divergence(ref, ref_q))


def test_squashed_gaussian_density_is_the_change_of_variables():
    p = params()
    dist = SquashedGaussian(BOX)
    actions, log_prob = dist.rsample(p, torch.Generator().manual_seed(0))
    low, high = torch.as_tensor(BOX.low), torch.as_tensor(BOX.high)
    assert ((actions >= low) & (actions <= high)).all()
    mean, log_std = p.chunk(2, -1)
    ref = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()),
        [torch.distributions.TanhTransform(), torch.distributions.AffineTransform(
            (high + low) / 2, (high - low) / 2)])
    expected = ref.log_prob(actions).sum(-1)
    torch.testing.assert_close(log_prob, expected, atol=1e-3, rtol=1e-4)
    # the same density from the actions alone (inverting the squash)
    torch.testing.assert_close(dist.log_prob_entropy(p, actions)[0], expected, atol=1e-3,
                               rtol=1e-3)
    torch.testing.assert_close(dist.mode(p), torch.tanh(mean) * (high - low) / 2 + (high + low) / 2)


def test_reparameterised_sample_carries_gradients():
    p = params().requires_grad_(True)
    actions, log_prob = SquashedGaussian(BOX).rsample(p, torch.Generator().manual_seed(0))
    (actions.sum() + log_prob.sum()).backward()
    assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("space, match", [
    (gym.spaces.MultiBinary(3), "MultiBinary"),
    (gym.spaces.Box(-1, 1, (2, 2)), "one-dimensional Box"),
])
def test_unsupported_action_spaces_are_named(space, match):
    with pytest.raises(ValueError, match=match):
        distribution(space)


def test_squashed_policy_needs_finite_bounds():
    unbounded = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    with pytest.raises(ValueError, match="finite action bounds.*RescaleAction"):
        make_agent("sac", SACConfig(), Target.observation_space, unbounded)
    with pytest.raises(ValueError, match="flat observations"):
        build_net(NetSpec(core="lstm"), Target.observation_space, BOX, "squashed_gaussian")


def greedy_return(policy, n=200, seed=123):
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    goal = obs * np.array([1.5, 0.4]) + np.array([0.0, 0.5])
    actions, _ = policy.act(obs, deterministic=True)
    assert actions.shape == (n, 2)
    assert (actions >= BOX.low).all() and (actions <= BOX.high).all()
    return -float(np.square(actions - goal).sum(-1).mean())


def train(tmp_path, algo, cfg, steps, seed=0):
    run = RunConfig(algo=algo, env_id="target", seed=seed, total_timesteps=steps, eval_every=0,
                    eval_episodes=5, checkpoint_every=0, run_dir=str(tmp_path), run_name=algo,
                    console=False)
    trainer = Trainer(run, cfg, make_env)
    summary = trainer.train()
    return trainer, summary


@pytest.mark.learning
@pytest.mark.parametrize("algo, cfg, steps", [
    ("ppo", PPOConfig(num_envs=4, num_steps=64, minibatch_size=64, update_epochs=10, ent_coef=0.0,
                      learning_rate=3e-3), 6_000),
    ("a2c", A2CConfig(num_envs=8, num_steps=8, learning_rate=3e-3), 20_000),
    ("reinforce", ReinforceConfig(num_envs=8, batch_steps=64, learning_rate=3e-3), 20_000),
    ("sac", SACConfig(learning_starts=200, batch_size=64, learning_rate=3e-3,
                      net=NetSpec(hidden=(32, 32), activation="relu", ortho_init=False)), 1_200),
    ("td3", TD3Config(learning_starts=200, batch_size=64, learning_rate=3e-3,
                      net=NetSpec(hidden=(32, 32), activation="relu", ortho_init=False)), 1_200),
])
def test_learns_a_continuous_target(tmp_path, algo, cfg, steps):
    trainer, summary = train(tmp_path, algo, cfg, steps)
    policy = load_policy(summary["checkpoint"])
    # uniform random actions score about -1.1, the mean action about -0.4
    assert greedy_return(policy) > -0.1
    assert policy.continuous
    loc, scale, _ = policy.action_distribution(np.zeros((3, 2), np.float32))
    assert loc.shape == scale.shape == (3, 2)
    with pytest.raises(ValueError, match="action_distribution"):
        policy.action_probs(np.zeros((3, 2), np.float32))


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_off_policy_resume_restores_everything(tmp_path, algo):
    cls = {"sac": SACConfig, "td3": TD3Config}[algo]
    cfg = cls(learning_starts=50, batch_size=16, net=NetSpec(hidden=(8,), activation="relu",
                                                             ortho_init=False))
    cut, summary = train(tmp_path, algo, cfg, 100)
    run, cfg2, ckpt = load_run(summary["checkpoint"], {"total_timesteps": 200})
    resumed = Trainer(run, cfg2, make_env, resume_from=ckpt)
    a, b = cut.agent, resumed.agent
    for (x_online, x_target), (y_online, y_target) in zip(a.targets(), b.targets(), strict=True):
        for x, y in zip([*x_online.parameters(), *x_target.parameters()],
                        [*y_online.parameters(), *y_target.parameters()], strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    for name, array in a.buffer.arrays.items():
        np.testing.assert_array_equal(array, b.buffer.arrays[name])
    for name, opt in a.optimizers.items():
        assert opt.state_dict()["state"].keys() == b.optimizers[name].state_dict()["state"].keys()
    if algo == "sac":
        assert a.log_alpha.item() == b.log_alpha.item() != 0.0
    else:
        assert a.num_critic_steps == b.num_critic_steps > 0
    assert (a.global_step, a.num_updates) == (b.global_step, b.num_updates)
    assert resumed.train()["global_step"] == 200


def test_sac_temperature_tunes_towards_target_entropy():
    agent = make_agent("sac", SACConfig(learning_starts=0, batch_size=32, learning_rate=1e-2,
                                        target_entropy=-8.0),
                       Target.observation_space, BOX)
    obs = np.zeros((64, 2), np.float32)

    for _ in range(64):
        actions = agent.act(obs[:1])
        agent.observe(Step(obs[:1], actions, np.zeros(1), np.ones(1, bool), np.zeros(1, bool),
                           obs[:1], obs[:1]))
    before = agent.log_alpha.item()
    for _ in range(20):
        agent.update()
    # a target entropy far below the policy's pushes alpha down
    assert agent.log_alpha.item() < before


def test_norm_reward_divides_by_the_discounted_return_scale():
    cfg = PPOConfig(num_envs=2, num_steps=4, norm_reward=True, gamma=0.5)
    agent = make_agent("ppo", cfg, Target.observation_space, BOX)
    obs = np.zeros((2, 2), np.float32)
    returns, seen = np.zeros(2), []
    for t in range(4):
        action = agent.act(obs)
        reward = np.array([100.0, -300.0]) * (t + 1)
        ended = np.array([t == 1, False])
        agent.observe(Step(obs, action, reward, ended, np.zeros(2, bool), obs, obs))
        returns = returns * 0.5 + reward
        seen.append(returns.copy())
        returns[ended] = 0.0
        scale = np.sqrt(np.var(np.concatenate(seen)) + 1e-8)
        # Chan's merge from the prior count 1e-4 agrees with the plain variance to ~1e-4
        np.testing.assert_allclose(agent.storage.rewards[t].numpy(),
                                   np.clip(reward / scale, -10, 10), rtol=1e-3)


def test_gsde_noise_has_the_heads_variance_and_holds_between_redraws():
    net = build_net(NetSpec(sde=True, log_std_init=-0.5), Target.observation_space, BOX)
    head = net.policy_head
    noise = StateDependentNoise(head)
    g = torch.Generator().manual_seed(0)
    obs = torch.full((4000, 2), 0.3)
    params, _, _ = net(obs, need_value=False)
    noise.reset(4000, g)
    actions = noise.sample(params)
    mean, log_std = DiagGaussian.split(params)
    # across independent matrices, z @ theta is N(0, (z^2) @ sigma^2): the head's own std
    torch.testing.assert_close((actions - mean).std(0), log_std[0].exp(), rtol=0.05, atol=0)
    again = noise.sample(net(obs, need_value=False)[0])
    torch.testing.assert_close(again, actions)  # same state, same matrices: same action
    noise.reset(4000, g)
    assert not torch.allclose(noise.sample(net(obs, need_value=False)[0]), actions)
    with pytest.raises(ValueError, match="gSDE"):
        build_net(NetSpec(sde=True), Target.observation_space, gym.spaces.Discrete(2))


def test_sac_on_discrete_actions_names_the_algorithms_that_take_them():
    with pytest.raises(ValueError, match="use dqn, ppo or a2c"):
        make_agent("td3", TD3Config(), Target.observation_space, gym.spaces.Discrete(3))
