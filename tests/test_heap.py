"""Training processes keep freed memory for reuse: the engine's steps stop faulting in fresh pages."""
import subprocess
import sys

import pytest

from nasbench_suite.heap import glibc, retain_freed_memory

GLIBC = glibc() is not None

# Trains the same stack of digits cells three times; prints the page faults of the last run and its numbers.
TRAIN_THRICE = """
import resource, sys, torch
from nasbench_suite.engine import train_shard
from nasbench_suite.heap import retain_freed_memory
from nasbench_suite.train import Protocol, load_protocol_data
torch.set_num_threads(1)
if sys.argv[1] == "retain":
    assert retain_freed_memory()
protocol = Protocol(dataset="digits", channels=8, cells=1, epochs=2, batch_size=128, train_subset=384)
data = load_protocol_data(protocol, None)
for _ in range(2):  # the heap reaches its peak size
    train_shard([1000, 1001, 1002, 1003], data, protocol, 0, batch_cells=4)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
out = train_shard([1000, 1001, 1002, 1003], data, protocol, 0, batch_cells=4)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(repr([{m: v for m, v in r.metrics.items() if not m.endswith("_seconds")}
            for records in out.values() for r in records]))
"""


def _train_thrice(*modes: str) -> list[tuple[int, str]]:
    """(page faults, metrics) of a process for each of ``modes``, the processes side by side (one thread each;
    a process's page faults are its own)."""
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN_THRICE, mode], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for mode in modes]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        faults, metrics = out.splitlines()[-2:]
        results.append((int(faults), metrics))
    return results


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_retained_heap_stops_page_faults_and_changes_no_number() -> None:
    (default_faults, default_metrics), (retained_faults, retained_metrics) = _train_thrice("default", "retain")
    assert retained_metrics == default_metrics  # the same numbers bit for bit
    assert default_faults > 1000  # what it removes: fresh pages for the step's buffers
    for _ in range(2):  # the kernel can move or reclaim pages now and then (seen once in CI: 1,209); retry
        if retained_faults * 10 < default_faults:
            break
        retained_faults = min(retained_faults, _train_thrice("retain")[0][0])
    assert retained_faults * 10 < default_faults


def test_retain_freed_memory_reports_whether_it_applied() -> None:
    assert retain_freed_memory() is GLIBC


def test_retain_freed_memory_sets_both_thresholds_and_says_whether_both_took(monkeypatch: pytest.MonkeyPatch) -> None:
    """mallopt(M_MMAP_THRESHOLD, 32 MiB), then, once that took, mallopt(M_TRIM_THRESHOLD, -1), at every call
    (mallopt returns 1 on success, 0 on failure); applied only when both return 1 (a refused trim threshold,
    the second call, is not applied either); not glibc: nothing is called."""
    from nasbench_suite import heap

    class FakeLibc:
        def __init__(self, *results: int) -> None:
            self.results, self.calls = results, []
            self.mallopt = self

        def __call__(self, param: int, value: int) -> int:
            self.calls.append((param, value))
            return self.results[len(self.calls) - 1]

    for results, applied in (((1, 1), True), ((0, 1), False), ((1, 0), False)):
        libc = FakeLibc(*results)
        monkeypatch.setattr(heap, "glibc", lambda: libc)
        assert heap.retain_freed_memory() is applied, results
        assert libc.calls[:1] == [(-3, 32 * 2**20)] and ((-1, -1) in libc.calls) is bool(results[0])
    monkeypatch.setattr(heap, "glibc", lambda: None)
    assert heap.retain_freed_memory() is False


def test_a_c_library_that_is_not_glibc_is_not_given_mallopt_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """musl (no gnu_get_libc_version, though it has a mallopt that takes other parameters) and Windows
    (no handle for the process itself) are not glibc: nothing is called, and retain_freed_memory says so."""
    import ctypes

    from nasbench_suite import heap

    class Musl:
        def __init__(self, name: object) -> None:
            self.calls: list[tuple[int, int]] = []
            musl.append(self)

        def mallopt(self, param: int, value: int) -> int:
            self.calls.append((param, value))
            return 1

    musl: list[Musl] = []
    monkeypatch.setattr(ctypes, "CDLL", Musl)
    assert heap.glibc() is None and heap.retain_freed_memory() is False
    assert len(musl) == 2 and all(lib.calls == [] for lib in musl)

    def windows(name: object) -> None:
        raise TypeError("expected str, bytes or os.PathLike object, not NoneType")

    monkeypatch.setattr(ctypes, "CDLL", windows)
    assert heap.glibc() is None and heap.retain_freed_memory() is False
