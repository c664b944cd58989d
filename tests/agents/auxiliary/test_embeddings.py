"""Move sequences from recorded games, GloVe co-occurrences and factorisation, the probe."""

import numpy as np
import pytest

from ludus.agents.auxiliary.embeddings import (
    GloVeConfig,
    cooccurrence,
    probe_accuracy,
    train_glove,
)
from ludus.envs.datasets import move_sequences
from ludus.league.recorder import record


@pytest.fixture(scope="module")
def games():
    return record("connect_four", "greedy", "greedy", 200, opening_moves=0, seed=0)


def test_move_sequences_replay_as_legal_games(games):
    for moves in move_sequences(games):
        board = np.zeros((6, 7), bool)
        assert len(set(moves.tolist())) == len(moves)  # each cell filled once
        for cell in moves:
            r, c = divmod(int(cell), 7)
            assert r == 5 or board[r + 1, c], (moves, cell)  # pieces fall to the bottom
            board[r, c] = True
    ttt = record("tictactoe", "minimax", "random", 4, seed=0)
    for moves in move_sequences(ttt):
        assert len(set(moves.tolist())) == len(moves) and moves.max() < 9
    with pytest.raises(ValueError, match="board planes"):
        move_sequences(record("spiel:kuhn_poker", "random", "random", 2))


def test_cooccurrence_counts_neighbours_by_distance():
    counts = cooccurrence([np.array([0, 1, 2])], vocab=3, window=2)
    np.testing.assert_allclose(counts, counts.T)
    assert counts[0, 1] == 1.0 and counts[0, 2] == 0.5 and counts[1, 2] == 1.0
    with pytest.raises(ValueError, match="tokens must be in 0..2"):
        cooccurrence([np.array([0, 3])], vocab=3, window=1)
    with pytest.raises(ValueError, match="window"):
        cooccurrence([np.array([0, 1])], vocab=3, window=0)


def test_the_probe_reads_what_is_linearly_there():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    structured = np.eye(4)[labels] + 0.1 * rng.standard_normal((40, 4))
    assert probe_accuracy(structured, labels) > 0.9
    assert probe_accuracy(rng.standard_normal((40, 4)), labels) < 0.5


@pytest.mark.learning
def test_glove_on_games_knows_the_columns_it_was_never_told(games):
    counts = cooccurrence(move_sequences(games), 42, 4)
    vectors, losses = train_glove(counts, GloVeConfig(epochs=150))
    assert losses[-1] < 0.2 * losses[0]
    columns = np.arange(42) % 7
    random = probe_accuracy(np.random.default_rng(0).standard_normal(vectors.shape), columns)
    assert probe_accuracy(vectors, columns) > random + 0.3, random  # chance 1/7
