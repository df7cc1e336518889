"""Live latency: the CUDA part of the hardware fingerprint (tested on CPU with torch's CUDA queries
monkeypatched); a CPU fingerprint keeps its fields."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import torch

from nasbench_suite import latency as latency_module
from nasbench_suite import machine
from nasbench_suite.errors import RunMismatchError
from nasbench_suite.latency import IDENTITY_FILE, LatencyError, LatencyMethod, LatencyStore, fingerprint, fingerprint_hash
from test_latency import TINY

CPU_FINGERPRINT_KEYS = {"cpu", "logical_cpus", "machine", "torch", "python", "threads", "device", "device_name", "hash"}


# ----- the fingerprint -----------------------------------------------------------------------------
def test_the_cpu_fingerprint_keeps_its_fields() -> None:
    assert set(fingerprint("cpu", threads=1)) == CPU_FINGERPRINT_KEYS


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """torch's CUDA queries answered as on a GPU machine. The flags are torch's real global ones, set
    with plain assignments (:func:`flip`) and restored here: pytest's monkeypatch cannot undo an
    attribute of ``torch.backends.cuda.matmul``, which torch serves through ``__getattr__``."""
    flags = [(torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "deterministic"),
             (torch.backends.cuda.matmul, "allow_tf32")]
    saved = [getattr(owner, name) for owner, name in flags]
    monkeypatch.setattr(latency_module, "require_device", lambda device: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU 80GB")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(machine, "cuda_driver_version", lambda: "12.6")
    monkeypatch.setattr(machine, "nvidia_driver_version", lambda: "560.35.03")
    yield monkeypatch
    for (owner, name), value in zip(flags, saved):
        setattr(owner, name, value)


def flip(owner: object, name: str) -> None:
    """Negate one of torch's boolean flags (restored by :func:`fake_gpu`)."""
    setattr(owner, name, not getattr(owner, name))


def test_the_cuda_fingerprint_records_cudnn_cuda_driver_and_the_flags_that_change_timings(fake_gpu) -> None:
    fp = fingerprint("cuda", threads=1)
    cuda = fp["cuda"]
    assert fp["device_name"] == "Fake GPU 80GB" and fp["hash"] == fingerprint_hash(fp)
    assert (cuda["cudnn"], cuda["cuda_runtime"], cuda["cuda_driver"], cuda["nvidia_driver"]) == \
        (90100, "12.4", "12.6", "560.35.03")
    for flag in ("cudnn_enabled", "cudnn_benchmark", "cudnn_deterministic", "deterministic_algorithms",
                 "tf32_matmul", "tf32_cudnn"):
        assert isinstance(cuda[flag], bool), flag
    assert cuda["float32_matmul_precision"] in ("highest", "high", "medium")
    assert "Fake GPU 80GB (CUDA 12.4, cuDNN 90100)" in latency_module.fingerprint_words(fp)
    assert "cuda" not in fingerprint("cpu", threads=1)

    changes = {  # each one changes GPU timings, so each one changes the hash
        "cudnn_benchmark": lambda: flip(torch.backends.cudnn, "benchmark"),
        "cudnn_deterministic": lambda: flip(torch.backends.cudnn, "deterministic"),
        "tf32_matmul": lambda: flip(torch.backends.cuda.matmul, "allow_tf32"),
        "deterministic_algorithms": lambda: fake_gpu.setattr(torch, "are_deterministic_algorithms_enabled", lambda: True),
        "cudnn": lambda: fake_gpu.setattr(torch.backends.cudnn, "version", lambda: 90800),
        "cuda_driver": lambda: fake_gpu.setattr(machine, "cuda_driver_version", lambda: "12.8"),
    }
    seen = {fp["hash"]}
    for name, change in changes.items():
        before = fingerprint("cuda", threads=1)
        change()
        after = fingerprint("cuda", threads=1)
        assert after["cuda"][name] != before["cuda"][name] and after["hash"] not in seen, name
        seen.add(after["hash"])


def test_a_tf32_setting_torch_refuses_to_read_still_gives_a_fingerprint(fake_gpu) -> None:
    """torch >= 2.9 raises RuntimeError when a legacy TF32 flag is read after a mix of legacy and new calls."""
    def mixed() -> str:
        raise RuntimeError("mix of the legacy and new APIs")

    fake_gpu.setattr(torch, "get_float32_matmul_precision", mixed)
    assert fingerprint("cuda")["cuda"]["float32_matmul_precision"] == "unreadable (RuntimeError)"


def test_a_gpu_folder_is_refused_after_a_flag_changed(fake_gpu, tmp_path: Path) -> None:
    method = LatencyMethod(device="cuda", batches=(1,), warmup=1, repeats=3)
    LatencyStore(tmp_path, TINY, method).close()
    assert json.loads((tmp_path / IDENTITY_FILE).read_text())["fingerprint"]["cuda"]["cudnn"] == 90100
    with LatencyStore(tmp_path, TINY, method) as store:  # same settings: it resumes
        flip(torch.backends.cudnn, "benchmark")
        with pytest.raises(LatencyError, match="cuda.cudnn_benchmark"):  # changed since it opened: nothing timed
            store.measure([0])
        assert store.done() == set()
    with pytest.raises(RunMismatchError, match="fingerprint.cuda.cudnn_benchmark"):
        LatencyStore(tmp_path, TINY, method)
