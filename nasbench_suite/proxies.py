"""Zero-cost proxies: scores of a cell's network at initialization, computed for real with torch.

Every proxy scores one freshly initialized network (:func:`~nasbench_suite.model.build_network` at a
:class:`~nasbench_suite.model.MacroConfig`) on one fixed minibatch. The weights are drawn inside a
forked torch RNG (no global RNG state changes) from ``SeedSequence(seed, spawn_key=(1,))``: the same
torch seed for every proxy and every cell (common random numbers: cells whose networks hold the
same parameter tensors start from identical weights). The minibatch is fixed by the seed alone
(:func:`pick_minibatch`), so every cell is scored on the same images. On CPU with one thread the
scores are deterministic given the seed.

=============  ================================================================================
proxy          definition (sums run over the weights of every ``Conv2d`` and ``Linear``)
=============  ================================================================================
``grad_norm``  sum over layers of the L2 norm of dL/dW (cross-entropy L on the minibatch)
``snip``       sum |W * dL/dW| (Lee et al. 2019)
``grasp``      sum -W * (H g), g = dL/dW, Hessian-vector product by double backprop (Wang et al. 2020)
``fisher``     sum over layers and output channels k of n_k * 0.5 * mean_batch(sum_hw a_k * dL/da_k)^2,
               a the layer's output, n_k the weights feeding channel k (``weight[k].numel()``: each
               channel's value is credited to every weight of the channel and summed over weights, as
               Abdelfattah et al. 2021 / NASLib do; Turner et al. 2020)
``synflow``    sum |W| * dR/d|W|, R = sum of the outputs for an all-ones input, float64, BatchNorm
               removed, every weight replaced by its absolute value (Tanaka et al. 2020); no data
``jacob_cov``  -sum_i log(v_i + k) + 1 / (v_i + k), v the eigenvalues of the correlation matrix of the
               per-image input Jacobians of the summed logits, k = 1e-5 (Mellor et al., v1)
``naswot``     log|det K|, K_ij = number of ReLUs where images i and j agree on active / inactive
               (Mellor et al. 2021, "NASWOT")
``zen``        log mean_batch sum_chw |f(x) - f(x + 0.01 e)| + sum over BatchNorm layers of log sqrt(mean
               batch variance), f the feature map the global pooling reads (after the final BatchNorm
               and ReLU, Zen-NAS's ``forward_pre_GAP``), x, e ~ N(0, 1), Gaussian re-initialized
               weights (Lin et al. 2021), drawn from a generator seeded ``init_seed(seed) + 1``; a
               BatchNorm whose input has variance 0 (a convolution fed only by ``none`` edges) adds
               log 0: it is left out of the sum (Zen-NAS's space has no such layers); no data
``params``     parameter count (closed form, :func:`~nasbench_suite.model.analytic_params`)
``flops``      multiply-accumulates per image (:func:`~nasbench_suite.model.analytic_flops`)
=============  ================================================================================

Every network is in training mode (BatchNorm on batch statistics), as the zero-cost literature
scores it. **Cells whose output is cut off from the input** (:meth:`Arch.is_disconnected`) compute a
function that does not depend on the input at all; no proxy is run on them and every proxy except
``params`` and ``flops`` is defined as ``-inf`` (ranked below every connected cell, tied among
themselves). A connected cell's score is stored as computed, infinities included: ``+inf`` (a sum that
overflowed float64, larger than any finite score) ranks first, ``-inf`` (a log of 0, e.g. ``naswot`` of a
singular kernel) last. A NaN has no rank and is refused (:class:`~nasbench_suite.errors.ProxyError` naming
the proxy and cell) rather than stored as if the cell were disconnected. None has been seen: synflow is
float64, as the reference implementations compute it (about 7e49 at most at NAS-Bench-201's C=16, N=5
network, which float32 overflows to NaN); every other proxy stays far inside float32 there. Float64
synflow of the all-``nor_conv_3x3`` cell (C=16, 8x8 input) is 9e297 at N=40, +inf at N=42 and NaN at N=45.

**Isomorphism classes**: no score is shared inside a class; every cell is scored. Members of a class
compute the same function only up to their weights: ``InferCell`` instantiates every edge, dead
ones included, so members holding different convolutions draw different initial weights and have
different parameter counts, and any proxy can differ. Only members that differ in parameter-free
ops (``none``, ``skip_connect``, ``avg_pool_3x3``) on edges that cannot reach the output are
provably equal (the same parameter tensors, hence the same weights, and the same live computation);
the tests check that they get identical scores, and a run still scores them (it costs little).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ProxyError
from .model import MacroConfig, analytic_flops, analytic_params, build_network
from .space import Arch
from .train import torch_seed

PROXIES: tuple[str, ...] = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "naswot", "zen",
                            "params", "flops")
ANALYTIC = ("params", "flops")
DISCONNECTED_VALUE = -math.inf
UNDEFINED = ("disconnected cells are -inf for every proxy but params and flops; other scores are stored as "
             "computed (+inf and -inf kept, NaN refused); see nasbench_suite.proxies")
"""How non-finite scores are stored: part of a proxy folder's identity."""
LEGACY_UNDEFINED = ("disconnected cells (and any non-finite score) are -inf for every proxy but params and flops; "
                    "see nasbench_suite.proxies")
