"""The CUDA paths that no test machine can run, checked without a GPU: the training loops queue a
step's work without waiting for the device, the speed figures time GPU work with the device
synchronised and against a peak in the convolutions' float32 mode, and the lent-GPU call
(``reports/protocol_pilot/gpu_session.sh speed``) runs what the device has, at the table's batch size."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import numpy as np
import pytest
import torch

from nasbench_suite import train as train_module
from nasbench_suite.train import MinibatchStream, Protocol, load_protocol_data, run_streams, train_cell
from tests.script_module import load_script

ROOT = Path(__file__).resolve().parents[1]


# ----- the training loops: no per-step wait for the device -----------------------------------------
def test_a_training_epoch_of_augmented_batches_never_reads_a_device_tensor_on_the_host() -> None:
    """On the ``meta`` device a tensor has no values: anything that reads one on the host raises, as on a
    GPU it would wait for the kernels queued before it. The crop and flip tested a device mask
    (``flip.any()``) and indexed with it (a boolean mask: the host waits to count it), every step."""
    data = load_protocol_data(Protocol(dataset="synthetic"))
    protocol = Protocol(dataset="synthetic", batch_size=64, augment=True, crop_padding=2)
    stream = MinibatchStream(data, protocol, np.random.SeedSequence(0), "meta")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=protocol.lr)
    shapes = [xb.shape for xb, _ in stream.epoch(opt)]
    assert len(shapes) == -(-len(data.splits["train"]) // 64) and shapes[0][0] == 64


def test_the_crop_and_flip_give_the_same_images_as_flipping_in_place() -> None:
    """The flip is a selection now (``torch.where``), the same values as the masked in-place flip."""
    x = torch.randn(32, 3, 8, 8)
    got = train_module.augment_batch(x, np.random.default_rng(5), 1, torch.zeros(3))
    rng = np.random.default_rng(5)
    dy, dx, flip = rng.integers(0, 3, size=32), rng.integers(0, 3, size=32), rng.random(32) < 0.5
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    want = torch.stack([padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8] for i in range(32)])
    want[torch.from_numpy(flip)] = want[torch.from_numpy(flip)].flip(-1)
    assert 0 < flip.sum() < 32 and torch.equal(got, want)


def test_a_host_array_goes_to_a_gpu_through_pinned_memory_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy from pageable memory returns only once the GPU has run everything queued before it."""
    seen: dict[str, Any] = {}

    def pin(self: torch.Tensor) -> torch.Tensor:
        seen["pinned"] = True
        return self

    def to(self: torch.Tensor, device: Any, non_blocking: bool = False) -> torch.Tensor:
        seen["to"] = (torch.device(device), non_blocking)
        return self

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    monkeypatch.setattr(torch.Tensor, "to", to)
    out = train_module.host_to_device(np.arange(4), torch.device("cuda"))
    assert seen == {"pinned": True, "to": (torch.device("cuda"), True)} and out.tolist() == [0, 1, 2, 3]


def host_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of tensor values read on the host (``float``, ``int``, ``bool``, ``item``)."""
    counts = {"n": 0}
    for name in ("__float__", "__int__", "__bool__", "item"):
        original = getattr(torch.Tensor, name)

        def counted(self: torch.Tensor, *args: Any, _original: Any = original) -> Any:
            counts["n"] += 1
            return _original(self, *args)
        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


@pytest.mark.parametrize("batch_size", [25, 50])
def test_the_reference_trainer_reads_its_running_loss_once_per_epoch_not_every_step(
        batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``train_cell`` read each step's loss and correct count with ``float``/``int``: on a GPU each read
    waits for the step. Now they are summed on the device and read once per epoch, so the reads do not
    grow with the steps (8 or 16 per epoch here)."""
    protocol = Protocol(dataset="synthetic", epochs=1, batch_size=batch_size, train_subset=400)
    data = load_protocol_data(protocol)
    counts = host_reads(monkeypatch)
    train_cell(77, data, protocol, seed=0)
    assert counts["n"] <= 6  # the epoch's loss and correct count, and each evaluation's two


def test_the_reference_trainer_sums_the_same_losses_as_python_floats_of_each_step() -> None:
    """Summing on the device in float64 is the sum of the steps' losses as Python floats, bit for bit."""
    protocol = Protocol(dataset="synthetic", epochs=1, batch_size=50, train_subset=400)
    data = load_protocol_data(protocol)
    got = train_cell(1234, data, protocol, seed=3)[0].metrics["train_loss"]
    arch = train_module.Arch.from_index(1234)
    data_stream, init_stream = run_streams(3, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_module.torch_seed(init_stream))
        net = train_module.build_network(arch, protocol.macro_config(data)).to(memory_format=torch.channels_last)
    batches = MinibatchStream(data, protocol, data_stream, "cpu")
    opt = train_module.make_sgd(net.parameters(), protocol)
    loss_sum, seen = 0.0, 0
    net.train()
    for xb, yb in batches.epoch(opt):
        loss = torch.nn.functional.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += float(loss.detach()) * len(yb)
        seen += len(yb)
    assert got == loss_sum / seen


