"""``nasbench compare``: run a :class:`~nasbench_suite.compare_config.CompareConfig` into a runs folder.

Layout of ``RUNS`` (what ``nasbench report RUNS`` reads, and nothing else)::

    RUNS/compare.json                 config, table hash, package version, machine, latency source
    RUNS/replayed/<label>/            one `nasbench search` result per strategy entry
        trajectories.parquet  manifest.json  timing.json
    RUNS/weight_sharing/<method>/     one `nasbench darts` result per method (measured cost)
        trajectories.parquet  manifest.json  timing.json
    RUNS/.replayed.partial/           while a compare runs (or after one was stopped): its finished replayed
                                      runs, read back by the rerun (see partial_runs); never a result

Replayed strategies run every config seed over one process pool (:func:`~nasbench_suite.search.run_many`);
their files are a pure function of the config and the table. Weight-sharing methods are real
computations whose ``measured_seconds`` change from one execution to the next; a runs folder that
already holds a method's finished run for the same table, machine and weight-sharing config keeps it
(the measurement is not repeated), so running a config twice into one folder gives identical files. With
``workers = 1`` every run is made in the compare's own process (no worker process is started).
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from . import jsonread
from .compare_config import _NAME, MAX_BOOTSTRAP, CompareConfig, ConfigError
from .errors import NasBenchError
from .partial_runs import remove_partial
from .pools import spawn_pool
from .store import atomic_write_bytes, atomic_write_text

COMPARE_FILE = "compare.json"
CELLS_FILE = "cells.parquet"
FORMAT = "nasbench-compare"
FORMAT_VERSION = 1
REPLAYED = "replayed"
PARTIAL = f".{REPLAYED}.partial"
"""Staging folder in ``RUNS``: the replayed runs finished so far (see :mod:`.partial_runs`), read back by a
rerun of a stopped compare; removed once the compare is done."""
WEIGHT_SHARING = "weight_sharing"


class CompareError(NasBenchError, ValueError):
    """A comparison cannot run or its runs folder cannot be read."""


def machine() -> dict[str, Any]:
    """This machine's latency fingerprint (CPU, cores, torch, python; see :func:`latency.fingerprint`)."""
    from .latency import fingerprint

    return fingerprint("cpu", threads=1)


def resolve_latency(source: str, bench: Any) -> tuple[str | None, dict[str, Any] | None]:
    """The latency argument (as ``nasbench search --latency`` takes it) a config's ``latency.source``
    means for ``bench``, and a description of it for the report.

    ``auto`` takes a shipped latency folder measured for the table's network (same macro config) on
    this machine's fingerprint, else one measured on another machine (``kind: another machine``),
    else none. A folder or a third-party ``FILE.csv:COLUMN`` is taken as given."""
    from dataclasses import asdict

    from .latency import (LatencyError, check_same_network, config_of_table, latency_identity, load_latency,
                          shipped_latency_folders)
    from .search import latency_of

    if source == "none":
        return None, None
    if ".csv:" in source:
        _, description, key = latency_of(source)
        return source, {"name": Path(source).name, "key": key, "source": description, "kind": "third-party"}
    if source == "auto":
        try:
            want = asdict(config_of_table(bench.manifest))
        except LatencyError:  # a table that records no network shape (e.g. a reference table)
            return None, None
        mine = machine()["hash"]
        found = []
        for p in shipped_latency_folders():
            identity = latency_identity(p)
            if identity.get("config") == want:
                found.append((identity["fingerprint"]["hash"] != mine, p.name, p))
        if not found:
            return None, None
        folder = min(found)[2]
        argument = folder.name  # a shipped folder, by name: the manifests hold no machine-specific path
    else:
        folder = Path(source)
        # a shipped folder named by its name (load_latency finds it) stays a name, as auto's: resolved, it was a path
        # in the working folder, where there is no such folder, and every run failed
        argument = str(folder.resolve()) if folder.exists() else source
    table = load_latency(folder)
    if source != "auto":  # auto picks a folder of the table's own network
        check_same_network(table, folder, bench.manifest, bench.name)
    key = table.identity["fingerprint"]["hash"]
    return argument, {"name": folder.name, "key": key, "source": table.source,
                      "kind": "this machine" if key == machine()["hash"] else "another machine"}


def _ws_run(args: tuple[str, str, tuple[int, ...], int, dict[str, Any]]) -> Any:
    from .weight_sharing import SearchSettings, run_weight_sharing, split_loop_settings

    table, method, seeds, epochs, settings = args
    loop, method_settings = split_loop_settings(settings)
    return run_weight_sharing(table, method, seeds, SearchSettings(epochs, **loop), method_settings)


