"""Latency predictors against live measurements of cells they did not see, and the measuring rate.

Measures ``--cells`` isomorphism-class representatives (a seeded sample) on this machine with the
table's network shape into a latency folder (resumable: ``--out``), times the per-op LUT at the same
shape, fits XGBoost (one-hot encoding) on ``--train`` of the measured cells, and reports Kendall tau
and MAPE on the remaining cells of: the LUT as timed, the LUT calibrated by a least-squares
``a + b * LUT`` on the training cells, ridge regression on the one-hot encoding, and XGBoost on
log latency. Also prints seconds per cell and the projected
time to measure all 6,466 classes with this method, from the cells measured by this run (null when
a resumed ``--out`` already held them all: ``measured_now`` says how many were measured).

    python benchmarks/latency_predictors.py --table digits --batch 1 --cells 300 --train 200 [--out DIR]
    python benchmarks/latency_predictors.py --shape 16,5,32,3 --cells 200 --train 150   # NAS-Bench-201's network

Timings taken on a loaded machine are noisy: say so when quoting them.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbench_suite.errors import NasBenchError  # noqa: E402
from nasbench_suite.latency import (  # noqa: E402
    STATS, LatencyMethod, LatencyStore, config_of_table, kendall_and_mape, measure_lut,
)
from nasbench_suite.model import MacroConfig  # noqa: E402
from nasbench_suite.predictors import RidgePredictor, XGBoostPredictor  # noqa: E402
from nasbench_suite.space import isomorphism_classes  # noqa: E402
from nasbench_suite.table import load_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="digits")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--cells", type=int, default=300)
    ap.add_argument("--train", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stat", default="median_ms", choices=STATS,
                    help="median_ms (default) or min_ms (robust on a busy machine)")
    ap.add_argument("--out", help="latency folder (default: a temporary one)")
    ap.add_argument("--shape", metavar="C,N,R,IN", help="time another network shape than the table's, e.g. "
                    "16,5,32,3 for NAS-Bench-201's (channels, cells per stage, resolution, input channels)")
    args = ap.parse_args()
    if args.train < 2:
        ap.error(f"--train must be at least 2, got {args.train}")
    if args.cells - args.train < 2:
        ap.error(f"--train must leave at least 2 of the --cells for testing, got --train {args.train} "
                 f"of --cells {args.cells}")
    try:
        config = config_of_table(load_table(args.table).manifest)
        if args.shape:
            c, n, r, k = (int(x) for x in args.shape.split(","))
            config = MacroConfig(channels=c, cells=n, resolution=r, in_channels=k, num_classes=config.num_classes)
        method = LatencyMethod(batches=(args.batch,), repeats=args.repeats, threads=args.threads)
    except (NasBenchError, ValueError) as exc:  # a setting the library refuses, or a --shape not four integers
        ap.error(str(exc) if isinstance(exc, NasBenchError) else f"--shape must be C,N,R,IN integers: {exc}")
    reps = isomorphism_classes().representatives
    cells = np.sort(np.random.default_rng(args.seed).choice(reps, size=args.cells, replace=False))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="latency-"))
    with LatencyStore(out, config, method) as store:
        info = store.measure([int(c) for c in cells])
        frame = store.frame()
        fp = store.fingerprint
    # the measuring rate of the cells this run timed; none when a resumed folder already held them all
    per_cell = info["wall_seconds"] / info["measured"] if info["measured"] else None
    measured = frame.set_index("arch_index")[args.stat].reindex(cells).to_numpy()

    t0 = time.perf_counter()
    lut = measure_lut(config, method, batch=args.batch, stat=args.stat)
    lut_seconds = time.perf_counter() - t0
    order = np.random.default_rng([args.seed, 1]).permutation(len(cells))
    train, test = order[: args.train], order[args.train:]
    xgb = XGBoostPredictor(seed=args.seed).fit(cells[train], np.log(measured[train]))
    ridge = RidgePredictor(alpha=1e-3).fit(cells[train], measured[train])
    lut_all = lut.predict(cells)
    slope, intercept = np.polyfit(lut_all[train], measured[train], 1)  # a + b * LUT, fitted on the train cells
    result = {
        "statistic": args.stat, "fingerprint": fp, "config": config.to_dict(), "method": method.to_dict(), "folder": str(out),
        "measured_cells": int(len(cells)), "measured_now": int(info["measured"]), "seconds_per_cell": per_cell,
        "projected_hours_all_classes": None if per_cell is None else per_cell * len(reps) / 3600,
        "lut_seconds": lut_seconds,
        "lut": kendall_and_mape(lut.predict(cells[test]), measured[test]),
        "lut_calibrated": {"slope": float(slope), "intercept_ms": float(intercept),
                           **kendall_and_mape(intercept + slope * lut_all[test], measured[test])},
        "ridge_onehot": kendall_and_mape(ridge.predict(cells[test]), measured[test]),
        "xgboost_log_target": {"train_cells": int(len(train)),
                               **kendall_and_mape(np.exp(xgb.predict(cells[test])), measured[test])},
        "measured_ms": {"min": float(measured.min()), "median": float(np.median(measured)),
                        "max": float(measured.max())},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
