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

import os
import re
import socket
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Mapping, Sequence

from .errors import BackendUnavailableError, DatasetError, RemoteTaskError, WorkerDiedError
from .heap import retain_freed_memory
from .pools import spawn_pool

if TYPE_CHECKING:
    from .data import Dataset
    from .pre_evaluate import Shard
    from .train import Protocol

BACKENDS = ("local", "ray")
RAY_MISSING = "the ray backend needs the optional extra: pip install 'nasbench_suite[ray]'"
RAY_ADDRESS_ENV = "RAY_ADDRESS"
RAY_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the cluster's address to accept a connection (Ray itself retries for minutes)."""

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
    """The task a pool worker runs for one shard, on ``device``; a Ray task runs it on the CPU after
    checking its node (:func:`_train_in_ray_task`)."""
    return train_shard_results(archs, seed, _worker_data(protocol, data_dir), protocol, batch_cells=batch_cells,
                               device=device)


def run_shards(shards: Sequence["Shard"], protocol: "Protocol", data: "Dataset", *, batch_cells: int,
               data_dir: str | None = None, backend: str = "local", workers: int = 1,
               ray_address: str | None = None, device: str = "cpu", deadline: float | None = None,
               expect: Mapping[str, Any] | None = None,
               on_node: Callable[[dict[str, Any]], None] | None = None) -> Generator[tuple["Shard", ShardResults], None, None]:
    """Train ``shards`` on ``backend`` and yield each one's results as it finishes.

    ``local`` with one worker trains in this process (on ``data``, on ``device``); with more, in a
    pool of ``workers`` processes, each on ``device`` (on a GPU they share it: while one process prepares
    its next kernels, another's run). ``ray`` runs one task per shard on a local Ray instance of ``workers``
    CPUs, or on the cluster at ``ray_address``. ``deadline`` (local only): see the module doc; units
    not started are simply not yielded. Ray only: each task first checks that its node trains what
    ``expect`` names (``dataset_sha256``, ``nasbench_suite``, ``engine_revision``) and ``on_node``
    gets the facts of the node that trained each unit (:func:`node_facts`).
    """
    if not shards:
        return
    if backend == "ray":
        if deadline is not None:
            raise ValueError("a deadline needs the local backend")
        yield from _run_ray(shards, protocol, data_dir, workers, ray_address, batch_cells, expect or {}, on_node)
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


def cluster_address(address: str | None) -> tuple[str | None, str]:
    """The Ray cluster to join and what named it: ``address`` (``--ray-address``), else ``$RAY_ADDRESS``
    (Ray's own variable; ``ray job submit`` sets it for the command it runs), else ``(None, "")``: a new
    local instance, not the cluster a bare ``ray.init()`` would join (the one ``ray start`` last started
    on this machine). ``local`` names a new local instance too."""
    if address:
        return (None, "") if address == "local" else (address, "--ray-address")
    env = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    return (None, "") if env in ("", "local") else (env, RAY_ADDRESS_ENV)


