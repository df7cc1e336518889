"""The ask/tell contract between a search strategy and the simulator, and the strategy registry.

A strategy is told about the space (:class:`SearchSpace`: which cells exist and at which epochs the
objective is recorded) and gets its own ``np.random.Generator``. It then answers
:meth:`Strategy.ask` with :class:`Query` values (an arch and an epoch count, optionally continuing
an earlier trial) and is told :class:`Result` values: the objective (a validation metric), the
simulated cost, the trial id and the simulated finish time. It never holds the table: every value it
sees was paid for on the simulated clock, and test metrics never reach it.

:class:`Query` and :class:`Result` are ``NamedTuple`` rather than dataclasses: they are immutable
values like a frozen dataclass but are built several times faster, and the simulator builds two per
query in its inner loop.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, ClassVar, Mapping, NamedTuple, Sequence, TypeVar

import numpy as np

from .errors import NasBenchError
from .settings_check import Bound, attribute_range_error, dataclass_defaults, setting_type_error
from .space import NUM_ARCHS, Arch, check_mutation_scheme


class StrategyError(NasBenchError, ValueError):
    """A strategy is unknown, misconfigured, or asked for something the simulator cannot run."""


class Query(NamedTuple):
    """Train ``arch`` to ``epochs`` epochs and validate it once.

    ``trial=None`` trains from scratch (a new trial). ``trial=t`` continues trial ``t`` (from an
    earlier :class:`Result` of the same arch that has finished) to more epochs and is charged only
    the extra epochs plus one validation pass; :meth:`Result.resume` builds such a query. ``tag`` is
    returned untouched in the result (bookkeeping for the strategy, e.g. a bracket id).
    """

    arch: Arch
    epochs: int
    trial: int | None = None
    tag: Any = None
    charge: float = 0.0
    """Extra simulated seconds of the strategy's own work charged to this query on top of its training
    cost (e.g. the measured seconds of scoring a pool of cells with a zero-cost proxy)."""


class Result(NamedTuple):
    """What a strategy is told about one finished query."""

    query: Query
    value: float
    """The search objective (e.g. validation accuracy, percent) after ``query.epochs`` epochs."""
    cost: float
    """Simulated seconds charged for this query (training of the new epochs + one validation pass)."""
    trial: int
    """Id of the training run this query created or continued; pass it back to continue it."""
    time: float
    """Simulated time at which the query finished."""
    latency: float | None = None
    """The cell's latency in ms when the run has a latency objective (``SearchSpace.latency_source``
    says whether it is measured or predicted, and on what); None otherwise."""

    @property
    def arch(self) -> Arch:
        return self.query.arch

    @property
    def epochs(self) -> int:
        return self.query.epochs

    @property
    def tag(self) -> Any:
        """The query's ``tag``, returned untouched (e.g. the rung or bracket a multi-fidelity strategy asked for)."""
        return self.query.tag

    def resume(self, epochs: int, tag: Any = None) -> Query:
        """A query that continues this result's trial to ``epochs`` epochs."""
        return Query(self.query.arch, epochs, self.trial, tag)


