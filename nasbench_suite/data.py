"""Dataset registry: fixed, seeded, documented train / valid / test splits and normalization.

Nothing is downloaded, ever: file datasets are read from a directory the user names (``data_dir``,
or the environment variable ``NASBENCH_DATA_DIR``). No general pickle loading: the CIFAR-10 python
batches are read with a restricted unpickler that only builds dicts, lists, bytes/str and numpy
arrays.

Splits (sizes for the official files; a file dataset accepts any size in its format and splits it
the same way)::

    dataset       split  size    drawn from                          how
    cifar10-16px  train  25,000  50,000 official training images     seeded class-stratified half
    cifar10-16px  valid  25,000  50,000 official training images     the other half (disjoint)
    cifar10-16px  test   10,000  10,000 official test images         all, official order
    cifar10       (same rows as cifar10-16px, at 32x32, read from cifar-10-batches-py/)
    digits        train   1,197  sklearn load_digits(), 1,797 images the rest (stratified)
    digits        valid     300  sklearn load_digits(), 1,797 images seeded class-stratified draw
    digits        test      300  sklearn load_digits(), 1,797 images seeded class-stratified draw
    synthetic     train     400  600 generated images (seed 0)       the rest (stratified)
    synthetic     valid     100  600 generated images                seeded class-stratified draw
    synthetic     test      100  600 generated images                seeded class-stratified draw

All splits use the split seed :data:`SPLIT_SEED` (201) through ``np.random.default_rng(201)``; the
split indices are a pure function of the labels and that seed (see :func:`stratified_split`).
``cifar10`` and ``cifar10-16px`` have the same labels in the same order, so they get the same rows
in each split. This is *our* seeded split in the spirit of NAS-Bench-201's ``cifar10-valid``, not
NAS-Bench-201's own split file. Every split keeps its rows in source order (ascending row index);
trainers shuffle.

``max_train`` subsamples the train split: the subset is a prefix of a seeded, class-interleaved
order of the train rows (``np.random.default_rng([201, 1])``), so it is stratified (each class
within one image of its share for balanced classes) and nested (a smaller subset is contained in a
larger one). Normalization statistics are computed on the train split actually returned (after
subsampling), per channel, in raw pixel units, and applied to every split.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import os
import pickle
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping, Sequence, Union

import numpy as np

from .errors import DatasetError

PathLike = Union[str, "os.PathLike[str]"]

DATASETS: tuple[str, ...] = ("cifar10-16px", "cifar10", "digits", "synthetic")
"""Names accepted by :func:`load_dataset`."""

SPLITS: tuple[str, ...] = ("train", "valid", "test")
DATA_DIR_ENV = "NASBENCH_DATA_DIR"
SPLIT_SEED = 201
"""Seed of every split: ``np.random.default_rng(SPLIT_SEED)``."""
SUBSET_STREAM = 1
"""``max_train`` subsets use ``np.random.default_rng([SPLIT_SEED, SUBSET_STREAM])``."""
VALID_SUBSET_STREAM = SUBSET_STREAM + 1
"""``max_valid`` subsets use ``np.random.default_rng([SPLIT_SEED, VALID_SUBSET_STREAM])``."""

CIFAR10_16PX_FILE = "cifar10_16px.npz"
CIFAR10_16PX_SHA256 = "59d8fe1c5c19ca18eb91748e6bf1df1af4ef6b4ea064dc0025b15a317ba9fd33"
"""sha256 of the project's reference ``cifar10_16px.npz`` (informational; any valid file loads)."""
CIFAR10_16PX_SOURCE = "CIFAR-10 (JPEG-derived), 2x2 box-downsampled"
CIFAR10_BATCH_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

SYNTHETIC_SEED = 0
SYNTHETIC_PER_CLASS = 60
SYNTHETIC_NOISE = 2.0

_NPZ_FORMAT = (
    "an .npz (no pickles) with x_train (N,16,16,3) uint8, y_train (N,) integer labels 0..9, "
    "x_test (M,16,16,3) uint8, y_test (M,) integer labels 0..9"
)
_BATCH_FORMAT = (
    f"the CIFAR-10 python version: {CIFAR10_BATCH_DIR}/ with "
    f"{', '.join(CIFAR10_TRAIN_BATCHES)} and {CIFAR10_TEST_BATCH}, each a dict with "
    "b'data' (N,3072) uint8 and b'labels' (N integers 0..9)"
)


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, eq=False)
class Split:
    """One split: normalized images, labels and the source rows they came from.

    ``x`` is float32 (N, C, H, W), C-contiguous, normalized with the train split's per-channel
    mean/std. ``y`` is int64 (N,). ``index`` is int64 (N,): the row of each example in its source
    array (``x_train`` for the cifar train/valid splits, ``x_test`` for test; the
    ``load_digits()`` / generated rows for digits and synthetic), ascending.
    """

    x: np.ndarray
    y: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: three splits plus everything a manifest needs to describe them.

    ``mean`` / ``std`` are per channel, in raw pixel units (0..255 for CIFAR, 0..16 for digits),
    computed on the returned train split only (population std). ``sha256`` identifies the source
    data (file bytes for file datasets; a canonical array digest for digits / synthetic).
    ``split_info`` records sizes, class counts, how each split was made and the seeds.
    ``augment`` says whether random crop + horizontal flip suits the data.
    Arrays are fresh per :func:`load_dataset` call (nothing is cached or shared).
    """

    name: str
    splits: dict[str, Split]
    num_classes: int
    in_channels: int
    resolution: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    sha256: str
    source: str
    split_info: dict[str, Any]
    augment: bool
    files: dict[str, str] = field(default_factory=dict)
    """For a dataset read from several files (the CIFAR-10 batches): each file's name -> its sha256, in the
    order ``sha256`` digests their bytes; empty where ``sha256`` is one file's or an array digest."""

    def describe(self) -> dict[str, Any]:
        """Everything except the arrays, as plain JSON-serialisable values (no local paths)."""
        return {
            "name": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "resolution": self.resolution,
            "layout": "NCHW float32",
            "augment": self.augment,
            "mean": [float(m) for m in self.mean],
            "std": [float(s) for s in self.std],
            "normalization": "(x - mean) / std per channel; mean and population std in raw pixel "
            "units, computed on the train split only",
            "split_info": copy.deepcopy(self.split_info),
            **({"sha256_of": f"the bytes of {', '.join(self.files)} concatenated in that order",
                "files_sha256": dict(self.files)} if self.files else {}),
        }


