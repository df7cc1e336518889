"""The ``nasbench`` command. User errors become one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import signal
import sqlite3
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Sequence

from . import jsonread
from .errors import NasBenchError, require_device, stopped_in
from .intlist import parse_int_list

if TYPE_CHECKING:
    from .evaluation import EvalSpec
    from .space import Arch
    from .table import Benchmark
    from .train import Protocol

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class UsageError(NasBenchError):
    """A command-line argument is invalid."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, a scheduler's stop), raised where Ctrl-C would be, so the same cleanup
    runs: open stores close, worker processes are stopped, finished results stay stored."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _print(payload: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """``--json``: strict JSON (non-finite numbers, such as the -inf proxy score of a disconnected cell,
    become null); otherwise ``render``'s text."""
    if as_json:
        from .search import jsonable

        print(json.dumps(jsonable(payload), indent=2, sort_keys=True, allow_nan=False))
    else:
        print(render(payload))


# ----- info ----------------------------------------------------------------------------------------
def _info_payload(bench: "Benchmark") -> dict[str, Any]:
    from .space import NUM_ARCHS, isomorphism_classes

    iso = isomorphism_classes()
    m = bench.manifest
    size = sum(p.stat().st_size for p in bench.path.iterdir() if p.is_file())
    optimum = {}
    for split in bench.splits:
        if "acc" in bench.measures(split):
            arch, value = bench.optimum(split, "acc")
            optimum[split] = {"arch_index": arch.index, "arch_str": str(arch), "acc": round(value, 4)}
    return {
        **_agreement(bench),
        "name": bench.name,
        "path": str(bench.path),
        "description": m.get("description", ""),
        "schema_version": m["schema_version"],
        "content_hash": bench.content_hash,
        "manifest_hash": m.get("manifest_hash"),
        "size_bytes": size,
        "archs": bench.num_archs,
        "coverage": f"{bench.num_archs}/{NUM_ARCHS} cells, "
                    f"{len(set(iso.class_of[bench.arch_indices].tolist()))}/{iso.num_classes} isomorphism classes",
        "seeds": list(bench.seeds),
        "epochs": bench.max_epoch,
        "splits": {s: list(bench.measures(s)) for s in bench.splits},
        "per_arch_values": list(bench.scalar_names),
        "dataset": m.get("dataset", {}),
        "protocol": m.get("protocol", {}),
        "hardware": m.get("hardware", {}),
        "compute": m.get("compute", {}),
        "best_final_acc_mean_over_seeds": optimum,
        **({"partial": m["partial"]} if "partial" in m else {}),
    }


def _agreement(bench: "Benchmark") -> dict[str, Any]:
    """Spread of the final valid accuracy over trained archs and its seed-to-seed Kendall tau.

    In a table whose members were filled from their isomorphism-class representative (it has a
    ``trained_as`` value per arch), only the trained cells count: copies would inflate the tau.
    """
    import numpy as np
    from scipy.stats import kendalltau

    if "valid" not in bench.splits or "acc" not in bench.measures("valid"):
        return {}
    trained = bench.trained_rows()
    final = bench.array("valid", "acc", epoch=bench.max_epoch)[trained]
    final = final[~np.isnan(final)]
    out: dict[str, Any] = {"final_valid_acc": {
        "cells": int(final.size), "min": round(float(final.min()), 3), "median": round(float(np.median(final)), 3),
        "max": round(float(final.max()), 3), "std": round(float(final.std()), 3)}}
    per_seed = [bench.array("valid", "acc", epoch=bench.max_epoch, seed=s)[trained] for s in bench.seeds]
    taus = []
    for i in range(len(per_seed)):
        for j in range(i + 1, len(per_seed)):
            ok = ~(np.isnan(per_seed[i]) | np.isnan(per_seed[j]))
            if ok.sum() > 2:
                taus.append(float(kendalltau(per_seed[i][ok], per_seed[j][ok]).statistic))
    if taus:
        out["seed_kendall_tau_final_valid_acc"] = round(float(np.mean(taus)), 4)
    return out


def _render_info(p: dict[str, Any]) -> str:
    lines = [f"table      {p['name']}  ({p['path']})"]
    if p["description"]:
        lines.append(f"about      {p['description']}")
    lines += [
        f"coverage   {p['coverage']}",
        *([f"PARTIAL    {p['partial']['finished_results']}/{p['partial']['planned_results']} results of a run in "
           "progress: not a release"] if "partial" in p else []),
        f"seeds      {', '.join(map(str, p['seeds']))}",
        f"epochs     1..{p['epochs']}",
        "splits     " + "; ".join(f"{s}: {', '.join(ms)}" for s, ms in p["splits"].items()),
        f"per arch   {', '.join(p['per_arch_values']) or '-'}",
    ]
    for key in ("dataset", "protocol", "hardware", "compute"):
        for part in p[key].get("machines") or [p[key]]:  # a run made on several machines: a line each
            if key == "dataset":  # the dataset's default, which a protocol's own augment overrides
                part = {("augment_default" if k == "augment" else k): v for k, v in part.items()}
            items = [f"{k}={v}" for k, v in part.items() if not isinstance(v, (dict, list)) and len(str(v)) <= 70]
            if items:
                lines.append(f"{key:<10} " + ", ".join(items))
            for node in part.get("ray_nodes", []) if key == "hardware" else []:  # the nodes that trained
                lines.append("ray node   " + ", ".join(f"{k}={v}" for k, v in {"node": node.get("node"), **node}.items()))
    for split, best in p["best_final_acc_mean_over_seeds"].items():
        lines.append(f"best {split:<5} {best['acc']:.2f}% at epoch {p['epochs']}: arch {best['arch_index']} {best['arch_str']}")
    if "final_valid_acc" in p:
        f = p["final_valid_acc"]
        lines.append(f"spread     final valid acc (mean of seeds, {f['cells']} trained cells) min {f['min']:.2f}, median {f['median']:.2f}, "
                     f"max {f['max']:.2f}, std {f['std']:.2f}")
    if "seed_kendall_tau_final_valid_acc" in p:
        lines.append(f"seeds      Kendall tau between seeds of final valid acc: {p['seed_kendall_tau_final_valid_acc']:.3f}")
    lines.append(f"integrity  {p['content_hash']} (verified)")
    lines.append(f"manifest   {p['manifest_hash']} (verified)" if p["manifest_hash"] else
                 "manifest   no manifest_hash (written before 2026-12-05): its labels are not checked")
    lines.append(f"size       {p['size_bytes'] / 2**20:.1f} MiB")
    return "\n".join(lines)


def _with_proxies(bench: "Benchmark") -> "Benchmark":
    """The table with its stored zero-cost proxies (if any) as per-arch values ``zc_<proxy>``."""
    from .proxy_store import stored_for

    proxies = stored_for(bench)
    if proxies is not None:
        proxies.attach(bench)
    return bench


def cmd_info(args: argparse.Namespace) -> None:
    from .run_progress import is_run_folder, snapshot
    from .table import load_table

    if is_run_folder(args.table):
        _print(snapshot(args.table).progress(), args.json, _render_progress)
        return
    from .folder_kind import RUN, TABLE, described, folder_kind

    found = folder_kind(Path(args.table))
    if found is not None and found[0] not in (RUN, TABLE):  # else the table reader's complaint about its manifest
        raise UsageError(f"{args.table} is {described(found)}; nasbench info shows a table or a pre-evaluation "
                         "run folder")
    _print(_info_payload(_with_proxies(load_table(args.table))), args.json, _render_info)


def _render_progress(p: dict[str, Any]) -> str:
    proto = p["protocol"]
    pct = 100.0 * p["finished_results"] / p["planned_results"]
    shown = dict(proto)
    if shown.get("augment", False) is None and "augment" in p["dataset"]:  # None: the dataset's own default
        shown["augment"] = f"{p['dataset']['augment']} (the dataset's default)"
    lines = [
        f"run        {p['run']}  (pre-evaluation run folder, {'complete' if p['complete'] else 'in progress'})",
        f"dataset    {p['dataset']['name']} (sha256 {p['dataset']['sha256'][:12]}...)",
        "protocol   " + ", ".join(f"{k}={shown[k]}" for k in ("channels", "cells", "epochs", "batch_size",
                                                             "train_subset", "augment") if k in shown),
        f"selection  {_shorten(p['selection'], 60)}: {p['archs']} archs x seeds {', '.join(map(str, p['seeds']))}",
        f"finished   {p['finished_results']}/{p['planned_results']} (arch, seed) results ({pct:.1f}%): "
        + ", ".join(f"seed {s} {n}" for s, n in p["finished_per_seed"].items()),
        f"compute    {p['measured_seconds'] / 3600:.2f} h measured in finished results; {p['sessions']} session{'s' if p['sessions'] != 1 else ''}, "
        f"{p['session_wall_seconds'] / 3600:.2f} h wall, on {', '.join(p['devices']) or '-'}",
    ]
    if p["results_per_hour"] is not None and not p["complete"]:
        hours = p["hours_left_at_that_rate"]
        left = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"  # a short run: not "0.0 h"
        lines.append(f"rate       {p['results_per_hour']:.0f} results/hour over its sessions: about "
                     f"{left} left at that rate")
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    """``text``, or the items of a long comma-separated list that fit in ``width`` characters, then "..."."""
    return text if len(text) <= width else text[:width].rsplit(",", 1)[0] + ",..."


# ----- query ---------------------------------------------------------------------------------------
def _or_missing(read: Callable[..., float], *args: Any, **kwargs: Any) -> float | None:
    """``read(*args, **kwargs)``, or None where the table has no recorded result (one NaN slot must not
    hide the arch's other values)."""
    from .errors import MissingResultError

    try:
        return read(*args, **kwargs)
    except MissingResultError:
        return None


def _fmt(value: float | None, spec: str) -> str:
    return "missing" if value is None else format(value, spec)