# ----- the speed figures on a GPU ------------------------------------------------------------------
@pytest.fixture
def speed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, dict[str, Any]]]:
    """benchmarks/pre_evaluate_speed.py with 'cuda' answered on the CPU: tensors made on the CPU, each
    synchronisation counted, and the TF32 flag in force at each matmul recorded. torch's flags are
    restored by hand (monkeypatch cannot undo ``torch.backends.cuda.matmul``'s attributes)."""
    module = load_script("benchmarks/pre_evaluate_speed.py", "pre_evaluate_speed_under_test")
    log: dict[str, Any] = {"syncs": 0, "tf32_at_matmul": []}
    randn = torch.randn
    monkeypatch.setattr(torch, "randn", lambda *shape, device=None, **kw: randn(*shape, **kw))
    monkeypatch.setattr(module, "_sync", lambda device: log.__setitem__("syncs", log["syncs"] + 1))
    matmul = torch.Tensor.__matmul__

    def recording_matmul(self: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        log["tf32_at_matmul"].append(torch.backends.cuda.matmul.allow_tf32)
        return matmul(self, other)
    monkeypatch.setattr(torch.Tensor, "__matmul__", recording_matmul)
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    yield module, log
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


@pytest.mark.parametrize("conv_tf32", [True, False])
def test_the_gpu_matmul_peak_runs_in_the_float32_mode_of_the_convolutions(speed, conv_tf32: bool) -> None:
    """cuDNN runs float32 convolutions on TF32 tensor cores by default, torch's matmuls in full float32:
    the peak was a full-float32 matmul, so the convolutions' fraction of it compared TF32 work against
    float32 arithmetic (and could pass 100%). The peak now takes cuDNN's setting, and restores torch's."""
    module, log = speed
    torch.backends.cudnn.allow_tf32 = conv_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    assert module.matmul_peak("cuda", n=16) > 0
    assert log["tf32_at_matmul"] and set(log["tf32_at_matmul"]) == {conv_tf32}
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert ("TF32 tensor cores" in module.conv_float32_words("cuda")) == conv_tf32
    assert module.conv_float32_words("cpu") == "float32"


def _record_syncs_and_clock_reads(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The events of the speed script's timing, in order: each device synchronisation ("sync DEVICE") and
    each clock read ("clock", which returns the number of events so far as its seconds)."""
    events: list[str] = []
    monkeypatch.setattr(module, "_sync", lambda device: events.append(f"sync {device}"))
    monkeypatch.setattr(module, "time", type("Clock", (), {"perf_counter": staticmethod(
        lambda: events.append("clock") or float(len(events)))}))
    return events


def test_the_gpu_matmul_peak_times_large_products_back_to_back(speed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2048^2 product takes tens of microseconds on a GPU, each timed alone between two
    synchronisations: launch and synchronisation counted in the peak. Now 8192^2, 10 per timing, the
    clock started and stopped each time once the device has finished."""
    module, log = speed
    events = _record_syncs_and_clock_reads(module, monkeypatch)
    matmul = torch.Tensor.__matmul__  # the fixture's recording one
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: events.append("product") or matmul(a, b))
    module.matmul_peak("cuda", n=16, reps=5)
    timing = ["sync cuda", "clock", *["product"] * 10, "sync cuda", "clock"]
    assert events == ["product", *timing * 5]  # a warm-up, then 5 timings of 10 products
    assert len(log["tf32_at_matmul"]) == 1 + 5 * 10
    assert module.peak_size("cuda") == 8192 and module.peak_size("cpu") == 2048


def test_the_gpu_kernel_ceiling_times_convolutions_back_to_back(speed) -> None:
    module, log = speed
    calls = {"n": 0}
    conv2d = module.F.conv2d

    def counted(*args: Any, **kw: Any) -> torch.Tensor:
        calls["n"] += 1
        return conv2d(*args, **kw)
    module.F.conv2d = counted
    try:
        module.conv_ceiling(Protocol(dataset="synthetic", batch_size=4), 8, "cuda", reps=3)
        assert calls["n"] == 1 + 3 * 50 and log["syncs"] == 2 * 3
        calls["n"] = log["syncs"] = 0
        module.conv_ceiling(Protocol(dataset="synthetic", batch_size=4), 8, "cpu", reps=3)
        assert calls["n"] == 1 + 3 and log["syncs"] == 2 * 3  # on a CPU as before: each call timed alone
    finally:
        module.F.conv2d = conv2d


def test_a_timed_row_stops_its_clock_after_the_device_has_finished(speed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock starts once the device has finished the warm-up, and stops once it has finished the
    row's work: each synchronisation (of the device asked for) comes before the clock read it guards."""
    module, _ = speed
    events = _record_syncs_and_clock_reads(module, monkeypatch)
    seconds = module.timed(lambda: events.append("run"), warm_up=lambda: events.append("warm-up"), device="cuda")()
    assert events == ["warm-up", "sync cuda", "clock", "run", "sync cuda", "clock"]
    assert seconds == 6 - 3  # from the clock read after the first sync to the one after the second


def test_the_speed_figures_print_each_timing_as_it_comes_and_no_engine_row_twice(speed_figures) -> None:
    """All figures were printed at the end: a run stopped at the GPU call's time limit left nothing.
    And with 4 cells in 2 processes, ``--batch-cells 2,4`` gave the 2-process row of 2 cells per batch twice.
    As they come: the last timing's line arrives at least the later timings' seconds after the first one's
    (printed together at the end, they arrived at once). The run (``python -u``, as the GPU call) is
    conftest's ``speed_figures``, shared with test_benchmarks.py."""
    returncode, lines, arrived, stderr = speed_figures
    assert returncode == 0, stderr[-2000:]
    rows = [line for line in lines if line.startswith("engine,")]
    assert len(rows) == len({r.split("  ")[0] for r in rows}) == 3  # 1 process x 2 and x 4, 2 processes x 2
    timed = [line for line in lines if line.startswith("timed, repetition ")]
    for r in (1, 2):  # each repetition times each row once: 2 + 3 timings
        assert [line.split(": ")[1] for line in timed if line.startswith(f"timed, repetition {r} of 2: ")] == [
            row.split("  ")[0] for row in [*(line for line in lines if line.startswith(
                ("naive loop (", "reference trainer ("))), *rows]]
    assert len(timed) == 2 * (2 + 3) and lines.index(timed[0]) > next(
        i for i, line in enumerate(lines) if line.startswith("matmul peak"))
    later = sum(float(line.rsplit(": ", 1)[1].removesuffix(" s")) for line in timed[1:])
    apart = arrived[lines.index(timed[-1])] - arrived[lines.index(timed[0])]
    assert later > 0 and apart >= later / 4, (apart, later)  # a quarter: the reader may wake late


# ----- the lent-GPU call ---------------------------------------------------------------------------
SESSION = ROOT / "reports" / "protocol_pilot" / "gpu_session.sh"


def speed_command() -> str:
    text = SESSION.read_text()
    body = text[text.index("speed_figures() {"):]
    return body[:body.index("\n}")].replace("\\\n", " ")


def test_the_gpu_speed_figures_train_at_the_table_s_batch_size_and_its_cells_per_batch() -> None:
    """The call trained at batch 128 (the script's default) where the CIFAR-16px table and the CPU
    figures it is compared with use 256, and never at the engine's GPU default of 64 cells per batch."""
    from nasbench_suite.engine import default_batch_cells

    run = json.loads((ROOT / "benchmarks_data" / "runs" / "cifar10-16px" / "run.json").read_text())
    command = speed_command()
    assert re.search(rf"--batch-size {run['identity']['protocol']['batch_size']}\b", command)
    cells = [int(k) for k in re.search(r"--batch-cells ([\d,]+)", command).group(1).split(",")]
    archs = int(re.search(r"--archs (\d+)", command).group(1))
    assert default_batch_cells("cuda") in cells and archs >= max(cells)


def test_the_gpu_call_runs_python3_the_device_s_python_with_torch() -> None:
    """The device's image has torch in ``python3`` (a plain ``python`` need not exist there)."""
    lines = [line for line in SESSION.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in lines if re.search(r"(^|[\s;{(\"/])python(\s|$)", line)]
    assert 'py=${PYTHON:-python3}' in SESSION.read_text()


def test_the_preflight_finds_a_module_the_device_lacks() -> None:
    sys.path.insert(0, str(ROOT / "reports" / "protocol_pilot"))
    try:
        preflight = load_script("reports/protocol_pilot/gpu_preflight.py", "gpu_preflight_under_test")
    finally:
        sys.path.remove(str(ROOT / "reports" / "protocol_pilot"))
    assert preflight.imports_without(("nasbench_suite.space",), preflight.DEVICE_LACKS) is None
    error = preflight.imports_without(("nasbench_suite.space",), ("numpy",))
    assert error is not None and "numpy" in error
    assert {"xgboost", "scikit_posthocs"} <= set(preflight.DEVICE_LACKS)
    assert "benchmarks/pre_evaluate_speed.py" in preflight.SPEED_IMPORTS
