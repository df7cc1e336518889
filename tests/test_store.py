"""ResultStore and shard files: exactly-once results, identity checks, exact float32 round trips."""
from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite.errors import RunMismatchError, ShardFileError, StoreError
from nasbench_suite.store import ResultStore, read_shard_file, store_cells, to_float32, write_shard_file

METRICS = ["train_loss", "valid_acc", "test_seconds"]
IDENTITY = {"protocol": {"epochs": 2, "channels": 2}, "seeds": [0, 1], "shard_size": 4,
            "results": {"metrics": METRICS, "epochs": 2}}


def curve(base: float) -> list[tuple[int, dict[str, float]]]:
    return [(e, {m: base + e + i / 10 for i, m in enumerate(METRICS)}) for e in (1, 2)]


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    with ResultStore(tmp_path / "store.sqlite", IDENTITY) as s:
        yield s


def test_insert_is_once_per_result(store: ResultStore) -> None:
    assert store.insert_result(7, 0, curve(0.1)) is True
    assert store.insert_result(7, 0, curve(99.0)) is False  # already stored: nothing changes
    assert store.insert_result(7, 1, curve(0.2)) is True
    assert store.done_pairs() == {(7, 0), (7, 1)}
    assert store.counts() == {"results": 2, "rows": 4}
    frame = store.frame()
    assert list(frame.columns) == ["arch_index", "seed", "epoch", *METRICS]
    first = frame[(frame.seed == 0) & (frame.epoch == 1)].iloc[0]
    assert first.train_loss == np.float32(1.1) and first.valid_acc == np.float32(1.2)
    assert store.insert_result(7, 0, curve(99.0), replace=True) is True
    assert store.rows(0, [7])[0][3] == to_float32([100.0])[0]


def test_values_are_stored_as_float32(store: ResultStore) -> None:
    store.insert_result(1, 0, [(e, {m: 0.1 for m in METRICS}) for e in (1, 2)])
    value = store.rows(0, [1])[0][3]
    assert value == float(np.float32(0.1)) and value != 0.1


@pytest.mark.parametrize("bad,match", [
    ([(1, {m: 1.0 for m in METRICS})], "epochs"),
    ([(1, {m: 1.0 for m in METRICS}), (3, {m: 1.0 for m in METRICS})], "epochs"),
    ([(e, {m: 1.0 for m in METRICS}) for e in (1, 2, 3)], "epochs"),  # more epochs than the run records
    ([(e, {"train_loss": 1.0}) for e in (1, 2)], "metrics"),
    ([(e, {**{m: 1.0 for m in METRICS}, "train_acc": 2.0}) for e in (1, 2)], "metrics"),  # one the run does not record
])
def test_a_malformed_result_stores_nothing(store: ResultStore, bad: list, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        store.insert_result(3, 0, bad)
    assert store.counts() == {"results": 0, "rows": 0}


def test_other_identity_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        s.insert_result(5, 1, curve(0.0))
    other = {**IDENTITY, "seeds": [0, 1, 2], "protocol": {"epochs": 2, "channels": 4}}
    with pytest.raises(RunMismatchError) as info:
        ResultStore(path, other)
    message = str(info.value)
    assert "protocol.channels: run has 2, asked for 4" in message and "seeds: run has [0, 1], asked for [0, 1, 2]" in message
    assert "epochs" not in message.replace("protocol.epochs", "")  # only what differs is named
    with ResultStore(path) as s:  # opening without an identity reads the stored one
        assert s.identity == IDENTITY and s.done_pairs() == {(5, 1)}
    with pytest.raises(StoreError, match="no result store"):
        ResultStore(tmp_path / "absent.sqlite")


def test_store_is_in_wal_mode_and_readable_while_open(store: ResultStore) -> None:
    store.insert_result(2, 0, curve(1.0))
    reader = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: a commit survives kill -9
        assert reader.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2
    finally:
        reader.close()


def test_shard_file_round_trip_is_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200),
                             [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, 3.4028235e38, 0.1]]).astype(np.float32)
    values = values[: len(values) // 3 * 3].reshape(-1, 3)
    rows = [(a, 4, 1, *map(float, v)) for a, v in enumerate(values)]
    path = tmp_path / "seed4" / "00000-00065.csv"
    write_shard_file(path, rows, METRICS)
    assert not list(path.parent.glob(".*.tmp"))
    back = read_shard_file(path, METRICS)
    got = np.asarray([[back[(a, 4)][0][1][m] for m in METRICS] for a in range(len(values))], dtype=np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), values.view(np.uint32))  # bit for bit, NaN included
    assert path.read_text().splitlines()[0] == "arch_index,seed,epoch," + ",".join(METRICS)


