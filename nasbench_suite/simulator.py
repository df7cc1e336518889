"""Replay a search strategy against a table under a simulated clock.

One run = one strategy, one :class:`Oracle` (the search side of a table, compiled to dense arrays),
one :class:`Budget` and one run seed. The clock belongs to the run: a discrete-event simulation with
``workers`` asynchronous workers and a heap of finishing events ordered by (finish time, dispatch
sequence number), so simultaneous finishes are told first-dispatched first. Wall time never enters
the clock; the strategy's real time (setup/ask/tell/incumbent) is measured and kept apart as
overhead.

**Cost of a query**: the table's training seconds of the epochs it trains (all of them for a new
trial; only the epochs past the trial's last for a continued one) plus one validation pass at the
queried epoch, all read under the trial's table seed, plus the query's ``charge`` (seconds of the
strategy's own measured work, e.g. scoring cells with a zero-cost proxy; 0 by default).

**Budget** (enforced at dispatch; the run then drains what is running and ends):

* ``queries=N``: at most N queries are dispatched.
* ``seconds=T`` with ``overrun="strict"`` (default; the rule of NAS-Bench-201's random search and
  REA scripts): a query is started only if it would finish by T, so the clock never passes T. The
  first query that would is not run, not charged and not told, and no further query starts.
* ``seconds=T`` with ``overrun="finish"`` (NB201's REINFORCE script, NATS-Bench's scripts): a query
  is started whenever the clock is before T and always runs to the end, so the run ends before
  ``T + the longest query's cost``.

**Common random numbers**: a new trial of cell ``a`` that is the ``v``-th new trial of ``a`` in this
run reads the table seed picked by a hash of (run seed, a, v) among the seeds that hold a result
for ``a``. Two strategies with the same run seed that query the same cell see the same noise; a
continued trial keeps its seed (it is the same training run).

**Randomness**: ``SeedSequence(run_seed).spawn(2)`` gives the strategy's generator and the key of
the table-seed hash. There is no other randomness.
"""
from __future__ import annotations

import dataclasses
import heapq
import math
import numbers
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ArchError, NasBenchError, SplitNotAvailableError, mark_stopped_in
from .intlist import is_integer
from .space import NUM_ARCHS, Arch
from .strategy import Query, Result, SearchSpace, Strategy, StrategyError
from .table import Benchmark, TableView, higher_is_better

OVERRUN_POLICIES = ("strict", "finish")
TRAJECTORY_COLUMNS = ("step", "query", "arch_index", "epochs", "trial", "resumed", "table_seed", "start_time",
                      "finish_time", "cost", "value", "incumbent_index", "incumbent_value")
"""One row per told result, in the order the strategy was told (finish time, then dispatch order)."""


class BudgetError(NasBenchError, ValueError):
    """A budget is malformed or cannot end a run."""


MAX_RUN_QUERIES = 1_000_000
"""The most queries one run dispatches: a run of a seconds budget that reaches it stops there (stop reason
``query_limit``), and a queries budget above it is refused. Far above any published NAS-Bench-201 experiment
(hundreds to a few thousand queries); each told query holds about 1 KB in the run's columns, so a typo such as
``--budget 1e12`` or ``--max-queries 100000000`` ran with no end while memory grew by gigabytes."""


@dataclass(frozen=True)
class Budget:
    """How long a run may go: simulated ``seconds``, a number of ``queries``, or both (first reached ends it)."""

    seconds: float | None = None
    queries: int | None = None
    overrun: str = "strict"

    def __post_init__(self) -> None:
        if self.seconds is None and self.queries is None:
            raise BudgetError("a budget needs seconds, queries or both")
        if self.seconds is not None:
            if isinstance(self.seconds, bool) or not isinstance(self.seconds, numbers.Real) \
                    or not (self.seconds > 0 and math.isfinite(self.seconds)):
                raise BudgetError(f"budget seconds must be a positive number, got {self.seconds!r}")
            # numpy numbers as Python ones (the manifest is JSON); a Python int or float is kept as given
            object.__setattr__(self, "seconds", int(self.seconds) if isinstance(self.seconds, numbers.Integral)
                               else float(self.seconds))
        if self.queries is not None:
            if not is_integer(self.queries) or self.queries < 1:
                raise BudgetError(f"budget queries must be a positive integer, got {self.queries!r}")
            if self.queries > MAX_RUN_QUERIES:
                raise BudgetError(f"budget queries must be at most {MAX_RUN_QUERIES:,} per run, got {self.queries}")
            object.__setattr__(self, "queries", int(self.queries))
        if self.overrun not in OVERRUN_POLICIES:
            raise BudgetError(f"unknown overrun policy {self.overrun!r}; use {' or '.join(OVERRUN_POLICIES)}")

    def describe(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "queries": self.queries, "overrun": self.overrun,
                "enforced": "at dispatch",
                "policy": ("a query starts only if it would finish within the seconds budget; the first that "
                           "would not is dropped and the run ends" if self.overrun == "strict" else
                           "a query starts while the clock is before the seconds budget and runs to the end")}


