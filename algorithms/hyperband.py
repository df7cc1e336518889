"""Hyperband (Li et al. 2018) on the epoch axis: successive-halving brackets that train many cells
for few epochs and continue the best to more epochs (charged only the extra epochs).

Rung epochs are ``max_epoch * eta**-k`` rounded up to an epoch the table records the objective at.
Brackets run in Hyperband's order (most aggressive first) and repeat until the budget ends. With
several workers, a new bracket opens whenever every open bracket is waiting for results (as
HpBandSter does), so workers never idle. New cells come from :meth:`Hyperband.sample` (uniform
here; BOHB overrides it). On a table that records the objective at one epoch only, every bracket is
a single rung and Hyperband is random search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError, register


class Bracket:
    """One successive-halving run: ``rungs`` is [(number of cells, epochs)], epochs increasing."""

    def __init__(self, ident: int, rungs: list[tuple[int, int]]) -> None:
        self.ident, self.rungs = ident, rungs
        self.rung = 0
        self.new_left = rungs[0][0]  # cells still to sample for rung 0
        self.promotions: list[Query] = []
        self.told: list[Result] = []

    @property
    def done(self) -> bool:
        return self.rung >= len(self.rungs)

    def next_query(self, sample: Callable[[], Arch]) -> Query | None:
        if self.done:
            return None
        if self.rung == 0 and self.new_left:
            self.new_left -= 1
            return Query(sample(), self.rungs[0][1], tag=self.ident)
        return self.promotions.pop() if self.promotions else None

    def tell(self, result: Result) -> None:
        self.told.append(result)
        if len(self.told) < self.rungs[self.rung][0]:
            return
        self.rung += 1
        if self.done:
            return
        keep, epochs = self.rungs[self.rung]
        best = sorted(self.told, key=lambda r: -r.value)[:keep]  # stable: earlier results win ties
        self.promotions = [r.resume(epochs, tag=self.ident) for r in reversed(best)]  # pop() takes the best first
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
                rungs[-1] = (cells, epochs)  # two rungs on one fidelity: keep the later (fewer cells)
            else:
                rungs.append((cells, epochs))
        brackets.append(rungs)
    return brackets


@register("hyperband")
@dataclass
class Hyperband(Strategy):
    eta: int = 3
    min_epoch: int | None = None
    """Smallest rung (default: the table's first fidelity)."""
    max_epoch: int | None = None
    """Largest rung (default: the table's last fidelity)."""

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        if self.eta < 2:
            raise StrategyError(f"eta must be >= 2, got {self.eta}")
        for setting in ("min_epoch", "max_epoch"):
            value = getattr(self, setting)
            if value is not None and value < 1:  # None is the default; 0 used to mean the default silently
                raise StrategyError(f"{setting} must be >= 1 (or None for the table's "
                                    f"{'first' if setting == 'min_epoch' else 'last'} fidelity), got {value}")
        lo = space.epochs_or_max(space.min_epoch if self.min_epoch is None else self.min_epoch)
        hi = space.epochs_or_max(self.max_epoch)
        if lo > hi:
            raise StrategyError(f"min_epoch {lo} is above max_epoch {hi}")
        self.space, self.rng = space, rng
        self.schedule = bracket_schedule([f for f in space.fidelities if lo <= f <= hi], self.eta, lo, hi)
        self.open: dict[int, Bracket] = {}
        self.opened = 0

    def sample(self) -> Arch:
        """A new cell for rung 0 of a bracket."""
        return self.space.random_arch(self.rng)

    def ask(self, n: int) -> list[Query]:
        out: list[Query] = []
        while len(out) < n:
            q = next((q for b in self.open.values() if (q := b.next_query(self.sample)) is not None), None)
            if q is None:  # every open bracket waits for results: open the next one
                bracket = Bracket(self.opened, self.schedule[self.opened % len(self.schedule)])
                self.open[bracket.ident] = bracket
                self.opened += 1
                q = bracket.next_query(self.sample)
            if q is None:
                break
            out.append(q)
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            self.observe(r)
            bracket = self.open[r.query.tag]
            bracket.tell(r)
            if bracket.done:
                del self.open[bracket.ident]

    def observe(self, result: Result) -> None:
        """Hook for subclasses that model the results (BOHB)."""
