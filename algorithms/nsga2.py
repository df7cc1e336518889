"""NSGA-II (Deb et al. 2002) on accuracy (maximized) and latency (minimized).

Generational: ``population`` random cells, then generations of ``population`` children; parents and
children are merged and the best ``population`` by (front rank, crowding distance) survive, ties in
random order, keeping the rank and crowding their fronts gave them in the merged population (Deb et
al.'s loop, pymoo's ``RankAndCrowding``). Mating as pymoo's: binary tournaments between consecutive
members of shuffles of the parents, won by Deb's crowded comparison (lower rank, then larger
crowding; pymoo's ``NSGA2`` default compares by dominance instead of rank), pairs of winners give two
children each by uniform crossover of their edges (probability ``crossover``, else copies), each
child then gets one random edit with probability ``mutation``. Cells are not asked twice (a child
asked before is mutated again, then replaced by a random cell; pymoo drops duplicates of the
population and mates again). The latency of a cell is
known only from the harness (:attr:`Result.latency`; ``SearchSpace.latency_source`` says if it is
measured or predicted). :meth:`front` is the non-dominated set of everything told so far.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.pareto import crowding_distance, non_dominated, nondominated_ranks
from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError, register


@register("nsga2")
@dataclass
class NSGA2(Strategy):
    population: int = 20
    crossover: float = 0.9
    mutation: float = 1.0
    epochs: int | None = None

    # population 10**12 filled the memory with its tournaments; crossover 1.5 ran as if it were 1
    bounds = {"population": Bound(2, 100_000, integer=True), "crossover": Bound(0, 1, why="a probability"),
              "mutation": Bound(0, 1, why="a probability")}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        if space.latency_source is None:
            raise StrategyError("NSGA-II needs a latency objective: give the run a latency table (nasbench search "
                                "--latency, or latency.source in a compare config)")
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.parents: list[tuple[Arch, float, float]] = []
        self.keys: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int64), np.zeros(0))  # parents' rank, crowding
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

    def _survive(self, pop: list[tuple[Arch, float, float]]) -> None:
        """Deb's survival (pymoo's ``RankAndCrowding``): the best ``population`` of ``pop`` by rank, then
        crowding (ties in random order), kept as the parents with the rank and crowding of ``pop``'s fronts,
        which the tournaments then use (not recomputed among the survivors)."""
        ranks, crowd = self._rank_keys(pop)
        order = np.lexsort((self.rng.random(len(pop)), -crowd, ranks))[: self.population]
        self.parents = [pop[i] for i in order]
        self.keys = (ranks[order], crowd[order])

    def _tournament_pairs(self, n: int) -> np.ndarray:
        """The competitors of ``n`` binary tournaments: consecutive pairs of shuffles of the parents
        (pymoo's ``TournamentSelection``, Deb's code), so each parent plays about as often as the others."""
        size = len(self.parents)
        perms = np.concatenate([self.rng.permutation(size) for _ in range(-(-2 * n // size))])
        return perms[: 2 * n].reshape(n, 2)

    def _winner(self, i: int, j: int) -> int:
        """Deb's crowded comparison: the lower rank wins, then the larger crowding distance."""
        ranks, crowd = self.keys
        if ranks[i] != ranks[j]:
            return i if ranks[i] < ranks[j] else j
        return i if crowd[i] >= crowd[j] else j  # the pair is in random order, so a tie is a coin flip

    def _cross(self, a: Arch, b: Arch) -> tuple[Arch, Arch]:
        """Uniform crossover: each edge swapped between the two children with probability 1/2."""
        pick = self.rng.random(NUM_EDGES) < 0.5
        return (Arch(tuple(x if p else y for x, y, p in zip(a.ops, b.ops, pick))),
                Arch(tuple(y if p else x for x, y, p in zip(a.ops, b.ops, pick))))

    def _offspring(self, a: Arch, b: Arch) -> list[Arch]:
        """The two children of one mating: crossed over with probability ``crossover`` (else copies of the
        parents; a child outside a partial table stays its parent), each then mutated with probability
        ``mutation``."""
        children = [a, b]
        if self.rng.random() < self.crossover:
            children = [c if self.space.contains(c) else p for c, p in zip(self._cross(a, b), (a, b))]
        return [self.space.mutate(c, self.rng, "uniform_edge") if self.rng.random() < self.mutation else c
                for c in children]

    def _children(self) -> list[Arch]:
        """``population`` new cells: matings of tournament winners, two children each (pymoo's mating); a
        child asked before is mutated again (up to 10 times), then replaced by a random cell."""
        out: list[Arch] = []
        seen = set(self.asked)
        while len(out) < self.population and len(seen) < len(self.space.arch_indices):
            matings = -(-(self.population - len(out)) // 2)
            winners = [self._winner(int(i), int(j)) for i, j in self._tournament_pairs(2 * matings)]
            for k in range(matings):
                for child in self._offspring(self.parents[winners[2 * k]][0], self.parents[winners[2 * k + 1]][0]):
                    if len(out) == self.population or len(seen) == len(self.space.arch_indices):
                        break
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
                    self._survive(self.parents + self.generation)
                    self.generation = []
                if not self.parents:
                    first: list[Arch] = []
                    seen = set(self.asked)
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
