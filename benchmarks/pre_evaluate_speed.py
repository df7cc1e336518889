"""Pre-evaluation throughput: the naive loop against the batched engine, side by side in one run.

All rows train the same cells for the same epochs under the same protocol and seed:

- naive loop: build one network, train it, next, written as plain PyTorch (:func:`plain_train_cell`:
  torch's default NCHW memory format and per-parameter SGD, evaluation in the protocol's 1,024-image
  batches); one process with torch's default thread count (all cores). It is the baseline the ratios
  are taken against; it trains exactly as the reference trainer does (same initialisation, batches,
  schedule), and the script prints how far apart their first-epoch train losses are, as a check;
- reference trainer: the same loop as the project runs it when it trains one cell alone
  (``train.train_cell``: channels_last memory, multi-tensor SGD, cache-sized evaluation chunks; all of
  them learnt while building the engine), one process, all cores; the second ratio column is taken
  against it;
- engine, one process: all cells trained by the pre-evaluation worker task
  (``backends._train_in_worker``: ``engine.train_shard``, cells stacked ``--batch-cells`` at a time,
  one thread, freed memory kept for reuse, see ``nasbench_suite.heap``) in one spawned process, to
  show what batching alone gives; ``--batch-cells 1,2`` gives these rows (and the next) for each
  batch size, in one run;
- engine, as pre-evaluation runs it: the cells cut into one shard per worker, each trained by the
  same task in ``--workers`` spawned processes. A first untimed round loads the data and builds the
  kernels in every worker, as each in-process row is warmed up once by one cell, so all rows are
  steady-state throughput. The naive loop and the reference trainer run in this process, whose
  allocator keeps its defaults.

With ``--repeats R`` every row runs R times, the rows taking turns (so load from elsewhere on the
machine falls on all of them alike), and the median is shown with the range. The engine rows of one
process count share their processes, started once for the run (each row warmed up once in them, not
started again for another row or repetition).

It prints images/s (training images x cells per second), archs/hour, achieved GFLOP/s (useful FLOPs
only: 6 x forward multiply-accumulates per training image, 2 x per evaluated image, from
``model.analytic_flops``), the ratio to the naive loop, and the fraction of this machine's float32
matmul peak (a 2048x2048 ``torch.mm`` on all cores, best of 5 after a warm-up call, measured in the
same run). For context it also measures three ceilings: the kernel ceiling, the stage-1 3x3
convolution of the protocol (forward and backward, the network's largest op) timed alone in a tight
loop; the convolution share, the fraction of the one-thread engine's wall time spent inside
convolution kernels (forward and backward; ``torch.profiler`` over one batch of cells, at the cells per
batch of the fastest engine row, whose ceiling it gives; see :func:`conv_share`), which bounds what
any engine built on these convolution kernels can gain: were every other op free, it would run
1 / share times faster; and the matmul-peak ceiling, what 100% of the peak would be. With
``--device cuda`` (when a GPU is present) every row runs on the GPU instead, and the last row is
``--workers`` processes sharing the GPU (``--workers 1`` skips it). The peak is then an 8192x8192
matmul (10 back-to-back products per timing, best of 5) in the float32 mode of cuDNN's convolutions:
on TF32 tensor cores under torch's default ``torch.backends.cudnn.allow_tf32=True`` (the line says
which), since the network's work is convolutions and a full-float32 peak would be several times lower
than what they can reach; the kernel ceiling times 50 back-to-back convolutions per timing. Every row's
time is printed as it is measured, so a run stopped at a time limit keeps what it measured.

The cells are ``--archs`` isomorphism-class representatives: consecutive ones from ``--first`` (as a
pre-evaluation run of all classes meets them: its shards are consecutive representatives, and
neighbours in index order share most edges, so a stack runs most edge ops once for all its cells),
or with ``--select spread`` a seeded uniform draw of representatives (as a run of a sparse selection
meets them: stacked cells then share few edges, and the engine gathers each cell's channels for
most edge ops).

    python benchmarks/pre_evaluate_speed.py [--dataset digits] [--channels 8] [--epochs 2] [--archs 16] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # time this checkout's code, not an installed copy (spawned workers inherit it)

from nasbench_suite.backends import _train_in_worker  # noqa: E402
from nasbench_suite.data import Dataset  # noqa: E402
from nasbench_suite.engine import default_batch_cells, train_shard  # noqa: E402
from nasbench_suite.errors import NasBenchError  # noqa: E402
from nasbench_suite.heap import retain_freed_memory  # noqa: E402
from nasbench_suite.intlist import parse_int_list  # noqa: E402
from nasbench_suite.model import analytic_flops, build_network  # noqa: E402
from nasbench_suite.pools import spawn_pool  # noqa: E402
from nasbench_suite.space import Arch, all_ops, isomorphism_classes  # noqa: E402
from nasbench_suite.train import (MinibatchStream, Protocol, load_protocol_data, run_streams,  # noqa: E402
                                  torch_seed, train_cell)

CONV_KERNELS = ("aten::mkldnn_convolution", "aten::convolution_backward")


def peak_size(device: str) -> int:
    """Side of the square matmul that gives the peak: 2048 on a CPU; 8192 on a GPU, where a 2048^2
    product takes tens of microseconds and launch and synchronisation would count in its time."""
    return 8192 if device.startswith("cuda") else 2048


def conv_float32_words(device: str) -> str:
    """The float32 mode of the device's convolutions, in words (see :func:`conv_float32_mode`)."""
    if not device.startswith("cuda"):
        return "float32"
    tf32 = bool(torch.backends.cudnn.allow_tf32)
    return (f"float32 {'on TF32 tensor cores' if tf32 else 'with TF32 off'}, as cuDNN's convolutions run here "
            f"(torch.backends.cudnn.allow_tf32={tf32})")


