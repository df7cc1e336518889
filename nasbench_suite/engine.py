"""The batched engine: trains K cells at once, each with its own weights, on shared minibatches.

Networks this small leave a CPU idle in framework overhead when trained one at a time (a few
thousand images per second, most of the time spent launching tiny kernels). All cells of a seed see
the same minibatches (see :func:`~nasbench_suite.train.run_streams`), so the engine stacks K cells'
activations along the channel axis, ``[batch, K*C, H, W]`` in ``channels_last`` memory, block k
holding cell k's channels, and runs every layer once for all K cells:

- stem: one dense convolution with the K cells' filters stacked (the input is shared);
- ReLU, BatchNorm, pooling, additions: one kernel over all K*C channels (BatchNorm is per channel, so
  per cell);
- reduction blocks (the same for every cell): grouped convolutions, ``groups=K``;
- cell edges: each op is computed only for the cells that have it on that edge: their channel blocks
  are gathered, convolved with ``groups=|cells|`` (and normalized) and added into the target node's
  channels with ``index_add_``; ``none`` costs nothing;
- head: per-cell linear layers as one batched matrix product; the loss is the sum of the cells'
  mean cross-entropies, so each cell's gradient is exactly its own.
- evaluation: each convolution's BatchNorm (running statistics) is folded into its filters and a
  bias, so a conv-BN pair is one kernel (10-30% faster evaluation on a CPU; the same numbers up to
  float rounding).

Each cell's weights are first built by the reference network (:func:`~nasbench_suite.model.build_network`)
under the same seeded initialisation as :func:`~nasbench_suite.train.train_cell`, then copied into
the stacks, and SGD is elementwise, so each step of a cell trained in a batch equals the cell's step
trained alone up to float rounding (``tests/test_engine.py`` checks short runs). Over long runs
training amplifies that rounding, as it amplifies any (see ``pre_evaluate.RunSpec.batch_cells``).

Time attribution: the engine measures the seconds of each batched pass (training epoch, valid and
test evaluation) and gives each cell the share of it equal to its share of the batch's FLOPs
(:func:`~nasbench_suite.model.analytic_flops`), so costs stay comparable across cells and sum to the
measured time.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .model import _NODE_INPUTS, InferCell, MacroConfig, ReLUConvBN, TinyNetwork, analytic_flops, build_network
from .space import CONV1, CONV3, POOL, SKIP, Arch
from .train import (EpochRecord, MinibatchStream, Protocol, ProtocolError, eval_chunks, eval_tensors, make_sgd,
                    run_streams, torch_seed)

TRAINER_NAME = "batched engine (nasbench_suite.engine.train_batched)"
SECONDS_RULE = ("seconds of each batched pass (train epoch, valid, test) shared among its cells in "
                "proportion to their analytic FLOPs")
_CL = torch.channels_last
ENGINE_REVISION = 2
"""Changes when the engine's arithmetic changes (at float-rounding level; each run session records
it beside its hardware). 1: the engine of the shipped tables. 2: evaluation folds each BatchNorm into
the convolution before it."""


class StackedBN(nn.Module):
    """Per-channel BatchNorm over a stack of cells' channels (affine, running statistics)."""

    def __init__(self, bns: Sequence[nn.BatchNorm2d]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.cat([b.weight.detach() for b in bns]).clone())
        self.bias = nn.Parameter(torch.cat([b.bias.detach() for b in bns]).clone())
        self.register_buffer("running_mean", torch.cat([b.running_mean for b in bns]).clone())
        self.register_buffer("running_var", torch.cat([b.running_var for b in bns]).clone())
        self.momentum, self.eps = bns[0].momentum, bns[0].eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) with ``BN(y) = y * scale + shift`` per channel in evaluation mode."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        return scale, self.bias - self.running_mean * scale


