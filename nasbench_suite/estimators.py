"""The estimator league table: how well cheap performance estimates rank a table's cells, and what they cost.

Every estimator gives a score per cell; it is judged against the table's **final test accuracy, mean
over seeds** on the cells trained for real (:meth:`~nasbench_suite.table.TableView.trained_rows`: a
table filled from class representatives would otherwise count copies). Metrics
(:func:`rank_metrics`): Spearman and Kendall tau over all judged cells and over the best 10% by the
target (with every cell tied with the 10% boundary), and top-10% precision (the share of the
estimator's top 10% that is in the true top 10%, in expectation over random tie-breaking on both sides:
:func:`top_share`). A correlation that is undefined (fewer than 3 cells, or a constant side) counts as 0.

Cost per cell, in seconds, says where it comes from (``cost_kind``):

* ``measured``: zero-cost proxies (mean of their stored per-cell seconds; a vote sums its members')
  and the supernet (training plus scoring seconds, divided by the cells scored);
* ``table``: fidelity-based estimators pay the table's own measured training seconds of seed 0
  (through epoch e, plus one validation pass; a learning curve over epochs 1..k, one validation pass
  per epoch it reads); a predictor trained on n cells pays n full trainings spread over every judged
  cell, plus the proxies it reads as features.

Estimators read only search-side information (train/valid curves, proxies, the supernet); the test
accuracy is read once, as the target. Everything here is deterministic given the stored inputs, so
the table, CSV and figure regenerate byte-identical.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .errors import NasBenchError

if TYPE_CHECKING:
    import pandas as pd

    from .proxy_store import ProxyTable
    from .table import Benchmark

VOTE = ("synflow", "jacob_cov", "snip")
"""The proxies of Abdelfattah et al. (2021)'s vote. Their vote is a majority between these three when
two cells are compared; to rank all cells at once this uses their mean rank instead (our adaptation)."""
TOP = 0.10
HELD_OUT = 10
"""A predictor trained on n judged cells is judged on the others: at least this many."""
METRICS = ("spearman", "kendall", "spearman_top10", "kendall_top10", "top10_precision")


class EstimatorError(NasBenchError, ValueError):
    """An estimator cannot be computed from what the table and its stored results hold."""


@dataclass(frozen=True)
class Estimate:
    """One estimator's scores on the judged cells (row positions ``rows`` of the judged set)."""

    name: str
    family: str
    scores: np.ndarray
    cost_per_cell: float
    cost_kind: str
    rows: np.ndarray | None = None
    """Positions (into the judged cells) that were scored; None: all of them."""


# ----- metrics -------------------------------------------------------------------------------------
def finite_floor(x: np.ndarray) -> np.ndarray:
    """``x`` made finite with the same ranks: +inf (a score that overflowed) becomes one more than the finite
    maximum, ranked first; -inf (undefined, e.g. a disconnected cell) and NaN (no score) one less than the
    finite minimum, ranked last and tied. Stored proxies never hold NaN (:func:`check_proxies_complete`)."""
    x = np.asarray(x, dtype=np.float64).copy()
    finite = np.isfinite(x)
    top = np.isposinf(x)
    low, high = (x[finite].min() - 1.0, x[finite].max() + 1.0) if finite.any() else (0.0, 1.0)
    x[~finite & ~top] = low
    x[top] = high
    return x


def top_share(values: np.ndarray, frac: float = TOP) -> np.ndarray:
    """Each entry's chance of being among the best ``k = ceil(frac * n)`` when ties are broken at random.

    Entries above the k-th largest value are in (1), entries below are out (0), and the ``m`` entries tied
    with it share the ``r`` places left (``r / m`` each), so the shares sum to ``k`` and do not depend on
    the order of the rows (many cells tie in params, FLOPs or a coarse validation accuracy).
    """
    values = np.asarray(values, dtype=np.float64)
    k = max(1, math.ceil(frac * len(values)))
    kth = np.sort(values)[::-1][k - 1]
    share = (values > kth).astype(np.float64)
    tied = values == kth
    share[tied] = (k - share.sum()) / tied.sum()
    return share