@contextlib.contextmanager
def conv_float32_mode(device: str) -> Iterator[None]:
    """Float32 matmuls in the mode the device's convolutions run in, for the block. On CUDA, cuDNN runs
    float32 convolutions on TF32 tensor cores by default (``torch.backends.cudnn.allow_tf32``), while
    torch's matmuls stay in full float32 by default (``torch.backends.cuda.matmul.allow_tf32``), several
    times slower: a fraction of a full-float32 peak would compare TF32 work against float32
    arithmetic. So the peak matmul takes the convolutions' setting. On a CPU both are plain float32."""
    if not device.startswith("cuda"):
        yield
        return
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    matmul.allow_tf32 = bool(torch.backends.cudnn.allow_tf32)
    try:
        yield
    finally:
        matmul.allow_tf32 = before


def best_seconds(work: Callable[[], object], device: str, reps: int, inner: int = 1) -> float:
    """Best over ``reps`` of the mean seconds per call of ``inner`` back-to-back calls of ``work``, after
    one untimed call; the device is synchronised before and after each group (a GPU runs kernels
    asynchronously, so only a synchronised clock times them, and a short kernel timed alone times
    mostly its launch and the synchronisation: give ``inner`` > 1 there)."""
    work()  # warm-up, not timed
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(inner):
            work()
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def matmul_peak(device: str, n: int | None = None, reps: int = 5) -> float:
    """GFLOP/s of an ``n`` x ``n`` float32 ``torch.mm`` (default :func:`peak_size`), best of ``reps``
    (on a GPU each timing covers 10 back-to-back products), in the float32 mode of the device's
    convolutions (:func:`conv_float32_mode`)."""
    n = n or peak_size(device)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    with conv_float32_mode(device):
        seconds = best_seconds(lambda: a @ b, device, reps, inner=10 if device.startswith("cuda") else 1)
    return 2 * n**3 / seconds / 1e9


