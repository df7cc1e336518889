"""The facts about this machine that stored results record (run sessions, latency fingerprints)."""
from __future__ import annotations

import os
import platform
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