@dataclass(frozen=True)
class _Raw:
    """Validated source arrays: pools of (x (N,C,H,W) uint8 or float32, y (N,) int64).

    ``present`` (a row pack, see :mod:`nasbench_suite.data_pack`): pool -> bool mask of the rows
    whose images the file holds (the others are zeros); a pool not named has every row.
    """

    pools: dict[str, tuple[np.ndarray, np.ndarray]]
    sha256: str
    present: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256, where sha256 digests several


@dataclass(frozen=True)
class _Spec:
    """Static description of one dataset: how to read it and how its splits are made."""

    name: str
    source: str
    num_classes: int
    in_channels: int
    resolution: int
    augment: bool
    reader: Callable[[str, "PathLike | None"], _Raw]
    # pool -> ordered (split, size) rules; size: int, "half" (N // 2) or None (the rest)
    plan: dict[str, tuple[tuple[str, Union[int, str, None]], ...]]
    # split -> (documented size, drawn from, how)
    docs: dict[str, tuple[int, str, str]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Splitting (pure functions of labels and seed)


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Share ``total`` over classes in proportion to ``counts`` (largest remainder, by class)."""
    counts = counts.astype(np.int64)
    pool = int(counts.sum())
    if pool == 0:
        return np.zeros_like(counts)
    numer = counts * total
    base = numer // pool
    rem = numer % pool
    short = total - int(base.sum())
    order = np.lexsort((np.arange(len(counts)), -rem))
    base[order[:short]] += 1
    return base


def stratified_split(
    y: np.ndarray, sizes: Sequence[tuple[str, int | None]], seed: int
) -> dict[str, np.ndarray]:
    """Partition rows ``0..len(y)-1`` into named, class-stratified, disjoint parts.

    ``sizes`` lists ``(name, size)`` in order; at most one size is ``None`` (the rest). Each
    class's rows (classes ascending) are permuted with ``np.random.default_rng(seed)``; the
    per-class count of each part is allotted by largest remainder, parts with a fixed size first
    (in order), and each class's permuted rows are cut into consecutive pieces in the listed
    order. Returned indices are int64 and ascending. Pure: same ``y`` and seed, same result.
    """
    y = np.asarray(y)
    n = int(y.shape[0])
    fixed = sum(s for _, s in sizes if s is not None)
    rests = [name for name, s in sizes if s is None]
    if len(rests) > 1 or any(s is not None and s < 0 for _, s in sizes):
        raise DatasetError(f"invalid split sizes {list(sizes)}: sizes >= 0, at most one None")
    if fixed > n or (not rests and fixed != n):
        raise DatasetError(f"split sizes {list(sizes)} do not fit {n} rows")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    members = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    remaining = np.array([len(m) for m in members], dtype=np.int64)
    alloc: dict[str, np.ndarray] = {}
    for name, size in sizes:
        if size is not None:
            alloc[name] = _allocate(remaining, size)
            remaining = remaining - alloc[name]
    if rests:
        alloc[rests[0]] = remaining
    out: dict[str, list[np.ndarray]] = {name: [] for name, _ in sizes}
    for k, rows in enumerate(members):
        start = 0
        for name, _ in sizes:
            stop = start + int(alloc[name][k])
            out[name].append(rows[start:stop])
            start = stop
    return {
        name: np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.empty(0, np.int64)
        for name, parts in out.items()
    }


def stratified_order(y: np.ndarray, seed: int | Sequence[int]) -> np.ndarray:
    """A seeded order of rows whose every prefix is class-stratified.

    Each class's rows (classes ascending) are permuted with ``np.random.default_rng(seed)``; the
    j-th row of a class of size n gets key (j + 0.5) / n, and rows are sorted by (key, class).
    A prefix of length m then holds each class within one row of its share m * n / N when classes
    are balanced. Returns positions into ``y`` (int64).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    rows, keys, cls = [], [], []
    for k, c in enumerate(classes):
        members = rng.permutation(np.flatnonzero(y == c))
        rows.append(members)
        keys.append((np.arange(len(members)) + 0.5) / len(members))
        cls.append(np.full(len(members), k))
    if not rows:
        return np.empty(0, np.int64)
    all_rows, all_keys, all_cls = map(np.concatenate, (rows, keys, cls))
    return all_rows[np.lexsort((all_cls, all_keys))].astype(np.int64)


def _resolve_size(size: Union[int, str, None], n: int) -> int | None:
    return n // 2 if size == "half" else size  # type: ignore[return-value]


def _split_rows(spec: _Spec, raw: _Raw) -> dict[str, tuple[str, np.ndarray]]:
    """Split name -> (pool name, ascending source rows), following the spec's plan."""
    rows: dict[str, tuple[str, np.ndarray]] = {}
    for pool, rules in spec.plan.items():
        y = raw.pools[pool][1]
        if len(rules) == 1:
            rows[rules[0][0]] = (pool, np.arange(len(y), dtype=np.int64))
            continue
        sizes = [(name, _resolve_size(size, len(y))) for name, size in rules]
        try:
            parts = stratified_split(y, sizes, SPLIT_SEED)
        except DatasetError as exc:
            raise DatasetError(f"dataset {spec.name!r}: {exc}") from None
        rows.update({name: (pool, idx) for name, idx in parts.items()})
    return rows


def _subsample(
    spec: _Spec, raw: _Raw, rows: dict[str, tuple[str, np.ndarray]], split: str, size: int | np.integer | None
) -> dict[str, Any] | None:
    """Replace the rows of ``split`` by a nested stratified subset of ``size`` rows (in place)."""
    if size is None:
        return None
    pool, idx = rows[split]
    if not 1 <= size <= len(idx):
        raise DatasetError(
            f"max_{split}={size} (a protocol's {split}_subset, --{split}-subset) is outside 1..{len(idx)}, the size "
            f"of the {split} split of dataset {spec.name!r}"
        )
    stream = SUBSET_STREAM if split == "train" else VALID_SUBSET_STREAM
    order = stratified_order(raw.pools[pool][1][idx], [SPLIT_SEED, stream])
    rows[split] = (pool, np.sort(idx[order[: int(size)]]))
    return {
        "size": int(size),
        "of": int(len(idx)),
        "rng": f"numpy.random.default_rng([{SPLIT_SEED}, {stream}])",
        "method": f"prefix of a seeded class-interleaved order of the full {split} split "
        "(stratified; nested: smaller subsets are contained in larger ones)",
    }


# --------------------------------------------------------------------------------------------
# Normalization


def _to_float32(x: np.ndarray) -> np.ndarray:
    """A new C-contiguous float32 copy of (N, C, H, W) data (the layout change happens here)."""
    out = np.empty(x.shape, dtype=np.float32)
    np.copyto(out, x, casting="unsafe")
    return out


def _channel_stats(x: np.ndarray, from_uint8: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of float32 (N, C, H, W) data.

    With ``from_uint8`` (whole numbers 0..255) the float64 sums of x and x^2 are exact, so the
    statistics are the same on every machine and in any summation order.
    """
    if x.shape[0] == 0:
        raise DatasetError("the train split is empty; cannot compute normalization statistics")
    n = x.size // x.shape[1]
    if from_uint8 and n * 255 * 255 < 2**53:
        s1 = x.sum(axis=(0, 2, 3), dtype=np.float64)
        s2 = np.einsum("nchw,nchw->c", x, x, dtype=np.float64)
        sums = [(int(a), int(b)) for a, b in zip(s1, s2)]
        means = [a / n for a, _ in sums]
        var = [(b * n - a * a) / (n * n) for a, b in sums]
    else:
        mean64 = x.mean(axis=(0, 2, 3), dtype=np.float64)
        centered = x - mean64[:, None, None]
        means = [float(m) for m in mean64]
        var = [float(v) / n for v in np.einsum("nchw,nchw->c", centered, centered)]
    stds = [float(np.sqrt(v)) for v in var]
    if min(stds) == 0.0:
        raise DatasetError(
            f"a channel of the train split is constant (std {stds}); cannot normalize"
        )
    return tuple(float(m) for m in means), tuple(stds)


def _normalize_(x: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """In place: x = (x - mean) / std per channel, for float32 (N, C, H, W); returns x."""
    x -= np.asarray(mean, dtype=np.float32)[:, None, None]
    x /= np.asarray(std, dtype=np.float32)[:, None, None]
    return x


def _gather(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``x`` (no copy when idx is every row in order)."""
    if len(idx) == x.shape[0] and np.array_equal(idx, np.arange(x.shape[0])):
        return x
    return x[idx]


# --------------------------------------------------------------------------------------------
# Hashing and checks


def file_sha256(path: PathLike) -> str:
    """sha256 of a file's bytes, streamed in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def files_sha256(paths: Iterable[PathLike]) -> str:
    """One sha256 over the bytes of several files, in the order given (source files that decide a
    result: an edit to any of them changes it)."""
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def array_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over named arrays in a canonical byte order.

    For each array in the given order: ``name NUL dtype-str NUL comma-separated-shape NUL`` then
    its bytes, C order, little-endian (dtype str as numpy writes it, e.g. ``|u1``, ``<i8``).
    """
    h = hashlib.sha256()
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        canon = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        shape = ",".join(str(d) for d in canon.shape)
        h.update(f"{name}\0{canon.dtype.str}\0{shape}\0".encode())
        h.update(canon.tobytes())
    return h.hexdigest()


def _check_images(
    arr: object, what: str, shape_tail: tuple[int, ...], where: str, expected: str
) -> np.ndarray:
    """``arr`` must be a uint8 array of shape (N, *shape_tail) with N >= 1."""
    ok = (
        isinstance(arr, np.ndarray)
        and arr.dtype == np.uint8
        and arr.ndim == 1 + len(shape_tail)
        and tuple(arr.shape[1:]) == shape_tail
        and arr.shape[0] >= 1
    )
    if not ok:
        got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        tail = ",".join(str(d) for d in shape_tail)
        raise DatasetError(
            f"{where}: {what} should be uint8 (N,{tail}) with N >= 1, got {got}; "
            f"expected {expected}"
        )
    return arr


def _check_labels(
    arr: object, what: str, n: int, num_classes: int, where: str, expected: str
) -> np.ndarray:
    """``arr`` must hold ``n`` integer labels in 0..num_classes-1; returned as int64."""
    a = np.asarray(arr) if isinstance(arr, (list, tuple, np.ndarray)) else None
    if a is None or a.ndim != 1 or a.shape[0] != n or not np.issubdtype(a.dtype, np.integer):
        got = f"{a.dtype} {a.shape}" if a is not None else type(arr).__name__
        raise DatasetError(
            f"{where}: {what} should be ({n},) integer labels to match the images, got {got}; "
            f"expected {expected}"
        )
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise DatasetError(
            f"{where}: {what} has labels outside 0..{num_classes - 1} "
            f"(min {a.min()}, max {a.max()}); expected {expected}"
        )
    return a.astype(np.int64)


def _data_dir(name: str, data_dir: PathLike | None, expected: str) -> Path:
    """The directory to read ``name`` from: ``data_dir``, else ``$NASBENCH_DATA_DIR``."""
    origin = "data_dir"
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV, "")
        if not env:
            raise DatasetError(
                f"dataset {name!r} is read from a local data directory, but none was given: pass "
                f"data_dir (CLI: --data-dir) or set {DATA_DIR_ENV}; expected there {expected}. "
                "Nothing is downloaded."
            )
        data_dir, origin = env, f"${DATA_DIR_ENV}"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DatasetError(
            f"dataset {name!r}: data directory {str(path)!r} (from {origin}) does not exist or is "
            f"not a directory; expected it to contain {expected}"
        )
    return path


# --------------------------------------------------------------------------------------------
# Readers


_NPZ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, tokenize.TokenError,
)
"""What numpy raises reading a damaged .npz: a broken zip, a broken deflate stream (``zlib.error``), a
damaged ``.npy`` header (``tokenize.TokenError`` from numpy's header parser), a missing key."""


