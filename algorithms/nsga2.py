"""NSGA-II (Deb et al. 2002) on accuracy (maximized) and latency (minimized).

Generational: ``population`` random cells, then generations of ``population`` children, each made
by binary tournaments on (front rank, crowding distance), uniform crossover of the two parents'
edges (probability ``crossover``) and one random edit (probability ``mutation``); parents and
children are merged and the best ``population`` by (rank, crowding) survive. Cells are not asked
twice (a duplicate child is mutated again, then replaced by a random cell). The latency of a cell is
known only from the harness (:attr:`Result.latency`; ``SearchSpace.latency_source`` says if it is
measured or predicted). :meth:`front` is the non-dominated set of everything told so far.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.pareto import crowding_distance, non_dominated, nondominated_ranks
from nasbench_suite.space import NUM_EDGES, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError, register


@register("nsga2")
@dataclass
class NSGA2(Strategy):
    population: int = 20
    crossover: float = 0.9
    mutation: float = 1.0
    epochs: int | None = None

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        if self.population < 2:
            raise StrategyError("NSGA-II needs population >= 2")
        if space.latency_source is None:
            raise StrategyError("NSGA-II needs a latency objective: give the run a latency table")
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.parents: list[tuple[Arch, float, float]] = []
        self.generation: list[tuple[Arch, float, float]] = []
        self.planned: list[Arch] = []
        self.outstanding = 0
        self.asked: set[int] = set()
        self.told: list[tuple[Arch, float, float]] = []

    # ----- selection ---------------------------------------------------------------------------
    @staticmethod
    def _rank_keys(pop: list[tuple[Arch, float, float]]) -> tuple[np.ndarray, np.ndarray]:
        v = np.array([p[1] for p in pop])
        t = np.array([p[2] for p in pop])
        ranks = nondominated_ranks(v, t)
        crowd = np.zeros(len(pop))
        for r in np.unique(ranks):
            members = np.flatnonzero(ranks == r)
            crowd[members] = crowding_distance(v[members], t[members])
        return ranks, crowd

    def _survivors(self, pop: list[tuple[Arch, float, float]]) -> list[tuple[Arch, float, float]]:
        ranks, crowd = self._rank_keys(pop)
        order = np.lexsort((-crowd, ranks))[: self.population]
        return [pop[i] for i in order]

    def _tournament(self, ranks: np.ndarray, crowd: np.ndarray) -> int:
        i, j = self.rng.integers(len(ranks), size=2)
        if ranks[i] != ranks[j]:
            return int(i if ranks[i] < ranks[j] else j)
        return int(i if crowd[i] >= crowd[j] else j)

    def _children(self) -> list[Arch]:
        ranks, crowd = self._rank_keys(self.parents)
        out: list[Arch] = []
        seen = set(self.asked)
        while len(out) < self.population and len(seen) < len(self.space.arch_indices):
            a = self.parents[self._tournament(ranks, crowd)][0]
            b = self.parents[self._tournament(ranks, crowd)][0]
            child = a
            if self.rng.random() < self.crossover:
                pick = self.rng.random(NUM_EDGES) < 0.5
                child = Arch(tuple(x if p else y for x, y, p in zip(a.ops, b.ops, pick)))
                if not self.space.contains(child):
                    child = a
            if self.rng.random() < self.mutation:
                child = self.space.mutate(child, self.rng, "uniform_edge")
            for _ in range(10):
                if child.index not in seen:
                    break
                child = self.space.mutate(child, self.rng, "uniform_edge")
            while child.index in seen:
                child = self.space.random_arch(self.rng)
            seen.add(child.index)
            out.append(child)
        return out

    # ----- ask/tell ----------------------------------------------------------------------------
    def ask(self, n: int) -> list[Query]:
        out: list[Query] = []
        while len(out) < n:
            if not self.planned:
                if self.outstanding:
                    break  # wait for this generation to finish
                if self.generation:
                    self.parents = self._survivors(self.parents + self.generation)
                    self.generation = []
                if not self.parents:
                    seen, first = set(self.asked), []
                    while len(first) < self.population and len(seen) < len(self.space.arch_indices):
                        a = self.space.random_arch(self.rng)
                        if a.index not in seen:
                            seen.add(a.index)
                            first.append(a)
                    self.planned = first[::-1]
                else:
                    self.planned = self._children()[::-1]
                if not self.planned:
                    break
            arch = self.planned.pop()
            self.asked.add(arch.index)
            self.outstanding += 1
            out.append(Query(arch, self._epochs))
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            if r.latency is None:
                raise StrategyError("NSGA-II was told a result without a latency")
            self.outstanding -= 1
            item = (r.arch, float(r.value), float(r.latency))
            self.told.append(item)
            self.generation.append(item)  # merged with the parents when the generation is complete

    def front(self) -> list[tuple[Arch, float, float]]:
        """(arch, value, latency) of the non-dominated results told so far, by latency."""
        if not self.told:
            return []
        mask = non_dominated(np.array([p[1] for p in self.told]), np.array([p[2] for p in self.told]))
        return sorted((p for p, m in zip(self.told, mask) if m), key=lambda p: (p[2], -p[1]))
