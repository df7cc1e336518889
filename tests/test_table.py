"""The table format and the Benchmark query API."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SMALL_ARCHS, SMALL_EPOCHS, SMALL_SEEDS
from nasbench_suite import tablefile
from nasbench_suite.errors import (
    ArchError, ArchNotInTableError, EpochNotInTableError, MissingResultError, SchemaVersionError,
    SeedNotInTableError, SplitNotAvailableError, TableBuildError, TableCorruptedError, TableExistsError,
    TableNotFoundError,
)
from nasbench_suite.space import Arch
from nasbench_suite.table import build_table, load_table


def _row(results: pd.DataFrame, arch: int, seed: int, epoch: int) -> pd.Series:
    r = results[(results.arch_index == arch) & (results.seed == seed) & (results.epoch == epoch)]
    assert len(r) == 1
    return r.iloc[0]


def test_values_round_trip(table_dir: Path, results: pd.DataFrame) -> None:
    b = load_table(table_dir)
    assert b.seeds == tuple(SMALL_SEEDS) and b.epochs == tuple(range(1, SMALL_EPOCHS + 1))
    assert b.num_archs == len(SMALL_ARCHS) and list(b.arch_indices) == SMALL_ARCHS
    assert b.splits == ("train", "valid", "test")
    assert b.measures("valid") == ("loss", "acc", "seconds")
    for a in (7, 15624):
        for s in SMALL_SEEDS:
            for e in (1, SMALL_EPOCHS):
                row = _row(results, a, s, e)
                for split in ("train", "valid", "test"):
                    assert b.metric(a, split, "acc", epoch=e, seed=s) == pytest.approx(row[f"{split}_acc"], rel=1e-6)
        mean = np.mean([_row(results, a, s, 2)["valid_acc"] for s in SMALL_SEEDS])
        assert b.metric(a, "valid", epoch=2) == pytest.approx(mean, rel=1e-6)
        assert b.scalar(a, "params") == 1000 + a and b.scalar(a, "flops") == 10 * a + 7
    # the same arch by index, string, tuple or Arch
    a = Arch.from_index(99)
    assert len({b.metric(x, "valid", epoch=3, seed=22) for x in (99, str(a), a.ops, a)}) == 1


def test_curves_costs_and_scans(table_dir: Path, results: pd.DataFrame) -> None:
    b = load_table(table_dir)
    curve = b.curve(4321, "valid", "acc", seed=11)
    assert curve.shape == (SMALL_EPOCHS,)
    assert curve[2] == pytest.approx(_row(results, 4321, 11, 3)["valid_acc"], rel=1e-6)
    # cumulative training cost is the sum of per-epoch seconds; eval cost is one pass
    expected = sum(1.0 + 0.1 * 22 + 0.01 * e for e in range(1, 4))
    assert b.train_cost(4321, epoch=3, seed=22) == pytest.approx(expected, rel=1e-6)
    assert b.train_cost(4321, epoch=1, seed=22) < b.train_cost(4321, epoch=2, seed=22)
    assert b.eval_cost(4321, epoch=3) == pytest.approx(0.25)
    scan = b.array("test", "acc", epoch=SMALL_EPOCHS, seed=22)
    assert scan.shape == (len(SMALL_ARCHS),)
    for i, a in enumerate(SMALL_ARCHS):
        assert scan[i] == pytest.approx(b.metric(a, "test", epoch=SMALL_EPOCHS, seed=22))
    best, value = b.optimum("test")
    means = b.array("test", epoch=SMALL_EPOCHS)
    assert value == pytest.approx(means.max()) and best.index == SMALL_ARCHS[int(means.argmax())]


@pytest.mark.parametrize("call,error", [
    (lambda b: b.metric(5, "valid", epoch=1), ArchNotInTableError),
    (lambda b: b.metric(15625, "valid", epoch=1), ArchError),
    (lambda b: b.metric("|bogus~0|", "valid", epoch=1), ArchError),
    (lambda b: b.metric(0, "valid", epoch=0), EpochNotInTableError),
    (lambda b: b.metric(0, "valid", epoch=SMALL_EPOCHS + 1), EpochNotInTableError),
    (lambda b: b.metric(0, "valid", epoch=1.0), EpochNotInTableError),
    (lambda b: b.metric(0, "valid", epoch=True), EpochNotInTableError),  # True == 1, yet no epoch
    (lambda b: b.metric(0, "valid", epoch=1, seed=3), SeedNotInTableError),
    (lambda b: b.metric(0, "validation", epoch=1), SplitNotAvailableError),
    (lambda b: b.metric(0, "valid", "top5", epoch=1), SplitNotAvailableError),
    (lambda b: b.array("valid", epoch=99), EpochNotInTableError),
    (lambda b: b.scalar(0, "latency"), SplitNotAvailableError),
])
def test_bad_queries_raise_specific_errors(table_dir: Path, call, error) -> None:
    b = load_table(table_dir)
    with pytest.raises(error) as info:
        call(b)
    assert str(info.value) and "nan" not in str(info.value).lower()


def test_error_messages_are_clear(table_dir: Path) -> None:
    b = load_table(table_dir)
    with pytest.raises(SeedNotInTableError, match=r"seed 3 is not in table 'small'; its seeds are \[11, 22\]"):
        b.metric(0, "valid", epoch=1, seed=3)
    with pytest.raises(EpochNotInTableError, match="records epochs 1..4"):
        b.metric(0, "valid", epoch=9)
    with pytest.raises(ArchNotInTableError, match=r"architecture 5 \(\|none~0\|"):
        b.metric(5, "valid", epoch=1)


def test_missing_results_raise_never_nan(tmp_path: Path, results: pd.DataFrame) -> None:
    partial = results[~((results.arch_index == 7) & (results.seed == 22))]
    partial = partial[~((partial.arch_index == 99) & (partial.epoch == 4))]
    b = build_table(partial, tmp_path / "partial")
    with pytest.raises(MissingResultError):
        b.metric(7, "valid", epoch=2, seed=22)
    # the mean over seeds uses the seeds that have a result
    assert b.metric(7, "valid", epoch=2) == pytest.approx(b.metric(7, "valid", epoch=2, seed=11))
    with pytest.raises(MissingResultError):
        b.metric(99, "valid", epoch=4)
    with pytest.raises(MissingResultError):
        b.curve(99, "valid", seed=11)
    with pytest.raises(MissingResultError):
        b.train_cost(99, epoch=4, seed=11)
    assert np.isnan(b.array("valid", epoch=4)[SMALL_ARCHS.index(99)])  # vectorized reads mark gaps with NaN


def test_missing_result_messages_name_the_seed_or_say_none_has_it(tmp_path: Path, results: pd.DataFrame) -> None:
    b = build_table(results[~((results.arch_index == 99) & (results.epoch == 4))], tmp_path / "partial")
    with pytest.raises(MissingResultError, match=r"^no result recorded for valid_acc of arch 99 at epoch 4 seed 11$"):
        b.metric(99, "valid", epoch=4, seed=11)
    with pytest.raises(MissingResultError,
                       match=r"^no result recorded for valid_acc of arch 99 at epoch 4 \(no seed has it\)$"):
        b.metric(99, "valid", epoch=4)  # said "at epoch 4 seed None under any seed"
    with pytest.raises(MissingResultError, match=r"^no result recorded for training time of arch 99 to epoch 4 seed 11$"):
        b.train_cost(99, epoch=4, seed=11)


def test_a_split_measure_or_scalar_name_that_is_a_list_is_named(table_dir: Path) -> None:
    """metric(7, ["valid"], ...), a measure ["acc"] or scalar(7, ["flops"]) said only "unhashable type:
    'list'" (a TypeError naming no argument); each is now the QueryError of an unknown name."""
    b = load_table(table_dir)
    for call, message in ((lambda: b.metric(7, ["valid"], epoch=1), r"unknown split \['valid'\]"),
                          (lambda: b.measures({"valid": 1}), "unknown split {'valid': 1}"),
                          (lambda: b.array("valid", ["acc"], epoch=1), r"records no \['acc'\] on the 'valid' split"),
                          (lambda: b.scalar(7, ["flops"]), r"has no per-arch value \['flops'\]")):
        with pytest.raises(SplitNotAvailableError, match=message):
            call()


