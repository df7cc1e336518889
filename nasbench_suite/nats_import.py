"""Import the official NATS-Bench topology (``tss``) files into our table format, safely and streaming.

Sources:

* the **"simple" folder** (``NATS-tss-v1_0-3ffb9-simple/``): ``meta.pickle.pbz2`` (the NB201 index ->
  arch string order) and one ``%06d.pickle.pbz2`` per arch. Files are read one at a time, in blocks
  of arch rows that go straight to the table files, so memory stays bounded whatever the folder size;
* the **single file** ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (meta + every arch in one pickle). A pickle
  is one object, so this source is loaded whole (many GB for the full file; the folder is the
  scalable source). It is converted the same way.

Every pickle is read with :mod:`nasbench_suite.safe_pickle` (never ``pickle.load``).

Output: one table per NATS dataset and training length, named ``<name>-<dataset>-hp<12|200>``
(``nats-tss-cifar10-valid-hp12``, ...), all seeds, epochs counted from 1 (NATS' ``iepoch`` + 1).
Splits (see :data:`SPLITS`):

============== ================================ ============================= ===============================
dataset        train                            valid                         test
============== ================================ ============================= ===============================
cifar10-valid  25k train half                   ``x-valid`` (other 25k)       ``ori-test`` (10k test set)
cifar10        50k train+valid                  (none)                        ``ori-test``
cifar100       50k train                        ``x-valid`` (5k test half)    ``x-test`` (other 5k half);
                                                                              ``valtest_*`` = ``ori-test``
ImageNet16-120 151.7k train                     ``x-valid`` (3k val half)     ``x-test``; ``valtest_*``
============== ================================ ============================= ===============================

Measures: ``loss``, ``acc`` (top-1, percent), ``seconds`` (NATS' per-epoch train time, or per-pass
eval time) and, on train, ``acc5``. Per-arch values: ``params`` (M) and ``flops`` (M) as NATS'
``get_cost_info`` returns them (its legacy fix: seed 888's value where seeds disagree),
``latency`` (s per batch, mean of the recorded seeds) and ``nb201_index``.

**Not recorded** values stay NaN and a query for one raises :class:`MissingResultError`. At hp=200
NATS records ``x-valid``/``x-test`` of cifar100 and ImageNet16-120, and ``ori-test`` of
cifar10-valid, at the final epoch only. NATS-Bench's own API substitutes ``valtest`` (``ori-test``,
which contains the test half) when ``x-valid`` is missing; here that happens only with
``valtest_as_valid=True`` (CLI ``--valtest-as-valid``), which fills the missing ``valid`` epochs of
cifar100/ImageNet16-120 from ``ori-test`` and records it in the manifest of each table it filled (hp=200;
at hp=12 NATS records every x-valid epoch, so those tables stay NATS-Bench's).

Atomicity: each table is written into a hidden staging folder beside its target (the one
:func:`nasbench_suite.tablefile.write_table` uses, ``.TABLE.tmp-PID-*``) and installed like any table
(:func:`nasbench_suite.tablefile.install`) only when every file has been read; any error (an unsafe
pickle included) removes the staging folders and leaves nothing behind, and what a killed import left
is removed by the next one.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from . import tablefile
from .errors import DatasetError
from .pools import spawn_pool
from .safe_pickle import load_pbz2
from .space import NUM_ARCHS, Arch
from .table import Benchmark, load_table

META_FILE = "meta.pickle.pbz2"
SINGLE_FILE = "NATS-tss-v1_0-3ffb9.pickle.pbz2"
ARCH_FILE = re.compile(r"^(\d{1,6})\.pickle\.pbz2$")
MAX_FILE_BYTES = 64 << 20
"""Most bytes one file of the "simple" folder (meta or an arch) may unpack to (an arch file of the test
generator unpacks to 208 kB): a bz2 file of some kB can unpack to GBs, which its pickle then holds in
memory (in each worker). The single file is read whole, without a limit (see the module doc)."""
DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
HPS: dict[str, int] = {"12": 12, "200": 200}
SEED_SLOTS = (111, 777, 888, 999)
"""Seeds NATS-Bench tss v1.0 uses (hp=12: 111, 777; hp=200: 777, 888, 999). Unused ones are dropped."""
TRAIN_MEASURES = (("loss", "train_losses"), ("acc", "train_acc1es"), ("acc5", "train_acc5es"),
                  ("seconds", "train_times"))
EVAL_MEASURES = (("loss", "eval_losses"), ("acc", "eval_acc1es"), ("seconds", "eval_times"))


@dataclass(frozen=True)
class _Source:
    """Where an eval split's values come from: NATS eval set name and measure prefix."""

    nats_set: str
    prefix: str = ""


