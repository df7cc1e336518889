"""The lookup-table query API: :class:`Benchmark`, its test-free :class:`SearchView`, the loader and
the builder.

Terms:

* **split** is ``train``, ``valid`` or ``test`` (what the dataset's manifest says each one is);
* **measure** is a quantity recorded on a split each epoch, e.g. ``loss``, ``acc`` (percent) and
  ``seconds`` (wall time of that epoch's training pass on ``train``, of one evaluation pass on
  ``valid``/``test``);
* **epoch** counts from 1: the value after ``epoch`` training epochs. Every query names its epoch;
  ``bench.max_epoch`` is the last one;
* **seed** is one of ``bench.seeds``, or ``None`` for the mean over the seeds that have a result.

A query for something the table does not hold raises a :class:`~nasbench_suite.errors.QueryError`
subclass; it never returns -1 or NaN.
"""
from __future__ import annotations

import importlib.resources
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from . import tablefile
from .errors import (
    ArchNotInTableError,
    EpochNotInTableError,
    MissingResultError,
    SeedNotInTableError,
    SplitNotAvailableError,
    TableBuildError,
    TableCorruptedError,
    TableNotFoundError,
)
from .space import NUM_ARCHS, Arch, ArchLike

if TYPE_CHECKING:
    import pandas as pd

SEARCH_SPLITS = ("train", "valid")
KEY_COLUMNS = ("arch_index", "arch_str", "seed", "epoch")
_METRIC_COLUMN = re.compile(r"^(train|valid|test)_([a-z0-9][a-z0-9_]*)$")
TABLES_ENV = "NASBENCH_TABLES_DIR"


def higher_is_better(measure: str) -> bool:
    """Whether larger values of ``measure`` are better: accuracies (``acc``, ``acc5``, ``valtest_acc``)
    are; losses and seconds are not."""
    return measure.rsplit("_", 1)[-1].startswith("acc")


def _arch_index(arch: ArchLike) -> int:
    if type(arch) is int and 0 <= arch < NUM_ARCHS:  # fast path for the common case
        return arch
    return Arch.parse(arch).index


