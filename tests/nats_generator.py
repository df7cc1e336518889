"""Test utility: write a synthetic NATS-Bench tss "simple" folder in the official layout
(``meta.pickle.pbz2`` + ``%06d.pickle.pbz2`` per arch), with the structure of the real records
(ArchResults / ResultsCount state dicts, the same keys, seeds and per-epoch availability) and random
values. Used by tests (a few archs) and by ``benchmarks/nats_import.py`` (all 15,625).

The NB201 index order of a generated folder is a seeded permutation of our index order, not NB201's.
"""
from __future__ import annotations

import bz2
import collections
import functools
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_suite.space import NUM_ARCHS, Arch

DATASET_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("ori-test", "x-valid", "x-test"), "ImageNet16-120": ("ori-test", "x-valid", "x-test")}
FINAL_ONLY_AT_200 = {"cifar10-valid": ("ori-test",), "cifar100": ("x-valid", "x-test"),
                     "ImageNet16-120": ("x-valid", "x-test")}


@functools.lru_cache(maxsize=8)
def _order(seed: int) -> tuple[str, ...]:
    perm = np.random.default_rng(seed).permutation(NUM_ARCHS)
    return tuple(str(Arch.from_index(int(i))) for i in perm)


def nb201_order(seed: int = 0) -> list[str]:
    """meta_archs of a generated folder: arch strings in a seeded permutation (made once per seed in a
    process, about 0.15 s: the meta file and every arch file written read it; a new list each call)."""
    return list(_order(seed))


def _result(rng: np.random.Generator, dataset: str, seed: int, epochs: int, arch_str: str) -> dict[str, Any]:
    curve = lambda lo, hi: {i: float(v) for i, v in enumerate(np.sort(rng.uniform(lo, hi, epochs)))}  # noqa: E731
    train_time = float(rng.uniform(2, 30))
    accs, losses, times = {}, {}, {}
    for name in EVAL_SETS[dataset]:
        final_only = epochs == 200 and name in FINAL_ONLY_AT_200.get(dataset, ())
        eval_time = float(rng.uniform(0.5, 5))
        for i in range(epochs):
            key = f"{name}@{i}"
            times[key] = eval_time  # the official files hold an eval time for every epoch, recorded or not
            if final_only and i != epochs - 1:
                continue
            accs[key], losses[key] = float(rng.uniform(10, 95)), float(rng.uniform(0.1, 3))
    return {
        "name": dataset, "train_acc1es": curve(10, 99), "train_acc5es": curve(50, 100),
        "train_losses": curve(0.01, 3), "train_times": collections.OrderedDict((i, train_time) for i in range(epochs)),
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": arch_str, "class_num": DATASET_CLASSES[dataset]},
        "params": np.float64(rng.uniform(0.07, 1.6)), "flop": float(rng.uniform(7, 220)), "seed": f"{seed:04d}",
        "epochs": epochs, "latency": [np.float64(rng.uniform(0.005, 0.03))], "eval_names": list(EVAL_SETS[dataset]),
        "eval_acc1es": accs, "eval_times": times, "eval_losses": losses, "net_state_dict": None,
    }


def arch_record(nb201: int, arch_str: str, seed: int = 0) -> dict[str, Any]:
    """One arch file's content: {'12': ArchResults state, '200': ArchResults state}."""
    rng = np.random.default_rng([seed, nb201])
    out: dict[str, Any] = collections.OrderedDict()
    for hp, epochs in (("12", 12), ("200", 200)):
        if hp == "12":
            seeds = {"cifar10-valid": [111, 777], "cifar10": [111], "cifar100": [111], "ImageNet16-120": [111]}
        else:
            trio = [777, 888, 999] if rng.random() < 0.5 else [777, 888]
            seeds = {ds: list(trio) for ds in DATASET_CLASSES}
        results = {(ds, s): _result(rng, ds, s, epochs, arch_str) for ds, ss in seeds.items() for s in ss}
        out[hp] = {"arch_index": nb201, "arch_str": arch_str, "all_results": results, "dataset_seed": seeds,
                   "clear_net_done": True}
    return out


def write_pbz2(obj: Any, path: Path) -> None:
    with bz2.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def write_meta(folder: Path, meta_archs: list[str]) -> None:
    write_pbz2({"meta_archs": meta_archs, "total_archs": len(meta_archs), "arch2infos": None,
                "evaluated_indexes": set()}, folder / "meta.pickle.pbz2")


def _write_range(folder: str, lo: int, hi: int, seed: int) -> None:
    archs = nb201_order(seed)
    for i in range(lo, hi):
        write_pbz2(arch_record(i, archs[i], seed), Path(folder) / f"{i:06d}.pickle.pbz2")


def generate_folder(folder: str | os.PathLike, nb201_indices: list[int] | None = None, seed: int = 0,
                    processes: int = 1) -> Path:
    """Write meta + the given arch files (default: all 15,625) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder, nb201_order(seed))
    if nb201_indices is not None:
        for i in nb201_indices:
            _write_range(str(folder), i, i + 1, seed)
        return folder
    step = 256
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_write_range, *zip(*[(str(folder), lo, min(lo + step, NUM_ARCHS), seed)
                                           for lo in range(0, NUM_ARCHS, step)])))
    return folder
