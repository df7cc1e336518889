"""Warm-started REA, BANANAS and random search with a zero-cost proxy (Abdelfattah et al., 2021, "zero-cost warmup").

Before the search, ``pool`` cells drawn uniformly at random (without replacement, from the
strategy's generator) are scored by the proxy ``proxy`` (synflow by default, higher is better); the
initial population of REA (``population`` cells) or the initial batch of BANANAS (``n_init`` cells)
is the best of the pool, best first (ties in the order drawn), instead of random cells; random search
(``random-warm``) trains the whole pool, best first, before any uniform cell. The proxy's
measured seconds for the whole pool are charged to the simulated clock (:attr:`Query.charge`), so a
warm start is compared with the plain strategy at equal simulated cost. They are split evenly over
the queries of the first ask, one per idle simulated worker: the pool is scored on those workers in
parallel before any of them trains a cell that the scores chose (with one worker, the first query
carries all of it). ``charge=False`` leaves the proxy seconds off the clock.

Reference: the authors' public code (SamsungLabs/zero-cost-nas, ``notebooks/nas_examples.ipynb``,
``run_evolution_search`` and ``run_random_search``; its note says the paper's own figures came from an
internal tool). There ``zero_cost_warmup=3000`` cells are drawn with ``random.choice`` over all 15,625
NAS-Bench-201 cells, sorted by synflow in decreasing order, and the aging-evolution population
(``pool_size=64``, tournaments of ``tournament_size=10`` drawn without replacement, one uniformly chosen
edge changed per child) is the top 64, trained best first; runs are compared at equal numbers of trained
models, the proxy costing nothing. Deliberate differences:

* the pool is drawn without replacement: the notebook's draw repeats cells (about 290 repeated pairs in
  3,000 draws), so its top 64 nearly always holds some cell twice and trains it twice (5.7 repeats
  per run on average when every cell's score differs);
* the proxy's seconds are charged (``charge=False`` follows the notebook; ``--max-queries`` compares at
  equal numbers of trained models either way);
* ``rea-warm`` keeps :class:`RegularizedEvolution`'s NAS-Bench-201 settings, as plain ``rea`` does
  (population 10, tournaments of 3 drawn with replacement, node-then-edge mutation), so its warm start
  is the top 10 of the pool; ``population=64, sample_size=10, mutation='uniform_edge'`` come close to
  the notebook (its tournament is drawn without replacement);
* the notebook warm-starts random search (``random-warm``, its ``run_random_search``) and aging
  evolution only; ``bananas-warm`` applies the same top-of-the-pool start to BANANAS's initial batch
  (our extension). The paper's other use of the
  proxies, "move proposal" (the notebook's ``mutate_spec_zero_cost``), is ``rea-move``
  (:mod:`algorithms.move_proposal`).

The scores come from the zero-cost proxies stored beside the table (``nasbench proxies --table T``),
which the search harness hands to strategies in ``SearchSpace.proxies``; cells with an undefined
score (-inf, e.g. disconnected cells) rank last. The pool is drawn from the cells that have a stored
score: all of them once ``nasbench proxies`` has finished (while it runs, the isomorphism-class
representatives, which it scores first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, SearchSpace, StrategyError, register

from .bananas import Bananas
from .random_search import RandomSearch
from .common import proxy_ranking, stored_proxy
from .rea import RegularizedEvolution


WARM_BOUNDS = {"pool": Bound(1, integer=True, why="the cells drawn for the proxy to rank")}
"""The bounds of the warm-start settings, added to those of the strategy warm-started (``WarmStart`` comes
first in each class's bases, so a ``bounds`` of its own would hide the strategy's)."""


@dataclass
class WarmStart:
    """The warm-start part; mixed into a strategy whose ``initial_arch`` / ``query`` it overrides."""

    proxy: str = "synflow"
    pool: int = 3000
    charge: bool = True

    def initial_cells(self, scored: int) -> int:
        """How many of the pool's best cells start the search, given how many cells have a score."""
        raise NotImplementedError

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().setup(space, rng)  # type: ignore[misc]  # the strategy warm-started checks the bounds first
        self.warm_up(space, rng)

    def warm_up(self, space: SearchSpace, rng: np.random.Generator) -> None:
        scores, seconds = stored_proxy(self, space, self.proxy)
        scored = space.arch_indices[~np.isnan(scores[space.arch_indices])]
        keep = self.initial_cells(len(scored))
        if self.pool < keep:
            raise StrategyError(f"the warm-start pool ({self.pool}) must hold at least the {keep} initial cells")
        if len(scored) < keep:
            raise StrategyError(f"proxy {self.proxy!r} is stored for {len(scored)} cells of the table; "
                                f"the warm start needs at least {keep}")
        cells = rng.choice(scored, size=min(self.pool, len(scored)), replace=False)
        order = np.argsort(-proxy_ranking(scores[cells]), kind="stable")[:keep]
        self._warm = [Arch.from_index(int(c)) for c in cells[order]]
        self._charge = float(np.sum(seconds[cells])) if self.charge else 0.0

    def initial_arch(self) -> Arch:
        if self._warm:
            return self._warm.pop(0)
        return self.space.random_arch(self.rng)  # type: ignore[attr-defined]

    def ask(self, n: int) -> list[Query]:
        out: list[Query] = super().ask(n)  # type: ignore[misc]
        if self._charge and out:  # the first ask: every idle worker scores its share of the pool first
            share, self._charge = self._charge / len(out), 0.0
            out = [q._replace(charge=q.charge + share) for q in out]
        return out


@register("rea-warm")
@dataclass
class WarmStartREA(WarmStart, RegularizedEvolution):
    """REA whose initial population is the best ``population`` cells of a proxy-scored pool."""

    bounds = {**RegularizedEvolution.bounds, **WARM_BOUNDS}

    def initial_cells(self, scored: int) -> int:
        return self.population


@register("bananas-warm")
@dataclass
class WarmStartBananas(WarmStart, Bananas):
    """BANANAS whose ``n_init`` initial cells are the best of a proxy-scored pool."""

    bounds = {**Bananas.bounds, **WARM_BOUNDS}

    def initial_cells(self, scored: int) -> int:
        return self.n_init


@register("random-warm")
@dataclass
class WarmStartRandom(WarmStart, RandomSearch):
    """Random search that first trains the whole proxy-scored pool, best first, then uniform cells (the
    notebook's ``run_random_search`` with ``zero_cost_warmup``)."""

    bounds = {**RandomSearch.bounds, **WARM_BOUNDS}

    def initial_cells(self, scored: int) -> int:
        return min(self.pool, scored)
