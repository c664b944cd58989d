"""The attention encoder and memory core: step by step equals a sequence at once, episode
starts cut the memory, the context bounds it, and attention nets checkpoint like any net."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from ludus.nets import AttentionCore, NetSpec, build_net


def run_steps(core, x, start):
    state, outs = core.initial_state(x.shape[1]), []
    for t in range(len(x)):
        out, state = core(x[t:t + 1], state, start[t:t + 1])
        outs.append(out)
    return torch.cat(outs), state


@pytest.mark.parametrize("gated", [False, True])
def test_the_core_gives_the_same_outputs_step_by_step_and_at_once(gated):
    torch.manual_seed(0)
    core = AttentionCore(5, dim=16, heads=2, layers=2, context=4, gated=gated)
    x, start = torch.randn(11, 3, 5), torch.zeros(11, 3)
    start[0], start[6, 1] = 1, 1
    at_once, state = core(x, core.initial_state(3), start)
    stepped, state2 = run_steps(core, x, start)
    torch.testing.assert_close(at_once, stepped, atol=1e-5, rtol=1e-5)
    first, mid = core(x[:5], core.initial_state(3), start[:5])  # a rollout cut in two
    second, _ = core(x[5:], mid, start[5:])
    torch.testing.assert_close(torch.cat([first, second]), at_once, atol=1e-5, rtol=1e-5)
    for a, b in zip(state, state2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_an_episode_start_forgets_and_the_context_bounds_the_memory():
    torch.manual_seed(1)
    core = AttentionCore(3, dim=8, heads=2, layers=1, context=3)
    x, start = torch.randn(8, 2, 3), torch.zeros(8, 2)
    start[0], start[4, 1] = 1, 1
    out, _ = core(x, core.initial_state(2), start)
    fresh, _ = core(x[4:, 1:], core.initial_state(1), start[4:, 1:])
    torch.testing.assert_close(out[4:, 1], fresh[:, 0])  # env 1 restarted at step 4
    changed = x.clone()
    changed[:4, 0] += 10.0  # env 0's steps 0..3: outside the 3-step window of step 6
    out2, _ = core(changed, core.initial_state(2), start)
    torch.testing.assert_close(out2[6:, 0], out[6:, 0])
    assert not torch.allclose(out2[5, 0], out[5, 0])  # step 5 still sees step 3


def test_a_zeroed_state_row_is_an_empty_memory():
    core = AttentionCore(3, dim=8, heads=2, layers=2, context=3)
    x = torch.randn(5, 2, 3)
    _, state = core(x, core.initial_state(2), torch.zeros(5, 2))
    for h in state:
        h[:, 1] = 0.0  # how Seated and the agents reset a row
    out, _ = core(x[:1], state, torch.zeros(1, 2))
    alone, _ = core(x[:1, 1:], core.initial_state(1), torch.zeros(1, 1))
    torch.testing.assert_close(out[:, 1], alone[:, 0])


def test_attention_nets_checkpoint_and_act(tmp_path):
    from ludus.agents import Policy
    from ludus.agents.checkpoint import load_policy, save_checkpoint, space_to_json

    obs = gym.spaces.Box(0, 1, (6, 7, 2), np.int8)
    actions = gym.spaces.Discrete(7)
    spec = NetSpec(encoder="attention", core="attention", attention_dim=16, attention_heads=2,
                   attention_layers=1, context=4, gated=True)
    net = build_net(spec, obs, actions, seed=0)
    save_checkpoint(tmp_path / "ck", net, {
        "algo": "ppo", "net_kind": "actor_critic", "net_spec": spec.to_json(),
        "obs_space": space_to_json(obs), "action_space": space_to_json(actions)})
    policy = load_policy(tmp_path / "ck")
    boards = np.random.default_rng(0).integers(0, 2, (4, 6, 7, 2)).astype(np.int8)
    mask = np.ones((4, 7), np.int8)
    mask[:, 3] = 0
    state = policy.initial_state(4)
    probs, state = policy.action_probs(boards, state, mask)
    expected, _ = Policy(net, obs, actions).action_probs(boards, net.initial_state(4), mask)
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    assert np.all(probs[:, 3] == 0) and np.allclose(probs.sum(1), 1)


def test_bad_attention_settings_are_one_clear_error():
    with pytest.raises(ValueError, match="not divisible by 3 heads"):
        build_net(NetSpec(core="attention", attention_dim=16, attention_heads=3),
                  gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2))
    with pytest.raises(ValueError, match="boards"):
        build_net(NetSpec(encoder="attention"), gym.spaces.Box(-1, 1, (4,)),
                  gym.spaces.Discrete(2))
    with pytest.raises(ValueError, match="context"):
        AttentionCore(3, context=0)
