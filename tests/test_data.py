"""Tests for nasbench_suite.data: splits, normalization, determinism, errors, safe CIFAR reading."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite.data import (
    CIFAR10_16PX_FILE,
    CIFAR10_16PX_SHA256,
    CIFAR10_16PX_SOURCE,
    CIFAR10_BATCH_DIR,
    CIFAR10_TEST_BATCH,
    CIFAR10_TRAIN_BATCHES,
    DATA_DIR_ENV,
    DATASETS,
    SPLITS,
    Dataset,
    load_dataset,
    read_cifar_batch,
    restricted_pickle_load,
    split_table,
    split_table_markdown,
    stratified_order,
    stratified_split,
)
from nasbench_suite.errors import DatasetError, NasBenchError

REAL_DIR = Path("/work/shared/datasets")
REAL_NPZ = REAL_DIR / CIFAR10_16PX_FILE


# ------------------------------------------------------------------------------------------
# helpers


def _fake_cifar(n_train: int = 200, n_test: int = 50, seed: int = 0, res: int = 16):
    """Random uint8 HWC images and balanced-ish labels, like the npz format."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, size=(n_train, res, res, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n_test, res, res, 3), dtype=np.uint8)
    y_train = (np.arange(n_train) % 10)[rng.permutation(n_train)].astype(np.uint8)
    y_test = (np.arange(n_test) % 10)[rng.permutation(n_test)].astype(np.uint8)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _write_npz(folder: Path, arrays: dict, compressed: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CIFAR10_16PX_FILE
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz" twice
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return path


def _assert_normalized(ds: Dataset) -> None:
    x = ds.splits["train"].x
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    std = x.std(axis=(0, 2, 3), dtype=np.float64)
    np.testing.assert_allclose(mean, 0.0, atol=1e-5)
    np.testing.assert_allclose(std, 1.0, atol=1e-4)


def _assert_partition(ds: Dataset, pool_sizes: dict[str, int]) -> None:
    """train/valid/test are disjoint and cover their source pools exactly."""
    by_pool: dict[str, list[np.ndarray]] = {}
    for s in SPLITS:
        info = ds.split_info["splits"][s]
        by_pool.setdefault(info["from"], []).append(ds.splits[s].index)
        idx = ds.splits[s].index
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)  # ascending, no repeats
    for pool, parts in by_pool.items():
        allidx = np.concatenate(parts)
        assert len(allidx) == len(np.unique(allidx)) == pool_sizes[pool]


class _Py2StylePickler(pickle._Pickler):  # type: ignore[misc,name-defined]
    """Writes str and bytes as Python 2 ``str`` opcodes (BINSTRING), like the real CIFAR files."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def _save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def _batch_bytes(x_chw: np.ndarray, y: np.ndarray, label: str, py2: bool = True) -> bytes:
    batch = {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in y],
        b"data": x_chw.reshape(len(x_chw), -1),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(y))],
    }
    if not py2:
        return pickle.dumps(batch, protocol=4)
    buf = io.BytesIO()
    _Py2StylePickler(buf, protocol=2).dump(batch)
    # Python 2 era numpy named the reconstructor numpy.core.multiarray (GLOBAL is plain text).
    return buf.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )


def _write_batches(folder: Path, arrays: dict, py2: bool = True) -> None:
    """Fake cifar-10-batches-py: x_train split into 5 batches, CHW layout, 32x32 or any size."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train = arrays["x_train"].transpose(0, 3, 1, 2)
    x_test = arrays["x_test"].transpose(0, 3, 1, 2)
    chunks = np.array_split(np.arange(len(x_train)), 5)
    for name, rows in zip(CIFAR10_TRAIN_BATCHES, chunks):
        (folder / name).write_bytes(_batch_bytes(x_train[rows], arrays["y_train"][rows], name, py2))
    (folder / CIFAR10_TEST_BATCH).write_bytes(
        _batch_bytes(x_test, arrays["y_test"], "testing batch 1 of 1", py2)
    )


# ------------------------------------------------------------------------------------------
# registry and docs


def test_registry_and_split_table_document_every_split():
    assert set(DATASETS) == {"cifar10-16px", "cifar10", "digits", "synthetic"}
    rows = split_table()
    assert {(r["dataset"], r["split"]) for r in rows} == {(d, s) for d in DATASETS for s in SPLITS}
    sizes = {(r["dataset"], r["split"]): r["size"] for r in rows}
    assert sizes[("cifar10-16px", "train")] == sizes[("cifar10-16px", "valid")] == 25_000
    assert sizes[("cifar10-16px", "test")] == 10_000
    assert [sizes[("digits", s)] for s in SPLITS] == [1_197, 300, 300]
    json.dumps(rows)
    md = split_table_markdown()
    assert md.count("\n| cifar10-16px |") == 3 and "25,000" in md


def test_unknown_dataset_is_one_clear_error():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar100'.*cifar10-16px"):
        load_dataset("cifar100")
    with pytest.raises(DatasetError, match=r"unknown dataset \['digits'\]"):
        load_dataset(["digits"])  # type: ignore[arg-type]
    assert issubclass(DatasetError, NasBenchError) and issubclass(DatasetError, ValueError)


