"""Checks, here and at no device time, that a lent-GPU table call (gpu_session.sh table) can work:

1. no process is writing the run folder (a CPU run of it must stop first: both would train the same units);
2. ``data_local/`` holds a dataset file that loads as the run's recorded dataset (``nasbench data pack``);
3. what the call carries (tracked files, untracked files git does not ignore, and ``data_local/``) fits in
   the 64 MiB a device call takes.

    python reports/protocol_pilot/gpu_preflight.py [--mode table|speed] [--run benchmarks_data/runs/cifar10-16px] [--carry data_local]

``--mode speed`` checks only the pack (the speed figures' small one) and the size.

Prints one line per check and the device call to make; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from nasbench_suite.errors import NasBenchError
from nasbench_suite.pre_evaluate import RunSpec, read_run_file
from nasbench_suite.run_lock import run_lock
from nasbench_suite.train import Protocol, load_protocol_data

CARRY_LIMIT = 64 * 2**20  # bytes a device call carries: the working tree and the carried paths


def _git_files(*args: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", *args], check=True, capture_output=True).stdout
    return [Path(p) for p in out.decode().split("\0") if p]


def carried_bytes(carry: Path) -> int:
    files = _git_files() + _git_files("--others", "--exclude-standard")
    files += [p for p in carry.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default="benchmarks_data/runs/cifar10-16px", type=Path)
    ap.add_argument("--carry", default="data_local", type=Path)
    ap.add_argument("--mode", choices=["table", "speed"], default="table",
                    help="the gpu_session.sh mode to check for (speed: the engine's GPU figures and GPU latency)")
    args = ap.parse_args()
    failed = False

    def check(ok: bool, text: str) -> None:
        nonlocal failed
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {text}")

    if args.mode == "speed":
        try:
            load_protocol_data(Protocol(dataset="cifar10-16px", train_subset=2560, valid_subset=2560), str(args.carry))
            check(True, f"{args.carry} holds the speed figures' data (cifar10-16px, 2,560 train and valid images)")
        except NasBenchError as exc:
            check(False, f"{exc} (nasbench data pack --dataset cifar10-16px --train-subset 2560 --valid-subset 2560 "
                         f"--data-dir DIR --out {args.carry})")
        size = carried_bytes(args.carry)
        check(size <= CARRY_LIMIT, f"a call carries {size / 2**20:.1f} MiB of its {CARRY_LIMIT / 2**20:.0f} MiB")
        if not failed:
            print(f'device: run(command="LATENCY_S=240 bash reports/protocol_pilot/gpu_session.sh speed 300", '
                  f'carry=["{args.carry}"], timeout_s=600)')
        return 1 if failed else 0
    try:
        with run_lock(args.run, "gpu_preflight.py"):
            pass
        check(True, f"no process is writing {args.run}")
    except NasBenchError as exc:
        check(False, str(exc))
    recorded = read_run_file(args.run)
    try:
        loaded = load_protocol_data(RunSpec.from_identity(recorded["identity"]).protocol, str(args.carry)).describe()
        check(loaded == recorded["dataset"], f"{args.carry} holds the run's dataset (sha256 "
              f"{recorded['dataset']['sha256'][:12]}, the same splits and normalization)" if loaded == recorded["dataset"]
              else f"{args.carry} holds another dataset than the run's: write it with nasbench data pack --protocol "
                   f"{args.run}/run.json --data-dir DIR --out {args.carry}")
    except NasBenchError as exc:
        check(False, f"{exc} (nasbench data pack --protocol {args.run}/run.json --data-dir DIR --out {args.carry})")
    size = carried_bytes(args.carry)
    check(size <= CARRY_LIMIT, f"a call carries {size / 2**20:.1f} MiB of its {CARRY_LIMIT / 2**20:.0f} MiB")
    if not failed:
        print(f'device: run(command="bash reports/protocol_pilot/gpu_session.sh table 420", carry=["{args.carry}"], '
              "timeout_s=600)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
