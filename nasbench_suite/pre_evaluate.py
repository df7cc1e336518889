"""Pre-evaluation: train cells under a protocol into a resumable run folder, then build a table.

A run folder holds::

    run.json          the run's identity (protocol, dataset sha256, selection, seeds, shard size,
                      result shape, trainer) and a description of the dataset          -> commit
    shards/seed{S}/{first:05d}-{last:05d}.csv   one file per finished work unit        -> commit
    sessions/{id}.json                          one record per process that trained    -> commit
    store.sqlite      the working store (SQLite, WAL), rebuilt from the files above    -> git-ignored

The work units ("shards") are a deterministic function of (selection, seeds, shard size): for each
seed, the selected archs sorted ascending, cut into consecutive chunks of ``shard_size``. A unit's
numbers may depend on which cells share it (a batched trainer), so its composition never changes:
a unit with any result missing is trained again in full and only the missing results are stored.
Starting a run imports every shard file first, so a fresh machine holding only the committed files
resumes where the last one stopped; a process killed at any moment loses no stored result.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

from . import jsonread
from .errors import IncompleteRunError, NasBenchError, RunMismatchError, ShardFileError, StoreError, require_device
from .intlist import MAX_SEED, parse_int_list
from .machine import machine_facts
from .run_lock import LOCK_FILE, run_lock
from .space import NUM_ARCHS, Arch, isomorphism_classes
from .tablefile import check_replaceable
from .store import (
    CUT_FILE_ADVICE,
    FileSignature,
    ResultStore,
    SessionRecord,
    added_seeds,
    atomic_write_text,
    check_identity,
    describe_mismatch,
    iter_shard_files,
    parse_shard_file,
    read_shard_file,
    remove_temporary_files,
    seed_set,
    write_shard_file,
)

if TYPE_CHECKING:
    import pandas as pd
    from tqdm import tqdm

    from .model import MacroConfig
    from .table import Benchmark
    from .train import Protocol

RUN_FILE = "run.json"
STORE_FILE = "store.sqlite"
SHARDS_DIR = "shards"
SESSIONS_DIR = "sessions"
RUN_SCHEMA = 1
DEFAULT_SHARD_SIZE = 32
SPLITS = ("train", "valid", "test")
SHARD_PLAN = "for each seed, the selected archs sorted ascending, cut into consecutive chunks of shard_size"
FILLED_FROM_REPRESENTATIVE = (
    "members filled from their isomorphism-class representative (NATS-Bench canonical string); "
    "costs (seconds) of members are their representative's measured costs"
)


class PreEvaluateError(NasBenchError, ValueError):
    """Bad arguments to a pre-evaluation run."""


# ----- what a run computes -------------------------------------------------------------------------
def parse_archs(spec: str, rng_seed: int = 0) -> list[int]:
    """Arch selection: ``all``, ``classes`` (one representative per isomorphism class),
    ``sample:K`` (K class representatives drawn with ``rng_seed``), ``A-B`` (index range), ``i,j,k``."""
    iso = isomorphism_classes()
    if spec == "all":
        return list(range(NUM_ARCHS))
    if spec == "classes":
        return [int(r) for r in iso.representatives]
    if spec.startswith("sample:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            raise PreEvaluateError(f"bad arch selection {spec!r}: expected sample:K with an integer K") from None
        if not 1 <= k <= iso.num_classes:
            raise PreEvaluateError(f"sample:K needs 1 <= K <= {iso.num_classes}, got {k}")
        picked = np.random.default_rng(rng_seed).choice(iso.representatives, size=k, replace=False)
        return sorted(int(i) for i in picked)
    try:
        archs = parse_int_list(spec)
    except ValueError:
        raise PreEvaluateError(f"bad arch selection {spec!r}: use all, classes, sample:K, A-B or i,j,k") from None
    for a in archs:
        Arch.from_index(a)
    if not archs:
        raise PreEvaluateError(f"arch selection {spec!r} is empty")
    return archs


@dataclass(frozen=True)
class Shard:
    """A work unit: cells trained together under one seed."""

    seed: int
    archs: tuple[int, ...]

    @property
    def file(self) -> str:
        """Path of its shard file, relative to the run's ``shards/`` folder."""
        return f"seed{self.seed}/{self.archs[0]:05d}-{self.archs[-1]:05d}.csv"

    def pairs(self) -> list[tuple[int, int]]:
        return [(a, self.seed) for a in self.archs]