def _ws_identity(cfg: CompareConfig, content_hash: str) -> dict[str, Any]:
    """What finished weight-sharing runs must share to be kept: table, machine, settings and code."""
    from .weight_sharing import source_sha256

    return {"table_hash": content_hash, "machine": machine()["hash"],
            "weight_sharing": cfg.to_dict()["weight_sharing"],
            "source_sha256": {m: source_sha256(m) for m in cfg.weight_sharing.methods}}


WS_STAGING = f".{WEIGHT_SHARING}.tmp"
WS_IDENTITY = ".identity.json"
"""The identity (:func:`_ws_identity`) of the weight-sharing runs in their staging folder."""


def _ws_staging(runs: Path, identity: dict[str, Any]) -> Path:
    """``runs/.weight_sharing.tmp``, where each weight-sharing method's runs are written as it finishes,
    and moved into place once all have: a compare stopped in between keeps the finished methods (each
    can take hours), and the same compare run again runs only the others. A folder of another identity
    (config, table, machine, code) is emptied first."""
    tmp = runs / WS_STAGING
    text = json.dumps(identity, sort_keys=True)
    try:
        same = (tmp / WS_IDENTITY).read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        remove_partial(tmp)
        tmp.mkdir(parents=True)
        atomic_write_text(tmp / WS_IDENTITY, text)
    return tmp


def _reusable_ws(runs: Path, identity: dict[str, Any]) -> bool:
    """True if ``runs`` holds finished weight-sharing runs made under ``identity``."""
    try:
        return read_compare(runs).get("weight_sharing_identity") == identity
    except CompareError:
        return False


def _run_ws_jobs(jobs: list[tuple[str, str, tuple[int, ...], int, dict[str, Any]]], workers: int, tmp: Path,
                 progress: bool) -> None:
    """Run the weight-sharing ``jobs`` and write each method's runs into ``tmp`` as it finishes, in job order.
    With ``workers`` 1, one after another in this process, as the replays are (a spawned worker process
    gains nothing there and costs seconds to start: it imports torch); else over a pool of spawned processes.
    A stop (Ctrl-C, ``kill PID``) ends either at once, keeping the methods already written."""
    from tqdm import tqdm

    def write(results: Iterator[Any]) -> None:
        for job, result in tqdm(zip(jobs, results), total=len(jobs), unit="method", desc="weight sharing",
                                disable=not progress):
            remove_partial(tmp / job[1])  # what a stop while writing it left
            result.write(tmp / job[1])

    if workers <= 1:
        write(_ws_run(job) for job in jobs)  # lazily: each method is written before the next one starts
        return
    with spawn_pool(min(workers, len(jobs))) as pool:
        write(pool.map(_ws_run, jobs))


def _write_cells(bench: Any, latency: str, batch: int, path: Path) -> None:
    """Every cell's table test accuracy (last epoch, mean over seeds) and latency, with the table's
    Pareto front marked: the background of the report's accuracy-vs-latency view."""
    import numpy as np
    import pandas as pd

    from .pareto import non_dominated
    from .search import latency_of

    acc = bench.array("test", "acc", epoch=bench.max_epoch)
    lat = latency_of(latency, batch)[0][bench.arch_indices]
    ok = np.isfinite(acc) & np.isfinite(lat)
    frame = pd.DataFrame({"arch_index": bench.arch_indices[ok].astype(np.int64), "test_acc": acc[ok],
                          "latency_ms": lat[ok]})
    frame["pareto"] = non_dominated(frame["test_acc"].to_numpy(), frame["latency_ms"].to_numpy())
    atomic_write_bytes(path, frame.to_parquet(index=False, compression="zstd"))


