"""Zero-cost proxy scores of a table's cells, stored beside the table (resumable, crash-safe).

A proxy folder belongs to one table (name and content hash), one set of proxies, one
:class:`~nasbench_suite.proxies.ProxySettings` (macro shape, minibatch size, seed), one minibatch
(dataset, sha256, the rows, any resizing) and one machine fingerprint (the seconds are measured
here): opening it for anything else raises :class:`~nasbench_suite.errors.RunMismatchError`. The
table's own files and content hash are untouched; :meth:`ProxyTable.attach` adds the scores to a
loaded table as per-arch values ``zc_<proxy>`` in memory.

Folder layout (the default for a table's own network shape is ``benchmarks_data/proxies/<table>``)::

    proxies.json   identity (table, hash, settings, data, proxies, fingerprint)   -> commit
    proxies.csv    arch_index, <proxy>, <proxy>_seconds for each proxy            -> commit
    store.sqlite   working store (SQLite WAL), one transaction per cell           -> git-ignored

Each cell's scores are one transaction, so a killed process loses at most the cells in flight and the
same command carries on; ``proxies.csv`` is rewritten atomically every ``flush_every`` cells and at
the end, and imported on start. Cells are scored in the order given; ``nasbench proxies`` puts the
isomorphism-class representatives first, so an interrupted run already covers every class.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from . import jsonread
from .csvread import read_csv
from .errors import ProxyError, RunMismatchError, StoreError
from .folder_kind import PROXIES as PROXIES_KIND
from .pools import spawn_pool
from .space import NUM_ARCHS, Arch
from .store import (FolderStore, atomic_write_text, check_cell_csv, check_identity, configure_wal, connect, store_cells,
                    transaction)

if TYPE_CHECKING:
    import pandas as pd

    from .proxies import Minibatch, ProxySettings

    from .data import Dataset
    from .model import MacroConfig
    from .table import Benchmark, TableView

IDENTITY_FILE = "proxies.json"
CSV_FILE = "proxies.csv"
STORE_FILE = "store.sqlite"
PROXY_SCHEMA = 1
SCALAR_PREFIX = "zc_"


def csv_columns(proxies: Sequence[str]) -> list[str]:
    return ["arch_index", *proxies, *(f"{p}_seconds" for p in proxies)]


# ----- the minibatch -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxyData:
    """The fixed minibatch and how it was made (recorded in the identity)."""

    batch: Minibatch
    describe: dict[str, Any]


def make_minibatch(data: "Dataset", settings: ProxySettings) -> ProxyData:
    """``settings.batch_size`` images of the train split picked by the seed; resized (bilinear, as
    ``torch.nn.functional.interpolate``) when the macro shape's resolution differs from the data's."""
    import torch
    import torch.nn.functional as F

    from .proxies import Minibatch, pick_minibatch

    train = data.splits["train"]
    rows = pick_minibatch(len(train.y), settings.batch_size, settings.seed)
    x = torch.from_numpy(np.ascontiguousarray(train.x[rows]))
    res = settings.config.resolution
    resize = None
    if x.shape[-1] != res:
        x = F.interpolate(x, size=(res, res), mode="bilinear", align_corners=False)
        resize = f"bilinear {train.x.shape[-1]}x{train.x.shape[-1]} -> {res}x{res} (align_corners=False)"
    if x.shape[1] != settings.config.in_channels:
        raise ProxyError(f"the data has {x.shape[1]} channels, the network expects {settings.config.in_channels}")
    info = {"dataset": data.name, "sha256": data.sha256, "split": "train", "split_size": int(len(train.y)),
            "rows": [int(r) for r in rows], "source_rows": [int(r) for r in train.index[rows]], "resize": resize}
    return ProxyData(Minibatch(x.contiguous(), torch.from_numpy(train.y[rows])), info)


# ----- the store -----------------------------------------------------------------------------------
class ProxyStore(FolderStore):
    """One folder of proxy scores; see the module doc."""

    def __init__(self, folder: str | os.PathLike, table: dict[str, str], settings: ProxySettings,
                 proxies: Sequence[str], data: dict[str, Any], threads: int = 1) -> None:
        from .latency import fingerprint
        from .proxies import REVISED_DEFINITIONS, UNDEFINED, check_proxies

        self.folder = Path(folder)
        self.proxies = check_proxies(proxies)
        self.settings = settings
        self.identity: dict[str, Any] = {"proxy_schema": PROXY_SCHEMA, "table": dict(table), "settings": settings.to_dict(),
                         "proxies": list(self.proxies), "data": data, "fingerprint": fingerprint("cpu", threads),
                         "undefined": UNDEFINED}
        self.identity.update({p: REVISED_DEFINITIONS[p] for p in self.proxies if p in REVISED_DEFINITIONS})
        ident = self.folder / IDENTITY_FILE
        # proxies.json is read and (for a new folder) written under the folder's writer lock (two writers would
        # also time each proxy's *_seconds under the other's load)
        self._claim(self.folder, IDENTITY_FILE, CSV_FILE, STORE_FILE, "nasbench proxies", "scored", PROXIES_KIND)
        try:
            self._open(ident)
        except BaseException:
            self.close()
            raise

    def _open(self, ident: Path) -> None:
        from .proxies import LEGACY_UNDEFINED

        legacy = False
        if ident.is_file():
            try:
                stored = _read_identity(ident)
            except (OSError, ValueError) as exc:
                raise _unreadable(self.folder, exc) from None
            legacy = stored.get("undefined") == LEGACY_UNDEFINED
            requested = {**self.identity, "undefined": LEGACY_UNDEFINED} if legacy else self.identity
            check_identity(f"proxy folder {self.folder}", stored, json.loads(json.dumps(requested)))
        else:
            atomic_write_text(ident, json.dumps(self.identity, indent=2, sort_keys=True) + "\n")
        self._db = connect(self.folder / STORE_FILE)
        configure_wal(self._db)
        cols = ", ".join(f'"{c}" REAL NOT NULL' for c in csv_columns(self.proxies)[1:])
        self._db.execute(f"CREATE TABLE IF NOT EXISTS results (arch INTEGER PRIMARY KEY, {cols})")
        self._import_csv()
        if legacy:
            self._upgrade_legacy()

    def _upgrade_legacy(self) -> None:
        """A folder written when every non-finite score was stored as -inf: where no connected cell holds a
        non-finite score the two rules agree, so its identity is rewritten to the current rule and it resumes;
        otherwise such a -inf may have been +inf or NaN, and it is refused."""
        from .proxies import ANALYTIC

        frame = self.frame()
        scored = [p for p in self.proxies if p not in ANALYTIC]
        bad = frame.loc[~np.isfinite(frame[scored].to_numpy(np.float64)).all(axis=1), "arch_index"] if scored else []
        suspect = [int(a) for a in bad if not Arch.from_index(int(a)).is_disconnected()]
        if suspect:
            self._db.close()
            raise RunMismatchError(f"proxy folder {self.folder} stored every non-finite score as -inf, and connected "
                                   f"cell(s) {suspect[:5]} hold one (an overflow to +inf or a NaN before); the current "
                                   "rule keeps +inf and refuses NaN: score them again in a new folder")
        atomic_write_text(self.folder / IDENTITY_FILE, json.dumps(self.identity, indent=2, sort_keys=True) + "\n")

    def _import_csv(self) -> None:
        path = self.folder / CSV_FILE
        if not path.is_file():
            return
        try:
            frame = read_csv(path)
        except (OSError, ValueError) as exc:
            raise _unreadable(self.folder, exc) from None
        if list(frame.columns) != csv_columns(self.proxies):
            raise StoreError(f"{path} has columns {list(frame.columns)}, expected {csv_columns(self.proxies)}")
        try:
            _check_csv(frame, self.proxies)
        except (ValueError, TypeError) as exc:
            raise _unreadable(self.folder, exc) from None
        self._insert([(int(r[0]), *map(float, r[1:])) for r in frame.itertuples(index=False)])

    def _insert(self, rows: Sequence[tuple]) -> None:
        marks = ", ".join("?" * (1 + 2 * len(self.proxies)))
        with transaction(self._db):
            self._db.executemany(f"INSERT OR IGNORE INTO results VALUES ({marks})", rows)

    def add(self, arch: int, scores: dict[str, tuple[float, float]]) -> None:
        self._insert([(int(arch), *(scores[p][0] for p in self.proxies), *(scores[p][1] for p in self.proxies))])

    def done(self) -> set[int]:
        return {a for (a,) in self._db.execute("SELECT arch FROM results")}

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        rows = self._db.execute("SELECT * FROM results ORDER BY arch").fetchall()
        frame = pd.DataFrame(rows, columns=csv_columns(self.proxies))
        return frame.astype({"arch_index": np.int64})

    def write_csv(self) -> None:
        text = self.frame().to_csv(index=False, float_format="%.9g", lineterminator="\n")
        atomic_write_text(self.folder / CSV_FILE, text)

    def compute(self, archs: Sequence[int], batch: Minibatch, *, workers: int = 1, progress: bool = False,
                flush_every: int = 200, on_cell: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Score every cell of ``archs`` not stored yet, in the given order; returns counts and wall seconds."""
        from .latency import fingerprint

        if workers < 1:
            raise ProxyError(f"workers must be a positive integer, got {workers}")

        here = fingerprint("cpu", self.identity["fingerprint"]["threads"])
        if here["hash"] != self.identity["fingerprint"]["hash"]:
            raise ProxyError(f"proxy folder {self.folder} was measured on machine {self.identity['fingerprint']['hash']}; "
                             f"this one is {here['hash']}: seconds of two machines are never mixed")
        done = self.done()
        todo = [int(a) for a in archs if int(a) not in done]
        started = time.perf_counter()
        store_cells(_scores(todo, batch, self.settings, self.proxies, workers), self.add, self.write_csv,
                    total=len(archs), initial=len(archs) - len(todo), desc="proxies", progress=progress,
                    flush_every=flush_every, on_cell=on_cell)
        return {"computed": len(todo), "already_stored": len(archs) - len(todo),
                "wall_seconds": time.perf_counter() - started}