# ------------------------------------------------------------------------------------------
# digits and synthetic


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_digits_splits_sizes_shapes_and_disjointness(digits):
    assert {s: len(digits.splits[s]) for s in SPLITS} == {"train": 1197, "valid": 300, "test": 300}
    assert list(digits.splits) == list(SPLITS)
    assert (digits.num_classes, digits.in_channels, digits.resolution) == (10, 1, 8)
    assert digits.augment is False
    for split in digits.splits.values():
        assert split.x.dtype == np.float32 and split.x.flags.c_contiguous
        assert split.x.shape == (len(split), 1, 8, 8)
        assert split.y.dtype == np.int64
    _assert_partition(digits, {"all": 1797})
    assert digits.split_info["split_seed"] == 201
    assert digits.split_info["sizes"] == {"train": 1197, "valid": 300, "test": 300}


def test_digits_stratified_and_labels_follow_source_rows(digits):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    totals = np.bincount(bunch.target, minlength=10)
    for s in SPLITS:
        split = digits.splits[s]
        np.testing.assert_array_equal(split.y, bunch.target[split.index])
        counts = np.bincount(split.y, minlength=10)
        assert counts.tolist() == digits.split_info["class_counts"][s]
        expected = totals * len(split) / totals.sum()
        assert np.all(np.abs(counts - expected) <= 1.5), (s, counts, expected)
    # pixels: the normalized split maps back to the raw images
    test = digits.splits["test"]
    raw = test.x[:, 0] * digits.std[0] + digits.mean[0]
    np.testing.assert_allclose(raw, bunch.images[test.index], atol=1e-4)


def test_digits_normalization_uses_train_only(digits):
    _assert_normalized(digits)
    from sklearn.datasets import load_digits

    images = load_digits().images
    train_raw = images[digits.splits["train"].index]
    assert digits.mean[0] == pytest.approx(train_raw.mean(), abs=1e-12)
    assert digits.std[0] == pytest.approx(train_raw.std(), abs=1e-12)
    assert digits.mean[0] != pytest.approx(images.mean(), abs=1e-9)  # not the full-data mean


def test_loading_twice_is_identical_and_describe_is_json(digits):
    again = load_dataset("digits")
    for s in SPLITS:
        for field in ("x", "y", "index"):
            np.testing.assert_array_equal(getattr(digits.splits[s], field), getattr(again.splits[s], field))
        assert digits.splits[s].x is not again.splits[s].x  # fresh arrays per call
    assert digits.sha256 == again.sha256 and len(digits.sha256) == 64
    text = json.dumps(digits.describe(), sort_keys=True)
    assert text == json.dumps(again.describe(), sort_keys=True)
    desc = json.loads(text)
    assert desc["name"] == "digits" and desc["augment"] is False
    assert desc["split_info"]["sizes"]["train"] == 1197
    assert "x" not in desc and "splits" not in desc


def test_split_indices_are_a_pure_function_of_labels_and_seed():
    y = np.repeat(np.arange(5), [7, 9, 11, 13, 10])
    sizes = [("test", 10), ("valid", 10), ("train", None)]
    np.random.seed(123)  # the global RNG must not matter
    a = stratified_split(y, sizes, seed=7)
    np.random.seed(999)
    b = stratified_split(y, sizes, seed=7)
    c = stratified_split(y, sizes, seed=8)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(len(y)))
    assert [len(a[k]) for k in ("test", "valid", "train")] == [10, 10, len(y) - 20]
    with pytest.raises(DatasetError):
        stratified_split(y, [("a", 60), ("b", None)], seed=0)


def test_synthetic_is_small_learnable_and_seeded():
    ds = load_dataset("synthetic")
    assert {s: len(ds.splits[s]) for s in SPLITS} == {"train": 400, "valid": 100, "test": 100}
    assert ds.splits["train"].x.shape[1:] == (3, 8, 8) and ds.augment is False
    _assert_normalized(ds)
    _assert_partition(ds, {"all": 600})
    assert ds.sha256 == load_dataset("synthetic").sha256
    # nearest class mean on train -> valid is far above chance (0.1)
    tr, va = ds.splits["train"], ds.splits["valid"]
    centroids = np.stack([tr.x[tr.y == k].mean(axis=0).ravel() for k in range(10)])
    dist = ((va.x.reshape(len(va), 1, -1) - centroids[None]) ** 2).sum(axis=2)
    assert (dist.argmin(axis=1) == va.y).mean() > 0.4


# ------------------------------------------------------------------------------------------
# max_train


def test_max_train_subset_is_stratified_nested_and_recorded(digits):
    small = load_dataset("digits", max_train=200)
    large = load_dataset("digits", max_train=600)
    assert len(small.splits["train"]) == 200 and len(large.splits["train"]) == 600
    assert set(small.splits["train"].index) <= set(large.splits["train"].index)
    assert set(large.splits["train"].index) <= set(digits.splits["train"].index)
    for s in ("valid", "test"):  # only the train split changes
        np.testing.assert_array_equal(small.splits[s].index, digits.splits[s].index)
    counts = np.bincount(small.splits["train"].y, minlength=10)
    full = np.bincount(digits.splits["train"].y, minlength=10)
    assert np.all(np.abs(counts - full * 200 / full.sum()) <= 1.5)
    info = small.split_info
    assert info["max_train"] == 200 and info["sizes"]["train"] == 200
    assert info["train_subset"]["size"] == 200 and info["train_subset"]["of"] == 1197
    assert digits.split_info["train_subset"] is None
    _assert_normalized(small)  # statistics come from the subset actually used
    again = load_dataset("digits", max_train=200)
    np.testing.assert_array_equal(again.splits["train"].x, small.splits["train"].x)


