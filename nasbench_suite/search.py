"""Many seeds of a search, in parallel processes (or Ray tasks), into one tidy result.

:func:`run_seeds` replays one :class:`SearchSpec` for every run seed and returns a
:class:`SearchResults`: one row per told query of every run (see :data:`COLUMNS`), a manifest
(table hashes, package version, strategy settings, seeds, budget policy) and wall-clock timings kept
apart. Every run is independent and seeded by its run seed alone, and the rows are assembled in
seed order, so the result is the same for any number of processes and for local or Ray execution.
Given a staging folder (``partial``), finished runs are kept there as they finish and a later call of
the same spec reads them back instead of replaying them (:mod:`.partial_runs`).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import __version__
from . import jsonread
from .data import files_sha256
from .errors import PASS_OVERWRITE, MissingResultError, NasBenchError, TableCorruptedError
from .evaluation import EvalSpec, incumbent_metric
from .intlist import MAX_SEED, format_int_list, is_integer, parse_int_list
from .pools import spawn_pool
from .simulator import MAX_RUN_QUERIES, MAX_WORKERS, TRAJECTORY_COLUMNS, Budget, Oracle, guarded, run_keys, run_search
from .source_files import class_source_files
from .strategy import check_found_elsewhere, import_strategies, make_strategy, strategy_class, strategy_source
from .store import atomic_write, atomic_write_text
from .table import higher_is_better, load_table

if TYPE_CHECKING:
    import pandas as pd

    from .strategy import Strategy
    from .table import Benchmark

RESULTS_FILE = "trajectories.parquet"
ROW_GROUP = 1024 * 1024
"""Rows per row group of trajectories.parquet (pyarrow's default since 11, fixed here for every version):
the frame is converted to Arrow one row group at a time, not all at once beside itself."""
PARTIAL_DIR = ".partial"
"""Staging folder in ``nasbench search``'s ``--out``: finished runs of an unfinished search (see
:mod:`.partial_runs`), removed once the results are written."""
MANIFEST_FILE = "manifest.json"
TIMING_FILE = "timing.json"
FORMAT = "nasbench-search-results"
FORMAT_VERSION = 1
BACKENDS = ("local", "ray")
VALID_FROM_ORI_TEST = "valid_filled_from_ori_test"
"""Key of a manifest's ``search`` block, present (true) only when the searched table's valid values were
partly filled from NATS-Bench's ori-test, which holds the test half (``nasbench import --valtest-as-valid``)."""

COLUMNS: dict[str, str] = {
    "strategy": "registered strategy name",
    "seed": "run seed",
    "step": "0-based position of this result in the run (the order the strategy was told)",
    "query": "0-based dispatch order of the query",
    "arch_index": "queried cell (base-5 index, see nasbench_suite.space)",
    "epochs": "epochs trained when this query finished",
    "trial": "training run id within the run (a continued trial keeps its id)",
    "resumed": "true if the query continued an earlier trial",
    "table_seed": "table seed read for this trial (common random numbers)",
    "start_time": "simulated seconds at dispatch",
    "finish_time": "simulated seconds at finish",
    "cost": "simulated seconds charged (new training epochs + one validation pass, plus any Query.charge "
            "the strategy added, e.g. a warm start's proxy seconds)",
    "value": "search objective told to the strategy",
    "incumbent_index": "the run's incumbent after this result",
    "incumbent_value": "search objective of the incumbent as told (NaN if the strategy named an untold cell)",
}


class SearchOutputError(NasBenchError, ValueError):
    """Search results cannot be written where asked."""


@dataclass(frozen=True)
class SearchSpec:
    """One strategy on one table under one budget."""

    table: str | os.PathLike
    strategy: str
    budget: Budget
    settings: Mapping[str, Any] = field(default_factory=dict)
    workers: int = 1
    """Simulated asynchronous workers within each run (not processes)."""
    objective: str = "valid_acc"
    search_epochs: int | None = None
    """Search only the first epochs of the table (default: all)."""
    latency: str | None = None
    """A second objective: a latency folder (``nasbench latency measure``) or ``FILE.csv:COLUMN`` (a
    third-party device table); the strategy sees it in ``Result.latency``."""
    latency_batch: int = 1
    latency_stat: str = "median_ms"
    max_latency: float | None = None
    """Constrained mode: the incumbent must have latency <= this (ms)."""


def _for_a_node(spec: SearchSpec) -> SearchSpec:
    """``spec`` as a task on another node (a Ray task runs in its node's own working folder) must be
    given it: a latency folder or device CSV that exists here is named by its absolute path (a shipped
    folder's bare name stays as it is)."""
    if spec.latency is None:
        return spec
    path, sep, column = spec.latency.rpartition(":") if ".csv:" in spec.latency else (spec.latency, "", "")
    if not Path(path).exists():
        return spec
    return dataclasses.replace(spec, latency=f"{Path(path).absolute()}{sep}{column}")


