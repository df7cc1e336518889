"""Random sampling with parameter sharing (RSPS; Li & Talwalkar, 2019), as NAS-Bench-201 runs it.

Every step trains the supernet's weights along one cell drawn uniformly at random (one op per edge).
After each epoch, ``candidates`` cells drawn uniformly at random are scored by the supernet's
accuracy on one random valid minibatch of ``valid_batch`` images (default: the batch size), and the
best (first on ties) is the derived cell. BatchNorm normalises in that scoring as the loop's
``bn_scoring`` says (``nasbench_suite.weight_sharing``; ``nb201``: eval mode, as NB201's
``search_find_best`` / ``valid_func``). All draws come from the method's seeded generator.
"""
from __future__ import annotations

from typing import Any

import torch

from nasbench_suite.space import Arch
from nasbench_suite.supernet import onehot_weights
from nasbench_suite.weight_sharing import Context, Method


class RSPS(Method):
    name = "rsps"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"candidates": 100, "valid_batch": None}

    def check(self) -> str | None:
        vb = self.config["valid_batch"]
        if self.config["candidates"] < 1 or (vb is not None and vb < 1):
            return "candidates and valid_batch must be at least 1"
        return None

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        arch = Arch.random(ctx.rng)
        ctx.weight_step(x, y, onehot_weights(arch, device=x.device), torch.as_tensor(arch.ops))

    def derive(self, ctx: Context) -> Arch:
        xv, yv = ctx.valid_batch(self.config["valid_batch"])
        cells = [Arch.random(ctx.rng) for _ in range(int(self.config["candidates"]))]
        scores = [ctx.accuracy(a, xv, yv) for a in cells]
        return cells[max(range(len(cells)), key=scores.__getitem__)]