def _score_chunk(archs: Sequence[int], batch: Minibatch, settings: ProxySettings,
                 proxies: Sequence[str]) -> list[tuple[int, dict[str, tuple[float, float]]]]:
    from .latency import torch_threads
    from .proxies import score_cell

    with torch_threads(1):
        return [(a, score_cell(Arch.from_index(a), batch, settings, proxies)) for a in archs]


def _score_arrays(archs: Sequence[int], x: np.ndarray, y: np.ndarray, settings: ProxySettings,
                  proxies: Sequence[str]) -> list[tuple[int, dict[str, tuple[float, float]]]]:
    """:func:`_score_chunk` in a worker, the minibatch received as arrays (see :func:`_scores`)."""
    import torch

    from .proxies import Minibatch

    return _score_chunk(archs, Minibatch(torch.from_numpy(x), torch.from_numpy(y)), settings, proxies)


def _scores(todo: list[int], batch: Minibatch, settings: ProxySettings, proxies: Sequence[str],
            workers: int) -> Iterator[tuple[int, dict[str, tuple[float, float]]]]:
    """Scores in the order of ``todo``; chunks of 8 cells go to ``workers`` spawned processes (1 thread each).

    The minibatch travels to the workers by value, as numpy arrays: a torch tensor is pickled as a file
    descriptor that the worker fetches from the parent while it reads the task, so a parent killed
    outright (``kill -9``) left every worker dying on a ``ConnectionRefusedError`` traceback."""
    if workers <= 1 or not todo:  # nothing left to score (a complete folder resumed): no pool of 0 processes
        for a in todo:
            yield from _score_chunk([a], batch, settings, proxies)
        return
    chunks = [todo[i:i + 8] for i in range(0, len(todo), 8)]
    x, y = batch.x.numpy(), batch.y.numpy()
    with spawn_pool(min(workers, len(chunks))) as pool:  # as every caller: no idle workers
        futures = [pool.submit(_score_arrays, c, x, y, settings, proxies) for c in chunks[:2 * workers]]
        nxt = len(futures)
        for i in range(len(chunks)):
            yield from futures[i].result()
            if nxt < len(chunks):
                futures.append(pool.submit(_score_arrays, chunks[nxt], x, y, settings, proxies))
                nxt += 1