def test_stratified_order_prefixes_are_balanced():
    y = np.repeat(np.arange(10), 50)
    order = stratified_order(y, seed=3)
    assert sorted(order.tolist()) == list(range(500))
    for m in (1, 7, 10, 33, 250, 499):
        counts = np.bincount(y[order[:m]], minlength=10)
        assert np.all(np.abs(counts - m / 10) <= 1), (m, counts)


@pytest.mark.parametrize("bad", [0, -5, 1198, True, 10.0, "100"])
def test_max_train_out_of_range_or_wrong_type(bad):
    with pytest.raises(DatasetError, match="max_train"):
        load_dataset("digits", max_train=bad)


# ------------------------------------------------------------------------------------------
# cifar10-16px from a fake small npz


def test_fake_npz_loads_with_half_half_split(tmp_path):
    arrays = _fake_cifar(200, 50)
    path = _write_npz(tmp_path, arrays)
    ds = load_dataset("cifar10-16px", tmp_path)
    assert {s: len(ds.splits[s]) for s in SPLITS} == {"train": 100, "valid": 100, "test": 50}
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ds.source == CIFAR10_16PX_SOURCE
    assert (ds.num_classes, ds.in_channels, ds.resolution, ds.augment) == (10, 3, 16, True)
    assert ds.splits["train"].x.shape == (100, 3, 16, 16)
    _assert_partition(ds, {"train": 200, "test": 50})
    np.testing.assert_array_equal(ds.splits["test"].index, np.arange(50))  # official order
    assert ds.split_info["class_counts"]["train"] == [10] * 10
    assert ds.split_info["class_counts"]["valid"] == [10] * 10
    _assert_normalized(ds)
    # each normalized image maps back to its HWC source row
    for s, pool in (("train", "x_train"), ("valid", "x_train"), ("test", "x_test")):
        split = ds.splits[s]
        raw = split.x * np.array(ds.std, np.float32)[:, None, None] + np.array(ds.mean)[:, None, None]
        src = arrays[pool][split.index].transpose(0, 3, 1, 2)
        np.testing.assert_allclose(raw, src, atol=1e-3)
        np.testing.assert_array_equal(split.y, arrays["y" + pool[1:]][split.index])
    json.dumps(ds.describe())
    assert str(tmp_path) not in json.dumps(ds.describe())  # manifests carry no local paths


def test_fake_npz_odd_size_and_uncompressed_and_str_path(tmp_path):
    _write_npz(tmp_path, _fake_cifar(201, 13, seed=1), compressed=False)
    ds = load_dataset("cifar10-16px", str(tmp_path))
    assert {s: len(ds.splits[s]) for s in SPLITS} == {"train": 100, "valid": 101, "test": 13}


def test_env_var_gives_the_data_dir(tmp_path, monkeypatch):
    _write_npz(tmp_path, _fake_cifar(40, 10))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    ds = load_dataset("cifar10-16px")
    assert len(ds.splits["train"]) == 20


def test_env_var_unset_is_one_clear_error(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DatasetError, match=f"{DATA_DIR_ENV}.*{CIFAR10_16PX_FILE}"):
        load_dataset("cifar10-16px")
    monkeypatch.setenv(DATA_DIR_ENV, "")
    with pytest.raises(DatasetError, match=DATA_DIR_ENV):
        load_dataset("cifar10")


def test_missing_dir_and_missing_file_say_where(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match="does not exist") as info:
        load_dataset("cifar10-16px", missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv(DATA_DIR_ENV, str(missing))
    with pytest.raises(DatasetError, match=r"from \$NASBENCH_DATA_DIR"):
        load_dataset("cifar10-16px")
    with pytest.raises(DatasetError, match="not found") as info:
        load_dataset("cifar10-16px", tmp_path)
    assert str(tmp_path / CIFAR10_16PX_FILE) in str(info.value)
    assert "x_train (N,16,16,3) uint8" in str(info.value)


def _without(arrays: dict, key: str) -> dict:
    return {k: v for k, v in arrays.items() if k != key}


_GOOD = _fake_cifar(40, 10)
_BAD_NPZ = {
    "missing y_test": (_without(_GOOD, "y_test"), "lacks y_test"),
    "renamed keys": ({"x": _GOOD["x_train"], "y": _GOOD["y_train"]}, "lacks x_train"),
    "32px images": ({**_GOOD, "x_train": np.zeros((40, 32, 32, 3), np.uint8)}, "x_train should be"),
    "CHW layout": ({**_GOOD, "x_test": _GOOD["x_test"].transpose(0, 3, 1, 2).copy()}, "x_test"),
    "float images": ({**_GOOD, "x_train": _GOOD["x_train"].astype(np.float32)}, "uint8"),
    "label count": ({**_GOOD, "y_train": _GOOD["y_train"][:-1]}, "y_train should be"),
    "float labels": ({**_GOOD, "y_test": _GOOD["y_test"].astype(np.float32)}, "integer labels"),
    "label range": ({**_GOOD, "y_train": _GOOD["y_train"] + 5}, "outside 0..9"),
    "2-D labels": ({**_GOOD, "y_test": _GOOD["y_test"][:, None]}, "y_test should be"),
    "no images": ({**_GOOD, "x_test": _GOOD["x_test"][:0], "y_test": _GOOD["y_test"][:0]}, "N >= 1"),
}


@pytest.mark.parametrize("case", sorted(_BAD_NPZ))
def test_malformed_npz_is_one_clear_error(tmp_path, case):
    arrays, message = _BAD_NPZ[case]
    path = _write_npz(tmp_path, arrays)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("cifar10-16px", tmp_path)
    assert str(path) in str(info.value)


def test_unreadable_npz_files(tmp_path):
    path = tmp_path / CIFAR10_16PX_FILE
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset("cifar10-16px", tmp_path)
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(DatasetError, match="single .npy"):
        load_dataset("cifar10-16px", tmp_path)
    with open(path, "wb") as f:  # an object array is stored as a pickle: refused
        np.savez(f, **{**_GOOD, "y_train": np.array([object()] * 40)})
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset("cifar10-16px", tmp_path)


def _damage_npy_header(data: bytes) -> bytes:
    """The first member's .npy header with its closing brace blanked (numpy's parser: TokenError)."""
    start = data.index(b"{'descr'")
    end = data.index(b"}", start)
    return data[:end] + b" " + data[end + 1:]


def _damage_deflate(data: bytes) -> bytes:
    """The first member's deflate stream starting with an invalid block type (zlib.error)."""
    name_len, extra_len = struct.unpack("<HH", data[26:30])
    start = 30 + name_len + extra_len
    return data[:start] + b"\xff\xff" + data[start + 2:]


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "cifar10_16px.npz is a folder;"),
    (lambda p: p.write_text("x_train,y_train\n"), "not an .npz (zip) archive: it starts with b'x_trai'"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
], ids=["folder", "text", "empty"])
def test_a_dataset_file_that_is_not_an_npz_says_what_it_is(tmp_path, make, says):
    """A folder of the file's name was 'not found'; a text file got numpy's 'pickled data' message."""
    make(tmp_path / CIFAR10_16PX_FILE)
    with pytest.raises(DatasetError, match=re.escape(says)):
        load_dataset("cifar10-16px", tmp_path)


