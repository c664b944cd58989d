"""Masked-move pretraining: BERT's corruption rule, the baselines, and a model that learns."""

import numpy as np
import pytest
import torch

from ludus.agents.auxiliary.masked import MaskedConfig, baselines, mask_moves, train_masked
from ludus.envs.datasets import MoveRecords
from ludus.envs.history import encode
from ludus.league.recorder import record_moves


def test_bert_corruption_chooses_15_percent_and_replaces_80_10_10():
    rng = np.random.default_rng(0)
    moves = rng.integers(7, size=(2000, 42))
    moves[:, 30:] = -1  # positions after 30 plies
    first = np.full(2000, 4)  # four random opening moves: never targets
    x, chosen, replaced = mask_moves(moves, np.ones_like(moves, bool), first, 7, 0.15, rng,
                                    encode)
    chosen, replaced = chosen.numpy(), replaced.numpy()
    assert not chosen[:, :4].any() and not chosen[:, 30:].any()
    assert 0.13 < chosen[:, 4:30].mean() < 0.17
    assert 0.77 < replaced.sum() / chosen.sum() < 0.83
    inputs = x.numpy()
    assert (inputs[replaced][:, :7] == 0).all() and (inputs[replaced][:, 8] == 1).all()
    kept = chosen & ~replaced
    same = (inputs[kept][:, :7].argmax(1) == moves[kept])
    assert 0.5 < same.mean() < 0.7  # 10% unchanged, 10% random (a seventh of those agree)
    assert (inputs[:, 30:] == 0).all()
    with pytest.raises(ValueError, match="mask_rate"):
        MaskedConfig(mask_rate=0.0).validate()


def test_the_baselines_count_what_they_say():
    games = np.array([[3, 3, 4, -1], [3, 3, 4, 2]], dtype=np.int8)
    records = MoveRecords("connect_four", games, np.zeros(2, np.int64))
    replaced = np.zeros((2, 4), bool)
    replaced[:, 1] = replaced[:, 2] = True  # targets 3 (after 3) and 4 (after 3)
    out = baselines(records, np.arange(2), games.astype(np.int64), replaced, 7)
    assert out["baseline/majority"] == 0.5  # always 3
    assert out["baseline/bigram"] == 0.5  # after 3 comes 3 (twice) more often than 4


@pytest.mark.learning
def test_the_masked_model_beats_the_bigram_guess_on_minimax_games():
    records = record_moves("tictactoe", "minimax", "minimax", 300, opening_moves=2, seed=0)
    torch.manual_seed(0)
    _, out = train_masked(records, 9, encode, MaskedConfig(dim=32, layers=1, heads=2, steps=300,
                                                batch_size=128, learning_rate=3e-3))
    assert out["masked/accuracy"] > out["baseline/bigram"] + 0.1, out