def _split_measure(name: str) -> tuple[str, str]:
    if not isinstance(name, str):  # else "'NoneType' object has no attribute 'partition'"
        raise TypeError(f"objective must be a metric name such as 'valid_acc', got {name!r}")
    split, sep, measure = name.partition("_")
    if not sep or not measure:
        raise StrategyError(f"objective must look like <split>_<measure>, e.g. valid_acc; got {name!r}")
    if not higher_is_better(measure):
        raise StrategyError(f"strategies maximize their objective, and lower {measure} is better; use an accuracy "
                            f"(e.g. valid_acc), got {name!r}")
    return split, measure


class Oracle:
    """The search side of a table as dense float64 arrays: objective, cumulative training seconds and
    validation-pass seconds, indexed [row, seed slot, epoch].

    Built from a :class:`~nasbench_suite.table.SearchView` (a :class:`Benchmark` is turned into one
    first), so the test split cannot be read here. ``max_epoch`` limits the search to the first
    epochs of the table (search on a lower fidelity than the table's last).
    """

    def __init__(self, view: TableView, objective: str = "valid_acc", max_epoch: int | None = None) -> None:
        if hasattr(view, "search_view"):
            view = view.search_view()
        split, measure = _split_measure(objective)
        if split == "test":
            raise SplitNotAvailableError("search cannot use a test metric as its objective; use a valid or train metric")
        if max_epoch is not None and not is_integer(max_epoch):
            raise StrategyError(f"max_epoch (search epochs) must be an integer, got {max_epoch!r}")
        last = view.max_epoch if max_epoch is None else int(max_epoch)
        if not 1 <= last <= view.max_epoch:
            raise StrategyError(f"search epochs must be 1..{view.max_epoch} for table {view.name!r}, got {max_epoch}")
        view.array(split, measure, epoch=1)  # validates split and measure with a clear message
        for needed in (("train", "seconds"), ("valid", "seconds")):
            if needed[0] not in view.splits or needed[1] not in view.measures(needed[0]):
                raise StrategyError(f"table {view.name!r} records no {needed[0]}_{needed[1]}; the simulated clock needs "
                                    f"training and validation seconds")
        self.name = view.name
        self.objective = objective
        self.seeds: tuple[int, ...] = view.seeds
        epochs = range(1, last + 1)

        def stack(s: str, m: str) -> np.ndarray:
            return np.stack([np.stack([view.array(s, m, epoch=e, seed=sd) for e in epochs], axis=1)
                             for sd in view.seeds], axis=1)  # [row, seed, epoch]

        self.value = stack(split, measure)
        train = stack("train", "seconds")
        self.cum_train = np.concatenate([np.zeros((*train.shape[:2], 1)), np.cumsum(train, axis=2)], axis=2)
        self.valid_seconds = stack("valid", "seconds")
        recorded = ~np.isnan(self.value)
        self.fidelities = tuple(int(e) for e in epochs if recorded[:, :, e - 1].any(axis=1).all())
        if not self.fidelities:
            raise StrategyError(f"table {view.name!r} records {objective} for every cell at no epoch up to {last}")
        # seed slots usable for a cell: those that hold everything a query at a fidelity reads (the
        # objective and validation seconds at each fidelity, training seconds of every epoch up to the last)
        at = np.asarray(self.fidelities) - 1
        usable = (recorded[:, :, at].all(axis=2) & ~np.isnan(self.valid_seconds[:, :, at]).any(axis=2)
                  & ~np.isnan(self.cum_train[:, :, self.fidelities[-1]]))
        self.n_slots = usable.sum(axis=1).astype(np.int64)
        self.slots = np.argsort(~usable, axis=1, kind="stable").astype(np.int64)  # usable slots first, in seed order
        self.row_of = np.full(NUM_ARCHS, -1, dtype=np.int64)
        self.row_of[view.arch_indices] = np.arange(view.num_archs)
        self.space = SearchSpace(self.fidelities, np.sort(np.asarray(view.arch_indices, dtype=np.int64)), objective)
        self.latency: np.ndarray | None = None
        """(15625,) ms by arch: told with each result, and checked for a named incumbent, which may be a cell the
        table lacks."""
        self._arch_indices = np.asarray(view.arch_indices, dtype=np.int64)

    def with_latency(self, per_arch: np.ndarray, source: str, max_latency: float | None = None) -> "Oracle":
        """Give the run a latency objective: ``per_arch`` is a (15625,) array of ms (a
        :class:`~nasbench_suite.latency.LatencyTable`'s ``of(batch)``, measured or predicted), told to
        the strategy in every :class:`Result` and described to it by ``source``. ``max_latency`` (ms)
        turns on constrained mode: the incumbent is the best result whose latency is within it
        (none until one is found)."""
        per_arch = np.array(per_arch, dtype=np.float64)  # a copy: the caller's array may change after
        if per_arch.shape != (NUM_ARCHS,):
            raise StrategyError(f"latency must be a ({NUM_ARCHS},) array indexed by arch, got shape {per_arch.shape}")
        rows = per_arch[self._arch_indices]
        bad = int((~(np.isfinite(rows) & (rows >= 0))).sum())  # NaN, +inf and negative: an inf was counted as 0 cells
        if bad:
            raise StrategyError(f"latency ({source}) is missing, infinite or negative for {bad} cells "
                                f"of table {self.name!r}; a search needs the latency of every cell: measure all isomorphism "
                                f"classes (`nasbench latency measure` without --archs) or use a predicted latency")
        if max_latency is not None and (isinstance(max_latency, bool) or not isinstance(max_latency, numbers.Real)
                                        or not (max_latency > 0 and math.isfinite(max_latency))):
            raise StrategyError(f"max_latency must be a positive number of ms, got {max_latency!r}")
        self.latency = per_arch
        self.space = SearchSpace(self.fidelities, self.space.arch_indices, self.objective, source,
                                 None if max_latency is None else float(max_latency), self.space.proxies)
        return self

    def with_proxies(self, proxies: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> "Oracle":
        """Let strategies read zero-cost proxies: {name: ((15625,) scores, (15625,) measured seconds)}."""
        for name, (scores, seconds) in proxies.items():
            if np.shape(scores) != (NUM_ARCHS,) or np.shape(seconds) != (NUM_ARCHS,):
                raise StrategyError(f"proxy {name!r} must be two ({NUM_ARCHS},) arrays indexed by arch")
        self.space = dataclasses.replace(self.space, proxies=dict(proxies))
        return self

    def with_stored_proxies(self, bench: Benchmark) -> "Oracle":
        """Let strategies read the zero-cost proxies stored beside ``bench`` (the table this oracle was
        built from), as ``nasbench search`` and :func:`~nasbench_suite.search.run_seeds` do; computed
        by ``nasbench proxies --table T``."""
        from .proxy_store import default_folder, stored_for  # imports torch: only when asked for

        if bench.name != self.name:
            raise StrategyError(f"this oracle searches table {self.name!r}, not {bench.name!r}")
        stored = stored_for(bench)
        if stored is None:
            raise StrategyError(f"no zero-cost proxies are stored for table {bench.name!r} (in "
                                f"{default_folder(bench)}); run `nasbench proxies --table {bench.name}` first")
        return self.with_proxies({p: (stored.scores[p], stored.seconds[p]) for p in stored.proxies})


# ----- common random numbers -----------------------------------------------------------------------
_MASK = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finalizer: a fast, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def crn_slot(key: int, arch_index: int, visit: int, n: int) -> int:
    """Which of ``n`` usable seed slots the ``visit``-th new trial of ``arch_index`` reads in a run keyed ``key``."""
    return _mix64(key ^ _mix64(arch_index * 0x10001 + visit)) % n if n > 1 else 0


def _run_seed(seed: int) -> int:
    """``seed`` as a Python int; :class:`StrategyError` naming it unless it is a non-negative integer."""
    if not is_integer(seed) or seed < 0:
        raise StrategyError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def run_keys(seed: int) -> tuple[np.random.Generator, int]:
    """The strategy's generator and the table-seed hash key of run ``seed``."""
    seed = _run_seed(seed)
    strategy_seq, crn_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(strategy_seq), int(crn_seq.generate_state(1, dtype=np.uint64)[0])


# ----- one run -------------------------------------------------------------------------------------
@dataclass
class Trajectory:
    """What one run did: a column per :data:`TRAJECTORY_COLUMNS`, plus how and when it ended.

    ``strategy_seconds`` (wall time inside the strategy's methods) and ``wall_seconds`` (the whole
    run) are real measurements, not part of the simulation, and differ from run to run.
    """

    seed: int
    columns: dict[str, np.ndarray]
    end_time: float
    stop_reason: str
    strategy_seconds: float = 0.0
    wall_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["step"])

    def final_incumbent(self) -> int:
        return int(self.columns["incumbent_index"][-1]) if len(self) else -1