def _corr(fn: Any, a: np.ndarray, b: np.ndarray) -> float:
    """``fn``'s statistic, or 0 (no rank information) where it is undefined: under 3 cells or a constant side."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = float(fn(a, b).statistic)
    return value if value == value else 0.0


def rank_metrics(scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    s, t = finite_floor(scores), np.asarray(target, dtype=np.float64)
    true_share = top_share(t)
    best = true_share > 0  # the best 10% and every cell tied with the last of them
    return {"spearman": _corr(spearmanr, s, t), "kendall": _corr(kendalltau, s, t),
            "spearman_top10": _corr(spearmanr, s[best], t[best]), "kendall_top10": _corr(kendalltau, s[best], t[best]),
            "top10_precision": float(top_share(s) @ true_share / true_share.sum())}


def ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(finite_floor(x)) / len(x)


# ----- the judged cells ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Judged:
    """The cells estimators are judged on: table rows, their arch indices and the target."""

    rows: np.ndarray
    archs: np.ndarray
    target: np.ndarray


def judged_cells(bench: "Benchmark") -> Judged:
    target = bench.array("test", "acc", epoch=bench.max_epoch)
    rows = np.flatnonzero(bench.trained_rows() & np.isfinite(target))
    if len(rows) < 20:
        raise EstimatorError(f"table {bench.name!r} has {len(rows)} trained cells with a test accuracy; need 20")
    return Judged(rows, np.asarray(bench.arch_indices[rows], dtype=np.int64), target[rows])


def check_sizes(sizes: Sequence[int], judged: Judged) -> None:
    """Refuse a predictor training-set size that leaves fewer than :data:`HELD_OUT` judged cells to judge it on,
    and a size given twice (its draws, the same ones, were averaged twice: 'mean of 3 or 6 draws')."""
    twice = sorted({n for n in sizes if list(sizes).count(n) > 1})
    if twice:
        raise EstimatorError(f"predictor training-set size {twice[0]} is given more than once (--sizes); each size "
                             "is drawn --repeats times: list it once")
    largest = len(judged.rows) - HELD_OUT
    too_big = [n for n in sizes if n > largest]
    if too_big:
        raise EstimatorError(f"predictor training-set size {max(too_big)} (--sizes) is too large for the "
                             f"{len(judged.rows)} judged cells ({HELD_OUT} must be left to judge it on); "
                             f"the largest allowed size is {largest}")


# ----- families ------------------------------------------------------------------------------------
def check_proxies_complete(proxies: "ProxyTable", judged: Judged) -> None:
    """Every proxy must hold a score and its seconds for every judged cell: a missing value (NaN; -inf is a
    defined score) would rank the cell last, as if it were disconnected, and make the proxy's mean cost NaN,
    so it is refused, naming the proxy. Checked by ``nasbench estimators`` before the supernet trains."""
    for p in proxies.proxies:
        missing = int((np.isnan(proxies.scores[p][judged.archs]) | np.isnan(proxies.seconds[p][judged.archs])).sum())
        if missing:
            raise EstimatorError(f"{missing} judged cells have no stored {p} score or seconds; run `nasbench proxies` "
                                 "to finish (or restore the proxy folder's proxies.csv)")


def proxy_estimates(proxies: "ProxyTable", judged: Judged) -> list[Estimate]:
    """One estimate per stored proxy, and the vote when its three proxies are stored."""
    check_proxies_complete(proxies, judged)
    out = [Estimate(p, "zero-cost", proxies.scores[p][judged.archs], float(np.mean(proxies.seconds[p][judged.archs])),
                    "measured") for p in proxies.proxies]
    if all(p in proxies.scores for p in VOTE):
        vote = np.mean([ranks(proxies.scores[p][judged.archs]) for p in VOTE], axis=0)
        cost = sum(float(np.mean(proxies.seconds[p][judged.archs])) for p in VOTE)
        out.append(Estimate("vote(" + ",".join(VOTE) + ")", "zero-cost", vote, cost, "measured"))
    return out


def _seed0_cost(bench: "Benchmark", judged: Judged, epoch: int, every_epoch_valid: bool = False) -> float:
    """Mean over the judged cells of seed 0's training seconds through ``epoch`` plus its validation
    passes: the one at ``epoch``, or with ``every_epoch_valid`` one at each epoch 1..``epoch`` (what a
    learning curve over those epochs reads)."""
    seed = bench.seeds[0]
    train = sum(bench.array("train", "seconds", epoch=e, seed=seed)[judged.rows] for e in range(1, epoch + 1))
    passes = range(1, epoch + 1) if every_epoch_valid else (epoch,)
    valid = sum(bench.array("valid", "seconds", epoch=e, seed=seed)[judged.rows] for e in passes)
    return float(np.nanmean(train + valid))


def fidelity_estimates(bench: "Benchmark", judged: Judged, epochs: Sequence[int]) -> list[Estimate]:
    seed = bench.seeds[0]
    return [Estimate(f"valid acc @ epoch {e} (1 seed)", "low fidelity",
                     bench.array("valid", "acc", epoch=e, seed=seed)[judged.rows], _seed0_cost(bench, judged, e), "table")
            for e in epochs if 1 <= e <= bench.max_epoch]


def extrapolate_pow3(curves: np.ndarray, horizon: int, alphas: np.ndarray | None = None) -> np.ndarray:
    """Fit y(t) = c - a * t^(-alpha) to each row of ``curves`` (epochs 1..k) and predict y(horizon).

    For every alpha of a fixed grid, (c, a) is the least-squares line in t^(-alpha); the alpha with
    the smallest squared error wins (first on ties). Vectorized, deterministic, no optimizer. The
    prediction is clipped to [0, 100] (accuracies in percent).
    """
    alphas = np.geomspace(0.05, 5.0, 60) if alphas is None else alphas
    k = curves.shape[1]
    if k < 3:
        raise EstimatorError("a 3-parameter learning curve needs at least 3 epochs")
    t = np.arange(1, k + 1, dtype=np.float64)
    best_err = np.full(len(curves), np.inf)
    best_pred = curves[:, -1].astype(np.float64).copy()
    for alpha in alphas:
        u = t ** (-alpha)
        design = np.stack([np.ones(k), -u], axis=1)
        coef, *_ = np.linalg.lstsq(design, curves.T, rcond=None)  # (2, n)
        err = ((design @ coef - curves.T) ** 2).sum(axis=0)
        pred = coef[0] - coef[1] * horizon ** (-alpha)
        better = err < best_err - 1e-12
        best_err = np.where(better, err, best_err)
        best_pred = np.where(better, pred, best_pred)
    return np.clip(best_pred, 0.0, 100.0)


def curve_estimates(bench: "Benchmark", judged: Judged, ks: Sequence[int]) -> list[Estimate]:
    seed = bench.seeds[0]
    out = []
    for k in ks:
        if not 3 <= k < bench.max_epoch:
            continue
        curves = np.stack([bench.array("valid", "acc", epoch=e, seed=seed)[judged.rows] for e in range(1, k + 1)], axis=1)
        out.append(Estimate(f"curve extrapolation from {k} epochs (1 seed)", "learning curve",
                            extrapolate_pow3(curves, bench.max_epoch), _seed0_cost(bench, judged, k, True), "table"))
    return out


def predictor_estimates(bench: "Benchmark", judged: Judged, sizes: Sequence[int], proxies: "ProxyTable | None",
                        predictor: str = "xgboost", repeats: int = 3, seed: int = 0) -> list[Estimate]:
    """A predictor trained on n random judged cells (their seed-0 final valid accuracy), scoring the
    others; alone and with the zero-cost proxies' ranks as extra features. Metrics are over the
    held-out cells, averaged over ``repeats`` draws (see :func:`league_table`)."""
    from .predictors import make_predictor

    check_sizes(sizes, judged)
    y = bench.array("valid", "acc", epoch=bench.max_epoch, seed=bench.seeds[0])[judged.rows]
    full_cost = _seed0_cost(bench, judged, bench.max_epoch)
    variants: list[tuple[str, np.ndarray | None, float]] = [(predictor, None, 0.0)]
    if proxies is not None:
        feats = np.stack([ranks(proxies.scores[p][judged.archs]) for p in proxies.proxies], axis=1)
        extra = np.zeros((int(judged.archs.max()) + 1, feats.shape[1]))
        extra[judged.archs] = feats
        zc_cost = sum(float(np.mean(proxies.seconds[p][judged.archs])) for p in proxies.proxies)
        variants.append((f"{predictor}+zero-cost", extra, zc_cost))
    out = []
    n_cells = len(judged.rows)
    for n in sizes:
        for label, extra, zc_cost in variants:
            for r in range(repeats):
                order = np.random.default_rng([seed, r]).permutation(n_cells)
                train, test = order[:n], np.sort(order[n:])
                model = make_predictor(predictor, seed=seed * 1000 + r, extra_features=extra)
                model.fit(judged.archs[train], y[train])
                cost = n * full_cost / n_cells + zc_cost
                out.append(Estimate(f"{label} on n={n}", "predictor", model.predict(judged.archs[test]), cost,
                                    "table" if extra is None else "table + measured", test))
    return out


# ----- the table -----------------------------------------------------------------------------------
def league_table(estimates: Sequence[Estimate], judged: Judged) -> "pd.DataFrame":
    """One row per estimator name (repeats of a name are averaged), in the order first given."""
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for est in estimates:
        target = judged.target if est.rows is None else judged.target[est.rows]
        m = rank_metrics(est.scores, target)
        row = rows.setdefault(est.name, {"estimator": est.name, "family": est.family, "cells": len(target),
                                         "repeats": 0, "cost_s_per_cell": est.cost_per_cell,
                                         "cost_kind": est.cost_kind, **{k: 0.0 for k in METRICS}})
        row["repeats"] += 1
        for k in METRICS:
            row[k] += m[k]
    for row in rows.values():
        for k in METRICS:
            row[k] /= row["repeats"]
    return pd.DataFrame(list(rows.values()))