def _parse_arch(text: str) -> Arch:
    """Arch.parse, with an index too long for int() refused as out of range rather than a ValueError."""
    from .errors import ArchError
    from .space import NUM_ARCHS, Arch

    digits = text.strip().lstrip("+-").lstrip("0")
    if digits.isascii() and digits.isdecimal() and len(digits) > len(str(NUM_ARCHS)):
        raise ArchError(f"architecture index {text.strip()[:12]}... ({len(digits)} digits) is out of range "
                        f"0..{NUM_ARCHS - 1}")
    return Arch.parse(text)


def cmd_query(args: argparse.Namespace) -> None:
    from .table import load_table

    bench = _with_proxies(load_table(args.table))
    arch = _parse_arch(args.arch)
    bench.row(arch)
    epoch = bench.max_epoch if args.epoch is None else args.epoch
    splits = [args.split] if args.split else list(bench.splits)
    metrics: dict[str, float | None] = {}
    for split in splits:
        for measure in bench.measures(split):
            metrics[f"{split}_{measure}"] = _or_missing(bench.metric, arch, split, measure, epoch=epoch, seed=args.seed)
    payload: dict[str, Any] = {
        "table": bench.name, "arch_index": arch.index, "arch_str": str(arch), "epoch": epoch,
        "seed": "mean" if args.seed is None else args.seed, "metrics": metrics,
        "per_arch": {k: bench.scalar(arch, k) for k in bench.scalar_names},
    }
    if "seconds" in bench.measures("train"):
        payload["train_cost_seconds"] = _or_missing(bench.train_cost, arch, epoch=epoch, seed=args.seed)

    def render(p: dict[str, Any]) -> str:
        lines = [f"{p['arch_index']}  {p['arch_str']}", f"table {p['table']}, epoch {p['epoch']}, seed {p['seed']}"]
        lines += [f"  {k:<16} {_fmt(v, '.4f')}" for k, v in p["metrics"].items()]
        if "train_cost_seconds" in p:
            lines.append(f"  {'train cost (s)':<16} {_fmt(p['train_cost_seconds'], '.3f')}")
        lines += [f"  {k:<16} {v:g}" for k, v in p["per_arch"].items()]
        return "\n".join(lines)

    _print(payload, args.json, render)


# ----- export --------------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> None:
    from .store import place_file, private_temporary
    from .table import load_table

    out = Path(args.out)
    if out.suffix not in (".parquet", ".csv"):
        raise UsageError(f"--out must end in .parquet or .csv, got {out.name!r}")
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise UsageError(f"cannot write {out}: it is a folder")
    if out.exists() and not args.overwrite:  # as search and table build: before the table is read
        raise UsageError(f"{out} already exists; pass --overwrite to replace it")
    bench = load_table(args.table)
    tmp = private_temporary(out)  # two exports to one --out at once: each its own file, never both in one
    try:
        rows, columns = _write_export(bench, tmp, out.suffix)
        if not place_file(tmp, out, args.overwrite):
            raise UsageError(f"{out} already exists (written while this export ran); pass --overwrite to replace it")
    except OSError as exc:
        if exc.filename != str(tmp):
            raise
        raise type(exc)(exc.errno, exc.strerror, str(out)) from None  # --out, not the hidden file written first
    finally:
        with contextlib.suppress(OSError):  # a read-only folder refuses even this: the error above is the one
            tmp.unlink(missing_ok=True)
    print(f"wrote {rows} rows x {columns} columns to {out}")


EXPORT_BLOCK_ROWS = 2 ** 20
"""``nasbench export`` builds the rows of at most this many rows' worth of archs at once (pyarrow's default
row group), so its memory does not grow with the table: the whole table in one frame took 5.3 GB at
NAS-Bench-201's size (15,625 x 3 seeds x 200 epochs) for a 286 MiB table."""


def _write_export(bench: Any, path: Path, suffix: str) -> tuple[int, int]:
    """Write ``bench.to_frame()`` to ``path`` (Parquet or CSV by ``suffix``) a block of archs at a time;
    the file holds the same rows as the whole frame written at once. Returns (rows, columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    per_arch = len(bench.seeds) * len(bench.epochs)
    block = max(1, EXPORT_BLOCK_ROWS // per_arch)
    rows = columns = 0
    writer = None
    with open(path, "wb") as f:  # opened here: pyarrow encodes a path as UTF-8, not as the file system does
        try:
            for start in range(0, max(bench.num_archs, 1), block):
                frame = bench.to_frame(slice(start, start + block))
                if suffix == ".parquet":
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    writer = writer or pq.ParquetWriter(f, table.schema)
                    writer.write_table(table)
                else:
                    frame.to_csv(f, mode="wb", index=False, header=not start)
                rows, columns = rows + len(frame), frame.shape[1]
        finally:
            if writer is not None:
                writer.close()
    return rows, columns


# ----- describe ------------------------------------------------------------------------------------
def cmd_describe(args: argparse.Namespace) -> None:
    from .model import MacroConfig, describe

    config = MacroConfig(channels=args.channels, cells=args.cells, in_channels=args.in_channels,
                         resolution=args.resolution, num_classes=args.classes)
    payload = describe(_parse_arch(args.arch), config)

    def render(p: dict[str, Any]) -> str:
        c = p["config"]
        return "\n".join([
            f"index        {p['index']}",
            f"arch         {p['arch_str']}",
            f"canonical    {p['canonical_str']}",
            f"disconnected {p['disconnected']}",
            f"network      C={c['channels']} N={c['cells']} {c['in_channels']}x{c['resolution']}x{c['resolution']} -> {c['num_classes']} classes",
            f"params       {p['params']:,} ({p['params'] / 1e6:.6f} M)",
            f"FLOPs (MACs) {p['flops']:,.0f} ({p['flops'] / 1e6:.5f} M)",
        ])

    _print(payload, args.json, render)


# ----- pre-evaluate --------------------------------------------------------------------------------
PROTOCOL_FLAGS = ("channels", "cells", "epochs", "batch_size", "train_subset", "valid_subset")


def _protocol(args: argparse.Namespace) -> "Protocol":
    """The protocol of ``--protocol FILE.json`` (a protocol dict, or a run.json / manifest holding one),
    with ``--dataset`` and the protocol flags overriding its fields."""
    from dataclasses import fields

    from .train import Protocol

    spec: dict[str, Any] = {}
    if args.protocol:
        try:
            spec = jsonread.loads(Path(args.protocol).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read protocol file {args.protocol}: {exc}") from None
        spec = spec.get("identity", spec) if isinstance(spec, dict) else spec
        spec = spec.get("protocol", spec) if isinstance(spec, dict) else spec
        if not isinstance(spec, dict):
            raise UsageError(f"protocol file {args.protocol} must hold a JSON object of protocol fields")
        spec = {k: v for k, v in spec.items() if k != "recipe"}
        unknown = set(spec) - {f.name for f in fields(Protocol)}
        if unknown:
            raise UsageError(f"protocol file {args.protocol} has unknown fields {sorted(unknown)}; "
                             f"protocol fields are {', '.join(f.name for f in fields(Protocol))}")
        huge = sorted(k for k, v in spec.items() if isinstance(v, int) and not _fits_int64(v))
        if huge:  # as the flags (_int): else 10**22 epochs trained for ever, the result past SQLite's integers
            raise UsageError(f"protocol file {args.protocol}: {', '.join(huge)} must be an integer of at most 64 bits "
                             f"(-2**63..2**63 - 1), got {spec[huge[0]]}")
    spec.update({k: getattr(args, k) for k in ("dataset", *PROTOCOL_FLAGS) if getattr(args, k) is not None})
    if "dataset" not in spec:
        raise UsageError("name the dataset with --dataset (or in the --protocol file)")
    return Protocol(**spec)


def _check_table_target(table: Path, run_dir: Path, overwrite: bool) -> None:
    """Refuse, before any training, a ``--table`` that the build at the end could not write: the run
    folder or a folder holding it, an existing folder (without ``--overwrite``, or not a table), a path
    under a file, or a folder this process cannot write in (tried for real: a hidden folder made and
    removed, and any missing parents removed again)."""
    from .tablefile import check_replaceable, make_folder, remove_made, temporary_folder

    if _within(run_dir, table):
        raise UsageError(f"--table {table} is the run folder {run_dir} or holds it; give the table its own folder")
    check_replaceable(table, overwrite)
    made: list[Path] = []
    try:
        made = make_folder(table.parent)
        temporary_folder(table).rmdir()
    except OSError as exc:
        why, where = exc.strerror or str(exc), exc.filename
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            why, where = "a file is in the way of a folder it needs", next(
                (p for p in (table.parent, *table.parent.parents) if p.exists() and not p.is_dir()), where)
        elif where is None or Path(where).parent == table.parent:  # the hidden folder it tried
            where = table.parent
        raise UsageError(f"cannot write the table to {table}: {why} ({where}); give another --table") from None
    finally:
        remove_made(made)


def cmd_pre_evaluate(args: argparse.Namespace) -> None:
    from .pre_evaluate import RunSpec, build_from_store, run_pre_evaluation
    from .run_progress import is_run_folder

    if args.ray_address and args.backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    if args.add_seeds and not is_run_folder(args.out):  # else a new run of --seeds, not the run meant to grow
        raise UsageError(f"--add-seeds grows an existing run folder, and --out {args.out} is none (no run.json); "
                         "check --out, or leave --add-seeds out to start a new run there")
    spec = RunSpec(args.archs, tuple(_int_list(args.seeds)), _protocol(args), args.shard_size, args.batch_cells)
    workers = args.workers
    if workers is None:
        workers = 1 if args.device != "cpu" else max(1, min(2, os.cpu_count() or 1))
    if args.time_limit is not None and args.backend != "local":
        raise UsageError("--time-limit needs --backend local")
    unused = [f for f, given in (("--description", args.description is not None), ("--overwrite", args.overwrite)) if given]
    if unused and not args.table:  # else ignored without a word (and a run folder is resumed, never replaced)
        raise UsageError(f"{' and '.join(unused)} {'apply' if len(unused) > 1 else 'applies'} to the table --table "
                         "builds, which is not given (a run folder is resumed, never replaced); give --table or "
                         f"leave {'them' if len(unused) > 1 else 'it'} out")
    if args.table:
        _check_table_target(Path(args.table), Path(args.out), args.overwrite)  # before training, not after
    status = run_pre_evaluation(spec, args.out, data_dir=args.data_dir, backend=args.backend, workers=workers,
                                ray_address=args.ray_address, device=args.device, time_limit=args.time_limit,
                                add_seeds=args.add_seeds)
    print(f"run {status.run_dir}: {status.stored}/{status.planned} (arch, seed) results stored, "
          f"{status.written_now} by this command")
    if not status.complete and args.time_limit is not None:
        print("stopped at the time limit, between work units: run the same command again to resume"
              + ("; the table is built once the run is complete" if args.table else ""))
    elif args.table:
        _report_table(build_from_store(args.out, args.table, description=args.description or "",
                                       overwrite=args.overwrite))


def cmd_table_build(args: argparse.Namespace) -> None:
    from .pre_evaluate import build_from_store
    from .run_progress import build_partial_table

    build = build_partial_table if args.partial else build_from_store
    _outside_outputs(Path(args.out))
    _report_table(build(args.run_dir, args.out, name=args.name, description=args.description, overwrite=args.overwrite))


def _report_table(bench: "Benchmark") -> None:
    print(f"wrote table {bench.name} to {bench.path}: {bench.num_archs} archs x {len(bench.seeds)} seeds x "
          f"{bench.max_epoch} epochs ({bench.content_hash})")


def _int_list(text: str) -> list[int]:
    try:
        return parse_int_list(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _names(text: str | None, option: str, default: Collection[str]) -> list[str]:
    """The names of a comma-list option, ``default`` (all) when it was not given. Given but empty
    (``--proxies ""``, an unset shell variable) is refused, not read as all of them: that would start
    the longest run the command has."""
    if text is None:
        return list(default)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{option} names none ({text!r}); leave {option} out to use all: {', '.join(default)}")
    return names


# ----- search --------------------------------------------------------------------------------------
def _settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set key=value`` pairs; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        if key.strip() in out:  # the last one was taken, without a word
            raise UsageError(f"--set gives {key.strip()} twice ({pair!r}); give each setting once")
        try:
            out[key.strip()] = jsonread.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


EVAL_FLAGS = ("eval_table", "eval_split", "eval_measure", "eval_epoch")


def _evaluation(args: argparse.Namespace) -> "EvalSpec | None":
    """What ``--eval-*`` ask to read for the incumbents; None with ``--no-eval``, which takes none of them."""
    from .evaluation import EvalSpec

    given = {k: getattr(args, k) for k in EVAL_FLAGS if getattr(args, k) is not None}
    if args.no_eval:
        if given:
            raise UsageError(f"--no-eval reads no evaluation metric, so it cannot take "
                             f"{', '.join('--' + k.replace('_', '-') for k in given)}; drop one or the other")
        return None
    return EvalSpec(**{k.removeprefix("eval_"): v for k, v in given.items()})


def _report_folder(out: Path, kind: str) -> Path:
    """``out`` as the folder a report of ``kind`` is written into (compare, report, fidelity, estimators):
    never a file, never a folder holding a table (the report's files would be mixed into the table's) or
    another kind of output folder (:func:`~nasbench_suite.folder_kind.check_output_kind`)."""
    from .folder_kind import check_output_kind
    from .tablefile import holds_table

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; reports are written into a folder")
    if holds_table(out):
        raise UsageError(f"--out {out} holds a table (its manifest.json); write the report into another folder")
    check_output_kind(out, {kind})
    _outside_outputs(out)
    return out


def _within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (links resolved)."""
    return folder.resolve() in (path.resolve(), *path.resolve().parents)


