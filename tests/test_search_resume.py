"""`nasbench search` and `nasbench compare` resume: the replayed runs finished before a stop (kill -9,
Ctrl-C, kill PID) are kept in a staging folder and read back by the same command run again.

Before, nothing of the runs was kept until all had finished, and the rerun replayed every run again.
The table holds GENERATED values (tests/fixture_tables.py).
"""
from __future__ import annotations

import builtins
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nasbench_suite import search
from nasbench_suite.cli import main
from nasbench_suite.table import Benchmark
from tests.test_compare import _files
from tests.test_search_cli import _alive, _user_strategies, _workers_of

ROOT = str(Path(__file__).resolve().parents[1])
RESULT_FILES = ("trajectories.parquet", "manifest.json")

SLOW_STRATEGY = '''
import os
import time
from dataclasses import dataclass

from nasbench_suite.strategy import Query, Strategy, register


@register("user-slow-random")
@dataclass
class SlowRandom(Strategy):
    """Random search that notes each setup() (one per run, plus the setup check before the runs) in the
    file $RESUME_MARKER and then waits $RESUME_PAUSE seconds, so a test can stop it between runs."""

    def setup(self, space, rng):
        with open(os.environ["RESUME_MARKER"], "a") as f:
            f.write("setup\\n")
        time.sleep(float(os.environ.get("RESUME_PAUSE", "0")))
        self.space, self.rng = space, rng

    def ask(self, n):
        return [Query(self.space.random_arch(self.rng), self.space.max_epoch) for _ in range(n)]

    def tell(self, results):
        pass
'''


def _runs_replayed(marker: Path) -> int:
    """Runs a command replayed, from the marker its strategy left (less the setup check before the runs)."""
    return len(marker.read_text().splitlines()) - 1


def _staged_seeds(staging: Path) -> list[int]:
    seeds = []
    for path in staging.glob("*.npz"):
        with np.load(path, allow_pickle=False) as data:
            seeds += data["seeds"].tolist()
    return sorted(seeds)


def _same_results(a: Path, b: Path) -> bool:
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in RESULT_FILES)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through Linux's /proc")
def test_a_search_killed_with_kill_9_resumes_from_the_runs_it_finished(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture) -> None:
    """kill -9 of `nasbench search` (2 processes, 8 tasks of one seed) once some runs are staged; the same
    command with --workers 1 replays only the others, and its files equal an uninterrupted run's."""
    path = _user_strategies(SLOW_STRATEGY, "slow_user_strategy", tmp_path, monkeypatch, request)
    args = ["search", "--table", str(search_table.path), "--import", str(path), "--strategy", "user-slow-random",
            "--seeds", "0-7", "--max-queries", "12"]
    out, staging = tmp_path / "out", tmp_path / "out" / search.PARTIAL_DIR
    env = {**os.environ, "PYTHONPATH": ROOT, "RESUME_MARKER": str(tmp_path / "first"), "RESUME_PAUSE": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_suite.cli", *args, "--workers", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not list(staging.glob("*.npz")):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the search staged no run before it ended: {proc.communicate()}")
            time.sleep(0.01)
        workers = _workers_of(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()  # not communicate(): a worker that outlived it would hold the pipes open
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:  # they end with their parent
        time.sleep(0.05)
    staged = _staged_seeds(staging)
    assert 0 < len(staged) < 8 and len(set(staged)) == len(staged)
    assert not any((out / n).exists() for n in RESULT_FILES)

    monkeypatch.setenv("RESUME_MARKER", str(tmp_path / "rerun"))
    assert main([*args, "--workers", "1", "--out", str(out)]) == 0
    assert _runs_replayed(tmp_path / "rerun") == 8 - len(staged)  # the staged runs were read back
    assert f"resumed: {len(staged)} of 8 runs were read back" in capsys.readouterr().out
    assert not staging.exists()
    monkeypatch.setenv("RESUME_MARKER", str(tmp_path / "whole"))
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "whole-run")]) == 0
    assert _runs_replayed(tmp_path / "whole") == 8
    assert _same_results(out, tmp_path / "whole-run")