def test_search_view_cannot_reach_test_metrics(table_dir: Path) -> None:
    b = load_table(table_dir)
    view = b.search_view()
    assert view.splits == ("train", "valid")
    assert view.metric(7, "valid", epoch=1, seed=11) == b.metric(7, "valid", epoch=1, seed=11)
    assert view.train_cost(7, epoch=2) == b.train_cost(7, epoch=2)
    for call in (lambda: view.metric(7, "test", epoch=1), lambda: view.array("test", epoch=1),
                 lambda: view.curve(7, "test"), lambda: view.optimum("test"), lambda: view.measures("test"),
                 lambda: view.eval_cost(7, "test", epoch=1)):
        with pytest.raises(SplitNotAvailableError, match="hidden"):
            call()
    assert not hasattr(view, "to_frame") and not hasattr(view, "manifest")
    # structurally: nothing the view holds shares memory with the test array
    test_array = b._arrays["test"]
    held = [v for v in vars(view).values() if isinstance(v, np.ndarray)]
    held += [v for d in vars(view).values() if isinstance(d, dict) for v in d.values() if isinstance(v, np.ndarray)]
    assert held and not any(np.shares_memory(v, test_array) for v in held)


# ----- integrity --------------------------------------------------------------------------------------
def test_flipped_byte_is_detected(table_dir: Path) -> None:
    path = table_dir / "valid.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(TableCorruptedError, match=r"integrity check \(changed: valid\.npy\)"):
        load_table(table_dir)
    load_table(table_dir, verify=False)  # the explicit opt-out still opens it


def test_truncated_file_is_detected(table_dir: Path) -> None:
    path = table_dir / "train.npy"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(TableCorruptedError, match="truncated"):
        load_table(table_dir, verify=False)


@pytest.mark.parametrize("name", ["test.npy", "scalars.npz", "manifest.json"])
def test_missing_file_is_detected(table_dir: Path, name: str) -> None:
    (table_dir / name).unlink()
    with pytest.raises(TableCorruptedError, match="missing|manifest"):
        load_table(table_dir)


def test_damaged_scalars_and_manifest(table_dir: Path) -> None:
    (table_dir / "scalars.npz").write_bytes(b"not a zip")
    with pytest.raises(TableCorruptedError, match="scalars.npz"):
        load_table(table_dir)


def test_bad_manifest_json(table_dir: Path) -> None:
    (table_dir / "manifest.json").write_text("{not json")
    with pytest.raises(TableCorruptedError, match="not valid JSON"):
        load_table(table_dir)


def test_changed_scalar_is_detected(table_dir: Path) -> None:
    with np.load(table_dir / "scalars.npz") as z:
        scalars = {k: z[k] for k in z.files}
    scalars["params"][0] += 1
    np.savez(table_dir / "scalars.npz", **scalars)
    with pytest.raises(TableCorruptedError, match=r"integrity check \(changed: scalars\.npz \[params\]\)"):
        load_table(table_dir)
    del scalars["params"]
    np.savez(table_dir / "scalars.npz", **scalars)
    with pytest.raises(TableCorruptedError, match=r"integrity check \(missing from scalars\.npz: params\)"):
        load_table(table_dir)


