"""Measurement noise of live latency: the same cells timed in separate processes.

Runs ``nasbench latency measure`` ``--processes`` times, one process after another, each into its own
folder, on the same seeded sample of ``--cells`` class representatives, then reports per cell the
spread across processes (coefficient of variation and max/min of the medians), the within-process
spread (IQR / median), and the Kendall tau between the processes' rankings.

    python benchmarks/latency_noise.py --table digits --batch 1 --cells 30 --processes 3
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbench_suite.space import isomorphism_classes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="digits")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--cells", type=int, default=30)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.processes < 2:
        ap.error(f"--processes must be at least 2 (the spread is across processes), got {args.processes}")
    if args.cells < 2:
        ap.error(f"--cells must be at least 2, got {args.cells}")
    from scipy.stats import kendalltau

    cells = np.sort(np.random.default_rng(args.seed).choice(isomorphism_classes().representatives, args.cells,
                                                            replace=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    frames = []
    with tempfile.TemporaryDirectory(prefix="latency-noise-") as root:
        for k in range(args.processes):
            out = Path(root) / f"p{k}"
            done = subprocess.run([sys.executable, "-m", "nasbench_suite.cli", "latency", "measure", "--table",
                                   args.table, "--batch", str(args.batch), "--repeats", str(args.repeats),
                                   "--archs", ",".join(map(str, cells)), "--out", str(out)], env=env,
                                  stdout=subprocess.DEVNULL)
            if done.returncode != 0:  # nasbench has said why on stderr, in one line
                sys.exit(done.returncode)
            frames.append(pd.read_csv(out / "latency.csv").set_index("arch_index").loc[cells])
    med = np.stack([f["median_ms"].to_numpy() for f in frames])  # [process, cell]
    iqr = np.stack([((f["p75_ms"] - f["p25_ms"]) / f["median_ms"]).to_numpy() for f in frames])
    cv = med.std(axis=0) / med.mean(axis=0)
    ratio = med.max(axis=0) / med.min(axis=0)
    taus = [float(kendalltau(med[i], med[j]).statistic) for i, j in itertools.combinations(range(len(med)), 2)]
    print(json.dumps({
        "cells": int(args.cells), "processes": args.processes, "batch": args.batch, "repeats": args.repeats,
        "across_processes_cv_percent": {"median": float(np.median(cv) * 100), "p90": float(np.quantile(cv, 0.9) * 100)},
        "across_processes_max_over_min": {"median": float(np.median(ratio)), "max": float(ratio.max())},
        "within_process_iqr_over_median_percent": {"median": float(np.median(iqr) * 100),
                                                   "p90": float(np.quantile(iqr, 0.9) * 100)},
        "kendall_tau_between_processes": taus,
        "median_ms_range": [float(med.min()), float(med.max())],
    }, indent=2))


if __name__ == "__main__":
    main()
