"""The weight-sharing supernet over the NAS-Bench-201 cell space (NB201's ``TinyNetworkDarts`` /
``SearchCell``).

Same macro skeleton as :class:`~nasbench_suite.model.TinyNetwork` (stem, N cells per stage, two
ResNet reduction blocks, BN-ReLU-pool-linear head); every cell edge is a :class:`MixedOp` holding
all 5 candidate ops (built by :func:`~nasbench_suite.model.make_op`, the module a standalone network
of that cell would have, except that, as in NB201's ``SearchCell`` and DARTS' ``MixedOp``, the conv
ops' BatchNorm has no affine scale and shift (``affine=False``), so an op cannot rescale its output
against the mixing weights; stem, reduction blocks and head keep theirs). All cells share one set
of architecture weights: ``forward(x, weights)`` takes a ``[6, 5]`` tensor (softmax of DARTS' alphas, a Gumbel
sample, a one-hot) and each edge computes ``sum_k weights[e, k] * op_k(x)``.

With ``index`` (a ``[6]`` tensor of op indices) only the chosen op of each edge is run, as in
NB201's GDAS cell: ``weights[e, k] * op_k(x) + sum_{j != k} weights[e, j]`` (the other terms are
zero in a hard one-hot forward but carry the gradient to the architecture parameters).

The architecture parameters are *not* part of this module: the search method owns them, so the
weight optimizer never sees them and ``torch.func.functional_call`` can differentiate through the
weights alone (DARTS-V2).

``Supernet(config, cell_running_stats=False)`` builds the cell edges' BatchNorm without running
statistics (``track_running_stats=False``), as NB201's search cells are under its scripts'
``--track_running_stats 0``: in eval mode they still normalise with batch statistics, while stem,
reduction blocks and head keep theirs. The weights are the same either way (BatchNorm draws no
random numbers), and so is every forward pass in train mode.

With one-hot weights the supernet computes the same function as ``TinyNetwork(arch)`` whose edge
ops carry the same weights and the identity BN affine (see :func:`standalone_state_dict`).
"""
from __future__ import annotations

from functools import partial
from typing import Mapping

import torch
from torch import nn

from .errors import ModelConfigError
from .model import _NODE_INPUTS, MacroConfig, build_skeleton, make_op
from .space import NUM_EDGES, NUM_OPS, Arch, ArchLike


class MixedOp(nn.Module):
    """All candidate ops of one edge; ``ops[k]`` is op index ``k`` of ``space.OPS``."""

    def __init__(self, channels: int, running_stats: bool = True) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(k, channels, affine=False, track_running_stats=running_stats)
                                 for k in range(NUM_OPS))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        if index is None:
            return sum(w * op(x) for w, op in zip(weights, self.ops))
        k = int(index)
        return sum(weights[j] * op(x) if j == k else weights[j] for j, op in enumerate(self.ops))


class SearchCell(nn.Module):
    """NB201's ``SearchCell``: node j = sum over incoming edges of the edge's mixed op."""

    def __init__(self, channels: int, running_stats: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(channels, running_stats) for _ in range(NUM_EDGES))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        nodes = [x]
        for inputs in _NODE_INPUTS:
            nodes.append(sum(self.edges[e](nodes[src], weights[e], None if index is None else index[e])
                             for e, src in inputs))
        return nodes[-1]


class Supernet(nn.Module):
    """NB201's ``TinyNetworkDarts`` without the alphas; ``forward(x, weights, index=None)`` -> logits.

    ``cell_running_stats=False``: the search cells' BatchNorm keeps no running statistics (see the
    module doc)."""

    def __init__(self, config: MacroConfig, cell_running_stats: bool = True) -> None:
        super().__init__()
        if not isinstance(config, MacroConfig):
            raise ModelConfigError(f"config must be a MacroConfig, got {type(config).__name__}")
        self.config = config
        self.cell_running_stats = bool(cell_running_stats)
        build_skeleton(self, config, partial(SearchCell, running_stats=self.cell_running_stats))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        if tuple(weights.shape) != (NUM_EDGES, NUM_OPS):
            raise ModelConfigError(f"architecture weights must have shape ({NUM_EDGES}, {NUM_OPS}), "
                                   f"got {tuple(weights.shape)}")
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, weights, index) if isinstance(cell, SearchCell) else cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


def onehot_weights(arch: ArchLike, dtype: torch.dtype = torch.float32, device: str | torch.device | None = None) -> torch.Tensor:
    """The ``[6, 5]`` one-hot architecture weights of a cell."""
    ops = torch.as_tensor(Arch.parse(arch).ops, device=device)
    return nn.functional.one_hot(ops, NUM_OPS).to(dtype)


def derive(weights: torch.Tensor) -> Arch:
    """The cell of the argmax op per edge (``none`` allowed, as NAS-Bench-201 derives it)."""
    return Arch(tuple(int(k) for k in weights.detach().argmax(dim=1).tolist()))


def _standalone_key(key: str, ops: tuple[int, ...]) -> str | None:
    """``key`` of a supernet state dict as ``TinyNetwork(ops)`` names it, or None (an op not chosen)."""
    parts = key.split(".")
    if len(parts) > 5 and parts[0] == "cells" and parts[2] == "edges" and parts[4] == "ops":
        edge, op = int(parts[3]), int(parts[5])
        if op != ops[edge]:
            return None
        return ".".join(["cells", parts[1], "layers", parts[3], *parts[6:]])
    return key


def standalone_state_dict(supernet: Supernet, arch: ArchLike) -> Mapping[str, torch.Tensor]:
    """A ``TinyNetwork(arch)`` state dict holding the supernet's weights: stem, reductions and head
    as they are, and on every cell edge the weights of the edge's chosen op (its BatchNorm, affine-free
    in the supernet, gets the identity affine: weight 1, bias 0).

    A supernet built with ``cell_running_stats=False`` has no running statistics on its cell edges:
    those BatchNorms get a fresh module's (mean 0, variance 1, no batches tracked). The standalone
    network then matches the supernet in train mode; in eval mode its cells would normalise with
    these placeholders, not with batch statistics as the supernet's do, so gather real ones first
    (forward passes in train mode) before evaluating it that way."""
    ops = Arch.parse(arch).ops
    out = {}
    for key, value in supernet.state_dict().items():
        new = _standalone_key(key, ops)
        if new is not None:
            out[new] = value
    for name, module in supernet.named_modules():
        if isinstance(module, nn.BatchNorm2d) and not module.affine:
            prefix = _standalone_key(name, ops)
            if prefix is not None:
                out.update(_edge_batchnorm_entries(supernet, module, prefix))
    return out


def _edge_batchnorm_entries(supernet: Supernet, module: nn.BatchNorm2d, prefix: str) -> dict[str, torch.Tensor]:
    """What a standalone cell edge's BatchNorm needs beyond the supernet's state: the identity affine,
    and a fresh module's running statistics where the supernet keeps none."""
    like = module.running_mean if module.running_mean is not None else next(supernet.parameters())
    size = (module.num_features,)
    out = {f"{prefix}.weight": like.new_ones(size), f"{prefix}.bias": like.new_zeros(size)}
    if not module.track_running_stats:
        out.update({f"{prefix}.running_mean": like.new_zeros(size), f"{prefix}.running_var": like.new_ones(size),
                    f"{prefix}.num_batches_tracked": torch.zeros((), dtype=torch.long, device=like.device)})
    return out
