"""Random sampling with parameter sharing (RSPS; Li & Talwalkar, 2019), as NAS-Bench-201 runs it.

Every step trains the supernet's weights along one cell drawn uniformly at random (one op per edge,
the same cell in every cell position), as NB201's ``RANDOM-NAS.py`` (``search_func`` draws
``random_genotype`` once per batch). After each epoch, ``candidates`` cells drawn uniformly at
random (NB201: ``--select_num 100``, per epoch and at the end) are scored by the supernet's accuracy
on valid minibatches of ``valid_batch`` images (default: the batch size), and the best (first on
ties) is the derived cell. ``candidate_batches`` says which minibatches:

* ``"shared"`` (default): all candidates on one random valid minibatch (the same images for all);
* ``"per_candidate"``: each candidate on its own, the next batch of a shuffled pass over valid, as
  NB201's ``search_find_best`` (``RANDOM-NAS.py``) and NATS-Bench's ``get_best_arch``
  (``search-cell.py``) take ``next(loader_iter)`` per candidate
  (:meth:`~nasbench_suite.weight_sharing.Context.candidate_batches`). NATS-Bench's valid loader
  has the ``test_batch_size`` of its ``weight-sharing.config``, 512: ``valid_batch=512`` matches it.

BatchNorm normalises in that scoring as the loop's ``bn_scoring`` says
(``nasbench_suite.weight_sharing``; ``nb201``: eval mode, as NB201's ``search_find_best`` /
``valid_func``). All draws come from the method's seeded generator.

Where NATS-Bench's ``search-cell.py --algo random`` differs from NB201's ``RANDOM-NAS.py`` (we follow
the latter): its weight steps run the supernet in ``urs`` mode, where every cell position draws its
own ops and redraws a node whose incoming edges are all ``none``; its candidates are distinct
(``random.sample`` of all cells); its weight gradients are not clipped. NB201's per-epoch
``valid_func`` scores a fresh random cell per batch; our ``value`` is the derived cell's accuracy on
all of valid.
"""
from __future__ import annotations

from typing import Any

import torch

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import Arch
from nasbench_suite.supernet import onehot_weights
from nasbench_suite.weight_sharing import CANDIDATE_BATCHES, Context, Method, best_candidate


class RSPS(Method):
    name = "rsps"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"candidates": 100, "valid_batch": None, "candidate_batches": "shared"}

    @classmethod
    def bounds(cls) -> dict[str, Bound]:
        # 10**12 candidates ran for ever; valid_batch's default None let any type through the type check, and it
        # is capped at the valid split's size
        return {"candidates": Bound(1, 100_000, integer=True),
                "valid_batch": Bound(1, integer=True, null=True,
                                     why="images per valid minibatch; null: the batch size"),
                "candidate_batches": Bound(choices=CANDIDATE_BATCHES)}

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        arch = Arch.random(ctx.rng)
        ctx.weight_step(x, y, onehot_weights(arch, device=x.device), torch.as_tensor(arch.ops))

    def derive(self, ctx: Context) -> Arch:
        c = self.config
        return best_candidate(ctx, lambda: Arch.random(ctx.rng), int(c["candidates"]), c["candidate_batches"],
                              c["valid_batch"])
