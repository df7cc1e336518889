"""Performance predictors: fit on (arch, accuracy) pairs, predict for archs.

A reusable layer of its own: model-based strategies (BANANAS, predictor-guided evolution) use it,
and :func:`kendall_tau_curve` (``nasbench predictors``) evaluates predictors alone. Every predictor
takes archs as :class:`~nasbench_suite.space.Arch` values or integer indices, is seeded explicitly
(``seed``), runs single-threaded (so results do not depend on the machine's core count) and has
``predict_dist`` returning a mean and a spread (zero spread for a single model).

==================  ==========  ==========================================================
name                encoding    model
==================  ==========  ==========================================================
``mlp-ensemble``    path        ensemble of ReLU MLPs (NumPy, Adam, MSE), members differ by init
``xgboost``         onehot      gradient-boosted trees (XGBoost ``hist``)
``random-forest``   onehot      scikit-learn random forest; spread over the trees
``ridge``           onehot      ridge regression on the 30-dim one-hot (a linear baseline)
==================  ==========  ==========================================================
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Protocol, Sequence

import numpy as np

from .encodings import ENCODING_DIMS, ENCODINGS, as_indices, encode
from .errors import NasBenchError
from .intlist import is_integer, parse_int_list
from .settings_check import Bound, attribute_range_error
from .space import NUM_ARCHS, Arch

if TYPE_CHECKING:
    import pandas as pd


class PredictorError(NasBenchError, ValueError):
    """A predictor is unknown, misconfigured or used before it is fitted."""


ArchBatch = Iterable[Arch] | np.ndarray


class Predictor(Protocol):
    encoding: str

    def fit(self, archs: ArchBatch, y: Sequence[float] | np.ndarray) -> "Predictor": ...

    def predict(self, archs: ArchBatch) -> np.ndarray: ...

    def predict_dist(self, archs: ArchBatch) -> tuple[np.ndarray, np.ndarray]: ...


def _targets(y: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.size != n:
        raise PredictorError(f"got {n} archs but {y.size} targets")
    if n < 2:
        raise PredictorError(f"a predictor needs at least 2 training points, got {n}")
    if not np.isfinite(y).all():
        raise PredictorError("training targets must be finite numbers")
    return y


def _require(ok: bool, message: str) -> None:
    """Raise PredictorError(message) unless ``ok`` (a setting checked when the predictor is made)."""
    if not ok:
        raise PredictorError(message)


def _check_extra_features(extra: np.ndarray | None) -> None:
    if extra is not None:
        shape = np.shape(extra)
        _require(len(shape) == 2 and 1 <= shape[0] <= NUM_ARCHS,
                 f"extra_features must be a (rows, k) matrix indexed by arch with 1 to {NUM_ARCHS} rows, "
                 f"got shape {shape}")


MAX_ENSEMBLE_WEIGHTS = 100_000_000
"""The most weights (biases included) an MLP ensemble may hold together: 400 MB of float32, which its
Adam state and gradients make 1.6 GB (the default ensemble holds 22,105)."""


def ensemble_weights(members: int, hidden: Sequence[int], inputs: int) -> int:
    """Weights and biases of ``members`` MLPs of ``hidden`` layer sizes on ``inputs`` features, one output
    each (:class:`MLPEnsemble`)."""
    sizes = [inputs, *hidden, 1]
    return members * sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def ensemble_size_error(members: int, hidden: Sequence[int], encoding: str, settings: str) -> str | None:
    """"settings SETTINGS give an ensemble of N weights ...; at most MAX_ENSEMBLE_WEIGHTS" when ``members`` MLPs
    of ``hidden`` layers on the ``encoding`` hold more than that (each setting bounded alone, together they
    reached ~1e10 weights, 40 GB), else None. ``settings`` names the caller's own settings that give them."""
    inputs = ENCODING_DIMS[encoding]
    weights = ensemble_weights(members, hidden, inputs)
    if weights <= MAX_ENSEMBLE_WEIGHTS:
        return None
    return (f"settings {settings} give an ensemble of {weights:,} weights on the {encoding} encoding ({inputs} "
            f"inputs); at most {MAX_ENSEMBLE_WEIGHTS:,}")


