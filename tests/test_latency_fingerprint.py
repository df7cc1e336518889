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
from nasbench_suite.latency import (IDENTITY_FILE, LatencyError, LatencyMethod, LatencyStore, fingerprint, fingerprint_hash,
                                    has_fp32_precision)
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
             (torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32"),
             (torch.backends.cudnn, "enabled")]
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
        "cudnn_enabled": lambda: flip(torch.backends.cudnn, "enabled"),
        "tf32_matmul": lambda: flip(torch.backends.cuda.matmul, "allow_tf32"),
        "tf32_cudnn": lambda: flip(torch.backends.cudnn, "allow_tf32"),
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


def test_each_cuda_flag_is_read_from_its_own_setting(fake_gpu) -> None:
    """tf32_cudnn is cuDNN's TF32 flag (not matmul's) and each fp32_precision entry is the setting of its
    name (cudnn_conv is cuDNN convolutions', not cuDNN's generic one), read here directly from torch."""
    backends = torch.backends
    for _ in range(2):  # matmul's TF32 flag both ways, so one of them differs from cuDNN's
        cuda = fingerprint("cuda", threads=1)["cuda"]
        assert (cuda["tf32_matmul"], cuda["tf32_cudnn"]) == (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
        flip(backends.cuda.matmul, "allow_tf32")
    if has_fp32_precision():  # torch >= 2.9
        assert fingerprint("cuda", threads=1)["cuda"]["fp32_precision"] == {"generic": backends.fp32_precision, "matmul": backends.cuda.matmul.fp32_precision,
                                          "cudnn": backends.cudnn.fp32_precision,
                                          "cudnn_conv": backends.cudnn.conv.fp32_precision}
        # torch's own settings can read alike (3 of the 4 are "none" by default), so an entry read from another
        # of them passed: every setting now answers its own (backend, op), and each entry must be its own one
        fake_gpu.setattr(torch._C, "_get_fp32_precision_getter", lambda backend, op: f"{backend}/{op}")
        assert fingerprint("cuda", threads=1)["cuda"]["fp32_precision"] == {
            "generic": "generic/all", "matmul": "cuda/matmul", "cudnn": "cuda/all", "cudnn_conv": "cuda/conv"}


class _PreTorch29Matmul:
    """``torch.backends.cuda.matmul`` as torch 2.1-2.8 has it: an unknown name raises AssertionError."""

    allow_tf32 = False

    def __getattr__(self, name: str) -> None:
        raise AssertionError("Unknown attribute " + name)


def test_a_torch_without_fp32_precision_still_gives_a_cuda_fingerprint(fake_gpu) -> None:
    """Before torch 2.9 ``hasattr(torch.backends.cuda.matmul, "fp32_precision")`` raised AssertionError
    (seen on torch 2.1): every CUDA latency run stopped while reading the fingerprint."""
    fake_gpu.setattr(torch.backends.cuda, "matmul", _PreTorch29Matmul())
    assert not has_fp32_precision()
    cuda = fingerprint("cuda", threads=1)["cuda"]
    assert cuda["tf32_matmul"] is False and "fp32_precision" not in cuda


FACTS = {"cpu": "Test CPU @ 2.10GHz", "logical_cpus": 4, "machine": "x86_64", "torch": "2.0.0", "python": "3.11.7"}


def test_the_cpu_fingerprint_is_the_machine_facts_threads_and_device_and_their_hash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field as recorded (the device name of a CPU fingerprint is "cpu"; a CPU model that cannot be read
    is "unknown"), and the hash of exactly those fields (sha256 of their sorted JSON, written out here)."""
    import hashlib

    monkeypatch.setattr(latency_module, "machine_facts", lambda: dict(FACTS))
    fp = fingerprint("cpu", threads=2)
    body = {**FACTS, "threads": 2, "device": "cpu", "device_name": "cpu"}
    assert fp == {**body, "hash": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]}
    monkeypatch.setattr(latency_module, "machine_facts", lambda: {**FACTS, "cpu": ""})
    assert fingerprint("cpu", threads=2)["cpu"] == "unknown"


# ----- machine facts -------------------------------------------------------------------------------
def _fake_file(monkeypatch: pytest.MonkeyPatch, path: str, text: str | None) -> None:
    """``machine``'s ``open(path)`` reads ``text`` (None: OSError, as where the file does not exist)."""
    import io

    def fake_open(name: str, *args: object, **kwargs: object) -> io.StringIO:
        assert name == path, name
        if text is None:
            raise FileNotFoundError(name)
        return io.StringIO(text)

    monkeypatch.setattr(machine, "open", fake_open, raising=False)


def test_cpu_model_is_the_model_name_line_of_proc_cpuinfo_else_the_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    """x86 cpuinfo has a "model" line (a number) before "model name"; the name is stripped of its padding."""
    cpuinfo = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
               "model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nstepping\t: 7\n")
    _fake_file(monkeypatch, "/proc/cpuinfo", cpuinfo)
    assert machine.cpu_model() == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    monkeypatch.setattr(machine.platform, "processor", lambda: "aarch64")
    for text in ("processor\t: 0\nBogoMIPS\t: 50.00\n", None):  # no model name (e.g. ARM), or no /proc/cpuinfo
        _fake_file(monkeypatch, "/proc/cpuinfo", text)
        assert machine.cpu_model() == "aarch64"


