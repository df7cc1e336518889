"""Predictors alone: encodings, fit/predict, reproducibility, and Kendall tau that grows with data."""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_suite.encodings import encode, onehot_matrix, path_matrix
from nasbench_suite.predictors import PREDICTORS, PredictorError, kendall_tau_curve, make_predictor
from nasbench_suite.space import Arch, iter_archs
from nasbench_suite.table import Benchmark


def test_encoding_matrices_equal_the_per_arch_encodings() -> None:
    onehot, path = onehot_matrix(), path_matrix()
    for arch in iter_archs():
        assert np.array_equal(onehot[arch.index], arch.onehot()) and np.array_equal(path[arch.index], arch.path_encoding())
    assert not onehot.flags.writeable
    archs = [Arch.from_index(7), Arch.from_index(9000)]
    np.testing.assert_array_equal(encode(archs, "path"), encode(np.array([7, 9000]), "path"))


FAST = {"mlp-ensemble": {"epochs": 100, "members": 3}, "xgboost": {"n_estimators": 50},
        "random-forest": {"n_estimators": 30}, "ridge": {}}


@pytest.mark.parametrize("name", list(PREDICTORS))
def test_predictor_learns_the_landscape_and_is_reproducible(name: str, search_table: Benchmark) -> None:
    y = search_table.array("valid", "acc", epoch=12)
    idx = search_table.arch_indices
    rng = np.random.default_rng(0)
    order = rng.permutation(len(idx))
    train, test = order[:200], order[200:1200]
    model = make_predictor(name, seed=3, **FAST[name]).fit(idx[train], y[train])
    pred = model.predict(idx[test])
    from scipy.stats import kendalltau

    assert kendalltau(pred, y[test]).statistic > 0.45
    again = make_predictor(name, seed=3, **FAST[name]).fit(idx[train], y[train]).predict(idx[test])
    np.testing.assert_array_equal(pred, again)
    mean, spread = model.predict_dist(idx[test[:5]])
    np.testing.assert_allclose(mean, pred[:5])
    assert spread.shape == (5,) and (spread >= 0).all()


def test_kendall_tau_grows_with_training_data(search_table: Benchmark) -> None:
    y = search_table.array("valid", "acc", epoch=12)
    frame = kendall_tau_curve(search_table.arch_indices, y, predictors=["ridge"], sizes=[5, 200], repeats=2,
                              test_size=500)
    tau = frame.groupby("train_size").kendall_tau.mean()
    assert tau[200] > tau[5] + 0.1 and tau[200] > 0.6
    assert list(frame.columns) == ["predictor", "train_size", "repeat", "kendall_tau", "fit_seconds"]


def test_predictor_errors(search_table: Benchmark) -> None:
    with pytest.raises(PredictorError, match="unknown predictor"):
        make_predictor("oracle")
    with pytest.raises(PredictorError, match="must be fitted"):
        make_predictor("ridge").predict(np.array([1, 2]))
    with pytest.raises(PredictorError, match="3 archs but 2 targets"):
        make_predictor("ridge").fit(np.array([1, 2, 3]), [1.0, 2.0])
    with pytest.raises(PredictorError, match="do not fit"):
        kendall_tau_curve(np.arange(100), np.ones(100), predictors=["ridge"], sizes=[50], test_size=60)
    for bad in [dict(repeats=0), dict(test_size=0), dict(seed=-1)]:  # KeyError, a tau of 0.000, numpy's error
        with pytest.raises(PredictorError, match="need repeats >= 1"):
            kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes=[10], **bad)
