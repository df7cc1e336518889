"""BANANAS (White et al. 2021): Bayesian optimization with an ensemble of neural predictors.

An ensemble of MLPs (:class:`~nasbench_suite.predictors.MLPEnsemble`) on the path encoding is
refitted on every told result; candidates are mutations of the best cells seen (1 to ``max_edits``
random edits of one of the top ``mutate_top``); the acquisition is independent Thompson sampling:
each candidate gets one draw from a normal with the ensemble's mean and spread, and the ``batch``
highest draws are queried. Starts with ``n_init`` random cells, as the BANANAS code does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.predictors import MLPEnsemble
from nasbench_suite.space import Arch
from nasbench_suite.strategy import SearchSpace, Strategy, register

from .common import BatchedModelSearch, mutation_candidates


@register("bananas")
@dataclass
class Bananas(BatchedModelSearch, Strategy):
    n_init: int = 10
    batch: int = 10
    candidates: int = 100
    mutate_top: int = 10
    max_edits: int = 2
    members: int = 5
    train_epochs: int = 200
    epochs: int | None = None

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self._setup_rounds(space, rng)

    def plan(self, k: int) -> list[Arch]:
        model = MLPEnsemble(members=self.members, epochs=self.train_epochs, seed=int(self.rng.integers(2**32)))
        model.fit(self.observed.archs, self.observed.values)
        cands = mutation_candidates(self.space, self.rng, self.observed.top(self.mutate_top), self.candidates,
                                    self.asked, self.max_edits)
        if not cands:
            return []
        mean, spread = model.predict_dist(cands)
        draw = self.rng.normal(mean, spread)  # independent Thompson sampling
        return [cands[i] for i in np.argsort(-draw, kind="stable")[:k]]