# ----- reading -------------------------------------------------------------------------------------
@dataclass
class ProxyTable:
    """Stored proxy scores: ``scores[p]`` and ``seconds[p]`` are (15625,) float64 arrays indexed by
    arch (NaN for cells not scored)."""

    scores: dict[str, np.ndarray]
    seconds: dict[str, np.ndarray]
    identity: dict[str, Any]

    @property
    def proxies(self) -> tuple[str, ...]:
        return tuple(self.scores)

    def scored(self) -> np.ndarray:
        """Boolean (15625,) mask of the cells that have scores."""
        return ~np.isnan(next(iter(self.scores.values())))

    def attach(self, view: "TableView") -> list[str]:
        """Add every proxy as a per-arch value ``zc_<proxy>`` of ``view`` (in memory only)."""
        names = []
        for p, values in self.scores.items():
            view._scalars[SCALAR_PREFIX + p] = values[view.arch_indices]
            names.append(SCALAR_PREFIX + p)
        return names


def load_proxies(folder: str | os.PathLike) -> ProxyTable:
    folder = Path(folder)
    ident, path = folder / IDENTITY_FILE, folder / CSV_FILE
    if not ident.is_file() or not path.is_file():
        raise ProxyError(f"{folder} is not a proxy folder: it needs {IDENTITY_FILE} and {CSV_FILE} "
                         "(run `nasbench proxies --table T` first)")
    try:
        identity = _read_identity(ident)
        frame = read_csv(path)
        idx = _check_csv(frame, identity["proxies"])
        scores, seconds = {}, {}
        for p in identity["proxies"]:
            scores[p] = np.full(NUM_ARCHS, np.nan)
            scores[p][idx] = frame[p].to_numpy(np.float64)
            seconds[p] = np.full(NUM_ARCHS, np.nan)
            seconds[p][idx] = frame[f"{p}_seconds"].to_numpy(np.float64)
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable(folder, exc) from None
    return ProxyTable(scores, seconds, identity)


