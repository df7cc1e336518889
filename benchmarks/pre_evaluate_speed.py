"""Pre-evaluation throughput: the naive loop against the batched engine, side by side in one run.

Both train the same cells for the same epochs under the same protocol and seed:

- naive: build one network, train it (``train.train_cell``), next; one process with torch's
  default thread count (all cores);
- engine, one process: ``engine.train_shard`` (cells stacked ``--batch-cells`` at a time) in one
  one-thread process, to show what batching alone gives; ``--batch-cells 1,2`` gives these rows (and
  the next) for each batch size, in one run;
- engine, as pre-evaluation runs it: the cells cut into one shard per worker, each trained by the
  pre-evaluation worker task (``backends._train_in_worker``) in ``--workers`` spawned one-thread
  processes; a first untimed round loads the data and builds the kernels in every worker, as the
  in-process rows are warmed up by their first cell, so all rows are steady-state throughput.

It prints images/s (training images x cells per second), archs/hour, achieved GFLOP/s (useful FLOPs
only: 6 x forward multiply-accumulates per training image, 2 x per evaluated image, from
``model.analytic_flops``), the ratio to the naive loop, and the fraction of this machine's float32
matmul peak (a 2048x2048 ``torch.mm`` on all cores, best of 5, measured in the same run). For
context it also measures the kernel ceiling: the stage-1 3x3 convolution of the protocol (forward and
backward, the network's largest op) timed alone in a tight loop. With ``--device cuda`` (when a GPU is
present) the naive loop and the engine run on the GPU instead, the peak is a GPU matmul, and the last
row is ``--workers`` processes sharing the GPU (``--workers 1`` skips it).

The cells are ``--archs`` isomorphism-class representatives: consecutive ones from ``--first`` (as a
pre-evaluation run of all classes meets them: its shards are consecutive representatives, and
neighbours in index order share most edges, so a stack runs most edge ops once for all its cells),
or with ``--select spread`` a seeded uniform draw of representatives (as a run of a sparse selection
meets them: stacked cells then share few edges, and the engine gathers each cell's channels for
most edge ops).

    python benchmarks/pre_evaluate_speed.py [--dataset digits] [--channels 8] [--epochs 2] [--archs 16]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from nasbench_suite.backends import _train_in_worker
from nasbench_suite.engine import default_batch_cells, train_shard
from nasbench_suite.intlist import parse_int_list
from nasbench_suite.model import analytic_flops
from nasbench_suite.pools import spawn_pool
from nasbench_suite.space import all_ops, isomorphism_classes
from nasbench_suite.train import Protocol, load_protocol_data, train_cell


def matmul_peak(device: str, n: int = 2048, reps: int = 5) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(reps + 1):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def conv_ceiling(protocol: Protocol, resolution: int, device: str, reps: int = 20) -> float:
    c = protocol.channels
    x = torch.randn(protocol.batch_size, c, resolution, resolution, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(c, c, 3, 3, device=device, requires_grad=True)
    x.requires_grad_(True)
    best = float("inf")
    for _ in range(reps + 1):
        _sync(device)
        t0 = time.perf_counter()
        F.conv2d(x, w, padding=1).sum().backward()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 3 * 2 * x.numel() * c * 9 / best / 1e9


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
    args = ap.parse_args()

    protocol = Protocol(dataset=args.dataset, channels=args.channels, cells=args.cells, epochs=args.epochs,
                        batch_size=args.batch_size, train_subset=args.train_subset,
                        valid_subset=args.valid_subset)
    data = load_protocol_data(protocol, args.data_dir)
    reps = isomorphism_classes().representatives
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
    peak = matmul_peak(args.device)
    ceiling = conv_ceiling(protocol, data.resolution, args.device)
    rows = []

    def record(name: str, seconds: float) -> None:
        rows.append((name, seconds))

    train_cell(archs[0], data, protocol, seed, args.device)  # warm-up (allocator, kernels)
    t0 = time.perf_counter()
    for a in archs:
        train_cell(a, data, protocol, seed, args.device)
    record(f"naive loop, 1 process x {threads} threads", time.perf_counter() - t0)

    for k in batch_cells:
        if args.device == "cpu":
            torch.set_num_threads(1)
            t0 = time.perf_counter()
            train_shard(archs, data, protocol, seed, batch_cells=k)
            record(f"engine, 1 process x 1 thread, {k} cells/batch", time.perf_counter() - t0)
            torch.set_num_threads(threads)
        else:
            t0 = time.perf_counter()
            train_shard(archs, data, protocol, seed, args.device, batch_cells=k)
            _sync(args.device)
            record(f"engine on {args.device}, 1 process, {k} cells/batch", time.perf_counter() - t0)
        if args.workers > 1:
            per = -(-len(archs) // args.workers)
            jobs = list(zip(*[(protocol, args.data_dir, tuple(archs[i : i + per]), seed, k, args.device)
                              for i in range(0, len(archs), per)]))
            with spawn_pool(len(jobs[0])) as pool:
                list(pool.map(_train_in_worker, *jobs))  # warm-up round: data loaded, kernels built in each worker
                t0 = time.perf_counter()
                assert sum(len(r) for r in pool.map(_train_in_worker, *jobs)) == len(archs)
            where = "x 1 thread" if args.device == "cpu" else f"sharing {args.device}"
            record(f"engine, {len(jobs[0])} processes {where}, {min(k, per)} cells/batch", time.perf_counter() - t0)

    selection = (f"class representatives {args.first}.." if args.select == "consecutive"
                 else "class representatives drawn uniformly, seed 0")
    print(f"protocol: {args.dataset} C={protocol.channels} N={protocol.cells} batch={protocol.batch_size} "
          f"epochs={protocol.epochs}; {len(archs)} cells ({selection}), "
          f"{n_train} train + {n_eval} eval images; {flops / 1e9:.1f} GFLOP of useful work")
    print(f"matmul peak ({args.device}, 2048^2 float32, {threads} threads): {peak:.1f} GFLOP/s")
    print(f"kernel ceiling: stage-1 3x3 conv fwd+bwd alone: {ceiling:.1f} GFLOP/s "
          f"({100 * ceiling / peak:.0f}% of peak)\n")
    naive = rows[0][1]
    print(f"{'configuration':48s} {'seconds':>8s} {'images/s':>10s} {'archs/hour':>11s} {'GFLOP/s':>8s} "
          f"{'vs naive':>8s} {'of peak':>8s}")
    for name, sec in rows:
        print(f"{name:48s} {sec:8.2f} {images / sec:10.0f} {len(archs) * 3600 / sec:11.0f} "
              f"{flops / sec / 1e9:8.1f} {naive / sec:7.2f}x {100 * flops / sec / 1e9 / peak:7.1f}%")
    print(f"\narchs/hour: one arch, one seed, {protocol.epochs} epochs. Timings are noisy (about +-10% here).")


if __name__ == "__main__":
    main()
