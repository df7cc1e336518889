"""Live inference latency of cells on the machine at hand, stored per hardware fingerprint.

**Method** (:class:`LatencyMethod`, recorded in every store's ``latency.json``): the cell's real
NAS-Bench-201 network (:func:`~nasbench_suite.model.build_network`, the table's macro shape) is
built with ``torch.manual_seed(0)``, put in eval mode and ``channels_last`` memory (as training
uses), and called under ``torch.inference_mode`` on a fixed all-zero input of each batch size.
``warmup`` untimed calls, then ``repeats`` calls each timed alone with ``time.perf_counter_ns``
(on CUDA: ``torch.cuda.synchronize`` before starting and before stopping the clock). The result
per (cell, batch) is the median in milliseconds with the 25th and 75th percentiles, min and mean.
torch's intra-op thread count is set to ``threads`` for the measurement and restored afterwards.
Python's garbage collector is left on (``timeit`` and ``torch.utils.benchmark`` turn it off): a forward
pass under ``inference_mode`` leaves no container objects behind, so the collector has nothing to
count towards a collection; instrumented with ``gc.callbacks``, 80 digits cells x batches 1 and 8 x
60 calls (9,600 calls, warm-up included) saw 0 collections inside the timing loops, and turning it
off would change the recorded method of every existing folder for no measured gain.

**Order** (:class:`TimingOrder`, recorded as ``order`` in ``latency.json``): cells are timed in a
seeded shuffled order by default, so that slow drift of the machine does not follow the index (and
with it the ops); a resumed run keeps the folder's order and skips cells already timed. Results are
stored by arch index whatever the order. A folder without ``order`` was timed in index order.

**Fingerprint** (:func:`fingerprint`): CPU model, logical CPUs, threads used, torch version,
device name, machine and Python, and on CUDA the cuDNN, CUDA runtime and driver versions and the
TF32 / cuDNN benchmark / deterministic flags (:func:`cuda_fingerprint`); its ``hash`` (12 hex
digits of the sha256 of the canonical JSON) keys everything measured. A store folder belongs to one fingerprint, one method and one macro
shape: opening it on another machine raises :class:`~nasbench_suite.errors.RunMismatchError`, so
timings of two machines are never mixed.

**Store folder** (resumable like pre-evaluation)::

    latency.json     identity: fingerprint, method, macro config, order     -> commit
    latency.csv      arch_index, batch, median_ms, p25_ms, p75_ms, min_ms, mean_ms  -> commit
    store.sqlite     working store (SQLite WAL), one transaction per cell   -> git-ignored

Cells are measured one at a time; each cell's rows go into the store in one transaction, so a
killed process loses at most the cell being timed, and running the same command again carries on.
``latency.csv`` is rewritten atomically after each chunk and at the end, and imported on start
(checked by :func:`check_latency_rows`: a bad file is refused, never repaired in silence).

**Isomorphism classes**: by default one representative per class is measured (the smallest index,
which puts ``none`` on edges that cannot matter) and the members of a class take its timing.
NAS-Bench-201's ``InferCell`` still runs every edge of a member, dead ones included, so a member's
own network can be slower than its representative's; the class timing is that of the class's
cheapest spelling. Measure ``--archs all`` to time every cell as written.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import jsonread
from .csvread import read_csv
from .errors import NasBenchError, RunMismatchError, StoreError, require_device
from .folder_kind import LATENCY as LATENCY_KIND
from .machine import machine_facts
from .model import MacroConfig
from .space import NUM_ARCHS, Arch, isomorphism_classes
from .store import (FolderStore, arch_index_column, atomic_write_text, check_cell_csv, check_identity, configure_wal,
                    connect, describe_mismatch, store_cells, transaction)

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from .table import TableView

IDENTITY_FILE = "latency.json"
CSV_FILE = "latency.csv"
STORE_FILE = "store.sqlite"
LATENCY_SCHEMA = 1
STATS = ("median_ms", "p25_ms", "p75_ms", "min_ms", "mean_ms")
CSV_COLUMNS = ("arch_index", "batch", *STATS)


class LatencyError(NasBenchError, ValueError):
    """Bad latency arguments, or a latency table that cannot serve a request."""


# ----- method and fingerprint ----------------------------------------------------------------------
LIMITS = {"batch": 65_536, "warmup": 10_000, "repeats": 10_000, "threads": 1_024}
"""The largest batch size, warm-up calls, repeats and threads of a :class:`LatencyMethod`: far above any timing
setup used (batches 1..256, 10 warm-up calls, 50 repeats, a few threads), low enough that the input tensor and
torch's thread pool can be made (``--batch 99999999999999999999`` and its like ended in torch/numpy tracebacks)
and that a typo ends in an error, not in a run of days: warm-up had no bound and repeats one of 1,000,000, which
at 1 ms a call is 17 minutes per cell and batch size (10,000: 10 s)."""


@dataclass(frozen=True)
class LatencyMethod:
    """How a cell is timed; part of a store's identity."""

    device: str = "cpu"
    batches: tuple[int, ...] = (1,)
    warmup: int = 10
    repeats: int = 50
    threads: int = 1
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise LatencyError(f"device must be cpu or cuda, got {self.device!r}")
        batches = tuple(int(b) for b in self.batches)
        if not batches or min(batches) < 1 or len(set(batches)) != len(batches):
            raise LatencyError(f"batch sizes must be distinct positive integers, got {list(self.batches)}")
        object.__setattr__(self, "batches", tuple(sorted(batches)))
        if self.warmup < 0 or self.repeats < 3 or self.threads < 1:
            raise LatencyError("need warmup >= 0, repeats >= 3 and threads >= 1")
        too_large = {k: v for k, v in (("batch", max(batches)), ("warmup", self.warmup), ("repeats", self.repeats),
                                       ("threads", self.threads)) if v > LIMITS[k]}
        if too_large:
            raise LatencyError(f"need batch sizes <= {LIMITS['batch']:,}, warmup <= {LIMITS['warmup']:,}, repeats <= "
                               f"{LIMITS['repeats']:,} and threads <= {LIMITS['threads']:,}; got "
                               + ", ".join(f"{k} {v}" for k, v in too_large.items()))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["batches"] = list(self.batches)
        d["timing"] = ("torch.manual_seed(0); eval(); channels_last; inference_mode; zero input; warmup untimed "
                       "calls, then repeats calls each timed alone (perf_counter_ns, CUDA synchronized); "
                       "median, p25, p75, min, mean in ms")
        return d


