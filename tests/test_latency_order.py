"""Live latency: the order cells are timed in (seeded shuffle, resumable, recorded), and the shipped
latency folders, which predate it (and the CUDA fingerprint) and must still load and resume as they are."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite import latency as latency_module
from nasbench_suite.errors import RunMismatchError
from nasbench_suite.latency import (
    CSV_FILE,
    IDENTITY_FILE,
    LatencyError,
    LatencyMethod,
    LatencyStore,
    TimingOrder,
    fingerprint,
    fingerprint_hash,
    load_latency,
    shipped_latency_folders,
)
from nasbench_suite.model import MacroConfig
from nasbench_suite.pre_evaluate import parse_archs
from nasbench_suite.space import Arch, isomorphism_classes
from test_latency import FAST, TINY
from test_latency_fingerprint import CPU_FINGERPRINT_KEYS

CELLS = [0, 6, 7, 30, 99, 500, 1000, 3125, 6250, 9000, 12345, 15624]


def permutation_order(cells: list[int], seed: int) -> list[int]:
    """``cells`` as they come in numpy's seeded permutation of all 15,625 indices (written out here,
    not taken from the code under test)."""
    wanted = set(cells)
    return [int(a) for a in np.random.default_rng(seed).permutation(15625) if int(a) in wanted]


def fake_stats(arch, config, method) -> dict[int, dict[str, float]]:
    """What measure_arch returns, without timing anything (the order tests need no clock)."""
    ms = 0.1 + arch.index / 1e5
    return {b: {"median_ms": ms, "p25_ms": ms, "p75_ms": ms, "min_ms": ms, "mean_ms": ms} for b in method.batches}


# ----- timing order --------------------------------------------------------------------------------
def test_a_new_folder_times_cells_in_a_seeded_shuffled_order_and_stores_them_by_index(tmp_path: Path) -> None:
    """Cells were timed in index order: slow drift of the machine over a run then lines up with the
    index, which spells the ops (edge 0's op is its leading base-5 digit)."""
    timed: list[int] = []
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.measure(CELLS, on_cell=timed.append)["measured"] == len(CELLS)
    assert timed == permutation_order(CELLS, 0) and timed != sorted(CELLS)
    recorded = json.loads((tmp_path / IDENTITY_FILE).read_text())["order"]
    assert recorded["kind"] == "shuffled" and recorded["seed"] == 0 and "permutation(15625)" in recorded["rule"]
    frame = load_latency(tmp_path)
    written = [int(line.split(",")[0]) for line in (tmp_path / CSV_FILE).read_text().splitlines()[1::2]]
    assert written == sorted(CELLS)  # results by arch index, one row per (cell, batch)
    assert np.isfinite(frame.of(1)[CELLS]).all() and np.isfinite(frame.of(2)[CELLS]).all()

    other: list[int] = []  # another seed, another order; index order is ascending
    with LatencyStore(tmp_path / "seed7", TINY, FAST, order=TimingOrder("shuffled", 7)) as store:
        store.measure(CELLS[:6], on_cell=other.append)
    assert other == permutation_order(CELLS[:6], 7)
    by_index: list[int] = []
    with LatencyStore(tmp_path / "index", TINY, FAST, order=TimingOrder("index", None)) as store:
        store.measure(list(reversed(CELLS[:6])), on_cell=by_index.append)
    assert by_index == sorted(CELLS[:6])
    assert json.loads((tmp_path / "index" / IDENTITY_FILE).read_text())["order"] == {"kind": "index"}


def test_a_resumed_run_continues_the_same_order_and_skips_cells_already_timed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latency_module, "measure_arch", fake_stats)
    timed: list[int] = []

    def killed_after_five(arch: int) -> None:
        timed.append(arch)
        if len(timed) == 5:
            raise KeyboardInterrupt

    with LatencyStore(tmp_path, TINY, FAST, order=TimingOrder("shuffled", 3)) as store:
        with pytest.raises(KeyboardInterrupt):
            store.measure(CELLS, on_cell=killed_after_five)
    rest: list[int] = []
    # the same command again, with the cells listed in another order and no order given: the folder's
    with LatencyStore(tmp_path, TINY, FAST) as store:
        assert store.order == TimingOrder("shuffled", 3)
        info = store.measure(list(reversed(CELLS)), on_cell=rest.append)
    assert info["measured"] == len(CELLS) - 5 and info["already_stored"] == 5
    assert timed + rest == permutation_order(CELLS, 3)
    with pytest.raises(RunMismatchError, match="order.seed"):  # another order cannot resume it
        LatencyStore(tmp_path, TINY, FAST, order=TimingOrder("shuffled", 4))
    with pytest.raises(RunMismatchError, match="order.kind"):
        LatencyStore(tmp_path, TINY, FAST, order=TimingOrder("index", None))


