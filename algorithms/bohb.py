"""BOHB (Falkner et al. 2018): Hyperband whose new cells come from a TPE-style model.

For the largest rung budget with enough results (more than ``min_points_in_model``, by default the
number of edges + 1, in both the good and the bad set), the results are split into the best
``top_n_percent`` (good, at least ``min_points_in_model``) and the rest (bad); each set gets a
product kernel density over the 6 categorical edges (Aitchison-Aitken kernel, bandwidth by
statsmodels' normal-reference rule clipped to the kernel's valid range). A new cell is the
candidate, among ``num_samples`` drawn from the good density with bandwidths widened by
``bandwidth_factor``, that maximizes good/bad density. A ``random_fraction`` of new cells, and every
cell before a model exists, is uniform. This follows HpBandSter's ``BOHB`` config generator.

Results are modelled per rung budget (HpBandSter keys its models on the budget a result was asked
for): the rung epochs by default; with Hyperband's ``min_budget``/``max_budget`` the rung's budget,
also when ``query_epochs`` trains every query for the same epochs (NB201's protocol). The settings of
:class:`~algorithms.hyperband.Hyperband` (``resume``, the budgets, ``query_epochs``,
``incumbent_rule``) apply as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from nasbench_suite.encodings import onehot_matrix
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.strategy import Result, SearchSpace, StrategyError, register

from .hyperband import Hyperband

_MAX_BW = (NUM_OPS - 1) / NUM_OPS  # beyond this an Aitchison-Aitken kernel prefers *other* values
_PLACE = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)


def _bandwidths(x: np.ndarray, min_bw: float) -> np.ndarray:
    n, d = x.shape
    return np.clip(1.06 * x.std(axis=0) * n ** (-1.0 / (4 + d)), min_bw, _MAX_BW)


class _Model(NamedTuple):
    budget: float
    n: int
    good: np.ndarray
    bw_good: np.ndarray
    log_good: np.ndarray
    log_bad: np.ndarray


def _log_kernel(data: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """(30, n) log Aitchison-Aitken kernel values: row ``e*5+v`` is log k(op v on edge e, datum i)."""
    same = (data.T[:, None, :] == np.arange(NUM_OPS)[None, :, None])  # (edges, ops, n)
    k = np.where(same, (1.0 - bw)[:, None, None], (bw / (NUM_OPS - 1))[:, None, None])
    return np.log(k).reshape(NUM_EDGES * NUM_OPS, -1)


def _density(cands: np.ndarray, log_k: np.ndarray) -> np.ndarray:
    """Mean over the data of the product over edges of the kernels, for each candidate: the product
    is a sum of logs, which a one-hot of the candidates turns into one matrix product."""
    onehot = onehot_matrix()[cands.astype(np.int64) @ _PLACE]
    return np.exp(onehot @ log_k).mean(axis=1)


@register("bohb")
@dataclass
class BOHB(Hyperband):
    top_n_percent: int = 15
    num_samples: int = 64
    random_fraction: float = 1 / 3
    bandwidth_factor: float = 3.0
    min_bandwidth: float = 1e-3
    min_points_in_model: int | None = None

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        if not 1 <= self.top_n_percent <= 99:
            raise StrategyError(f"BOHB needs 1 <= top_n_percent <= 99, got {self.top_n_percent}")
        if self.num_samples < 1:
            raise StrategyError(f"BOHB needs num_samples >= 1, got {self.num_samples}")
        if not 0.0 <= self.random_fraction <= 1.0:
            raise StrategyError(f"BOHB needs 0 <= random_fraction <= 1, got {self.random_fraction}")
        if not 0.0 < self.bandwidth_factor < math.inf:
            raise StrategyError(f"BOHB needs a finite bandwidth_factor > 0, got {self.bandwidth_factor}")
        if not 0.0 < self.min_bandwidth <= _MAX_BW:
            raise StrategyError(f"BOHB needs 0 < min_bandwidth <= {_MAX_BW}, got {self.min_bandwidth}")
        if self.min_points_in_model is not None and self.min_points_in_model < 1:
            raise StrategyError(f"BOHB needs min_points_in_model >= 1 (or None for the default, "
                                f"{NUM_EDGES + 1}), got {self.min_points_in_model}")
        super().setup(space, rng)
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
            if n <= self._min_points:
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
            self._model = _Model(budget, n, good, bw_good, _log_kernel(good, bw_good),
                                 _log_kernel(bad, _bandwidths(bad, self.min_bandwidth)))
            return self._model
        return None

    def sample(self) -> Arch:
        model = self._fit() if self.rng.random() >= self.random_fraction else None
        if model is None or not self.space.full:
            return self.space.random_arch(self.rng)
        good, bw_good, log_good, log_bad = model.good, model.bw_good, model.log_good, model.log_bad
        rng = self.rng
        base = good[rng.integers(len(good), size=self.num_samples)]
        widened = np.maximum(bw_good * self.bandwidth_factor, self.min_bandwidth)
        resample = rng.random(base.shape) >= 1.0 - widened
        cands = np.where(resample, rng.integers(0, NUM_OPS, size=base.shape), base)
        score = _density(cands, log_good) / np.maximum(_density(cands, log_bad), 1e-32)
        return Arch(tuple(cands[int(np.argmax(score))].tolist()))
