"""A generated full-coverage table for search tests.

The values are NOT results of training: they are a deterministic function of each cell's ops plus
seeded noise, made so that search behaviour can be tested against a known landscape. The final
validation accuracy of a cell is ``60 + sum of per-edge op effects + one pairwise interaction +
a fixed per-cell term`` (convolutions help, ``none`` hurts, cells cut off from the input sit at 10%),
plus per-seed noise; learning curves rise over the epochs towards it; a convolution costs training
time, so good cells are slower to train. Test accuracy is the cell's quality plus independent noise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nasbench_suite.space import NUM_ARCHS, all_ops, disconnected_mask
from nasbench_suite.table import Benchmark, build_table

OP_EFFECT = np.array([-2.0, 1.0, 2.5, 4.0, -0.5])  # none, skip, conv1x1, conv3x3, avg_pool
EDGE_WEIGHT = np.array([1.0, 0.8, 1.2, 0.6, 1.0, 1.4])


def quality(rng: np.random.Generator) -> np.ndarray:
    """Noise-free final accuracy of every cell (percent), indexed by arch index."""
    ops = all_ops().astype(np.int64)
    q = 60.0 + (OP_EFFECT[ops] * EDGE_WEIGHT).sum(axis=1)
    q += 3.0 * ((ops[:, 0] == 3) & (ops[:, 5] == 3))  # an interaction additive models miss
    q += rng.normal(0.0, 1.0, NUM_ARCHS)
    q[disconnected_mask()] = 10.0
    return q


def search_results(seeds: tuple[int, ...] = (0, 1, 2), epochs: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = quality(rng)
    ops = all_ops().astype(np.int64)
    per_epoch = 2.0 + 1.5 * (ops == 3).sum(1) + 0.6 * (ops == 2).sum(1) + 0.2 * (ops == 4).sum(1)
    n_s = len(seeds)
    a, s, e = (g.reshape(-1) for g in np.meshgrid(np.arange(NUM_ARCHS), np.arange(n_s), np.arange(1, epochs + 1),
                                                  indexing="ij"))
    final = q[:, None] + rng.normal(0.0, 0.5, (NUM_ARCHS, n_s))
    shape = 1 - np.exp(-np.arange(1, epochs + 1) / 3.0)
    curve = 10.0 + (final[:, :, None] - 10.0) * (shape / shape[-1])[None, None, :]
    curve += rng.normal(0.0, 0.2, curve.shape)
    seconds = per_epoch[:, None, None] * (1 + 0.01 * rng.standard_normal((NUM_ARCHS, n_s, epochs)))
    test = q + rng.normal(0.0, 0.5, NUM_ARCHS)
    return pd.DataFrame({
        "arch_index": a, "seed": np.asarray(seeds)[s], "epoch": e,
        "train_acc": np.minimum(curve.reshape(-1) + 5.0, 100.0), "train_seconds": seconds.reshape(-1),
        "valid_acc": curve.reshape(-1), "valid_seconds": 0.3 * per_epoch[a],
        "test_acc": np.repeat(test, n_s * epochs) * (shape / shape[-1])[e - 1] + 10.0 * (1 - shape / shape[-1])[e - 1],
    })


def build_search_table(out: Path, **kwargs: object) -> Benchmark:
    return build_table(search_results(**kwargs), out, name="generated-search",
                       metadata={"dataset": {"name": "generated", "sha256": "-"},
                                 "description": "generated values for tests (not trained)"})


def tiny_clock_table(out: Path) -> Benchmark:
    """Four cells, one seed, 3 epochs, with round training and validation seconds (exact sums, so
    ties in finish time are real ties): cell k trains ``k + 1`` s per epoch, validates in 0.5 s, and
    its validation accuracy is ``10 * (k + 1) + epoch``. Generated values, for clock tests."""
    rows = []
    for k, arch in enumerate(TINY_ARCHS):
        for epoch in range(1, 4):
            rows.append(dict(arch_index=arch, seed=0, epoch=epoch, train_seconds=float(k + 1), train_acc=50.0,
                             valid_seconds=0.5, valid_acc=10.0 * (k + 1) + epoch, test_acc=99.0 - k - epoch))
    return build_table(pd.DataFrame(rows), out, name="tiny-clock")


TINY_ARCHS = (0, 1, 2, 3)


def synthetic_latency(seed: int = 0) -> np.ndarray:
    """A made-up latency (ms) for every cell, rising with the convolutions (which also raise the
    generated accuracy), so accuracy and latency trade off. For search tests, not a measurement."""
    ops = all_ops().astype(np.int64)
    lat = 1.0 + 0.9 * (ops == 3).sum(1) + 0.3 * (ops == 2).sum(1) + 0.1 * (ops == 4).sum(1)
    return lat + np.random.default_rng(seed).uniform(0.0, 0.05, NUM_ARCHS)


def synthetic_proxies(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A made-up ``synflow`` score for every cell (the generated quality plus noise, -inf for
    disconnected cells) and made-up seconds (1 ms per cell), for warm-start tests; not a measurement."""
    rng = np.random.default_rng(seed)
    score = quality(np.random.default_rng(0)) + rng.normal(0.0, 3.0, NUM_ARCHS)
    score[disconnected_mask()] = -np.inf
    return {"synflow": (score, np.full(NUM_ARCHS, 0.001))}