@dataclass(frozen=True)
class RunSpec:
    """What a pre-evaluation run trains: its selection, seeds, protocol and work-unit size."""

    archs_spec: str
    seeds: tuple[int, ...]
    protocol: "Protocol"
    shard_size: int = DEFAULT_SHARD_SIZE
    batch_cells: int | None = None
    """Cells the engine stacks at once (default: ``engine.default_batch_cells`` for the device and the
    protocol's activation size, decided when the data is loaded). Not part of the run's identity, so
    that a run started on a CPU can be continued on a GPU with larger batches. A cell's training step
    differs between batches (other partner cells, so other convolution kernels) only at float
    rounding, but training amplifies it: on the CIFAR-16px pilot protocol the same (cell, seed)
    trained beside other partners differed by 0.005 in first-epoch train loss and ended up to 3
    points of valid accuracy apart, within seed-to-seed noise there. So every session records its
    device and batch size (``hardware``) and the shard files it wrote (``units``): with the fixed
    shard plan, that is what reproduces a cell's numbers exactly."""

    def __post_init__(self) -> None:
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise PreEvaluateError(f"seeds must be non-negative integers, got {list(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise PreEvaluateError(f"seeds must be distinct, got {list(self.seeds)}")
        if max(self.seeds) > MAX_SEED:  # the store's SQLite INTEGER: refused after training otherwise
            raise PreEvaluateError(f"seeds must be at most 2**63 - 1 (stored as int64), got {max(self.seeds)}")
        for name in ("shard_size", "batch_cells"):
            value = getattr(self, name)
            if name == "batch_cells" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PreEvaluateError(f"{name.replace('_', ' ')} must be a positive integer, got {value!r}")

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any]) -> "RunSpec":
        from .train import Protocol

        fields = {k: v for k, v in identity["protocol"].items() if k != "recipe"}
        unknown = sorted(set(fields) - set(Protocol.__dataclass_fields__))
        if unknown:
            raise StoreError(f"the run's protocol has fields this nasbench_suite does not know ({', '.join(unknown)}): "
                             "a newer version wrote it; upgrade nasbench_suite to read it")
        return cls(identity["selection"]["archs"], tuple(identity["seeds"]), Protocol(**fields),
                   int(identity["shard_size"]), identity["trainer"].get("batch_cells"))

    def archs(self) -> list[int]:
        """The selected arch indices, sorted, each once."""
        return sorted(set(parse_archs(self.archs_spec)))

    def shards(self) -> list["Shard"]:
        """The work units, in the order they are trained (all seeds of a chunk, then the next chunk)."""
        archs, size = self.archs(), self.shard_size
        chunks = [tuple(archs[i : i + size]) for i in range(0, len(archs), size)]
        return [Shard(seed, chunk) for chunk in chunks for seed in sorted(self.seeds)]

    def identity(self, dataset: Mapping[str, Any]) -> dict[str, Any]:
        """Everything that determines the stored numbers; a run folder resumes only the same identity
        (the selection compared as the archs it resolves to, ``archs_sha256``: see
        :data:`~nasbench_suite.store.SPELLING_KEYS`)."""
        from . import engine, train

        archs = self.archs()
        return {
            "run_schema": RUN_SCHEMA,
            "protocol": self.protocol.to_dict(),
            "dataset": {"name": dataset["name"], "sha256": dataset["sha256"]},
            "selection": {"archs": self.archs_spec, "num_archs": len(archs),
                          "archs_sha256": hashlib.sha256(",".join(map(str, archs)).encode()).hexdigest()},
            "seeds": sorted(self.seeds),
            "shard_size": self.shard_size,
            "shard_plan": SHARD_PLAN,
            "results": {"metrics": [f"{s}_{m}" for s in SPLITS for m in train.MEASURES],
                        "epochs": self.protocol.epochs},
            "trainer": {"name": engine.TRAINER_NAME, "seconds": engine.SECONDS_RULE},
        }


