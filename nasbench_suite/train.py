"""The training protocol and the plain reference trainer (one network at a time).

NAS-Bench-201's recipe scaled to a proxy: SGD with Nesterov momentum 0.9, learning rate 0.1 on a
cosine schedule over the run's own epochs, weight decay 5e-4 (on every parameter, BatchNorm's
included, as NAS-Bench-201), cross-entropy; random crop (zero padding, i.e. black, before
normalization) and horizontal flip where the dataset allows it.

One deliberate difference from NAS-Bench-201's schedule: here the learning rate is updated every
step and reaches 0 after the last step (``cosine_lr``). NAS-Bench-201 sets it once per epoch
(``CosineAnnealingLR.get_lr`` in its ``lib/procedures/optimizers.py`` reads only the epoch when
``warmup`` is 0), lr_e = 0.05 * (1 + cos(pi * e / E)) for epochs e = 0..E-1, so its first epoch runs
at 0.1 throughout and its last at 0.05 * (1 + cos(pi * (E - 1) / E)) > 0. Over a short run this
matters: at 4 epochs NAS-Bench-201's epochs run at 0.1, 0.085, 0.05, 0.015, ours average 0.095,
0.069, 0.032, 0.005 (a fifth less learning rate summed over the run). The shipped tables were
trained with this per-step schedule (their manifests' ``recipe`` says "cosine to 0 per step"). Each epoch records the train loss
and accuracy (running over the epoch's batches, as NAS-Bench-201 logs them), the valid and test loss
and accuracy (evaluation mode, after the epoch), and the measured seconds of the training pass and
of each evaluation pass.

Every source of randomness comes from the seed (see :func:`run_streams`): the weight initialisation
from (seed, arch), seeded inside a forked torch RNG so no global state leaks; the batch order and
the augmentation from the seed alone (``np.random.Generator``), shared by all cells of that seed.
On CPU the result is deterministic given the seed; on CUDA it is not bit for bit (cuDNN picks
convolution kernels that accumulate in varying order), only within float rounding per step.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset, load_dataset
from .errors import NasBenchError
from .model import MacroConfig, build_network
from .space import Arch, ArchLike

MEASURES = ("loss", "acc", "seconds")


class ProtocolError(NasBenchError, ValueError):
    """A training protocol field is invalid."""


_LATER_FIELDS = ("valid_subset",)


@dataclass(frozen=True)
class Protocol:
    """Everything that determines how a cell is trained; recorded verbatim in a table's manifest."""

    dataset: str
    channels: int = 8
    cells: int = 1
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    train_subset: int | None = None
    augment: bool | None = None
    """None: the dataset's default (crop + flip for CIFAR, none for digits)."""
    crop_padding: int | None = None
    """None: resolution // 8 (4 at 32x32, as NAS-Bench-201; 2 at 16x16)."""
    eval_batch_size: int = 1024
    drop_last: bool = False
    valid_subset: int | None = None
    """Evaluate on a stratified subset of the valid split (cheaper per-epoch evaluation); None: all of it."""

    def __post_init__(self) -> None:
        for name in ("channels", "cells", "epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProtocolError(f"protocol field {name!r} must be a positive integer, got {value!r}")
        for name in ("train_subset", "valid_subset"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ProtocolError(f"protocol field {name!r} must be a positive integer or None, got {value!r}")
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProtocolError(f"protocol field {name!r} must be a number, got {value!r}")
        if not (0 < self.lr < math.inf and 0 <= self.momentum < 1 and 0 <= self.weight_decay < math.inf):
            raise ProtocolError("protocol needs a finite lr > 0, 0 <= momentum < 1 and a finite weight_decay >= 0")
        for name, none_ok in (("nesterov", False), ("drop_last", False), ("augment", True)):
            value = getattr(self, name)
            if not (isinstance(value, bool) or (none_ok and value is None)):
                raise ProtocolError(f"protocol field {name!r} must be true or false{' or null' if none_ok else ''}, "
                                    f"got {value!r}")
        if self.crop_padding is not None and (isinstance(self.crop_padding, bool) or not isinstance(
                self.crop_padding, int) or self.crop_padding < 0):
            raise ProtocolError(f"protocol field 'crop_padding' must be an integer >= 0 or None, got {self.crop_padding!r}")
        if not isinstance(self.dataset, str):
            raise ProtocolError(f"protocol field 'dataset' must be a dataset name, got {self.dataset!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as recorded in manifests and run identities. Fields added after the first
        release (``_LATER_FIELDS``) appear only when set, so existing runs keep their identity."""
        fields = {k: v for k, v in asdict(self).items() if not (k in _LATER_FIELDS and v is None)}
        return {"recipe": "NAS-Bench-201 (SGD nesterov, cosine to 0 per step, CE)", **fields}

    def check_data(self, data: Dataset) -> None:
        """Raise unless ``data`` is this protocol's dataset as :func:`load_protocol_data` loads it."""
        got = (data.name, data.split_info.get("max_train"), data.split_info.get("max_valid"))
        if got != (self.dataset, self.train_subset, self.valid_subset):
            raise ProtocolError(
                f"protocol wants dataset {self.dataset!r} with train_subset={self.train_subset}, "
                f"valid_subset={self.valid_subset}; got {got[0]!r} with max_train={got[1]}, max_valid={got[2]}; "
                "load it with load_protocol_data"
            )

    def macro_config(self, data: Dataset) -> MacroConfig:
        return MacroConfig(channels=self.channels, cells=self.cells, in_channels=data.in_channels,
                           resolution=data.resolution, num_classes=data.num_classes)


@dataclass
class EpochRecord:
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    """Keys ``<split>_<measure>``: train/valid/test x loss/acc/seconds (acc in percent)."""


def load_protocol_data(protocol: Protocol, data_dir: str | None = None) -> Dataset:
    """The dataset as the protocol trains on it (train split cut to ``train_subset``, stratified)."""
    return load_dataset(protocol.dataset, data_dir, max_train=protocol.train_subset, max_valid=protocol.valid_subset)


def run_streams(seed: int, arch: Arch) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(data stream, init stream) of one training run.

    The data stream (batch order and augmentation) depends on the seed alone, so every cell trained
    with a given seed sees the same sequence of minibatches (paired comparisons, and a batched
    trainer can share each minibatch across cells); the weight initialisation depends on (seed, arch).
    """
    return (np.random.SeedSequence(int(seed), spawn_key=(0,)),
            np.random.SeedSequence(int(seed), spawn_key=(1, arch.index)))


def torch_seed(stream: np.random.SeedSequence) -> int:
    return int(stream.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def augment_batch(x: torch.Tensor, rng: np.random.Generator, padding: int, pad_value: torch.Tensor) -> torch.Tensor:
    """Random crop with ``padding`` (filled with the normalized value of black) and horizontal flip."""
    n, c, h, w = x.shape
    if padding:
        padded = pad_value.view(1, c, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding).clone()
        padded[:, :, padding : padding + h, padding : padding + w] = x
        dy = rng.integers(0, 2 * padding + 1, size=n)
        dx = rng.integers(0, 2 * padding + 1, size=n)
        dev = x.device
        rows = host_to_device(dy[:, None] + np.arange(h)[None, :], dev)  # (n, h)
        cols = host_to_device(dx[:, None] + np.arange(w)[None, :], dev)  # (n, w)
        idx = torch.arange(n, device=dev)[:, None, None, None]
        ch = torch.arange(c, device=dev)[None, :, None, None]
        x = padded[idx, ch, rows[:, None, :, None], cols[:, None, None, :]]
    flip = rng.random(n) < 0.5
    if flip.any():  # decided on the host: on a GPU, a test of a device tensor would wait for its kernels
        # a selection, the same values as flipping the chosen images in place; a boolean-mask index
        # would make the host wait for the GPU to count the mask
        x = torch.where(host_to_device(flip, x.device).view(n, 1, 1, 1), x.flip(-1), x)
    return x


def host_to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device``, without making the host wait for the GPU.

    A copy from ordinary (pageable) host memory to a GPU returns only once every kernel queued
    before it has run, so a per-step index copied that way keeps the host from queueing the next
    step while the GPU works. On CUDA the array is staged in pinned memory and copied
    ``non_blocking`` (torch keeps the pinned buffer until the copy has run); elsewhere a plain copy."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _batches(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool) -> Iterator[np.ndarray]:
    order = rng.permutation(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def steps_per_epoch(protocol: Protocol, n_train: int) -> int:
    if protocol.drop_last:
        return max(1, n_train // protocol.batch_size)
    return math.ceil(n_train / protocol.batch_size)


def cosine_lr(protocol: Protocol, step: int, total_steps: int) -> float:
    """Learning rate at ``step`` (0-based) of ``total_steps``: cosine from ``protocol.lr`` to 0, per step
    (NAS-Bench-201 holds it constant within an epoch and never reaches 0; see the module docstring)."""
    return 0.5 * protocol.lr * (1 + math.cos(math.pi * step / total_steps))


EVAL_CHUNK_BYTES = 4 * 2**20
"""On a CPU, evaluation runs in chunks whose widest activation stays near this size (cache-sized)."""
MIN_EVAL_CHUNK = 16


def eval_chunks(n: int, batch_size: int, x: torch.Tensor, widest_channels: int) -> list[slice]:
    """The evaluation forward passes over ``n`` images: chunks of ``batch_size`` (the protocol's) on a
    GPU; on a CPU chunks of at most what keeps the widest activation (``widest_channels`` at the input
    resolution) within :data:`EVAL_CHUNK_BYTES`, and at least :data:`MIN_EVAL_CHUNK` images. Large
    fresh buffers cost page faults and memory bandwidth there (at 16x16 with 4 stacked cells, 1,024
    images per pass evaluate 2x slower than 128).

    Evaluation is per image (BatchNorm uses its running statistics) and losses are summed per image
    in float64, so on the Intel CPUs this was measured on the numbers do not depend on the chunking
    bit for bit, with one exception seen in oneDNN: a pass over a single image takes another
    convolution path (float rounding). A last chunk of one image is therefore merged into the one
    before. On other CPUs (AMD EPYC, AVX-512) oneDNN picks kernels by batch size, so the chunking moves
    the last float bits; ``tests/test_engine.py`` checks the numbers across chunkings to that rounding."""
    chunk = batch_size
    if x.device.type == "cpu":
        per_image = widest_channels * x.shape[-1] * x.shape[-2] * x.element_size()
        chunk = min(batch_size, max(MIN_EVAL_CHUNK, EVAL_CHUNK_BYTES // per_image))
    starts = list(range(0, n, chunk))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n])]


@torch.inference_mode()
def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in percent) in evaluation mode."""
    net.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for part in eval_chunks(len(y), batch_size, x, net.stem[0].out_channels):
        logits = net(x[part])
        target = y[part]
        loss_sum += F.cross_entropy(logits, target, reduction="none").sum(dtype=torch.float64)
        correct += (logits.argmax(1) == target).sum()
    return float(loss_sum) / len(y), 100.0 * int(correct) / len(y)


class MinibatchStream:
    """The training minibatches of one seed's data stream, on a device, with the learning-rate schedule.

    Shared by the plain trainer and the batched engine, so both see the same batches, augmentation and
    step-wise cosine learning rate. ``epoch(opt)`` yields (images, labels) in ``channels_last``; the
    optimizer's learning rate is set before each batch and the step counts once the batch is done.
    """

    def __init__(self, data: Dataset, protocol: Protocol, data_stream: np.random.SeedSequence, device: str | torch.device) -> None:
        train = data.splits["train"]
        self.x = torch.from_numpy(train.x).to(device)
        self.y = torch.from_numpy(train.y).to(device)
        self.protocol = protocol
        self.rng = np.random.default_rng(data_stream)
        self.augment = data.augment if protocol.augment is None else protocol.augment
        self.padding = data.resolution // 8 if protocol.crop_padding is None else protocol.crop_padding
        self.black = torch.tensor([-m / s for m, s in zip(data.mean, data.std)], dtype=torch.float32, device=device)
        self.total_steps = steps_per_epoch(protocol, len(train)) * protocol.epochs
        self.step = 0

    def epoch(self, opt: torch.optim.Optimizer) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        p = self.protocol
        for idx in _batches(len(self.y), p.batch_size, self.rng, p.drop_last):
            for group in opt.param_groups:
                group["lr"] = cosine_lr(p, self.step, self.total_steps)
            index = host_to_device(idx, self.x.device)
            xb = self.x[index]
            if self.augment:
                xb = augment_batch(xb, self.rng, self.padding, self.black)
            yield xb.contiguous(memory_format=torch.channels_last), self.y[index]
            self.step += 1


def eval_tensors(data: Dataset, device: str | torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The valid and test splits on ``device`` (images ``channels_last``)."""
    return {s: (torch.from_numpy(data.splits[s].x).to(device).contiguous(memory_format=torch.channels_last),
                torch.from_numpy(data.splits[s].y).to(device)) for s in ("valid", "test")}


def make_sgd(params: Iterator[torch.nn.Parameter], protocol: Protocol) -> torch.optim.SGD:
    """The protocol's optimizer (its learning rate is set per step by :class:`MinibatchStream`).

    ``foreach``: the multi-tensor update (torch picks it by default on CUDA only), the same numbers
    bit for bit as the per-parameter loop on a CPU and about half its time there."""
    return torch.optim.SGD(params, lr=protocol.lr, momentum=protocol.momentum, nesterov=protocol.nesterov,
                           weight_decay=protocol.weight_decay, foreach=True)


def train_cell(arch: ArchLike, data: Dataset, protocol: Protocol, seed: int, device: str = "cpu") -> list[EpochRecord]:
    """Train one cell from scratch under ``protocol`` with ``seed``; one record per epoch."""
    arch = Arch.parse(arch)
    protocol.check_data(data)
    data_stream, init_stream = run_streams(seed, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(init_stream))
        net = build_network(arch, protocol.macro_config(data)).to(device)
    net = net.to(memory_format=torch.channels_last)
    batches = MinibatchStream(data, protocol, data_stream, device)
    evals = eval_tensors(data, device)
    opt = make_sgd(net.parameters(), protocol)
    records = []
    for epoch in range(1, protocol.epochs + 1):
        net.train()
        t0 = time.perf_counter()
        # summed on the device (in float64, the same sums as Python floats of each step's loss): reading
        # a step's loss on the host would make it wait for that step on a GPU, every step
        loss_sum = torch.zeros((), dtype=torch.float64, device=batches.x.device)
        correct = torch.zeros((), dtype=torch.int64, device=batches.x.device)
        seen = 0
        for xb, yb in batches.epoch(opt):
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach().double() * len(yb)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(yb)
        train_loss, train_correct = float(loss_sum), int(correct)  # waits for the epoch's last step
        record = EpochRecord(epoch, {"train_loss": train_loss / seen, "train_acc": 100.0 * train_correct / seen,
                                     "train_seconds": time.perf_counter() - t0})
        for split, (x, y) in evals.items():
            t0 = time.perf_counter()
            loss_v, acc_v = evaluate(net, x, y, protocol.eval_batch_size)
            record.metrics.update({f"{split}_loss": loss_v, f"{split}_acc": acc_v,
                                   f"{split}_seconds": time.perf_counter() - t0})
        records.append(record)
    return records
