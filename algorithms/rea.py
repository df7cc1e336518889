"""Regularized evolution (Real et al. 2019) as in NAS-Bench-201: a population of the most recent
cells; each child mutates the best of a random sample (drawn with replacement) and the oldest member
dies. NAS-Bench-201 ran it with population 10, sample size 3 and its node-then-edge mutation.

The tournament is drawn with replacement, as NB201's ``R_EA.py`` (``random.choice`` once per
place), so ``sample_size`` may exceed ``population``: a larger sample only makes the best member
more likely to be the parent. Both must be 1..1,000,000."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import MUTATION_SCHEMES, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, register

from .common import RandomStart


@register("rea")
@dataclass
class RegularizedEvolution(RandomStart, Strategy):
    population: int = 10
    sample_size: int = 3
    mutation: str = "node_then_edge"
    epochs: int | None = None
    # sample_size > population is fine (with replacement); 10**11 filled the memory with one tournament; a
    # bogus mutation was refused only at the first child
    bounds = {"population": Bound(1, 1_000_000, integer=True), "sample_size": Bound(1, 1_000_000, integer=True),
              "mutation": Bound(choices=MUTATION_SCHEMES)}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.members: deque[tuple[float, Arch]] = deque(maxlen=self.population)  # oldest on the left
        self.started = 0

    def ask(self, n: int) -> list[Query]:
        out = []
        for _ in range(n):
            if self.started < self.population or not self.members:
                query = self.query(self.initial_arch())
            else:
                picks = self.rng.integers(len(self.members), size=self.sample_size)
                query = self.offspring(max((self.members[i] for i in picks), key=lambda m: m[0])[1])
            self.started += 1
            out.append(query)
        return out

    def offspring(self, parent: Arch) -> Query:
        """The query that trains a child of ``parent``: one random edit (``mutation``)."""
        return self.query(self.space.mutate(parent, self.rng, self.mutation))

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            # deque(maxlen) drops the oldest; under a latency constraint infeasible cells rank below feasible ones
            self.members.append((self.space.constrained_value(r), r.arch))
