"""BOHB (Falkner et al. 2018): Hyperband whose new cells come from a TPE-style model.

This follows HpBandSter's ``BOHB`` config generator (``hpbandster/optimizers/config_generators/bohb.py``)
on a space of 6 categorical edges, as NB201's ``exps/algos/BOHB.py`` and NATS-Bench's ``bohb.py`` run it,
including the quirks its statsmodels kernel density gives categorical values:

* For the largest rung budget with at least ``min_points_in_model`` results (by default and at least
  the number of edges + 1, 7: HpBandSter raises a smaller value to it, so one is refused here) and more
  than 6 in both sets, the results are split into the best ``top_n_percent`` (good,
  at least ``min_points_in_model``) and the next ones (bad, at least ``min_points_in_model``); equal
  values in the order they were told (HpBandSter's ``np.argsort`` of the losses is NumPy's default
  sort, whose tie order depends on the NumPy version and CPU: see :mod:`algorithms.hyperband`).
* Each set gets statsmodels' ``KDEMultivariate`` over the edges' op indices (``var_type`` 'u'): bandwidth
  by the normal-reference rule, 1.06 * std * n ** (-1/10) of the op *indices*, floored at
  ``min_bandwidth`` and not capped; the Aitchison-Aitken kernel gives the datum's own op 1 - h and any
  other h / (levels - 1), where levels counts the distinct ops the set holds on that edge. So h > 1
  gives negative kernel values, and an edge that holds one op gives any other op an infinite one,
  exactly as there.
* A new cell is the best of ``num_samples`` candidates: each copies a random good datum and redraws each
  edge uniformly with probability max(h, ``min_bandwidth``) (h of the good set); the candidate that
  minimizes max(1e-32, bad) / max(good, 1e-32) wins, first on ties, and the first candidate whose ratio is
  not finite while its good density is wins at once. ``bandwidth_factor`` widens only continuous
  parameters in HpBandSter; every edge here is categorical, so it is accepted and changes nothing.
* A ``random_fraction`` of new cells, and every cell before a model exists (or when no candidate
  qualifies), is uniform.
* The candidates may be any of the 15,625 cells, so BOHB needs a table that holds them all (on one of
  some cells it is refused; ``hyperband`` is its model-free half).

Results are modelled per rung budget (HpBandSter keys its models on the budget a result was asked
for): the rung epochs by default; with Hyperband's ``min_budget``/``max_budget`` the rung's budget,
also when ``query_epochs`` trains every query for the same epochs (NB201's protocol). HpBandSter stops
recording results at budgets below its largest model; those results could only feed a smaller model, which
it never samples from again, so recording them here changes no sample. The settings of
:class:`~algorithms.hyperband.Hyperband` (``resume``, the budgets, ``query_epochs``,
``incumbent_rule``) apply as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.strategy import Result, SearchSpace, register

from .common import require_full_space
from .hyperband import Hyperband

_TINY = 1e-32  # HpBandSter's floor on both densities in the ratio it minimizes


def _bandwidths(x: np.ndarray, min_bw: float) -> np.ndarray:
    """statsmodels' normal-reference bandwidth of each edge's op indices, floored at ``min_bw`` as HpBandSter does."""
    n, d = x.shape
    return np.maximum(1.06 * x.std(axis=0) * n ** (-1.0 / (4 + d)), min_bw)


class _Model(NamedTuple):
    budget: float
    n: int
    good: np.ndarray
    bw_good: np.ndarray
    kernel_good: np.ndarray
    kernel_bad: np.ndarray


def _kernel_table(data: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """(edges, ops, n): statsmodels' Aitchison-Aitken kernel value of each op at each datum, per edge.

    1 - h where the datum holds the op, h / (levels - 1) elsewhere, ``levels`` being the number of distinct
    ops in ``data`` on that edge (statsmodels' default when it is not given); h / 0 = inf where there is one.
    """
    levels = np.array([len(np.unique(data[:, e])) for e in range(NUM_EDGES)], dtype=np.float64)
    with np.errstate(divide="ignore"):
        other = bw / (levels - 1)
    same = data.T[:, None, :] == np.arange(NUM_OPS)[None, :, None]
    return np.where(same, (1.0 - bw)[:, None, None], other[:, None, None])


def _density(cands: np.ndarray, table: np.ndarray) -> np.ndarray:
    """KDEMultivariate.pdf of each candidate: the mean over the data of the product over edges of the kernels."""
    k = table[np.arange(NUM_EDGES)[None, :], cands.astype(np.int64)]  # (candidates, edges, n)
    with np.errstate(invalid="ignore", over="ignore"):
        return k.prod(axis=1).mean(axis=1)


def _pick(good: np.ndarray, bad: np.ndarray) -> int | None:
    """HpBandSter's choice among candidates with these densities (None: it falls back to a random cell).

    Its loop minimizes ``max(1e-32, g) / max(l, 1e-32)`` (Python's ``max``: the first argument unless the
    second is larger, so a NaN good density stays NaN and a NaN bad one becomes 1e-32); it stops at the first
    candidate whose ratio is not finite while its good density is, and otherwise keeps the first minimum.
    """
    g = np.where(bad > _TINY, bad, _TINY)
    lo = np.where(_TINY > good, _TINY, good)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = g / lo
    stop = np.flatnonzero(~np.isfinite(ratio) & np.isfinite(good))
    finite = np.isfinite(ratio)
    if stop.size:  # no earlier candidate ends the loop, so it reaches this one whatever the best so far
        return int(stop[0])
    return int(np.argmin(np.where(finite, ratio, np.inf))) if finite.any() else None


@register("bohb")
@dataclass
class BOHB(Hyperband):
    top_n_percent: int = 15
    num_samples: int = 64
    random_fraction: float = 1 / 3
    bandwidth_factor: float = 3.0
    min_bandwidth: float = 1e-3
    min_points_in_model: int | None = None
    # num_samples 0 failed mid-run ("argmax of an empty sequence"), 10**12 filled the memory. HpBandSter raises
    # a min_points_in_model under dim + 1 to it (with a warning): taken as given, it would build the first model
    # later, not earlier (a good set needs more than 6 rows); NaN (its default None let any type through) failed
    # at the first sample
    # top_n_percent 100 left no bad set, so no model: a Hyperband run. bandwidth_factor changes nothing here
    # (HpBandSter widens only continuous parameters with it), so any finite value > 0 is taken
    bounds = {**Hyperband.bounds, "top_n_percent": Bound(1, 99, integer=True),
              "num_samples": Bound(1, 10_000, integer=True), "random_fraction": Bound(0, 1),
              "bandwidth_factor": Bound(0, lo_open=True),
              "min_bandwidth": Bound(0, 1, lo_open=True, why="1 redraws every edge"),
              "min_points_in_model": Bound(NUM_EDGES + 1, integer=True, null=True,
                                           why="the number of edges + 1, HpBandSter's least; null for it")}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().setup(space, rng)  # checks the bounds first (Hyperband's)
        # its candidates redraw edges over all 5 ops, so on a table of some cells most are not there: it used to
        # fall back to a uniform cell every time, a Hyperband run under BOHB's name
        require_full_space(space, "BOHB's KDE model")
        self._min_points = self.min_points_in_model or NUM_EDGES + 1
        self.data: dict[float, tuple[list[tuple[int, ...]], list[float]]] = {}  # per rung budget
        self._model: _Model | None = None

    def observe(self, result: Result, budget: float) -> None:
        ops, values = self.data.setdefault(budget, ([], []))
        ops.append(result.arch.ops)
        values.append(result.value)

    def _fit(self) -> _Model | None:
        for budget in sorted(self.data, reverse=True):
            ops, values = self.data[budget]
            n = len(values)
            if n < self._min_points:  # HpBandSter: at least min_points_in_model results at the budget
                continue
            if self._model is not None and self._model[:2] == (budget, n):
                return self._model
            n_good = max(self._min_points, self.top_n_percent * n // 100)
            n_bad = max(self._min_points, (100 - self.top_n_percent) * n // 100)
            order = np.argsort(-np.asarray(values), kind="stable")
            x = np.asarray(ops, dtype=np.int8)
            good, bad = x[order[:n_good]], x[order[n_good:n_good + n_bad]]
            if len(good) <= NUM_EDGES or len(bad) <= NUM_EDGES:
                continue
            bw_good = _bandwidths(good, self.min_bandwidth)
            self._model = _Model(budget, n, good, bw_good, _kernel_table(good, bw_good),
                                 _kernel_table(bad, _bandwidths(bad, self.min_bandwidth)))
            return self._model
        return None

    def sample(self) -> Arch:
        model = self._fit() if self.rng.random() >= self.random_fraction else None
        if model is None:
            return self.space.random_arch(self.rng)
        rng = self.rng
        base = model.good[rng.integers(len(model.good), size=self.num_samples)]
        redraw = rng.random(base.shape) >= 1.0 - model.bw_good  # already floored at min_bandwidth
        cands = np.where(redraw, rng.integers(0, NUM_OPS, size=base.shape), base)
        best = _pick(_density(cands, model.kernel_good), _density(cands, model.kernel_bad))
        if best is None:
            return self.space.random_arch(self.rng)
        return Arch(tuple(cands[best].tolist()))