def _outside_outputs(out: Path) -> None:
    """Refuse an ``--out`` inside another output folder (one with a marker,
    :func:`~nasbench_suite.folder_kind.folder_kind`): ``FID/figs`` of a fidelity report, ``RUN/sub`` of a run,
    ``RUNS/replayed/LABEL`` of a compare's runs. Its files were mixed among that folder's, which its own command
    rewrites or reads back: with ``--overwrite`` a search replaced a compare's stored runs of a strategy, and a
    report regenerated afterwards showed them without a word. A comparison report's folder is left out: it is
    the user's folder that holds ``runs/`` (``nasbench report DIR/runs --out DIR/report``), and its runs are
    caught as the compare runs folder they are."""
    from .folder_kind import COMPARE_REPORT, folder_kind

    for parent in out.resolve().parents:
        found = folder_kind(parent)
        if found is not None and found[0] != COMPARE_REPORT:
            kind, marker = found
            raise UsageError(f"--out {out} is inside the {kind} folder {parent} ({marker}); write into a folder of "
                             "its own")


def _output_lock(out: Path, purpose: str) -> Any:
    """The writer lock of a command's output folder (:func:`~nasbench_suite.run_lock.output_lock`), held for the
    whole command: a second command on the same folder stops at once with one line naming the first one's
    process, instead of both writing (and removing) the same files."""
    from .run_lock import output_lock

    return output_lock(out, purpose, f"it writes {out} when its work is done")


def _import_strategies(sources: Sequence[str]) -> None:
    """``--import``: each module or ``.py`` file imported (:func:`~nasbench_suite.strategy.import_strategies`), and
    refused when it registers no strategy: ``--import os`` (a typo, or the wrong module of a package) was taken
    without a word, and the command went on with the strategies known before."""
    from .strategy import StrategyError, import_strategies, strategy_names

    for source in sources:
        before = set(strategy_names())
        import_strategies([source])
        if set(strategy_names()) == before and not _holds_registered_strategy(source):
            raise StrategyError(f"--import {source}: the module registered no strategy (no class with "
                                "@register(NAME) in it or its submodules); import the module that defines yours")


def _holds_registered_strategy(source: str) -> bool:
    """Whether imported module ``source`` (a module name or a ``.py`` file) or one of its submodules defines a
    registered strategy class: one imported before registers no new name (``--import algorithms.rea``, the same
    ``--import`` given twice)."""
    from .strategy import registered_classes

    name = Path(source).stem if source.endswith(".py") else source
    return any(cls.__module__ == name or cls.__module__.startswith(f"{name}.")
               for cls in registered_classes().values())


def cmd_search(args: argparse.Namespace) -> None:
    from .partial_runs import remove_partial
    from .search import PARTIAL_DIR, SearchSpec, check_results_folder, run_notes, run_seeds
    from .simulator import Budget

    _import_strategies(args.imports)
    if args.ray_address and args.backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    if args.budget is None and args.max_queries is None:
        raise UsageError("give a budget: --budget SECONDS (simulated) and/or --max-queries N")
    if args.budget is None and args.overrun != "strict":  # else recorded in the manifest, without any effect
        raise UsageError(f"--overrun {args.overrun} says what happens at the seconds budget (--budget), which is not "
                         "given; give --budget or leave --overrun out")
    if args.latency is None and (args.latency_batch != 1 or args.latency_stat != "median_ms"):  # else unused
        raise UsageError(f"--latency-batch {args.latency_batch} and --latency-stat {args.latency_stat} choose among "
                         "the latencies of --latency, which is not given; give --latency or leave them out")
    out = Path(args.out)
    spec = SearchSpec(args.table, args.strategy, Budget(args.budget, args.max_queries, args.overrun),
                      _settings(args.set), args.sim_workers, args.objective, args.search_epochs,
                      args.latency, args.latency_batch, args.latency_stat, args.max_latency)
    evaluation = _evaluation(args)
    _outside_outputs(out)
    check_results_folder(out, args.overwrite)  # before the replay, not after it
    with _output_lock(out, "nasbench search"):
        check_results_folder(out, args.overwrite)  # a search that held the folder until now may have written it
        results = run_seeds(spec, _int_list(args.seeds), processes=args.workers, backend=args.backend,
                            evaluation=evaluation, ray_address=args.ray_address, partial=out / PARTIAL_DIR)
        results.write(out, overwrite=args.overwrite)
        remove_partial(out / PARTIAL_DIR)  # with what a stopped search of other settings left there
    final = results.final()
    t = results.timing
    print(f"wrote {len(results.frame)} rows ({t['runs']} runs of {args.strategy}) to {out / 'trajectories.parquet'} "
          f"with manifest.json and timing.json")
    if t["runs_resumed"]:
        print(f"resumed: {t['runs_resumed']} of {t['runs']} runs were read back from the stopped search's "
              f"{out / PARTIAL_DIR}, the others replayed")
    if "staging_failed" in t:
        print(f"note: {t['staging_failed']} (a stop would have lost them); the results are whole")
    for note in run_notes(args.strategy, results.manifest, final):
        print(f"note: {note}")
    empty = int((final["incumbent_index"] < 0).sum())
    if empty == len(final):  # constrained mode: no run found a cell within the latency limit
        print(f"no run found a cell within --max-latency {args.max_latency:g} ms in its budget: there is no "
              "incumbent to summarize (a larger budget or limit finds some)")
    elif empty:  # constrained mode: a run may end before it finds a cell within the latency limit
        print(f"{empty} of {len(final)} runs found no cell within --max-latency {args.max_latency:g} ms in their "
              f"budget: they have no incumbent, and the means below are over the other {len(final) - empty}")
    if empty < len(final):
        print(f"final search objective ({args.objective}): mean {final['incumbent_value'].mean():.3f} "
              f"+- {final['incumbent_value'].std(ddof=0):.3f} (std over runs, ddof 0; the compare report uses ddof 1)")
    if evaluation is not None and empty < len(final):
        e = results.manifest["evaluation"]
        col = final[evaluation.column]
        print(f"final incumbent {e['split']}_{e['measure']} on {e['table']} at epoch {e['epoch']}: mean {col.mean():.3f} "
              f"+- {col.std(ddof=0):.3f}; regret {final[evaluation.regret_column].mean():.3f}")
    print(f"{t['wall_seconds_all_specs']:.2f} s wall with {t['processes']} process(es) ({args.backend}), process start-up "
          f"included; inside the runs {t['queries_per_second_per_process']:,.0f} queries/s per process "
          "(timing.json)")


