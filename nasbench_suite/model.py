"""The NAS-Bench-201 macro network, built from an :class:`~nasbench_suite.space.Arch`.

This follows D-X-Y's ``TinyNetwork`` / ``InferCell`` (NAS-Bench-201, NATS-Bench topology space)::

    stem      Conv3x3(in -> C, no bias) -> BN
    stage 1   N cells at C channels,  R x R
    reduce    ResNet basic block C -> 2C, stride 2
    stage 2   N cells at 2C channels, R/2 x R/2
    reduce    ResNet basic block 2C -> 4C, stride 2
    stage 3   N cells at 4C channels, R/4 x R/4
    head      BN -> ReLU -> global average pool -> Linear(4C -> classes, with bias)

Module attribute names (``stem``, ``cells``, ``layers``, ``op``, ``conv_a``, ``conv_b``,
``downsample``, ``lastact``, ``classifier``) mirror NAS-Bench-201's, so the ``state_dict`` keys
are the same as those of its ``TinyNetwork``.

Parameters and FLOPs are also given in closed form (:func:`analytic_params`,
:func:`analytic_flops`), vectorized over many cells, for any :class:`MacroConfig`. FLOPs follow
NAS-Bench-201's ``get_model_infos``: multiply-accumulates of every ``Conv2d`` plus ``in * out + out``
for the ``Linear`` layer; BatchNorm, pooling, ReLU and additions count 0 (its counter hooks the
pooling layers but leaves them out of the sum).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .errors import ArchError, ModelConfigError
from .space import CONV1, CONV3, EDGES, NONE, NUM_EDGES, NUM_NODES, NUM_OPS, POOL, SKIP, Arch, ArchLike

# Incoming edges of nodes 1..3 as (edge index, source node) pairs, in string order.
_NODE_INPUTS: tuple[tuple[tuple[int, int], ...], ...] = tuple(
    tuple((e, src) for e, (dst, src) in enumerate(EDGES) if dst == node) for node in range(1, NUM_NODES)
)


MACRO_LIMITS = {"cells": 1_000}
"""The largest value of a :class:`MacroConfig` field, :data:`MACRO_LIMIT` where not named here: far past any
NAS-Bench macro network (N=5, C=16), low enough that a network can be built (on the meta device) at once;
a mistyped ``--cells 99999999999999999999`` is one clear error instead of a build that never ends."""
MACRO_LIMIT = 2**20


@dataclass(frozen=True)
class MacroConfig:
    """Shape of the macro network. The defaults are NAS-Bench-201's (C=16, N=5, 32x32x3, 10 classes)."""

    channels: int = 16
    """C: channels of the first stage (the stages have C, 2C, 4C)."""
    cells: int = 5
    """N: cells per stage."""
    in_channels: int = 3
    resolution: int = 32
    """Height = width of the input; divisible by 4 (two stride-2 reductions)."""
    num_classes: int = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelConfigError(f"MacroConfig.{f.name} must be a positive integer, got {value!r}")
            limit = MACRO_LIMITS.get(f.name, MACRO_LIMIT)
            if value > limit:
                raise ModelConfigError(f"MacroConfig.{f.name} must be at most {limit:,}, got {value}")
            object.__setattr__(self, f.name, int(value))
        if self.resolution % 4:
            raise ModelConfigError(
                f"MacroConfig.resolution must be divisible by 4 (the network halves it twice), got {self.resolution}"
            )

    @property
    def stage_channels(self) -> tuple[int, int, int]:
        return (self.channels, 2 * self.channels, 4 * self.channels)

    @property
    def stage_resolutions(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution // 2, self.resolution // 4)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


# ----- operations ------------------------------------------------------------------------------
class ReLUConvBN(nn.Module):
    """NAS-Bench-201's ``ReLUConvBN``: ReLU -> Conv2d (no bias) -> BatchNorm2d (affine unless
    ``affine=False``, as in NB201's search cells; running statistics unless
    ``track_running_stats=False``, as in NB201's search cells under ``--track_running_stats 0``: such
    a BatchNorm has no running buffers and normalises with batch statistics in eval mode too).

    With ``affine=False`` NB201's conv has a bias (``bias=not affine`` in its ``cell_operations.py``);
    this one never does. The bias is cancelled by the BatchNorm that follows (exactly in training
    mode, where it gets no gradient), so the supernet computes the same function, but its parameter
    count lacks those biases (C per conv edge op) and its seeded initialisation draws different
    numbers than NB201's module would."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: NAS-Bench-201 returns ``x.mul(0.)`` (zeros of x's shape, NaN where x is inf/NaN)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def nor_conv(channels: int, kernel_size: int, affine: bool = True, track_running_stats: bool = True) -> ReLUConvBN:
    """``nor_conv_kxk``: ReLU -> Conv kxk (stride 1, padding k//2) -> BN, channels kept."""
    return ReLUConvBN(channels, channels, kernel_size, stride=1, padding=kernel_size // 2, affine=affine,
                      track_running_stats=track_running_stats)


def avg_pool_3x3() -> nn.AvgPool2d:
    """``avg_pool_3x3``: stride 1, padding 1, padded zeros left out of the average."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


def make_op(op: int, channels: int, affine: bool = True, track_running_stats: bool = True) -> nn.Module:
    """The module for op index ``op`` (see ``space.OPS``) on a ``channels``-wide, stride-1 edge;
    ``affine=False``: the conv ops' BatchNorm has no learnable scale and shift (NB201's search cells);
    ``track_running_stats=False``: nor running statistics (NB201's search cells under
    ``--track_running_stats 0``)."""
    if op == NONE:
        return Zero()
    if op == SKIP:
        return nn.Identity()
    if op == CONV1:
        return nor_conv(channels, 1, affine, track_running_stats)
    if op == CONV3:
        return nor_conv(channels, 3, affine, track_running_stats)
    if op == POOL:
        return avg_pool_3x3()
    raise ArchError(f"op index {op!r} is out of range 0..{NUM_OPS - 1}")


# ----- cells and blocks ------------------------------------------------------------------------
class InferCell(nn.Module):
    """NAS-Bench-201's ``InferCell``: node j = sum over its incoming edges of op_e(node_i); output = node 3.

    Every edge's op is instantiated, including those that cannot reach the output (NAS-Bench-201's
    published parameter counts include them).
    """

    def __init__(self, arch: Arch, channels: int) -> None:
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleList(make_op(op, channels) for op in arch.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for inputs in _NODE_INPUTS:
            nodes.append(sum(self.layers[e](nodes[src]) for e, src in inputs))
        return nodes[-1]

    def extra_repr(self) -> str:
        return f"arch={self.arch.to_str()!r}"


class ReductionBlock(nn.Module):
    """NAS-Bench-201's ``ResNetBasicblock(c_in, c_out, stride=2)`` between stages.

    ``conv_b(conv_a(x)) + downsample(x)`` with conv_a = ReLU-Conv3x3/2-BN, conv_b = ReLU-Conv3x3-BN and
    downsample = AvgPool2d(2, 2) -> Conv1x1 (no bias, no BN).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2, padding=1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, stride=1, padding=1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def build_skeleton(net: nn.Module, config: MacroConfig, make_cell: Callable[[int], nn.Module]) -> None:
    """Give ``net`` NAS-Bench-201's macro skeleton: ``stem``, ``cells`` (N cells per stage made by
    ``make_cell(channels)``, a :class:`ReductionBlock` between stages), ``lastact``,
    ``global_pooling`` and ``classifier``, registered in that order (the ``state_dict`` order)."""
    c = config.channels
    net.stem = nn.Sequential(nn.Conv2d(config.in_channels, c, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c))
    cells: list[nn.Module] = []
    c_prev = c
    for stage, c_stage in enumerate(config.stage_channels):
        if stage:
            cells.append(ReductionBlock(c_prev, c_stage))
        cells.extend(make_cell(c_stage) for _ in range(config.cells))
        c_prev = c_stage
    net.cells = nn.ModuleList(cells)
    net.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
    net.global_pooling = nn.AdaptiveAvgPool2d(1)
    net.classifier = nn.Linear(c_prev, config.num_classes)