# ----- the run folder ------------------------------------------------------------------------------
def read_run_file(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise StoreError(f"{run_dir} is not a pre-evaluation run folder: it has no {RUN_FILE}")
    try:
        run = jsonread.loads(path.read_text(encoding="utf-8"))
        identity, dataset = dict(run["identity"]), dict(run["dataset"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path} is not a valid run file ({type(exc).__name__}: {exc})") from None
    lacking = [f"identity.{key}" for key, kind in _RUN_FIELDS.items() if not isinstance(identity.get(key), kind)]
    lacking += [f"identity.{part}.{key}" for part, keys in _RUN_SUBFIELDS.items() if isinstance(identity.get(part), dict)
                for key in keys if key not in identity[part]]
    lacking += [f"dataset.{key}" for key in _DATASET_FIELDS if key not in dataset]
    if lacking:
        raise StoreError(f"{path} is not a valid run file: it lacks {', '.join(lacking)} (or has the wrong kind of "
                         "value there); restore it from git")
    return {"identity": identity, "dataset": dataset}


_RUN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "protocol": dict, "dataset": dict, "selection": dict, "seeds": list, "shard_size": int, "shard_plan": str,
    "results": dict, "trainer": dict}
"""The identity fields that resuming a run, ``nasbench info`` and ``table build`` read, with their JSON kinds."""
_RUN_SUBFIELDS = {"selection": ("archs", "num_archs"), "results": ("metrics", "epochs")}
_DATASET_FIELDS = ("in_channels", "resolution", "num_classes")


_FIRST_START_LEFTOVERS = (STORE_FILE, LOCK_FILE, f".{RUN_FILE}.tmp")
"""What a first start stopped before its run.json was in place leaves in the folder (its store, its
lock, a half-written run.json when it was killed or the disk was full): the same command starts it again."""


@contextlib.contextmanager
def open_run(run_dir: Path, identity: Mapping[str, Any], dataset: Mapping[str, Any],
             add_seeds: bool = False) -> Iterator[ResultStore]:
    """Create the run folder or check that it holds this run; hold its writer lock and open its store.
    With ``add_seeds``, an existing run of the same identity with fewer seeds takes the new ones: its
    run.json is rewritten first, then its store (the working copy) follows run.json when it is opened, also
    after a stop between the two."""
    has_run_file = (run_dir / RUN_FILE).is_file()
    if has_run_file:
        _grown_run_file(run_dir, identity, add_seeds)  # refused before the lock, as before anything else
    elif run_dir.exists() and any(not p.name.startswith(_FIRST_START_LEFTOVERS) for p in run_dir.iterdir()):
        raise StoreError(f"{run_dir} exists and is not a pre-evaluation run folder (no {RUN_FILE}); "
                         "choose a new or empty folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir, "nasbench pre-evaluate"):
        grown = _grown_run_file(run_dir, identity, add_seeds) if has_run_file else None  # read again, held
        if grown is not None or not has_run_file:
            atomic_write_text(run_dir / RUN_FILE, json.dumps(grown or {"identity": identity, "dataset": dataset},
                                                             indent=2, sort_keys=True) + "\n")
        with ResultStore(run_dir / STORE_FILE, identity, grow_seeds=True) as store:  # behind run.json: a stop between
            yield store


def _grown_run_file(run_dir: Path, identity: Mapping[str, Any], add_seeds: bool) -> dict[str, Any] | None:
    """Check that the run folder holds the run ``identity`` asks for. With ``add_seeds``, a run that
    differs only in lacking some of its seeds passes too: its run file with the seeds added is returned
    (its other fields as they are, the spelling of its selection kept), None when it has them all."""
    run = read_run_file(run_dir)
    stored, requested = run["identity"], json.loads(json.dumps(identity))
    new = added_seeds(stored, requested)
    where = f"run folder {run_dir}"
    if new and add_seeds:
        return {"identity": {**stored, "seeds": sorted(requested["seeds"])}, "dataset": run["dataset"]}
    if new:
        raise RunMismatchError(f"{where} trains seeds {_seed_list(stored['seeds'])}; to train seeds "
                               f"{_seed_list(new)} too, give --add-seeds (the run's other fields as they are)")
    if add_seeds and seed_set(stored) not in (None, seed_set(requested)) and not describe_mismatch(
            {**stored, "seeds": requested["seeds"]}, requested):  # only the seeds differ, and some are left out
        raise RunMismatchError(f"{where} trains seeds {_seed_list(stored['seeds'])}; --add-seeds keeps every seed of "
                               "the run: give --seeds with all of them and the new ones")
    check_identity(where, stored, requested)
    return None


def _seed_list(seeds: Sequence[int]) -> str:
    return ", ".join(map(str, sorted(seeds)))


def sync_files(store: ResultStore, run_dir: Path, shards: Sequence[Shard]) -> None:
    """Make the store and the committed files agree: import shard and session files, write missing shard files."""
    for name in (SHARDS_DIR, SESSIONS_DIR):  # a link in a received folder: files read from and written to where it led
        if (run_dir / name).is_symlink():
            raise StoreError(f"{run_dir / name} is a symbolic link; a run's committed files are read and written "
                             "in a folder of its own: replace the link with a copy of the folder it leads to")
    remove_temporary_files(run_dir)
    done = store.done_pairs()
    _import_shard_files(store, run_dir / SHARDS_DIR, shards, done)
    _import_session_files(store, run_dir / SESSIONS_DIR)
    for shard in shards:
        if all(p in done for p in shard.pairs()):
            export_shard(store, run_dir, shard)


def _import_shard_files(store: ResultStore, folder: Path, shards: Sequence[Shard],
                        done: set[tuple[int, int]]) -> None:
    """Import every shard file the store does not hold as it is now. A committed file is the reference:
    its rows replace the store's. The store records each file's size, time and SHA-256 when it takes it
    in (or writes it), so a start reads again only a file whose size or time changed since: one damaged
    after it was imported is refused by name, one changed on purpose (another version checked out) is
    read into the store with a note, and the table is always the one the committed files give."""
    by_file = {s.file: s for s in shards}
    records = store.file_records()
    for path in iter_shard_files(folder):
        name = path.relative_to(folder).as_posix()
        shard = by_file.get(name)
        if shard is None:
            raise ShardFileError(f"{path} is not a work unit of this run's plan ({SHARD_PLAN})")
        st, record = path.stat(), records.get(name)
        if record is not None and record.same_stat(st):
            continue
        data = path.read_bytes()
        signature = FileSignature.of(st, data)
        held = all(p in done for p in shard.pairs())
        if not (held and record is not None and record.sha256 == signature.sha256):  # else only touched
            try:
                results = read_unit_file(path, shard, store.metrics, store.epochs, data)
            except ShardFileError as exc:
                if not held:
                    raise
                raise ShardFileError(f"{str(exc).replace(CUT_FILE_ADVICE, '')}; it changed after {STORE_FILE} "
                                     "took it in, and the store holds its unit's results: restore the file from "
                                     "git, or delete it and this command writes it again from the store") from None
            changed = _changed_results(store, shard, results) if held else []
            if not held or changed:
                for (arch, seed), curve in results.items():
                    try:
                        store.insert_result(arch, seed, curve, replace=True)
                    except StoreError as exc:
                        raise ShardFileError(f"{path}: {exc}") from None
                done.update(results)
            if changed:
                print(f"note: {path} changed after {STORE_FILE} took it in: {len(changed)} of its "
                      f"{len(results)} results differ; the committed file is the reference, so they replace "
                      "the stored ones (restore the file with git to keep the old results)", file=sys.stderr)
        store.record_file(name, signature)


def _changed_results(store: ResultStore, shard: Shard,
                     results: Mapping[tuple[int, int], Any]) -> list[tuple[int, int]]:
    """The (arch, seed) of ``shard`` whose stored rows differ from ``results`` (NaN equal to NaN)."""
    stored: dict[tuple[int, int], list[tuple]] = {}
    for row in store.rows(shard.seed, shard.archs):
        stored.setdefault((int(row[0]), int(row[1])), []).append(row)
    changed = []
    for (arch, seed), curve in sorted(results.items()):
        ours = np.asarray(stored.get((arch, seed), []), dtype=np.float64)  # NULL (a NaN metric) -> nan
        theirs = np.asarray(store.rows_of(arch, seed, curve), dtype=np.float64)
        if ours.shape != theirs.shape or not np.array_equal(ours, theirs, equal_nan=True):
            changed.append((arch, seed))
    return changed


def read_unit_file(path: Path, shard: Shard, metrics: Sequence[str], epochs: int,
                   data: bytes | None = None) -> dict[tuple[int, int], list[tuple[int, dict[str, float]]]]:
    """The results of ``shard``'s file (its contents ``data`` when given), checked to be its whole unit:
    every (arch, seed) of the unit, each with epochs 1..``epochs`` once (a file that lost or repeated
    rows is refused, never read as a finished unit)."""
    results = read_shard_file(path, metrics) if data is None else parse_shard_file(path, data, metrics)
    if sorted(results) != sorted(shard.pairs()):
        raise ShardFileError(f"{path} holds the results of {sorted(results)}, not of its unit {shard.pairs()}"
                             f"{CUT_FILE_ADVICE}")
    for (arch, seed), curve in results.items():
        got = [int(e) for e, _ in curve]
        if got != list(range(1, epochs + 1)):
            raise ShardFileError(f"{path}: result of arch {arch} seed {seed} has epochs {got}; "
                                 f"this run records 1..{epochs}{CUT_FILE_ADVICE}")
    return results


def _import_session_files(store: ResultStore, folder: Path) -> None:
    """Import every session file whose record the store lacks or holds otherwise: a session file
    committed by another machine while its session went on is read again once it has moved on; and
    forget the sessions whose file is gone (deleted, or never written: a kill before its first write).
    The table's compute record is the committed files', on every machine."""
    known = {s.id: s for s in store.sessions()}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        session = read_session_file(path)
        if known.pop(session.id, None) != session:
            store.record_session(session)
    for gone in known:
        store.forget_session(gone)
        print(f"note: session {gone} is in {STORE_FILE} but {folder / (gone + '.json')} is not; the committed "
              "files are the reference, so the table's compute record leaves it out (restore the file with git "
              "to keep it)", file=sys.stderr)


def read_session_file(path: Path) -> SessionRecord:
    try:
        record = jsonread.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):  # else a list's pop() named in the error
            raise StoreError(f"session file {path} is malformed: it holds a JSON {type(record).__name__}, not an "
                             "object of the session's fields; restore it from git")
        record.pop("units", None)  # the shard files it wrote: provenance kept in the file only
        session = SessionRecord(**record)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise StoreError(f"session file {path} is malformed ({type(exc).__name__}: {exc})") from None
    wrong = [name for name, kind in _SESSION_KINDS.items()
             if isinstance(getattr(session, name), bool) or not isinstance(getattr(session, name), kind)]
    if wrong:
        raise StoreError(f"session file {path} is malformed: {', '.join(wrong)} "
                         f"{'is' if len(wrong) == 1 else 'are'} not of the kind a session records")
    return session


_SESSION_KINDS: dict[str, type | tuple[type, ...]] = {
    "id": str, "start": str, "end": str, "wall_seconds": (int, float), "results_written": int, "backend": str,
    "workers": int, "hardware": dict}


def export_shard(store: ResultStore, run_dir: Path, shard: Shard) -> None:
    """Write a complete unit's shard file from the store, once."""
    path = run_dir / SHARDS_DIR / shard.file
    if path.exists():
        return
    rows = store.rows(shard.seed, shard.archs)
    if len(rows) != len(shard.archs) * store.epochs:
        raise StoreError(f"cannot write {path}: the store holds {len(rows)} rows of this unit, not "
                         f"{len(shard.archs) * store.epochs}")
    data = write_shard_file(path, rows, store.metrics)
    store.record_file(shard.file, FileSignature.of(path.stat(), data))


class Session:
    """This process's record of its work on a run, kept in the store and in ``sessions/{id}.json``."""

    def __init__(self, store: ResultStore, run_dir: Path, backend: str, workers: int, device: str,
                 batch_cells: int) -> None:
        now = datetime.now(timezone.utc)
        self._store, self._path, self._t0 = store, run_dir / SESSIONS_DIR, time.perf_counter()
        self.record = SessionRecord(id=f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", start=now.isoformat(),
                                    end=now.isoformat(), wall_seconds=0.0, results_written=0, backend=backend,
                                    workers=workers, hardware=hardware(device, batch_cells))
        self.units: list[str] = []
        """The shard files this session wrote: with ``hardware.batch_cells`` they say which batch size
        trained which cells (a cell's batch partners and batch size are part of what reproduces it)."""
        self.add(0)  # recorded from the start, so a session killed before its first unit still counts

    def trained_on(self, node: Mapping[str, Any]) -> None:
        """A Ray node trained the next unit: ``hardware.ray_nodes`` lists each node once (the machine
        that ran the command only sent the units), written with the unit's results."""
        nodes = self.record.hardware.setdefault("ray_nodes", [])
        if dict(node) not in nodes:
            nodes.append(dict(node))
            nodes.sort(key=lambda n: json.dumps(n, sort_keys=True))

    def add(self, results_written: int, unit: str | None = None) -> None:
        r = self.record
        r.results_written += results_written
        r.end = datetime.now(timezone.utc).isoformat()
        r.wall_seconds = round(time.perf_counter() - self._t0, 3)
        if unit is not None:
            self.units.append(unit)
        self._store.record_session(r)
        atomic_write_text(self._path / f"{r.id}.json",
                          json.dumps({**r.__dict__, "units": self.units}, indent=1, sort_keys=True) + "\n")

    def forget(self) -> None:
        """Remove this session's record, from the store and ``sessions/``: for a session that ended having
        trained nothing (a time limit that let no unit start), which the table's compute record listed with
        0 results."""
        self._store.forget_session(self.record.id)
        (self._path / f"{self.record.id}.json").unlink(missing_ok=True)


# ----- running -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunStatus:
    run_dir: Path
    planned: int
    stored: int
    written_now: int

    @property
    def complete(self) -> bool:
        return self.stored == self.planned


def run_pre_evaluation(spec: RunSpec, run_dir: str | os.PathLike, *, data_dir: str | None = None,
                       backend: str = "local", workers: int = 1, ray_address: str | None = None,
                       device: str = "cpu", progress: bool = True, time_limit: float | None = None,
                       add_seeds: bool = False) -> RunStatus:
    """Train every planned (arch, seed) not yet stored in ``run_dir``; resume-safe and kill-safe.

    With ``time_limit`` (seconds from the call), no work unit starts once the time left is shorter
    than the longest unit so far (local backend; see :mod:`nasbench_suite.backends`): the run ends
    between units, incomplete, and the same call resumes it. With ``add_seeds``, a run folder of the
    same run with fewer seeds is grown to ``spec.seeds`` (the new seeds' units are trained; nothing stored
    is trained again).
    """
    from .backends import BACKENDS, check_ray_address, import_ray, run_shards, trainer_identity
    from .train import load_protocol_data

    if backend not in BACKENDS:
        raise PreEvaluateError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    deadline = None
    if time_limit is not None:
        if not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool) or not time_limit >= 0:
            raise PreEvaluateError(f"time limit must be a number of seconds >= 0, got {time_limit!r}")
        if backend != "local":
            raise PreEvaluateError("a time limit needs --backend local (Ray tasks are not started one by one)")
        deadline = time.monotonic() + time_limit
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise PreEvaluateError(f"workers must be a positive integer, got {workers!r}")
    if device != "cpu" and backend != "local":
        raise PreEvaluateError(f"device {device!r} trains with --backend local (Ray tasks run on CPUs)")
    require_device(device)
    if backend == "ray":
        import_ray()  # fail before any work if the extra is missing
        check_ray_address(ray_address)  # ... or the cluster unreachable (before the run folder is made)
    run_dir = Path(run_dir)
    data = load_protocol_data(spec.protocol, data_dir)
    n_train = len(data.splits["train"].y)
    if spec.protocol.batch_size > n_train:  # the manifest would record a batch size no step used
        raise PreEvaluateError(f"batch size {spec.protocol.batch_size} is larger than the {n_train} train images "
                               f"{spec.protocol.dataset} gives this protocol: every step would be one batch of "
                               f"{n_train}; give a batch size <= {n_train} (or a larger train subset)")
    dataset = data.describe()
    shards = spec.shards()
    planned = sum(len(s.archs) for s in shards)
    with open_run(run_dir, spec.identity(dataset), dataset, add_seeds) as store:
        sync_files(store, run_dir, shards)
        done = store.done_pairs()
        todo = [s for s in shards if not all(p in done for p in s.pairs())]
        written = 0
        if todo:
            from .engine import default_batch_cells

            batch_cells = spec.batch_cells or default_batch_cells(device, spec.protocol, data.resolution)
            session = Session(store, run_dir, backend, workers, device, batch_cells)
            bar = _progress_bar(planned, len(done), progress)
            expect = {"dataset_sha256": dataset["sha256"], **trainer_identity()}
            results_stream = run_shards(todo, spec.protocol, data, batch_cells=batch_cells, data_dir=data_dir,
                                        backend=backend, workers=workers, ray_address=ray_address, device=device,
                                        deadline=deadline, expect=expect, on_node=session.trained_on)
            try:
                for shard, results in results_stream:
                    n = _store_shard(store, shard, results, done)
                    export_shard(store, run_dir, shard)
                    session.add(n, shard.file)
                    written += n
                    bar.update(n)
            finally:
                results_stream.close()  # stop the workers now, not at garbage collection
                bar.close()
            if not session.units:  # ended before its first unit (a kill or crash keeps its record: it ran)
                session.forget()
        return RunStatus(run_dir, planned, len(done), written)


