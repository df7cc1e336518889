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
    # KeyError, a tau of 0.000, numpy's error; above 1,000 repeats a typo ran for days
    for bad in [dict(repeats=0), dict(test_size=0), dict(seed=-1), dict(repeats=1001), dict(repeats=2**62)]:
        with pytest.raises(PredictorError, match=r"need repeats in \[1, 1,000\]"):
            kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes=[10], **bad)


REFUSED = [
    # below: members 0 predicted NaN, epochs 0 returned untrained predictions, beta2 1 divided by 0 (Adam)
    ("mlp-ensemble", {"members": 0}, "setting members=0 must be an integer in [1, 1000]"),
    ("mlp-ensemble", {"epochs": 0}, "setting epochs=0 must be an integer in [1, 100000]"),
    ("mlp-ensemble", {"lr": 0.0}, "setting lr=0.0 must be a finite number in (0, 10]"),
    ("mlp-ensemble", {"hidden": (32, 0)}, "setting hidden=(32, 0) must be a list of integers in [1, 100000] (the "
                                          "units of 1 to 1000 hidden layers)"),
    ("mlp-ensemble", {"hidden": ()}, "setting hidden=() must be a list of integers in [1, 100000]"),  # linear
    ("mlp-ensemble", {"beta2": 1.0}, "setting beta2=1.0 must be a finite number in [0, 1)"),
    ("mlp-ensemble", {"beta2": -0.1}, "setting beta2=-0.1 must be a finite number in [0, 1)"),
    ("mlp-ensemble", {"batch_size": 0}, "setting batch_size=0 must be an integer >= 1 or null (null: full batch)"),
    ("mlp-ensemble", {"weight_decay": -0.1}, "setting weight_decay=-0.1 must be a finite number in [0, 10]"),
    ("mlp-ensemble", {"init": "xavier"}, "setting init='xavier' must be one of 'he', 'glorot'"),
    ("mlp-ensemble", {"loss": "huber"}, "setting loss='huber' must be one of 'mse', 'mae'"),
    ("mlp-ensemble", {"lr": float("inf")}, "setting lr=inf must be a finite number in (0, 10]"),
    # above: these filled the memory, fitted for ever or ran on overflows
    ("mlp-ensemble", {"members": 10**9}, "setting members=1000000000 must be an integer in [1, 1000]"),
    ("mlp-ensemble", {"hidden": (10**7,) * 3}, "setting hidden=(10000000, 10000000, 10000000) must be a list of "
                                               "integers in [1, 100000]"),
    ("mlp-ensemble", {"hidden": (1,) * 1001}, "setting hidden=(1, 1, "),  # 1,001 layers
    ("mlp-ensemble", {"epochs": 10**12}, "setting epochs=1000000000000 must be an integer in [1, 100000]"),
    ("mlp-ensemble", {"lr": 1e308}, "setting lr=1e+308 must be a finite number in (0, 10]"),
    ("mlp-ensemble", {"weight_decay": 11.0}, "setting weight_decay=11.0 must be a finite number in [0, 10]"),
    # each bounded alone, together too many weights
    ("mlp-ensemble", {"hidden": (10_000,) * 3}, "settings members=5, hidden=(10000, 10000, 10000) give an ensemble "
                                                "of 1,007,950,005 weights on the path encoding (155 inputs); at most "
                                                "100,000,000"),
    # of the wrong kind: passed, or failed later with a bare TypeError
    ("mlp-ensemble", {"members": "5"}, "setting members='5' must be an integer in [1, 1000]"),
    ("mlp-ensemble", {"members": 5.0}, "setting members=5.0 must be an integer in [1, 1000]"),
    ("mlp-ensemble", {"lr": True}, "setting lr=True must be a finite number in (0, 10]"),
    ("mlp-ensemble", {"lr": float("nan")}, "setting lr=nan must be a finite number in (0, 10]"),
    ("mlp-ensemble", {"hidden": 32}, "setting hidden=32 must be a list of integers in [1, 100000]"),
    ("mlp-ensemble", {"hidden": (32.0, 32)}, "setting hidden=(32.0, 32) must be a list of integers"),
    ("mlp-ensemble", {"batch_size": 1.5}, "setting batch_size=1.5 must be an integer >= 1 or null"),
    ("mlp-ensemble", {"encoding": "adjacency"}, "setting encoding='adjacency' must be one of 'onehot', 'path', "
                                                "'trunc_path'"),  # failed only at fit
    ("xgboost", {"n_estimators": 0}, "setting n_estimators=0 must be an integer in [1, 100000]"),
    ("xgboost", {"n_estimators": 10**12}, "setting n_estimators=1000000000000 must be an integer in [1, 100000]"),
    ("xgboost", {"n_estimators": "200"}, "setting n_estimators='200' must be an integer in [1, 100000]"),
    ("xgboost", {"max_depth": 0}, "setting max_depth=0 must be an integer in [1, 64]"),
    ("xgboost", {"max_depth": 65}, "setting max_depth=65 must be an integer in [1, 64]"),
    ("xgboost", {"max_depth": 2**31}, "setting max_depth=2147483648 must be an integer in [1, 64]"),  # XGBoostError
    ("xgboost", {"learning_rate": float("inf")}, "setting learning_rate=inf must be a finite number in (0, 10]"),
    ("xgboost", {"learning_rate": 1e308}, "setting learning_rate=1e+308 must be a finite number in (0, 10]"),
    ("xgboost", {"learning_rate": 0.0}, "setting learning_rate=0.0 must be a finite number in (0, 10]"),
    ("xgboost", {"subsample": 1.5}, "setting subsample=1.5 must be a finite number in (0, 1]"),
    ("xgboost", {"subsample": 0.0}, "setting subsample=0.0 must be a finite number in (0, 1]"),
    ("xgboost", {"subsample": float("nan")}, "setting subsample=nan must be a finite number in (0, 1]"),
    ("xgboost", {"encoding": "adjacency"}, "setting encoding='adjacency' must be one of"),
    ("random-forest", {"n_estimators": 0}, "setting n_estimators=0 must be an integer in [1, 10000]"),
    ("random-forest", {"n_estimators": 10**12}, "setting n_estimators=1000000000000 must be an integer in [1, 10000]"),
    ("random-forest", {"min_samples_leaf": 0}, "setting min_samples_leaf=0 must be an integer in [1, 15625] (the "
                                               "cells of the space)"),
    ("random-forest", {"min_samples_leaf": 10**30}, "setting min_samples_leaf=1000000000000000000000000000000 must "
                                                    "be an integer in [1, 15625]"),
    ("random-forest", {"min_samples_leaf": 0.5}, "setting min_samples_leaf=0.5 must be an integer in [1, 15625]"),
    ("random-forest", {"encoding": "path "}, "setting encoding='path ' must be one of"),
    ("ridge", {"alpha": -1.0}, "setting alpha=-1.0 must be a finite number in (0, 1e+12]"),
    ("ridge", {"alpha": 0}, "setting alpha=0 must be a finite number in (0, 1e+12]"),  # singular
    ("ridge", {"alpha": float("inf")}, "setting alpha=inf must be a finite number in (0, 1e+12]"),
    ("ridge", {"alpha": 1e16}, "setting alpha=1e+16 must be a finite number in (0, 1e+12]"),
    ("ridge", {"alpha": "1"}, "setting alpha='1' must be a finite number in (0, 1e+12]"),
    ("ridge", {"encoding": None}, "setting encoding=None must be one of"),
]