class TinyNetwork(nn.Module):
    """NAS-Bench-201's ``TinyNetwork`` for one cell; ``forward`` returns the logits only."""

    def __init__(self, arch: Arch, config: MacroConfig) -> None:
        super().__init__()
        self.arch = arch
        self.config = config
        build_skeleton(self, config, lambda channels: InferCell(arch, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


def build_network(arch: ArchLike, config: MacroConfig) -> TinyNetwork:
    """The NAS-Bench-201 macro network for ``arch``, on the CPU in training mode; weights use
    torch's default initialisation (seed torch first for reproducible weights)."""
    if not isinstance(config, MacroConfig):
        raise ModelConfigError(f"config must be a MacroConfig, got {type(config).__name__}")
    return TinyNetwork(Arch.parse(arch), config)


# ----- counting --------------------------------------------------------------------------------
def count_params(module: nn.Module) -> int:
    """Number of parameters of a real module (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


def _conv_counts(ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_conv1x1, n_conv3x3) per row of an (n, 6) array of op indices, as int64."""
    ops = np.asarray(ops)
    if ops.ndim != 2 or ops.shape[1] != NUM_EDGES:
        raise ArchError(f"expected an (n, {NUM_EDGES}) array of op indices, got shape {ops.shape}")
    if not np.issubdtype(ops.dtype, np.integer):
        raise ArchError(f"op indices must be integers, got dtype {ops.dtype}")
    if ops.size and (ops.min() < 0 or ops.max() >= NUM_OPS):
        raise ArchError(f"op indices must lie in 0..{NUM_OPS - 1}")
    return (ops == CONV1).sum(axis=1, dtype=np.int64), (ops == CONV3).sum(axis=1, dtype=np.int64)


def _reductions(config: MacroConfig) -> list[tuple[int, int, int]]:
    """(c_in, c_out, output side) of the two reduction blocks."""
    ch, res = config.stage_channels, config.stage_resolutions
    return [(ch[s - 1], ch[s], res[s]) for s in (1, 2)]


def analytic_params(ops: np.ndarray, config: MacroConfig) -> np.ndarray:
    """Parameter count of each cell's network, in closed form: (n, 6) op indices -> (n,) int64.

    Only ``nor_conv_kxk`` edges carry parameters (k*k*c^2 weights + 2c BN affine); the stem,
    reduction blocks and head are fixed.
    """
    n1, n3 = _conv_counts(ops)
    k, c_last, classes = config.in_channels, config.stage_channels[-1], config.num_classes
    stem = 9 * k * config.channels + 2 * config.channels
    reductions = sum(9 * ci * co + 2 * co + 9 * co * co + 2 * co + ci * co for ci, co, _ in _reductions(config))
    head = 2 * c_last + c_last * classes + classes
    per_conv1 = config.cells * sum(c * c + 2 * c for c in config.stage_channels)
    per_conv3 = config.cells * sum(9 * c * c + 2 * c for c in config.stage_channels)
    return (stem + reductions + head) + n1 * per_conv1 + n3 * per_conv3


def analytic_flops(ops: np.ndarray, config: MacroConfig) -> np.ndarray:
    """FLOPs (multiply-accumulates, NAS-Bench-201's definition) per image: (n, 6) -> (n,) float64."""
    n1, n3 = _conv_counts(ops)
    c_last, classes = config.stage_channels[-1], config.num_classes
    stem = config.resolution**2 * 9 * config.in_channels * config.channels
    reductions = sum(h * h * (9 * ci * co + 9 * co * co + ci * co) for ci, co, h in _reductions(config))
    head = c_last * classes + classes
    per_conv1 = config.cells * sum(h * h * c * c for c, h in zip(config.stage_channels, config.stage_resolutions))
    return (float(stem + reductions + head) + n1 * float(per_conv1) + n3 * float(9 * per_conv1)).astype(np.float64)


def count_flops_hooks(module: nn.Module, config: MacroConfig) -> int:
    """FLOPs of ``module`` measured with forward hooks on one all-zero input of batch 1.

    Conv2d: output elements * in_channels/groups * kh*kw (+ output elements if it has a bias);
    Linear: in*out (+ out if it has a bias) per sample; everything else 0. The module is run in eval
    mode without gradients (BatchNorm statistics untouched) and every training flag is restored.
    """
    total = 0

    def conv_hook(m: nn.Conv2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += output.numel() * (m.in_channels // m.groups) * kh * kw
        if m.bias is not None:
            total += output.numel()

    def linear_hook(m: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        samples = output.numel() // m.out_features
        total += samples * (m.in_features * m.out_features + (m.out_features if m.bias is not None else 0))

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    modes = {m: m.training for m in module.modules()}
    first = next(module.parameters(), None)
    x = torch.zeros(
        1, config.in_channels, config.resolution, config.resolution,
        device=first.device if first is not None else None, dtype=first.dtype if first is not None else None,
    )
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return total


def describe(arch: ArchLike, config: MacroConfig) -> dict[str, Any]:
    """A JSON-ready summary of one cell's network: params counted on the real module, built on torch's
    meta device (shapes without memory: any size is counted, none is allocated), FLOPs (MACs) from
    :func:`analytic_flops`."""
    arch = Arch.parse(arch)
    with torch.device("meta"):
        net = build_network(arch, config)
    return {
        "index": arch.index,
        "arch_str": arch.to_str(),
        "canonical_str": arch.canonical_str(),
        "disconnected": arch.is_disconnected(),
        "params": count_params(net),
        "flops": float(analytic_flops(np.asarray([arch.ops]), config)[0]),
        "config": config.to_dict(),
    }
