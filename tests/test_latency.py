"""Live latency (issue 7): fingerprint keying, the resumable store, the per-op LUT, third-party
device tables, latency through the search harness (constrained incumbents, NSGA-II fronts) and
hypervolume. Timings here are of tiny networks (C=4, N=1, 8x8, few repetitions): the tests check
behaviour, never speed."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fixture_tables import synthetic_latency
from nasbench_suite.errors import RunMismatchError, StoreError
from nasbench_suite.latency import (
    LatencyError,
    LatencyMethod,
    LatencyStore,
    LatencyTable,
    OpLUT,
    fingerprint,
    fingerprint_hash,
    import_device_csv,
    kendall_and_mape,
    load_latency,
    lut_keys,
    measure_lut,
)
from nasbench_suite.model import MacroConfig
from nasbench_suite.pareto import ParetoError, crowding_distance, hypervolume, non_dominated, nondominated_ranks
from nasbench_suite.simulator import Budget, Oracle, run_search
from nasbench_suite.space import OPS, Arch, isomorphism_classes, nb201_order
from nasbench_suite.strategy import Query, Strategy, StrategyError, make_strategy
from nasbench_suite.table import Benchmark

TINY = MacroConfig(channels=4, cells=1, in_channels=1, resolution=8, num_classes=10)
FAST = LatencyMethod(batches=(1, 2), warmup=1, repeats=3)
REFERENCE_CSV = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nb201_latency_help_27devices.csv"


# ----- fingerprint and store -----------------------------------------------------------------------
def test_fingerprint_names_the_machine_and_its_hash_follows_every_field() -> None:
    fp = fingerprint("cpu", threads=1)
    for key in ("cpu", "logical_cpus", "threads", "torch", "device_name", "hash"):
        assert key in fp
    assert fp["torch"] == torch.__version__ and fp["threads"] == 1
    assert fp["hash"] == fingerprint_hash(fp) == fingerprint("cpu", threads=1)["hash"]
    assert fingerprint("cpu", threads=2)["hash"] != fp["hash"]
    for key in fp.keys() - {"hash"}:  # each field, not only cpu and threads, changes the hash
        assert fingerprint_hash({**fp, key: f"another {key}"}) != fp["hash"], key


def test_store_refuses_another_machines_fingerprint(tmp_path: Path) -> None:
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([0])
        fp = store.fingerprint
    other = {**fp, "cpu": "Some Other CPU"}
    other["hash"] = fingerprint_hash(other)
    with pytest.raises(RunMismatchError, match="fingerprint") as refused:
        LatencyStore(tmp_path, TINY, FAST, fp=other)
    # it names the recorded machine and what differs, and does not advise repeating the arguments (they
    # cannot resume a folder of another machine; the old message said so)
    assert "never mixed" in str(refused.value) and "repeat the original" not in str(refused.value)
    assert f"{fp['cpu']}, " in str(refused.value) and "fingerprint.cpu" in str(refused.value)
    with LatencyStore(tmp_path / "elsewhere", TINY, FAST, fp=other) as foreign:  # a folder made on another machine
        with pytest.raises(LatencyError, match="never mixed"):
            foreign.measure([0])
        assert foreign.done() == set()
    with pytest.raises(RunMismatchError, match="repeats"):
        LatencyStore(tmp_path, TINY, LatencyMethod(batches=(1, 2), warmup=1, repeats=4))
    with pytest.raises(RunMismatchError, match="config.channels"):  # one macro shape per folder, too
        LatencyStore(tmp_path, MacroConfig(channels=8, cells=1, in_channels=1, resolution=8, num_classes=10), FAST)
    assert load_latency(tmp_path).key == fp["hash"]  # the folder still holds only this machine's timing


def test_timing_loops_leave_the_garbage_collector_nothing_to_do() -> None:
    """The method keeps Python's collector on (documented in nasbench_suite.latency): it holds because a
    forward pass under inference_mode leaves no container objects behind, so no collection starts
    inside a timing loop; a change that makes the forward pass allocate would show up here. The collector's
    state is read inside each timed call: with it off there (as timeit has it) no collection could start."""
    import gc

    from nasbench_suite.latency import prepare, time_module, torch_threads, zero_input
    from nasbench_suite.model import build_network

    started: list[int] = []
    enabled: set[bool] = set()  # the collector's state during each call (off, nothing could start a collection)

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    method = LatencyMethod(batches=(2,), warmup=5, repeats=800)  # more calls than gen0's threshold (700)
    gc.callbacks.append(count)
    try:
        with torch_threads(1):
            for arch in (0, 15624, 7000):
                torch.manual_seed(0)
                net = prepare(build_network(Arch.from_index(arch), TINY), method)
                x = zero_input((2, TINY.in_channels, TINY.resolution, TINY.resolution), method)
                gc.collect()
                started.clear()
                enabled.clear()
                time_module(lambda inputs: enabled.add(gc.isenabled()) or net(inputs), x, method)
                assert enabled == {True}, arch  # the collector stays on while timing, unlike timeit's
                assert started == [], (arch, started)  # one object left per call would have started one
    finally:
        gc.callbacks.remove(count)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_a_cuda_store_on_a_machine_without_cuda_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The CUDA fingerprint asks torch for the GPU's name: without a GPU that was torch's own error."""
    from nasbench_suite.cli import main
    from nasbench_suite.errors import DeviceError

    with pytest.raises(DeviceError, match="torch sees no CUDA device"):
        LatencyStore(tmp_path / "gpu", TINY, LatencyMethod(device="cuda", repeats=3))
    assert main(["latency", "measure", "--table", "digits", "--device", "cuda", "--archs", "0",
                 "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and "no CUDA device" in err and err.count("\n") == 1
    assert not (tmp_path / "gpu").exists() and not (tmp_path / "cli").exists()  # no folder is started


def test_store_resumes_and_rebuilds_from_the_committed_csv(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.measure([0, 6])["measured"] == 2
        assert torch.get_num_threads() == threads  # set for the measurement, restored after
    (tmp_path / "store.sqlite").unlink()  # only the committed files left: latency.json, latency.csv
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    timed: list[int] = []
    with LatencyStore(tmp_path, TINY, FAST) as store:
        info = store.measure([0, 6, 7], on_cell=timed.append)
        frame = store.frame()
    assert timed == [7] and info == {**info, "measured": 1, "already_stored": 2}
    assert sorted(frame["arch_index"].unique()) == [0, 6, 7] and set(frame["batch"]) == {1, 2}
    assert ((frame["p25_ms"] <= frame["median_ms"]) & (frame["median_ms"] <= frame["p75_ms"])).all()
    assert (frame["min_ms"] > 0).all()


def test_a_kill_in_the_first_write_of_latency_json_does_not_make_the_folder_foreign(tmp_path: Path) -> None:
    """kill -9 inside the first atomic_write_text of latency.json leaves only .latency.json.tmp; running
    the same command again said '<folder> is not empty and has no latency.json; use a new folder'."""
    (tmp_path / ".latency.json.tmp").write_text('{"half')
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.measure([0])["measured"] == 1
    assert load_latency(tmp_path).key == store.fp_hash and not (tmp_path / ".latency.json.tmp").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not empty"):  # a folder holding anything else is still refused
        LatencyStore(other, TINY, FAST)


def _assert_search_refuses(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``nasbench search --latency folder`` stops with one line saying the folder cannot be read."""
    from nasbench_suite.cli import main

    search = ["search", "--table", "digits", "--strategy", "random", "--max-queries", "3", "--seeds", "0",
              "--workers", "1", "--latency", str(folder), "--out", str(tmp_path / "s")]
    assert main(search) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: latency folder {folder} cannot be read") and err.count("\n") == 1


def test_a_damaged_latency_folder_is_one_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A broken latency.json or latency.csv was a JSONDecodeError / KeyError traceback in search --latency
    and latency measure; it is one LatencyError line naming the folder, and the files are left as found."""
    from nasbench_suite.errors import NasBenchError

    folder = tmp_path / "lat"
    with LatencyStore(folder, TINY, FAST) as store:
        store.measure([0])
    good = {name: (folder / name).read_text() for name in ("latency.json", "latency.csv")}
    damage = {"latency.json": ["{", "[]", '{"method": {}}', '{"method": {}, "fingerprint": {}}',
                               '{"method": {}, "fingerprint": {"hash": "0123456789ab"}}'],
              "latency.csv": ["", "garbage\n", good["latency.csv"].replace("\n0,", "\n99999,")]}
    for name, texts in damage.items():
        for text in texts:
            (folder / name).write_text(text)
            with pytest.raises(LatencyError, match=f"latency folder {folder} cannot be read .*latency measure` again"):
                load_latency(folder)
            with pytest.raises(NasBenchError, match=f"{folder}"):  # a LatencyError, or the StoreError of wrong columns
                LatencyStore(folder, TINY, FAST).close()
            _assert_search_refuses(folder, tmp_path, capsys)
            assert (folder / name).read_text() == text and not (tmp_path / "s").exists()
        (folder / name).write_text(good[name])
    assert load_latency(folder).key == store.fingerprint["hash"]
    from nasbench_suite.latency import latency_identity  # what compare's latency "auto" reads of each folder

    (folder / "latency.json").write_text('{"method": {}, "fingerprint": {"cpu": "x"}}')
    with pytest.raises(LatencyError, match=f"{folder} cannot be read .*lacks its fingerprint or method"):
        latency_identity(folder)


def test_a_latency_csv_with_repeated_rows_a_foreign_batch_or_bad_values_is_refused_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Rows the store cannot hold faithfully were taken in silence: a repeated (cell, batch) kept the
    first row in the store and the last in load_latency; a row of a batch the method does not time made
    the cell count as done (its own batch was never timed) and load_latency served that batch; a NaN
    statistic was dropped by INSERT OR IGNORE and the cell timed again, rewriting latency.csv. Each is
    now one error naming the folder, with latency.csv and the store left as they were."""
    import sqlite3

    folder = tmp_path / "lat"
    with LatencyStore(folder, TINY, FAST) as store:
        store.measure([0, 6])
    csv = folder / "latency.csv"
    good = csv.read_text()
    header, first, *rest = good.splitlines()
    fields = first.split(",")
    damage = {
        "repeat an \\(arch_index, batch\\)": [header, first, *rest, ",".join([*fields[:2], "9", *fields[3:]])],
        "batch sizes \\[64\\]": [header, first, *rest, ",".join(["7", "64", *fields[2:]])],
        "median_ms values that are missing": [header, ",".join([*fields[:2], "nan", *fields[3:]]), *rest],
        "p75_ms values that are missing": [header, ",".join([*fields[:4], "inf", *fields[5:]]), *rest],
        "min_ms values that are missing, zero or negative": [header, ",".join([*fields[:5], "0", *fields[6:]]), *rest],
        "mean_ms holds values that are not numbers": [header, ",".join([*fields[:6], "fast"]), *rest],
        "column batch holds values that are not integers": [header, ",".join([fields[0], "1.5", *fields[2:]]), *rest],
    }

    def stored() -> list[tuple]:
        with contextlib.closing(sqlite3.connect(folder / "store.sqlite")) as db:
            return db.execute("SELECT * FROM results ORDER BY arch, batch").fetchall()

    rows = stored()
    for message, lines in damage.items():
        text = "\n".join(lines) + "\n"
        csv.write_text(text)
        with pytest.raises(LatencyError, match=f"latency folder {folder} cannot be read .*{message}"):
            load_latency(folder)
        with pytest.raises(LatencyError, match=message):
            LatencyStore(folder, TINY, FAST).close()
        _assert_search_refuses(folder, tmp_path, capsys)
        assert csv.read_text() == text and stored() == rows and not (tmp_path / "s").exists()
    csv.write_text(good)
    assert sorted(load_latency(folder).values) == [1, 2]


def test_members_share_their_class_timing_and_attach_by_fingerprint(tmp_path: Path, search_table: Benchmark) -> None:
    iso = isomorphism_classes()
    members = np.flatnonzero(iso.class_of == iso.class_of[Arch.parse("3,3,3,3,3,3").index])
    rep = int(iso.representatives[iso.class_of[members[0]]])
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([rep])
    lat = load_latency(tmp_path)
    values = lat.of(1)
    assert np.isfinite(values[members]).all() and len(set(values[members])) == 1
    assert np.isnan(values).sum() == len(values) - len(members)
    name = lat.attach(search_table, batch=2)
    assert name == f"latency_ms_b2@{lat.key}" and name in search_table.scalar_names
    assert search_table.scalar(rep, name) == pytest.approx(lat.of(2)[rep])
    with pytest.raises(LatencyError, match="batch"):
        lat.of(64)
    fastest = load_latency(tmp_path, stat="min_ms")
    assert (fastest.of(1)[members] <= values[members]).all() and "min_ms" in fastest.source
    with pytest.raises(LatencyError, match="statistic"):
        load_latency(tmp_path, stat="max_ms")


def test_cli_measures_a_tables_network(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from nasbench_suite.cli import main

    out = tmp_path / "lat"
    args = ["latency", "measure", "--table", "digits", "--archs", "0,1,6", "--batch", "1", "--repeats", "3",
            "--warmup", "0", "--out", str(out)]
    assert main(args) == 0
    assert "fingerprint" in capsys.readouterr().out
    lat = load_latency(out)
    assert lat.identity["config"] == {"channels": 8, "cells": 1, "in_channels": 1, "resolution": 8, "num_classes": 10}
    assert main(args[:-4] + ["--repeats", "5", "--out", str(out)]) == 2  # another method: refused, one line
    assert "belongs to another run" in capsys.readouterr().err
    # past what can be allocated or started: were torch/numpy tracebacks (the batch an input of 2**62 images)
    for flag, value in (("--batch", "1,65537"), ("--repeats", str(2**62)), ("--threads", str(2**62)),
                        ("--repeats", "10001"), ("--warmup", "10001"), ("--warmup", str(2**62))):
        assert main(args[:-2] + [flag, value, "--out", str(tmp_path / "big")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nasbench: error: need batch sizes <= 65,536, warmup <= 10,000, repeats <= 10,000 and "
                              "threads <= 1,024; got ") and err.count("\n") == 1
        assert err.rstrip().endswith(f"got {flag[2:]} {value.split(',')[-1]}"), err  # names what is too large
    assert not (tmp_path / "big").exists()


# ----- LUT -----------------------------------------------------------------------------------------
def test_lut_sums_ops_and_skeleton_on_a_hand_checked_cell() -> None:
    config = MacroConfig(channels=4, cells=2, in_channels=1, resolution=8)
    entries = {k: 0.0 for k in lut_keys()}
    entries.update(stem=1.0, reduce1=2.0, reduce2=3.0, head=4.0)
    for s in range(3):
        for k, op in enumerate(OPS):
            entries[f"{op}@s{s}"] = (k + 1) * 10.0 ** s  # none 1, skip 2, conv1 3, conv3 4, pool 5 (x10 per stage)
        entries[f"add@s{s}"] = 0.5 * 10.0 ** s
    lut = OpLUT(config, 1, entries)
    cell = Arch.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    # per stage at scale 1: ops 4 + 1 + 2 + 5 + 3 + 4 = 19, adds 6 x 0.5 = 3 -> 22; two cells per stage;
    # stages scale 1, 10, 100: 2 x 22 x 111 = 4884; fixed parts 1 + 2 + 3 + 4 = 10
    assert lut.predict([cell])[0] == pytest.approx(4894.0)
    with pytest.raises(LatencyError, match="misses"):
        OpLUT(config, 1, {"stem": 1.0})


def test_measured_lut_has_every_entry_and_ranks_heavy_cells_slower() -> None:
    method = LatencyMethod(batches=(8,), warmup=2, repeats=5)
    config = MacroConfig(channels=16, cells=1, in_channels=1, resolution=16)
    lut = measure_lut(config, method, batch=8)
    assert set(lut.entries) == set(lut_keys()) and all(v > 0 for v in lut.entries.values())
    light, heavy = lut.predict([Arch((1,) * 6), Arch((3,) * 6)])
    assert heavy > light
    assert kendall_and_mape(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])) == pytest.approx(
        {"kendall_tau": 1.0, "mape_percent": 100 / 12, "cells": 3})
    # a constant prediction has no ranking: Kendall's tau is 0, not scipy's NaN
    assert kendall_and_mape(np.ones(3), np.array([1.0, 2.0, 4.0]))["kendall_tau"] == 0.0


# ----- third-party device tables -------------------------------------------------------------------
def test_import_device_csv_from_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text("arch_index,phone_ms,fpga_ms\n0,1.5,2.0\n7,3.0,4.0\n")
    tables = import_device_csv(path, index="ours")
    assert sorted(tables) == ["fpga_ms", "phone_ms"]
    assert tables["phone_ms"].of(1)[7] == 3.0 and np.isnan(tables["phone_ms"].of(1)[1])
    (tmp_path / "bad.csv").write_text("x,phone_ms\n0,1\n")
    with pytest.raises(LatencyError, match="arch_index"):
        import_device_csv(tmp_path / "bad.csv")
    for missing_or_empty in (tmp_path / "absent.csv", tmp_path / "empty.csv"):
        (tmp_path / "empty.csv").write_text("")
        with pytest.raises(LatencyError, match="cannot read latency CSV"):
            import_device_csv(missing_or_empty)
    # cells must be distinct and in the space; a text column is no device
    # ... and integers: text, a blank, a fraction or one past 64 bits (an OverflowError or ValueError traceback)
    for rows, says in ((f"0,1\n{15625},2\n", "in 0..15624"), ("-1,1\n", "in 0..15624"), ("7,1\n7,2\n", "unique"),
                       ("abc,1\n2,3\n", "in 0..15624"), (",1\n2,3\n", "in 0..15624"), ("2.5,1\n", "in 0..15624"),
                       ("99999999999999999999,1\n", "in 0..15624")):
        (tmp_path / "cells.csv").write_text("arch_index,dev_ms\n" + rows)
        with pytest.raises(LatencyError, match=says):
            import_device_csv(tmp_path / "cells.csv", index="ours")
    (tmp_path / "notes.csv").write_text("arch_index,board,dev_ms\n0,pixel,1.5\n")
    assert sorted(import_device_csv(tmp_path / "notes.csv", index="ours")) == ["dev_ms"]
    (tmp_path / "notes.csv").write_text("arch_index,board\n0,pixel\n")
    with pytest.raises(LatencyError, match="has no numeric device columns"):
        import_device_csv(tmp_path / "notes.csv", index="ours")


def test_a_measured_folders_csv_is_refused_as_a_device_table_naming_the_folder() -> None:
    """`--latency FOLDER/latency.csv:median_ms` said only 'arch indices must be unique' (one row per cell and
    batch size there)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks_data" / "latency" / "digits-cpu-e5b222917fb5"
    with pytest.raises(LatencyError, match=f"pass the folder {folder}"):
        import_device_csv(folder / "latency.csv")


def test_nb201_order_is_nas_bench_201s_index() -> None:
    order = nb201_order()
    assert order.shape == (15625,) and np.unique(order).size == 15625 and not order.flags.writeable
    # NB201 / NATS-Bench meta_archs strings (nb201_nats_test_acc_200ep.csv rows 0, 9, 123, 15624)
    assert Arch.from_index(int(order[0])).to_str() == \
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert Arch.from_index(int(order[9])).to_str() == \
        "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert Arch.from_index(int(order[123])).to_str() == \
        "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert Arch.from_index(int(order[15624])).to_str() == \
        "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|"


def test_a_device_csv_arch_index_is_nas_bench_201s_index(tmp_path: Path) -> None:
    """Third-party device tables (HW-NAS-Bench, HELP) number cells by NB201's index, an unrelated
    permutation of ours: NB201 arch 0's latency used to land on our cell 0 (all `none`)."""
    nb201_0 = Arch.from_str("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
                            "skip_connect~2|").index
    path = tmp_path / "devices.csv"
    path.write_text("arch_index,fpga_ms\n0,2.57296\n1,5.31\n")
    lat = import_device_csv(path)["fpga_ms"].of(1)
    assert lat[nb201_0] == 2.57296 and lat[int(nb201_order()[1])] == 5.31
    assert np.isnan(lat[0]) and np.isnan(lat[1])
    assert "NAS-Bench-201 arch_index" in import_device_csv(path)["fpga_ms"].source
    assert import_device_csv(path, index="ours")["fpga_ms"].of(1)[0] == 2.57296
    with pytest.raises(LatencyError, match="index must be one of"):
        import_device_csv(path, index="nats")
    # an arch_str column names the cells itself, whatever arch_index holds
    by_str = tmp_path / "by_str.csv"
    by_str.write_text(f"arch_index,arch_str,dev_ms\n0,{Arch.from_index(7)},1.25\n")
    assert import_device_csv(by_str)["dev_ms"].of(1)[7] == 1.25
    from nasbench_suite.search import latency_of

    assert latency_of(f"{path}:fpga_ms", 1, "median_ms")[0][nb201_0] == 2.57296  # search --latency FILE.csv:COLUMN


def test_a_device_table_refuses_a_batch_or_statistic_it_does_not_have(tmp_path: Path) -> None:
    from nasbench_suite.search import SearchOutputError, SearchSpec, latency_of, run_many
    from nasbench_suite.simulator import Budget

    path = tmp_path / "dev.csv"
    path.write_text("arch_index,dev_ms\n0,1.5\n7,3.0\n")
    source = f"{path}:dev_ms"
    assert latency_of(source, 1, "median_ms")[0][nb201_order()[7]] == 3.0
    # these used to return the one column anyway while the manifest recorded the batch/statistic as used
    for batch, stat in ((8, "median_ms"), (1, "min_ms")):
        with pytest.raises(SearchOutputError, match=f"latency_batch 1 and latency_stat 'median_ms'.*got batch {batch} "
                                                    f"and statistic '{stat}'"):
            latency_of(source, batch, stat)
        spec = SearchSpec(table=str(tmp_path / "no-table"), strategy="random", budget=Budget(queries=5),
                          latency=source, latency_batch=batch, latency_stat=stat)
        with pytest.raises(SearchOutputError, match="latency_batch 1"):  # before the table is even opened
            run_many([spec], [0])


@pytest.mark.skipif(not REFERENCE_CSV.is_file(), reason="the 27-device reference CSV is not on this machine")
def test_import_the_27_device_reference_csv() -> None:
    tables = import_device_csv(REFERENCE_CSV)
    assert len(tables) == 27 and "pixel3_ms" in tables
    assert all(np.isfinite(t.of(1)).all() for t in tables.values())
    # the file numbers cells by NB201's index: its arch 0 (HW-NAS-Bench's published 2.57296 ms) is our nb201_order()[0]
    assert tables["fpga_ms"].of(1)[nb201_order()[0]] == pytest.approx(2.57296)
    conv3 = (np.asarray([Arch.from_index(i).ops for i in range(15625)]) == OPS.index("nor_conv_3x3")).sum(axis=1)
    from scipy.stats import spearmanr

    assert spearmanr(conv3, tables["pixel3_ms"].of(1)).statistic > 0.8  # more 3x3 convolutions, slower


# ----- search with latency -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def latency() -> np.ndarray:
    return synthetic_latency()


SETTINGS = {"random": {}, "rea": {"population": 10}, "bananas": {"train_epochs": 30, "members": 3, "n_init": 8}}


@pytest.mark.parametrize("name", ["random", "rea", "bananas"])
def test_constrained_incumbent_never_breaks_the_latency_limit(name: str, search_table: Benchmark,
                                                              latency: np.ndarray) -> None:
    limit = float(np.quantile(latency, 0.2))
    oracle = Oracle(search_table).with_latency(latency, "synthetic (test)", max_latency=limit)
    tr = run_search(make_strategy(name, SETTINGS[name]), oracle, Budget(queries=60), seed=3)
    told = latency[tr.columns["arch_index"]]
    inc = tr.columns["incumbent_index"]
    assert (told > limit).any()  # infeasible cells were seen, so the check below means something
    assert (inc >= 0).any() and (latency[inc[inc >= 0]] <= limit).all()
    assert np.isnan(tr.columns["incumbent_value"][inc < 0]).all()
    free = run_search(make_strategy(name, SETTINGS[name]), Oracle(search_table).with_latency(latency, "synthetic"),
                      Budget(queries=60), seed=3)
    assert latency[free.final_incumbent()] > limit  # without the limit the best cell is a slow one


@pytest.mark.parametrize("limit", [True, "0.4"])
def test_a_latency_limit_is_a_number_of_ms(search_table: Benchmark, latency: np.ndarray, tmp_path: Path,
                                           limit: Any) -> None:
    """True (1 to Python) was taken as a limit of 1 ms by both; a string ended in a TypeError from '>'."""
    import pandas as pd

    from nasbench_suite.search import SearchOutputError, SearchSpec, run_seeds

    with pytest.raises(StrategyError, match="max_latency must be a positive number of ms"):
        Oracle(search_table).with_latency(latency, "synthetic", max_latency=limit)
    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(len(latency)), "toy_ms": latency}).to_csv(csv, index=False)
    spec = SearchSpec(str(search_table.path), "random", Budget(queries=5), latency=f"{csv}:toy_ms",
                      max_latency=limit)
    with pytest.raises(SearchOutputError, match="must be a finite number of ms > 0"):
        run_seeds(spec, [0], evaluation=None)


def test_a_latency_source_rewritten_within_one_python_session_is_read_again(search_table: Benchmark,
                                                                            latency: np.ndarray, tmp_path: Path) -> None:
    """latency_of and the compiled oracle were cached by the source's name alone: in a notebook, a search after
    the latency folder or device table was measured again replayed the old latencies (and its manifest named
    the old source)."""
    import os

    import pandas as pd

    from nasbench_suite.search import SearchSpec, run_seeds

    csv = tmp_path / "devices.csv"
    spec = SearchSpec(str(search_table.path), "random", Budget(queries=5), latency=f"{csv}:toy_ms")
    seen = []
    for k, scale in enumerate((1.0, 3.0)):
        pd.DataFrame({"arch_index": range(len(latency)), "toy_ms": latency * scale}).to_csv(csv, index=False)
        os.utime(csv, ns=(10**18 + k, 10**18 + k))  # a new mtime even on a coarse clock
        seen.append(run_seeds(spec, [0], evaluation=None, progress=False).frame["latency"].to_numpy())
    np.testing.assert_allclose(seen[1], 3.0 * seen[0])


def test_a_latency_source_rewritten_within_one_session_reaches_what_the_runs_see(search_table: Benchmark,
                                                                                latency: np.ndarray,
                                                                                tmp_path: Path) -> None:
    """The compiled oracle (the latencies the strategy is told and the limit is applied to) is cached by the
    latency files' state too, not only the latency column written beside the runs: after the device table is
    measured again with the cells' latencies shuffled, a constrained run's incumbents are within the limit by
    the new latencies, not by the old ones."""
    import os

    import pandas as pd

    from nasbench_suite.search import SearchSpec, run_seeds

    csv = tmp_path / "devices.csv"
    limit = float(np.quantile(latency[search_table.arch_indices], 0.3))
    spec = SearchSpec(str(search_table.path), "random", Budget(queries=15), latency=f"{csv}:toy_ms",
                      max_latency=limit)
    for k, values in enumerate((latency, latency[np.random.default_rng(0).permutation(len(latency))])):
        pd.DataFrame({"arch_index": range(len(values)), "toy_ms": values}).to_csv(csv, index=False)
        os.utime(csv, ns=(10**18 + k, 10**18 + k))  # a new mtime even on a coarse clock
        frame = run_seeds(spec, [0, 1], evaluation=None, progress=False).frame
        has = frame["incumbent_index"] >= 0
        assert has.any() and (frame.loc[has, "incumbent_latency"] <= limit).all()


def test_a_device_table_rewritten_to_the_same_size_is_read_again(tmp_path: Path) -> None:
    """The cache key of a latency source holds each file's modification time, not its size alone: a device
    table measured again whose values take as many bytes as before (1.5 ms -> 2.5 ms) is read again, not
    served from the cache of the first read."""
    import os

    from nasbench_suite.search import latency_of

    csv = tmp_path / "dev.csv"
    seen = []
    for k, value in enumerate(("1.5", "2.5")):
        csv.write_text(f"arch_index,dev_ms\n0,{value}\n")
        os.utime(csv, ns=(10**18 + k, 10**18 + k))  # a new mtime even on a coarse clock
        seen.append(float(latency_of(f"{csv}:dev_ms")[0][nb201_order()[0]]))
    assert seen == [1.5, 2.5]


def test_a_strategy_naming_an_infeasible_incumbent_is_stopped(search_table: Benchmark, latency: np.ndarray) -> None:
    slow = Arch((3,) * 6)

    class Stubborn(Strategy):
        def setup(self, space, rng):  # type: ignore[no-untyped-def]
            self.space = space

        def ask(self, n):  # type: ignore[no-untyped-def]
            return [Query(slow, self.space.max_epoch)]

        def tell(self, results):  # type: ignore[no-untyped-def]
            assert all(r.latency == pytest.approx(latency[slow.index]) for r in results)

        def incumbent(self):  # type: ignore[no-untyped-def]
            return slow

    oracle = Oracle(search_table).with_latency(latency, "synthetic", max_latency=float(latency[slow.index]) - 1)
    with pytest.raises(StrategyError, match="latency constraint"):
        run_search(Stubborn(), oracle, Budget(queries=3), seed=0)


def test_latency_objective_is_checked() -> None:
    with pytest.raises(StrategyError):
        Oracle.__new__(Oracle).with_latency(np.ones(5), "x")


def test_nsga2_returns_a_non_dominated_front(search_table: Benchmark, latency: np.ndarray) -> None:
    oracle = Oracle(search_table).with_latency(latency, "synthetic (test)")
    strategy = make_strategy("nsga2", {"population": 12})
    run_search(strategy, oracle, Budget(queries=96), seed=1, workers=2)
    front = strategy.front()
    v = np.array([p[1] for p in front])
    t = np.array([p[2] for p in front])
    assert len(front) >= 3 and non_dominated(v, t).all()
    for i in range(len(front)):
        for j in range(len(front)):
            assert not (v[j] >= v[i] and t[j] <= t[i] and (v[j] > v[i] or t[j] < t[i]))
    told_v = np.array([p[1] for p in strategy.told])
    told_t = np.array([p[2] for p in strategy.told])
    for tv, tt in zip(told_v, told_t):  # every told point is matched or dominated by the front
        assert ((v >= tv) & (t <= tt)).any()
    with pytest.raises(StrategyError, match="latency"):
        run_search(make_strategy("nsga2"), Oracle(search_table), Budget(queries=5), seed=0)


# ----- Pareto tools --------------------------------------------------------------------------------
def test_non_dominated_ranks_crowding_and_hypervolume_by_hand() -> None:
    v = np.array([90.0, 80.0, 70.0, 85.0, 60.0])
    t = np.array([10.0, 5.0, 2.0, 10.0, 3.0])
    assert non_dominated(v, t).tolist() == [True, True, True, False, False]
    assert nondominated_ranks(v, t).tolist() == [0, 0, 0, 1, 1]
    assert np.isinf(crowding_distance(v[:3], t[:3])[[0, 2]]).all()
    # reference (50, 12): strips t in [2,5): 20 x 3, [5,10): 30 x 5, [10,12): 40 x 2 -> 60 + 150 + 80
    assert hypervolume(v, t, 50.0, 12.0) == pytest.approx(290.0)
    assert hypervolume(v[:3], t[:3], 50.0, 12.0) == pytest.approx(290.0)  # dominated points add nothing
    assert hypervolume(np.array([40.0]), np.array([1.0]), 50.0, 12.0) == 0.0


@pytest.mark.parametrize("ref_value, ref_latency", [(np.nan, 2.0), (1.0, np.inf), ("0", 2.0), (0.0, None), (True, 2.0)])
def test_hypervolume_refuses_a_reference_point_that_is_not_finite_numbers(ref_value, ref_latency) -> None:
    # NaN used to give 0.0 silently and a string numpy's UFuncTypeError
    with pytest.raises(ParetoError, match="reference point's ref_.* must be a finite number"):
        hypervolume([1.0], [1.0], ref_value, ref_latency)
    assert hypervolume([1.0], [1.0], np.float64(0.0), 3) == 2.0  # numpy and int numbers are fine


def test_cli_search_with_a_latency_limit(search_table: Benchmark, latency: np.ndarray, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    import json

    import pandas as pd

    from nasbench_suite.cli import main

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    limit = float(np.quantile(latency, 0.2))
    out = tmp_path / "run"
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--seeds", "0-2", "--max-queries", "40",
            "--workers", "1", "--latency", f"{csv}:toy_ms", "--max-latency", str(limit), "--out", str(out)]
    assert main(args) == 0
    frame = pd.read_parquet(out / "trajectories.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (frame["latency"].to_numpy() == latency[frame["arch_index"]]).all() and (frame["latency"] > limit).any()
    has = frame["incumbent_index"] >= 0
    assert has.any() and (frame.loc[has, "incumbent_latency"] <= limit).all()
    assert (frame.loc[has, "incumbent_latency"].to_numpy() == latency[frame.loc[has, "incumbent_index"]]).all()
    assert (~has).any() and frame.loc[~has, "incumbent_latency"].isna().all()  # no incumbent yet: no latency
    assert manifest["search"]["latency"]["key"] == "toy_ms" and manifest["search"]["latency"]["max_latency_ms"] == limit
    assert set(manifest["columns"]) == set(frame.columns)
    capsys.readouterr()
    assert main([*args[:-2], "--latency", f"{csv}:nope", "--out", str(tmp_path / "x")]) == 2
    assert "no device column" in capsys.readouterr().err


def test_constrained_regret_is_measured_from_the_best_cell_within_the_limit(
        search_table: Benchmark, latency: np.ndarray, tmp_path: Path) -> None:
    """Under --max-latency the regret (and the manifest's optimum) is the distance to the best cell within the
    limit: it was the unconstrained optimum's, a cell over the limit no constrained search may return, so even
    the best feasible incumbent showed a regret above 0."""
    import json

    import pandas as pd

    from nasbench_suite.cli import main

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    limit = float(np.quantile(latency[search_table.arch_indices], 0.2))
    test = search_table.array("test", "acc", epoch=search_table.max_epoch)
    within = latency[search_table.arch_indices] <= limit
    assert latency[search_table.optimum("test", "acc")[0].index] > limit  # the unconstrained best is out of reach
    out = tmp_path / "run"
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-3",
                 "--max-queries", "40", "--workers", "1", "--latency", f"{csv}:toy_ms", "--max-latency", str(limit),
                 "--out", str(out)]) == 0
    evaluation = json.loads((out / "manifest.json").read_text())["evaluation"]
    assert evaluation["optimum"] == test[within].max() < np.nanmax(test)
    assert latency[evaluation["optimum_arch"]] <= limit and "latency limit" in evaluation["optimum_among"]
    frame = pd.read_parquet(out / "trajectories.parquet")
    has = frame["incumbent_index"] >= 0
    assert has.any() and np.allclose(frame.loc[has, "regret_test_acc"],
                                     test[within].max() - frame.loc[has, "incumbent_test_acc"])
    assert (frame.loc[has, "regret_test_acc"] >= 0).all()


def test_an_eval_table_without_a_cell_within_the_limit_is_refused_naming_the_limit(
        search_table: Benchmark, latency: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The constrained regret needs the best cell within the limit on the evaluation table: one that holds none
    is refused before the runs, in one line that names the limit (it said only "among the cells allowed")."""
    import pandas as pd

    from nasbench_suite.cli import main
    from nasbench_suite.table import build_table

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    limit = float(np.quantile(latency[search_table.arch_indices], 0.2))
    slow = int(search_table.arch_indices[np.argmax(latency[search_table.arch_indices])])
    build_table(pd.DataFrame([dict(arch_index=slow, seed=0, epoch=e, train_seconds=1.0, valid_seconds=0.5,
                                   valid_acc=50.0, test_acc=50.0) for e in range(1, search_table.max_epoch + 1)]),
                tmp_path / "slow-only")
    out = tmp_path / "run"
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0", "--max-queries",
                 "5", "--latency", f"{csv}:toy_ms", "--max-latency", str(limit), "--eval-table",
                 str(tmp_path / "slow-only"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: table 'slow-only' has no test_acc results at that epoch among the cells "
                          f"allowed: the cells within the latency limit of {limit:g} ms ({csv}:toy_ms)") and \
        err.count("\n") == 1
    assert not out.exists()


def test_a_latency_limit_below_every_cell_is_refused_before_the_run(search_table: Benchmark, latency: np.ndarray,
                                                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import pandas as pd

    from nasbench_suite.cli import main

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    fastest = float(latency[search_table.arch_indices].min())
    base = ["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0", "--max-queries", "5",
            "--workers", "1", "--latency", f"{csv}:toy_ms"]
    assert main([*base, "--max-latency", str(fastest / 2), "--out", str(tmp_path / "below")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "below the fastest cell" in err and f"{fastest:.4g} ms" in err, err
    assert not (tmp_path / "below").exists()
    assert main([*base, "--max-latency", str(fastest), "--out", str(tmp_path / "at")]) == 0  # the fastest cell fits


def test_a_latency_limit_below_the_fastest_cell_of_a_device_table_of_some_cells_is_refused(
        search_table: Benchmark, latency: np.ndarray, tmp_path: Path) -> None:
    """A device table that times only some cells: the limit is checked against the fastest cell it times
    (the others have no latency), not skipped because some cells have none."""
    import pandas as pd

    from nasbench_suite.search import SearchOutputError, SearchSpec, latency_of, run_seeds

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(100), "toy_ms": latency[:100]}).to_csv(csv, index=False)
    rows = latency_of(f"{csv}:toy_ms")[0][search_table.arch_indices]
    assert np.isnan(rows).any() and not np.isnan(rows).all()
    spec = SearchSpec(str(search_table.path), "random", Budget(queries=5), latency=f"{csv}:toy_ms",
                      max_latency=float(np.nanmin(rows)) / 2)
    with pytest.raises(SearchOutputError, match="below the fastest cell"):
        run_seeds(spec, [0], evaluation=None, progress=False)


def test_runs_without_an_incumbent_in_constrained_mode_are_counted(search_table: Benchmark, latency: np.ndarray,
                                                                     tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The printed means skip runs that found no cell within the limit; the output says how many."""
    import pandas as pd

    from nasbench_suite.cli import main

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_str": [Arch.from_index(i).to_str() for i in range(len(latency))], "toy_ms": latency}).to_csv(
        csv, index=False)
    limit = float(np.quantile(latency[search_table.arch_indices], 0.15))  # some runs of 5 queries meet none
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-9",
                 "--max-queries", "5", "--workers", "1", "--latency", f"{csv}:toy_ms", "--max-latency", str(limit),
                 "--out", str(tmp_path / "o")]) == 0
    final = pd.read_parquet(tmp_path / "o" / "trajectories.parquet").groupby("seed").tail(1)
    empty = int((final["incumbent_index"] < 0).sum())
    assert 0 < empty < 10
    assert f"{empty} of 10 runs found no cell within --max-latency" in capsys.readouterr().out
    none_found = int(final.loc[final["incumbent_index"] < 0, "seed"].iloc[0])  # a run alone: nothing to average
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", str(none_found),
                 "--max-queries", "5", "--workers", "1", "--latency", f"{csv}:toy_ms", "--max-latency", str(limit),
                 "--out", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "no run found a cell within --max-latency" in out and "nan" not in out, out  # was 'mean nan +- nan'