@pytest.mark.parametrize("name, settings, message", REFUSED)
def test_out_of_range_predictor_settings_are_refused(name: str, settings: dict, message: str) -> None:
    """Each setting's declared Bound: one PredictorError naming the predictor, the setting and its range."""
    with pytest.raises(PredictorError) as info:
        make_predictor(name, **settings)
    assert str(info.value).startswith(f"{name}: {message}"), str(info.value)


@pytest.mark.parametrize("name, settings, message", [
    ("ridge", {"extra_features": np.zeros(10)}, "extra_features must be a"),
    ("ridge", {"alpha": 1.0, "depth": 3}, "bad settings for predictor 'ridge'"),  # not a bare TypeError
])
def test_other_bad_predictor_settings_are_refused(name: str, settings: dict, message: str) -> None:
    with pytest.raises(PredictorError, match=message):
        make_predictor(name, **settings)


@pytest.mark.parametrize("name, settings, message", REFUSED[::4])
def test_a_predictor_class_refuses_a_setting_as_make_predictor_does(name: str, settings: dict, message: str) -> None:
    with pytest.raises(PredictorError) as made:
        make_predictor(name, **settings)
    with pytest.raises(PredictorError) as direct:
        PREDICTORS[name](**settings)
    assert str(direct.value) == str(made.value)


