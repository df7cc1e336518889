"""The CUDA paths that no test machine can run, checked without a GPU: the training loops queue a
step's work without waiting for the device, the speed figures time GPU work with the device
synchronised and against a peak in the convolutions' float32 mode, and the lent-GPU call
(``reports/protocol_pilot/gpu_session.sh speed``) runs what the device has, at the table's batch size."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from nasbench_suite import train as train_module
from nasbench_suite.train import MinibatchStream, Protocol, load_protocol_data, run_streams, train_cell


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
