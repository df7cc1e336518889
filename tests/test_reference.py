"""Tables built from the NAS-Bench-201 reference files (skipped where ../shared/reference is absent),
and the NB201 protocol replayed on them."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nasbench_suite import tablefile
from nasbench_suite.cli import main
from nasbench_suite.errors import MissingResultError
from nasbench_suite.evaluation import EvalSpec
from nasbench_suite.search import SearchSpec, run_seeds
from nasbench_suite.simulator import Budget
from nasbench_suite.space import Arch

REF = Path(os.environ.get("NASBENCH_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference"))
needs_reference = pytest.mark.skipif(not (REF / "nb201_hp12_mean_acc.csv").is_file(),
                                     reason=f"NB201 reference files not found at {REF}")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory):
    from nasbench_suite.reference import build_reference_tables

    return build_reference_tables(REF, tmp_path_factory.mktemp("ref"))


@needs_reference
def test_reference_tables_hold_the_published_values(tables) -> None:
    hp12, hp200 = tables
    assert (hp12.name, hp200.name) == ("nb201-cifar10-hp12", "nb201-cifar10-hp200")
    assert hp12.num_archs == hp200.num_archs == 15625 and hp12.max_epoch == 12 and hp200.max_epoch == 200
    ref12 = pd.read_csv(REF / "nb201_hp12_mean_acc.csv").set_index("arch_index")
    ref200 = pd.read_csv(REF / "nb201_nats_test_acc_200ep.csv")
    times = pd.read_csv(REF / "nb201_200ep_final_valid_per_seed.csv").groupby("arch_index").first()
    for nb201 in (0, 1, 284, 6111, 15624):
        arch = Arch.from_str(ref12.loc[nb201, "arch_str"])
        assert hp12.metric(arch, "valid", epoch=12) == pytest.approx(ref12.loc[nb201, "cifar10_valid"], rel=1e-6)
        assert hp12.metric(arch, "test", epoch=12) == pytest.approx(ref12.loc[nb201, "cifar10_test"], rel=1e-6)
        assert hp200.metric(arch, "test", epoch=200) == pytest.approx(ref200.loc[nb201, "CIFAR10TestAccuracy200Epochs"],
                                                                      rel=1e-6)
        per_epoch = times.loc[nb201, "cifar10_valid_train_time_per_epoch_s"]
        assert hp12.train_cost(arch, epoch=12) == pytest.approx(12 * per_epoch, rel=1e-5)
        assert hp12.scalar(arch, "nb201_index") == nb201
    assert hp200.optimum("test")[1] == pytest.approx(94.3733, abs=1e-3)  # NB201 index 6111
    for bench in (hp12, hp200):  # cifar10-valid's 25k-image seconds, also in the 50k evaluation table: said so
        assert "cifar10-valid's (25k training images) in both tables" in bench.manifest["train_seconds_note"]
    with pytest.raises(MissingResultError):
        hp12.metric(Arch.from_index(5), "valid", epoch=6)  # hp=12 has no per-epoch curves here


@needs_reference
def test_nb201_protocol_replay_lands_near_the_published_numbers(tables) -> None:
    hp12, hp200 = tables
    spec = SearchSpec(str(hp12.path), "rea", Budget(seconds=12000))
    res = run_seeds(spec, range(30), evaluation=EvalSpec(str(hp200.path)))
    final = res.final()
    assert (res.frame["finish_time"] <= 12000).all()
    assert 80 <= res.manifest["runs"]["results_per_run"]["mean"] <= 120  # ~90 s of pseudo time per query
    # 12,000 s of REA on the 12-epoch validation accuracy finds cells in the top 2% of the space by
    # their 200-epoch test accuracy (percentile over all cells of the evaluation table)
    top2 = np.percentile(hp200.array("test", epoch=hp200.max_epoch), 98)
    assert final["incumbent_test_acc"].mean() > top2
    assert np.all(final["incumbent_test_acc"] <= hp200.optimum("test")[1])


def test_reference_build_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["reference", "build", "--ref-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["reference", "build", "--ref-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "is missing" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")  # was called 'does not exist'
    assert main(["reference", "build", "--ref-dir", str(tmp_path / "afile"), "--out", str(tmp_path / "o")]) == 2
    assert f"reference folder {tmp_path / 'afile'} is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("inside", [".", "nb201-cifar10-hp12", "runs/new"])
def test_reference_build_never_writes_among_the_shipped_tables(inside: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    """``--out benchmarks_data`` (the help said "e.g. benchmarks_data/NAME") wrote its 51 MB of tables among the
    shipped ones; it is refused before the reference files are read."""
    from nasbench_suite.table import shipped_tables_dir

    shipped = shipped_tables_dir()
    before = sorted(p.name for p in shipped.iterdir())
    out = shipped / inside
    assert main(["reference", "build", "--ref-dir", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"nasbench: error: --out {out} is the package's shipped tables folder {shipped} " \
        "or inside it; write the reference tables into a folder of your own (e.g. local_tables)\n"
    assert sorted(p.name for p in shipped.iterdir()) == before


def _second_write_fails(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make the second table write of build_reference_tables fail, as a full disk would."""
    import nasbench_suite.reference as reference
    from nasbench_suite.table import build_table as real

    calls: list[Path] = []

    def build_table(results: pd.DataFrame, out: Path, **kwargs: object):
        calls.append(Path(out))
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(out))
        return real(results, out, **kwargs)

    monkeypatch.setattr(reference, "build_table", build_table)
    return calls