def test_a_latency_folder_of_another_network_shape_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from nasbench_suite.cli import main
    from nasbench_suite.latency import shipped_latency_folders

    digits_folder = next(p for p in shipped_latency_folders() if p.name.startswith("digits-"))
    base = ["search", "--strategy", "rea", "--seeds", "0", "--max-queries", "5", "--workers", "1",
            "--latency", str(digits_folder)]
    assert main([*base, "--table", "cifar10-16px", "--out", str(tmp_path / "other")]) == 2  # 16x16x3 cells
    assert "timed the network" in capsys.readouterr().err and not (tmp_path / "other").exists()
    assert main([*base, "--table", "digits", "--out", str(tmp_path / "same")]) == 0


def _nsga2(population: int, **settings: float):
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("nsga2", {"population": population, **settings})
    strategy.setup(SearchSpace((12,), np.arange(15625), latency_source="synthetic (test)"), np.random.default_rng(0))
    return strategy


def test_nsga2_tournaments_use_the_rank_and_crowding_of_the_survival_step() -> None:
    """Deb et al. 2002 (and pymoo's RankAndCrowding) keep the crowding computed on the merged population's
    fronts; the survivors' keys used to be recomputed among the survivors alone, which made the kept part
    of a split front look sparser (here 2.0 instead of 1.0 for the interior point kept)."""
    strategy = _nsga2(3)
    line = [(Arch.from_index(i), 10.0 * (i + 1), float(i + 1)) for i in range(5)]  # one front of 5 on a line
    strategy._survive(line + [(Arch.from_index(9), 5.0, 6.0)])  # and one dominated point
    ranks, crowd = strategy.keys
    assert ranks.tolist() == [0, 0, 0] and sorted(crowd.tolist()) == [1.0, np.inf, np.inf]
    kept = {a.index for a, _, _ in strategy.parents}
    assert {0, 4} <= kept and len(kept & {1, 2, 3}) == 1  # both ends, and one interior point


