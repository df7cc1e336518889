"""Accuracy-latency Pareto fronts and their 2-D hypervolume.

Points are (value, latency): ``value`` is maximized (an accuracy), ``latency`` minimized (ms). A
point dominates another when it is no worse in both and better in one. The hypervolume of a set is
the area it dominates inside the box bounded by a reference point ``(ref_value, ref_latency)``
(a value no point should fall below and a latency no point should exceed); points outside the box
add nothing.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .errors import NasBenchError


class ParetoError(NasBenchError, ValueError):
    """Malformed points for a front or a hypervolume."""


def _points(values: np.ndarray, latencies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v, t = np.asarray(values, dtype=np.float64), np.asarray(latencies, dtype=np.float64)
    if v.ndim > 1 or t.ndim > 1:  # flattened, a (n, 2) objective matrix passed as values met 2n latencies
        raise ParetoError(f"values and latencies must be 1-D, got shapes {v.shape} and {t.shape}")
    v, t = v.reshape(-1), t.reshape(-1)
    if v.shape != t.shape:
        raise ParetoError(f"got {v.size} values but {t.size} latencies")
    if not (np.isfinite(v).all() and np.isfinite(t).all()):
        raise ParetoError("values and latencies must be finite")
    return v, t


def non_dominated(values: np.ndarray, latencies: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (duplicates of a front point all stay)."""
    v, t = _points(values, latencies)
    order = np.lexsort((-v, t))  # latency ascending, then value descending
    mask = np.zeros(v.size, dtype=bool)
    best = -np.inf
    i = 0
    while i < order.size:  # points of equal latency are decided together
        j = i
        while j < order.size and t[order[j]] == t[order[i]]:
            j += 1
        group = order[i:j]
        top = v[group].max()
        if top > best:
            mask[group[v[group] == top]] = True
            best = top
        i = j
    return mask


def hypervolume(values: np.ndarray, latencies: np.ndarray, ref_value: float, ref_latency: float) -> float:
    """Area dominated by the points inside [ref_value, inf) x (-inf, ref_latency]."""
    for name, ref in (("ref_value", ref_value), ("ref_latency", ref_latency)):
        if isinstance(ref, bool) or not isinstance(ref, Real) or not math.isfinite(ref):
            raise ParetoError(f"the reference point's {name} must be a finite number, got {ref!r}")
    v, t = _points(values, latencies)
    keep = (v > ref_value) & (t < ref_latency)
    v, t = v[keep], t[keep]
    if not v.size:
        return 0.0
    front = non_dominated(v, t)
    v, t = v[front], t[front]
    order = np.lexsort((-v, t))
    v, t = v[order], t[order]
    _, first = np.unique(t, return_index=True)  # one point per latency (the best value)
    v, t = v[first], t[first]
    widths = np.diff(np.append(t, ref_latency))
    return float(np.sum((v - ref_value) * widths))


def nondominated_ranks(values: np.ndarray, latencies: np.ndarray) -> np.ndarray:
    """NSGA-II front number of each point (0 = non-dominated), by repeated peeling."""
    v, t = _points(values, latencies)
    ranks = np.full(v.size, -1, dtype=np.int64)
    left = np.arange(v.size)
    r = 0
    while left.size:
        mask = non_dominated(v[left], t[left])
        ranks[left[mask]] = r
        left = left[~mask]
        r += 1
    return ranks


def crowding_distance(values: np.ndarray, latencies: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance within one front, as pymoo's ``calc_crowding_distance`` with duplicates
    filtered out (its default in earlier pymoo releases; the ``"cd"`` of pymoo's current
    ``RankAndCrowding`` keeps them, and DEAP's ``assignCrowdingDist`` neither filters them nor skips the
    ends of an objective without range), up to its division by the number of objectives: a point equal on
    both objectives to an earlier one gets 0, and the others are spread among themselves: on each
    objective, sorted stably as the loss minimized (-value, latency), the two ends get inf and the others
    the gap between their sorted neighbours over the range; an objective without range adds nothing (no
    infinite ends). Fronts of up to two points get inf."""
    v, t = _points(values, latencies)
    n = v.size
    if n <= 2:
        return np.full(n, np.inf)
    dist = np.zeros(n)
    _, first = np.unique(np.stack([v, t], axis=1), axis=0, return_index=True)
    unique = np.sort(first)  # the first of each set of equal points, in the given order
    for obj in (-v[unique], t[unique]):
        local = np.argsort(obj, kind="stable")
        order, sorted_obj = unique[local], obj[local]
        span = sorted_obj[-1] - sorted_obj[0]
        if span > 0:
            dist[order[0]] = dist[order[-1]] = np.inf
            dist[order[1:-1]] += (sorted_obj[2:] - sorted_obj[:-2]) / span
    return dist
