"""Would ``torch.compile`` speed up the engine? Paired, interleaved timings of one training step.

Times, on one thread, the forward and backward pass of a CIFAR-16px training step (batch 256, C=8, 2
cells stacked; no optimizer step, which compiling these modules would not change) of

1. the real engine eager, and with its conv-BN ops and reduction blocks compiled (``torch.compile``
   on each ``StackedReLUConvBN`` / ``StackedReduction``); then tries compiling the whole stacked
   network and reports whether inductor manages;
2. a hand-written toy cell of the same shapes (six edges; cell 0 has a 3x3 convolution on every
   edge, cell 1 average pooling): eager, compiled edge by edge, compiled as a whole cell.

Each variant runs ``--rounds`` rounds of ``--steps`` steps, the variants alternating inside each
round so that machine load falls on all of them alike; the ratios are eager time / variant time.
Compile times are printed too (inductor caches compiled code on disk, so a second run is faster), and
how many of the engine's frames dynamo compiled: it compiles a function once per input shape up to its
recompile limit (8 in torch 2.13) and runs it eagerly past that; the engine's modules meet 9 shapes
here, so the limit is raised to :data:`RECOMPILE_LIMIT` (before 2026-12-06 one of them stayed eager).

    python benchmarks/compile_probe.py [--rounds 5 --steps 8]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # time this checkout's engine, not an installed copy

from nasbench_suite import engine  # noqa: E402
from nasbench_suite.model import MacroConfig  # noqa: E402
from nasbench_suite.space import Arch  # noqa: E402

C, BATCH, RES = 8, 256, 16
ARCHS = (5373, 11472)  # two cells with convolutions, pooling and skips on different edges
RECOMPILE_LIMIT = 64
"""Dynamo's recompile limit for this probe: above the distinct shapes one compiled function meets."""


def configure_dynamo(limit: int = RECOMPILE_LIMIT) -> None:
    """Let dynamo compile every shape the engine's modules meet (torch's default stops at 8)."""
    import torch._dynamo

    name = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
    setattr(torch._dynamo.config, name, limit)


def dynamo_frames() -> tuple[int, int]:
    """(frames compiled, frames dynamo tried) so far in this process; a frame past the recompile limit
    counts as tried, not compiled, and runs eagerly."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["ok"]), int(counters["frames"]["total"])


def engine_net(compiled_ops: bool, backend: str = "inductor") -> nn.Module:
    config = MacroConfig(channels=C, cells=1, in_channels=3, resolution=RES, num_classes=10)
    net = engine.build_stacked([Arch.from_index(a) for a in ARCHS], config, 0, torch.device("cpu"))
    net = net.to(memory_format=torch.channels_last)
    if compiled_ops:
        for m in net.modules():
            if isinstance(m, (engine.StackedReLUConvBN, engine.StackedReduction)):
                m.forward = torch.compile(m.forward, backend=backend)
    return net


class ToyEdge(nn.Module):
    """Cell 0 (channels 0..C-1): ReLU-conv3x3-BN; cell 1 (channels C..2C-1): 3x3 average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)

    def forward(self, x: torch.Tensor, node: torch.Tensor) -> torch.Tensor:
        a = self.bn(self.conv(F.relu(x[:, :C])))
        p = F.avg_pool2d(x[:, C:], 3, 1, 1, count_include_pad=False)
        return node + torch.cat([a, p], 1)


class ToyCell(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.edges = nn.ModuleList(ToyEdge() for _ in range(6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e, zero = self.edges, torch.zeros_like(x)
        n1 = e[0](x, zero)
        n2 = e[2](n1, e[1](x, zero))
        return e[5](n2, e[4](n1, e[3](x, zero)))


def toy(mode: str) -> nn.Module:
    torch.manual_seed(0)
    cell = ToyCell().to(memory_format=torch.channels_last)
    if mode == "edges":
        for edge in cell.edges:
            edge.forward = torch.compile(edge.forward)
    return torch.compile(cell) if mode == "cell" else cell


def step_fn(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> Callable[[], None]:
    def step() -> None:
        out = net(x)
        if y is None:
            out.square().mean().backward()
        else:
            k, b, _ = out.shape
            F.cross_entropy(out.reshape(k * b, -1), y.repeat(k)).backward()
    return step


def paired(steps: dict[str, Callable[[], None]], rounds: int, n: int) -> dict[str, float]:
    """Seconds per step of each variant, measured in alternation after a warm-up."""
    for fn in steps.values():
        for _ in range(3):
            fn()
    total = dict.fromkeys(steps, 0.0)
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            total[name] += time.perf_counter() - t0
    return {name: t / (rounds * n) for name, t in total.items()}


def first_step(name: str, fn: Callable[[], None]) -> None:
    t0 = time.perf_counter()
    fn()
    print(f"  {name}: first step (compiling) {time.perf_counter() - t0:.1f} s")


MIN_TORCH = (2, 3)
"""Dynamo of torch 2.1 and 2.2 fails while guarding the engine's compiled ops (InternalTorchDynamoError
"'NoneType' object is not subscriptable", seen on 2.1.0 and 2.2.2); 2.3.1, 2.4.1 and 2.13 compile them."""


def torch_compiles_the_engine() -> bool:
    return torch.__version__ >= MIN_TORCH  # torch's TorchVersion compares with a tuple


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    if not torch_compiles_the_engine():
        sys.exit(f"compile_probe: torch {torch.__version__} cannot compile the engine's ops (dynamo fails inside "
                 f"torch before {MIN_TORCH[0]}.{MIN_TORCH[1]}); run it with a newer torch")
    torch.set_num_threads(1)
    configure_dynamo()
    print(f"torch {torch.__version__}, 1 thread, CIFAR-16px shapes: batch {BATCH}, C={C}, 2 cells stacked")
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(BATCH, 3, RES, RES, generator=gen).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (BATCH,), generator=gen)

    print("real engine (cells " + ", ".join(map(str, ARCHS)) + "):")
    steps = {"eager": step_fn(engine_net(False), images, labels),
             "ops compiled": step_fn(engine_net(True), images, labels)}
    first_step("ops compiled", steps["ops compiled"])
    ok, tried = dynamo_frames()
    print(f"  dynamo compiled {ok} of the {tried} frames it met" + ("" if ok == tried else
          f": {tried - ok} run eagerly (past the recompile limit, {RECOMPILE_LIMIT})"))
    times = paired(steps, args.rounds, args.steps)
    for name, t in times.items():
        print(f"  {name:<14} {t * 1e3:8.1f} ms/step  eager/this {times['eager'] / t:.2f}x")
    try:
        first_step("whole network compiled", step_fn(torch.compile(engine_net(False)), images, labels))
        print("  whole network compiled: works (not timed here)")
    except Exception as exc:  # report inductor's failure instead of stopping the probe
        print(f"  whole network compiled: fails ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")

    print("toy cell (6 edges, fusable ops):")
    acts = torch.randn(BATCH, 2 * C, RES, RES, generator=gen).to(memory_format=torch.channels_last)
    steps = {mode: step_fn(toy(mode), acts, None) for mode in ("eager", "edges", "cell")}
    for mode in ("edges", "cell"):
        first_step(f"compiled by {mode}", steps[mode])
    times = paired(steps, args.rounds, args.steps)
    for name, t in times.items():
        print(f"  {name:<14} {t * 1e3:8.1f} ms/step  eager/this {times['eager'] / t:.2f}x")


if __name__ == "__main__":
    main()