"""The rule before +inf was kept and NaN refused: a folder written under it is resumed (and its identity
rewritten) only when it holds no non-finite score of a connected cell, the one case where the two rules agree."""


def check_proxies(names: Sequence[str]) -> tuple[str, ...]:
    """Validate proxy names; returns them in :data:`PROXIES` order, without duplicates."""
    unknown = [n for n in names if n not in PROXIES]
    if unknown or not names:
        raise ProxyError(f"unknown proxy name(s) {unknown or '(none given)'}; proxies are {', '.join(PROXIES)}")
    return tuple(p for p in PROXIES if p in names)


# ----- seeds and data ------------------------------------------------------------------------------
INIT = ("torch.manual_seed(torch_seed(SeedSequence(seed, spawn_key=(1,)))) in a forked RNG before building "
        "each proxy's network: the same seed for every cell (common random numbers)")


REVISED_DEFINITIONS = {
    "fisher": "per weight: each output channel's 0.5 * mean_batch(sum_hw a * dL/da)^2 times weight[k].numel(), summed",
    "zen": "log mean_batch sum_chw |f(x) - f(x + 0.01 e)| + sum_BN log sqrt(mean batch var), f the input of "
           "global_pooling (after lastact)",
}
"""Proxies whose definition changed after scores were first stored, each with its current one, recorded in
the identity of a proxy folder that stores it: folders from before (fisher: a plain sum over channels,
without the fan-in factor; zen: the last cell's output, before lastact, averaged over every element) refuse
to resume instead of mixing the two."""


def init_seed(seed: int) -> int:
    """The torch seed of every cell's initial weights under proxy seed ``seed``: the same for all cells,
    so two cells whose networks hold the same parameter tensors start from the same weights."""
    return torch_seed(np.random.SeedSequence(int(seed), spawn_key=(1,)))


