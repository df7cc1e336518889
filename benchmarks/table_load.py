"""Load and query speed of a table the size of the full NAS-Bench-201.

Writes a table of 15,625 archs x 3 seeds x 200 epochs x 8 metrics (train loss/acc/seconds, valid
loss/acc/seconds, test loss/acc) filled with random numbers (the values do not matter here, only the
size), then, in a fresh process so that the figures are not flattered by what the writer left in
memory, measures:

* load time: ``load_table(path)`` including the full content-hash verification;
* peak RSS of that process over the load, the queries and the scans below (mapped table pages they
  touched included), and its peak over the imports alone;
* one scalar query: ``bench.metric(arch, "valid", "acc", epoch=e, seed=s)`` on random arguments;
* a scan of all archs: ``bench.array("valid", "acc", epoch=e, seed=s)`` and the mean over seeds.

Goals (issue 2, at the full size): load < 0.5 s, < 300 MB (286 MiB) RSS, scalar query < 5 us, full
scan < 5 ms. Run: ``python benchmarks/table_load.py [--dir DIR] [--archs N]`` (``--archs``: a smaller
table, arch indices 0..N-1, for a quick check; the goals are for 15,625). The page cache is warm (the
table was just written); a cold first read from disk is slower by the disk's read time. Both
processes import the ``nasbench_suite`` of this checkout.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout's code, not an installed copy

N_ARCHS, N_SEEDS, N_EPOCHS = 15_625, 3, 200
MEASURES = {"train": ["loss", "acc", "seconds"], "valid": ["loss", "acc", "seconds"], "test": ["loss", "acc"]}

CHILD = r"""
import json, sys, time, timeit
sys.path.insert(0, sys.argv[2])  # the checkout's package, as in the parent
import numpy as np
def peak_rss_mib():  # VmHWM: this process's peak resident set (ru_maxrss would survive exec from the parent)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB -> MiB
from nasbench_suite import load_table
rss_imports = peak_rss_mib()
t = time.perf_counter(); bench = load_table(sys.argv[1]); load_s = time.perf_counter() - t
t = time.perf_counter(); load_table(sys.argv[1]); load2_s = time.perf_counter() - t
rng = np.random.default_rng(0)
args = [(int(a), int(e), int(s)) for a, e, s in zip(rng.choice(bench.arch_indices, 2000), rng.integers(1, 201, 2000),
                                                    rng.integers(0, 3, 2000))]
def queries():
    for a, e, s in args:
        bench.metric(a, "valid", "acc", epoch=e, seed=s)
q = min(timeit.repeat(queries, number=1, repeat=5)) / len(args)
def queries_mean():
    for a, e, s in args:
        bench.metric(a, "valid", "acc", epoch=e)
qm = min(timeit.repeat(queries_mean, number=1, repeat=5)) / len(args)
scan = min(timeit.repeat(lambda: bench.array("valid", "acc", epoch=200, seed=1), number=20, repeat=5)) / 20
scan_mean = min(timeit.repeat(lambda: bench.array("valid", "acc", epoch=200), number=20, repeat=5)) / 20
print(json.dumps(dict(load_s=load_s, load_again_s=load2_s, query_us=q * 1e6, query_mean_us=qm * 1e6,
                      scan_ms=scan * 1e3, scan_mean_ms=scan_mean * 1e3, rss_mib=peak_rss_mib(),
                      rss_imports_mib=rss_imports)))
"""


def write_fixture(path: Path, n_archs: int = N_ARCHS) -> int:
    from nasbench_suite.tablefile import write_table

    rng = np.random.default_rng(0)
    splits = {s: rng.random((n_archs, N_SEEDS, N_EPOCHS, len(m)), dtype=np.float32) * 100 for s, m in MEASURES.items()}
    scalars = {"arch_index": np.arange(n_archs, dtype=np.int32),
               "params": rng.integers(10**5, 10**6, n_archs), "flops": rng.integers(10**7, 10**8, n_archs)}
    write_table(path, splits, MEASURES, scalars,
                {"name": "nb201-size-benchmark", "description": "random values, for load-speed measurement only",
                 "seeds": list(range(N_SEEDS)), "epochs": list(range(1, N_EPOCHS + 1))}, overwrite=True)
    return sum(p.stat().st_size for p in path.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", help="where to write the benchmark table (default: a temporary folder)")
    parser.add_argument("--archs", type=int, default=N_ARCHS,
                        help=f"rows of the table (default {N_ARCHS:,}, the full NAS-Bench-201; the goals are for it)")
    args = parser.parse_args()
    if not 1 <= args.archs <= N_ARCHS:
        parser.error(f"--archs must be 1..{N_ARCHS}, got {args.archs}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.dir or tmp) / "nb201-size"
        size = write_fixture(path, args.archs)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"table_load: the measuring process failed:\n{out.stderr}")
        r = json.loads(out.stdout)
    print(f"table: {args.archs} archs x {N_SEEDS} seeds x {N_EPOCHS} epochs x 8 metrics, {size / 2**20:.0f} MiB on disk")
    rows = [
        ("load (verify hash), first", f"{r['load_s']:.3f} s", "< 0.5 s"),
        ("load (verify hash), again", f"{r['load_again_s']:.3f} s", "< 0.5 s"),
        ("peak RSS of the process", f"{r['rss_mib']:.0f} MiB (imports alone {r['rss_imports_mib']:.0f} MiB)",
         "< 286 MiB (300 MB)"),
        ("scalar query, one seed", f"{r['query_us']:.2f} us", "< 5 us"),
        ("scalar query, mean of seeds", f"{r['query_mean_us']:.2f} us", ""),
        ("scan of all archs, one seed", f"{r['scan_ms']:.3f} ms", "< 5 ms"),
        ("scan of all archs, seed mean", f"{r['scan_mean_ms']:.3f} ms", "< 5 ms"),
    ]
    for name, value, goal in rows:
        print(f"  {name:<30} {value:<40} {goal}")


if __name__ == "__main__":
    main()