def cmd_darts(args: argparse.Namespace) -> None:
    from .search import check_results_folder
    from .weight_sharing import SearchSettings, run_weight_sharing, split_loop_settings

    out = Path(args.out)
    _outside_outputs(out)
    check_results_folder(out, args.overwrite)  # before the search, not after it
    require_device(args.device)
    loop, method_settings = split_loop_settings(_settings(args.set))
    settings = SearchSettings(args.epochs, channels=args.channels, cells=args.cells, batch_size=args.batch_size,
                              device=args.device, **loop)
    with _output_lock(out, "nasbench darts"):
        check_results_folder(out, args.overwrite)  # a run that held the folder until now may have written it
        results = run_weight_sharing(args.table, args.method, sorted(_int_list(args.seeds)), settings, method_settings,
                                     data_dir=args.data_dir, progress=sys.stderr.isatty())
        results.write(out, overwrite=args.overwrite)
    final = results.final()
    test, secs = final["incumbent_test_acc"], final["measured_time"]
    mix = final[[c for c in final.columns if c.startswith("ops_")]].sum()
    print(f"wrote {len(results.frame)} rows ({len(final)} runs of {args.method}, {args.epochs} epochs) to "
          f"{out / 'trajectories.parquet'} with manifest.json and timing.json")
    print(f"final derived cell, table test accuracy: mean {test.mean():.3f} +- {test.std(ddof=0):.3f} (std over runs, ddof 0)")
    print(f"measured search seconds per run on {args.device}: mean {secs.mean():.1f} +- {secs.std(ddof=0):.1f}")
    print("op mix of the final cells: " + ", ".join(f"{k[4:]} {int(v)}" for k, v in mix.items()))


def cmd_compare(args: argparse.Namespace) -> None:
    import time

    from .compare import COMPARE_FILE, PARTIAL, CompareError, read_compare, run_compare
    from .compare_config import config_text, load_config
    from .folder_kind import COMPARE_REPORT, COMPARE_RUNS, check_output_kind
    from .partial_runs import remove_partial
    from .report import build_report

    if args.print_default:  # the config --config names, else the embedded default
        ignored = [f for f, given in (("--out", args.out), ("--workers", args.workers is not None),
                                      ("--overwrite", args.overwrite), ("--import", args.imports)) if given]
        if ignored:  # else ignored without a word
            raise UsageError(f"--print-default prints the config and runs nothing, so it takes no {', '.join(ignored)}; "
                             "drop one or the other")
        print(config_text(args.config)[1], end="")
        return
    _import_strategies(args.imports)
    cfg = load_config(args.config)
    if args.workers is not None:
        import dataclasses

        cfg = dataclasses.replace(cfg, workers=args.workers)
    out = _report_folder(Path(args.out) if args.out else Path("nasbench-compare") / cfg.name, COMPARE_REPORT)
    runs = out / "runs"
    check_output_kind(runs, {COMPARE_RUNS})
    with _output_lock(out, "nasbench compare"):
        if (runs / COMPARE_FILE).exists() and not args.overwrite:
            try:
                old = read_compare(runs)["config"]
            except CompareError:
                old = None
            if old is None or {k: v for k, v in old.items() if k != "workers"} != \
                    {k: v for k, v in cfg.to_dict().items() if k != "workers"}:
                raise UsageError(f"{runs} holds runs of another config; pass --overwrite to replace them, or --out "
                                 "elsewhere")
        started = time.perf_counter()
        run_compare(cfg, runs, progress=sys.stderr.isatty(), keep_partial=True)  # a stop in the report resumes
        build_report(runs, out)
        remove_partial(runs / PARTIAL)
    print(f"ran {len(cfg.strategies)} strategies x {len(cfg.seeds)} seeds"
          + (f" and {len(cfg.weight_sharing.methods)} weight-sharing methods x {len(cfg.weight_sharing.seeds)} seeds"
             if cfg.weight_sharing else "")
          + f" on {cfg.table} in {time.perf_counter() - started:.1f} s")
    print(f"runs: {runs}   report: {out / 'index.md'} and {out / 'index.html'}")
    _print_compare_notes(runs, [s.label for s in cfg.strategies])


def _print_compare_notes(runs: Path, labels: Sequence[str]) -> None:
    """:func:`~nasbench_suite.search.run_notes` of every replayed strategy of a compare, read back from its
    stored runs (the report says the same in its Caveats section)."""
    from .compare import REPLAYED
    from .search import MANIFEST_FILE, RESULTS_FILE, read_results, run_notes

    for label in labels:
        folder = runs / REPLAYED / label
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        frame = read_results(folder / RESULTS_FILE, ["seed", "incumbent_index", "incumbent_value"])
        for note in run_notes(label, manifest, frame.groupby("seed", sort=False).tail(1)):
            print(f"note: {note}")


def cmd_report(args: argparse.Namespace) -> None:
    from .compare import COMPARE_FILE, read_compare
    from .folder_kind import COMPARE_REPORT
    from .report import build_report

    runs = Path(args.runs)
    read_compare(runs)  # a folder that is no runs folder says so, not that its parent is no folder to write in
    out = Path(args.out) if args.out else runs.parent
    if _within(out, runs):  # its files would land among the stored runs
        raise UsageError(f"--out {out} is inside the runs folder {runs}; write the report into another folder "
                         f"(by default the runs folder's parent, {runs.parent})")
    out = _report_folder(out, COMPARE_REPORT)
    theirs = out / "runs"
    if (runs / COMPARE_FILE).is_file() and (theirs / COMPARE_FILE).is_file() and theirs.resolve() != runs.resolve():
        # the report would replace (and clear the stale figures of) the report of the runs stored there
        raise UsageError(f"--out {out} holds the report of other runs ({theirs}); write this report into another "
                         f"folder, or regenerate that one with `nasbench report {theirs}`")
    with _output_lock(out, "nasbench report"):
        out = build_report(runs, out)
    print(f"report: {out / 'index.md'} and {out / 'index.html'}")


PREDICTOR_SIZES = (10, 20, 50, 100, 200)
"""``nasbench predictors``' default training-set sizes (those up to half the table's trained cells)."""


def cmd_predictors(args: argparse.Namespace) -> None:
    import numpy as np

    from .predictors import PREDICTORS, kendall_tau_curve
    from .table import load_table

    bench = load_table(args.table).search_view()
    split, _, measure = args.target.partition("_")
    if not split or not measure:  # else "records no '' on the 'valid' split" for --target valid
        raise UsageError(f"--target must look like SPLIT_MEASURE, e.g. valid_acc or train_loss; got {args.target!r}")
    if split == "test":
        raise UsageError("predictors are evaluated on search-side targets (train_* or valid_*), not test")
    epoch = bench.max_epoch if args.epoch is None else args.epoch
    y = bench.array(split, measure, epoch=epoch)
    # members copy their representative: keep them out of both sides; and cells with no target
    keep = bench.trained_rows() & np.isfinite(y)
    archs, y = bench.arch_indices[keep], y[keep]
    if len(archs) < 4:
        raise UsageError(f"table {bench.name!r} has {len(archs)} trained cells with a finite {args.target} at epoch "
                         f"{epoch}; a Kendall tau needs at least 4 (2 to train on, 2 held out)")
    names = list(dict.fromkeys(_names(args.predictors, "--predictors", PREDICTORS)))
    sizes = _int_list(args.sizes) if args.sizes is not None else \
        [n for n in PREDICTOR_SIZES if n <= len(archs) // 2] or [min(PREDICTOR_SIZES[0], len(archs) // 2)]
    test_size = args.test_size
    if test_size is None:
        test_size = min(1000, len(archs) - max(sizes))
        if test_size < 2:
            raise UsageError(f"table {bench.name!r} has {len(archs)} trained cells with a target: training on "
                             f"{max(sizes)} leaves {max(test_size, 0)} to hold out (at least 2); give smaller --sizes")
    frame = kendall_tau_curve(archs, y, predictors=names, sizes=sizes, repeats=args.repeats, test_size=test_size,
                              seed=args.seed)
    table = frame.groupby(["predictor", "train_size"], sort=False).agg(
        tau_mean=("kendall_tau", "mean"), tau_std=("kendall_tau", "std"), fit_seconds=("fit_seconds", "mean"))
    payload = {"table": bench.name, "target": f"{args.target} at epoch {epoch} (mean over seeds)",
               "test_size": test_size, "repeats": args.repeats, "seed": args.seed,
               "results": [{"predictor": p, "train_size": int(n), "kendall_tau_mean": round(float(r.tau_mean), 4),
                            "kendall_tau_std": round(float(r.tau_std), 4) if r.tau_std == r.tau_std else None,
                            "fit_seconds_mean": round(float(r.fit_seconds), 4)}
                           for (p, n), r in table.iterrows()]}

    def render(p: dict[str, Any]) -> str:
        sizes = sorted({r["train_size"] for r in p["results"]})
        lines = [f"Kendall tau of predictions vs {p['target']} on {p['test_size']} held-out cells of {p['table']} "
                 f"(mean +- std over {p['repeats']} split{'s' if p['repeats'] != 1 else ''})",
                 f"{'predictor':<15}" + "".join(f"{'n=' + str(n):>15}" for n in sizes)]
        for name in dict.fromkeys(r["predictor"] for r in p["results"]):
            cells = {r["train_size"]: r for r in p["results"] if r["predictor"] == name}
            lines.append(f"{name:<15}" + "".join(
                f"{cells[n]['kendall_tau_mean']:>8.3f} +- " + (f"{cells[n]['kendall_tau_std']:.2f}"
                                                                if cells[n]['kendall_tau_std'] is not None else "n/a ")
                for n in sizes))
        return "\n".join(lines)

    _print(payload, args.json, render)


def cmd_reference_build(args: argparse.Namespace) -> None:
    from .folder_kind import check_output_kind
    from .reference import build_reference_tables
    from .table import shipped_tables_dir

    shipped = shipped_tables_dir()
    if _within(Path(args.out), shipped):  # its 51 MB of tables were written among (and shipped with) the package's
        raise UsageError(f"--out {args.out} is the package's shipped tables folder {shipped} or inside it; write the "
                         "reference tables into a folder of your own (e.g. local_tables)")
    check_output_kind(Path(args.out))  # the parent of tables: a folder of no kind (not a table, a run...)
    with _output_lock(Path(args.out), "nasbench reference build"):  # two at once with --overwrite mixed tables
        for bench in build_reference_tables(args.ref_dir, args.out, args.dataset, overwrite=args.overwrite):
            _report_table(bench)


def cmd_import(args: argparse.Namespace) -> None:
    from .folder_kind import check_output_kind
    from .nats_import import import_nats_tss

    out = args.out or os.environ.get("NASBENCH_TABLES_DIR") or "tables"
    check_output_kind(Path(out))  # the parent of tables: a folder of no kind (not a table, a run...)
    with _output_lock(Path(out), "nasbench import nats-tss"):  # two at once with --overwrite mixed tables
        for bench in import_nats_tss(args.path, out, name=args.name, valtest_as_valid=args.valtest_as_valid,
                                     overwrite=args.overwrite, workers=args.workers):
            _report_table(bench)


def cmd_reproduce(args: argparse.Namespace) -> None:
    import time

    from .reproduce import (PUBLISHED_FILE, load_published, payload, render, reproduce, weight_sharing_folder,
                            weight_sharing_rows)

    if args.weight_sharing and (args.no_weight_sharing or args.protocol != "nb201"):  # else ignored, no word said
        raise UsageError(f"--weight-sharing {args.weight_sharing} shows runs beside nb201's weight-sharing rows, "
                         + ("but --no-weight-sharing shows none; drop one" if args.no_weight_sharing else
                            f"which protocol {args.protocol} has none of; leave it out"))
    tables = args.tables or os.environ.get("NASBENCH_TABLES_DIR") or "tables"
    published = load_published(args.published)
    ws_dir, ws_note = None, ""
    if not args.no_weight_sharing and args.protocol == "nb201":
        ws_dir, ws_note = weight_sharing_folder(args.weight_sharing)  # before the runs, not after
    started = time.perf_counter()
    rows = reproduce(args.protocol, tables, runs=args.runs, first_seed=args.first_seed, processes=args.workers,
                     prefix=args.name, published=published)
    ws = [] if ws_dir is None else weight_sharing_rows(ws_dir, tables, args.name, published)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(payload(rows, ws, seconds, ws_note), indent=2, sort_keys=True))
    else:
        print(render(args.protocol, rows, ws, seconds, published, ws_note, args.published or PUBLISHED_FILE))


