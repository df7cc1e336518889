"""nasbench_suite.pareto against brute force on random point sets with ties and duplicates.

The references here are written from the definitions, not from the module: dominance by pairwise
comparison, Deb et al.'s fast non-dominated sort by domination counts, pymoo's ``calc_crowding_distance``
semantics (duplicates of an earlier point get 0, ends of each objective inf, gaps over the front's
range, an objective without range adds nothing; not divided by the number of objectives), and the
hypervolume as the area of grid cells covered by some point's box.
"""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_suite.pareto import ParetoError, crowding_distance, hypervolume, non_dominated, nondominated_ranks


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(value up, latency down)."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def _ranks(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    pts = list(zip(v.tolist(), t.tolist()))
    n = len(pts)
    beats = [[j for j in range(n) if _dominates(pts[i], pts[j])] for i in range(n)]
    count = [sum(_dominates(pts[j], pts[i]) for j in range(n)) for i in range(n)]
    rank, front, r = [-1] * n, [i for i in range(n) if count[i] == 0], 0
    while front:
        nxt = []
        for i in front:
            rank[i] = r
            for j in beats[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        front, r = nxt, r + 1
    return np.array(rank, dtype=np.int64)


def _crowding(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    pts = np.stack([-v, t], axis=1)  # the losses pymoo minimizes
    n = len(pts)
    if n <= 2:
        return np.full(n, np.inf)
    unique = [i for i in range(n) if not any((pts[j] == pts[i]).all() for j in range(i))]
    out = np.zeros(n)
    for obj in range(2):
        order = sorted(unique, key=lambda i: (pts[i, obj], i))  # stable sort
        lo, hi = pts[order[0], obj], pts[order[-1], obj]
        if hi == lo:
            continue
        for pos, i in enumerate(order):
            before = pts[order[pos - 1], obj] if pos > 0 else -np.inf
            after = pts[order[pos + 1], obj] if pos < len(order) - 1 else np.inf
            out[i] += (after - before) / (hi - lo)
    return out


def _hypervolume(v: np.ndarray, t: np.ndarray, ref_v: float, ref_t: float) -> float:
    xs = sorted({x for x in t.tolist() if x < ref_t} | {ref_t})
    ys = sorted({y for y in v.tolist() if y > ref_v} | {ref_v})
    area = 0.0
    for x0, x1 in zip(xs, xs[1:]):
        for y0, y1 in zip(ys, ys[1:]):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if ((t <= cx) & (v >= cy)).any():
                area += (x1 - x0) * (y1 - y0)
    return area


def _point_sets(count: int, seed: int):
    rng = np.random.default_rng(seed)
    for k in range(count):
        n = int(rng.integers(0, 13))
        levels = int(rng.integers(2, 6))  # few levels: many ties on one objective or both
        v = rng.integers(0, levels, n) * 10.0 + (rng.random(n) if k % 3 == 0 else 0.0)
        t = rng.integers(1, levels + 1, n).astype(np.float64) + (rng.random(n) if k % 5 == 0 else 0.0)
        if n > 1 and k % 4 == 0:  # an exact duplicate
            i = int(rng.integers(0, n - 1))
            v[-1], t[-1] = v[i], t[i]
        yield v, t, float(rng.integers(-1, 3) * 10), float(rng.integers(1, levels + 3))


def test_front_ranks_crowding_and_hypervolume_match_brute_force() -> None:
    for v, t, ref_v, ref_t in _point_sets(1500, seed=0):
        ranks = _ranks(v, t)
        assert non_dominated(v, t).tolist() == (ranks == 0).tolist(), (v, t)
        assert nondominated_ranks(v, t).tolist() == ranks.tolist(), (v, t)
        for r in np.unique(ranks):
            members = ranks == r
            np.testing.assert_allclose(crowding_distance(v[members], t[members]), _crowding(v[members], t[members]),
                                       err_msg=str((v[members], t[members])))
        np.testing.assert_allclose(crowding_distance(v, t), _crowding(v, t))
        assert hypervolume(v, t, ref_v, ref_t) == pytest.approx(_hypervolume(v, t, ref_v, ref_t), abs=1e-9), \
            (v, t, ref_v, ref_t)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_points_that_are_not_finite_are_refused(bad: float) -> None:
    for f in (non_dominated, nondominated_ranks, crowding_distance):
        with pytest.raises(ParetoError, match="finite"):
            f(np.array([1.0, bad]), np.array([1.0, 2.0]))
        with pytest.raises(ParetoError, match="finite"):
            f(np.array([1.0, 2.0]), np.array([bad, 2.0]))
    with pytest.raises(ParetoError, match="finite"):
        hypervolume([1.0, bad], [1.0, 2.0], 0.0, 3.0)


def test_empty_sets() -> None:
    empty = np.zeros(0)
    assert non_dominated(empty, empty).size == nondominated_ranks(empty, empty).size == 0
    assert crowding_distance(empty, empty).size == 0 and hypervolume(empty, empty, 0.0, 1.0) == 0.0


def test_arrays_of_more_than_one_dimension_are_refused() -> None:
    """They were flattened: a (3, 2) objective matrix as values met 6 latencies and gave 6 'points'."""
    for f in (non_dominated, nondominated_ranks, crowding_distance):
        with pytest.raises(ParetoError, match="1-D"):
            f(np.ones((3, 2)), np.ones(6))
    with pytest.raises(ParetoError, match="1-D"):
        hypervolume(np.ones((3, 1)), np.ones(3), 0.0, 2.0)
    for f in (non_dominated, nondominated_ranks, crowding_distance):  # the latencies as the matrix, too
        with pytest.raises(ParetoError, match="1-D"):
            f(np.ones(6), np.ones((3, 2)))
    assert non_dominated(1.0, 2.0).tolist() == [True]  # a single point as scalars is fine


@pytest.mark.parametrize("ref", [(True, 3.0), (0.0, True), ("0", 3.0), (0.0, np.inf)])
def test_a_reference_point_that_is_no_finite_number_is_refused(ref: tuple) -> None:
    # a bool is a Real to Python (True == 1): it is refused, not read as 1.0
    with pytest.raises(ParetoError, match="reference point's ref_.* must be a finite number"):
        hypervolume([2.0], [1.0], *ref)
