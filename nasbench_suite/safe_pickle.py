"""A restricted unpickler for third-party data pickles (NATS-Bench's ``*.pickle.pbz2``).

``pickle.load`` runs whatever callable a pickle names, so a crafted file can run any command. This
unpickler resolves only a fixed allow-list of globals and refuses every other one, naming it, before
anything is called:

* builtin containers and scalars (``dict``, ``list``, ``tuple``, ``set``, ``frozenset``, ``int``,
  ``float``, ``bool``, ``str``, ``bytes``, ``bytearray``, ``complex``), which most pickles build
  with their own opcodes anyway (``bytes`` and ``bytearray`` refuse a size: ``bytes(2**33)`` is 8 GiB
  of zeros from a 30-byte file);
* ``collections.OrderedDict``;
* numpy's scalar rebuild (``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar``) and
  ``numpy.dtype``, which NATS-Bench's per-arch files use for a few ``numpy.float64`` values (params,
  latency). These are **not** numpy's own callables: they resolve to the small functions below,
  which accept only plain numeric dtypes (bool, int, uint, float) and rebuild the value from its raw
  bytes. No numpy code named by the pickle runs, and object dtypes (which would unpickle arbitrary
  objects) are refused.

Everything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, numpy arrays, torch
tensors, classes of any package) raises :class:`UnsafePickleError`.
"""
from __future__ import annotations

import bz2
import collections
import io
import os
import pickle
from typing import Any, BinaryIO, Callable

import numpy as np

from .errors import DatasetError


class UnsafePickleError(DatasetError):
    """A pickle names a global outside the allow-list, or holds a value the safe loader refuses."""


_NUMERIC_KINDS = "biuf"
_BUILTINS = frozenset({"dict", "list", "tuple", "set", "frozenset", "int", "float", "bool", "str", "bytes",
                       "bytearray", "complex"})


class _DTypeRecord:
    """Inert stand-in for ``numpy.dtype(name, align, copy)`` plus its pickled state (byte order)."""

    __slots__ = ("name", "byteorder")

    def __init__(self, name: Any, align: Any = False, copy: Any = True) -> None:
        if not isinstance(name, str) or len(name) > 8:
            raise UnsafePickleError(f"refused numpy dtype {name!r}: only plain numeric dtypes are allowed")
        try:
            dtype = np.dtype(name)
        except TypeError:
            raise UnsafePickleError(f"refused numpy dtype {name!r}: not a dtype name") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None:
            raise UnsafePickleError(f"refused numpy dtype {name!r}: only plain numeric dtypes are allowed")
        self.name = name
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "=")):
            raise UnsafePickleError(f"refused numpy dtype state {state!r}")
        self.byteorder = state[1]

    def dtype(self) -> np.dtype:
        order = "=" if self.byteorder == "|" else self.byteorder
        return np.dtype(self.name).newbyteorder(order)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar(dtype, bytes)`` for numeric dtypes only: decode the raw bytes."""
    if not isinstance(dtype, _DTypeRecord):
        raise UnsafePickleError("refused numpy scalar: its dtype was not built by the safe loader")
    dt = dtype.dtype()
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise UnsafePickleError(f"refused numpy scalar of {dt}: expected {dt.itemsize} raw bytes")
    return np.frombuffer(data, dtype=dt)[0]


def _builtin(name: str) -> Callable[..., Any]:
    import builtins

    kind = getattr(builtins, name)
    return _sized(kind) if kind in (bytes, bytearray) else kind


def _sized(kind: type) -> Callable[..., Any]:
    """``bytes`` / ``bytearray`` as pickles call them (``bytes()``, ``bytearray(b'...')``, ``bytearray(text,
    'latin-1')``), refusing a size: ``bytes(2**33)`` in a pickle of 30 bytes filled 8 GiB with zeros."""
    def build(*args: Any) -> Any:
        if args and isinstance(args[0], int):
            raise UnsafePickleError(f"refused {kind.__name__}({args[0]}): a size, which the file does not hold")
        return kind(*args)

    return build


_ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,
    ("numpy", "dtype"): lambda: _DTypeRecord,
    ("numpy.core.multiarray", "scalar"): lambda: _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): lambda: _numpy_scalar,
    **{(module, name): (lambda n=name: _builtin(n)) for module in ("builtins", "__builtin__") for name in _BUILTINS},
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only the allow-list above."""

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED.get((module, name))
        if resolve is None:
            raise UnsafePickleError(f"refused to load the global {module}.{name}: the safe loader admits only "
                                    f"builtin containers, collections.OrderedDict and numeric numpy scalars")
        return resolve()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: the safe loader admits no external references")


def _load(stream: BinaryIO, what: str) -> Any:
    try:
        return RestrictedUnpickler(stream).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{what}: {exc}") from None
    except Exception as exc:  # truncated, malformed or not-bz2 input raises many kinds
        raise UnsafePickleError(f"{what} is not a readable pickle ({type(exc).__name__}: {exc})") from None


def loads(data: bytes, what: str = "pickle") -> Any:
    """Unpickle ``data`` with the allow-list; any other failure becomes an :class:`UnsafePickleError`."""
    return _load(io.BytesIO(data), what)


class _Limited(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes of ``stream``."""

    def __init__(self, stream: BinaryIO, limit: int, what: str) -> None:
        self._stream, self._left, self._limit, self._what = stream, limit, limit, what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._stream.readinto(buffer)
        self._left -= n
        if self._left < 0:
            raise UnsafePickleError(f"unpacks to more than {self._limit:,} bytes, far more than a NATS-Bench arch "
                                    "file holds: a decompression bomb, or not such a file")
        return n


def load_pbz2(path: str | os.PathLike, limit: int | None = None) -> Any:
    """Read a bz2-compressed pickle (``.pickle.pbz2``) with the restricted unpickler, decompressing as
    it reads (the decompressed bytes are never held whole). ``limit``: the most bytes it may unpack to
    (bz2 packs 45 MB of zeros into some 40 bytes: a file of 10 kB can unpack to 10 GB, and a pickle
    holds what it unpacks)."""
    try:
        stream = bz2.open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    with stream:
        return _load(stream if limit is None else io.BufferedReader(_Limited(stream, limit, str(path))), str(path))