# ----- latency -------------------------------------------------------------------------------------
def cmd_latency_measure(args: argparse.Namespace) -> None:
    from .latency import LatencyError, LatencyMethod, LatencyStore, TimingOrder, config_of_table
    from .pre_evaluate import parse_archs
    from .space import isomorphism_classes
    from .table import load_table

    bench = load_table(args.table)
    config = config_of_table(bench.manifest)
    method = LatencyMethod(device=args.device, batches=tuple(_int_list(args.batch)), warmup=args.warmup,
                           repeats=args.repeats, threads=args.threads)
    archs = parse_archs(args.archs)
    if args.archs != "all":  # members share their class's timing: time representatives only
        iso = isomorphism_classes()
        archs = sorted({int(iso.representatives[iso.class_of[a]]) for a in archs})
    if args.order == "index" and args.order_seed is not None:
        raise LatencyError("--order-seed applies to --order shuffled only")
    # neither given: the folder's own order (index for a folder from before --order), or shuffled seed 0
    order: TimingOrder | None = None
    if args.order == "index":
        order = TimingOrder("index", None)
    elif args.order == "shuffled" or args.order_seed is not None:
        order = TimingOrder("shuffled", 0 if args.order_seed is None else args.order_seed)
    out = Path(args.out) if args.out else Path("latency") / f"{bench.name}-{args.device}"
    with LatencyStore(out, config, method, order=order) as store:
        done = store.measure(archs, progress=sys.stderr.isatty())
        fp, order = store.fingerprint, store.order
    in_order = "index order" if order.kind == "index" else f"shuffled order (seed {order.seed})"
    print(f"latency of {len(archs)} cells ({done['measured']} measured now, {done['already_stored']} already stored) "
          f"in {done['wall_seconds']:.1f} s on {fp['cpu']} / {fp['device_name']}, {fp['threads']} thread{'' if fp['threads'] == 1 else 's'}, "
          f"{in_order}; fingerprint {fp['hash']}; wrote {out}")


# ----- zero-cost proxies ---------------------------------------------------------------------------
def cmd_proxies(args: argparse.Namespace) -> None:
    from .pre_evaluate import parse_archs
    from .proxies import PROXIES, ProxySettings, check_proxies
    from .proxy_store import ProxyStore, config_for, default_folder, make_minibatch, ordered_cells, table_key
    from .table import load_table
    from .train import load_protocol_data
    from .weight_sharing import table_protocol

    if args.workers < 1:
        raise UsageError(f"--workers must be a positive integer, got {args.workers}")
    bench = load_table(args.table)
    proxies = check_proxies(_names(args.proxies, "--proxies", PROXIES))
    if not args.out and (args.channels, args.cells, args.resolution) != (None, None, None):
        raise UsageError("a network shape other than the table's (--channels/--cells/--resolution) needs --out DIR")
    out = Path(args.out) if args.out else default_folder(bench)
    config = config_for(bench, args.channels, args.cells, args.resolution)
    settings = ProxySettings(config, args.batch_size, args.seed)
    # by default the cells the table holds: a search or the league never reads a score of another cell
    archs = ordered_cells(bench.arch_indices.tolist() if args.archs is None else parse_archs(args.archs))
    data = make_minibatch(load_protocol_data(table_protocol(bench), args.data_dir), settings)
    with ProxyStore(out, table_key(bench), settings, proxies, data.describe) as store:
        done = store.compute(archs, data.batch, workers=args.workers, progress=sys.stderr.isatty())
        frame = store.frame()
    scored = frame[frame["arch_index"].isin(archs)]
    per_cell = {p: float(scored[f"{p}_seconds"].mean()) for p in proxies}
    print(f"proxies of {len(archs)} cells of {bench.name} ({done['computed']} computed now, {done['already_stored']} "
          f"already stored) in {done['wall_seconds']:.1f} s; wrote {out}")
    print("mean seconds per cell: " + ", ".join(f"{p} {s:.4f}" for p, s in per_cell.items()))


def cmd_data_pack(args: argparse.Namespace) -> None:
    from .data_pack import write_pack
    from .folder_kind import check_output_kind

    protocol = _protocol(args)
    check_output_kind(Path(args.out))  # a data folder: of no kind (not a run folder, a table...)
    pack = write_pack(protocol.dataset, args.data_dir, args.out, max_train=protocol.train_subset,
                      max_valid=protocol.valid_subset, overwrite=args.overwrite)
    held = ", ".join(f"{pack.rows[p]:,} of {pack.of[p]:,} {p} images" for p in pack.rows)
    print(f"wrote {pack.path} ({pack.bytes / 2**20:.1f} MiB): {held}, for train_subset={protocol.train_subset}, "
          f"valid_subset={protocol.valid_subset}; source sha256 {pack.source_sha256[:12]}; read it with "
          f"--data-dir {pack.path.parent}")


def cmd_fidelity(args: argparse.Namespace) -> None:
    from .fidelity import at_bound, fidelity, write_fidelity
    from .folder_kind import FIDELITY
    from .table import load_table

    bench, reference = load_table(args.table), load_table(args.reference)
    baseline = load_table(args.baseline) if args.baseline else None
    result = fidelity(bench, reference, baseline)
    out = _report_folder(Path(args.out) if args.out else Path("reports") / "fidelity" / bench.name, FIDELITY)
    with _output_lock(out, "nasbench fidelity"):
        paths = write_fidelity(result, bench, reference, out)
    print(f"wrote {', '.join(str(p) for p in paths)} ({result.cells} cells)")
    width = max(len(r) for r in result.frame["ranking"])
    for r in result.frame.itertuples(index=False):
        print(f"  {r.ranking:<{width}}  Spearman {r.spearman:.3f}  Kendall {r.kendall:.3f}  "
              f"top-10% Spearman {r.spearman_top10:.3f}")
    if result.seed_tau is not None:
        over = "" if result.seed_cells == result.cells else f" (over the {result.seed_cells} cells that have every seed)"
        print(f"  seed-to-seed Kendall tau of final valid accuracy: {result.seed_tau:.3f}{over}")
    if result.ceiling is not None:
        c = result.ceiling
        print(f"  seed-noise model: valid acc would rank at Spearman {at_bound(c['predicted_5'])} with 5 seeds, "
              f"{at_bound(c['noise_free'])} with infinitely many")
    b = result.best
    print(f"  best cell {b['arch_index']} {b['arch_str']}: reference test {b['reference_test']:.2f}%, "
          f"rank {b['reference_rank']} of {b['reference_cells']}")


ESTIMATOR_SIZES = (10, 100, 1000)
"""``nasbench estimators``' default predictor training-set sizes."""
SUPERNET_EPOCHS = 30
"""``nasbench estimators``' supernet training epochs where ``--supernet-epochs`` is not given."""
MAX_ESTIMATOR_REPEATS = 1_000
"""The most ``nasbench estimators --repeats``: each draw fits the predictor twice per size (with and without the
proxies), the default is 3, and its seeds ``1000 * seed + draw`` are distinct up to 1,000 draws; without a bound
a typo such as ``--repeats 3000000`` ran for days."""


