"""Checks, here and at no device time, that a lent-GPU table call (gpu_session.sh table) can work:

1. no process is writing the run folder (a CPU run of it must stop first: both would train the same units);
2. ``data_local/`` holds a dataset file that loads as the run's recorded dataset (``nasbench data pack``);
3. what the call carries (tracked files, untracked files git does not ignore, and ``data_local/``) fits in
   the 64 MiB a device call takes;
4. (``--mode speed``) the scripts the call runs import in a fresh interpreter where the packages the
   device lacks (:data:`DEVICE_LACKS`) cannot be imported: an import of one at the top of a module
   would end the call there, its device time spent.

    python reports/protocol_pilot/gpu_preflight.py [--mode table|speed] [--run benchmarks_data/runs/cifar10-16px] [--carry data_local]

``--mode speed`` checks the pack (the speed figures' small one), the size and the imports.

Prints one line per check and the device call to make; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from nasbench_suite.errors import NasBenchError
from nasbench_suite.pre_evaluate import RunSpec, read_run_file
from nasbench_suite.run_lock import run_lock
from nasbench_suite.train import Protocol, load_protocol_data

CARRY_LIMIT = 64 * 2**20  # bytes a device call carries: the working tree and the carried paths
DEVICE_LACKS = ("xgboost", "scikit_posthocs")
"""Packages this project uses that the lent GPU machines' image does not hold (its package list, read
2026-11-17: torch 2.11, numpy, pandas, pyarrow, scikit-learn, scipy, matplotlib, seaborn, tqdm are there)."""
SPEED_IMPORTS = ("benchmarks/pre_evaluate_speed.py", "nasbench_suite.cli", "nasbench_suite.latency",
                 "nasbench_suite.backends", "nasbench_suite.table")
"""What ``gpu_session.sh speed`` runs: the speed script (and its workers' task), ``nasbench latency measure``."""


def imports_without(targets: tuple[str, ...], lacking: tuple[str, ...]) -> str | None:
    """None when every target (a module name, or a script path run as a module, not as ``__main__``)
    imports in a fresh interpreter in which ``lacking`` cannot be imported; else the error's last line."""
    code = ("import importlib, runpy, sys\n"
            f"for name in {list(lacking)!r}:\n    sys.modules[name] = None\n"
            f"for target in {list(targets)!r}:\n"
            "    runpy.run_path(target, run_name='imported') if target.endswith('.py') "
            "else importlib.import_module(target)\n")
    root = Path(__file__).resolve().parents[2]  # this checkout: its package and its scripts
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env)
    if out.returncode == 0:
        return None
    lines = out.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {out.returncode}"


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
        error = imports_without(SPEED_IMPORTS, DEVICE_LACKS)
        check(error is None, f"the call's scripts import without {', '.join(DEVICE_LACKS)} (not on the device)"
              if error is None else f"the call's scripts need what the device lacks: {error}")
        if not failed:
            print(f'device: run(command="LATENCY_S=180 bash reports/protocol_pilot/gpu_session.sh speed 240", '
                  f'carry=["{args.carry}"], timeout_s=480)')
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
