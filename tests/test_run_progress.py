"""A run folder read from its committed files alone: progress, and a partial table that agrees with
the table of the complete run on every finished result, without touching the folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite import backends, table
from nasbench_suite.errors import ShardFileError, TableExistsError, TableNotFoundError
from nasbench_suite.pre_evaluate import STORE_FILE, RunSpec, build_from_store, run_pre_evaluation
from nasbench_suite.run_progress import build_partial_table, snapshot
from nasbench_suite.space import isomorphism_classes
from nasbench_suite.train import Protocol

from test_pre_evaluate import FakeTrainer, _assert_one_line_error, _cli, nan_metric

ONE_EPOCH = Protocol(dataset="synthetic", channels=2, cells=1, epochs=2, batch_size=32, train_subset=32)
CLASSES = RunSpec("classes", (0, 1), ONE_EPOCH, shard_size=512)  # 13 chunks x 2 seeds = 26 units


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTrainer:
    trainer = FakeTrainer()
    monkeypatch.setattr(backends, "train_shard_results", trainer)
    return trainer


REAL_RUN_SHARDS = backends.run_shards


def _run_units(monkeypatch: pytest.MonkeyPatch, run_dir: Path, units: int | None) -> None:
    """Train the first ``units`` work units of CLASSES that are left (all of them: None)."""
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: REAL_RUN_SHARDS(shards[:units], *a, **k))
    run_pre_evaluation(CLASSES, run_dir, progress=False)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_partial_table_agrees_with_the_complete_run_and_leaves_the_folder_alone(fake, tmp_path: Path, monkeypatch) -> None:
    iso = isomorphism_classes()
    run_dir = tmp_path / "run"
    _run_units(monkeypatch, run_dir, 3)  # chunk 0 under seeds 0 and 1, chunk 1 under seed 0
    reps = sorted(iso.representatives.tolist())
    before = _files(run_dir)
    snap = snapshot(run_dir)
    assert snap.planned == 2 * iso.num_classes and snap.finished == 512 * 3
    assert snap.finished_per_seed() == {0: 1024, 1: 512}
    progress = snap.progress()
    assert not progress["complete"] and progress["sessions"] == 1 and progress["results_per_hour"] > 0
    partial = build_partial_table(run_dir, tmp_path / "partial", description="so far")
    assert _files(run_dir) == before  # nothing in the run folder was written, not even the store

    finished = set(reps[:1024])
    members = np.flatnonzero(np.isin(iso.representatives[iso.class_of], sorted(finished)))
    np.testing.assert_array_equal(partial.arch_indices, members)  # every member of a finished class, no other
    np.testing.assert_array_equal(partial.scalars("trained_as"), iso.representatives[iso.class_of][members])
    m = partial.manifest
    assert m["partial"]["finished_results"] == 1536 and m["partial"]["planned_results"] == 2 * iso.num_classes
    assert m["compute"]["trained_results"] == 1536 and m["description"] == "so far"

    _run_units(monkeypatch, run_dir, None)
    full = build_from_store(run_dir, tmp_path / "full")
    rows = np.searchsorted(full.arch_indices, members)
    for split in ("train", "valid", "test"):
        for measure in ("loss", "acc", "seconds"):
            for seed, epoch in ((0, 1), (0, 2), (1, 1), (1, 2)):  # every epoch of every finished result
                ours = partial.array(split, measure, epoch=epoch, seed=seed)
                theirs = full.array(split, measure, epoch=epoch, seed=seed)[rows]
                done = np.isfinite(ours)
                assert done.sum() == (len(members) if seed == 0 else np.isin(
                    iso.representatives[iso.class_of][members], reps[:512]).sum())
                np.testing.assert_array_equal(ours[done], theirs[done])

    shutil.rmtree(tmp_path / "partial")
    (run_dir / STORE_FILE).unlink()  # a fresh clone has only the committed files
    for extra in run_dir.glob(STORE_FILE + "-*"):
        extra.unlink()
    again = build_partial_table(run_dir, tmp_path / "partial")
    assert again.manifest["partial"]["finished_results"] == 2 * iso.num_classes


def test_cli_info_on_a_run_folder_and_partial_build(fake, tmp_path: Path, monkeypatch, capsys) -> None:
    run_dir = tmp_path / "run"
    _run_units(monkeypatch, run_dir, 0)  # planned, nothing finished
    _assert_one_line_error(_cli(capsys, "table", "build", run_dir, "--partial", "--out", tmp_path / "t"),
                           "no finished work unit yet")
    _run_units(monkeypatch, run_dir, 1)
    rc, out, _ = _cli(capsys, "info", run_dir)
    assert rc == 0 and "in progress" in out and "512/12932 (arch, seed) results (4.0%): seed 0 512, seed 1 0" in out
    assert "results/hour over its sessions" in out
    text = out
    rc, out, _ = _cli(capsys, "info", run_dir, "--json")
    payload = json.loads(out)
    hours = payload["hours_left_at_that_rate"]  # under an hour in minutes, not "0.0 h"
    assert (f"about {hours:.1f} h left" if hours >= 1 else f"about {hours * 60:.0f} min left") in text, (hours, text)
    assert rc == 0 and payload["finished_results"] == 512 and payload["finished_per_seed"] == {"0": 512, "1": 0}
    rc, out, _ = _cli(capsys, "table", "build", run_dir, "--partial", "--out", tmp_path / "t")
    assert rc == 0 and "wrote table t" in out
    rc, out, _ = _cli(capsys, "info", tmp_path / "t")
    assert rc == 0 and "PARTIAL    512/12932 results of a run in progress" in out

    foreign = run_dir / "shards" / "seed0" / "00007-00009.csv"
    foreign.write_text("not ours\n")
    with pytest.raises(ShardFileError, match="not a work unit of this run's plan"):
        snapshot(run_dir)
    _assert_one_line_error(_cli(capsys, "info", run_dir), "not a work unit of this run's plan")
    foreign.unlink()
    (run_dir / "sessions" / "broken.json").write_text("[1, 2]")
    _assert_one_line_error(_cli(capsys, "info", run_dir), "session file")


def test_long_arch_lists_are_shortened_at_an_item_boundary() -> None:
    from nasbench_suite.cli import _shorten

    assert _shorten("classes", 60) == "classes"
    listed = ",".join(str(a) for a in range(1000, 1200))
    short = _shorten(listed, 60)
    assert short.endswith(",...") and len(short) <= 64 and listed.startswith(short[:-3])
    assert all(len(item) == 4 for item in short[:-4].split(","))  # no number cut in half


def test_a_table_still_being_pre_evaluated_points_at_its_run_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "runs" / "mine" / "run.json").write_text("{}")
    monkeypatch.setattr(table, "shipped_tables_dir", lambda: tmp_path)
    with pytest.raises(TableNotFoundError, match=f"'mine' is still being pre-evaluated: nasbench info {tmp_path}/runs/mine"):
        table.resolve_table("mine")
    with pytest.raises(TableNotFoundError, match=r"shipped tables: none$"):
        table.resolve_table("other")


@pytest.mark.parametrize("damage", ["a row lost", "rows only of the header", "a row repeated"])
def test_a_partial_table_refuses_a_shard_file_that_is_not_its_whole_unit(fake, tmp_path: Path, damage: str,
                                                                        capsys) -> None:
    """``info`` and ``table build --partial`` read the shard files alone: one that lost or repeated rows
    is refused with its name, as a resume refuses it, not read as a finished unit with holes."""
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-5", (0,), ONE_EPOCH, shard_size=3), run_dir, progress=False)
    unit = run_dir / "shards" / "seed0" / "00003-00005.csv"
    lines = unit.read_text().splitlines(keepends=True)
    unit.write_text("".join({"a row lost": lines[:-1], "rows only of the header": lines[:1],
                             "a row repeated": lines + lines[-1:]}[damage]))
    with pytest.raises(ShardFileError, match="00003-00005.csv"):
        snapshot(run_dir)
    _assert_one_line_error(_cli(capsys, "table", "build", run_dir, "--partial", "--out", tmp_path / "t"),
                           "00003-00005.csv")
    _assert_one_line_error(_cli(capsys, "info", run_dir), "00003-00005.csv")
    assert not (tmp_path / "t").exists()


def test_info_on_a_run_names_the_augmentation_a_protocol_leaves_to_the_dataset(capsys) -> None:
    """The shipped digits run's protocol says augment=None: the dataset's default (off for digits) is shown."""
    run_dir = Path(__file__).resolve().parents[1] / "benchmarks_data" / "runs" / "digits"
    rc, out, _ = _cli(capsys, "info", run_dir)
    assert rc == 0 and "augment=False (the dataset's default)" in out


def test_progress_rates_and_seconds_come_from_the_committed_files(fake, tmp_path: Path, monkeypatch) -> None:
    """results/hour is the sessions' results over their wall hours, the time left the unfinished results at
    that rate; measured seconds sum every split's, as the complete table's manifest does."""
    spec = RunSpec("0-7", (0, 1), ONE_EPOCH, shard_size=4)
    run_dir = tmp_path / "run"
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: REAL_RUN_SHARDS(shards[:2], *a, **k))
    run_pre_evaluation(spec, run_dir, progress=False)  # chunk 0 under both seeds: 8 of 16 results
    (session,) = (run_dir / "sessions").glob("*.json")
    record = json.loads(session.read_text())
    assert record["results_written"] == 8
    session.write_text(json.dumps({**record, "wall_seconds": 1800.0}))
    progress = snapshot(run_dir).progress()
    assert (progress["finished_results"], progress["planned_results"]) == (8, 16)
    assert progress["results_per_hour"] == 16.0 and progress["hours_left_at_that_rate"] == 0.5
    session.write_text(json.dumps({**record, "wall_seconds": 10.0, "results_written": 0}))  # no result yet: no rate
    progress = snapshot(run_dir).progress()
    assert progress["results_per_hour"] is None and progress["hours_left_at_that_rate"] is None

    monkeypatch.setattr(backends, "run_shards", REAL_RUN_SHARDS)
    run_pre_evaluation(spec, run_dir, progress=False)
    full = build_from_store(run_dir, tmp_path / "full").manifest["compute"]["measured_seconds"]
    partial = build_partial_table(run_dir, tmp_path / "partial").manifest["compute"]["measured_seconds"]
    assert snapshot(run_dir).progress()["measured_seconds"] == partial == full > 0


def test_a_partial_table_is_replaced_only_when_asked(fake, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_pre_evaluation(RunSpec("0-5", (0,), ONE_EPOCH, shard_size=3), run_dir, progress=False)
    build_partial_table(run_dir, tmp_path / "t", name="first")
    with pytest.raises(TableExistsError, match="already exists; pass --overwrite"):  # as build_table
        build_partial_table(run_dir, tmp_path / "t", name="second")
    assert build_partial_table(run_dir, tmp_path / "t", name="second", overwrite=True).name == "second"


def test_progress_without_wall_time_or_a_named_device_and_with_an_unmeasured_second(fake, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """A session of no wall time gives no rate (not a division by zero); a session file that names no device
    counts as the CPU; a second not measured (NaN) is left out of the measured seconds, as the complete table's
    manifest leaves it out, instead of making them NaN."""
    monkeypatch.setattr(backends, "train_shard_results", nan_metric(fake, "test_seconds"))
    spec = RunSpec("0-7", (0,), ONE_EPOCH, shard_size=4)
    run_dir = tmp_path / "run"
    monkeypatch.setattr(backends, "run_shards", lambda shards, *a, **k: REAL_RUN_SHARDS(shards[:1], *a, **k))
    run_pre_evaluation(spec, run_dir, progress=False)  # 4 of 8 results
    (session,) = (run_dir / "sessions").glob("*.json")
    record = json.loads(session.read_text())
    no_device = {k: v for k, v in record["hardware"].items() if k != "device"}
    session.write_text(json.dumps({**record, "wall_seconds": 0.0, "hardware": no_device}))
    progress = snapshot(run_dir).progress()
    assert progress["results_per_hour"] is None and progress["hours_left_at_that_rate"] is None
    assert progress["devices"] == ["cpu"] and progress["session_wall_seconds"] == 0.0
    session.write_text(json.dumps({**record, "wall_seconds": 5400.0}))  # 4 results in 1.5 h, 4 left
    progress = snapshot(run_dir).progress()
    assert (progress["session_wall_seconds"], progress["results_per_hour"], progress["hours_left_at_that_rate"]) == \
        (5400.0, 2.7, 1.5)
    monkeypatch.setattr(backends, "run_shards", REAL_RUN_SHARDS)
    run_pre_evaluation(spec, run_dir, progress=False)
    full = build_from_store(run_dir, tmp_path / "full").manifest["compute"]["measured_seconds"]
    assert np.isfinite(full) and snapshot(run_dir).progress()["measured_seconds"] == full > 0
