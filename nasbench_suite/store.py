"""Durable pre-evaluation results: a crash-safe SQLite store and the shard files committed to git.

:class:`ResultStore` keeps one row per (arch, seed, epoch) in a SQLite database in WAL mode. Every
(arch, seed) result (all its epochs) goes in with one transaction, with ``INSERT OR IGNORE``
semantics: a process killed at any moment leaves each result either fully stored or absent, and
storing a result again changes nothing. The store's ``meta`` table holds the identity of the run
(protocol, dataset hash, selection, seeds, shard size, result shape); opening it for a different
identity raises :class:`~nasbench_suite.errors.RunMismatchError` naming what differs, so results of
two runs are never mixed.

Shard files are the portable copy: small CSV files of tidy rows (``arch_index, seed, epoch`` and
the metric columns), written once, atomically, when a work unit is complete, and meant to be
committed. Every metric is rounded to float32 before it is stored, and written with 9 significant
digits, which round-trips float32 exactly, so the store, the shard files and the table hold the
same numbers bit for bit.

No pickle: SQLite, CSV and JSON only.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from . import jsonread
from .errors import RunMismatchError, ShardFileError, StoreError

if TYPE_CHECKING:
    import pandas as pd

STORE_SCHEMA = 1
KEY_COLUMNS = ("arch_index", "seed", "epoch")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

Curve = Sequence[tuple[int, Mapping[str, float]]]
"""One (arch, seed) result: (epoch, {metric: value}) for epochs 1..E."""


def to_float32(values: Iterable[float]) -> list[float]:
    """Python floats holding exactly the float32 nearest to each value (NaN and inf kept)."""
    return np.asarray(list(values), dtype=np.float64).astype(np.float32).astype(np.float64).tolist()


LEGACY_IDENTITY_KEYS = frozenset({"trainer.batch_cells"})
"""Identity fields that older versions wrote and that no longer tell runs apart, ignored when
identities are compared (the engine's batch size is now recorded per session, so that a run can
continue on another device)."""

SPELLING_KEYS = {"selection.archs": "archs_sha256"}
"""Identity fields that only spell what a sibling field pins down, ignored when that sibling is on
both sides and equal: ``selection.archs`` is the ``--archs`` text and ``selection.archs_sha256`` the
hash of the sorted, distinct archs it resolves to, which is all the shard plan uses, so ``0-7`` and
``0,1,2,3,4,5,6,7`` are the same run (the run folder keeps the spelling it was started with)."""


def describe_mismatch(stored: Mapping[str, Any], requested: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two identities, one entry per differing (dotted) key."""
    diffs = []
    for key in sorted(set(stored) | set(requested)):
        a, b = stored.get(key, "<absent>"), requested.get(key, "<absent>")
        if f"{prefix}{key}" in LEGACY_IDENTITY_KEYS:
            continue
        resolved = SPELLING_KEYS.get(f"{prefix}{key}")
        if resolved is not None and resolved in stored and stored.get(resolved) == requested.get(resolved):
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs += describe_mismatch(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: run has {json.dumps(a)}, asked for {json.dumps(b)}")
    return diffs


def added_seeds(stored: Mapping[str, Any], requested: Mapping[str, Any]) -> list[int] | None:
    """The seeds ``requested`` adds to the run ``stored``, when it keeps every stored seed and differs
    in nothing else (the results of a seed do not depend on the other seeds, and each seed's work
    units are the same whatever the seeds beside it); None otherwise."""
    have, want = seed_set(stored), seed_set(requested)
    if have is None or want is None or not have < want:
        return None
    if describe_mismatch({**stored, "seeds": requested["seeds"]}, requested):
        return None
    return sorted(want - have)


def seed_set(identity: Mapping[str, Any]) -> set[int] | None:
    """An identity's seeds, None when they are not a list of integers."""
    seeds = identity.get("seeds")
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        return None
    return set(seeds)


def check_identity(where: str, stored: Mapping[str, Any], requested: Mapping[str, Any]) -> None:
    diffs = describe_mismatch(stored, requested)
    if diffs:
        raise RunMismatchError(f"{where} belongs to another run ({'; '.join(diffs)}); "
                               "use another folder, or repeat the original run's arguments to resume it")


def _result_shape(identity: Mapping[str, Any]) -> tuple[tuple[str, ...], int]:
    try:
        metrics = tuple(identity["results"]["metrics"])
        epochs = int(identity["results"]["epochs"])
    except (KeyError, TypeError, ValueError):
        raise StoreError("a run identity needs results.metrics (column names) and results.epochs") from None
    bad = [m for m in metrics if not _IDENTIFIER.match(m) or m in KEY_COLUMNS]
    if bad or not metrics or epochs < 1:
        raise StoreError(f"invalid result shape: metrics {list(metrics)}, epochs {epochs}")
    return metrics, epochs


def connect(path: Path) -> sqlite3.Connection:
    """Open a store's SQLite working copy, in autocommit mode; refused (``sqlite3.DatabaseError``) when it or
    its -wal or -shm file is a symbolic link: SQLite follows one, so a link planted in a received folder
    had the results written into whatever database it led to, or a new one made there."""
    for p in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if p.is_symlink():
            raise sqlite3.DatabaseError(f"{p.name} is a symbolic link, which no store of nasbench_suite makes")
    return sqlite3.connect(path, isolation_level=None, timeout=30.0)


def configure_wal(db: sqlite3.Connection) -> None:
    """WAL journal, synchronous=NORMAL: what every store of this package uses. A database holding a view
    or a trigger, which no store of this package makes, is refused (``sqlite3.DatabaseError``): a crafted
    working copy whose results table was a view of an endless recursive query hung table build forever."""
    odd = db.execute("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')").fetchone()
    if odd is not None:
        raise sqlite3.DatabaseError(f"it holds a {odd[0]} ({odd[1]}), which no store of nasbench_suite has")
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL, not FULL: in WAL mode a commit has been written to the WAL file (the OS page cache)
    # before it returns, so it survives kill -9 of this process; only an OS crash or power cut
    # could lose the last few commits (never corrupt the database), and those results are then
    # simply computed again. FULL would add an fsync per result for a failure we do not design for.
    db.execute("PRAGMA synchronous=NORMAL")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (connection in autocommit mode).

    The exception raised is the one that stopped the transaction: when SQLite has already rolled it
    back itself (a full disk, say), there is nothing to roll back, and that is not a second error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


@dataclass
class SessionRecord:
    """One process's stint on a run: when, where, how, and how many results it stored."""

    id: str
    start: str
    end: str
    wall_seconds: float
    results_written: int
    backend: str
    workers: int
    hardware: dict[str, Any]


_FILES_TABLE = "CREATE TABLE files (name TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
"""The committed files (shard files) whose contents the store holds, with their size, modification time
and SHA-256 when it took them in: a start re-reads only a file whose size or time changed since, and
only one whose contents changed is read again into the store."""


class FileSignature(NamedTuple):
    """A file's size, modification time and SHA-256 at one moment."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, st: os.stat_result, data: bytes) -> FileSignature:
        """The signature of a file whose ``stat`` (taken before it was read) was ``st`` and whose
        contents are ``data``."""
        return cls(st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())

    def same_stat(self, st: os.stat_result) -> bool:
        return self.size == st.st_size and self.mtime_ns == st.st_mtime_ns


class ResultStore:
    """Results of one pre-evaluation run in SQLite; the process that owns it is the only writer.

    ``ResultStore(path, identity)`` creates the store or opens it after checking that it holds the
    same run; ``ResultStore(path)`` opens an existing store with whatever identity it has. With
    ``grow_seeds``, a store of the same run with fewer seeds takes the identity's seeds (see
    :func:`added_seeds`): the run folder's run.json, which the caller read ``identity`` from or has
    just written, is the authority, and the store is its working copy.
    """

    def __init__(self, path: str | os.PathLike, identity: Mapping[str, Any] | None = None, *,
                 grow_seeds: bool = False) -> None:
        self.path = Path(path)
        if identity is None and not self.path.is_file():
            raise StoreError(f"no result store at {self.path}")
        try:
            self._db = connect(self.path)
        except sqlite3.Error as exc:
            raise self._failed(exc) from None
        try:
            self._configure()
            self.identity = self._open_identity(identity, grow_seeds)
        except sqlite3.Error as exc:
            self._db.close()
            raise self._failed(exc) from None
        except BaseException:
            self._db.close()
            raise
        self.metrics, self.epochs = _result_shape(self.identity)

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        """What SQLite's refusal means to the user: a damaged file is a working copy that the run
        rebuilds from its committed files; a full disk, an I/O error or a read-only folder is the
        system's, and every result committed before it is kept."""
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreError(f"the result store {self.path} is damaged ({exc}); it is a working copy that the "
                              f"run rebuilds from its committed files: delete {self.path.name} (and its -wal and "
                              "-shm files) and run the command again (results of unfinished work units are "
                              "trained again)")
        return StoreError(f"the result store {self.path} failed: {exc}; every result stored before is kept: "
                          "fix the cause (free disk space, a writable folder) and run the same command again")

    # ----- set-up --------------------------------------------------------------------------------
    def _configure(self) -> None:
        configure_wal(self._db)

    def _open_identity(self, requested: Mapping[str, Any] | None, grow_seeds: bool) -> dict[str, Any]:
        stored = self._read_meta()
        if stored is None:
            if requested is None:
                raise StoreError(f"{self.path} is not a result store (it has no run identity)")
            self._create(dict(requested))
            return json.loads(json.dumps(requested))
        version = stored.pop("store_schema", None)
        if version != STORE_SCHEMA:
            raise StoreError(f"{self.path} has store schema {version}; this nasbench_suite reads {STORE_SCHEMA}")
        if requested is not None:
            requested = json.loads(json.dumps(requested))
            if grow_seeds and added_seeds(stored, requested):
                stored["seeds"] = sorted(requested["seeds"])
                with self._transaction():
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'seeds'", (json.dumps(stored["seeds"]),))
            check_identity(f"result store {self.path}", stored, requested)
        self._add_files_table()
        return stored

    def _read_meta(self) -> dict[str, Any] | None:
        has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            return None
        try:
            return {k: jsonread.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}
        except (TypeError, ValueError) as exc:  # a value that is not JSON text: was a traceback
            raise self._failed(sqlite3.DatabaseError(f"its meta table holds a value that is not JSON: {exc}")) from None

    def _create(self, identity: dict[str, Any]) -> None:
        metrics, _ = _result_shape(identity)
        columns = ", ".join(f"{m} REAL" for m in metrics)
        with self._transaction():
            self._db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(f"CREATE TABLE results (arch INTEGER NOT NULL, seed INTEGER NOT NULL, "
                             f"epoch INTEGER NOT NULL, {columns}, PRIMARY KEY (arch, seed, epoch)) WITHOUT ROWID")
            self._db.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, start TEXT, end TEXT, wall_seconds REAL, "
                             "results_written INTEGER, backend TEXT, workers INTEGER, hardware TEXT)")
            self._db.executemany("INSERT INTO meta VALUES (?, ?)",
                                 [(k, json.dumps(v, sort_keys=True)) for k, v in
                                  {**identity, "store_schema": STORE_SCHEMA}.items()])
            self._db.execute(_FILES_TABLE)

    def _add_files_table(self) -> None:
        """Stores written before the file records existed lack their table: it is added (older versions
        ignore it, so such a store still opens in them)."""
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='files'").fetchone():
            with self._transaction():
                self._db.execute(_FILES_TABLE)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with transaction(self._db):
                yield
        except sqlite3.Error as exc:  # a full disk, an I/O error: nothing of this transaction is kept
            raise self._failed(exc) from None

    # ----- writing -------------------------------------------------------------------------------
    def insert_result(self, arch: int, seed: int, curve: Curve, replace: bool = False) -> bool:
        """Store one (arch, seed) result, all epochs in one transaction; True if anything was written.

        A result already stored is left as it is (``INSERT OR IGNORE``), unless ``replace`` is set:
        importing a committed shard file replaces, because committed results are the reference.
        """
        rows = self.rows_of(int(arch), int(seed), curve)
        marks = ", ".join("?" * (3 + len(self.metrics)))
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._transaction():
            cur = self._db.executemany(f"{verb} INTO results VALUES ({marks})", rows)
            return cur.rowcount > 0

    def rows_of(self, arch: int, seed: int, curve: Curve) -> list[tuple]:
        """The rows (arch, seed, epoch, *metrics as float32) one result is stored as; StoreError if its
        epochs or metrics are not this run's."""
        epochs = [int(e) for e, _ in curve]
        if epochs != list(range(1, self.epochs + 1)):
            raise StoreError(f"result of arch {arch} seed {seed} has epochs {epochs}; this run records 1..{self.epochs}")
        rows = []
        for epoch, metrics in curve:
            if set(metrics) != set(self.metrics):
                raise StoreError(f"result of arch {arch} seed {seed} epoch {epoch} has metrics {sorted(metrics)}; "
                                 f"this run records {sorted(self.metrics)}")
            rows.append((arch, seed, int(epoch), *to_float32(metrics[m] for m in self.metrics)))
        return rows

    def record_session(self, session: SessionRecord) -> None:
        """Insert or update one session's record."""
        values = asdict(session)
        values["hardware"] = json.dumps(values["hardware"], sort_keys=True)
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO sessions VALUES (:id, :start, :end, :wall_seconds, "
                             ":results_written, :backend, :workers, :hardware)", values)

    def forget_session(self, session_id: str) -> None:
        """Remove one session's record (its committed file is gone)."""
        with self._transaction():
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def record_file(self, name: str, signature: FileSignature) -> None:
        """Remember what a committed file held when the store took it in (or wrote it)."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (name, *signature))

    # ----- reading -------------------------------------------------------------------------------
    def file_records(self) -> dict[str, FileSignature]:
        """The committed files the store holds the contents of, by name, as they were then."""
        return {name: FileSignature(int(size), int(mtime), str(sha))
                for name, size, mtime, sha in self._db.execute("SELECT * FROM files")}

    def done_pairs(self) -> set[tuple[int, int]]:
        """The (arch, seed) pairs whose result is stored (a stored result always has every epoch)."""
        return {(a, s) for a, s in self._db.execute("SELECT DISTINCT arch, seed FROM results")}

    def counts(self) -> dict[str, int]:
        (rows,) = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        (results,) = self._db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT arch, seed FROM results)").fetchone()
        return {"results": int(results), "rows": int(rows)}

    def rows(self, seed: int, archs: Sequence[int]) -> list[tuple]:
        """Stored rows (arch, seed, epoch, *metrics) of some archs under one seed, sorted."""
        marks = ", ".join("?" * len(archs))
        return self._db.execute(f"SELECT * FROM results WHERE seed = ? AND arch IN ({marks}) ORDER BY arch, epoch",
                                [int(seed), *map(int, archs)]).fetchall()

    def frame(self) -> "pd.DataFrame":
        """Every stored row as a tidy frame: arch_index, seed, epoch (int64), metrics (float32)."""
        import pandas as pd

        (n,) = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        keys = np.empty((n, len(KEY_COLUMNS)), dtype=np.int64)
        values = np.empty((n, len(self.metrics)), dtype=np.float32)
        cursor, start = self._db.execute("SELECT * FROM results ORDER BY arch, seed, epoch"), 0
        while chunk := cursor.fetchmany(1 << 16):  # a full table's rows never sit in memory as tuples
            block = np.asarray(chunk, dtype=np.float64)  # NULL (a NaN metric) -> nan
            keys[start : start + len(chunk), [0, 2]] = block[:, [0, 2]]  # arch, epoch: small, exact in float64
            # seeds straight to int64: through float64 one above 2**53 came back as another seed
            keys[start : start + len(chunk), 1] = np.fromiter((row[1] for row in chunk), np.int64, len(chunk))
            values[start : start + len(chunk)] = block[:, len(KEY_COLUMNS) :]
            start += len(chunk)
        return pd.DataFrame({**{c: keys[:, i] for i, c in enumerate(KEY_COLUMNS)},
                             **{m: values[:, i] for i, m in enumerate(self.metrics)}})

    def sessions(self) -> list[SessionRecord]:
        out = []
        for row in self._db.execute("SELECT * FROM sessions ORDER BY start, id"):
            try:
                record = SessionRecord(*row)
                record.hardware = jsonread.loads(row[-1])
            except (TypeError, ValueError) as exc:  # another row shape, or hardware not JSON: was a traceback
                raise self._failed(sqlite3.DatabaseError(f"its sessions table holds a malformed row: {exc}")) from None
            out.append(record)
        return out

    # ----- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----- shard files ---------------------------------------------------------------------------------
CUT_FILE_ADVICE = " (restore it from git, or delete it to train its work unit again)"


def write_shard_file(path: Path, rows: Sequence[Sequence[float]], metrics: Sequence[str]) -> bytes:
    """Write tidy rows (arch_index, seed, epoch, *metrics) as CSV, atomically (temp file + rename);
    returns the bytes written."""
    buf = io.StringIO()
    buf.write(",".join([*KEY_COLUMNS, *metrics]) + "\n")
    for row in rows:
        keys = (str(int(v)) for v in row[:3])
        buf.write(",".join([*keys, *("%.9g" % v for v in to_float32(row[3:]))]) + "\n")
    atomic_write_text(path, buf.getvalue())
    return buf.getvalue().encode("ascii")


def atomic_write_text(path: Path, text: str) -> None:
    """Write a small text file so that readers (and a later run after kill -9) see old or new, never half.

    An OSError (a full disk, say) names ``path``: writing and syncing a file report none."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """:func:`atomic_write_text` for bytes (a figure, a parquet file)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` through ``write(file)`` (a stream of any size) to its temporary name, synced, then
    put in place: readers see the old file or the new one, never half; a failure leaves no temporary.

    Neither ``path`` nor its temporary name is written through a symbolic link: ``path`` is replaced, and
    a link at the temporary name (planted in a received folder) is refused, as writing through either
    wrote outside the folder (a report's ``final.csv`` linked to ``~/.bashrc`` overwrote that)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_no_follow(tmp) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # what it holds of the disk is freed now, not at the next start
        if exc.filename is not None and Path(exc.filename) != tmp:
            raise  # the folder above it: already named
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def open_no_follow(path: Path) -> BinaryIO:
    """``path`` opened for writing (created or emptied), never through a symbolic link: one there (planted in
    a received folder) is refused with an OSError naming it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if not path.is_symlink():
            raise
        raise OSError(exc.errno, f"{path} is a symbolic link; refusing to write through it (delete it)",
                      str(path)) from None
    return open(fd, "wb")


NAME_MAX = 255
"""The longest file name, in bytes, of Linux's and macOS's usual file systems."""


def private_temporary(path: Path) -> Path:
    """A temporary name beside ``path`` of this process's own (``.NAME.PID.tmp``): two processes writing
    ``path`` at once never write into one file (a shared ``.NAME.tmp`` mixed their bytes, and the second
    rename failed on a name the first had taken away). Where that name would pass the file system's 255-byte
    limit on a name (``path`` itself near it), the name is shortened to a hash of ``path``'s: an export to a
    250-character file name failed with 'File name too long (.NAME.PID.tmp)'."""
    name = f".{path.name}.{os.getpid()}.tmp"
    if len(os.fsencode(name)) > NAME_MAX:
        name = f".{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]}.{os.getpid()}.tmp"
    return path.with_name(name)


def place_file(tmp: Path, path: Path, overwrite: bool) -> bool:
    """Give the finished file ``tmp`` the name ``path``; False (``tmp`` left to the caller) when ``path``
    exists and ``overwrite`` is not given. With ``overwrite`` one atomic rename: readers, and a concurrent
    writer of ``path``, see one whole file or the other. Without it the name is taken with a hard link,
    which fails if ``path`` exists by now (another process wrote it meanwhile): checked and named in one
    step, where the file system has hard links."""
    import errno

    if overwrite:
        os.replace(tmp, path)
        return True
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        if path.exists():  # no hard links here: the check and the rename are two steps
            return False
        os.replace(tmp, path)
        return True
    tmp.unlink()
    return True


def remove_temporary_files(folder: Path) -> None:
    """Delete what an interrupted :func:`atomic_write_text` left behind under ``folder``."""
    if folder.is_dir():
        for tmp in folder.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def read_shard_file(path: Path, metrics: Sequence[str]) -> dict[tuple[int, int], list[tuple[int, dict[str, float]]]]:
    """Results of one shard file: {(arch, seed): [(epoch, {metric: value}), ...]} in file order."""
    return parse_shard_file(path, path.read_bytes(), metrics)


def parse_shard_file(path: Path, data: bytes,
                     metrics: Sequence[str]) -> dict[tuple[int, int], list[tuple[int, dict[str, float]]]]:
    """:func:`read_shard_file` of the contents ``data`` of ``path`` (named in errors)."""
    expected = [*KEY_COLUMNS, *metrics]
    results: dict[tuple[int, int], list[tuple[int, dict[str, float]]]] = {}
    try:
        text = data.decode("ascii")
        if text and not text.endswith("\n"):  # every line is written whole: a cut file would pass a cut number
            raise ShardFileError(f"shard file {path} is truncated: its last line has no line end{CUT_FILE_ADVICE}")
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header != expected:
            raise ShardFileError(f"shard file {path} has columns {header}, expected {expected}")
        for line, row in enumerate(reader, start=2):
            if len(row) != len(expected):
                raise ShardFileError(f"shard file {path} line {line}: {len(row)} fields, expected {len(expected)}")
            arch, seed, epoch = (int(v) for v in row[:3])
            values = to_float32(float(v) for v in row[3:])
            results.setdefault((arch, seed), []).append((epoch, dict(zip(metrics, values))))
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ShardFileError):
            raise
        raise ShardFileError(f"shard file {path} is malformed: {exc}") from None
    return results


def iter_shard_files(folder: Path) -> list[Path]:
    """Shard files under ``folder``, sorted."""
    return sorted(folder.rglob("*.csv")) if folder.is_dir() else []


# ----- per-cell folder stores (latency, proxies) ---------------------------------------------------
class FolderStore:
    """What the per-cell folder stores share: a SQLite connection ``_db`` and the folder's writer lock
    (:func:`~nasbench_suite.run_lock.run_lock`), both released on exit."""

    _db: sqlite3.Connection
    _lock: contextlib.ExitStack | None = None

    def _claim(self, folder: Path, identity_file: str, csv_file: str, store_file: str, purpose: str,
               done: str, kind: str) -> None:
        """Refuse another ``kind`` of output folder (:func:`~nasbench_suite.folder_kind.check_output_kind`)
        and a folder that holds something but no ``identity_file`` (what a first start killed before
        its identity was in place leaves does not count: its lock, a half-written identity or CSV, the
        SQLite files), then create ``folder`` and hold its writer lock until :meth:`close`:
        :class:`RunInUseError` (naming the holder's process) while another process holds it. One writer
        per folder: two would measure every cell twice, each under the other's load, and race on the CSV."""
        from .folder_kind import check_output_kind
        from .run_lock import LOCK_FILE, run_lock

        check_output_kind(folder, {kind})
        leftovers = {f".{identity_file}.tmp", f".{csv_file}.tmp", LOCK_FILE}
        if not (folder / identity_file).is_file() and folder.exists() and any(
                not f.name.startswith(store_file) and f.name not in leftovers for f in folder.iterdir()):
            raise StoreError(f"{folder} is not empty and has no {identity_file}; use a new folder")
        folder.mkdir(parents=True, exist_ok=True)
        lock = contextlib.ExitStack()
        lock.enter_context(run_lock(folder, purpose, f"what it has {done} so far is in {folder / csv_file}, "
                                                     "rewritten as it goes"))
        self._lock = lock

    def close(self) -> None:
        try:
            if getattr(self, "_db", None) is not None:
                self._db.close()
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_cell_csv(frame: "pd.DataFrame", columns: Sequence[str], name: str) -> np.ndarray:
    """The ``arch_index`` column of a per-cell store's exported CSV ``name``; ValueError when the
    frame lacks one of ``columns`` or an ``arch_index`` is not a cell of the space."""
    from .space import NUM_ARCHS

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks {len(missing)} column(s): {', '.join(missing[:3])}"
                         + (", ..." if len(missing) > 3 else ""))
    idx = arch_index_column(frame["arch_index"])
    if idx is None or (len(idx) and not (0 <= idx.min() and idx.max() < NUM_ARCHS)):
        raise ValueError(f"{name} has an arch_index outside 0..{NUM_ARCHS - 1}")
    return idx


def arch_index_column(column: "pd.Series") -> np.ndarray | None:
    """A CSV's ``arch_index`` column as int64, None when it holds anything but integers of 64 bits (text,
    blanks, fractions, or 99999999999999999999, which pandas keeps as Python ints: converting them was an
    OverflowError traceback)."""
    import pandas as pd

    if not len(column):  # a header alone (a store that has timed nothing yet) reads as text
        return np.zeros(0, dtype=np.int64)
    if not pd.api.types.is_integer_dtype(column):
        return None
    try:
        return column.to_numpy(np.int64)
    except (OverflowError, ValueError):
        return None


def store_cells(results: Iterable[tuple[int, Any]], add: Any, flush: Any, *, total: int, initial: int, desc: str,
                progress: bool = False, flush_every: int = 64, on_cell: Any = None) -> None:
    """Store each (arch, value) of ``results`` with ``add(arch, value)`` (one transaction each), calling
    ``flush()`` every ``flush_every`` cells and at the end, also when stopped (Ctrl-C, kill, an error),
    so the committed export holds every stored cell; a tqdm bar over ``total`` cells when asked."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=initial, unit="cell", desc=desc)
    try:
        for k, (arch, value) in enumerate(results, start=1):
            add(arch, value)
            if on_cell is not None:
                on_cell(arch)
            if bar is not None:
                bar.update(1)
            if k % flush_every == 0:
                flush()
    finally:
        if bar is not None:
            bar.close()
        flush()
