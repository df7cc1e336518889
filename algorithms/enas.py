"""ENAS (Pham et al., 2018) on the NAS-Bench-201 supernet, with a per-edge categorical controller.

The controller is a ``[6, 5]`` table of logits (one independent categorical policy per edge; NB201
uses an LSTM). Each epoch has two phases:

1. shared weights: every step trains the supernet along one cell sampled from the policy (as NB201's
   ``train_shared_cnn``);
2. controller: ``controller_steps`` REINFORCE updates, each on ``controller_samples`` sampled cells
   whose reward is the supernet's accuracy (fraction) on a random valid minibatch, minus an
   exponential moving-average baseline updated after every sample (decay ``baseline_decay``,
   started at the first reward), plus an entropy bonus ``entropy_weight`` in the loss; Adam with lr
   ``controller_lr`` (torch's default betas and eps), no gradient clipping.

Scaled down from NB201's ``exps/algos/ENAS.py`` with ``scripts-search/algos/ENAS.sh`` and
``ENAS.config``: an LSTM controller (32 units, 2 layers; logits divided by temperature 5 and squashed
to ``2.5 * tanh``, so no op's probability can exceed about 0.97), Adam lr 1e-3, betas (0, 0.999),
eps 1e-3, 50 updates of 20 samples per epoch (one valid batch each, taken in turn from the valid
loader), the entropy term added to the reward, controller gradient norm clipped at 5. Its baseline
(``--controller_bl_dec 0.99``) is not a running average within an epoch: every sample's baseline is
``b + 0.01 * (reward - b)`` with ``b`` the value the previous epoch ended with, and in the first epoch
(``b`` None) the baseline is the sample's own accuracy, so only the entropy term is left of the
advantage. NATS-Bench's ``search-cell.py --algo enas`` does the same with ``b`` the previous epoch's
mean baseline, Adam betas (0.5, 0.999). Its weights: SGD lr 0.05 to 0.0005, weight decay 2.5e-4,
batch 128, a cosine of period 20 epochs (``T_max`` 10) over 310 epochs; here the loop's recipe
(``nasbench_suite.weight_sharing``).

The derived cell, as in ENAS and NB201's ``get_best_arch``: ``derive_samples`` cells (NB201: 10
per epoch and 100, ``--controller_num_samples``, for its final answer; NATS-Bench: 100) sampled from
the policy, the best (first on ties) by supernet valid accuracy kept; not the policy's argmax per
edge. Our answer is the last epoch's derived cell (``derive_samples=100`` matches NB201's final pick).
``candidate_batches`` says which valid minibatches (of the batch size, as NB201's ENAS valid loader):
``"shared"`` (default), all candidates on one random minibatch; ``"per_candidate"``, each on the
next batch of a shuffled pass over valid, as ``get_best_arch`` takes ``next(loader_iter)`` per sample
(:meth:`~nasbench_suite.weight_sharing.Context.candidate_batches`).
Rewards and the derived cell's scores use BatchNorm as the loop's ``bn_scoring`` says
(``nasbench_suite.weight_sharing``; ``nb201``: eval mode, as NB201's ``train_controller`` and
``get_best_arch``). Cells are sampled with the method's seeded numpy generator from the policy's probabilities.
"""
from __future__ import annotations

from typing import Any

import torch

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.supernet import onehot_weights
from nasbench_suite.weight_sharing import CANDIDATE_BATCHES, Context, Method, best_candidate


class ENAS(Method):
    name = "enas"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"controller_lr": 0.05, "controller_steps": 20, "controller_samples": 4, "baseline_decay": 0.95,
                "entropy_weight": 1e-4, "derive_samples": 10, "candidate_batches": "shared"}

    @classmethod
    def bounds(cls) -> dict[str, Bound]:
        # 0 steps, samples or derive_samples (the best of no cells) cannot work, 10**12 ran for ever; a huge
        # controller_lr or entropy_weight made the logits NaN ("Probabilities contain NaN")
        return {"controller_lr": Bound(0, 10), "controller_steps": Bound(1, 10_000, integer=True),
                "controller_samples": Bound(1, 10_000, integer=True), "baseline_decay": Bound(0, 1),
                "entropy_weight": Bound(0, 1000), "derive_samples": Bound(1, 100_000, integer=True),
                "candidate_batches": Bound(choices=CANDIDATE_BATCHES)}

    def setup(self, ctx: Context) -> None:
        self.logits = torch.nn.Parameter(torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64))
        self.opt = torch.optim.Adam([self.logits], lr=self.config["controller_lr"])
        self.baseline: float | None = None

    def sample(self, ctx: Context) -> Arch:
        probs = self.logits.detach().softmax(dim=1).numpy()
        return Arch(tuple(int(ctx.rng.choice(NUM_OPS, p=p / p.sum())) for p in probs))

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        arch = self.sample(ctx)
        ctx.weight_step(x, y, onehot_weights(arch, device=x.device), torch.as_tensor(arch.ops))

    def end_epoch(self, ctx: Context, epoch: int) -> None:
        c = self.config
        for _ in range(int(c["controller_steps"])):
            loss = torch.zeros((), dtype=torch.float64)
            log_probs = self.logits.log_softmax(dim=1)
            for _ in range(int(c["controller_samples"])):
                arch = self.sample(ctx)
                xv, yv = ctx.valid_batch()
                reward = ctx.accuracy(arch, xv, yv) / 100.0
                self.baseline = reward if self.baseline is None else (
                    c["baseline_decay"] * self.baseline + (1 - c["baseline_decay"]) * reward)
                chosen = log_probs[torch.arange(NUM_EDGES), torch.as_tensor(arch.ops)].sum()
                loss = loss - (reward - self.baseline) * chosen
            entropy = -(log_probs.exp() * log_probs).sum()
            loss = loss / int(c["controller_samples"]) - c["entropy_weight"] * entropy
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()

    def derive(self, ctx: Context) -> Arch:
        return best_candidate(ctx, lambda: self.sample(ctx), int(self.config["derive_samples"]),
                              self.config["candidate_batches"])
