"""Summarize `nasbench darts` result folders as a markdown table (final epoch of every run).

    PYTHONPATH=. python reports/weight_sharing/summarize.py reports/weight_sharing/digits/*/
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nasbench_suite.space import OPS


def main(folders: list[str]) -> None:
    print("| method | final cell's table test acc (mean +- std) | runs | measured search s/run | op mix of the final cells "
          f"({'/'.join(OPS)}) | skip edges per cell, epoch 1 -> last |")
    print("| --- | --- | --- | --- | --- | --- |")
    for folder in folders:
        frame = pd.read_parquet(Path(folder) / "trajectories.parquet")
        final = frame.groupby("seed").tail(1)
        first = frame[frame["step"] == 0]
        mix = "/".join(str(int(final[f"ops_{op}"].sum())) for op in OPS)
        print(f"| {frame['strategy'].iloc[0]} | {final['incumbent_test_acc'].mean():.2f} +- "
              f"{final['incumbent_test_acc'].std(ddof=0):.2f} | {len(final)} | {final['measured_time'].mean():.1f} | {mix} | "
              f"{first['ops_skip_connect'].mean():.2f} -> {final['ops_skip_connect'].mean():.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