class TableView:
    """Read access to some splits of a table; shared by :class:`Benchmark` and :class:`SearchView`."""

    def __init__(self, name: str, arrays: Mapping[str, np.ndarray], measures: Mapping[str, list[str]],
                 seeds: Iterable[int], epochs: Iterable[int], arch_index: np.ndarray,
                 scalars: Mapping[str, np.ndarray], hidden: Iterable[str] = ()) -> None:
        self.name = name
        self._arrays = dict(arrays)
        self._measures = {s: {m: i for i, m in enumerate(measures[s])} for s in self._arrays}
        self.seeds: tuple[int, ...] = tuple(int(s) for s in seeds)
        self.epochs: tuple[int, ...] = tuple(int(e) for e in epochs)
        self._seed_pos = {s: i for i, s in enumerate(self.seeds)}
        self.arch_indices: np.ndarray = arch_index
        self._row_of = np.full(NUM_ARCHS, -1, dtype=np.int64)
        self._row_of[arch_index] = np.arange(len(arch_index))
        self._scalars = dict(scalars)
        self._hidden = tuple(hidden)

    # ----- what is here ------------------------------------------------------------------------
    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self._arrays)

    def measures(self, split: str) -> tuple[str, ...]:
        return tuple(self._measures_of(split))

    @property
    def max_epoch(self) -> int:
        return self.epochs[-1]

    @property
    def num_archs(self) -> int:
        return len(self.arch_indices)

    @property
    def scalar_names(self) -> tuple[str, ...]:
        return tuple(k for k in self._scalars if k != "arch_index")

    def has_arch(self, arch: ArchLike) -> bool:
        return bool(self._row_of[_arch_index(arch)] >= 0)

    def trained_rows(self) -> np.ndarray:
        """Boolean mask over rows: the cells trained for real. A table filled from isomorphism-class
        representatives (it has a ``trained_as`` value per arch) copies the other members' rows, so
        statistics across cells (spread, rank correlations, predictor splits) should leave them out."""
        if "trained_as" not in self._scalars:
            return np.ones(self.num_archs, dtype=bool)
        return self._scalars["trained_as"] == self.arch_indices

    # ----- lookups that validate ---------------------------------------------------------------
    def _measures_of(self, split: str) -> dict[str, int]:
        try:
            return self._measures[split]
        except (KeyError, TypeError):  # TypeError: an unhashable split (a list) said only "unhashable type"
            if split in self._hidden:
                raise SplitNotAvailableError(
                    f"the {split!r} split is hidden from this view: search sees only "
                    f"{', '.join(self.splits)}; test metrics are read by evaluation and reports"
                ) from None
            raise SplitNotAvailableError(
                f"unknown split {split!r} in table {self.name!r}; it has {', '.join(self.splits)}"
            ) from None

    def _loc(self, split: str, measure: str) -> tuple[np.ndarray, int]:
        measures = self._measures_of(split)
        try:
            m = measures.get(measure)
        except TypeError:  # an unhashable measure (a list) said only "unhashable type"
            m = None
        if m is None:
            raise SplitNotAvailableError(
                f"table {self.name!r} records no {measure!r} on the {split!r} split; "
                f"it has {', '.join(self._measures[split])}"
            )
        return self._arrays[split], m

    def row(self, arch: ArchLike) -> int:
        index = _arch_index(arch)
        r = int(self._row_of[index])
        if r < 0:
            raise ArchNotInTableError(f"architecture {index} ({Arch.from_index(index)}) is not in table {self.name!r}")
        return r

    def _epoch(self, epoch: int) -> int:
        if isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, (int, np.integer)):
            raise EpochNotInTableError(f"epoch must be an integer 1..{self.max_epoch}, got {epoch!r}")
        if not 1 <= epoch <= self.max_epoch:
            raise EpochNotInTableError(f"epoch {epoch} is not in table {self.name!r}: it records epochs 1..{self.max_epoch}")
        return int(epoch) - 1

    def _seed(self, seed: int | None) -> slice | int:
        if seed is None:
            return slice(None)
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise SeedNotInTableError(f"seed must be an integer (one of {list(self.seeds)}) or None, got {seed!r}")
        pos = self._seed_pos.get(seed)
        if pos is None:
            raise SeedNotInTableError(f"seed {seed!r} is not in table {self.name!r}; its seeds are {list(self.seeds)}")
        return pos

    @staticmethod
    def _reduce(values: np.ndarray, what: str, seed: int | None) -> float:
        """A scalar (of ``seed``), or the mean over seeds of the recorded (non-NaN) values."""
        vals = values.tolist()
        if not isinstance(vals, list):
            if vals != vals:
                raise MissingResultError(f"no result recorded for {what} seed {seed}")
            return float(vals)
        ok = [v for v in vals if v == v]
        if not ok:
            raise MissingResultError(f"no result recorded for {what} (no seed has it)")
        return sum(ok) / len(ok)

    # ----- queries -----------------------------------------------------------------------------
    def metric(self, arch: ArchLike, split: str, measure: str = "acc", *, epoch: int, seed: int | None = None) -> float:
        """One value: ``measure`` on ``split`` after ``epoch`` epochs (mean over seeds if seed is None)."""
        array, m = self._loc(split, measure)
        r, e, s = self.row(arch), self._epoch(epoch), self._seed(seed)
        return self._reduce(array[r, s, e, m], f"{split}_{measure} of arch {_arch_index(arch)} at epoch {epoch}", seed)

    def curve(self, arch: ArchLike, split: str, measure: str = "acc", *, seed: int | None = None) -> np.ndarray:
        """Values at epochs 1..max_epoch (float64; NaN-free mean over seeds when seed is None)."""
        array, m = self._loc(split, measure)
        r, s = self.row(arch), self._seed(seed)
        values = array[r, s, :, m].astype(np.float64)
        if seed is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                values = np.nanmean(values, axis=0)
        if np.isnan(values).any():
            raise MissingResultError(f"the {split}_{measure} curve of arch {_arch_index(arch)} (seed {seed}) has missing epochs")
        return values

    def train_cost(self, arch: ArchLike, *, epoch: int, seed: int | None = None) -> float:
        """Measured seconds to train ``arch`` from scratch through ``epoch`` (sum of per-epoch times)."""
        array, m = self._loc("train", "seconds")
        r, e, s = self.row(arch), self._epoch(epoch), self._seed(seed)
        per_seed = array[r, s, : e + 1, m].sum(axis=-1, dtype=np.float64)
        return self._reduce(np.asarray(per_seed), f"training time of arch {_arch_index(arch)} to epoch {epoch}", seed)

    def eval_cost(self, arch: ArchLike, split: str = "valid", *, epoch: int, seed: int | None = None) -> float:
        """Measured seconds of one evaluation pass over ``split`` after ``epoch``."""
        return self.metric(arch, split, "seconds", epoch=epoch, seed=seed)

    def array(self, split: str, measure: str = "acc", *, epoch: int, seed: int | None = None) -> np.ndarray:
        """One vectorized read over every arch row (order of ``arch_indices``); NaN where missing."""
        array, m = self._loc(split, measure)
        e, s = self._epoch(epoch), self._seed(seed)
        block = array[:, s, e, m]
        if seed is not None:
            return np.asarray(block, dtype=np.float64)
        if np.isnan(block).any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
                return np.nanmean(block, axis=1, dtype=np.float64)
        return block.mean(axis=1, dtype=np.float64)

    def optimum(self, split: str, measure: str = "acc", *, epoch: int | None = None, seed: int | None = None,
                maximize: bool | None = None, among: np.ndarray | None = None) -> tuple[Arch, float]:
        """Best arch and value of ``measure`` on ``split`` at ``epoch`` (default: the last). Best is the
        largest value where :func:`higher_is_better` says so (accuracies) and the smallest otherwise
        (losses, seconds), unless ``maximize`` says which. ``among``, a (15625,) boolean mask by arch
        index, restricts it to those cells (e.g. the ones within a latency limit)."""
        if maximize is None:
            maximize = higher_is_better(measure)
        elif not isinstance(maximize, (bool, np.bool_)):  # maximize='no' is truthy: it maximized, silently
            raise TypeError(f"optimum's maximize must be True, False or None (by the measure), got {maximize!r}")
        values = self.array(split, measure, epoch=self.max_epoch if epoch is None else epoch, seed=seed)
        if among is not None:
            among = np.asarray(among, dtype=bool)
            if among.shape != (NUM_ARCHS,):
                raise ValueError(f"optimum's among must be a ({NUM_ARCHS},) boolean mask by arch index, got shape "
                                 f"{among.shape}")
            values = np.where(among[self.arch_indices], values, np.nan)
        if np.isnan(values).all():
            raise MissingResultError(f"table {self.name!r} has no {split}_{measure} results at that epoch"
                                     + ("" if among is None else " among the cells allowed"))
        r = int(np.nanargmax(values) if maximize else np.nanargmin(values))
        return Arch.from_index(int(self.arch_indices[r])), float(values[r])

    def scalar(self, arch: ArchLike, name: str) -> float:
        return float(self.scalars(name)[self.row(arch)])

    def scalars(self, name: str) -> np.ndarray:
        try:
            return self._scalars[name]
        except (KeyError, TypeError):
            raise SplitNotAvailableError(
                f"table {self.name!r} has no per-arch value {name!r}; it has {', '.join(self.scalar_names) or 'none'}"
            ) from None


