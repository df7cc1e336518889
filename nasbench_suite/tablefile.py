"""On-disk format of a lookup table: a folder of ``.npy`` arrays, one ``.npz`` of per-arch scalars
and ``manifest.json``. No pickle anywhere.

Layout (schema version 1)::

    <table>/manifest.json   schema_version, content_hash, manifest_hash, arrays, seeds, epochs, dataset,
                            protocol, ...
    <table>/train.npy       float32 [arch, seed, epoch, measure], one file per split
    <table>/valid.npy
    <table>/test.npy
    <table>/scalars.npz     1-D arrays over the arch axis: arch_index (required), params, flops, ...

Split arrays are stored in Fortran (column-major) order, so that the slice over all archs for one
(seed, epoch, measure) is contiguous: a scan of the whole space is one contiguous read. The file is
memory-mapped; nothing is read until it is queried.

The content hash is computed over the *decoded* arrays, not the file bytes: for every array in name
order, its name, canonical dtype and shape, then the SHA-256 digests of consecutive 4 MiB chunks of
its values laid out little-endian in the canonical order (Fortran order for split arrays, the only
order for 1-D scalars). A file re-saved in another byte order or memory layout hashes the same; a
flipped bit, a truncated file or a changed value does not. Chunks are hashed in parallel threads
(hashlib and ``os.pread`` release the GIL), which keeps verification of a full 15,625 x 3 x 200
table well inside the load-time goal.

Exactly (enough to recompute it with hashlib and numpy alone, as ``tests/test_table.py`` does):
the arrays are named ``train``, ``valid``, ``test`` (those the table has) and ``scalars/<key>`` for
each entry of ``scalars.npz``; each array's *part* is the ASCII header ``f"{name}:{dtype.str}:{shape}\n"``
(``dtype.str`` of the little-endian dtype, e.g. ``<f4``, ``<i8``; the shape's sizes joined by ``,``)
followed by the raw 32-byte SHA-256 digests of its value bytes cut into consecutive chunks of
4,194,304 bytes (the last one shorter). ``content_hash`` is ``"sha256:"`` + the hex SHA-256 of
``b"nasbench-suite table content v1\n"`` followed by the parts in sorted name order;
``array_hashes[name]`` is ``"sha256:"`` + the hex SHA-256 of that array's part alone.

The content hash does not cover the manifest, yet the manifest says what the numbers are: which
measure each last-axis slot holds, which seed each seed slot is. The ``manifest_hash`` covers every
other field of the manifest (SHA-256 of its canonical JSON without the two hashes), so a relabelled
measure or seed, or an edited protocol, fails verification too. Exactly: ``"sha256:"`` + the hex
SHA-256 of ``b"nasbench-suite table manifest v1\n"`` followed by ``json.dumps(body, sort_keys=True,
separators=(",", ":"), ensure_ascii=True)`` encoded as UTF-8, where ``body`` is the manifest without
``content_hash`` and ``manifest_hash``. Tables written before it existed have none and are checked on
their content hash alone.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

from . import jsonread
from .errors import PASS_OVERWRITE, SchemaVersionError, TableCorruptedError, TableExistsError, TableNotFoundError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SCALARS = "scalars.npz"
SPLITS = ("train", "valid", "test")
SPLIT_DTYPE = np.dtype("<f4")
_CHUNK = 4 << 20
_HASH_TAG = b"nasbench-suite table content v1\n"
_MANIFEST_TAG = b"nasbench-suite table manifest v1\n"
_HASHES = ("content_hash", "manifest_hash")


# ----- hashing ---------------------------------------------------------------------------------------
def _canonical(array: np.ndarray, fortran: bool) -> np.ndarray:
    """The array little-endian, in Fortran (split arrays) or C order."""
    a = np.asarray(array)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return np.asfortranarray(a) if fortran else np.ascontiguousarray(a)


def _hash_stream(header: bytes, read: Callable[[int, int], bytes], nbytes: int, pool: ThreadPoolExecutor) -> bytes:
    """One array's part of the content hash: its header, then the digests of its consecutive chunks."""
    digests = pool.map(lambda off: hashlib.sha256(read(off, min(_CHUNK, nbytes - off))).digest(),
                       range(0, nbytes, _CHUNK))
    return header + b"".join(digests)


