"""Hardware-aware search: accuracy-latency fronts found by strategies vs the table's true front.

Latency of every cell comes from one source, stated in the output: the per-op LUT timed now on this
machine at the table's network shape (``--latency lut``, the default: predicted), a measured latency
folder (``--latency DIR``, from ``nasbench latency measure``; members take their class's timing) or a
column of a third-party device CSV (``--device-csv FILE --device COL``). Each strategy runs
``--seeds`` runs of ``--queries`` queries; the front of a run is the non-dominated set of the cells it
evaluated, scored with the table's mean-over-seeds validation accuracy at the last epoch, and its
hypervolume is divided by that of the true front of all cells (reference point: the table's lowest
accuracy and highest latency). Constrained mode (``--limit-quantile``): the final incumbent's accuracy
relative to the best feasible cell, and whether any incumbent broke the limit.

    python benchmarks/latency_search.py --table digits --seeds 10 --queries 100
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbench_suite.errors import NasBenchError  # noqa: E402
from nasbench_suite.latency import (  # noqa: E402
    LatencyError, LatencyMethod, check_same_network, config_of_table, import_device_csv, load_latency, measure_lut,
)
from nasbench_suite.pareto import hypervolume, non_dominated  # noqa: E402
from nasbench_suite.simulator import Budget, Oracle, run_search  # noqa: E402
from nasbench_suite.space import all_ops  # noqa: E402
from nasbench_suite.strategy import make_strategy  # noqa: E402
from nasbench_suite.table import load_table  # noqa: E402

STRATEGIES = {"random": {}, "rea": {}, "bananas": {"train_epochs": 100, "members": 3}, "nsga2": {"population": 20}}


def latency_source(args: argparse.Namespace, bench) -> tuple[np.ndarray, str]:  # type: ignore[no-untyped-def]
    if args.device_csv:
        devices = import_device_csv(args.device_csv)
        if args.device not in devices:
            raise LatencyError(f"--device must name a column of {args.device_csv}: {', '.join(sorted(devices))}")
        table = devices[args.device]
        return table.of(1), table.source
    if args.latency != "lut":
        table = load_latency(args.latency)
        check_same_network(table, args.latency, bench.manifest, bench.name)  # as search --latency does
        return table.of(args.batch), table.source
    lut = measure_lut(config_of_table(bench.manifest), LatencyMethod(batches=(args.batch,)), batch=args.batch)
    return lut.predict_ops(all_ops()), f"predicted by the per-op LUT timed now on this machine (batch {args.batch})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="digits")
    ap.add_argument("--latency", default="lut", help="lut or a latency folder")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device-csv")
    ap.add_argument("--device")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--limit-quantile", type=float, default=0.25)
    args = ap.parse_args()
    if args.seeds < 1 or args.queries < 1:
        ap.error(f"--seeds and --queries must be at least 1, got {args.seeds} and {args.queries}")
    if not 0 < args.limit_quantile <= 1:
        ap.error(f"--limit-quantile must be in (0, 1], got {args.limit_quantile}")

    try:
        bench = load_table(args.table)
        lat, source = latency_source(args, bench)
    except NasBenchError as exc:
        ap.error(str(exc))
    truth = bench.array("valid", "acc", epoch=bench.max_epoch)  # rows = bench.arch_indices
    truth_of = np.full(len(lat), np.nan)
    truth_of[bench.arch_indices] = truth
    ok = np.isfinite(truth_of) & np.isfinite(lat)
    ref_v, ref_t = float(truth_of[ok].min()), float(lat[ok].max())
    true_hv = hypervolume(truth_of[ok], lat[ok], ref_v, ref_t)
    true_front = int(non_dominated(truth_of[ok], lat[ok]).sum())
    limit = float(np.quantile(lat[ok], args.limit_quantile))
    best_feasible = float(truth_of[ok & (lat <= limit)].max())
    out = {"table": bench.name, "latency": source, "queries": args.queries, "seeds": args.seeds,
           "true_front_cells": true_front, "reference_point": [ref_v, ref_t], "strategies": {}}
    for name, settings in STRATEGIES.items():
        ratios = []
        for seed in range(args.seeds):
            oracle = Oracle(bench).with_latency(lat, source)
            tr = run_search(make_strategy(name, settings), oracle, Budget(queries=args.queries), seed=seed)
            seen = np.unique(tr.columns["arch_index"])
            ratios.append(hypervolume(truth_of[seen], lat[seen], ref_v, ref_t) / true_hv)
        row = {"hypervolume_ratio_mean": float(np.mean(ratios)), "hypervolume_ratio_std": float(np.std(ratios))}
        if name != "nsga2":
            gaps, broken = [], 0
            for seed in range(args.seeds):
                oracle = Oracle(bench).with_latency(lat, source, max_latency=limit)
                tr = run_search(make_strategy(name, settings), oracle, Budget(queries=args.queries), seed=seed)
                inc = tr.columns["incumbent_index"]
                broken += int((lat[inc[inc >= 0]] > limit).sum())
                final = tr.final_incumbent()
                gaps.append(best_feasible - truth_of[final] if final >= 0 else np.nan)
            row["constrained"] = {"limit_ms": limit, "mean_gap_to_best_feasible_valid_acc": float(np.nanmean(gaps)),
                                  "runs_without_feasible_incumbent": int(np.isnan(gaps).sum()),
                                  "incumbents_over_limit": broken}
        out["strategies"][name] = row
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