class _Standardized:
    """Shared target scaling: models learn (y - mean) / std. Each predictor declares the ``bounds`` of its
    settings (:class:`~nasbench_suite.settings_check.Bound`), checked when it is made by
    :meth:`_check_bounds`: a bad value is one PredictorError naming the predictor and the setting, not a
    TypeError, a loop without end or an exhausted memory at the first fit."""

    name: ClassVar[str] = ""
    """The predictor's name in :data:`PREDICTORS`, which starts its setting errors."""
    bounds: ClassVar[Mapping[str, Bound]] = {}
    """{setting: the values it accepts}, checked in this order."""
    encoding: str = "onehot"
    _mu: float = 0.0
    _sd: float = 1.0
    _fitted: bool = False
    extra_features: np.ndarray | None = None

    def _check_bounds(self) -> None:
        """PredictorError "NAME: setting KEY=VALUE must be ..." for the first setting outside its bound."""
        problem = attribute_range_error(self.bounds, self)
        _require(problem is None, f"{self.name}: {problem}")

    def _encode(self, archs: ArchBatch) -> np.ndarray:
        """The encoding, followed by the columns of ``extra_features`` (a matrix indexed by arch, e.g.
        zero-cost proxy scores) when the predictor has them."""
        x = encode(archs, self.encoding)
        if self.extra_features is None:
            return x
        extra, idx = np.asarray(self.extra_features), as_indices(archs)
        if idx.size and idx.max() >= len(extra):
            raise PredictorError(f"extra_features has {len(extra)} rows (one per arch index) but arch index "
                                 f"{int(idx.max())} was asked for; give a row for every arch used")
        extra = extra[idx]
        return np.hstack([x.astype(np.float64), extra.astype(np.float64)])

    def _scale(self, y: np.ndarray) -> np.ndarray:
        self._mu, self._sd = float(y.mean()), float(y.std()) or 1.0
        self._fitted = True
        return (y - self._mu) / self._sd

    def _check(self) -> None:
        if not self._fitted:
            raise PredictorError(f"{type(self).__name__} must be fitted before it predicts")

    def predict(self, archs: ArchBatch) -> np.ndarray:
        return self.predict_dist(archs)[0]

    def predict_dist(self, archs: ArchBatch) -> tuple[np.ndarray, np.ndarray]:
        self._check()
        x = self._encode(archs).astype(np.float64)
        if not len(x):  # no archs: nothing to predict (some models refuse an empty input)
            return np.zeros(0), np.zeros(0)
        mean, spread = self._predict_scaled(x)
        return mean * self._sd + self._mu, spread * self._sd

    def _predict_scaled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _new_model(self) -> Any:
        raise NotImplementedError

    def fit(self, archs: ArchBatch, y: Sequence[float] | np.ndarray) -> Any:
        """Fit a scikit-learn-style model from :meth:`_new_model` on the encoded archs and scaled targets."""
        x = self._encode(archs)
        self._model = self._new_model().fit(x, self._scale(_targets(y, len(x))))
        return self