def _tasks_started(monkeypatch: pytest.MonkeyPatch, stop_at: int | None = None) -> list[tuple]:
    """(strategy, *seeds) of each task the command starts in this process (--workers 1), from now on;
    with ``stop_at``, Ctrl-C as task ``stop_at`` (0-based) starts."""
    real, started = search._run_chunk, []

    def run_chunk(spec: search.SearchSpec, *args: object) -> dict:
        started.append((spec.strategy, *args[2]))
        if len(started) - 1 == stop_at:
            raise KeyboardInterrupt
        return real(spec, *args)

    monkeypatch.setattr(search, "_run_chunk", run_chunk)
    return started


@pytest.mark.parametrize("change", [["--max-queries", "21"], ["--set", "sample_size=2"], ["--sim-workers", "2"],
                                    ["--eval-epoch", "6"], ["--eval-split", "valid"], ["--search-epochs", "6"],
                                    ["--objective", "train_acc"]])
def test_a_rerun_with_other_settings_reuses_nothing(search_table: Benchmark, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, change: list[str]) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--set", "population=4", "--seeds",
            "0-7", "--workers", "1"]
    out = tmp_path / "out"
    _tasks_started(monkeypatch, stop_at=2)  # 4 tasks of 2 seeds: 2 finished
    assert main([*args, "--max-queries", "20", "--out", str(out)]) == 130
    assert _staged_seeds(out / search.PARTIAL_DIR) == [0, 1, 2, 3]
    changed = [*args, "--max-queries", "20", *change]  # a later --max-queries wins
    assert main([*changed, "--out", str(tmp_path / "whole")]) == 0
    started = _tasks_started(monkeypatch)
    assert main([*changed, "--out", str(out)]) == 0
    assert sorted(s for task in started for s in task[1:]) == list(range(8))  # every run replayed again
    assert _same_results(out, tmp_path / "whole")
    assert not (out / search.PARTIAL_DIR).exists()  # the stale runs went with it


