"""Importing official NATS-Bench tss files: the fixture against the official ``nats_bench`` API, a
generated folder round trip, the single-file source, the valtest option and the restricted unpickler."""
from __future__ import annotations

import bz2
import os
import pickle
import re
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from nasbench_suite import tablefile
from nasbench_suite.cli import main
from nasbench_suite.errors import DatasetError, MissingResultError
from nasbench_suite.nats_import import DATASETS, SEED_SLOTS, import_nats_tss, table_name
from nasbench_suite.safe_pickle import UnsafePickleError, load_pbz2, loads
from nasbench_suite.space import Arch
from nasbench_suite.table import load_table

from nats_generator import arch_record, nb201_order, write_meta, write_pbz2

REF = Path(os.environ.get("NASBENCH_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference"))
FIXTURE = REF / "nats_tss_fixture"
FIXTURE_ARCHS = (0, 11, 284)
needs_fixture = pytest.mark.skipif(not (FIXTURE / "meta.pickle.pbz2").is_file(),
                                   reason=f"NATS-Bench tss fixture not found at {FIXTURE} (../shared/reference)")


@pytest.fixture(scope="module")
def fixture_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("nats")
    return {t.name: t for t in import_nats_tss(FIXTURE, out, progress=False)}


def _f32(x: float) -> np.float32:
    return np.float32(x)


@needs_fixture
def test_fixture_import_equals_the_official_api(fixture_tables: dict) -> None:
    """Every value the official API returns for the fixture archs, against ours (stored as float32)."""
    nats_bench = pytest.importorskip("nats_bench", reason="the dev extra installs nats_bench")
    api = nats_bench.create(str(FIXTURE), "tss", fast_mode=True, verbose=False)
    compared = 0
    for idx in FIXTURE_ARCHS:
        arch = Arch.from_str(api.meta_archs[idx])
        for hp in ("12", "200"):
            archres = api.query_meta_info_by_index(idx, hp=hp)
            for ds in DATASETS:
                bench = fixture_tables[table_name("nats-tss", ds, hp)]
                assert bench.scalar(arch, "nb201_index") == idx
                cost = api.get_cost_info(idx, ds, hp=hp)
                assert bench.scalar(arch, "params") == cost["params"]
                assert bench.scalar(arch, "flops") == cost["flops"]
                assert bench.scalar(arch, "latency") == cost["latency"]
                compared += 3
                split_of = {"x-valid": ("valid", ""), "ori-test": ("test", "valtest_" if ds in ("cifar100", "ImageNet16-120") else ""),
                            "x-test": ("test", "")}
                for seed in archres.get_dataset_seeds(ds):
                    result = archres.query(ds, seed)
                    for iepoch in range(result.get_total_epoch()):
                        e = iepoch + 1
                        train = result.get_train(iepoch)
                        assert _f32(train["loss"]) == bench.metric(arch, "train", "loss", epoch=e, seed=seed)
                        assert _f32(train["accuracy"]) == bench.metric(arch, "train", "acc", epoch=e, seed=seed)
                        assert _f32(train["cur_time"]) == bench.metric(arch, "train", "seconds", epoch=e, seed=seed)
                        assert bench.train_cost(arch, epoch=e, seed=seed) == pytest.approx(train["all_time"], rel=1e-6)
                        if result.train_acc5es is None:  # not recorded in this trial
                            with pytest.raises(MissingResultError):
                                bench.metric(arch, "train", "acc5", epoch=e, seed=seed)
                        else:
                            assert _f32(result.train_acc5es[iepoch]) == bench.metric(arch, "train", "acc5", epoch=e, seed=seed)
                        compared += 5
                        for name in result.get_eval_set():
                            split, prefix = split_of[name]
                            if f"{name}@{iepoch}" not in result.eval_acc1es:  # not recorded by NATS
                                with pytest.raises(MissingResultError):
                                    bench.metric(arch, split, prefix + "acc", epoch=e, seed=seed)
                                continue
                            ev = result.get_eval(name, iepoch)
                            assert _f32(ev["loss"]) == bench.metric(arch, split, prefix + "loss", epoch=e, seed=seed)
                            assert _f32(ev["accuracy"]) == bench.metric(arch, split, prefix + "acc", epoch=e, seed=seed)
                            assert _f32(ev["cur_time"]) == bench.metric(arch, split, prefix + "seconds", epoch=e, seed=seed)
                            compared += 3
                # the user-facing summary: final epoch, mean over seeds
                info = api.get_more_info(idx, ds, hp=hp, is_random=False)
                assert bench.metric(arch, "train", "acc", epoch=bench.max_epoch) == pytest.approx(info["train-accuracy"], rel=1e-6)
                if "valid-accuracy" in info:
                    assert bench.metric(arch, "valid", "acc", epoch=bench.max_epoch) == pytest.approx(info["valid-accuracy"], rel=1e-6)
                assert bench.metric(arch, "test", "acc", epoch=bench.max_epoch) == pytest.approx(info["test-accuracy"], rel=1e-6)
                compared += 3
    assert compared > 20000