def pick_minibatch(n: int, batch_size: int, seed: int) -> np.ndarray:
    """Sorted row indices of the fixed minibatch (``batch_size`` distinct rows of ``n``)."""
    if batch_size < 2 or batch_size > n:
        raise ProxyError(f"the proxy minibatch needs 2..{n} images, got {batch_size}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0,)))
    return np.sort(rng.choice(n, size=batch_size, replace=False))


@dataclass(frozen=True)
class Minibatch:
    x: torch.Tensor
    y: torch.Tensor


def layers(net: nn.Module) -> Iterator[nn.Module]:
    """The weighted layers every proxy sums over: ``Conv2d`` and ``Linear``."""
    return (m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


# ----- the proxies (each takes a fresh network) ----------------------------------------------------
def _loss_backward(net: nn.Module, batch: Minibatch) -> None:
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(batch.x), batch.y).backward()


def grad_norm(net: nn.Module, batch: Minibatch) -> float:
    _loss_backward(net, batch)
    return float(sum(m.weight.grad.norm() for m in layers(net) if m.weight.grad is not None))


def snip(net: nn.Module, batch: Minibatch) -> float:
    _loss_backward(net, batch)
    return float(sum((m.weight.detach() * m.weight.grad).abs().sum() for m in layers(net) if m.weight.grad is not None))


def grasp(net: nn.Module, batch: Minibatch) -> float:
    weights = [m.weight for m in layers(net)]
    loss = F.cross_entropy(net(batch.x), batch.y)
    g = [t.detach() if t is not None else torch.zeros_like(w)
         for t, w in zip(torch.autograd.grad(loss, weights, allow_unused=True), weights)]
    loss = F.cross_entropy(net(batch.x), batch.y)
    grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((a * b).sum() for a, b in zip(grads, g) if a is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))


def fisher(net: nn.Module, batch: Minibatch) -> float:
    acts: list[tuple[nn.Module, torch.Tensor]] = []

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.retain_grad()
            acts.append((module, output))

    handles = [m.register_forward_hook(keep) for m in layers(net)]
    try:
        _loss_backward(net, batch)
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for m, a in acts:
        if a.grad is None:
            continue
        prod = a.detach() * a.grad
        per = prod.sum(dim=(2, 3)) if prod.dim() == 4 else prod
        # the per-channel value counts once per weight of the channel (NASLib broadcasts it to
        # weight.shape[1:] and sums over parameters): a fan-in weighting, not a plain channel sum
        total += float((0.5 * per.pow(2).mean(0)).sum()) * m.weight[0].numel()
    return total


def _strip_batchnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.Identity())
        else:
            _strip_batchnorm(child)


def synflow(net: nn.Module, input_shape: Sequence[int]) -> float:
    """Synaptic flow of ``net`` (modified in place: BatchNorm removed, float64, |weights|)."""
    _strip_batchnorm(net)
    net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones(1, *input_shape, dtype=torch.float64)).sum().backward()
    return float(sum((m.weight.detach() * m.weight.grad).abs().sum() for m in layers(net) if m.weight.grad is not None))


def jacob_cov(net: nn.Module, batch: Minibatch) -> float:
    x = batch.x.clone().requires_grad_(True)
    net.zero_grad(set_to_none=True)
    net(x).sum().backward()
    jac = x.grad.reshape(len(x), -1).double()
    corr = torch.corrcoef(jac)
    corr = torch.nan_to_num(corr, nan=0.0)  # an image with a constant Jacobian correlates with nothing
    v = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-torch.sum(torch.log(v + k) + 1.0 / (v + k)))


def naswot(net: nn.Module, batch: Minibatch) -> float:
    n = len(batch.y)
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        c = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(c @ c.t() + (1 - c) @ (1 - c).t())

    handles = [m.register_forward_pre_hook(count) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(batch.x)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(kernel)[1])


