"""Does the order cells are timed in matter? The same cells timed in several passes in one process,
alternating index order and shuffled order (a new seed each shuffled pass).

Per pass and cell: log of the median (and of the min) over ``--repeats`` calls. A cell's own latency
is estimated by its mean over the shuffled passes other than the pass at hand (their drift does not
follow the index); a pass's residual is what is left (drift of the machine plus noise). Reported per pass: Spearman between the timing position and the residual (drift inside
the pass), Spearman between the arch index and the residual (what index order turns into a bias
that follows the ops), the spread of the mean residual across edge 0's five ops (index order sorts
cells by edge 0's op first), and the Spearman between the arch index and the residual of a ridge
fit on the one-hot ops within the pass alone (what one folder on its own would show). Also: Kendall
tau between the passes' rankings. ``--passes`` must be at least 4 (two shuffled passes: each is
compared with the others); a statistic that cannot be computed (an edge-0 op none of the cells has,
a constant column) is null in the JSON.

    python benchmarks/latency_order.py --table digits --cells 300 --repeats 30 --passes 6
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbench_suite.encodings import encode  # noqa: E402
from nasbench_suite.errors import NasBenchError  # noqa: E402
from nasbench_suite.latency import (LatencyMethod, TimingOrder, config_of_table, fingerprint,  # noqa: E402
                                    measure_arch, torch_threads)
from nasbench_suite.space import Arch, all_ops, isomorphism_classes  # noqa: E402
from nasbench_suite.table import load_table  # noqa: E402


def ridge_residual(y: np.ndarray, cells: np.ndarray, alpha: float = 1e-3) -> np.ndarray:
    """y minus a ridge fit on the one-hot encoding of the cells' six ops (with intercept)."""
    x = encode(cells, "onehot").astype(np.float64)
    x = np.hstack([np.ones((len(cells), 1)), x])
    coef = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    return y - x @ coef


def finite(x: float) -> float | None:
    """``x`` as a float, or None where it is NaN (JSON has no NaN)."""
    return float(x) if np.isfinite(x) else None


def main() -> None:
    from scipy.stats import kendalltau, spearmanr

    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="digits")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--cells", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--passes", type=int, default=6, help="alternating index, shuffled, index, ...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the per-pass timings and the summary here (JSON)")
    args = ap.parse_args()
    if args.passes < 4:
        ap.error(f"--passes must be at least 4 (two shuffled passes), got {args.passes}")
    if args.cells < 2:
        ap.error(f"--cells must be at least 2, got {args.cells}")
    try:
        config = config_of_table(load_table(args.table).manifest)
        method = LatencyMethod(batches=(args.batch,), warmup=args.warmup, repeats=args.repeats, threads=args.threads)
    except NasBenchError as exc:
        ap.error(str(exc))
    reps = isomorphism_classes().representatives
    cells = np.sort(np.random.default_rng(args.seed).choice(reps, size=args.cells, replace=False)).astype(int)
    ops = all_ops()[cells].astype(np.int64)
    orders = [TimingOrder("index", None) if p % 2 == 0 else TimingOrder("shuffled", args.seed + p)
              for p in range(args.passes)]
    median = np.full((args.passes, len(cells)), np.nan)
    minimum = np.full_like(median, np.nan)
    position = np.full_like(median, np.nan)
    col = {int(c): k for k, c in enumerate(cells)}
    load = [os.getloadavg()[0]]
    started = time.perf_counter()
    seconds = []
    with torch_threads(args.threads):
        for p, order in enumerate(orders):
            t0 = time.perf_counter()
            for pos, a in enumerate(order.arrange(cells.tolist())):
                stats = measure_arch(Arch.from_index(a), config, method)[args.batch]
                median[p, col[a]], minimum[p, col[a]], position[p, col[a]] = stats["median_ms"], stats["min_ms"], pos
            seconds.append(time.perf_counter() - t0)
            load.append(os.getloadavg()[0])

    shuffled = [p for p, o in enumerate(orders) if o.kind == "shuffled"]

    def summary(values: np.ndarray) -> list[dict]:
        logv = np.log(values)
        # a cell's own latency: the mean of the shuffled passes (their drift does not follow the index),
        # leaving out the pass itself
        resid = np.stack([logv[p] - logv[[q for q in shuffled if q != p]].mean(axis=0) for p in range(len(orders))])
        rows = []
        for p, order in enumerate(orders):
            by_edge0 = [resid[p, ops[:, 0] == k].mean() for k in range(5) if (ops[:, 0] == k).any()]
            rows.append({
                "pass": p, "order": order.kind if order.kind == "index" else f"shuffled:{order.seed}",
                "seconds": round(seconds[p], 2), "mean_ms": float(values[p].mean()),
                "spearman_position_residual": finite(spearmanr(position[p], resid[p]).statistic),
                "spearman_index_residual": finite(spearmanr(cells, resid[p]).statistic),
                "edge0_op_residual_spread_percent": finite((np.exp(max(by_edge0) - min(by_edge0)) - 1) * 100)
                if len(by_edge0) > 1 else None,
                "spearman_index_ridge_residual_within_pass": finite(
                    spearmanr(cells, ridge_residual(logv[p], cells)).statistic),
            })

        def mean_of(picked: list[dict], key: str, absolute: bool) -> float | None:
            got = [abs(r[key]) if absolute else r[key] for r in picked if r[key] is not None]
            return float(np.mean(got)) if got else None

        for kind in ("index", "shuffled"):
            picked = [r for r in rows if r["order"].split(":")[0] == kind]
            rows.append({"order": f"mean over {kind} passes", **{k: mean_of(picked, k, True)
                         for k in ("spearman_index_residual", "spearman_position_residual")},
                         "edge0_op_residual_spread_percent": mean_of(picked, "edge0_op_residual_spread_percent", False),
                         "of": "absolute values"})
        return rows

    taus = {f"{i}-{j}": finite(kendalltau(median[i], median[j]).statistic)
            for i, j in itertools.combinations(range(args.passes), 2)}
    result = {
        "fingerprint": fingerprint("cpu", args.threads), "config": config.to_dict(), "method": method.to_dict(),
        "cells": int(len(cells)), "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average_1min": [round(x, 2) for x in load],
        "median_ms": summary(median), "min_ms": summary(minimum), "kendall_tau_medians": taus,
    }
    text = json.dumps(result, indent=2, allow_nan=False)
    print(text)
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "cell_indices": cells.tolist(), "medians": median.tolist(),
                                              "minima": minimum.tolist()}) + "\n")


if __name__ == "__main__":
    main()