def check_ray_address(address: str | None, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """Fail in seconds, with one line, when the cluster :func:`cluster_address` picks (``HOST:PORT`` as
    ``ray start --head`` prints it, or ``ray://HOST:PORT``) accepts no connection: ``ray.init`` would
    retry for minutes, printing warnings. A local instance and ``auto`` (the cluster this machine
    belongs to) are left to Ray."""
    address, named = cluster_address(address)
    if address is None or address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BackendUnavailableError(f"{named} expects HOST:PORT (what `ray start --head` prints, e.g. "
                                      f"10.0.0.5:6379), ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise BackendUnavailableError(f"cannot reach the Ray cluster at {address}{_named_by(named)} ({why}): start "
                                      "it with `ray start --head` on that machine, or give the address it "
                                      "printed") from None


def _named_by(named: str) -> str:
    return f" (from ${named})" if named == RAY_ADDRESS_ENV else ""


RAY_TOKEN_HINT = ("a cluster with token authentication (Ray 2.60's `ray start --head` turns it on where "
                  "~/.ray/auth_token exists) needs RAY_AUTH_MODE=token here and the cluster's token in "
                  "~/.ray/auth_token or $RAY_AUTH_TOKEN_PATH")


def connect_ray(ray: Any, address: str | None, num_cpus: int, **kwargs: Any) -> bool:
    """``ray.init`` a new local instance of ``num_cpus`` CPUs, or join the cluster :func:`cluster_address`
    picks (it brings its own CPUs: Ray refuses ``num_cpus`` there), unless Ray is already initialized;
    whether this call did (and so must shut it down). A cluster that refuses (unreachable, a token it
    wants) is one line, not Ray's traceback."""
    if ray.is_initialized():
        return False
    check_ray_address(address)
    address, named = cluster_address(address)
    try:
        # "local", not None: a bare ray.init() would join $RAY_ADDRESS or the cluster `ray start` last started
        ray.init(address=address or "local", num_cpus=None if address else num_cpus, include_dashboard=False,
                 **kwargs)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
        why = getattr(exc, "message", None) or str(exc)  # AuthenticationError: without Ray's paragraph of help
        first = next((line.strip() for line in why.splitlines() if line.strip()), type(exc).__name__)
        # a cluster that wants a token and gets none only says "Failed to connect" (the reason is in Ray's log lines)
        token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
        auth = type(exc).__name__ == "AuthenticationError"
        hint = f"; {RAY_TOKEN_HINT}" if auth or (address and not token_mode) else ""
        raise BackendUnavailableError(f"cannot connect to the Ray cluster at "
                                      f"{address + _named_by(named) if address else 'a new local instance'}: "
                                      f"{first.rstrip('.')}{hint}") from None
    return True


def ray_failure(ray: Any, exc: BaseException) -> Exception:
    """One line for a Ray task that failed (its own error, not Ray's remote traceback) or died."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause
        if isinstance(cause, ray.exceptions.RayTaskError):  # nested by Ray (a function it could not import)
            cause = cause.cause
        what = str(cause) if isinstance(cause, DatasetError | RemoteTaskError) else f"{type(cause).__name__}: {cause}"
        first = next((line.strip() for line in what.splitlines() if line.strip()), type(cause).__name__)
        if len(first) > 300 and not isinstance(cause, DatasetError | RemoteTaskError):
            first = first[:300] + "..."  # Ray's "failed to import" lists the whole sys.path
        # the dual RayTaskError(cause) Ray raises keeps the node only in its header line: "(pid=N, ip=IP)"
        where = getattr(exc, "ip", None) or next(iter(re.findall(r"\bip=([^\s,)]+)", str(exc))), None)
        return RemoteTaskError(f"a Ray task{f' on node {where}' if where else ''} failed: {first} (every node needs nasbench_suite "
                               "of the same version as this machine's, and the data where --data-dir names it)")
    return WorkerDiedError(f"a Ray task died ({type(exc).__name__}: "
                           f"{next(iter(str(exc).strip().splitlines()), '')}); every finished result is stored: "
                           "run the same command again to resume")


def ray_completed(ray: Any, pending: dict[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """(what a task was started for, its result) as Ray tasks finish; each is taken out of ``pending``
    (what is left there is the caller's to cancel). A failed task is one line (:func:`ray_failure`)."""
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            key = pending.pop(ref)
            try:
                value = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise ray_failure(ray, exc) from None
            yield key, value


def worker_data_dir(data_dir: str | None) -> str | None:
    """The data folder as a Ray task on another node must be told it: absolute (a task runs in the
    node's own working folder) and taken from this process's ``$NASBENCH_DATA_DIR`` when not given
    (the task does not see this shell's environment)."""
    from .data import DATA_DIR_ENV

    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return None if chosen is None else str(Path(chosen).expanduser().absolute())


TRAINER_MODULES = ("data", "engine", "model", "space", "train")
"""The modules whose code decides a trained result: every node of a run must hold the same files."""


def trainer_source_sha256() -> str:
    """sha256 over the source files of :data:`TRAINER_MODULES`: two checkouts of one version whose
    training code differs (an edit not yet released) tell apart by it."""
    from .data import files_sha256

    return files_sha256(Path(__file__).parent / f"{name}.py" for name in TRAINER_MODULES)


def trainer_identity() -> dict[str, Any]:
    """What a Ray node must share with the driver to train the same thing (version, engine revision,
    trainer source)."""
    from . import __version__
    from .engine import ENGINE_REVISION

    return {"nasbench_suite": __version__, "engine_revision": ENGINE_REVISION,
            "trainer_sha256": trainer_source_sha256()}


def node_facts() -> dict[str, Any]:
    """The Ray node a task runs on: its address and what :func:`~nasbench_suite.machine.machine_facts`
    records, with the trainer's identity (:func:`trainer_identity`)."""
    import ray

    from .machine import machine_facts

    return {"node": ray.util.get_node_ip_address(), **machine_facts(), **trainer_identity()}


def _train_in_ray_task(protocol: "Protocol", data_dir: str | None, archs: tuple[int, ...], seed: int,
                       batch_cells: int, expect: Mapping[str, Any]) -> tuple[ShardResults, dict[str, Any]]:
    """A Ray task: check that this node trains what the run expects, then train; the results and the node's facts."""
    facts = node_facts()
    for key in ("nasbench_suite", "engine_revision", "trainer_sha256"):
        if key in expect and facts[key] != expect[key]:
            raise RemoteTaskError(f"this node has nasbench_suite {facts['nasbench_suite']} (engine revision "
                                  f"{facts['engine_revision']}, trainer source {facts['trainer_sha256'][:12]}), the "
                                  f"driver {expect.get('nasbench_suite')} (engine revision "
                                  f"{expect.get('engine_revision')}, trainer source "
                                  f"{str(expect.get('trainer_sha256'))[:12]}): install the same code on every node")
    data = _worker_data(protocol, data_dir)
    if "dataset_sha256" in expect:
        sha = data.describe()["sha256"]
        if sha != expect["dataset_sha256"]:
            raise DatasetError(f"the dataset {protocol.dataset!r} read from {data_dir or 'its built-in source'} on "
                               f"this node has sha256 {sha}, the run's is {expect['dataset_sha256']}: give every "
                               "node the same file")
    return _train_in_worker(protocol, data_dir, archs, seed, batch_cells), facts


def _run_ray(shards: Sequence["Shard"], protocol: "Protocol", data_dir: str | None, workers: int,
             address: str | None, batch_cells: int, expect: Mapping[str, Any],
             on_node: Callable[[dict[str, Any]], None] | None) -> Iterator[tuple["Shard", ShardResults]]:
    ray = import_ray()
    owner = connect_ray(ray, address, workers)  # a local instance gets `workers` CPUs; a cluster brings its own
    pending: dict[Any, "Shard"] = {}
    try:
        task = ray.remote(num_cpus=1)(_train_in_ray_task)
        protocol_ref = ray.put(protocol)
        data_dir = worker_data_dir(data_dir)
        pending = {task.remote(protocol_ref, data_dir, s.archs, s.seed, batch_cells, dict(expect)): s for s in shards}
        for shard, (results, facts) in ray_completed(ray, pending):
            if on_node is not None:
                on_node(facts)
            yield shard, results
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if owner:
            ray.shutdown()