def _read_cifar10_16px(name: str, data_dir: PathLike | None) -> _Raw:
    """``cifar10_16px.npz`` from the data directory: pools ``train`` and ``test``."""
    expected = f"{CIFAR10_16PX_FILE}: {_NPZ_FORMAT}"
    path = _data_dir(name, data_dir, expected) / CIFAR10_16PX_FILE
    where = f"dataset {name!r}: {path}"
    if not path.is_file():
        other = (f" ({path.parent} holds {CIFAR10_BATCH_DIR}/: for CIFAR-10 batches, --dataset cifar10)"
                 if (path.parent / CIFAR10_BATCH_DIR).is_dir() else "")
        raise DatasetError(f"{where} {'is a folder' if path.is_dir() else 'not found'}{other}; expected {expected}")
    with contextlib.ExitStack() as stack:  # the file opened here, not by np.load: numpy leaves its own open on a damaged zip
        try:
            handle = stack.enter_context(path.open("rb"))
            magic = handle.read(6)
            if magic[:4] != b"PK\x03\x04" and magic != b"\x93NUMPY":  # np.load would call it pickled data
                raise ValueError("the file is empty" if not magic else f"not an .npz (zip) archive: it starts with {magic!r}")
            handle.seek(0)
            npz = np.load(handle, allow_pickle=False)
        except _NPZ_ERRORS as exc:
            raise DatasetError(f"{where} cannot be read ({exc}); expected {_NPZ_FORMAT}") from exc
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DatasetError(f"{where} is a single .npy array, not an .npz; expected {_NPZ_FORMAT}")
        with npz:
            if PACK_SOURCE_KEY in npz.files:
                return _read_row_pack(npz, where)
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in npz.files]
            if missing:
                raise DatasetError(
                    f"{where} lacks {', '.join(missing)} (has {', '.join(npz.files) or 'nothing'}); "
                    f"expected {_NPZ_FORMAT}"
                )
            try:
                arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
                sha = file_sha256(path)  # a full file is its own source (a row pack names its source instead)
            except _NPZ_ERRORS as exc:
                raise DatasetError(
                    f"{where}: an array cannot be read ({exc}); expected {_NPZ_FORMAT}"
                ) from exc
    pools = {}
    for pool in ("train", "test"):
        x = _check_images(arrays[f"x_{pool}"], f"x_{pool}", (16, 16, 3), where, _NPZ_FORMAT)
        y = _check_labels(arrays[f"y_{pool}"], f"y_{pool}", x.shape[0], 10, where, _NPZ_FORMAT)
        pools[pool] = (x.transpose(0, 3, 1, 2), y)  # HWC -> CHW view, copied once when normalized
    if pools["train"][0].shape[0] < 2:
        raise DatasetError(f"{where}: x_train needs at least 2 images to make train and valid")
    return _Raw(pools=pools, sha256=sha)