class SearchView(TableView):
    """What a search strategy may read: train/valid metrics and costs. The test array is not here."""


class Benchmark(TableView):
    """A loaded, verified table with every split, for evaluation and reports."""

    def __init__(self, path: Path, manifest: dict[str, Any], arrays: Mapping[str, np.ndarray],
                 scalars: Mapping[str, np.ndarray]) -> None:
        measures = {s: list(spec["measures"]) for s, spec in manifest["arrays"].items()}
        super().__init__(manifest.get("name", path.name), arrays, measures, manifest["seeds"],
                         manifest["epochs"], scalars["arch_index"], scalars)
        self.path = path
        self.manifest = manifest
        self._measure_lists = measures

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    def search_view(self) -> SearchView:
        """A view for search strategies: train and valid splits only (test is not reachable)."""
        keep = [s for s in SEARCH_SPLITS if s in self._arrays]
        return SearchView(self.name, {s: self._arrays[s] for s in keep}, self._measure_lists, self.seeds,
                          self.epochs, self.arch_indices, self._scalars,
                          hidden=[s for s in self._arrays if s not in keep])

    def to_frame(self, rows: slice = slice(None)) -> "pd.DataFrame":
        """The tidy export: one row per (arch, seed, epoch), every split's measures, per-arch scalars;
        of the table's archs at positions ``rows`` (default all), so a large table can be written a
        block of archs at a time."""
        import pandas as pd

        archs = np.arange(self.num_archs)[rows]
        n_s, n_e = len(self.seeds), len(self.epochs)
        pos, s_idx, e_idx = (g.reshape(-1) for g in np.meshgrid(np.arange(archs.size), np.arange(n_s), np.arange(n_e),
                                                                 indexing="ij"))
        a_idx = archs[pos]
        # one str per arch, shared by its rows (a Categorical's astype(str) made a fixed-width copy of every
        # row's string first: 3 GB at NB201's size)
        names = np.array([str(Arch.from_index(int(i))) for i in self.arch_indices[archs]], dtype=object)
        cols: dict[str, Any] = {
            "arch_index": self.arch_indices[a_idx].astype(np.int64),
            "arch_str": names[pos],
            "seed": np.asarray(self.seeds, dtype=np.int64)[s_idx],
            "epoch": np.asarray(self.epochs, dtype=np.int64)[e_idx],
        }
        for split, array in self._arrays.items():
            for measure, m in self._measures[split].items():
                cols[f"{split}_{measure}"] = np.asarray(array[rows, :, :, m]).reshape(-1)
        for name in self.scalar_names:
            cols[name] = self._scalars[name][a_idx]
        frame = pd.DataFrame(cols)
        frame["arch_str"] = frame["arch_str"].astype(str)
        return frame