# ----- MLP ensemble (NumPy) ------------------------------------------------------------------------
@dataclass
class MLPEnsemble(_Standardized):
    """``members`` ReLU MLPs trained together as one batched NumPy computation (Adam on MSE or MAE of
    the standardized targets; full-batch by default, or shuffled mini-batches of ``batch_size``, each
    member with its own order). BANANAS's predictor; the spread is the standard deviation over members.

    The defaults are this project's small, fast predictor. naszilla's BANANAS ensemble
    (``meta_neural_net.py`` ``MetaNeuralnet`` with ``params.py`` ``meta_neuralnet_params('standard')``)
    is ``hidden=(20,) * 10, loss="mae", epochs=150, batch_size=32, lr=0.01, beta2=0.99,
    weight_decay=0, init="glorot"`` (Keras's Dense defaults); :class:`algorithms.bananas.Bananas` uses it.
    """

    members: int = 5
    hidden: tuple[int, ...] = (32, 32)
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 1e-4
    encoding: str = "path"
    seed: int = 0
    loss: str = "mse"
    batch_size: int | None = None
    beta2: float = 0.999
    init: str = "he"
    _params: list[np.ndarray] = field(default_factory=list, init=False, repr=False)

    name = "mlp-ensemble"
    # members 0 predicted NaN, epochs 0 was untrained, no hidden layer a linear model, beta2 1 divided by 0 in
    # Adam's bias correction. Above: members 10**9, hidden (10**7,) * 3 or 10**7 layers filled the memory or
    # looped for ever, epochs 10**12 fitted for ever, lr 1e308 ran on overflows; the ends are far past any
    # real ensemble (BANANAS's: 5 members, 10 layers of 20, 150 epochs, lr 0.01), and members and hidden
    # together are bounded by MAX_ENSEMBLE_WEIGHTS in __post_init__. A batch_size past the training set is
    # full batch, so it has no upper end
    bounds = {"members": Bound(1, 1000, integer=True),
              "hidden": Bound(1, 100_000, integer=True, each=True, why="the units of 1 to 1000 hidden layers"),
              "epochs": Bound(1, 100_000, integer=True), "lr": Bound(0, 10, lo_open=True),
              "weight_decay": Bound(0, 10), "encoding": Bound(choices=ENCODINGS),
              "loss": Bound(choices=("mse", "mae")),
              "batch_size": Bound(1, integer=True, null=True, why="null: full batch"),
              "beta2": Bound(0, 1, hi_open=True), "init": Bound(choices=("he", "glorot"))}

    def __post_init__(self) -> None:
        self._check_bounds()
        _require(1 <= len(self.hidden) <= 1000,
                 f"{self.name}: setting hidden={self.hidden!r} must be {self.bounds['hidden'].describe()}")
        problem = ensemble_size_error(self.members, self.hidden, self.encoding,
                                      f"members={self.members}, hidden={self.hidden!r}")
        _require(problem is None, f"{self.name}: {problem}")

    def _init_bound(self, fan_in: int, fan_out: int) -> float:
        """Half-width of the uniform weight init: He-uniform for ReLU, or Glorot-uniform (Keras's default)."""
        return math.sqrt(6.0 / fan_in) if self.init == "he" else math.sqrt(6.0 / (fan_in + fan_out))

    def _batches(self, rng: np.random.Generator, n: int) -> list[np.ndarray | None]:
        """One epoch's batches as (members, b) row indices, each member in its own shuffled order as
        Keras's ``fit(shuffle=True)`` does; ``[None]`` (every row) when training full-batch."""
        if self.batch_size is None or self.batch_size >= n:
            return [None]
        order = np.argsort(rng.random((self.members, n)), axis=1)
        return [order[:, lo:lo + self.batch_size] for lo in range(0, n, self.batch_size)]

    def fit(self, archs: ArchBatch, y: Sequence[float] | np.ndarray) -> "MLPEnsemble":
        x_all = encode(archs, self.encoding)  # float32 throughout: half the memory traffic of float64
        t_all = self._scale(_targets(y, len(x_all)))[:, None].astype(np.float32)  # (n, 1)
        rng = np.random.default_rng(self.seed)
        sizes = [x_all.shape[1], *self.hidden, 1]
        shapes = [s for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
                  for s in ((self.members, fan_in, fan_out), (self.members, 1, fan_out))]
        bounds = np.cumsum([0] + [math.prod(s) for s in shapes])
        flat = np.zeros(bounds[-1], dtype=np.float32)  # every parameter is a view into one vector: one Adam update per step
        params = [flat[lo:hi].reshape(s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes)]
        for w, fan_in, fan_out in zip(params[::2], sizes[:-1], sizes[1:]):
            bound = self._init_bound(fan_in, fan_out)
            w[...] = rng.uniform(-bound, bound, size=w.shape).astype(np.float32)
        gflat, m, v = np.zeros_like(flat), np.zeros_like(flat), np.zeros_like(flat)
        grads = [gflat[lo:hi].reshape(s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes)]
        b1, b2, eps = 0.9, self.beta2, 1e-8
        step = 0
        for _ in range(self.epochs):
            for rows in self._batches(rng, len(x_all)):
                step += 1
                x, t = (x_all, t_all[None]) if rows is None else (x_all[rows], t_all[rows])  # (m|1, b, d), (m|1, b, 1)
                acts, pre = [x], []
                h: np.ndarray = x
                for i in range(0, len(params), 2):
                    z = np.matmul(h, params[i]) + params[i + 1]
                    pre.append(z)
                    h = np.maximum(z, 0.0) if i + 2 < len(params) else z
                    acts.append(h)
                b = x.shape[-2]
                # d(mean loss)/d(output), per member: squared error, or absolute error (Keras's 'mae')
                grad = (2.0 / b) * (h - t) if self.loss == "mse" else np.sign(h - t) / np.float32(b)
                for layer in range(len(params) // 2 - 1, -1, -1):
                    w = params[2 * layer]
                    np.matmul(np.swapaxes(acts[layer], -1, -2), grad, out=grads[2 * layer])
                    grads[2 * layer + 1][...] = grad.sum(axis=1, keepdims=True)
                    if layer:
                        grad = np.matmul(grad, np.swapaxes(w, -1, -2)) * (pre[layer - 1] > 0)
                if self.weight_decay:
                    gflat += np.float32(self.weight_decay) * flat  # (biases decay too: harmless at this size)
                m *= b1
                m += np.float32(1 - b1) * gflat
                v *= b2
                v += np.float32(1 - b2) * gflat * gflat
                flat -= np.float32(self.lr / (1 - b1**step)) * m / (np.sqrt(v / np.float32(1 - b2**step)) + np.float32(eps))
        self._params = params
        return self

    def _predict_scaled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h: np.ndarray = x
        for i in range(0, len(self._params), 2):
            h = np.matmul(h, self._params[i]) + self._params[i + 1]
            if i + 2 < len(self._params):
                h = np.maximum(h, 0.0)
        out = h[:, :, 0].astype(np.float64)  # (members, n)
        return out.mean(axis=0), out.std(axis=0)


# ----- tree models and a linear baseline -----------------------------------------------------------
@dataclass
class _FittedModel(_Standardized):
    """A predictor that wraps one scikit-learn-style model built by :meth:`_new_model`."""

    encoding: str = "onehot"
    seed: int = 0
    extra_features: np.ndarray | None = field(default=None, repr=False)
    """(15625, k) matrix indexed by arch: extra input columns after the encoding (e.g. proxy scores)."""
    _model: Any = field(default=None, init=False, repr=False)


@dataclass
class XGBoostPredictor(_FittedModel):
    """Gradient-boosted trees on the one-hot encoding (single thread, ``hist``)."""

    n_estimators: int = 200
    max_depth: int = 6
    learning_rate: float = 0.1
    subsample: float = 0.9

    name = "xgboost"
    # n_estimators 10**12 fitted for ever and learning_rate 1e308 was an XGBoostError at fit (the ends are
    # xgb-evolution's); XGBoost takes max_depth up to 2**31 - 1, but a table's 15,625 cells are split apart by
    # depth 14 in a balanced tree, so 64 is past any use, and max_depth 0 (XGBoost's "no limit") is refused
    bounds = {"n_estimators": Bound(1, 100_000, integer=True), "max_depth": Bound(1, 64, integer=True),
              "learning_rate": Bound(0, 10, lo_open=True), "subsample": Bound(0, 1, lo_open=True),
              "encoding": Bound(choices=ENCODINGS)}

    def __post_init__(self) -> None:
        _check_extra_features(self.extra_features)
        self._check_bounds()

    def _new_model(self) -> Any:
        import xgboost

        return xgboost.XGBRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                    learning_rate=self.learning_rate, subsample=self.subsample,
                                    tree_method="hist", n_jobs=1, random_state=self.seed % 2**31)

    def _predict_scaled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._model.predict(x.astype(np.float32)).astype(np.float64), np.zeros(len(x))