PACK_SOURCE_KEY = "pack_source_sha256"
"""Key of a row pack's source sha256 (:mod:`nasbench_suite.data_pack` writes packs)."""
PACK_DIGEST_KEY = "pack_sha256"
PACK_POOLS: tuple[str, ...] = ("train", "test")


def pack_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """The integrity digest a row pack stores: :func:`array_sha256` of its arrays in key order."""
    return array_sha256({k: arrays[k] for k in sorted(arrays)})


def _read_row_pack(npz: Any, where: str) -> _Raw:
    """A row pack: every label, the images of some rows, and the sha256 of the file it came from.

    The missing rows' images are zeros, marked absent in ``present``; :func:`load_dataset` refuses
    a split that needs one. The arrays are checked against the digest written with them.
    """
    keys = [f"{a}_{pool}" for pool in PACK_POOLS for a in ("x", "y", "rows")]
    expected = f"a row pack written by `nasbench data pack` ({', '.join(keys)}, {PACK_SOURCE_KEY}, {PACK_DIGEST_KEY})"
    try:
        arrays = {k: npz[k] for k in keys}
        source, digest = str(npz[PACK_SOURCE_KEY]), str(npz[PACK_DIGEST_KEY])
    except _NPZ_ERRORS as exc:
        raise DatasetError(f"{where} cannot be read as {expected} ({exc})") from exc
    if pack_digest(arrays) != digest:
        raise DatasetError(f"{where}: its arrays do not match the digest written with them (a damaged "
                           "row pack); write it again with `nasbench data pack`")
    pools, present = {}, {}
    for pool in PACK_POOLS:
        y = _check_labels(arrays[f"y_{pool}"], f"y_{pool}", len(arrays[f"y_{pool}"]), 10, where, expected)
        x = _check_images(arrays[f"x_{pool}"], f"x_{pool}", (16, 16, 3), where, expected)
        rows = arrays[f"rows_{pool}"]
        if (rows.ndim != 1 or rows.shape[0] != x.shape[0] or not np.issubdtype(rows.dtype, np.integer)
                or rows.size and (rows[0] < 0 or rows[-1] >= len(y) or np.any(np.diff(rows) <= 0))):
            raise DatasetError(f"{where}: rows_{pool} should be {x.shape[0]} ascending rows of 0..{len(y) - 1}; "
                               f"expected {expected}")
        full = np.zeros((len(y), 16, 16, 3), np.uint8)
        full[rows] = x
        mask = np.zeros(len(y), bool)
        mask[rows] = True
        pools[pool] = (full.transpose(0, 3, 1, 2), y)
        present[pool] = mask
    return _Raw(pools=pools, sha256=source, present=present)


