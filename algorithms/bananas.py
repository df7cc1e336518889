"""BANANAS (White et al. 2021): Bayesian optimization with an ensemble of neural predictors.

Follows naszilla's ``bananas`` (``naszilla/nas_algorithms.py``) with its defaults on NAS-Bench-201:

* ``n_init`` (10) distinct random cells, then rounds of ``batch`` (naszilla's ``k``, 10) queries;
* before each round an ensemble of ``members`` (5) MLPs (:class:`~nasbench_suite.predictors.MLPEnsemble`)
  is refitted on every told result: ``layers`` (10) ReLU layers of ``width`` (20), MAE loss, Adam
  (``lr`` 0.01, beta2 0.99), ``batch_size`` 32, ``train_epochs`` 150, Glorot init, no weight decay
  (``meta_neural_net.py`` ``MetaNeuralnet`` with ``params.py`` ``meta_neuralnet_params('standard')``),
  on the ``encoding`` ``trunc_path`` (the 30 bits of the one- and two-edge paths:
  ``Cell201.encode_freq_paths(cutoff=30)``, naszilla's default ``predictor_encoding``);
* candidates (``candidate_scheme="naszilla"``, ``Nasbench.get_candidates`` in
  ``naszilla/nas_benchmarks.py``): the best of the ``mutate_top * 5`` best cells (naszilla's
  ``num_arches_to_mutate`` 1 times its ``patience_factor`` 5), best first, is mutated
  ``candidates / mutate_top / max_edits`` times at each rate 1..``max_edits`` (naszilla's
  ``max_mutation_rate``, 1); a rate-r mutation gives each of the 6 edges, independently with
  probability r/4, a uniformly drawn different op (``Cell201.mutate``, ``mutate_encoding='adj'``).
  Mutations already asked or already drawn are dropped, cell by cell as naszilla does (its NB201
  ``get_hash`` is the architecture string, so ``allow_isomorphisms=False`` still lets isomorphic cells
  through); the next-best cell is mutated only while fewer than ``candidates`` were collected before it,
  so a round usually scores 100 to 200 candidates;
* the acquisition is independent Thompson sampling (``acquisition_functions.py``, ``its``): each
  candidate gets one draw from a normal with the ensemble's mean and spread (population standard
  deviation over members), and the ``batch`` best draws are queried.

Deliberate differences: the ensemble learns standardized targets (naszilla fits the raw validation
loss in percent), so the model does not depend on the table's accuracy units; its Adam is PyTorch's
form with eps 1e-8 (Keras's, in naszilla's TensorFlow 2.3, adds eps 1e-7 to the uncorrected
``sqrt(v)``: they differ only for gradients near 0); the path columns are numbered by our op order
(the same 30 paths, see :meth:`~nasbench_suite.space.Arch.path_encoding`); on a table that holds
only some cells, mutations outside it are dropped and a round short of ``batch`` candidates is topped
up with random unasked cells (naszilla's spaces are always complete); ``per_parent`` is at least 1
(naszilla's ``int(num / num_arches_to_mutate / max_mutation_rate)`` is 0, and so are its candidates, when
``mutate_top * max_edits > candidates``). One difference is the harness's, not the strategy's: naszilla
(``deterministic=True``) learns each cell's validation loss averaged over NAS-Bench-201's seeds, while
every told result here is one table seed of the cell (see "Common random numbers" in the README); on a
table of one seed of means, as the NAS-Bench-201 reference tables, the two agree.
NASLib's port (``naslib/optimizers/discrete/bananas/optimizer.py``, ``naslib/predictors/mlp.py``) is
not followed: it mutates its ``num_arches_to_mutate`` best cells with no check for repeats, and its
``MLPPredictor`` defaults (20 layers of 20, lr 0.001, an L1 penalty 0.2 on the output weights, 500
epochs) are not naszilla's.
``candidate_scheme="edits"`` restores this project's earlier generator (``candidates`` distinct cells,
each 1 to ``max_edits`` uniform-edge edits from a uniformly chosen one of the top ``mutate_top``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbench_suite.encodings import ENCODINGS
from nasbench_suite.predictors import MLPEnsemble, Predictor, ensemble_size_error
from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.strategy import SearchSpace, StrategyError, register

from .common import BatchedModelSearch

PATIENCE_FACTOR = 5
"""naszilla's ``get_candidates(patience_factor=5)``: how many parents per ``num_arches_to_mutate``
may be mutated when the best ones yield too few new cells."""
CANDIDATE_SCHEMES = ("naszilla", "edits")


def naszilla_mutation(arch: Arch, rng: np.random.Generator, rate: int) -> Arch:
    """naszilla's NAS-Bench-201 mutation at ``rate`` (``Cell201.mutate``, ``mutate_encoding='adj'``):
    every edge, independently with probability ``rate / 4``, gets a uniformly drawn different op.
    May return ``arch`` itself (no edge drawn), as the reference does."""
    ops = list(arch.ops)
    for edge in np.flatnonzero(rng.random(NUM_EDGES) < rate / 4):
        op = int(rng.integers(NUM_OPS - 1))
        ops[edge] = op + 1 if op >= ops[edge] else op
    return Arch(tuple(ops))


def naszilla_candidates(space: SearchSpace, rng: np.random.Generator, ranked: list[Arch], n: int,
                        exclude: set[int], mutate_top: int, max_rate: int) -> list[Arch]:
    """naszilla's ``get_candidates(acq_opt_type='mutation')``: parents in ``ranked`` order (best
    first), each mutated ``n // mutate_top // max_rate`` times at every rate 1..``max_rate``; a new
    parent is taken only while fewer than ``n`` candidates were collected. Cells in ``exclude``, drawn
    twice, or outside the table are dropped."""
    per_parent = max(1, int(n / mutate_top / max_rate))  # naszilla's int(num / num_arches_to_mutate / max_mutation_rate)
    out: list[Arch] = []
    seen = set(exclude)
    for parent in ranked:
        if len(out) >= n:
            break
        for _ in range(per_parent):
            for rate in range(1, max_rate + 1):
                child = naszilla_mutation(parent, rng, rate)
                if child.index not in seen and space.contains(child):
                    seen.add(child.index)
                    out.append(child)
    return out


@register("bananas")
@dataclass
class Bananas(BatchedModelSearch):
    mutate_top: int = 1
    max_edits: int = 1
    members: int = 5
    train_epochs: int = 150
    layers: int = 10
    width: int = 20
    loss: str = "mae"
    batch_size: int = 32
    lr: float = 0.01
    encoding: str = "trunc_path"
    candidate_scheme: str = "naszilla"
    # 0 members predicted NaN for every candidate; the ensemble refused layers 0 only at the first fit; huge
    # members, train_epochs, layers or width filled the memory or fitted for ever; lr 1e308 ran on overflows
    bounds = {**BatchedModelSearch.bounds,
              "members": Bound(1, 100, integer=True), "train_epochs": Bound(1, 10_000, integer=True),
              "layers": Bound(1, 100, integer=True), "width": Bound(1, 1024, integer=True),
              "batch_size": Bound(1, integer=True), "lr": Bound(0, 10, lo_open=True),
              "loss": Bound(choices=("mae", "mse")), "encoding": Bound(choices=ENCODINGS),
              "candidate_scheme": Bound(choices=CANDIDATE_SCHEMES)}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().setup(space, rng)  # checks the bounds first (BatchedModelSearch's), then the ensemble's size
        problem = ensemble_size_error(self.members, (self.width,) * self.layers, self.encoding,
                                      f"members={self.members}, layers={self.layers}, width={self.width}")
        if problem:
            raise StrategyError(problem)

    def predictor(self) -> Predictor:
        return MLPEnsemble(members=self.members, hidden=(self.width,) * self.layers, epochs=self.train_epochs,
                           lr=self.lr, weight_decay=0.0, encoding=self.encoding, loss=self.loss,
                           batch_size=self.batch_size, beta2=0.99, init="glorot",
                           seed=int(self.rng.integers(2**32)))

    def candidate_cells(self) -> list[Arch]:
        if self.candidate_scheme == "edits":
            return super().candidate_cells()
        ranked = self.observed.top(self.mutate_top * PATIENCE_FACTOR)
        return self.topped_up(naszilla_candidates(self.space, self.rng, ranked, self.candidates, self.asked,
                                                  self.mutate_top, self.max_edits))

    def acquisition(self, model: Predictor, cands: list[Arch]) -> np.ndarray:
        mean, spread = model.predict_dist(cands)
        return self.rng.normal(mean, spread)  # independent Thompson sampling: one draw per candidate
