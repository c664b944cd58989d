import copy

import pytest
import torch

from ludus.agents.core import gradient_step, linear_schedule


@pytest.mark.parametrize("max_grad_norm", [0.01, 100.0])
def test_gradient_step_matches_the_plain_torch_recipe(max_grad_norm):
    torch.manual_seed(0)
    net_a = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    net_b = copy.deepcopy(net_a)
    opt_a = torch.optim.Adam(net_a.parameters(), lr=1e-2, fused=True)
    opt_b = torch.optim.Adam(net_b.parameters(), lr=1e-2, fused=True)
    params_b = list(net_b.parameters())
    for step in range(5):
        x = torch.randn(16, 3)
        for group in (opt_a.param_groups, opt_b.param_groups):  # annealing must be honoured
            group[0]["lr"] = 1e-2 / (step + 1)
        opt_a.zero_grad()
        (net_a(x) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_(net_a.parameters(), max_grad_norm)
        opt_a.step()
        gradient_step(opt_b, params_b, (net_b(x) ** 2).mean(), max_grad_norm)
    for a, b in zip(net_a.parameters(), params_b, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # bit for bit
    assert opt_b.state_dict()["state"][0]["step"] == 5


def test_linear_schedule():
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == 1.0
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == pytest.approx(0.1)


def test_ppo_anneals_the_entropy_bonus_with_progress(tmp_path):
    from ludus.agents import Trainer
    from tests.agents.helpers import factory, tiny_run

    run, cfg = tiny_run(tmp_path, "ppo", num_envs=4, num_steps=16, minibatch_size=64,
                        ent_coef=0.2, anneal_ent=True)
    trainer = Trainer(run, cfg, factory())
    trainer.begin()
    trainer.agent.progress = 0.75
    while not trainer.advance():
        pass
    assert trainer.metrics["charts/ent_coef"] == pytest.approx(0.05)


def test_fit_policy_matches_target_distributions_off_the_mask():
    import gymnasium as gym
    import numpy as np

    from ludus.agents.bc import fit_policy
    from ludus.nets import NetSpec, build_net

    obs_space = gym.spaces.Dict({"observation": gym.spaces.Box(-1, 1, (4,)),
                                 "action_mask": gym.spaces.Box(0, 1, (3,), np.int8)})
    net = build_net(NetSpec(hidden=(32,)), obs_space, gym.spaces.Discrete(3), "actor_critic", 0)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 4)).astype(np.float32)
    mask = np.ones((6, 3), dtype=np.int8)
    mask[0, 2] = 0
    targets = rng.dirichlet(np.ones(3), size=6)
    targets[0] = [0.3, 0.7, 0.0]
    assert fit_policy(net, obs, targets, mask, steps=1500, lr=1e-2) < 1e-3
    lstm = build_net(NetSpec(hidden=(), core="lstm"), obs_space, gym.spaces.Discrete(3),
                     "actor_critic", 0)
    with pytest.raises(ValueError, match="feed-forward"):
        fit_policy(lstm, obs, targets, mask)


def test_kl_divergence_is_zero_for_equal_policies_and_ignores_illegal_moves():
    from ludus.agents.core import kl_divergence
    from ludus.nets import apply_mask

    mask = torch.tensor([[True, True, False]])
    p = apply_mask(torch.tensor([[0.2, -1.0, 5.0]]), mask)
    assert kl_divergence(p, p).item() == pytest.approx(0.0, abs=1e-7)
    q = apply_mask(torch.tensor([[1.0, 0.0, -3.0]]), mask)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=torch.tensor([[0.2, -1.0]])),
        torch.distributions.Categorical(logits=torch.tensor([[1.0, 0.0]])))
    assert kl_divergence(p, q).item() == pytest.approx(expected.item(), rel=1e-4)


def test_ppo_teacher_kl_is_zero_when_the_student_is_the_teacher(tmp_path):
    from ludus.agents import Trainer
    from tests.agents.helpers import factory, tiny_run

    run, cfg = tiny_run(tmp_path, "ppo", num_envs=4, num_steps=16, minibatch_size=64,
                        update_epochs=1)
    teacher = Trainer(run, cfg, factory()).save_policy(tmp_path / "teacher")
    run, cfg = tiny_run(tmp_path, "ppo", num_envs=4, num_steps=16, minibatch_size=64,
                        update_epochs=1, teacher=str(teacher), teacher_kl_coef=0.5,
                        run_name="student")
    trainer = Trainer(run, cfg, factory())  # same seed: the same initial parameters
    trainer.begin()
    trainer.agent.progress = 0.5
    while not trainer.advance():
        pass
    assert trainer.metrics["charts/teacher_kl_coef"] == pytest.approx(0.25)
    # the first minibatch sees identical nets; later ones have moved a little
    assert 0.0 <= trainer.metrics["loss/teacher_kl"] < 1e-3
    run, cfg = tiny_run(tmp_path, "ppo", teacher_kl_coef=0.5, run_name="x")
    with pytest.raises(ValueError, match="needs a teacher"):
        Trainer(run, cfg, factory())
