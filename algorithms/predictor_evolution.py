"""Predictor-guided evolution: evolution whose children are screened by an XGBoost predictor.

After ``n_init`` random cells, each round mutates the top ``mutate_top`` cells seen into
``candidates`` new cells (1 to ``max_edits`` edits), ranks them with
:class:`~nasbench_suite.predictors.XGBoostPredictor` refitted on every told result, and queries the
``batch`` best-predicted. (Close to NASLib's predictor-guided evolution / NPENAS with an XGBoost
predictor and greedy selection.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.predictors import XGBoostPredictor
from nasbench_suite.space import Arch
from nasbench_suite.strategy import SearchSpace, Strategy, register

from .common import BatchedModelSearch, mutation_candidates


@register("xgb-evolution")
@dataclass
class PredictorEvolution(BatchedModelSearch, Strategy):
    n_init: int = 10
    batch: int = 10
    candidates: int = 200
    mutate_top: int = 10
    max_edits: int = 2
    n_estimators: int = 100
    epochs: int | None = None

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self._setup_rounds(space, rng)

    def plan(self, k: int) -> list[Arch]:
        model = XGBoostPredictor(n_estimators=self.n_estimators, seed=int(self.rng.integers(2**31)))
        model.fit(self.observed.archs, self.observed.values)
        cands = mutation_candidates(self.space, self.rng, self.observed.top(self.mutate_top), self.candidates,
                                    self.asked, self.max_edits)
        if not cands:
            return []
        return [cands[i] for i in np.argsort(-model.predict(cands), kind="stable")[:k]]
