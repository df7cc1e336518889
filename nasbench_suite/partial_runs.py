"""Finished runs of a search kept while the others run, so that a stopped search resumes.

:func:`~nasbench_suite.search.run_many` replays a spec's seeds in chunks (tasks). Given a staging
folder, it writes each finished task's part there as one ``.npz`` file (``allow_pickle=False``; no
pickle), written to a private temporary name and renamed into place, so a kill at any moment leaves
each file whole or absent. A file is named ``<spec key>.<seeds key>.npz``: the spec key is a sha256 of
the spec's identity (:func:`spec_identity`: table content hash, strategy name, settings and code,
budget, simulated workers, objective, latency and proxy values, evaluation, package version, and the
machine: CPU model and architecture, Python, and the versions of the numerical libraries a strategy may
compute with: a staging folder copied to another machine is replayed, never mixed in), the
seeds key a sha256 of the chunk's run seeds. The identity is stored in the file too and compared in
full when it is read.

A later call with the same spec reads back every file of its spec key (a damaged or foreign one is
skipped: its runs are replayed again) and replays only the seeds none of them holds. A run depends on
its spec and its run seed alone, so the runs read back are the ones a fresh replay would make, and the
results are the same byte for byte whatever the chunks were (another ``--workers`` included). The
caller removes the folder once the final results are written (:func:`remove_partial`).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import shutil
import sys
import zipfile
import zlib
from pathlib import Path
from importlib import metadata
from typing import Any, Mapping, Sequence

import numpy as np

from . import __version__
from .data import array_sha256, files_sha256
from .machine import cpu_model
from .simulator import TRAJECTORY_COLUMNS
from .store import private_temporary

COLUMNS = ("seed", *TRAJECTORY_COLUMNS)
RUN_FACTS = ("seeds", "rows", "end_time", "stop_reason", "strategy_seconds", "wall_seconds")
"""Per-run lists of a task's part (see :func:`~nasbench_suite.search._run_chunk`), in its seed order."""


def _code_sha256(strategy_file: str | None) -> str | None:
    """sha256 over this package's Python sources and those of the strategy's folder: the Python files beside
    its file (the helpers it imports from there) or, for a strategy of a package (the shipped
    ``algorithms``), of its top-level package, subpackages included (see :func:`_package_sources`): an
    edit to any of them replays again. Read at each call (no cache: a strategy edited and reloaded in one
    Python session is new code). None when the strategy has no source file (defined in a notebook,
    ``python -`` or ``python -c``): its code cannot be told from an edited one, so its runs are neither
    staged nor read back."""
    if strategy_file is None or not Path(strategy_file).is_file():
        return None
    package = Path(__file__).parent
    files = sorted(package.rglob("*.py"))
    top = Path(strategy_file).resolve().parent
    while (top / "__init__.py").is_file() and (top.parent / "__init__.py").is_file():
        top = top.parent
    files += _package_sources(top)
    return files_sha256(f for f in files if f.is_file())  # not a broken link or a folder named *.py


def _package_sources(folder: Path, seen: frozenset[Path] = frozenset()) -> list[Path]:
    """The ``.py`` files of ``folder`` and of its subpackages (folders with an ``__init__.py``; a data
    folder inside a package is not walked, nor a link back to a folder above)."""
    seen = seen | {folder.resolve()}
    try:
        files = sorted(folder.glob("*.py"))
        subs = sorted(p for p in folder.iterdir() if (p / "__init__.py").is_file() and p.resolve() not in seen)
    except OSError:  # an unreadable folder: its sources cannot decide a run's code either
        return []
    for sub in subs:
        files += _package_sources(sub, seen)
    return files


def spec_identity(spec: Any, content_hash: str, oracle: Any, settings: Mapping[str, Any], strategy_cls: type,
                  source: str | None, evaluation: Mapping[str, Any] | None) -> dict[str, Any]:
    """What every run of ``spec`` depends on. ``oracle`` is the compiled search side the runs read (its
    latency and zero-cost proxy values are hashed, so a latency store or proxies that changed in
    between do not match); ``settings`` the strategy's resolved settings; ``evaluation`` the
    evaluation (with its table's content hash) the results are given."""
    try:
        strategy_file: str | None = inspect.getfile(strategy_cls)
    except (TypeError, OSError):
        strategy_file = None
    proxies = {name: array_sha256({"scores": scores, "seconds": seconds})
               for name, (scores, seconds) in sorted((oracle.space.proxies or {}).items())}
    return {
        "package_version": __version__, "code_sha256": _code_sha256(strategy_file), "strategy_source": source,
        "platform": _platform(),
        "table_hash": content_hash, "objective": spec.objective, "search_epochs": spec.search_epochs,
        "strategy": spec.strategy, "class": f"{strategy_cls.__module__}.{strategy_cls.__qualname__}",
        "settings": settings, "budget": spec.budget.describe(), "sim_workers": int(spec.workers),
        "latency": None if oracle.latency is None else {
            "values_sha256": array_sha256({"ms": oracle.latency}), "source": oracle.space.latency_source,
            "max_latency": oracle.space.max_latency},
        "proxies": proxies, "evaluation": evaluation,
    }


