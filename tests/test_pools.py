"""Worker pools stop their running workers when their user stops (``nasbench_suite.pools``)."""
from __future__ import annotations

import time

import pytest

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
