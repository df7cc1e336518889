"""Worker process pools that stop at once when their user stops.

Every parallel command (pre-evaluation, search replay, proxies, the NATS import, compare) runs its
workers through :func:`spawn_pool`. Spawned, not forked: a forked child of a process that has run
torch's thread pool can deadlock. When the block that uses the pool is left by an exception (Ctrl-C,
``kill PID``, an error), the workers are terminated at once: a plain ``ProcessPoolExecutor`` would
wait for their running tasks, which for a pre-evaluation unit is minutes of CPU spent on results
nobody will store. Workers never write stored results (their callers do), so stopping them loses
nothing but unfinished work. Task arguments go by value (numpy arrays, not torch tensors: a tensor is
pickled as a file descriptor the worker fetches from its parent, which fails with a traceback once the
parent has been killed).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator


class _Pool(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` whose ``submit`` is not cut short by Ctrl-C or ``kill PID``: submit
    starts the manager thread and spawns workers, and a stop raised in the middle of that left a
    half-started worker printing an ``EOFError`` traceback, or a manager thread that ``shutdown``
    could not join (``RuntimeError``). A stop arriving during a submit takes effect right after it."""

    def submit(self, *args: Any, **kwargs: Any) -> Future:
        with _stops_deferred():
            return super().submit(*args, **kwargs)


@contextmanager
def spawn_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes: left normally, it waits for its tasks, as
    ``ProcessPoolExecutor`` does; left by an exception, it terminates its workers first."""
    pool = _Pool(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_ctrl_c,
                 initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:  # KeyboardInterrupt, GeneratorExit of a closed generator, errors
        with _stops_held():
            stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


STOPS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C and ``kill PID``: the signals that stop a command."""


@contextmanager
def _stop_handler(handler: Any) -> Iterator[None]:
    """``handler`` for :data:`STOPS` inside the block, the previous handlers back after it (handlers
    can be set only in the main thread; elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {sig: signal.signal(sig, handler) for sig in STOPS}
    try:
        yield
    finally:
        for sig, previous in held.items():
            signal.signal(sig, previous)


@contextmanager
def _stops_held() -> Iterator[None]:
    """Ignore Ctrl-C and ``kill PID`` while the workers are being stopped: a second stop arriving
    then would leave that cleanup half done and the workers running on as orphans. The first stop is
    already under way, so nothing is lost by ignoring the second."""
    with _stop_handler(signal.SIG_IGN):
        yield


@contextmanager
def _stops_deferred() -> Iterator[None]:
    """Hold Ctrl-C and ``kill PID`` back until the block ends, then deliver the first one that came
    (to the handlers in place before), so a stop is delayed, never lost."""
    arrived: list[int] = []
    try:
        with _stop_handler(lambda signum, frame: arrived.append(signum)):
            yield
    finally:
        if arrived:  # the previous handlers are back in place
            signal.raise_signal(arrived[0])


def _ignore_ctrl_c(parent: int) -> None:
    """In each worker: Ctrl-C reaches the terminal's whole process group, workers included; the parent
    alone handles it and stops its workers, so none prints a traceback of its own. A parent killed
    outright (``kill -9``, the OOM killer) runs no cleanup: a watch thread ends the worker within a
    second of it, instead of leaving it waiting forever on a queue nobody writes. ``parent`` is the
    pool's process as it gave it, not ``os.getppid()`` here: a parent killed while this worker was still
    starting (importing, for seconds) has been replaced by init by then, and init never dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate ``pool``'s worker processes now (their running tasks are lost)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
