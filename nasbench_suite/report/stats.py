"""The numbers of a comparison report, computed from stored runs only.

- :func:`anytime`: each run's incumbent metric as a step function of simulated time on a grid.
- :func:`median_band`: the median over runs and a percentile-bootstrap confidence band of it
  (``scipy.stats.bootstrap``, seeded).
- :func:`final_table`: mean +- std, median and IQR of the final test accuracy and regret, queries used.
- :func:`rank_tests`: per-seed ranks, the Friedman test over strategies (seeds are blocks: every
  strategy ran every seed, paired by common random numbers), Nemenyi's post-hoc test
  (``scikit_posthocs``) and its critical difference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..pareto import hypervolume

ACC = "incumbent_test_acc"
REGRET = "regret_test_acc"


def time_grid(frames: dict[str, pd.DataFrame], budget: float | None, points: int = 200) -> np.ndarray:
    """Log-spaced simulated seconds from the earliest first result to the budget or the last finish,
    whichever is later: under the ``finish`` overrun the last queries end after the budget, and the
    curves must reach the final results that the final table and the ranks count."""
    first = min(float(f.groupby("seed")["finish_time"].min().min()) for f in frames.values())
    last = max(float(f["finish_time"].max()) for f in frames.values())
    if budget is not None:
        last = max(last, budget)
    first = max(first, last * 1e-4)
    return np.geomspace(first, last, points)


def anytime(frame: pd.DataFrame, grid: np.ndarray, column: str = ACC) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, values[seed, t]): the value of ``column`` after the last result finished by each grid
    time (NaN before a run's first result). Results of one run are in tell order, so finish times
    never decrease."""
    seeds = np.unique(frame["seed"].to_numpy())
    out = np.full((len(seeds), len(grid)), np.nan)
    for i, (_, run) in enumerate(frame.groupby("seed", sort=True)):
        t = run["finish_time"].to_numpy()
        v = run[column].to_numpy(np.float64)
        pos = np.searchsorted(t, grid, side="right") - 1
        out[i] = np.where(pos >= 0, v[np.clip(pos, 0, None)], np.nan)
    return seeds, out


BOOTSTRAP_ELEMENTS = 2 ** 23
"""At most this many resampled values (8 bytes each) exist at once in :func:`median_band`: scipy draws
every resample of every column in one array, resamples x runs x columns, which took 0.8 GB (and as
much again for the median's copy) for 1,000 resamples of 500 runs on the 200-point grid."""


def median_band(values: np.ndarray, resamples: int, alpha: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median over runs (axis 0) and the (1 - alpha) percentile-bootstrap band of that median, at every
    column; columns where a run has no result yet are NaN.

    The columns are bootstrapped a block at a time (:data:`BOOTSTRAP_ELEMENTS`), each block with a
    generator seeded afresh by ``seed``: scipy draws the resampled run indices from the generator alone
    (not from the values), so every block resamples the same runs as one call over all columns would,
    and the band is the same, value for value, in bounded memory."""
    from scipy.stats import bootstrap

    median = np.median(values, axis=0)
    low = np.full(values.shape[1], np.nan)
    high = np.full(values.shape[1], np.nan)
    ok = np.flatnonzero(~np.isnan(values).any(axis=0))
    if values.shape[0] > 1 and ok.size:
        block = max(1, BOOTSTRAP_ELEMENTS // (resamples * values.shape[0]))
        for cols in np.array_split(ok, -(-ok.size // block)):
            res = bootstrap((values[:, cols],), np.median, n_resamples=resamples, axis=0, vectorized=True,
                            confidence_level=1 - alpha, method="percentile", rng=np.random.default_rng(seed))
            low[cols], high[cols] = res.confidence_interval.low, res.confidence_interval.high
    return median, low, high


def finals(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run (seed order): its last result, with ``queries`` = results it was told."""
    last = frame.groupby("seed", sort=True).tail(1).set_index("seed").sort_index()
    last["queries"] = frame.groupby("seed", sort=True).size()
    return last


def hypervolume_ratios(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.Series:
    """Per run (seed order): the hypervolume of the cells it queried (at any fidelity), as the table holds
    them (``cells``: final test accuracy, mean over seeds, and latency), divided by that of the table's
    own front. Reference point: the table's lowest test accuracy and highest latency, so every cell
    lies in the box; 1.0 means the run found the whole front."""
    acc, lat = cells["test_acc"].to_numpy(np.float64), cells["latency_ms"].to_numpy(np.float64)
    ref = (float(acc.min()), float(lat.max()))
    whole = hypervolume(acc, lat, *ref)
    where = pd.Series(np.arange(len(cells)), index=cells["arch_index"].to_numpy())
    out = {}
    for seed, run in frame.groupby("seed", sort=True):
        rows = where.reindex(run["arch_index"].unique()).dropna().to_numpy(np.int64)  # cells without a latency: none
        out[seed] = hypervolume(acc[rows], lat[rows], *ref) / whole if whole > 0 else float("nan")
    return pd.Series(out, name="hypervolume_ratio").rename_axis("seed")


def summary(values: pd.Series) -> dict[str, float]:
    """Mean, std over runs (ddof 1: NaN for a single run, whose spread is unknown, not 0), median, IQR."""
    q25, q75 = np.percentile(values, [25, 75])
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "median": float(values.median()), "iqr": float(q75 - q25)}


def final_table(final: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per strategy: final test accuracy and regret (mean, std over runs, median, IQR) and queries used."""
    rows = []
    for label, f in final.items():
        acc, reg = summary(f[ACC]), summary(f[REGRET])
        rows.append({"strategy": label, "runs": len(f),
                     **{f"test_acc_{k}": v for k, v in acc.items()}, **{f"regret_{k}": v for k, v in reg.items()},
                     "queries_mean": float(f["queries"].mean())})
    return pd.DataFrame(rows)


@dataclass
class RankTests:
    ranks: pd.DataFrame
    """[seed, strategy] rank of the final test accuracy within the seed (1 = best, ties averaged)."""
    mean_ranks: pd.Series
    friedman_statistic: float
    friedman_p: float
    nemenyi_p: pd.DataFrame
    critical_difference: float
    alpha: float


def rank_tests(final: dict[str, pd.DataFrame], alpha: float) -> RankTests | None:
    """Friedman + Nemenyi over the strategies' final test accuracy, seeds as blocks; None with fewer
    than 3 strategies or 2 common seeds."""
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare, rankdata, studentized_range

    common = sorted(set.intersection(*(set(f.index) for f in final.values())))
    if len(final) < 3 or len(common) < 2:
        return None
    acc = pd.DataFrame({label: f.loc[common, ACC].to_numpy() for label, f in final.items()}, index=common)
    ranks = pd.DataFrame(rankdata(-acc.to_numpy(), axis=1), index=acc.index, columns=acc.columns)
    if (ranks.to_numpy() == (acc.shape[1] + 1) / 2).all():
        # every seed ties every strategy: the tie-corrected statistic is 0/0 (scipy: nan and a warning);
        # all rank sums are equal, so there is no evidence of a difference at all
        stat, p = 0.0, 1.0
    else:
        stat, p = friedmanchisquare(*(acc[c].to_numpy() for c in acc.columns))
    nemenyi = sp.posthoc_nemenyi_friedman(acc.to_numpy())
    nemenyi.index = nemenyi.columns = acc.columns
    k, n = acc.shape[1], acc.shape[0]
    cd = float(studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2) * math.sqrt(k * (k + 1) / (6 * n)))
    return RankTests(ranks, ranks.mean().sort_values(kind="stable"), float(stat), float(p), nemenyi, cd, alpha)
