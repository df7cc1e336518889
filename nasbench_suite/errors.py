"""Exceptions raised by nasbench_suite.

Library code raises these; the CLI turns every :class:`NasBenchError` into one line on stderr and
exit code 2. Each subclass also derives from the closest built-in exception, so callers that catch
``ValueError`` or ``KeyError`` keep working.
"""
from __future__ import annotations

import os


class NasBenchError(Exception):
    """Base class of every error this package raises on purpose."""


class ArchError(NasBenchError, ValueError):
    """An architecture string, index, op name or op tuple is not valid."""


class ModelConfigError(NasBenchError, ValueError):
    """A macro-network configuration (channels, cells, resolution, ...) is not valid."""


class DatasetError(NasBenchError, ValueError):
    """A dataset is unknown, cannot be found, or its files are missing, malformed or unsafe to read."""


class TableError(NasBenchError):
    """A lookup table cannot be found, read or trusted."""


class TableNotFoundError(TableError, FileNotFoundError):
    """No table exists under the given name or path."""


class TableCorruptedError(TableError):
    """A table's files are missing, truncated, malformed or fail the content-hash check."""


class SchemaVersionError(TableError):
    """A table was written with a schema this version of nasbench_suite does not know."""


class TableExistsError(TableError, FileExistsError):
    """A table's target folder exists and may not (or, not being a table, must never) be replaced."""


class TableBuildError(TableError, ValueError):
    """The data given to the table builder cannot form a valid table."""


class QueryError(NasBenchError, KeyError):
    """A query names something the table does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ArchNotInTableError(QueryError):
    """The architecture is valid but has no rows in this table."""


class EpochNotInTableError(QueryError):
    """The epoch is outside the table's recorded epochs."""


class SeedNotInTableError(QueryError):
    """The seed is not one of the table's seeds."""


class SplitNotAvailableError(QueryError):
    """The split or measure is unknown, or hidden from this view (test metrics during search)."""


class MissingResultError(QueryError):
    """The table has a slot for this value but no result was recorded there."""


class StoreError(NasBenchError):
    """A pre-evaluation run folder or its result store cannot be used as asked."""


class RunInUseError(StoreError):
    """Another process is writing to this pre-evaluation run folder."""


class RunMismatchError(StoreError, ValueError):
    """A run folder or store belongs to another run (other protocol, dataset, selection, seeds...)."""


class IncompleteRunError(StoreError):
    """A table was asked for before every planned (arch, seed) result was stored."""


class ShardFileError(StoreError, ValueError):
    """A committed shard file is malformed or does not match the run's plan."""


class WorkerDiedError(NasBenchError, RuntimeError):
    """A worker process of a parallel run died without finishing its work unit."""


class BackendUnavailableError(NasBenchError, ImportError):
    """An execution backend needs an optional dependency that is not installed, or its cluster cannot be reached."""


class RemoteTaskError(NasBenchError, RuntimeError):
    """A task on another machine (a Ray node) failed: that machine lacks what the run needs."""


class ProxyError(NasBenchError, ValueError):
    """An unknown zero-cost proxy, a bad minibatch, or a proxy folder that cannot serve a request."""


class OutputKindError(NasBenchError, ValueError):
    """An output folder holds the marker file of another command's kind of folder."""


class DeviceError(NasBenchError, ValueError):
    """A torch device was asked for that this machine does not have."""


def require_device(device: str) -> None:
    """Raise :class:`DeviceError` unless torch can use ``device`` ('cpu', 'cuda', 'cuda:N') here."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"{device!r} is not a torch device ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} asked for, but torch sees no CUDA device here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise DeviceError(f"device {device!r}: use cpu or cuda")


PASS_OVERWRITE = "pass --overwrite (in Python, overwrite=True)"
"""How an "already exists" error says to replace what is there, for command-line and Python users alike."""


def not_a_folder(path: "str | os.PathLike[str]") -> str:
    """Why ``path``, which is not a folder, cannot be used as one: it is a file, or it does not exist."""
    return "is a file, not a folder" if os.path.exists(path) else "does not exist"


STOPPED_IN = "nasbench_stopped_in"
"""Attribute that a Ctrl-C (``KeyboardInterrupt``) or ``kill PID`` (the CLI's subclass of it) raised during a
search run carries: a dict of what was running, with ``strategy`` (its name) and, where known, ``method`` (the
strategy's method the stop cut short; absent when the simulator's own code was running) and ``seed`` (the run
seed; absent outside a run, e.g. in the setup check before the runs). Set by :mod:`nasbench_suite.simulator`,
in this process only: a run in a worker process is not named."""


def mark_stopped_in(stop: BaseException, **facts: object) -> None:
    """Add ``facts`` about what was running to ``stop`` (see :data:`STOPPED_IN`); facts already there (set
    by a frame nearer to where the stop arrived) are kept."""
    where = getattr(stop, STOPPED_IN, None)
    if not isinstance(where, dict):
        where = {}
        setattr(stop, STOPPED_IN, where)
    for key, value in facts.items():
        where.setdefault(key, value)


def stopped_in(stop: BaseException) -> str:
    """What ``stop`` cut short, as words to follow "interrupted" ("" when nothing was recorded): "in ask()
    of strategy 'x', run seed 3", "during run seed 3 of strategy 'x'" (the simulator's own code was running)
    or "in setup() of strategy 'x'" (outside a run)."""
    where = getattr(stop, STOPPED_IN, None)
    if not isinstance(where, dict) or "strategy" not in where:
        return ""
    seed = f"run seed {where['seed']}" if "seed" in where else None
    if "method" in where:
        return f" in {where['method']}() of strategy {where['strategy']!r}" + (f", {seed}" if seed else "")
    return f" during {seed or 'a run'} of strategy {where['strategy']!r}"