@pytest.mark.parametrize("text,match", [
    ("arch_index,seed,epoch,train_loss\n1,0,1,0.5\n", "columns"),
    ("arch_index,seed,epoch,train_loss,valid_acc,test_seconds\n1,0,1,0.5,1\n", "fields"),
    ("arch_index,seed,epoch,train_loss,valid_acc,test_seconds\n1,0,1,0.5,1,1,9\n", "fields"),  # one too many
    ("arch_index,seed,epoch,train_loss,valid_acc,test_seconds\n1,0,1,0.5,x,1\n", "malformed"),
    ("arch_index,seed,epoch,valid_acc,train_loss,test_seconds\n1,0,1,0.5,1,1\n", "columns"),  # read by position
])
def test_malformed_shard_file_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(ShardFileError, match=match):
        read_shard_file(path, METRICS)


def test_stored_cells_are_exported_also_when_a_command_is_stopped() -> None:
    stored: list[int] = []
    exported: list[list[int]] = []

    def results():  # three cells measured, then Ctrl-C (or kill) before the next flush
        yield from ((a, 10.0 * a) for a in range(3))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store_cells(results(), lambda arch, value: stored.append(arch), lambda: exported.append(list(stored)),
                    total=100, initial=0, desc="cells", flush_every=64)
    assert stored == [0, 1, 2] and exported == [[0, 1, 2]]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_store_file_is_named_with_what_to_do(tmp_path: Path, damage: str) -> None:
    """A store.sqlite damaged on disk (a half-copied file, garbage) is refused with a StoreError that
    names it and says it can be deleted (the run rebuilds it from its committed files), not with
    sqlite3's own DatabaseError."""
    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        for arch in range(200):
            s.insert_result(arch, 0, curve(arch))
        s._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(bytes(range(256)) * (len(data) // 256) if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(StoreError, match=r"store\.sqlite is damaged .*delete store\.sqlite"):
        ResultStore(path, IDENTITY)


def test_a_full_disk_is_a_store_error_and_keeps_every_result_stored_before(tmp_path: Path) -> None:
    """SQLite's 'database or disk is full' (here: the page limit reached) is reported as itself, not
    masked by the rollback of a transaction SQLite already rolled back; the results stored before stay,
    none is half stored, and the store takes results again once there is room."""
    with ResultStore(tmp_path / "store.sqlite", IDENTITY) as s:
        pages = s._db.execute("PRAGMA page_count").fetchone()[0]
        s._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="database or disk is full; every result stored before is kept"):
            for arch in range(5000):
                s.insert_result(arch, 0, curve(arch))
        stored = s.counts()
        assert 0 < stored["results"] < 5000 and stored["rows"] == 2 * stored["results"]
        assert not s._db.in_transaction
        s._db.execute("PRAGMA max_page_count = 1000000")
        assert s.insert_result(arch, 0, curve(arch)) is True


def test_a_truncated_shard_file_is_refused_not_read_with_a_cut_number(tmp_path: Path) -> None:
    """A shard file cut inside its last number still parses as CSV (``0.00121309573`` -> ``0.001213``);
    every file is written with whole lines, so a last line without its line end is refused."""
    path = tmp_path / "s.csv"
    write_shard_file(path, [(1, 0, 1, 0.5, 12.5, 0.00121309573), (1, 0, 2, 0.25, 25.0, 0.00121309573)], METRICS)
    text = path.read_text()
    path.write_text(text[:-6])
    with pytest.raises(ShardFileError, match="truncated"):
        read_shard_file(path, METRICS)
    path.write_text(text)
    assert read_shard_file(path, METRICS)[(1, 0)][1][1]["test_seconds"] == to_float32([0.00121309573])[0]


def test_a_full_disk_while_writing_a_file_names_it_and_frees_the_temporary_file(tmp_path: Path, monkeypatch) -> None:
    """ENOSPC from write() or fsync() carries no file name ('No space left on device' alone, as the
    command printed it); the error now names the file, and the half-written temporary file is gone."""
    import errno
    import os

    from nasbench_suite.store import atomic_write_text

    path = tmp_path / "shards" / "seed0" / "00000-00003.csv"

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device") as caught:
        atomic_write_text(path, "arch_index,seed,epoch\n")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert not path.exists() and list(path.parent.iterdir()) == []


def test_a_store_written_before_file_records_opens_and_gains_them(tmp_path: Path) -> None:
    """store.sqlite is a working copy; one made by an earlier version (no ``files`` table) opens, with its
    results, and gets the table; older versions ignore it."""
    from nasbench_suite.store import FileSignature

    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        s.insert_result(3, 0, curve(0.5))
        s._db.execute("DROP TABLE files")
    with ResultStore(path, IDENTITY) as s:
        assert s.done_pairs() == {(3, 0)} and s.file_records() == {}
        s.record_file("seed0/00000-00003.csv", FileSignature(10, 20, "ab"))
    with ResultStore(path) as s:
        assert s.file_records() == {"seed0/00000-00003.csv": (10, 20, "ab")}


def test_metrics_are_stored_by_name_whatever_order_a_result_gives_them(store: ResultStore) -> None:
    """A trainer's result maps metric names to values; the store's columns follow the run's metric order,
    not the order of the result's keys (a reversed dict put each value in another metric's column)."""
    reordered = [(e, dict(reversed(list(values.items())))) for e, values in curve(0.0)]
    store.insert_result(4, 1, reordered)
    (row,) = store.frame().query("epoch == 2").itertuples(index=False)
    assert (row.train_loss, row.valid_acc, row.test_seconds) == tuple(to_float32([2.0, 2.1, 2.2]))


@pytest.mark.parametrize("results", [{"metrics": METRICS, "epochs": 0}, {"metrics": ["seed", "valid_acc"], "epochs": 2},
                                     {"metrics": [], "epochs": 2},
                                     # not a column name (unchecked, SQLite's 'near "-": syntax error' read as a full disk)
                                     {"metrics": ["valid-acc"], "epochs": 2}])
def test_a_result_shape_a_store_cannot_hold_is_refused(tmp_path: Path, results: dict) -> None:
    with pytest.raises(StoreError, match="invalid result shape"):
        ResultStore(tmp_path / "store.sqlite", {**IDENTITY, "results": results})


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        s._db.execute("UPDATE meta SET value = '2' WHERE key = 'store_schema'")
    for identity in (IDENTITY, None):
        with pytest.raises(StoreError, match="has store schema 2; this nasbench_suite reads 1"):
            ResultStore(path, identity)


def test_a_frame_of_more_rows_than_one_read_holds_every_row(tmp_path: Path) -> None:
    """frame() reads the rows 65,536 at a time into one array: each block goes after the one before."""
    identity = {**IDENTITY, "results": {"metrics": ["valid_acc"], "epochs": 200}}
    with ResultStore(tmp_path / "store.sqlite", identity) as s:
        for arch in range(330):  # 66,000 rows: two reads
            s.insert_result(arch, 0, [(e, {"valid_acc": arch + e / 1000}) for e in range(1, 201)])
        frame = s.frame()
    assert len(frame) == 66_000
    np.testing.assert_array_equal(frame["arch_index"], np.repeat(np.arange(330), 200))
    np.testing.assert_array_equal(frame["epoch"], np.tile(np.arange(1, 201), 330))
    np.testing.assert_array_equal(frame["valid_acc"], (frame["arch_index"] + frame["epoch"] / 1000).astype(np.float32))


def test_stored_cells_are_exported_every_flush_every_cells() -> None:
    """A kill -9 runs no ``finally``: what is exported then is what the periodic flushes wrote."""
    stored: list[int] = []
    exported: list[list[int]] = []
    store_cells(((a, 1.0) for a in range(5)), lambda arch, value: stored.append(arch),
                lambda: exported.append(list(stored)), total=5, initial=0, desc="cells", flush_every=2)
    assert exported == [[0, 1], [0, 1, 2, 3], [0, 1, 2, 3, 4]]


def test_a_frame_keeps_every_seed_a_run_allows_exactly(store: ResultStore) -> None:
    """Seeds may be up to 2**63 - 1 (the store's INTEGER); the frame read them through float64, so 2**53 + 1
    came back as 2**53 and 2**63 - 1 as -2**63: the table built from the store named other seeds."""
    for seed in (2**53 + 1, 2**63 - 1, 3):
        store.insert_result(5, seed, curve(0.5))
    frame = store.frame()
    assert sorted(set(frame["seed"].tolist())) == [3, 2**53 + 1, 2**63 - 1]
    assert frame["seed"].dtype == np.int64 and frame["valid_acc"].dtype == np.float32


def test_a_per_cell_csv_names_only_cells_of_the_space() -> None:
    import pandas as pd

    from nasbench_suite.store import check_cell_csv

    columns = ["arch_index", "ms"]
    ok = pd.DataFrame({"arch_index": [0, 15624], "ms": [1.0, 2.0]})
    assert check_cell_csv(ok, columns, "latency.csv").tolist() == [0, 15624]
    for bad in (15625, -1, "abc", "", 2.5, 99999999999999999999):  # as read from a CSV: text, blank, fraction, past
        frame = pd.read_csv(io.StringIO(f"arch_index,ms\n3,1.0\n{bad},2.0\n"))  # 64 bits (an OverflowError traceback)
        with pytest.raises(ValueError, match=r"latency.csv has an arch_index outside 0..15624"):
            check_cell_csv(frame, columns, "latency.csv")
    with pytest.raises(ValueError, match="latency.csv lacks 1 column"):
        check_cell_csv(ok[["arch_index"]], columns, "latency.csv")


# ----- what the mutation audit of store.py found untested -----------------------------------------------------
def test_a_mapping_on_one_side_only_and_a_selection_without_its_hash_are_differences() -> None:
    """A field that is a mapping in one identity and absent from the other is named as a whole (it was
    recursed into as if both were mappings: an AttributeError); two identities without ``archs_sha256``
    (older ones) are compared by the selection's spelling, the only thing that pins their archs."""
    from nasbench_suite.store import describe_mismatch

    assert describe_mismatch({"protocol": {"epochs": 2}}, {}) == ['protocol: run has {"epochs": 2}, asked for "<absent>"']
    assert describe_mismatch({}, {"protocol": {"epochs": 2}}) == ['protocol: run has "<absent>", asked for {"epochs": 2}']
    assert describe_mismatch({"selection": {"archs": "0-7"}}, {"selection": {"archs": "1-8"}}) == [
        'selection.archs: run has "0-7", asked for "1-8"']


def test_seeds_that_are_json_true_are_no_seeds() -> None:
    """``true`` in a hand-edited run.json is no seed (Python's bool is an int, and True == 1): no set of seeds,
    so a run of seeds [true] does not grow into seeds [1, 2]."""
    from nasbench_suite.store import added_seeds, seed_set

    assert seed_set({"seeds": [True, 2]}) is None and seed_set({"seeds": "0,1"}) is None
    assert added_seeds({"seeds": [True], "x": 1}, {"seeds": [1, 2], "x": 1}) is None
    assert added_seeds({"seeds": [1], "x": 1}, {"seeds": [1, 2], "x": 1}) == [2]


def test_a_store_takes_more_seeds_only_when_asked(tmp_path: Path) -> None:
    """``grow_seeds`` is the only way a store's seeds change: without it more seeds are another run, and what
    it grows is kept in the store (a later open without an identity reads the grown seeds)."""
    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        s.insert_result(1, 0, curve(0.0))
    more = {**IDENTITY, "seeds": [0, 1, 2]}
    with pytest.raises(RunMismatchError, match=r"seeds: run has \[0, 1\], asked for \[0, 1, 2\]"):
        ResultStore(path, more)
    with ResultStore(path) as s:
        assert s.identity["seeds"] == [0, 1]
    with ResultStore(path, more, grow_seeds=True) as s:
        assert s.identity["seeds"] == [0, 1, 2] and s.done_pairs() == {(1, 0)}
    with ResultStore(path) as s:
        assert s.identity == more


@pytest.mark.parametrize("suffix", ["-wal", "-shm"])
def test_a_store_whose_wal_or_shm_file_is_a_link_is_refused(tmp_path: Path, suffix: str) -> None:
    """SQLite follows a link at the -wal or -shm name as it does at the store's: a received folder could have
    the results written into a file elsewhere. Refused, as for store.sqlite itself, and the target untouched."""
    import re

    path = tmp_path / "store.sqlite"
    with ResultStore(path, IDENTITY) as s:
        s.insert_result(1, 0, curve(0.0))
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    link = path.with_name(path.name + suffix)
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    with pytest.raises(StoreError, match=re.escape(f"is damaged (store.sqlite{suffix} is a symbolic link")):
        ResultStore(path, IDENTITY)
    assert victim.read_bytes() == b""


def test_a_write_waits_for_a_lock_another_connection_holds_a_moment(store: ResultStore) -> None:
    """Another connection holding the write lock for a moment (a reader's closing checkpoint, a sqlite3 shell)
    makes a result's transaction wait (the busy timeout), not fail the run with 'database is locked'."""
    import threading

    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        assert store.insert_result(1, 0, curve(0.0)) is True
    finally:
        release.join()
        other.close()
    assert store.done_pairs() == {(1, 0)}


class _StoppedAfterInsert:
    """A store's connection on which ``exc`` (Ctrl-C, an error) arrives right after a result's rows went in."""

    def __init__(self, db: sqlite3.Connection, exc: BaseException) -> None:
        self._real, self._exc = db, exc

    def executemany(self, *args: object) -> None:
        self._real.executemany(*args)
        raise self._exc

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("stopped")])
def test_a_result_stopped_inside_its_transaction_leaves_nothing_and_the_store_goes_on(store: ResultStore,
                                                                                      exc: BaseException) -> None:
    """Ctrl-C (or any error) between a result's insert and its commit rolls the transaction back: none of its
    rows is stored, the connection is out of the transaction, and the next result goes in."""
    store.insert_result(1, 0, curve(0.0))
    real = store._db
    store._db = _StoppedAfterInsert(real, exc)
    try:
        with pytest.raises(type(exc)):
            store.insert_result(2, 0, curve(1.0))
    finally:
        store._db = real
    assert not real.in_transaction
    assert store.done_pairs() == {(1, 0)} and store.counts() == {"results": 1, "rows": 2}
    assert store.insert_result(3, 0, curve(2.0)) is True


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files through Linux's /proc")
def test_a_store_sqlite_refuses_leaves_no_file_open(tmp_path: Path) -> None:
    """The connection to a store SQLite refuses (here: garbage) is closed at once, also while the error (and
    its traceback) is still held, so the file the message says to delete is not held open."""
    import os

    path = tmp_path / "store.sqlite"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(StoreError, match="is damaged") as caught:
        ResultStore(path, IDENTITY)
    held = [fd for fd in os.listdir("/proc/self/fd")
            if os.path.realpath(f"/proc/self/fd/{fd}") == os.path.realpath(path)]
    assert held == [], caught.value


