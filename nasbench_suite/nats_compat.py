"""NATS-Bench's topology API (``nats_bench.create(path, 'tss')``) answered from our tables: swap the import.

``create(FOLDER, 'tss')`` opens the tables ``nasbench import nats-tss --out FOLDER`` wrote, or one table
(ours, such as ``'digits'``, or one of NATS-Bench's). Indices are NATS-Bench's (NAS-Bench-201's order),
converted to ours inside; random trials come from the adapter's ``rng``, not Python's global ``random``;
the clock (``used_time``) is the adapter's: one adapter per search run. README, "Coming from NATS-Bench",
lists what is supported and refused. Values are float32 as stored, so they equal NATS-Bench's to float32.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np

from . import tablefile
from .errors import (ArchError, EpochNotInTableError, MissingResultError, SeedNotInTableError, TableError,
                     TableNotFoundError)
from .nats_import import DATASETS, HPS, SPLITS, table_name
from .space import NUM_ARCHS, Arch, _require_generator, nb201_order
from .table import Benchmark, load_table

SEARCH_SPACES = ("tss", "topology")
SIMULATE_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
GROUPS = (("train", "train", ""), ("valid", "valid", ""), ("test", "test", ""), ("valtest", "test", "valtest_"))
"""NATS-Bench key prefix -> our (split, measure prefix)."""
_NATS_SET = {(ds, split, src.prefix): src.nats_set for ds, splits in SPLITS.items()
             for split, sources in splits.items() for src in sources}
Source = Union[str, "os.PathLike[str]", Benchmark]


class NATSInfo(dict):  # type: ignore[type-arg]
    """A NATS-Bench result dict: a key NATS-Bench leaves out is absent; reading it raises MissingResultError."""

    def __init__(self, values: Mapping[str, float], what: str, absent: Mapping[str, str]) -> None:
        super().__init__(values)
        self._what, self._absent = what, dict(absent)

    def __missing__(self, key: str) -> float:
        why = self._absent.get(key, "not a key NATS-Bench returns here")
        raise MissingResultError(f"{self._what} has no {key!r}: {why}; it has {', '.join(self)}")


def _is_nats(bench: Benchmark) -> bool:
    protocol = bench.manifest.get("protocol")
    return isinstance(protocol, dict) and str(protocol.get("benchmark", "")).startswith("NATS-Bench")


def _key(bench: Benchmark) -> tuple[str, str]:
    if _is_nats(bench):
        return bench.manifest["dataset"]["name"], str(bench.manifest["protocol"]["hp"])
    return bench.name, str(bench.max_epoch)


def create(file_path_or_dict: Source | None, search_space: str = "tss", fast_mode: bool = True,
           verbose: bool = False, *, prefix: str = "nats-tss", rng: np.random.Generator | None = None) -> "NATSCompat":
    """NATS-Bench's ``create`` over our tables (``fast_mode`` and ``verbose`` are accepted and ignored)."""
    if search_space not in SEARCH_SPACES:
        raise TableNotFoundError(f"search space {search_space!r}: only NATS-Bench's topology space ('tss') has tables "
                                 f"here, not the size space ('sss')")
    if isinstance(file_path_or_dict, Benchmark):
        return NATSCompat({_key(file_path_or_dict): file_path_or_dict}, _is_nats(file_path_or_dict), rng)
    if not isinstance(file_path_or_dict, (str, os.PathLike)):
        raise TableNotFoundError(f"give the folder `nasbench import nats-tss --out FOLDER` wrote, a table name or a "
                                 f"Benchmark, not {type(file_path_or_dict).__name__} (NATS-Bench's files are imported first)")
    folder = Path(file_path_or_dict)
    found: dict[tuple[str, str], Source] = {(ds, hp): folder / table_name(prefix, ds, hp) for ds in DATASETS for hp in HPS
                                            if (folder / table_name(prefix, ds, hp) / tablefile.MANIFEST).is_file()}
    if found:
        return NATSCompat(found, True, rng)
    if folder.is_dir() and not (folder / tablefile.MANIFEST).is_file():
        raise TableNotFoundError(f"{folder} holds no {prefix}-<dataset>-hp<12|200> tables (another `nasbench import "
                                 f"--name`? pass prefix=) and is not a table")
    bench = load_table(file_path_or_dict)  # a single table: ours, or one of NATS-Bench's
    return NATSCompat({_key(bench): bench}, _is_nats(bench), rng)


