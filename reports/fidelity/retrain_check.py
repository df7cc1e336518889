"""Retrain committed shards of a run on this machine and compare with what the run recorded.

    python reports/fidelity/retrain_check.py --run benchmarks_data/runs/cifar10-16px \
        --shard seed0/04688-04767.csv --shard seed0/13061-13106.csv \
        --data-dir ../shared/datasets --out reports/fidelity/retrain_check

Each shard is retrained as the run trained it: the same cells in the same order (so the engine pairs
the same partners), the same seed, the run's protocol and the batch size of the session that wrote
it, one torch thread, by ``nasbench pre-evaluate`` into a scratch run folder (up to ``--workers``
shards at a time). The report says, per shard, on which CPU it was first trained and on which it was
retrained, how many of its numbers came out identical, and how far the final valid accuracies moved,
next to how far the run's two seeds of the same cells are apart (the run's own noise level).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from nasbench_suite.pre_evaluate import hardware
from nasbench_suite.report.build import md_table

METRICS = ["train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc"]


def session_of(run: Path, shard: str) -> dict:
    """The session record that wrote ``shard`` (``seedS/A-B.csv``)."""
    for path in sorted((run / "sessions").glob("*.json")):
        record = json.loads(path.read_text())
        if shard in record.get("units", []):
            return record
    raise SystemExit(f"error: no session of {run} lists {shard} among the shards it wrote")


def retrain(run: Path, shard: str, recorded: pd.DataFrame, batch_cells: int, data_dir: str | None,
            scratch: Path) -> pd.DataFrame:
    """The shard's cells retrained on this machine, rows as in the shard file."""
    archs = sorted(recorded["arch_index"].unique())
    seed = int(recorded["seed"].iloc[0])
    out = scratch / shard.replace("/", "_").removesuffix(".csv")
    cmd = ["nasbench", "pre-evaluate", "--protocol", str(run / "run.json"), *(["--data-dir", data_dir] if data_dir else []),
           "--archs", ",".join(map(str, archs)), "--seeds", str(seed), "--shard-size", str(len(archs)),
           "--batch-cells", str(batch_cells), "--workers", "1", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: retraining {shard} failed:\n{done.stderr.strip()}")
    (again,) = list((out / "shards").rglob("*.csv"))
    return pd.read_csv(again)


def compare(run: Path, shard: str, recorded: pd.DataFrame, again: pd.DataFrame, session: dict) -> dict:
    key = ["arch_index", "seed", "epoch"]
    both = recorded.merge(again, on=key, suffixes=("", "_again"), validate="one_to_one")
    if len(both) != len(recorded):
        raise SystemExit(f"error: the retrained {shard} has {len(again)} rows, the recorded one {len(recorded)}")
    same = sum(int((both[m] == both[f"{m}_again"]).sum()) for m in METRICS)
    last = both[both["epoch"] == both["epoch"].max()]
    moved = (last["valid_acc"] - last["valid_acc_again"]).abs()
    seed = int(recorded["seed"].iloc[0])
    other = run / "shards" / f"seed{1 - seed}" / Path(shard).name
    seed_gap = float("nan")
    if seed in (0, 1) and other.exists():
        o = pd.read_csv(other)
        pair = last.merge(o[o["epoch"] == o["epoch"].max()], on=["arch_index", "epoch"], suffixes=("", "_other"))
        seed_gap = float((pair["valid_acc"] - pair["valid_acc_other"]).abs().mean())
    return {"shard": shard, "cells": int(last["arch_index"].nunique()), "trained on": session["hardware"].get("cpu"),
            "session": session["id"], "identical numbers": f"{same} of {len(both) * len(METRICS)}",
            "final valid acc moved (mean, points)": round(float(moved.mean()), 3),
            "moved (max)": round(float(moved.max()), 3),
            "seed0 vs seed1 (mean, points)": round(seed_gap, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="run folder (run.json, shards/, sessions/)")
    ap.add_argument("--shard", action="append", required=True, help="a shard file under shards/, e.g. seed0/A-B.csv")
    ap.add_argument("--data-dir", help="the dataset's folder (not needed for digits)")
    ap.add_argument("--workers", type=int, default=2, help="shards retrained at a time (one thread each)")
    ap.add_argument("--out", type=Path, required=True, help="folder for report.md")
    args = ap.parse_args(argv)
    for shard in args.shard:
        if not (args.run / "shards" / shard).is_file():
            raise SystemExit(f"error: {args.run / 'shards' / shard} is not a shard file")
    sessions = {s: session_of(args.run, s) for s in args.shard}
    recorded = {s: pd.read_csv(args.run / "shards" / s) for s in args.shard}
    if any("batch_cells" not in r["hardware"] for r in sessions.values()):
        raise SystemExit("error: a session of this run does not record its engine batch size (an older run folder)")
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max(1, args.workers)) as pool:
        agains = list(pool.map(lambda s: retrain(args.run, s, recorded[s], int(sessions[s]["hardware"]["batch_cells"]),
                                                 args.data_dir, Path(tmp)), args.shard))
    rows = pd.DataFrame([compare(args.run, s, recorded[s], a, sessions[s]) for s, a in zip(args.shard, agains)])
    here = hardware()
    args.out.mkdir(parents=True, exist_ok=True)
    text = ("# Committed shards retrained on this machine\n\n"
            f"Made by `python {' '.join(sys.argv)}`.\n"
            f"Retrained on: {here['cpu']} ({here['logical_cpus']} logical CPUs), torch {here['torch']}, one thread "
            "per shard, the cells of each shard in the run's order and engine batch size.\n"
            f"\"Identical numbers\" counts the per-epoch {', '.join(METRICS)} that came out equal to the last bit.\n\n"
            + md_table(rows) + "\n")
    (args.out / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
