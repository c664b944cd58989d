import gymnasium as gym
import numpy as np
import pytest
import torch

from ludus.nets import (
    MLP,
    ActorCritic,
    BoardCNN,
    NatureCNN,
    NetSpec,
    QNetwork,
    RecurrentCore,
    RunningNorm,
    apply_mask,
    build_net,
)

VEC = gym.spaces.Box(-1, 1, (4,), np.float32)
BOARD = gym.spaces.Box(0, 1, (6, 7, 2), np.int8)
ATARI = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
MASKED = gym.spaces.Dict({"observation": BOARD,
                          "action_mask": gym.spaces.Box(0, 1, (7,), np.int8)})


@pytest.mark.parametrize("space,encoder", [(VEC, "mlp"), (BOARD, "board_cnn"),
                                           (ATARI, "nature_cnn"), (MASKED, "board_cnn")])
def test_builder_picks_encoder_and_shapes(space, encoder):
    n = 7 if space in (BOARD, MASKED) else 3
    net = build_net(NetSpec(), space, gym.spaces.Discrete(n), seed=0)
    body_cls = {"mlp": MLP, "board_cnn": BoardCNN, "nature_cnn": NatureCNN}[encoder]
    assert isinstance(net.actor.encoder, body_cls)
    box = space["observation"] if isinstance(space, gym.spaces.Dict) else space
    obs = torch.as_tensor(np.stack([box.sample() for _ in range(5)]))
    logits, value, state = net(obs)
    assert logits.shape == (5, n) and value.shape == (5,) and state is None


def test_cnn_layouts_agree_on_channels():
    assert NatureCNN((4, 84, 84)).channels_last is False
    assert NatureCNN((84, 84, 4)).channels_last is True
    assert BoardCNN((6, 7, 2)).channels_last is True


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh"])
def test_mlp_options(activation):
    mlp = MLP(4, (16, 8), activation, layer_norm=True, dropout=0.1)
    assert mlp(torch.zeros(3, 4)).shape == (3, 8)
    assert any(isinstance(m, torch.nn.LayerNorm) for m in mlp.modules())
    assert any(isinstance(m, torch.nn.Dropout) for m in mlp.modules())


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="swish"):
        MLP(4, (8,), "swish")


def test_masking_gives_exact_zero_probability_and_finite_entropy():
    logits = torch.randn(4, 7, requires_grad=True)
    mask = torch.tensor([[1, 0, 1, 0, 1, 1, 1]] * 4)
    masked = apply_mask(logits, mask)
    assert torch.isfinite(masked).all()
    probs = torch.softmax(masked, -1)
    assert (probs[:, [1, 3]] == 0).all()
    assert torch.allclose(probs.sum(-1), torch.ones(4))
    log_p = torch.log_softmax(masked, -1)
    entropy = -(log_p.exp() * log_p).sum(-1)
    entropy.sum().backward()
    assert torch.isfinite(entropy).all() and torch.isfinite(logits.grad).all()


def test_gradients_flow_through_every_head():
    ac = build_net(NetSpec(), VEC, gym.spaces.Discrete(3), seed=0)
    logits, value, _ = ac(torch.randn(8, 4))
    (logits.sum() + value.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ac.parameters())
    for dueling in (False, True):
        q = build_net(NetSpec(dueling=dueling), VEC, gym.spaces.Discrete(3), "q", seed=0)
        (q(torch.randn(8, 4)) ** 2).sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q.parameters())


def test_dueling_head_identity():
    q = build_net(NetSpec(dueling=True), VEC, gym.spaces.Discrete(3), "q", seed=0)
    x = torch.randn(5, 4)
    features = q.body(x)[0]
    v, a = q.q.value(features), q.q.advantage(features)
    assert torch.allclose(q(x), v + a - a.mean(-1, keepdim=True), atol=1e-6)


def test_seeded_build_is_reproducible_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_net(NetSpec(), VEC, gym.spaces.Discrete(2), seed=7)
    after = torch.rand(1)
    b = build_net(NetSpec(), VEC, gym.spaces.Discrete(2), seed=7)
    assert before == after
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                   b.state_dict().values(), strict=True))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_core_resets_state_at_episode_start(kind):
    core = RecurrentCore(3, 5, kind)
    x = torch.randn(6, 2, 3)
    start = torch.zeros(6, 2)
    start[3, 0] = 1.0  # env 0 begins a new episode at t=3
    out, _ = core(x, core.initial_state(2), start)
    fresh, _ = core(x[3:, :1], core.initial_state(1), torch.zeros(3, 1))
    assert torch.allclose(out[3:, :1], fresh, atol=1e-6)
    # env 1 carried its state through: differs from a fresh start at t=3
    other, _ = core(x[3:, 1:], core.initial_state(1), torch.zeros(3, 1))
    assert not torch.allclose(out[3:, 1:], other)


def test_recurrent_actor_critic_sequence_matches_stepwise():
    spec = NetSpec(hidden=(16,), core="gru", core_size=8, head_hidden=(8,))
    net = build_net(spec, VEC, gym.spaces.Discrete(2), seed=0)
    x, start = torch.randn(5, 3, 4), torch.zeros(5, 3)
    start[2, 1] = 1
    seq_logits, seq_v, _ = net(x, net.initial_state(3), start)
    state = net.initial_state(3)
    for t in range(5):
        logits, v, state = net(x[t : t + 1], state, start[t : t + 1])
        assert torch.allclose(logits[0], seq_logits[t], atol=1e-5)
        assert torch.allclose(v[0], seq_v[t], atol=1e-5)


def test_running_norm_matches_numpy():
    norm = RunningNorm((3,))
    data = np.random.default_rng(0).normal(2.0, 3.0, size=(1000, 3)).astype(np.float32)
    for chunk in np.split(data, 10):
        norm.update(torch.as_tensor(chunk))
    assert np.allclose(norm.mean.numpy(), data.mean(0), atol=1e-3)
    assert np.allclose(norm.var.numpy(), data.var(0), rtol=1e-3)


def test_spec_json_roundtrip_and_unknown_key():
    spec = NetSpec(hidden=(32, 16), core="lstm", dueling=True)
    assert NetSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="hiden"):
        NetSpec.from_json({"hiden": [3]})


def test_unsupported_spaces_are_named():
    with pytest.raises(ValueError, match="MultiBinary"):
        build_net(NetSpec(), VEC, gym.spaces.MultiBinary(3))
    with pytest.raises(ValueError, match="Discrete"):
        build_net(NetSpec(), VEC, gym.spaces.Box(-1, 1, (2,)), "q")
    with pytest.raises(ValueError, match="Box"):
        build_net(NetSpec(), VEC, gym.spaces.Box(-1, 1, (2, 2)))
    with pytest.raises(ValueError, match="feed-forward"):
        build_net(NetSpec(core="lstm"), VEC, gym.spaces.Discrete(2), "q")
    assert isinstance(build_net(NetSpec(), VEC, gym.spaces.Discrete(2), "q"), QNetwork)
    assert isinstance(build_net(NetSpec(), VEC, gym.spaces.Discrete(2)), ActorCritic)