def conv_ceiling(protocol: Protocol, resolution: int, device: str, reps: int = 20) -> float:
    c = protocol.channels
    x = torch.randn(protocol.batch_size, c, resolution, resolution, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(c, c, 3, 3, device=device, requires_grad=True)
    x.requires_grad_(True)
    seconds = best_seconds(lambda: F.conv2d(x, w, padding=1).sum().backward(), device, reps,
                           inner=50 if device.startswith("cuda") else 1)
    return 3 * 2 * x.numel() * c * 9 / seconds / 1e9


def plain_train_cell(arch: int, data: Dataset, protocol: Protocol, seed: int, device: str) -> float:
    """The naive loop's trainer: one network trained as plain PyTorch would (NCHW, torch's default
    SGD, evaluation in the protocol's batches), the same initialisation, batches and schedule as
    ``train.train_cell``, and a plain loop's per-step bookkeeping (``float``/``int`` of each step's loss and
    correct count, which on a GPU waits for the step; the reference trainer sums them on the device);
    returns the first epoch's train loss."""
    arch_value = Arch.from_index(arch)
    data_stream, init_stream = run_streams(seed, arch_value)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(init_stream))
        net = build_network(arch_value, protocol.macro_config(data)).to(device)
    batches = MinibatchStream(data, protocol, data_stream, device)
    opt = torch.optim.SGD(net.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                          nesterov=protocol.nesterov, weight_decay=protocol.weight_decay)
    evals = {s: (torch.from_numpy(data.splits[s].x).to(device), torch.from_numpy(data.splits[s].y).to(device))
             for s in ("valid", "test")}
    first_loss = None
    for _ in range(protocol.epochs):
        net.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in batches.epoch(opt):
            logits = net(xb.contiguous())
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
        first_loss = loss_sum / seen if first_loss is None else first_loss
        net.eval()
        with torch.no_grad():
            for x, y in evals.values():
                for i in range(0, len(y), protocol.eval_batch_size):  # the work of train.evaluate, unchunked
                    part = slice(i, i + protocol.eval_batch_size)
                    logits = net(x[part])
                    float(F.cross_entropy(logits, y[part], reduction="sum"))
                    int((logits.argmax(1) == y[part]).sum())
    return first_loss


def conv_share(archs: list[int], data: Dataset, protocol: Protocol, seed: int, batch_cells: int) -> float:
    """Fraction of the one-thread engine's wall time (training and evaluating one batch of ``archs``)
    spent inside convolution kernels, forward and backward: their time under ``torch.profiler`` over
    the median wall time of the same work unprofiled (3 runs after a warm-up). The profiler's own
    overhead falls mostly on the many small ops, so a ratio of profiled times would understate it."""
    from torch.profiler import ProfilerActivity, profile

    work = partial(train_shard, archs[:batch_cells], data, protocol, seed, batch_cells=batch_cells)
    retain_freed_memory()  # as the engine's workers run; for the rest of this process (run it last)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        walls = []
        for _ in range(4):
            t0 = time.perf_counter()
            work()
            walls.append(time.perf_counter() - t0)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            work()
    finally:
        torch.set_num_threads(threads)
    conv = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in CONV_KERNELS) / 1e6
    return min(1.0, conv / float(np.median(walls[1:])))


def fastest_engine_row(seconds: list[float], row_cells: list[int]) -> int:
    """Index of the fastest engine row (``row_cells`` > 0: its cells per batch; 0: not the engine).
    The convolution share is measured at that row's cells per batch, as the ceiling it gives is
    that row's: a share measured at another stack size would describe another engine."""
    engine = [i for i, k in enumerate(row_cells) if k > 0]
    return min(engine, key=lambda i: seconds[i])


def timed(run: Callable[[], None], warm_up: Callable[[], object], device: str = "cpu") -> Callable[[], float]:
    """``run``'s wall seconds, after one untimed ``warm_up`` (allocator, kernels) before its first run;
    on a GPU the clock stops once the device has finished the work ``run`` queued."""
    pending = [warm_up]

    def measure() -> float:
        while pending:
            pending.pop()()
        _sync(device)
        t0 = time.perf_counter()
        run()
        _sync(device)
        return time.perf_counter() - t0
    return measure