@pytest.mark.parametrize("kind, seed", [("sorted", None), ("shuffled", -1), ("shuffled", 1.5), ("index", 0),
                                        ("shuffled", True), ("shuffled", None)])
def test_a_bad_timing_order_is_refused(kind: str, seed: object) -> None:
    with pytest.raises(LatencyError):
        TimingOrder(kind, seed)


def test_a_recorded_order_that_is_not_a_mapping_is_one_error(tmp_path: Path) -> None:
    """A hand-edited latency.json with "order": "shuffled" was an AttributeError traceback."""
    LatencyStore(tmp_path, TINY, FAST).close()
    identity = json.loads((tmp_path / IDENTITY_FILE).read_text())
    (tmp_path / IDENTITY_FILE).write_text(json.dumps({**identity, "order": "shuffled"}))
    with pytest.raises(LatencyError, match="has an order that is not a mapping: 'shuffled'"):
        LatencyStore(tmp_path, TINY, FAST)


def test_a_numpy_seed_is_recorded_as_a_plain_int(tmp_path: Path) -> None:
    """latency.json is JSON: a numpy integer seed is kept as an int (json cannot write an np.int64)."""
    order = TimingOrder("shuffled", np.int64(5))
    assert type(order.seed) is int and order == TimingOrder("shuffled", 5)
    LatencyStore(tmp_path, TINY, FAST, order=order).close()
    assert json.loads((tmp_path / IDENTITY_FILE).read_text())["order"]["seed"] == 5