def _store_shard(store: ResultStore, shard: Shard, results: Mapping[int, Any], done: set[tuple[int, int]]) -> int:
    """Insert a trained unit's missing results, one transaction each; how many were new."""
    if sorted(results) != list(shard.archs):
        raise StoreError(f"the trainer returned archs {sorted(results)} for a unit of {list(shard.archs)}")
    written = 0
    for arch in shard.archs:
        if (arch, shard.seed) not in done and store.insert_result(arch, shard.seed, results[arch]):
            written += 1
        done.add((arch, shard.seed))
    return written


def _progress_bar(total: int, initial: int, enabled: bool) -> "tqdm":
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="result", desc="pre-evaluate", smoothing=0.05,
                disable=not (enabled and sys.stderr.isatty()))


# ----- table ---------------------------------------------------------------------------------------
def hardware(device: str = "cpu", batch_cells: int | None = None) -> dict[str, Any]:
    """The machine, and how this process trains on it (device, engine revision and batch size)."""
    import torch

    from .engine import ENGINE_REVISION

    out: dict[str, Any] = {**machine_facts(), "device": "cpu", "engine_revision": ENGINE_REVISION}
    if torch.device(device).type == "cuda":
        out["device"] = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    if batch_cells is not None:
        out["batch_cells"] = batch_cells
    return out