def _hash_array(name: str, array: np.ndarray, fortran: bool, pool: ThreadPoolExecutor) -> bytes:
    a = _canonical(array, fortran)
    buf = memoryview(a.reshape(-1, order="F" if fortran else "C")).cast("B")
    return _hash_stream(_array_header(name, a.dtype, a.shape), lambda off, n: buf[off : off + n], buf.nbytes, pool)


def _array_header(name: str, dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    return f"{name}:{dtype.str}:{','.join(map(str, shape))}\n".encode()


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))


def _combine(parts: Mapping[str, bytes]) -> tuple[str, dict[str, str]]:
    """The content hash over every array's part in name order, and each array's own hash (which names
    the file that changed when the content hash fails)."""
    h = hashlib.sha256(_HASH_TAG)
    for name in sorted(parts):
        h.update(parts[name])
    return "sha256:" + h.hexdigest(), {n: "sha256:" + hashlib.sha256(p).hexdigest() for n, p in sorted(parts.items())}


def content_hashes(splits: Mapping[str, np.ndarray], scalars: Mapping[str, np.ndarray]) -> tuple[str, dict[str, str]]:
    """Content hash of in-memory arrays (the same value :func:`verify` computes from the files) and
    the hash of each array."""
    named = {**{s: (a, True) for s, a in splits.items()}, **{f"scalars/{k}": (v, False) for k, v in scalars.items()}}
    with _pool() as pool:
        return _combine({name: _hash_array(name, *named[name], pool) for name in named})


def content_hash(splits: Mapping[str, np.ndarray], scalars: Mapping[str, np.ndarray]) -> str:
    """Content hash of in-memory arrays (the same value :func:`verify` computes from the files)."""
    return content_hashes(splits, scalars)[0]


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest's canonical JSON, without its two hash fields."""
    body = {k: v for k, v in manifest.items() if k not in _HASHES}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(_MANIFEST_TAG + text.encode()).hexdigest()


# ----- reading ---------------------------------------------------------------------------------------
def _npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data offset) of an .npy file, checked against its size."""
    _check_regular(path)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in reader:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader[version](f)
            offset = f.tell()
    except FileNotFoundError:
        raise TableCorruptedError(f"table file {path} is missing") from None
    except (ValueError, OSError) as exc:
        raise TableCorruptedError(f"table file {path} is not a valid .npy array: {exc}") from None
    if dtype.hasobject:
        raise TableCorruptedError(f"table file {path} holds Python objects; tables hold numbers only")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise TableCorruptedError(
            f"table file {path} is {'truncated' if size < expected else 'too long'}: "
            f"{size} bytes on disk, {expected} expected for shape {shape}"
        )
    return tuple(shape), bool(fortran), dtype, offset


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        if not folder.exists():
            raise TableNotFoundError(f"no table at {folder}")
        raise TableCorruptedError(f"{folder} has no {MANIFEST}: not a table, or a table whose manifest was lost")
    try:
        manifest = jsonread.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableCorruptedError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise TableCorruptedError(f"{path} must hold a JSON object")
    version = manifest.get("schema_version")
    if not isinstance(version, int):
        raise TableCorruptedError(f"{path} has no integer schema_version")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"table {folder} uses schema version {version}, newer than the {SCHEMA_VERSION} this "
            f"nasbench_suite reads; upgrade nasbench_suite to load it"
        )
    for key in ("content_hash", "arrays", "seeds", "epochs"):
        if key not in manifest:
            raise TableCorruptedError(f"{path} lacks the required field {key!r}")
    arrays = manifest["arrays"]
    ints = [k for k in ("seeds", "epochs") if not isinstance(manifest[k], list)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in manifest[k])]
    if ints or not isinstance(manifest["content_hash"], str) or not isinstance(arrays, dict) or not all(
            isinstance(a, dict) and isinstance(a.get("measures"), list) and all(isinstance(m, str) for m in a["measures"])
            for a in arrays.values()):  # a TypeError or KeyError traceback while the table was opened
        raise TableCorruptedError(f"{path} is malformed: seeds and epochs must be lists of integers, content_hash a "
                                  "string, arrays an object giving each split's measures (a list of names)")
    return manifest


def open_split(folder: Path, split: str) -> np.ndarray:
    """Memory-map one split array as a read-only plain ndarray (no copy, nothing read yet)."""
    path = folder / f"{split}.npy"
    shape, fortran, dtype, offset = _npy_header(path)
    if len(shape) != 4:
        raise TableCorruptedError(f"{path} must be 4-D [arch, seed, epoch, measure], has shape {shape}")
    mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    return mm.view(np.ndarray)


MAX_SCALARS_BYTES = 64 << 20
"""Most bytes ``scalars.npz`` may hold unpacked: 537 scalars of 15,625 float64 values. Its arrays are read
whole and only then checked against the table's cells; a crafted file of 1 MB unpacked to 1 GiB first."""


