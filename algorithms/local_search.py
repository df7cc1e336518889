"""Local search (hill climbing) over the 24-cell neighbourhood (cells one edit away), with restarts,
as in White et al. 2021 ("Local search is state of the art for NAS benchmarks").

Start from the best of ``n_init`` random cells. ``improvement="first"`` moves to the first
neighbour found better than the current cell; ``"best"`` evaluates the whole neighbourhood and moves
to its best cell if that is better (a tie with the current cell does not move it). Neighbours are queried in a random order (the run's generator shuffles each neighbourhood, as
both references shuffle theirs) and no cell is queried twice: a neighbour already told counts with
its value at no cost (in first improvement, a better one already told is moved to before any new
query, taking the first in edge-major order). A cell is a local optimum once every neighbour is told
and none is better; with several workers that includes neighbours still running that were asked for
an earlier cell. At a local optimum the search restarts from one random cell it has not queried.

The two reference codes differ, and this one takes a side of each: the naszilla code of the paper
defaults to first improvement (``query_full_nbhd=False``) but restarts from the best of ``n_init`` new
random cells and skips neighbours it has queried before (their values never count); NASLib's
``LocalSearch`` evaluates the whole neighbourhood (our ``"best"``), queries a neighbour again (and
charges it) however often it was seen, and restarts from one random cell, as here. Both start from the
best of ``n_init`` random cells, which count as queries, and move only to a strictly better cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, register

IMPROVEMENTS = ("first", "best")


def _adjacent(a: Arch, b: Arch) -> bool:
    return sum(x != y for x, y in zip(a.ops, b.ops)) == 1


@register("local-search")
@dataclass
class LocalSearch(Strategy):
    improvement: str = "first"
    n_init: int = 10
    epochs: int | None = None

    bounds = {"improvement": Bound(choices=IMPROVEMENTS), "n_init": Bound(1, integer=True)}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.asked: set[int] = set()
        self.values: dict[int, float] = {}
        self.to_start = self.n_init  # random cells still to ask before climbing (init or restart)
        self.starting: list[tuple[float, Arch]] = []
        self.waiting_for_start = self.n_init
        self.current: tuple[float, Arch] | None = None
        self.near: set[int] = set()  # the current cell's neighbours
        self.queue: list[Arch] = []
        self.in_flight: set[int] = set()  # asked, not yet told
        self.best_neighbour: tuple[float, Arch] | None = None

    # ----- asking ------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Query]:
        out: list[Query] = []
        while len(out) < n:
            if self.to_start:
                arch = self._unasked_random()
                if arch is None:
                    break
                self.to_start -= 1
                out.append(self._query(arch, "start"))
            elif self.current is not None and self.queue:
                out.append(self._query(self.queue.pop(), "neighbour"))
            else:
                break  # waiting for results
        return out

    def _query(self, arch: Arch, tag: object) -> Query:
        self.asked.add(arch.index)
        self.in_flight.add(arch.index)
        return Query(arch, self._epochs, tag=tag)

    def _unasked_random(self) -> Arch | None:
        for _ in range(1000):
            arch = self.space.random_arch(self.rng)
            if arch.index not in self.asked:
                return arch
        return None  # (nearly) the whole table has been queried

    # ----- telling -----------------------------------------------------------------------------
    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            self.values[r.arch.index] = r.value
            self.in_flight.discard(r.arch.index)
            if r.query.tag == "start":
                self.starting.append((r.value, r.arch))
                self.waiting_for_start -= 1
                if not self.waiting_for_start:
                    best = max(self.starting, key=lambda p: p[0])  # earliest wins ties
                    self.starting = []
                    self._move(*best)
                continue
            if self.current is not None and _adjacent(r.arch, self.current[1]):
                self._consider(r.value, r.arch)
            self._maybe_finish_neighbourhood()

    def _consider(self, value: float, arch: Arch) -> None:
        assert self.current is not None
        if self.improvement == "first":
            if value > self.current[0]:
                self._move(value, arch)
        elif self.best_neighbour is None or value > self.best_neighbour[0]:
            self.best_neighbour = (value, arch)

    def _move(self, value: float, arch: Arch) -> None:
        known = self.values
        if self.improvement == "first":  # climb through neighbours whose values are already known
            while True:
                better = next((o for o in self.space.neighbours(arch)
                               if o.index in known and known[o.index] > value), None)
                if better is None:
                    break
                value, arch = known[better.index], better
        near = self.space.neighbours(arch)
        self.current = (value, arch)
        self.near = {o.index for o in near}
        seen = [(known[o.index], o) for o in near if o.index in known]
        self.best_neighbour = max(seen, key=lambda p: p[0]) if seen else None
        self.queue = [near[i] for i in self.rng.permutation(len(near)) if near[i].index not in self.asked]
        self._maybe_finish_neighbourhood()

    def _maybe_finish_neighbourhood(self) -> None:
        if self.current is None or self.queue or not self.near.isdisjoint(self.in_flight):
            return  # a neighbour is still to ask or running (perhaps asked as a neighbour of an earlier cell)
        if self.improvement == "best" and self.best_neighbour and self.best_neighbour[0] > self.current[0]:
            self._move(*self.best_neighbour)
            return
        self.current = None  # a local optimum: restart from one random cell
        self.to_start = self.waiting_for_start = 1