def with_cell_scalars(frame: "pd.DataFrame", config: "MacroConfig") -> "pd.DataFrame":
    """Add per-arch params (from the real module's closed form) and FLOPs of each cell's own network."""
    from .model import analytic_flops, analytic_params
    from .space import all_ops

    ops = all_ops()[frame["arch_index"].to_numpy()]
    return frame.assign(params=analytic_params(ops, config), flops=analytic_flops(ops, config).astype(np.int64))


def fill_class_members(frame: "pd.DataFrame", partial: bool = False) -> "pd.DataFrame":
    """Rows for all 15,625 cells from rows of class representatives; ``trained_as`` names the one trained.
    ``partial``: only the members of the classes whose representative has rows (no error for the others)."""
    import pandas as pd

    iso = isomorphism_classes()
    members = pd.DataFrame({"arch_index": np.arange(NUM_ARCHS, dtype=np.int64),
                            "trained_as": iso.representatives[iso.class_of].astype(np.int64)})
    trained = frame.rename(columns={"arch_index": "trained_as"})
    missing = np.setdiff1d(members["trained_as"].unique(), trained["trained_as"].unique())
    if missing.size and not partial:
        raise IncompleteRunError(f"{missing.size} isomorphism-class representatives have no results")
    filled = members.merge(trained, on="trained_as", how="inner")
    return filled.sort_values(["arch_index", "seed", "epoch"], kind="stable").reset_index(drop=True)


