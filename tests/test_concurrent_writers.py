"""Two commands writing one output folder at once: the second stops at once with one line naming the first
one's process, before its work, and writes nothing there; the first one's lock goes with it however it ends.

Before, two `compare` on one --out (configs of different seeds and strategies, started together) removed each
other's replayed runs: one died reading a run the other had deleted, and which config the folder's runs and
report belonged to was a matter of timing. The stores of `latency measure` and `proxies` are covered in
test_latency.py and test_proxies.py, `export` in test_cli.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from lock_holder import holding
from nasbench_suite.cli import main

CONFIG = """name = "t"
table = "digits-sample"
seeds = "0-1"
workers = 1
[budget]
seconds = 2.0
[latency]
source = "none"
[report]
bootstrap = 100
[[strategy]]
name = "random"
"""


def _commands(folder: Path, tmp_path: Path) -> dict[str, list[str]]:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    out = str(folder)
    return {
        "search": ["search", "--table", "digits-sample", "--strategy", "random", "--max-queries", "5", "--seeds", "0",
                   "--out", out],
        "darts": ["darts", "--table", "digits-sample", "--method", "rsps", "--epochs", "1", "--seeds", "0",
                  "--out", out],
        "compare": ["compare", "--config", str(config), "--out", out],
        # a real runs folder (report reads it before the lock: a folder that is none says so), the committed one
        "report": ["report", str(Path(__file__).resolve().parents[1] / "reports" / "digits-default" / "runs"),
                   "--out", out],
        "estimators": ["estimators", "--table", "digits-sample", "--supernet-epochs", "0", "--sizes", "10",
                       "--repeats", "1", "--out", out],
        "fidelity": ["fidelity", "--table", "digits-sample", "--reference", "digits", "--out", out],
        # tables folders: two imports (or reference builds) at once with --overwrite mixed their tables
        "import nats-tss": ["import", "nats-tss", str(tmp_path / "NATS-tss-v1_0-3ffb9-simple"), "--out", out,
                            "--overwrite"],
        "reference build": ["reference", "build", "--ref-dir", str(tmp_path), "--out", out, "--overwrite"],
    }


def test_a_second_writer_of_an_output_folder_stops_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with holding("from nasbench_suite.run_lock import run_lock", "run_lock(Path(sys.argv[1]), 'a test holder')",
                 folder) as holder:
        for name, args in _commands(folder, tmp_path).items():
            assert main(args) == 2, name
            err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                          if not line.startswith("note: no stored proxies"))  # estimators' note on digits-sample
            assert err.startswith("nasbench: error: ") and len(err.strip().splitlines()) == 1, (name, err)
            assert f"{folder} is in use by process {holder.pid} (a test holder)" in err, (name, err)
        assert [p.name for p in folder.iterdir()] == [".lock"]  # none of them wrote a file
    # the holder was killed (SIGKILL): its lock is gone with it
    assert main(_commands(folder, tmp_path)["compare"]) == 0
    assert (folder / "runs" / "compare.json").is_file() and (folder / "index.md").is_file()
    assert not (folder / ".lock").exists()  # a command's output folder keeps no lock file once it is done


def test_a_command_that_fails_leaves_no_output_folder_behind(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "new"
    assert main(["search", "--table", "digits-sample", "--strategy", "random", "--max-queries", "5", "--seeds", "0",
                 "--set", "no_such_setting=1", "--out", str(folder)]) == 2
    assert "nasbench: error:" in capsys.readouterr().err and not folder.exists()


def test_the_lock_holds_against_a_holder_that_wrote_nothing_and_rewrites_a_stale_lock_file(tmp_path: Path) -> None:
    """flock excludes per open file: a second descriptor in this process is another holder. One that has not
    yet written its name is 'another process'; a stale .lock (a killed holder's, longer than ours) is
    replaced by this process's line, not overwritten at its start; remove=False keeps the file."""
    import fcntl
    import os

    from nasbench_suite.errors import RunInUseError
    from nasbench_suite.run_lock import run_lock

    lock = tmp_path / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunInUseError, match=rf"^{tmp_path} is in use by another process; wait for it"):
            with run_lock(tmp_path, "second"):
                pass
    finally:
        os.close(fd)
    lock.write_text("process 1 (a killed holder's much longer purpose, written before it died)\n" * 3)
    with run_lock(tmp_path, "mine"):
        assert lock.read_text() == f"process {os.getpid()} (mine)\n"
        with pytest.raises(RunInUseError, match=rf"in use by process {os.getpid()} \(mine\)"):
            with run_lock(tmp_path, "second"):
                pass
    assert lock.read_text() == f"process {os.getpid()} (mine)\n"  # kept without remove=True
    with run_lock(tmp_path, "removed", remove=True):
        pass
    assert not lock.exists()