def fingerprint(device: str = "cpu", threads: int = 1) -> dict[str, Any]:
    """What identifies the hardware and software a timing was taken on, with a short ``hash``.

    On CUDA it also holds ``cuda`` (:func:`cuda_fingerprint`): cuDNN, CUDA runtime and driver versions
    and the flags that change GPU timings. A CPU fingerprint has no ``cuda`` entry, so it (and its
    hash) is the same as before that entry existed."""
    import torch

    if device == "cuda":
        require_device(device)
        name = torch.cuda.get_device_name(0)
    else:
        name = "cpu"
    facts = machine_facts()
    fp: dict[str, Any] = {**facts, "cpu": facts["cpu"] or "unknown", "threads": int(threads), "device": device,
                          "device_name": name}
    if device == "cuda":
        fp["cuda"] = cuda_fingerprint()
    fp["hash"] = fingerprint_hash(fp)
    return fp


def _setting(read: Callable[[], Any]) -> Any:
    """A torch setting, or a word saying why it cannot be read: torch >= 2.9 refuses to read a legacy
    TF32 flag (``allow_tf32``, ``get_float32_matmul_precision``) after a mix of legacy and new calls."""
    try:
        value = read()
    except (RuntimeError, AttributeError) as exc:
        return f"unreadable ({type(exc).__name__})"
    return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)


def has_fp32_precision() -> bool:
    """Whether this torch has the ``fp32_precision`` settings (torch >= 2.9). Not ``hasattr``: before
    2.9, ``torch.backends.cuda.matmul`` answers an unknown name with an AssertionError, not an
    AttributeError, so ``hasattr`` raised and a CUDA latency run stopped there (seen on torch 2.1)."""
    import torch

    try:
        getattr(torch.backends.cuda.matmul, "fp32_precision")  # noqa: B009 (the read is the check)
    except (AttributeError, AssertionError):
        return False
    return True


