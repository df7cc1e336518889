"""GDAS (Dong & Yang, 2019) on the NAS-Bench-201 supernet, as NAS-Bench-201 runs it.

Every step samples one op per edge by Gumbel-softmax over ``log_softmax(alpha)`` at temperature
``tau``: the forward pass runs only the sampled op of each edge (hard one-hot), the backward pass
uses the soft probabilities (straight-through ``one_hot - probs.detach() + probs``). The weights
take an SGD step on a train minibatch with one sample, then alpha an Adam step (lr 3e-4, betas
(0.5, 0.999), weight decay 1e-3) on a valid minibatch with a fresh sample. ``tau`` falls linearly
from ``tau_max`` (10) in the first epoch to ``tau_min`` (0.1) in the last. The derived cell is the
argmax of alpha per edge. Gumbel noise comes from the run's seeded torch generator.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from algorithms.darts import ARCH_BOUNDS, ARCH_DEFAULTS, architecture_parameters
from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_OPS, Arch
from nasbench_suite.supernet import derive
from nasbench_suite.weight_sharing import Context, Method


def gumbel_hard(alpha: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(straight-through hard weights [6, 5], sampled op index per edge [6])."""
    while True:  # NB201 resamples on the (rare) inf/NaN
        gumbels = -torch.empty_like(alpha).exponential_().log()
        probs = ((alpha.log_softmax(dim=1) + gumbels) / tau).softmax(dim=1)
        index = probs.argmax(dim=1)
        hard = F.one_hot(index, NUM_OPS).to(probs.dtype)
        weights = hard - probs.detach() + probs
        if torch.isfinite(weights).all():
            return weights, index


class GDAS(Method):
    name = "gdas"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {**ARCH_DEFAULTS, "tau_max": 10.0, "tau_min": 0.1}

    @classmethod
    def bounds(cls) -> dict[str, Bound]:
        # the Gumbel-softmax temperature divides the logits: 0 divided by zero, a tiny one overflowed them and inf
        # made tau NaN, each resampled for ever
        tau = Bound(1e-6, 1e6, why="the Gumbel-softmax temperature")
        return {**ARCH_BOUNDS, "tau_max": tau, "tau_min": tau}

    def check(self) -> str | None:
        if not self.config["tau_min"] <= self.config["tau_max"]:
            c = self.config
            return f"need tau_min <= tau_max, got tau_min={c['tau_min']!r}, tau_max={c['tau_max']!r}"
        return None

    def setup(self, ctx: Context) -> None:
        self.alpha, self.arch_opt = architecture_parameters(ctx, self.config)
        self.tau = self.config["tau_max"]

    def start_epoch(self, ctx: Context, epoch: int) -> None:
        c = self.config
        frac = (epoch - 1) / max(ctx.epochs - 1, 1)
        self.tau = c["tau_max"] - (c["tau_max"] - c["tau_min"]) * frac

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        weights, index = gumbel_hard(self.alpha.detach(), self.tau)
        ctx.weight_step(x, y, weights, index.cpu())
        ctx.net.train()
        weights, index = gumbel_hard(self.alpha, self.tau)
        loss = F.cross_entropy(ctx.net(xv, weights, index.cpu()), yv)
        self.arch_opt.zero_grad(set_to_none=True)
        ctx.net.zero_grad(set_to_none=ctx.settings.grads_to_none)  # as the weight step clears them
        loss.backward()
        self.arch_opt.step()

    def derive(self, ctx: Context) -> Arch:
        return derive(self.alpha)