@pytest.mark.parametrize("text, version", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n", "550.54.15"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16)\n",
     "560.35.03"),
    ("NVRM version: something else\n", "unknown"),
    (None, "unknown"),
], ids=["proprietary", "open", "unparsed", "no-driver"])
def test_nvidia_driver_version_reads_the_kernel_modules_version(monkeypatch: pytest.MonkeyPatch, text: str | None,
                                                                version: str) -> None:
    _fake_file(monkeypatch, "/proc/driver/nvidia/version", text)
    assert machine.nvidia_driver_version() == version


@pytest.mark.parametrize("answer, version", [((0, 12040), "12.4"), ((0, 11080), "11.8"), ((0, 0), "unknown"),
                                             ((100, 12040), "unknown")])
def test_cuda_driver_version_is_major_dot_minor_of_cudrivergetversion(monkeypatch: pytest.MonkeyPatch,
                                                                      answer: tuple[int, int], version: str) -> None:
    """cuDriverGetVersion gives 1000 * major + 10 * minor; a failed call or a version 0 is unknown. A library
    name that does not load is skipped for the next one (here libcuda.so.1 is missing, libcuda.so loads)."""
    import ctypes

    class FakeLib:
        def cuDriverGetVersion(self, ref: object) -> int:
            ref._obj.value = answer[1]  # type: ignore[attr-defined]
            return answer[0]

    def fake_cdll(name: str) -> FakeLib:
        if name == "libcuda.so.1":
            raise OSError(name)
        return FakeLib()

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)
    assert machine.cuda_driver_version() == version


def test_machine_facts_are_the_cpu_model_cpu_count_architecture_torch_and_python(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    monkeypatch.setattr(machine, "cpu_model", lambda: "Test CPU")
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 7)
    assert machine.machine_facts() == {"cpu": "Test CPU", "logical_cpus": 7, "machine": platform.machine(),
                                       "torch": torch.__version__, "python": platform.python_version()}


def test_fingerprint_words_name_the_recorded_machine_and_a_missing_one() -> None:
    """The words a refused folder names its machine with: CPU model, logical CPUs and torch threads (one thread
    singular), and for a folder that recorded no fingerprint (None or empty) a plain phrase, not an error."""
    words = latency_module.fingerprint_words
    fp = {**FACTS, "threads": 1, "device": "cpu", "device_name": "cpu"}
    assert words(fp) == "Test CPU @ 2.10GHz, 4 logical CPUs, 1 torch thread per process"
    assert words({**fp, "threads": 2}) == "Test CPU @ 2.10GHz, 4 logical CPUs, 2 torch threads per process"
    assert words(None) == words({}) == "a machine that was not recorded"


def test_a_torch_setting_that_is_no_json_scalar_is_recorded_as_its_text() -> None:
    """The fingerprint is written to latency.json: a setting read as another object (an enum, a version
    object) is kept as its str, and one that cannot be read as a word saying why."""
    import enum

    class Precision(enum.Enum):
        HIGH = "high"

    setting = latency_module._setting
    assert setting(lambda: Precision.HIGH) == "Precision.HIGH" and setting(lambda: (1, 2)) == "(1, 2)"
    assert [setting(lambda: v) for v in (True, 3, 0.5, "x", None)] == [True, 3, 0.5, "x", None]

    def refuses() -> None:
        raise AttributeError("gone")

    assert setting(refuses) == "unreadable (AttributeError)"