@dataclass(frozen=True, eq=False)
class SearchSpace:
    """What a strategy may know before it pays for anything.

    ``fidelities`` are the epoch counts at which the table records the objective for every cell
    (ascending); ``max_epoch`` is the last, the fidelity single-fidelity strategies query.
    ``arch_indices`` are the cells the table holds (all 15,625 for a full-coverage table). On a
    partial table, :meth:`mutate` and :meth:`neighbours` stay inside the table: a mutation picks a
    uniform in-table neighbour (a random in-table cell when there is none).
    """

    fidelities: tuple[int, ...]
    arch_indices: np.ndarray
    objective: str = "valid_acc"
    latency_source: str | None = None
    """How the latency in each :class:`Result` was obtained (e.g. "measured on <fingerprint>" or
    "predicted by ..."); None when the run has no latency objective."""
    max_latency: float | None = None
    """Constrained mode: only cells with latency <= this (ms) may be the incumbent."""
    proxies: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
    """Zero-cost proxies stored beside the table, when there are any: {name: (scores, seconds)}, each a
    (15625,) array indexed by arch (-inf: undefined, e.g. a disconnected cell). Computed at
    initialization, without training, so a strategy may read them; their seconds are real
    measurements that a strategy using them charges to the clock (:attr:`Query.charge`)."""
    full: bool = field(init=False)
    _member: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.fidelities:
            raise StrategyError("a search space needs at least one fidelity (epoch count)")
        indices = np.array(self.arch_indices, dtype=np.int64)  # a read-only copy: strategies share it
        indices.flags.writeable = False
        object.__setattr__(self, "arch_indices", indices)
        member = np.zeros(NUM_ARCHS, dtype=bool)
        member[indices] = True
        member.flags.writeable = False
        object.__setattr__(self, "_member", member)
        object.__setattr__(self, "full", bool(member.all()))

    @property
    def max_epoch(self) -> int:
        return self.fidelities[-1]

    def feasible(self, result: "Result") -> bool:
        """True unless the run is constrained and the result's latency exceeds ``max_latency``."""
        return self.max_latency is None or (result.latency is not None and result.latency <= self.max_latency)

    def constrained_value(self, result: "Result") -> float:
        """The objective for ranking under the latency constraint: the value when feasible, else
        ``-latency / max_latency`` (below every feasible value of a non-negative objective such as an
        accuracy, and lower for slower cells, so infeasible cells lead toward the feasible region)."""
        if self.feasible(result):
            return result.value
        assert self.max_latency is not None and result.latency is not None
        return -result.latency / self.max_latency

    @property
    def min_epoch(self) -> int:
        return self.fidelities[0]

    def epochs_or_max(self, epochs: int | None) -> int:
        """``epochs`` checked against the fidelities, or ``max_epoch`` when it is None."""
        if epochs is None:
            return self.max_epoch
        if isinstance(epochs, bool) or epochs not in self.fidelities:  # True == 1 to Python, never an epoch count
            raise StrategyError(f"epochs={epochs!r} is not a fidelity of this table; use one of {list(self.fidelities)}")
        return int(epochs)

    def contains(self, arch: Arch) -> bool:
        return bool(self._member[arch.index])

    def random_arch(self, rng: np.random.Generator) -> Arch:
        """A uniform cell of the table."""
        if self.full:
            return Arch.random(rng)
        return Arch.from_index(int(self.arch_indices[rng.integers(len(self.arch_indices))]))

    def mutate(self, arch: Arch, rng: np.random.Generator, scheme: str = "node_then_edge") -> Arch:
        """One random edit (:meth:`Arch.mutate`; NAS-Bench-201's node-then-edge by default). On a table of
        some cells, a uniform one of the neighbours it holds, whatever the scheme; an unknown scheme is refused
        all the same (it used to run there, and the manifest recorded it)."""
        check_mutation_scheme(scheme)
        if self.full:
            return arch.mutate(rng, scheme)
        near = self.neighbours(arch)
        return near[int(rng.integers(len(near)))] if near else self.random_arch(rng)

    def neighbours(self, arch: Arch) -> list[Arch]:
        """The cells one edit away that the table holds (edge-major, op-minor order)."""
        near = arch.neighbours()
        return near if self.full else [a for a in near if self.contains(a)]


