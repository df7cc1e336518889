"""Weight-sharing search run for real on a :class:`~nasbench_suite.supernet.Supernet`, judged by a table.

One run = one method (``algorithms/darts.py``, ``gdas.py``, ``rsps.py``, ``enas.py``), one table, one
run seed. The supernet has the table's macro shape (channels, cells, resolution, classes; flags may
override C, N and the batch size) and is trained on the table's own data: ``load_protocol_data`` of
the table's protocol, weights fitted on the ``train`` split and the architecture (or controller) on
``valid``, as NAS-Bench-201 does. The ``test`` split is never loaded. Where the protocol augments
(``augment``, else the dataset's default: random crop + horizontal flip, as the table's own training)
both minibatches of a step are augmented, as NB201's ``SearchDataset`` applies the train transforms to
both halves; cells are scored on unaugmented valid images (NB201's ``ENAS.py`` gives its valid
loader, hence the controller's rewards, the train transforms). No shipped table augments.

The shared loop (NB201's DARTS / GDAS / RSPS search recipe, used for every method here; NB201's
ENAS script used lr 0.05 to 0.0005 and weight decay 2.5e-4): SGD with Nesterov momentum 0.9, lr 0.025 on a cosine
schedule per step down to 0.001, weight decay 5e-4, gradient norm clipped at 5; every step draws the
next train minibatch (a seeded permutation per epoch, the last one of an epoch smaller when the batch
size does not divide the split) and a random valid minibatch of the same size (NB201's
``SearchDataset`` pairs one valid image with each train image) and hands both to the method.
NB201's scheduler (``lib/procedures/optimizers.py``, ``CosineAnnealingLR``) sets the lr once per
epoch, the cosine at ``e / E`` for epoch ``e = 0 .. E-1``; ours sets it every step, at ``s / S`` for
step ``s = 0 .. S-1`` of the run's ``S`` steps. NB201's ``RANDOM-NAS.py`` and
``ENAS.py`` clip the weight gradients at 5; NATS-Bench's ``search-cell.py`` does not clip. Ours
clips the norm of the weights' gradients; NB201's DARTS and GDAS scripts clip
``network.parameters()``, whose norm also takes in the alphas' gradients (registered as a parameter
of the network: the last architecture step's gradient plus this weight step's), so their weights'
gradients are clipped somewhat harder when the alphas' gradients are large.

RSPS and ENAS derive their cell as the best of sampled candidates by supernet accuracy on valid
minibatches; their ``candidate_batches`` setting (:data:`CANDIDATE_BATCHES`) scores all candidates
on one minibatch (``"shared"``, the default) or each on its own (``"per_candidate"``, NB201's
``get_best_arch``: :meth:`Context.candidate_batches`).

**BatchNorm when scoring** (:meth:`Context.accuracy`: RSPS's and ENAS's candidates, ENAS's rewards,
every method's ``value``), chosen by ``SearchSettings.bn_scoring`` (``--set bn_scoring=...``):

* ``"batch"`` (default): every BatchNorm of the supernet, stem, reduction blocks and head included,
  uses batch statistics (the supernet is scored in train mode, which also moves the running
  statistics, used by nothing here).
* ``"nb201"``: as NB201's scripts under ``--track_running_stats 0`` (their GDAS.sh, ENAS.sh, ...):
  the search cells' BatchNorm keeps no running statistics (``Supernet(cell_running_stats=False)``)
  and scoring runs in eval mode, so the cells use batch statistics while stem, reduction blocks and
  head use the running statistics gathered in training over every sampled path (scoring leaves them
  as they are).

Training is the same in both (train mode, batch statistics everywhere); the two scorings can rank
RSPS's and ENAS's candidates differently, while DARTS and GDAS derive by argmax of alpha and differ
only in ``value``. After each epoch the method
derives a cell; the table gives that cell's valid and test accuracy at its last epoch (mean over
seeds). The row also records the derived cell's op mix (``ops_<name>``: edges carrying each op),
so a collapse onto ``skip_connect`` shows.

**Cost is measured, not simulated**: ``measured_seconds`` (wall seconds of the epoch's steps, the
method's derivation and the supernet valid evaluation of the derived cell, ``value``; epoch 1 also
building the supernet; table look-ups excluded) and ``measured_time`` (cumulative) on ``device``; they vary from run to
run, every other column is a pure function of the seed on one CPU model (another model's float kernels
round differently, which can tip a sampled or argmax choice later in the run; ``cost.device_name`` names
the model).

**Randomness**: ``SeedSequence(seed).spawn(3)`` -> the data order (``np.random.Generator``), the torch
seed (weight init, Gumbel noise; set inside ``torch.random.fork_rng`` with one torch thread, so no
global state changes) and the method's own ``Generator``.
"""
from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .errors import NasBenchError
from .machine import cpu_model
from .model import MacroConfig
from .settings_check import Bound, attribute_range_error, setting_range_error, setting_type_error
from .space import NUM_ARCHS, OPS, Arch
from .supernet import Supernet, onehot_weights
from .train import Protocol, augment_batch, load_protocol_data, torch_seed