@needs_fixture
def test_not_recorded_values_raise_and_valtest_is_explicit(fixture_tables: dict, tmp_path: Path) -> None:
    c100 = fixture_tables["nats-tss-cifar100-hp200"]
    arch = Arch.from_index(int(c100.arch_indices[0]))
    with pytest.raises(MissingResultError, match="no result recorded"):
        c100.metric(arch, "valid", "acc", epoch=100)
    assert c100.manifest["valtest_as_valid"] is False
    subst = {t.name: t for t in import_nats_tss(FIXTURE, tmp_path, valtest_as_valid=True, progress=False)}
    s100 = subst["nats-tss-cifar100-hp200"]
    assert s100.manifest["valtest_as_valid"] is True
    assert s100.metric(arch, "valid", "acc", epoch=100, seed=777) == c100.metric(arch, "test", "valtest_acc", epoch=100, seed=777)
    assert s100.metric(arch, "valid", "acc", epoch=200, seed=777) == c100.metric(arch, "valid", "acc", epoch=200, seed=777)
    assert subst["nats-tss-cifar10-valid-hp200"].manifest["valtest_as_valid"] is False  # nothing substituted there


def test_generated_folder_round_trips_in_blocks(generated: Callable[..., Path], tmp_path: Path) -> None:
    archs = [5, 1, 7000, 15624, 300, 42, 9999, 12]
    src = generated(tmp_path / "src", archs, 3)
    tables = {t.name: t for t in import_nats_tss(src, tmp_path / "out", block_size=3, progress=False)}
    assert len(tables) == 8
    strings = nb201_order(3)
    for idx in archs:
        record = arch_record(idx, strings[idx], 3)
        arch = Arch.from_str(strings[idx])
        for hp, archres in record.items():
            for (ds, seed), res in archres["all_results"].items():
                bench = tables[table_name("nats-tss", ds, hp)]
                assert set(bench.seeds) <= set(SEED_SLOTS)
                assert bench.scalar(arch, "nb201_index") == idx
                for i in (0, res["epochs"] - 1):
                    assert bench.metric(arch, "train", "acc", epoch=i + 1, seed=seed) == _f32(res["train_acc1es"][i])
                    assert bench.metric(arch, "train", "seconds", epoch=i + 1, seed=seed) == _f32(res["train_times"][i])
                test_set = "ori-test" if ds in ("cifar10-valid", "cifar10") else "x-test"
                key = f"{test_set}@{res['epochs'] - 1}"
                assert bench.metric(arch, "test", "acc", epoch=res["epochs"], seed=seed) == _f32(res["eval_acc1es"][key])
    hp12 = tables["nats-tss-cifar10-valid-hp12"]
    assert hp12.seeds == (111, 777)  # unused seed slots are dropped
    parallel = import_nats_tss(src, tmp_path / "out2", block_size=5, workers=2, progress=False)
    assert {t.name: t.content_hash for t in parallel} == {n: t.content_hash for n, t in tables.items()}
    many = import_nats_tss(src, tmp_path / "out3", block_size=5, workers=2**62, progress=False)  # was an OverflowError
    assert {t.name: t.content_hash for t in many} == {n: t.content_hash for n, t in tables.items()}
    assert hp12.arch_indices.tolist() == sorted(Arch.from_str(strings[i]).index for i in archs)