class Strategy(ABC):
    """A search strategy: ``setup`` once, then ``ask``/``tell`` until the budget ends.

    * ``setup(space, rng)``: the space and the strategy's own generator (the only randomness it may use).
    * ``ask(n)``: up to ``n`` queries for the ``n`` idle workers. Returning fewer is fine (e.g. waiting
      for a rung to finish); returning none while nothing is running ends the run.
    * ``tell(results)``: only the results that finished since the last call, in finish order.
    * ``incumbent()``: the strategy's current answer, or ``None`` for the simulator's rule (the best
      objective among the results at the largest epoch count told so far; earliest wins ties).

    Settings are the strategy's constructor arguments; make the class a dataclass and they are
    recorded in run manifests automatically. An exception raised by these methods stops the run with a
    :class:`StrategyError` naming the strategy, the method and the line (the exception chained to it); a
    StrategyError they raise on purpose (a setting check) is prefixed "strategy 'NAME': " unless its
    message already starts with the strategy's name. ``bounds`` gives the range (or choices) of settings,
    which ``setup`` checks first with :meth:`check_bounds`: in a chain of setups (a subclass's calling its
    base's) only the base-most setup calls it, once, before anything else, and every setup above it calls
    ``super().setup`` before it reads a setting (the simulator also calls it before ``setup``, for a strategy
    whose setup does not).
    """

    name: ClassVar[str] = ""
    uses_torch: ClassVar[bool] = False
    bounds: ClassVar[Mapping[str, Bound]] = {}
    """{setting: the values it accepts} (:class:`~nasbench_suite.settings_check.Bound`)."""

    @abstractmethod
    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None: ...

    @abstractmethod
    def ask(self, n: int) -> list[Query]: ...

    @abstractmethod
    def tell(self, results: Sequence[Result]) -> None: ...

    def incumbent(self) -> Arch | None:
        return None

    def check_bounds(self) -> None:
        """StrategyError naming the first setting outside its ``bounds`` (before the run: an absurd value
        used to fail mid-run, overflow or exhaust the memory)."""
        problem = attribute_range_error(self.bounds, self)
        if problem:
            raise StrategyError(problem)

    def settings(self) -> dict[str, Any]:
        """The constructor settings (dataclass fields), JSON-friendly."""
        if not is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


# ----- registry ------------------------------------------------------------------------------------
_BUILTIN: dict[str, str] = {
    "random": "algorithms.random_search:RandomSearch",
    "rea": "algorithms.rea:RegularizedEvolution",
    "reinforce": "algorithms.reinforce:Reinforce",
    "reinforce-lstm": "algorithms.reinforce_lstm:LSTMReinforce",
    "local-search": "algorithms.local_search:LocalSearch",
    "bananas": "algorithms.bananas:Bananas",
    "hyperband": "algorithms.hyperband:Hyperband",
    "bohb": "algorithms.bohb:BOHB",
    "xgb-evolution": "algorithms.predictor_evolution:PredictorEvolution",
    "optuna": "algorithms.optuna_sampler:OptunaStrategy",
    "nsga2": "algorithms.nsga2:NSGA2",
    "rea-warm": "algorithms.warm_start:WarmStartREA",
    "random-warm": "algorithms.warm_start:WarmStartRandom",
    "bananas-warm": "algorithms.warm_start:WarmStartBananas",
    "rea-move": "algorithms.move_proposal:MoveProposalREA",
}
_REGISTERED: dict[str, type[Strategy]] = {}
OWN_STRATEGY_HINT = "one of your own is known once the module that registers it is imported: --import MODULE|FILE.py"
S = TypeVar("S", bound=type[Strategy])


def register(name: str) -> Callable[[S], S]:
    """Class decorator: make a strategy available by ``name`` (to :func:`make_strategy` and the CLI); a name
    a shipped strategy or another class holds is refused (:class:`StrategyError`)."""

    def deco(cls: S) -> S:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise StrategyError(f"@register({name!r}) needs a Strategy subclass, got {cls!r}")
        _check_name_free(name, cls)
        cls.name = name
        _REGISTERED[name] = cls
        return cls

    return deco


def _check_name_free(name: str, cls: type) -> None:
    """Refuse ``name`` when a shipped strategy or another class holds it: whichever was imported last
    would win, and runs of one would be labelled with the other's name. The same class defined again
    (a re-run notebook cell, a reloaded module: same module and qualified name) takes its name back."""
    shipped = _BUILTIN.get(name)
    if shipped is not None and cls.__module__ != shipped.partition(":")[0]:
        raise StrategyError(f"@register({name!r}) in {cls.__module__}: {name!r} is a shipped strategy; register "
                            f"{cls.__name__} under another name")
    taken = _REGISTERED.get(name)
    if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
        raise StrategyError(f"@register({name!r}) in {cls.__module__}: the name is taken by "
                            f"{taken.__module__}.{taken.__qualname__}; register {cls.__name__} under another name")


