"""Row packs: the part of a dataset file that a protocol reads, to carry to another machine.

A protocol with ``train_subset`` / ``valid_subset`` reads only some of a dataset's images (the
CIFAR-16px table run: 30,000 of 60,000). A *row pack* holds every label, the images of those rows
alone, which rows they are, and the sha256 of the file it was cut from. :func:`load_dataset` reads
it under the dataset's usual file name and returns the very same splits, normalization and sha256
as from the full file, so a run folder started on one resumes on the other. A split that needs a row
the pack lacks is refused. Subsets are nested, so a pack cut for the largest subsets of several
protocols serves them all.

Used to take the CIFAR-16px run to a lent GPU machine, whose transfer limit (64 MiB with the
repository) the full 45 MB file exceeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import (
    CIFAR10_16PX_FILE, PACK_DIGEST_KEY, PACK_POOLS, PACK_SOURCE_KEY, PathLike, _data_dir, pack_digest, split_rows,
)
from .errors import DatasetError
from .store import place_file, private_temporary

PACKABLE: dict[str, str] = {"cifar10-16px": CIFAR10_16PX_FILE}
"""Datasets that can be packed, and the file name a pack takes (the name the reader looks for)."""


@dataclass(frozen=True)
class Pack:
    """What :func:`write_pack` wrote."""

    path: Path
    rows: dict[str, int]  # pool -> images held
    of: dict[str, int]  # pool -> images in the source
    source_sha256: str
    bytes: int


def write_pack(
    name: str, data_dir: PathLike | None, out_dir: PathLike, *, max_train: int | None = None,
    max_valid: int | None = None, overwrite: bool = False,
) -> Pack:
    """Write a row pack of dataset ``name`` for these subsets to ``out_dir`` (made if missing), atomically.

    Refuses to write over the source file, or over any existing file unless ``overwrite``.
    """
    if name not in PACKABLE:
        raise DatasetError(f"dataset {name!r} cannot be packed; packable: {', '.join(PACKABLE)}")
    source_dir = _data_dir(name, data_dir, PACKABLE[name])
    out = Path(out_dir).expanduser()
    target = out / PACKABLE[name]
    if target.resolve() == (source_dir / PACKABLE[name]).resolve():
        raise DatasetError(f"the pack would replace its source {target}; choose another --out folder")
    if target.exists() and not overwrite:
        raise DatasetError(f"{target} exists; pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise DatasetError(f"--out {out} is a file; the pack is written into a folder")
    raw, rows = split_rows(name, data_dir, max_train=max_train, max_valid=max_valid)  # read once the target is known good
    out.mkdir(parents=True, exist_ok=True)  # made like every other --out folder, once the source has been read
    arrays: dict[str, np.ndarray] = {}
    for pool in PACK_POOLS:
        used = np.unique(np.concatenate([idx for p, idx in rows.values() if p == pool]))
        x, y = raw.pools[pool]
        arrays[f"x_{pool}"] = np.ascontiguousarray(x[used].transpose(0, 2, 3, 1))  # back to HWC, as the file
        arrays[f"y_{pool}"] = y.astype(np.uint8)
        arrays[f"rows_{pool}"] = used.astype(np.int64)
    digest = pack_digest(arrays)
    tmp = private_temporary(target)  # two packs into one --out at once: each its own file, never both in one
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays, **{PACK_SOURCE_KEY: np.array(raw.sha256),
                                                PACK_DIGEST_KEY: np.array(digest)})
        if not place_file(tmp, target, overwrite):
            raise DatasetError(f"{target} exists (written while this pack was made); pass --overwrite to replace it")
    finally:
        tmp.unlink(missing_ok=True)
    return Pack(path=target, rows={p: len(arrays[f"rows_{p}"]) for p in PACK_POOLS},
                of={p: len(raw.pools[p][1]) for p in PACK_POOLS}, source_sha256=raw.sha256,
                bytes=target.stat().st_size)
