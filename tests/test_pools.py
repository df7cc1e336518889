"""Worker pools stop their running workers when their user stops (``nasbench_suite.pools``)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from nasbench_suite import pools
from nasbench_suite.pools import spawn_pool


def test_leaving_a_pool_by_an_exception_stops_its_running_workers_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="stop"):
        with spawn_pool(2) as pool:
            futures = [pool.submit(time.sleep, 600) for _ in range(4)]
            while not all(f.running() for f in futures[:2]):
                time.sleep(0.01)
            workers = list(pool._processes.values())
            raise RuntimeError("stop")
    assert time.monotonic() - started < 60  # not the 600 s of the running tasks
    assert len(workers) == 2 and not any(p.is_alive() for p in workers)
    assert all(f.done() for f in futures)  # failed or cancelled: nothing left to run


def test_a_pool_left_normally_finishes_its_tasks() -> None:
    with spawn_pool(2) as pool:
        futures = [pool.submit(pow, 2, k) for k in range(8)]
    assert [f.result() for f in futures] == [2**k for k in range(8)]


def test_a_second_stop_while_the_workers_are_being_stopped_leaves_no_worker_running(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A second ``kill PID`` (or Ctrl-C) that lands during the cleanup of the first is ignored, so the
    cleanup still terminates every worker and the first stop's exception is the one raised."""
    class SecondStop(Exception):
        """Stands in for the caller's handler (cli raises ``Terminated``); a plain exception, so that
        without the fix pytest reports a failure instead of stopping the session."""

    def second_stop(signum: int, frame: object) -> None:
        raise SecondStop

    real_stop_workers = pools.stop_workers

    def stop_workers_hit_by_a_second_stop(pool: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # delivered at once, inside the cleanup
        real_stop_workers(pool)

    previous = signal.signal(signal.SIGTERM, second_stop)
    monkeypatch.setattr(pools, "stop_workers", stop_workers_hit_by_a_second_stop)
    try:
        with pytest.raises(RuntimeError, match="first stop"):
            with spawn_pool(2) as pool:
                futures = [pool.submit(time.sleep, 600) for _ in range(2)]
                while not all(f.running() for f in futures):
                    time.sleep(0.01)
                workers = list(pool._processes.values())
                raise RuntimeError("first stop")
        for process in workers:
            process.join(timeout=30)
        assert len(workers) == 2 and not any(p.is_alive() for p in workers)
        assert signal.getsignal(signal.SIGTERM) is second_stop  # the caller's handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)


HOLDER = """
import os, sys, time
from nasbench_suite.pools import spawn_pool
with spawn_pool(1) as pool:
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(120)
"""


def test_workers_end_when_their_parent_is_killed_outright() -> None:
    """kill -9 of the parent runs no cleanup; the workers must not live on as orphans."""
    import os
    import signal
    import subprocess
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    worker = int(holder.stdout.readline())
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()  # not communicate(): a worker that outlived it would hold the pipe open
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"worker {worker} outlived its killed parent by 15 s")