def test_sessions_are_listed_by_start_then_id(store: ResultStore) -> None:
    """The table's compute record lists sessions in the order they started (ids break ties): not by id, whose
    second-resolution time and random suffix put two sessions of one second in either order."""
    from nasbench_suite.store import SessionRecord

    for sid, start in (("c", "2026-01-02"), ("b", "2026-01-01"), ("a", "2026-01-03"), ("d", "2026-01-02")):
        store.record_session(SessionRecord(sid, start, start, 1.0, 0, "local", 1, {"cpu": sid}))
    sessions = store.sessions()
    assert [s.id for s in sessions] == ["b", "c", "d", "a"] and sessions[0].hardware == {"cpu": "b"}


def test_a_written_file_is_whole_on_disk_when_it_is_synced(tmp_path: Path, monkeypatch) -> None:
    """The fsync before the rename is what makes the file durable: it must see every byte (written through
    Python's buffer first), or the renamed file could be empty after an OS crash."""
    import os

    from nasbench_suite.store import atomic_write_text

    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    text = "arch_index,seed,epoch\n" * 10
    atomic_write_text(tmp_path / "f.csv", text)
    assert synced == [len(text)] and (tmp_path / "f.csv").read_text() == text


def test_a_temporary_file_a_killed_write_left_is_written_over_whole(tmp_path: Path) -> None:
    """A longer ``.NAME.tmp`` left by a write killed before its rename (where no start removed it) is emptied
    first: the new file does not keep the old one's tail."""
    from nasbench_suite.store import atomic_write_text

    (tmp_path / ".run.json.tmp").write_text("x" * 1000)
    atomic_write_text(tmp_path / "run.json", "{}\n")
    assert (tmp_path / "run.json").read_text() == "{}\n" and not (tmp_path / ".run.json.tmp").exists()