def test_a_lock_file_removed_by_its_holder_as_it_let_go_is_not_the_one_taken(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the inode check closes: this process opens .lock, the holder (remove=True) deletes it and lets
    go, and this process's flock succeeds on the deleted file. Taking that one would let a third process
    create a new .lock and lock it too: two writers. It must open the folder's current .lock instead."""
    import fcntl
    from types import SimpleNamespace

    from nasbench_suite import run_lock as run_lock_module
    from nasbench_suite.errors import RunInUseError

    calls: list[int] = []

    def flock_after_the_holder_left(fd: int, op: int) -> None:
        if not calls:  # the first attempt: the holder removes its file just before we get the lock
            (tmp_path / ".lock").unlink()
        calls.append(fd)
        fcntl.flock(fd, op)

    monkeypatch.setattr(run_lock_module, "fcntl", SimpleNamespace(LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB,
                                                                  flock=flock_after_the_holder_left))
    (tmp_path / ".lock").write_text("process 1 (the holder)\n")
    with run_lock_module.run_lock(tmp_path, "mine"):
        assert len(calls) == 2 and (tmp_path / ".lock").is_file()
        with pytest.raises(RunInUseError, match=r"\(mine\)"):  # the third process is refused
            with run_lock_module.run_lock(tmp_path, "third"):
                pass


def test_output_lock_removes_the_parents_it_created_when_the_command_wrote_nothing(tmp_path: Path) -> None:
    from nasbench_suite.run_lock import output_lock

    with pytest.raises(RuntimeError):
        with output_lock(tmp_path / "a" / "b" / "out", "test", "meanwhile"):
            assert (tmp_path / "a" / "b" / "out" / ".lock").is_file()
            raise RuntimeError("failed before writing")
    assert list(tmp_path.iterdir()) == []
    with output_lock(tmp_path / "a" / "out", "test", "meanwhile"):
        (tmp_path / "a" / "out" / "result.txt").write_text("written")
    assert [p.name for p in (tmp_path / "a" / "out").iterdir()] == ["result.txt"]  # its lock file removed


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors through Linux's /proc")
def test_a_refused_or_retried_lock_keeps_no_descriptor_open_and_says_how_to_read_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that is refused (a search driver trying again, a notebook) or that retried after its holder
    removed the file keeps no descriptor of the lock file open; the refusal names the holder and, by default,
    the commands that read a run folder meanwhile."""
    import fcntl
    import os
    from types import SimpleNamespace

    from nasbench_suite import run_lock as run_lock_module
    from nasbench_suite.errors import RunInUseError

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_descriptors()
    with run_lock_module.run_lock(tmp_path, "mine"):
        for _ in range(3):
            with pytest.raises(RunInUseError) as refused:
                with run_lock_module.run_lock(tmp_path, "second"):
                    pass
        assert open_descriptors() == before + 1  # the holder's own
    assert open_descriptors() == before
    assert str(refused.value) == (f"{tmp_path} is in use by process {os.getpid()} (mine); wait for it to finish or "
                                  f"stop it (to read what it has finished meanwhile: nasbench info {tmp_path}, or "
                                  f"nasbench table build {tmp_path} --partial)")

    def flock_after_the_holder_left(fd: int, op: int) -> None:
        if not calls:  # the first attempt: the holder removes its file just before we get the lock
            (tmp_path / ".lock").unlink()
        calls.append(fd)
        fcntl.flock(fd, op)

    calls: list[int] = []
    monkeypatch.setattr(run_lock_module, "fcntl", SimpleNamespace(LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB,
                                                                  flock=flock_after_the_holder_left))
    with run_lock_module.run_lock(tmp_path, "retried"):
        assert len(calls) == 2 and open_descriptors() == before + 1
    assert open_descriptors() == before