def _files_stamp(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime in ns) of each of ``paths`` that is a file: part of a cache key, so that a file
    rewritten in between (a latency store measured again, proxies scored) is read again within one
    Python session instead of its old values being served from the cache."""
    stamp = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp.append((os.fspath(path), st.st_size, st.st_mtime_ns))
    return tuple(stamp)


def _latency_files(latency: str) -> list[Path]:
    from .latency import CSV_FILE, IDENTITY_FILE

    if ".csv:" in latency:
        return [Path(latency.rpartition(":")[0])]
    return [Path(latency) / IDENTITY_FILE, Path(latency) / CSV_FILE]


def latency_of(latency: str, batch: int = 1, stat: str = "median_ms") -> tuple[np.ndarray, str, str]:
    """(15625,) ms, source description and key (fingerprint hash or device column) of a latency spec."""
    return _latency_of(latency, batch, stat, _files_stamp(_latency_files(latency)))


@functools.lru_cache(maxsize=4)
def _latency_of(latency: str, batch: int, stat: str, stamp: tuple) -> tuple[np.ndarray, str, str]:
    """:func:`latency_of`, cached per state of the files it reads (``stamp``)."""
    from .latency import LatencyError, import_device_csv, load_latency

    if ".csv:" in latency:
        if batch != 1 or stat != "median_ms":  # the manifest would record a batch/statistic never used
            raise SearchOutputError(f"a device table column ({latency!r}) has one latency per cell: it takes "
                                    f"latency_batch 1 and latency_stat 'median_ms' (the defaults), got batch "
                                    f"{batch!r} and statistic {stat!r}")
        path, _, column = latency.rpartition(":")
        tables = import_device_csv(path)
        if column not in tables:
            raise LatencyError(f"{path} has no device column {column!r}; it has {', '.join(tables)}")
        table = tables[column]
        return table.of(1), table.source, table.key
    table = load_latency(latency, stat)
    return table.of(batch), table.source, table.key


@dataclass
class SearchResults:
    frame: "pd.DataFrame"
    manifest: dict[str, Any]
    timing: dict[str, Any]

    def final(self) -> "pd.DataFrame":
        """The last row of every run (its final incumbent)."""
        return self.frame.groupby(["strategy", "seed"], sort=False).tail(1).reset_index(drop=True)

    def write(self, out: str | os.PathLike, overwrite: bool = False) -> Path:
        """``out/trajectories.parquet``, ``out/manifest.json`` (both reproducible byte for byte) and
        ``out/timing.json`` (wall-clock measurements, different every time)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = Path(out)
        check_results_folder(out, overwrite)
        texts = {}  # serialized before any file is written: a payload that is not JSON leaves nothing behind
        for name, payload in ((MANIFEST_FILE, self.manifest), (TIMING_FILE, self.timing)):
            try:
                texts[name] = json.dumps(payload, indent=2, sort_keys=True) + "\n"
            except (TypeError, ValueError) as exc:
                raise SearchOutputError(f"cannot write {name}: {exc}; nothing was written to {out}") from None
        out.mkdir(parents=True, exist_ok=True)
        schema = pa.Schema.from_pandas(self.frame, preserve_index=False)

        def write_parquet(f: BinaryIO) -> None:
            with pq.ParquetWriter(f, schema, compression="zstd") as writer:
                for lo in range(0, max(len(self.frame), 1), ROW_GROUP):  # an empty frame: one empty group
                    writer.write_table(pa.Table.from_pandas(self.frame.iloc[lo:lo + ROW_GROUP], schema=schema,
                                                            preserve_index=False), row_group_size=ROW_GROUP)

        atomic_write(out / RESULTS_FILE, write_parquet)
        for name, text in texts.items():
            atomic_write_text(out / name, text)
        return out


MAX_PARQUET_RATIO = 64
"""How many times its file size a parquet file of runs may decode to (estimated as rows x columns x 8 bytes;
the shipped runs decode to about 4 times theirs) before it is read, when that is over 64 MiB."""


def read_results(path: Path, columns: Sequence[str] | None = None) -> "pd.DataFrame":
    """A parquet file of runs (``trajectories.parquet``, a compare's cells), all columns or ``columns``; refused
    (ValueError) when it would decode to far more than it holds: run length encoding packs 50,000,000 equal
    values into 228 kB, read as 1 GB."""
    import pandas as pd
    import pyarrow.parquet as pq

    with open(path, "rb") as f:  # opened here: pyarrow encodes a path as UTF-8, not as the file system does
        meta = pq.ParquetFile(f).metadata
        size = os.fstat(f.fileno()).st_size
        if meta.num_rows * meta.num_columns * 8 > max(64 << 20, MAX_PARQUET_RATIO * size):
            raise ValueError(f"{Path(path).name} declares {meta.num_rows:,} rows of {meta.num_columns} columns in "
                             f"{size:,} bytes: a decompression bomb, or not a file of runs")
        f.seek(0)
        return pd.read_parquet(f, columns=None if columns is None else list(columns))