def _check_regular(path: Path) -> None:
    """A table file that exists must be a regular file (or a link to one): reading a FIFO (which tar keeps)
    waited for a writer forever, and a device is no table file either."""
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise TableCorruptedError(f"table file {path} is not a regular file (a folder, FIFO, device or broken link)")


def read_scalars(folder: Path) -> dict[str, np.ndarray]:
    path = folder / SCALARS
    _check_regular(path)
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as z:  # numpy's own handle outlives a damaged zip
            unpacked = sum(info.file_size for info in z.zip.infolist())
            if unpacked > MAX_SCALARS_BYTES:
                raise TableCorruptedError(f"table file {path} unpacks to {unpacked:,} bytes, more than the "
                                          f"{MAX_SCALARS_BYTES:,} a table's per-cell scalars take; it is not one")
            return {k: z[k] for k in z.files}
    except TableCorruptedError:
        raise
    except FileNotFoundError:
        raise TableCorruptedError(f"table file {path} is missing") from None
    except Exception as exc:  # zipfile/numpy raise many kinds on damaged archives
        raise TableCorruptedError(f"table file {path} cannot be read ({type(exc).__name__}: {exc})") from None


def _hash_folder(folder: Path, split_names: list[str], scalars: Mapping[str, np.ndarray]) -> tuple[str, dict[str, str]]:
    """The content hash of the split files in ``folder`` and of ``scalars``, streamed from disk, and
    the hash of each array."""
    parts = {}
    with _pool() as pool:
        for name, values in scalars.items():
            parts[f"scalars/{name}"] = _hash_array(f"scalars/{name}", values, False, pool)
        for name in split_names:
            path = folder / f"{name}.npy"
            shape, fortran, dtype, offset = _npy_header(path)
            if fortran and dtype == SPLIT_DTYPE:  # fast path: stream the file, never map it
                fd = os.open(path, os.O_RDONLY)
                try:
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    parts[name] = _hash_stream(_array_header(name, dtype, shape),
                                               lambda off, n: os.pread(fd, n, offset + off), nbytes, pool)
                finally:
                    os.close(fd)
            else:  # another layout or dtype: decode, then hash canonically
                parts[name] = _hash_array(name, np.load(path, allow_pickle=False).astype(SPLIT_DTYPE), True, pool)
    return _combine(parts)


def verify(folder: Path, manifest: Mapping[str, Any], scalars: Mapping[str, np.ndarray]) -> str:
    """Recompute the content hash from the files and compare it with the manifest's; then the manifest
    hash, when the manifest has one."""
    actual, arrays = _hash_folder(folder, list(manifest["arrays"]), scalars)
    if actual != manifest["content_hash"]:
        recorded = manifest.get("array_hashes")
        changed = sorted(n for n in arrays if n not in recorded or recorded[n] != arrays[n]) \
            if isinstance(recorded, dict) else []
        where = ""
        if changed:
            where = " (changed: " + ", ".join(f"{SCALARS} [{n[8:]}]" if n.startswith("scalars/") else f"{n}.npy"
                                             for n in changed) + ")"
        elif isinstance(recorded, dict) and set(recorded) - set(arrays):
            where = f" (missing from {SCALARS}: {', '.join(sorted(n[8:] for n in set(recorded) - set(arrays)))})"
        raise TableCorruptedError(
            f"table {folder} failed its integrity check{where}: content hash {actual} does not match the "
            f"manifest's {manifest['content_hash']}; the files were changed or damaged"
        )
    if "manifest_hash" in manifest and manifest_hash(manifest) != manifest["manifest_hash"]:
        raise TableCorruptedError(
            f"table {folder} failed its integrity check: {MANIFEST} was edited after the table was written "
            f"(its fields no longer match its manifest_hash), so its labels (measures, seeds, protocol) "
            f"cannot be trusted"
        )
    return actual