@pytest.mark.parametrize("compressed, damage", [(False, _damage_npy_header), (True, _damage_deflate)],
                         ids=["npy header", "deflate stream"])
def test_a_damaged_array_inside_the_npz_is_one_clear_error(tmp_path, compressed, damage):
    """Bytes damaged inside a member raised tokenize.TokenError / zlib.error: a traceback from the CLI."""
    from nasbench_suite.cli import main

    path = _write_npz(tmp_path / "data", _GOOD, compressed=compressed)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetError, match="cannot be read") as info:
        load_dataset("cifar10-16px", path.parent)
    assert str(path) in str(info.value)
    out = tmp_path / "pack"
    out.mkdir()
    argv = ["data", "pack", "--dataset", "cifar10-16px", "--train-subset", "10", "--data-dir", str(path.parent),
            "--out", str(out)]
    assert main(argv) == 2


# ------------------------------------------------------------------------------------------
# cifar10 python batches and the restricted unpickler


@pytest.mark.parametrize("py2", [True, False], ids=["py2-style", "protocol4"])
def test_fake_cifar_batches_load(tmp_path, py2):
    arrays = _fake_cifar(100, 20, seed=2, res=32)
    folder = tmp_path / CIFAR10_BATCH_DIR
    _write_batches(folder, arrays, py2=py2)
    ds = load_dataset("cifar10", tmp_path)
    assert {s: len(ds.splits[s]) for s in SPLITS} == {"train": 50, "valid": 50, "test": 20}
    assert (ds.resolution, ds.in_channels, ds.augment) == (32, 3, True)
    files = [*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH]
    digest = hashlib.sha256(b"".join((folder / f).read_bytes() for f in files)).hexdigest()
    assert ds.sha256 == digest
    _assert_normalized(ds)
    split = ds.splits["valid"]
    np.testing.assert_array_equal(split.y, arrays["y_train"][split.index])
    raw = split.x * np.array(ds.std, np.float32)[:, None, None] + np.array(ds.mean)[:, None, None]
    np.testing.assert_allclose(raw, arrays["x_train"][split.index].transpose(0, 3, 1, 2), atol=1e-3)


def test_cifar10_and_16px_share_split_rows(tmp_path):
    arrays32 = _fake_cifar(100, 20, seed=4, res=32)
    _write_batches(tmp_path / CIFAR10_BATCH_DIR, arrays32)
    arrays16 = {**arrays32, "x_train": arrays32["x_train"][:, ::2, ::2].copy(),
                "x_test": arrays32["x_test"][:, ::2, ::2].copy()}
    _write_npz(tmp_path, arrays16)
    a, b = load_dataset("cifar10", tmp_path), load_dataset("cifar10-16px", tmp_path)
    for s in SPLITS:
        np.testing.assert_array_equal(a.splits[s].index, b.splits[s].index)


def test_read_cifar_batch_directly(tmp_path):
    arrays = _fake_cifar(12, 1, res=32)
    path = tmp_path / "data_batch_1"
    path.write_bytes(_batch_bytes(arrays["x_train"].transpose(0, 3, 1, 2), arrays["y_train"], "b1"))
    x, y = read_cifar_batch(path)
    assert x.shape == (12, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x, arrays["x_train"].transpose(0, 3, 1, 2))


def test_incomplete_batch_dir_says_what_is_missing(tmp_path):
    folder = tmp_path / CIFAR10_BATCH_DIR
    _write_batches(folder, _fake_cifar(50, 10, res=32))
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="lacks data_batch_3") as info:
        load_dataset("cifar10", tmp_path)
    assert str(folder) in str(info.value)


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickles_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    payloads = {
        "reduce os.system": pickle.dumps({b"data": _Evil(marker)}, protocol=2),
        "protocol 4": pickle.dumps(_Evil(marker), protocol=4),
        "literal os.system": b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",
        "builtins eval": b"cbuiltins\neval\n(S'1+1'\ntR.",
    }
    for name, payload in payloads.items():
        with pytest.raises(DatasetError, match="refusing to unpickle"):
            restricted_pickle_load(io.BytesIO(payload))
        path = tmp_path / "data_batch_1"
        path.write_bytes(payload)
        with pytest.raises(DatasetError, match="refusing") as info:
            read_cifar_batch(path)
        assert str(path) in str(info.value), name
    assert not marker.exists()