def test_nsga2_mates_as_pymoo_two_tournaments_per_parent_and_two_children_per_crossover() -> None:
    strategy = _nsga2(6)
    strategy._survive([(Arch.from_index(i), float(i), float(i % 4)) for i in range(6)])
    pairs = strategy._tournament_pairs(6)  # the competitors of 6 tournaments: two shuffles of the population
    assert pairs.shape == (6, 2) and (pairs[:, 0] != pairs[:, 1]).all()
    assert np.bincount(pairs.ravel(), minlength=6).tolist() == [2] * 6
    a, b = Arch((0,) * 6), Arch((1, 2, 3, 4, 0, 1))
    c, d = strategy._cross(a, b)  # uniform crossover: the two complementary children
    assert all({x, y} == {p, q} for x, y, p, q in zip(c.ops, d.ops, a.ops, b.ops))


def test_nsga2_children_are_bred_from_the_winners_of_their_tournaments() -> None:
    """Each mating takes the winners of two tournaments (by rank, as set here: parent i has rank i, so the
    lower index wins), not a competitor drawn regardless of the keys: the worst parent never breeds."""
    strategy = _nsga2(4, crossover=0.0, mutation=0.0)
    strategy.parents = [(Arch.from_index(100 * i), 0.0, 0.0) for i in range(4)]
    strategy.keys = (np.arange(4), np.zeros(4))
    pairs: list[np.ndarray] = []
    mates: list[tuple[int, int]] = []
    draw, breed = strategy._tournament_pairs, strategy._offspring
    strategy._tournament_pairs = lambda n: pairs.append(draw(n)) or pairs[-1]  # type: ignore[method-assign]
    strategy._offspring = lambda a, b: mates.append((a.index, b.index)) or breed(a, b)  # type: ignore[method-assign]
    strategy._children()
    winners = [100 * int(min(i, j)) for p in pairs for i, j in p]
    assert mates and [m for pair in mates for m in pair] == winners[:2 * len(mates)]
    assert 300 not in {m for pair in mates for m in pair}