SPLITS: dict[str, dict[str, tuple[_Source, ...]]] = {
    "cifar10-valid": {"valid": (_Source("x-valid"),), "test": (_Source("ori-test"),)},
    "cifar10": {"test": (_Source("ori-test"),)},
    "cifar100": {"valid": (_Source("x-valid"),), "test": (_Source("x-test"), _Source("ori-test", "valtest_"))},
    "ImageNet16-120": {"valid": (_Source("x-valid"),), "test": (_Source("x-test"), _Source("ori-test", "valtest_"))},
}
DESCRIPTIONS = {
    "cifar10-valid": "CIFAR-10 trained on the 25k train half; valid = x-valid (the other 25k), test = ori-test (10k)",
    "cifar10": "CIFAR-10 trained on all 50k training images; test = ori-test (10k); no valid split",
    "cifar100": "CIFAR-100; valid = x-valid, test = x-test (halves of the 10k test set); test_valtest_* = ori-test "
                "(the whole test set)",
    "ImageNet16-120": "ImageNet16-120; valid = x-valid, test = x-test (halves of the 6k val set); test_valtest_* = "
                      "ori-test (both halves)",
}


def table_name(name: str, dataset: str, hp: str) -> str:
    return f"{name}-{dataset}-hp{hp}"


# ----- reading the source ---------------------------------------------------------------------------
def _meta_order(meta: Any, where: str) -> np.ndarray:
    """Our index of every NB201 index, from ``meta_archs``."""
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or len(archs) != NUM_ARCHS:
        raise DatasetError(f"{where} has no meta_archs list of {NUM_ARCHS} arch strings: not NATS-Bench tss data")
    ours = np.asarray([Arch.from_str(s).index for s in archs], dtype=np.int64)
    if np.unique(ours).size != NUM_ARCHS:
        raise DatasetError(f"{where}: meta_archs repeats an architecture")
    return ours


class _FolderSource:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        meta = folder / META_FILE
        if not meta.is_file():
            raise DatasetError(f"{folder} has no {META_FILE}: not a NATS-Bench tss 'simple' folder")
        self.ours = _meta_order(load_pbz2(meta, MAX_FILE_BYTES), str(meta))
        self.meta_sha256 = hashlib.sha256(meta.read_bytes()).hexdigest()
        self.files: dict[int, Path] = {}
        with os.scandir(folder) as entries:  # closed also when a refusal below ends the loop
            for entry in entries:
                m = ARCH_FILE.match(entry.name)
                if m and int(m.group(1)) < NUM_ARCHS:
                    if not entry.is_file():  # reading a FIFO waited for a writer forever
                        raise DatasetError(f"{entry.path} is not a regular file (a folder, FIFO, device or broken link)")
                    idx = int(m.group(1))
                    if idx in self.files:
                        raise DatasetError(f"{folder} holds two files for NB201 index {idx}")
                    self.files[idx] = Path(entry.path)
        if not self.files:
            raise DatasetError(f"{folder} holds no %06d.pickle.pbz2 arch files")
        self.description = {"format": "NATS-Bench tss 'simple' folder", "path": str(folder),
                            "meta_sha256": self.meta_sha256, "arch_files": len(self.files)}

    @property
    def nb201_indices(self) -> list[int]:
        return list(self.files)

    def record(self, nb201: int) -> Any:
        return load_pbz2(self.files[nb201], MAX_FILE_BYTES)


