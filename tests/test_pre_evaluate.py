"""Pre-evaluation runs: the shard plan, resume after kill -9, resume on a fresh machine from the
committed files, the Ray backend, and tables built from a store (class members filled)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pytest
import torch

import nasbench_suite
from nasbench_suite import backends, engine, pre_evaluate, tablefile
from nasbench_suite.data import load_dataset
from nasbench_suite.errors import (DatasetError, IncompleteRunError, RunInUseError, RunMismatchError, ShardFileError,
                                   StoreError)
from nasbench_suite.model import analytic_params
from nasbench_suite.pre_evaluate import (
    FILLED_FROM_REPRESENTATIVE,
    STORE_FILE,
    PreEvaluateError,
    RunSpec,
    Shard,
    build_from_store,
    run_pre_evaluation,
)
from nasbench_suite.space import NUM_ARCHS, all_ops, disconnected_mask, isomorphism_classes
from nasbench_suite.store import ResultStore
from nasbench_suite.table import Benchmark, load_table
from nasbench_suite.train import Protocol

ROOT = str(Path(nasbench_suite.__file__).resolve().parents[1])
TINY = Protocol(dataset="synthetic", channels=2, cells=1, epochs=2, batch_size=32, train_subset=32)
TINY_FLAGS = ["--dataset", "synthetic", "--channels", "2", "--cells", "1", "--epochs", "2", "--batch-size", "32",
              "--train-subset", "32"]
SPEC = RunSpec("0-63", (0, 1), TINY, shard_size=4)  # 128 results in 32 units: a few seconds of real training
PLANNED = 128


def results_hash(bench: Benchmark) -> str:
    """Content hash of a table without its measured times (``*_seconds`` differ between any two runs)."""
    arrays = {}
    for split in bench.splits:
        keep = [bench._measures[split][m] for m in bench.measures(split) if m != "seconds"]
        arrays[split] = np.asarray(bench._arrays[split][..., keep])
    scalars = {"arch_index": bench.arch_indices, **{k: bench.scalars(k) for k in bench.scalar_names}}
    return tablefile.content_hash(arrays, scalars)


def stored_rows(run_dir: Path) -> dict[tuple[int, int, int], tuple]:
    """Every stored row, read through a read-only connection (as another process would)."""
    path = run_dir / STORE_FILE
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return {tuple(r[:3]): r for r in db.execute("SELECT * FROM results")}
        finally:
            db.close()
    except sqlite3.OperationalError:  # created but no tables yet
        return {}


def stored_results(run_dir: Path) -> int:
    return len({k[:2] for k in stored_rows(run_dir)})


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Benchmark]:
    """SPEC run once, uninterrupted, in this process."""
    tmp = tmp_path_factory.mktemp("reference")
    status = run_pre_evaluation(SPEC, tmp / "run", progress=False)
    assert status.complete and status.written_now == PLANNED
    return tmp / "run", build_from_store(tmp / "run", tmp / "table")


# ----- a deterministic stand-in for training, where only the bookkeeping is under test ------------------
class FakeTrainer:
    """Values from (arch, seed, epoch) and from the unit's composition, as a batched trainer's may be."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], int]] = []

    def __call__(self, archs: Sequence[int], seed: int, data: Any, protocol: Protocol, **_: Any) -> backends.ShardResults:
        self.calls.append((tuple(archs), seed))
        unit = sum(archs) / 1e4
        metrics = [f"{s}_{m}" for s in ("train", "valid", "test") for m in ("loss", "acc", "seconds")]
        def value(a: int, e: int, i: int, m: str) -> float:  # accuracies kept in 0..100, as a table requires
            v = a + seed / 10 + e / 100 + i / 1000 + unit
            return v % 100 if m.endswith("_acc") else v

        return {a: [(e, {m: value(a, e, i, m) for i, m in enumerate(metrics)})
                    for e in range(1, protocol.epochs + 1)] for a in archs}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTrainer:
    trainer = FakeTrainer()
    monkeypatch.setattr(backends, "train_shard_results", trainer)
    return trainer


def nan_metric(trainer: FakeTrainer, metric: str) -> Callable[..., backends.ShardResults]:
    """``trainer`` with ``metric`` not measured (NaN) in every epoch of each unit's first arch."""
    def train(*args: Any, **kwargs: Any) -> backends.ShardResults:
        results = trainer(*args, **kwargs)
        for _, values in results[min(results)]:
            values[metric] = float("nan")
        return results

    return train


# ----- the plan -----------------------------------------------------------------------------------------
def test_shard_plan_is_a_function_of_selection_seeds_and_size() -> None:
    spec = RunSpec("9,3,5,1,7", (2, 0), TINY, shard_size=2)
    assert spec.shards() == [Shard(0, (1, 3)), Shard(2, (1, 3)), Shard(0, (5, 7)), Shard(2, (5, 7)),
                             Shard(0, (9,)), Shard(2, (9,))]
    assert Shard(2, (5, 7)).file == "seed2/00005-00007.csv"
    assert RunSpec("1,3,5,7,9", (0, 2), TINY, 2).shards() == sorted(spec.shards(), key=lambda s: (s.archs, s.seed))
    identity = spec.identity({"name": "synthetic", "sha256": "abc"})
    assert identity["seeds"] == [0, 2] and identity["shard_size"] == 2 and identity["results"]["epochs"] == 2
    for bad in [dict(seeds=()), dict(seeds=(1, 1)), dict(seeds=(-1,)), dict(shard_size=0), dict(seeds=(2**63,))]:
        with pytest.raises(PreEvaluateError):
            RunSpec(**{"archs_spec": "1", "seeds": (0,), "protocol": TINY, **bad})


# ----- resume: kill -9 ------------------------------------------------------------------------------------
def _spec_args(run_dir: Path) -> list[str]:
    """SPEC's pre-evaluate command line, one worker."""
    return ["pre-evaluate", *TINY_FLAGS, "--archs", SPEC.archs_spec, "--seeds", "0,1", "--shard-size",
            str(SPEC.shard_size), "--workers", "1", "--out", str(run_dir)]


def _start(run_dir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nasbench_suite.cli", *_spec_args(run_dir)]
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _kill_mid_run(run_dir: Path, more_than: int) -> dict:
    """Start the command, SIGKILL it once it has stored more than ``more_than`` results but not all."""
    proc = _start(run_dir)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if more_than < stored_results(run_dir) < PLANNED:
                os.kill(proc.pid, signal.SIGKILL)
                assert proc.wait(30) == -signal.SIGKILL
                return stored_rows(run_dir)
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.communicate()}")
            time.sleep(0.005)
        pytest.fail("the run stored nothing in time")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()  # not communicate(): a worker that outlived it would hold the pipes open


def test_kill_9_and_resume_loses_and_duplicates_nothing(reference, tmp_path: Path, capsys) -> None:
    """Two real processes of the command killed with SIGKILL mid-run; the last resume, which kills
    nothing, is the same command line run in this process (a third process only started Python and torch
    again)."""
    run_dir = tmp_path / "run"
    before_first = _kill_mid_run(run_dir, more_than=0)
    n_first = len({k[:2] for k in before_first})
    before_second = _kill_mid_run(run_dir, more_than=n_first)  # resumes, then killed again
    assert len({k[:2] for k in before_second}) > n_first
    rc, out, err = _cli(capsys, *_spec_args(run_dir))
    assert rc == 0, err
    assert f"{PLANNED}/{PLANNED} (arch, seed) results stored" in out

    final = stored_rows(run_dir)
    for snapshot in (before_first, before_second):  # every result stored before a kill is kept, unchanged
        assert {k: final[k] for k in snapshot} == snapshot
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.counts() == {"results": PLANNED, "rows": PLANNED * TINY.epochs}
        assert store.done_pairs() == {p for s in SPEC.shards() for p in s.pairs()}
        assert len(store.sessions()) == 3
    assert len(list((run_dir / "shards").rglob("*.csv"))) == len(SPEC.shards())
    assert not list(run_dir.rglob(".*.tmp"))
    bench = build_from_store(run_dir, tmp_path / "table")
    assert results_hash(bench) == results_hash(reference[1])
    assert bench.manifest["compute"]["trained_results"] == PLANNED
    assert len(bench.manifest["compute"]["sessions"]) == 3


STOPPED_CELLS = 120  # some 1.5 s of training in two workers, stopped at its first stored result (4 cells)


def _start_in_own_group(run_dir: Path, workers: int) -> subprocess.Popen:
    """The command with ``workers`` worker processes, in its own process group (as a terminal's
    foreground job is), with Ctrl-C's default handling even if this test runs where SIGINT is ignored."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", f"0-{STOPPED_CELLS - 1}", "--seeds", "0", "--shard-size", "4",
            "--workers", str(workers), "--out", str(run_dir)]
    # Python turns SIGINT into KeyboardInterrupt unless it started with SIGINT ignored: restore that first
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from nasbench_suite.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, "PYTHONPATH": ROOT})


def _when_some_stored(proc: subprocess.Popen, run_dir: Path) -> None:
    deadline = time.monotonic() + 120
    while stored_results(run_dir) == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run stored nothing: {proc.communicate()}")
        time.sleep(0.05)


def _worker_pids(parent: int) -> list[int]:
    """The multiprocessing workers among ``parent``'s children (from /proc: Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent and b"spawn_main" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except (ValueError, OSError, IndexError):  # not a process, or gone meanwhile
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through Linux's /proc")
def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through Linux's /proc")
@pytest.mark.parametrize("stop", ["ctrl-c", "kill", "a worker killed"])
def test_an_interrupted_parallel_run_says_so_in_one_line_and_resumes(fake, tmp_path: Path, stop: str) -> None:
    """The interrupted command is a real process with real worker processes; the resume, in this process,
    trains with the stand-in trainer (``fake`` patches this process only): what it checks is bookkeeping,
    which results it adds and that it keeps every stored one as it was (the stand-in's values differ from
    the kept ones, so a resume that rewrote them is seen)."""
    run_dir = tmp_path / "run"
    proc = _start_in_own_group(run_dir, workers=2)
    try:
        _when_some_stored(proc, run_dir)
        workers = _worker_pids(proc.pid)
        if stop == "ctrl-c":  # what Ctrl-C in a terminal does: SIGINT to the whole foreground group
            os.killpg(proc.pid, signal.SIGINT)
        elif stop == "kill":  # `kill PID` or a job scheduler: SIGTERM to the command's process only
            os.kill(proc.pid, signal.SIGTERM)
        else:  # as the out-of-memory killer would
            os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    expected = {"ctrl-c": (130, "nasbench: interrupted; every finished result is stored"),
                "kill": (143, "nasbench: terminated; every finished result is stored"),
                "a worker killed": (2, "nasbench: error: a worker process died")}[stop]
    assert proc.returncode == expected[0] and err.strip().splitlines()[0].startswith(expected[1]), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert len(workers) == 2 and not any(_alive(pid) for pid in workers)  # none left training
    kept = stored_rows(run_dir)
    assert 0 < len({k[:2] for k in kept}) < STOPPED_CELLS
    spec = RunSpec(f"0-{STOPPED_CELLS - 1}", (0,), TINY, shard_size=4)
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert status.complete and status.written_now == STOPPED_CELLS - len({k[:2] for k in kept})
    assert {k: v for k, v in stored_rows(run_dir).items() if k in kept} == kept


