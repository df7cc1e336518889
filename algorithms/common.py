"""Small helpers shared by several strategies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.predictors import Predictor
from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_ARCHS, NUM_EDGES, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError


class Observed:
    """The (arch, value) pairs a strategy has been told at one fidelity, in the order told."""

    def __init__(self) -> None:
        self.archs: list[Arch] = []
        self.values: list[float] = []
        self.indices: set[int] = set()

    def add(self, result: Result, value: float | None = None) -> None:
        """Record ``result`` with its value, or with ``value`` (e.g. a latency-constrained value)."""
        self.archs.append(result.arch)
        self.values.append(result.value if value is None else value)
        self.indices.add(result.arch.index)

    def __len__(self) -> int:
        return len(self.values)

    def top(self, k: int) -> list[Arch]:
        """The ``k`` best archs, best first (stable: earlier wins ties)."""
        order = np.argsort(-np.asarray(self.values), kind="stable")[:k]
        return [self.archs[i] for i in order]


def mutation_candidates(space: SearchSpace, rng: np.random.Generator, parents: list[Arch], n: int,
                        exclude: set[int], max_edits: int = 1) -> list[Arch]:
    """Up to ``n`` distinct cells not in ``exclude``, each 1..``max_edits`` random edits away from a
    uniformly chosen parent; topped up with random cells when mutations run dry."""
    out: list[Arch] = []
    seen = set(exclude)
    for _ in range(20 * n):
        if len(out) == n:
            return out
        child = parents[int(rng.integers(len(parents)))]
        for _ in range(int(rng.integers(1, max_edits + 1))):
            child = space.mutate(child, rng, "uniform_edge")
        if child.index not in seen:
            seen.add(child.index)
            out.append(child)
    return random_top_up(space, rng, out, seen, n)


def random_top_up(space: SearchSpace, rng: np.random.Generator, out: list[Arch], seen: set[int],
                  n: int) -> list[Arch]:
    """``out`` extended to ``n`` cells with distinct random cells of the table not in ``seen`` (which it
    updates), or until the table has none left."""
    while len(out) < n and len(seen) < len(space.arch_indices):
        child = space.random_arch(rng)
        if child.index not in seen:
            seen.add(child.index)
            out.append(child)
    return out


def require_full_space(space: SearchSpace, what: str) -> None:
    if not space.full:
        raise StrategyError(f"{what} samples any cell; it needs a table that covers all 15,625 cells")


def stored_proxy(strategy: object, space: SearchSpace, proxy: str) -> tuple[np.ndarray, np.ndarray]:
    """The (scores, seconds) of ``proxy`` among the zero-cost proxies stored beside the table (both
    (15625,) arrays by arch, NaN where no score is stored yet); one clear StrategyError when the run has
    no proxies or not this one."""
    if space.proxies is None:
        raise StrategyError(f"{type(strategy).__name__} needs zero-cost proxies and this run has none: "
                            "`nasbench search` and run_seeds attach those stored beside the table (computed by "
                            "`nasbench proxies --table T`); with run_search, attach them with "
                            "Oracle(bench).with_stored_proxies(bench)")
    if proxy not in space.proxies:
        raise StrategyError(f"no stored proxy {proxy!r}; stored: {', '.join(sorted(space.proxies))}")
    return space.proxies[proxy]


def proxy_ranking(scores: np.ndarray) -> np.ndarray:
    """Proxy scores to rank by, higher is better: an undefined score (-inf, e.g. a disconnected cell)
    or one not stored (NaN) is -inf, so it ranks last; +inf (a score that overflowed) ranks first."""
    return np.where(np.isnan(scores), -np.inf, scores)


class RandomStart:
    """The initial cells and the query of strategies that train every cell for the same epochs
    (``self._epochs``); :class:`algorithms.warm_start.WarmStart` overrides both."""

    space: SearchSpace
    rng: np.random.Generator
    _epochs: int

    def initial_arch(self) -> Arch:
        """An initial cell: uniformly random."""
        return self.space.random_arch(self.rng)

    def query(self, arch: Arch) -> Query:
        return Query(arch, self._epochs)


@dataclass
class BatchedModelSearch(RandomStart, Strategy):
    """Shared loop of model-guided strategies: ``n_init`` random cells, then rounds of ``batch``
    cells: a predictor (:meth:`predictor`) is refitted on everything told so far, ``candidates``
    mutations (1 to ``max_edits`` edits) of the top ``mutate_top`` cells are scored
    (:meth:`acquisition`) and the best ``batch`` are asked. A new round is planned when the previous
    round's cells have all been asked; cells never repeat."""

    n_init: int = 10
    batch: int = 10
    candidates: int = 100
    mutate_top: int = 10
    max_edits: int = 2
    epochs: int | None = None

    # candidates and max_edits are looped over (10**24 ran with no end); a model needs two results
    bounds = {"n_init": Bound(2, integer=True, why="a model needs two results"), "batch": Bound(1, integer=True),
              "candidates": Bound(1, NUM_ARCHS, integer=True, why="the cells of the space"),
              "mutate_top": Bound(1, integer=True),
              "max_edits": Bound(1, NUM_EDGES, integer=True, why="the edges of a cell; naszilla's mutation rate is an "
                                                                 "expected number of changed edges")}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.observed = Observed()
        self.asked: set[int] = set()
        self.planned: list[Arch] = []

    def predictor(self) -> Predictor:
        raise NotImplementedError

    def acquisition(self, model: Predictor, cands: list[Arch]) -> np.ndarray:
        """Higher is better."""
        raise NotImplementedError

    def candidate_cells(self) -> list[Arch]:
        """The cells the acquisition scores: ``candidates`` distinct unasked mutations of the top
        ``mutate_top`` cells (:func:`mutation_candidates`)."""
        return mutation_candidates(self.space, self.rng, self.observed.top(self.mutate_top), self.candidates,
                                   self.asked, self.max_edits)

    def topped_up(self, cands: list[Arch]) -> list[Arch]:
        """``cands`` extended with random unasked cells to at least a round's ``batch``
        (:func:`random_top_up`), for candidate generators that can run dry."""
        return random_top_up(self.space, self.rng, cands, self.asked | {c.index for c in cands}, self.batch)

    def plan(self, k: int) -> list[Arch]:
        model = self.predictor().fit(self.observed.archs, self.observed.values)
        cands = self.candidate_cells()
        if not cands:
            return []
        return [cands[i] for i in np.argsort(-self.acquisition(model, cands), kind="stable")[:k]]

    def ask(self, n: int) -> list[Query]:
        out: list[Query] = []
        while len(out) < n:
            if len(self.asked) < self.n_init or len(self.observed) < 2:
                if len(self.asked) >= self.n_init:
                    break  # the initial cells are still running: wait for a model's data
                if len(self.asked) >= len(self.space.arch_indices):
                    break  # a table of fewer cells than n_init: every cell was asked (a draw would loop forever)
                arch = self.initial_arch()
                if arch.index in self.asked:
                    continue
            else:
                if not self.planned:
                    self.planned = list(reversed(self.plan(self.batch)))
                    if not self.planned:
                        break
                arch = self.planned.pop()
            self.asked.add(arch.index)
            out.append(self.query(arch))
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            self.observed.add(r, self.space.constrained_value(r))  # the value itself when unconstrained