def test_a_negative_proxies_seed_is_one_line(tmp_path, capsys) -> None:
    from nasbench_suite.cli import main

    import pytest

    with pytest.raises(SystemExit) as stop:  # argparse's own exit, as for every malformed option
        main(["proxies", "--table", "digits", "--archs", "6111", "--seed", "-1", "--out", str(tmp_path / "z")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "non-negative" in err and not (tmp_path / "z").exists()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc``)."""
    from pathlib import Path

    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(stat.parent.name))
    return kids


def _outliving(workers: list[int], seconds: float) -> list[int]:
    """The ``workers`` still running after up to ``seconds``; each is killed, so none outlives the test."""
    deadline = time.monotonic() + seconds
    while [w for w in workers if _running(w)] and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [w for w in workers if _running(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    return left


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (an exited process its new parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_proxies_workers_end_quietly_when_their_parent_is_killed_outright(tmp_path) -> None:
    """``nasbench proxies --workers 2`` killed with -9 while scoring: its workers end within seconds and
    print no traceback (the minibatch used to reach them as a torch tensor, a file descriptor each worker
    fetched from the dead parent: ConnectionRefusedError)."""
    import sqlite3
    import subprocess
    import sys
    from contextlib import closing

    out = tmp_path / "proxies"
    parent = subprocess.Popen([sys.executable, "-m", "nasbench_suite.cli", "proxies", "--table", "digits",
                               "--proxies", "params", "--workers", "2", "--out", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, scored = time.monotonic() + 60, 0
        while not scored and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            try:  # read-only: never creates the store before the command does
                with closing(sqlite3.connect(f"file:{out / 'store.sqlite'}?mode=ro", uri=True)) as db:
                    scored = db.execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.Error:
                pass
        assert scored and parent.poll() is None, "the workers never scored a cell before the run ended"
        workers = _children(parent.pid)
        assert len(workers) >= 2
    finally:
        parent.kill()  # SIGKILL: no cleanup runs in the parent
    try:
        _, err = parent.communicate(timeout=30)  # EOF once the workers, which share its stderr, have exited too
    except subprocess.TimeoutExpired:
        err = "(a worker still held the stderr it shares with its parent after 30 s)"
    left = _outliving(workers, 15)
    assert not left, f"workers {left} outlived their killed parent by 15 s"
    assert "Traceback" not in err and "Error" not in err, err


DIES_WHILE_SPAWNING = """
import os, signal, sys, time
from nasbench_suite.pools import spawn_pool
if __name__ == "__main__":
    with spawn_pool(2) as pool:
        pool.submit(time.sleep, 120)
        pool.submit(time.sleep, 120)
        print(*pool._processes, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # the workers are still starting: none has run its initializer
"""


def test_workers_end_when_their_parent_dies_before_they_have_started(tmp_path) -> None:
    """A parent killed outright while its workers are still starting (a spawned worker takes a while to
    import): each worker ran its parent watch only after that death, and watched its new parent (init),
    so it lived on for ever, blocked on a queue nobody writes."""
    import subprocess
    import sys

    script = tmp_path / "dies_while_spawning.py"
    script.write_text(DIES_WHILE_SPAWNING)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    parent.wait()
    parent.stdout.close()  # not communicate(): a worker that outlived it would hold the pipe open
    assert parent.returncode == -signal.SIGKILL and len(workers) == 2
    left = _outliving(workers, 20)
    assert not left, f"workers {left} outlived their parent, killed while they were starting, by 20 s"


STOPPED_BY_SIGTERM = """
import signal, sys, time
from nasbench_suite.pools import spawn_pool

class Terminated(KeyboardInterrupt):
    pass

def raise_terminated(signum, frame):
    raise Terminated

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, raise_terminated)  # as the CLI does
    try:
        with spawn_pool(2) as pool:
            [f.result() for f in [pool.submit(pow, 2, k) for k in range(2)]]  # both workers started
            sleeping = [pool.submit(time.sleep, 120) for _ in range(4)]
            while not all(f.running() for f in sleeping[:2]):
                time.sleep(0.01)
            print("ready", flush=True)
            time.sleep(120)
    except Terminated:
        print("terminated", file=sys.stderr)
        sys.exit(143)
"""


def test_a_pool_stopped_by_sigterm_ends_with_one_line_and_no_leaked_semaphore_warning(tmp_path) -> None:
    """``kill PID`` of a command using a pool: the workers stop at once and stderr holds the command's
    own line only: no traceback, and no warning of the multiprocessing resource tracker about the pool's
    5 queue semaphores. The tracker warns of those only when their owner dies before the pool's cleanup
    has released them (``kill -9``); this guards the cleanup that releases them (stop_workers, then
    shutdown) on the handled path."""
    import subprocess
    import sys

    script = tmp_path / "stopped_by_sigterm.py"
    script.write_text(STOPPED_BY_SIGTERM)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        workers = _children(parent.pid)  # the two workers and the resource tracker
        parent.terminate()
        _, err = parent.communicate(timeout=60)  # EOF once the workers and the tracker have exited too
    finally:
        parent.kill()
    assert parent.returncode == 143, err
    assert err.strip() == "terminated", err
    deadline = time.monotonic() + 10  # stderr closes a moment before a process has finished exiting
    while [w for w in workers if _running(w)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 3 and not [_cmdline(w) for w in workers if _running(w)]


def _cmdline(pid: int) -> str:
    """``pid`` and its command line, to name a process left running in a failure message."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return f"{pid}: (gone)"
    return f"{pid}: {b' '.join(words).decode()}"


def test_a_stop_during_submit_is_delivered_after_it_not_in_the_middle(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``kill PID`` landing while ``submit`` spawns a worker used to cut the spawn short (a half-started
    worker's EOFError traceback, or ``shutdown``'s 'cannot join thread before it is started'): it now
    takes effect right after the submit, through the handler that was in place, and is never lost."""
    from concurrent.futures import ProcessPoolExecutor

    seen: list[str] = []

    def handler(signum: int, frame: object) -> None:
        seen.append("handled")
        raise KeyboardInterrupt

    def submit_hit_by_a_stop(self: object, *args: object, **kwargs: object) -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-submit
        seen.append("submit finished")
        return "future"

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit_hit_by_a_stop)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        pool = pools._Pool(1)
        with pytest.raises(KeyboardInterrupt):
            pool.submit(print)
        assert seen == ["submit finished", "handled"]
        assert signal.getsignal(signal.SIGTERM) is handler  # the handler is back in place
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_stops_are_ignored_while_workers_are_stopped_and_the_handlers_come_back_after() -> None:
    """Ctrl-C and kill PID (both) are ignored while a pool's workers are being stopped and while a worker is
    spawned they wait; afterwards the handlers in place before are back (a lost SIGINT handler made every
    later Ctrl-C of the command do nothing)."""
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pools._stops_held():
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
        assert seen == []
        with pools._stops_deferred():
            signal.raise_signal(signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
        with pytest.raises(RuntimeError, match="stop"):
            with spawn_pool(1) as pool:
                assert pool.submit(abs, -3).result() == 3
                raise RuntimeError("stop")
        assert all(signal.getsignal(sig) is handler for sig in (signal.SIGINT, signal.SIGTERM))
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def test_a_pool_used_outside_the_main_thread_stops_its_workers_without_touching_signals() -> None:
    """Signal handlers can be set only in the main thread: elsewhere (a pool driven from a worker thread)
    the stop handling leaves them alone instead of raising ValueError over the real error: the task runs,
    the caller's own error is the one raised, and the worker is stopped."""
    import threading

    raised: list[BaseException] = []
    workers: list = []

    def use_pool() -> None:
        try:
            with spawn_pool(1) as pool:
                assert pool.submit(abs, -1).result() == 1
                workers.extend(pool._processes.values())
                raise RuntimeError("stop")
        except BaseException as exc:  # noqa: BLE001 - what the thread's caller would see
            raised.append(exc)

    thread = threading.Thread(target=use_pool)
    thread.start()
    thread.join(120)
    assert [(type(e), str(e)) for e in raised] == [(RuntimeError, "stop")], raised  # not one of the stop handling's
    for process in workers:
        process.join(timeout=30)
    assert len(workers) == 1 and not any(p.is_alive() for p in workers)


def test_workers_ignore_ctrl_c_which_the_terminal_sends_to_the_whole_process_group() -> None:
    """Only the parent handles Ctrl-C (and stops its workers); a worker that took it would print a
    KeyboardInterrupt traceback of its own. SIGTERM keeps its default: stop_workers terminates with it."""
    with spawn_pool(1) as pool:
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
        assert pool.submit(signal.getsignal, signal.SIGTERM).result() == signal.SIG_DFL