class _FileSource:
    def __init__(self, path: Path) -> None:
        data = load_pbz2(path)
        self.ours = _meta_order(data, str(path))
        infos = data.get("arch2infos")
        if not isinstance(infos, dict) or not infos:
            raise DatasetError(f"{path} has no arch2infos: not the NATS-Bench tss single file")
        bad = next((k for k in infos if isinstance(k, bool) or not isinstance(k, (int, np.integer))
                    or not 0 <= k < NUM_ARCHS), None)  # '3' was a KeyError, 20000 an IndexError: tracebacks
        if bad is not None:
            raise DatasetError(f"{path}: arch2infos key {bad!r} is not an NB201 index 0..{NUM_ARCHS - 1}")
        self._infos = infos
        self.description = {"format": "NATS-Bench tss single file (loaded whole)", "path": str(path),
                            "arch_records": len(infos)}

    @property
    def nb201_indices(self) -> list[int]:
        return [int(k) for k in self._infos]

    def record(self, nb201: int) -> Any:
        return self._infos[nb201]


def open_source(path: str | os.PathLike) -> _FolderSource | _FileSource:
    p = Path(path)
    if p.is_dir():
        return _FolderSource(p)
    if p.is_file():
        return _FileSource(p)
    raise DatasetError(f"{p} does not exist; give the NATS-tss-v1_0-3ffb9-simple folder or the single .pickle.pbz2 file")


# ----- one table's layout and its row blocks --------------------------------------------------------
@dataclass
class _Plan:
    dataset: str
    hp: str
    measures: dict[str, list[str]]
    where: dict[str, list[tuple[str, str]]]
    """split -> (record field, NATS eval set or '' for train) per measure position."""

    @property
    def epochs(self) -> int:
        return HPS[self.hp]


def _plan(dataset: str, hp: str) -> _Plan:
    measures = {"train": [m for m, _ in TRAIN_MEASURES]}
    where: dict[str, list[tuple[str, str]]] = {"train": [(f, "") for _, f in TRAIN_MEASURES]}
    for split, sources in SPLITS[dataset].items():
        measures[split] = [src.prefix + m for src in sources for m, _ in EVAL_MEASURES]
        where[split] = [(f, src.nats_set) for src in sources for _, f in EVAL_MEASURES]
    return _Plan(dataset, hp, measures, where)


def _curve(values: Any, keys: list[Any], what: str) -> list[float]:
    if values is None:
        return [np.nan] * len(keys)
    if not isinstance(values, dict):
        raise DatasetError(f"{what} is a {type(values).__name__}, expected a dict of per-epoch values")
    out = []
    for k in keys:
        v = values.get(k)
        out.append(np.nan if v is None else float(v))
    return out


def _legacy_fixed(values: list[float], seeds: list[int]) -> float:
    """NATS' ``get_compute_costs`` rule: where seeds disagree (to 5 decimals), seed 888's value."""
    if len({f"{v:.5f}" for v in values}) > 1 and 888 in seeds:
        return values[seeds.index(888)]
    return float(np.mean(values))


@dataclass
class _Rows:
    """One arch's values for one table: [seed slot, epoch, measure] per split, and per-arch values."""

    arrays: dict[str, np.ndarray]
    seed_used: np.ndarray
    params: float
    flops: float
    latency: float


def _arch_rows(plan: _Plan, arch_results: Mapping[str, Any], where: str) -> _Rows | None:
    """One table's rows of one ArchResults state dict (None if it has no results for the dataset)."""
    epochs = plan.epochs
    seeds = arch_results.get("dataset_seed", {}).get(plan.dataset)
    if not seeds:
        return None
    all_results = arch_results.get("all_results")
    if not isinstance(all_results, dict):
        raise DatasetError(f"{where}: hp={plan.hp} has no all_results dict")
    shape = (len(SEED_SLOTS), epochs)
    arrays = {s: np.full((*shape, len(ms)), np.nan, dtype=np.float32) for s, ms in plan.measures.items()}
    used = np.zeros(len(SEED_SLOTS), dtype=bool)
    train_keys = list(range(epochs))
    params, flops, lats = [], [], []
    for seed in seeds:
        res = all_results.get((plan.dataset, seed))
        what = f"{where}: hp={plan.hp} {plan.dataset} seed {seed}"
        if not isinstance(res, dict):
            raise DatasetError(f"{what} is listed in dataset_seed but has no result")
        if seed not in SEED_SLOTS:
            raise DatasetError(f"{what}: unexpected seed; NATS-Bench tss v1.0 uses seeds {SEED_SLOTS}")
        if res.get("epochs") != epochs:
            raise DatasetError(f"{what}: records {res.get('epochs')!r} epochs, expected {epochs}")
        s = SEED_SLOTS.index(seed)
        used[s] = True
        for split, spec in plan.where.items():
            out = arrays[split][s]
            for m, (field, nats_set) in enumerate(spec):
                keys = train_keys if not nats_set else [f"{nats_set}@{i}" for i in train_keys]
                out[:, m] = _curve(res.get(field), keys, f"{what} {field}")
        params.append(float(res["params"]))
        flops.append(float(res["flop"]))
        lat = res.get("latency")
        if lat:
            value = float(np.mean([float(x) for x in lat]))
            if value > 0:
                lats.append(value)
    return _Rows(arrays, used, _legacy_fixed(params, list(seeds)), _legacy_fixed(flops, list(seeds)),
                 float(np.mean(lats)) if lats else np.nan)