def cmd_estimators(args: argparse.Namespace) -> None:
    from .estimators import HELD_OUT, check_proxies_complete, check_sizes, judged_cells
    from .folder_kind import ESTIMATORS
    from .league import build_league, ensure_supernet, write_league
    from .proxy_store import default_folder, load_proxies, stored_for
    from .table import load_table

    sizes = _int_list(args.sizes) if args.sizes is not None else None
    if (sizes is not None and min(sizes) < 2) or args.repeats < 1:  # checked before the supernet trains
        raise UsageError(f"--sizes must be at least 2 cells each and --repeats at least 1; got {args.sizes!r}, {args.repeats}")
    if args.repeats > MAX_ESTIMATOR_REPEATS:
        raise UsageError(f"--repeats must be at most {MAX_ESTIMATOR_REPEATS:,} (predictor draws per size), "
                         f"got {args.repeats}")
    if args.supernet_epochs is not None and args.supernet_epochs < 0:
        raise UsageError(f"--supernet-epochs must be 0 (train none) or a positive number of epochs, "
                         f"got {args.supernet_epochs}")
    bench = load_table(args.table)
    proxies = load_proxies(args.proxies) if args.proxies else stored_for(bench)
    if proxies is None:
        print(f"note: no stored proxies for {bench.name} at {default_folder(bench)}; the table leaves them out "
              f"(run `nasbench proxies --table {args.table}`)", file=sys.stderr)
    elif proxies.identity["table"].get("content_hash") != bench.content_hash:
        raise UsageError(f"proxies in {args.proxies} belong to another table ({proxies.identity['table']})")
    judged = judged_cells(bench)
    if sizes is None:  # the defaults that leave cells to judge on (a table of a few cells takes the small ones)
        sizes = [n for n in ESTIMATOR_SIZES if n <= len(judged.rows) - HELD_OUT] or [ESTIMATOR_SIZES[0]]
    check_sizes(sizes, judged)  # before the supernet trains
    if proxies is not None:
        check_proxies_complete(proxies, judged)
    out = _report_folder(Path(args.out) if args.out else Path("reports") / "estimators" / bench.name, ESTIMATORS)
    with _output_lock(out, "nasbench estimators"):
        ensure_supernet(bench, out, judged, SUPERNET_EPOCHS if args.supernet_epochs is None else args.supernet_epochs,
                        args.data_dir, asked=args.supernet_epochs is not None)
        frame, judged = build_league(bench, proxies, out, sizes=sizes, repeats=args.repeats)
        paths = write_league(frame, bench, judged, out, proxies)
    best = frame.sort_values("spearman", ascending=False, kind="stable").head(5)
    print(f"wrote {', '.join(str(p) for p in paths)} ({len(frame)} estimators on {len(judged.rows)} cells)")
    for r in best.itertuples(index=False):
        print(f"  {r.estimator:<44} Spearman {r.spearman:.3f}  Kendall {r.kendall:.3f}  top-10% {r.top10_precision:.3f}"
              f"  {r.cost_s_per_cell:.4g} s/cell")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


# ----- parser --------------------------------------------------------------------------------------
def _fits_int64(value: int) -> bool:
    return -2**63 <= value < 2**63


def _int(text: str) -> int:
    """An integer that fits in 64 bits: a larger one reached SQLite, numpy or torch as an OverflowError
    traceback (``nasbench pre-evaluate --workers 99999999999999999999``, after the training)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not _fits_int64(value):
        raise argparse.ArgumentTypeError(f"expected an integer of at most 64 bits (-2**63..2**63 - 1), got {text!r}")
    return value


def _path(text: str) -> str:
    """A file, folder or table name; an empty one (an unset shell variable) is refused, not read as the
    option left out or as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path or name, got an empty string")
    return text