_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # arrays pickled with protocol 5 (pickle.HIGHEST_PROTOCOL)
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes pickled by Python 3 with protocol 2 (or 0, 1)
    }
)
_SAFE_NAMES = ", ".join(f"{m}.{n}" for m, n in sorted(_SAFE_GLOBALS) if not m.startswith("numpy._core"))
"""The allowed globals as the refusal names them (numpy 2's ``numpy._core`` spellings left out)."""


def _numpy_reconstruct() -> Callable[..., Any]:
    try:  # numpy >= 2 (and 1.26's forward-compatible alias); avoids numpy.core's deprecation
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - older numpy
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _guarded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct`` as pickled arrays call it: an empty ndarray, filled by its state.

    Other arguments would only allocate memory the file does not hold, so they are refused.
    """
    if subtype is not _ndarray_class or shape not in ((0,), [0], 0):
        raise DatasetError(f"refusing numpy _reconstruct({subtype!r}, {shape!r}, ...)")
    return _numpy_reconstruct()(np.ndarray, shape, dtype)


def _ndarray_class(*args: Any, **kwargs: Any) -> np.ndarray:
    """What ``numpy.ndarray`` resolves to: the class :func:`_guarded_reconstruct` takes, never called.

    ``numpy.ndarray((N, 3072), 'u1')`` itself would allocate an array the file does not hold: a pickle of
    60 bytes named gigabytes, then filled in when read.
    """
    raise DatasetError("refusing a numpy.ndarray(...) call: it allocates memory the file does not hold")


def _guarded_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any, axis_order: Any = None) -> np.ndarray:
    """numpy's ``_frombuffer`` as protocol-5 pickles call it: an array over bytes the file holds.

    Only a plain numeric dtype, a shape of non-negative ints and ``order`` C or F are accepted (what
    numpy writes for a contiguous array); the array is a copy, so it never aliases the pickle's buffer.
    """
    if isinstance(buf, pickle.PickleBuffer):
        buf = buf.raw()
    ok = (
        isinstance(buf, (bytes, bytearray, memoryview))
        and isinstance(dtype, np.dtype) and dtype.kind in "biuf" and not dtype.hasobject
        and isinstance(shape, (tuple, list)) and all(isinstance(d, int) and d >= 0 for d in shape)
        and order in ("C", "F") and axis_order is None
    )
    if not ok:
        raise DatasetError(f"refusing numpy _frombuffer(<{type(buf).__name__}>, {dtype!r}, {shape!r}, {order!r})")
    flat = np.frombuffer(buf, dtype=dtype)
    if flat.size != int(np.prod(shape, dtype=np.int64)):
        raise DatasetError(f"refusing numpy _frombuffer: {flat.size} values do not fill shape {tuple(shape)}")
    return flat.reshape(shape, order=order).copy(order="C")


def _guarded_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 pickles bytes at protocol < 3: ``encode(text, 'latin1')``, nothing else."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise DatasetError(f"refusing _codecs.encode(<{type(obj).__name__}>, {encoding!r}): only latin1 text "
                           "(how Python 3 pickles bytes at protocol 2) is accepted")
    return obj.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only dicts, lists, tuples, str/bytes, numbers and numpy arrays/dtypes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise DatasetError(
                f"refusing to unpickle {module}.{name}: CIFAR batches only need numpy arrays "
                f"({_SAFE_NAMES})"
            )
        if name == "_reconstruct":
            return _guarded_reconstruct
        if name == "_frombuffer":
            return _guarded_frombuffer
        if name == "encode":
            return _guarded_encode
        return _ndarray_class if name == "ndarray" else np.dtype

    def persistent_load(self, pid: Any) -> Any:
        raise DatasetError("refusing to unpickle a persistent id")


def restricted_pickle_load(file: BinaryIO, where: str = "pickle") -> Any:
    """Unpickle ``file`` allowing only numpy arrays and plain containers (``encoding='bytes'``).

    Anything that names another global (``os.system``, ``builtins.eval``, ...) raises
    :class:`DatasetError` before it is looked up; a damaged stream raises it too.
    """
    try:
        return _RestrictedUnpickler(file, encoding="bytes").load()
    except DatasetError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    except Exception as exc:  # damaged pickles raise many types; all mean the same to the user
        raise DatasetError(
            f"{where}: not a readable CIFAR batch pickle ({type(exc).__name__}: {exc})"
        ) from exc


def read_cifar_batch(path: PathLike, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> (x uint8 (N, 3, 32, 32), y int64 (N,)), via the safe unpickler.

    ``data`` may hold the file's bytes already (then the file is not read again).
    """
    where = f"CIFAR-10 batch {path}"
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise DatasetError(f"{where} cannot be read ({exc}); expected {_BATCH_FORMAT}") from exc
    obj = restricted_pickle_load(io.BytesIO(data), where)
    if not isinstance(obj, dict):
        raise DatasetError(
            f"{where} holds a {type(obj).__name__}, not a dict; expected {_BATCH_FORMAT}"
        )
    x = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if x is None or labels is None:
        raise DatasetError(
            f"{where} lacks b'data' or b'labels' (keys {list(obj)}); expected {_BATCH_FORMAT}"
        )
    if isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 3 * 16 * 16:
        raise DatasetError(
            f"{where}: b'data' is ({x.shape[0]},768), 16x16 images; dataset 'cifar10' reads 32x32 batches "
            f"(N,3072). Give 16x16 CIFAR-10 as {CIFAR10_16PX_FILE} ({_NPZ_FORMAT}) with --dataset cifar10-16px"
        )
    x = _check_images(x, "b'data'", (3 * 32 * 32,), where, _BATCH_FORMAT)
    y = _check_labels(labels, "b'labels'", x.shape[0], 10, where, _BATCH_FORMAT)
    return x.reshape(-1, 3, 32, 32), y