def _edit_manifest(table_dir: Path, edit) -> None:
    manifest = json.loads((table_dir / "manifest.json").read_text())
    edit(manifest)
    (table_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("edit", [
    lambda m: m["arrays"]["valid"]["measures"].reverse(),        # loss read as acc: same shape, same content hash
    lambda m: m.update(seeds=[s + 100 for s in m["seeds"]]),     # seed 0's numbers answered as seed 100's
    lambda m: m.update(protocol="edited"),
])
def test_edited_manifest_is_detected(table_dir: Path, edit) -> None:
    assert load_table(table_dir).manifest["manifest_hash"].startswith("sha256:")
    _edit_manifest(table_dir, edit)
    with pytest.raises(TableCorruptedError, match="manifest.json was edited"):
        load_table(table_dir)


def test_table_without_manifest_hash_still_loads(table_dir: Path) -> None:
    """Tables written before the manifest hash existed are checked on their content hash alone."""
    expected = load_table(table_dir).metric(12345, "valid", epoch=3, seed=22)
    _edit_manifest(table_dir, lambda m: m.pop("manifest_hash"))
    assert load_table(table_dir).metric(12345, "valid", epoch=3, seed=22) == expected
    path = table_dir / "valid.npy"  # the content hash is still checked: a changed value is refused
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(TableCorruptedError, match=r"integrity check \(changed: valid\.npy\)"):
        load_table(table_dir)


@pytest.mark.parametrize("name", ["digits", "cifar10-16px", "digits-sample"])
def test_shipped_manifests_carry_a_valid_manifest_hash(name: str) -> None:
    manifest = load_table(name, verify=False).manifest
    assert manifest["manifest_hash"] == tablefile.manifest_hash(manifest)
    assert {"train", "valid", "test", "scalars/arch_index"} <= set(manifest["array_hashes"])


def test_newer_schema_is_refused(table_dir: Path) -> None:
    manifest = json.loads((table_dir / "manifest.json").read_text())
    manifest["schema_version"] = tablefile.SCHEMA_VERSION + 1
    (table_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SchemaVersionError, match="upgrade"):
        load_table(table_dir)


def test_object_arrays_are_refused(table_dir: Path) -> None:
    np.save(table_dir / "test.npy", np.array([[[[{"x": 1}]]]], dtype=object), allow_pickle=True)
    with pytest.raises(TableCorruptedError, match="objects"):
        load_table(table_dir)


def test_hash_is_over_decoded_values_not_file_bytes(table_dir: Path) -> None:
    before = load_table(table_dir)
    expected = before.metric(12345, "valid", epoch=3, seed=22)
    path = table_dir / "valid.npy"
    values = np.load(path)
    np.save(path, np.ascontiguousarray(values.astype(">f4")))  # other byte order and memory layout
    after = load_table(table_dir)
    assert after.content_hash == before.content_hash
    assert after.metric(12345, "valid", epoch=3, seed=22) == expected
    np.save(path, np.ascontiguousarray(values * 1.0001))
    with pytest.raises(TableCorruptedError):
        load_table(table_dir)


def _documented_part(name: str, array: np.ndarray, fortran: bool) -> bytes:
    """One array's part of the content hash, written from tablefile's docstring alone (hashlib + numpy)."""
    import hashlib

    a = np.asarray(array)
    a = a.astype(a.dtype.newbyteorder("<"))
    raw = a.tobytes(order="F" if fortran else "C")
    header = f"{name}:{a.dtype.str}:{','.join(str(n) for n in a.shape)}\n".encode()
    return header + b"".join(hashlib.sha256(raw[i:i + 4194304]).digest() for i in range(0, len(raw), 4194304))


def _documented_hashes(folder: Path) -> tuple[str, dict[str, str], str]:
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    parts = {s: _documented_part(s, np.load(folder / a["file"], allow_pickle=False), True)
             for s, a in manifest["arrays"].items()}
    with np.load(folder / "scalars.npz", allow_pickle=False) as z:
        parts.update({f"scalars/{k}": _documented_part(f"scalars/{k}", z[k], False) for k in z.files})
    h = hashlib.sha256(b"nasbench-suite table content v1\n")
    for name in sorted(parts):
        h.update(parts[name])
    body = {k: v for k, v in manifest.items() if k not in ("content_hash", "manifest_hash")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return ("sha256:" + h.hexdigest(), {n: "sha256:" + hashlib.sha256(p).hexdigest() for n, p in parts.items()},
            "sha256:" + hashlib.sha256(b"nasbench-suite table manifest v1\n" + text.encode()).hexdigest())


@pytest.mark.parametrize("name", ["digits", "cifar10-16px", "digits-sample"])
def test_shipped_hashes_follow_the_documented_definition(name: str) -> None:
    """tablefile's docstring defines the hashes exactly enough to recompute them without the package."""
    folder = load_table(name, verify=False).path
    content, arrays, manifest = _documented_hashes(folder)
    stored = json.loads((folder / "manifest.json").read_text())
    assert (content, arrays, manifest) == (stored["content_hash"], stored["array_hashes"], stored["manifest_hash"])


def test_documented_hash_definition_covers_arrays_of_several_chunks() -> None:
    rng = np.random.default_rng(0)
    splits = {"valid": np.asfortranarray(rng.random((15625, 3, 10, 3), dtype=np.float32))}  # 5.4 MiB: 2 chunks
    scalars = {"arch_index": np.arange(15625, dtype=">i8")}
    content, arrays = tablefile.content_hashes(splits, scalars)
    import hashlib

    parts = {"valid": _documented_part("valid", splits["valid"], True),
             "scalars/arch_index": _documented_part("scalars/arch_index", scalars["arch_index"], False)}
    assert len(parts["valid"]) == len(b"valid:<f4:15625,3,10,3\n") + 64
    h = hashlib.sha256(b"nasbench-suite table content v1\n")
    for name in sorted(parts):
        h.update(parts[name])
    assert content == "sha256:" + h.hexdigest()
    assert arrays == {n: "sha256:" + hashlib.sha256(p).hexdigest() for n, p in sorted(parts.items())}


# ----- writing ----------------------------------------------------------------------------------------
def test_existing_table_is_not_overwritten_by_default(table_dir: Path, results: pd.DataFrame) -> None:
    before = (table_dir / "manifest.json").read_bytes()
    with pytest.raises(FileExistsError):
        build_table(results, table_dir)
    assert (table_dir / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("holds", ["run", "parent of a run"])
def test_overwrite_never_replaces_a_folder_that_is_not_a_table(tmp_path: Path, results: pd.DataFrame,
                                                               holds: str) -> None:
    run = tmp_path / "run"
    (run / "shards").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (run / "shards" / "0.csv").write_text("arch,seed\n")
    target = run if holds == "run" else tmp_path
    with pytest.raises(FileExistsError, match="is not a table"):
        build_table(results, target, overwrite=True)
    assert (run / "run.json").read_text() == "{}" and (run / "shards" / "0.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder left behind


def test_failed_write_leaves_old_table_intact(table_dir: Path, results: pd.DataFrame, monkeypatch) -> None:
    before = load_table(table_dir).content_hash

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tablefile, "_write_npz", boom)  # the scalars file
    changed = results.assign(valid_acc=results.valid_acc + 1)
    with pytest.raises(OSError, match="disk full"):
        build_table(changed, table_dir, overwrite=True)
    monkeypatch.undo()
    assert load_table(table_dir).content_hash == before
    assert sorted(p.name for p in table_dir.parent.iterdir()) == ["small"]  # no temporary folders left
    assert build_table(changed, table_dir, overwrite=True).content_hash != before


_KILLED_REPLACE = """
import os, shutil, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
from conftest import small_results
from nasbench_suite import tablefile
from nasbench_suite.table import build_table

if {no_exchange!r}:
    tablefile._exchange = lambda a, b: False  # a file system that cannot exchange two folders
renames, real_rename = [], os.rename

def rename(src, dst):  # the step after the old table left its place (two renames)
    renames.append(dst)
    if len(renames) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real_rename(src, dst)

os.rename = rename
shutil.rmtree = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # the step after the new one took it
results = small_results(np.random.default_rng(2024))
build_table(results.assign(valid_acc=results.valid_acc + 1), {folder!r}, overwrite=True)
"""


@pytest.mark.parametrize("no_exchange", [False, True], ids=["exchange", "two renames"])
def test_a_replace_killed_between_its_steps_leaves_a_table_or_one_the_next_build_puts_back(
        table_dir: Path, results: pd.DataFrame, no_exchange: bool) -> None:
    """table build --overwrite replaced the old table with two renames (old away, new in): kill -9 between
    them left no table at the path. Now the two folders are exchanged in one step, so the path holds the
    old table, then the new one; what a kill leaves beside it is removed by the next build. Where folders
    cannot be exchanged, the next build puts the old table back before anything else."""
    import signal
    import subprocess
    import sys

    before = load_table(table_dir).content_hash
    script = _KILLED_REPLACE.format(tests=str(Path(__file__).parent), no_exchange=no_exchange, folder=str(table_dir))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = sorted(p.name for p in table_dir.parent.iterdir() if p.name != "small")
    assert leftovers and all(name.startswith(".small.") for name in leftovers)
    if not no_exchange:
        after = load_table(table_dir).content_hash  # the new table, whole
        assert after != before
        tablefile.check_replaceable(table_dir, overwrite=True)  # what the next build does first
    else:
        assert not table_dir.exists()  # the window where folders cannot be exchanged ...
        with pytest.raises(FileExistsError, match="already exists"):  # ... the next build closes
            build_table(results, table_dir)
        assert load_table(table_dir).content_hash == before
    assert sorted(p.name for p in table_dir.parent.iterdir()) == ["small"]
    assert build_table(results, table_dir, overwrite=True).content_hash == before


def test_staging_folders_of_older_versions_are_removed_once_stale(table_dir: Path, results: pd.DataFrame) -> None:
    """Older versions named their staging folders .NAME.tmp-XXXXXXXX (no process id): a killed write's
    stayed forever. One untouched for a day, itself and all in it, is removed; a younger one may belong
    to an older version still writing and is kept. An 8-digit name is not a process id."""
    import os
    import time

    day_ago = time.time() - 2 * 24 * 3600  # stale: tablefile.STALE_AFTER_S is one day
    stale, busy, young = (table_dir.parent / f".small.tmp-{x}" for x in ("k3j_9zq2", "a1b2c3d4", "12345678"))
    for folder in (stale, busy, young):
        folder.mkdir()
        (folder / "train.npy").write_bytes(b"x")
    for path in (stale / "train.npy", stale, busy):
        os.utime(path, (day_ago, day_ago))  # busy: its folder is old, the file in it is being written
    build_table(results, table_dir, overwrite=True)
    assert sorted(p.name for p in table_dir.parent.iterdir()) == sorted(["small", busy.name, young.name])


def test_a_full_disk_while_writing_a_table_names_it(table_dir: Path, results: pd.DataFrame, monkeypatch) -> None:
    """ENOSPC from writing an array carries no file name; the error names the table being written."""
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", full_disk)
    with pytest.raises(OSError, match="No space left on device") as caught:
        build_table(results, table_dir.parent / "other")
    assert caught.value.filename == str(table_dir.parent / "other")
    assert sorted(p.name for p in table_dir.parent.iterdir()) == ["small"]


@pytest.mark.parametrize("column", ["file", "allow_pickle"])
def test_a_per_arch_scalar_may_have_any_name(tmp_path: Path, results: pd.DataFrame, column: str) -> None:
    """``np.savez(f, **scalars)`` took a scalar named ``file`` (TypeError) or ``allow_pickle`` (left out of
    scalars.npz: the table written failed its own integrity check) as its own argument."""
    frame = results.assign(**{column: results["arch_index"] * 3})
    b = build_table(frame, tmp_path / "t")
    assert column in b.scalar_names
    assert b.scalar(7, column) == 21
    assert load_table(tmp_path / "t").scalar(15624, column) == 3 * 15624


def test_build_is_deterministic_and_export_round_trips(tmp_path: Path, table_dir: Path) -> None:
    b = load_table(table_dir)
    frame = b.to_frame()
    assert len(frame) == len(SMALL_ARCHS) * len(SMALL_SEEDS) * SMALL_EPOCHS
    assert {"arch_index", "arch_str", "seed", "epoch", "valid_acc", "test_seconds", "params"} <= set(frame.columns)
    again = build_table(frame, tmp_path / "again", metadata={"dataset": {"name": "generated", "sha256": "-"},
                                                             "protocol": {"epochs": 4}})
    assert again.content_hash == b.content_hash
    # shuffled rows, same content; arch given only by string
    shuffled = frame.sample(frac=1.0, random_state=0).drop(columns=["arch_index"])
    assert build_table(shuffled, tmp_path / "shuffled").content_hash == b.content_hash
    # the manifest is byte-identical when rebuilt under the same name and metadata
    (tmp_path / "copy").mkdir()
    build_table(frame, tmp_path / "copy" / "small", metadata={"dataset": {"name": "generated", "sha256": "-"},
                                                                "protocol": {"epochs": 4}})
    for name in ("manifest.json", "train.npy", "valid.npy", "test.npy"):
        assert (tmp_path / "copy" / "small" / name).read_bytes() == (table_dir / name).read_bytes()


@pytest.mark.parametrize("umask", [0o077, 0o002], ids=["umask077", "umask002"])
def test_a_table_folder_takes_the_umask_like_its_files(tmp_path: Path, results: pd.DataFrame, umask: int) -> None:
    # tempfile.mkdtemp's 0o700 was replaced by a fixed 0o755: world-readable under umask 077, and under 002
    # (a group's shared folder) its files were group-writable but the folder was not
    old = os.umask(umask)
    try:
        build_table(results, tmp_path / "t")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "t" / "manifest.json").stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["manifest.json", "scalars.npz", "test.npy",
                                                                   "train.npy", "valid.npy"]


@pytest.mark.parametrize("mutate,match", [
    (lambda f: pd.concat([f, f.iloc[:1]]), "more than one row"),
    (lambda f: f.assign(params=np.arange(len(f))), "varies within an arch"),
    (lambda f: f[["arch_index", "seed", "epoch", "params"]], "no metric columns"),
    (lambda f: f.drop(columns=["seed"]), "'seed'"),
    (lambda f: f.drop(columns=["arch_index", "arch_str"]), "arch_index"),
    (lambda f: f.assign(arch_index=np.where(f.arch_index == 0, 2, f.arch_index)), "does not match arch_str"),
    # rows in arch order (read in one pass, not through np.unique): the first row of arch 7 is named
    (lambda f: f.assign(arch_str=np.where(f.arch_index == 7, str(Arch.from_index(8)), f.arch_str)),
     "^row 16: arch_index 7 does not match arch_str"),
    (lambda f: pd.concat([f.iloc[:1], f]), "more than one row"),
    (lambda f: f.assign(epoch=f.epoch - 1), "count from 1"),
    (lambda f: f.assign(valid_acc="high"), "numeric"),
    (lambda f: f.iloc[:0], "empty"),
])
def test_builder_rejects_bad_results(tmp_path: Path, results: pd.DataFrame, mutate, match: str) -> None:
    with pytest.raises(TableBuildError, match=match):
        build_table(mutate(results), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_builder_rejects_bad_arch_strings(tmp_path: Path, results: pd.DataFrame) -> None:
    bad = results.drop(columns=["arch_index"]).assign(arch_str="|nope~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ArchError):
        build_table(bad, tmp_path / "bad")


def test_load_by_name(table_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("NASBENCH_TABLES_DIR", str(table_dir.parent))
    assert load_table("small").content_hash == load_table(table_dir).content_hash
    with pytest.raises(TableNotFoundError, match="shipped tables"):
        load_table("no-such-table")
    with pytest.raises(TableNotFoundError):
        load_table(table_dir.parent / "nope")


@pytest.mark.parametrize("name, message", [("", "empty table name"), ("  ", "empty table name"),
                                           (5, "a table name must be a str or path, got int"),
                                           (None, "a table name must be a str or path, got NoneType")])
def test_a_name_that_cannot_name_a_table(name: object, message: str) -> None:
    with pytest.raises(TableNotFoundError, match=message):
        load_table(name)  # type: ignore[arg-type]


def test_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TableCorruptedError, match="manifest"):
        load_table(tmp_path / "empty")


def test_shipped_tables_dir_is_the_installed_package() -> None:
    from nasbench_suite.table import shipped_tables_dir

    root = shipped_tables_dir()
    assert root.is_dir() and (root / "__init__.py").exists()
    shipped = sorted(manifest.parent.name for manifest in root.glob("*/manifest.json"))
    assert {"digits", "cifar10-16px", "digits-sample"} <= set(shipped)  # the loop below cannot run zero times
    for name in shipped:  # every shipped table loads and verifies
        b = load_table(name)
        assert b.num_archs > 0 and b.manifest["dataset"]["sha256"]


@pytest.mark.parametrize("column, value", [("valid_acc", 150.0), ("train_acc", -1.0), ("train_seconds", -3.0)])
def test_values_out_of_range_are_refused(results: pd.DataFrame, tmp_path: Path, column: str, value: float) -> None:
    bad = results.copy()
    bad.loc[bad.index[3], column] = value
    with pytest.raises(TableBuildError, match=f"{column}.*outside"):
        build_table(bad, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_optimum_follows_the_measure_unless_told(tmp_path: Path, results: pd.DataFrame) -> None:
    b = build_table(results.assign(valid_loss=results.valid_loss + results.arch_index / 1e4), tmp_path / "losses")
    losses = b.array("valid", "loss", epoch=SMALL_EPOCHS)
    assert losses.min() < losses.max() and b.optimum("valid", "loss")[1] == losses.min()  # lower loss is better
    assert b.optimum("valid", "loss", maximize=True)[1] == losses.max()
    assert b.optimum("valid")[1] == b.array("valid", epoch=SMALL_EPOCHS).max()
    assert b.optimum("valid", maximize=False)[1] == b.array("valid", epoch=SMALL_EPOCHS).min()


@pytest.mark.parametrize("maximize", ["no", "yes", 0, 1, "min"])
def test_optimum_refuses_a_maximize_that_is_no_bool(tmp_path: Path, results: pd.DataFrame, maximize: object) -> None:
    """maximize='no' (truthy) returned the highest loss, without a word; a TypeError names the argument."""
    b = build_table(results, tmp_path / "t")
    with pytest.raises(TypeError, match="maximize must be True, False or None"):
        b.optimum("valid", "loss", maximize=maximize)
    assert b.optimum("valid", "loss", maximize=np.bool_(False)) == b.optimum("valid", "loss")


@pytest.mark.parametrize("seed", [True, np.bool_(True), 11.0, [11, 22], "11"])
def test_seeds_must_be_integers(table_dir: Path, seed) -> None:
    b = load_table(table_dir)
    for call in (lambda: b.metric(0, "valid", epoch=1, seed=seed), lambda: b.array("valid", epoch=1, seed=seed),
                 lambda: b.curve(0, "valid", seed=seed)):
        with pytest.raises(SeedNotInTableError, match=r"seed must be an integer \(one of \[11, 22\]\) or None, got"):
            call()
    assert b.metric(0, "valid", epoch=1, seed=np.int64(22)) == b.metric(0, "valid", epoch=1, seed=22)


def test_a_table_another_build_put_in_place_meanwhile_is_replaced_only_with_overwrite(
        tmp_path: Path, results: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two builds to one folder at once, neither with --overwrite: both passed the check at their start and
    the second to finish replaced the first one's table in silence (two `nasbench table build` of two runs
    to one --out both said `wrote table`; one table was gone). Now the second is refused and leaves nothing
    behind; with overwrite the last one wins, whole."""
    out = tmp_path / "parent" / "t"
    real = tablefile._write_scalars_and_manifest

    def another_build_finishes_meanwhile(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(tablefile, "_write_scalars_and_manifest", real)
        build_table(results, out, name="first", overwrite=True)
        real(*args, **kwargs)

    monkeypatch.setattr(tablefile, "_write_scalars_and_manifest", another_build_finishes_meanwhile)
    with pytest.raises(TableExistsError, match="already exists"):
        build_table(results, out, name="second")
    assert load_table(out).name == "first" and [p.name for p in out.parent.iterdir()] == ["t"]
    monkeypatch.setattr(tablefile, "_write_scalars_and_manifest", another_build_finishes_meanwhile)
    assert build_table(results, out, name="second", overwrite=True).name == "second"
    assert load_table(out).name == "second" and [p.name for p in out.parent.iterdir()] == ["t"]


def test_a_table_put_in_place_between_the_check_and_the_rename_is_not_replaced(
        tmp_path: Path, results: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step of a new table's install is one rename; when another writer's table took the name after
    the check, that rename fails (ENOTEMPTY), reported as the table existing, not as a bare OS error naming
    this process's staging folder ('Directory not empty (.T2.tmp-13785-kieu0x0f)')."""
    import os

    out = tmp_path / "parent" / "t"
    real = os.rename

    def another_table_lands_first(src: object, dst: object) -> None:
        if Path(dst) == out and not out.exists():
            monkeypatch.setattr(tablefile.os, "rename", real)
            build_table(results, out, name="first")
        real(src, dst)

    monkeypatch.setattr(tablefile.os, "rename", another_table_lands_first)
    with pytest.raises(TableExistsError, match="written while this table was made"):
        build_table(results, out, name="second")
    assert load_table(out).name == "first" and [p.name for p in out.parent.iterdir()] == ["t"]


def test_a_folder_that_is_not_a_table_is_refused_without_suggesting_overwrite(tmp_path: Path) -> None:
    """A file or a folder of other files said "already exists; pass --overwrite", which was then refused
    ("not a table ... refusing to replace it"): the advice that cannot help is no longer given."""
    afile, folder = tmp_path / "afile", tmp_path / "folder"
    afile.write_text("keep me\n")
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    for target in (afile, folder):
        for overwrite in (False, True):
            with pytest.raises(TableExistsError, match="is not a table") as err:
                tablefile.check_replaceable(target, overwrite)
            assert "--overwrite" not in str(err.value)
    assert afile.read_text() == (folder / "notes.txt").read_text() == "keep me\n"


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "a\\b", "", " ", ".", ".."])
def test_a_table_name_that_would_make_paths_elsewhere_is_refused(tmp_path: Path, results: pd.DataFrame,
                                                                 name: str) -> None:
    """The name makes folders beside the table (``nasbench proxies`` writes ``proxies/<name>``): a table
    built with ``--name ../../escaped`` had its proxies written two folders above the tables folder."""
    with pytest.raises(TableBuildError, match="must be a non-empty name without '/'"):
        build_table(results, tmp_path / "t", name=name)
    assert not (tmp_path / "t").exists()
    assert build_table(results, tmp_path / "ok", name="my table-2.v1").name == "my table-2.v1"


def test_the_mean_over_seeds_by_hand(tmp_path: Path) -> None:
    """Four seeds with valid accuracy 10, 20, 60 and 90 (cell 0; cell 1 one more): mean 45, median 40; at epoch
    2 seed 4 is missing, so the mean of the three that have it, 30 (median 20). Each read over seeds, scalar,
    curve and array, gives these; an epoch where no cell has a result has no optimum."""
    frame = pd.DataFrame([dict(arch_index=a, seed=s, epoch=e, valid_acc=acc + a, test_acc=np.nan if e == 1 else 50.0 + a,
                               train_seconds=1.0, valid_seconds=0.5)
                          for a in (0, 1) for s, acc in ((1, 10.0), (2, 20.0), (3, 60.0), (4, 90.0)) for e in (1, 2, 3)])
    frame.loc[(frame.seed == 4) & (frame.epoch == 2), "valid_acc"] = np.nan
    b = build_table(frame, tmp_path / "four-seeds")
    assert b.metric(0, "valid", epoch=1) == pytest.approx(45.0) and b.metric(0, "valid", epoch=2) == pytest.approx(30.0)
    np.testing.assert_allclose(b.curve(1, "valid"), [46.0, 31.0, 46.0])
    np.testing.assert_allclose(b.array("valid", epoch=1), [45.0, 46.0])  # no gap at epoch 1
    np.testing.assert_allclose(b.array("valid", epoch=2), [30.0, 31.0])  # seed 4 missing at epoch 2
    assert b.optimum("valid", epoch=3) == (Arch.from_index(1), pytest.approx(46.0))
    with pytest.raises(MissingResultError, match="has no test_acc results at that epoch"):
        b.optimum("test", epoch=1)


def test_trained_rows_leave_out_the_cells_filled_from_their_class_representative(tmp_path: Path,
                                                                                  results: pd.DataFrame) -> None:
    # cells 0, 7 and 4321 trained for real; the others copy the row of cell 0 (trained_as 0)
    trained = {0, 7, 4321}
    frame = results.assign(trained_as=[a if a in trained else 0 for a in results["arch_index"]])
    b = build_table(frame, tmp_path / "filled")
    assert b.arch_indices[b.trained_rows()].tolist() == sorted(trained)
    assert load_table(tmp_path / "filled").trained_rows().sum() == 3
    assert build_table(results, tmp_path / "all-trained").trained_rows().all()  # no trained_as: every cell


def test_higher_is_better_reads_the_measure_s_last_word() -> None:
    from nasbench_suite.table import higher_is_better

    assert all(higher_is_better(m) for m in ("acc", "acc5", "valtest_acc"))
    assert not any(higher_is_better(m) for m in ("loss", "seconds", "acc_seconds", "acc_loss"))


def _rewrite_scalars(table_dir: Path, edit) -> None:
    with np.load(table_dir / "scalars.npz") as z:
        scalars = {k: z[k] for k in z.files}
    edit(scalars)
    np.savez(table_dir / "scalars.npz", **scalars)


@pytest.mark.parametrize("damage,match", [
    (lambda d: _rewrite_scalars(d, lambda s: s["arch_index"].__setitem__(1, 0)), "invalid arch_index"),
    (lambda d: _edit_manifest(d, lambda m: m.update(epochs=[e + 1 for e in m["epochs"]])), r"epochs must be 1..E"),
    (lambda d: _edit_manifest(d, lambda m: m["arrays"]["valid"]["measures"].append("acc5")),
     r"valid.npy has shape \(10, 2, 4, 3\), the manifest implies \(10, 2, 4, 4\)"),
    (lambda d: _rewrite_scalars(d, lambda s: s.update(params=s["params"][:-1])), r"scalar 'params' has shape \(9,\)"),
    (lambda d: _edit_manifest(d, lambda m: m["arrays"].update(extra={"file": "extra.npy", "measures": ["acc"]})),
     r"names unknown splits \['extra'\]"),
])
def test_a_table_whose_files_disagree_on_its_shape_is_refused_before_its_hash(table_dir: Path, damage, match: str) -> None:
    """What the arrays and the manifest say of the table's shape is checked when it is opened, also unverified:
    a repeated arch, epochs that are not 1..E or an array of another shape would answer for the wrong cell,
    epoch or measure."""
    damage(table_dir)
    with pytest.raises(TableCorruptedError, match=match):
        load_table(table_dir, verify=False)


def test_a_split_file_longer_than_its_shape_is_refused(table_dir: Path) -> None:
    with open(table_dir / "valid.npy", "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(TableCorruptedError, match="valid.npy is too long"):
        load_table(table_dir, verify=False)


def test_split_arrays_are_written_in_fortran_order(table_dir: Path) -> None:
    """The documented layout: a scan over all archs of one (seed, epoch, measure) is one contiguous read."""
    for split in ("train", "valid", "test"):
        with open(table_dir / f"{split}.npy", "rb") as f:
            np.lib.format.read_magic(f)
            _, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        assert fortran and dtype == np.dtype("<f4")


def test_a_split_saved_big_endian_in_fortran_order_hashes_the_same(table_dir: Path) -> None:
    before = load_table(table_dir)
    expected = before.metric(12345, "valid", epoch=3, seed=22)  # read now: the file is mapped, not copied
    values = np.load(table_dir / "valid.npy")
    np.save(table_dir / "valid.npy", np.asfortranarray(values.astype(">f4")))
    after = load_table(table_dir)
    assert after.content_hash == before.content_hash
    assert after.metric(12345, "valid", epoch=3, seed=22) == expected


def test_arch_index_outside_the_space_or_not_integer_is_refused(tmp_path: Path, results: pd.DataFrame) -> None:
    frame = results.drop(columns=["arch_str"])
    with pytest.raises(TableBuildError, match=r"arch_index must hold integers 0..15624$"):
        build_table(frame.assign(arch_index=np.where(frame.arch_index == 15624, 15625, frame.arch_index)), tmp_path / "t")
    with pytest.raises(TableBuildError, match="arch_index must hold integers 0..15624, has float64"):
        build_table(frame.assign(arch_index=frame.arch_index + 0.5), tmp_path / "t")  # 7.5 was read as cell 7
    assert not (tmp_path / "t").exists()


def test_a_per_arch_scalar_may_be_nan(tmp_path: Path, results: pd.DataFrame) -> None:
    """A float scalar not measured for a cell (NaN) is constant within its arch, not "varying"."""
    b = build_table(results.assign(latency=np.where(results.arch_index == 7, np.nan, results.arch_index / 10)),
                    tmp_path / "t")
    assert np.isnan(b.scalar(7, "latency")) and b.scalar(99, "latency") == pytest.approx(9.9)


def test_staging_folders_of_writers_still_running_are_kept(table_dir: Path, results: pd.DataFrame) -> None:
    """A build clears what killed writers left beside its table, never what a running one is writing (its
    process is alive) nor a folder whose number cannot be a process's."""
    kept = [table_dir.parent / name for name in (f".small.tmp-{os.getpid()}-abcd1234", ".small.tmp-1-abcd1234",
                                                 ".small.old-1", ".small.old-99999999999999999999")]
    for folder in kept:
        folder.mkdir()
    build_table(results, table_dir, overwrite=True)
    assert all(folder.is_dir() for folder in kept)


def test_overwrite_never_replaces_a_folder_whose_manifest_is_not_a_table_s(tmp_path: Path,
                                                                            results: pd.DataFrame) -> None:
    """A folder holding some other manifest.json (search results, a report) is not a table: --overwrite does
    not delete it."""
    folder = tmp_path / "search"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"strategy": "rea", "runs": 10}))
    (folder / "runs.parquet").write_bytes(b"keep me")
    with pytest.raises(TableExistsError, match="is not a table"):
        build_table(results, folder, overwrite=True)
    assert (folder / "runs.parquet").read_bytes() == b"keep me"


@pytest.mark.parametrize("field", ["content_hash", "arrays", "seeds", "epochs"])
def test_a_manifest_lacking_a_required_field_is_refused_by_name(table_dir: Path, field: str) -> None:
    _edit_manifest(table_dir, lambda m: (m.pop(field), m.pop("manifest_hash")))  # as written before manifest_hash
    with pytest.raises(TableCorruptedError, match=f"lacks the required field '{field}'"):
        load_table(table_dir, verify=False)


def test_seeds_in_any_row_order_land_in_their_own_slot(tmp_path: Path, results: pd.DataFrame) -> None:
    """Rows of seed 22 before those of seed 11: the table's seeds are sorted and each value is its own seed's."""
    b = build_table(results.sort_values("seed", ascending=False, kind="stable"), tmp_path / "t")
    assert b.seeds == (11, 22)
    for seed in (11, 22):
        assert b.metric(99, "valid", epoch=2, seed=seed) == pytest.approx(_row(results, 99, seed, 2)["valid_acc"])


def test_a_replaced_table_left_beside_a_new_one_is_removed(table_dir: Path, results: pd.DataFrame) -> None:
    """Where folders cannot be exchanged, a kill after the new table took the path but before the old one
    (``.NAME.old-PID``) was deleted leaves both: the next build deletes the old one, never moves it back
    over the new table."""
    import shutil
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = table_dir.parent / f".small.old-{int(gone.stdout)}"  # its writer has ended
    shutil.copytree(table_dir, old)
    build_table(results.assign(valid_acc=results.valid_acc + 1), table_dir.parent / "new")
    shutil.rmtree(table_dir)
    (table_dir.parent / "new").rename(table_dir)  # the new table in place, the old one beside it
    new = load_table(table_dir).content_hash
    tablefile.check_replaceable(table_dir, overwrite=True)  # what the next build does first
    assert sorted(p.name for p in table_dir.parent.iterdir()) == ["small"]
    assert load_table(table_dir).content_hash == new


def _among_frame() -> pd.DataFrame:
    """Cells 3, 50, 200, 4000 and 9000, seeds 1 and 2, epochs 1 and 2: valid accuracies chosen so that the best
    cell differs with the mask, the seed and the epoch; cell 9000 has no result at epoch 2."""
    acc = {  # arch: {(seed, epoch): valid_acc}
        3: {(1, 1): 40.0, (2, 1): 40.0, (1, 2): 10.0, (2, 2): 20.0},
        50: {(1, 1): 5.0, (2, 1): 6.0, (1, 2): 70.0, (2, 2): 80.0},
        200: {(1, 1): 15.0, (2, 1): 17.0, (1, 2): 30.0, (2, 2): 34.0},
        4000: {(1, 1): 10.0, (2, 1): 45.0, (1, 2): 20.0, (2, 2): 90.0},
        9000: {(1, 1): 99.0, (2, 1): 99.0, (1, 2): np.nan, (2, 2): np.nan},
    }
    return pd.DataFrame([dict(arch_index=a, seed=s, epoch=e, valid_acc=v, valid_loss=(100.0 - v) / 100.0,
                              train_seconds=1.0 + a / 1e4 + 0.2 * s + 0.05 * e, valid_seconds=0.1 * s + 0.01 * e, test_acc=v,
                              test_seconds=0.3 * s + 0.02 * e + a / 1e5)
                         for a, by in acc.items() for (s, e), v in by.items()])


def _best_by_hand(frame: pd.DataFrame, allowed: set[int], column: str, epoch: int, seed: int | None,
                  maximize: bool) -> tuple[int, float]:
    rows = frame[frame.arch_index.isin(allowed) & (frame.epoch == epoch)]
    if seed is not None:
        rows = rows[rows.seed == seed]
    per_arch = rows.groupby("arch_index")[column].mean().dropna()  # pandas' mean skips NaN: seeds with a result
    best = per_arch.idxmax() if maximize else per_arch.idxmin()
    return int(best), float(per_arch[best])


@pytest.mark.parametrize("allowed", [{3, 200, 4000}, {3, 200}, {3}, {50}, {3, 9000}, {200, 4000, 9000, 12}])
def test_optimum_among_a_mask_by_arch_index_by_hand(tmp_path: Path, allowed: set[int]) -> None:
    """``optimum(..., among=mask)``: the best of the cells whose arch index the (15625,) mask allows, read per
    arch index (not per row of the table), for each seed, the mean over seeds and each epoch; a loss is
    minimized. Cell 12 is allowed but not in the table; 9000 has no result at epoch 2."""
    frame = _among_frame()
    b = build_table(frame, tmp_path / "among")
    mask = np.zeros(15625, dtype=bool)
    mask[sorted(allowed)] = True
    for epoch in (1, 2):
        for seed in (None, 1, 2):
            for measure, maximize in (("acc", True), ("loss", False)):
                arch, value = _best_by_hand(frame, allowed, f"valid_{measure}", epoch, seed, maximize)
                best, got = b.optimum("valid", measure, epoch=epoch, seed=seed, among=mask)
                assert (best.index, got) == (arch, pytest.approx(value, rel=1e-6)), (epoch, seed, measure)
    # the last epoch by default; without a mask every cell competes (cell 50, mean 75, beats the masked ones)
    assert b.optimum("valid", among=mask)[0].index == _best_by_hand(frame, allowed, "valid_acc", 2, None, True)[0]
    assert b.optimum("valid") == (Arch.from_index(50), pytest.approx(75.0))


def test_optimum_among_refuses_a_mask_of_another_shape_and_one_allowing_no_result(tmp_path: Path) -> None:
    b = build_table(_among_frame(), tmp_path / "among")
    for mask in (np.ones(b.num_archs, dtype=bool), np.ones(15624, dtype=bool), np.ones((1, 15625), dtype=bool)):
        with pytest.raises(ValueError, match=r"among must be a \(15625,\) boolean mask by arch index"):
            b.optimum("valid", among=mask)
    none_here = np.zeros(15625, dtype=bool)
    none_here[[12, 9000]] = True  # 12 is not in the table; 9000 has no epoch-2 result
    with pytest.raises(MissingResultError, match="among the cells allowed"):
        b.optimum("valid", epoch=2, among=none_here)
    assert b.optimum("valid", epoch=1, among=none_here) == (Arch.from_index(9000), pytest.approx(99.0))


def test_has_arch_train_cost_and_eval_cost_by_hand(tmp_path: Path) -> None:
    """``has_arch`` is True for exactly the table's cells (the first row's cell too); ``train_cost`` sums the
    training passes of epochs 1..epoch; ``eval_cost`` is one evaluation pass over the split asked for (valid by
    default); each is the mean over seeds when no seed is given."""
    frame = _among_frame()
    b = build_table(frame, tmp_path / "among")
    inside = set(frame.arch_index)
    assert [a for a in range(15625) if b.has_arch(a)] == sorted(inside)
    assert b.has_arch(str(Arch.from_index(3))) and not b.has_arch(Arch.from_index(12))
    for a in sorted(inside):
        for split in ("valid", "test"):
            for epoch in (1, 2):
                rows = frame[(frame.arch_index == a) & (frame.epoch == epoch)].set_index("seed")[f"{split}_seconds"]
                assert b.eval_cost(a, split, epoch=epoch) == pytest.approx(rows.mean(), rel=1e-6)
                for s in (1, 2):
                    assert b.eval_cost(a, split, epoch=epoch, seed=s) == pytest.approx(rows[s], rel=1e-6)
        assert b.eval_cost(a, epoch=2, seed=2) == b.eval_cost(a, "valid", epoch=2, seed=2)
        for epoch in (1, 2):
            sums = frame[(frame.arch_index == a) & (frame.epoch <= epoch)].groupby("seed")["train_seconds"].sum()
            assert b.train_cost(a, epoch=epoch) == pytest.approx(sums.mean(), rel=1e-6)
            assert [b.train_cost(a, epoch=epoch, seed=s) for s in (1, 2)] == pytest.approx(sums[[1, 2]].tolist(), rel=1e-6)


def test_an_added_scalars_entry_is_named_as_changed(table_dir: Path) -> None:
    """The manifest keeps each array's hash so that a failed check names what changed: an entry added to
    scalars.npz (one the manifest has no hash for) is named too, not only a changed or a missing one."""
    with np.load(table_dir / "scalars.npz") as z:
        scalars = {k: z[k] for k in z.files}
    scalars["latency"] = np.ones_like(scalars["params"], dtype=np.float64)
    np.savez(table_dir / "scalars.npz", **scalars)
    with pytest.raises(TableCorruptedError, match=r"integrity check \(changed: scalars\.npz \[latency\]\)"):
        load_table(table_dir)


def test_a_split_file_that_is_not_4d_is_refused_by_what_it_is(table_dir: Path) -> None:
    with open(table_dir / "valid.npy", "wb") as f:
        np.lib.format.write_array(f, np.zeros((len(SMALL_ARCHS), len(SMALL_SEEDS), SMALL_EPOCHS), dtype="<f4"))
    with pytest.raises(TableCorruptedError, match=r"valid\.npy must be 4-D \[arch, seed, epoch, measure\]"):
        load_table(table_dir)


def test_class_members_are_filled_from_their_representative_by_hand(tmp_path: Path) -> None:
    """A 'classes' run trains one cell per isomorphism class (the first in index order) and gives every member
    its rows, with ``trained_as`` naming the representative; the members are found here from
    ``canonical_str`` alone. Without ``partial`` a class with no results is an error."""
    from nasbench_suite.errors import IncompleteRunError
    from nasbench_suite.pre_evaluate import fill_class_members
    from nasbench_suite.space import NUM_ARCHS

    canon = [Arch.from_index(a).canonical_str() for a in range(NUM_ARCHS)]
    by_class: dict[str, list[int]] = {}
    for a, c in enumerate(canon):
        by_class.setdefault(c, []).append(a)
    classes = sorted(by_class.values(), key=len)
    chosen = [classes[-1], classes[len(classes) // 2], classes[0]]  # the largest class, a middling one, a singleton
    reps = [members[0] for members in chosen]
    frame = pd.DataFrame([dict(arch_index=r, seed=s, epoch=e, valid_acc=10.0 + i + 0.5 * s + 0.1 * e)
                          for i, r in enumerate(reversed(reps)) for s in (1, 0) for e in (2, 1)])
    with pytest.raises(IncompleteRunError, match=f"^{len(by_class) - len(reps)} isomorphism-class representatives"):
        fill_class_members(frame)
    filled = fill_class_members(frame, partial=True)
    rep_of = {a: members[0] for members in chosen for a in members}
    assert filled["arch_index"].tolist() == [a for a in sorted(rep_of) for _ in range(4)]
    assert filled[["seed", "epoch"]].values.tolist() == [[0, 1], [0, 2], [1, 1], [1, 2]] * len(rep_of)
    assert filled["trained_as"].tolist() == [rep_of[a] for a in filled["arch_index"]]
    own = frame.set_index(["arch_index", "seed", "epoch"])["valid_acc"]
    assert filled["valid_acc"].tolist() == [own[(rep_of[a], s, e)] for a, s, e in
                                            filled[["arch_index", "seed", "epoch"]].itertuples(index=False)]
    b = build_table(filled, tmp_path / "filled")
    assert b.arch_indices[b.trained_rows()].tolist() == sorted(reps)
    assert all(b.metric(a, "valid", epoch=2, seed=1) == b.metric(rep_of[a], "valid", epoch=2, seed=1) for a in rep_of)


def test_an_epoch_no_row_has_is_a_missing_result_not_a_gap_in_the_epochs(tmp_path: Path, results: pd.DataFrame) -> None:
    """Epochs count 1..max_epoch whatever the rows hold: results that skip epoch 2 for every cell (evaluated
    at 1, 3 and 4 only) still make a table of epochs 1..4, and epoch 2 is a missing result."""
    b = build_table(results[results.epoch != 2], tmp_path / "no-epoch-2")
    assert b.epochs == tuple(range(1, SMALL_EPOCHS + 1)) and b.max_epoch == SMALL_EPOCHS
    assert b.metric(7, "valid", epoch=3, seed=11) == pytest.approx(_row(results, 7, 11, 3)["valid_acc"], rel=1e-6)
    for call in (lambda: b.metric(7, "valid", epoch=2, seed=11), lambda: b.metric(7, "valid", epoch=2),
                 lambda: b.curve(7, "valid"), lambda: b.optimum("valid", epoch=2)):
        with pytest.raises(MissingResultError):
            call()
    assert np.isnan(b.array("valid", epoch=2)).all()