PLANS: dict[tuple[str, str], _Plan] = {(ds, hp): _plan(ds, hp) for hp in HPS for ds in DATASETS}


def _decode(record: Any, idx: int, our_index: int) -> dict[tuple[str, str], _Rows]:
    """Every table's rows of one arch record ({hp: ArchResults state}); malformed input -> DatasetError."""
    where = f"NB201 arch {idx}"
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: the record is a {type(record).__name__}, expected a dict")
    out = {}
    try:
        for key, plan in PLANS.items():
            arch_results = record.get(plan.hp)
            if arch_results is None:
                continue
            if arch_results.get("arch_index") != idx or Arch.from_str(arch_results.get("arch_str", "")).index != our_index:
                raise DatasetError(f"{where}: its record names arch {arch_results.get('arch_index')!r} "
                                   f"{arch_results.get('arch_str')!r}, not the meta file's entry")
            rows = _arch_rows(plan, arch_results, where)
            if rows is not None:
                out[key] = rows
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # OverflowError: float(10**400)
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{where}: malformed record ({type(exc).__name__}: {exc})") from None
    return out


def _decode_file(path: str, idx: int, our_index: int) -> dict[tuple[str, str], _Rows]:
    """Worker task: read one arch file with the restricted unpickler and decode it."""
    return _decode(load_pbz2(path, MAX_FILE_BYTES), idx, our_index)


class _Block:
    """In-memory rows of one table for a block of archs, and the table's per-arch values."""

    def __init__(self, plan: _Plan, rows: int, num_archs: int) -> None:
        self.plan = plan
        shape = (rows, len(SEED_SLOTS), plan.epochs)
        self.arrays = {s: np.full((*shape, len(ms)), np.nan, dtype=np.float32) for s, ms in plan.measures.items()}
        self.seed_used = np.zeros(len(SEED_SLOTS), dtype=bool)
        self.params = np.full(num_archs, np.nan)
        self.flops = np.full(num_archs, np.nan)
        self.latency = np.full(num_archs, np.nan)
        self.present = np.zeros(num_archs, dtype=bool)
        self.filled = False
        """Whether :func:`_substitute_valtest` filled any value (the manifest's ``valtest_as_valid``)."""

    def reset(self) -> None:
        for a in self.arrays.values():
            a.fill(np.nan)

    def put(self, r: int, row: int, rows: _Rows) -> None:
        """Row ``r`` of the block is table row ``row``."""
        for split, a in rows.arrays.items():
            self.arrays[split][r] = a
        self.seed_used |= rows.seed_used
        self.params[row], self.flops[row], self.latency[row] = rows.params, rows.flops, rows.latency
        self.present[row] = True


def _substitute_valtest(block: _Block) -> None:
    """Fill missing valid epochs from ori-test (``valtest``): NATS-Bench's substitution, on request."""
    test = block.arrays.get("test")
    valid = block.arrays.get("valid")
    if test is None or valid is None or "valtest_acc" not in block.plan.measures["test"]:
        return
    for m, measure in enumerate(block.plan.measures["valid"]):
        src = test[..., block.plan.measures["test"].index(f"valtest_{measure}")]
        dst = valid[..., m]
        missing = np.isnan(dst) & ~np.isnan(src)  # not the seed slots or rows no trial fills
        dst[missing] = src[missing]
        block.filled |= bool(missing.any())


