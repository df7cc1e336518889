"""DARTS (Liu et al., 2019) on the NAS-Bench-201 supernet, as NAS-Bench-201 runs it.

Architecture parameters ``alpha`` ([6, 5], init ``1e-3 * N(0, 1)``) are trained on the valid split
with Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3); the supernet weights on the train split
with the shared SGD loop under ``softmax(alpha)``. Each step updates alpha on a valid minibatch, then
the weights on a train minibatch (the DARTS paper's order and NB201's DARTS-V2; NB201's DARTS-V1
script, and NATS-Bench's ``search-cell.py`` for both versions, take the weight step first). The
derived cell is the argmax op of each edge (``none`` allowed, as NB201's ``genotype()`` in
``search_model_darts.py`` and NATS-Bench's ``generic_model.py`` take it).

* ``darts-v1``: first order, ``grad_alpha L_valid(w, alpha)``.
* ``darts-v2``: second order, the gradient of ``L_valid(w', alpha)`` through one virtual SGD step
  ``w' = w - xi (grad_w L_train(w, alpha) + wd w + momentum * buffer)`` (``xi`` = the current weight
  lr), with the Hessian-vector product by central finite differences:
  ``grad_alpha L_valid(w', alpha) - xi (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 r)``,
  ``w+- = w +- r v``, ``v = grad_w' L_valid(w', alpha)``, ``r = 0.01 / ||v||``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.supernet import Supernet, derive
from nasbench_suite.weight_sharing import Context, Method


def _loss(net: Supernet, params: dict[str, torch.Tensor] | None, alpha: torch.Tensor, x: torch.Tensor,
          y: torch.Tensor) -> torch.Tensor:
    weights = alpha.softmax(dim=-1)
    logits = net(x, weights) if params is None else functional_call(net, params, (x, weights))
    return F.cross_entropy(logits, y)


def unrolled_alpha_grad(net: Supernet, alpha: torch.Tensor, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                        yv: torch.Tensor, xi: float, weight_decay: float = 0.0,
                        momentum_terms: list[torch.Tensor | None] | None = None,
                        epsilon: float = 0.01) -> torch.Tensor:
    """DARTS' second-order architecture gradient with the finite-difference Hessian-vector product
    (see the module doc; ``r = epsilon / ||v||``, DARTS' 0.01 by default). ``momentum_terms[i]``:
    ``momentum * buffer`` of parameter ``i`` (or None). The supernet's weights are left as they were;
    its BatchNorm running statistics move as NB201's ``backward_step_unrolled`` moves them: by the three
    train-minibatch passes (at w, w+ and w-), not by the virtual model's valid pass (NB201 runs that on
    a deep copy; here on copies of the buffers)."""
    net.train()
    names = [n for n, _ in net.named_parameters()]
    w = [p for _, p in net.named_parameters()]
    grads = torch.autograd.grad(_loss(net, None, alpha.detach(), x, y), w)
    with torch.no_grad():
        w_virtual = []
        for i, (p, g) in enumerate(zip(w, grads)):
            d = g + weight_decay * p
            if momentum_terms is not None and momentum_terms[i] is not None:
                d = d + momentum_terms[i]
            w_virtual.append((p - xi * d).requires_grad_(True))
    a = alpha.detach().requires_grad_(True)
    copies = {n: b.clone() for n, b in net.named_buffers()}
    loss_v = _loss(net, {**dict(zip(names, w_virtual)), **copies}, a, xv, yv)
    da, *dw = torch.autograd.grad(loss_v, [a, *w_virtual])
    r = epsilon / torch.cat([g.reshape(-1) for g in dw]).norm()

    def grad_alpha_at(sign: float) -> torch.Tensor:
        with torch.no_grad():
            params = {n: p + sign * r * v for n, p, v in zip(names, w, dw)}
        a_ = alpha.detach().requires_grad_(True)
        return torch.autograd.grad(_loss(net, params, a_, x, y), a_)[0]

    hvp = (grad_alpha_at(1.0) - grad_alpha_at(-1.0)) / (2 * r)
    return da - xi * hvp


ARCH_DEFAULTS: dict[str, Any] = {"arch_lr": 3e-4, "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3,
                                 "alpha_init_std": 1e-3}
"""NAS-Bench-201's architecture optimizer (DARTS, GDAS) and alpha initialisation."""
ARCH_BOUNDS: dict[str, Bound] = {"arch_lr": Bound(0, 10), "arch_betas": Bound(0, 1, hi_open=True, each=True),
                                 "arch_weight_decay": Bound(0, 10), "alpha_init_std": Bound(0, 10)}
"""Their bounds: a huge lr or weight decay made alpha inf/NaN (1e308: a torch RuntimeError), a huge
alpha_init_std too (GDAS then resampled its Gumbel noise for ever); Adam's beta2 = 1 never moves its second
moment off 0."""


def architecture_parameters(ctx: Context, config: dict[str, Any]) -> tuple[torch.nn.Parameter, torch.optim.Adam]:
    """alpha ([6, 5], ``alpha_init_std * N(0, 1)`` from the run's torch RNG) and its Adam optimizer."""
    device = next(ctx.net.parameters()).device
    alpha = torch.nn.Parameter(config["alpha_init_std"] * torch.randn(NUM_EDGES, NUM_OPS, device=device))
    return alpha, torch.optim.Adam([alpha], lr=config["arch_lr"], betas=tuple(config["arch_betas"]),
                                   weight_decay=config["arch_weight_decay"])


class DartsV1(Method):
    name = "darts-v1"
    second_order = False

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return dict(ARCH_DEFAULTS)

    @classmethod
    def bounds(cls) -> dict[str, Bound]:
        return dict(ARCH_BOUNDS)

    def setup(self, ctx: Context) -> None:
        self.alpha, self.arch_opt = architecture_parameters(ctx, self.config)

    def arch_grad(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> torch.Tensor:
        ctx.net.train()
        a = self.alpha.detach().requires_grad_(True)
        return torch.autograd.grad(_loss(ctx.net, None, a, xv, yv), a)[0]

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        self.arch_opt.zero_grad(set_to_none=True)
        self.alpha.grad = self.arch_grad(ctx, x, y, xv, yv)
        self.arch_opt.step()
        ctx.weight_step(x, y, self.alpha.softmax(dim=-1))

    def derive(self, ctx: Context) -> Arch:
        return derive(self.alpha)


class DartsV2(DartsV1):
    name = "darts-v2"
    second_order = True

    def arch_grad(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> torch.Tensor:
        group = ctx.optimizer.param_groups[0]
        terms = []
        for p in ctx.net.parameters():
            buf = ctx.optimizer.state.get(p, {}).get("momentum_buffer")
            terms.append(None if buf is None else group["momentum"] * buf)
        return unrolled_alpha_grad(ctx.net, self.alpha, x, y, xv, yv, xi=ctx.lr,
                                   weight_decay=group["weight_decay"], momentum_terms=terms)