@pytest.mark.parametrize("name, settings", [
    *((name, {}) for name in PREDICTORS),  # the defaults
    ("mlp-ensemble", {"members": 1000, "hidden": (1,) * 1000, "epochs": 100_000, "lr": 10, "weight_decay": 10,
                      "batch_size": 10**9, "beta2": 0.0, "encoding": "onehot", "loss": "mae", "init": "glorot"}),
    ("mlp-ensemble", {"members": 1, "hidden": [100_000], "lr": 1e-300, "batch_size": None}),  # a list, 15.6M weights
    ("mlp-ensemble", {"members": 1, "hidden": (1000,) * 100, "encoding": "trunc_path"}),  # 99,131,001 weights
    ("xgboost", {"n_estimators": 100_000, "max_depth": 64, "learning_rate": 10, "subsample": 1e-9,
                 "encoding": "path"}),
    ("xgboost", {"n_estimators": 1, "max_depth": 1, "learning_rate": 1e-300, "subsample": 1}),
    ("random-forest", {"n_estimators": 10_000, "min_samples_leaf": 15_625, "encoding": "trunc_path"}),
    ("ridge", {"alpha": 1e12}), ("ridge", {"alpha": 1e-300, "encoding": "path"}),
    # numpy's numbers, as a grid of settings built with np.arange gives them
    ("mlp-ensemble", {"members": np.int64(3), "hidden": (np.int32(8),), "epochs": np.int64(5), "lr": np.float32(0.1)}),
    ("xgboost", {"n_estimators": np.int64(10), "max_depth": np.int64(3)}),
])
def test_predictor_settings_at_the_ends_of_their_bounds_are_accepted(name: str, settings: dict) -> None:
    model = make_predictor(name, **settings)
    assert all(getattr(model, key) == value for key, value in settings.items())


@pytest.mark.parametrize("name, settings", [
    ("bananas", {}), ("bananas-warm", {}), ("xgb-evolution", {}),
    # the ends of the strategies' own bounds (tests/test_strategies.py) build predictors inside the predictors'
    ("bananas", {"members": 100, "train_epochs": 10_000, "layers": 1, "width": 1024, "batch_size": 10**9,
                 "lr": 10.0}),
    ("bananas", {"members": 1, "layers": 100, "width": 1000}),
    ("bananas", {"members": 100, "layers": 1, "width": 1024, "encoding": "path", "loss": "mse"}),
    ("bananas", {"members": 1, "layers": 1, "width": 1, "train_epochs": 1, "batch_size": 1, "lr": 1e-300}),
    ("xgb-evolution", {"n_estimators": 100_000, "learning_rate": 10.0, "subsample": 1e-9}),
    ("xgb-evolution", {"n_estimators": 1, "learning_rate": 1e-300, "subsample": 1.0}),
])
def test_the_model_strategies_predictors_pass_the_predictor_bounds(name: str, settings: dict) -> None:
    """BANANAS's ensemble (its predictor()) and xgb-evolution's trees, at their defaults and at the ends of the
    strategies' bounds, are inside the predictors' bounds: no run that the strategy accepts is refused at its
    first fit."""
    from nasbench_suite.strategy import SearchSpace, make_strategy

    strategy = make_strategy(name.removesuffix("-warm"), settings)
    strategy.setup(SearchSpace((4, 12), np.arange(15625)), np.random.default_rng(0))
    model = strategy.predictor()
    assert type(model).__name__ == ("XGBoostPredictor" if name == "xgb-evolution" else "MLPEnsemble")