def run_compare(cfg: CompareConfig, runs: Path, *, progress: bool = False, keep_partial: bool = False) -> Path:
    """Run every strategy of ``cfg`` (and its weight-sharing methods) into ``runs``; returns ``runs``. The
    replayed runs are staged in ``runs/.replayed.partial`` as they finish, and a call stopped before its end
    is resumed from them; the folder is removed at the end, unless ``keep_partial`` (``nasbench compare``
    removes it once the report is built too)."""
    from .evaluation import EvalSpec
    from .search import TIMING_FILE, SearchSpec, run_many
    from .simulator import Budget
    from .table import load_table

    bench = load_table(cfg.table)
    if cfg.weight_sharing:  # before the replays, not after them
        from .weight_sharing import check_covers_every_cell, table_protocol

        table_protocol(bench)
        check_covers_every_cell(bench)
    latency, latency_info = resolve_latency(cfg.latency, bench)
    if latency is None and any(s.name == "nsga2" for s in cfg.strategies):
        raise ConfigError("config field strategy: nsga2 needs a latency source, and latency.source gives none "
                          f"for table {bench.name!r}")
    if latency is None and cfg.latency_batch != 1:  # else the batch asked for would be dropped without a word
        raise ConfigError(f"config field latency.batch: batch {cfg.latency_batch} chooses among latencies, and "
                          f"latency.source {cfg.latency!r} gives none for table {bench.name!r}")
    budget = Budget(cfg.budget_seconds, cfg.budget_queries, cfg.overrun)
    specs = [SearchSpec(cfg.table, s.name, budget, dict(s.settings), cfg.sim_workers,
                        latency=latency,
                        latency_batch=cfg.latency_batch) for s in cfg.strategies]
    if runs.exists() and not runs.is_dir():
        raise CompareError(f"{runs} exists and is not a folder")
    partial = runs / PARTIAL  # the runs finished so far, read back by a rerun of a stopped compare
    results = run_many(specs, cfg.seeds, processes=cfg.workers, evaluation=EvalSpec(), progress=progress,
                       partial=partial)
    runs.mkdir(parents=True, exist_ok=True)
    # written beside the runs they replace, then put in place: a compare stopped while writing them (0.35 s
    # for 9 strategies x 500 seeds) left compare.json's config beside some strategies' new runs, others' gone
    replayed, tmp = runs / REPLAYED, runs / f".{REPLAYED}.tmp"
    remove_partial(tmp)
    for entry, result in zip(cfg.strategies, results):
        result.write(tmp / entry.label)
    if replayed.exists():
        shutil.rmtree(replayed)
    tmp.replace(replayed)

    identity = _ws_identity(cfg, bench.content_hash) if cfg.weight_sharing else None
    ws_dir = runs / WEIGHT_SHARING
    if identity is None or not _reusable_ws(runs, identity):
        if ws_dir.exists():
            shutil.rmtree(ws_dir)
        (runs / COMPARE_FILE).unlink(missing_ok=True)  # no stale identity while the new runs are made
    if identity is None:
        remove_partial(runs / WS_STAGING)  # what a stopped compare of another config left
    staged = None  # the weight-sharing runs made now, put in place once compare.json names their identity
    if identity is not None and not ws_dir.is_dir():
        ws = cfg.weight_sharing
        tmp = _ws_staging(runs, identity)
        jobs = [(cfg.table, m, ws.seeds, ws.epochs, dict(ws.settings.get(m, {}))) for m in ws.methods
                if not (tmp / m / TIMING_FILE).is_file()]  # written last: a method a stopped compare finished
        if jobs:
            _run_ws_jobs(jobs, cfg.workers, tmp, progress)
        staged = tmp

    if latency is not None:
        _write_cells(bench, latency, cfg.latency_batch, runs / CELLS_FILE)
    else:
        (runs / CELLS_FILE).unlink(missing_ok=True)
    record = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "config": cfg.to_dict(),
        "table": _table_record(bench),
        "machine": machine(),
        "latency": latency_info,
        "replayed": [[s.label, f"{REPLAYED}/{s.label}"] for s in cfg.strategies],
        "weight_sharing": [[m, f"{WEIGHT_SHARING}/{m}"] for m in (cfg.weight_sharing.methods if cfg.weight_sharing else ())],
        "weight_sharing_identity": identity,
    }
    atomic_write_text(runs / COMPARE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    if staged is not None:  # a stop before this line: the rerun finds them staged, after it: in place
        staged.replace(ws_dir)
    (ws_dir / WS_IDENTITY).unlink(missing_ok=True)
    if not keep_partial:
        remove_partial(partial)  # with what a stopped compare of another config left there
    return runs


def _table_record(bench: Any) -> dict[str, Any]:
    """Name, content hash and description of the table; for one that holds only some cells, how many
    (the report says the strategies searched only those), a key a full table's record leaves out."""
    from .space import NUM_ARCHS, isomorphism_classes

    record: dict[str, Any] = {"name": bench.name, "content_hash": bench.content_hash,
                              "description": bench.manifest.get("description", "")}
    if bench.num_archs < NUM_ARCHS:
        record["cells"] = int(bench.num_archs)
        record["classes"] = len(set(isomorphism_classes().class_of[bench.arch_indices].tolist()))
    return record


def read_compare(runs: Path) -> dict[str, Any]:
    """The ``compare.json`` of a runs folder, with a clear error if there is none."""
    path = Path(runs) / COMPARE_FILE
    try:
        record = jsonread.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (Path(runs) / "runs" / COMPARE_FILE).is_file():  # the compare output folder given instead of its runs
            raise CompareError(f"{runs} is a compare output folder, not its runs folder: give {Path(runs) / 'runs'}") from None
        raise CompareError(f"{runs} is not a compare runs folder: no {COMPARE_FILE} (make one with nasbench compare)") from None
    except (OSError, ValueError) as e:
        raise CompareError(f"cannot read {path}: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CompareError(f"{path} is not a {FORMAT} record")
    if record.get("format_version") != FORMAT_VERSION:
        raise CompareError(f"{path} has format version {record.get('format_version')}; this nasbench_suite reads "
                           f"{FORMAT_VERSION}")
    wrong = [f"{k} should be an object" for k in ("config", "table", "machine") if not isinstance(record.get(k), dict)]
    wrong += [f"{k} should be a list of [label (letters, digits, '.', '_', '-'), folder inside the runs folder] pairs"
              for k in (REPLAYED, WEIGHT_SHARING) if not _run_list(record.get(k))]
    if not wrong:
        wrong = _record_problems(record)
    if wrong:  # a KeyError or TypeError traceback in the report before; a run named outside RUNS was read
        raise CompareError(f"{path} is damaged: {'; '.join(wrong)}; make the runs again with nasbench compare into "
                           "a new folder")
    return record


def _record_problems(record: dict[str, Any]) -> list[str]:
    """The fields of a ``compare.json`` (its object already checked) that the report reads and that are missing
    or of the wrong kind: a KeyError, TypeError or numpy ValueError traceback while the report was built
    (``config.bootstrap`` of 10**20, ``config.alpha`` a string, no ``package_version``...)."""
    from .simulator import OVERRUN_POLICIES

    def integer(x: Any, low: int, high: float = math.inf) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and low <= x <= high

    def number(x: Any, low: float, high: float) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and low < x < high

    def seeds(x: Any) -> bool:
        return isinstance(x, list) and bool(x) and all(integer(s, 0) for s in x)

    def text(x: Any) -> bool:
        return isinstance(x, str)

    cfg, table, machine, latency = record["config"], record["table"], record["machine"], record.get("latency")
    absent = object()
    checks = [
        ("package_version", record.get("package_version"), text),
        ("config.name", cfg.get("name"), lambda x: text(x) and _NAME.match(x) is not None),
        ("config.seeds", cfg.get("seeds"), seeds),
        ("config.strategies", cfg.get("strategies"), lambda x: isinstance(x, list) and bool(x)),
        # null when not given, but never absent (a missing key passed as null: KeyError tracebacks later)
        ("config.budget_seconds", cfg.get("budget_seconds", absent), lambda x: x is None or number(x, 0.0, math.inf)),
        ("config.budget_queries", cfg.get("budget_queries", absent), lambda x: x is None or integer(x, 1)),
        ("config.overrun", cfg.get("overrun"), lambda x: x in OVERRUN_POLICIES),
        ("config.sim_workers", cfg.get("sim_workers"), lambda x: integer(x, 1)),
        ("config.latency_batch", cfg.get("latency_batch"), lambda x: integer(x, 1)),
        ("config.bootstrap", cfg.get("bootstrap"), lambda x: integer(x, 100, MAX_BOOTSTRAP)),
        ("config.alpha", cfg.get("alpha"), lambda x: number(x, 0.0, 0.5)),
        ("config.weight_sharing", cfg.get("weight_sharing"),
         lambda x: x is None or (isinstance(x, dict) and seeds(x.get("seeds")))),
        ("table.name", table.get("name"), text),
        ("table.content_hash", table.get("content_hash"), text),
        ("table.description", table.get("description"), text),
        ("table.cells", table.get("cells", 0), lambda x: integer(x, 0)),  # both only for a table of some cells
        ("table.classes", table.get("classes", absent if "cells" in table else 0), lambda x: integer(x, 0)),
        ("machine.cpu", machine.get("cpu"), text),
        ("machine.hash", machine.get("hash"), text),
        ("latency", latency, lambda x: x is None or (
            isinstance(x, dict) and x.get("kind") in ("this machine", "another machine", "third-party")
            and text(x.get("key")) and text(x.get("name")))),
    ]
    wrong = [f"{name} is missing or out of range" for name, value, ok in checks if not ok(value)]
    if not wrong and cfg["budget_seconds"] is None and cfg["budget_queries"] is None:
        wrong.append("config has neither budget_seconds nor budget_queries")
    return wrong


def _run_list(value: Any) -> bool:
    """Whether ``value`` is a list of [label, folder] pairs, each label one a config accepts and each folder
    a relative path inside the runs folder (no '..', not absolute: a received compare.json named /elsewhere
    or ../other, and the report read and showed the runs there; a label '=HYPERLINK(...)' went into
    final.csv as a spreadsheet formula)."""
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)
        and _NAME.match(pair[0]) is not None
        and not Path(pair[1]).is_absolute() and ".." not in Path(pair[1]).parts for pair in value)
