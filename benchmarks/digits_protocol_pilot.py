"""Pilot for the digits protocol: how well do candidate protocols separate cells, and at what cost?

Trains the same uniformly drawn isomorphism-class representatives with two seeds under each
candidate protocol (with the batched engine, in one-thread worker processes) and prints, per
protocol: the spread of final valid accuracy (mean over seeds), the Kendall tau between the two
seeds' final valid accuracies (and valid losses) and the measured training seconds per cell.

    python benchmarks/digits_protocol_pilot.py [--archs 48] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau

from nasbench_suite.engine import train_shard
from nasbench_suite.pre_evaluate import parse_archs
from nasbench_suite.train import Protocol, load_protocol_data

CANDIDATES = {
    "C8 N1 10ep": Protocol(dataset="digits", channels=8, cells=1, epochs=10),
    "C8 N1 4ep": Protocol(dataset="digits", channels=8, cells=1, epochs=4),
    "C8 N1 10ep lr0.025": Protocol(dataset="digits", channels=8, cells=1, epochs=10, lr=0.025),
    "C8 N1 10ep 400 train": Protocol(dataset="digits", channels=8, cells=1, epochs=10, train_subset=400),
    "C8 N1 6ep 400 train": Protocol(dataset="digits", channels=8, cells=1, epochs=6, train_subset=400),
}


def _run(job: tuple[Protocol, list[int], int]) -> list[dict]:
    protocol, archs, seed = job
    torch.set_num_threads(1)
    data = load_protocol_data(protocol)
    out = train_shard(archs, data, protocol, seed)
    return [{"arch": a, "seed": seed, "valid_acc": r[-1].metrics["valid_acc"], "valid_loss": r[-1].metrics["valid_loss"],
             "seconds": sum(e.metrics["train_seconds"] for e in r)} for a, r in out.items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=48)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    archs = parse_archs(f"sample:{args.archs}", rng_seed=1)
    rows = []
    for name, protocol in CANDIDATES.items():
        half = len(archs) // 2
        jobs = [(protocol, part, seed) for seed in (0, 1) for part in (archs[:half], archs[half:])]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            frame = pd.DataFrame([r for out in pool.map(_run, jobs) for r in out])
        wall = time.perf_counter() - t0
        acc = frame.pivot(index="arch", columns="seed", values="valid_acc")
        loss = frame.pivot(index="arch", columns="seed", values="valid_loss")
        mean = acc.mean(axis=1)
        rows.append({"protocol": name, "min": mean.min(), "median": mean.median(), "max": mean.max(), "std": mean.std(),
                     "tau acc": kendalltau(acc[0], acc[1])[0], "tau loss": kendalltau(loss[0], loss[1])[0],
                     "s/cell": frame["seconds"].mean(), "wall s": wall})
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False, header=len(rows) == 1), flush=True)


if __name__ == "__main__":
    main()
