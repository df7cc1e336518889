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

from nasbench_suite.predictors import Predictor, XGBoostPredictor
from nasbench_suite.space import Arch
from nasbench_suite.strategy import SearchSpace, StrategyError, register

from .common import BatchedModelSearch


@register("xgb-evolution")
@dataclass
class PredictorEvolution(BatchedModelSearch):
    candidates: int = 200
    n_estimators: int = 100

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        if self.n_estimators < 1:  # used to fail only at the first model fit, n_init queries into the run
            raise StrategyError(f"xgb-evolution needs n_estimators >= 1, got {self.n_estimators}")
        super().setup(space, rng)

    def predictor(self) -> Predictor:
        return XGBoostPredictor(n_estimators=self.n_estimators, seed=int(self.rng.integers(2**31)))

    def acquisition(self, model: Predictor, cands: list[Arch]) -> np.ndarray:
        return model.predict(cands)  # greedy: the best predicted
