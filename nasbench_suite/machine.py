"""The facts about this machine that stored results record (run sessions, latency fingerprints)."""
from __future__ import annotations

import os
import platform
import re
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else ``platform.processor()`` (may be empty)."""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        name = ""
    return name or platform.processor() or ""


def machine_facts() -> dict[str, Any]:
    """CPU model, logical CPUs, architecture, torch and Python versions."""
    import torch

    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "machine": platform.machine(),
            "torch": torch.__version__, "python": platform.python_version()}


def nvidia_driver_version() -> str:
    """The NVIDIA kernel driver's version (e.g. ``550.54.15``) from ``/proc/driver/nvidia/version``,
    else ``unknown`` (no NVIDIA driver, or not Linux)."""
    try:
        with open("/proc/driver/nvidia/version") as f:
            text = f.read()
    except OSError:
        return "unknown"
    match = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)", text)
    return match.group(1) if match else "unknown"


def cuda_driver_version() -> str:
    """The CUDA version the installed driver supports (``cuDriverGetVersion``, e.g. ``12.4``; what
    ``nvidia-smi`` shows as 'CUDA Version'), else ``unknown`` (no ``libcuda`` here)."""
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        try:
            if lib.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value > 0:
                return f"{version.value // 1000}.{version.value % 1000 // 10}"
        except AttributeError:
            pass
        return "unknown"
    return "unknown"