def _check_query(q: Any, strategy: Strategy) -> None:
    if not isinstance(q, Query):
        raise StrategyError(f"{type(strategy).__name__}.ask() must return Query values, got {type(q).__name__}: {q!r}")
    if not isinstance(q.arch, Arch):
        raise StrategyError(f"{type(strategy).__name__}.ask() returned a Query whose arch is not an Arch: "
                            f"{type(q.arch).__name__} {q.arch!r} (Arch.from_index / Arch.parse convert an index or a "
                            "cell string)")


def _check_asked(asked: Any, strategy: Strategy) -> None:
    """Refuse what ask() returned unless it is a sequence (a list, by the protocol) of queries."""
    if isinstance(asked, (Query, str, bytes)) or not isinstance(asked, Sequence):
        raise StrategyError(f"{type(strategy).__name__}.ask() must return a list of Query, got "
                            f"{type(asked).__name__}: {asked!r}")


def _strategy_failed(strategy: Strategy, method: str, exc: Exception) -> StrategyError:
    """One message for an exception raised by a strategy's own code: the strategy, the method, the
    exception and the line that raised it (the deepest one in the strategy's own module, if any)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = getattr(sys.modules.get(type(strategy).__module__), "__file__", None)
    where = next((f for f in reversed(frames) if f.filename == own), frames[-1] if frames else None)
    at = f" (at {where.filename}:{where.lineno})" if where is not None else ""
    # the first line only: torch's C++ errors carry a 40-line stack dump in their message, which made the
    # "one error line" of `nasbench search --strategy reinforce-lstm --set hidden=10**24` forty lines long
    lines = str(exc).strip().splitlines()
    text = lines[0] + (" [...]" if len(lines) > 1 else "") if lines else ""
    return StrategyError(f"strategy {_strategy_name(strategy)!r} failed in {method}(): {type(exc).__name__}: {text}{at}")


def _strategy_name(strategy: Strategy) -> str:
    return strategy.name or type(strategy).__qualname__


def _named(strategy: Strategy, exc: StrategyError) -> StrategyError:
    """``exc`` (a setting check's, e.g. "setting eta=1 must be an integer in [2, 1000]") as "strategy 'NAME': ...",
    so that in a run of several strategies the message says whose it is; a message that already starts with the
    strategy's name ("BOHB's KDE model samples any cell ...", "strategy 'rea' ...") is left as it is."""
    name = _strategy_name(strategy)
    words = r"[-_ ]?".join(map(re.escape, re.split(r"[-_ ]", name)))
    if re.match(rf"(strategy )?'?{words}\b", str(exc), flags=re.IGNORECASE):
        return exc
    return StrategyError(f"strategy {name!r}: {exc}")


def guarded(strategy: Strategy, method: str) -> Any:
    """``strategy.<method>`` turning an exception of the strategy's own code into :func:`_strategy_failed`'s
    StrategyError (chained to it); a StrategyError it raises on purpose (a setting check) is named after the
    strategy (:func:`_named`); an :class:`ArchError` (a cell the strategy built from a bad index, string or op
    tuple) is the strategy's own bug and is named like an exception of its code; the package's other errors
    pass unchanged. A Ctrl-C or ``kill PID`` that stops the method (one that never returns, say) passes too,
    carrying the strategy and the method (:func:`~nasbench_suite.errors.mark_stopped_in`), so the CLI's one
    line names them; the exception clause costs nothing while no exception is raised."""
    call = getattr(strategy, method)

    def guarded(*args: Any) -> Any:
        try:
            return call(*args)
        except KeyboardInterrupt as stop:
            mark_stopped_in(stop, strategy=_strategy_name(strategy), method=method)
            raise
        except StrategyError as exc:
            named = _named(strategy, exc)
            if named is exc:
                raise
            raise named from exc
        except ArchError as exc:
            raise _strategy_failed(strategy, method, exc) from exc
        except NasBenchError:
            raise
        except Exception as exc:
            raise _strategy_failed(strategy, method, exc) from exc

    return guarded


def _first_query_too_costly(limit_s: float, cost: float, charge: float, strategy: str) -> str:
    message = f"the budget of {limit_s:g} simulated s is smaller than the first query's cost ({cost:.4g} s"
    if not charge:
        return message + "); raise the budget"
    return (message + f", of which {charge:.4g} s charged by the strategy ({strategy})); raise the budget or lower "
            "what the strategy charges (e.g. a smaller warm-start pool: --set pool=N)")


MAX_WORKERS = 10_000
"""The most simulated workers of a run: far above NB201's one and any asynchronous setup studied, low enough
that the first ``ask(workers)`` list fits in memory (``--sim-workers 99999999999999999999`` filled memory
instead of failing)."""


def run_search(strategy: Strategy, oracle: Oracle, budget: Budget, seed: int, *, workers: int = 1) -> Trajectory:
    """Run ``strategy`` from scratch under ``budget`` with ``workers`` simulated workers; see the module doc.
    A Ctrl-C or ``kill PID`` that stops the run passes, carrying the strategy and the run seed (see
    :data:`~nasbench_suite.errors.STOPPED_IN`). A query, trial or incumbent the run cannot take raises a
    :class:`StrategyError` whose message starts with the strategy's name (:func:`_named`). An argument of the
    wrong type (a name for ``strategy``, a table for ``oracle``, a number for ``budget``) is a TypeError naming it."""
    for name, value, kind, example in (("strategy", strategy, Strategy, "make_strategy('rea')"),
                                       ("oracle", oracle, Oracle, "Oracle(load_table('digits'))"),
                                       ("budget", budget, Budget, "Budget(queries=100) or Budget(seconds=3600)")):
        if not isinstance(value, kind):  # else an AttributeError deep in the run ("'int' object has no attribute...")
            raise TypeError(f"run_search: {name} must be a {kind.__name__}, e.g. {example}; got {value!r:.80}")
    if not is_integer(workers) or not 1 <= workers <= MAX_WORKERS:
        raise StrategyError(f"workers must be an integer 1..{MAX_WORKERS:,}, got {workers!r}")
    workers, seed = int(workers), _run_seed(seed)
    try:
        return _run(strategy, oracle, budget, seed, workers)
    except KeyboardInterrupt as stop:
        mark_stopped_in(stop, strategy=_strategy_name(strategy), seed=seed)
        raise
    except StrategyError as exc:  # a query, trial or incumbent the strategy gave: say whose (README)
        named = _named(strategy, exc)
        if named is exc:
            raise
        raise named from exc


def _run(strategy: Strategy, oracle: Oracle, budget: Budget, seed: int, workers: int) -> Trajectory:
    """:func:`run_search` of checked arguments."""
    wall = time.perf_counter
    started = wall()
    rng, key = run_keys(seed)
    t = wall()
    guarded(strategy, "check_bounds")()  # a strategy of the user's whose setup does not check its bounds
    guarded(strategy, "setup")(oracle.space, rng)
    overhead = wall() - t

    value_of, cum, vsec = oracle.value, oracle.cum_train, oracle.valid_seconds
    row_of, n_slots, slots, seeds = oracle.row_of, oracle.n_slots, oracle.slots, oracle.seeds
    max_epoch = oracle.fidelities[-1]
    limit_s = math.inf if budget.seconds is None else float(budget.seconds)
    limit_q = budget.queries if budget.queries is not None else MAX_RUN_QUERIES
    limit_reason = "queries" if budget.queries is not None else "query_limit"
    strict = budget.overrun == "strict"
    lat_of = oracle.latency
    limit_lat = oracle.space.max_latency
    limit_lat = math.inf if limit_lat is None else limit_lat

    trial_arch: list[int] = []  # per trial: arch index, epochs trained, seed slot, running?
    trial_epochs: list[int] = []
    trial_slot: list[int] = []
    trial_busy: list[bool] = []
    visits: dict[int, int] = {}
    latest: dict[int, float] = {}  # per arch, the last value told at its largest epoch count (a named incumbent's)
    latest_e: dict[int, int] = {}
    heap: list[tuple[float, int, int, Query, float, float, float, int, bool]] = []
    rec: dict[str, list] = {c: [] for c in TRAJECTORY_COLUMNS}
    now, dispatched, free, stop_reason = 0.0, 0, workers, ""
    best_e, best_v, best_a = 0, -math.inf, -1
    strategy_ask, strategy_tell, strategy_inc = (guarded(strategy, m) for m in ("ask", "tell", "incumbent"))

    while True:
        if not stop_reason and free:
            if dispatched == limit_q:
                stop_reason = limit_reason
            elif not strict and now >= limit_s:
                stop_reason = "seconds"
        asked: Sequence[Query] = ()
        if not stop_reason and free:
            t = wall()
            asked = strategy_ask(free)
            overhead += wall() - t
            if type(asked) is not list:
                _check_asked(asked, strategy)
            if len(asked) > free:
                raise StrategyError(f"ask({free}) returned {len(asked)} queries; at most {free} workers are idle")
            for q in asked:
                if dispatched == limit_q:
                    stop_reason = limit_reason
                    break
                _check_query(q, strategy)
                a = q.arch.index
                r = row_of[a]
                if r < 0:
                    raise StrategyError(f"architecture {a} ({q.arch}) is not in table {oracle.name!r}")
                e = q.epochs
                if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or not 1 <= e <= max_epoch:
                    raise StrategyError(f"ask() returned a query of arch {a} for {e!r} epochs; query epochs must be an "
                                        f"integer 1..{max_epoch}")
                if q.trial is None:
                    v, n = visits.get(a, 0), int(n_slots[r])
                    if not n:
                        raise StrategyError(f"table {oracle.name!r} holds no seed with a complete record of arch {a} "
                                            f"(objective, training and validation seconds at epochs "
                                            f"{list(oracle.fidelities)}); it cannot be queried")
                    s = int(slots[r, crn_slot(key, a, v, n)])
                    cost = cum[r, s, e] + vsec[r, s, e - 1]
                    tid, resumed = len(trial_arch), False
                else:
                    tid, resumed = q.trial, True
                    if isinstance(tid, bool) or not (isinstance(tid, (int, np.integer)) and 0 <= tid < len(trial_arch)) \
                            or trial_arch[tid] != a:  # True == 1 to Python, never a trial id
                        raise StrategyError(f"cannot continue trial {tid!r}: no trial of arch {a} with that id in this run")
                    if trial_busy[tid]:
                        raise StrategyError(f"cannot continue trial {tid}: it is still running")
                    if e <= trial_epochs[tid]:
                        raise StrategyError(f"cannot continue trial {tid} to {e} epochs: it has already trained "
                                            f"{trial_epochs[tid]}")
                    s = trial_slot[tid]
                    cost = cum[r, s, e] - cum[r, s, trial_epochs[tid]] + vsec[r, s, e - 1]
                charge = q.charge
                if type(charge) is not float or charge:  # the default 0.0 costs one check
                    if isinstance(charge, bool) or not isinstance(charge, numbers.Real) \
                            or not (charge >= 0 and math.isfinite(charge)):
                        raise StrategyError(f"{type(strategy).__name__}.ask() returned a Query whose charge is not a "
                                            f"non-negative number of seconds: {type(charge).__name__} {charge!r}")
                    cost += float(charge)
                value = value_of[r, s, e - 1]
                if value != value:
                    raise StrategyError(f"table {oracle.name!r} records no {oracle.objective} at epoch {e} for arch {a}; "
                                        f"the objective is recorded at epochs {list(oracle.fidelities)}")
                if not cost > 0:
                    raise BudgetError(f"query of arch {a} at epoch {e} costs {cost} s in table {oracle.name!r}; "
                                      f"every query must cost a positive, recorded time")
                finish = now + cost
                if strict and finish > limit_s:
                    if dispatched == 0:  # not even one result: a budget or setting error, not a run
                        raise BudgetError(_first_query_too_costly(limit_s, cost, q.charge, type(strategy).__name__))
                    stop_reason = "seconds"
                    break
                if resumed:
                    trial_busy[tid] = True
                else:
                    visits[a] = visits.get(a, 0) + 1
                    trial_arch.append(a)
                    trial_epochs.append(0)
                    trial_slot.append(s)
                    trial_busy.append(True)
                heapq.heappush(heap, (finish, dispatched, tid, q, float(value), float(cost), now, s, resumed))
                dispatched += 1
                free -= 1
        if not heap:
            if not stop_reason:
                if not dispatched:  # not a run that ran out of cells: one that never started
                    raise StrategyError(f"{type(strategy).__name__}.ask({workers}) returned no query at the start of "
                                        "the run: a run needs at least one")
                stop_reason = "exhausted"  # the strategy asked for nothing and nothing is running
            break
        if free and asked and not stop_reason:
            continue  # idle workers remain and the strategy is still asking: fill them before time moves on
        finish, qnum, tid, q, value, cost, start, s, resumed = heapq.heappop(heap)
        now = finish
        free += 1
        e = q.epochs
        trial_epochs[tid] = e
        trial_busy[tid] = False
        a = trial_arch[tid]
        t = wall()
        lat = None if lat_of is None else float(lat_of[a])
        strategy_tell([Result(q, value, cost, tid, finish, lat)])
        named = strategy_inc()
        overhead += wall() - t
        if e >= latest_e.get(a, 0):  # a later, shorter trial of the same cell does not replace it
            latest[a], latest_e[a] = value, e
        feasible = lat is None or lat <= limit_lat
        if feasible and (e > best_e or (e == best_e and value > best_v)):
            best_e, best_v, best_a = e, value, a
        if named is None:
            inc_a, inc_v = best_a, (best_v if best_a >= 0 else math.nan)
        else:
            if not isinstance(named, Arch):
                raise StrategyError(f"{type(strategy).__name__}.incumbent() must return an Arch or None, got "
                                    f"{type(named).__name__}: {named!r} (Arch.from_index / Arch.parse convert an "
                                    f"index or a cell string)")
            inc_a = named.index
            # by arch: a cell the table lacks (a predictor's pick) is checked too where its latency is known
            if lat_of is not None and lat_of[inc_a] > limit_lat:
                raise StrategyError(f"incumbent {inc_a} breaks the latency constraint "
                                    f"({lat_of[inc_a]:.4g} ms > {limit_lat:.4g} ms)")
            inc_v = latest.get(inc_a, math.nan)
        rec["step"].append(len(rec["step"]))
        rec["query"].append(qnum)
        rec["arch_index"].append(a)
        rec["epochs"].append(e)
        rec["trial"].append(tid)
        rec["resumed"].append(resumed)
        rec["table_seed"].append(seeds[s])
        rec["start_time"].append(start)
        rec["finish_time"].append(finish)
        rec["cost"].append(cost)
        rec["value"].append(value)
        rec["incumbent_index"].append(inc_a)
        rec["incumbent_value"].append(inc_v)

    columns = {c: np.asarray(v, dtype=_DTYPES[c]) for c, v in rec.items()}
    return Trajectory(seed, columns, now, stop_reason, overhead, wall() - started,
                      {"dispatched": dispatched, "trials": len(trial_arch)})


_DTYPES: dict[str, Any] = {
    "step": np.int32, "query": np.int32, "arch_index": np.int32, "epochs": np.int16, "trial": np.int32,
    "resumed": np.bool_, "table_seed": np.int64, "start_time": np.float64, "finish_time": np.float64,
    "cost": np.float64, "value": np.float64, "incumbent_index": np.int32, "incumbent_value": np.float64,
}
