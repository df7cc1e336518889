"""Keep freed memory in the process heap, so a training process reuses its buffers instead of taking
fresh pages from the operating system for every step.

glibc's malloc serves a large block (above a threshold that starts at 128 KiB) with its own
``mmap`` and hands it back to the system when it is freed, and it trims the top of its heap once
more than 128 KiB there is free. A training step of the engine allocates and frees hundreds of
activation and gradient buffers of 0.1-4 MiB, so without this every step maps them again, and the
kernel zero-fills each page on its first touch: on digits (C=8, batch 128, 4 cells per batch, 6
epochs) about 13,000 page faults per cell trained. With the mapping threshold at glibc's maximum
(32 MiB) and no trimming, freed blocks stay in the heap and the next step reuses them: about 100 per
cell. Nothing changes in the arithmetic (torch aligns every buffer itself); the process keeps its
peak heap until it exits, which for a one-thread training process is its own peak working set.

The setting is process-wide and stays set. Pre-evaluation applies it in the processes that train
(:mod:`nasbench_suite.backends`), its own process included when it trains there itself.
"""
from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
"""Blocks above this are still mapped on their own (glibc's largest threshold on 64-bit systems)."""


def glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc, else None (macOS, musl, Windows)."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded in this process
    except (OSError, TypeError):  # Windows has no handle for the process itself
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def retain_freed_memory() -> bool:
    """Set glibc's malloc to keep freed blocks of up to :data:`MMAP_THRESHOLD` for reuse and never
    trim its heap; returns whether it applied (False where the C library is not glibc)."""
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # -1 as the trim threshold turns trimming off (mallopt(3))
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, -1))