def test_reference_build_writes_both_tables_or_neither(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       results: pd.DataFrame, ref: Path) -> None:
    """On this module's stand-ins (it was skipped without ../shared/reference, as in CI)."""
    from nasbench_suite.reference import build_reference_tables
    from nasbench_suite.table import build_table, load_table

    calls = _second_write_fails(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        build_reference_tables(ref, tmp_path / "new" / "tables")
    assert len(calls) == 2 and not (tmp_path / "new").exists()  # no hp12 table, no staging, no folder

    out = tmp_path / "old"  # tables already there, replaced with overwrite: kept as they were
    hashes = {n: build_table(results, out / n).content_hash for n in ("nb201-cifar10-hp12", "nb201-cifar10-hp200")}
    calls = _second_write_fails(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        build_reference_tables(ref, out, overwrite=True)
    assert len(calls) == 2 and sorted(p.name for p in out.iterdir()) == sorted(hashes)
    assert {n: load_table(out / n).content_hash for n in hashes} == hashes


def _reference_files(folder: Path) -> Path:
    """Minimal stand-ins for the four reference files (right shape and columns, made-up values)."""
    import json

    folder.mkdir()
    strings = [Arch.from_index(i).to_str() for i in range(15625)]
    acc = np.linspace(10.0, 90.0, 15625)
    pd.DataFrame({"arch_index": range(15625), "arch_str": strings, "cifar10_test": acc,
                  "cifar10_valid": acc}).to_csv(folder / "nb201_hp12_mean_acc.csv", index=False)
    pd.DataFrame({"arch_index": range(15625), "seed": 777, "cifar10_valid_acc": acc,
                  "cifar10_valid_train_time_per_epoch_s": 5.0}).to_csv(folder / "nb201_200ep_final_valid_per_seed.csv",
                                                                      index=False)
    pd.DataFrame({"CIFAR10TestAccuracy200Epochs": acc, "ArchitectureString": strings}).to_csv(
        folder / "nb201_nats_test_acc_200ep.csv", index=False)
    result = {"eval_times": {"x-valid@0": 1.0}, "train_times": {"0": 4.0}}
    (folder / "nats_tss_fixture_3archs.json").write_text(
        json.dumps({"archs": {"0": {"12": {"all_results": {"cifar10-valid|777": result}}}}}))
    return folder


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """_reference_files written once; each test damages its own copy (:func:`ref`)."""
    return _reference_files(tmp_path_factory.mktemp("stand_ins") / "ref")


@pytest.fixture
def ref(stand_ins: Path, tmp_path: Path) -> Path:
    """A copy of the stand-ins of this module, for this test to damage."""
    import shutil

    return Path(shutil.copytree(stand_ins, tmp_path / "ref"))


@pytest.mark.parametrize("damage, says", [
    (("nb201_hp12_mean_acc.csv", "cifar10_valid"), "nb201_hp12_mean_acc.csv lacks the column(s) cifar10_valid"),
    (("nb201_nats_test_acc_200ep.csv", "ArchitectureString"),
     "nb201_nats_test_acc_200ep.csv lacks the column(s) ArchitectureString"),
    (("nb201_200ep_final_valid_per_seed.csv", "cifar10_valid_acc"),  # cifar10's valid accuracy at 200 epochs
     "nb201_200ep_final_valid_per_seed.csv lacks the column(s) cifar10_valid_acc"),
    ("{", "nats_tss_fixture_3archs.json is not the 3-arch NATS-Bench fixture"),
])
def test_damaged_reference_files_are_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                              damage: object, says: str, ref: Path) -> None:
    """Were KeyError / JSONDecodeError tracebacks."""
    if isinstance(damage, tuple):
        name, column = damage
        pd.read_csv(ref / name).drop(columns=[column]).to_csv(ref / name, index=False)
    else:
        (ref / "nats_tss_fixture_3archs.json").write_text(damage)
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: reference file ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


_KILLED_BUILD = """
import os, signal, sys
from nasbench_suite import reference, tablefile

if {when!r} == "after a swap":  # the old table swapped out of its place, not yet removed
    exchange = tablefile._exchange
    tablefile._exchange = lambda a, b: (exchange(a, b), os.kill(os.getpid(), signal.SIGKILL))
else:  # the first table written, the second not yet
    build_table = reference.build_table
    reference.build_table = lambda *a, **k: (build_table(*a, **k), os.kill(os.getpid(), signal.SIGKILL))
reference.build_reference_tables({ref!r}, {out!r}, overwrite=True)
"""


def _shuffled_reference_files(folder: Path) -> tuple[Path, list[str]]:
    """Stand-ins for the four reference files where every value differs by arch, seed and column: an NB201
    order that is a permutation of ours, the hp12 file's rows shuffled, the 200-epoch test file in yet another
    row order, two seeds per arch, and a fixture with ori-test and cifar100 times beside cifar10-valid's
    x-valid ones."""
    import json

    folder.mkdir()
    strings = [Arch.from_index(int(i)).to_str() for i in np.random.default_rng(7).permutation(15625)]
    nb201 = np.arange(15625)
    pd.DataFrame({"arch_index": nb201, "arch_str": strings, "cifar10_test": 20.0 + nb201 / 1000,
                  "cifar10_valid": 10.0 + nb201 / 1000}).sample(frac=1.0, random_state=3).to_csv(
        folder / "nb201_hp12_mean_acc.csv", index=False)
    pd.DataFrame({"arch_index": np.repeat(nb201, 2), "seed": np.tile([777, 888], 15625),
                  "cifar10_valid_acc": np.repeat(30.0 + nb201 / 1000, 2) + np.tile([-1.0, 1.0], 15625),
                  "cifar10_valid_train_time_per_epoch_s": np.repeat(1.0 + nb201 / 100, 2)}).to_csv(
        folder / "nb201_200ep_final_valid_per_seed.csv", index=False)
    pd.DataFrame({"CIFAR10TestAccuracy200Epochs": (40.0 + nb201 / 1000)[::-1],
                  "ArchitectureString": strings[::-1]}).to_csv(folder / "nb201_nats_test_acc_200ep.csv", index=False)

    def result(x_valid: list[float], ori_test: float, train: float) -> dict:
        evals = {f"x-valid@{i}": v for i, v in enumerate(x_valid)} | {"ori-test@0": ori_test}
        return {"eval_times": evals, "train_times": {"0": train, "1": train}}

    archs = {"0": {"12": {"all_results": {"cifar10-valid|111": result([1.0, 3.0], 50.0, 4.0),  # ratio 0.5
                                          "cifar100|111": result([100.0], 50.0, 1.0)}}},
             "11": {"12": {"all_results": {"cifar10-valid|777": result([1.0], 50.0, 4.0)}}},  # ratio 0.25
             "284": {"12": {"all_results": {"cifar10-valid|111": result([4.0], 50.0, 4.0)}}}}  # ratio 1
    (folder / "nats_tss_fixture_3archs.json").write_text(json.dumps({"archs": archs}))
    return folder, strings


@pytest.fixture(scope="module")
def killed_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Builds from the shuffled stand-ins killed twice (SIGKILL, real processes), each followed by a build in
    this process, as test_a_killed_reference_build_leaves_what_the_next_one_removes describes: what each step
    left in the output folder, and the tables of the last build, which
    test_reference_tables_map_each_file_by_its_own_keys checks (the values do not depend on where, or over
    what, they were built; every build writes a 3.1M-row 200-epoch table, seconds each, so the two tests
    share these builds rather than the second making one more)."""
    import subprocess
    import sys

    from nasbench_suite.reference import build_reference_tables

    tmp = tmp_path_factory.mktemp("killed")
    (ref, strings), out = _shuffled_reference_files(tmp / "ref"), tmp / "out"
    seen: dict[str, Any] = {"strings": strings, "names": ["nb201-cifar10-hp12", "nb201-cifar10-hp200"]}
    for when in ("while writing", "after a swap"):
        if when == "after a swap":
            build_reference_tables(ref, out, overwrite=True)
            seen["after the next build"] = sorted(p.name for p in out.iterdir())
        script = _KILLED_BUILD.format(when=when, ref=str(ref), out=str(out))
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        returncode = proc.wait(timeout=300)
        seen[when] = {"returncode": returncode, "pid": proc.pid, "stderr": proc.stderr.read(),  # type: ignore[union-attr]
                      "left": sorted(p.name for p in out.iterdir() if p.name not in seen["names"])}
        proc.stderr.close()  # type: ignore[union-attr]
    older = out / ".reference-build-k3j_9zq2"  # an older version's staging folder, untouched for a day
    older.mkdir()
    day_ago = time.time() - tablefile.STALE_AFTER_S - 60
    os.utime(older, (day_ago, day_ago))
    seen["tables"] = build_reference_tables(ref, out, overwrite=True)
    seen["at the end"] = sorted(p.name for p in out.iterdir())
    return seen


def test_a_killed_reference_build_leaves_what_the_next_one_removes(killed_builds: dict[str, Any]) -> None:
    """nasbench reference build staged its tables in its own folder (.reference-build-*), which nothing
    removed: each build killed while writing, or after swapping a table in, left up to both tables (51 MB
    with the real files) behind. They are now staged beside their targets as every table write does
    (.TABLE.tmp-PID-*), so the next build removes what a killed one left."""
    import signal

    names = killed_builds["names"]
    for when in ("while writing", "after a swap"):
        if when == "after a swap":
            assert killed_builds["after the next build"] == names  # the killed build's leftovers are gone
        seen = killed_builds[when]
        assert seen["returncode"] == -signal.SIGKILL, seen["stderr"]
        left = seen["left"]
        assert left and all(re.fullmatch(rf"\.nb201-cifar10-hp(12|200)\.tmp-{seen['pid']}-\w+", n) for n in left), left
    assert killed_builds["at the end"] == names  # also the older version's staging folder is gone


def test_reference_tables_map_each_file_by_its_own_keys(killed_builds: dict[str, Any]) -> None:
    """Each value lands on its own cell: hp12 by arch_str (NB201 rows, our index), the 200-epoch test
    accuracy by ArchitectureString (its own row order), the per-seed file by NB201 arch_index (valid at 200 =
    mean over seeds); valid seconds = train seconds x the fixture's mean x-valid pass / train epoch ratio of
    cifar10-valid (not ori-test's, nor cifar100's). (The tables of the last build of killed_builds.)"""
    strings = killed_builds["strings"]
    hp12, hp200 = killed_builds["tables"]
    assert hp12.arch_indices.tolist() == hp200.arch_indices.tolist() == list(range(15625))
    for nb201 in (0, 1, 284, 7777, 15624):
        arch = Arch.from_str(strings[nb201])
        for bench in (hp12, hp200):
            assert bench.scalar(arch, "nb201_index") == nb201
            assert bench.metric(arch, "train", "seconds", epoch=1) == pytest.approx(1.0 + nb201 / 100)
            assert bench.metric(arch, "valid", "seconds", epoch=1) == pytest.approx((1.0 + nb201 / 100) * 1.75 / 3)
        assert hp12.metric(arch, "valid", epoch=12) == pytest.approx(10.0 + nb201 / 1000)
        assert hp12.metric(arch, "test", epoch=12) == pytest.approx(20.0 + nb201 / 1000)
        assert hp200.metric(arch, "test", epoch=200) == pytest.approx(40.0 + nb201 / 1000)
        assert hp200.metric(arch, "valid", epoch=200) == pytest.approx(30.0 + nb201 / 1000)
        with pytest.raises(MissingResultError):
            hp12.metric(arch, "valid", epoch=11)  # one fidelity: the final epoch only
        with pytest.raises(MissingResultError):
            hp200.metric(arch, "test", epoch=199)


@pytest.mark.parametrize("name, says", [
    ("nb201_hp12_mean_acc.csv", "reference files must have 15625 rows (nb201_hp12_mean_acc.csv: 15624"),
    ("nb201_nats_test_acc_200ep.csv", "nb201_nats_test_acc_200ep.csv: 15624)"),
    ("nb201_200ep_final_valid_per_seed.csv", "lacks cifar10_valid_train_time_per_epoch_s for some archs"),
])
def test_a_reference_file_missing_an_arch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, name: str,
                                                     says: str, ref: Path) -> None:
    """A file one arch short: one line, no table (the hp12 table's seconds or accuracies were NaN, or rows
    were missing)."""
    pd.read_csv(ref / name).iloc[1:].to_csv(ref / name, index=False)
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_unreadable_reference_csv_is_one_line_naming_the_parser_error(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                         ref: Path) -> None:
    """An empty CSV (pandas' EmptyDataError, a ValueError): one line naming the file and the parser's error."""
    (ref / "nb201_hp12_mean_acc.csv").write_text("")
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"nasbench: error: reference file {ref / 'nb201_hp12_mean_acc.csv'} is not a "
                                       "readable CSV (EmptyDataError: No columns to parse from file)\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fixture, says", [
    (None, "reference file {path} is missing (needed for the validation-pass time ratio)"),
    ({"archs": {"0": {"12": {"all_results": {"cifar100|777": {"eval_times": {"x-valid@0": 1.0},
                                                              "train_times": {"0": 4.0}}}}}}},
     "{path} has no x-valid evaluation times for cifar10-valid"),
    ({"archs": {"0": {"12": {"all_results": {"cifar10-valid|777": {"eval_times": {"ori-test@0": 1.0},
                                                                   "train_times": {"0": 4.0}}}}}}},
     "{path} has no x-valid evaluation times for cifar10-valid"),
])
def test_a_fixture_without_cifar10_valids_x_valid_times_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     ref: Path, fixture: Any, says: str) -> None:
    """The 3-arch fixture missing (unchecked, a FileNotFoundError traceback), or holding no x-valid pass of the
    searched dataset (another dataset's, or ori-test's only): no ratio to estimate the validation seconds with
    (unchecked, the mean of nothing: NaN valid seconds in every table)."""
    import json

    path = ref / "nats_tss_fixture_3archs.json"
    if fixture is None:
        path.unlink()
    else:
        path.write_text(json.dumps(fixture))
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "nasbench: error: " + says.format(path=path) + "\n"
    assert not (tmp_path / "out").exists()


def test_a_reference_arch_string_not_of_the_space_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                              ref: Path) -> None:
    """An ArchError (a ValueError) reading arch_str: one line naming the file, no table."""
    hp12 = pd.read_csv(ref / "nb201_hp12_mean_acc.csv")
    hp12.loc[3, "arch_str"] = "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    hp12.to_csv(ref / "nb201_hp12_mean_acc.csv", index=False)
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: reference file {ref / 'nb201_hp12_mean_acc.csv'}: ") and "conv~0" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_the_dataset_asked_for_picks_its_columns(tmp_path: Path, capsys: pytest.CaptureFixture, ref: Path) -> None:
    """--dataset reaches the build: cifar100's columns are asked of files holding cifar10's only; an unknown
    dataset (the API, where argparse's choices do not guard) is one error, not a KeyError."""
    from nasbench_suite.errors import DatasetError
    from nasbench_suite.reference import build_reference_tables

    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(tmp_path / "out"),
                 "--dataset", "cifar100"]) == 2
    assert capsys.readouterr().err == (f"nasbench: error: reference file {ref / 'nb201_hp12_mean_acc.csv'} lacks the "
                                       "column(s) cifar100_valid, cifar100_test: not the file PROVENANCE.md describes\n")
    with pytest.raises(DatasetError, match="^unknown reference dataset 'cifar10-valid'; use one of cifar10, cifar100, "
                                           "imagenet16-120$"):
        build_reference_tables(ref, tmp_path / "out", "cifar10-valid")
    assert not (tmp_path / "out").exists()


def test_an_existing_table_is_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                 ref: Path, results: pd.DataFrame,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One of the two tables already there, no --overwrite: refused before the other is written (unchecked, the
    other is installed before the second install fails: one new table beside the old one). With --overwrite
    both are replaced (small tables stand in for the built ones)."""
    from nasbench_suite.table import build_table

    out = tmp_path / "out"
    old = build_table(results, out / "nb201-cifar10-hp200").content_hash
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {out / 'nb201-cifar10-hp200'} already exists; ") and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["nb201-cifar10-hp200"]
    import nasbench_suite.reference as reference
    from nasbench_suite.table import load_table

    new = results.assign(test_acc=results["test_acc"] + 1.0)
    monkeypatch.setattr(reference, "build_table", lambda frame, folder, name, metadata: build_table(new, folder, name=name))
    assert main(["reference", "build", "--ref-dir", str(ref), "--out", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["nb201-cifar10-hp12", "nb201-cifar10-hp200"]
    assert load_table(out / "nb201-cifar10-hp200").content_hash != old


class _Stop(Exception):
    pass


def _captured_build(monkeypatch: pytest.MonkeyPatch, ref: Path, out: Path, dataset: str) -> dict[str, tuple]:
    """The (results frame, metadata) build_reference_tables hands build_table for each table, the tables not
    written (the second call stops the build)."""
    import nasbench_suite.reference as reference
    from nasbench_suite.reference import build_reference_tables

    seen: dict[str, tuple] = {}

    def build_table(results: pd.DataFrame, folder: Path, name: str, metadata: dict) -> None:
        seen[name] = (results, metadata)
        if len(seen) == 2:
            raise _Stop

    monkeypatch.setattr(reference, "build_table", build_table)
    with pytest.raises(_Stop):
        build_reference_tables(ref, out, dataset)
    assert not out.exists()
    return seen


@pytest.mark.parametrize("dataset, prefix, nats, test200", [
    ("cifar100", "cifar100", "cifar100", "CIFAR100TestAccuracy200Epochs"),
    ("imagenet16-120", "imagenet16_120", "ImageNet16-120", "ImageNetTestAccuracy200Epochs")])
def test_cifar100_and_imagenet_tables_read_their_own_columns_and_have_no_valid_at_200(
        tmp_path: Path, ref: Path, monkeypatch: pytest.MonkeyPatch, dataset: str, prefix: str, nats: str,
        test200: str) -> None:
    """cifar100 (and ImageNet16-120 alike): hp12 from cifar100_valid / _test, seconds from
    cifar100_train_time_per_epoch_s (not cifar10-valid's), valid seconds by the fixture's cifar100 ratio, the
    200-epoch test accuracy from CIFAR100TestAccuracy200Epochs, no valid accuracy at 200 (the per-seed file's is
    valtest); one seed, 0; no cifar10-valid seconds note; the manifests name the protocol and the hp12 file's hash."""
    import hashlib
    import json

    hp12 = pd.read_csv(ref / "nb201_hp12_mean_acc.csv")
    hp12.assign(**{f"{prefix}_valid": 60.0, f"{prefix}_test": 61.0}).to_csv(ref / "nb201_hp12_mean_acc.csv", index=False)
    per_seed = pd.read_csv(ref / "nb201_200ep_final_valid_per_seed.csv")
    per_seed.assign(**{f"{prefix}_train_time_per_epoch_s": 7.0}).to_csv(ref / "nb201_200ep_final_valid_per_seed.csv",
                                                                       index=False)
    test200_file = pd.read_csv(ref / "nb201_nats_test_acc_200ep.csv")
    test200_file.assign(**{test200: 62.0}).to_csv(ref / "nb201_nats_test_acc_200ep.csv", index=False)
    fixture = json.loads((ref / "nats_tss_fixture_3archs.json").read_text())
    fixture["archs"]["0"]["12"]["all_results"][f"{nats}|777"] = {"eval_times": {"x-valid@0": 1.0, "x-valid@1": 2.0},
                                                                 "train_times": {"0": 6.0}}  # ratio 0.25
    (ref / "nats_tss_fixture_3archs.json").write_text(json.dumps(fixture))
    seen = _captured_build(monkeypatch, ref, tmp_path / "out", dataset)
    assert list(seen) == [f"nb201-{dataset}-hp12", f"nb201-{dataset}-hp200"]
    (f12, m12), (f200, m200) = seen.values()
    assert f12.columns.tolist() == ["arch_index", "seed", "epoch", "train_seconds", "valid_seconds", "test_acc",
                                    "valid_acc", "nb201_index"]
    assert f200.columns.tolist() == ["arch_index", "seed", "epoch", "train_seconds", "valid_seconds", "test_acc",
                                     "nb201_index"]
    for frame, epochs, test in ((f12, 12, 61.0), (f200, 200, 62.0)):
        assert len(frame) == 15625 * epochs and set(frame["seed"]) == {0}
        assert set(frame["train_seconds"]) == {7.0} and set(frame["valid_seconds"]) == {1.75}
        final = frame[frame["epoch"] == epochs]
        assert set(final["test_acc"]) == {test} and frame.loc[frame["epoch"] < epochs, "test_acc"].isna().all()
    assert set(f12.loc[f12["epoch"] == 12, "valid_acc"]) == {60.0}
    sha = hashlib.sha256((ref / "nb201_hp12_mean_acc.csv").read_bytes()).hexdigest()
    for meta, epochs in ((m12, 12), (m200, 200)):
        assert meta["dataset"]["name"] == f"nb201-{dataset}" and meta["dataset"]["sha256"] == sha
        assert meta["protocol"] == {"epochs": epochs, "hp": str(epochs), "values_at_epochs": [epochs]}
        assert meta["train_seconds_note"] == "NATS-Bench pseudo training time per epoch (GTX 1080Ti), constant over epochs"
        assert meta["valid_seconds_note"].startswith("estimate: per-epoch train time x 0.2500, ")
        assert meta["seeds_note"].startswith("one seed (0) holding means")


def test_a_table_written_meanwhile_is_not_replaced_without_overwrite(tmp_path: Path, ref: Path, results: pd.DataFrame,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A table another writer put at the target while this build wrote its own (past the check before
    writing): without overwrite, installing is refused and neither table of this build is installed."""
    from nasbench_suite.errors import TableExistsError
    import nasbench_suite.reference as reference
    from nasbench_suite.reference import build_reference_tables
    from nasbench_suite.table import build_table as real, load_table

    out = tmp_path / "out"
    intruder: dict[str, str] = {}

    def build_table(frame: pd.DataFrame, folder: Path, name: str, metadata: dict) -> object:
        if not intruder:
            intruder["hash"] = real(results, out / "nb201-cifar10-hp12").content_hash
        return real(results, folder, name=name)  # small stand-ins for the built tables

    monkeypatch.setattr(reference, "build_table", build_table)
    with pytest.raises(TableExistsError, match="nb201-cifar10-hp12 already exists; "):
        build_reference_tables(ref, out)
    assert sorted(p.name for p in out.iterdir()) == ["nb201-cifar10-hp12"]
    assert load_table(out / "nb201-cifar10-hp12").content_hash == intruder["hash"]