@dataclass
class RandomForestPredictor(_FittedModel):
    """scikit-learn random forest on the one-hot encoding; the spread is over the trees."""

    n_estimators: int = 100
    min_samples_leaf: int = 1

    name = "random-forest"
    # every tree is kept, of up to 2n nodes on n training cells: 10,000 trees fitted on a whole table (15,625
    # cells, ~1.4 MB a tree) hold about 14 GB, 10**12 filled the memory or fitted for ever. A min_samples_leaf
    # past the cells of the space is a one-leaf tree whatever the data (10**30 overflowed inside scikit-learn)
    bounds = {"n_estimators": Bound(1, 10_000, integer=True),
              "min_samples_leaf": Bound(1, NUM_ARCHS, integer=True, why="the cells of the space"),
              "encoding": Bound(choices=ENCODINGS)}

    def __post_init__(self) -> None:
        _check_extra_features(self.extra_features)
        self._check_bounds()

    def _new_model(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                     n_jobs=1, random_state=self.seed % 2**32)

    def _predict_scaled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = np.stack([tree.predict(x) for tree in self._model.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


@dataclass
class RidgePredictor(_Standardized):
    """Ridge regression on the one-hot encoding: additive per-edge op effects."""

    alpha: float = 1.0
    encoding: str = "onehot"
    seed: int = 0  # unused (deterministic); kept so every predictor takes the same arguments
    extra_features: np.ndarray | None = field(default=None, repr=False)
    _coef: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    name = "ridge"
    # alpha 0 is singular: the one-hot columns of each edge sum to the intercept column. Past 1e12 the penalty
    # swamps any table's data (at most 15,625 rows of 0/1 columns): every prediction is the training mean to
    # about 1e-7 of its spread
    bounds = {"alpha": Bound(0, 1e12, lo_open=True), "encoding": Bound(choices=ENCODINGS)}

    def __post_init__(self) -> None:
        _check_extra_features(self.extra_features)
        self._check_bounds()

    def fit(self, archs: ArchBatch, y: Sequence[float] | np.ndarray) -> "RidgePredictor":
        x = self._encode(archs).astype(np.float64)
        t = self._scale(_targets(y, len(x)))
        x1 = np.hstack([x, np.ones((len(x), 1))])
        reg = self.alpha * np.eye(x1.shape[1])
        reg[-1, -1] = 0.0  # do not shrink the intercept
        self._coef = np.linalg.solve(x1.T @ x1 + reg, x1.T @ t)
        return self

    def _predict_scaled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.hstack([x, np.ones((len(x), 1))]) @ self._coef, np.zeros(len(x))


PREDICTORS: dict[str, Callable[..., Predictor]] = {
    "mlp-ensemble": MLPEnsemble,
    "xgboost": XGBoostPredictor,
    "random-forest": RandomForestPredictor,
    "ridge": RidgePredictor,
}


def make_predictor(name: str, **settings: Any) -> Predictor:
    try:
        factory = PREDICTORS[name]
    except KeyError:
        raise PredictorError(f"unknown predictor {name!r}; known predictors: {', '.join(PREDICTORS)}") from None
    if "seed" in settings and not is_integer(settings["seed"]):  # 1.5 failed only at fit, in numpy or XGBoost
        raise TypeError(f"make_predictor: seed must be an integer, got {settings['seed']!r}")
    try:
        return factory(**settings)
    except TypeError as exc:
        raise PredictorError(f"bad settings for predictor {name!r}: {exc}") from None


# ----- evaluation ----------------------------------------------------------------------------------
MAX_TAU_REPEATS = 1_000
"""The most random splits :func:`kendall_tau_curve` draws (``nasbench predictors --repeats``; default 3)."""


def kendall_tau_curve(arch_indices: np.ndarray, y: np.ndarray, *, predictors: Sequence[str] | str,
                      sizes: Sequence[int] | str,
                      repeats: int = 3, test_size: int = 1000, seed: int = 0) -> "pd.DataFrame":
    """Kendall tau between predictions and ``y`` on a held-out sample, for each predictor and
    training-set size. Repeat ``r`` draws one random split (from ``seed`` and ``r``) shared by every
    predictor and size (the training set of size ``n`` is the first ``n`` of a fixed order), so
    predictors are compared on the same data. Training and held-out cells never overlap.

    ``arch_indices`` must be distinct cells trained for real: a table filled from isomorphism-class
    representatives copies each representative's row to the other members, so pass only
    :meth:`~nasbench_suite.table.Benchmark.trained_rows` (as ``nasbench predictors`` does), or a member
    in the training set and another in the held-out set would inflate tau (XGBoost on digits, n = 1,000:
    0.652 with the copies against 0.602 without). Cells with a non-finite target are left out.

    ``predictors`` may be one name (a name given twice is evaluated once); ``sizes`` may be a string
    like ``"10,50,100-102"`` (:func:`~nasbench_suite.intlist.parse_int_list`).

    Returns one row per (predictor, train_size, repeat): ``kendall_tau`` (scipy's tau-b; 0.0 where it is
    undefined because the predictions, or the held-out targets, are all equal), ``fit_seconds`` (wall time).
    """
    import pandas as pd
    from scipy.stats import kendalltau

    arch_indices = np.asarray(arch_indices, dtype=np.int64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(arch_indices) != len(y):
        raise PredictorError(f"arch_indices and y must have the same length, got {len(arch_indices)} and {len(y)}")
    ok = np.isfinite(y)
    arch_indices, y = arch_indices[ok], y[ok]
    if len(np.unique(arch_indices)) != len(arch_indices):  # the same cell could be trained on and judged
        raise PredictorError("arch_indices holds a cell more than once; give each cell once")
    if isinstance(predictors, str):
        predictors = [predictors]
    if not isinstance(predictors, Iterable):
        raise TypeError(f"kendall_tau_curve: predictors must be a predictor name or a list of them, got {predictors!r}")
    predictors = list(dict.fromkeys(predictors))  # twice the same rows would shrink the std over repeats
    if not predictors:  # an empty frame, without a word
        raise PredictorError("kendall_tau_curve: predictors must name at least one predictor; known predictors: "
                             f"{', '.join(PREDICTORS)}")
    if isinstance(sizes, str):
        try:
            sizes = parse_int_list(sizes)
        except ValueError as exc:
            raise PredictorError(f"training-set sizes: {exc}") from None
    elif not isinstance(sizes, Iterable):  # sizes=10: "'int' object is not iterable", naming nothing
        raise TypeError(f"kendall_tau_curve: sizes must be a list of training-set sizes or a string like "
                        f"'10,50,100', got {sizes!r}")
    if not all(is_integer(s) for s in sizes):
        raise PredictorError(f"training-set sizes must be integers >= 2, got {list(sizes)!r}")
    sizes = sorted(set(int(s) for s in sizes))
    if not sizes or sizes[0] < 2:
        raise PredictorError("training-set sizes must be integers >= 2")
    if not (is_integer(repeats) and is_integer(test_size) and is_integer(seed)):
        raise PredictorError(f"repeats, test_size and seed must be integers; got {repeats!r}, {test_size!r}, {seed!r}")
    if not 1 <= repeats <= MAX_TAU_REPEATS or test_size < 2 or seed < 0:  # (3,000,000 repeats ran for days)
        raise PredictorError(f"need repeats in [1, {MAX_TAU_REPEATS:,}], test_size >= 2 (a Kendall tau needs two "
                             f"held-out cells) and seed >= 0; got {repeats}, {test_size}, {seed}")
    if sizes[-1] + test_size > len(y):
        raise PredictorError(f"the table has {len(y)} cells with a target; {sizes[-1]} for training plus "
                             f"{test_size} held out do not fit")
    for name in predictors:
        if name not in PREDICTORS:
            raise PredictorError(f"unknown predictor {name!r}; known predictors: {', '.join(PREDICTORS)}")
    rows = []
    for r in range(repeats):
        order = np.random.default_rng([seed, r]).permutation(len(y))
        test = order[:test_size]
        for name in predictors:
            for n in sizes:
                train = order[test_size:test_size + n]
                model = make_predictor(name, seed=seed * 1000 + r)
                t0 = time.perf_counter()
                model.fit(arch_indices[train], y[train])
                fit_seconds = time.perf_counter() - t0
                pred = model.predict(arch_indices[test])
                tau = kendalltau(pred, y[test]).statistic
                rows.append({"predictor": name, "train_size": n, "repeat": r,
                             "kendall_tau": float(tau) if tau == tau else 0.0, "fit_seconds": fit_seconds})
    return pd.DataFrame(rows)