def _read_cifar10_batches(name: str, data_dir: PathLike | None) -> _Raw:
    """``cifar-10-batches-py/`` (or the batch files directly) in the data directory."""
    expected = _BATCH_FORMAT
    root = _data_dir(name, data_dir, expected)
    files = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    candidates = (root / CIFAR10_BATCH_DIR, root)
    folder = next((d for d in candidates if all((d / f).is_file() for f in files)), None)
    if folder is None:
        found = root / CIFAR10_BATCH_DIR if (root / CIFAR10_BATCH_DIR).is_dir() else root
        missing = [f for f in files if not (found / f).is_file()]
        other = (f" ({root} holds {CIFAR10_16PX_FILE}: for it, --dataset cifar10-16px)"
                 if (root / CIFAR10_16PX_FILE).is_file() else "")
        raise DatasetError(
            f"dataset {name!r}: looked for the batch files in {str(root / CIFAR10_BATCH_DIR)!r} "
            f"and {str(root)!r}; {str(found)!r} lacks {', '.join(missing)}{other}; expected {expected}"
        )
    h = hashlib.sha256()
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    digests: dict[str, str] = {}
    for fname in files:
        try:
            data = (folder / fname).read_bytes()
        except OSError as exc:
            raise DatasetError(f"dataset {name!r}: cannot read {folder / fname} ({exc})") from exc
        h.update(data)
        digests[fname] = hashlib.sha256(data).hexdigest()
        parts[fname] = read_cifar_batch(folder / fname, data)
    x_train = np.concatenate([parts[f][0] for f in CIFAR10_TRAIN_BATCHES])
    y_train = np.concatenate([parts[f][1] for f in CIFAR10_TRAIN_BATCHES])
    pools = {"train": (x_train, y_train), "test": parts[CIFAR10_TEST_BATCH]}
    return _Raw(pools=pools, sha256=h.hexdigest(), files=digests)


