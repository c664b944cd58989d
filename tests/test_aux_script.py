"""scripts/aux.py: tasks end to end on small budgets, and its one-line errors."""

import json

import numpy as np
import pytest

from ludus.scripts.aux import main


def run(tmp_path, *argv):
    return main([*argv, "--run-dir", str(tmp_path), "--no-console"])


def test_classifier_task_writes_curves_pictures_and_a_model(tmp_path, capsys):
    assert run(tmp_path, "--task", "digits-perceptron", "--epochs", "3") == 0
    folder = next(tmp_path.glob("digits-perceptron__0__*"))
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss/train" in x] == [1, 2, 3]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["test/accuracy"] > 0.5 and np.array(summary["confusion_matrix"]).shape == (10, 10)
    assert (folder / "confusion_matrix.png").exists() and (folder / "model" / "meta.json").exists()
    assert "test/accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("task, picture", [("autoencoder", "reconstructions"), ("gan", "samples"),
                                           ("rbm", "gibbs_samples"), ("som", "map")])
def test_generative_tasks_draw_their_pictures(tmp_path, task, picture):
    import imageio.v3 as iio

    assert run(tmp_path, "--task", task, "--epochs", "1") == 0
    image = iio.imread(next(tmp_path.glob(f"{task}__*")) / f"{picture}.png")
    assert image.ndim == 2 and image.std() > 0


def test_bc_task_clones_a_recorded_dataset(tmp_path):
    from ludus.league.recorder import record, save_dataset

    save_dataset(record("tictactoe", "minimax", "random", 80, seed=1), tmp_path / "ttt.npz")
    assert run(tmp_path, "--task", "bc", "--env-id", "tictactoe", "--dataset",
               str(tmp_path / "ttt.npz"), "--epochs", "10") == 0
    summary = json.loads(next(tmp_path.glob("bc__*/summary.json")).read_text())
    assert summary["positions"] > 800  # 80 games and their mirror images
    # the clone plays the teacher's moves on held-out games, and beats random far more
    # often than random play does (about 0.44 over both seats)
    assert summary["agreement"] >= 0.65 and summary["wins_vs_random"] >= 0.7, summary
    assert next(tmp_path.glob("bc__*/checkpoint/model.safetensors"))


def test_bad_input_gets_one_line(tmp_path, capsys):
    from ludus.league.recorder import record, save_dataset

    (tmp_path / "not.idx").write_text("text")
    save_dataset(record("tictactoe", "random", "random", 2, seed=0), tmp_path / "ttt.npz")
    save_dataset(record("spiel:kuhn_poker", "random", "random", 2, seed=0), tmp_path / "kuhn.npz")
    cases = [
        (["--task", "digit-mlp"], "unknown task 'digit-mlp'; did you mean digits-mlp"),
        (["--task", "digits-mlp", "--idx-images", str(tmp_path / "x"), "--idx-labels",
          str(tmp_path / "y")], "does not exist"),
        (["--task", "digits-mlp", "--idx-images", str(tmp_path / "not.idx"), "--idx-labels",
          str(tmp_path / "not.idx")], "is not an IDX file"),
        (["--task", "bc", "--dataset", str(tmp_path / "ttt.npz"), "--env-id", "connect_four"],
         "recorded observations have shape (3, 3, 2) but connect_four gives (6, 7, 2)"),
        (["--task", "glove", "--dataset", str(tmp_path / "kuhn.npz")], "need board planes"),
        (["--task", "glove", "--dataset", str(tmp_path / "ttt.npz"), "--window", "0"],
         "window"),
        (["--task", "sequence-attention", "--context", "10"], "longer than the attention"),
        (["--task", "masked-moves", "--mask-rate", "1.5"], "mask_rate must be in (0, 1)"),
        (["--task", "masked-moves", "--dataset", str(tmp_path / "ttt.npz")],
         "is not a ludus move record"),
    ]
    for argv, message in cases:
        assert run(tmp_path / "runs", *argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err


def test_lecture_tasks_run_and_draw(tmp_path):
    """digits-capsules, glove and masked-moves end to end, briefly."""
    from ludus.agents.files import atomic_write
    from ludus.league.recorder import record, record_moves, save_dataset

    assert run(tmp_path, "--task", "digits-capsules", "--epochs", "1") == 0
    summary = json.loads(next(tmp_path.glob("digits-capsules__*/summary.json")).read_text())
    assert {"caps/test/accuracy", "cnn/test/accuracy", "caps/shift_left_accuracy"} <= set(summary)
    save_dataset(record("tictactoe", "minimax", "random", 20, seed=1), tmp_path / "ttt.npz")
    assert run(tmp_path, "--task", "glove", "--dataset", str(tmp_path / "ttt.npz"),
               "--epochs", "50") == 0
    assert next(tmp_path.glob("glove__*/embeddings.png")).stat().st_size > 0
    atomic_write(tmp_path / "moves.npz",
                 record_moves("tictactoe", "minimax", "minimax", 40, 2, seed=0).to_bytes())
    assert run(tmp_path, "--task", "masked-moves", "--dataset", str(tmp_path / "moves.npz"),
               "--epochs", "20") == 0
    folder = next(tmp_path.glob("masked-moves__*"))
    summary = json.loads((folder / "summary.json").read_text())
    assert {"masked/accuracy", "baseline/bigram", "baseline/majority"} <= set(summary)
    assert (folder / "loss.png").exists() and (folder / "model" / "model.safetensors").exists()