def test_fresh_machine_resumes_from_committed_files(reference, tmp_path: Path) -> None:
    ref_run, ref_bench = reference
    clone = tmp_path / "clone"
    files = sorted((ref_run / "shards").rglob("*.csv"))
    committed = files[::3]  # a partial run: what an earlier machine had committed
    for path in [ref_run / "run.json", *committed]:
        target = clone / path.relative_to(ref_run)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    status = run_pre_evaluation(SPEC, clone, progress=False)
    assert status.complete and status.written_now == PLANNED - 4 * len(committed)
    for path in committed:  # committed files are never rewritten
        assert (clone / path.relative_to(ref_run)).read_bytes() == path.read_bytes()
    bench = build_from_store(clone, tmp_path / "table")
    assert results_hash(bench) == results_hash(ref_bench)
    new, old = bench.to_frame(), ref_bench.to_frame()
    imported = np.zeros(len(new), dtype=bool)
    for path in committed:  # imported results keep their recorded costs
        seed = int(path.parent.name[4:])
        lo, hi = (int(x) for x in path.stem.split("-"))
        imported |= (new.seed == seed).to_numpy() & new.arch_index.between(lo, hi).to_numpy()
    np.testing.assert_array_equal(new.train_seconds[imported], old.train_seconds[imported])
    assert not np.array_equal(new.train_seconds[~imported], old.train_seconds[~imported])  # really re-trained


def test_local_workers_and_ray_give_the_same_results(reference, tmp_path: Path, monkeypatch) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", ROOT)  # Ray's worker processes import this checkout
    status = run_pre_evaluation(SPEC, tmp_path / "ray", backend="ray", workers=2, progress=False)
    assert status.complete and not ray.is_initialized()
    assert results_hash(build_from_store(tmp_path / "ray", tmp_path / "ray-table")) == results_hash(reference[1])
    session = json.loads(next((tmp_path / "ray" / "sessions").glob("*.json")).read_text())
    assert [n["engine_revision"] for n in session["hardware"]["ray_nodes"]] == [engine.ENGINE_REVISION]  # who trained
    # a two-process pool against one process; units of 4 cells trained in one batch of 4 (the default here)
    # and a last unit of one. Batching changes only float rounding, and for many cells not one bit (7, 2000
    # and 15624, tested here before, came out the same batched and alone), so a pool whose workers ignored
    # the batch size passed; for these cells a batch of 4 and each cell alone differ in float bits (on the
    # AMD EPYC this was checked on), and that mutant fails
    pool = RunSpec("52-63,15624", (0,), TINY, shard_size=4)
    run_pre_evaluation(pool, tmp_path / "pool", workers=2, progress=False)
    run_pre_evaluation(pool, tmp_path / "one", workers=1, progress=False)
    assert results_hash(build_from_store(tmp_path / "pool", tmp_path / "pool-table")) == \
        results_hash(build_from_store(tmp_path / "one", tmp_path / "one-table"))


def results_frame(bench: Benchmark, rows: slice = slice(None)) -> "pd.DataFrame":
    """The table's tidy export of the archs at ``rows`` without its measured times (as :func:`results_hash`)."""
    frame = bench.to_frame(rows)
    return frame.drop(columns=[c for c in frame.columns if c.endswith("_seconds")])


def test_a_time_limited_parallel_run_ends_between_units_and_resumes_to_the_same_table(reference, tmp_path: Path) -> None:
    """SPEC's first 16 archs (8 units of the same composition as SPEC's, so the same values as the
    reference's first 16 archs): the resume trains 24 results, not some 120."""
    spec = RunSpec("0-15", SPEC.seeds, TINY, shard_size=SPEC.shard_size)
    planned = 16 * len(SPEC.seeds)
    run_dir = tmp_path / "run"
    first = run_pre_evaluation(spec, run_dir, workers=2, progress=False, time_limit=1.5)
    # the first two units start (nothing measured yet); with the workers' start they take longer than
    # the time left, so no third unit starts
    assert 0 < first.written_now < planned and not first.complete, first
    assert first.written_now % SPEC.shard_size == 0  # whole units only
    assert stored_results(run_dir) == first.stored == first.written_now
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert status.complete and status.written_now == planned - first.written_now
    bench, ref_bench = build_from_store(run_dir, tmp_path / "table"), reference[1]
    assert list(bench.arch_indices) == list(ref_bench.arch_indices[:16]) == list(range(16))
    pd.testing.assert_frame_equal(results_frame(bench), results_frame(ref_bench, slice(0, 16)))


# ----- bookkeeping, with the stand-in trainer ---------------------------------------------------------------
def test_a_partly_stored_unit_is_retrained_whole_and_only_missing_results_are_added(fake, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """The retrained unit's results of the two stored cells are dropped: the stored ones stay as they were.
    The retraining gives other values (a re-run measures other seconds, and a GPU rounds otherwise), so a
    resume that stored the whole unit again, over the kept results, is seen."""
    spec = RunSpec("10-13", (3,), TINY, shard_size=4)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    (run_dir / "shards" / "seed3" / "00010-00013.csv").unlink()
    with ResultStore(run_dir / STORE_FILE) as store:  # as if killed after two of the unit's four inserts
        lost = store.rows(3, [12, 13])
        store._db.execute("DELETE FROM results WHERE arch IN (12, 13)")
        kept = store.rows(3, [10, 11])
    fake.calls.clear()

    def retrained(*args: Any, **kwargs: Any) -> backends.ShardResults:
        return {a: [(e, {m: v + 0.5 for m, v in metrics.items()}) for e, metrics in curve]
                for a, curve in fake(*args, **kwargs).items()}

    monkeypatch.setattr(backends, "train_shard_results", retrained)
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert fake.calls == [((10, 11, 12, 13), 3)]  # same composition as the first time
    assert status.written_now == 2 and status.complete
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.rows(3, [10, 11]) == kept
        assert store.rows(3, [12, 13]) != lost  # the retraining's values: the check above could see a rewrite
        assert store.counts()["rows"] == 4 * TINY.epochs
    assert (run_dir / "shards" / "seed3" / "00010-00013.csv").is_file()
    fake.calls.clear()
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0 and fake.calls == []


def test_a_time_limit_starts_no_unit_it_cannot_finish(fake, tmp_path: Path, monkeypatch) -> None:
    spans: list[tuple[float, float]] = []  # (start, end) of each unit

    def slow(*args: Any, **kwargs: Any) -> backends.ShardResults:
        start = time.monotonic()
        time.sleep(0.25)
        spans.append((start, time.monotonic()))
        return fake(*args, **kwargs)

    # Units of 0.25 s and a limit of 1.0 s (were 0.5 s and 2.0 s: the same ratio, so the same 1..4 units
    # bound, and the rule below is checked on the measured spans whatever their length)
    monkeypatch.setattr(backends, "train_shard_results", slow)
    spec = RunSpec("0-39", (0,), TINY, shard_size=4)  # 10 units of 0.25 s or more
    run_dir = tmp_path / "run"
    assert run_pre_evaluation(spec, run_dir, progress=False, time_limit=0).written_now == 0 and fake.calls == []
    status = run_pre_evaluation(spec, run_dir, progress=False, time_limit=1.0)
    units = len(fake.calls)  # typically 3: started at about 0, 0.25 and 0.5 s; at 0.75 s one more would end at 1.0
    assert 1 <= units <= 4 and status.written_now == 4 * units and not status.complete, (units, status)
    # The rule itself, independent of how busy the machine is: the deadline (set before the first unit
    # started, so at most spans[0][0] + 1.0) left each unit at least the longest unit before it.
    for i, (start, _) in enumerate(spans):
        longest = max((end - s for s, end in spans[:i]), default=0.0)
        assert start + longest < spans[0][0] + 1.0, (i, spans)
    monkeypatch.setattr(backends, "train_shard_results", fake)  # no time limit: the rest need not take time
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert status.complete and len(fake.calls) == 10  # each unit trained once
    with pytest.raises(PreEvaluateError, match="time limit must be"):
        run_pre_evaluation(spec, run_dir, progress=False, time_limit=-1)
    with pytest.raises(PreEvaluateError, match="needs --backend local"):
        run_pre_evaluation(spec, run_dir, backend="ray", progress=False, time_limit=60)


def test_a_session_that_trains_nothing_leaves_no_session_record(fake, tmp_path: Path, capsys) -> None:
    """--time-limit 0 (or one that ends before the first unit) wrote a session of 0 results, which the table's
    compute record then listed; the session that trains resumes the run, and both kinds of table list it alone."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0", "--workers", "1", "--out", tmp_path / "run"]
    for _ in range(2):
        rc, out, _ = _cli(capsys, *args, "--time-limit", "0")
        assert rc == 0 and "0/4 (arch, seed) results stored" in out
        assert list((tmp_path / "run" / "sessions").glob("*.json")) == []
        with ResultStore(tmp_path / "run" / STORE_FILE) as store:
            assert store.sessions() == []
    assert _cli(capsys, *args, "--table", tmp_path / "table")[0] == 0
    assert _cli(capsys, "table", "build", tmp_path / "run", "--partial", "--out", tmp_path / "partial")[0] == 0
    for table in ("table", "partial"):
        sessions = load_table(str(tmp_path / table)).manifest["compute"]["sessions"]
        assert [s["results_written"] for s in sessions] == [4], table


def test_admission_leaves_each_unit_the_longest_unit_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule on a clock of its own: a unit starts only while now + the longest finished unit is before the
    deadline (strictly: one that would end at the deadline does not start), and a short unit after a long one
    does not lower the longest."""
    now = [0.0]
    monkeypatch.setattr(backends, "time", SimpleNamespace(monotonic=lambda: now[0]))  # this module's clock only
    assert backends.Admission(None).may_start()
    admission = backends.Admission(100.0)
    assert admission.may_start()
    now[0] = 30.0
    admission.finished(0.0)  # a unit of 30 s
    now[0] = 65.0
    admission.finished(60.0)  # then one of 5 s
    assert admission.longest == 30.0
    now[0] = 69.5
    assert admission.may_start()
    for now[0] in (70.0, 80.0, 99.0):
        assert not admission.may_start(), now


def test_cli_time_limit(fake, tmp_path: Path, capsys) -> None:
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0", "--workers", "1", "--out", tmp_path / "run",
            "--table", tmp_path / "table"]
    rc, out, _ = _cli(capsys, *args, "--time-limit", "0m")
    assert rc == 0 and "0/4 (arch, seed) results stored" in out and "stopped at the time limit" in out
    assert "the table is built once the run is complete" in out and not (tmp_path / "table").exists()
    rc, out, _ = _cli(capsys, *args, "--time-limit", "1h")
    assert rc == 0 and "4/4 (arch, seed) results stored" in out and "wrote table table" in out
    with pytest.raises(SystemExit):  # argparse: its usage and one error line
        _cli(capsys, *args, "--time-limit", "soon")
    assert "argument --time-limit: expected a duration such as 3600, 90m or 2h, got 'soon'" in capsys.readouterr().err
    _assert_one_line_error(_cli(capsys, *args, "--time-limit", "2h", "--backend", "ray"), "--time-limit needs --backend local")