# ----- loading -------------------------------------------------------------------------------------
def shipped_tables_dir() -> Path:
    """The ``benchmarks_data`` folder installed with the package (editable or wheel)."""
    return Path(str(importlib.resources.files("benchmarks_data")))


def available_tables() -> list[str]:
    roots = [shipped_tables_dir()] + ([Path(os.environ[TABLES_ENV])] if os.environ.get(TABLES_ENV) else [])
    return sorted({p.parent.name for root in roots if root.is_dir() for p in root.glob(f"*/{tablefile.MANIFEST}")})


def resolve_table(name_or_path: str | os.PathLike) -> Path:
    """A path to a table folder, or the name of a shipped table (or one under $NASBENCH_TABLES_DIR)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TableNotFoundError(f"a table name must be a str or path, got {type(name_or_path).__name__}: "
                                 f"{name_or_path!r}")
    if isinstance(name_or_path, str) and not name_or_path.strip():
        raise TableNotFoundError(f"empty table name {name_or_path!r}; give a shipped table's name or a folder path "
                                 f"(shipped tables: {', '.join(available_tables()) or 'none'})")
    path = Path(name_or_path)
    if path.is_dir():
        return path
    text = str(name_or_path)
    if "/" not in text and os.sep not in text:
        for root in ([Path(os.environ[TABLES_ENV])] if os.environ.get(TABLES_ENV) else []) + [shipped_tables_dir()]:
            if (root / text).is_dir():
                return root / text
    shipped = ", ".join(available_tables()) or "none"
    run = shipped_tables_dir() / "runs" / text
    progress = (f" ({text!r} is still being pre-evaluated: nasbench info {run} shows how far)"
                if (run / "run.json").is_file() else "")
    raise TableNotFoundError(f"no table named or at {text!r}; shipped tables: {shipped}{progress}")


def load_table(name_or_path: str | os.PathLike, verify: bool = True) -> Benchmark:
    """Open a table by shipped name or folder path; verifies its content and manifest hashes unless told not to."""
    folder = resolve_table(name_or_path)
    manifest = tablefile.read_manifest(folder)
    scalars = tablefile.read_scalars(folder)
    unknown = set(manifest["arrays"]) - set(tablefile.SPLITS)
    if unknown:
        raise TableCorruptedError(f"table {folder} names unknown splits {sorted(unknown)}; splits are {tablefile.SPLITS}")
    arrays = {split: tablefile.open_split(folder, split) for split in tablefile.SPLITS if split in manifest["arrays"]}
    _check_shapes(folder, manifest, arrays, scalars)
    if verify:
        tablefile.verify(folder, manifest, scalars)
    return Benchmark(folder, manifest, arrays, scalars)


def _check_shapes(folder: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                  scalars: Mapping[str, np.ndarray]) -> None:
    if "arch_index" not in scalars:
        raise TableCorruptedError(f"table {folder} has no arch_index in {tablefile.SCALARS}")
    idx = scalars["arch_index"]
    if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= NUM_ARCHS)) or np.unique(idx).size != idx.size:
        raise TableCorruptedError(f"table {folder} has an invalid arch_index (must be unique indices 0..{NUM_ARCHS - 1})")
    shape = (idx.size, len(manifest["seeds"]), len(manifest["epochs"]))
    if list(manifest["epochs"]) != list(range(1, len(manifest["epochs"]) + 1)):
        raise TableCorruptedError(f"table {folder}: epochs must be 1..E, manifest says {manifest['epochs']}")
    for split, a in arrays.items():
        want = (*shape, len(manifest["arrays"][split]["measures"]))
        if a.shape != want:
            raise TableCorruptedError(f"table {folder}: {split}.npy has shape {a.shape}, the manifest implies {want}")
    for name, v in scalars.items():
        if v.shape != (idx.size,):
            raise TableCorruptedError(f"table {folder}: scalar {name!r} has shape {v.shape}, expected ({idx.size},)")


# ----- building ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    arch_index: np.ndarray
    seeds: list[int]
    epochs: list[int]
    metric_columns: dict[str, list[str]]
    scalar_columns: list[str]


def _arch_column(frame: "pd.DataFrame") -> np.ndarray:
    import pandas as pd

    if "arch_index" in frame:
        if not pd.api.types.is_integer_dtype(frame["arch_index"]):
            raise TableBuildError(f"arch_index must hold integers 0..{NUM_ARCHS - 1}, has {frame['arch_index'].dtype}")
        idx = frame["arch_index"].to_numpy()
        if (idx.size and (idx.min() < 0 or idx.max() >= NUM_ARCHS)):
            raise TableBuildError(f"arch_index must hold integers 0..{NUM_ARCHS - 1}")
        if "arch_str" in frame:
            strings = frame["arch_str"].astype(str).to_numpy()
            uniq, first = _distinct_with_first_rows(idx)
            for i, pos in zip(uniq, first):
                if Arch.parse(strings[pos]).index != i:
                    raise TableBuildError(f"row {pos}: arch_index {i} does not match arch_str {strings[pos]!r}")
        return idx.astype(np.int64)
    if "arch_str" in frame:
        codes, uniques = frame["arch_str"].astype(str).factorize()
        return np.asarray([Arch.from_str(s).index for s in uniques], dtype=np.int64)[codes]
    raise TableBuildError("results need an 'arch_index' or an 'arch_str' column")


def _distinct_with_first_rows(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``idx`` in ascending order and the first row holding each, as
    ``np.unique(idx, return_index=True)``; in one pass where the rows are in arch order (as pre-evaluation,
    the reference build and the NATS import give them: np.unique took 1 s for 3.1M rows)."""
    if idx.size and bool((idx[1:] >= idx[:-1]).all()):
        first = np.flatnonzero(np.concatenate(([True], idx[1:] != idx[:-1])))
        return idx[first], first
    return np.unique(idx, return_index=True)


