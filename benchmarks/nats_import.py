"""Time and peak memory of ``nasbench import nats-tss`` on a full-size folder in the official layout.

    python benchmarks/nats_import.py --generate --folder /tmp/nats-tss-generated   # once (5-10 min on 2 cores)
    python benchmarks/nats_import.py --folder /tmp/nats-tss-generated --out /tmp/nats-tables

The folder is synthetic (``tests/nats_generator.py``: the real record structure, random values,
15,625 files). Prints wall time, files per second, peak RSS of this process (``ru_maxrss``; with
``--workers`` > 1 also the largest decoding process's, the children's ``ru_maxrss``) and the
RSS sampled while the import runs, to show memory does not grow with the number of files read. The
import replaces the eight tables it writes under ``--out`` (as ``nasbench import --overwrite`` does)
and leaves anything else there alone.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default="/tmp/nats-tss-generated")
    parser.add_argument("--out", default="/tmp/nats-tss-tables")
    parser.add_argument("--generate", action="store_true", help="write the synthetic folder and exit")
    parser.add_argument("--processes", type=int, default=2, help="for --generate")
    parser.add_argument("--workers", type=int, default=1, help="decoding processes of the import (default 1)")
    parser.add_argument("--block-size", type=int, default=128)
    args = parser.parse_args()

    if args.generate:
        from nats_generator import generate_folder

        t = time.perf_counter()
        generate_folder(args.folder, processes=args.processes)
        n = len(os.listdir(args.folder))
        size = sum(p.stat().st_size for p in Path(args.folder).iterdir())
        print(f"generated {n} files ({size / 2**30:.2f} GiB) in {time.perf_counter() - t:.0f} s at {args.folder}")
        return

    from nasbench_suite.errors import NasBenchError
    from nasbench_suite.nats_import import ARCH_FILE, import_nats_tss

    if not os.path.isdir(args.folder):
        parser.error(f"--folder {args.folder} is not a folder (make one with --generate)")
    files = sum(1 for f in os.listdir(args.folder) if ARCH_FILE.match(f))
    samples: list[tuple[int, float]] = []
    start_rss = _rss_mib()

    def sample(row: int) -> None:
        if row % 1000 == 0 or row == files - 1:
            samples.append((row + 1, _rss_mib()))

    cpu0 = os.times()
    t = time.perf_counter()
    try:
        tables = import_nats_tss(args.folder, args.out, block_size=args.block_size, workers=args.workers,
                                 progress=False, on_record=sample, overwrite=True)
    except NasBenchError as exc:
        parser.error(str(exc))
    wall = time.perf_counter() - t
    cpu1 = os.times()
    cpu_self = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    cpu_children = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    on_disk = sum(p.stat().st_size for t_ in tables for p in t_.path.iterdir())
    print(f"imported {files} arch files into {len(tables)} tables ({on_disk / 2**20:.0f} MiB on disk) in {wall:.1f} s "
          f"({files / wall:.0f} files/s), block size {args.block_size}, {args.workers} decoding process(es)")
    print(f"CPU seconds: {cpu_self:.0f} in this process, {cpu_children:.0f} in decoding processes; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end (other jobs share them)")
    print(f"peak RSS {peak:.0f} MiB (this process, ru_maxrss); RSS before the import {start_rss:.0f} MiB")
    if args.workers > 1:
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS of the largest decoding process {child:.0f} MiB (ru_maxrss of children)")
    print("RSS while importing (files read: MiB): " + ", ".join(f"{n}: {m:.0f}" for n, m in samples))


if __name__ == "__main__":
    main()