class WorkerRow:
    """Seconds the pre-evaluation worker task takes on ``jobs`` (one shard each) in as many spawned
    one-thread processes, ``pool_of(len(jobs))``: the rows of one process count differ only in cells per
    batch, so they share their processes (a start imports torch and, on a GPU, makes a CUDA context). The
    first call runs an untimed round that loads the data and builds this row's kernels in every worker:
    with one worker, on its first batch of cells; with several, on their whole shards (a short task could
    be taken by a worker that started early, leaving another cold)."""

    def __init__(self, jobs: list[tuple], pool_of: Callable[[int], ProcessPoolExecutor]) -> None:
        self.jobs, self.pool_of = jobs, pool_of
        self.warm = False

    def __call__(self) -> float:
        pool = self.pool_of(len(self.jobs))
        if not self.warm:
            warm = self.jobs
            if len(self.jobs) == 1:
                protocol, data_dir, archs, seed, k, device = self.jobs[0]
                warm = [(protocol, data_dir, archs[:k], seed, k, device)]
            list(pool.map(_train_in_worker, *zip(*warm)))
            self.warm = True
        t0 = time.perf_counter()
        results = list(pool.map(_train_in_worker, *zip(*self.jobs)))
        seconds = time.perf_counter() - t0
        if sum(len(r) for r in results) != sum(len(job[2]) for job in self.jobs):
            raise RuntimeError("a worker returned fewer cells than it was given")
        return seconds


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir")
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--train-subset", type=int)
    ap.add_argument("--valid-subset", type=int)
    ap.add_argument("--archs", type=int, default=16, help="isomorphism-class representatives to train")
    ap.add_argument("--first", type=int, default=1000, help="position of the first representative (consecutive selection)")
    ap.add_argument("--select", choices=("consecutive", "spread"), default="consecutive",
                    help="consecutive representatives from --first, or a seeded uniform draw of them")
    ap.add_argument("--batch-cells", type=parse_int_list, help="cells per batch, or a list to compare (1,2)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repetitions of every row; the median is shown")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.workers < 1:
        ap.error(f"--workers must be at least 1, got {args.workers}")
    if args.batch_cells and min(args.batch_cells) < 1:
        ap.error(f"--batch-cells must be at least 1, got {args.batch_cells}")
    reps = isomorphism_classes().representatives
    if not 1 <= args.archs <= len(reps):
        ap.error(f"--archs must be 1..{len(reps)} (the isomorphism classes), got {args.archs}")
    if args.select == "consecutive" and not 0 <= args.first <= len(reps) - args.archs:
        ap.error(f"--first must be 0..{len(reps) - args.archs} for {args.archs} consecutive representatives "
                 f"of {len(reps)}, got {args.first}")
    try:
        protocol = Protocol(dataset=args.dataset, channels=args.channels, cells=args.cells, epochs=args.epochs,
                            batch_size=args.batch_size, train_subset=args.train_subset,
                            valid_subset=args.valid_subset)
        data = load_protocol_data(protocol, args.data_dir)
    except NasBenchError as exc:
        ap.error(str(exc))
    if args.select == "spread":
        archs = sorted(int(a) for a in np.random.default_rng(0).choice(reps, args.archs, replace=False))
    else:
        archs = [int(a) for a in reps[args.first : args.first + args.archs]]
    batch_cells = args.batch_cells or [default_batch_cells(args.device, protocol, data.resolution)]
    seed = 0
    config = protocol.macro_config(data)
    macs = analytic_flops(all_ops()[archs], config).sum()
    n_train = len(data.splits["train"])
    n_eval = len(data.splits["valid"]) + len(data.splits["test"])
    flops = protocol.epochs * macs * (6 * n_train + 2 * n_eval)
    images = protocol.epochs * n_train * len(archs)

    threads = torch.get_num_threads()
    load_before = os.getloadavg()[0]
    peak = matmul_peak(args.device)
    ceiling = conv_ceiling(protocol, data.resolution, args.device)
    checks: dict[str, list[float]] = {}

    def plain() -> None:
        checks["plain"] = [plain_train_cell(a, data, protocol, seed, args.device) for a in archs]

    def reference() -> None:
        checks["reference"] = [train_cell(a, data, protocol, seed, args.device)[0].metrics["train_loss"]
                               for a in archs]

    row_cells: list[int] = [0, 0]  # cells per batch of each row (0: not the engine)
    pools = contextlib.ExitStack()  # the engine rows' processes, kept from their first row to the run's end
    by_count: dict[int, ProcessPoolExecutor] = {}

    def pool_of(processes: int) -> ProcessPoolExecutor:
        if processes not in by_count:
            by_count[processes] = pools.enter_context(spawn_pool(processes))
        return by_count[processes]

    def engine_row(k: int, processes: int) -> tuple[str, Callable[[], float]]:
        per = -(-len(archs) // processes)
        jobs = [(protocol, args.data_dir, tuple(archs[i : i + per]), seed, k, args.device)
                for i in range(0, len(archs), per)]
        where = "x 1 thread" if args.device == "cpu" else f"on {args.device}"
        name = f"engine, {len(jobs)} process{'es' if len(jobs) > 1 else ''} {where}, {min(k, per)} cells/batch"
        return name, WorkerRow(jobs, pool_of)

    configs: list[tuple[str, Callable[[], float]]] = [
        (f"naive loop (plain PyTorch), 1 process x {threads} threads", timed(plain, warm_up=lambda: plain_train_cell(
            archs[0], data, protocol, seed, args.device), device=args.device)),
        (f"reference trainer (train_cell), 1 process x {threads} threads", timed(reference, warm_up=lambda: train_cell(
            archs[0], data, protocol, seed, args.device), device=args.device)),
    ]
    for k in batch_cells:
        rows_of_k = [(1, min(k, len(archs)))]
        if args.workers > 1:
            rows_of_k.append((args.workers, min(k, -(-len(archs) // args.workers))))
        for processes, cells in rows_of_k:
            name, run = engine_row(k, processes)
            if name not in {n for n, _ in configs}:  # another --batch-cells value can give the same row
                configs.append((name, run))
                row_cells.append(cells)

    selection = (f"class representatives {args.first}.." if args.select == "consecutive"
                 else "class representatives drawn uniformly, seed 0")
    # printed before the rows run, each row's times as they come: a run stopped at a time limit keeps them
    print(f"protocol: {args.dataset} C={protocol.channels} N={protocol.cells} batch={protocol.batch_size} "
          f"epochs={protocol.epochs}; {len(archs)} cells ({selection}), "
          f"{n_train} train + {n_eval} eval images; {flops / 1e9:.1f} GFLOP of useful work", flush=True)
    if args.device.startswith("cuda"):
        print(f"matmul peak ({args.device}, {torch.cuda.get_device_name(args.device)}, {peak_size(args.device)}^2 "
              f"{conv_float32_words(args.device)}): {peak:.1f} GFLOP/s", flush=True)
    else:
        print(f"matmul peak ({args.device}, 2048^2 float32, {threads} threads): {peak:.1f} GFLOP/s", flush=True)
    print(f"kernel ceiling: stage-1 3x3 conv fwd+bwd alone: {ceiling:.1f} GFLOP/s "
          f"({100 * ceiling / peak:.0f}% of peak)\n", flush=True)
    seconds: list[list[float]] = [[] for _ in configs]
    with pools:
        for r in range(args.repeats):  # round-robin: load changes on the machine fall on every row alike
            for (name, run), secs in zip(configs, seconds):
                secs.append(run())
                print(f"timed, repetition {r + 1} of {args.repeats}: {name}: {secs[-1]:.2f} s", flush=True)
    print()
    rows = [(name, float(np.median(secs)), min(secs), max(secs)) for (name, _), secs in zip(configs, seconds)]

    gaps = [abs(a - b) / b for a, b in zip(checks["plain"], checks["reference"])]
    print(f"naive loop vs reference trainer: first-epoch train loss {np.median(gaps):.1e} apart (relative, median "
          f"over the cells; at most {max(gaps):.1e}): the same training, NCHW and channels_last kernels round "
          "differently\n")
    naive, reference = rows[0][1], rows[1][1]
    print(f"{'configuration':58s} {'seconds':>8s} {'(min-max)':>13s} {'images/s':>9s} {'archs/hour':>10s} "
          f"{'GFLOP/s':>8s} {'vs naive':>8s} {'vs ref.':>8s} {'of peak':>8s}")
    for name, sec, low, high in rows:
        print(f"{name:58s} {sec:8.2f} {f'({low:.2f}-{high:.2f})':>13s} {images / sec:9.0f} "
              f"{len(archs) * 3600 / sec:10.0f} {flops / sec / 1e9:8.1f} {naive / sec:7.2f}x "
              f"{reference / sec:7.2f}x {100 * flops / sec / 1e9 / peak:7.1f}%")
    if args.device == "cpu":
        fastest = fastest_engine_row([sec for _, sec, _, _ in rows], row_cells)
        best, k = rows[fastest][1], row_cells[fastest]
        share = conv_share(archs, data, protocol, seed, k)  # at the fastest row's cells per batch
        print(f"\nconvolution share: {100 * share:.0f}% of the one-thread engine's wall time ({k} cells/batch) is "
              f"in convolution kernels (torch.profiler); were every other op free, the fastest engine row "
              f"would reach {naive / best / share:.2f}x the naive loop and "
              f"{100 * flops / best / 1e9 / peak / share:.0f}% of peak")
    print(f"matmul-peak ceiling: at 100% of the matmul peak any trainer would reach {peak * naive / flops * 1e9:.2f}x "
          "the naive loop")
    print(f"\nseconds: median of {args.repeats} interleaved repetition(s) (min-max). archs/hour: one arch, one "
          f"seed, {protocol.epochs} epochs. Load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
          f"the end, on {os.cpu_count()} CPUs (other jobs' load falls hardest on the rows of several threads).")


if __name__ == "__main__":
    main()
