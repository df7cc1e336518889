"""Whole-space architecture encodings as dense matrices, for predictors and model-based strategies.

Row ``i`` of each matrix encodes the cell with index ``i``; they equal :meth:`Arch.onehot` and
:meth:`Arch.path_encoding` (a test checks every row) but are built with one vectorized pass and
cached read-only, so encoding a batch of cells is one fancy-indexing read.

Against the references (details in those two methods' docstrings): ``path`` is naszilla's
``Cell201.encode_paths`` (5 + 25 + 125 = 155 bits over the four input->output paths, ``none``
included) and ``trunc_path`` its ``encode_freq_paths(cutoff=30)``, with the columns relabelled by
our op order; ``onehot`` is NASLib's ``adjacency_one_hot`` with its columns in our edge and op
order. NASLib's own NB201 ``path`` encoding is not followed: it indexes naszilla's path list with
NASLib's edge order, so two of its four "paths" (our edge 2 alone, and edges 0, 3, 5) are not
input->output paths.
"""
from __future__ import annotations

import functools
from typing import Iterable

import numpy as np

from .errors import ArchError
from .space import (NUM_ARCHS, NUM_EDGES, NUM_OPS, ONEHOT_ENCODING_DIM, PATH_ENCODING_DIM, PATHS,
                    TRUNC_PATH_ENCODING_DIM, Arch, all_ops)

ENCODINGS = ("onehot", "path", "trunc_path")
TRUNC_PATH_DIM = TRUNC_PATH_ENCODING_DIM  # 30: the paths of one and two edges
"""Columns kept by ``trunc_path``: naszilla's ``Cell201.encode_freq_paths(cutoff=30)``
(``naszilla/nas_bench_201/cell_201.py``), the encoding its ``bananas`` uses by default on NAS-Bench-201
(``predictor_encoding='trunc_path'``). It drops the one three-edge path, so edge 2 (node 1 -> node 2),
which lies only on that path, is invisible to the predictor."""
ENCODING_DIMS = {"onehot": ONEHOT_ENCODING_DIM, "path": PATH_ENCODING_DIM, "trunc_path": TRUNC_PATH_DIM}
"""Columns of each encoding."""


@functools.lru_cache(maxsize=1)
def onehot_matrix() -> np.ndarray:
    """(15625, 30) float32: one-hot of the op on each edge, edge-major."""
    out = np.zeros((NUM_ARCHS, ONEHOT_ENCODING_DIM), dtype=np.float32)
    cols = np.arange(NUM_EDGES) * NUM_OPS + all_ops().astype(np.int64)
    out[np.arange(NUM_ARCHS)[:, None], cols] = 1.0
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def path_matrix() -> np.ndarray:
    """(15625, 155) float32: the BANANAS path encoding of every cell."""
    ops = all_ops().astype(np.int64)
    out = np.zeros((NUM_ARCHS, PATH_ENCODING_DIM), dtype=np.float32)
    offsets = {1: 0, 2: NUM_OPS, 3: NUM_OPS + NUM_OPS**2}
    rows = np.arange(NUM_ARCHS)
    for path in PATHS:
        idx = offsets[len(path)] + sum(ops[:, e] * NUM_OPS**j for j, e in enumerate(path))
        out[rows, idx] = 1.0
    out.flags.writeable = False
    return out


def as_indices(archs: Iterable[Arch] | np.ndarray | Arch | int | str) -> np.ndarray:
    """Arch values or integer indices -> int64 index array. A single arch (an Arch, an index or an
    architecture string) is a batch of one."""
    if isinstance(archs, (Arch, str, int, np.integer)):
        archs = [archs]
    if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
        idx = np.atleast_1d(archs.astype(np.int64, copy=False))
    else:
        idx = np.fromiter((a.index if isinstance(a, Arch) else Arch.parse(a).index for a in archs), dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= NUM_ARCHS):
        raise ArchError(f"architecture indices must lie in 0..{NUM_ARCHS - 1}")
    return idx


def encode(archs: Iterable[Arch] | np.ndarray | Arch | int | str, kind: str) -> np.ndarray:
    """(n, dim) float32 encoding of ``archs`` (Arch values or indices); kind is 'onehot', 'path' or
    'trunc_path' (the first :data:`TRUNC_PATH_DIM` columns of 'path')."""
    if kind == "onehot":
        return onehot_matrix()[as_indices(archs)]
    if kind == "path":
        return path_matrix()[as_indices(archs)]
    if kind == "trunc_path":  # path_matrix orders the paths by length, so the first 30 columns are these
        return path_matrix()[as_indices(archs), :TRUNC_PATH_DIM]
    raise ArchError(f"unknown encoding {kind!r}; use {', '.join(ENCODINGS)}")