def table_metadata(identity: Mapping[str, Any], dataset: Mapping[str, Any], sessions: Sequence[SessionRecord],
                   measured_seconds: float, trained_results: int, description: str) -> dict[str, Any]:
    import numpy
    import torch

    from . import __version__

    selection = {"archs": identity["selection"]["archs"], "seeds": list(identity["seeds"]),
                 "trained_archs": identity["selection"]["num_archs"], "shard_size": identity["shard_size"],
                 "shard_plan": identity["shard_plan"]}
    if identity["selection"]["archs"] == "classes":
        selection["filled"] = FILLED_FROM_REPRESENTATIVE
    return {
        "description": description,
        "dataset": dict(dataset),
        "protocol": dict(identity["protocol"]),
        "splits": {"train": "weights are fitted on it", "valid": "held out from the training images; "
                   "what search sees", "test": "the dataset's test images; read only by evaluation"},
        "selection": selection,
        "hardware": _hardware_of(sessions),
        "compute": {
            "trainer": _trainer_of(identity, sessions), "threads_per_worker": 1, "trained_results": trained_results,
            "measured_seconds": round(measured_seconds, 1),
            "wall_seconds": round(sum(s.wall_seconds for s in sessions), 1),
            "sessions": [{k: v for k, v in s.__dict__.items() if k not in ("id", "hardware")} for s in sessions],
        },
        "library_versions": {"nasbench_suite": __version__, "torch": torch.__version__, "numpy": numpy.__version__},
    }