@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")  # no open file left
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "renamed"])
def test_a_damaged_staged_file_is_skipped_and_its_runs_replayed(search_table: Benchmark, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--seeds", "0-7", "--max-queries",
            "20", "--workers", "1"]
    staging = tmp_path / "out" / search.PARTIAL_DIR
    _tasks_started(monkeypatch, stop_at=3)
    assert main([*args, "--out", str(tmp_path / "out")]) == 130
    files = sorted(staging.glob("*.npz"), key=lambda p: _staged_seeds_of(p))
    assert [_staged_seeds_of(p) for p in files] == [[0, 1], [2, 3], [4, 5]]
    data = files[1].read_bytes()
    if damage == "renamed":  # a whole file under another task's name: its seeds do not match the name
        files[0].write_bytes(data)
    else:
        files[1].write_bytes({"truncated": data[:len(data) // 2], "garbage": b"PK\x03\x04" + os.urandom(64),
                              "empty": b""}[damage])
    started = _tasks_started(monkeypatch)
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    replayed = sorted(s for task in started for s in task[1:])
    assert replayed == ([0, 1, 6, 7] if damage == "renamed" else [2, 3, 6, 7])
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    assert _same_results(tmp_path / "out", tmp_path / "whole")


def _staged_seeds_of(path: Path) -> list[int]:
    with np.load(path, allow_pickle=False) as data:
        return data["seeds"].tolist()


def test_a_stopped_compare_resumes_and_its_staged_runs_are_never_read_as_results(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C of `compare --overwrite` on a folder holding another config's runs: `nasbench report` still
    reads the old runs alone (the staged ones are not results); the rerun replays only the runs not
    staged, one stopped while it builds the report none, and every file but timing.json equals an
    uninterrupted compare's."""
    text = (f'name = "resume"\ntable = "{search_table.path.as_posix()}"\nseeds = "SEEDS"\nworkers = 1\n'
            '[budget]\nqueries = 15\n[latency]\nsource = "none"\n[report]\nbootstrap = 100\n'
            '[[strategy]]\nname = "random"\n[[strategy]]\nname = "rea"\nsettings = { population = 4 }\n')
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text(text.replace("SEEDS", "0-2"))
    new.write_text(text.replace("SEEDS", "0-5"))
    out = tmp_path / "out"
    assert main(["compare", "--config", str(old), "--out", str(out)]) == 0
    before = _files(out)
    _tasks_started(monkeypatch, stop_at=4)  # 3 tasks of 2 seeds per strategy: random done, rea's seeds 0-1
    assert main(["compare", "--config", str(new), "--out", str(out), "--overwrite"]) == 130
    staging = out / "runs" / ".replayed.partial"
    assert len(list(staging.glob("*.npz"))) == 4
    assert {k: v for k, v in _files(out).items() if not k.startswith("runs/.replayed.partial/")} == before
    assert main(["report", str(out / "runs"), "--out", str(tmp_path / "report")]) == 0
    assert _files(tmp_path / "report") == {k: v for k, v in before.items() if not k.startswith("runs/")}

    from nasbench_suite import report

    def stopped(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "build_report", stopped)  # stopped once the runs are written, in the report
    started = _tasks_started(monkeypatch)
    assert main(["compare", "--config", str(new), "--out", str(out), "--overwrite"]) == 130
    assert sorted(started) == [("rea", 2), ("rea", 3), ("rea", 4), ("rea", 5)]
    monkeypatch.undo()
    started = _tasks_started(monkeypatch)
    assert main(["compare", "--config", str(new), "--out", str(out)]) == 0
    assert started == [] and not staging.exists()  # every run was read back
    assert main(["compare", "--config", str(new), "--out", str(tmp_path / "whole")]) == 0
    assert _files(out) == _files(tmp_path / "whole")


def test_each_spec_of_a_resumed_call_counts_only_its_own_runs_read_back(tiny_table: Benchmark, tmp_path: Path) -> None:
    """Two specs over one staging folder, the first one's runs staged by an earlier call: its timing says 3 runs
    were read back, the second's 0 (it said the first spec's count), and the results are those of a fresh call."""
    from nasbench_suite.simulator import Budget

    a = search.SearchSpec(str(tiny_table.path), "random", Budget(queries=3))
    b = search.SearchSpec(str(tiny_table.path), "random", Budget(queries=4))
    staging = tmp_path / ".partial"
    search.run_many([a], "0-2", partial=staging, progress=False)
    resumed = search.run_many([a, b], "0-2", partial=staging, progress=False)
    assert [r.timing["runs_resumed"] for r in resumed] == [3, 0]
    fresh = search.run_many([a, b], "0-2", progress=False)
    assert all(r.frame.equals(f.frame) and r.manifest == f.manifest for r, f in zip(resumed, fresh))


def test_a_rerun_with_other_seeds_reads_back_the_staged_runs_of_the_seeds_it_asks_for(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run depends on its spec and run seed alone, so the staged runs of the seeds still asked for are
    the ones a replay would make: they are read back, and the files equal an uninterrupted run's."""
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--max-queries", "20", "--workers", "1"]
    out = tmp_path / "out"
    _tasks_started(monkeypatch, stop_at=2)
    assert main([*args, "--seeds", "0-7", "--out", str(out)]) == 130
    assert _staged_seeds(out / search.PARTIAL_DIR) == [0, 1, 2, 3]
    started = _tasks_started(monkeypatch)
    assert main([*args, "--seeds", "9,3,2,8", "--out", str(out)]) == 0
    assert sorted(s for task in started for s in task[1:]) == [8, 9]
    assert main([*args, "--seeds", "9,3,2,8", "--out", str(tmp_path / "whole")]) == 0
    assert _same_results(out, tmp_path / "whole")


EDITABLE_STRATEGY = '''
from dataclasses import dataclass

from nasbench_suite.strategy import Query, Strategy, register


@register("user-editable")
@dataclass
class Editable(Strategy):
    """Random search at one epoch (EPOCH below, edited by the test)."""

    def setup(self, space, rng):
        self.space, self.rng = space, rng

    def ask(self, n):
        return [Query(self.space.random_arch(self.rng), EPOCH) for _ in range(n)]

    def tell(self, results):
        pass
'''


def test_a_strategy_edited_and_reloaded_in_one_session_reuses_none_of_its_old_runs(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The code's sha256 was cached per file for the whole process: a notebook user who stopped run_seeds(partial=),
    fixed the strategy's file and reloaded it got the old code's staged runs back (epoch 6 rows, where the edited
    strategy asks for epoch 1)."""
    import importlib

    from nasbench_suite.simulator import Budget

    path = _user_strategies(EDITABLE_STRATEGY.replace("EPOCH", "self.space.max_epoch"), "user_editable", tmp_path,
                            monkeypatch, request)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_editable")
    spec = search.SearchSpec(str(search_table.path), "user-editable", Budget(None, 5))
    staging = tmp_path / "staging"
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 0
    path.write_text(EDITABLE_STRATEGY.replace("EPOCH", "1"))
    importlib.reload(module)
    edited = search.run_seeds(spec, "0-3", partial=staging, progress=False)
    assert edited.timing["runs_resumed"] == 0
    assert set(edited.frame["epochs"]) == {1}


@pytest.mark.parametrize("file", [None, "<stdin>"])
def test_a_strategy_with_no_source_file_is_never_staged(search_table: Benchmark, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, file: str | None) -> None:
    """A strategy defined in a notebook (its module has no file) had only this package's code hashed, so a redefined
    one read back the first definition's runs; one defined in `python -` (its file '<stdin>') stopped the call with
    a FileNotFoundError traceback. Neither can be told from an edited one: its runs are replayed every time."""
    import types

    from nasbench_suite import strategy
    from nasbench_suite.simulator import Budget

    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    notebook = types.ModuleType("user_notebook")
    if file is not None:
        notebook.__file__ = file
    monkeypatch.setitem(sys.modules, "user_notebook", notebook)
    spec = search.SearchSpec(str(search_table.path), "user-notebook", Budget(None, 5))
    staging = tmp_path / "staging"
    for epoch in ("self.space.max_epoch", "1"):  # the cell run, edited, run again
        exec(compile(EDITABLE_STRATEGY.replace("EPOCH", epoch).replace("user-editable", "user-notebook"),
                     "<cell>", "exec"), notebook.__dict__)
        results = search.run_seeds(spec, "0-3", partial=staging, progress=False)
        assert results.timing["runs_resumed"] == 0
    assert set(results.frame["epochs"]) == {1}
    assert not staging.exists()


def test_a_fifo_named_like_a_staged_file_is_skipped_unopened(search_table: Benchmark, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """np.load opened whatever the staging folder held under a part's name: a FIFO there made the rerun wait
    forever. Only regular files are read."""
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 5))
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    key = next(staging.glob("*.npz")).name.split(".")[0]
    os.mkfifo(staging / f"{key}.{'0' * 32}.npz")
    real_open = builtins.open

    def regular_files_only(file, *args, **kwargs):  # opening the FIFO would block the test, not fail it
        if isinstance(file, (str, os.PathLike)) and Path(file).parent == staging:
            assert Path(file).is_file(), f"opened {file}"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", regular_files_only)  # partial_runs opens each part itself
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 4


HELPED_STRATEGY = '''
from dataclasses import dataclass

import user_helper_module
from nasbench_suite.strategy import Query, Strategy, register


@register("user-helped")
@dataclass
class Helped(Strategy):
    """Random search at the epoch its helper module (beside it) names."""

    def setup(self, space, rng):
        self.space, self.rng = space, rng

    def ask(self, n):
        return [Query(self.space.random_arch(self.rng), user_helper_module.EPOCH or self.space.max_epoch) for _ in range(n)]

    def tell(self, results):
        pass
'''


def test_an_edited_helper_beside_an_imported_strategy_reuses_none_of_its_runs(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Only the --import'ed file itself was hashed: a stopped search rerun after an edit of the helper module it
    imports from its folder read back the old helper's runs (2 of 4, at the last epoch where the edit asks for 1)."""
    path = _user_strategies(HELPED_STRATEGY, "user_helped", tmp_path, monkeypatch, request)
    helper = tmp_path / "user_helper_module.py"
    helper.write_text("EPOCH = None\n")  # the table's last epoch
    monkeypatch.syspath_prepend(str(tmp_path))
    request.addfinalizer(lambda: sys.modules.pop("user_helper_module", None))
    args = ["search", "--table", str(search_table.path), "--import", str(path), "--strategy", "user-helped",
            "--seeds", "0-3", "--max-queries", "5", "--workers", "1"]
    _tasks_started(monkeypatch, stop_at=2)
    assert main([*args, "--out", str(tmp_path / "out")]) == 130
    assert _staged_seeds(tmp_path / "out" / search.PARTIAL_DIR) == [0, 1]
    helper.write_text("EPOCH = 1\n")
    sys.modules.pop("user_helper_module")  # a new command: a new process imports the edited helper
    sys.modules.pop("user_helped", None)
    started = _tasks_started(monkeypatch)
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert sorted(s for task in started for s in task[1:]) == [0, 1, 2, 3]
    assert set(pd.read_parquet(tmp_path / "out" / "trajectories.parquet")["epochs"]) == {1}


def test_runs_staged_under_another_numpy_are_not_read_back(search_table: Benchmark, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The results manifest records the NumPy version (platform.numpy), but a staging folder made under another
    one (copied from another machine, or a NumPy upgraded between the stop and the rerun) was read back: the
    manifest named one NumPy for runs made under two."""
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 5))
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    monkeypatch.setattr(np, "__version__", "1.0.0-other")
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 0


def test_the_code_hash_of_a_package_strategy_covers_its_subpackages_and_no_data_folder(tmp_path: Path) -> None:
    """A strategy in mylab/strategies/ that imports mylab/util.py: only mylab/strategies/*.py was hashed, so an
    edit of util.py read back the old runs. Its whole package is hashed now, walking subpackages only (an
    rglob would walk a package's data folders too, however large)."""
    from nasbench_suite.partial_runs import _code_sha256

    for folder in ("mylab", "mylab/strategies", "mylab/data"):
        (tmp_path / folder).mkdir()
    for name in ("mylab/__init__.py", "mylab/strategies/__init__.py", "mylab/util.py", "mylab/strategies/mine.py",
                 "mylab/data/notes.py"):
        (tmp_path / name).write_text("A = 1\n")
    strategy_file = str(tmp_path / "mylab/strategies/mine.py")
    before = _code_sha256(strategy_file)
    (tmp_path / "mylab/data/notes.py").write_text("A = 2\n")  # not a package: not code the strategy imports
    assert _code_sha256(strategy_file) == before
    (tmp_path / "mylab/util.py").write_text("A = 2\n")
    assert _code_sha256(strategy_file) != before


def test_a_disk_too_full_for_the_staged_runs_does_not_stop_the_search(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The staged runs are uncompressed (16 MB for 1000 runs of 200 queries, whose trajectories.parquet is 4 MB):
    on an 8 MB file system that search failed with 'No space left on device', where it had fitted before staging
    existed. Staging is given up (and its files of this execution removed, for the results' room), with a note."""
    import errno

    from nasbench_suite import partial_runs

    save, calls = partial_runs.save_part, []

    def disk_full_at_the_second(*args: object) -> object:
        calls.append(args)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(*args)

    remove, removed = partial_runs.remove_partial, []

    def remove_seeing_what_is_left(folder: Path) -> None:  # called once the results are written
        removed.append((folder, sorted(p.name for p in folder.glob("*.npz"))))
        remove(folder)

    monkeypatch.setattr(partial_runs, "save_part", disk_full_at_the_second)
    monkeypatch.setattr(partial_runs, "remove_partial", remove_seeing_what_is_left)
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--seeds", "0-7", "--max-queries", "20",
            "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert "note: finished runs could not be kept in" in capsys.readouterr().out
    assert len(calls) == 2 and not list((tmp_path / "out").rglob("*.npz"))
    # the first run's file went when staging was given up, not only with the folder after the results
    assert removed == [(tmp_path / "out" / search.PARTIAL_DIR, [])]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    assert _same_results(tmp_path / "out", tmp_path / "whole")


@pytest.mark.parametrize("change", ["cpu", "architecture", "torch"])
def test_runs_staged_on_another_machine_or_torch_are_not_read_back(search_table: Benchmark, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    """The staged identity named Python and NumPy only: a staging folder copied from a machine with another CPU
    (other BLAS kernels) or made before a torch upgrade was read back into runs of this one (bananas,
    reinforce-lstm and xgb-evolution compute with those)."""
    from importlib import metadata

    from nasbench_suite import partial_runs
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 5))
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    if change == "cpu":
        monkeypatch.setattr(partial_runs, "cpu_model", lambda: "Another CPU")
    elif change == "architecture":  # the same CPU name under another machine type (an emulated x86_64 on arm64)
        monkeypatch.setattr(partial_runs.platform, "machine", lambda: "another-arch")
    else:
        real = metadata.version
        monkeypatch.setattr(partial_runs.metadata, "version", lambda name: "0.1" if name == "torch" else real(name))
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 0
    monkeypatch.undo()
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 4


def test_a_search_stopped_after_writing_its_results_says_overwrite_reads_its_runs_back(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A kill between writing the results and removing .partial/: the same command again was refused with only
    'pass --overwrite to replace them', not saying the runs are kept and read back by it."""
    from nasbench_suite import partial_runs

    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--seeds", "0-3", "--max-queries",
            "10", "--out", str(tmp_path / "out")]
    monkeypatch.setattr(partial_runs, "remove_partial", lambda folder: None)  # as if killed just before it
    assert main(args) == 0
    monkeypatch.undo()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pass --overwrite" in err and "finished runs of a search stopped" in err
    assert main([*args, "--overwrite"]) == 0
    assert "resumed: 4 of 4 runs were read back" in capsys.readouterr().out
    assert not (tmp_path / "out" / search.PARTIAL_DIR).exists()


def test_a_rerun_with_another_latency_limit_reuses_nothing(search_table: Benchmark, tmp_path: Path) -> None:
    """The runs of a search under --max-latency depend on the limit (the incumbent is the best cell within
    it): the staged identity without the limit read back runs made under another one."""
    from dataclasses import replace

    from fixture_tables import synthetic_latency
    from nasbench_suite.simulator import Budget
    from nasbench_suite.space import Arch

    latency = synthetic_latency()
    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    loose, tight = (float(np.quantile(latency[search_table.arch_indices], q)) for q in (0.6, 0.3))
    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 10), latency=f"{csv}:toy_ms",
                             max_latency=loose)
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    assert search.run_seeds(spec, "0-3", partial=staging, progress=False).timing["runs_resumed"] == 4
    other = replace(spec, max_latency=tight)
    rerun = search.run_seeds(other, "0-3", partial=staging, progress=False)
    assert rerun.timing["runs_resumed"] == 0
    pd.testing.assert_frame_equal(rerun.frame, search.run_seeds(other, "0-3", progress=False).frame)


def test_staged_runs_of_seeds_not_asked_for_are_not_counted_as_read_back(search_table: Benchmark,
                                                                           tmp_path: Path) -> None:
    """A rerun with fewer seeds reads back only the staged runs of the seeds it asks for ('resumed: N of M')."""
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 10))
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    rerun = search.run_seeds(spec, "3,2,8", partial=staging, progress=False)
    assert rerun.timing["runs_resumed"] == 2 and rerun.timing["runs"] == 3
    pd.testing.assert_frame_equal(rerun.frame, search.run_seeds(spec, "3,2,8", progress=False).frame)


def _rewrite_member(path: Path, name: str, change) -> None:
    """Rewrite one array of a staged .npz in place (same name: same spec and seeds keys)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays[name] = change(arrays[name])
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("craft", ["identity", "seed_column", "run_facts", "short_column"])
def test_a_staged_file_with_a_foreign_identity_or_seed_column_is_replayed(search_table: Benchmark, tmp_path: Path,
                                                                          craft: str) -> None:
    """A staged file under its spec key's name but whose stored identity differs (only its name was made to
    match), whose seed column does not repeat its seeds by its rows, whose per-run lists are not one entry
    per run or whose columns are not as long as its runs, is skipped: its runs are replayed (read back, an
    inconsistent one was an IndexError or ValueError traceback)."""
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 10))
    staging = tmp_path / "staging"
    search.run_seeds(spec, "0-3", partial=staging, progress=False)
    files = sorted(staging.glob("*.npz"))  # one file per seed (one process)
    assert len(files) == 4
    if craft == "identity":
        _rewrite_member(files[0], "identity", lambda a: np.asarray(str(a).replace('"rea"', '"random"'), dtype=np.str_))
    elif craft == "seed_column":
        _rewrite_member(files[0], "col_seed", lambda a: a + 1)
    elif craft == "run_facts":
        _rewrite_member(files[0], "end_time", lambda a: a[:0])
    else:
        _rewrite_member(files[0], "col_value", lambda a: a[:-1])
    rerun = search.run_seeds(spec, "0-3", partial=staging, progress=False)
    assert rerun.timing["runs_resumed"] == 3
    pd.testing.assert_frame_equal(rerun.frame, search.run_seeds(spec, "0-3", progress=False).frame)


def test_a_staging_folder_that_is_a_link_is_unlinked_and_what_it_leads_to_kept(tmp_path: Path) -> None:
    """rmtree refuses a symbolic link without a word (ignore_errors): the link planted as a staging folder
    stayed, and a later call wrote its runs wherever it led."""
    from nasbench_suite.partial_runs import remove_partial

    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("not the staging folder's")
    link = tmp_path / "out" / search.PARTIAL_DIR
    link.parent.mkdir()
    link.symlink_to(target, target_is_directory=True)
    remove_partial(link)
    assert not link.exists() and not link.is_symlink()
    assert (target / "keep.txt").read_text() == "not the staging folder's"
    link.mkdir()
    (link / "stale.npz").write_bytes(b"x")
    remove_partial(link)  # a real folder goes with its files
    assert not link.exists()


def test_a_staging_folder_given_as_a_link_is_not_read_back_nor_written_through(search_table: Benchmark,
                                                                                tmp_path: Path) -> None:
    """A staging folder that is a symbolic link (planted in a received output folder) is not one this made: the
    link is removed and the runs replayed, never read back from where it leads, nor staged there."""
    from nasbench_suite.simulator import Budget

    spec = search.SearchSpec(str(search_table.path), "rea", Budget(None, 5))
    elsewhere = tmp_path / "elsewhere"
    search.run_seeds(spec, "0-3", partial=elsewhere, progress=False)  # runs of this very spec
    kept = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    link = tmp_path / "out" / search.PARTIAL_DIR
    link.parent.mkdir()
    link.symlink_to(elsewhere, target_is_directory=True)
    assert search.run_seeds(spec, "0-3", partial=link, progress=False).timing["runs_resumed"] == 0
    assert not link.is_symlink() and {p.name: p.read_bytes() for p in elsewhere.iterdir()} == kept


def test_runs_staged_under_other_latencies_are_not_read_back(search_table: Benchmark, tmp_path: Path) -> None:
    """The staged identity hashes the latencies the runs were told: a device table measured again between a
    stop and the rerun replays the runs (the same runs over the old latencies were read back as new ones)."""
    import os

    from fixture_tables import synthetic_latency
    from nasbench_suite.simulator import Budget

    latency = synthetic_latency()
    csv = tmp_path / "devices.csv"
    spec = search.SearchSpec(str(search_table.path), "nsga2", Budget(None, 10), {"population": 4},
                             latency=f"{csv}:toy_ms")
    staging = tmp_path / "staging"
    for k, values in enumerate((latency, 2 * latency)):
        pd.DataFrame({"arch_index": range(len(values)), "toy_ms": values}).to_csv(csv, index=False)
        os.utime(csv, ns=(10**18 + k, 10**18 + k))
        assert search.run_seeds(spec, "0-1", partial=staging, progress=False).timing["runs_resumed"] == 0
    assert search.run_seeds(spec, "0-1", partial=staging, progress=False).timing["runs_resumed"] == 2


def test_a_link_back_to_a_folder_above_is_not_walked_for_a_strategys_sources(tmp_path: Path) -> None:
    """A subpackage link that leads back to its package (mylab/loop -> mylab) is walked once: its files are
    not hashed again at every level of the link (40 levels deep, until the system's link limit)."""
    from nasbench_suite.partial_runs import _package_sources

    lab = tmp_path / "mylab"
    (lab / "sub").mkdir(parents=True)
    for name in ("__init__.py", "util.py", "sub/__init__.py"):
        (lab / name).write_text("A = 1\n")
    (lab / "loop").symlink_to(lab, target_is_directory=True)
    assert _package_sources(lab) == [lab / "__init__.py", lab / "util.py", lab / "sub" / "__init__.py"]


def test_the_staged_identity_holds_the_proxy_values_the_runs_read(tiny_table: Benchmark) -> None:
    """Warm-start strategies read the zero-cost proxies stored beside the table: proxies scored again (other
    values) between a stop and the rerun give another spec key, so the runs made over the old ones are replayed."""
    import algorithms.random_search
    from nasbench_suite.partial_runs import spec_identity, spec_key
    from nasbench_suite.simulator import Budget, Oracle
    from nasbench_suite.space import NUM_ARCHS

    spec = search.SearchSpec(str(tiny_table.path), "random", Budget(queries=3))

    def key(scores: np.ndarray | None) -> str:
        oracle = Oracle(tiny_table)
        if scores is not None:
            oracle.with_proxies({"synflow": (scores, np.full(NUM_ARCHS, 0.001))})
        return spec_key(spec_identity(spec, tiny_table.content_hash, oracle, {}, algorithms.random_search.RandomSearch,
                                      None, None))

    scores = np.arange(NUM_ARCHS, dtype=np.float64)
    assert key(scores) == key(scores.copy())
    assert len({key(None), key(scores), key(scores[::-1].copy())}) == 3
