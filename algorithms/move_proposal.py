"""REA whose mutation is a zero-cost "move proposal" (Abdelfattah et al., 2021).

Each child of a tournament winner is the parent's one-edge neighbour (:meth:`SearchSpace.neighbours`:
the 24 cells one edit away, those the table holds on a partial table) that scores best on the proxy
``proxy`` (synflow by default, higher is better), or, with probability ``random_move`` (0.25), an
ordinary random edit (``mutation``; the default ``uniform_edge`` draws one of the 24 uniformly). A tie
for the best score goes to the last tied neighbour in edge-major, op-minor order; a neighbour whose
score is undefined (-inf, e.g. a disconnected cell) or not stored yet ranks last. The child may be a
cell already trained or in the population (it is trained again, as plain ``rea`` does). A parent with
no neighbour in the table gets a random edit (a random cell of the table, as :meth:`SearchSpace.mutate`).

The scores are those stored beside the table (``nasbench proxies --table T``), which the search harness
hands to strategies in ``SearchSpace.proxies``. With ``charge=True`` (the default) a child's query is
charged (:attr:`Query.charge`) the stored seconds of the neighbours scored for it, so ``rea-move`` is
compared with ``rea`` at equal simulated cost; a run scores each cell once (the stored scores are
deterministic, so a cell scored for an earlier child is not scored again) and a random move scores
nothing. ``charge=False`` leaves the proxy seconds off the clock.

Reference: the authors' public code (SamsungLabs/zero-cost-nas, ``notebooks/nas_examples.ipynb``,
``mutate_spec_zero_cost``, used by ``run_evolution_search(zero_cost_move=True)``, the notebook's
``ae_move``, without warm start). It lists the 24 one-edge neighbours (edge by edge in string order, the
other four ops in increasing order: our :meth:`Arch.neighbours` order), looks each one's synflow up in a
table precomputed for every cell, takes the last of them after an ascending sort by score (so the last
of tied best) and replaces it, when ``random.random() > 0.75``, by ``random.choice`` of the 24; nothing
stops the child from being a cell already trained. Runs are compared at equal numbers of trained
models, the proxy costing nothing. Deliberate differences:

* the proxy's seconds are charged (``charge=False`` follows the notebook; ``--max-queries`` compares at
  equal numbers of trained models either way), and only for the work a run needs: the notebook scores
  all 24 neighbours for every child, random move or not, and the same cell again for every parent it
  neighbours, which only a lookup in a precomputed table makes free;
* ``rea-move`` keeps :class:`RegularizedEvolution`'s NAS-Bench-201 settings, as ``rea`` and
  ``rea-warm`` do (population 10, tournaments of 3 drawn with replacement); the notebook's aging
  evolution has population 64 and tournaments of 10 drawn without replacement
  (``--set population=64 --set sample_size=10 --set charge=false`` comes close).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_ARCHS, Arch
from nasbench_suite.strategy import Query, SearchSpace, register

from .common import proxy_ranking, stored_proxy
from .rea import RegularizedEvolution


@register("rea-move")
@dataclass
class MoveProposalREA(RegularizedEvolution):
    """REA whose child is the parent's best-scoring neighbour, or a random edit with ``random_move``."""

    mutation: str = "uniform_edge"
    proxy: str = "synflow"
    random_move: float = 0.25
    charge: bool = True

    bounds = {**RegularizedEvolution.bounds, "random_move": Bound(0, 1, why="a probability")}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().setup(space, rng)  # checks the bounds first
        scores, self._seconds = stored_proxy(self, space, self.proxy)
        self._ranking = proxy_ranking(scores)
        self._scored = np.zeros(NUM_ARCHS, dtype=bool)  # cells this run has scored (and paid for)

    def offspring(self, parent: Arch) -> Query:
        near = self.space.neighbours(parent)
        if not near or self.rng.random() < self.random_move:
            return super().offspring(parent)
        cells = np.array([a.index for a in near])
        values = self._ranking[cells]
        best = len(cells) - 1 - int(np.argmax(values[::-1]))  # the last of the tied best, as the notebook
        return self.query(near[best])._replace(charge=self.score(cells))

    def score(self, cells: np.ndarray) -> float:
        """Score ``cells`` (those not scored yet this run); their stored seconds when charged, else 0."""
        new = cells[~self._scored[cells]]
        self._scored[new] = True
        return float(np.nansum(self._seconds[new])) if self.charge else 0.0