def test_a_temporary_name_is_shortened_only_past_the_file_system_s_limit(tmp_path: Path) -> None:
    import os

    from nasbench_suite.store import NAME_MAX, private_temporary

    room = NAME_MAX - len(f"..{os.getpid()}.tmp")
    at = tmp_path / ("a" * room)  # its temporary name is exactly NAME_MAX bytes: kept
    assert private_temporary(at).name == f".{at.name}.{os.getpid()}.tmp"
    past = private_temporary(tmp_path / ("a" * (room + 1)))  # one byte more: a hash of the name
    assert len(os.fsencode(past.name)) <= NAME_MAX and past.parent == tmp_path and past.name.endswith(".tmp")
    for path in (private_temporary(at), past):
        path.write_text("x")  # both names are ones the file system takes


def test_a_file_is_placed_without_replacing_one_that_exists_with_or_without_hard_links(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    """Without ``overwrite`` an existing file is kept and the temporary left to the caller; a placed file
    leaves no temporary behind, also where the file system has no hard links (the check-then-rename path)."""
    import errno
    import os

    from nasbench_suite.store import place_file

    tmp, path = tmp_path / ".out.tmp", tmp_path / "out"
    for links in (True, False):
        if not links:
            def no_links(src: object, dst: object) -> None:
                raise OSError(errno.EPERM, "Operation not permitted")

            monkeypatch.setattr(os, "link", no_links)
        path.write_text("theirs")
        tmp.write_text("mine")
        assert place_file(tmp, path, overwrite=False) is False
        assert path.read_text() == "theirs" and tmp.read_text() == "mine"
        path.unlink()
        assert place_file(tmp, path, overwrite=False) is True
        assert path.read_text() == "mine" and not tmp.exists()