def _trainer_of(identity: Mapping[str, Any], sessions: Sequence[SessionRecord]) -> dict[str, Any]:
    """The identity's trainer, with the engine batch sizes its sessions used (older run folders carry
    their one batch size in the identity itself)."""
    trainer = dict(identity["trainer"])
    if "batch_cells" not in trainer:
        trainer["batch_cells"] = sorted({int(s.hardware["batch_cells"]) for s in sessions if "batch_cells" in s.hardware})
    return trainer


def _hardware_of(sessions: Sequence[SessionRecord]) -> dict[str, Any]:
    """The machine the sessions ran on (engine batch sizes aside: those are in ``compute.trainer``); if
    several (a run begun on a CPU and finished on a GPU, say), ``machines``: each one's details with
    its share of the work (sessions, results written, wall seconds), in order of first use."""
    machines: dict[str, tuple[dict[str, Any], list[SessionRecord]]] = {}  # in order of first use
    for s in sessions:
        details = {k: v for k, v in s.hardware.items() if k != "batch_cells"}
        machines.setdefault(json.dumps(details, sort_keys=True), (details, []))[1].append(s)
    if len(machines) <= 1:
        return next((details for details, _ in machines.values()), {})
    return {"machines": [{**details, "sessions": len(share),
                          "results_written": sum(s.results_written for s in share),
                          "wall_seconds": round(sum(s.wall_seconds for s in share), 1)}
                         for details, share in machines.values()]}


