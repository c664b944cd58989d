import gzip

import numpy as np
import pytest

from ludus.envs import datasets


def write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(">u1" if code == 0x08 else ">i4").tobytes()
    (gzip.open if str(path).endswith(".gz") else open)(path, "wb").write(data)


def test_digits_split_is_fixed_by_seed_and_covers_every_image():
    a, b, c = datasets.digits(0), datasets.digits(0), datasets.digits(1)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == 1797
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == np.float32
    assert a.x_train.min() >= 0.0 and a.x_train.max() <= 1.0 and a.num_classes == 10


def test_idx_files_round_trip_and_bad_files_name_themselves(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 5, 4)).astype(np.uint8)
    labels = rng.integers(0, 3, 50).astype(np.uint8)
    write_idx(tmp_path / "img.idx.gz", images)
    write_idx(tmp_path / "lab.idx", labels)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "img.idx.gz"), images)
    split = datasets.idx_images(tmp_path / "img.idx.gz", tmp_path / "lab.idx")
    assert split.x_train.shape[1:] == (1, 5, 4) and split.num_classes == 3
    with pytest.raises(FileNotFoundError, match="nope.idx does not exist"):
        datasets.read_idx(tmp_path / "nope.idx")
    (tmp_path / "text.idx").write_text("hello world")
    with pytest.raises(ValueError, match="text.idx is not an IDX file"):
        datasets.read_idx(tmp_path / "text.idx")
    write_idx(tmp_path / "short.idx", images)
    (tmp_path / "short.idx").write_bytes((tmp_path / "short.idx").read_bytes()[:-7])
    with pytest.raises(ValueError, match="header says shape"):
        datasets.read_idx(tmp_path / "short.idx")


def test_sequence_tasks():
    sine = datasets.sine_sequences(num=20, length=30, seed=0)
    np.testing.assert_array_equal(sine.x_train[:, 1:], sine.y_train[:, :-1])  # one step ahead
    copy = datasets.copy_task(num=30, symbols=4, delay=6, seed=0)
    assert copy.x_train.shape[1:] == (7, 5)
    np.testing.assert_array_equal(copy.x_train[:, 0, :4].argmax(1), copy.y_train)
    assert (copy.x_train[:, 1:-1] == 0).all() and (copy.x_train[:, -1, 4] == 1).all()