def _layout(frame: "pd.DataFrame", arch: np.ndarray) -> _Layout:
    import pandas as pd

    for col in ("seed", "epoch"):
        if col not in frame:
            raise TableBuildError(f"results need a {col!r} column")
        if not pd.api.types.is_integer_dtype(frame[col]):
            raise TableBuildError(f"column {col!r} must hold integers, has {frame[col].dtype}")
    epochs = sorted(int(e) for e in frame["epoch"].unique())
    if epochs and (epochs[0] < 1):
        raise TableBuildError(f"epochs count from 1; found {epochs[0]}")
    metric_columns: dict[str, list[str]] = {}
    scalar_columns = []
    for col in frame.columns:
        if col in KEY_COLUMNS:
            continue
        match = _METRIC_COLUMN.match(col)
        if match:
            metric_columns.setdefault(match.group(1), []).append(match.group(2))
        else:
            scalar_columns.append(col)
    if not metric_columns:
        raise TableBuildError("results have no metric columns; name them <split>_<measure>, e.g. valid_acc")
    for col in [f"{s}_{m}" for s, ms in metric_columns.items() for m in ms] + scalar_columns:
        if not (pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])):
            raise TableBuildError(f"column {col!r} must be numeric, has {frame[col].dtype}")
    return _Layout(np.flatnonzero(np.bincount(arch, minlength=NUM_ARCHS)), sorted(int(s) for s in frame["seed"].unique()),
                   list(range(1, (epochs[-1] if epochs else 0) + 1)), metric_columns, scalar_columns)


