"""Where shards are trained: in this process, in a pool of local processes, or as Ray tasks.

Every backend takes the shards still to train and yields ``(shard, results)`` as each shard finishes
(in completion order, which does not matter: a shard's numbers depend only on its composition).
Workers only train; the driver that consumes the results is the only writer of the store. A worker
process runs torch on one thread (two one-thread processes beat one two-thread process on these
small networks), keeps freed memory for reuse (:func:`~nasbench_suite.heap.retain_freed_memory`), and
loads the dataset once, into a per-process cache.

With a ``deadline``, the local backends start a unit only while the time left exceeds the longest
unit seen so far (:class:`Admission`) and let started units finish, so a time-limited job (a
scheduler's wall time, a lent GPU) ends between units instead of being killed inside one.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import BackendUnavailableError, WorkerDiedError
from .heap import retain_freed_memory
from .pools import spawn_pool

if TYPE_CHECKING:
    from .data import Dataset
    from .pre_evaluate import Shard
    from .train import Protocol

BACKENDS = ("local", "ray")
RAY_MISSING = "the ray backend needs the optional extra: pip install 'nasbench_suite[ray]'"

ShardResults = dict[int, list[tuple[int, dict[str, float]]]]
"""{arch: [(epoch, {metric: value}), ...]} for every arch of a shard."""

_WORKER_DATA: dict[tuple["Protocol", str | None], "Dataset"] = {}
"""Per worker process: the dataset of the protocol it trains (one entry at most)."""


class Admission:
    """Whether another unit may start before ``deadline`` (a ``time.monotonic()`` value; None: always)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.longest = 0.0  # seconds of the longest finished unit, from its start to its result

    def may_start(self) -> bool:
        return self.deadline is None or time.monotonic() + self.longest < self.deadline

    def finished(self, started: float) -> None:
        self.longest = max(self.longest, time.monotonic() - started)


def train_shard_results(archs: Sequence[int], seed: int, data: "Dataset", protocol: "Protocol", *,
                        batch_cells: int, device: str = "cpu") -> ShardResults:
    """Train one shard with the batched engine (:func:`nasbench_suite.engine.train_shard`), as plain values."""
    from .engine import train_shard

    out = train_shard([int(a) for a in archs], data, protocol, int(seed), device, batch_cells=batch_cells)
    return {int(a): [(int(r.epoch), dict(r.metrics)) for r in records] for a, records in out.items()}


def _worker_data(protocol: "Protocol", data_dir: str | None) -> "Dataset":
    key = (protocol, data_dir)
    if key not in _WORKER_DATA:
        import torch

        from .train import load_protocol_data

        torch.set_num_threads(1)
        retain_freed_memory()
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = load_protocol_data(protocol, data_dir)
    return _WORKER_DATA[key]


def _train_in_worker(protocol: "Protocol", data_dir: str | None, archs: tuple[int, ...], seed: int,
                     batch_cells: int, device: str = "cpu") -> ShardResults:
    """The task a worker process (pool or Ray) runs for one shard, on ``device`` (Ray: the CPU)."""
    return train_shard_results(archs, seed, _worker_data(protocol, data_dir), protocol, batch_cells=batch_cells,
                               device=device)


def run_shards(shards: Sequence["Shard"], protocol: "Protocol", data: "Dataset", *, batch_cells: int,
               data_dir: str | None = None, backend: str = "local", workers: int = 1,
               ray_address: str | None = None, device: str = "cpu",
               deadline: float | None = None) -> Iterator[tuple["Shard", ShardResults]]:
    """Train ``shards`` on ``backend`` and yield each one's results as it finishes.

    ``local`` with one worker trains in this process (on ``data``, on ``device``); with more, in a
    pool of ``workers`` processes, each on ``device`` (on a GPU they share it: while one process prepares
    its next kernels, another's run). ``ray`` runs one task per shard on a local Ray instance of ``workers``
    CPUs, or on the cluster at ``ray_address``. ``deadline`` (local only): see the module doc; units
    not started are simply not yielded.
    """
    if not shards:
        return
    if backend == "ray":
        if deadline is not None:
            raise ValueError("a deadline needs the local backend")
        yield from _run_ray(shards, protocol, data_dir, workers, ray_address, batch_cells)
    elif workers <= 1:
        yield from _run_in_process(shards, protocol, data, batch_cells, device, Admission(deadline))
    else:
        yield from _run_process_pool(shards, protocol, data_dir, workers, batch_cells, Admission(deadline), device)


def _run_in_process(shards: Sequence["Shard"], protocol: "Protocol", data: "Dataset", batch_cells: int,
                    device: str, admission: Admission) -> Iterator[tuple["Shard", ShardResults]]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as a worker process: results do not depend on workers
    retain_freed_memory()  # as a worker process does (it stays set: it only keeps freed memory for reuse)
    try:
        for shard in shards:
            if not admission.may_start():
                return
            started = time.monotonic()
            results = train_shard_results(shard.archs, shard.seed, data, protocol, batch_cells=batch_cells,
                                          device=device)
            admission.finished(started)
            yield shard, results
    finally:
        torch.set_num_threads(threads)


def _run_process_pool(shards: Sequence["Shard"], protocol: "Protocol", data_dir: str | None,
                      workers: int, batch_cells: int, admission: Admission,
                      device: str = "cpu") -> Iterator[tuple["Shard", ShardResults]]:
    n = min(workers, len(shards))
    queue = iter(shards)
    pending: dict[Future, tuple["Shard", float]] = {}  # one unit per worker: each starts when submitted
    try:
        with spawn_pool(n) as pool:
            def start_next() -> None:
                shard = next(queue, None) if admission.may_start() else None
                if shard is not None:
                    future = pool.submit(_train_in_worker, protocol, data_dir, shard.archs, shard.seed, batch_cells,
                                         device)
                    pending[future] = (shard, time.monotonic())

            for _ in range(n):
                start_next()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    shard, started = pending.pop(future)
                    results = future.result()
                    admission.finished(started)
                    start_next()  # before the caller stores these results: the worker does not wait
                    yield shard, results
    except BrokenProcessPool:
        raise WorkerDiedError("a worker process died (killed, for example by the out-of-memory killer); every "
                              "finished result is stored: run the same command again to resume, with fewer "
                              "--workers or a smaller --batch-cells if memory is short") from None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError(RAY_MISSING) from None
    return ray


def _run_ray(shards: Sequence["Shard"], protocol: "Protocol", data_dir: str | None, workers: int,
             address: str | None, batch_cells: int) -> Iterator[tuple["Shard", ShardResults]]:
    ray = import_ray()
    owner = not ray.is_initialized()
    if owner:  # a local instance gets `workers` CPUs; a cluster brings its own
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False)
    task = ray.remote(num_cpus=1)(_train_in_worker)
    protocol_ref = ray.put(protocol)
    pending = {task.remote(protocol_ref, data_dir, s.archs, s.seed, batch_cells): s for s in shards}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if owner:
            ray.shutdown()