NUMERIC_LIBRARIES = ("scipy", "scikit-learn", "xgboost", "torch")
"""Libraries besides NumPy whose version can change a strategy's numbers (predictors' fits)."""


def _platform() -> dict[str, Any]:
    """The machine and library versions a staged run was made with (NumPy's as the results manifest
    records it, the others from the installed packages' metadata: nothing is imported). CPU and
    architecture count because BLAS kernels differ between them (README's BLAS caveat)."""
    versions: dict[str, str | None] = {"numpy": np.__version__}
    for name in NUMERIC_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "cpu": cpu_model(),
            "machine": platform.machine(), **versions}


def spec_key(identity: Mapping[str, Any]) -> str:
    return hashlib.sha256(_text(identity).encode()).hexdigest()


def _text(identity: Mapping[str, Any]) -> str:
    return json.dumps(identity, sort_keys=True, default=repr)


def _seeds_key(seeds: Sequence[int]) -> str:
    return hashlib.sha256(",".join(str(int(s)) for s in seeds).encode()).hexdigest()[:32]


def save_part(folder: Path, identity: Mapping[str, Any], part: Mapping[str, Any]) -> Path | None:
    """Write a finished task's ``part`` (as :func:`~nasbench_suite.search._run_chunk` returns it) into
    ``folder``, atomically; returns the file (None, nothing written, for a strategy of unknown code: see
    :func:`_code_sha256`)."""
    if identity["code_sha256"] is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec_key(identity)}.{_seeds_key(part['seeds'])}.npz"
    arrays = {f"col_{c}": np.asarray(part["columns"][c]) for c in COLUMNS}
    arrays.update({k: np.asarray(part[k]) for k in RUN_FACTS})
    arrays["stop_reason"] = np.asarray([str(r) for r in part["stop_reason"]], dtype=np.str_)
    arrays["seeds"] = np.asarray(part["seeds"], dtype=np.int64)
    arrays["fidelities"] = np.asarray(part["fidelities"], dtype=np.int64)
    arrays["identity"] = np.asarray(_text(identity), dtype=np.str_)
    tmp = private_temporary(path)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_runs(folder: Path | None, identity: Mapping[str, Any], seeds: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The finished runs of ``seeds`` kept in ``folder`` under ``identity``: {seed: run}, each run a
    one-seed part (``columns``, the :data:`RUN_FACTS` lists, ``fidelities``). Files that cannot be read,
    hold another identity or are inconsistent are skipped (their runs are replayed again)."""
    if folder is None or not folder.is_dir() or identity["code_sha256"] is None:
        return {}
    wanted = set(int(s) for s in seeds)
    runs: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob(f"{spec_key(identity)}.*.npz")):
        part = _read_part(path, identity)
        if part is not None:
            runs.update({seed: run for seed, run in split_runs(part).items() if seed in wanted and seed not in runs})
    return runs


def _read_part(path: Path, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part in ``path`` if it is whole, of ``identity`` and consistent (its seeds those its name
    says, one entry per run in every list, its columns as long as its runs), else None."""
    if not path.is_file():  # a folder, a FIFO (np.load would wait on it forever), a device, a broken link
        return None
    try:  # the file opened here, not by np.load: numpy leaves its own handle open when the zip is damaged
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            if str(data["identity"]) != _text(identity):
                return None
            part = {"columns": {c: data[f"col_{c}"] for c in COLUMNS}, "fidelities": data["fidelities"].tolist(),
                    **{k: data[k].tolist() for k in RUN_FACTS}}
        rows = part["rows"]
        if len({len(part[k]) for k in RUN_FACTS}) != 1 or path.name.split(".")[1] != _seeds_key(part["seeds"]) or \
                any(r < 0 for r in rows) or any(len(v) != sum(rows) for v in part["columns"].values()) or \
                not np.array_equal(part["columns"]["seed"], np.repeat(part["seeds"], rows)):
            return None
    except (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, zipfile.BadZipFile, zlib.error,
            MemoryError):  # MemoryError: a member's header declaring more than the machine has (numpy allocates it)
        return None
    return part


def split_runs(part: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """A task's ``part`` as one part per run seed."""
    ends = np.cumsum(part["rows"])
    out = {}
    for i, seed in enumerate(part["seeds"]):
        lo, hi = int(ends[i] - part["rows"][i]), int(ends[i])
        out[int(seed)] = {"columns": {c: v[lo:hi] for c, v in part["columns"].items()},
                          "fidelities": list(part["fidelities"]), **{k: [part[k][i]] for k in RUN_FACTS}}
    return out


def remove_partial(folder: Path) -> None:
    """Remove a staging folder once the results it was kept for are written (stale files included), or
    what a stopped call left there; a symbolic link there (planted in a received folder) is unlinked:
    rmtree refuses one without a word, and the runs were then written wherever it led."""
    if folder.is_symlink():
        folder.unlink()
    shutil.rmtree(folder, ignore_errors=True)
