"""Pre-evaluation: train cells under a protocol and turn the results into a table.

This first version trains with the plain reference trainer in a pool of single-threaded worker
processes (two one-thread processes beat one two-thread process on these small networks) and
collects everything in memory. Each result is a pure function of (protocol, arch, seed), so the
table does not depend on the number of workers.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Iterable, Sequence

import numpy as np

from .data import Dataset
from .errors import NasBenchError
from .model import analytic_flops
from .space import NUM_ARCHS, Arch, isomorphism_classes

_WORKER: dict[str, Any] = {}


class PreEvaluateError(NasBenchError, ValueError):
    """Bad arguments to a pre-evaluation run."""


def parse_archs(spec: str, rng_seed: int = 0) -> list[int]:
    """Arch selection: ``all``, ``classes`` (one representative per isomorphism class),
    ``sample:K`` (K class representatives drawn with ``rng_seed``), ``A-B`` (index range), ``i,j,k``."""
    iso = isomorphism_classes()
    if spec == "all":
        return list(range(NUM_ARCHS))
    if spec == "classes":
        return [int(r) for r in iso.representatives]
    if spec.startswith("sample:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            raise PreEvaluateError(f"bad arch selection {spec!r}: expected sample:K with an integer K") from None
        if not 1 <= k <= iso.num_classes:
            raise PreEvaluateError(f"sample:K needs 1 <= K <= {iso.num_classes}, got {k}")
        picked = np.random.default_rng(rng_seed).choice(iso.representatives, size=k, replace=False)
        return sorted(int(i) for i in picked)
    try:
        if "-" in spec:
            lo, hi = (int(x) for x in spec.split("-", 1))
            archs = list(range(lo, hi + 1))
        else:
            archs = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise PreEvaluateError(f"bad arch selection {spec!r}: use all, classes, sample:K, A-B or i,j,k") from None
    for a in archs:
        Arch.from_index(a)
    if not archs:
        raise PreEvaluateError(f"arch selection {spec!r} is empty")
    return archs


def _init_worker(protocol: "Protocol", data_dir: str | None) -> None:
    import torch

    from .train import load_protocol_data

    torch.set_num_threads(1)
    _WORKER["protocol"] = protocol
    _WORKER["data"] = load_protocol_data(protocol, data_dir)


def _run_one(job: tuple[int, int]) -> list[dict[str, Any]]:
    from .train import train_cell

    arch, seed = job
    records = train_cell(arch, _WORKER["data"], _WORKER["protocol"], seed)
    return [{"arch_index": arch, "seed": seed, "epoch": r.epoch, **r.metrics} for r in records]


def train_results(archs: Sequence[int], seeds: Sequence[int], protocol: "Protocol", data_dir: str | None = None,
                  workers: int = 1, progress: bool = True) -> "pd.DataFrame":
    """Train every (arch, seed) and return tidy rows (arch_index, seed, epoch, <split>_<measure>)."""
    import pandas as pd
    from tqdm import tqdm

    jobs = [(int(a), int(s)) for a in archs for s in seeds]
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs), unit="run", disable=not progress or not sys.stderr.isatty(), smoothing=0.05)
    if workers <= 1:
        _init_worker(protocol, data_dir)
        for job in jobs:
            rows.extend(_run_one(job))
            bar.update()
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(protocol, data_dir)) as pool:
            for out in pool.map(_run_one, jobs, chunksize=1):
                rows.extend(out)
                bar.update()
    bar.close()
    return pd.DataFrame(rows).sort_values(["arch_index", "seed", "epoch"], kind="stable").reset_index(drop=True)


def hardware() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "machine": platform.machine(),
            "torch": torch.__version__, "python": platform.python_version(), "device": "cpu"}


def with_cell_scalars(frame: "pd.DataFrame", protocol: "Protocol", data: Dataset) -> "pd.DataFrame":
    """Add per-arch params (from the real module's closed form) and FLOPs of the trained network."""
    from .model import analytic_params
    from .space import all_ops

    config = protocol.macro_config(data)
    ops = all_ops()[frame["arch_index"].to_numpy()]
    return frame.assign(params=analytic_params(ops, config), flops=analytic_flops(ops, config).astype(np.int64))


def table_metadata(protocol: "Protocol", data: Dataset, archs_spec: str, seeds: Iterable[int], workers: int,
                   wall_seconds: float, description: str) -> dict[str, Any]:
    import numpy
    import torch

    from . import __version__

    return {
        "description": description,
        "dataset": data.describe(),
        "protocol": protocol.to_dict(),
        "splits": {"train": "weights are fitted on it", "valid": "held out from the training images; "
                   "what search sees", "test": "the dataset's test images; read only by evaluation"},
        "selection": {"archs": archs_spec, "seeds": list(seeds)},
        "hardware": hardware(),
        "compute": {"wall_seconds": round(wall_seconds, 1), "workers": workers, "threads_per_worker": 1,
                    "trainer": "plain reference trainer (nasbench_suite.train.train_cell)"},
        "library_versions": {"nasbench_suite": __version__, "torch": torch.__version__, "numpy": numpy.__version__},
    }


def pre_evaluate(archs_spec: str, seeds: Sequence[int], protocol: "Protocol", out: str, data_dir: str | None = None,
                 workers: int = 1, description: str = "", overwrite: bool = False) -> "Benchmark":
    from .table import build_table
    from .train import load_protocol_data

    archs = parse_archs(archs_spec)
    data = load_protocol_data(protocol, data_dir)
    t0 = time.perf_counter()
    frame = train_results(archs, seeds, protocol, data_dir, workers)
    wall = time.perf_counter() - t0
    frame = with_cell_scalars(frame, protocol, data)
    meta = table_metadata(protocol, data, archs_spec, seeds, workers, wall, description)
    return build_table(frame, out, metadata=meta, overwrite=overwrite)