@pytest.mark.parametrize("name", ["xgboost", "random-forest", "ridge"])
def test_extra_features_with_too_few_rows_is_a_clear_error(name: str) -> None:
    pytest.importorskip("xgboost" if name == "xgboost" else "sklearn")
    model = make_predictor(name, extra_features=np.zeros((10, 1)))  # used to be a bare IndexError
    with pytest.raises(PredictorError, match="extra_features has 10 rows .* arch index 99"):
        model.fit(np.array([5, 99, 3]), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", list(PREDICTORS))
def test_predicting_no_archs_gives_an_empty_array(name: str) -> None:
    pytest.importorskip({"xgboost": "xgboost", "random-forest": "sklearn"}.get(name, "numpy"))
    settings = {"epochs": 5} if name == "mlp-ensemble" else {}
    model = make_predictor(name, **settings).fit(np.arange(10), np.arange(10.0))
    mean, spread = model.predict_dist([])  # random-forest used to raise sklearn's ValueError
    assert mean.shape == spread.shape == (0,) and model.predict(np.array([], dtype=np.int64)).shape == (0,)


def test_kendall_tau_curve_arguments() -> None:
    with pytest.raises(PredictorError, match="same length, got 100 and 99"):  # was a bare IndexError
        kendall_tau_curve(np.arange(100), np.arange(99.0), predictors=["ridge"], sizes=[10], test_size=20)
    with pytest.raises(PredictorError, match="repeats, test_size and seed must be integers"):  # bare TypeError
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes=[10], repeats=1.5)
    with pytest.raises(PredictorError, match="sizes must be integers"):
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes=[10.5])
    with pytest.raises(PredictorError, match="training-set sizes: 'ten' is not a list"):
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes="ten")
    # a string of sizes (was a bare ValueError) and a single predictor name (was "unknown predictor 'r'")
    one = kendall_tau_curve(np.arange(100), np.arange(100.0), predictors="ridge", sizes="10,20", repeats=1,
                            test_size=20)
    listed = kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge"], sizes=[10, 20], repeats=1,
                               test_size=20)
    assert one.drop(columns="fit_seconds").equals(listed.drop(columns="fit_seconds"))
    assert one["train_size"].tolist() == [10, 20] and set(one["predictor"]) == {"ridge"}