class StackedConv(nn.Module):
    """Conv2d of a stack of cells, each with its own filters: grouped (``groups=K``), or dense when
    the input is shared by all cells (the stem)."""

    def __init__(self, convs: Sequence[nn.Conv2d], shared_input: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.cat([c.weight.detach() for c in convs]).clone())
        self.groups = 1 if shared_input else len(convs)
        self.stride, self.padding = convs[0].stride, convs[0].padding

    def forward(self, x: torch.Tensor, bn: StackedBN | None = None) -> torch.Tensor:
        """The convolution, followed by ``bn``; in evaluation mode ``bn`` is folded into the filters
        and a bias (one kernel instead of two; the same numbers up to float rounding)."""
        if bn is not None and not bn.training:
            scale, shift = bn.folded()
            return F.conv2d(x, self.weight * scale.view(-1, 1, 1, 1), shift, self.stride, self.padding, 1, self.groups)
        y = F.conv2d(x, self.weight, None, self.stride, self.padding, 1, self.groups)
        return y if bn is None else bn(y)


class StackedReLUConvBN(nn.Module):
    def __init__(self, ops: Sequence[ReLUConvBN]) -> None:
        super().__init__()
        self.conv = StackedConv([o.op[1] for o in ops])
        self.bn = StackedBN([o.op[2] for o in ops])

    def forward(self, x: torch.Tensor, relu_done: bool = False) -> torch.Tensor:
        return self.conv(x if relu_done else F.relu(x), self.bn)


class StackedReduction(nn.Module):
    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.conv_a = StackedReLUConvBN([b.conv_a for b in blocks])
        self.conv_b = StackedReLUConvBN([b.conv_b for b in blocks])
        self.down = StackedConv([b.downsample[1] for b in blocks])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.down(F.avg_pool2d(x, 2, 2))
        return residual + self.conv_b(self.conv_a(x))


