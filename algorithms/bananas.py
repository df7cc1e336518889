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

from nasbench_suite.predictors import MLPEnsemble, Predictor
from nasbench_suite.space import Arch
from nasbench_suite.strategy import SearchSpace, StrategyError, register

from .common import BatchedModelSearch


@register("bananas")
@dataclass
class Bananas(BatchedModelSearch):
    members: int = 5
    train_epochs: int = 200

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        if self.members < 1 or self.train_epochs < 1:  # 0 members predicted NaN for every candidate
            raise StrategyError(f"BANANAS needs members >= 1 and train_epochs >= 1; got members={self.members}, "
                                f"train_epochs={self.train_epochs}")
        super().setup(space, rng)

    def predictor(self) -> Predictor:
        return MLPEnsemble(members=self.members, epochs=self.train_epochs, seed=int(self.rng.integers(2**32)))

    def acquisition(self, model: Predictor, cands: list[Arch]) -> np.ndarray:
        mean, spread = model.predict_dist(cands)
        return self.rng.normal(mean, spread)  # independent Thompson sampling: one draw per candidate