@pytest.mark.parametrize("arguments, error, message", [
    # "'int' object is not iterable", naming no argument
    ({"sizes": 10}, TypeError, "kendall_tau_curve: sizes must be a list of training-set sizes or a string like "
                               "'10,50,100', got 10"),
    ({"sizes": 10.0}, TypeError, "kendall_tau_curve: sizes must be a list"),
    ({"predictors": 3}, TypeError, "kendall_tau_curve: predictors must be a predictor name or a list of them, got 3"),
    # an empty frame, without a word
    ({"predictors": []}, PredictorError, "kendall_tau_curve: predictors must name at least one predictor; known "
                                         "predictors: mlp-ensemble, xgboost, random-forest, ridge"),
    ({"predictors": ()}, PredictorError, "kendall_tau_curve: predictors must name at least one predictor"),
])
def test_kendall_tau_curve_names_a_bad_argument_up_front(arguments: dict, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        kendall_tau_curve(np.arange(100), np.arange(100.0), **{"predictors": ["ridge"], "sizes": [10], "repeats": 1,
                                                               "test_size": 20, **arguments})
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("name", list(PREDICTORS))
@pytest.mark.parametrize("seed", [1.5, "1", None, True])
def test_make_predictor_refuses_a_seed_that_is_not_an_integer_up_front(name: str, seed: object) -> None:
    """seed=1.5 was taken and failed only at fit (numpy's default_rng, XGBoost's random_state)."""
    with pytest.raises(TypeError, match=rf"^make_predictor: seed must be an integer, got {seed!r}$"):
        make_predictor(name, seed=seed)
    assert make_predictor(name, seed=np.int64(3)).seed == 3  # numpy integers are integers


def test_kendall_tau_curve_splits_are_disjoint_and_its_tau_is_scipys_on_an_independent_fit() -> None:
    """Recomputes the curve of ``ridge`` from its definition: split r is default_rng([seed, r]).permutation,
    the first test_size cells held out, the next n the training set; the fit is scikit-learn's Ridge(alpha=1)
    on a one-hot written here (ours standardizes y and leaves the intercept unshrunk: the same predictions);
    tau is scipy's. The held-out cells are never trained on."""
    from scipy.stats import kendalltau
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(7)
    cells = rng.choice(15625, 300, replace=False)
    ops = (cells[:, None] // 5 ** np.arange(5, -1, -1)) % 5  # index = sum(op_e * 5**(5 - e))
    x = np.zeros((len(cells), 30))
    x[np.arange(len(cells))[:, None], 5 * np.arange(6) + ops] = 1.0
    y = x @ rng.normal(size=30) + rng.normal(0, 0.5, size=len(cells))
    curve = kendall_tau_curve(cells, y, predictors="ridge", sizes=[10, 40], repeats=2, test_size=100, seed=3)
    for row in curve.itertuples():
        order = np.random.default_rng([3, row.repeat]).permutation(len(cells))
        test, train = order[:100], order[100:100 + row.train_size]
        assert not set(cells[test]) & set(cells[train])
        pred = Ridge(alpha=1.0).fit(x[train], y[train]).predict(x[test])
        assert row.kendall_tau == pytest.approx(kendalltau(pred, y[test]).statistic, abs=1e-12)


def test_kendall_tau_curve_checks_every_predictor_name_before_fitting_any(monkeypatch: pytest.MonkeyPatch) -> None:
    """["ridge", "bogus"] is refused before ridge is fitted on any split (not after every ridge fit)."""
    def never(**settings):
        raise AssertionError("a predictor was made before the names were checked")

    monkeypatch.setitem(PREDICTORS, "ridge", never)
    with pytest.raises(PredictorError, match="unknown predictor 'bogus'"):
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors=["ridge", "bogus"], sizes=[10], test_size=20)


def test_kendall_tau_curve_refuses_a_cell_given_twice() -> None:
    """The same cell twice could be trained on and judged (a table's copied isomorphic members are the
    same trap, hence nasbench predictors' trained_rows); it used to be taken."""
    cells = np.r_[np.arange(50), np.arange(10)]
    with pytest.raises(PredictorError, match="holds a cell more than once"):
        kendall_tau_curve(cells, np.arange(60.0), predictors="ridge", sizes=[10], test_size=20)


def test_kendall_tau_curve_evaluates_a_predictor_named_twice_once() -> None:
    """["ridge", "ridge"] used to give two identical rows per split, so a mean over rows counted every split
    twice and the std over them shrank."""
    twice = kendall_tau_curve(np.arange(100), np.arange(100.0) % 7, predictors=["ridge", "ridge"], sizes=[10],
                              repeats=2, test_size=20)
    once = kendall_tau_curve(np.arange(100), np.arange(100.0) % 7, predictors="ridge", sizes=[10], repeats=2,
                             test_size=20)
    assert twice.drop(columns="fit_seconds").equals(once.drop(columns="fit_seconds")) and len(twice) == 2


def _autograd_ensemble(p, cells: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """What MLPEnsemble(p) claims to compute, in torch autograd (float64): per member, the same weight
    draws (uniform, Glorot or He bound; zero biases) and the same shuffled batch order from
    default_rng(p.seed), MAE or MSE on the standardized targets, torch's Adam(betas=(0.9, p.beta2)) with
    its L2 ``weight_decay`` (added to the gradient of every parameter, biases too)."""
    import math

    import torch

    rng = np.random.default_rng(p.seed)
    x = torch.from_numpy(encode(cells, p.encoding).astype(np.float64))
    t = torch.from_numpy((y - y.mean()) / y.std())[:, None]
    sizes = [x.shape[1], *p.hidden, 1]
    draws = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(6.0 / (fi if p.init == "he" else fi + fo))
        draws.append(rng.uniform(-bound, bound, size=(p.members, fi, fo)).astype(np.float32))
    orders = [np.argsort(rng.random((p.members, len(cells))), axis=1) for _ in range(p.epochs)]
    preds = []
    for m in range(p.members):
        params = []
        for w, fo in zip(draws, sizes[1:]):
            params += [torch.tensor(w[m], dtype=torch.float64, requires_grad=True),
                       torch.zeros(fo, dtype=torch.float64, requires_grad=True)]
        opt = torch.optim.Adam(params, lr=p.lr, betas=(0.9, p.beta2), eps=1e-8, weight_decay=p.weight_decay)

        def forward(h: "torch.Tensor") -> "torch.Tensor":
            for i in range(0, len(params), 2):
                h = h @ params[i] + params[i + 1]
                h = torch.relu(h) if i + 2 < len(params) else h
            return h

        for order in orders:
            for lo in range(0, len(cells), p.batch_size):
                rows = order[m, lo:lo + p.batch_size]
                err = forward(x[rows]) - t[rows]
                opt.zero_grad()
                (err.abs().mean() if p.loss == "mae" else (err**2).mean()).backward()
                opt.step()
        with torch.no_grad():
            preds.append(forward(torch.from_numpy(encode(test, p.encoding).astype(np.float64)))[:, 0].numpy())
    return np.array(preds) * y.std() + y.mean()


@pytest.mark.parametrize("settings", [
    {"loss": "mae", "init": "glorot", "beta2": 0.99, "encoding": "path"},  # naszilla's settings (BANANAS)
    {"loss": "mse", "init": "he", "beta2": 0.999, "encoding": "trunc_path"},
    {"loss": "mse", "init": "he", "beta2": 0.999, "encoding": "path", "weight_decay": 0.05},
])
def test_mlp_ensemble_trains_as_torch_autograd_would(settings: dict) -> None:
    """The hand-written batched NumPy backprop and Adam of MLPEnsemble equal torch autograd and torch's
    Adam on the same draws, member by member (float32 against float64: equal to 1e-4 of the range)."""
    from nasbench_suite.predictors import MLPEnsemble

    rng = np.random.default_rng(1)
    cells, test = rng.choice(15625, 45, replace=False), rng.choice(15625, 20, replace=False)
    y = encode(cells, "path") @ rng.normal(size=155) * 5 + 60
    p = MLPEnsemble(members=3, hidden=(20,) * 4, epochs=8, lr=0.01, batch_size=7, seed=3, **{"weight_decay": 0.0, **settings})
    mean, spread = p.fit(cells, y).predict_dist(test)
    ref = _autograd_ensemble(p, cells, y, test)
    assert np.abs(mean - ref.mean(axis=0)).max() < 1e-4 * np.ptp(y)
    assert np.abs(spread - ref.std(axis=0)).max() < 1e-4 * np.ptp(y) and (spread > 0).all()


@pytest.mark.parametrize("name", ["ridge", "random-forest"])
def test_targets_are_checked_before_a_fit(name: str) -> None:
    """One training point, or one non-finite target among finite ones, is refused with a PredictorError
    (the checks at their bounds: 2 points fit, a single NaN is enough to refuse)."""
    model = make_predictor(name)
    with pytest.raises(PredictorError, match="at least 2 training points, got 1"):
        model.fit(np.array([5]), [1.0])
    with pytest.raises(PredictorError, match="must be finite"):
        model.fit(np.array([5, 6, 7]), [1.0, np.nan, 2.0])
    with pytest.raises(PredictorError, match="must be finite"):
        model.fit(np.array([5, 6, 7]), [1.0, np.inf, 2.0])
    assert make_predictor(name).fit(np.array([5, 6]), [1.0, 2.0]).predict(np.array([5])).shape == (1,)


def test_extra_features_bounds_are_one_row_per_arch_index() -> None:
    """extra_features may have at most 15,625 rows (one per arch index), and a fit on arch index k needs
    row k: with 10 rows, index 9 is fine and index 10 (one past the end) is a clear error."""
    with pytest.raises(PredictorError, match="extra_features must be a"):
        make_predictor("ridge", extra_features=np.zeros((15626, 1)))
    make_predictor("ridge", extra_features=np.zeros((15625, 1)))
    model = make_predictor("ridge", extra_features=np.arange(10.0)[:, None])
    with pytest.raises(PredictorError, match="extra_features has 10 rows .* arch index 10"):
        model.fit(np.array([3, 10]), [1.0, 2.0])
    model.fit(np.array([3, 9]), [1.0, 2.0])


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_ridge_predicts_as_scikit_learns_ridge_on_the_standardized_targets(alpha: float) -> None:
    """RidgePredictor(alpha) is scikit-learn's Ridge(alpha) (an unshrunk intercept) fitted on (y - mean) / std
    of a one-hot built here, its predictions scaled back."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    cells = rng.choice(15625, 40, replace=False)
    x = encode(cells, "onehot").astype(np.float64)
    y = x @ rng.normal(size=30) * 3 + 70 + rng.normal(0, 0.3, size=40)
    test = rng.choice(15625, 25, replace=False)
    t = (y - y.mean()) / y.std()
    want = Ridge(alpha=alpha).fit(x, t).predict(encode(test, "onehot").astype(np.float64)) * y.std() + y.mean()
    np.testing.assert_allclose(make_predictor("ridge", alpha=alpha).fit(cells, y).predict(test), want, rtol=1e-10)


def test_random_forest_spread_is_the_std_over_its_trees_in_target_units() -> None:
    """The forest learns standardized targets, so fitting on 4 y gives the same trees (a power of 2: the
    standardized targets are bit-identical; with one-hot inputs many splits tie, so any rounding could pick
    another): the mean and the spread (the std over the trees' predictions) become 4 times as large, and
    the spread is scikit-learn's trees' std times the targets' std."""
    rng = np.random.default_rng(4)
    cells, test = rng.choice(15625, 60, replace=False), rng.choice(15625, 15, replace=False)
    y = rng.normal(size=60)
    one = make_predictor("random-forest", n_estimators=20, seed=1).fit(cells, y)
    mean, spread = one.predict_dist(test)
    mean4, spread4 = make_predictor("random-forest", n_estimators=20, seed=1).fit(cells, 4 * y).predict_dist(test)
    np.testing.assert_allclose(mean4, 4 * mean, rtol=1e-12)
    np.testing.assert_allclose(spread4, 4 * spread, rtol=1e-12)
    per_tree = np.stack([tree.predict(encode(test, "onehot").astype(np.float64)) for tree in one._model.estimators_])
    np.testing.assert_allclose(spread, per_tree.std(axis=0) * y.std(), rtol=1e-10)
    assert (spread > 0).any()


def test_kendall_tau_curve_edges() -> None:
    """Sizes are sorted and deduplicated; the size check is exact (n + test_size cells fit, one more does
    not); a cell with a NaN target is left out (the curve equals the one without it); each repeat r seeds
    its predictor seed * 1000 + r; a tau that is undefined (constant predictions) is 0.0."""
    from scipy.stats import kendalltau

    cells, y = np.arange(60), (np.arange(60.0) * 7) % 11
    frame = kendall_tau_curve(cells, y, predictors="ridge", sizes=[20, 10, 20], repeats=1, test_size=20)
    assert frame["train_size"].tolist() == [10, 20]
    kendall_tau_curve(cells, y, predictors="ridge", sizes=[40], repeats=1, test_size=20)
    with pytest.raises(PredictorError, match="do not fit"):
        kendall_tau_curve(cells, y, predictors="ridge", sizes=[41], repeats=1, test_size=20)
    with_nan = kendall_tau_curve(np.r_[cells, 99], np.r_[y, np.nan], predictors="ridge", sizes=[10], test_size=20)
    without = kendall_tau_curve(cells, y, predictors="ridge", sizes=[10], test_size=20)
    assert with_nan.drop(columns="fit_seconds").equals(without.drop(columns="fit_seconds"))
    forest = kendall_tau_curve(cells, y, predictors="random-forest", sizes=[15], repeats=2, test_size=30, seed=2)
    for row in forest.itertuples():
        order = np.random.default_rng([2, row.repeat]).permutation(60)
        test, train = order[:30], order[30:45]
        model = make_predictor("random-forest", seed=2000 + row.repeat).fit(cells[train], y[train])
        assert row.kendall_tau == pytest.approx(kendalltau(model.predict(cells[test]), y[test]).statistic, abs=1e-12)
    flat = kendall_tau_curve(cells, np.ones(60), predictors="ridge", sizes=[10], repeats=1, test_size=20)
    assert flat["kendall_tau"].tolist() == [0.0]


@pytest.mark.parametrize("name", list(PREDICTORS))
def test_constant_targets_predict_the_constant(name: str) -> None:
    """Targets with no spread are scaled by 1, not divided by their std of 0 (NaN): every prediction is the
    constant (the ensemble's, after 30 epochs toward it from a random init, is close to it)."""
    pytest.importorskip({"xgboost": "xgboost", "random-forest": "sklearn"}.get(name, "numpy"))
    settings = {"epochs": 30} if name == "mlp-ensemble" else {}
    mean, spread = make_predictor(name, **settings).fit(np.arange(10), np.full(10, 61.5)).predict_dist([3, 4000])
    tol = 0.1 if name == "mlp-ensemble" else 1e-12
    assert np.isfinite(mean).all() and np.abs(mean - 61.5).max() < tol and np.abs(spread).max() < tol


def test_random_forest_is_scikit_learns_forest_with_its_settings_and_seed() -> None:
    """RandomForestPredictor(n_estimators, min_samples_leaf, seed) predicts as scikit-learn's
    RandomForestRegressor with those settings and random_state=seed on the standardized targets."""
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(6)
    cells, test = rng.choice(15625, 50, replace=False), rng.choice(15625, 20, replace=False)
    y = rng.normal(60, 5, size=50)
    x = encode(cells, "onehot").astype(np.float64)
    forest = RandomForestRegressor(n_estimators=10, min_samples_leaf=4, random_state=5, n_jobs=1)
    scaled = forest.fit(x, (y - y.mean()) / y.std()).predict(encode(test, "onehot").astype(np.float64))
    want = scaled * y.std() + y.mean()
    got = make_predictor("random-forest", n_estimators=10, min_samples_leaf=4, seed=5).fit(cells, y).predict(test)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_xgboost_row_subsampling_follows_the_seed() -> None:
    """With subsample 0.5 the trees depend on the seed: seeds 1 and 2 predict differently, seed 1 twice alike."""
    pytest.importorskip("xgboost")
    rng = np.random.default_rng(8)
    cells = rng.choice(15625, 80, replace=False)
    y = rng.normal(size=80)
    preds = [make_predictor("xgboost", n_estimators=20, subsample=0.5, seed=s).fit(cells, y).predict(cells[:20])
             for s in (1, 2, 1)]
    assert not np.array_equal(preds[0], preds[1])
    np.testing.assert_array_equal(preds[0], preds[2])


def test_kendall_tau_curve_refuses_one_training_cell_or_one_held_out_cell() -> None:
    with pytest.raises(PredictorError, match="training-set sizes must be integers >= 2"):
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors="ridge", sizes=[1, 10], test_size=20)
    with pytest.raises(PredictorError, match="test_size >= 2"):
        kendall_tau_curve(np.arange(100), np.arange(100.0), predictors="ridge", sizes=[10], test_size=1)


@pytest.mark.parametrize("name", ["ridge", "random-forest"])
def test_extra_features_are_inputs_after_the_encoding(name: str) -> None:
    """A target that is 5 x an extra column (random per arch) + 60 is learned from that column: held-out cells
    are predicted within 1.5 points (from the one-hot alone the error would be about the targets' spread, 5)."""
    rng = np.random.default_rng(9)
    extra = rng.normal(size=(15625, 1))
    cells, test = rng.choice(15625, 200, replace=False), rng.choice(15625, 20, replace=False)
    model = make_predictor(name, extra_features=extra, seed=0).fit(cells, 5 * extra[cells, 0] + 60)
    assert np.abs(model.predict(test) - (5 * extra[test, 0] + 60)).max() < 1.5