# ----- the import ------------------------------------------------------------------------------------
def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="arch", desc="import nats-tss", disable=not (sys.stderr.isatty() if enabled is None
                                                                                else enabled))


def _compact_seeds(folder: Path, split: str, shape: tuple[int, ...], used: np.ndarray) -> None:
    """Rewrite ``<split>.npy`` keeping only the used seed slots (runs of all archs, one at a time)."""
    path = folder / f"{split}.npy"
    _, _, dtype, offset = tablefile._npy_header(path)
    n_arch, n_seed, n_epoch, n_meas = shape
    keep = np.flatnonzero(used)
    out = tablefile.SplitFile(folder / f".{split}.compact", (n_arch, len(keep), n_epoch, n_meas))
    fd = os.open(path, os.O_RDONLY)
    try:
        run = n_arch * dtype.itemsize
        for m in range(n_meas):
            for e in range(n_epoch):
                for k, s in enumerate(keep):
                    data = os.pread(fd, run, offset + ((m * n_epoch + e) * n_seed + int(s)) * run)
                    col = ((m * n_epoch + e) * len(keep) + k) * run
                    os.pwrite(out._fd, data, out.offset + col)
    finally:
        os.close(fd)
        out.close()
    os.replace(out.path, path)


def import_nats_tss(path: str | os.PathLike, out: str | os.PathLike, *, name: str = "nats-tss",
                    valtest_as_valid: bool = False, overwrite: bool = False, block_size: int = 128,
                    workers: int = 1, progress: bool | None = None,
                    on_record: Callable[[int], None] | None = None) -> list[Benchmark]:
    """Convert NATS-Bench tss data at ``path`` into tables under ``out``; see the module doc.
    ``workers`` > 1 decodes the files of a folder in that many processes, one block of rows at a
    time; ``on_record(i)`` is called after each arch record is read (for measurements)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise DatasetError(f"table name prefix {name!r} must be letters, digits, '.', '_' or '-'")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DatasetError(f"workers must be an integer >= 1, got {workers!r}")
    out = Path(out)
    targets = {(ds, hp): out / table_name(name, ds, hp) for hp in HPS for ds in DATASETS}
    for target in targets.values():  # and what killed imports left beside them goes (remove_leftovers)
        tablefile.check_replaceable(target, overwrite)
    tablefile.remove_stale(out, rf"\.{re.escape(name)}\.import-[a-z0-9_]{{8}}")  # older versions' staging
    source = open_source(path)
    nb201 = np.asarray(sorted(source.nb201_indices, key=lambda i: source.ours[i]), dtype=np.int64)
    ours = source.ours[nb201]  # rows in our index order
    n = len(nb201)
    made = tablefile.make_folder(out)
    staging: dict[tuple[str, str], Path] = {}  # each table written beside its target, as write_table does
    files: dict[tuple[str, str], dict[str, tablefile.SplitFile]] = {}
    installed = False
    try:
        blocks = {key: _Block(plan, min(block_size, n), n) for key, plan in PLANS.items()}
        for key, plan in PLANS.items():
            staging[key] = tablefile.temporary_folder(targets[key])
            files[key] = {s: tablefile.SplitFile(staging[key] / f"{s}.npy",
                                                 (n, len(SEED_SLOTS), plan.epochs, len(ms)))
                          for s, ms in plan.measures.items()}
        with ExitStack() as stack:
            pool = None
            if workers > 1 and isinstance(source, _FolderSource):
                pool = stack.enter_context(spawn_pool(min(workers, n)))  # as every caller: no idle workers
            with _progress(n, progress) as bar:
                for start in range(0, n, block_size):
                    stop = min(start + block_size, n)
                    for b in blocks.values():
                        b.reset()
                    rows = range(start, stop)
                    if pool is not None:  # one block at a time: memory stays bounded
                        decoded: Iterator[dict[tuple[str, str], _Rows]] = pool.map(
                            _decode_file, [str(source.files[int(nb201[i])]) for i in rows],
                            [int(nb201[i]) for i in rows], [int(ours[i]) for i in rows], chunksize=4)
                    else:
                        decoded = (_decode(source.record(int(nb201[i])), int(nb201[i]), int(ours[i])) for i in rows)
                    for r, (row, tables) in enumerate(zip(rows, decoded)):
                        for key, arch_rows in tables.items():
                            blocks[key].put(r, row, arch_rows)
                        bar.update(1)
                        if on_record is not None:
                            on_record(row)
                    for key, b in blocks.items():
                        if valtest_as_valid:
                            _substitute_valtest(b)
                        for split, f in files[key].items():
                            f.write_rows(start, b.arrays[split][: stop - start])
        for f in (f for group in files.values() for f in group.values()):
            f.close()
        written = []
        for key, b in blocks.items():
            folder = staging[key]
            if not b.seed_used.any():
                continue  # this source has no results for this dataset and length
            if not b.present.all():
                missing = int(nb201[~b.present][0])
                raise DatasetError(f"NB201 arch {missing} has no hp={key[1]} {key[0]} results while other archs do")
            for split in PLANS[key].measures:
                if not b.seed_used.all():
                    _compact_seeds(folder, split, files[key][split].shape, b.seed_used)
            written.append((key, folder, b))
        if not written:
            raise DatasetError(f"{path} holds no results for any NATS dataset")
        for key, folder, b in written:
            ds, hp = key
            seeds = [s for s, u in zip(SEED_SLOTS, b.seed_used) if u]
            scalars = {"arch_index": ours.astype(np.int32), "nb201_index": nb201.astype(np.int32),
                       "params": b.params, "flops": b.flops, "latency": b.latency}
            tablefile.finish_streamed(folder, PLANS[key].measures, scalars, _manifest(
                targets[key].name, ds, hp, seeds, n, source.description, b.filled))
        for key, folder, _ in written:
            tablefile.install(folder, targets[key], overwrite=overwrite)
            installed = True
        return [load_table(targets[key]) for key, _, _ in written]
    finally:
        for f in (f for group in files.values() for f in group.values()):
            f.close()
        for folder in staging.values():
            shutil.rmtree(folder, ignore_errors=True)  # not installed: unused, or the import failed
        if not installed:
            tablefile.remove_made(made)  # a failed import leaves no folder it made behind


def _manifest(tname: str, dataset: str, hp: str, seeds: list[int], n: int, source: dict[str, Any],
              substituted: bool) -> dict[str, Any]:
    """``substituted``: valid values were filled from ori-test (``valtest_as_valid``, where NATS lacks them)."""
    epochs = HPS[hp]
    not_recorded = "none known"
    if hp == "200":
        not_recorded = {"cifar10-valid": "test (ori-test) before epoch 200",
                        "cifar100": "valid (x-valid) and test (x-test) before epoch 200",
                        "ImageNet16-120": "valid (x-valid) and test (x-test) before epoch 200",
                        "cifar10": "none known"}[dataset]
    return {
        "name": tname,
        "description": f"NATS-Bench tss {dataset}, hp={hp} ({epochs}-epoch schedule), imported from the official files",
        "dataset": {"name": dataset, "sha256": source.get("meta_sha256", "-"), "description": DESCRIPTIONS[dataset]},
        "protocol": {"epochs": epochs, "hp": hp, "benchmark": "NATS-Bench tss v1.0 (NAS-Bench-201 topology space)"},
        "source": {**source, "note": "imported with nasbench_suite.nats_import (restricted unpickler); "
                                     "NATS-Bench data is MIT licensed (Xuanyi Dong)"},
        "seeds_note": f"NATS trial seeds {seeds}; per-arch values hold NaN for seeds an arch lacks",
        "not_recorded": f"stored as NaN, a query raises MissingResultError: {not_recorded}"
                        + ("" if not substituted else "; valid epochs NATS lacks were filled from ori-test"),
        "valtest_as_valid": bool(substituted),
        "units": {"acc": "percent", "seconds": "NATS per-epoch (pseudo) train time / eval pass time",
                  "params": "M", "flops": "M", "latency": "seconds per batch"},
        "epoch_convention": "epoch = NATS iepoch + 1",
        "seeds": seeds,
        "epochs": list(range(1, epochs + 1)),
        "num_archs": n,
        "coverage": f"{n}/{NUM_ARCHS}",
    }