def _read_digits(name: str, data_dir: PathLike | None) -> _Raw:
    """scikit-learn's bundled ``load_digits()`` (no file, no download): pool ``all``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - sklearn is installed in the project env
        raise DatasetError(
            f"dataset {name!r} needs scikit-learn (pip install scikit-learn)"
        ) from None
    bunch = load_digits()
    images, target = np.asarray(bunch.images), np.asarray(bunch.target)
    if images.ndim != 3 or images.shape[1:] != (8, 8) or np.any(images != np.round(images)) or (
        images.min() < 0 or images.max() > 16
    ):
        raise DatasetError(
            f"dataset {name!r}: load_digits() returned unexpected images {images.shape}"
        )
    x = images.astype(np.uint8)
    y = _check_labels(target, "target", x.shape[0], 10, "load_digits()", "labels 0..9")
    sha = array_sha256({"images": x, "target": y})
    return _Raw(pools={"all": (x[:, None], y)}, sha256=sha)


def make_synthetic(seed: int = SYNTHETIC_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic images: (x float32 (600, 3, 8, 8), y int64 (600,)), from one seed.

    Ten classes, 60 images each, in a seeded shuffled order. Each class has a blocky prototype
    (a random 4x4x3 Gaussian pattern upsampled 2x); an image is its class prototype, circularly
    shifted by -1..1 pixels in each direction, plus N(0, 2^2) noise. A linear model gets roughly
    85% test accuracy, so small networks can learn it, but not perfectly.
    """
    rng = np.random.default_rng(seed)
    k, n = 10, SYNTHETIC_PER_CLASS
    proto = np.kron(rng.normal(size=(k, 3, 4, 4)), np.ones((1, 1, 2, 2)))
    y = np.repeat(np.arange(k, dtype=np.int64), n)[rng.permutation(k * n)]
    x = proto[y] + SYNTHETIC_NOISE * rng.normal(size=(k * n, 3, 8, 8))
    shifts = rng.integers(-1, 2, size=(k * n, 2))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            sel = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            x[sel] = np.roll(x[sel], (dy, dx), axis=(2, 3))
    return x.astype(np.float32), y


def _read_synthetic(name: str, data_dir: PathLike | None) -> _Raw:
    """Generated in memory from :data:`SYNTHETIC_SEED`: pool ``all``."""
    x, y = make_synthetic(SYNTHETIC_SEED)
    sha = array_sha256({"x": x.transpose(0, 2, 3, 1), "y": y})
    return _Raw(pools={"all": (x, y)}, sha256=sha)


# --------------------------------------------------------------------------------------------
# Registry

_CIFAR_DOCS = {
    "train": (25_000, "50,000 official training images", "seeded class-stratified half"),
    "valid": (25_000, "50,000 official training images", "the other half (disjoint from train)"),
    "test": (10_000, "10,000 official test images", "all of them, official order"),
}
_CIFAR_PLAN: dict[str, tuple[tuple[str, Union[int, str, None]], ...]] = {
    "train": (("train", "half"), ("valid", None)),
    "test": (("test", None),),
}

_SPECS: dict[str, _Spec] = {
    "cifar10-16px": _Spec(
        name="cifar10-16px", source=CIFAR10_16PX_SOURCE, num_classes=10, in_channels=3,
        resolution=16, augment=True, reader=_read_cifar10_16px, plan=_CIFAR_PLAN,
        docs=_CIFAR_DOCS,
    ),
    "cifar10": _Spec(
        name="cifar10", source="CIFAR-10 (official python version batches), 32x32", num_classes=10,
        in_channels=3, resolution=32, augment=True, reader=_read_cifar10_batches, plan=_CIFAR_PLAN,
        docs=_CIFAR_DOCS,
    ),
    "digits": _Spec(
        name="digits", source="scikit-learn load_digits() (UCI optical digits, 8x8, values 0..16)",
        num_classes=10, in_channels=1, resolution=8, augment=False, reader=_read_digits,
        plan={"all": (("test", 300), ("valid", 300), ("train", None))},
        docs={
            "train": (1_197, "load_digits(), 1,797 images", "the rest (stratified)"),
            "valid": (300, "load_digits(), 1,797 images", "seeded stratified draw, after test"),
            "test": (300, "load_digits(), 1,797 images", "seeded stratified draw"),
        },
    ),
    "synthetic": _Spec(
        name="synthetic",
        source=f"synthetic: 10 classes of 8x8x3 shifted blocky prototypes + Gaussian noise "
        f"(seed {SYNTHETIC_SEED}), for tests",
        num_classes=10, in_channels=3, resolution=8, augment=False, reader=_read_synthetic,
        plan={"all": (("test", 100), ("valid", 100), ("train", None))},
        docs={
            "train": (400, "600 generated images", "the rest (stratified)"),
            "valid": (100, "600 generated images", "seeded stratified draw, after test"),
            "test": (100, "600 generated images", "seeded stratified draw"),
        },
    ),
}


def _spec(name: str) -> _Spec:
    if not isinstance(name, str) or name not in _SPECS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return _SPECS[name]


