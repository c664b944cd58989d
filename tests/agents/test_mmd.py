"""Magnetic mirror descent (agents/mmd.py): the magnet's moves, its place in the loss and
the train state, its schedules, and a last iterate that approaches equilibrium."""

import pytest
import torch

from ludus.agents import Trainer, load_run
from ludus.agents.mmd import MMDConfig
from ludus.league.exploitability import nash_conv
from ludus.league.selfplay import SelfPlayConfig, selfplay_trainer
from tests.agents.helpers import factory, tiny_run

SMALL = {"num_envs": 4, "num_steps": 16, "minibatch_size": 32, "update_epochs": 2}


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_the_ema_magnet_follows_the_policy_and_resumes(tmp_path):
    run, cfg = tiny_run(tmp_path, "mmd", total_timesteps=128, magnet_tau=0.25, **SMALL)
    trainer = Trainer(run, cfg, factory())
    agent = trainer.agent
    start = params(agent.magnet_net)
    assert all(torch.equal(a, b) for a, b in zip(start, params(agent.net), strict=True))
    trainer.train()
    # two updates: m1 = m0 + 0.25 (p1 - m0), m2 = m1 + 0.25 (p2 - m1); the policy moved, so
    # the magnet lies strictly between its start and the policy
    magnet, policy = params(agent.magnet_net), params(agent.net)
    assert not any(torch.equal(m, p) for m, p in zip(magnet, policy, strict=True))
    assert not all(torch.equal(m, s) for m, s in zip(magnet, start, strict=True))
    assert trainer.metrics["loss/magnet_kl"] > 0.0  # the policy moved away from its magnet
    run2, cfg2, ckpt = load_run(trainer.run_path, {"total_timesteps": 128})
    again = Trainer(run2, cfg2, factory(), resume_from=ckpt)
    for a, b in zip(params(again.agent.magnet_net), magnet, strict=True):
        assert torch.equal(a, b)


def test_the_refresh_magnet_copies_every_m_updates(tmp_path):
    for every, copied in ((2, True), (3, False)):  # two updates
        run, cfg = tiny_run(tmp_path / str(every), "mmd", total_timesteps=128, magnet="refresh",
                            magnet_every=every, **SMALL)
        trainer = Trainer(run, cfg, factory())
        start = params(trainer.agent.magnet_net)
        trainer.train()
        target = params(trainer.agent.net) if copied else start
        assert all(torch.equal(a, b) for a, b in zip(params(trainer.agent.magnet_net), target,
                                                     strict=True))


def test_schedules_and_bad_settings():
    cfg = MMDConfig(magnet_kl_coef=0.1, ent_coef=0.02, magnet_schedule="inverse_sqrt",
                    lr_schedule="inverse_sqrt", anneal_lr=False, schedule_steps=1000)
    from gymnasium.spaces import Box, Discrete

    from ludus.agents.mmd import MMD
    agent = MMD(cfg, Box(-1, 1, (3,)), Discrete(2))
    for step, factor in ((0, 1.0), (1000, 1.0), (4000, 0.5), (16000, 0.25)):
        agent.global_step = step
        agent.set_coefficients()
        assert agent.magnet_kl_coef == pytest.approx(0.1 * factor)
        assert agent.ent_coef == pytest.approx(0.02 * factor)
        assert agent.lr_scale() == pytest.approx(factor)
    for bad, match in (({"magnet_tau": 0.0}, "magnet_tau"), ({"anneal_ent": True}, "anneal_ent"),
                       ({"magnet": "fixed"}, "ema or refresh"), ({"magnet_every": 0},
                                                                    "magnet_every"),
                       ({"ent_schedule": "cosine"}, "ent_schedule is one of"),
                       ({"lr_schedule": "step"}, "lr_schedule is one of")):
        with pytest.raises(ValueError, match=match):
            MMDConfig(**bad)


@pytest.mark.learning
def test_mmd_self_play_brings_kuhn_pokers_last_iterate_near_equilibrium(tmp_path):
    # the same run without the magnet (magnet_kl_coef=0) ends at 1.33, worse than uniform
    run, cfg = tiny_run(tmp_path, "mmd", "spiel:kuhn_poker", total_timesteps=200_000,
                        num_envs=64, num_steps=16, minibatch_size=512, learning_rate=1e-3,
                        gamma=1.0, gae_lambda=1.0, ent_coef=0.05, magnet_kl_coef=0.5,
                        schedule_steps=20_000, net={"hidden": [64, 64], "activation": "tanh"})
    trainer = selfplay_trainer(run, cfg, SelfPlayConfig(snapshot_every=2, pool_size=1,
                                                        latest_prob=1.0))
    trainer.train()
    assert nash_conv("spiel:kuhn_poker", trainer.policy()) < 0.2  # uniform random: 0.917