def _check_csv(frame: "pd.DataFrame", proxies: Sequence[str]) -> np.ndarray:
    """The cells of a ``proxies.csv``; ValueError beyond :func:`~nasbench_suite.store.check_cell_csv`'s
    checks when a cell has two rows (the store kept the first and the reader the last, without a word)."""
    idx = check_cell_csv(frame, csv_columns(proxies), CSV_FILE)
    cells, counts = np.unique(idx, return_counts=True)
    repeated = cells[counts > 1]
    if repeated.size:
        raise ValueError(f"{CSV_FILE} has more than one row of {repeated.size} cell(s), e.g. arch_index {repeated[0]}")
    return idx


def _read_identity(path: Path) -> dict[str, Any]:
    """``proxies.json``; ValueError when it is not JSON or lists no proxies."""
    identity = jsonread.loads(path.read_text(encoding="utf-8"))
    if not isinstance(identity, dict) or not isinstance(identity.get("proxies"), list) or not identity["proxies"]:
        raise ValueError(f"{IDENTITY_FILE} lists no proxies")
    return identity


def _unreadable(folder: Path, exc: Exception) -> ProxyError:
    return ProxyError(f"proxy folder {folder} cannot be read ({type(exc).__name__}: {exc}); restore its "
                      f"{IDENTITY_FILE} and {CSV_FILE}, or move the folder aside and run `nasbench proxies` again")


def default_folder(bench: "Benchmark") -> Path:
    """``<tables dir>/proxies/<table name>``: the proxies of a table's own network shape, beside it."""
    return bench.path.parent / "proxies" / bench.name


def table_key(bench: "Benchmark") -> dict[str, str]:
    return {"name": bench.name, "content_hash": bench.content_hash}


def stored_for(bench: "Benchmark") -> ProxyTable | None:
    """The proxies stored beside ``bench`` for its own hash, or None when there are none."""
    folder = default_folder(bench)
    if not (folder / IDENTITY_FILE).is_file() or not (folder / CSV_FILE).is_file():
        return None
    table = load_proxies(folder)
    if table.identity.get("table", {}).get("content_hash") != bench.content_hash:
        return None
    return table


def ordered_cells(archs: Sequence[int]) -> list[int]:
    """``archs`` with the isomorphism-class representatives first (each group in index order)."""
    from .space import isomorphism_classes

    reps = set(isomorphism_classes().representatives.tolist())
    archs = sorted(set(int(a) for a in archs))
    return [a for a in archs if a in reps] + [a for a in archs if a not in reps]


def config_for(bench: "Benchmark", channels: int | None = None, cells: int | None = None,
               resolution: int | None = None) -> MacroConfig:
    """The table's network shape, with any of C, N and the input resolution overridden."""
    from .latency import config_of_table
    from .model import MacroConfig

    base = config_of_table(bench.manifest)

    def given(value: int | None, default: int) -> int:
        return default if value is None else value  # 0 is passed on, for MacroConfig to refuse

    return MacroConfig(channels=given(channels, base.channels), cells=given(cells, base.cells),
                       in_channels=base.in_channels, resolution=given(resolution, base.resolution),
                       num_classes=base.num_classes)


__all__ = ["ProxyStore", "ProxyTable", "load_proxies", "make_minibatch", "stored_for"]