def run_notes(label: str, manifest: Mapping[str, Any], final: "pd.DataFrame") -> list[str]:
    """Sentences that flag what runs of a strategy can do without an error but should not go unseen:
    runs that ended before the budget because the strategy stopped asking (stop reason ``exhausted``) or
    at the simulator's :data:`~.simulator.MAX_RUN_QUERIES` (``query_limit``), final incumbents the
    strategy named without ever querying them (their evaluation is read all the same), and a search of
    validation values filled from the split that holds the test half (a NATS-Bench import with
    ``--valtest-as-valid``). ``manifest`` is the runs' ``manifest.json``; ``final`` holds the last row of
    every run (``incumbent_index`` and ``incumbent_value`` are read). Printed by ``nasbench search`` and
    ``compare``, and written into the comparison report."""
    notes = []
    if manifest["search"].get(VALID_FROM_ORI_TEST):
        notes.append(f"runs of {label} searched table {manifest['search']['table']}, whose valid values were "
                     "partly filled from NATS-Bench's ori-test (imported with --valtest-as-valid); ori-test holds "
                     "the x-test half, which is the table's test split: a test accuracy of these runs is not "
                     "independent of what they searched")
    stop_reasons = manifest["runs"]["stop_reasons"]
    runs = sum(stop_reasons.values())
    early = stop_reasons.get("exhausted", 0)
    if early:
        notes.append(f"{early} of {runs} runs of {label} ended before the budget: the strategy asked for no query "
                     "while none was running, which ends a run (stop reason 'exhausted' in manifest.json)")
    capped = stop_reasons.get("query_limit", 0)
    if capped:
        notes.append(f"{capped} of {runs} runs of {label} ended before their seconds budget, at {MAX_RUN_QUERIES:,} "
                     "queries, the most one run dispatches (stop reason 'query_limit' in manifest.json)")
    untold = int(((final["incumbent_index"] >= 0) & final["incumbent_value"].isna()).sum())
    if untold:
        notes.append(f"{untold} of {len(final)} runs of {label} end with an incumbent the strategy named but never "
                     "queried: no query paid for it, yet its evaluation is read and reported (incumbent_value is NaN)")
    return notes


def check_results_folder(out: Path, overwrite: bool) -> None:
    """Refuse to write results to ``out`` when it is not a folder, already holds results (unless
    ``overwrite``), holds a ``manifest.json`` that is not search results (a table's, a compare
    report's...): that one is never replaced, or is another kind of output folder
    (:func:`~nasbench_suite.folder_kind.check_output_kind`)."""
    from .folder_kind import SEARCH, check_output_kind

    if out.exists() and not out.is_dir():
        raise SearchOutputError(f"--out {out} exists and is not a folder")
    existing = [n for n in (RESULTS_FILE, MANIFEST_FILE, TIMING_FILE) if (out / n).exists()]
    if MANIFEST_FILE in existing and not _is_results_manifest(out / MANIFEST_FILE):  # first: --overwrite won't help
        raise SearchOutputError(f"{out} holds a {MANIFEST_FILE} that is not search results (a table's, or another "
                                "tool's); refusing to replace it: choose another output folder")
    check_output_kind(out, {SEARCH})  # a run folder, a compare's runs, a latency store...: never written into
    if existing and not overwrite:
        stopped = (out / PARTIAL_DIR).is_dir()  # a search stopped while writing its results, or just after
        raise SearchOutputError(
            f"{out} already holds {', '.join(existing)}; {PASS_OVERWRITE} to replace them"
            + (f" ({out / PARTIAL_DIR} holds the finished runs of a search stopped while it wrote them: the same "
               "command with --overwrite reads them back instead of replaying them)" if stopped else ""))


def _is_results_manifest(path: Path) -> bool:
    try:
        manifest = jsonread.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


# ----- work in a process ---------------------------------------------------------------------------
def _oracle(path: str, content_hash: str, objective: str, search_epochs: int | None,
            latency: tuple[str, int, str, float | None] | None = None) -> Oracle:
    """The compiled search side of a table, built once per process (keyed by its content hash and the
    state of the proxy and latency files it reads)."""
    from .proxy_store import CSV_FILE, IDENTITY_FILE

    proxies = sorted(p for folder in sorted(Path(path).parent.joinpath("proxies").glob("*"))
                     for p in (folder / IDENTITY_FILE, folder / CSV_FILE))
    stamp = _files_stamp([*proxies, *(_latency_files(latency[0]) if latency is not None else [])])
    return _compiled_oracle(path, content_hash, objective, search_epochs, latency, stamp)