if TYPE_CHECKING:
    from .search import SearchResults
    from .table import Benchmark

METHODS: dict[str, str] = {
    "darts-v1": "algorithms.darts:DartsV1",
    "darts-v2": "algorithms.darts:DartsV2",
    "gdas": "algorithms.gdas:GDAS",
    "rsps": "algorithms.rsps:RSPS",
    "enas": "algorithms.enas:ENAS",
}
OP_COLUMNS = tuple(f"ops_{name}" for name in OPS)
COLUMNS: dict[str, str] = {
    "strategy": "weight-sharing method",
    "seed": "run seed",
    "step": "0-based search epoch",
    "epochs": "search epochs done (step + 1)",
    "arch_index": "cell derived after this epoch (base-5 index)",
    "arch_str": "the derived cell's string",
    "value": "supernet valid accuracy (percent) of the derived cell, with the supernet's shared weights",
    "incumbent_index": "the run's answer after this epoch: the derived cell",
    "incumbent_value": "same as value (what the method itself sees)",
    "table_valid_acc": "the table's valid accuracy of the derived cell at its last epoch, mean over seeds",
    "supernet_train_loss": "mean training loss of the epoch's weight steps",
    "supernet_train_acc": "running training accuracy (percent) of the epoch's weight steps",
    "measured_seconds": "MEASURED wall seconds of this epoch's search work on `device` (not simulated)",
    "measured_time": "MEASURED cumulative wall seconds of the search so far",
    **{c: f"edges of the derived cell carrying {c[4:]}" for c in OP_COLUMNS},
}


BN_SCORING = ("batch", "nb201")
"""``SearchSettings.bn_scoring`` values (see the module doc)."""
ZERO_GRAD = ("none", "zero")
"""``SearchSettings.zero_grad`` values: how the supernet's gradients are cleared before a step. ``"none"``
(default): set to None (torch 2's ``zero_grad()``), so SGD skips a weight no step's loss reached (under GDAS,
RSPS and ENAS, the ops off the sampled path), momentum buffer and weight decay included. ``"zero"``: zeroed in
place, as torch 1.x's ``zero_grad()`` did for NAS-Bench-201's scripts, so such a weight still takes a momentum
and weight-decay step once it has had a gradient."""
LOOP_SETTINGS = ("bn_scoring", "zero_grad")
""":class:`SearchSettings` fields that ``nasbench darts --set`` and a compare config's
``[weight_sharing.settings.<method>]`` reach beside the method's settings."""