def test_single_file_source(tmp_path: Path) -> None:
    strings = nb201_order(1)
    infos = {i: arch_record(i, strings[i], 1) for i in (3, 4)}
    write_pbz2({"meta_archs": strings, "arch2infos": infos, "evaluated_indexes": set(infos)},
               tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2")
    tables = import_nats_tss(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", tmp_path / "out", progress=False)
    assert len(tables) == 8 and all(t.num_archs == 2 for t in tables)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_is_left(generated: Callable[..., Path],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pwned"
    src = generated(tmp_path / "src", [0, 1], 0)
    evil = arch_record(2, nb201_order(0)[2])
    evil["12"]["all_results"][("cifar10", 111)]["params"] = _Exploit(marker)
    write_pbz2(evil, src / "000002.pickle.pbz2")
    out = tmp_path / "out"
    for workers in (1, 2):
        with pytest.raises(UnsafePickleError, match=r"posix\.system|os\.system|nt\.system"):
            import_nats_tss(src, out, block_size=1, workers=workers, progress=False)
    assert not marker.exists()
    assert not out.exists()  # no table, no staging folder, not even the output folder it made
    assert main(["import", "nats-tss", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error:") and "system" in err and err.count("\n") == 1
    assert not marker.exists() and not out.exists()


def test_restricted_unpickler_refuses_other_globals() -> None:
    assert loads(pickle.dumps({"a": [1, 2.5, (3,)], "b": {4}})) == {"a": [1, 2.5, (3,)], "b": {4}}
    assert loads(pickle.dumps(np.float64(0.25))) == 0.25
    for bad in (np.arange(3), shutil.rmtree, object()):
        with pytest.raises(UnsafePickleError, match="refused"):
            loads(pickle.dumps(bad))
    with pytest.raises(UnsafePickleError, match="refused numpy dtype"):
        loads(pickle.dumps(np.array([None], dtype=object)[0:1].dtype))
    with pytest.raises(UnsafePickleError, match="not a readable pickle"):
        loads(b"\x80\x04garbage")


def test_restricted_unpickler_refuses_a_size() -> None:
    """bytes(n) / bytearray(n) named by a pickle of 30 bytes filled n bytes with zeros (2**33: 8 GiB);
    the calls pickles make of them (empty bytes at protocol 2, a bytearray's contents) still load."""
    for kind in ("bytes", "bytearray"):
        payload = b"c__builtin__\n" + kind.encode() + b"\nJ\x00\x00\x10\x00\x85R."  # kind(1 MiB)
        with pytest.raises(UnsafePickleError, match=rf"refused {kind}\(1048576\)"):
            loads(payload)
    for value in (b"", b"ab", bytearray(b"ab"), bytearray()):
        for protocol in (2, 3, 4, 5):
            if protocol > 2 or value != b"ab":  # bytes at protocol 2 are _codecs.encode, refused before too
                assert loads(pickle.dumps(value, protocol=protocol)) == value


class _Scalar:
    """Pickles as numpy's scalar rebuild of ``dtype`` from ``data`` (what another machine's numpy may write)."""

    def __init__(self, dtype: str, data: bytes) -> None:
        self.dtype, self.data = dtype, data

    def __reduce__(self):
        return np.float64(0).__reduce__()[0], (np.dtype(self.dtype), self.data)


def test_restricted_unpickler_numpy_scalars_only_numeric_in_their_byte_order() -> None:
    """A big-endian machine's float64 reads as its value (its bytes are not read little-endian); numpy 1's
    module name numpy.core (NATS-Bench's files) loads as numpy 2's numpy._core; text, complex and date
    scalars, and raw bytes of the wrong length, are refused."""
    assert loads(pickle.dumps(_Scalar(">f8", np.array([1.5], dtype=">f8").tobytes()), protocol=3)) == 1.5
    assert loads(pickle.dumps(_Scalar(">i4", np.array([-7], dtype=">i4").tobytes()), protocol=3)) == -7
    numpy1 = pickle.dumps(np.float64(0.25), protocol=3).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in numpy1 and loads(numpy1) == 0.25
    for value in (np.str_("ab"), np.complex128(1j), np.datetime64("2020-01-01")):
        with pytest.raises(UnsafePickleError, match="refused numpy dtype"):
            loads(pickle.dumps(value, protocol=3))
    for data in (b"\x00" * 7, b"\x00" * 9):
        with pytest.raises(UnsafePickleError, match="refused numpy scalar of float64: expected 8 raw bytes"):
            loads(pickle.dumps(_Scalar("<f8", data), protocol=3))


def test_restricted_unpickler_refuses_eval_getattr_and_persistent_ids_and_names_the_file(tmp_path: Path) -> None:
    for name in (b"eval", b"exec", b"getattr", b"__import__", b"open"):
        for module in (b"builtins", b"__builtin__"):
            with pytest.raises(UnsafePickleError, match=f"refused to load the global {module.decode()}.{name.decode()}"):
                loads(b"c" + module + b"\n" + name + b"\n(S'1'\ntR.")
    with pytest.raises(UnsafePickleError, match="^pickle: refused a persistent id"):
        loads(b"P1\n.")
    evil = tmp_path / "000001.pickle.pbz2"
    evil.write_bytes(bz2.compress(b"cos\nsystem\n(S'true'\ntR."))
    with pytest.raises(UnsafePickleError, match=rf"^{re.escape(str(evil))}: refused to load the global os.system"):
        load_pbz2(evil)


def test_restricted_unpickler_reads_up_to_its_limit_exactly(tmp_path: Path) -> None:
    """load_pbz2's limit is the most bytes it may unpack to: a pickle of exactly that many loads, one more is refused."""
    data = pickle.dumps({"x": list(range(1000))}, protocol=4)
    path = tmp_path / "a.pickle.pbz2"
    path.write_bytes(bz2.compress(data))
    assert load_pbz2(path, limit=len(data)) == {"x": list(range(1000))}
    with pytest.raises(UnsafePickleError, match=f"unpacks to more than {len(data) - 1:,} bytes"):
        load_pbz2(path, limit=len(data) - 1)


def test_import_cli(generated: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = generated(tmp_path / "src", [10, 20], 2)
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "t"), "--name", "mine"]) == 0
    out = capsys.readouterr().out
    assert "mine-cifar10-valid-hp12" in out and out.count("wrote table") == 8
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "t"), "--name", "mine"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["import", "nats-tss", str(tmp_path / "nope"), "--out", str(tmp_path / "t")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "meta.pickle.pbz2").write_bytes(bz2.compress(b"not a pickle"))
    assert main(["import", "nats-tss", str(tmp_path / "bad"), "--out", str(tmp_path / "t2")]) == 2
    assert "not a readable pickle" in capsys.readouterr().err
    write_meta(tmp_path / "bad", nb201_order(0))
    assert main(["import", "nats-tss", str(tmp_path / "bad"), "--out", str(tmp_path / "t2")]) == 2
    assert "no %06d.pickle.pbz2" in capsys.readouterr().err


@needs_fixture
def test_safe_loader_reads_the_real_files() -> None:
    record = load_pbz2(FIXTURE / "000011.pickle.pbz2")
    assert set(record) == {"12", "200"} and record["200"]["arch_index"] == 11


def test_malformed_record_is_one_clear_error(generated: Callable[..., Path], tmp_path: Path) -> None:
    src = generated(tmp_path / "src", [0], 0)
    record = arch_record(1, nb201_order(0)[1])
    del record["200"]["all_results"][("cifar10", 777)]["params"]
    write_pbz2(record, src / "000001.pickle.pbz2")
    with pytest.raises(DatasetError, match="NB201 arch 1: malformed record"):
        import_nats_tss(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_failed_import_leaves_no_folder_but_keeps_one_that_was_there(generated: Callable[..., Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    src = generated(tmp_path / "src", [0], 0)
    record = arch_record(1, nb201_order(0)[1])
    del record["200"]["all_results"][("cifar10", 777)]["params"]
    write_pbz2(record, src / "000001.pickle.pbz2")
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "new" / "tables")]) == 2
    err = capsys.readouterr().err
    assert "malformed record" in err and err.count("\n") == 1
    assert not (tmp_path / "new").exists()  # neither the folder nor the parent it made
    (tmp_path / "mine").mkdir()
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []


_KILLED_IMPORT = """
import os, signal, sys
from nasbench_suite import tablefile
from nasbench_suite.nats_import import import_nats_tss

if {when!r} == "after a swap":  # the old table swapped out of its place, not yet removed
    exchange = tablefile._exchange
    tablefile._exchange = lambda a, b: (exchange(a, b), os.kill(os.getpid(), signal.SIGKILL))
import_nats_tss({src!r}, {out!r}, overwrite=True, block_size=1, progress=False,
                on_record=lambda i: {when!r} == "while reading" and i == 1 and os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_killed_import_leaves_what_the_next_one_removes(generated: Callable[..., Path], tmp_path: Path) -> None:
    """nasbench import staged its tables in its own folder (.NAME.import-*), which nothing removed: every
    import killed while reading, or after swapping a table in, left a copy of the tables behind (the
    old ones, after a swap). Its tables are now staged and installed as every table write does
    (.TABLE.tmp-PID-*), so the next import (or table write there) removes what a killed one left."""
    import signal
    import subprocess
    import sys

    src = generated(tmp_path / "src", [0, 1, 2], 0)
    out = tmp_path / "out"
    names = sorted(t.name for t in import_nats_tss(src, out, progress=False))
    hashes = {n: load_table(out / n).content_hash for n in names}
    for when in ("while reading", "after a swap"):
        script = _KILLED_IMPORT.format(when=when, src=str(src), out=str(out))
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        left = sorted(p.name for p in out.iterdir() if p.name not in names)
        assert left and all(re.fullmatch(rf"\.({'|'.join(map(re.escape, names))})\.tmp-{proc.pid}-\w+", n)
                            for n in left), left
        assert {n: load_table(out / n).content_hash for n in names} == hashes  # whole tables at every path
    older = out / ".nats-tss.import-k3j_9zq2"  # an older version's staging folder, untouched for a day
    (older / "nats-tss-cifar10-hp12").mkdir(parents=True)
    day_ago = time.time() - tablefile.STALE_AFTER_S - 60
    for path in (older / "nats-tss-cifar10-hp12", older):
        os.utime(path, (day_ago, day_ago))
    import_nats_tss(src, out, overwrite=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == names


def _damaged(kind: str, src: Path) -> None:
    """Damage a generated folder of archs 0 and 1 one way (see test_a_damaged_source_is_refused)."""
    strings = nb201_order(0)
    record = arch_record(1, strings[1])
    if kind == "epochs":
        record["12"]["all_results"][("cifar10", 111)]["epochs"] = 200
    elif kind == "seed":
        record["12"]["dataset_seed"]["cifar10"] = [123]
        record["12"]["all_results"][("cifar10", 123)] = record["12"]["all_results"].pop(("cifar10", 111))
    elif kind == "index":
        record = arch_record(0, strings[1])
    elif kind == "string":
        record = arch_record(1, strings[2])
    elif kind == "dataset":
        del record["200"]["dataset_seed"]["cifar100"]
    elif kind == "no-seeds":
        record["200"]["dataset_seed"]["cifar100"] = []
    elif kind == "meta":
        write_meta(src, [strings[0], *strings[:-1]])
    elif kind == "two-files":
        write_pbz2(record, src / "1.pickle.pbz2")
    write_pbz2(record, src / "000001.pickle.pbz2")


@pytest.mark.parametrize("kind, says", [
    ("epochs", "NB201 arch 1: hp=12 cifar10 seed 111: records 200 epochs, expected 12"),
    ("seed", "NB201 arch 1: hp=12 cifar10 seed 123: unexpected seed"),
    ("index", "NB201 arch 1: its record names arch 0"),
    ("string", "not the meta file's entry"),
    ("dataset", "NB201 arch 1 has no hp=200 cifar100 results while other archs do"),
    ("no-seeds", "NB201 arch 1 has no hp=200 cifar100 results while other archs do"),
    ("meta", "meta_archs repeats an architecture"),
    ("two-files", "holds two files for NB201 index 1"),
])
def test_a_damaged_source_is_refused(generated: Callable[..., Path], tmp_path: Path, kind: str, says: str) -> None:
    """A record of another length, seed or arch than the meta file says, a dataset some archs lack, a meta
    file naming a cell twice, two files for one index: one DatasetError, nothing written (the rows of an arch
    were filed under another cell, or a short curve read as the table's, before these checks)."""
    src = generated(tmp_path / "src", [0], 0)
    _damaged(kind, src)
    with pytest.raises(DatasetError, match=re.escape(says)):
        import_nats_tss(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_files_past_the_last_index_are_ignored_and_latency_is_the_positive_seeds_mean(generated: Callable[..., Path],
                                                                                      tmp_path: Path) -> None:
    """NATS-Bench averages the latencies > 0 of an arch's trials (get_compute_costs) and has none where no
    trial has one; a file numbered 15625 or more names no arch and is not read."""
    strings = nb201_order(0)
    src = generated(tmp_path / "src", [0], 0)
    record = arch_record(1, strings[1])
    results = record["12"]["all_results"]
    results[("cifar10-valid", 777)]["latency"] = [0.0]
    for seed in record["12"]["dataset_seed"]["cifar100"]:
        results[("cifar100", seed)]["latency"] = None
    write_pbz2(record, src / "000001.pickle.pbz2")
    write_pbz2(arch_record(0, strings[0]), src / "015625.pickle.pbz2")
    tables = {t.name: t for t in import_nats_tss(src, tmp_path / "out", progress=False)}
    arch = Arch.from_str(strings[1])
    assert tables["nats-tss-cifar10-valid-hp12"].num_archs == 2
    want = float(np.mean(results[("cifar10-valid", 111)]["latency"]))
    assert tables["nats-tss-cifar10-valid-hp12"].scalar(arch, "latency") == pytest.approx(want, rel=1e-12)
    assert np.isnan(tables["nats-tss-cifar100-hp12"].scalar(arch, "latency"))


def test_valtest_as_valid_fills_only_the_missing_valid_epochs_from_ori_test(generated: Callable[..., Path],
                                                                            tmp_path: Path) -> None:
    """At hp=200 NATS records cifar100's and ImageNet16-120's x-valid at the last epoch only: with
    valtest_as_valid the other epochs' accuracy and loss are ori-test's (test_valtest_*), the last stays
    x-valid's; without it they stay missing; cifar10-valid (no valtest) and hp=12 (complete) are left alone.
    Every block of rows is filled (here one arch a block)."""
    strings = nb201_order(0)
    src = generated(tmp_path / "src", [0, 1], 0)
    plain = {t.name: t for t in import_nats_tss(src, tmp_path / "plain", progress=False)}
    subst = {t.name: t for t in import_nats_tss(src, tmp_path / "subst", valtest_as_valid=True, block_size=1,
                                                progress=False)}
    for nb201 in (0, 1):  # one in each block
        arch = Arch.from_str(strings[nb201])
        for ds in ("cifar100", "ImageNet16-120"):
            p, s = plain[f"nats-tss-{ds}-hp200"], subst[f"nats-tss-{ds}-hp200"]
            assert (p.manifest["valtest_as_valid"], s.manifest["valtest_as_valid"]) == (False, True)
            seed = p.seeds[0]
            for measure in ("acc", "loss"):
                assert s.metric(arch, "valid", measure, epoch=100, seed=seed) == \
                    p.metric(arch, "test", f"valtest_{measure}", epoch=100, seed=seed)
            with pytest.raises(MissingResultError):
                p.metric(arch, "valid", "acc", epoch=100, seed=seed)
            result = arch_record(nb201, strings[nb201])["200"]["all_results"][(ds, seed)]
            # x-valid's pass time is recorded every epoch: kept
            assert s.metric(arch, "valid", "seconds", epoch=100, seed=seed) == _f32(result["eval_times"]["x-valid@99"])
            raw = result["eval_acc1es"]["x-valid@199"]
            assert s.metric(arch, "valid", "acc", epoch=200, seed=seed) == p.metric(arch, "valid", "acc", epoch=200,
                                                                                     seed=seed) == _f32(raw)
    for name in ("nats-tss-cifar10-valid-hp200", "nats-tss-cifar100-hp12", "nats-tss-ImageNet16-120-hp12"):
        # nothing filled: the manifest said valtest_as_valid (so the NATS API adapter refused them) at hp=12 too
        assert subst[name].manifest["valtest_as_valid"] is False and subst[name].content_hash == plain[name].content_hash


# ----- the mapping, written out independently of nats_import.SPLITS (the module doc's table) ---------------------
_TRAIN = (("loss", "train_losses"), ("acc", "train_acc1es"), ("acc5", "train_acc5es"), ("seconds", "train_times"))
_EVAL = (("loss", "eval_losses"), ("acc", "eval_acc1es"), ("seconds", "eval_times"))
_SPLITS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {  # split -> (NATS eval set, measure prefix), in order
    "cifar10-valid": {"valid": (("x-valid", ""),), "test": (("ori-test", ""),)},
    "cifar10": {"test": (("ori-test", ""),)},
    "cifar100": {"valid": (("x-valid", ""),), "test": (("x-test", ""), ("ori-test", "valtest_"))},
    "ImageNet16-120": {"valid": (("x-valid", ""),), "test": (("x-test", ""), ("ori-test", "valtest_"))},
}


def _nats_cost(values: list[float], seeds: list[int]) -> float:
    """NATS-Bench's get_compute_costs: seed 888's value where the seeds disagree to 5 decimals, else the mean."""
    if len({f"{v:.5f}" for v in values}) > 1 and 888 in seeds:
        return values[seeds.index(888)]
    return float(np.mean(values))


def test_every_value_comes_from_its_nats_key_for_every_dataset_split_seed_and_epoch(generated: Callable[..., Path],
                                                                                     tmp_path: Path) -> None:
    """Without the official fixture: each table's splits and measures are exactly the documented ones, and every
    stored value (all epochs, all seeds; NaN where NATS records none) is the generator's value at NATS' key
    for epoch - 1; the seeds an arch lacks stay NaN; params/flops/latency/nb201_index are NATS' per-arch values."""
    seed = 4
    strings, archs = nb201_order(seed), [2, 9]
    src = generated(tmp_path / "src", archs, seed)
    tables = {t.name: t for t in import_nats_tss(src, tmp_path / "out", progress=False)}
    assert sorted(tables) == sorted(f"nats-tss-{ds}-hp{hp}" for ds in DATASETS for hp in ("12", "200"))
    records = {idx: arch_record(idx, strings[idx], seed) for idx in archs}
    assert sorted(len(r["200"]["dataset_seed"]["cifar10"]) for r in records.values()) == [2, 3]  # seeds differ by arch
    for ds, hp in ((ds, hp) for ds in DATASETS for hp in ("12", "200")):
        bench, epochs = tables[f"nats-tss-{ds}-hp{hp}"], int(hp)
        assert bench.epochs == tuple(range(1, epochs + 1)) and bench.manifest["epochs"] == list(bench.epochs)
        assert {s: list(bench.measures(s)) for s in bench.splits} == {
            "train": [m for m, _ in _TRAIN],
            **{split: [p + m for _, p in sources for m, _ in _EVAL] for split, sources in _SPLITS[ds].items()}}
        all_seeds = sorted({s for r in records.values() for s in r[hp]["dataset_seed"][ds]})
        assert list(bench.seeds) == all_seeds == bench.manifest["seeds"]
        for idx, record in records.items():
            arch, seeds = Arch.from_str(strings[idx]), record[hp]["dataset_seed"][ds]
            row = bench.row(arch)
            assert bench.scalar(arch, "nb201_index") == idx
            results = [record[hp]["all_results"][(ds, s)] for s in seeds]
            assert bench.scalar(arch, "params") == _nats_cost([float(r["params"]) for r in results], seeds)
            assert bench.scalar(arch, "flops") == _nats_cost([float(r["flop"]) for r in results], seeds)
            assert bench.scalar(arch, "latency") == pytest.approx(np.mean([r["latency"][0] for r in results]), rel=1e-12)
            for pos, table_seed in enumerate(bench.seeds):
                res = record[hp]["all_results"].get((ds, table_seed))
                for split in bench.splits:
                    got = bench._arrays[split][row, pos]  # [epoch, measure]: every value at once
                    if res is None:  # a seed of the table this arch was not trained with
                        assert np.isnan(got).all()
                        continue
                    if split == "train":
                        want = [[res[f][i] for _, f in _TRAIN] for i in range(epochs)]
                    else:
                        want = [[res[f].get(f"{nats_set}@{i}", np.nan) for nats_set, _ in _SPLITS[ds][split]
                                 for _, f in _EVAL] for i in range(epochs)]
                    np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32), err_msg=f"{bench.name} {split}")


def test_params_and_flops_are_seed_888s_only_where_the_seeds_disagree_to_5_decimals(generated: Callable[..., Path],
                                                                                     tmp_path: Path) -> None:
    """NATS' legacy fix (get_cost_info): seed 888's value where seeds disagree (to 5 decimals), else the mean;
    without a seed 888 (hp=12) always the mean."""
    strings = nb201_order(0)
    src = generated(tmp_path / "src", [0], 0)
    record = arch_record(1, strings[1])
    hp200, hp12 = record["200"], record["12"]
    hp200["dataset_seed"]["cifar10"] = [777, 888]
    for s, params, flops in ((777, 1.0, 1.000001), (888, 1.004, 1.000004)):
        hp200["all_results"][("cifar10", s)]["params"], hp200["all_results"][("cifar10", s)]["flop"] = params, flops
    for s, params in ((111, 0.5), (777, 0.7)):
        hp12["all_results"][("cifar10-valid", s)]["params"] = params
    write_pbz2(record, src / "000001.pickle.pbz2")
    tables = {t.name: t for t in import_nats_tss(src, tmp_path / "out", progress=False)}
    arch = Arch.from_str(strings[1])
    c10 = tables["nats-tss-cifar10-hp200"]
    assert c10.scalar(arch, "params") == 1.004  # 1.00000 != 1.00400: seed 888's
    assert c10.scalar(arch, "flops") == float(np.mean([1.000001, 1.000004]))  # both 1.00000: the mean
    assert tables["nats-tss-cifar10-valid-hp12"].scalar(arch, "params") == float(np.mean([0.5, 0.7]))  # no seed 888


def _record_edit(kind: str) -> dict:
    """Arch 1's record (generator seed 0) damaged one way (see test_a_malformed_record_is_one_exact_error)."""
    record = arch_record(1, nb201_order(0)[1])
    res = record["12"]["all_results"][("cifar10", 111)]
    if kind == "overflow":
        res["params"] = 10**400
    elif kind == "list-curve":
        res["train_acc1es"] = [1.0] * 12
    elif kind == "no-all-results":
        record["12"]["all_results"] = None
    elif kind == "listed-seed-without-result":
        del record["12"]["all_results"][("cifar10", 111)]
    return record


@pytest.mark.parametrize("kind, says", [
    ("overflow", "NB201 arch 1: malformed record (OverflowError: int too large to convert to float)"),
    ("list-curve", "NB201 arch 1: hp=12 cifar10 seed 111 train_acc1es is a list, expected a dict of per-epoch values"),
    ("no-all-results", "NB201 arch 1: hp=12 has no all_results dict"),
    ("listed-seed-without-result", "NB201 arch 1: hp=12 cifar10 seed 111 is listed in dataset_seed but has no result"),
])
def test_a_malformed_record_is_one_exact_error(generated: Callable[..., Path], tmp_path: Path, kind: str,
                                               says: str) -> None:
    """Each malformed record is its own DatasetError message (not a traceback, not a DatasetError wrapped in a
    'malformed record (DatasetError: ...)'), and nothing is written."""
    src = generated(tmp_path / "src", [0], 0)
    write_pbz2(_record_edit(kind), src / "000001.pickle.pbz2")
    with pytest.raises(DatasetError) as info:
        import_nats_tss(src, tmp_path / "out", progress=False)
    assert str(info.value) == says
    assert not (tmp_path / "out").exists()


def test_a_source_that_is_not_nats_tss_data_is_one_exact_error(generated: Callable[..., Path], tmp_path: Path) -> None:
    """A meta file of the wrong length, a folder without meta, an arch file that is a folder, a single file
    without arch records, a source without any results: each one DatasetError naming what is wrong."""
    strings = nb201_order(0)
    short = tmp_path / "short"
    short.mkdir()
    write_meta(short, strings[:10])
    write_pbz2(arch_record(0, strings[0]), short / "000000.pickle.pbz2")
    no_meta = tmp_path / "no-meta"
    no_meta.mkdir()
    write_pbz2(arch_record(0, strings[0]), no_meta / "000000.pickle.pbz2")
    folder_entry = generated(tmp_path / "dir-entry", [0], 0)
    (folder_entry / "000002.pickle.pbz2").mkdir()
    empty_single = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2({"meta_archs": strings, "arch2infos": {}}, empty_single)
    no_results = generated(tmp_path / "no-results", [0], 0)
    for idx in (0, 1):
        write_pbz2({}, no_results / f"{idx:06d}.pickle.pbz2")
    cases = {
        short: f"{short / 'meta.pickle.pbz2'} has no meta_archs list of 15625 arch strings: not NATS-Bench tss data",
        no_meta: f"{no_meta} has no meta.pickle.pbz2: not a NATS-Bench tss 'simple' folder",
        folder_entry: f"{folder_entry / '000002.pickle.pbz2'} is not a regular file (a folder, FIFO, device or broken link)",
        empty_single: f"{empty_single} has no arch2infos: not the NATS-Bench tss single file",
        no_results: f"{no_results} holds no results for any NATS dataset",
    }
    for source, says in cases.items():
        with pytest.raises(DatasetError) as info:
            import_nats_tss(source, tmp_path / "out", progress=False)
        assert str(info.value) == says
        assert not (tmp_path / "out").exists()


def test_a_bad_name_prefix_or_worker_count_is_refused_before_anything_is_written(generated: Callable[..., Path],
                                                                                 tmp_path: Path) -> None:
    src = generated(tmp_path / "src", [0], 0)
    out = tmp_path / "a" / "out"
    for name in ("../escape", "", "-x", "a b"):
        with pytest.raises(DatasetError) as info:
            import_nats_tss(src, out, name=name, progress=False)
        assert str(info.value) == f"table name prefix {name!r} must be letters, digits, '.', '_' or '-'"
    for workers in (0, -1, True, 1.5):
        with pytest.raises(DatasetError) as info:
            import_nats_tss(src, out, workers=workers, progress=False)  # type: ignore[arg-type]
        assert str(info.value) == f"workers must be an integer >= 1, got {workers!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_a_source_with_only_one_training_length_writes_only_its_tables(generated: Callable[..., Path],
                                                                       tmp_path: Path) -> None:
    """Every record without hp=200 results: the four hp=12 tables, none of hp=200 and no error."""
    strings = nb201_order(0)
    src = generated(tmp_path / "src", [0, 1], 0)
    for idx in (0, 1):
        record = arch_record(idx, strings[idx])
        del record["200"]
        write_pbz2(record, src / f"{idx:06d}.pickle.pbz2")
    tables = import_nats_tss(src, tmp_path / "out", progress=False)
    names = sorted(f"nats-tss-{ds}-hp12" for ds in DATASETS)
    assert sorted(t.name for t in tables) == names == sorted(p.name for p in (tmp_path / "out").iterdir())


def test_each_manifest_records_its_source_and_what_nats_does_not_record(generated: Callable[..., Path],
                                                                        tmp_path: Path) -> None:
    """Provenance: the meta file's sha256 (the tables' dataset sha256), the folder and its file count; and,
    per table, which values NATS leaves unrecorded (hp=200 only)."""
    import hashlib

    src = generated(tmp_path / "src", [0, 1], 0)
    meta_sha256 = hashlib.sha256((src / "meta.pickle.pbz2").read_bytes()).hexdigest()
    tables = {t.name: t for t in import_nats_tss(src, tmp_path / "out", progress=False)}
    not_recorded = {"cifar10-valid": "test (ori-test) before epoch 200", "cifar10": "none known",
                    "cifar100": "valid (x-valid) and test (x-test) before epoch 200",
                    "ImageNet16-120": "valid (x-valid) and test (x-test) before epoch 200"}
    for ds in DATASETS:
        for hp in ("12", "200"):
            manifest = tables[f"nats-tss-{ds}-hp{hp}"].manifest
            assert manifest["dataset"]["name"] == ds and manifest["dataset"]["sha256"] == meta_sha256
            assert {k: manifest["source"][k] for k in ("format", "path", "meta_sha256", "arch_files")} == {
                "format": "NATS-Bench tss 'simple' folder", "path": str(src), "meta_sha256": meta_sha256, "arch_files": 2}
            assert manifest["protocol"]["epochs"] == int(hp) and manifest["protocol"]["hp"] == hp
            assert manifest["num_archs"] == 2 and manifest["coverage"] == "2/15625"
            assert manifest["not_recorded"] == ("stored as NaN, a query raises MissingResultError: "
                                                + (not_recorded[ds] if hp == "200" else "none known"))


def test_import_cli_passes_its_options_and_names_a_damaged_file(generated: Callable[..., Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """--valtest-as-valid and --overwrite reach the import; a damaged arch file is one error line naming it, exit 2."""
    src = generated(tmp_path / "src", [0, 1], 0)
    out = tmp_path / "t"
    argv = ["import", "nats-tss", str(src), "--out", str(out), "--valtest-as-valid", "--workers", "1"]
    assert main(argv) == 0
    assert capsys.readouterr().out.count("wrote table") == 8
    assert load_table(out / "nats-tss-cifar100-hp200").manifest["valtest_as_valid"] is True
    assert main([*argv, "--overwrite"]) == 0
    assert capsys.readouterr().out.count("wrote table") == 8
    damaged = src / "000001.pickle.pbz2"
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert main([*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and str(damaged) in err and err.count("\n") == 1


@pytest.mark.parametrize("key", ["3", 15625, -1, True])
def test_a_single_file_key_that_is_no_nb201_index_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                      key: object) -> None:
    """arch2infos keys are NB201 indices: '3' was a KeyError traceback, 15625 an IndexError one, -1 read as
    arch 15624 (and refused as naming another arch), True as arch 1."""
    strings = nb201_order(1)
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2({"meta_archs": strings, "arch2infos": {4: arch_record(4, strings[4], 1), key: arch_record(3, strings[3], 1)}},
               path)
    with pytest.raises(DatasetError) as info:
        import_nats_tss(path, tmp_path / "out", progress=False)
    assert str(info.value) == f"{path}: arch2infos key {key!r} is not an NB201 index 0..15624"
    assert main(["import", "nats-tss", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: {path}: arch2infos key {key!r} is not an NB201 index 0..15624\n"
    assert not (tmp_path / "out").exists()