def strategy_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def registered_classes() -> dict[str, type[Strategy]]:
    """The classes registered so far, by name (a shipped one once its module is imported); a copy."""
    return dict(_REGISTERED)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name`` (built-ins are imported on first use)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = _BUILTIN.get(name)
    if target is None:
        raise StrategyError(f"unknown strategy {name!r}; known strategies: {', '.join(strategy_names())} "
                            f"({OWN_STRATEGY_HINT})")
    module, _, attr = target.partition(":")
    importlib.import_module(module)  # its @register fills _REGISTERED
    cls = _REGISTERED.get(name) or getattr(importlib.import_module(module), attr)
    cls.name = name
    return cls


def import_strategies(sources: Sequence[str]) -> None:
    """Import modules whose ``@register`` adds strategies: each a module name (``mylab.strategies``,
    found on ``sys.path``) or a ``.py`` file. A module that fails to import raises StrategyError."""
    for source in sources:
        try:
            if source.endswith(".py"):
                _import_file(Path(source).resolve())
            elif "/" in source or "\\" in source:  # no module name holds one: Python said "No module named '/a/b'"
                raise StrategyError(f"cannot import strategies from {source!r}: a path but not a .py file; give a "
                                    f".py file or a module name (e.g. mylab.strategies)")
            else:
                importlib.import_module(source)
        except StrategyError:
            raise
        except Exception as exc:  # the user's module may raise anything while it runs
            raise StrategyError(f"cannot import strategies from {source!r}: {type(exc).__name__}: {exc}") from None


def _import_file(path: Path) -> None:
    loaded = sys.modules.get(path.stem)
    if loaded is not None:
        if getattr(loaded, "__file__", None) == str(path):
            return
        raise StrategyError(f"cannot import {path} as module {path.stem!r}: a module of that name is already "
                            f"imported ({getattr(loaded, '__file__', 'built in')}); rename the file")
    if not path.is_file():
        raise StrategyError(f"no strategy file {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__nasbench_source__"] = str(path)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[path.stem]
        raise


def strategy_source(name: str) -> str | None:
    """What a fresh process imports (:func:`import_strategies`) to find strategy ``name``: None for the
    shipped strategies and for ones defined in the main script (a spawned process runs it again), else
    the module's name, or its file when it was imported from one."""
    module_name = strategy_class(name).__module__
    if module_name.split(".")[0] in ("algorithms", "nasbench_suite", "__main__", "__mp_main__"):
        return None
    return getattr(sys.modules.get(module_name), "__nasbench_source__", module_name)


def check_found_elsewhere(name: str, backend: str) -> None:
    """Raise StrategyError when worker processes (``backend`` "local") or Ray tasks ("ray") could not find
    strategy ``name``: one defined in the main script is found by spawned processes (they run the script
    again), but not when the script is no file (a notebook, ``python -``, ``python -c``), nor by Ray tasks,
    which never run it."""
    module = strategy_class(name).__module__
    if module not in ("__main__", "__mp_main__"):
        return
    path = getattr(sys.modules.get(module), "__file__", None)
    if backend == "ray" or path is None or not Path(path).is_file():
        where = "Ray tasks" if backend == "ray" else "worker processes (the main script is no file they can run)"
        raise StrategyError(f"strategy {name!r} is defined in __main__, which {where} cannot import: move it into "
                            "a module or .py file and import that, or run in this process (processes=1)")


def make_strategy(name: str, settings: dict[str, Any] | None = None) -> Strategy:
    """Build a registered strategy with keyword ``settings``; unknown settings raise StrategyError."""
    cls = strategy_class(name)
    settings = dict(settings or {})
    if is_dataclass(cls):
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise StrategyError(f"strategy {name!r} has no setting(s) {', '.join(unknown)}; "
                                f"its settings are {', '.join(sorted(known)) or 'none'}")
        problem = setting_type_error(dataclass_defaults(cls), settings)
        if problem:
            raise StrategyError(f"strategy {name!r}: {problem}")
    try:
        return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"cannot make strategy {name!r} with {settings}: {exc}") from None