def test_malicious_batch_inside_dataset_dir_is_refused(tmp_path):
    folder = tmp_path / CIFAR10_BATCH_DIR
    _write_batches(folder, _fake_cifar(50, 10, res=32))
    marker = tmp_path / "pwned"
    (folder / CIFAR10_TEST_BATCH).write_bytes(pickle.dumps({b"data": _Evil(marker)}, protocol=2))
    with pytest.raises(DatasetError, match="refusing"):
        load_dataset("cifar10", tmp_path)
    assert not marker.exists()


class _Allocate:
    def __reduce__(self):
        return (np.ndarray, ((1000, 3072), "u1"))


def test_a_batch_cannot_allocate_what_it_does_not_hold(tmp_path):
    """A pickle calling numpy.ndarray((N, 3072), 'u1') made an array of any size (8 GiB as easily as these
    3 MB) from a file of 2 kB, and it was read as N zero images."""
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Allocate(), b"labels": [0] * 1000}, protocol=2))
    with pytest.raises(DatasetError, match=r"refusing a numpy\.ndarray\(\.\.\.\) call"):
        read_cifar_batch(path)


def test_damaged_or_odd_batches(tmp_path):
    good = _batch_bytes(np.zeros((4, 3, 32, 32), np.uint8), np.arange(4), "b")
    cases = {
        "truncated": (good[: len(good) // 2], "not a readable"),
        "not a dict": (pickle.dumps([1, 2, 3], protocol=2), "not a dict"),
        "no labels": (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "lacks"),
        "wrong width": (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
                        "should be uint8"),
        "huge reconstruct": (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n"
                             b"(I100000000000\ntS'b'\ntR.", "refusing numpy _reconstruct"),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / name.replace(" ", "_")
        path.write_bytes(payload)
        with pytest.raises(DatasetError, match=message):
            read_cifar_batch(path)


@pytest.mark.parametrize("protocol", [2, 5], ids=["py3-protocol2", "protocol5"])
def test_batches_pickled_by_python3_at_protocol_2_or_5_load(tmp_path, protocol):
    """A user's own batches written with pickle.dump(..., protocol=2) (bytes via _codecs.encode) or with
    pickle.HIGHEST_PROTOCOL (5: arrays via numpy's _frombuffer) load like the official files."""
    arrays = _fake_cifar(30, 10, seed=5, res=32)
    x_chw = arrays["x_train"].transpose(0, 3, 1, 2)
    payload = pickle.dumps({b"batch_label": b"b1", b"labels": [int(v) for v in arrays["y_train"]],
                            b"data": x_chw.reshape(30, -1), b"filenames": [b"a.png"] * 30}, protocol=protocol)
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    x, y = read_cifar_batch(path)
    np.testing.assert_array_equal(x, x_chw)
    np.testing.assert_array_equal(y, arrays["y_train"])


def test_codecs_encode_and_frombuffer_are_guarded():
    cases = {
        "encode other codec": b"c_codecs\nencode\n(X\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13tR.",
        "encode bytes": b"c_codecs\nencode\n(C\x03abcX\x06\x00\x00\x00latin1tR.",
        "frombuffer object dtype": b"cnumpy._core.numeric\n_frombuffer\n(C\x08abcdefghcnumpy\ndtype\n"
                                   b"(X\x02\x00\x00\x00O8K\x00K\x01tR(K\x01K\x00K\x01tX\x01\x00\x00\x00CtR.",
        "frombuffer too large": b"cnumpy._core.numeric\n_frombuffer\n(C\x08abcdefghcnumpy\ndtype\n"
                                b"(X\x02\x00\x00\x00u1K\x00K\x01tR(J\x00\xe1\xf5\x05tX\x01\x00\x00\x00CtR.",
    }
    for name, payload in cases.items():
        with pytest.raises(DatasetError, match="refusing"):
            restricted_pickle_load(io.BytesIO(payload), name)


# ------------------------------------------------------------------------------------------
# the real file, when this machine has it


@pytest.mark.skipif(not REAL_NPZ.exists(), reason="shared cifar10_16px.npz not present")
def test_real_cifar10_16px():
    ds = load_dataset("cifar10-16px", REAL_DIR)
    assert {s: len(ds.splits[s]) for s in SPLITS} == {"train": 25_000, "valid": 25_000, "test": 10_000}
    assert ds.sha256 == CIFAR10_16PX_SHA256
    assert ds.sha256 == "59d8fe1c5c19ca18eb91748e6bf1df1af4ef6b4ea064dc0025b15a317ba9fd33"
    assert ds.split_info["class_counts"]["train"] == [2500] * 10
    assert ds.split_info["class_counts"]["valid"] == [2500] * 10
    assert ds.split_info["class_counts"]["test"] == [1000] * 10
    assert ds.splits["train"].x.shape == (25_000, 3, 16, 16)
    _assert_normalized(ds)
    _assert_partition(ds, {"train": 50_000, "test": 10_000})


def test_batch_dataset_records_what_its_sha256_digests_and_each_files_sha256(tmp_path):
    """The manifest's dataset sha256 of the CIFAR-10 batches digests six files together; each file's own
    sha256 (what `sha256sum` prints) is recorded beside it, so a user can check the files they read."""
    folder = tmp_path / CIFAR10_BATCH_DIR
    _write_batches(folder, _fake_cifar(50, 10, res=32))
    described = load_dataset("cifar10", tmp_path).describe()
    files = [*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH]
    assert described["files_sha256"] == {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in files}
    assert list(described["files_sha256"]) == files
    assert described["sha256_of"] == f"the bytes of {', '.join(files)} concatenated in that order"
    assert "files_sha256" not in load_dataset("synthetic").describe()  # one digest of its own arrays


def test_16x16_batches_are_refused_with_the_dataset_that_reads_them(tmp_path):
    folder = tmp_path / CIFAR10_BATCH_DIR
    arrays = _fake_cifar(50, 10, res=16)
    _write_batches(folder, arrays)
    with pytest.raises(DatasetError, match=r"is \(10,768\), 16x16 images; dataset 'cifar10' reads 32x32 .*"
                                           r"cifar10_16px\.npz .*--dataset cifar10-16px"):
        load_dataset("cifar10", tmp_path)


def test_a_folder_holding_the_other_cifar_dataset_says_which_to_ask_for(tmp_path: Path) -> None:
    """The npz where batches were asked for (and batches where the npz was): the error names the other dataset."""
    _write_npz(tmp_path / "npz", _fake_cifar(40, 10))
    with pytest.raises(DatasetError, match="holds cifar10_16px.npz: for it, --dataset cifar10-16px"):
        load_dataset("cifar10", data_dir=tmp_path / "npz")
    (tmp_path / "batches" / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds cifar-10-batches-py/: for CIFAR-10 batches, --dataset cifar10"):
        load_dataset("cifar10-16px", data_dir=tmp_path / "batches")


# ------------------------------------------------------------------------------------------
# splitting and normalization, hand-computed small cases


def test_stratified_split_ties_of_largest_remainder_go_to_the_lower_class():
    # three classes of one row, two rows to allot: every remainder is equal, classes 0 and 1 win
    parts = stratified_split(np.array([0, 1, 2]), [("a", 2), ("b", None)], seed=0)
    assert parts["a"].tolist() == [0, 1] and parts["b"].tolist() == [2]
    parts = stratified_split(np.array([2, 1, 0]), [("a", 1), ("b", None)], seed=0)
    assert parts["a"].tolist() == [2]  # the row of class 0


def test_stratified_split_size_rules():
    y = np.array([0, 0, 1, 1, 1])
    with pytest.raises(DatasetError, match="do not fit"):  # no rest part and sizes short of every row
        stratified_split(y, [("a", 2), ("b", 1)], seed=0)
    with pytest.raises(DatasetError, match="sizes >= 0"):
        stratified_split(y, [("a", -1), ("b", None)], seed=0)
    parts = stratified_split(y, [("a", 5), ("b", None)], seed=0)  # fixed parts may take every row
    assert parts["a"].tolist() == [0, 1, 2, 3, 4] and parts["b"].tolist() == []
    parts = stratified_split(y, [("a", 0), ("b", None)], seed=0)  # sizes >= 0: an empty part is allowed
    assert parts["a"].tolist() == [] and parts["b"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(DatasetError, match="at most one None"):
        stratified_split(y, [("a", None), ("b", None)], seed=0)


def test_stratified_split_follows_its_documented_recipe():
    """Each class's rows permuted by one rng (classes ascending), cut into consecutive pieces in the listed
    order; a later fixed part is allotted from what the earlier ones left (largest remainder, ties to the
    lower class)."""
    y = np.array([1, 0, 1, 0, 0, 1, 0, 1, 0, 1])
    rng = np.random.default_rng(5)
    p0, p1 = rng.permutation([1, 3, 4, 6, 8]), rng.permutation([0, 2, 5, 7, 9])
    parts = stratified_split(y, [("a", 4), ("b", 2), ("c", None)], seed=5)
    assert parts["a"].tolist() == sorted([*p0[:2], *p1[:2]])
    assert parts["b"].tolist() == sorted([p0[2], p1[2]])
    assert parts["c"].tolist() == sorted([*p0[3:], *p1[3:]])
    # classes of 2 and 2: a's one row goes to class 0 (tie), which leaves 1 and 2 rows, so b's goes to class 1
    parts = stratified_split(np.array([0, 0, 1, 1]), [("a", 1), ("b", 1), ("c", None)], seed=0)
    assert [len(parts[k]) for k in "abc"] == [1, 1, 2]
    assert parts["a"][0] in (0, 1) and parts["b"][0] in (2, 3)


def test_stratified_order_interleaves_each_class_in_its_seeded_permutation():
    y = np.array([0, 1, 1, 0, 1, 0])
    rng = np.random.default_rng(9)
    p0, p1 = rng.permutation([0, 3, 5]), rng.permutation([1, 2, 4])
    assert stratified_order(y, seed=9).tolist() == [p0[0], p1[0], p0[1], p1[1], p0[2], p1[2]]


def test_stratified_order_keys_are_mid_rank_fractions_ties_by_class():
    # class 0 (3 rows) keys 1/6, 1/2, 5/6; class 1 (1 row) key 1/2, after class 0's tie
    y = np.array([0, 1, 0, 0])
    order = stratified_order(y, seed=5)
    assert y[order].tolist() == [0, 0, 1, 0]
    # classes 0, 1, 2 of sizes 4, 2, 1: keys 1/8 3/8 5/8 7/8 | 1/4 3/4 | 1/2
    y = np.repeat([0, 1, 2], [4, 2, 1])
    assert y[stratified_order(y, seed=5)].tolist() == [0, 1, 0, 2, 0, 1, 0]


def test_subsets_may_take_the_whole_split_and_valid_subset_has_its_own_stream(digits):
    """The valid subset is a prefix of ``stratified_order`` under ``default_rng([201, 2])``, the stream the
    committed cifar10-16px table's manifest records, not the train subset's ``[201, 1]`` (written out here: the
    module's constants would follow an edit of themselves)."""
    full = load_dataset("digits", max_train=1197)
    np.testing.assert_array_equal(full.splits["train"].index, digits.splits["train"].index)
    small = load_dataset("digits", max_valid=37)
    valid = digits.splits["valid"]
    prefix = lambda stream: np.sort(valid.index[stratified_order(valid.y, [201, stream])[:37]])  # noqa: E731
    assert not np.array_equal(prefix(2), prefix(1))  # the two streams pick other rows
    np.testing.assert_array_equal(small.splits["valid"].index, prefix(2))
    assert np.all(np.diff(small.splits["valid"].index) > 0)
    assert small.split_info["valid_subset"]["rng"] == "numpy.random.default_rng([201, 2])"


@pytest.mark.parametrize("shape", [(50, 3, 4, 4), (16, 3, 256, 256)], ids=["small", "sums past 2**24"])
def test_channel_stats_of_whole_numbers_are_exact(shape):
    """Exact for CIFAR-sized data too, whose per-channel sums pass 2**24 (where a float32 sum drops units)."""
    from fractions import Fraction

    from nasbench_suite.data import _channel_stats

    x = np.random.default_rng(0).integers(0, 256, size=shape).astype(np.float32)
    mean, std = _channel_stats(x, from_uint8=True)
    n = x.size // 3
    for c in range(3):
        v = x[:, c].astype(np.int64).ravel()
        a, b = int(v.sum()), int((v * v).sum())
        assert mean[c] == float(Fraction(a, n))
        assert std[c] == float(np.sqrt(float(Fraction(b * n - a * a, n * n))))  # population variance, exact


def test_channel_stats_are_population_statistics_and_refuse_a_constant_channel():
    from nasbench_suite.data import _channel_stats

    x = np.array([0.0, 2.0, 4.0, 6.0], dtype=np.float32).reshape(4, 1, 1, 1)  # mean 3, variance 5
    for exact in (True, False):
        mean, std = _channel_stats(x, from_uint8=exact)
        assert mean == (3.0,) and std == pytest.approx((np.sqrt(5.0),), abs=1e-12)
    two = np.concatenate([x, np.full_like(x, 7.0)], axis=1)  # channel 1 constant
    with pytest.raises(DatasetError, match="constant"):
        _channel_stats(two, from_uint8=True)


def test_gather_reorders_rows_even_when_it_takes_every_row():
    from nasbench_suite.data import _gather

    x = np.arange(12).reshape(4, 3)
    assert _gather(x, np.array([3, 2, 1, 0])).tolist() == x[::-1].tolist()
    assert _gather(x, np.arange(4)) is x


def test_digits_test_split_is_drawn_before_valid(digits):
    from sklearn.datasets import load_digits

    parts = stratified_split(load_digits().target, [("test", 300), ("valid", 300), ("train", None)], seed=201)
    for s in SPLITS:
        np.testing.assert_array_equal(digits.splits[s].index, parts[s])


def test_fake_npz_with_one_train_image_is_one_clear_error(tmp_path):
    arrays = _fake_cifar(n_train=1, n_test=5)
    _write_npz(tmp_path, arrays)
    with pytest.raises(DatasetError, match="at least 2 images"):
        load_dataset("cifar10-16px", tmp_path)


def test_synthetic_test_split_is_drawn_before_valid():
    from nasbench_suite.data import make_synthetic

    ds = load_dataset("synthetic")
    parts = stratified_split(make_synthetic()[1], [("test", 100), ("valid", 100), ("train", None)], seed=201)
    for s in SPLITS:
        np.testing.assert_array_equal(ds.splits[s].index, parts[s])


def test_synthetic_data_keep_their_digest():
    """The generated images are data a run records by digest (x in HWC layout, as a file would hold them): a
    change to the generator, its seed or the digest format must not pass unnoticed."""
    assert load_dataset("synthetic").sha256 == "51cabbfe437bc10d61ebe968f89c3eb3108c22e19e573f89842a0f29f9fa39d6"


def test_digits_loads_as_the_committed_digits_table_recorded_it():
    """The committed digits table's manifest records the dataset it was trained on (sha256, splits, class
    counts, subset, normalization); loading it with the table's protocol gives that record exactly."""
    root = Path(__file__).resolve().parents[1]
    manifest = json.loads((root / "benchmarks_data" / "digits" / "manifest.json").read_text())
    protocol = manifest["protocol"]
    ds = load_dataset(protocol["dataset"], max_train=protocol["train_subset"], max_valid=protocol.get("valid_subset"))
    assert json.loads(json.dumps(ds.describe())) == manifest["dataset"]


def test_pack_digest_hashes_the_arrays_in_key_order():
    from nasbench_suite.data import array_sha256, pack_digest

    a, b = np.arange(3, dtype=np.int64), np.zeros((2, 2), np.uint8)
    assert pack_digest({"y_train": a, "x_train": b}) == array_sha256({"x_train": b, "y_train": a})
    assert pack_digest({"y_train": a, "x_train": b}) != array_sha256({"y_train": a, "x_train": b})


def test_split_info_records_pool_sizes_subsets_and_every_class(tmp_path):
    arrays = _fake_cifar(200, 50)
    arrays["y_test"] = arrays["y_test"] % 5  # the test images hold classes 0..4 only
    _write_npz(tmp_path, arrays)
    ds = load_dataset("cifar10-16px", tmp_path, max_train=40, max_valid=30)
    info = ds.split_info
    assert {s: info["splits"][s]["from_size"] for s in SPLITS} == {"train": 200, "valid": 200, "test": 50}
    assert info["max_train"] == 40 and info["max_valid"] == 30 and info["valid_subset"]["of"] == 100
    assert info["class_counts"]["test"] == np.bincount(arrays["y_test"], minlength=10).tolist()
    assert info["class_counts"]["test"][5:] == [0] * 5
    described = ds.describe()
    described["split_info"]["sizes"]["train"] = 0  # a caller's edit of the description stays there
    assert ds.split_info["sizes"]["train"] == 40 and ds.describe()["split_info"]["sizes"]["train"] == 40


@pytest.mark.parametrize("pool, bad", [("train", 10), ("test", -1)])
def test_a_label_just_outside_0_to_9_is_refused(tmp_path, pool, bad):
    arrays = _fake_cifar(40, 10)
    arrays[f"y_{pool}"] = arrays[f"y_{pool}"].astype(np.int64)
    arrays[f"y_{pool}"][3] = bad
    _write_npz(tmp_path, arrays)
    with pytest.raises(DatasetError, match=f"y_{pool} has labels outside 0..9"):
        load_dataset("cifar10-16px", tmp_path)


def test_data_dir_that_is_a_file_or_starts_with_a_tilde(tmp_path, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset("cifar10-16px", a_file)
    _write_npz(tmp_path / "home" / "data", _fake_cifar(40, 10))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert len(load_dataset("cifar10-16px", "~/data").splits["train"]) == 20


def test_batch_files_directly_in_the_data_dir_and_the_batch_folder_first(tmp_path):
    """cifar-10-batches-py/ in the data directory, or the six files in the directory itself; the folder wins
    where both are there."""
    direct = _fake_cifar(50, 10, seed=6, res=32)
    _write_batches(tmp_path, direct)
    ds = load_dataset("cifar10", tmp_path)
    np.testing.assert_array_equal(ds.splits["test"].y, direct["y_test"])
    in_folder = _fake_cifar(60, 10, seed=7, res=32)
    _write_batches(tmp_path / CIFAR10_BATCH_DIR, in_folder)
    ds = load_dataset("cifar10", tmp_path)
    assert len(ds.splits["train"]) == 30
    np.testing.assert_array_equal(ds.splits["test"].y, in_folder["y_test"])


def test_batches_with_str_keys_or_fortran_ordered_data_load(tmp_path):
    """A batch pickled with str keys ('data', 'labels'), and one whose data array is Fortran-ordered (pickled at
    protocol 5 with order 'F'): the same images either way."""
    arrays = _fake_cifar(12, 1, seed=8, res=32)
    flat = arrays["x_train"].transpose(0, 3, 1, 2).reshape(12, -1)
    labels = [int(v) for v in arrays["y_train"]]
    for name, batch in {"str keys": {"data": flat, "labels": labels},
                        "fortran": {b"data": np.asfortranarray(flat), b"labels": labels}}.items():
        path = tmp_path / name.replace(" ", "_")
        path.write_bytes(pickle.dumps(batch, protocol=5))
        x, y = read_cifar_batch(path)
        np.testing.assert_array_equal(x.reshape(12, -1), flat, err_msg=name)
        np.testing.assert_array_equal(y, arrays["y_train"], err_msg=name)


def test_file_digests_read_every_byte_in_the_order_given(tmp_path):
    """file_sha256 streams 1 MiB chunks: a file past the first MiB is hashed whole (the CIFAR file is 45 MB);
    files_sha256 digests several files in the order given, which is part of what it identifies."""
    from nasbench_suite.data import file_sha256, files_sha256

    big, small = tmp_path / "big", tmp_path / "small"
    big.write_bytes(bytes(range(256)) * (3 * 4096) + b"tail")
    small.write_bytes(b"small")
    assert file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert files_sha256([small, big]) == hashlib.sha256(b"small" + big.read_bytes()).hexdigest()
    assert files_sha256([big, small]) != files_sha256([small, big])


def test_array_digest_is_the_same_for_either_byte_order():
    from nasbench_suite.data import array_sha256

    little = np.arange(5, dtype="<i8")
    assert array_sha256({"y": little.astype(">i8")}) == array_sha256({"y": little})


def test_cifar_train_split_is_the_half_drawn_first(tmp_path):
    """Train is the seeded stratified half drawn first, valid the rest: with an even number of images both halves
    have one size, so only the rows tell a swap of train and valid."""
    arrays = _fake_cifar(200, 20, seed=9)
    _write_npz(tmp_path, arrays)
    ds = load_dataset("cifar10-16px", tmp_path)
    parts = stratified_split(arrays["y_train"], [("train", 100), ("valid", None)], seed=201)
    for s in ("train", "valid"):
        np.testing.assert_array_equal(ds.splits[s].index, parts[s])