def test_cli_times_in_shuffled_order_by_default_and_records_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from nasbench_suite.cli import main

    seen: list[int] = []

    def recording(arch, config, method):
        seen.append(arch.index)
        return fake_stats(arch, config, method)

    monkeypatch.setattr(latency_module, "measure_arch", recording)
    cells = "sample:12"  # 12 class representatives
    base = ["latency", "measure", "--table", "digits", "--archs", cells, "--repeats", "3", "--warmup", "0"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "1 thread, shuffled order (seed 0)" in capsys.readouterr().out  # one thread, not "1 threads"
    reps = parse_archs(cells)
    assert len(reps) == 12 and set(reps) <= set(isomorphism_classes().representatives.tolist())
    assert seen == permutation_order(reps, 0)
    assert json.loads((tmp_path / "a" / IDENTITY_FILE).read_text())["order"]["seed"] == 0
    seen.clear()
    assert main([*base, "--order", "index", "--out", str(tmp_path / "b")]) == 0
    assert seen == sorted(reps) and "index order" in capsys.readouterr().out
    seen.clear()
    assert main([*base, "--order-seed", "5", "--out", str(tmp_path / "c")]) == 0
    assert seen == permutation_order(reps, 5)
    for bad in (["--order", "index", "--order-seed", "1"], ["--order-seed", "-2"]):
        assert main([*base, *bad, "--out", str(tmp_path / "d")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nasbench: error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main([*base, "--order", "index", "--out", str(tmp_path / "a")]) == 2  # not the folder's order
    assert "order.kind" in capsys.readouterr().err


def test_cli_times_class_representatives_except_with_archs_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """--archs 0,1,6 times the representatives of those cells' classes; --archs all times every cell as written
    (here 'all' stands for cells 0, 1 and 6: timing the 15,625 cells is not a test's business)."""
    import nasbench_suite.pre_evaluate as pre_evaluate
    from nasbench_suite.cli import main

    iso = isomorphism_classes()
    member = next(a for a in range(1, 15625) if iso.representatives[iso.class_of[a]] != a)
    cells = [0, member, 6]
    seen: list[int] = []

    def recording(arch, config, method):
        seen.append(arch.index)
        return fake_stats(arch, config, method)

    monkeypatch.setattr(latency_module, "measure_arch", recording)
    base = ["latency", "measure", "--table", "digits", "--repeats", "3", "--warmup", "0", "--order", "index"]
    assert main([*base, "--archs", ",".join(map(str, cells)), "--out", str(tmp_path / "reps")]) == 0
    assert seen == sorted({int(iso.representatives[iso.class_of[a]]) for a in cells}) and member not in seen
    real = pre_evaluate.parse_archs
    monkeypatch.setattr(pre_evaluate, "parse_archs", lambda text: cells if text == "all" else real(text))
    seen.clear()
    assert main([*base, "--archs", "all", "--out", str(tmp_path / "all")]) == 0
    assert seen == sorted(cells) and "latency of 3 cells" in capsys.readouterr().out


def test_cli_writes_latency_table_device_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from nasbench_suite.cli import main

    monkeypatch.setattr(latency_module, "measure_arch", fake_stats)
    monkeypatch.chdir(tmp_path)
    assert main(["latency", "measure", "--table", "digits", "--archs", "0", "--repeats", "3", "--warmup", "0"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"wrote {Path('latency') / 'digits-cpu'}")
    assert load_latency(tmp_path / "latency" / "digits-cpu").of(1)[0] == fake_stats(
        Arch.from_index(0), None, LatencyMethod())[1]["median_ms"]


# ----- the shipped folders -------------------------------------------------------------------------
def _open_copy(folder: Path, tmp_path: Path) -> tuple[Path, dict, LatencyMethod, MacroConfig]:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    identity = json.loads((copy / IDENTITY_FILE).read_text())
    m = identity["method"]
    method = LatencyMethod(device=m["device"], batches=tuple(m["batches"]), warmup=m["warmup"], repeats=m["repeats"],
                           threads=m["threads"], channels_last=m["channels_last"])
    return copy, identity, method, MacroConfig(**identity["config"])


@pytest.mark.parametrize("folder", shipped_latency_folders(), ids=lambda p: p.name)
def test_a_shipped_latency_folder_still_loads_and_resumes_in_its_index_order(folder: Path, tmp_path: Path) -> None:
    """The shipped folders record no order (they were timed in index order) and a CPU fingerprint:
    neither the order setting nor the CUDA fingerprint may make them foreign or time a cell again."""
    copy, identity, method, config = _open_copy(folder, tmp_path)
    before = {name: (copy / name).read_bytes() for name in (IDENTITY_FILE, CSV_FILE)}
    assert "order" not in identity and set(identity["fingerprint"]) == CPU_FINGERPRINT_KEYS
    assert fingerprint_hash(identity["fingerprint"]) == identity["fingerprint"]["hash"] == folder.name.rsplit("-", 1)[1]
    stored = sorted(set(int(line.split(",")[0]) for line in before[CSV_FILE].decode().splitlines()[1:]))
    with LatencyStore(copy, config, method, fp=identity["fingerprint"]) as store:
        assert store.order == TimingOrder("index", None) and store.done() == set(stored)
        if identity["fingerprint"]["hash"] == fingerprint("cpu", method.threads)["hash"]:  # measured on this machine
            assert store.measure(stored)["measured"] == 0
    assert load_latency(copy).key == identity["fingerprint"]["hash"]
    assert {name: (copy / name).read_bytes() for name in before} == before
    with pytest.raises(RunMismatchError, match="order.kind"):  # asking for the shuffled order is refused
        LatencyStore(copy, config, method, fp=identity["fingerprint"], order=TimingOrder())


def test_cli_resumes_the_shipped_digits_folder_without_timing_a_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`nasbench latency measure` without --order on the shipped folder (which records no order) keeps its index
    order and times nothing. This machine is given the folder's fingerprint: the test used to skip on every
    machine but the one that timed the folder, so a CLI that asked a resumed folder for the shuffled order passed."""
    from nasbench_suite.cli import main

    folder = next(p for p in shipped_latency_folders() if p.name.startswith("digits-cpu-"))
    copy, identity, method, _ = _open_copy(folder, tmp_path)
    monkeypatch.setattr(latency_module, "fingerprint", lambda device="cpu", threads=1: dict(identity["fingerprint"]))

    def must_not_time(*args):
        raise AssertionError("a shipped cell was timed again")

    monkeypatch.setattr(latency_module, "measure_arch", must_not_time)
    before = (copy / IDENTITY_FILE).read_bytes()
    assert main(["latency", "measure", "--table", "digits", "--batch", "1,64", "--out", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "(0 measured now, 6466 already stored)" in out and "index order" in out
    assert (copy / IDENTITY_FILE).read_bytes() == before