@functools.lru_cache(maxsize=4)
def _compiled_oracle(path: str, content_hash: str, objective: str, search_epochs: int | None,
                     latency: tuple[str, int, str, float | None] | None, stamp: tuple) -> Oracle:
    """:func:`_oracle`, cached."""
    bench = load_table(path, verify=False)  # the parent verified these bytes' hash
    if bench.content_hash != content_hash:
        raise TableCorruptedError(f"table {path} changed while the search ran (hash {bench.content_hash}, "
                                  f"expected {content_hash})")
    oracle = Oracle(bench.search_view(), objective, search_epochs)
    from .proxy_store import stored_for  # imports torch: only when a search runs

    proxies = stored_for(bench)
    if proxies is not None:  # zero-cost proxies stored beside the table: warm-start strategies read them
        oracle.with_proxies({p: (proxies.scores[p], proxies.seconds[p]) for p in proxies.proxies})
    if latency is not None:
        values, source, _ = latency_of(*latency[:3])
        oracle.with_latency(values, source, latency[3])
    return oracle


def _latency_key(spec: SearchSpec) -> tuple[str, int, str, float | None] | None:
    if spec.latency is None:
        if spec.max_latency is not None:
            raise SearchOutputError("a latency limit needs a latency source (--latency)")
        return None
    if spec.max_latency is not None and (isinstance(spec.max_latency, bool) or not (  # True is 1 to Python, never ms
            isinstance(spec.max_latency, Real) and 0 < spec.max_latency < math.inf)):
        raise SearchOutputError(f"the latency limit (--max-latency) must be a finite number of ms > 0, "
                                f"got {spec.max_latency!r}")
    return (spec.latency, spec.latency_batch, spec.latency_stat, spec.max_latency)


def _check_latency_limit(spec: SearchSpec, bench: "Benchmark") -> None:
    """Refuse a latency limit below the fastest cell of the table: no result could ever be an incumbent."""
    if spec.latency is None or spec.max_latency is None:
        return
    values, source, _ = latency_of(spec.latency, spec.latency_batch, spec.latency_stat)
    rows = values[bench.arch_indices]
    if np.isnan(rows).all():  # no latency for these cells: the oracle says so
        return
    fastest = int(np.nanargmin(rows))
    if spec.max_latency < rows[fastest]:
        raise SearchOutputError(f"latency limit {spec.max_latency:g} ms is below the fastest cell of table "
                                f"{bench.name!r} ({rows[fastest]:.4g} ms, arch {int(bench.arch_indices[fastest])}, "
                                f"{source}): no cell is within it")


def _feasible(spec: SearchSpec) -> np.ndarray | None:
    """(15625,) mask of the cells within ``spec``'s latency limit (None without one): where a constrained
    search's regret is measured from."""
    if spec.latency is None or spec.max_latency is None:
        return None
    return latency_of(spec.latency, spec.latency_batch, spec.latency_stat)[0] <= spec.max_latency


def _check_setup(strategy: "Strategy", spec: SearchSpec, bench: "Benchmark",
                 latency: tuple[str, int, str, float | None] | None, seed: int) -> None:
    """Run ``strategy``'s ``setup`` once on the table's search space, so that a setting the table refuses (an
    epoch it lacks, a proxy it has not stored) fails here, before any run of any spec, not after the runs of
    the specs before it."""
    oracle = _oracle(str(bench.path), bench.content_hash, spec.objective, spec.search_epochs, latency)
    guarded(strategy, "setup")(oracle.space, run_keys(seed)[0])


def _run_chunk(spec: SearchSpec, path: str, content_hash: str, seeds: Sequence[int],
               source: str | None = None) -> dict[str, Any]:
    """Run ``seeds`` one after another; columns concatenated in seed order, plus per-run facts.
    ``source`` is the user module registering the strategy (see :func:`strategy_source`)."""
    if source is not None:
        import_strategies([source])
    oracle = _oracle(path, content_hash, spec.objective, spec.search_epochs, _latency_key(spec))
    threads = None
    if strategy_class(spec.strategy).uses_torch:  # one thread: the same arithmetic in any process
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        runs = [run_search(make_strategy(spec.strategy, dict(spec.settings)), oracle, spec.budget, int(s),
                           workers=spec.workers) for s in seeds]
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    columns = {c: np.concatenate([r.columns[c] for r in runs]) for c in TRAJECTORY_COLUMNS}
    columns["seed"] = np.repeat(np.asarray([r.seed for r in runs], dtype=np.int64), [len(r) for r in runs])
    return {"columns": columns, "seeds": [r.seed for r in runs], "rows": [len(r) for r in runs],
            "end_time": [r.end_time for r in runs], "stop_reason": [r.stop_reason for r in runs],
            "strategy_seconds": [r.strategy_seconds for r in runs], "wall_seconds": [r.wall_seconds for r in runs],
            "fidelities": list(oracle.fidelities)}