# ----- writing ---------------------------------------------------------------------------------------
def write_table(
    folder: Path,
    splits: Mapping[str, np.ndarray],
    measures: Mapping[str, list[str]],
    scalars: Mapping[str, np.ndarray],
    manifest: dict[str, Any],
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a complete table atomically: into a temporary sibling folder, then one rename (or, over an
    existing table, one exchange: see :func:`install`).

    An existing table is replaced only with ``overwrite=True``, and only after the new one is fully
    written; a failure at any point leaves the old table untouched. An OSError while writing (a full
    disk) names ``folder``, not the temporary folder it removes.
    """
    folder = Path(folder)
    check_replaceable(folder, overwrite)
    arrays = {name: np.asfortranarray(np.asarray(a, dtype=SPLIT_DTYPE)) for name, a in splits.items()}
    scal = {k: _canonical(v, fortran=False) for k, v in scalars.items()}
    manifest = dict(manifest)
    manifest["schema_version"] = SCHEMA_VERSION
    manifest["arrays"] = {
        name: {"file": f"{name}.npy", "shape": list(a.shape), "measures": list(measures[name])}
        for name, a in arrays.items()
    }
    manifest["content_hash"], manifest["array_hashes"] = content_hashes(arrays, scal)
    manifest["manifest_hash"] = manifest_hash(manifest)

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_folder(folder)
    try:
        for name, a in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as f:
                np.lib.format.write_array(f, a, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        _write_scalars_and_manifest(tmp, scal, manifest)
        # ``overwrite`` again: a table another writer put at ``folder`` since the check above is replaced
        # only when asked (two builds without --overwrite at once: the second replaced the first in silence)
        install(tmp, folder, overwrite=overwrite)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, TableExistsError) and \
                (exc.filename is None or Path(exc.filename).parent == tmp):
            raise OSError(exc.errno, exc.strerror or str(exc), str(folder)) from None
        raise
    return manifest


def _write_npz(f: BinaryIO, arrays: Mapping[str, np.ndarray]) -> None:
    """What ``np.savez(f, **arrays)`` writes (one ``NAME.npy`` per array in an uncompressed zip), for any
    names: ``savez`` takes an array named ``file`` or ``allow_pickle`` as its own argument (the first
    failed with a TypeError, the second was dropped from the file and the table failed its own check)."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, arr in arrays.items():
            with z.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(arr), allow_pickle=False)


def _write_scalars_and_manifest(tmp: Path, scalars: Mapping[str, np.ndarray], manifest: Mapping[str, Any]) -> None:
    with open(tmp / SCALARS, "wb") as f:
        _write_npz(f, scalars)
        f.flush()
        os.fsync(f.fileno())
    with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, _new_folder_mode(tmp))


def _new_folder_mode(tmp: Path) -> int:
    """The mode ``os.mkdir`` gives a new folder inside ``tmp`` (this process's umask, a default ACL, the
    parent's set-group-id bit): what the table folder gets in place of ``tempfile.mkdtemp``'s 0o700. A fixed
    0o755 made it world-readable under umask 077 and not group-writable under 002 (its files were)."""
    probe = tmp / ".mode"
    os.mkdir(probe)
    try:
        return stat.S_IMODE(probe.stat().st_mode)
    finally:
        os.rmdir(probe)


