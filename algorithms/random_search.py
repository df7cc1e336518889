"""Random search: uniform cells of the table, each trained to the same fidelity."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, register

from .common import RandomStart


@register("random")
@dataclass
class RandomSearch(RandomStart, Strategy):
    epochs: int | None = None
    """Fidelity of every query (default: the table's last)."""

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()  # it declares none; random-warm's pool is checked here
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)

    def ask(self, n: int) -> list[Query]:
        return [self.query(self.initial_arch()) for _ in range(n)]

    def tell(self, results: Sequence[Result]) -> None:
        pass