@pytest.mark.parametrize("flags, named", [(["--description", "d"], "--description applies"),
                                          (["--overwrite"], "--overwrite applies"),
                                          (["--overwrite", "--description", "d"], "--description and --overwrite apply")])
def test_table_flags_without_a_table_are_refused_not_ignored(flags: list[str], named: str, fake, tmp_path: Path,
                                                            capsys) -> None:
    """``--description`` and ``--overwrite`` are for ``--table``: without it they were ignored without a word
    (``--overwrite`` read as "replace the run folder" resumed it instead)."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0", "--workers", "1", "--out", tmp_path / "run"]
    _assert_one_line_error(_cli(capsys, *args, *flags), f"{named} to the table --table builds, which is not given")
    assert not (tmp_path / "run").exists()


def test_add_seeds_without_a_run_folder_is_refused_not_a_new_run(fake, tmp_path: Path, capsys) -> None:
    """``--add-seeds`` with an ``--out`` that holds no run (a typo in the path) started a new run of every
    --seeds there, exit 0, instead of growing the run meant."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0,1", "--workers", "1", "--add-seeds"]
    _assert_one_line_error(_cli(capsys, *args, "--out", tmp_path / "typo"), "--add-seeds grows an existing run folder")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(_cli(capsys, *args, "--out", tmp_path / "empty"), "is none (no run.json)")
    assert not any((tmp_path / "empty").iterdir())


