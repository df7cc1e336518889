"""Hyperband (Li et al. 2018) on the epoch axis: successive-halving brackets that train many cells
for few epochs and continue the best to more epochs (charged only the extra epochs).

Rung epochs are ``max_epoch * eta**-k`` rounded up to an epoch the table records the objective at.
Two rungs rounded onto one epoch are one rung of the earlier rung's cells: successive halving trains
those, and its promotion to the same epoch costs nothing and only narrows them to the best, which the
next rung narrows further (e.g. fidelities 2 and 12, eta 3: the bracket trains 3 cells for 12 epochs,
not 1).
Bracket sizes are Li et al.'s: with ``s_max = floor(log_eta(max_epoch / min_epoch))``, the bracket of
``s + 1`` rungs starts ``ceil((s_max + 1) / (s + 1) * eta**s)`` cells and rung ``i`` keeps
``floor(n * eta**-i)`` of them, the best by value, ties to the cell sampled first, and runs them in
the order they were sampled (HpBandSter's ``SuccessiveHalving`` ranks its configs in sampling order with
NumPy's default argsort, and its iteration then runs them in that order). That argsort is stable only
for at most 16 configs under NumPy before 1.25 (an insertion sort; NB201's and NATS-Bench's brackets
hold 9 at most); NumPy 1.25 on AVX-512 CPUs (2.0 on AVX2) orders ties its own way at any size
(numpy 2.4 on a 2-core AVX-512 Xeon: 177 of 200 random 9-config rankings with ties differ from a
stable one), as does any NumPy past 16 configs, so there HpBandSter's tie order is not reproduced;
here it is always the cell sampled first. HpBandSter rounds
the first factor down instead (``floor((s_max + 1) / (s + 1)) * eta**s``: e.g. 3 cells, not 5, in the
middle bracket of ``s_max = 2``); the budget settings below give its brackets. Brackets run in Hyperband's order (most aggressive first) and repeat until the budget ends. With
several workers, a new bracket opens whenever every open bracket is waiting for results (as
HpBandSter does), so workers never idle. New cells come from :meth:`Hyperband.sample` (uniform
here; BOHB overrides it). On a table that records the objective at one epoch only, every bracket is
a single rung and Hyperband is random search.

Settings that replay a published BOHB protocol (their defaults keep the behaviour above):

* ``resume=False``: a promotion trains the cell again from scratch: a new trial (a :class:`Query`
  without a trial id, whose table seed is drawn anew) charged all its epochs, as a worker that
  queries the benchmark afresh at every budget does.
* ``min_budget`` and ``max_budget``: HpBandSter's brackets (``hpbandster.optimizers.bohb``) instead
  of the ones above: ``m = 1 - int(log(min_budget / max_budget) / log(eta))`` rung budgets
  ``max_budget * eta**-k`` (k = m-1 .. 0), and the bracket of ``s + 1`` rungs starts
  ``ceil(floor(m / (s + 1)) * eta**s)`` cells. A rung of budget ``b`` trains ``int(b)`` epochs
  (NATS-Bench's ``iepoch = int(budget) - 1``), or the first epoch above that the table records.
* ``query_epochs=E`` (needs the budgets and ``resume=False``): every query trains ``E`` epochs
  whatever its rung's budget, which then only names the rung (NB201's BOHB worker ignores the
  budget, so a promotion is the same 12-epoch query again).
* ``incumbent_rule``: ``"highest-epoch"`` (default) leaves it to the simulator (the best value at
  the highest epoch seen); ``"max-budget"`` is the best result of a top rung (HpBandSter's
  ``Result.get_incumbent_id``; the simulator's rule until a top rung has a result); ``"best"`` is
  the best result at any epoch (NATS-Bench's bohb.py). Ties go to the result told first (HpBandSter
  takes the smallest config id, i.e. the earliest bracket, then the first sampled in it: the same
  with one worker, where brackets run one after another; with several, a later bracket's result
  may be told first); under a latency constraint only feasible results count.

:meth:`Hyperband.observe` is told each result with its rung's budget (the rung epochs unless the
budgets are set), on which BOHB keys its models, as HpBandSter does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError, register

INCUMBENT_RULES = ("highest-epoch", "max-budget", "best")


class Bracket:
    """One successive-halving run: ``rungs`` is [(number of cells, epochs)]; ``budgets`` the rungs'
    budgets (default: their epochs). ``resume=False`` promotes a cell as a new trial."""

    def __init__(self, ident: int, rungs: list[tuple[int, int]], budgets: Sequence[float] | None = None,
                 resume: bool = True) -> None:
        self.ident, self.rungs = ident, rungs
        self.budgets = [e for _, e in rungs] if budgets is None else list(budgets)
        self.resume = resume
        self.rung = 0
        self.new_left = rungs[0][0]  # cells still to sample for rung 0
        self.promotions: list[Query] = []
        self.told: list[Result] = []
        self.sampled: dict[int, int] = {}  # arch index -> its position among the bracket's rung-0 cells

    @property
    def done(self) -> bool:
        return self.rung >= len(self.rungs)

    @property
    def budget(self) -> float:
        """The budget of the rung now running (whose results are being told)."""
        return self.budgets[self.rung]

    def next_query(self, sample: Callable[[], Arch]) -> Query | None:
        if self.done:
            return None
        if self.rung == 0 and self.new_left:
            self.new_left -= 1
            arch = sample()
            self.sampled.setdefault(arch.index, len(self.sampled))
            return Query(arch, self.rungs[0][1], tag=self.ident)
        return self.promotions.pop() if self.promotions else None

    def tell(self, result: Result) -> None:
        self.told.append(result)
        if len(self.told) < self.rungs[self.rung][0]:
            return
        self.rung += 1
        if self.done:
            return
        keep, epochs = self.rungs[self.rung]
        # HpBandSter's SuccessiveHalving: the best ``keep`` by value, ties to the cell sampled first
        # (argsort over the configs in sampling order, stable under the NumPy of NB201's time: module doc),
        # run in sampling order
        first = lambda r: self.sampled[r.arch.index]  # noqa: E731
        best = sorted(sorted(self.told, key=lambda r: (-r.value, first(r)))[:keep], key=first)
        if self.resume:
            self.promotions = [r.resume(epochs, tag=self.ident) for r in reversed(best)]  # pop() takes the first sampled
        else:
            self.promotions = [Query(r.arch, epochs, tag=self.ident) for r in reversed(best)]
        self.told = []


def bracket_schedule(fidelities: Sequence[int], eta: int, min_epoch: int, max_epoch: int) -> list[list[tuple[int, int]]]:
    """Hyperband's brackets (most aggressive first) as [(cells, epochs)] rungs on the table's fidelities."""
    s_max = int(math.floor(math.log(max_epoch / min_epoch, eta) + 1e-9))
    brackets = []
    for s in range(s_max, -1, -1):
        n0 = int(math.ceil((s_max + 1) / (s + 1) * eta**s))
        rungs: list[tuple[int, int]] = []
        for i in range(s + 1):
            target = max_epoch * eta ** (i - s)
            epochs = min(f for f in fidelities if f >= target - 1e-9)
            cells = max(1, int(n0 * eta**-i))
            if rungs and rungs[-1][1] == epochs:
                continue  # two rungs on one fidelity: one rung of the earlier's cells (module doc)
            rungs.append((cells, epochs))
        brackets.append(rungs)
    return brackets


def hpbandster_schedule(eta: int, min_budget: float, max_budget: float) -> list[list[tuple[int, float]]]:
    """HpBandSter's brackets (most aggressive first) as [(cells, budget)] rungs, computed as its
    ``BOHB.__init__`` and ``get_next_iteration`` do (NumPy floats included)."""
    m = -int(np.log(min_budget / max_budget) / np.log(eta)) + 1
    budgets = (max_budget * np.power(eta, -np.linspace(m - 1, 0, m))).tolist()
    brackets = []
    for s in range(m - 1, -1, -1):
        n0 = np.ceil(np.floor(m / (s + 1)) * eta**s)
        brackets.append([(max(int(n0 * eta ** (-i)), 1), budgets[m - 1 - s + i]) for i in range(s + 1)])
    return brackets


@register("hyperband")
@dataclass
class Hyperband(Strategy):
    eta: int = 3
    min_epoch: int | None = None
    """Smallest rung (default: the table's first fidelity)."""
    max_epoch: int | None = None
    """Largest rung (default: the table's last fidelity)."""
    resume: bool = True
    """Promotions continue the trial (charged the extra epochs); False: a new trial, charged in full."""
    min_budget: float | None = None
    """With ``max_budget``: HpBandSter's brackets over these budgets (see the module doc)."""
    max_budget: float | None = None
    query_epochs: int | None = None
    """Every query trains this many epochs, whatever its rung's budget (needs the budgets, resume=False)."""
    incumbent_rule: str = "highest-epoch"
    """"highest-epoch" (the simulator's), "max-budget" (HpBandSter's) or "best" (best at any epoch)."""
    # eta past int64 was a numpy TypeError under min_budget/max_budget. min_epoch/max_epoch 0 used to mean the
    # default silently; their default None let any type through the type check ("x" was a TypeError); the
    # table's fidelities bound them above
    bounds = {"eta": Bound(2, 1000, integer=True),
              "min_epoch": Bound(1, integer=True, null=True, why="null: the table's first fidelity"),
              "max_epoch": Bound(1, integer=True, null=True, why="null: the table's last fidelity"),
              "min_budget": Bound(0, lo_open=True, null=True), "max_budget": Bound(0, lo_open=True, null=True),
              "incumbent_rule": Bound(choices=INCUMBENT_RULES)}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        if not isinstance(self.resume, bool):
            raise StrategyError(f"resume must be true or false, got {self.resume!r}")
        self.space, self.rng = space, rng
        if self.min_budget is None and self.max_budget is None:
            if self.query_epochs is not None:
                raise StrategyError("query_epochs needs min_budget and max_budget (the rungs' budgets; every "
                                    "query then trains query_epochs epochs)")
            lo = space.epochs_or_max(space.min_epoch if self.min_epoch is None else self.min_epoch)
            hi = space.epochs_or_max(self.max_epoch)
            if lo > hi:
                raise StrategyError(f"min_epoch {lo} is above max_epoch {hi}")
            self.schedule = bracket_schedule([f for f in space.fidelities if lo <= f <= hi], self.eta, lo, hi)
            self.budget_schedule: list[list[float]] = [[e for _, e in rungs] for rungs in self.schedule]
        else:
            self.schedule, self.budget_schedule = self._budget_brackets(space)
        self.top_budget = max(b[-1] for b in self.budget_schedule)
        self.open: dict[int, Bracket] = {}
        self.opened = 0
        self._best: tuple[float, Arch] | None = None  # incumbent_rule "max-budget" / "best"

    def _budget_brackets(self, space: SearchSpace) -> tuple[list[list[tuple[int, int]]], list[list[float]]]:
        """HpBandSter's brackets on ``min_budget``..``max_budget`` as (rungs, budgets), checked."""
        if self.min_budget is None or self.max_budget is None:
            given = "min_budget" if self.max_budget is None else "max_budget"
            raise StrategyError(f"{given} needs {'max_budget' if given == 'min_budget' else 'min_budget'} too "
                                f"(HpBandSter's budgets come in a pair)")
        if self.min_epoch is not None or self.max_epoch is not None:
            raise StrategyError("min_epoch/max_epoch do not apply with min_budget/max_budget (the rungs follow "
                                "the budgets)")
        if self.min_budget > self.max_budget:
            raise StrategyError(f"min_budget {self.min_budget} is above max_budget {self.max_budget}")
        if self.query_epochs is None and not any(f >= int(self.max_budget) for f in space.fidelities):
            # (checked before the rungs: every rung's budget is at most max_budget, and the first rung found
            # beyond the table, named instead, was the smallest of the first bracket's)
            raise StrategyError(f"max_budget {self.max_budget!r} asks for more epochs than the table records: a "
                                f"rung trains its budget's whole number of epochs (or the next fidelity up) and the "
                                f"table records the objective up to epoch {space.max_epoch}; use max_budget < "
                                f"{space.max_epoch + 1} (or query_epochs)")
        try:
            brackets = hpbandster_schedule(self.eta, float(self.min_budget), float(self.max_budget))
        except OverflowError:  # past the floats (eta**s of a first rung, or a budget itself): a line from numpy
            raise StrategyError(f"min_budget {self.min_budget!r} and max_budget {self.max_budget!r} are too far apart "
                                f"for eta {self.eta}: HpBandSter's brackets would go past the floats (1e308 cells or "
                                f"budget)") from None
        if self.query_epochs is not None:
            if isinstance(self.query_epochs, bool) or not isinstance(self.query_epochs, int) \
                    or self.query_epochs not in space.fidelities:
                raise StrategyError(f"query_epochs={self.query_epochs!r} is not a fidelity of this table; use one "
                                    f"of {list(space.fidelities)}")
            if self.resume:
                raise StrategyError("query_epochs needs resume=false: every rung trains the same epochs, so a "
                                    "promotion cannot continue a trial")
            epochs_of = {b: self.query_epochs for rungs in brackets for _, b in rungs}
        else:
            epochs_of = {}
            for rungs in brackets:
                for _, b in rungs:
                    want = int(b)
                    if want < 1:
                        raise StrategyError(f"min_budget {self.min_budget} gives a rung of budget {b:.4g}, under one "
                                            f"epoch; use min_budget >= 1 (or query_epochs)")
                    epochs_of[b] = next(f for f in space.fidelities if f >= want)  # (max_budget checked above)
        rungs_e = [[(n, epochs_of[b]) for n, b in rungs] for rungs in brackets]
        if self.resume and any(a[1] >= b[1] for rungs in rungs_e for a, b in zip(rungs, rungs[1:])):
            raise StrategyError(f"resume=true needs more epochs at each rung; on this table the budgets "
                                f"{self.min_budget}..{self.max_budget} give rungs of "
                                f"{sorted(set(epochs_of.values()))} epochs: use resume=false")
        return rungs_e, [[b for _, b in rungs] for rungs in brackets]

    def sample(self) -> Arch:
        """A new cell for rung 0 of a bracket."""
        return self.space.random_arch(self.rng)

    def ask(self, n: int) -> list[Query]:
        out: list[Query] = []
        while len(out) < n:
            q = next((q for b in self.open.values() if (q := b.next_query(self.sample)) is not None), None)
            if q is None:  # every open bracket waits for results: open the next one
                k = self.opened % len(self.schedule)
                bracket = Bracket(self.opened, self.schedule[k], self.budget_schedule[k], self.resume)
                self.open[bracket.ident] = bracket
                self.opened += 1
                q = bracket.next_query(self.sample)
            if q is None:
                break
            out.append(q)
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            bracket = self.open[r.query.tag]
            budget = bracket.budget
            self.observe(r, budget)
            if self.incumbent_rule != "highest-epoch" and self.space.feasible(r) and \
                    (self.incumbent_rule == "best" or budget == self.top_budget) and \
                    (self._best is None or r.value > self._best[0]):
                self._best = (r.value, r.arch)
            bracket.tell(r)
            if bracket.done:
                del self.open[bracket.ident]

    def incumbent(self) -> Arch | None:
        return None if self._best is None else self._best[1]

    def observe(self, result: Result, budget: float) -> None:
        """Hook for subclasses that model the results (BOHB); ``budget`` is the result's rung budget."""
