import numpy as np
import pytest

from ludus.envs.datasets import GameDataset
from ludus.league.bots import make_bot
from ludus.league.recorder import clone_checkpoint, record, save_dataset


def test_the_recorder_writes_what_the_teacher_saw_and_did(tmp_path):
    data = record("tictactoe", "minimax", "random", 12, opening_moves=2, seed=3)
    assert data.info["num_games"] >= 12 and len(np.unique(data.game_index)) == data.info["num_games"]
    assert data.obs.shape[1:] == (3, 3, 2) and data.mask.shape[1:] == (9,)
    assert (data.mask[np.arange(len(data)), data.action] == 1).all()  # only legal moves
    # the teacher's own probabilities on each recorded position, and it played a best move
    expected, _ = make_bot("minimax").action_probs({"observation": data.obs, "action_mask": data.mask})
    np.testing.assert_allclose(data.probs, expected, atol=1e-6)
    assert (data.probs[np.arange(len(data)), data.action] > 0).all()
    assert set(np.unique(data.outcome)) <= {-1.0, 0.0, 1.0}
    assert (data.outcome >= 0).all()  # perfect play never loses
    for g in np.unique(data.game_index):  # one outcome per game
        assert len(set(data.outcome[data.game_index == g])) == 1
    path = save_dataset(data, tmp_path / "d" / "ttt.npz")
    back = GameDataset.load(path)
    assert back.game == "tictactoe" and back.info["teacher"] == "minimax"
    for key in ("obs", "mask", "action", "probs", "outcome", "game_index"):
        np.testing.assert_array_equal(getattr(back, key), getattr(data, key))
    train, held = back.split(0.25, seed=0)
    assert set(back.game_index[train]).isdisjoint(back.game_index[held])


def test_game_dataset_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        GameDataset.load(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(ValueError, match="bad.npz is not a ludus game dataset"):
        GameDataset.load(tmp_path / "bad.npz")


@pytest.mark.learning
def test_behaviour_cloning_reproduces_a_deterministic_teacher(tmp_path):
    from ludus.agents import load_policy
    from ludus.agents.bc import evaluate_clone
    from ludus.agents.core import as_tensor

    data = record("tictactoe", "minimax", "random", 60, opening_moves=3, seed=1)
    metrics = clone_checkpoint(data, tmp_path / "bc", epochs=60, lr=3e-3, patience=60)
    policy = load_policy(tmp_path / "bc")  # an ordinary checkpoint
    _, agreement = evaluate_clone(policy.net, as_tensor(data.obs, "cpu"),
                                  as_tensor(data.probs, "cpu"), as_tensor(data.mask, "cpu").bool())
    assert agreement > 0.9, metrics  # the positions it was trained on
    assert metrics["agreement"] > 0.8, metrics  # games it never saw
    probs, _ = policy.action_probs({"observation": data.obs, "action_mask": data.mask})
    assert (probs[data.mask == 0] == 0).all()


def test_a_dataset_of_another_game_is_refused(tmp_path):
    data = record("tictactoe", "random", "random", 2, seed=0)
    data.game = "connect_four"
    with pytest.raises(ValueError, match=r"shape \(3, 3, 2\) but connect_four gives \(6, 7, 2\)"):
        clone_checkpoint(data, tmp_path / "bc")


def test_mirrored_positions_are_legal_and_the_teacher_agrees_with_them():
    from ludus.envs.datasets import mirrored

    for game, teacher in (("tictactoe", "minimax"), ("connect_four", "greedy")):
        data = record(game, teacher, "random", 6, opening_moves=2, seed=4)
        both = mirrored(data)
        n = len(data)
        assert len(both) == 2 * n
        flipped = {"observation": both.obs[n:], "action_mask": both.mask[n:]}
        np.testing.assert_array_equal(both.mask[n:], _legal(game, both.obs[n:]))
        # the mirrored position's best moves are the mirror of the original's
        expected, _ = make_bot(teacher).action_probs(flipped)
        np.testing.assert_allclose(both.probs[n:], expected, atol=1e-6)
        assert (both.mask[np.arange(2 * n), both.action] == 1).all()


def _legal(game, planes):
    occupied = planes.sum(-1) > 0
    if game == "tictactoe":
        return (~occupied).reshape(len(planes), 9).astype(np.int8)
    return (~occupied[:, 0, :]).astype(np.int8)  # a column with a free top cell