@pytest.mark.parametrize("setting", [{"crossover": 1.5}, {"crossover": -0.1}, {"crossover": float("nan")},
                                     {"mutation": 2.0}, {"mutation": -1.0}])
def test_nsga2_refuses_probabilities_outside_0_1(setting: dict[str, float]) -> None:
    """crossover=1.5 or mutation=2 ran as if they were 1 (and -0.1 as 0) without a word."""
    with pytest.raises(StrategyError, match=f"setting {next(iter(setting))}=.* must be a finite number in \\[0, 1\\] "
                                            f"\\(a probability\\)"):
        _nsga2(4, **setting)
    for edge in (0.0, 1.0):
        _nsga2(4, **{next(iter(setting)): edge})


def test_crowding_distance_follows_pymoo_on_duplicates() -> None:
    """pymoo's calc_crowding_distance: a point equal to an earlier one gets 0 and the rest are spread among
    themselves; an objective with no spread adds nothing (no infinite ends); the accuracy is sorted as the
    loss pymoo minimizes (-value), so of two tied best values the first is the end of the accuracy axis."""
    assert crowding_distance(np.full(4, 50.0), np.full(4, 3.0)).tolist() == [0.0] * 4
    d = crowding_distance(np.array([90.0, 90.0, 70.0, 60.0]), np.array([5.0, 5.0, 2.0, 1.0]))
    assert np.isinf(d[[0, 3]]).all() and d[1] == 0.0 and d[2] == pytest.approx(30 / 30 + 4 / 4)
    d = crowding_distance(np.array([90.0, 90.0, 70.0, 60.0]), np.array([5.0, 4.0, 2.0, 1.0]))
    assert np.isinf(d[[0, 3]]).all() and d[1] == pytest.approx(20 / 30 + 3 / 4)


