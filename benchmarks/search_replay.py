"""Replay RS, REA, REINFORCE and BOHB under the NAS-Bench-201 protocol, 500 seeds each.

Protocol: search on NB201's 12-epoch (hp=12) cifar10-valid validation accuracy with a simulated
budget of 12,000 s (strict: no query may end past it), one worker; report the 200-epoch CIFAR-10 test
accuracy of each run's final incumbent. The tables are built from the reference files
(``../shared/reference`` by default; never committed) into a temporary folder, or read from
``--tables DIR`` (built there on first use).

Prints the wall time of all runs (processes included), queries per second, and the mean +- std of
the final test accuracy per strategy; then, side by side in one process, the harness against a
plain NumPy loop that replays the same RS and REA runs (a lower bound on the cost of a replay).

    python benchmarks/search_replay.py [--seeds 500] [--workers 2] [--tables DIR] [--ref-dir DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbench_suite.evaluation import EvalSpec  # noqa: E402
from nasbench_suite.reference import build_reference_tables  # noqa: E402
from nasbench_suite.search import SearchSpec, run_many  # noqa: E402
from nasbench_suite.simulator import Budget  # noqa: E402
from nasbench_suite.space import NUM_ARCHS, NUM_EDGES, NUM_OPS, Arch  # noqa: E402
from nasbench_suite.table import load_table  # noqa: E402

STRATEGIES = ("random", "rea", "reinforce", "bohb")
BUDGET = 12_000.0


def tables(args: argparse.Namespace, scratch: Path, parser: argparse.ArgumentParser) -> tuple[Path, Path]:
    folder = Path(args.tables) if args.tables else scratch
    hp12, hp200 = folder / "nb201-cifar10-hp12", folder / "nb201-cifar10-hp200"
    if not (hp12.is_dir() and hp200.is_dir()):
        ref = Path(args.ref_dir)
        if not ref.is_dir():
            parser.error(f"no reference files at {ref} (pass --ref-dir) and no tables at {folder}")
        t = time.perf_counter()
        build_reference_tables(ref, folder, "cifar10", overwrite=True)
        print(f"built the reference tables in {folder} ({time.perf_counter() - t:.1f} s, not counted below)")
    return hp12, hp200


def plain_loop(value: np.ndarray, cost: np.ndarray, seeds: range, rea: bool) -> np.ndarray:
    """RS or REA (population 10, sample 3, node-then-edge) with nothing but arrays and a loop."""
    place = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)
    node_edges = ((0,), (1, 2), (3, 4, 5))
    best = np.empty(len(seeds), dtype=np.int64)
    for k, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        spent, top, top_v = 0.0, -1, -np.inf
        pop: deque = deque(maxlen=10)
        n = 0
        while True:
            if rea and n >= 10:
                picks = rng.integers(len(pop), size=3)
                ops = list(max((pop[i] for i in picks), key=lambda m: m[0])[1])
                edges = node_edges[int(rng.integers(3))]
                e = edges[int(rng.integers(len(edges)))]
                op = int(rng.integers(NUM_OPS - 1))
                ops[e] = op + (op >= ops[e])
            else:
                ops = rng.integers(0, NUM_OPS, size=NUM_EDGES).tolist()
            a = int(np.dot(ops, place))
            spent += cost[a]
            if spent > BUDGET:
                break
            v = value[a]
            pop.append((v, ops))
            n += 1
            if v > top_v:
                top, top_v = a, v
        best[k] = top
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--tables", help="folder holding (or to hold) nb201-cifar10-hp12 and -hp200")
    parser.add_argument("--ref-dir", default=str(ROOT.parent / "shared" / "reference"))
    parser.add_argument("--baseline-seeds", type=int, default=300, help="runs of RS and of REA for the side-by-side")
    args = parser.parse_args()
    if min(args.seeds, args.workers, args.baseline_seeds) < 1:
        parser.error("--seeds, --workers and --baseline-seeds must be at least 1")
    with tempfile.TemporaryDirectory() as scratch:
        hp12, hp200 = tables(args, Path(scratch), parser)
        specs = [SearchSpec(str(hp12), s, Budget(seconds=BUDGET, overrun="strict")) for s in STRATEGIES]
        evaluation = EvalSpec(str(hp200), "test", "acc", 200)
        load_table(hp12), load_table(hp200)  # warm the page cache: time the replay, not the disk
        t = time.perf_counter()
        results = run_many(specs, range(args.seeds), processes=args.workers, evaluation=evaluation)
        wall = time.perf_counter() - t
        queries = sum(len(r.frame) for r in results)
        where = f"{args.workers} processes, their start" if args.workers > 1 else "in this process"
        print(f"\nNB201 protocol: search hp=12 cifar10-valid valid acc, {BUDGET:,.0f} s simulated budget (strict), "
              f"1 worker; report 200-epoch CIFAR-10 test acc of the final incumbent")
        print(f"{len(STRATEGIES)} strategies x {args.seeds} seeds = {len(STRATEGIES) * args.seeds} runs, "
              f"{queries:,} queries in {wall:.2f} s wall ({where}, evaluation included): {queries / wall:,.0f} queries/s")
        print(f"{'strategy':<10} {'queries/run':>11} {'test acc (mean +- std)':>24} {'strategy s/run':>15} "
              f"{'run wall s':>11}")
        for r in results:
            final = r.final()["incumbent_test_acc"]
            print(f"{r.manifest['strategy']['name']:<10} {len(r.frame) / args.seeds:>11.1f} "
                  f"{final.mean():>15.2f} +- {final.std(ddof=0):.2f} "
                  f"{r.timing['strategy_seconds_per_run_mean'] * 1e3:>12.2f} ms {r.timing['run_wall_seconds_sum']:>10.2f}")

        # side by side in this process: the harness vs a plain loop, same RS and REA runs
        bench = load_table(hp12)
        value = np.full(NUM_ARCHS, np.nan)
        value[bench.arch_indices] = bench.array("valid", "acc", epoch=12)
        cost = np.full(NUM_ARCHS, np.nan)
        cost[bench.arch_indices] = [bench.train_cost(int(a), epoch=12) + bench.eval_cost(int(a), epoch=12)
                                    for a in bench.arch_indices]
        seeds = range(args.baseline_seeds)
        t = time.perf_counter()
        for rea in (False, True):
            plain_loop(value, cost, seeds, rea)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        run_many(specs[:2], seeds, processes=1, evaluation=None)
        harness = time.perf_counter() - t
        t = time.perf_counter()  # what a call costs whatever its seeds: the plain loop's setup is not timed either
        run_many(specs[:2], range(1), processes=1, evaluation=None)
        one_seed = time.perf_counter() - t
        print(f"\n{2 * len(seeds)} RS + REA runs in one process: plain NumPy loop {plain:.3f} s, harness {harness:.3f} s "
              f"(ratio {harness / plain:.2f}; the harness adds budgets, CRN, trajectories, async workers, and per call "
              f"its table load and the manifest's source hashes: a call of 1 seed took {one_seed:.3f} s)")
        arch = Arch.from_index(int(np.nanargmax(value)))
        print(f"(best hp=12 valid cell: {arch}, valid {np.nanmax(value):.2f})")


if __name__ == "__main__":
    main()
