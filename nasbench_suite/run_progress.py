"""A pre-evaluation run folder read from its committed files alone (``run.json``, the shard files,
the session files): how far it is, and a partial table of the results it has finished.

It never opens the working store and writes nothing into the run folder, so it is safe beside a
process that is training into that folder, and it answers on a fresh clone that holds only the
committed files. A shard file appears when its whole work unit is finished, so "finished" here is
what a resumed run would never train again.

    nasbench info benchmarks_data/runs/cifar10-16px
    nasbench table build benchmarks_data/runs/cifar10-16px --partial --out local_tables/cifar10-16px-partial
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import PASS_OVERWRITE, IncompleteRunError, ShardFileError, TableExistsError
from .pre_evaluate import (RUN_FILE, SESSIONS_DIR, SHARD_PLAN, SHARDS_DIR, RunSpec, fill_class_members,
                           read_run_file, read_session_file, read_unit_file, table_metadata,
                           with_cell_scalars)
from .store import SessionRecord, iter_shard_files

if TYPE_CHECKING:
    import pandas as pd

    from .table import Benchmark


def is_run_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / RUN_FILE).is_file()


@dataclass(frozen=True)
class Snapshot:
    """What a run folder's committed files hold."""

    run_dir: Path
    identity: dict[str, Any]
    dataset: dict[str, Any]
    spec: RunSpec
    frame: "pd.DataFrame"
    """One row per finished (arch, seed, epoch), the run's metric columns."""
    sessions: list[SessionRecord]

    @property
    def planned(self) -> int:
        return len(self.spec.archs()) * len(self.spec.seeds)

    @property
    def finished(self) -> int:
        return int(self.frame.groupby(["arch_index", "seed"]).ngroups) if len(self.frame) else 0

    def finished_per_seed(self) -> dict[int, int]:
        done = self.frame.drop_duplicates(["arch_index", "seed"])["seed"].value_counts()
        return {s: int(done.get(s, 0)) for s in self.spec.seeds}

    @property
    def measured_seconds(self) -> float:
        """Training and evaluation seconds recorded in the finished results."""
        cols = [c for c in self.frame.columns if c.endswith("_seconds")]
        return float(np.nansum(self.frame[cols].to_numpy(np.float64)))

    def progress(self) -> dict[str, Any]:
        """Coverage, compute so far, and the time left at the rate the sessions so far achieved."""
        wall = sum(s.wall_seconds for s in self.sessions)
        written = sum(s.results_written for s in self.sessions)
        rate = written / wall * 3600 if wall > 0 and written > 0 else None
        left = self.planned - self.finished
        devices = sorted({str(s.hardware.get("device", "cpu")) for s in self.sessions})
        return {
            "run": str(self.run_dir), "protocol": self.identity["protocol"],
            "dataset": {**self.identity["dataset"], **({"augment": self.dataset["augment"]}
                                                      if "augment" in self.dataset else {})},
            "selection": self.identity["selection"]["archs"], "archs": self.identity["selection"]["num_archs"],
            "seeds": list(self.spec.seeds), "planned_results": self.planned, "finished_results": self.finished,
            "finished_per_seed": self.finished_per_seed(), "complete": left == 0,
            "measured_seconds": round(self.measured_seconds, 1),
            "sessions": len(self.sessions), "session_wall_seconds": round(wall, 1), "devices": devices,
            "results_per_hour": None if rate is None else round(rate, 1),
            "hours_left_at_that_rate": None if rate is None else round(left / rate, 2),
        }


def snapshot(run_dir: str | os.PathLike) -> Snapshot:
    """Read a run folder's committed files (never its store)."""
    import pandas as pd

    run_dir = Path(run_dir)
    run = read_run_file(run_dir)
    spec = RunSpec.from_identity(run["identity"])
    metrics = list(run["identity"]["results"]["metrics"])
    by_file = {s.file: s for s in spec.shards()}
    folder = run_dir / SHARDS_DIR
    rows = []
    for path in iter_shard_files(folder):
        shard = by_file.get(path.relative_to(folder).as_posix())
        if shard is None:
            raise ShardFileError(f"{path} is not a work unit of this run's plan ({SHARD_PLAN})")
        for (arch, seed), curve in read_unit_file(path, shard, metrics, spec.protocol.epochs).items():
            rows += [{"arch_index": arch, "seed": seed, "epoch": epoch, **values} for epoch, values in curve]
    frame = pd.DataFrame(rows, columns=["arch_index", "seed", "epoch", *metrics])
    frame = frame.astype({"arch_index": np.int64, "seed": np.int64, "epoch": np.int64})
    sessions_dir = run_dir / SESSIONS_DIR
    sessions = [read_session_file(p) for p in sorted(sessions_dir.glob("*.json"))] if sessions_dir.is_dir() else []
    return Snapshot(run_dir, run["identity"], run["dataset"], spec, frame, sessions)


def build_partial_table(run_dir: str | os.PathLike, out: str | os.PathLike, name: str | None = None,
                        description: str = "", overwrite: bool = False) -> "Benchmark":
    """A table of the results a run has finished so far (with the members of finished isomorphism
    classes filled in); its manifest says it is partial and how far the run was."""
    from .model import MacroConfig
    from .table import build_table

    out = Path(out)
    if out.exists() and not overwrite:
        raise TableExistsError(f"{out} already exists; {PASS_OVERWRITE} to replace it")  # as `table build`
    snap = snapshot(run_dir)
    if snap.frame.empty:
        raise IncompleteRunError(f"run {snap.run_dir} has no finished work unit yet (no shard files)")
    frame = snap.frame
    meta = table_metadata(snap.identity, snap.dataset, snap.sessions, snap.measured_seconds, snap.finished,
                          description)
    meta["partial"] = {"finished_results": snap.finished, "planned_results": snap.planned,
                       "note": "built from the finished work units of a run in progress; not a release"}
    if snap.spec.archs_spec == "classes":
        frame = fill_class_members(frame, partial=True)
    d = snap.dataset
    config = MacroConfig(channels=snap.spec.protocol.channels, cells=snap.spec.protocol.cells,
                         in_channels=d["in_channels"], resolution=d["resolution"], num_classes=d["num_classes"])
    return build_table(with_cell_scalars(frame, config), out, name=name or out.name, metadata=meta,
                       overwrite=overwrite)