def test_store_is_rebuilt_from_shard_files(fake, tmp_path: Path) -> None:
    spec = RunSpec("0-9", (0, 1), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    with ResultStore(run_dir / STORE_FILE) as store:
        before = store.frame()
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    fake.calls.clear()
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0 and fake.calls == []
    with ResultStore(run_dir / STORE_FILE) as store:
        after = store.frame()
        assert len(store.sessions()) == 1  # sessions come back from sessions/*.json
    assert after.equals(before)


def test_foreign_or_damaged_shard_files_are_refused(fake, tmp_path: Path) -> None:
    spec = RunSpec("0-5", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    stray = run_dir / "shards" / "seed0" / "00001-00004.csv"
    shutil.copy(run_dir / "shards" / "seed0" / "00000-00002.csv", stray)
    with pytest.raises(ShardFileError, match="not a work unit of this run"):
        run_pre_evaluation(spec, run_dir, progress=False)
    stray.unlink()
    unit = run_dir / "shards" / "seed0" / "00003-00005.csv"
    unit.write_text("\n".join(unit.read_text().splitlines()[:-1]) + "\n")  # one row lost
    with pytest.raises(ShardFileError, match="epochs") as caught:
        run_pre_evaluation(spec, run_dir, progress=False)
    # the store (rebuilt) never held this unit: the file is damaged, not "changed after the store took it in"
    assert "changed after" not in str(caught.value)


def test_other_run_in_the_same_folder_is_refused(fake, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, 2), run_dir, progress=False)
    for other in [RunSpec("0-3", (1,), TINY, 2), RunSpec("0-3", (0,), TINY, 4), RunSpec("0-4", (0,), TINY, 2)]:
        with pytest.raises(RunMismatchError, match="belongs to another run"):
            run_pre_evaluation(other, run_dir, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a pre-evaluation run folder"):
        run_pre_evaluation(RunSpec("0-3", (0,), TINY, 2), tmp_path / "busy", progress=False)


def test_add_seeds_grows_a_finished_run_by_its_new_seeds_only(fake, tmp_path: Path) -> None:
    """``add_seeds`` (``--add-seeds``): a finished run of seed 1 grown to seeds 0 and 1 trains seed 0's
    units alone, keeps seed 1's results and files byte for byte and the spelling of its selection, and
    ends with the table of a run of both seeds from the start (the stand-in trainer's values depend on
    the unit's composition, so another plan would show); a fresh machine resumes it from its files. The
    new seed is below the run's: the grown run's seeds are sorted, as every identity has them (the run's
    seeds with the new ones after them, ``[1, 0]``, were another run to every later command)."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-4", (1,), TINY, 2), run_dir, progress=False)
    files = {p: p.read_bytes() for p in (run_dir / "shards").rglob("*.csv")}
    rows = stored_rows(run_dir)
    fake.calls.clear()
    status = run_pre_evaluation(RunSpec("4,3,2,1,0", (1, 0), TINY, 2), run_dir, progress=False, add_seeds=True)
    assert fake.calls == [((0, 1), 0), ((2, 3), 0), ((4,), 0)]
    assert status.complete and (status.stored, status.written_now) == (10, 5)
    assert all(p.read_bytes() == b for p, b in files.items()) and len(files) == 3
    assert {k: v for k, v in stored_rows(run_dir).items() if k[1] == 1} == rows
    identity = json.loads((run_dir / "run.json").read_text())["identity"]
    assert identity["seeds"] == [0, 1] and identity["selection"]["archs"] == "0-4"
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.identity["seeds"] == [0, 1]
    run_pre_evaluation(RunSpec("0-4", (0, 1), TINY, 2), tmp_path / "whole", progress=False)
    whole = build_from_store(tmp_path / "whole", tmp_path / "whole_table")
    assert results_hash(build_from_store(run_dir, tmp_path / "grown_table")) == results_hash(whole)
    for path in run_dir.glob(f"{STORE_FILE}*"):  # a fresh clone: the committed files only
        path.unlink()
    fake.calls.clear()
    assert run_pre_evaluation(RunSpec("0-4", (0, 1), TINY, 2), run_dir, progress=False).stored == 10
    assert fake.calls == []


def test_seeds_trained_in_a_folder_of_their_own_join_a_run_with_add_seeds(fake, tmp_path: Path) -> None:
    """README's way to train seeds elsewhere: a run folder of seed 1 alone, its shard and session files
    copied into a run of seed 0, and ``add_seeds`` imports them (nothing trained), giving the table of a
    run of both seeds and the compute record of both sessions."""
    run_pre_evaluation(RunSpec("0-4", (0,), TINY, 2), tmp_path / "run", progress=False)
    run_pre_evaluation(RunSpec("0-4", (1,), TINY, 2), tmp_path / "elsewhere", progress=False)
    shutil.copytree(tmp_path / "elsewhere" / "shards" / "seed1", tmp_path / "run" / "shards" / "seed1")
    for session in (tmp_path / "elsewhere" / "sessions").glob("*.json"):
        shutil.copy(session, tmp_path / "run" / "sessions")
    fake.calls.clear()
    status = run_pre_evaluation(RunSpec("0-4", (0, 1), TINY, 2), tmp_path / "run", progress=False, add_seeds=True)
    assert fake.calls == [] and status.complete and status.written_now == 0
    joined = build_from_store(tmp_path / "run", tmp_path / "joined")
    run_pre_evaluation(RunSpec("0-4", (0, 1), TINY, 2), tmp_path / "whole", progress=False)
    assert results_hash(joined) == results_hash(build_from_store(tmp_path / "whole", tmp_path / "whole_table"))
    compute = joined.manifest["compute"]
    assert compute["trained_results"] == 10 and [s["results_written"] for s in compute["sessions"]] == [5, 5]


def test_add_seeds_refuses_what_is_not_the_run_with_more_seeds(fake, tmp_path: Path) -> None:
    """More seeds without ``add_seeds`` are refused with the flag named; with it, seeds that leave out one
    of the run's, or more seeds with another field changed, are refused; each refusal leaves run.json and
    the store as they were and trains nothing. The run's own seeds with the flag are a plain resume."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0, 1), TINY, 2), run_dir, progress=False)
    run_json, rows = (run_dir / "run.json").read_bytes(), stored_rows(run_dir)
    fake.calls.clear()
    with pytest.raises(RunMismatchError, match="trains seeds 0, 1; to train seeds 2, 5 too, give --add-seeds"):
        run_pre_evaluation(RunSpec("0-3", (0, 1, 2, 5), TINY, 2), run_dir, progress=False)
    with pytest.raises(RunMismatchError, match="trains seeds 0, 1; --add-seeds keeps every seed of the run"):
        run_pre_evaluation(RunSpec("0-3", (0, 2), TINY, 2), run_dir, progress=False, add_seeds=True)
    with pytest.raises(RunMismatchError, match=r"belongs to another run \(.*shard_size: run has 2, asked for 4\)"):
        run_pre_evaluation(RunSpec("0-3", (0, 1, 2), TINY, 4), run_dir, progress=False, add_seeds=True)
    assert fake.calls == [] and (run_dir / "run.json").read_bytes() == run_json and stored_rows(run_dir) == rows
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.identity["seeds"] == [0, 1]
    assert run_pre_evaluation(RunSpec("0-3", (0, 1), TINY, 2), run_dir, progress=False, add_seeds=True).written_now == 0
    assert fake.calls == [] and (run_dir / "run.json").read_bytes() == run_json


def test_a_stop_between_the_grown_run_json_and_its_store_resumes(fake, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``add_seeds`` rewrites run.json first; the store, a working copy, follows it when opened: after a
    stop between the two (the store still of the old seeds), ``table build`` says the run is incomplete
    (not that the store is another run's) and the same seeds resume it, with or without the flag."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, 2), run_dir, progress=False)

    def stopped(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(pre_evaluate, "ResultStore", stopped)
        with pytest.raises(KeyboardInterrupt):
            run_pre_evaluation(RunSpec("0-3", (0, 1), TINY, 2), run_dir, progress=False, add_seeds=True)
    assert json.loads((run_dir / "run.json").read_text())["identity"]["seeds"] == [0, 1]
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.identity["seeds"] == [0]
    shutil.copytree(run_dir, tmp_path / "copy")
    with pytest.raises(IncompleteRunError, match="4 of 8 .* results are missing"):
        build_from_store(tmp_path / "copy", tmp_path / "table")
    fake.calls.clear()
    status = run_pre_evaluation(RunSpec("0-3", (0, 1), TINY, 2), run_dir, progress=False)
    assert status.complete and status.written_now == 4 and fake.calls == [((0, 1), 1), ((2, 3), 1)]


def test_the_same_archs_spelled_another_way_resume_the_run_and_other_archs_are_refused(
        fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shard plan uses the sorted, distinct archs, so ``0,1,...,7`` (or any order, with repeats)
    continues a run started with ``0-7``; the run keeps its spelling. Other archs are refused, also
    the same number of them."""
    run_dir = tmp_path / "run"
    real = backends.run_shards
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: real(shards[:1], *a, **k))
    assert run_pre_evaluation(RunSpec("0-7", (0,), TINY, shard_size=4), run_dir, progress=False).stored == 4
    monkeypatch.setattr(backends, "run_shards", real)
    for other in ("0-8", "0-6,8", "1-8"):
        with pytest.raises(RunMismatchError, match="belongs to another run .*selection.archs: run has \"0-7\""):
            run_pre_evaluation(RunSpec(other, (0,), TINY, shard_size=4), run_dir, progress=False)
    status = run_pre_evaluation(RunSpec("0,1,2,3,4,5,6,7", (0,), TINY, shard_size=4), run_dir, progress=False)
    assert status.complete and status.written_now == 4
    again = run_pre_evaluation(RunSpec("7,6,5,4,3,2,1,0,3", (0,), TINY, shard_size=4), run_dir, progress=False)
    assert again.complete and again.written_now == 0
    assert json.loads((run_dir / "run.json").read_text())["identity"]["selection"]["archs"] == "0-7"
    assert build_from_store(run_dir, tmp_path / "table").num_archs == 8


def test_stored_run_folders_match_their_selection_spelled_another_way() -> None:
    """The committed run folders (run.json of older versions): the same archs in another spelling are
    the same run, other archs are not."""
    from nasbench_suite.store import describe_mismatch

    root = Path(ROOT)
    pilot = json.loads((root / "reports/protocol_pilot/runs/digits/C8-N1-e10-full/run.json").read_text())["identity"]
    classes = json.loads((root / "benchmarks_data/runs/digits/run.json").read_text())["identity"]
    pilot_archs = [int(a) for a in pilot["selection"]["archs"].split(",")]
    for stored, archs in ((pilot, reversed(pilot_archs)), (classes, isomorphism_classes().representatives)):
        selection = RunSpec(",".join(map(str, archs)), (0,), TINY).identity({"name": "x", "sha256": "y"})["selection"]
        assert selection["archs"] != stored["selection"]["archs"]
        assert describe_mismatch(stored, {**stored, "selection": selection}) == []
    fewer = RunSpec(",".join(map(str, pilot_archs[1:])), (0,), TINY).identity({"name": "x", "sha256": "y"})["selection"]
    assert [d.split(":")[0] for d in describe_mismatch(pilot, {**pilot, "selection": fewer})] == [
        "selection.archs", "selection.archs_sha256", "selection.num_archs"]


def test_one_writer_per_run_folder_and_a_killed_holder_blocks_nothing(fake, tmp_path: Path, capsys) -> None:
    """A second pre-evaluate or table build on a folder another process writes to stops with one clear
    message and touches nothing (not the first one's in-flight temporary file); readers of the committed
    files go on; once the holder is killed with SIGKILL, the next run proceeds."""
    from nasbench_suite.run_progress import build_partial_table

    spec = RunSpec("0-7", (0,), TINY, shard_size=4)
    run_dir = tmp_path / "run"
    real = backends.run_shards
    with pytest.MonkeyPatch.context() as mp:  # train the first unit only: half the run
        mp.setattr(backends, "run_shards", lambda shards, *a, **k: real(shards[:1], *a, **k))
        assert run_pre_evaluation(spec, run_dir, progress=False).stored == 4
    code = ("import sys, time\nfrom pathlib import Path\nfrom nasbench_suite.run_lock import run_lock\n"
            "with run_lock(Path(sys.argv[1]), 'a test holder'):\n    print('held', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert holder.stdout.readline().strip() == "held"
        in_flight = run_dir / "shards" / "seed0" / ".00004-00007.csv.tmp"
        in_flight.write_text("being written")
        fake.calls.clear()
        with pytest.raises(RunInUseError, match=f"in use by process {holder.pid} \\(a test holder\\)"):
            run_pre_evaluation(spec, run_dir, progress=False)
        _assert_one_line_error(_cli(capsys, "table", "build", run_dir, "--out", tmp_path / "t"),
                               f"in use by process {holder.pid}")
        assert fake.calls == [] and in_flight.read_text() == "being written" and not (tmp_path / "t").exists()
        assert build_partial_table(run_dir, tmp_path / "partial").num_archs == 4  # readers need no lock
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert status.complete and status.written_now == 4 and not in_flight.exists()


def test_classes_run_fills_every_cell(fake, tmp_path: Path) -> None:
    one_epoch = Protocol(dataset="synthetic", channels=2, cells=1, epochs=1, batch_size=32, train_subset=32)
    spec = RunSpec("classes", (0,), one_epoch, shard_size=256)
    run_pre_evaluation(spec, tmp_path / "run", progress=False)
    bench = build_from_store(tmp_path / "run", tmp_path / "table", description="every cell")
    iso = isomorphism_classes()
    assert bench.num_archs == NUM_ARCHS and list(bench.arch_indices) == list(range(NUM_ARCHS))
    trained_as = bench.scalars("trained_as")
    np.testing.assert_array_equal(trained_as, iso.representatives[iso.class_of])
    assert (trained_as[iso.representatives] == iso.representatives).all()
    valid = bench.array("valid", "loss", epoch=1, seed=0)
    np.testing.assert_array_equal(valid, valid[trained_as])  # members carry their representative's values
    assert len(np.unique(valid)) == iso.num_classes
    dead = np.flatnonzero(disconnected_mask())
    assert len(dead) == 341 and np.isfinite(valid[dead]).all()
    config = one_epoch.macro_config(load_dataset("synthetic"))
    np.testing.assert_array_equal(bench.scalars("params"), analytic_params(all_ops(), config))  # each cell's own
    m = bench.manifest
    assert m["selection"]["filled"] == FILLED_FROM_REPRESENTATIVE and m["selection"]["trained_archs"] == iso.num_classes
    assert m["compute"]["trained_results"] == iso.num_classes and m["description"] == "every cell"
    assert m["compute"]["trainer"]["name"] == engine.TRAINER_NAME
    from nasbench_suite.cli import _agreement

    assert _agreement(bench)["final_valid_acc"]["cells"] == iso.num_classes  # copies left out of spread and tau


def test_table_needs_a_complete_run(fake, tmp_path: Path, monkeypatch) -> None:
    spec = RunSpec("0-7", (0, 1), TINY, shard_size=4)
    real = backends.run_shards
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: real(shards[:1], *a, **k))
    status = run_pre_evaluation(spec, tmp_path / "run", progress=False)
    assert status.stored == 4 and not status.complete
    with pytest.raises(IncompleteRunError, match="12 of 16 .* results are missing"):
        build_from_store(tmp_path / "run", tmp_path / "table")
    assert not (tmp_path / "table").exists()
    with pytest.raises(StoreError, match="no run.json"):
        build_from_store(tmp_path, tmp_path / "table")


def test_run_json_and_session_records(fake, tmp_path: Path) -> None:
    run_pre_evaluation(RunSpec("5,6", (1,), TINY, 32), tmp_path / "run", progress=False)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["identity"]["protocol"]["train_subset"] == 32 and run["identity"]["dataset"]["name"] == "synthetic"
    assert run["dataset"]["sha256"] == run["identity"]["dataset"]["sha256"] and "split_info" in run["dataset"]
    (session,) = [json.loads(p.read_text()) for p in (tmp_path / "run" / "sessions").glob("*.json")]
    assert session["results_written"] == 2 and session["backend"] == "local" and session["hardware"]["cpu"] is not None


def test_a_run_continues_with_another_engine_batch_size_and_records_each(fake, tmp_path: Path, monkeypatch) -> None:
    """Started with 2 cells per batch (say on a CPU) and finished with 3 (say on a GPU): the same run;
    each session records its batch size, and the table lists both. An older run.json that put the
    batch size in the identity still resumes."""
    run_dir = tmp_path / "run"
    real = backends.run_shards
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: real(shards[:1], *a, **k))
    first = run_pre_evaluation(RunSpec("0-7", (0,), TINY, shard_size=4, batch_cells=2), run_dir, progress=False)
    assert first.stored == 4 and not first.complete
    monkeypatch.setattr(backends, "run_shards", real)
    run = json.loads((run_dir / "run.json").read_text())
    assert "batch_cells" not in run["identity"]["trainer"]
    run["identity"]["trainer"]["batch_cells"] = 2  # as older versions wrote it
    (run_dir / "run.json").write_text(json.dumps(run))
    assert run_pre_evaluation(RunSpec("0-7", (0,), TINY, shard_size=4, batch_cells=3), run_dir, progress=False).complete
    sessions = [json.loads(p.read_text()) for p in sorted((run_dir / "sessions").glob("*.json"))]
    assert sorted(s["hardware"]["batch_cells"] for s in sessions) == [2, 3]
    by_batch = {s["hardware"]["batch_cells"]: s["units"] for s in sessions}  # which batch size trained which cells
    assert by_batch == {2: ["seed0/00000-00003.csv"], 3: ["seed0/00004-00007.csv"]}
    assert all(s["hardware"]["device"] == "cpu" for s in sessions)
    run["identity"]["trainer"].pop("batch_cells")
    (run_dir / "run.json").write_text(json.dumps(run))
    bench = build_from_store(run_dir, tmp_path / "table")
    assert bench.manifest["compute"]["trainer"]["batch_cells"] == [2, 3]
    assert bench.manifest["hardware"]["device"] == "cpu"  # one machine: its details, batch sizes aside
    assert "batch_cells" not in bench.manifest["hardware"] and "machines" not in bench.manifest["hardware"]


def test_a_run_made_on_two_machines_names_both_with_their_share(fake, tmp_path: Path, monkeypatch, capsys) -> None:
    run_dir = tmp_path / "run"
    real = backends.run_shards
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: real(shards[:1], *a, **k))
    run_pre_evaluation(RunSpec("0-7", (0,), TINY, shard_size=4), run_dir, progress=False)
    monkeypatch.setattr(backends, "run_shards", real)
    gpu = {**pre_evaluate.hardware(), "device": "cuda:0 (NVIDIA H200)", "cpu": "another CPU"}
    monkeypatch.setattr(pre_evaluate, "hardware", lambda device="cpu", batch_cells=None: {**gpu, "batch_cells": 64})
    assert run_pre_evaluation(RunSpec("0-7", (0,), TINY, shard_size=4), run_dir, progress=False).complete
    machines = build_from_store(run_dir, tmp_path / "table").manifest["hardware"]["machines"]
    assert [(m["device"], m["sessions"], m["results_written"]) for m in machines] == \
        [("cpu", 1, 4), ("cuda:0 (NVIDIA H200)", 1, 4)]
    rc, out, _ = _cli(capsys, "info", tmp_path / "table")
    hardware_lines = [line for line in out.splitlines() if line.startswith("hardware")]
    assert rc == 0 and len(hardware_lines) == 2 and "NVIDIA H200" in hardware_lines[1], out


# ----- the command line -------------------------------------------------------------------------------------
def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from nasbench_suite.cli import main

    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_one_line_error(result: tuple[int, str, str], match: str) -> None:
    rc, _, err = result
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert match in err, err


def test_cli_pre_evaluate_resume_and_table(fake, tmp_path: Path, capsys) -> None:
    protocol_file = tmp_path / "protocol.json"
    protocol_file.write_text(json.dumps({**TINY.to_dict(), "epochs": 5, "channels": 4}))
    args = ["pre-evaluate", "--protocol", protocol_file, "--epochs", "3", "--archs", "0-5", "--seeds", "0",
            "--shard-size", "4", "--workers", "1", "--out", tmp_path / "run"]
    rc, out, _ = _cli(capsys, *args, "--table", tmp_path / "table", "--description", "tiny")
    assert rc == 0 and "6/6 (arch, seed) results stored, 6 by this command" in out and "wrote table table" in out
    protocol = json.loads((tmp_path / "run" / "run.json").read_text())["identity"]["protocol"]
    assert protocol["epochs"] == 3 and protocol["channels"] == 4 and protocol["train_subset"] == 32
    rc, out, _ = _cli(capsys, *args)  # resumes: nothing left to do
    assert rc == 0 and "6/6 (arch, seed) results stored, 0 by this command" in out
    grown = [*args[:args.index("--seeds") + 1], "0,1", *args[args.index("--seeds") + 2:]]
    _assert_one_line_error(_cli(capsys, *grown), "to train seeds 1 too, give --add-seeds")
    rc, out, _ = _cli(capsys, *grown, "--add-seeds")
    assert rc == 0 and "12/12 (arch, seed) results stored, 6 by this command" in out
    rc, out, _ = _cli(capsys, "table", "build", tmp_path / "run", "--out", tmp_path / "t2", "--name", "again")
    assert rc == 0 and "wrote table again" in out and "6 archs x 2 seeds x 3 epochs" in out
    _assert_one_line_error(_cli(capsys, "table", "build", tmp_path / "run", "--out", tmp_path / "t2"), "already exists")
    assert _cli(capsys, "table", "build", tmp_path / "run", "--out", tmp_path / "t2", "--overwrite")[0] == 0
    for partial in ([], ["--partial"]):  # a table inside its own run folder, or inside another table: refused
        for inside in (tmp_path / "run" / "sub", tmp_path / "t2" / "sub"):
            _assert_one_line_error(_cli(capsys, "table", "build", tmp_path / "run", "--out", inside, *partial),
                                   f"--out {inside} is inside the ")
            assert not inside.exists()
    _assert_one_line_error(_cli(capsys, *args[:-1], tmp_path / "run", "--epochs", "4"),
                           "protocol.epochs: run has 3, asked for 4")


def test_cli_user_errors(fake, tmp_path: Path, capsys, monkeypatch) -> None:
    base = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0", "--workers", "1"]
    open_run_args = [*base, "--shard-size", "2", "--out", tmp_path / "run"]
    monkeypatch.setattr(backends, "run_shards", lambda *a, **k: (r for r in ()))  # plan the run, train nothing
    assert _cli(capsys, *open_run_args)[0] == 0
    _assert_one_line_error(_cli(capsys, "table", "build", tmp_path / "run", "--out", tmp_path / "t"),
                           "4 of 4 (arch, seed) results are missing")
    _assert_one_line_error(_cli(capsys, "table", "build", tmp_path, "--out", tmp_path / "t"), "no run.json")
    _assert_one_line_error(_cli(capsys, *base, "--backend", "local", "--ray-address", "x:1", "--out", tmp_path / "r"),
                           "--ray-address needs --backend ray")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "synthetic", "momentun": 0.9}))
    _assert_one_line_error(_cli(capsys, "pre-evaluate", "--protocol", bad, "--out", tmp_path / "r"),
                           "unknown fields ['momentun']")
    _assert_one_line_error(_cli(capsys, "pre-evaluate", "--out", tmp_path / "r"), "--dataset")
    _assert_one_line_error(_cli(capsys, *base, "--shard-size", "0", "--out", tmp_path / "r"), "shard size")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    _assert_one_line_error(_cli(capsys, *base, "--backend", "ray", "--out", tmp_path / "r"),
                           "the ray backend needs the optional extra: pip install 'nasbench_suite[ray]'")
    assert not (tmp_path / "r").exists()  # no error above left a run folder behind


def test_gpu_runs_need_the_local_backend(tmp_path: Path) -> None:
    with pytest.raises(PreEvaluateError, match="--backend local"):
        run_pre_evaluation(RunSpec("1,2", (0,), TINY), tmp_path / "run", device="cuda", backend="ray")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks where a CUDA-less worker fails")
def test_worker_processes_train_on_the_device_they_are_given() -> None:
    """With several workers on a GPU, each worker process trains on it: on this CUDA-less machine the
    workers' first CUDA call fails, which shows the device reached them (before, they trained on the CPU)."""
    from nasbench_suite.backends import run_shards
    from nasbench_suite.train import load_protocol_data

    shards = RunSpec("1,2", (0,), TINY, shard_size=1).shards()
    data = load_protocol_data(TINY)
    with pytest.raises((AssertionError, RuntimeError), match="(?i)cuda|nvidia"):  # torch 2.1: "Found no NVIDIA driver"
        list(run_shards(shards, TINY, data, batch_cells=1, workers=2, device="cuda"))


# ----- damaged or half-written run folders, a full disk ----------------------------------------------------
def test_a_first_start_stopped_before_its_run_json_was_in_place_starts_again(fake, tmp_path: Path) -> None:
    """run.json is written atomically (temp file, then rename); a first start killed, or stopped by a
    full disk, between the two leaves ``.run.json.tmp`` beside the store: the same command carries on."""
    spec = RunSpec("0-3", (0,), TINY, shard_size=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".run.json.tmp").write_text('{"identity": {"prot')
    status = run_pre_evaluation(spec, run_dir, progress=False)
    assert status.complete and not (run_dir / ".run.json.tmp").exists()
    assert json.loads((run_dir / "run.json").read_text())["identity"]["selection"]["archs"] == "0-3"


def test_a_full_disk_stops_the_run_in_one_line_and_the_resume_completes_it(fake, tmp_path: Path, capsys,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's database reaches its size limit mid-run (SQLite's 'database or disk is full', as on a
    full disk): one line, exit 2, nothing half stored; run again with room, the table is the one an
    uninterrupted run gives."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-63", "--seeds", "0,1", "--shard-size", "4", "--workers", "1"]
    assert _cli(capsys, *args, "--out", tmp_path / "whole", "--table", tmp_path / "t_whole")[0] == 0
    configure = ResultStore._configure

    def small_disk(self: ResultStore) -> None:
        configure(self)
        self._db.execute("PRAGMA max_page_count = 8")

    monkeypatch.setattr(ResultStore, "_configure", small_disk)
    _assert_one_line_error(_cli(capsys, *args, "--out", tmp_path / "run"), "database or disk is full")
    stopped_at = stored_results(tmp_path / "run")
    assert 0 < stopped_at < PLANNED
    monkeypatch.setattr(ResultStore, "_configure", configure)
    rc, out, _ = _cli(capsys, *args, "--out", tmp_path / "run", "--table", tmp_path / "t_run")
    assert rc == 0 and f"{PLANNED}/{PLANNED} (arch, seed) results stored, {PLANNED - stopped_at} by this command" in out
    assert load_table(tmp_path / "t_run").content_hash == load_table(tmp_path / "t_whole").content_hash


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_store_is_one_line_that_says_delete_it_and_the_run_rebuilds(fake, tmp_path: Path, capsys,
                                                                             damage: str) -> None:
    spec = RunSpec("0-63", (0,), TINY, shard_size=4)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    with ResultStore(run_dir / STORE_FILE) as store:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = store.frame()
    data = (run_dir / STORE_FILE).read_bytes()
    (run_dir / STORE_FILE).write_bytes(b"\x17" * len(data) if damage == "garbage" else data[: len(data) // 2])
    for command in (["table", "build", run_dir, "--out", tmp_path / "t"],
                    ["pre-evaluate", *TINY_FLAGS, "--archs", "0-63", "--seeds", "0", "--shard-size", "4",
                     "--workers", "1", "--out", run_dir]):
        _assert_one_line_error(_cli(capsys, *command), f"{STORE_FILE} is damaged")
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.frame().equals(before)


def test_a_sqlite_failure_anywhere_is_one_line(fake, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=2), run_dir, progress=False)

    def damaged(self: ResultStore) -> set:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(ResultStore, "done_pairs", damaged)
    _assert_one_line_error(_cli(capsys, "table", "build", run_dir, "--out", tmp_path / "t"),
                           "a SQLite store failed: database disk image is malformed")


@pytest.mark.parametrize("edit,match", [
    (lambda run: run["identity"].pop("protocol"), "lacks identity.protocol"),
    (lambda run: run["identity"]["selection"].pop("archs"), "lacks identity.selection.archs"),
    (lambda run: run["identity"]["results"].pop("epochs"), "lacks identity.results.epochs"),
    (lambda run: run["identity"].update(seeds="0,1"), "lacks identity.seeds"),
    (lambda run: run["dataset"].pop("resolution"), "lacks dataset.resolution"),
    (lambda run: run["identity"]["protocol"].update(warmup=5), "does not know (warmup)"),
])
def test_a_run_json_lacking_what_is_read_is_one_line(fake, tmp_path: Path, capsys, edit: Any, match: str) -> None:
    """A run.json that lost a field (a bad merge, a hand edit) or that a newer version wrote is refused
    by name by every command that reads it, not with a KeyError or TypeError."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=2), run_dir, progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    edit(run)
    (run_dir / "run.json").write_text(json.dumps(run))
    for command in (["table", "build", run_dir, "--out", tmp_path / "t"],
                    ["table", "build", run_dir, "--partial", "--out", tmp_path / "t"], ["info", run_dir]):
        _assert_one_line_error(_cli(capsys, *command), match)


@pytest.mark.parametrize("field,value,match", [
    ("lr", "0.1", "'lr' must be a number"),
    ("augment", "yes", "'augment' must be true or false or null"),
    ("nesterov", 1, "'nesterov' must be true or false"),
    ("crop_padding", -1, "'crop_padding' must be an integer >= 0"),
    ("lr", float("inf"), "protocol needs a finite lr > 0"),  # json.loads reads Infinity: NaN results were stored
    ("epochs", 10**22, "epochs must be an integer of at most 64 bits"),  # was trained for ever, as --epochs is not
    ("crop_padding", 2**63, "crop_padding must be an integer of at most 64 bits"),  # was taken without a word
])
def test_a_protocol_file_with_a_value_of_the_wrong_kind_is_one_line(tmp_path: Path, capsys, field: str, value: Any,
                                                                    match: str) -> None:
    protocol = tmp_path / "protocol.json"
    protocol.write_text(json.dumps({"dataset": "synthetic", field: value}))
    _assert_one_line_error(_cli(capsys, "pre-evaluate", "--protocol", protocol, "--archs", "0-3", "--seeds", "0",
                                "--workers", "1", "--out", tmp_path / "run"), match)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field,value", [("hardware", "cpu"), ("wall_seconds", "12 s"), ("results_written", None),
                                         ("workers", True)])  # JSON true is no count (Python's bool is an int)
def test_a_session_file_with_a_value_of_the_wrong_kind_is_one_line(fake, tmp_path: Path, capsys, field: str,
                                                                   value: Any) -> None:
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=2), run_dir, progress=False)
    for path in run_dir.glob(f"{STORE_FILE}*"):  # a fresh clone: the sessions are read from their files
        path.unlink()
    (session,) = (run_dir / "sessions").glob("*.json")
    session.write_text(json.dumps({**json.loads(session.read_text()), field: value}))
    for command in (["table", "build", run_dir, "--out", tmp_path / "t"],
                    ["table", "build", run_dir, "--partial", "--out", tmp_path / "t"], ["info", run_dir]):
        _assert_one_line_error(_cli(capsys, *command), f"session file {session} is malformed: {field}")


@pytest.mark.parametrize("text,kind", [("[]", "list"), ("3", "int"), ('"x"', "str")])
def test_a_session_file_that_is_no_json_object_is_one_line(fake, tmp_path: Path, capsys, text: str, kind: str) -> None:
    """A session file holding JSON of another shape said "malformed (TypeError: pop expected at most 1 argument,
    got 2)" for a list; it names what the file holds."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=2), run_dir, progress=False)
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    (session,) = (run_dir / "sessions").glob("*.json")
    session.write_text(text)
    for command in (["table", "build", run_dir, "--out", tmp_path / "t"], ["info", run_dir]):
        _assert_one_line_error(_cli(capsys, *command), f"session file {session} is malformed: it holds a JSON {kind}")


# ----- committed files changed after the store took them in ------------------------------------------------
def _fresh_clone_table(run_dir: Path, out: Path) -> Benchmark:
    """The table a fresh clone builds: the committed files alone (the run folder copied without its store)."""
    clone = out.parent / f"{out.name}-clone"
    shutil.copytree(run_dir, clone, ignore=shutil.ignore_patterns(f"{STORE_FILE}*", ".lock"))
    return build_from_store(clone, out)


def test_a_shard_file_edited_after_it_was_imported_is_read_again_with_a_note(fake, tmp_path: Path, capsys) -> None:
    """A committed shard file changed after the store took it in (another version checked out, a hand
    edit) was never read again: the store, and the table built here, kept the old numbers while a
    fresh clone's table had the new ones. The file is the reference: it is read again, with a note."""
    spec = RunSpec("0-5", (0, 1), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    unit = run_dir / "shards" / "seed1" / "00003-00005.csv"
    lines = unit.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[4] = "12.5"  # train_acc of arch 3, seed 1, epoch 1
    unit.write_text("".join([lines[0], ",".join(fields), *lines[2:]]))
    capsys.readouterr()
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0
    err = capsys.readouterr().err
    assert f"note: {unit} changed after {STORE_FILE} took it in: 1 of its 3 results differ" in err, err
    here = build_from_store(run_dir, tmp_path / "here")
    assert here.metric(3, "train", "acc", epoch=1, seed=1) == 12.5
    assert here.content_hash == _fresh_clone_table(run_dir, tmp_path / "clone").content_hash
    build_from_store(run_dir, tmp_path / "again")
    assert "note" not in capsys.readouterr().err  # read once: the store now holds the file as it is


@pytest.mark.parametrize("damage", ["cut", "row lost", "garbage"])
def test_a_shard_file_damaged_after_it_was_imported_is_refused_by_name(fake, tmp_path: Path, capsys,
                                                                      damage: str) -> None:
    """Damage to a committed shard file after the store took it in went unnoticed by the resume and by
    table build (they read the store), so it surfaced only on a fresh clone. Every start now refuses it
    by name, and deleting it makes the run write it again from the store, byte for byte."""
    spec = RunSpec("0-5", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    unit = run_dir / "shards" / "seed0" / "00000-00002.csv"
    good = unit.read_bytes()
    unit.write_bytes({"cut": good[:-5], "row lost": good[: good.rindex(b"\n", 0, -1) + 1],
                      "garbage": b"\x00" * len(good)}[damage])
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-5", "--seeds", "0", "--shard-size", "3", "--workers", "1",
            "--out", run_dir]
    for command in (args, ["table", "build", run_dir, "--out", tmp_path / "t"]):
        _assert_one_line_error(_cli(capsys, *command), f"{unit}")
    rc, _, err = _cli(capsys, *args)
    assert "delete it and this command writes it again from the store" in err
    assert not (tmp_path / "t").exists()
    unit.unlink()
    fake.calls.clear()
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0 and fake.calls == []
    assert unit.read_bytes() == good


def test_a_start_reads_no_shard_file_the_store_holds_as_it_is(fake, tmp_path: Path, monkeypatch) -> None:
    """Resuming stays a stat per committed file: only a file whose size or time changed is read, and one
    only touched (same bytes) is not parsed again."""
    spec = RunSpec("0-5", (0, 1), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    written = {p: p.stat().st_mtime_ns for p in (run_dir / "shards").rglob("*.csv")}
    parsed: list[Path] = []
    real = pre_evaluate.parse_shard_file
    monkeypatch.setattr(pre_evaluate, "parse_shard_file", lambda path, *a: parsed.append(path) or real(path, *a))
    run_pre_evaluation(spec, run_dir, progress=False)
    assert parsed == []
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "shards").rglob("*.csv")} == written  # written once
    unit = run_dir / "shards" / "seed0" / "00000-00002.csv"
    os.utime(unit, ns=(time.time_ns(), time.time_ns() + 10**9))
    run_pre_evaluation(spec, run_dir, progress=False)
    assert parsed == []
    with ResultStore(run_dir / STORE_FILE) as store:
        assert store.file_records()["seed0/00000-00002.csv"].mtime_ns == unit.stat().st_mtime_ns


def _edit_last_row(unit: Path, field: int, value: str) -> None:
    """Set one field of a shard file's last row, as a hand edit of the committed file would."""
    lines = unit.read_text().splitlines(keepends=True)
    fields = lines[-1].split(",")
    fields[field] = value
    unit.write_text("".join([*lines[:-1], ",".join(fields)]))


def test_a_store_without_file_records_opens_and_checks_every_file_once(fake, tmp_path: Path, capsys) -> None:
    """A store.sqlite made before the file records existed still opens; its first start checks every
    committed file against it once (a file changed since is read again, with a note), then records them."""
    spec = RunSpec("0-5", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    with ResultStore(run_dir / STORE_FILE) as store:
        store._db.execute("DROP TABLE files")
    unit = run_dir / "shards" / "seed0" / "00003-00005.csv"
    _edit_last_row(unit, 3, "7.25")  # train_loss of arch 5, last epoch
    capsys.readouterr()
    run_pre_evaluation(spec, run_dir, progress=False)
    assert f"note: {unit} changed after {STORE_FILE} took it in: 1 of its 3 results differ" in capsys.readouterr().err
    with ResultStore(run_dir / STORE_FILE) as store:
        assert sorted(store.file_records()) == ["seed0/00000-00002.csv", "seed0/00003-00005.csv"]


def test_a_session_file_that_moved_on_after_it_was_imported_is_read_again(fake, tmp_path: Path) -> None:
    """A session file committed by another machine while its session went on was imported once and never
    again: the table built here kept that session's old wall time and result count. Session files are
    the reference, as on a fresh clone."""
    spec = RunSpec("0-5", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    build_from_store(run_dir, tmp_path / "t0")
    (session,) = (run_dir / "sessions").glob("*.json")
    record = json.loads(session.read_text())
    session.write_text(json.dumps({**record, "wall_seconds": 5025.5, "end": "2030-01-01T00:00:00+00:00"}))
    compute = load_table(build_from_store(run_dir, tmp_path / "t1").path).manifest["compute"]
    assert compute["wall_seconds"] == 5025.5
    assert compute == load_table(_fresh_clone_table(run_dir, tmp_path / "clone").path).manifest["compute"]


def test_a_session_file_deleted_after_it_was_imported_leaves_the_compute_record(fake, tmp_path: Path,
                                                                                 capsys) -> None:
    """A session file deleted from the run folder stayed in store.sqlite: the table built here counted its
    wall time and results, a fresh clone's did not. The committed session files are the reference."""
    spec = RunSpec("0-5", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    (session,) = (run_dir / "sessions").glob("*.json")
    record = {**json.loads(session.read_text()), "wall_seconds": 12.0}  # not ~0 s: a sum, not the longest
    session.write_text(json.dumps(record))
    extra = run_dir / "sessions" / "20300101T000000Z-0badcafe.json"  # a second session, on another machine
    extra.write_text(json.dumps({**record, "id": extra.stem, "start": "2030-01-01T00:00:00+00:00",
                                 "wall_seconds": 5025.5, "results_written": 0, "units": []}))
    compute = load_table(build_from_store(run_dir, tmp_path / "t0").path).manifest["compute"]
    assert len(compute["sessions"]) == 2 and compute["wall_seconds"] == round(record["wall_seconds"] + 5025.5, 1)
    capsys.readouterr()
    extra.unlink()
    compute = load_table(build_from_store(run_dir, tmp_path / "t1").path).manifest["compute"]
    assert len(compute["sessions"]) == 1 and compute["wall_seconds"] == round(record["wall_seconds"], 1)
    assert compute == load_table(_fresh_clone_table(run_dir, tmp_path / "clone").path).manifest["compute"]
    err = capsys.readouterr().err
    assert f"note: session {extra.stem} is in store.sqlite but {extra} is not" in err and err.count("\n") == 1


# ----- writing the committed files and the table ------------------------------------------------------------
def test_a_full_disk_while_writing_a_shard_file_names_it_and_the_resume_completes(fake, tmp_path: Path, capsys,
                                                                                   monkeypatch) -> None:
    """ENOSPC from writing or syncing a file carries no file name: the error was 'No space left on
    device' alone. It now names the shard file, says the results are kept, and leaves no temporary file."""
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-5", "--seeds", "0", "--shard-size", "3", "--workers", "1",
            "--out", tmp_path / "run"]
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        if "/shards/" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    unit = tmp_path / "run" / "shards" / "seed0" / "00000-00002.csv"
    _assert_one_line_error(_cli(capsys, *args), f"No space left on device ({unit}); every finished result is stored")
    assert list((tmp_path / "run" / "shards").rglob("*.tmp")) == [] and stored_results(tmp_path / "run") == 3
    monkeypatch.setattr(os, "fsync", real_fsync)
    fake.calls.clear()
    rc, out, _ = _cli(capsys, *args, "--table", tmp_path / "t")
    assert rc == 0 and "6/6 (arch, seed) results stored, 3 by this command" in out and len(fake.calls) == 1


@pytest.mark.parametrize("where", ["under a file", "the run folder", "holds the run folder", "read-only"])
def test_a_table_folder_that_cannot_be_written_is_refused_before_training(fake, tmp_path: Path, capsys, monkeypatch,
                                                                          where: str) -> None:
    """pre-evaluate --table found that the table could not be written only when the run was complete,
    after all the training. It is checked first: one line, exit 2, nothing trained, no folder left."""
    (tmp_path / "afile").write_text("x")
    run_dir = tmp_path / "runs" / "run"
    table = {"under a file": tmp_path / "afile" / "tables" / "t", "the run folder": run_dir,
             "holds the run folder": tmp_path / "runs", "read-only": tmp_path / "ro" / "t"}[where]
    if where == "read-only":
        def read_only(*args: Any, **kwargs: Any) -> str:
            raise OSError(30, "Read-only file system", str(tmp_path / "ro" / ".t.tmp-1-x"))

        monkeypatch.setattr(tablefile.tempfile, "mkdtemp", read_only)
    rc, _, err = _cli(capsys, "pre-evaluate", *TINY_FLAGS, "--archs", "0-5", "--seeds", "0", "--shard-size", "3",
                      "--workers", "1", "--out", run_dir, "--table", table)
    expected = {"under a file": f"a file is in the way of a folder it needs ({tmp_path / 'afile'})",
                "the run folder": "is the run folder", "holds the run folder": "holds it",
                "read-only": f"Read-only file system ({tmp_path / 'ro'})"}
    _assert_one_line_error((rc, "", err), expected[where])
    assert fake.calls == [] and not run_dir.exists() and not (tmp_path / "ro").exists()


def test_a_batch_size_larger_than_the_train_images_is_refused_before_any_run_folder(fake, tmp_path: Path,
                                                                                    capsys) -> None:
    """--batch-size 128 with --train-subset 32 trained one batch of 32 per step, and the manifest recorded
    batch_size 128: a protocol no step followed."""
    flags = [f if f != "32" or TINY_FLAGS[i - 1] != "--batch-size" else "128" for i, f in enumerate(TINY_FLAGS)]
    rc, _, err = _cli(capsys, "pre-evaluate", *flags, "--archs", "0-3", "--seeds", "0", "--workers", "1",
                      "--out", tmp_path / "run")
    assert rc == 2 and "batch size 128 is larger than the 32 train images" in err, err
    assert not (tmp_path / "run").exists() and fake.calls == []


# ----- what the committed files and the table's manifest record ---------------------------------------------
def test_the_largest_seed_is_accepted_and_an_engine_batch_size_must_be_a_positive_integer() -> None:
    assert RunSpec("1", (2**63 - 1,), TINY).seeds == (2**63 - 1,)  # "at most 2**63 - 1"
    for bad in (0, -2, 1.5, True, "4"):  # 0 was taken as "the default" by `batch_cells or default`
        with pytest.raises(PreEvaluateError, match="batch cells must be a positive integer"):
            RunSpec("1", (0,), TINY, batch_cells=bad)


def test_a_run_folder_without_its_store_refuses_another_run(fake, tmp_path: Path) -> None:
    """On a fresh clone (the committed files, no store.sqlite) run.json alone says which run the folder
    holds: another run's arguments are refused before a store is made or anything is trained."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, 2), run_dir, progress=False)
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    fake.calls.clear()
    with pytest.raises(RunMismatchError, match=r"run folder .* belongs to another run \(seeds: run has \[0\], asked for "
                                               r"\[1\]\)"):
        run_pre_evaluation(RunSpec("0-3", (1,), TINY, 2), run_dir, progress=False)
    assert fake.calls == [] and not (run_dir / STORE_FILE).exists()


def test_a_session_is_recorded_from_its_start_and_counts_every_unit_it_stored(fake, tmp_path: Path,
                                                                              monkeypatch) -> None:
    from nasbench_suite.run_progress import snapshot

    run_dir = tmp_path / "run"
    spec = RunSpec("0-7", (0,), TINY, shard_size=4)
    def stopped(*args: Any, **kwargs: Any) -> Any:  # Ctrl-C (or a kill) before its first unit: the session ran
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(backends, "run_shards", stopped)
    with pytest.raises(KeyboardInterrupt):
        run_pre_evaluation(spec, run_dir, progress=False)
    (first,) = [json.loads(p.read_text()) for p in (run_dir / "sessions").glob("*.json")]
    assert first["results_written"] == 0 and first["units"] == []
    monkeypatch.undo()
    monkeypatch.setattr(backends, "train_shard_results", fake)
    run_pre_evaluation(spec, run_dir, progress=False)
    sessions = sorted((json.loads(p.read_text()) for p in (run_dir / "sessions").glob("*.json")),
                      key=lambda s: s["results_written"])
    assert [s["results_written"] for s in sessions] == [0, 8]  # two units of 4: 8, not the last unit's 4
    assert sessions[1]["units"] == ["seed0/00000-00003.csv", "seed0/00004-00007.csv"]
    # two sessions on one machine with one batch size: each said once
    batch = sessions[0]["hardware"]["batch_cells"]
    assert sessions[1]["hardware"]["batch_cells"] == batch and sessions[1]["hardware"]["device"] == "cpu"
    assert build_from_store(run_dir, tmp_path / "table").manifest["compute"]["trainer"]["batch_cells"] == [batch]
    assert snapshot(run_dir).progress()["devices"] == ["cpu"]


def test_the_manifest_counts_results_not_rows_and_sums_every_measured_second(fake, tmp_path: Path) -> None:
    """compute.trained_results counts (arch, seed) results (a result has one row per epoch) and
    measured_seconds sums the seconds of every split; selection.filled is said of classes runs only."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-7", (0, 1), TINY, shard_size=4), run_dir, progress=False)
    bench = build_from_store(run_dir, tmp_path / "table")
    m = bench.manifest
    assert m["compute"]["trained_results"] == 16 and bench.max_epoch == 2
    frame = bench.to_frame()
    seconds = frame[["train_seconds", "valid_seconds", "test_seconds"]].to_numpy(np.float64).sum()
    assert m["compute"]["measured_seconds"] == pytest.approx(seconds, abs=0.06)
    assert "filled" not in m["selection"] and m["selection"]["archs"] == "0-7"


def test_an_older_run_json_s_one_engine_batch_size_is_the_trainer_s(fake, tmp_path: Path) -> None:
    """Older versions put the run's one engine batch size in run.json's identity, and their sessions did not
    record it: the table's compute.trainer takes it from the identity, not [] from the sessions."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=4, batch_cells=2), run_dir, progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    run["identity"]["trainer"]["batch_cells"] = 2
    (run_dir / "run.json").write_text(json.dumps(run))
    for path in (run_dir / "sessions").glob("*.json"):
        session = json.loads(path.read_text())
        session["hardware"].pop("batch_cells")
        path.write_text(json.dumps(session))
    assert build_from_store(run_dir, tmp_path / "table").manifest["compute"]["trainer"]["batch_cells"] == 2


def test_a_run_json_whose_selection_resolves_to_other_archs_is_refused(fake, tmp_path: Path) -> None:
    """run.json's archs_sha256 pins the archs its selection resolved to when the run started; where this
    version resolves them otherwise (here: the hash edited), the table is refused, also on a fresh clone."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, shard_size=4), run_dir, progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    run["identity"]["selection"]["archs_sha256"] = "0" * 64
    (run_dir / "run.json").write_text(json.dumps(run))
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    with pytest.raises(StoreError, match="the selection '0-3' of .* resolves to other archs in this version"):
        build_from_store(run_dir, tmp_path / "table")
    assert not (tmp_path / "table").exists()


def test_a_shard_file_holding_another_unit_s_results_is_refused(fake, tmp_path: Path) -> None:
    """A unit's file that holds as many results as it should, but of another seed (copied over it), is
    refused by name: read as its unit, its results went in under the other seed and the unit's own were
    never stored from it."""
    from nasbench_suite.run_progress import snapshot

    spec = RunSpec("0-5", (0, 1), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    shutil.copy(run_dir / "shards" / "seed0" / "00000-00002.csv", run_dir / "shards" / "seed1" / "00000-00002.csv")
    for read in (lambda: run_pre_evaluation(spec, run_dir, progress=False), lambda: snapshot(run_dir)):
        with pytest.raises(ShardFileError, match=r"seed1/00000-00002.csv holds the results of \[\(0, 0\), \(1, 0\), "
                                                 r"\(2, 0\)\], not of its unit"):
            read()


@pytest.mark.parametrize("damage, epochs", [
    (lambda lines: [*lines[:2], "0,0,1," + lines[2][len("0,0,2,"):], *lines[3:]], "1, 1"),  # as many rows as [1, 2]
    (lambda lines: [*lines[:3], lines[2], *lines[3:]], "1, 2, 2"),  # a row repeated
], ids=["epoch-in-place-of-another", "row-repeated"])
def test_a_unit_file_whose_epochs_are_not_1_to_the_last_is_refused(fake, tmp_path: Path, damage, epochs: str) -> None:
    from nasbench_suite.run_progress import snapshot

    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-2", (0,), TINY, shard_size=3), run_dir, progress=False)
    unit = run_dir / "shards" / "seed0" / "00000-00002.csv"
    lines = unit.read_text().splitlines(keepends=True)
    assert lines[2].startswith("0,0,2,")
    unit.write_text("".join(damage(lines)))  # arch 0's epochs
    with pytest.raises(ShardFileError, match=rf"result of arch 0 seed 0 has epochs \[{epochs}\]; this run records "
                                             r"1..2 \(restore it from git, or delete it to train its work unit again\)$"):
        snapshot(run_dir)


def test_a_result_with_a_nan_is_not_taken_for_a_changed_one(fake, tmp_path: Path, capsys, monkeypatch) -> None:
    """A metric not measured (NaN) is stored as NULL and written as nan: a shard file read again after an edit
    to another result counts only that one as changed (NaN equals NaN here)."""
    monkeypatch.setattr(backends, "train_shard_results", nan_metric(fake, "test_loss"))
    spec = RunSpec("0-2", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    unit = run_dir / "shards" / "seed0" / "00000-00002.csv"
    assert ",nan," in unit.read_text().splitlines()[1]
    _edit_last_row(unit, 3, "7.25")  # train_loss of arch 2, last epoch
    capsys.readouterr()
    run_pre_evaluation(spec, run_dir, progress=False)
    assert f"note: {unit} changed after {STORE_FILE} took it in: 1 of its 3 results differ" in capsys.readouterr().err


def test_a_table_built_from_the_store_names_a_large_seed_exactly(fake, tmp_path: Path) -> None:
    """A run's seeds may be up to 2**63 - 1; the table built from its store named seed 2**53 + 1 as 2**53 (the
    store's frame went through float64), while a partial table, read from the shard files, had it right."""
    from nasbench_suite.run_progress import build_partial_table

    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (2**53 + 1,), TINY, shard_size=4), run_dir, progress=False)
    assert build_from_store(run_dir, tmp_path / "table").seeds == (2**53 + 1,)
    assert build_partial_table(run_dir, tmp_path / "partial").seeds == (2**53 + 1,)


def test_a_start_removes_every_temporary_file_a_killed_write_left_in_the_run_folder(fake, tmp_path: Path) -> None:
    """A kill between writing a file's temporary name and its rename leaves ``.NAME.tmp`` beside it, in
    shards/seed*/ or sessions/: the next start removes them all, also where no file is written again."""
    spec = RunSpec("0-3", (0,), TINY, shard_size=4)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    left = [run_dir / "shards" / "seed0" / ".00000-00003.csv.tmp", run_dir / "sessions" / ".20300101T000000Z-x.json.tmp",
            run_dir / ".run.json.tmp"]
    for path in left:
        path.write_text("half written")
    assert run_pre_evaluation(spec, run_dir, progress=False).written_now == 0
    assert [p for p in left if p.exists()] == []


# ----- what the mutation audit of the resume, shard and session logic found untested -------------------------
def test_a_unit_file_lacking_one_of_its_results_is_refused(fake, tmp_path: Path) -> None:
    """A unit's file that lost every row of one cell is no finished unit: read as one, its other results went in,
    the unit was trained again for the lost one, and the file (already there) was never written whole."""
    from nasbench_suite.run_progress import snapshot

    spec = RunSpec("0-2", (0,), TINY, shard_size=3)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    unit = run_dir / "shards" / "seed0" / "00000-00002.csv"
    unit.write_text("".join(line for line in unit.read_text().splitlines(keepends=True) if not line.startswith("2,")))
    for path in run_dir.glob(f"{STORE_FILE}*"):
        path.unlink()
    for read in (lambda: run_pre_evaluation(spec, run_dir, progress=False), lambda: snapshot(run_dir)):
        with pytest.raises(ShardFileError, match=r"holds the results of \[\(0, 0\), \(1, 0\)\], not of its unit "
                                                 r".* \(restore it from git, or delete it to train its work unit again\)$"):
            read()


def test_another_run_is_refused_as_such_while_a_process_holds_the_folder(fake, tmp_path: Path) -> None:
    """Arguments of another run get the mismatch (what to fix), not 'in use' (what to wait for), also while
    another process holds the run folder: the identity is checked before the lock."""
    from lock_holder import holding

    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-3", (0,), TINY, 2), run_dir, progress=False)
    with holding("from nasbench_suite.run_lock import run_lock", "run_lock(Path(sys.argv[1]), 'a test holder')",
                 run_dir):
        with pytest.raises(RunMismatchError, match=r"seeds: run has \[0\], asked for \[1\]"):
            run_pre_evaluation(RunSpec("0-3", (1,), TINY, 2), run_dir, progress=False)


def test_a_linked_sessions_folder_is_refused(fake, tmp_path: Path) -> None:
    """sessions/ linked elsewhere (a received folder): session files would be read from, and written to, where
    it leads. Refused by name, as shards/ is."""
    run_dir = tmp_path / "run"
    spec = RunSpec("0-3", (0,), TINY, 2)
    run_pre_evaluation(spec, run_dir, progress=False)
    (run_dir / "sessions").rename(tmp_path / "elsewhere")
    (run_dir / "sessions").symlink_to(tmp_path / "elsewhere")
    before = sorted(p.name for p in (tmp_path / "elsewhere").iterdir())
    with pytest.raises(StoreError, match="sessions is a symbolic link"):
        run_pre_evaluation(spec, run_dir, progress=False)
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == before


def test_a_unit_the_store_does_not_hold_whole_is_not_written(fake, tmp_path: Path) -> None:
    """export_shard writes a committed file only for a whole unit: one result short, it refuses and writes
    nothing (a file of fewer rows would be refused by every later start)."""
    from nasbench_suite.pre_evaluate import export_shard

    spec = RunSpec("0-3", (0,), TINY, shard_size=4)
    run_dir = tmp_path / "run"
    run_pre_evaluation(spec, run_dir, progress=False)
    (run_dir / "shards" / "seed0" / "00000-00003.csv").unlink()
    with ResultStore(run_dir / STORE_FILE) as store:
        store._db.execute("DELETE FROM results WHERE arch = 3")
        with pytest.raises(StoreError, match="the store holds 6 rows of this unit, not 8"):
            export_shard(store, run_dir, spec.shards()[0])
    assert not (run_dir / "shards" / "seed0" / "00000-00003.csv").exists()


def test_a_trainer_returning_other_archs_than_its_unit_s_is_refused(fake, tmp_path: Path, monkeypatch) -> None:
    def one_more(archs: Sequence[int], *args: Any, **kwargs: Any) -> backends.ShardResults:
        results = fake(archs, *args, **kwargs)
        return {**results, 99: results[archs[0]]}

    monkeypatch.setattr(backends, "train_shard_results", one_more)
    with pytest.raises(StoreError, match=r"the trainer returned archs \[0, 1, 99\] for a unit of \[0, 1\]"):
        run_pre_evaluation(RunSpec("0-1", (0,), TINY, 2), tmp_path / "run", progress=False)
    assert stored_results(tmp_path / "run") == 0


def test_a_session_lists_each_ray_node_once_in_a_stable_order(tmp_path: Path) -> None:
    from nasbench_suite.pre_evaluate import Session

    spec_identity = RunSpec("0-1", (0,), TINY, 2).identity({"name": "synthetic", "sha256": "x"})
    with ResultStore(tmp_path / STORE_FILE, spec_identity) as store:
        session = Session(store, tmp_path, "ray", 2, "cpu", 4)
        for host in ("b", "a", "b", "a"):
            session.trained_on({"host": host})
        assert session.record.hardware["ray_nodes"] == [{"host": "a"}, {"host": "b"}]


# ----- the local backends, with threads standing in for worker processes ------------------------------------
@contextlib.contextmanager
def _thread_pool(workers: int, sizes: list[int] | None = None) -> Iterator[ThreadPoolExecutor]:
    """What :func:`backends.spawn_pool` gives, with threads: ``_train_in_worker`` patched here reaches them."""
    if sizes is not None:
        sizes.append(workers)
    with ThreadPoolExecutor(workers) as pool:
        yield pool


def test_a_pool_keeps_one_unit_per_worker_and_yields_each_as_it_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first unit ends only once the third was yielded: the second worker trains the second unit and then the
    third while the first goes on, and each is yielded as it finishes, not in the order of the plan (a pool that
    waited for all its units, or kept one unit in flight, gave 0 first, after the 5 s wait). The pool has as many
    workers as units when there are fewer units than --workers."""
    sizes: list[int] = []
    monkeypatch.setattr(backends, "spawn_pool", lambda n: _thread_pool(n, sizes))
    third_yielded = threading.Event()

    def train(protocol: Protocol, data_dir: str | None, archs: tuple[int, ...], seed: int, batch_cells: int,
              device: str = "cpu") -> backends.ShardResults:
        if archs == (0,):
            third_yielded.wait(timeout=5)
        return {a: [(1, {"seed": float(seed), "batch_cells": float(batch_cells)})] for a in archs}

    monkeypatch.setattr(backends, "_train_in_worker", train)
    shards = [Shard(7, (0,)), Shard(7, (1,)), Shard(7, (2,))]
    order = []
    for shard, results in backends.run_shards(shards, TINY, None, batch_cells=3, workers=2):
        order.append(shard.archs[0])
        assert results == {shard.archs[0]: [(1, {"seed": 7.0, "batch_cells": 3.0})]}
        if shard.archs == (2,):
            third_yielded.set()
    assert order == [1, 2, 0] and sizes == [2]
    assert sorted(s.archs for s, _ in backends.run_shards(shards[:2], TINY, None, batch_cells=3, workers=8)) == [(0,), (1,)]
    assert sizes == [2, 2]  # two units: two workers, not eight


def test_a_pool_starts_a_unit_only_while_the_longest_unit_so_far_still_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker on a clock of its own that the caller moves on by 30 s per unit: units start at 0, 0 (the
    second is started as the first is yielded), 30 and 60 s; at 90 s the longest unit (30 s) would end at the
    deadline of 120 s, so the fifth does not start. A unit's length runs from its start to its result."""
    now = [0.0]
    monkeypatch.setattr(backends, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(backends, "spawn_pool", _thread_pool)
    monkeypatch.setattr(backends, "_train_in_worker", lambda protocol, data_dir, archs, *_: {a: [] for a in archs})
    shards = [Shard(0, (a,)) for a in range(6)]
    admission = backends.Admission(120.0)
    yielded = []
    for shard, _ in backends._run_process_pool(shards, TINY, None, 1, 1, admission):
        yielded.append(shard.archs[0])
        now[0] += 30.0
    assert yielded == [0, 1, 2, 3] and admission.longest == 30.0


def test_a_dead_worker_and_a_worker_s_own_error_are_each_one_line(fake, tmp_path: Path, capsys,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process that died (the pool is broken) says that finished results are kept and how to resume;
    an error a worker raised (its dataset) is its own message, not taken for a dead worker."""
    monkeypatch.setattr(backends, "spawn_pool", _thread_pool)
    args = ["pre-evaluate", *TINY_FLAGS, "--archs", "0-3", "--seeds", "0", "--shard-size", "2", "--workers", "2",
            "--out", tmp_path / "run"]

    def died(*_: Any) -> backends.ShardResults:
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(backends, "_train_in_worker", died)
    rc, _, err = _cli(capsys, *args)
    assert rc == 2 and err == ("nasbench: error: a worker process died (killed, for example by the out-of-memory "
                               "killer); every finished result is stored: run the same command again to resume, "
                               "with fewer --workers or a smaller --batch-cells if memory is short\n")

    def no_data(*_: Any) -> backends.ShardResults:
        raise DatasetError("cifar10-16px: /data/cifar10-16px.npz is not readable")

    monkeypatch.setattr(backends, "_train_in_worker", no_data)
    rc, _, err = _cli(capsys, *args)
    assert rc == 2 and err == "nasbench: error: cifar10-16px: /data/cifar10-16px.npz is not readable\n"
    assert stored_results(tmp_path / "run") == 0


def test_a_worker_process_loads_its_dataset_once_and_trains_on_one_thread(monkeypatch: pytest.MonkeyPatch,
                                                                          two_torch_threads: None) -> None:
    from nasbench_suite import train

    loads: list[tuple[Protocol, str | None]] = []

    def load(protocol: Protocol, data_dir: str | None) -> str:
        loads.append((protocol, data_dir))
        return f"dataset {len(loads)}"

    monkeypatch.setattr(train, "load_protocol_data", load)
    monkeypatch.setattr(backends, "_WORKER_DATA", {})
    other = Protocol(dataset="synthetic", channels=2, cells=1, epochs=3, batch_size=32, train_subset=32)
    assert backends._worker_data(TINY, None) == "dataset 1" and torch.get_num_threads() == 1
    assert backends._worker_data(TINY, None) == "dataset 1"  # loaded once per process
    assert backends._worker_data(other, "d") == "dataset 2"
    assert backends._WORKER_DATA == {(other, "d"): "dataset 2"}  # one dataset held at most
    assert loads == [(TINY, None), (other, "d")]


def test_training_in_this_process_is_on_one_thread_and_gives_the_threads_back(monkeypatch: pytest.MonkeyPatch,
                                                                              two_torch_threads: None) -> None:
    """As a worker process trains (results do not depend on --workers); the caller's thread count is restored
    afterwards, and freed memory is kept for reuse as in a worker."""
    seen: list[int] = []
    retained: list[bool] = []

    def train(archs: Sequence[int], seed: int, data: Any, protocol: Protocol, **_: Any) -> backends.ShardResults:
        seen.append(torch.get_num_threads())
        return {a: [] for a in archs}

    monkeypatch.setattr(backends, "train_shard_results", train)
    monkeypatch.setattr(backends, "retain_freed_memory", lambda: retained.append(True))
    shards = [Shard(0, (4,)), Shard(1, (4,))]
    assert [s for s, _ in backends.run_shards(shards, TINY, None, batch_cells=1)] == shards
    assert seen == [1, 1] and retained == [True] and torch.get_num_threads() == 2


def test_no_unit_starts_no_backend_and_a_deadline_needs_the_local_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_: Any) -> None:
        raise AssertionError("a backend was started for no unit")

    monkeypatch.setattr(backends, "import_ray", started)
    monkeypatch.setattr(backends, "spawn_pool", started)
    for backend, workers in (("ray", 2), ("local", 2)):
        assert list(backends.run_shards([], TINY, None, batch_cells=1, backend=backend, workers=workers)) == []
    with pytest.raises(ValueError, match="^a deadline needs the local backend$"):
        list(backends.run_shards([Shard(0, (0,))], TINY, None, batch_cells=1, backend="ray", deadline=1.0))