def holds_table(folder: Path) -> bool:
    """Whether ``folder`` holds a table: a manifest with a content hash and its arrays."""
    try:
        manifest = jsonread.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "content_hash" in manifest and "arrays" in manifest


def check_replaceable(folder: Path, overwrite: bool) -> None:
    """Refuse to write a table to ``folder`` when it exists, unless ``overwrite`` is set and it holds a
    table (a manifest with a content hash): any other folder (a run folder, a folder holding one, search
    results) is never deleted. What killed writers of ``folder`` left beside it is cleared first
    (:func:`remove_leftovers`)."""
    remove_leftovers(folder)
    if not folder.exists():
        return
    if not holds_table(folder):  # first: --overwrite would not help, so it is not suggested
        raise TableExistsError(f"{folder} exists and is not a table (no {MANIFEST} with a content hash); "
                               "refusing to replace it: choose another output folder")
    if not overwrite:
        raise TableExistsError(f"{folder} already exists; {PASS_OVERWRITE} to replace it")


def make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the folders this made, deepest first, for
    :func:`remove_made` to take back when the command that needed them fails."""
    made = []
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            break
        made.append(p)
    folder.mkdir(parents=True, exist_ok=True)
    return made


def remove_made(made: list[Path]) -> None:
    """Remove the folders :func:`make_folder` made, deepest first, stopping at one that is not empty."""
    for p in made:
        try:
            p.rmdir()
        except OSError:
            return


def install(tmp: Path, folder: Path, overwrite: bool = False) -> None:
    """Move a complete table folder ``tmp`` to ``folder`` (an existing table is replaced only with
    ``overwrite``, after the new one is complete; see :func:`check_replaceable`).

    Replacing is one atomic exchange of the two folders where the system has one (Linux), so that
    ``folder`` holds the old table, then the new one, and never nothing, even if the process is killed
    between the steps; what such a kill leaves beside it (the old table, under a hidden name) is
    removed by the next write of ``folder`` (:func:`remove_leftovers`). Elsewhere the old table is
    renamed away before the new one takes its place; a kill between the two renames leaves no table
    at ``folder`` until the next write of it puts the old one back or writes the new one."""
    check_replaceable(folder, overwrite)
    if not folder.exists():
        try:
            os.rename(tmp, folder)
            return
        except OSError as exc:  # another writer of ``folder`` put its table there since the check
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not folder.exists():
                raise
            if not overwrite:
                raise TableExistsError(f"{folder} already exists (written while this table was made); "
                                       f"{PASS_OVERWRITE} to replace it") from None
            check_replaceable(folder, overwrite)
    if _exchange(tmp, folder):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old table
        return
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def temporary_folder(folder: Path) -> Path:
    """A new empty hidden folder beside ``folder`` to write its table into, named after this process
    (so that :func:`remove_leftovers` knows when its writer is gone)."""
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=folder.parent))


STALE_AFTER_S = 24 * 3600
"""How long a staging folder named by an older version (no process id in its name) must have been left
untouched, itself and everything in it, before :func:`remove_stale` takes it for a killed writer's."""

_MKDTEMP = r"[a-z0-9_]{8}"  # the random part tempfile.mkdtemp adds to a prefix


def remove_leftovers(folder: Path) -> None:
    """Remove what writers of ``folder`` that are gone (killed) left beside it: half-written tables
    (``.NAME.tmp-PID-*``) and replaced ones (``.NAME.old-PID``). A replaced table with nothing at
    ``folder`` (a kill between the two renames where folders cannot be exchanged) is put back.
    Staging folders of older versions (``.NAME.tmp-XXXXXXXX``, no process id) are removed once
    stale (:func:`remove_stale`)."""
    if not folder.parent.is_dir():
        return
    pattern = re.compile(rf"^\.{re.escape(folder.name)}\.(?:tmp-(\d+)-{_MKDTEMP}|old-(\d+))$")
    for path in sorted(folder.parent.iterdir()):
        match = pattern.match(path.name)
        if match is None or not path.is_dir() or path.is_symlink() or _alive(int(match.group(1) or match.group(2))):
            continue
        if match.group(2) is not None and not folder.exists() and holds_table(path):
            os.rename(path, folder)
        else:
            shutil.rmtree(path, ignore_errors=True)
    remove_stale(folder.parent, rf"\.{re.escape(folder.name)}\.tmp-{_MKDTEMP}")