def _seed(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {text!r}")
    return value


def _duration(text: str) -> float:
    """Seconds from ``3600``, ``90m``, ``2h`` or ``1.5h``."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a duration such as 3600, 90m or 2h, got {text!r}")
    return seconds


REPLAY_RESUME_HINT = ("; the replayed runs of every finished chunk of seeds are kept: run the same command again to resume")
"""What a stopped search or compare adds to its one line (see :mod:`.partial_runs`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasbench", description="NAS-Bench-201 style tabular benchmark suite")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="summarize a table and verify its integrity, or show a run folder's progress")
    p.add_argument("table", type=_path, help="shipped table name (e.g. digits), path to a table folder, or a pre-evaluation "
                   "run folder (its progress, read from the committed files)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("query", help="metrics of one architecture")
    p.add_argument("table", type=_path)
    p.add_argument("arch", help="index 0..15624, arch string |op~0|+|op~0|op~1|+|...|, or op tuple 3,1,0,4,2,2")
    p.add_argument("--epoch", type=_int, help="epoch (default: the table's last)")
    p.add_argument("--seed", type=_int, help="one seed (default: mean over seeds)")
    p.add_argument("--split", choices=["train", "valid", "test"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("export", help="write the table as tidy rows (one per arch, seed, epoch)")
    p.add_argument("table", type=_path)
    p.add_argument("--out", type=_path, required=True, help="FILE.parquet or FILE.csv")
    p.add_argument("--overwrite", action="store_true", help="replace a file already there")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("describe", help="index, strings, params and FLOPs of an architecture's network")
    p.add_argument("arch")
    p.add_argument("--channels", type=_int, default=16)
    p.add_argument("--cells", type=_int, default=5, help="cells per stage (N)")
    p.add_argument("--resolution", type=_int, default=32)
    p.add_argument("--in-channels", type=_int, default=3)
    p.add_argument("--classes", type=_int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("pre-evaluate", help="train cells for real into a resumable run folder (and a table)")
    p.add_argument("--dataset", help="digits, cifar10-16px, cifar10 or synthetic (or set it in --protocol)")
    p.add_argument("--data-dir", type=_path, help="folder holding the dataset files (default: $NASBENCH_DATA_DIR)")
    p.add_argument("--archs", default="classes", help="all, classes, sample:K, A-B or i,j,k (default: classes)")
    p.add_argument("--seeds", default="0,1,2", help="training seeds of every cell, e.g. 0,1,2 or 0-2 (default 0,1,2)")
    p.add_argument("--protocol", type=_path, metavar="FILE.json", help="protocol fields as JSON; the flags below override them")
    p.add_argument("--channels", type=_int, help="C (default 8)")
    p.add_argument("--cells", type=_int, help="cells per stage, N (default 1)")
    p.add_argument("--epochs", type=_int, help="default 10")
    p.add_argument("--batch-size", type=_int, help="default 128")
    p.add_argument("--train-subset", type=_int, help="train on a stratified subset of this many images")
    p.add_argument("--valid-subset", type=_int, help="evaluate valid on a stratified subset of this many images")
    p.add_argument("--shard-size", type=_int, default=32, help="cells per work unit (default 32)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster to run on (default: $RAY_ADDRESS, else a new local Ray "
                   "instance of --workers CPUs)")
    p.add_argument("--workers", type=_int, help="processes (default: 2 on CPU, at most the cores; 1 on a GPU)")
    p.add_argument("--batch-cells", type=_int,
                   help="cells the engine trains at once (default: up to 4 on CPU, fewer for large images; "
                        "64 on a GPU); may change between sessions of a run")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda: one process by default; --workers N "
                                                   "processes share the GPU)")
    p.add_argument("--time-limit", type=_duration, metavar="DURATION",
                   help="stop between work units before this much time has passed (3600, 90m, 2h): no unit "
                        "starts once the time left is shorter than the longest unit so far; run again to resume")
    p.add_argument("--out", type=_path, required=True, metavar="RUN_DIR",
                   help="run folder (run.json, shards/, sessions/, store.sqlite); an existing one is resumed")
    p.add_argument("--add-seeds", action="store_true",
                   help="grow an existing run folder by the --seeds it lacks (the run's other arguments as they "
                        "were; --seeds names the run's seeds and the new ones): only the new seeds are trained")
    p.add_argument("--table", type=_path, metavar="TABLE_DIR", help="when the run is complete, build its table here")
    p.add_argument("--description", help="for --table")
    p.add_argument("--overwrite", action="store_true", help="for --table: replace an existing table")
    p.set_defaults(func=cmd_pre_evaluate, resumable=True)

    table = sub.add_parser("table", help="build tables").add_subparsers(dest="table_command", required=True,
                                                                        metavar="ACTION")
    p = table.add_parser("build", help="turn a complete pre-evaluation run into a table")
    p.add_argument("run_dir", type=_path, metavar="RUN_DIR")
    p.add_argument("--partial", action="store_true",
                   help="a table of what the run has finished so far, from its committed shard files (safe while "
                   "it runs); its manifest says partial")
    p.add_argument("--out", type=_path, required=True, metavar="TABLE_DIR", help="e.g. benchmarks_data/NAME")
    p.add_argument("--name", help="table name (default: the folder name)")
    p.add_argument("--description", default="")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_table_build)

    p = sub.add_parser("search", help="replay a search strategy on a table under a simulated clock, many seeds")
    p.add_argument("--table", type=_path, required=True, help="table searched (name or folder)")
    p.add_argument("--strategy", required=True, help="registered name: random, rea, reinforce, reinforce-lstm, "
                   "local-search, bananas, hyperband, bohb, xgb-evolution, rea-warm, bananas-warm, random-warm, rea-move, "
                   "nsga2, optuna, or one of yours (--import)")
    p.add_argument("--import", dest="imports", type=_path, action="append", default=[], metavar="MODULE|FILE.py",
                   help="import a module or file whose @register adds your own strategies (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="strategy setting (JSON value)")
    p.add_argument("--seeds", default="0-9", help="run seeds, e.g. 0-99 or 0,5,7 (default 0-9)")
    p.add_argument("--budget", type=_float, metavar="SECONDS", help="simulated seconds per run")
    p.add_argument("--max-queries", type=_int, metavar="N", help="queries per run")
    p.add_argument("--overrun", choices=["strict", "finish"], default="strict",
                   help="strict: never pass the seconds budget (NB201); finish: the last query started runs to the end")
    p.add_argument("--sim-workers", type=_int, default=1, help="simulated asynchronous workers per run (default 1)")
    p.add_argument("--objective", default="valid_acc",
                   help="search objective <split>_<measure>, an accuracy (default valid_acc)")
    p.add_argument("--search-epochs", type=_int, help="search only epochs 1..E of the table")
    p.add_argument("--latency", type=_path, metavar="DIR|FILE.csv:COLUMN",
                   help="latency as a second objective: a folder from `nasbench latency measure` or a device column "
                        "of a third-party CSV; strategies see it in each result")
    p.add_argument("--latency-batch", type=_int, default=1, help="batch size of the latency folder (default 1)")
    p.add_argument("--latency-stat", default="median_ms", choices=["median_ms", "min_ms", "p25_ms", "p75_ms", "mean_ms"])
    p.add_argument("--max-latency", type=_float, metavar="MS", help="constrained mode: incumbents within this latency")
    p.add_argument("--eval-table", type=_path, help="table the incumbents are evaluated on (default: --table)")
    p.add_argument("--eval-split", help="split the incumbents are evaluated on (default test)")
    p.add_argument("--eval-measure",
                   help="acc (default), loss, seconds...; regret is the distance to the best cell's value "
                        "(with --max-latency, the best within the limit)")
    p.add_argument("--eval-epoch", type=_int, help="default: the eval table's last epoch")
    p.add_argument("--no-eval", action="store_true", help="do not read any evaluation metric")
    p.add_argument("--workers", type=_int, default=max(1, min(2, os.cpu_count() or 1)),
                   help="processes running seeds in parallel (default: 2, at most the cores; results do not depend on it)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster to run on, HOST:PORT as `ray start --head` prints it (default: "
                   "$RAY_ADDRESS, else a new local Ray instance of --workers CPUs); every node needs nasbench_suite "
                   "and the table's path")
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help="writes trajectories.parquet, manifest.json, timing.json")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_search, resume_hint=REPLAY_RESUME_HINT)

    p = sub.add_parser("compare", help="run strategies over many seeds on a table and write a comparison report")
    p.add_argument("--config", type=_path, metavar="FILE.toml", help="compare config: a TOML file or the name of an embedded "
                   "one (nasbench_suite/configs/NAME.toml); default: digits-default, see --print-default")
    p.add_argument("--out", type=_path, metavar="DIR", help="report folder, runs in DIR/runs (default: nasbench-compare/<name>)")
    p.add_argument("--workers", type=_int, help="processes (overrides the config; results do not depend on it)")
    p.add_argument("--overwrite", action="store_true", help="replace runs of another config in --out")
    p.add_argument("--print-default", action="store_true",
                   help="print the config --config names (default: the embedded default) and exit")
    p.add_argument("--import", dest="imports", type=_path, action="append", default=[], metavar="MODULE|FILE.py",
                   help="import a module or file whose @register adds your own strategies (repeatable)")
    p.set_defaults(func=cmd_compare, resume_hint=REPLAY_RESUME_HINT)

    p = sub.add_parser("report", help="regenerate a comparison report from stored runs (nothing is re-run)")
    p.add_argument("runs", type=_path, help="runs folder written by nasbench compare (DIR/runs)")
    p.add_argument("--out", type=_path, metavar="DIR", help="report folder (default: the runs folder's parent)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("darts", help="weight-sharing search run for real on a supernet, judged by a table")
    p.add_argument("--table", type=_path, required=True, help="table whose dataset, protocol and cells the search uses")
    p.add_argument("--method", required=True, choices=["darts-v1", "darts-v2", "gdas", "rsps", "enas"])
    p.add_argument("--seeds", default="0-2", help="run seeds, e.g. 0-2 or 0,5,7 (default 0-2)")
    p.add_argument("--epochs", type=_int, required=True, help="search epochs")
    p.add_argument("--channels", type=_int, help="supernet C (default: the table's)")
    p.add_argument("--cells", type=_int, help="supernet N (default: the table's)")
    p.add_argument("--batch-size", type=_int, help="default: the table's protocol batch size")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method setting (JSON value), or bn_scoring=batch|nb201: BatchNorm statistics when "
                        "scoring cells (batch: batch statistics everywhere, the default; nb201: eval mode "
                        "as NB201's scripts with --track_running_stats 0), or zero_grad=none|zero: how the "
                        "supernet's gradients are cleared (none: torch 2's default, the default; zero: in place, "
                        "as NB201's torch 1.x scripts)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--data-dir", type=_path, help="folder of file datasets (default: $NASBENCH_DATA_DIR)")
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help="writes trajectories.parquet, manifest.json, timing.json")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_darts)

    p = sub.add_parser("predictors", help="Kendall tau of performance predictors vs training-set size")
    p.add_argument("--table", type=_path, required=True)
    p.add_argument("--predictors", help="comma list (default: all): mlp-ensemble, xgboost, random-forest, ridge")
    p.add_argument("--sizes", help="training-set sizes, a comma list (default: those of 10,20,50,100,200 up to "
                                   "half the table's trained cells)")
    p.add_argument("--repeats", type=_int, default=3, help="random train/test splits per size (default: 3, at most 1,000)")
    p.add_argument("--test-size", type=_int, help="held-out cells per split (default: the cells the largest size "
                                                  "leaves, at most 1000)")
    p.add_argument("--target", default="valid_acc", help="SPLIT_MEASURE the predictors learn, search side only "
                                                         "(default: valid_acc; e.g. valid_loss, train_acc)")
    p.add_argument("--epoch", type=_int, help="default: the table's last")
    p.add_argument("--seed", type=_int, default=0, help="seed of the splits and the predictors (default: 0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predictors)

    ref = sub.add_parser("reference", help="local tables from the NAS-Bench-201 reference files").add_subparsers(
        dest="reference_command", required=True, metavar="ACTION")
    p = ref.add_parser("build", help="build nb201-<dataset>-hp12 (search) and -hp200 (evaluation) tables")
    p.add_argument("--ref-dir", type=_path, required=True, help="folder with the reference CSV/JSON files (e.g. ../shared/reference)")
    p.add_argument("--out", type=_path, required=True, metavar="DIR",
                   help="parent folder of the two tables (not committed; not in the package's benchmarks_data)")
    p.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16-120"], default="cifar10")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_reference_build)

    imp = sub.add_parser("import", help="convert third-party benchmark files into tables").add_subparsers(
        dest="import_format", required=True, metavar="FORMAT")
    p = imp.add_parser("nats-tss", help="official NATS-Bench topology files: the -simple folder or the single .pickle.pbz2")
    p.add_argument("path", type=_path, metavar="PATH", help="NATS-tss-v1_0-3ffb9-simple/ (meta + %%06d.pickle.pbz2) or "
                   "NATS-tss-v1_0-3ffb9.pickle.pbz2 (loaded whole: needs much memory)")
    p.add_argument("--name", default="nats-tss", help="table name prefix: NAME-<dataset>-hp<12|200> (default nats-tss)")
    p.add_argument("--out", type=_path, metavar="DIR", help="parent folder of the tables (default $NASBENCH_TABLES_DIR, else ./tables)")
    p.add_argument("--valtest-as-valid", action="store_true",
                   help="fill valid epochs NATS does not record (cifar100/ImageNet16-120 at hp=200) from ori-test "
                        "('valtest', which overlaps the test set), as NATS-Bench's own API does; off by default")
    p.add_argument("--overwrite", action="store_true", help="replace existing tables of the same names")
    p.add_argument("--workers", type=_int, default=max(1, min(2, os.cpu_count() or 1)),
                   help="processes decoding the folder's files (default min(2, CPUs)); tables do not depend on it")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("reproduce", help="replay a published multi-trial protocol (RS, REA, REINFORCE, BOHB) and "
                                         "print our mean +- std beside the published one")
    p.add_argument("protocol", choices=["nb201", "nats"])
    p.add_argument("--tables", type=_path, metavar="DIR", help="folder holding the imported (nasbench import nats-tss) or reference "
                   "(nasbench reference build) tables (default $NASBENCH_TABLES_DIR, else ./tables)")
    p.add_argument("--name", default="nats-tss", help="prefix of imported tables (default nats-tss)")
    p.add_argument("--runs", type=_int, default=100, help="runs per method (default 100)")
    p.add_argument("--first-seed", type=_int, default=0, help="run seeds are FIRST..FIRST+RUNS-1 (default 0)")
    p.add_argument("--workers", type=_int, default=max(1, min(2, os.cpu_count() or 1)),
                   help="processes running seeds in parallel (results do not depend on it)")
    p.add_argument("--published", type=_path, metavar="FILE.json", help="published results (default: the shipped "
                   "nasbench_suite/configs/published_nb201.json)")
    p.add_argument("--weight-sharing", type=_path, metavar="DIR", help="nasbench darts result folders (<DIR>/<method>/) shown "
                   "beside NB201's weight-sharing rows (default: reports/weight_sharing/digits of the source checkout)")
    p.add_argument("--no-weight-sharing", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reproduce)

    lat = sub.add_parser("latency", help="time cells on this machine (per hardware fingerprint)").add_subparsers(
        dest="latency_command", required=True, metavar="ACTION")
    p = lat.add_parser("measure", help="time the inference network of cells; resumable store folder")
    p.add_argument("--table", type=_path, required=True, help="table whose network shape (channels, cells, input) is timed")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch", default="1", help="batch sizes, e.g. 1,64 (default 1)")
    p.add_argument("--archs", default="classes",
                   help="classes (default), sample:K, A-B, i,j,k (timed on class representatives) or all")
    p.add_argument("--warmup", type=_int, default=10, help="untimed calls before timing (default 10, at most 10,000)")
    p.add_argument("--repeats", type=_int, default=50,
                   help="timed calls per cell and batch (median kept; default 50, at most 10,000)")
    p.add_argument("--threads", type=_int, default=1, help="torch intra-op threads while timing (default 1)")
    p.add_argument("--order", choices=["shuffled", "index"],
                   help="order the cells are timed in: shuffled (default for a new folder; seeded, so a resumed "
                   "run keeps it) or index; a resumed folder keeps its recorded order (index if it records none)")
    p.add_argument("--order-seed", type=_int, metavar="N", help="seed of the shuffled order (default 0)")
    p.add_argument("--out", type=_path, metavar="DIR", help="latency folder (default latency/<table>-<device>); resumed if it exists")
    p.set_defaults(func=cmd_latency_measure, resumable=True)

    p = sub.add_parser("proxies", help="zero-cost proxies of the table's cells at initialization, stored beside the table")
    p.add_argument("--table", type=_path, required=True, help="table whose cells, data and network shape are scored")
    p.add_argument("--proxies", help="comma list (default: all): grad_norm, snip, grasp, fisher, synflow, "
                   "jacob_cov, naswot, zen, params, flops")
    p.add_argument("--archs", help="all, classes, sample:K, A-B or i,j,k (default: every cell the table holds, "
                   "all 15,625 on a full table)")
    p.add_argument("--workers", type=_int, default=1, help="processes of one torch thread each (default 1)")
    p.add_argument("--batch-size", type=_int, default=64, help="images in the fixed minibatch (default 64)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the minibatch and the initial weights")
    p.add_argument("--channels", type=_int, help="network C (default: the table's); needs --out")
    p.add_argument("--cells", type=_int, help="network N (default: the table's); needs --out")
    p.add_argument("--resolution", type=_int, help="input side (images resized bilinearly); needs --out")
    p.add_argument("--data-dir", type=_path, help="folder of file datasets (default: $NASBENCH_DATA_DIR)")
    p.add_argument("--out", type=_path, metavar="DIR", help="proxy folder (default: proxies/<table> beside the table); resumed")
    p.set_defaults(func=cmd_proxies, resumable=True)

    p = sub.add_parser("estimators", help="league table of performance estimators: rank correlation and cost")
    p.add_argument("--table", type=_path, required=True)
    p.add_argument("--proxies", type=_path, metavar="DIR", help="proxy folder (default: the one stored beside the table)")
    p.add_argument("--sizes", help=f"predictor training-set sizes, a comma list (default: those of "
                   f"{','.join(map(str, ESTIMATOR_SIZES))} that leave cells to judge on)")
    p.add_argument("--repeats", type=_int, default=3, help="predictor draws per size (default 3, at most 1,000)")
    p.add_argument("--supernet-epochs", type=_int,
                   help=f"train the weight-sharing supernet this long when no stored scores exist (default "
                        f"{SUPERNET_EPOCHS}; 0: train none); stored scores of other epochs are refused when given")
    p.add_argument("--data-dir", type=_path, help="folder of file datasets (default: $NASBENCH_DATA_DIR)")
    p.add_argument("--out", type=_path, metavar="DIR", help="default reports/estimators/<table>")
    p.set_defaults(func=cmd_estimators)

    data = sub.add_parser("data", help="dataset files").add_subparsers(dest="data_command", required=True,
                                                                       metavar="ACTION")
    p = data.add_parser("pack", help="write only the images a protocol reads (with every label) into a smaller "
                                     "file that loads as the same dataset: to carry it to another machine")
    p.add_argument("--protocol", type=_path, metavar="FILE.json", help="a protocol, or a run folder's run.json")
    p.add_argument("--dataset", help="cifar10-16px (or set it in --protocol)")
    p.add_argument("--train-subset", type=_int, help="train images the protocol reads (overrides --protocol)")
    p.add_argument("--valid-subset", type=_int, help="valid images the protocol reads (overrides --protocol)")
    p.add_argument("--data-dir", type=_path, help="folder holding the full dataset file (default: $NASBENCH_DATA_DIR)")
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help="folder to write the pack into (under the "
                                                                "dataset's file name)")
    p.add_argument("--overwrite", action="store_true", help="replace a file already there")
    p.set_defaults(func=cmd_data_pack, channels=None, cells=None, epochs=None, batch_size=None)

    p = sub.add_parser("fidelity", help="how a table ranks cells against a reference table (e.g. NB201 200 epochs)")
    p.add_argument("--table", type=_path, required=True)
    p.add_argument("--reference", type=_path, required=True, help="table whose final test accuracy is the target, e.g. "
                                                      "local_tables/nb201-cifar10-hp200 (nasbench reference build)")
    p.add_argument("--baseline", type=_path, help="table whose final valid accuracy is ranked beside ours, e.g. "
                                      "local_tables/nb201-cifar10-hp12")
    p.add_argument("--out", type=_path, metavar="DIR", help="default reports/fidelity/<table>")
    p.set_defaults(func=cmd_fidelity)
    _mark_command_parsers(parser)
    return parser


def _mark_command_parsers(parser: argparse.ArgumentParser) -> None:
    """Give each (sub)command's namespace its own parser, so that an option no command takes is refused
    by the command it was given to, with that command's usage (argparse leaves it to the top-level parser,
    whose usage is only ``nasbench [-h] COMMAND ...``)."""
    parser.set_defaults(_command_parser=parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                _mark_command_parsers(child)


def _check_data_dir(data_dir: str | None) -> None:
    """``--data-dir`` names an existing folder: checked before any command runs, also for datasets that
    read no files (digits, synthetic), where it would otherwise be ignored without a word. Not at parse
    time, so that a command line can be parsed (and checked) on a machine without the data."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder; give the folder that holds the dataset files")


def _escape_unencodable_output() -> None:
    """Print what the terminal's encoding cannot show as backslash escapes (as Python's stderr does)
    instead of failing: under a Latin-1 locale (LC_ALL=de_DE.ISO-8859-1, PYTHONIOENCODING=latin-1) 'nasbench
    info' of a table described in Chinese ended in a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _stdout_unwritable() -> bool:
    """Whether the standard output refuses writes (a full disk, or a pipe whose reader left, behind the
    shell's redirect): what could not be written is still buffered, so flushing fails again. If so, fd 1
    is pointed at os.devnull, so that Python's own flush at exit does not report it a second time
    ("Exception ignored in: <_io.TextIOWrapper name='<stdout>'>", exit status 120)."""
    try:
        sys.stdout.flush()
        return False
    except OSError:
        pass
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a stand-in stdout may have no fd
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    return True


class _WatchedStdout:
    """``sys.stdout`` while a command runs, unchanged but for keeping the OSError a write to it raised: with
    PYTHONUNBUFFERED=1, ``print`` itself fails on a full disk behind the redirect and leaves nothing buffered
    for :func:`_stdout_unwritable`'s flush to fail on, so the error was reported without naming the output."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.failed: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            self.failed = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _resume_hint(args: argparse.Namespace) -> str:
    """What a rerun of a stopped command keeps: the store's results (pre-evaluate...) or replayed runs' chunks."""
    if getattr(args, "resumable", False):
        return "; every finished result is stored: run the same command again to resume"
    return getattr(args, "resume_hint", "")


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed: Python's MemoryError, CUDA's ``torch.OutOfMemoryError`` or
    the RuntimeError of torch's CPU allocator (a huge ``--channels`` or ``--cells``: it used to be a traceback)."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


def _allocation(exc: BaseException) -> str:
    """`` (torch could not allocate 37.3 GiB)`` from torch's message where it says how much, else nothing."""
    asked = re.search(r"allocate (\d+) bytes", str(exc))
    if not asked:
        return ""
    size, unit = float(asked[1]), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f" (torch could not allocate {size:.3g} {unit})"


def main(argv: Sequence[str] | None = None) -> int:
    _escape_unencodable_output()
    args, extra = build_parser().parse_known_args(argv)
    if extra:  # as parse_args, but with the usage of the command the option was given to
        args._command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    in_main_thread = threading.current_thread() is threading.main_thread()  # where handlers can be set
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    stdout = sys.stdout = _WatchedStdout(sys.stdout)
    try:
        _check_data_dir(getattr(args, "data_dir", None))
        args.func(args)
        sys.stdout.flush()  # a redirect that cannot take the output fails here, inside the handlers below
    except NasBenchError as exc:
        print(f"nasbench: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # the reader of a pipe left (`| head`): not an error of this command
        _stdout_unwritable()
        return 0
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        # a path the user gave is of the wrong kind or not writable: say which, without a traceback
        why = exc.strerror or str(exc)
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            why += " (a file is in the way of a folder the command writes; give another path)"
        print(f"nasbench: error: cannot use {exc.filename!r}: {why}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # the system refused (disk full, quota, I/O error): say what, without a traceback
        if exc.filename is None and (_stdout_unwritable() or exc is stdout.failed):
            print(f"nasbench: error: cannot write the standard output: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USER_ERROR
        where = f" ({exc.filename})" if exc.filename else ""
        cause = " (free disk space)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""  # not for a read-only one
        hint = f"; every finished result is stored: fix the cause{cause} and run the same command " \
               "again to resume" if getattr(args, "resumable", False) else ""
        print(f"nasbench: error: {exc.strerror or exc}{where}{hint}", file=sys.stderr)
        return EXIT_USER_ERROR
    except sqlite3.Error as exc:  # a store's database refused (disk full, I/O error, a damaged file)
        print(f"nasbench: error: a SQLite store failed: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenProcessPool:  # a worker of compare, proxies, import... died (pre-evaluate says more)
        print("nasbench: error: a worker process died (killed, for example by the out-of-memory killer); "
              "run the command again, with fewer --workers if memory is short", file=sys.stderr)
        return EXIT_USER_ERROR
    except (MemoryError, RuntimeError) as exc:  # after BrokenProcessPool, a RuntimeError too
        if not _out_of_memory(exc):
            raise
        hint = _resume_hint(args)
        print(f"nasbench: error: out of memory{_allocation(exc)}: use a smaller network (--channels, --cells), "
              f"batch or population, or fewer --workers{hint}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as stop:  # Ctrl-C or kill: normal ways to stop a long command, not crashes
        hint = _resume_hint(args)
        terminated = isinstance(stop, Terminated)
        print(f"nasbench: {'terminated' if terminated else 'interrupted'}{stopped_in(stop)}{hint}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        sys.stdout = stdout.stream
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
