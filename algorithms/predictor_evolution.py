"""Predictor-guided evolution with an XGBoost predictor: NASLib's ``Npenas`` with ``predictor_type="xgb"``.

Follows ``naslib/optimizers/discrete/npenas/optimizer.py`` (``Npenas``) with the defaults of NASLib's
black-box benchmark configs (``scripts/create_configs.py``, ``bbo-bs``: ``num_init`` 10, ``k`` 10,
``num_candidates`` 200, ``num_arches_to_mutate`` 5, ``max_mutations`` 1):

* ``n_init`` (10) distinct random cells, then rounds of ``batch`` (NASLib's ``k``, 10) queries;
* before each round an XGBoost regressor (:class:`~nasbench_suite.predictors.XGBoostPredictor`) is
  refitted on every told result, with NASLib's ``XGBoost`` defaults (``naslib/predictors/trees/xgb.py``):
  ``n_estimators`` (boosting rounds) 500, ``learning_rate`` 0.3, ``max_depth`` 6, no row subsampling,
  on the 30-dim one-hot of the op on each edge (NASLib's ``adjacency_one_hot`` on NAS-Bench-201). NASLib
  averages an ensemble of ``num_ensemble`` copies, but they are identical (same data, no randomness),
  so one model is the same predictor;
* candidates (``candidate_scheme="naslib"``, ``Npenas._get_new_candidates``): each of the
  ``mutate_top`` (5) best cells is mutated ``int(candidates / mutate_top / max_edits)`` times (40), each
  child exactly ``max_edits`` (1) uniform-edge edits away from its parent (NASLib's NAS-Bench-201
  ``mutate``: a uniform edge gets a uniform different op);
* the acquisition is NASLib's ``exploit_only``: the ``batch`` best-predicted candidates are queried.

Deliberate differences: cells never repeat (children already asked or drawn twice in a round are
dropped, so a round scores ~100 distinct cells where NASLib scores 200 draws with repeats and may query
a cell twice), and a round short of ``batch`` candidates is topped up with random unasked cells; the
predictor learns standardized targets (NASLib's tree wrapper fits the raw accuracy; ranking is the
same). NASLib's loop reuses the name of its parent variable for the mutated child, so each parent's
children form a random walk (child i is ``max_edits`` edits from child i-1); that slip is not
reproduced: every child is ``max_edits`` edits from its parent, as the code's comment ("mutate the k
best architectures") and NASLib's other copies of this loop (which name the child ``arch_``) intend.
The NPENAS paper's own code (``auroua/NPENASv1``, ``NASBench201.get_candidates``) draws its 100
candidates from the best cell first with a GIN predictor; this strategy follows NASLib instead.
``candidate_scheme="edits"`` restores this project's earlier generator (``candidates`` distinct cells,
each 1 to ``max_edits`` uniform-edge edits from a uniformly chosen one of the top ``mutate_top``; it
was used with ``mutate_top=10, max_edits=2, n_estimators=100, learning_rate=0.1, subsample=0.9``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.predictors import Predictor, XGBoostPredictor
from nasbench_suite.settings_check import Bound
from nasbench_suite.space import Arch
from nasbench_suite.strategy import SearchSpace, register

from .common import BatchedModelSearch

CANDIDATE_SCHEMES = ("naslib", "edits")


def naslib_candidates(space: SearchSpace, rng: np.random.Generator, parents: list[Arch], n: int,
                      exclude: set[int], edits: int) -> list[Arch]:
    """NASLib's ``Npenas._get_new_candidates``: every parent mutated ``int(n / len(parents) / edits)``
    times (at least once), each child exactly ``edits`` uniform-edge edits from its parent. Children in
    ``exclude`` or drawn twice are dropped."""
    per_parent = max(1, int(n / len(parents) / edits))
    out: list[Arch] = []
    seen = set(exclude)
    for parent in parents:
        for _ in range(per_parent):
            child = parent
            for _ in range(edits):
                child = space.mutate(child, rng, "uniform_edge")
            if child.index not in seen:
                seen.add(child.index)
                out.append(child)
    return out


@register("xgb-evolution")
@dataclass
class PredictorEvolution(BatchedModelSearch):
    candidates: int = 200
    mutate_top: int = 5
    max_edits: int = 1
    n_estimators: int = 500
    learning_rate: float = 0.3
    subsample: float = 1.0
    candidate_scheme: str = "naslib"

    # checked in setup (BatchedModelSearch's): a bad value used to fail only at the first model fit, n_init queries
    # into the run (learning rate 1e308 as an XGBoostError); 10**12 trees fitted for ever
    bounds = {**BatchedModelSearch.bounds, "n_estimators": Bound(1, 100_000, integer=True),
              "learning_rate": Bound(0, 10, lo_open=True), "subsample": Bound(0, 1, lo_open=True),
              "candidate_scheme": Bound(choices=CANDIDATE_SCHEMES)}

    def predictor(self) -> Predictor:
        return XGBoostPredictor(n_estimators=self.n_estimators, max_depth=6, learning_rate=self.learning_rate,
                                subsample=self.subsample, seed=int(self.rng.integers(2**31)))

    def candidate_cells(self) -> list[Arch]:
        if self.candidate_scheme == "edits":
            return super().candidate_cells()
        return self.topped_up(naslib_candidates(self.space, self.rng, self.observed.top(self.mutate_top),
                                                self.candidates, self.asked, self.max_edits))

    def acquisition(self, model: Predictor, cands: list[Arch]) -> np.ndarray:
        return model.predict(cands)  # NASLib's exploit_only: the best predicted