def remove_stale(parent: Path, name: str) -> list[Path]:
    """Remove the folders in ``parent`` whose name matches the regular expression ``name`` (staging
    folders of older versions, whose names do not say which process writes them) that nothing in has
    changed for :data:`STALE_AFTER_S`: a writer that is still going changes its files all the time, so
    one left untouched that long was killed. Younger ones are kept. Returns the folders removed."""
    now = time.time()
    removed = []
    for path in sorted(parent.iterdir()) if parent.is_dir() else []:
        if not re.fullmatch(name, path.name) or not path.is_dir() or path.is_symlink():
            continue
        age = now - _last_change(path)
        if age >= STALE_AFTER_S:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _last_change(folder: Path) -> float:
    """The latest modification time of ``folder`` and of everything in it."""
    latest = folder.lstat().st_mtime
    for root, dirs, files in os.walk(folder):
        for entry in (*dirs, *files):
            try:
                latest = max(latest, os.lstat(os.path.join(root, entry)).st_mtime)
            except OSError:  # removed meanwhile
                pass
    return latest


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid: leave its folder alone
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or the file system has no such step."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library without it (glibc < 2.28, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # the file system cannot (NFS, some FUSE)
    raise OSError(err, os.strerror(err), str(b))


# ----- writing a table row block by row block --------------------------------------------------------
class SplitFile:
    """One split array written in blocks of arch rows, straight to its ``.npy`` file (Fortran order, so
    a block is one contiguous run per (seed, epoch, measure)); memory use is one block."""

    def __init__(self, path: Path, shape: tuple[int, int, int, int]) -> None:
        self.path, self.shape = Path(path), tuple(int(n) for n in shape)
        with open(self.path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": SPLIT_DTYPE.str, "fortran_order": True,
                                                     "shape": self.shape})
            self.offset = f.tell()
            f.truncate(self.offset + int(np.prod(self.shape, dtype=np.int64)) * SPLIT_DTYPE.itemsize)
        self._fd = os.open(self.path, os.O_WRONLY)

    def write_rows(self, start: int, block: np.ndarray) -> None:
        """Rows ``start .. start + len(block)`` of the array: ``block`` is [rows, seed, epoch, measure]."""
        if block.shape[1:] != self.shape[1:] or start < 0 or start + len(block) > self.shape[0]:
            raise ValueError(f"block of shape {block.shape} at row {start} does not fit {self.path} {self.shape}")
        columns = np.asfortranarray(block, dtype=SPLIT_DTYPE).reshape(len(block), -1, order="F")
        step = self.shape[0] * SPLIT_DTYPE.itemsize
        base = self.offset + start * SPLIT_DTYPE.itemsize
        for j in range(columns.shape[1]):
            os.pwrite(self._fd, memoryview(np.ascontiguousarray(columns[:, j])).cast("B"), base + j * step)

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def finish_streamed(tmp: Path, measures: Mapping[str, list[str]], scalars: Mapping[str, np.ndarray],
                    manifest: dict[str, Any]) -> dict[str, Any]:
    """Complete a table folder whose ``<split>.npy`` files were written with :class:`SplitFile`:
    hash them from disk, write ``scalars.npz`` and the manifest. Install it with :func:`install`."""
    scal = {k: _canonical(v, fortran=False) for k, v in scalars.items()}
    manifest = dict(manifest)
    manifest["schema_version"] = SCHEMA_VERSION
    manifest["arrays"] = {}
    for name in measures:
        shape = _npy_header(tmp / f"{name}.npy")[0]
        manifest["arrays"][name] = {"file": f"{name}.npy", "shape": list(shape), "measures": list(measures[name])}
    manifest["content_hash"], manifest["array_hashes"] = _hash_folder(tmp, list(measures), scal)
    manifest["manifest_hash"] = manifest_hash(manifest)
    _write_scalars_and_manifest(tmp, scal, manifest)
    return manifest