def split_loop_settings(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(:data:`LOOP_SETTINGS` found in ``settings``, the method's own settings)."""
    loop = {k: v for k, v in settings.items() if k in LOOP_SETTINGS}
    return loop, {k: v for k, v in settings.items() if k not in LOOP_SETTINGS}


class WeightSharingError(NasBenchError, ValueError):
    """A weight-sharing search is asked for something it cannot do."""


@dataclass(frozen=True)
class SearchSettings:
    """The shared part of a weight-sharing run (the method's own settings are separate)."""

    epochs: int
    channels: int | None = None
    """None: the table's protocol channels."""
    cells: int | None = None
    """None: the table's protocol cells."""
    batch_size: int | None = None
    """None: the table's protocol batch size."""
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    grad_clip: float = 5.0
    device: str = "cpu"
    bn_scoring: str = "batch"
    """How BatchNorm normalises when the supernet scores a cell: "batch" or "nb201" (module doc)."""
    zero_grad: str = "none"
    """How the supernet's gradients are cleared before a step: "none" or "zero" (:data:`ZERO_GRAD`)."""

    def __post_init__(self) -> None:
        problem = attribute_range_error(SEARCH_BOUNDS, self)
        if problem:
            raise WeightSharingError(problem)
        if not isinstance(self.nesterov, bool):  # "no" (truthy) used to switch Nesterov momentum on
            raise WeightSharingError(f"setting nesterov={self.nesterov!r} must be true or false")
        if self.lr_min > self.lr:
            raise WeightSharingError(f"need lr_min <= lr (the cosine schedule's end and start), got "
                                     f"lr_min={self.lr_min!r}, lr={self.lr!r}")

    @property
    def grads_to_none(self) -> bool:
        """``zero_grad(set_to_none=...)`` of the supernet's weights under :attr:`zero_grad`."""
        return self.zero_grad == "none"


SEARCH_BOUNDS: dict[str, Bound] = {
    "bn_scoring": Bound(choices=BN_SCORING), "zero_grad": Bound(choices=ZERO_GRAD),
    "epochs": Bound(1, 100_000, integer=True),
    "channels": Bound(1, integer=True, null=True, why="null: the table protocol's"),
    "cells": Bound(1, integer=True, null=True, why="null: the table protocol's"),
    "batch_size": Bound(1, integer=True, null=True, why="null: the table protocol's"),
    "lr": Bound(0, 10, lo_open=True), "lr_min": Bound(0, 10), "momentum": Bound(0, 1, hi_open=True),
    "weight_decay": Bound(0, 10),
    "grad_clip": Bound(0, lo_open=True, why="the largest gradient norm kept; a large one clips nothing"),
}
""":class:`SearchSettings`' bounds (checked when one is made): an infinite lr, lr_min or weight decay used to be
taken and made the weights NaN, an infinite grad_clip too (it clipped nothing: a large finite one does the
same); 10**12 epochs ran for ever. MacroConfig bounds channels and cells above when the supernet is built."""


@dataclass
class Context:
    """What a method may use: the supernet, its weight optimizer, the valid split and helpers."""

    net: Supernet
    optimizer: torch.optim.Optimizer
    settings: SearchSettings
    rng: np.random.Generator
    """The method's own generator."""
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    batch_size: int
    epochs: int
    lr: float = 0.0
    """The weight learning rate of the current step."""
    train_loss_sum: float = 0.0
    train_correct: int = 0
    train_seen: int = 0

    def weight_step(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor,
                    index: torch.Tensor | None = None) -> None:
        """One SGD step of the supernet's weights on (x, y) under fixed architecture ``weights``."""
        self.net.train()
        logits = self.net(x, weights.detach(), index)
        loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=self.settings.grads_to_none)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        self.train_loss_sum += float(loss.detach()) * len(y)
        self.train_correct += int((logits.detach().argmax(1) == y).sum())
        self.train_seen += len(y)

    def valid_batch(self, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A random valid minibatch (drawn from the method's generator)."""
        n = len(self.valid_y)
        idx = torch.from_numpy(np.sort(self.rng.choice(n, size=min(size or self.batch_size, n), replace=False)))
        return self.valid_x[idx], self.valid_y[idx]

    def candidate_batches(self, count: int, size: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``count`` valid minibatches of ``size`` images (default: the batch size), one per candidate cell,
        as NB201's ``get_best_arch`` / ``search_find_best`` take the next batch of a fresh iterator over
        its shuffled valid loader for each candidate: a random permutation of valid (the method's
        generator) cut into consecutive batches, the last one of a pass smaller when ``size`` does not
        divide the split, and a new permutation when a pass runs out (a fresh iterator, as theirs
        restarts). Within a pass no image is used twice."""
        n = len(self.valid_y)
        size = min(size or self.batch_size, n)
        order, start = self.rng.permutation(n), 0
        for _ in range(count):
            if start >= n:
                order, start = self.rng.permutation(n), 0
            idx = torch.from_numpy(np.sort(order[start:start + size]))
            start += size
            yield self.valid_x[idx], self.valid_y[idx]

    @torch.no_grad()
    def accuracy(self, arch: Arch, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> float:
        """Supernet accuracy (percent) of ``arch``'s path on (x, y) or all of valid, BatchNorm as
        ``settings.bn_scoring`` says: "batch", train mode (batch statistics everywhere); "nb201", eval
        mode (running statistics outside the cells, left unchanged). Whoever trains next sets train mode."""
        x = self.valid_x if x is None else x
        y = self.valid_y if y is None else y
        self.net.train(self.settings.bn_scoring == "batch")
        w = onehot_weights(arch, device=x.device)
        index = torch.as_tensor(arch.ops)
        correct = 0
        for start in range(0, len(y), 1024):
            logits = self.net(x[start:start + 1024], w, index)
            correct += int((logits.argmax(1) == y[start:start + 1024]).sum())
        return 100.0 * correct / len(y)


class Method:
    """A weight-sharing search method. Subclasses implement :meth:`step` and :meth:`derive`."""

    name = "method"

    def __init__(self, **settings: Any) -> None:
        unknown = set(settings) - set(self.defaults())
        if unknown:
            raise WeightSharingError(f"{self.name} has no setting(s) {sorted(unknown)}; "
                                     f"it takes {sorted(self.defaults())}")
        problem = setting_type_error(self.defaults(), settings)
        if problem:
            raise WeightSharingError(f"{self.name}: {problem}")
        self.config = {**self.defaults(), **settings}
        problem = setting_range_error(self.bounds(), self.config) or self.check()
        if problem:
            raise WeightSharingError(f"{self.name}: {problem}")

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def bounds(cls) -> dict[str, Bound]:
        """{setting: the values it accepts} (:class:`~nasbench_suite.settings_check.Bound`), checked before
        :meth:`check`."""
        return {}

    def check(self) -> str | None:
        """What else is wrong with ``self.config``'s values (their types and bounds are already checked), or None."""
        return None

    def settings(self) -> dict[str, Any]:
        return dict(self.config)

    def setup(self, ctx: Context) -> None:
        """Called once after the supernet and its optimizer exist (inside the run's torch RNG)."""

    def start_epoch(self, ctx: Context, epoch: int) -> None:
        """Called before epoch ``epoch`` (1-based)."""

    def step(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> None:
        raise NotImplementedError

    def end_epoch(self, ctx: Context, epoch: int) -> None:
        """Called after the epoch's weight steps (e.g. ENAS trains its controller here)."""

    def derive(self, ctx: Context) -> Arch:
        raise NotImplementedError


CANDIDATE_BATCHES = ("shared", "per_candidate")
"""How RSPS and ENAS score the cells they derive from (their ``candidate_batches`` setting): "shared"
(default), every candidate on the same random valid minibatch; "per_candidate", each on its own, as
NB201's ``get_best_arch`` (:meth:`Context.candidate_batches`)."""


def best_candidate(ctx: Context, sample: Callable[[], Arch], count: int, batches: str,
                   size: int | None = None) -> Arch:
    """The best (first on ties) of ``count`` cells from ``sample()`` by supernet accuracy on valid
    minibatches of ``size`` images (default: the batch size), scored as ``batches`` says
    (:data:`CANDIDATE_BATCHES`). "shared" draws its one minibatch before the cells."""
    if batches == "shared":
        xv, yv = ctx.valid_batch() if size is None else ctx.valid_batch(size)
        cells = [sample() for _ in range(count)]
        scores = [ctx.accuracy(a, xv, yv) for a in cells]
    else:
        cells = [sample() for _ in range(count)]
        scores = [ctx.accuracy(a, xv, yv) for a, (xv, yv) in zip(cells, ctx.candidate_batches(count, size))]
    return cells[max(range(len(cells)), key=scores.__getitem__)]


def make_method(name: str, settings: dict[str, Any] | None = None) -> Method:
    if name not in METHODS:
        raise WeightSharingError(f"unknown weight-sharing method {name!r}; use one of {', '.join(METHODS)}")
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**(settings or {}))


SHARED_SOURCES = ("weight_sharing", "supernet", "model", "train", "data", "space")
"""The package modules every weight-sharing method's result depends on (the loop, the supernet, the data)."""


def source_sha256(method: str) -> str:
    """sha256 over the source files of ``method``'s module and :data:`SHARED_SOURCES`: a changed method
    or loop with unchanged settings shows in the manifest, and ``nasbench compare`` re-runs rather than
    keeps such runs."""
    from .data import files_sha256

    if method not in METHODS:
        raise WeightSharingError(f"unknown weight-sharing method {method!r}; use one of {', '.join(METHODS)}")
    spec = importlib.util.find_spec(METHODS[method].split(":")[0])
    own = [Path(spec.origin)] if spec is not None and spec.origin else []
    return files_sha256([*own, *(Path(__file__).parent / f"{name}.py" for name in SHARED_SOURCES)])


def check_covers_every_cell(bench: "Benchmark") -> None:
    """Refuse a table that holds only some cells: a method can derive any of the 15,625 cells, and the
    run looks each epoch's cell up in the table, so on such a table it would train until it derived a
    missing one and then fail."""
    if bench.num_archs < NUM_ARCHS:
        raise WeightSharingError(f"table {bench.name!r} holds {bench.num_archs} of the {NUM_ARCHS} cells; a "
                                 "weight-sharing search can derive any cell and looks it up in the table, so it "
                                 "needs a table that holds every cell")


def table_protocol(bench: "Benchmark") -> Protocol:
    """The training protocol recorded in a table's manifest."""
    raw = bench.manifest.get("protocol")
    if not isinstance(raw, dict) or "dataset" not in raw:
        raise WeightSharingError(f"table {bench.name!r} records no training protocol (dataset, channels, cells); "
                                 "weight-sharing search needs the table's dataset")
    fields = set(Protocol.__dataclass_fields__)
    return Protocol(**{k: v for k, v in raw.items() if k in fields})


def protocol_augmentation(protocol: Protocol, data: Any, device: torch.device | str
                          ) -> Callable[[torch.Tensor, np.random.Generator], torch.Tensor] | None:
    """The table's training augmentation as ``f(images, rng)`` (random crop with the protocol's padding,
    filled with black, and horizontal flip, as :class:`~nasbench_suite.train.MinibatchStream`), or None
    where the protocol (else the dataset's default) does not augment."""
    if not (data.augment if protocol.augment is None else protocol.augment):
        return None
    padding = data.resolution // 8 if protocol.crop_padding is None else protocol.crop_padding
    black = torch.tensor([-m / s for m, s in zip(data.mean, data.std)], dtype=torch.float32, device=device)
    return lambda x, rng: augment_batch(x, rng, padding, black)


def _cosine(settings: SearchSettings, step: int, total: int) -> float:
    return settings.lr_min + 0.5 * (settings.lr - settings.lr_min) * (1 + math.cos(math.pi * step / total))


def run_one(bench: "Benchmark", method: str, seed: int, settings: SearchSettings,
            method_settings: dict[str, Any] | None = None, data_dir: str | None = None,
            data: Any = None) -> dict[str, np.ndarray]:
    """One search run; one entry per search epoch in each column of :data:`COLUMNS` (less strategy/seed)."""
    protocol = table_protocol(bench)
    check_covers_every_cell(bench)
    if data is None:
        data = load_protocol_data(protocol, data_dir)
    protocol.check_data(data)
    config = MacroConfig(channels=settings.channels or protocol.channels, cells=settings.cells or protocol.cells,
                         in_channels=data.in_channels, resolution=data.resolution, num_classes=data.num_classes)
    batch_size = settings.batch_size or protocol.batch_size
    device = torch.device(settings.device)
    data_ss, torch_ss, method_ss = np.random.SeedSequence(int(seed)).spawn(3)
    rng = np.random.default_rng(data_ss)
    tx, ty = (torch.from_numpy(a).to(device) for a in (data.splits["train"].x, data.splits["train"].y))
    vx, vy = (torch.from_numpy(a).to(device) for a in (data.splits["valid"].x, data.splits["valid"].y))
    valid_row = bench.array("valid", epoch=bench.max_epoch)  # test is read after the run, by the evaluation
    pos = {int(a): i for i, a in enumerate(bench.arch_indices)}
    augment = protocol_augmentation(protocol, data, device)

    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS if c not in ("strategy", "seed")}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(torch_seed(torch_ss))
            started = time.perf_counter()
            net = Supernet(config, cell_running_stats=settings.bn_scoring == "batch").to(device)
            opt = torch.optim.SGD(net.parameters(), lr=settings.lr, momentum=settings.momentum,
                                  nesterov=settings.nesterov, weight_decay=settings.weight_decay)
            algo = make_method(method, method_settings)
            ctx = Context(net, opt, settings, np.random.default_rng(method_ss), vx, vy, batch_size, settings.epochs)
            algo.setup(ctx)
            per_epoch = math.ceil(len(ty) / batch_size)
            total, step, elapsed = per_epoch * settings.epochs, 0, 0.0
            for epoch in range(1, settings.epochs + 1):
                t0 = time.perf_counter() if epoch > 1 else started
                ctx.train_loss_sum, ctx.train_correct, ctx.train_seen = 0.0, 0, 0
                algo.start_epoch(ctx, epoch)
                order = rng.permutation(len(ty))
                for start in range(0, len(ty), batch_size):
                    ctx.lr = _cosine(settings, step, total)
                    for group in opt.param_groups:
                        group["lr"] = ctx.lr
                    idx = torch.from_numpy(order[start:start + batch_size])
                    vidx = torch.from_numpy(np.sort(rng.choice(len(vy), size=min(len(idx), len(vy)), replace=False)))
                    xb, xvb = tx[idx], vx[vidx]
                    if augment is not None:  # NB201's SearchDataset: train transforms on both halves
                        xb, xvb = augment(xb, rng), augment(xvb, rng)
                    algo.step(ctx, xb, ty[idx], xvb, vy[vidx])
                    step += 1
                algo.end_epoch(ctx, epoch)
                arch = algo.derive(ctx)
                value = ctx.accuracy(arch)
                seconds = time.perf_counter() - t0
                elapsed += seconds
                if arch.index not in pos:
                    raise WeightSharingError(f"derived cell {arch.index} ({arch}) is not in table {bench.name!r}")
                ops = np.bincount(np.asarray(arch.ops), minlength=len(OPS))
                for key, v in (("step", epoch - 1), ("epochs", epoch), ("arch_index", arch.index),
                               ("arch_str", arch.to_str()), ("value", value), ("incumbent_index", arch.index),
                               ("incumbent_value", value), ("table_valid_acc", float(valid_row[pos[arch.index]])),
                               ("supernet_train_loss", ctx.train_loss_sum / max(ctx.train_seen, 1)),
                               ("supernet_train_acc", 100.0 * ctx.train_correct / max(ctx.train_seen, 1)),
                               ("measured_seconds", seconds), ("measured_time", elapsed),
                               *zip(OP_COLUMNS, ops.tolist())):
                    rows[key].append(v)
    finally:
        torch.set_num_threads(threads)
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["settings"] = algo.settings()  # type: ignore[assignment]
    out["config"] = config.to_dict()  # type: ignore[assignment]
    out["batch_size"] = batch_size  # type: ignore[assignment]
    return out


def run_weight_sharing(table: str, method: str, seeds: Sequence[int], settings: SearchSettings,
                       method_settings: dict[str, Any] | None = None, data_dir: str | None = None,
                       progress: bool = False) -> "SearchResults":
    """Every seed of one method, in seed order, as :class:`~nasbench_suite.search.SearchResults`
    (trajectories, manifest, timing): the tidy format of ``nasbench search``."""
    import pandas as pd
    from tqdm import tqdm

    from .evaluation import EvalSpec, incumbent_metric
    from .intlist import MAX_SEED, format_int_list
    from .search import FORMAT, FORMAT_VERSION, SearchResults, jsonable
    from .table import load_table

    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise WeightSharingError("seeds must be distinct non-negative integers, at least one")
    if max(seeds) > MAX_SEED:  # trajectories store seeds as int64: refused after every run otherwise
        raise WeightSharingError(f"seeds must be at most 2**63 - 1 (stored as int64), got {max(seeds)}")
    make_method(method, method_settings)  # unknown names and settings fail before any work
    bench = load_table(table)
    protocol = table_protocol(bench)
    check_covers_every_cell(bench)
    data = load_protocol_data(protocol, data_dir)
    runs = []
    for seed in tqdm(seeds, unit="run", desc=method, disable=not progress):
        runs.append(run_one(bench, method, seed, settings, method_settings, data=data))
    n = [len(r["step"]) for r in runs]
    frame = pd.DataFrame({"strategy": pd.Categorical([method] * sum(n)),
                          "seed": np.repeat(np.asarray(seeds, dtype=np.int64), n),
                          **{c: np.concatenate([r[c] for r in runs]) for c in COLUMNS if c not in ("strategy", "seed")}})
    spec = EvalSpec()
    frame[spec.column], frame[spec.regret_column], eval_info = incumbent_metric(
        frame["incumbent_index"].to_numpy(), bench, spec)
    columns = {**COLUMNS, spec.column: "the table's test accuracy of the derived cell (last epoch, mean over seeds), "
               "read after the run", spec.regret_column: "table test optimum minus the derived cell's test accuracy"}
    device = torch.device(settings.device)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model() or "cpu"
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "kind": "weight-sharing (measured, not replayed)",
        "search": {"table": bench.name, "table_argument": table, "content_hash": bench.content_hash,
                   "dataset": protocol.dataset, "train_subset": protocol.train_subset,
                   "splits": {"weights": "train", "architecture": "valid", "judged by": "table (valid, test)"}},
        "strategy": {"name": method, "class": METHODS[method].replace(":", "."),
                     "settings": jsonable(runs[0]["settings"]), "source_sha256": source_sha256(method)},
        "supernet": {"config": runs[0]["config"], "batch_size": runs[0]["batch_size"],
                     "search_settings": jsonable(asdict(settings))},
        "seeds": {"count": len(seeds), "ranges": format_int_list(seeds)},
        "randomness": "SeedSequence(seed).spawn(3): data order, torch seed (in fork_rng, 1 thread), method Generator",
        "cost": {"kind": "measured", "device": str(device), "device_name": device_name,
                 "columns": ["measured_seconds", "measured_time"],
                 "note": "real wall seconds on this machine; not simulated time and not comparable to it"},
        "evaluation": eval_info,
        "rows": int(len(frame)),
        "columns": columns,
        "platform": {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "numpy": np.__version__,
                     "torch": torch.__version__},
    }
    timing = {"note": "measured wall seconds; they vary between executions",
              "run_seconds": [float(r["measured_time"][-1]) for r in runs], "device": str(device),
              "device_name": device_name}
    return SearchResults(frame, manifest, timing)