def build_from_store(run_dir: str | os.PathLike, out: str | os.PathLike, name: str | None = None,
                     description: str = "", overwrite: bool = False) -> "Benchmark":
    """Build the table of a complete run (expanded to all cells when the selection was ``classes``)."""
    from .model import MacroConfig
    from .table import build_table

    run_dir, out = Path(run_dir), Path(out)
    check_replaceable(out, overwrite)  # before any work; never a run folder
    run = read_run_file(run_dir)
    identity, dataset = run["identity"], run["dataset"]
    spec = RunSpec.from_identity(identity)
    if spec.identity(dataset)["selection"] != identity["selection"]:
        raise StoreError(f"the selection {spec.archs_spec!r} of {run_dir} resolves to other archs in this version")
    shards = spec.shards()
    with run_lock(run_dir, "nasbench table build"), \
            ResultStore(run_dir / STORE_FILE, identity, grow_seeds=True) as store:  # run.json may have grown
        sync_files(store, run_dir, shards)
        missing = {p for s in shards for p in s.pairs()} - store.done_pairs()
        if missing:
            planned = sum(len(s.archs) for s in shards)
            raise IncompleteRunError(f"run {run_dir} is incomplete: {len(missing)} of {planned} (arch, seed) "
                                     "results are missing; resume it with the same nasbench pre-evaluate command")
        frame, sessions = store.frame(), store.sessions()
    measured = float(np.nansum(frame[[c for c in frame.columns if c.endswith("_seconds")]].to_numpy(np.float64)))
    meta = table_metadata(identity, dataset, sessions, measured, len(frame) // spec.protocol.epochs, description)
    if spec.archs_spec == "classes":
        frame = fill_class_members(frame)
    config = MacroConfig(channels=spec.protocol.channels, cells=spec.protocol.cells, in_channels=dataset["in_channels"],
                         resolution=dataset["resolution"], num_classes=dataset["num_classes"])
    return build_table(with_cell_scalars(frame, config), out, name=name, metadata=meta, overwrite=overwrite)