def test_one_writer_per_latency_folder_and_a_killed_holder_blocks_nothing(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    """A second `latency measure` on a folder another process is timing into stops at once with one line naming
    that process (two writers timed every cell twice, each under the other's load, and raced on latency.csv:
    one died on the other's renamed temporary file); a writer killed with SIGKILL blocks no later run."""
    from lock_holder import holding

    from nasbench_suite.cli import main
    from nasbench_suite.errors import RunInUseError

    folder = tmp_path / "lat"
    with LatencyStore(folder, TINY, FAST) as store:
        store.measure([0])
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.name in ("latency.json", "latency.csv")}
    setup = ("from nasbench_suite.latency import LatencyMethod, LatencyStore\nfrom nasbench_suite.model import MacroConfig\n"
             f"config, method = MacroConfig(**{TINY.to_dict()!r}), LatencyMethod(batches=(1, 2), warmup=1, repeats=3)")
    with holding(setup, "LatencyStore(Path(sys.argv[1]), config, method)", folder) as holder:
        with pytest.raises(RunInUseError, match=f"in use by process {holder.pid} \\(nasbench latency measure\\)"):
            LatencyStore(folder, TINY, FAST)
        assert main(["latency", "measure", "--table", "digits", "--archs", "1", "--repeats", "3", "--warmup", "0",
                     "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nasbench: error: ") and len(err.strip().splitlines()) == 1, err
        assert f"in use by process {holder.pid}" in err and "latency.csv" in err
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    with LatencyStore(folder, TINY, FAST) as store:  # the killed holder's lock went with it
        assert store.measure([0, 1])["measured"] == 1
    # a first start killed before its latency.json was written leaves its lock file: not a foreign folder
    with holding(setup, "LatencyStore(Path(sys.argv[1]), config, method)", tmp_path / "new"):
        pass
    (tmp_path / "new" / "latency.json").unlink()
    with LatencyStore(tmp_path / "new", TINY, FAST) as store:
        assert store.measure([0])["measured"] == 1


def test_time_module_statistics_of_known_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake clock: the timed calls take 1, 2, 4 and 10 ms; warmup calls are not timed. The median and the
    quartiles are numpy's linear-interpolation percentiles: 3, 1.75 and 5.5 ms; min 1; mean 4.25. Every call,
    warm-up included, runs under torch.inference_mode (the module doc's method)."""
    import time

    from nasbench_suite.latency import LatencyMethod, time_module

    ticks = iter(np.cumsum([0, 1, 5, 2, 5, 4, 5, 10]) * 1_000_000)  # start/stop of each timed call, in ns
    monkeypatch.setattr(time, "perf_counter_ns", lambda: int(next(ticks)))
    calls: list[bool] = []
    stats = time_module(lambda x: calls.append(torch.is_inference_mode_enabled()), torch.zeros(1),
                        LatencyMethod(warmup=2, repeats=4))
    assert calls == [True] * 6
    assert stats == {"median_ms": 3.0, "p25_ms": 1.75, "p75_ms": 5.5, "min_ms": 1.0, "mean_ms": 4.25}


def test_fingerprint_hash_is_of_the_sorted_json_without_the_hash() -> None:
    import hashlib

    expected = hashlib.sha256(b'{"a": 1, "b": "x"}').hexdigest()[:12]
    assert fingerprint_hash({"b": "x", "a": 1}) == fingerprint_hash({"a": 1, "b": "x", "hash": "old"}) == expected


def test_latency_method_sorts_batches_and_refuses_duplicates_and_too_few_repeats() -> None:
    assert LatencyMethod(batches=(8, 1, 4)).batches == (1, 4, 8)
    assert LatencyMethod(repeats=3).repeats == 3
    for bad in ({"batches": (2, 2)}, {"batches": (0, 1)}, {"batches": ()}, {"repeats": 2}, {"warmup": -1},
                {"threads": 0}, {"device": "gpu"}):
        with pytest.raises(LatencyError):
            LatencyMethod(**bad)
    # the limits themselves are allowed (LIMITS: the largest batch size, repeats and threads)
    assert LatencyMethod(batches=(65_536,), warmup=10_000, repeats=10_000, threads=1_024).batches == (65_536,)
    for too_many in ({"warmup": 10_001}, {"repeats": 10_001}):  # a typo's run of days (warm-up had no bound)
        with pytest.raises(LatencyError, match=f"got {next(iter(too_many))} 10001$"):
            LatencyMethod(**too_many)


def test_torch_threads_restores_the_thread_count() -> None:
    from nasbench_suite.latency import torch_threads

    old = torch.get_num_threads()
    with torch_threads(old + 1):
        assert torch.get_num_threads() == old + 1
    assert torch.get_num_threads() == old


def test_measure_lut_times_each_reduction_block_at_its_input_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reduction block, the stem and the head at their input shapes, and each stage's ops and addition at
    that stage's shape (OpLUT: ``<op>@s<stage>``)."""
    import nasbench_suite.latency as latency
    from nasbench_suite.model import ReductionBlock

    timed: dict[tuple[int, ...], list[Any]] = {}

    def fake_time(module: Any, inputs: torch.Tensor, method: LatencyMethod) -> dict[str, float]:
        timed.setdefault(tuple(inputs.shape), []).append(module)
        return {"median_ms": 1.0, "p25_ms": 1.0, "p75_ms": 1.0, "min_ms": 1.0, "mean_ms": 1.0}

    monkeypatch.setattr(latency, "time_module", fake_time)
    config = MacroConfig(channels=4, cells=2, in_channels=1, resolution=8, num_classes=10)
    torch.manual_seed(1)  # the LUT's network is built after torch.manual_seed(0), as a cell's is
    lut = measure_lut(config, LatencyMethod(warmup=0, repeats=3), batch=2)
    from nasbench_suite.model import build_network

    torch.manual_seed(0)
    assert torch.equal(timed[(2, 1, 8, 8)][0][0].weight, build_network(Arch((0,) * 6), config).stem[0].weight)
    assert set(lut.entries) == set(lut_keys())
    for shape, (c_in, c_out) in (((2, 4, 8, 8), (4, 8)), ((2, 8, 4, 4), (8, 16))):
        blocks = [m for m in timed[shape] if isinstance(m, ReductionBlock)]
        assert len(blocks) == 1, shape
        assert (blocks[0].conv_a.op[1].in_channels, blocks[0].conv_a.op[1].out_channels) == (c_in, c_out)
    # the stem on the network's input (1 channel, 8x8) and the head on the last stage's output (16 channels, 2x2)
    stem, = timed[(2, 1, 8, 8)]
    assert (stem[0].in_channels, stem[0].out_channels) == (1, 4)
    heads = [m for m in timed[(2, 16, 2, 2)] if isinstance(m, torch.nn.Sequential) and isinstance(m[-1], torch.nn.Linear)]
    assert len(heads) == 1 and heads[0][-1].in_features == 16
    # each stage's five ops and its addition at that stage's shape, beside its reduction block or head
    assert sorted(timed) == [(2, 1, 8, 8), (2, 4, 8, 8), (2, 8, 4, 4), (2, 16, 2, 2)]
    assert [len(timed[(2, c, r, r)]) for c, r in ((4, 8), (8, 4), (16, 2))] == [1 + len(OPS) + 1] * 3


def test_nsga2_crowding_is_computed_within_each_front() -> None:
    """Two fronts of three points on lines: rank 0 and 1, the ends of each front infinitely crowded and the
    middle one 2.0 (a gap of 1.0 of the range on each objective), computed among its own front only."""
    front0 = [(Arch.from_index(i), 10.0 * (i + 1), float(i + 1)) for i in range(3)]
    front1 = [(Arch.from_index(10 + i), 10.0 * i + 5.0, float(i + 2)) for i in range(3)]
    ranks, crowd = _nsga2(3)._rank_keys(front0 + front1)
    assert ranks.tolist() == [0, 0, 0, 1, 1, 1]
    assert crowd.tolist() == [np.inf, 2.0, np.inf, np.inf, 2.0, np.inf]


def test_nsga2_tournament_winner_is_the_lower_rank_then_the_larger_crowding() -> None:
    strategy = _nsga2(4)
    strategy.parents = [(Arch.from_index(i), 0.0, 0.0) for i in range(4)]
    strategy.keys = (np.array([1, 0, 0, 0]), np.array([np.inf, 0.5, 2.0, 2.0]))
    assert strategy._winner(0, 1) == 1 and strategy._winner(1, 0) == 1  # rank first, whatever the crowding
    assert strategy._winner(1, 2) == 2 and strategy._winner(2, 1) == 2  # same rank: the larger crowding
    pairs = strategy._tournament_pairs(3)  # 6 competitors from two shuffles of the 4 parents
    assert pairs.shape == (3, 2) and np.bincount(pairs.ravel(), minlength=4).max() <= 2


def test_nsga2_offspring_are_crossed_with_probability_crossover_then_mutated_with_probability_mutation() -> None:
    a, b = Arch((0,) * 6), Arch((4,) * 6)
    assert _nsga2(4, crossover=0.0, mutation=0.0)._offspring(a, b) == [a, b]  # copies
    strategy = _nsga2(4, crossover=1.0, mutation=0.0)
    crossed = [strategy._offspring(a, b) for _ in range(200)]
    assert all({x, y} == {0, 4} for c, d in crossed for x, y in zip(c.ops, d.ops))  # complementary children
    share = np.mean([op == 0 for c, _ in crossed for op in c.ops])  # each edge from a with probability 1/2
    assert 0.45 < share < 0.55
    for child, parent in zip(_nsga2(4, crossover=0.0, mutation=1.0)._offspring(a, b), (a, b)):
        assert sum(x != y for x, y in zip(child.ops, parent.ops)) == 1  # one uniform-edge edit


def test_nsga2_waits_for_its_generation_and_keeps_better_parents_over_worse_children() -> None:
    """ask returns at most the generation (population cells) until all of it is told; survival merges
    parents and children, so parents that dominate every child stay the parents."""
    from nasbench_suite.strategy import Result

    strategy = _nsga2(2)
    first = strategy.ask(5)
    assert len(first) == 2 and strategy.ask(5) == []  # waits for the first generation
    strategy.tell([Result(q, 91.0 - i, 1.0, i, 1.0, latency=2.0 - i) for i, q in enumerate(first)])
    children = strategy.ask(5)
    assert len(children) == 2 and {q.arch.index for q in children}.isdisjoint({q.arch.index for q in first})
    strategy.tell([Result(q, 10.0, 1.0, 2 + i, 2.0, latency=50.0) for i, q in enumerate(children)])
    strategy.ask(2)  # survival happens before the next generation is made
    assert sorted(a.index for a, _, _ in strategy.parents) == sorted(q.arch.index for q in first)
    front = strategy.front()
    assert [p[0].index for p in front] == [first[1].arch.index, first[0].arch.index]  # non-dominated, by latency
    assert [p[2] for p in front] == [1.0, 2.0]


def test_nsga2_needs_a_population_of_two() -> None:
    with pytest.raises(StrategyError, match=r"setting population=1 must be an integer in \[2, 100000\]"):
        _nsga2(1)
    assert len(_nsga2(2).ask(5)) == 2


# ----- what is timed, how, and what the store keeps (no clock needed) -------------------------------
def distinct_stats(arch: Arch, config: MacroConfig, method: LatencyMethod) -> dict[int, dict[str, float]]:
    """What measure_arch returns, without timing anything: another number (6 significant digits) for each
    cell, batch size and statistic."""
    from nasbench_suite.latency import STATS

    return {b: {s: round(1 + k + arch.index / 1e5 + b / 10, 5) for k, s in enumerate(STATS)} for b in method.batches}


def test_time_module_on_cuda_synchronizes_before_starting_and_before_stopping_the_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The module doc's CUDA timing: the untimed warm-up calls, one synchronize, then per timed call the clock,
    the call, a synchronize and the clock again (without them the clock stops when the kernels are queued)."""
    import time

    from nasbench_suite.latency import time_module

    class CudaInput:  # time_module asks its input only whether it is on CUDA
        is_cuda = True

    events: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *args: events.append("sync"))
    monkeypatch.setattr(time, "perf_counter_ns", lambda: events.append("clock") or len(events) * 1_000_000)
    time_module(lambda x: events.append("call"), CudaInput(), LatencyMethod(warmup=2, repeats=3))
    assert events == ["call", "call", "sync", *["clock", "call", "sync", "clock"] * 3]


@pytest.mark.parametrize("channels_last", [True, False])
def test_measure_arch_times_the_seeded_eval_network_on_a_zero_input_of_each_batch_size(
        monkeypatch: pytest.MonkeyPatch, channels_last: bool) -> None:
    """The module doc's method: the cell's network built after torch.manual_seed(0) (whatever the global RNG
    holds), in eval mode, in channels_last memory when the method says so, called on an all-zero input of
    each batch size (3 input channels here: with 1, both memory formats are the same strides)."""
    import nasbench_suite.latency as latency
    from nasbench_suite.latency import STATS, measure_arch
    from nasbench_suite.model import build_network

    config = MacroConfig(channels=4, cells=1, in_channels=3, resolution=8, num_classes=10)
    method = LatencyMethod(batches=(3, 1), warmup=0, repeats=3, channels_last=channels_last)
    arch = Arch((3,) * 6)
    timed: list[tuple[Any, torch.Tensor]] = []

    def fake_time(module: Any, inputs: torch.Tensor, m: LatencyMethod) -> dict[str, float]:
        timed.append((module, inputs))
        return dict.fromkeys(STATS, 1.0)

    monkeypatch.setattr(latency, "time_module", fake_time)
    torch.manual_seed(1)
    assert sorted(measure_arch(arch, config, method)) == [1, 3]
    assert [tuple(x.shape) for _, x in timed] == [(1, 3, 8, 8), (3, 3, 8, 8)]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for net, x in timed:
        assert not net.training and not any(m.training for m in net.modules())
        assert not x.any() and x.is_contiguous(memory_format=fmt)
        assert net.stem[0].weight.is_contiguous(memory_format=fmt)
    torch.manual_seed(0)
    seeded = build_network(arch, config).state_dict()
    assert all(torch.equal(v, seeded[k]) for k, v in timed[0][0].state_dict().items())


def test_the_store_and_the_lut_time_with_the_methods_thread_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--threads N: the folder's fingerprint records N, the store's own check of this machine uses N (not 1: the
    folder would be foreign to itself), and cells and LUT entries are timed with torch set to N threads."""
    import nasbench_suite.latency as latency
    from nasbench_suite.latency import STATS

    n = torch.get_num_threads() + 1
    threads: list[int] = []

    def fake_measure(arch: Arch, config: MacroConfig, method: LatencyMethod) -> dict[int, dict[str, float]]:
        threads.append(torch.get_num_threads())
        return distinct_stats(arch, config, method)

    monkeypatch.setattr(latency, "measure_arch", fake_measure)
    method = LatencyMethod(batches=(1,), warmup=0, repeats=3, threads=n)
    with LatencyStore(tmp_path, TINY, method) as store:
        assert store.fingerprint["threads"] == n and store.fingerprint == fingerprint("cpu", n)
        assert store.measure([0, 6])["measured"] == 2
    assert threads == [n, n]

    def fake_time(module: Any, inputs: torch.Tensor, m: LatencyMethod) -> dict[str, float]:
        threads.append(torch.get_num_threads())
        return {s: float(k + 1) for k, s in enumerate(STATS)}

    monkeypatch.setattr(latency, "time_module", fake_time)
    threads.clear()
    lut = measure_lut(TINY, method, stat="min_ms")  # the statistic asked for, for every entry
    assert set(threads) == {n} and len(threads) == len(lut_keys())
    assert set(lut.entries.values()) == {float(STATS.index("min_ms") + 1)}


def test_load_latency_serves_the_asked_statistic_and_batch_of_each_cell_to_six_digits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """latency.csv keeps 6 significant digits of each statistic; load_latency reads the column of ``stat``."""
    import nasbench_suite.latency as latency
    from nasbench_suite.latency import STATS

    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    cells = [0, 6, 15624]
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure(cells)
    for stat in STATS:
        table = load_latency(tmp_path, stat)
        for b in FAST.batches:
            want = [distinct_stats(Arch.from_index(a), TINY, FAST)[b][stat] for a in cells]
            assert table.of(b)[cells].tolist() == pytest.approx(want, rel=1e-9, abs=0), (stat, b)


def test_a_cell_missing_a_batch_size_is_timed_again_and_repeated_cells_count_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell is done when every batch size of the method is stored: one whose batch-2 row is gone is timed
    again (its batch-1 row stays). A cell asked for twice is one cell in the counts."""
    import nasbench_suite.latency as latency

    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.measure([0, 0, 6]) == {**store.measure([]), "measured": 2, "already_stored": 0,
                                            "wall_seconds": pytest.approx(0, abs=60)}
    csv = tmp_path / "latency.csv"
    lines = csv.read_text().splitlines()
    assert lines[-1].startswith("6,2,")
    csv.write_text("\n".join(lines[:-1]) + "\n")  # cell 6 lost its batch-2 row
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    timed: list[int] = []
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.done() == {0}
        info = store.measure([6, 0, 6, 7], on_cell=timed.append)
        frame = store.frame()
    assert timed in ([6, 7], [7, 6]) and (info["measured"], info["already_stored"]) == (2, 1)
    assert frame[["arch_index", "batch"]].values.tolist() == [[0, 1], [0, 2], [6, 1], [6, 2], [7, 1], [7, 2]]


def test_latency_csv_is_rewritten_every_flush_every_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flush_every=1: each cell's rows are in latency.csv before the next cell is timed (a kill loses nothing
    committed); on_cell runs after the cell is stored and before its flush."""
    import nasbench_suite.latency as latency

    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    csv = tmp_path / "latency.csv"
    rows: list[int] = []
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([0, 6, 7], flush_every=1,
                      on_cell=lambda a: rows.append(len(csv.read_text().splitlines()) - 1 if csv.exists() else 0))
    assert rows == [0, 2, 4] and len(csv.read_text().splitlines()) == 7


def test_a_timed_member_keeps_its_own_latency_and_the_others_take_their_representatives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--archs all times members as written: their own timing is served, not the representative's."""
    import nasbench_suite.latency as latency

    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    iso = isomorphism_classes()
    sizes = np.bincount(iso.class_of)
    c = int(np.flatnonzero(sizes >= 3)[0])
    rep, member, other = [int(a) for a in np.flatnonzero(iso.class_of == c)[:3]]
    assert rep == iso.representatives[c]
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([rep, member])
    values = load_latency(tmp_path).of(1)
    own = {a: distinct_stats(Arch.from_index(a), TINY, FAST)[1]["median_ms"] for a in (rep, member)}
    assert (values[rep], values[member], values[other]) == (own[rep], own[member], own[rep])
    assert np.isfinite(values).sum() == sizes[c]


def test_a_run_killed_while_timing_its_first_cell_carries_on_when_run_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop (Ctrl-C, an error) before the first cell is stored leaves a latency.csv with the header alone;
    opening the folder again said 'latency folder ... cannot be read (ValueError: latency.csv column
    median_ms holds values that are not numbers) ... move the folder aside', where the module promises that
    running the same command again carries on."""
    import nasbench_suite.latency as latency

    def stopped(arch: Arch, config: MacroConfig, method: LatencyMethod) -> dict[int, dict[str, float]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(latency, "measure_arch", stopped)
    with LatencyStore(tmp_path, TINY, FAST) as store:
        with pytest.raises(KeyboardInterrupt):
            store.measure([0, 6])
    csv = tmp_path / "latency.csv"
    assert csv.read_text() == "arch_index,batch,median_ms,p25_ms,p75_ms,min_ms,mean_ms\n"
    with pytest.raises(LatencyError, match=r"^latency table \w+ holds no timed cell yet: run its nasbench latency "
                                           r"measure again to time them$"):  # not 'has batch sizes [], not 1'
        load_latency(tmp_path).of(1)
    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.done() == set() and store.measure([0, 6])["measured"] == 2
    assert load_latency(tmp_path).of(2)[6] == distinct_stats(Arch.from_index(6), TINY, FAST)[2]["median_ms"]


def test_a_latency_csv_with_its_columns_in_another_order_is_refused_by_the_store(tmp_path: Path) -> None:
    """The store imports latency.csv's rows by position: a file whose columns come in another order is refused
    (and left as it is), never read with its statistics swapped."""
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([])
    csv = tmp_path / "latency.csv"
    csv.write_text("arch_index,batch,p25_ms,median_ms,p75_ms,min_ms,mean_ms\n0,1,1,2,3,1,2\n")
    with pytest.raises(StoreError, match="expected"):
        LatencyStore(tmp_path, TINY, FAST)
    assert csv.read_text().startswith("arch_index,batch,p25_ms,median_ms,")


def test_a_latency_folder_name_means_a_local_folder_first_then_a_shipped_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare name that exists here is that folder; one that does not is the shipped folder of that name;
    a path with a folder part is never looked up among the shipped folders."""
    import nasbench_suite.latency as latency
    from nasbench_suite.latency import shipped_latency_folders

    shipped = next(p for p in shipped_latency_folders() if p.name.startswith("digits-"))
    monkeypatch.chdir(tmp_path)
    assert load_latency(shipped.name).key == shipped.name.rsplit("-", 1)[1]
    with pytest.raises(LatencyError, match="is not a latency folder"):
        load_latency(Path("elsewhere") / shipped.name)
    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    with LatencyStore(tmp_path / shipped.name, TINY, FAST) as store:
        store.measure([0])
    assert load_latency(shipped.name).identity["config"] == TINY.to_dict()


def test_shipped_latency_folders_are_the_folders_with_a_latency_json_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nasbench_suite.table as table
    from nasbench_suite.latency import shipped_latency_folders

    for name in ("z-cpu-1", "a-cpu-2", "notes"):
        (tmp_path / "latency" / name).mkdir(parents=True)
    for name in ("z-cpu-1", "a-cpu-2"):
        (tmp_path / "latency" / name / "latency.json").write_text("{}")
    monkeypatch.setattr(table, "shipped_tables_dir", lambda: tmp_path)
    assert shipped_latency_folders() == [tmp_path / "latency" / "a-cpu-2", tmp_path / "latency" / "z-cpu-1"]


def test_check_same_network_skips_a_table_that_records_no_shape(tmp_path: Path) -> None:
    from nasbench_suite.latency import check_same_network

    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([0])
    lat = load_latency(tmp_path)
    check_same_network(lat, tmp_path, {"protocol": {}}, "reference")  # nothing to compare with: no refusal
    manifest = {"protocol": {"channels": 4, "cells": 1}, "dataset": {"in_channels": 1, "resolution": 8, "num_classes": 10}}
    check_same_network(lat, tmp_path, manifest, "tiny")
    manifest["protocol"]["channels"] = 16
    with pytest.raises(LatencyError, match="timed the network"):
        check_same_network(lat, tmp_path, manifest, "wide")
    # nor a latency folder that records no shape: nothing to compare with on that side either
    unrecorded = {k: v for k, v in lat.identity.items() if k != "config"}
    check_same_network(LatencyTable(lat.key, lat.values, lat.source, unrecorded), tmp_path, manifest, "wide")


def _nsga2_tell(strategy, queries: list[Query], points: list[tuple[float, float]]) -> None:
    from nasbench_suite.strategy import Result

    strategy.tell([Result(q, v, 1.0, k, 1.0, latency=t) for k, (q, (v, t)) in enumerate(zip(queries, points))])


def test_nsga2_waits_for_a_generation_and_keeps_the_best_of_parents_and_children() -> None:
    """Generations of ``population`` (4): nothing more is asked while one is running; the survivors are the best
    4 of parents and children merged, so 4 parents that dominate every child all survive."""
    strategy = _nsga2(4)
    first = strategy.ask(10)
    assert len(first) == 4 and strategy.ask(3) == []
    _nsga2_tell(strategy, first[:3], [(90.0, 1.0), (80.0, 0.5), (95.0, 2.0)])
    assert strategy.ask(3) == []  # one still running
    _nsga2_tell(strategy, first[3:], [(70.0, 0.2)])
    children = strategy.ask(10)
    assert len(children) == 4 and not {q.arch for q in children} & {q.arch for q in first}
    _nsga2_tell(strategy, children, [(10.0, 5.0)] * 4)
    strategy.ask(1)  # the next generation starts from the survivors
    assert sorted(p[0].index for p in strategy.parents) == sorted(q.arch.index for q in first)


def test_nsga2_offspring_are_copies_uniform_crossovers_or_one_edit_mutations() -> None:
    """crossover=0, mutation=0: the two parents themselves; crossover=1: each edge from either parent with
    probability 1/2 (the two children complementary); mutation=1: exactly one edit from the parent."""
    a, b = Arch((0,) * 6), Arch((1,) * 6)
    assert _nsga2(4, crossover=0.0, mutation=0.0)._offspring(a, b) == [a, b]
    crossing = _nsga2(4, crossover=1.0, mutation=0.0)
    pairs = [crossing._offspring(a, b) for _ in range(500)]
    assert all(x.ops[e] + y.ops[e] == 1 for x, y in pairs for e in range(6))
    assert 0.45 < np.mean([x.ops for x, _ in pairs]) < 0.55  # from b on half the edges
    mutating = _nsga2(4, crossover=0.0, mutation=1.0)
    for _ in range(50):
        c, d = mutating._offspring(a, b)
        assert sum(x != y for x, y in zip(c.ops, a.ops)) == 1 and sum(x != y for x, y in zip(d.ops, b.ops)) == 1


def test_nsga2_crossover_child_outside_a_table_of_some_cells_stays_its_parent() -> None:
    from nasbench_suite.strategy import SearchSpace

    a, b = Arch((0,) * 6), Arch((1,) * 6)
    strategy = make_strategy("nsga2", {"population": 4, "crossover": 1.0, "mutation": 0.0})
    strategy.setup(SearchSpace((12,), np.array([a.index, b.index, 77]), latency_source="synthetic (test)"),
                   np.random.default_rng(0))
    assert {c for _ in range(50) for c in strategy._offspring(a, b)} == {a, b}


def test_nsga2_children_asked_before_are_mutated_again_and_never_repeat() -> None:
    """Parents all one cell, already asked, no crossover effect or mutation: every child is that cell, so each
    is re-mutated (one edit, then more while it was seen), giving distinct new cells near it, not random ones;
    on a table of 6 cells the first generation of 6 is those 6 cells."""
    from nasbench_suite.strategy import SearchSpace

    strategy = _nsga2(10, mutation=0.0)
    p = Arch.from_index(7777)
    strategy.parents = [(p, 50.0, 1.0)] * 10
    strategy.keys = (np.zeros(10, dtype=np.int64), np.zeros(10))
    strategy.asked = {p.index}
    children = strategy._children()
    edits = [sum(x != y for x, y in zip(c.ops, p.ops)) for c in children]
    assert len({c.index for c in children}) == 10 and p not in children
    assert max(edits) <= 3 and edits.count(1) >= 5, edits
    small = make_strategy("nsga2", {"population": 6})
    small.setup(SearchSpace((12,), np.array([3, 70, 900, 4000, 15000, 15001]), latency_source="synthetic (test)"),
                np.random.default_rng(0))
    assert sorted(q.arch.index for q in small.ask(6)) == [3, 70, 900, 4000, 15000, 15001]


def test_nsga2_front_is_the_non_dominated_results_by_latency_and_a_result_needs_a_latency() -> None:
    """Told (90, 10), (80, 5), (70, 2), (85, 10), (60, 3) (accuracy, ms): (85, 10) is dominated by (90, 10) and
    (60, 3) by (70, 2), so the front is (70, 2), (80, 5), (90, 10), fastest first."""
    from nasbench_suite.strategy import Result, SearchSpace

    strategy = _nsga2(5)
    queries = strategy.ask(5)
    points = [(90.0, 10.0), (80.0, 5.0), (70.0, 2.0), (85.0, 10.0), (60.0, 3.0)]
    _nsga2_tell(strategy, queries, points)
    assert [(p[0], p[1], p[2]) for p in strategy.front()] == [(queries[i].arch, *points[i]) for i in (2, 1, 0)]
    with pytest.raises(StrategyError, match="without a latency"):
        _nsga2(5).tell([Result(queries[0], 50.0, 1.0, 0, 1.0)])
    with pytest.raises(StrategyError, match=r"setting population=1 must be an integer in \[2, 100000\]"):
        _nsga2(1)
    _nsga2(2)
    with pytest.raises(StrategyError, match="needs a latency objective"):  # before the run, not at the first tell
        make_strategy("nsga2").setup(SearchSpace((12,), np.arange(15625)), np.random.default_rng(0))


def test_nsga2_mates_the_winners_of_two_tournaments() -> None:
    """Each mating crosses the winners of two tournaments (8 distinct parents of equal rank and crowding, so
    each winner is random: the two crossed cells differ in at least 3 of the 4 matings; crossing one winner with
    itself would only copy it)."""
    strategy = _nsga2(8, mutation=0.0)
    strategy.parents = [(Arch.from_index(i * 1000), 50.0, 1.0) for i in range(8)]
    strategy.keys = (np.zeros(8, dtype=np.int64), np.full(8, np.inf))
    matings: list[tuple[Arch, Arch]] = []
    offspring = strategy._offspring
    strategy._offspring = lambda a, b: matings.append((a, b)) or offspring(a, b)
    strategy._children()
    assert len(matings) == 4 and sum(a != b for a, b in matings) >= 3


@pytest.mark.parametrize("version, asked", [("2.3.3", "round_trip"), ("2.0.3", "round_trip"), ("3.0.0", None),
                                            ("3.1.1", None)])
def test_csvread_asks_pandas_before_3_for_the_correctly_rounded_parser(version: str, asked: str | None, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """pandas 2's default C parser reads about one float in five of a to_csv column one ulp off (latency,
    proxy and supernet values resumed from their csv); pandas 3 parses exactly and deprecates the option.
    A caller's own float_precision is kept."""
    import pandas as pd

    from nasbench_suite import csvread

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(pd, "__version__", version)
    monkeypatch.setattr(pd, "read_csv", lambda path, **kwargs: seen.append(kwargs) or "frame")
    assert csvread.read_csv(tmp_path / "x.csv", usecols=["a"]) == "frame"
    assert seen[-1] == {"usecols": ["a"], **({"float_precision": asked} if asked else {})}
    csvread.read_csv(tmp_path / "x.csv", float_precision="high")
    assert seen[-1] == {"float_precision": "high"}


def test_a_device_csv_given_without_its_column_says_how_to_name_it(tmp_path: Path) -> None:
    """--latency FILE.csv (no :COLUMN) said only that it 'is not a latency folder: it needs latency.json and
    latency.csv', though it is a latency file; the message now says to name the column."""
    from nasbench_suite.cli import main

    csv = tmp_path / "devices.csv"
    csv.write_text("arch_index,gpu_ms\n0,1.5\n")
    with pytest.raises(LatencyError, match=r"devices.csv is a CSV file, not a latency folder: name its device "
                                           r"column, as in .*devices.csv:COLUMN"):
        load_latency(csv)
    with pytest.raises(LatencyError, match=r"absent.csv is not a latency folder: it needs latency.json"):
        load_latency(tmp_path / "absent.csv")  # a .csv name that is no file is not called a CSV file
    assert main(["search", "--table", "digits-sample", "--strategy", "random", "--max-queries", "2", "--seeds", "0",
                 "--workers", "1", "--latency", str(csv), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_config_of_table_is_the_protocols_network_at_the_datasets_shape() -> None:
    """Each field from its own entry (protocol: channels, cells; dataset: in_channels, resolution, num_classes),
    and a manifest without them (a field missing, a section that is no mapping) is one LatencyError."""
    from nasbench_suite.latency import config_of_table

    dataset = {"in_channels": 3, "resolution": 32, "num_classes": 100}
    assert config_of_table({"protocol": {"channels": 16, "cells": 5}, "dataset": dataset}) == \
        MacroConfig(channels=16, cells=5, in_channels=3, resolution=32, num_classes=100)
    for broken in ({"protocol": {"channels": 16}, "dataset": dataset}, {"protocol": None, "dataset": dataset},
                   {"protocol": {"channels": 16, "cells": 5}, "dataset": ["digits"]}, {}):
        with pytest.raises(LatencyError, match="does not give the network shape"):
            config_of_table(broken)


def test_measure_counts_as_already_stored_only_the_asked_cells_the_folder_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts are of the cells asked for: cells the folder holds but this call did not ask for are not
    'already stored' by it (the CLI prints 'latency of N cells (m measured now, k already stored)')."""
    import nasbench_suite.latency as latency

    monkeypatch.setattr(latency, "measure_arch", distinct_stats)
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([0, 6, 7])
        info = store.measure([6, 30])
    assert (info["measured"], info["already_stored"]) == (1, 1)


def test_a_stored_row_is_kept_when_its_cell_is_timed_again_or_its_csv_is_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell that lost one batch size's row is timed again whole, but the row it kept stays as first timed (a
    second timing never overwrites a stored one); and latency.csv (6 significant digits) imported on start
    leaves the store's full-precision rows as they are."""
    import sqlite3

    import nasbench_suite.latency as latency

    calls = iter(range(1, 100))

    def each_call_another_timing(arch: Arch, config: MacroConfig, method: LatencyMethod) -> dict[int, dict[str, float]]:
        k = next(calls)
        return {b: {s: k + 1 / 3 + j / 10 for j, s in enumerate(latency.STATS)} for b in method.batches}

    monkeypatch.setattr(latency, "measure_arch", each_call_another_timing)
    with LatencyStore(tmp_path, TINY, FAST) as store:
        store.measure([6])
        first = store.frame()
    assert first["median_ms"].tolist() == [1 + 1 / 3] * 2  # full precision in the store
    with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite")) as db, db:
        db.execute("DELETE FROM results WHERE batch = 2")
    with LatencyStore(tmp_path, TINY, FAST) as store:  # latency.csv's batch-2 row imported again, 6 digits
        kept = store.frame()
        assert kept.loc[kept["batch"] == 1].values.tolist() == first.loc[first["batch"] == 1].values.tolist()
        assert kept.loc[kept["batch"] == 2, "median_ms"].tolist() == [1.33333]  # the one row it lacked, from the csv
        with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite")) as db, db:
            db.execute("DELETE FROM results WHERE batch = 2")
        assert store.done() == set() and store.measure([6])["measured"] == 1
        again = store.frame()
    assert again.loc[again["batch"] == 1].values.tolist() == first.loc[first["batch"] == 1].values.tolist()
    assert again.loc[again["batch"] == 2, "median_ms"].tolist() == [2 + 1 / 3]  # the new timing fills the gap only