def _check_range(column: str, values: np.ndarray) -> None:
    """Refuse accuracies outside 0..100 (percent) and negative seconds (NaN: not measured)."""
    measure = column.split("_", 1)[1]
    if higher_is_better(measure):
        low, high = 0.0, 100.0
    elif measure.endswith("seconds"):
        low, high = 0.0, np.inf
    else:
        return
    bad = (values < low) | (values > high)
    if bad.any():
        raise TableBuildError(f"column {column!r} holds {values[bad][0]:g}, outside {low:g}..{high:g}")


def build_table(results: "pd.DataFrame", out: str | os.PathLike, *, name: str | None = None,
                metadata: Mapping[str, Any] | None = None, overwrite: bool = False) -> Benchmark:
    """Write a table from tidy results: one row per (arch, seed, epoch).

    Columns: ``arch_index`` and/or ``arch_str``; ``seed``; ``epoch`` (1-based); metrics named
    ``<split>_<measure>`` with split in train/valid/test (``valid_acc``, ``train_seconds``, ...);
    any other column is a per-arch scalar (``params``, ``flops``, ``nb201_index``, ...) and must be
    constant within each arch. Missing (arch, seed, epoch) combinations are stored as NaN and raise
    :class:`MissingResultError` when queried. ``metadata`` (dataset, protocol, hardware, ...) goes into
    the manifest. This is the format :meth:`Benchmark.to_frame` exports, so export -> build round-trips.
    """
    if name is not None and (not name.strip() or name in (".", "..") or "/" in name or "\\" in name):
        # the name makes paths (proxies/<name> beside the table): '../../x' wrote proxies outside the tables folder
        raise TableBuildError(f"table name {name!r} must be a non-empty name without '/' or '\\', not '.' or '..'")
    if results.empty:
        raise TableBuildError("results are empty")
    arch = _arch_column(results)
    lay = _layout(results, arch)
    rows = np.searchsorted(lay.arch_index, arch)
    seed_pos = np.searchsorted(lay.seeds, results["seed"].to_numpy())
    epoch_pos = results["epoch"].to_numpy().astype(np.int64) - 1
    flat = (rows * len(lay.seeds) + seed_pos) * len(lay.epochs) + epoch_pos
    seen = np.zeros(len(lay.arch_index) * len(lay.seeds) * len(lay.epochs), dtype=bool)
    seen[flat] = True  # one pass over the rows (np.unique sorted or hashed them: 1 s for 3.1M rows)
    if np.count_nonzero(seen) != flat.size:
        raise TableBuildError("results hold more than one row for some (arch, seed, epoch)")
    shape = (len(lay.arch_index), len(lay.seeds), len(lay.epochs))
    splits = {}
    for split, measures in lay.metric_columns.items():
        a = np.full((*shape, len(measures)), np.nan, dtype=np.float32)
        for m, measure in enumerate(measures):
            values = results[f"{split}_{measure}"].to_numpy(dtype=np.float32)
            _check_range(f"{split}_{measure}", values)
            a[rows, seed_pos, epoch_pos, m] = values
        splits[split] = a
    scalars: dict[str, np.ndarray] = {"arch_index": lay.arch_index.astype(np.int32)}
    for col in lay.scalar_columns:
        values = results[col].to_numpy()
        per_arch = np.zeros(len(lay.arch_index), dtype=values.dtype)
        per_arch[rows] = values
        if not np.array_equal(per_arch[rows], values, equal_nan=values.dtype.kind == "f"):
            raise TableBuildError(f"column {col!r} varies within an arch; per-arch scalars must be constant per arch")
        scalars[col] = per_arch
    manifest: dict[str, Any] = {**(metadata or {})}
    manifest.update(name=name or Path(out).name, seeds=lay.seeds, epochs=lay.epochs,
                    num_archs=int(len(lay.arch_index)), coverage=f"{len(lay.arch_index)}/{NUM_ARCHS}")
    tablefile.write_table(Path(out), splits, lay.metric_columns, scalars, manifest, overwrite=overwrite)
    return load_table(Path(out))
