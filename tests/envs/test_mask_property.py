"""Property-based mask checks (hypothesis): on any reachable position of ludus's games the
mask is exactly the set of moves the game accepts, and neither a policy (whatever its
weights) nor a bot ever picks a move outside it."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ludus import envs
from ludus.agents.policy import Policy
from ludus.league.bots import GreedyBot, RandomBot
from ludus.nets import NetSpec, build_net


def position(game: str, choices: list[int]):
    """The game after playing, for each choice, the legal move it indexes (modulo)."""
    board = envs.make_game(game, 1)
    for c in choices:
        mask = board.action_mask()[0]
        won, draw, done = board.step(np.array([np.flatnonzero(mask)[c % mask.sum()]]))
        if done[0]:
            break
    return board


def random_policy(board, seed: int, scale: float) -> Policy:
    versus = envs.Versus(board, RandomBot())
    spaces = versus.single_observation_space, versus.single_action_space
    net = build_net(NetSpec(hidden=(16,)), *spaces, "actor_critic", seed=seed)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)  # sharpen the logits far beyond what training produces
    return Policy(net, *spaces, seed=seed)


@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
@settings(max_examples=25, deadline=None)
@given(choices=st.lists(st.integers(0, 100), max_size=40), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 30.0, 1000.0]))
def test_no_illegal_move_is_ever_chosen(game, choices, seed, scale):
    board = position(game, choices)
    mask = board.action_mask()[0]
    if not mask.any():
        return  # a full board: nothing to choose
    for a in range(board.num_actions):  # the mask is exactly what the game accepts
        trial = position(game, choices)
        if mask[a]:
            trial.step(np.array([a]))
        else:
            with pytest.raises(ValueError, match="illegal action"):
                trial.step(np.array([a]))
    obs = {"observation": np.repeat(board.observation(), 64, 0),
           "action_mask": np.repeat(board.action_mask(), 64, 0)}
    policy = random_policy(board, seed, scale)
    probs, _ = policy.action_probs(obs)
    assert (probs[:, mask == 0] == 0).all() and np.allclose(probs.sum(1), 1)
    for player in (policy, RandomBot(seed), GreedyBot(seed)):
        actions, _ = player.act(obs)
        assert mask[actions].all(), (player, actions, mask)
    actions, _ = policy.act(obs, deterministic=True)
    assert mask[actions].all()
