"""The evaluation side of a search: after the runs, read the incumbents' metric (test accuracy by
default) from a table the strategies never saw, possibly another table or fidelity than the one
searched (NAS-Bench-201's protocol searches 12-epoch validation accuracy and reports the 200-epoch
test accuracy)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArchNotInTableError
from .intlist import is_integer
from .space import NUM_ARCHS, Arch
from .table import Benchmark, higher_is_better


@dataclass(frozen=True)
class EvalSpec:
    """What to read for each incumbent: ``split``/``measure`` at ``epoch`` (default: the eval table's
    last) of ``table`` (default: the searched table), the mean over its seeds."""

    table: str | os.PathLike | None = None
    split: str = "test"
    measure: str = "acc"
    epoch: int | None = None

    def __post_init__(self) -> None:
        if is_integer(self.epoch):  # a numpy integer as a plain int: it goes into the results manifest (JSON)
            object.__setattr__(self, "epoch", int(self.epoch))

    @property
    def column(self) -> str:
        return f"incumbent_{self.split}_{self.measure}"

    @property
    def regret_column(self) -> str:
        return f"regret_{self.split}_{self.measure}"


def incumbent_metric(incumbents: np.ndarray, bench: Benchmark, spec: EvalSpec,
                     feasible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Metric and regret (distance to the table's optimum, >= 0) of each incumbent index (-1: none
    yet -> NaN), and a description of what was read. ``feasible``, a (15625,) boolean mask by arch index
    (the cells within a search's latency limit), restricts the optimum to those cells: a constrained
    search's regret is its distance to the best cell it was allowed to return."""
    epoch = bench.max_epoch if spec.epoch is None else spec.epoch
    values = bench.array(spec.split, spec.measure, epoch=epoch)
    lookup = np.full(NUM_ARCHS, np.nan)
    lookup[bench.arch_indices] = values
    incumbents = np.asarray(incumbents, dtype=np.int64)
    has = incumbents >= 0
    out = np.full(len(incumbents), np.nan)
    out[has] = lookup[incumbents[has]]
    missing = has & np.isnan(out)
    if missing.any():
        a = int(incumbents[missing][0])
        raise ArchNotInTableError(f"incumbent arch {a} ({Arch.from_index(a)}) has no {spec.split}_{spec.measure} at epoch "
                                  f"{epoch} in table {bench.name!r}; evaluate on a table that covers every searched cell")
    maximize = higher_is_better(spec.measure)
    best_arch, best = bench.optimum(spec.split, spec.measure, epoch=epoch, maximize=maximize, among=feasible)
    info = {"table": bench.name, "content_hash": bench.content_hash, "split": spec.split, "measure": spec.measure,
            "epoch": epoch, "seeds": "mean over the table's seeds", "optimum": best, "optimum_arch": best_arch.index,
            "regret": "optimum - metric" if maximize else "metric - optimum (lower is better)",
            **({} if feasible is None else {"optimum_among": "the cells within the search's latency limit"})}
    return out, (best - out) if maximize else (out - best), info