def _split_info(
    spec: _Spec, raw: _Raw, rows: dict[str, tuple[str, np.ndarray]], subset: dict[str, Any] | None,
    valid_subset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Sizes, class counts, provenance of each split, seeds (plain JSON types)."""
    counts = {
        s: np.bincount(raw.pools[pool][1][idx], minlength=spec.num_classes).tolist()
        for s, (pool, idx) in rows.items()
    }
    pool_sizes = {pool: int(len(y)) for pool, (_, y) in raw.pools.items()}
    return {
        "split_seed": SPLIT_SEED,
        "rng": f"numpy.random.default_rng({SPLIT_SEED})",
        "method": "class-stratified (stratified_split): each class's rows permuted by the rng, "
        "per-class counts by largest remainder; rows kept in ascending source order",
        "sizes": {s: int(len(rows[s][1])) for s in SPLITS},
        "class_counts": {s: counts[s] for s in SPLITS},
        "splits": {
            s: {"from": rows[s][0], "from_size": pool_sizes[rows[s][0]], "how": spec.docs[s][2]}
            for s in SPLITS
        },
        "max_train": None if subset is None else subset["size"],
        "train_subset": subset,
        **({} if valid_subset is None else {"max_valid": valid_subset["size"], "valid_subset": valid_subset}),
    }


def load_dataset(
    name: str, data_dir: PathLike | None = None, *, max_train: int | None = None,
    max_valid: int | None = None,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`) with its fixed splits, normalized.

    ``data_dir`` (file datasets only) is the directory holding the data; None reads
    ``$NASBENCH_DATA_DIR``. ``max_train`` keeps a stratified, seeded, nested subset of that many
    train rows (recorded in ``split_info["train_subset"]``); ``max_valid`` likewise for the valid
    split (``split_info["valid_subset"]``), to make per-epoch evaluation cheaper. Nothing is downloaded. Every data
    problem (unknown name, no directory, missing or malformed file, unsafe pickle) raises one
    :class:`DatasetError` that says where it looked and what it expected.
    """
    spec = _spec(name)
    raw, rows, subset, valid_subset = _read_and_split(spec, data_dir, max_train, max_valid)
    train_pool, train_idx = rows["train"]
    x_pool = raw.pools[train_pool][0]
    x_train = _to_float32(_gather(x_pool, train_idx))
    mean, std = _channel_stats(x_train, from_uint8=x_pool.dtype == np.uint8)
    splits = {}
    for s in SPLITS:
        pool, idx = rows[s]
        x = x_train if s == "train" else _to_float32(_gather(raw.pools[pool][0], idx))
        splits[s] = Split(x=_normalize_(x, mean, std), y=raw.pools[pool][1][idx], index=idx)
    return Dataset(
        name=spec.name, splits=splits, num_classes=spec.num_classes, in_channels=spec.in_channels,
        resolution=spec.resolution, mean=mean, std=std, sha256=raw.sha256, source=spec.source,
        split_info=_split_info(spec, raw, rows, subset, valid_subset), augment=spec.augment, files=dict(raw.files),
    )


def split_rows(
    name: str, data_dir: PathLike | None = None, *, max_train: int | None = None, max_valid: int | None = None,
) -> tuple[_Raw, dict[str, tuple[str, np.ndarray]]]:
    """The validated source arrays and each split's (pool, source rows), as :func:`load_dataset` uses
    them (without normalizing anything)."""
    raw, rows, _, _ = _read_and_split(_spec(name), data_dir, max_train, max_valid)
    return raw, rows


def _read_and_split(
    spec: _Spec, data_dir: PathLike | None, max_train: int | None, max_valid: int | None,
) -> tuple[_Raw, dict[str, tuple[str, np.ndarray]], dict[str, Any] | None, dict[str, Any] | None]:
    """Read the source, split it, cut the subsets: (raw, split -> (pool, rows), train subset info,
    valid subset info)."""
    for key, value in (("max_train", max_train), ("max_valid", max_valid)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise DatasetError(f"{key} must be an int or None, got {value!r}")
    raw = spec.reader(spec.name, data_dir)
    rows = _split_rows(spec, raw)
    subset = _subsample(spec, raw, rows, "train", max_train)
    valid_subset = _subsample(spec, raw, rows, "valid", max_valid)
    _check_present(spec, raw, rows)
    return raw, rows, subset, valid_subset


def _check_present(spec: _Spec, raw: _Raw, rows: dict[str, tuple[str, np.ndarray]]) -> None:
    """A row pack must hold every image the splits use."""
    for split, (pool, idx) in rows.items():
        mask = raw.present.get(pool)
        if mask is not None and not mask[idx].all():
            raise DatasetError(
                f"dataset {spec.name!r}: the data file is a row pack holding {int(mask.sum())} of "
                f"{len(mask)} {pool} images, and the {split} split needs {int((~mask[idx]).sum())} it "
                "lacks (a larger max_train/max_valid than it was packed for); pack it again for these "
                "subsets, or use the full file"
            )


def split_table() -> list[dict[str, Any]]:
    """One row per (dataset, split) documenting the splits, without loading any data.

    Sizes are those of the reference data (the official CIFAR-10 files, ``load_digits()``, the
    generator); a file dataset of another size is split the same way.
    """
    return [
        {
            "dataset": spec.name,
            "split": s,
            "size": spec.docs[s][0],
            "drawn_from": spec.docs[s][1],
            "how": spec.docs[s][2],
            "split_seed": SPLIT_SEED,
            "resolution": spec.resolution,
            "channels": spec.in_channels,
            "augment": spec.augment,
            "source": spec.source,
        }
        for spec in _SPECS.values()
        for s in SPLITS
    ]


def split_table_markdown() -> str:
    """:func:`split_table` as a Markdown table for the docs."""
    cols = ("dataset", "split", "size", "drawn_from", "how", "split_seed")
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for row in split_table():
        cells = [f"{row[c]:,}" if c == "size" else str(row[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"All splits: `numpy.random.default_rng({SPLIT_SEED})`, class-stratified, rows in source "
        f"order. `max_train=m` keeps a nested stratified subset of the train split "
        f"(`default_rng([{SPLIT_SEED}, {SUBSET_STREAM}])`); normalization statistics come from the "
        "returned train split."
    )
    return "\n".join(lines)