class StackedCell(nn.Module):
    """One cell position of K networks: every edge computes each op only for the cells that use it."""

    def __init__(self, cells: Sequence[nn.Module], ops: np.ndarray, device: torch.device) -> None:
        super().__init__()
        self.k = len(cells)
        self.convs = nn.ModuleDict()
        self.plan: list[list[tuple[int, list[tuple[int, str, torch.Tensor | None]]]]] = []
        for inputs in _NODE_INPUTS:
            node_plan = []
            for e, src in inputs:
                entries = []
                for op in (SKIP, CONV1, CONV3, POOL):
                    users = [k for k in range(self.k) if ops[k, e] == op]
                    if not users:
                        continue
                    idx = None if len(users) == self.k else torch.as_tensor(users, dtype=torch.long, device=device)
                    key = f"e{e}_o{op}"
                    if op in (CONV1, CONV3):
                        self.convs[key] = StackedReLUConvBN([cells[k].layers[e] for k in users])
                    entries.append((op, key, idx))
                node_plan.append((src, entries))
            self.plan.append(node_plan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, kc, h, w = x.shape
        nodes = [x]
        relu_of: dict[int, torch.Tensor] = {}
        for node_plan in self.plan:
            acc: torch.Tensor | None = None  # [B*H*W, K, C], contiguous: channels_last as cell rows
            owned = False  # acc is a buffer of this node (not a view of an op's output): add into it in place
            for src, entries in node_plan:
                for op, key, idx in entries:
                    if op in (CONV1, CONV3):
                        if src not in relu_of:
                            relu_of[src] = F.relu(nodes[src])
                        inp = relu_of[src]
                    else:
                        inp = nodes[src]
                    if idx is not None:
                        inp = _gather(inp, idx, self.k)
                    if op == SKIP:
                        y = inp
                    elif op == POOL:
                        y = F.avg_pool2d(inp, 3, 1, 1, count_include_pad=False)
                    else:
                        y = self.convs[key](inp, relu_done=True)
                    rows = _cells_view(y.permute(0, 2, 3, 1), self.k if idx is None else len(idx))
                    if idx is None:
                        acc, owned = (rows, False) if acc is None else (acc + rows, True)
                    else:
                        if acc is None:
                            acc, owned = x.new_zeros(b * h * w, self.k, kc // self.k), True
                        # in place when acc is ours: the same sums as out of place, without copying acc
                        acc, owned = (acc.index_add_(1, idx, rows) if owned else acc.index_add(1, idx, rows)), True
            if acc is None:
                acc = x.new_zeros(b * h * w, self.k, kc // self.k)
            nodes.append(acc.view(b, h, w, kc).permute(0, 3, 1, 2))
        return nodes[-1]


def _cells_view(nhwc: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, H, W, k*C]`` (contiguous) as ``[B*H*W, k, C]``: one row of C channels per cell and pixel."""
    b, h, w, kc = nhwc.shape
    return nhwc.view(b * h * w, k, kc // k)


def _gather(x: torch.Tensor, cells: torch.Tensor, k: int) -> torch.Tensor:
    """The channel blocks of ``cells`` from a channels_last ``[B, k*C, H, W]`` stack, channels_last."""
    b, kc, h, w = x.shape
    picked = _cells_view(x.permute(0, 2, 3, 1), k).index_select(1, cells)
    return picked.view(b, h, w, -1).permute(0, 3, 1, 2)


class StackedNetwork(nn.Module):
    """K NAS-Bench-201 networks (same macro config) trained side by side; ``forward`` -> ``[K, B, classes]``."""

    def __init__(self, nets: Sequence[TinyNetwork], device: torch.device) -> None:
        super().__init__()
        self.k = len(nets)
        ops = np.array([n.arch.ops for n in nets], dtype=np.int64)
        self.stem_conv = StackedConv([n.stem[0] for n in nets], shared_input=True)
        self.stem_bn = StackedBN([n.stem[1] for n in nets])
        layers: list[nn.Module] = []
        for pos, block in enumerate(nets[0].cells):
            group = [n.cells[pos] for n in nets]
            if isinstance(block, InferCell):
                layers.append(StackedCell(group, ops, device))
            else:
                layers.append(StackedReduction(group))
        self.layers = nn.ModuleList(layers)
        self.last_bn = StackedBN([n.lastact[0] for n in nets])
        self.fc_weight = nn.Parameter(torch.stack([n.classifier.weight.detach() for n in nets]).clone())
        self.fc_bias = nn.Parameter(torch.stack([n.classifier.bias.detach() for n in nets]).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem_conv(x, self.stem_bn)
        for layer in self.layers:
            h = layer(h)
        pooled = F.relu(self.last_bn(h)).mean((2, 3))  # [B, K*C]
        pooled = pooled.view(pooled.shape[0], self.k, -1)
        return torch.einsum("bkc,koc->kbo", pooled, self.fc_weight) + self.fc_bias[:, None, :]


def build_stacked(archs: Sequence[Arch], config: MacroConfig, seed: int, device: torch.device) -> StackedNetwork:
    """The stack of ``archs``' networks, each initialised exactly as the reference trainer does."""
    nets = []
    for arch in archs:
        _, init_stream = run_streams(seed, arch)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(init_stream))
            nets.append(build_network(arch, config))
    return StackedNetwork(nets, device).to(device)


@torch.inference_mode()
def evaluate_stacked(net: StackedNetwork, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell (mean cross-entropy, accuracy in percent), evaluation mode."""
    net.eval()
    loss_sum = torch.zeros(net.k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(net.k, dtype=torch.int64, device=x.device)
    for part in eval_chunks(len(y), batch_size, x, net.stem_conv.weight.shape[0]):  # cache-sized on CPU
        logits = net(x[part])
        target = y[part]
        k, b, c = logits.shape
        loss = F.cross_entropy(logits.reshape(k * b, c), target.repeat(k), reduction="none").view(k, b)
        loss_sum += loss.sum(1, dtype=torch.float64)
        correct += (logits.argmax(2) == target).sum(1)
    n = len(y)
    return (loss_sum / n).cpu().numpy(), 100.0 * correct.cpu().numpy() / n


def train_batched(archs: Sequence[int | Arch], data: Dataset, protocol: Protocol, seed: int,
                  device: str = "cpu") -> dict[int, list[EpochRecord]]:
    """Train ``archs`` (distinct) together under ``protocol`` with ``seed``; one record list per arch."""
    archs = [Arch.parse(a) for a in archs]
    if len({a.index for a in archs}) != len(archs) or not archs:
        raise ProtocolError("train_batched needs a non-empty list of distinct archs")
    protocol.check_data(data)
    dev = torch.device(device)
    config = protocol.macro_config(data)
    net = build_stacked(archs, config, seed, dev).to(memory_format=_CL)
    k = len(archs)
    share = analytic_flops(np.array([a.ops for a in archs]), config)
    share = share / share.sum()

    batches = MinibatchStream(data, protocol, run_streams(seed, archs[0])[0], dev)
    evals = eval_tensors(data, dev)
    opt = make_sgd(net.parameters(), protocol)
    records: dict[int, list[EpochRecord]] = {a.index: [] for a in archs}
    for epoch in range(1, protocol.epochs + 1):
        net.train()
        _sync(dev)
        t0 = time.perf_counter()
        loss_sum = torch.zeros(k, dtype=torch.float64, device=dev)
        correct = torch.zeros(k, dtype=torch.int64, device=dev)
        seen = 0
        for xb, yb in batches.epoch(opt):
            logits = net(xb)
            b = len(yb)
            losses = F.cross_entropy(logits.reshape(k * b, -1), yb.repeat(k), reduction="none").view(k, b).mean(1)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            loss_sum += losses.detach().double() * b
            correct += (logits.detach().argmax(2) == yb).sum(1)
            seen += b
        _sync(dev)
        train_seconds = time.perf_counter() - t0
        metrics = {"train_loss": (loss_sum / seen).cpu().numpy(), "train_acc": 100.0 * correct.cpu().numpy() / seen,
                   "train_seconds": train_seconds * share}
        for split, (x, y) in evals.items():
            t0 = time.perf_counter()
            loss_v, acc_v = evaluate_stacked(net, x, y, protocol.eval_batch_size)
            _sync(dev)
            metrics.update({f"{split}_loss": loss_v, f"{split}_acc": acc_v,
                            f"{split}_seconds": (time.perf_counter() - t0) * share})
        for j, a in enumerate(archs):
            records[a.index].append(EpochRecord(epoch, {m: float(v[j]) for m, v in metrics.items()}))
    return records


def train_shard(archs: Sequence[int], data: Dataset, protocol: Protocol, seed: int, device: str = "cpu",
                batch_cells: int | None = None) -> dict[int, list[EpochRecord]]:
    """Train a work unit: cells sharing a seed, in consecutive batches of ``batch_cells`` (in the given
    order) through :func:`train_batched`.

    This is the unit that pre-evaluation schedules, stores and resumes. The numbers depend only on
    (protocol, seed, the unit's archs and their order, batch_cells), so a unit re-run after a crash
    gives the same results.
    """
    k = batch_cells or default_batch_cells(device, protocol, data.resolution)
    out: dict[int, list[EpochRecord]] = {}
    for start in range(0, len(archs), k):
        out.update(train_batched(archs[start : start + k], data, protocol, seed, device))
    return out


CPU_BATCH_CELLS = 4
"""Most cells per batch on CPU: fastest for one-thread workers on digits (C=8, 8x8, batch 128) in
``benchmarks/pre_evaluate_speed.py``; larger stacks fall out of cache."""
CPU_STACK_BYTES = 4 * 2**20
"""On CPU, a batch stacks at most as many cells as keep one stage-1 training activation (batch x
cells x C x H x W floats) within this size: on CIFAR-16px (C=8, batch 256, 2 MiB per cell) 2 cells
per batch trained 1.3x faster per cell than 4."""


def default_batch_cells(device: str, protocol: Protocol | None = None, resolution: int | None = None) -> int:
    """Cells per batch: 64 on CUDA; on CPU :data:`CPU_BATCH_CELLS`, fewer when one cell's stage-1
    activation at the protocol's batch size and ``resolution`` is large (:data:`CPU_STACK_BYTES`)."""
    if torch.device(device).type == "cuda":
        return 64
    if protocol is None or resolution is None:
        return CPU_BATCH_CELLS
    per_cell = protocol.batch_size * protocol.channels * resolution * resolution * 4
    return max(1, min(CPU_BATCH_CELLS, CPU_STACK_BYTES // per_cell))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