def _chunks(seeds: Sequence[int], processes: int) -> list[tuple[int, ...]]:
    size = max(1, math.ceil(len(seeds) / (4 * processes)))  # a few chunks per process balances the load
    return [tuple(seeds[i:i + size]) for i in range(0, len(seeds), size)]


def _execute(tasks: list[tuple[SearchSpec, str, str, tuple[int, ...], str | None]], processes: int, backend: str,
             ray_address: str | None, progress: bool,
             keep: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every task's result, in task order, with a progress bar (chunks done, rate, ETA) if asked;
    ``keep(i, result)`` is called as each task finishes (to checkpoint it)."""
    from tqdm import tqdm

    if not tasks:  # every run was read back from an interrupted call's staging folder
        return []
    out: list[dict[str, Any] | None] = [None] * len(tasks)
    with tqdm(total=sum(len(t[3]) for t in tasks), unit="run", disable=not progress, desc="search") as bar:
        for i, part in _completed(tasks, processes, backend, ray_address):
            out[i] = part
            if keep is not None:
                keep(i, part)
            bar.update(len(tasks[i][3]))
    return out  # type: ignore[return-value]


def _completed(tasks: list[tuple[SearchSpec, str, str, tuple[int, ...], str | None]], processes: int, backend: str,
               ray_address: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(task index, result) as tasks finish."""
    if backend == "ray":
        from .backends import connect_ray, import_ray, ray_completed

        ray = import_ray()
        owner = connect_ray(ray, ray_address, processes, log_to_driver=False)
        try:
            task = ray.remote(num_cpus=1)(_run_chunk)
            yield from ray_completed(ray, {task.remote(*t): i for i, t in enumerate(tasks)})
        finally:
            if owner:
                ray.shutdown()
    elif processes <= 1:
        for i, t in enumerate(tasks):
            yield i, _run_chunk(*t)
    else:
        with spawn_pool(min(processes, len(tasks))) as pool:
            futures = {pool.submit(_run_chunk, *t): i for i, t in enumerate(tasks)}
            for future in as_completed(futures):
                yield futures[future], future.result()


# ----- the API -------------------------------------------------------------------------------------
def _run_seeds(seeds: Iterable[int] | str) -> list[int]:
    """``seeds`` (integers, numpy ones included, or a range string like '0-29' or '0,5,7-9') as a sorted
    list of distinct non-negative Python ints (so '5,0-2' gives the same rows, in the same order, as '0-2,5',
    the way the manifest writes it); :class:`SearchOutputError` naming ``seeds`` otherwise."""
    if isinstance(seeds, str):
        try:
            out = parse_int_list(seeds)
        except ValueError as exc:
            raise SearchOutputError(f"seeds: {exc}") from None
    else:
        try:
            out = list(seeds)
        except TypeError:
            raise SearchOutputError(f"seeds must be integers or a range string like '0-29', got {seeds!r}") from None
        bad = [s for s in out if not is_integer(s)]
        if isinstance(seeds, bytes) or bad:
            raise SearchOutputError(f"seeds must be integers, got {(bad or [seeds])[0]!r}")
        out = [int(s) for s in out]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise SearchOutputError("seeds must be distinct non-negative integers, at least one")
    if max(out) > MAX_SEED:
        raise SearchOutputError(f"seeds must be at most 2**63 - 1 (stored as int64), got {max(out)}")
    return sorted(out)


def _checked_specs(specs: Any, evaluation: Any) -> list[SearchSpec]:
    """``specs`` as a list; :class:`SearchOutputError` naming the argument where ``specs`` is no sequence of
    :class:`SearchSpec` (each with a :class:`Budget` and a mapping of settings) or ``evaluation`` no
    :class:`EvalSpec` or None (an AttributeError from inside the runs said neither)."""
    if isinstance(specs, SearchSpec):
        raise SearchOutputError("specs must be a list of SearchSpec, got one SearchSpec; pass [spec] or call run_seeds")
    if isinstance(specs, (str, bytes, Mapping)) or not isinstance(specs, Iterable):
        raise SearchOutputError(f"specs must be a list of SearchSpec, got {type(specs).__name__}")
    specs = list(specs)
    for spec in specs:
        if not isinstance(spec, SearchSpec):
            raise SearchOutputError(f"specs must be a list of SearchSpec, got an item {spec!r}")
        if not isinstance(spec.budget, Budget):
            raise SearchOutputError(f"SearchSpec.budget must be a Budget, e.g. Budget(seconds=2000) or "
                                    f"Budget(queries=50), got {spec.budget!r}")
        if not isinstance(spec.settings, Mapping):
            raise SearchOutputError(f"SearchSpec.settings must be a mapping of setting names to values (a dict), "
                                    f"got {spec.settings!r}")
    if evaluation is not None and not isinstance(evaluation, EvalSpec):
        raise SearchOutputError(f"evaluation must be an EvalSpec or None, got {evaluation!r}")
    return specs


def run_seeds(spec: SearchSpec, seeds: Iterable[int] | str, *, processes: int = 1, backend: str = "local",
              evaluation: EvalSpec | None = EvalSpec(), ray_address: str | None = None,
              progress: bool | None = None, partial: str | os.PathLike | None = None) -> SearchResults:
    """Replay ``spec`` once per run seed; see the module doc. ``progress`` (default: when stderr is
    a terminal) shows a progress bar. ``partial``: a staging folder where finished runs are kept as
    they finish, and read back instead of replayed by a later call (see :mod:`.partial_runs`)."""
    return run_many([spec], seeds, processes=processes, backend=backend, evaluation=evaluation,
                    ray_address=ray_address, progress=progress, partial=partial)[0]


def run_many(specs: Sequence[SearchSpec], seeds: Iterable[int] | str, *, processes: int = 1, backend: str = "local",
             evaluation: EvalSpec | None = EvalSpec(), ray_address: str | None = None,
             progress: bool | None = None, partial: str | os.PathLike | None = None) -> list[SearchResults]:
    """:func:`run_seeds` for several specs over one pool of processes."""
    import pandas as pd

    from .partial_runs import load_runs, save_part, spec_identity, split_runs

    if backend not in BACKENDS:
        raise SearchOutputError(f"unknown backend {backend!r}; use {' or '.join(BACKENDS)}")
    if not is_integer(processes) or processes < 1:
        raise SearchOutputError(f"processes (--workers) must be an integer >= 1, got {processes!r}")
    processes = int(processes)
    seeds = _run_seeds(seeds)
    specs = _checked_specs(specs, evaluation)
    if partial is not None and (not isinstance(partial, (str, os.PathLike)) or partial == ""):
        raise SearchOutputError(f"partial must name a staging folder (a str or path, e.g. 'runs/rea/.partial'), "
                                f"got {partial!r}")  # '' staged the runs in the working folder
    tables = {}
    identities = []
    for spec in specs:
        strategy = make_strategy(spec.strategy, dict(spec.settings))  # unknown names and settings fail here, once
        if not is_integer(spec.workers) or not 1 <= spec.workers <= MAX_WORKERS:  # before the runs, not in each
            raise SearchOutputError(f"simulated workers per run (--sim-workers, SearchSpec.workers) must be an "
                                    f"integer 1..{MAX_WORKERS:,}, got {spec.workers!r}")
        if processes > 1 or backend == "ray":
            check_found_elsewhere(spec.strategy, backend)
        key = _latency_key(spec)
        if key is not None:
            latency_of(*key[:3])  # a bad latency source fails here, once
        if spec.table not in tables:
            tables[spec.table] = load_table(spec.table)  # verifies the content hash
        if key is not None and ".csv:" not in spec.latency:
            from .latency import check_same_network, load_latency
            check_same_network(load_latency(spec.latency, spec.latency_stat), spec.latency,
                               tables[spec.table].manifest, tables[spec.table].name)
        _check_latency_limit(spec, tables[spec.table])
        _check_setup(strategy, spec, tables[spec.table], key, seeds[0])
        if evaluation is not None:  # a bad evaluation (table, split, measure, epoch) fails here, before the runs
            eval_table = evaluation.table or spec.table
            if eval_table not in tables:
                tables[eval_table] = load_table(eval_table)
            try:
                incumbent_metric(np.empty(0, dtype=np.int64), tables[eval_table], evaluation, _feasible(spec))
            except MissingResultError as exc:
                if spec.max_latency is None:
                    raise
                raise MissingResultError(f"{exc}: the cells within the latency limit of {spec.max_latency:g} ms "
                                         f"({spec.latency}); evaluate on a table that holds them") from None
        if partial is not None:  # hashed only where runs are staged
            identities.append(spec_identity(
                spec, tables[spec.table].content_hash,
                _oracle(str(tables[spec.table].path), tables[spec.table].content_hash, spec.objective, spec.search_epochs,
                        key), jsonable(strategy.settings()), type(strategy), strategy_source(spec.strategy),
                None if evaluation is None else {"table_hash": tables[evaluation.table or spec.table].content_hash,
                                                 "split": evaluation.split, "measure": evaluation.measure,
                                                 "epoch": evaluation.epoch}))
    partial = None if partial is None else Path(partial)
    if partial is not None and partial.is_symlink():  # not a staging folder this made: its runs were read
        partial.unlink()  # back as results, and new ones written wherever it led
    done: list[dict[int, dict[str, Any]]] = (  # runs a stopped call finished
        [load_runs(partial, identity, seeds) for identity in identities] if partial is not None else [{} for _ in specs])
    resumed = [len(d) for d in done]
    if backend == "ray":
        from .backends import check_ray_address, import_ray

        import_ray()
        check_ray_address(ray_address)  # in seconds, before the runs
    # absolute: a Ray task runs in its node's own working folder
    tasks, owner = [], []
    for k, spec in enumerate(specs):
        for c in _chunks([s for s in seeds if s not in done[k]], processes):
            tasks.append((_for_a_node(spec), str(Path(tables[spec.table].path).absolute()),
                          tables[spec.table].content_hash, c, strategy_source(spec.strategy)))
            owner.append(k)

    # the processes that ran the tasks: a local pool starts no more than there are tasks (--workers 100000 with
    # 2 seeds started 2, and timing.json said 100000); Ray's is the concurrency asked of it
    pool_size = processes if backend == "ray" else max(1, min(processes, len(tasks)))
    staged: list[Path] = []  # this call's staged files
    staging_failed: list[str] = []

    def keep(i: int, part: dict[str, Any]) -> None:
        if partial is None or staging_failed:
            return
        try:
            path = save_part(partial, identities[owner[i]], part)
        except OSError as exc:  # staging saves a rerun work; a full disk must not stop a search whose results fit
            staging_failed.append(f"{exc.strerror or exc}")
            for staged_file in staged:  # the space they take, given back for the results
                staged_file.unlink(missing_ok=True)
            return
        if path is not None:
            staged.append(path)

    started = time.perf_counter()
    parts = _execute(tasks, processes, backend, ray_address, sys.stderr.isatty() if progress is None else progress,
                     keep)
    wall = time.perf_counter() - started
    while parts:  # each run's columns are views of its task's part: let go of them spec by spec below
        done[owner[len(parts) - 1]].update(split_runs(parts.pop()))
    out = []
    sources: dict[type, str | None] = {}  # each strategy class's source_sha256, hashed once in this call
    for k, spec in enumerate(specs):
        mine = [done[k][s] for s in seeds]  # one part per run, in seed order
        cols = {c: np.concatenate([p["columns"][c] for p in mine]) for c in ("seed", *TRAJECTORY_COLUMNS)}
        for p in mine:  # the runs' columns (views of their task's), no longer needed
            p["columns"] = None
        strategy = pd.Categorical.from_codes(np.zeros(len(cols["seed"]), dtype=np.int8), categories=[spec.strategy])
        frame = pd.DataFrame({"strategy": strategy, **cols}, copy=False)  # the concatenated columns, not copies
        del cols
        if spec.latency is not None:
            lat = np.append(latency_of(spec.latency, spec.latency_batch, spec.latency_stat)[0], np.nan)  # [-1] -> NaN
            frame["latency"] = lat[frame["arch_index"].to_numpy()]
            frame["incumbent_latency"] = lat[frame["incumbent_index"].to_numpy()]
        eval_info = None
        if evaluation is not None:
            bench = tables[evaluation.table or spec.table]  # loaded and checked before the runs
            frame[evaluation.column], frame[evaluation.regret_column], eval_info = incumbent_metric(
                frame["incumbent_index"].to_numpy(), bench, evaluation, _feasible(spec))
        runs = {key: [v for p in mine for v in p[key]] for key in
                ("seeds", "rows", "end_time", "stop_reason", "strategy_seconds", "wall_seconds")}
        manifest = _manifest(spec, tables[spec.table], seeds, mine[0]["fidelities"], runs, eval_info, evaluation,
                             len(frame), sources)
        timing = {
            "note": "wall-clock measurements of this execution; they vary between executions and are not results. A "
                    "resumed execution read runs_resumed runs back from a stopped one: wall_seconds_all_specs covers "
                    "only the runs replayed now, the per-run sums all runs, as each was measured",
            "backend": backend, "processes": pool_size, "runs": len(seeds), "queries": int(len(frame)),
            "wall_seconds_all_specs": wall, "specs_in_call": len(specs),
            "runs_resumed": resumed[k],
            **({"staging_failed": f"finished runs could not be kept in {partial} ({staging_failed[0]}): this "
                                  "execution went on without staging them"} if staging_failed else {}),
            "run_wall_seconds_sum": float(np.sum(runs["wall_seconds"])),
            "strategy_seconds_sum": float(np.sum(runs["strategy_seconds"])),
            "strategy_seconds_per_run_mean": float(np.mean(runs["strategy_seconds"])),
            "queries_per_second_per_process": float(len(frame) / max(np.sum(runs["wall_seconds"]), 1e-12)),
            "python": platform.python_version(), "cpus": os.cpu_count(),
        }
        out.append(SearchResults(frame, manifest, timing))
    return out


def _source_sha256(cls: type) -> str | None:
    """sha256 over the source files of strategy class ``cls`` (:func:`~.source_files.class_source_files`:
    its file, its base classes' files, and the project modules they import, such as the predictors a
    model-guided strategy fits): a changed strategy, base or helper with unchanged settings shows in the
    manifest. None when a class has no readable source file (defined in a notebook or in ``python -``)."""
    files = class_source_files(cls)
    return None if files is None else files_sha256(files)


def _manifest(spec: SearchSpec, bench: "Benchmark", seeds: Sequence[int], fidelities: list[int],
              runs: dict[str, list], eval_info: dict[str, Any] | None, evaluation: EvalSpec | None,
              rows: int, sources: dict[type, str | None] | None = None) -> dict[str, Any]:
    """The manifest of ``spec``'s runs; ``sources`` keeps the source_sha256 of each strategy class met (the
    specs of one call share it: their files do not change in between)."""
    strategy = make_strategy(spec.strategy, dict(spec.settings))
    sources = {} if sources is None else sources
    if type(strategy) not in sources:
        sources[type(strategy)] = _source_sha256(type(strategy))
    reasons: dict[str, int] = {}
    for r in runs["stop_reason"]:
        reasons[r] = reasons.get(r, 0) + 1
    columns = dict(COLUMNS)
    latency = None
    if spec.latency is not None:
        _, source, key = latency_of(spec.latency, spec.latency_batch, spec.latency_stat)
        latency = {"argument": spec.latency, "key": key, "source": source, "batch": spec.latency_batch,
                   "statistic": spec.latency_stat, "max_latency_ms": spec.max_latency,
                   "seen_by_strategy": "Result.latency of every told result",
                   "incumbent_rule": None if spec.max_latency is None else
                   "best result with latency <= max_latency_ms; -1 until one is found"}
        columns["latency"] = "latency (ms) of the queried cell, from the latency source"
        columns["incumbent_latency"] = "latency (ms) of the incumbent (NaN when there is none)"
    if evaluation is not None:
        columns[evaluation.column] = "evaluation metric of the incumbent (see evaluation), read after the run"
        columns[evaluation.regret_column] = (  # >= 0 either way: a loss's regret is metric - optimum
            "evaluation table optimum minus the incumbent's evaluation metric" if higher_is_better(evaluation.measure)
            else "the incumbent's evaluation metric minus the evaluation table optimum (lower is better)")
    search = {"table": bench.name, "table_argument": os.fspath(spec.table), "content_hash": bench.content_hash,
              "objective": spec.objective, "search_epochs": jsonable(spec.search_epochs), "fidelities": fidelities,
              "latency": latency}
    if bench.manifest.get("valtest_as_valid") is True:  # only then: every other manifest stays as it was
        search[VALID_FROM_ORI_TEST] = True
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "search": search,
        "strategy": {"name": spec.strategy, "class": f"{type(strategy).__module__}.{type(strategy).__qualname__}",
                     "source_sha256": sources[type(strategy)], "settings": jsonable(strategy.settings())},
        "seeds": {"count": len(seeds), "ranges": format_int_list(seeds)},
        "budget": spec.budget.describe(),
        "workers": jsonable(spec.workers),
        "randomness": {"run": "SeedSequence(run seed).spawn(2): the strategy's Generator and the table-seed hash key",
                       "table_seed": "common random numbers: hash of (run seed, arch, visit count) over the seeds "
                                     "holding a result; a continued trial keeps its seed"},
        "cost": "table training seconds of the new epochs + one validation pass at the queried epoch, plus any "
                "Query.charge the strategy added (e.g. a warm start's proxy seconds)",
        "evaluation": eval_info,
        "rows": rows,
        "runs": {"stop_reasons": dict(sorted(reasons.items())),
                 "results_per_run": {"min": int(min(runs["rows"])), "max": int(max(runs["rows"])),
                                     "mean": float(np.mean(runs["rows"]))},
                 "end_time": {"max": float(max(runs["end_time"])), "mean": float(np.mean(runs["end_time"]))}},
        "columns": columns,
        "platform": {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "numpy": np.__version__},
    }


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