class NATSCompat:
    """The NATS-Bench topology API's read and simulate calls, answered from our tables."""

    def __init__(self, sources: Mapping[tuple[str, str], Source], nats: bool,
                 rng: np.random.Generator | None = None) -> None:
        self.rng = np.random.default_rng(0) if rng is None else rng
        _require_generator(self.rng, "nats_compat.create(rng=...)")
        self._sources, self._nats = dict(sources), nats
        self._loaded: dict[tuple[str, str], Benchmark] = {}
        self._ours_of = nb201_order()  # NATS index -> ours
        self._nats_of = np.argsort(self._ours_of)
        self._used_time = 0.0

    # ----- the space, in NATS-Bench's index ----------------------------------------------------------
    def __len__(self) -> int:
        return NUM_ARCHS

    @functools.cached_property
    def meta_archs(self) -> list[str]:
        return [Arch.from_index(int(i)).to_str() for i in self._ours_of]

    @property
    def used_time(self) -> float:
        return self._used_time

    def reset_time(self) -> None:
        self._used_time = 0.0

    def arch(self, index: int) -> str:
        return Arch.from_index(self._ours(index)).to_str()

    __getitem__ = arch

    def query_index_by_arch(self, arch: Any) -> int:
        """NATS-Bench's index of ``arch`` (its index, string, an object with ``tostr()``, or an :class:`Arch`).
        Where NATS-Bench returns -1 (not an architecture of the space), this raises :class:`ArchError`."""
        return int(self._nats_of[self._ours(arch)])

    def get_unique_str(self, arch: Any) -> str:
        return Arch.from_index(self._ours(arch)).canonical_str()

    def random(self) -> int:
        return int(self.rng.integers(NUM_ARCHS))

    def _ours(self, arch: Any) -> int:
        if isinstance(arch, Arch):
            return arch.index
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, (bool, np.bool_)):
            if not 0 <= arch < NUM_ARCHS:
                raise ArchError(f"invalid NATS-Bench index {arch}: indices are 0..{NUM_ARCHS - 1}")
            return int(self._ours_of[arch])
        text = arch.tostr() if hasattr(arch, "tostr") and not isinstance(arch, str) else arch
        if not isinstance(text, str):
            raise ArchError(f"cannot read an architecture from {arch!r}: give a NATS-Bench index or arch string")
        try:
            return Arch.from_str(text).index
        except ArchError as exc:
            raise ArchError(f"{exc} (NATS-Bench's query_index_by_arch returns -1 here; this adapter raises)") from None

    # ----- tables ----------------------------------------------------------------------------------------
    def _table(self, dataset: str, hp: Any) -> Benchmark:
        key = (dataset, str(hp))
        if key not in self._sources:
            own = [h for d, h in self._sources if d == dataset and not self._nats]
            hint = f" (table {dataset!r} holds one protocol, {own[0]} epochs: pass hp={own[0]!r})" if own else ""
            raise TableNotFoundError(f"no table for dataset {dataset!r} at hp={str(hp)!r}{hint}; this adapter has "
                                     + ", ".join(f"{d!r} hp={h!r}" for d, h in self._sources))
        if key not in self._loaded:
            src = self._sources[key]
            bench = src if isinstance(src, Benchmark) else load_table(src)
            if _is_nats(bench):
                if bench.manifest.get("valtest_as_valid"):
                    raise TableError(f"table {bench.name!r} was imported with --valtest-as-valid: its valid split is "
                                     f"not NATS-Bench's x-valid; import again without it for this adapter")
                if not np.array_equal(self._ours_of[bench.scalars("nb201_index")], bench.arch_indices):
                    raise TableError(f"table {bench.name!r}: its nb201_index is not NATS-Bench's meta_archs order")
            self._loaded[key] = bench
        return self._loaded[key]

    def _where(self, index: Any, dataset: str, hp: Any) -> tuple[Benchmark, int, np.ndarray, str]:
        """The table, the arch's row, the seed positions holding its results, and a name for messages."""
        bench = self._table(dataset, hp)
        ours = self._ours(index)
        row = bench.row(ours)
        train, _ = bench._loc("train", "acc")
        have = np.flatnonzero(~np.isnan(train[row]).all(axis=(1, 2)))
        if have.size == 0:
            raise MissingResultError(f"table {bench.name!r} holds no result for arch {Arch.from_index(ours)}")
        return bench, row, have, f"NATS-Bench arch {self._nats_of[ours]} on {dataset} hp={str(hp)}"

    # ----- queries ---------------------------------------------------------------------------------------
    def get_more_info(self, index: Any, dataset: str, iepoch: int | None = None, hp: Any = "12",
                      is_random: bool | int = True) -> NATSInfo:
        """Loss, accuracy (percent) and seconds of each set after ``iepoch`` + 1 epochs (default: the last),
        of one trial: a random one (``is_random=True``, drawn from ``rng``), the one of seed ``is_random``, or
        the mean over the arch's trials (``False``)."""
        bench, row, have, what = self._where(index, dataset, hp)
        if iepoch is not None and (isinstance(iepoch, (bool, np.bool_)) or not isinstance(iepoch, (int, np.integer))
                                   or not 0 <= iepoch < bench.max_epoch):
            raise EpochNotInTableError(f"iepoch must be an integer 0..{bench.max_epoch - 1} or None, got {iepoch!r}")
        epoch = bench.max_epoch if iepoch is None else int(iepoch) + 1
        seeds = [bench.seeds[p] for p in have]
        if isinstance(is_random, (bool, np.bool_)):
            pos = have[[int(self.rng.integers(have.size))]] if is_random else have
        elif isinstance(is_random, (int, np.integer)):
            if is_random not in seeds:
                raise SeedNotInTableError(f"{what}: no trial with seed {is_random}; its seeds are {seeds}")
            pos = have[[seeds.index(int(is_random))]]
        else:
            raise SeedNotInTableError(f"is_random must be True, False or a seed, got {is_random!r}")
        values: dict[str, float] = {}
        absent: dict[str, str] = {}
        for group, split, prefix in GROUPS:
            if split not in bench.splits or prefix + "acc" not in bench.measures(split):
                continue
            got = [bench._loc(split, prefix + m) for m in ("loss", "acc", "seconds")]
            loss, acc = (a[row, pos, epoch - 1, m].astype(np.float64) for a, m in got[:2])
            spent = got[2][0][row, pos, :epoch, got[2][1]].sum(axis=1, dtype=np.float64)
            if np.isnan(loss).any() or np.isnan(acc).any() or np.isnan(spent).any():
                if group == "train":
                    read = [bench.seeds[p] for p in pos]  # the trial drawn, the one asked for, or every one
                    raise MissingResultError(f"{what}: no train result recorded at epoch {epoch} for "
                                             f"{'seed' if len(read) == 1 else 'seeds'} {', '.join(map(str, read))}")
                absent.update(dict.fromkeys([f"{group}-{k}" for k in ("loss", "accuracy", "per-time", "all-time")],
                              f"the table records no {split}_{prefix}acc/loss at epoch {epoch} or seconds up to it "
                              f"(NATS-Bench leaves it out too)"))
                continue
            total = float(spent.mean())
            values.update({f"{group}-loss": float(loss.mean()), f"{group}-accuracy": float(acc.mean()),
                           f"{group}-per-time": total / epoch, f"{group}-all-time": total})
        return NATSInfo(values, f"get_more_info of {what}", absent)

    def get_cost_info(self, index: Any, dataset: str, hp: Any = "12") -> NATSInfo:
        """``flops`` and ``params`` (millions), ``latency`` (seconds), and mean per-epoch / total seconds
        (``T-train@epoch``, ``T-<set>@total``, ...) over the whole schedule, mean over the arch's trials."""
        bench, row, have, what = self._where(index, dataset, hp)
        nats = _is_nats(bench)
        values: dict[str, float] = {}
        absent: dict[str, str] = {}
        for name in ("flops", "params", "latency"):
            v = float(bench.scalars(name)[row]) if name in bench.scalar_names else float("nan")
            if v != v:
                absent[name] = f"table {bench.name!r} records no {name} for this arch"
            else:
                values[name] = v if nats or name == "latency" else v / 1e6  # our own tables count units
        for group, split, prefix in GROUPS:
            if split not in bench.splits or prefix + "seconds" not in bench.measures(split):
                continue
            name = "train" if group == "train" else _NATS_SET.get((dataset, split, prefix), split) if nats else split
            array, m = bench._loc(split, prefix + "seconds")
            secs = array[row, have, :, m].astype(np.float64)
            if np.isnan(secs).any():
                absent.update(dict.fromkeys([f"T-{name}@epoch", f"T-{name}@total"], f"no {split}_{prefix}seconds at some epoch"))
                continue
            values[f"T-{name}@epoch"] = float(secs.mean(axis=1).mean())
            values[f"T-{name}@total"] = float(secs.sum(axis=1).mean())
        return NATSInfo(values, f"get_cost_info of {what}", absent)

    def get_latency(self, index: Any, dataset: str, hp: Any = "12") -> float:
        return self.get_cost_info(index, dataset, hp)["latency"]

    def get_net_config(self, index: Any, dataset: str) -> dict[str, Any]:
        """The network's config, as NATS-Bench's (``infer.tiny``); for our tables also ``in_channels``."""
        keys = [k for k in self._sources if k[0] == dataset]
        if not keys:
            raise TableNotFoundError(f"no table for dataset {dataset!r}; this adapter has {sorted({d for d, _ in self._sources})}")
        bench, _, _, _ = self._where(index, *keys[0])
        arch_str = Arch.from_index(self._ours(index)).to_str()
        if _is_nats(bench):
            return {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": arch_str, "num_classes": NUM_CLASSES[dataset]}
        protocol, data = bench.manifest.get("protocol", {}), bench.manifest.get("dataset", {})
        if not all(isinstance(d, dict) for d in (protocol, data)) or "channels" not in protocol or "num_classes" not in data:
            raise TableError(f"table {bench.name!r} records no network config (protocol channels/cells, dataset classes)")
        return {"name": "infer.tiny", "C": protocol["channels"], "N": protocol["cells"], "arch_str": arch_str,
                "num_classes": data["num_classes"], "in_channels": data.get("in_channels", 3)}

    def simulate_train_eval(self, arch: Any, dataset: str, iepoch: int | None = None, hp: Any = "12",
                            account_time: bool = True) -> tuple[float, float | None, float, float]:
        """NATS-Bench's simulated trial: (valid accuracy of a random trial, latency or None where the table
        records none, seconds charged, clock). Charged: train seconds to the epoch plus the valid set's mean
        per-epoch evaluation seconds; without a valid result there, the valtest accuracy, charged the
        valid per-epoch seconds of another random trial's full schedule, as NATS-Bench does."""
        index = self.query_index_by_arch(arch)
        source = dataset
        if self._nats:  # NATS-Bench's tables: its dataset rules
            if dataset not in SIMULATE_DATASETS:
                raise TableNotFoundError(f"simulate_train_eval takes dataset {' / '.join(SIMULATE_DATASETS)} "
                                         f"(cifar10 reads cifar10-valid's results), not {dataset!r}")
            source = "cifar10-valid" if dataset == "cifar10" else dataset
        info = self.get_more_info(index, source, iepoch, hp, True)
        if "valid-accuracy" in info:
            valid_acc, cost = info["valid-accuracy"], info["train-all-time"] + info["valid-per-time"]
        else:
            valid_acc = info["valtest-accuracy"]
            cost = info["train-all-time"] + self.get_more_info(index, dataset, None, hp, True)["valid-per-time"]
        latency = self.get_cost_info(index, dataset, hp).get("latency")
        if account_time:
            self._used_time += cost
        return valid_acc, latency, cost, self._used_time