def cuda_fingerprint() -> dict[str, Any]:
    """What besides the GPU's name changes its timings: the cuDNN version, the CUDA runtime torch was
    built with, the driver's CUDA version and kernel-module version, and the flags in force: cuDNN
    on/benchmark (autotuning)/deterministic, deterministic algorithms, and the TF32 settings (legacy
    ``allow_tf32`` / ``float32_matmul_precision`` and, where torch has them, the ``fp32_precision``
    ones). Read when the store opens and again before timing, so a flag changed in between is refused."""
    import torch

    from .machine import cuda_driver_version, nvidia_driver_version

    backends = torch.backends
    out: dict[str, Any] = {
        "cuda_runtime": torch.version.cuda,
        "cuda_driver": cuda_driver_version(),
        "nvidia_driver": nvidia_driver_version(),
        "cudnn": _setting(backends.cudnn.version),
        "cudnn_enabled": _setting(lambda: backends.cudnn.enabled),
        "cudnn_benchmark": _setting(lambda: backends.cudnn.benchmark),
        "cudnn_deterministic": _setting(lambda: backends.cudnn.deterministic),
        "deterministic_algorithms": _setting(torch.are_deterministic_algorithms_enabled),
        "tf32_matmul": _setting(lambda: backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": _setting(lambda: backends.cudnn.allow_tf32),
        "float32_matmul_precision": _setting(torch.get_float32_matmul_precision),
    }
    if has_fp32_precision():
        out["fp32_precision"] = {
            "generic": _setting(lambda: backends.fp32_precision),
            "matmul": _setting(lambda: backends.cuda.matmul.fp32_precision),
            "cudnn": _setting(lambda: backends.cudnn.fp32_precision),
            "cudnn_conv": _setting(lambda: backends.cudnn.conv.fp32_precision),
        }
    return out


def fingerprint_words(fp: Mapping[str, Any] | None) -> str:
    """A recorded fingerprint in words: CPU model, logical CPUs, torch threads per process (and on
    CUDA the GPU, CUDA runtime and cuDNN)."""
    if not fp:
        return "a machine that was not recorded"
    threads = fp.get("threads", "?")
    words = (f"{fp.get('cpu') or 'unknown CPU'}, {fp.get('logical_cpus', '?')} logical CPUs, "
             f"{threads} torch thread{'' if threads == 1 else 's'} per process")
    cuda = fp.get("cuda")
    if isinstance(cuda, Mapping):
        words += (f", GPU {fp.get('device_name', '?')} (CUDA {cuda.get('cuda_runtime', '?')}, "
                  f"cuDNN {cuda.get('cudnn', '?')})")
    return words


def fingerprint_hash(fp: Mapping[str, Any]) -> str:
    body = {k: v for k, v in fp.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


ORDER_KINDS = ("shuffled", "index")
ORDER_RULE = "cells timed by their position in numpy.random.default_rng(seed).permutation(15625)"


@dataclass(frozen=True)
class TimingOrder:
    """The order cells are timed in; recorded as ``order`` in ``latency.json``.

    ``shuffled`` (the default of a new folder): by each cell's position in one seeded permutation of
    all 15,625 indices, so slow drift of the machine (load, clock, temperature) over a run does not
    line up with the index, which spells the cell's ops (edge 0's op is its leading base-5 digit), and
    any subset or resumed run follows the same order. ``index``: ascending index, what every folder
    measured before this setting existed did (a ``latency.json`` without ``order`` means ``index``).
    """

    kind: str = "shuffled"
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.kind not in ORDER_KINDS:
            raise LatencyError(f"timing order must be one of {', '.join(ORDER_KINDS)}, got {self.kind!r}")
        if self.kind == "index":
            if self.seed is not None:
                raise LatencyError("a seed applies to the shuffled timing order only")
        elif isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise LatencyError(f"the shuffled timing order needs a seed >= 0, got {self.seed!r}")
        else:
            object.__setattr__(self, "seed", int(self.seed))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "TimingOrder":
        """The order a ``latency.json`` records; absent (a folder from before the setting): ``index``."""
        if d is None:
            return cls("index", None)
        if not isinstance(d, Mapping):
            raise LatencyError(f"{IDENTITY_FILE} has an order that is not a mapping: {d!r}")
        return cls(str(d.get("kind")), d.get("seed"))

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "index":
            return {"kind": "index"}
        return {"kind": self.kind, "seed": self.seed, "rule": ORDER_RULE}

    def arrange(self, archs: Iterable[int]) -> list[int]:
        """``archs`` (distinct) in timing order."""
        archs = [int(a) for a in archs]
        if self.kind == "index":
            return sorted(archs)
        position = np.empty(NUM_ARCHS, dtype=np.int64)
        position[np.random.default_rng(self.seed).permutation(NUM_ARCHS)] = np.arange(NUM_ARCHS)
        return sorted(archs, key=lambda a: int(position[a]))


def scalar_name(batch: int, fp_hash: str, source: str = "") -> str:
    """The per-arch value name of a latency: ``latency_ms_b1@<fingerprint hash>``."""
    return f"latency_ms_b{int(batch)}@{fp_hash}{source}"


# ----- timing --------------------------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block and restore it after."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def time_module(module: "torch.nn.Module", inputs: "torch.Tensor", method: LatencyMethod) -> dict[str, float]:
    """Time ``module(inputs)`` per :class:`LatencyMethod` (threads are the caller's business)."""
    import torch

    cuda = inputs.is_cuda
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    clock = time.perf_counter_ns
    samples = np.empty(method.repeats, dtype=np.float64)
    with torch.inference_mode():
        for _ in range(method.warmup):
            module(inputs)
        sync()
        for i in range(method.repeats):
            t0 = clock()
            module(inputs)
            sync()
            samples[i] = clock() - t0
    ms = samples / 1e6
    p25, med, p75 = np.percentile(ms, [25, 50, 75])
    return {"median_ms": float(med), "p25_ms": float(p25), "p75_ms": float(p75), "min_ms": float(ms.min()),
            "mean_ms": float(ms.mean())}


def prepare(module: "torch.nn.Module", method: LatencyMethod) -> "torch.nn.Module":
    import torch

    module = module.eval().to(method.device)
    return module.to(memory_format=torch.channels_last) if method.channels_last else module


def zero_input(shape: Sequence[int], method: LatencyMethod) -> "torch.Tensor":
    import torch

    x = torch.zeros(*shape, device=method.device)
    return x.contiguous(memory_format=torch.channels_last) if method.channels_last and x.dim() == 4 else x


def measure_arch(arch: Arch, config: MacroConfig, method: LatencyMethod) -> dict[int, dict[str, float]]:
    """{batch: stats} for one cell's network (threads set by the caller, see :func:`torch_threads`)."""
    import torch

    from .model import build_network

    torch.manual_seed(0)
    net = prepare(build_network(arch, config), method)
    return {b: time_module(net, zero_input((b, config.in_channels, config.resolution, config.resolution), method),
                           method) for b in method.batches}


# ----- the store folder ----------------------------------------------------------------------------
def config_of_table(manifest: Mapping[str, Any]) -> MacroConfig:
    """The macro shape a table's cells were trained at (protocol channels/cells, dataset shape)."""
    try:
        p, d = manifest["protocol"], manifest["dataset"]
        return MacroConfig(channels=int(p["channels"]), cells=int(p["cells"]), in_channels=int(d["in_channels"]),
                           resolution=int(d["resolution"]), num_classes=int(d["num_classes"]))
    except (KeyError, TypeError) as exc:
        raise LatencyError(f"the table's manifest does not give the network shape ({exc}); pass a MacroConfig") from None


def check_same_network(latency: "LatencyTable", folder: str | os.PathLike, manifest: Mapping[str, Any],
                       table_name: str) -> None:
    """Refuse a latency table (read from ``folder``) timed on another network shape than the table's
    cells were trained at (a table that records no shape, e.g. a reference table, is not checked)."""
    try:
        want = config_of_table(manifest).to_dict()
    except LatencyError:
        return
    timed = latency.identity.get("config")
    if timed is not None and timed != want:
        raise LatencyError(f"latency folder {folder} timed the network {timed}, but table {table_name!r} holds "
                           f"{want}; measure this table's network (`nasbench latency measure --table {table_name}`)")


class LatencyStore(FolderStore):
    """One fingerprint's timings of one macro shape under one method; see the module doc.

    ``fp`` defaults to this machine's fingerprint; another one (e.g. to read a folder measured
    elsewhere) opens the folder, but :meth:`measure` then refuses to add this machine's timings.
    """

    def __init__(self, folder: str | os.PathLike, config: MacroConfig, method: LatencyMethod,
                 fp: Mapping[str, Any] | None = None, order: TimingOrder | None = None) -> None:
        self.folder = Path(folder)
        self.config, self.method = config, method
        self.fingerprint = dict(fp) if fp is not None else fingerprint(method.device, method.threads)
        ident_path = self.folder / IDENTITY_FILE
        # latency.json is read and (for a new folder) written under the folder's writer lock
        self._claim(self.folder, IDENTITY_FILE, CSV_FILE, STORE_FILE, "nasbench latency measure", "timed",
                    LATENCY_KIND)
        try:
            self._open(ident_path, order)
        except BaseException:
            self.close()
            raise

    def _open(self, ident_path: Path, order: TimingOrder | None) -> None:
        config, method = self.config, self.method
        stored = latency_identity(self.folder) if ident_path.is_file() else None
        if order is None:  # the folder's own order (index for a folder from before the setting), else the default
            order = TimingOrder.from_dict(stored.get("order")) if stored is not None else TimingOrder()
        self.order = order
        self.identity = {"latency_schema": LATENCY_SCHEMA, "fingerprint": self.fingerprint,
                         "method": method.to_dict(), "config": config.to_dict(), "order": order.to_dict()}
        if stored is not None:
            # a folder written before the order was recorded was timed in index order; its latency.json
            # is left as it is (the shipped folders stay byte-identical)
            stored = {**stored, "order": stored.get("order", TimingOrder("index", None).to_dict())}
            requested = json.loads(json.dumps(self.identity))
            diffs = describe_mismatch(stored, requested)
            if any(d.startswith("fingerprint.") for d in diffs):  # no argument of this run can resume it here
                raise RunMismatchError(
                    f"latency folder {self.folder} holds timings of another hardware fingerprint "
                    f"({fingerprint_words(stored['fingerprint'])}; {'; '.join(diffs)}); timings of two fingerprints "
                    "are never mixed: measure into another folder, or resume this one on the machine and with the "
                    "threads it names")
            check_identity(f"latency folder {self.folder}", stored, requested)
        else:
            atomic_write_text(ident_path, json.dumps(self.identity, indent=2, sort_keys=True) + "\n")
        self._db = connect(self.folder / STORE_FILE)
        configure_wal(self._db)
        cols = ", ".join(f"{s} REAL NOT NULL" for s in STATS)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS results (arch INTEGER NOT NULL, batch INTEGER NOT NULL, "
                         f"{cols}, PRIMARY KEY (arch, batch)) WITHOUT ROWID")
        self._import_csv()

    @property
    def fp_hash(self) -> str:
        return self.fingerprint["hash"]

    def _import_csv(self) -> None:
        path = self.folder / CSV_FILE
        if not path.is_file():
            return
        try:
            frame = read_csv(path)
        except (OSError, ValueError) as exc:
            raise _unreadable(self.folder, exc) from None
        if tuple(frame.columns) != CSV_COLUMNS:
            raise StoreError(f"{path} has columns {list(frame.columns)}, expected {list(CSV_COLUMNS)}")
        try:
            check_latency_rows(frame, self.method.batches)
            rows = [(int(r[0]), int(r[1]), *map(float, r[2:])) for r in frame.itertuples(index=False)]
        except (ValueError, TypeError) as exc:
            raise _unreadable(self.folder, exc) from None
        self._insert(rows)

    def _insert(self, rows: Sequence[tuple]) -> None:
        with transaction(self._db):
            self._db.executemany(f"INSERT OR IGNORE INTO results VALUES ({', '.join('?' * len(CSV_COLUMNS))})", rows)

    def done(self) -> set[int]:
        """Cells with every batch size stored."""
        n = len(self.method.batches)
        return {a for (a,) in self._db.execute("SELECT arch FROM results GROUP BY arch HAVING COUNT(*) = ?", (n,))}

    def add(self, arch: int, stats: Mapping[int, Mapping[str, float]]) -> None:
        self._insert([(int(arch), int(b), *(float(s[k]) for k in STATS)) for b, s in stats.items()])

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        rows = self._db.execute("SELECT * FROM results ORDER BY arch, batch").fetchall()
        frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
        return frame.astype({"arch_index": np.int64, "batch": np.int64})

    def write_csv(self) -> None:
        text = self.frame().to_csv(index=False, float_format="%.6g", lineterminator="\n")
        atomic_write_text(self.folder / CSV_FILE, text)

    def measure(self, archs: Sequence[int], progress: bool = False, flush_every: int = 64,
                on_cell: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Time every cell of ``archs`` not yet stored; returns counts and wall seconds."""
        here = fingerprint(self.method.device, self.method.threads)
        if here["hash"] != self.fp_hash:
            what = "; ".join(describe_mismatch(self.fingerprint, here)) or "its hash differs"
            raise LatencyError(f"latency folder {self.folder} is keyed to fingerprint {self.fp_hash}; this machine is "
                               f"{here['hash']} ({what}): timings of two machines (or of two settings of one "
                               "GPU) are never mixed")
        done = self.done()
        todo = self.order.arrange({int(a) for a in archs} - done)
        archs = sorted({int(a) for a in archs})
        started = time.perf_counter()
        with torch_threads(self.method.threads):
            timings = ((a, measure_arch(Arch.from_index(int(a)), self.config, self.method)) for a in todo)
            store_cells(timings, self.add, self.write_csv, total=len(archs), initial=len(archs) - len(todo),
                        desc="latency", progress=progress, flush_every=flush_every, on_cell=on_cell)
        return {"measured": len(todo), "already_stored": len(archs) - len(todo),
                "wall_seconds": time.perf_counter() - started}


# ----- reading results -----------------------------------------------------------------------------
@dataclass
class LatencyTable:
    """Per-cell latencies of one device: ``values[batch]`` is a (15625,) float64 array (NaN where
    neither the cell nor its class representative was timed). ``key`` names the device (a
    fingerprint hash, or a third-party device name) and ``source`` says how the numbers were made."""

    key: str
    values: dict[int, np.ndarray]
    source: str
    identity: dict[str, Any]

    def scalar_name(self, batch: int = 1) -> str:
        return scalar_name(batch, self.key)

    def of(self, batch: int = 1) -> np.ndarray:
        try:
            return self.values[int(batch)]
        except KeyError:
            if not self.values:  # a measure stopped before its first cell
                raise LatencyError(f"latency table {self.key} holds no timed cell yet: run its nasbench latency "
                                   "measure again to time them") from None
            raise LatencyError(f"latency table {self.key} has batch sizes {sorted(self.values)}, not {batch}") from None

    def attach(self, view: "TableView", batch: int = 1) -> str:
        """Add this latency as a per-arch value of ``view`` (in memory; the table's files and hash are
        untouched) under :meth:`scalar_name`; returns that name."""
        name = self.scalar_name(batch)
        view._scalars[name] = self.of(batch)[view.arch_indices]
        return name


def expand_to_members(arch_index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(15625,) array: each cell's own value where given, else its class representative's."""
    out = np.full(NUM_ARCHS, np.nan)
    out[arch_index] = values
    iso = isomorphism_classes()
    rep_value = out[iso.representatives][iso.class_of]
    return np.where(np.isnan(out), rep_value, out)


def _check_stat(stat: str) -> None:
    if stat not in STATS:
        raise LatencyError(f"unknown latency statistic {stat!r}; use one of {', '.join(STATS)}")


def shipped_latency_folders() -> list[Path]:
    """The latency folders shipped in ``benchmarks_data/latency/``, sorted by name."""
    from .table import shipped_tables_dir

    root = shipped_tables_dir() / "latency"
    return sorted(p for p in root.iterdir() if (p / IDENTITY_FILE).is_file()) if root.is_dir() else []


def load_latency(folder: str | os.PathLike, stat: str = "median_ms") -> LatencyTable:
    """The latency table of a measured store folder (reads ``latency.json`` and ``latency.csv``), or
    of a shipped one named by its folder name (``digits-cpu-<fingerprint>``), so that a manifest can
    name it without a machine-specific path.

    ``stat`` picks the statistic: the median by default; ``min_ms`` is the more robust estimate of
    the uncontended latency when the machine was busy while timing (other processes only add time).
    """
    _check_stat(stat)
    folder = Path(folder)
    if not folder.exists() and len(folder.parts) == 1:
        folder = next((p for p in shipped_latency_folders() if p.name == folder.name), folder)
    ident_path, csv_path = folder / IDENTITY_FILE, folder / CSV_FILE
    if not ident_path.is_file() or not csv_path.is_file():
        if folder.is_file() and folder.suffix.lower() == ".csv":  # said only that it is no folder
            raise LatencyError(f"{folder} is a CSV file, not a latency folder: name its device column, as in "
                               f"{folder}:COLUMN")
        raise LatencyError(f"{folder} is not a latency folder: it needs {IDENTITY_FILE} and {CSV_FILE}")
    try:
        identity = _read_identity(ident_path)
        frame = read_csv(csv_path)
        check_latency_rows(frame, identity["method"]["batches"])
        values = {int(b): expand_to_members(g["arch_index"].to_numpy(np.int64), g[stat].to_numpy(np.float64))
                  for b, g in frame.groupby("batch")}
        fp = identity["fingerprint"]
        return LatencyTable(fp["hash"], values, f"measured on {fp['cpu']} / {fp['device_name']} "
                            f"({fp['threads']} threads), {stat} of {identity['method']['repeats']} calls", identity)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise _unreadable(folder, exc) from None


def check_latency_rows(frame: "pd.DataFrame", batches: Sequence[int]) -> None:
    """ValueError (one line) unless ``frame`` holds well-formed latency rows of the store's ``batches``.

    Beyond the columns and the cell range: ``arch_index`` and ``batch`` are integers, each (cell, batch)
    comes once (the store kept the first of two rows and the reader the last, silently), every batch is
    one the folder's method times (a row of another batch made a cell count as done, so the method's
    batch was never timed), and every statistic is a finite positive number (the store dropped a NaN row
    without a word and timed the cell again)."""
    import pandas as pd

    check_cell_csv(frame, CSV_COLUMNS, CSV_FILE)  # arch_index: integers of the space
    if len(frame) and not pd.api.types.is_integer_dtype(frame["batch"]):
        raise ValueError(f"{CSV_FILE} column batch holds values that are not integers")
    dup = frame.duplicated(["arch_index", "batch"], keep=False).to_numpy()
    if dup.any():
        a, b = frame.loc[dup, ["arch_index", "batch"]].iloc[0]
        raise ValueError(f"{CSV_FILE} has {int(dup.sum())} rows that repeat an (arch_index, batch), "
                         f"e.g. arch_index {a} batch {b}")
    foreign = sorted(set(frame["batch"].tolist()) - {int(b) for b in batches})
    if foreign:
        raise ValueError(f"{CSV_FILE} has batch sizes {foreign} that the method in {IDENTITY_FILE} does not "
                         f"time (it times {sorted(int(b) for b in batches)})")
    for stat in STATS:
        if len(frame) and not pd.api.types.is_numeric_dtype(frame[stat]):  # a header alone reads as text
            raise ValueError(f"{CSV_FILE} column {stat} holds values that are not numbers")
        values = frame[stat].to_numpy(np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            a, b = frame.loc[bad, ["arch_index", "batch"]].iloc[0]
            raise ValueError(f"{CSV_FILE} has {int(bad.sum())} {stat} values that are missing, zero or negative, "
                             f"e.g. arch_index {a} batch {b}")


def _read_identity(path: Path) -> dict[str, Any]:
    """``latency.json``; ValueError when it is not JSON or lacks its fingerprint (with a hash) or method."""
    identity = jsonread.loads(path.read_text(encoding="utf-8"))
    if not isinstance(identity, dict) or not all(isinstance(identity.get(k), dict) for k in ("fingerprint", "method")) \
            or "hash" not in identity["fingerprint"]:
        raise ValueError(f"{IDENTITY_FILE} lacks its fingerprint or method")
    return identity


def latency_identity(folder: Path) -> dict[str, Any]:
    """A latency folder's ``latency.json``; :class:`LatencyError` (one line) when it cannot be read."""
    try:
        return _read_identity(folder / IDENTITY_FILE)
    except (OSError, ValueError) as exc:
        raise _unreadable(folder, exc) from None


def _unreadable(folder: Path, exc: Exception) -> LatencyError:
    what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, KeyError) else f"{IDENTITY_FILE} lacks {exc}"
    return LatencyError(f"latency folder {folder} cannot be read ({what}); restore its {IDENTITY_FILE} and "
                        f"{CSV_FILE}, or move the folder aside and run `nasbench latency measure` again")


DEVICE_CSV_INDEX = ("nb201", "ours")
"""What a device CSV's ``arch_index`` means: NAS-Bench-201's index (as third-party tables publish it) or ours."""


def import_device_csv(path: str | os.PathLike, index: str = "nb201") -> dict[str, LatencyTable]:
    """Third-party latency tables: a CSV with ``arch_str`` or ``arch_index`` and one column per device
    (e.g. HW-NAS-Bench's ``pixel3_ms``); returns {device column: LatencyTable at batch 1}, indexed by
    our index. ``arch_str`` is used when present. ``arch_index`` is NAS-Bench-201's index by default
    (``index="nb201"``: HW-NAS-Bench, HELP and the NB201 reference files number cells that way), mapped
    to ours with :func:`~nasbench_suite.space.nb201_order`; ``index="ours"`` reads it as our index."""
    import pandas as pd

    from .space import nb201_order

    if index not in DEVICE_CSV_INDEX:
        raise LatencyError(f"index must be one of {', '.join(DEVICE_CSV_INDEX)}, got {index!r}")
    if Path(path).name == CSV_FILE and (Path(path).parent / IDENTITY_FILE).is_file():
        raise LatencyError(f"{path} is the {CSV_FILE} of a `nasbench latency measure` folder (one row per cell and "
                           f"batch size), not a device table: pass the folder {Path(path).parent} itself "
                           "(--latency FOLDER, with --latency-batch and --latency-stat)")
    try:
        frame = read_csv(path)
    except (OSError, ValueError) as exc:  # missing, unreadable, empty or not CSV
        raise LatencyError(f"cannot read latency CSV {path}: {exc}") from None
    if "arch_str" in frame:
        idx = np.asarray([Arch.from_str(s).index for s in frame["arch_str"]], dtype=np.int64)
        keyed = "arch_str"
    elif "arch_index" in frame:
        idx = arch_index_column(frame["arch_index"])
        keyed = "NAS-Bench-201 arch_index" if index == "nb201" else "arch_index"
    else:
        raise LatencyError(f"{path} needs an arch_index or arch_str column")
    if idx is None or idx.size and (idx.min() < 0 or idx.max() >= NUM_ARCHS or np.unique(idx).size != idx.size):
        raise LatencyError(f"{path}: arch indices must be unique and in 0..{NUM_ARCHS - 1}")
    if keyed == "NAS-Bench-201 arch_index":
        idx = nb201_order()[idx]
    out = {}
    for col in frame.columns:
        if col in ("arch_index", "arch_str") or not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        values = np.full(NUM_ARCHS, np.nan)
        values[idx] = frame[col].to_numpy(np.float64)
        out[col] = LatencyTable(col, {1: values}, f"imported from {Path(path).name}, column {col} (cells by {keyed})",
                                {"source": str(Path(path).name), "column": col, "cells_by": keyed})
    if not out:
        raise LatencyError(f"{path} has no numeric device columns")
    return out


# ----- predictors ----------------------------------------------------------------------------------
LUT_FIXED = ("stem", "reduce1", "reduce2", "head")
ADDS_PER_CELL = 6
"""``InferCell`` sums node j's j inputs with Python's ``sum`` (0 + a + ...): 1 + 2 + 3 additions."""


def lut_keys() -> list[str]:
    from .space import OPS

    return [*LUT_FIXED, *(f"{op}@s{s}" for s in range(3) for op in (*OPS, "add"))]


@dataclass
class OpLUT:
    """Per-op latency lookup table (ProxylessNAS/FBNet style) for one macro shape and batch size.

    ``entries`` holds ms per call of: the stem, the two reduction blocks, the head (BN-ReLU, pooling,
    classifier), and each op (``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``,
    ``avg_pool_3x3``) and one tensor addition at each stage's shape (``<op>@s<stage>``). A cell's
    prediction is the fixed parts plus, for each stage, ``cells`` x (its six ops + six additions):
    every edge counts, as ``InferCell`` runs every edge.
    """

    config: MacroConfig
    batch: int
    entries: dict[str, float]

    def __post_init__(self) -> None:
        missing = sorted(set(lut_keys()) - set(self.entries))
        if missing:
            raise LatencyError(f"the LUT misses entries {missing}")

    def predict_ops(self, ops: np.ndarray) -> np.ndarray:
        """(n, 6) op indices -> (n,) predicted ms."""
        from .space import OPS

        ops = np.asarray(ops, dtype=np.int64)
        fixed = sum(self.entries[k] for k in LUT_FIXED)
        total = np.full(len(ops), fixed, dtype=np.float64)
        for s in range(3):
            per_op = np.array([self.entries[f"{op}@s{s}"] for op in OPS])
            total += self.config.cells * (per_op[ops].sum(axis=1) + ADDS_PER_CELL * self.entries[f"add@s{s}"])
        return total

    def predict(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        from .encodings import as_indices
        from .space import all_ops

        return self.predict_ops(all_ops()[as_indices(archs)])

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "batch": self.batch, "entries": dict(self.entries)}


class _Add:
    """x + x as a callable for timing one addition."""

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        return x + x


def measure_lut(config: MacroConfig, method: LatencyMethod, batch: int = 1, stat: str = "median_ms") -> OpLUT:
    """Time every LUT entry on this machine (threads set to ``method.threads`` for the measurement);
    ``stat`` is the statistic kept per entry (one of :data:`STATS`)."""
    _check_stat(stat)
    import torch
    from torch import nn

    from .model import build_network, make_op
    from .space import OPS

    torch.manual_seed(0)
    net = prepare(build_network(Arch((0,) * 6), config), method)
    chans, res = config.stage_channels, config.stage_resolutions
    n = config.cells
    head = nn.Sequential(net.lastact, net.global_pooling, nn.Flatten(1), net.classifier)
    parts: dict[str, tuple[Callable, tuple[int, ...]]] = {
        "stem": (net.stem, (config.in_channels, config.resolution, config.resolution)),
        "reduce1": (net.cells[n], (chans[0], res[0], res[0])),
        "reduce2": (net.cells[2 * n + 1], (chans[1], res[1], res[1])),
        "head": (head, (chans[2], res[2], res[2])),
    }
    for s in range(3):
        shape = (chans[s], res[s], res[s])
        for k, op in enumerate(OPS):
            parts[f"{op}@s{s}"] = (prepare(make_op(k, chans[s]), method), shape)
        parts[f"add@s{s}"] = (_Add(), shape)
    entries = {}
    with torch_threads(method.threads):
        for key, (module, shape) in parts.items():
            entries[key] = time_module(module, zero_input((batch, *shape), method), method)[stat]
    return OpLUT(config, batch, entries)


def kendall_and_mape(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Kendall tau and mean absolute percentage error (percent) of predictions against measurements."""
    from scipy.stats import kendalltau

    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    tau = kendalltau(p, m).statistic
    return {"kendall_tau": float(tau) if tau == tau else 0.0,
            "mape_percent": float(np.mean(np.abs(p - m) / m) * 100.0), "cells": int(m.size)}