def zen(net: nn.Module, input_shape: Sequence[int], batch_size: int, generator: torch.Generator) -> float:
    """Zen-score; ``net`` must have ``global_pooling``: its input (after ``lastact``, the final BatchNorm
    and ReLU) is Zen-NAS's pre-GAP feature map. Zen-NAS's BN factor reads ``running_var`` after its two
    passes; ours reads the batch variance of the unperturbed pass (the paper's definition). A BatchNorm
    whose input has variance 0 (fed only through ``none`` edges) would add log 0 = -inf: it is left out,
    so that a cell with a dead branch still gets the score of its live part."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
    log_bn: list[float] = []

    def bn_var(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        var = inputs[0].double().var(dim=(0, 2, 3), unbiased=False).mean()
        log_bn.append(float(torch.log(torch.sqrt(var))))

    features: list[torch.Tensor] = []
    x1 = torch.randn(batch_size, *input_shape, generator=generator)
    x2 = x1 + 0.01 * torch.randn(batch_size, *input_shape, generator=generator)
    hook = net.global_pooling.register_forward_pre_hook(lambda m, i: features.append(i[0].detach().clone()))
    try:
        with torch.no_grad():
            net(x2)
            bn_handles = [m.register_forward_pre_hook(bn_var) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
            try:
                net(x1)
            finally:
                for h in bn_handles:
                    h.remove()
    finally:
        hook.remove()
    delta = float((features[1].double() - features[0].double()).abs().flatten(1).sum(1).mean())
    if delta == 0:
        return -math.inf  # log 0; a NaN delta passes on as NaN (score_cell refuses it)
    return math.log(delta) + sum(v for v in log_bn if math.isfinite(v))


# ----- one cell ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxySettings:
    """How proxies are computed; part of a proxy store's identity."""

    config: MacroConfig
    batch_size: int = 64
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "batch_size": self.batch_size, "seed": self.seed, "init": INIT,
                "mode": "train() (BatchNorm batch statistics); CPU, 1 torch thread"}


def _fresh(arch: Arch, config: MacroConfig, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        return build_network(arch, config)


def score_cell(arch: Arch, batch: Minibatch, settings: ProxySettings,
               proxies: Sequence[str] = PROXIES) -> dict[str, tuple[float, float]]:
    """{proxy: (score, measured seconds)} of one cell; threads are the caller's business.

    The seconds of each proxy include building its network. A disconnected cell gets
    :data:`DISCONNECTED_VALUE` (and 0 s) for every proxy but ``params`` and ``flops``; a connected
    cell's score is kept as computed (``+inf`` and ``-inf`` included); a NaN raises :class:`ProxyError`.
    """
    config = settings.config
    shape = (config.in_channels, config.resolution, config.resolution)
    ops = np.asarray([arch.ops])
    disconnected = arch.is_disconnected()
    run: dict[str, Callable[[], float]] = {
        "grad_norm": lambda: grad_norm(_fresh(arch, config, settings.seed), batch),
        "snip": lambda: snip(_fresh(arch, config, settings.seed), batch),
        "grasp": lambda: grasp(_fresh(arch, config, settings.seed), batch),
        "fisher": lambda: fisher(_fresh(arch, config, settings.seed), batch),
        "synflow": lambda: synflow(_fresh(arch, config, settings.seed), shape),
        "jacob_cov": lambda: jacob_cov(_fresh(arch, config, settings.seed), batch),
        "naswot": lambda: naswot(_fresh(arch, config, settings.seed), batch),
        "zen": lambda: _zen_seeded(arch, settings, shape),
        "params": lambda: float(analytic_params(ops, config)[0]),
        "flops": lambda: float(analytic_flops(ops, config)[0]),
    }
    out: dict[str, tuple[float, float]] = {}
    for name in check_proxies(proxies):
        if disconnected and name not in ANALYTIC:
            out[name] = (DISCONNECTED_VALUE, 0.0)
            continue
        t0 = time.perf_counter()
        value = run[name]()
        seconds = time.perf_counter() - t0
        if math.isnan(value):
            raise ProxyError(f"proxy {name} is NaN on cell {arch.index} ({arch.to_str()}) at C={config.channels}, "
                             f"N={config.cells}, {config.resolution}x{config.resolution}: a NaN has no rank; leave "
                             f"{name} out (--proxies) for this network shape")
        out[name] = (value, seconds)
    return out


def _zen_seeded(arch: Arch, settings: ProxySettings, shape: Sequence[int]) -> float:
    net = _fresh(arch, settings.config, settings.seed)
    gen = torch.Generator().manual_seed(init_seed(settings.seed) + 1)
    return zen(net, shape, settings.batch_size, gen)


