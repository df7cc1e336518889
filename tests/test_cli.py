"""The nasbench command as a user runs it: output, JSON, and one-line errors with exit code 2."""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pytest

from nasbench_suite.cli import main
from nasbench_suite.space import Arch
from nasbench_suite.table import load_table


def run_process(*args: str) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, as a shell runs it (1.5-2 s: each start imports torch)."""
    return subprocess.run([sys.executable, "-m", "nasbench_suite.cli", *args], capture_output=True, text=True)


def run(*args: str) -> subprocess.CompletedProcess:
    """The command's ``main`` in this process, its output captured: what a shell would get, without a new
    interpreter's start. Anything ``main`` lets through (a traceback in a shell) fails the test here; the
    process-level behaviour (exit status, argparse, encoding, console script) is checked with run_process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:  # argparse's refusals
            code = stop.code if isinstance(stop.code, int) else 1
    return subprocess.CompletedProcess(["nasbench", *args], code, out.getvalue(), err.getvalue())


def assert_clean_error(proc: subprocess.CompletedProcess, match: str) -> None:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 or proc.stderr.startswith("usage:")
    assert match in proc.stderr


def test_text_the_terminal_cannot_encode_is_escaped_not_a_traceback(tmp_path: Path, results: pd.DataFrame) -> None:
    # a Latin-1 terminal (LC_ALL=de_DE.ISO-8859-1) printing a table's Chinese description: UnicodeEncodeError
    from nasbench_suite.table import build_table

    build_table(results, tmp_path / "t", metadata={"description": "caf\u00e9 \u8fdb\u5316"})
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    proc = subprocess.run([sys.executable, "-m", "nasbench_suite.cli", "info", str(tmp_path / "t")],
                          capture_output=True, env=env)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode(errors="replace")
    assert "about      caf\u00e9 \\u8fdb\\u5316\n".encode("latin-1") in proc.stdout


def test_info_text_and_json(table_dir: Path) -> None:
    proc = run("info", str(table_dir))
    assert proc.returncode == 0, proc.stderr
    assert "coverage   10/15625 cells" in proc.stdout and "(verified)" in proc.stdout
    info = json.loads(run("info", str(table_dir), "--json").stdout)
    b = load_table(table_dir)
    assert info["content_hash"] == b.content_hash and info["seeds"] == [11, 22] and info["epochs"] == 4
    best, value = b.optimum("test")
    assert info["best_final_acc_mean_over_seeds"]["test"]["arch_index"] == best.index
    final = b.array("valid", epoch=4)
    assert info["final_valid_acc"]["max"] == pytest.approx(final.max(), abs=1e-3)
    from scipy.stats import kendalltau

    tau = kendalltau(b.array("valid", epoch=4, seed=11), b.array("valid", epoch=4, seed=22)).statistic
    assert info["seed_kendall_tau_final_valid_acc"] == pytest.approx(tau, abs=1e-4)


def test_query_matches_api(table_dir: Path, capsys) -> None:
    assert main(["query", str(table_dir), "4321", "--epoch", "2", "--seed", "22", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    b = load_table(table_dir)
    assert out["metrics"]["valid_acc"] == pytest.approx(b.metric(4321, "valid", epoch=2, seed=22))
    assert out["train_cost_seconds"] == pytest.approx(b.train_cost(4321, epoch=2, seed=22))
    assert out["per_arch"]["params"] == 1000 + 4321
    assert main(["query", str(table_dir), str(b.arch_indices[0]), "--split", "valid"]) == 0
    text = capsys.readouterr().out
    assert "valid_acc" in text and "test_acc" not in text and "epoch 4, seed mean" in text


def test_query_marks_a_missing_value_and_shows_the_others(tmp_path: Path, results: pd.DataFrame, capsys) -> None:
    from nasbench_suite.table import build_table

    results = results.copy()
    gap = (results.arch_index == 4321) & (results.epoch == 2)
    results.loc[gap & (results.seed == 22), "valid_loss"] = float("nan")  # one measure of one seed
    results.loc[gap, "test_acc"] = float("nan")  # one measure of every seed
    b = build_table(results, tmp_path / "gaps")
    assert main(["query", str(b.path), "4321", "--epoch", "2", "--seed", "22", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["valid_loss"] is None and out["metrics"]["test_acc"] is None
    assert out["metrics"]["valid_acc"] == pytest.approx(b.metric(4321, "valid", epoch=2, seed=22))
    assert out["train_cost_seconds"] == pytest.approx(b.train_cost(4321, epoch=2, seed=22))
    assert main(["query", str(b.path), "4321", "--epoch", "2"]) == 0  # mean over seeds: seed 11 has valid_loss
    text = capsys.readouterr().out
    assert "test_acc         missing" in text and "valid_loss       missing" not in text
    assert f"valid_loss       {b.metric(4321, 'valid', 'loss', epoch=2):.4f}" in text


def test_export_parquet_and_csv(table_dir: Path, tmp_path: Path) -> None:
    b = load_table(table_dir)
    for suffix in (".parquet", ".csv"):
        out = tmp_path / f"t{suffix}"
        proc = run("export", str(table_dir), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
        assert len(frame) == 10 * 2 * 4
        row = frame[(frame.arch_index == 7) & (frame.seed == 11) & (frame.epoch == 3)].iloc[0]
        assert row.valid_acc == pytest.approx(b.metric(7, "valid", epoch=3, seed=11), rel=1e-6)
        assert row.arch_str == str(Arch.from_index(7)) and row.params == 1000 + 7


def test_export_writes_a_block_of_archs_at_a_time_and_the_same_rows(table_dir: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """The whole table was built as one frame before writing: 5.3 GB of memory at NAS-Bench-201's size
    (15,625 archs x 3 seeds x 200 epochs, a 286 MiB table). Blocks of archs bound it; the file is the same."""
    import nasbench_suite.cli as cli
    from nasbench_suite.table import Benchmark

    whole = load_table(table_dir).to_frame()  # 10 archs x 2 seeds x 4 epochs
    built: list[int] = []
    real = Benchmark.to_frame

    def spy(self: Benchmark, *args: object, **kwargs: object) -> pd.DataFrame:
        frame = real(self, *args, **kwargs)
        built.append(len(frame))
        return frame

    monkeypatch.setattr(Benchmark, "to_frame", spy)
    monkeypatch.setattr(cli, "EXPORT_BLOCK_ROWS", 3 * 2 * 4, raising=False)  # 3 archs' rows
    for suffix in (".parquet", ".csv"):
        built.clear()
        out = tmp_path / f"t{suffix}"
        assert main(["export", str(table_dir), "--out", str(out)]) == 0
        assert built == [24, 24, 24, 8], built
        back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"arch_str": str})
        pd.testing.assert_frame_equal(back, whole, check_dtype=suffix == ".parquet")
        assert f"wrote 80 rows x {whole.shape[1]} columns" in capsys.readouterr().out


def test_export_refuses_an_existing_file_unless_overwrite(table_dir: Path, tmp_path: Path) -> None:
    """As search and table build: an existing --out is left as it is (was silently replaced)."""
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "t.csv"
    out.write_text("keep me\n")
    assert_clean_error(run("export", str(table_dir), "--out", str(out)), f"{out} already exists; pass --overwrite")
    assert out.read_text() == "keep me\n" and [p.name for p in out.parent.iterdir()] == ["t.csv"]
    proc = run("export", str(table_dir), "--out", str(out), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 10 * 2 * 4

@pytest.mark.parametrize("args,match", [
    (["info", "no-such-table"], "no table named or at 'no-such-table'"),
    (["query", "TABLE", "15625"], "out of range"),
    (["query", "TABLE", "-1"], "architecture index -1 is out of range 0..15624"),  # was "bad architecture string"
    (["describe", "-1"], "architecture index -1 is out of range 0..15624"),
    (["describe", "15625"], "architecture index 15625 is out of range 0..15624"),
    # an index past int()'s 4,300-digit limit was a ValueError traceback
    (["describe", "1" + "0" * 5000], "architecture index 100000000000... (5001 digits) is out of range 0..15624"),
    (["query", "TABLE", "-" + "9" * 5000], "(5000 digits) is out of range 0..15624"),
    (["describe", "0", "--channels", str(2**62)], "channels must be at most 1,048,576"),  # was a torch traceback
    (["describe", "0", "--cells", "1001"], "cells must be at most 1,000"),  # --cells 99999999999999999999 never ended
    (["query", "TABLE", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "unknown operation"),
    (["query", "TABLE", "5"], "not in table"),
    (["query", "TABLE", "7", "--epoch", "9"], "records epochs 1..4"),
    (["query", "TABLE", "7", "--seed", "3"], "seed 3 is not in table"),
    (["export", "TABLE", "--out", "x.xlsx"], ".parquet or .csv"),
    (["export", "TABLE", "--out", "/no/such/dir/x.csv"], "does not exist"),
])
def test_user_errors_are_one_line(table_dir: Path, args: list[str], match: str) -> None:
    proc = run(*[str(table_dir) if a == "TABLE" else a for a in args])
    assert_clean_error(proc, match)


def test_corrupted_table_is_a_clean_error(table_dir: Path) -> None:
    (table_dir / "valid.npy").write_bytes((table_dir / "valid.npy").read_bytes()[:-4])
    assert_clean_error(run_process("info", str(table_dir)), "truncated")  # exit status 2 of a real process


def test_bad_arguments_exit_2() -> None:
    proc = run_process("query")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_process("describe", "0", "--channels", "many")
    assert proc.returncode == 2 and "expected an integer" in proc.stderr


def test_console_script_is_installed() -> None:
    import shutil

    exe = shutil.which("nasbench")
    assert exe, "the nasbench console script is not on PATH: install the project (pip install -e .)"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "info" in proc.stdout and "describe" in proc.stdout


def test_describe_nb201_arch0(capsys) -> None:
    arch0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert main(["describe", arch0, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == 129306 and out["flops"] == 15647370  # NAS-Bench-201's 0.129306 M / 15.64737 M
    assert out["canonical_str"] == "(0)@avg_pool_3x3+(0)@avg_pool_3x3+(0)@nor_conv_1x1+(0)@nor_conv_1x1"
    assert main(["describe", arch0]) == 0  # a count of multiply-adds, not a float
    assert "\nFLOPs (MACs) 15,647,370 (15.64737 M)\n" in capsys.readouterr().out
    assert main(["describe", "0", "--channels", "8", "--cells", "1", "--resolution", "8", "--in-channels", "1"]) == 0
    text = capsys.readouterr().out
    assert "disconnected True" in text and "C=8 N=1 1x8x8" in text
    proc = run("describe", "0", "--resolution", "10")
    assert_clean_error(proc, "divisible by 4")


def test_describe_counts_a_network_too_large_to_build_without_a_traceback(capsys) -> None:
    """Params are counted on shapes (torch's meta device): a network far beyond this machine's memory is
    counted, not a ``RuntimeError: can't allocate memory`` traceback."""
    convs = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    params = lambda c: 5950 * c * c + 521 * c + 10  # this cell's count, fitted on real modules of C = 4, 8, 16
    for channels in (16, 100_000):  # 100,000 channels: 238 TB of float32 weights
        assert main(["describe", convs, "--channels", str(channels), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["params"] == params(channels)


def test_an_empty_name_list_is_refused_not_read_as_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--proxies ""`` (an unset shell variable) used to score every proxy on every cell: hours of work
    nobody asked for. Given but empty is an error; left out is still all of them."""
    for blank in ("", " , "):
        proxies = ["proxies", "--table", "digits", "--proxies", blank, "--archs", "0", "--out", str(tmp_path / "p")]
        assert main(proxies) == 2
        assert main(["predictors", "--table", "digits", "--predictors", blank, "--sizes", "5"]) == 2
    err = capsys.readouterr().err
    assert "--proxies names none ('')" in err and "leave --proxies out to use all: grad_norm" in err
    assert "--predictors names none (' , ')" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_json_output_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    """A disconnected cell's proxy score is -inf in the table; ``--json`` prints it as null, never as
    the non-standard ``-Infinity`` that strict JSON parsers reject."""
    import numpy as np

    from nasbench_suite.cli import _print

    _print({"zc_synflow": float("-inf"), "acc": np.float32(1.5), "nested": [float("nan"), 2]}, True, str)

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    assert json.loads(capsys.readouterr().out, parse_constant=refuse) == {"acc": 1.5, "nested": [None, 2], "zc_synflow": None}


def test_estimators_refuses_tiny_predictor_sizes_before_any_work(tmp_path: Path) -> None:
    proc = run("estimators", "--table", "digits", "--sizes", "0,10", "--out", str(tmp_path / "league"))
    assert_clean_error(proc, "--sizes must be at least 2")
    assert not (tmp_path / "league").exists()  # no supernet trained, nothing written


def test_estimators_refuses_a_one_cell_size_and_no_draws_before_any_work(tmp_path: Path) -> None:
    """A predictor trained on 1 cell, or 0 draws, is refused with what was given; sizes of 2 cells pass that check
    (the next one, a negative --supernet-epochs, refuses this command; it refuses the others too where that check
    lets them through, not a 30-epoch supernet trained on digits)."""
    for extra, given in ((["--sizes", "1,10"], "'1,10', 3"), (["--repeats", "0"], "None, 0")):
        proc = run("estimators", "--table", "digits", *extra, "--supernet-epochs", "-1",
                   "--out", str(tmp_path / "league"))
        assert_clean_error(proc, "--sizes must be at least 2 cells each and --repeats at least 1; got " + given)
    proc = run("estimators", "--table", "digits", "--sizes", "2,10", "--repeats", "1", "--supernet-epochs", "-1",
               "--out", str(tmp_path / "league"))
    assert_clean_error(proc, "--supernet-epochs must be 0")
    assert not (tmp_path / "league").exists()


def test_estimators_refuses_more_than_1000_draws_before_any_work(tmp_path: Path) -> None:
    """--repeats had no upper bound: a typo's extra zeros (any 64-bit integer) ran for days."""
    for repeats in ("1001", str(2**62)):
        proc = run("estimators", "--table", "digits", "--repeats", repeats, "--out", str(tmp_path / "league"))
        assert_clean_error(proc, f"--repeats must be at most 1,000 (predictor draws per size), got {int(repeats)}")
    # 1,000 itself passes that check: the next one (a negative --supernet-epochs) refuses this command
    proc = run("estimators", "--table", "digits", "--repeats", "1000", "--supernet-epochs", "-1",
               "--out", str(tmp_path / "league"))
    assert_clean_error(proc, "--supernet-epochs must be 0")
    assert not (tmp_path / "league").exists()  # no supernet trained, nothing written


def test_estimators_reports_unreadable_stored_supernet_scores_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """supernet.csv without its supernet.json, a broken JSON, a CSV without the columns: one line naming
    the folder and what to delete (was a FileNotFoundError / JSONDecodeError / KeyError traceback)."""
    record = {"epochs": 1, "train_seconds": 1.0, "score_seconds": 1.0, "cells_scored": 3}
    cases = {"no-json": ("arch_index,valid_acc\n1,50\n", None), "bad-json": ("arch_index,valid_acc\n1,50\n", "{"),
             "bad-csv": ("garbage\n", json.dumps(record)), "empty-csv": ("", json.dumps(record))}
    for name, (csv, record_text) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "supernet.csv").write_text(csv)
        if record_text is not None:
            (folder / "supernet.json").write_text(record_text)
        assert main(["estimators", "--table", "digits", "--sizes", "10", "--repeats", "1", "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"nasbench: error: stored supernet scores in {folder} cannot be read"), err
        assert "delete supernet.csv and supernet.json" in err and len(err.strip().splitlines()) == 1
        assert (folder / "supernet.csv").read_text() == csv and not (folder / "league.md").exists()  # nothing lost


def test_estimators_default_sizes_fit_a_small_table(tmp_path: Path) -> None:
    """digits-sample judges 200 cells: the default sizes are 10 and 100 there (1000 was refused, so the
    command failed without --sizes)."""
    assert main(["estimators", "--table", "digits-sample", "--supernet-epochs", "0", "--repeats", "1",
                 "--out", str(tmp_path / "league")]) == 0
    league = pd.read_csv(tmp_path / "league" / "league.csv")
    assert sorted(e for e in league["estimator"] if e.startswith("xgboost on")) == ["xgboost on n=10",
                                                                                    "xgboost on n=100"]


def test_estimators_default_sizes_keep_a_size_that_leaves_exactly_the_cells_held_out(tmp_path: Path) -> None:
    """A table of 110 cells: n = 100 leaves exactly the 10 held out, so the default sizes are 10 and 100."""
    from nasbench_suite.table import build_table

    build_table(pd.DataFrame([dict(arch_index=a, seed=0, epoch=e, train_seconds=1.0, valid_seconds=0.5,
                                   valid_acc=40.0 + a % 37 + e, test_acc=41.0 + a % 37 + e)
                              for a in range(0, 1100, 10) for e in (1, 2, 3)]), tmp_path / "t110", name="t110")
    assert main(["estimators", "--table", str(tmp_path / "t110"), "--supernet-epochs", "0", "--repeats", "1",
                 "--out", str(tmp_path / "league")]) == 0
    league = pd.read_csv(tmp_path / "league" / "league.csv")
    assert league["estimator"].str.startswith("xgboost on").sum() == 2 and "xgboost on n=100" in set(league["estimator"])
    assert league.loc[league["estimator"] == "xgboost on n=100", "cells"].tolist() == [10]


def test_estimators_refuses_sizes_beyond_the_judged_cells_and_negative_epochs_before_any_work(tmp_path: Path) -> None:
    from nasbench_suite.estimators import HELD_OUT, judged_cells

    largest = len(judged_cells(load_table("digits")).rows) - HELD_OUT
    proc = run("estimators", "--table", "digits", "--sizes", f"10,{largest + 1}", "--out", str(tmp_path / "league"))
    assert_clean_error(proc, f"the largest allowed size is {largest}")  # rows of that size were dropped silently
    proc = run("estimators", "--table", "digits", "--sizes", "10,100,10", "--out", str(tmp_path / "league"))
    assert_clean_error(proc, "size 10 is given more than once (--sizes)")  # its 3 draws counted as 6
    proc = run("estimators", "--table", "digits", "--supernet-epochs", "-1", "--out", str(tmp_path / "league"))
    assert_clean_error(proc, "--supernet-epochs must be 0 (train none) or a positive number of epochs, got -1")
    # the only integer option parsed by int(): "invalid int value", and 99999999999999999999 trained without end
    assert_clean_error(run("estimators", "--table", "digits", "--supernet-epochs", "x"), "expected an integer, got 'x'")
    proc = run("estimators", "--table", "digits", "--supernet-epochs", "99999999999999999999", "--out",
               str(tmp_path / "league"))
    assert_clean_error(proc, "argument --supernet-epochs: expected an integer of at most 64 bits")
    assert not (tmp_path / "league").exists()  # no supernet trained, nothing written


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_a_missing_cuda_device_is_one_error_and_leaves_no_run_folder(tmp_path: Path) -> None:
    proc = run("pre-evaluate", "--dataset", "digits", "--archs", "0-3", "--seeds", "0", "--device", "cuda",
               "--workers", "1", "--out", str(tmp_path / "run"))
    assert_clean_error(proc, "torch sees no CUDA device")
    assert not (tmp_path / "run").exists()


def test_zero_pre_evaluate_workers_is_refused_not_read_as_the_default(tmp_path: Path) -> None:
    proc = run("pre-evaluate", "--dataset", "synthetic", "--archs", "0-3", "--seeds", "0", "--epochs", "1",
               "--workers", "0", "--out", str(tmp_path / "run"))
    assert_clean_error(proc, "workers must be a positive integer, got 0")
    assert not (tmp_path / "run").exists()


def test_a_subset_larger_than_the_split_names_the_option(tmp_path: Path) -> None:
    """It named only the loader's argument (max_train=5000), which no command line has."""
    proc = run("pre-evaluate", "--dataset", "digits", "--archs", "0", "--seeds", "0", "--epochs", "1",
               "--train-subset", "5000", "--workers", "1", "--out", str(tmp_path / "run"))
    assert_clean_error(proc, "max_train=5000 (a protocol's train_subset, --train-subset) is outside 1..1197")


def test_an_integer_option_past_64_bits_is_refused_before_any_work(tmp_path: Path) -> None:
    """--workers 99999999999999999999 trained the cells, then ended in an OverflowError traceback when the
    session was recorded in SQLite; every integer option is now checked to fit 64 bits when parsed."""
    proc = run("pre-evaluate", "--dataset", "synthetic", "--archs", "0", "--seeds", "0", "--epochs", "1",
               "--workers", "99999999999999999999", "--out", str(tmp_path / "run"))
    assert_clean_error(proc, "argument --workers: expected an integer of at most 64 bits")
    assert not (tmp_path / "run").exists()


def test_integer_and_seed_options_at_their_bounds() -> None:
    """2**63 - 1 is the largest integer an option takes (2**63 does not fit int64); 0 is a seed."""
    import argparse

    from nasbench_suite.cli import _int, _seed

    assert _int(str(2**63 - 1)) == 2**63 - 1 and _int(str(-2**63)) == -2**63 and _seed("0") == 0
    for text in (str(2**63), str(-2**63 - 1)):
        with pytest.raises(argparse.ArgumentTypeError, match="at most 64 bits"):
            _int(text)


def test_an_output_path_of_the_wrong_kind_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    proc = run("export", "digits-sample", "--out", str(tmp_path / "dir.csv"))
    assert_clean_error(proc, "it is a folder")
    (tmp_path / "afile").write_text("")
    runs = str(Path(__file__).parents[1] / "reports" / "cifar10-16px" / "runs")
    assert_clean_error(run("report", runs, "--out", str(tmp_path / "afile")), "is a file; reports are written into a folder")
    proc = run("report", runs, "--out", str(tmp_path / "afile" / "sub"))  # was a NotADirectoryError traceback
    assert_clean_error(proc, "Not a directory (a file is in the way of a folder the command writes; give another path)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "dir.csv"]


@pytest.mark.parametrize("raised, code, line", [
    (KeyboardInterrupt, 130, "nasbench: interrupted"),
    (lambda: OSError(28, "No space left on device", "/data/run/store.sqlite"), 2,  # was a traceback
     "nasbench: error: No space left on device (/data/run/store.sqlite)"),
    (BrokenProcessPool, 2,
     "nasbench: error: a worker process died (killed, for example by the out-of-memory killer); run the command "
     "again, with fewer --workers if memory is short"),

    # torch's CPU allocator (`nasbench darts --channels 100000` asked 40 GB in one tensor): was a traceback
    (lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                          "you tried to allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)"), 2,
     "nasbench: error: out of memory (torch could not allocate 37.3 GiB): use a smaller network (--channels, "
     "--cells), batch or population, or fewer --workers"),
    (lambda: RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 262144 bytes."), 2,
     "nasbench: error: out of memory (torch could not allocate 256 KiB): use a smaller network (--channels, "
     "--cells), batch or population, or fewer --workers"),
    (MemoryError, 2, "nasbench: error: out of memory: use a smaller network (--channels, --cells), batch or "
                     "population, or fewer --workers"),
])
def test_a_stopped_command_ends_with_one_line(monkeypatch, capsys, raised: type, code: int, line: str) -> None:
    import nasbench_suite.cli as cli

    def stopped(args: object) -> None:
        raise raised()

    monkeypatch.setattr(cli, "cmd_info", stopped)
    assert main(["info", "digits"]) == code
    assert capsys.readouterr().err == line + "\n"  # info is not resumable: no resume hint


def test_a_runtime_error_that_is_no_allocation_failure_is_not_called_out_of_memory(monkeypatch) -> None:
    import nasbench_suite.cli as cli

    def broken(args: object) -> None:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(cli, "cmd_info", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        main(["info", "digits"])


@pytest.mark.parametrize("code, cause", [(errno.ENOSPC, " (free disk space)"), (errno.EROFS, "")],
                         ids=["full", "read-only"])
def test_the_resume_hint_says_free_disk_space_only_for_a_full_disk(monkeypatch, capsys, code: int, cause: str) -> None:
    # 'nasbench latency measure' run where the default folder is read-only was told to free disk space
    import nasbench_suite.cli as cli

    def stopped(args: object) -> None:
        raise OSError(code, os.strerror(code), "latency")

    monkeypatch.setattr(cli, "cmd_latency_measure", stopped)
    assert main(["latency", "measure", "--table", "digits"]) == 2
    assert capsys.readouterr().err == (f"nasbench: error: {os.strerror(code)} (latency); every finished result is "
                                       f"stored: fix the cause{cause} and run the same command again to resume\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_an_output_the_shell_cannot_write_says_so_in_one_line() -> None:
    """`nasbench info digits >/dev/full` (a full disk behind the redirect): Python's own flush at exit
    failed, "Exception ignored in: <_io.TextIOWrapper name='<stdout>'>" and exit status 120. A reader of a
    pipe that left is not an error: status 0, nothing said."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as in a user's shell
    cmd = [sys.executable, "-m", "nasbench_suite.cli", "info", "digits-sample"]
    # unbuffered, print itself failed and nothing was left to fail at the flush: "No space left on device" alone
    for unbuffered in ({}, {"PYTHONUNBUFFERED": "1"}):
        with open("/dev/full", "w") as full:
            out = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, env={**env, **unbuffered},
                                 timeout=120)
        assert (out.returncode, out.stderr) == (2, "nasbench: error: cannot write the standard output: "
                                                   f"{os.strerror(errno.ENOSPC)}\n"), unbuffered
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    proc.stdout.close()  # the reader leaves before the first line
    assert proc.wait(120) == 0 and proc.stderr.read() == ""
    proc.stderr.close()


def test_an_export_that_cannot_be_written_names_its_out_file(monkeypatch, tmp_path: Path, capsys) -> None:
    # a read-only folder: the line named the hidden '.rows.csv.PID.tmp' written first (its removal failed
    # too, and that error replaced the first), not --out
    import nasbench_suite.cli as cli

    def read_only(path: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(cli, "_write_export", lambda bench, path, suffix: read_only(path))
    monkeypatch.setattr(Path, "unlink", read_only)
    out = tmp_path / "rows.csv"
    assert main(["export", "digits-sample", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"nasbench: error: {os.strerror(errno.EROFS)} ({out})\n"
    assert list(tmp_path.iterdir()) == []


def test_an_export_file_name_near_the_file_systems_limit_is_written(tmp_path: Path, capsys) -> None:
    # its temporary '.NAME.PID.tmp' passed the 255-byte limit: 'File name too long (.aaa...csv.PID.tmp)'
    out = tmp_path / ("a" * 246 + ".csv")
    assert main(["export", "digits-sample", "--out", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert len(pd.read_csv(out)) == len(load_table("digits-sample").to_frame())


def test_an_empty_path_is_refused_not_read_as_left_out_or_as_the_current_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--eval-table ""`` (an unset shell variable) was read as not given, ``import nats-tss ""`` as the
    current folder: every path option and argument refuses an empty string at parse time."""
    out = str(tmp_path / "s")
    for argv in (["search", "--table", "digits", "--strategy", "random", "--budget", "10", "--out", out,
                  "--eval-table", ""],
                 ["import", "nats-tss", " "], ["info", ""], ["compare", "--out", ""],
                 ["estimators", "--table", "digits", "--proxies", ""]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert "expected a path or name, got an empty string" in capsys.readouterr().err
    assert not Path(out).exists()


def test_data_dir_must_be_a_folder_also_for_datasets_that_read_no_files(tmp_path: Path) -> None:
    """``proxies --data-dir FILE`` on digits ran and exited 0, the option silently ignored."""
    afile = tmp_path / "cifar10_16px.npz"
    afile.write_bytes(b"")
    proc = run("proxies", "--table", "digits", "--archs", "0", "--data-dir", str(afile), "--out", str(tmp_path / "p"))
    assert_clean_error(proc, f"--data-dir {afile} is not a folder; give the folder that holds the dataset files")
    assert not (tmp_path / "p").exists()


def test_a_report_is_never_written_into_a_table_folder_or_onto_a_file(
        table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """compare/report/fidelity/estimators --out naming a table's folder mixed the report's files into the
    table; a file gave a vague 'File exists'. Both are one line, and the table is untouched."""
    before = sorted(p.name for p in table_dir.iterdir())
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for out, says in ((table_dir, "holds a table (its manifest.json)"), (afile, "is a file")):
        for argv in (["compare", "--out", str(out)], ["fidelity", "--table", "digits", "--reference", "digits",
                                                      "--out", str(out)],
                     ["estimators", "--table", "digits", "--out", str(out)]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert says in err and len(err.strip().splitlines()) == 1, err
    runs = Path(__file__).resolve().parents[1] / "reports" / "digits-default" / "runs"
    assert main(["report", str(runs), "--out", str(table_dir)]) == 2
    assert "holds a table" in capsys.readouterr().err
    assert sorted(p.name for p in table_dir.iterdir()) == before and afile.read_text() == "mine"


def test_every_shipped_file_is_package_data() -> None:
    """`pip install .` (not -e) left out the shipped latency folders and the digits proxies: compare then had
    no latency source and rea-warm no stored synflow scores. Every file under benchmarks_data but the run
    folders (git history for resuming, not needed to use the tables) must match a package-data pattern."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["benchmarks_data"]
    shipped = [p.relative_to(root / "benchmarks_data").as_posix() for p in (root / "benchmarks_data").rglob("*")
               if p.is_file() and "runs" not in p.relative_to(root / "benchmarks_data").parts[:1]
               and "__pycache__" not in p.parts and p.name != "__init__.py"
               and not (p.name == ".lock" or ".sqlite" in p.name)]  # a resumed store's git-ignored working files
    assert shipped and [f for f in shipped if not any(
        fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)] == []


def test_two_exports_to_one_file_never_mix(table_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    """Two exports to one --out at once: each writes a temporary file of its own (the shared one left a file
    of both tables' rows mixed, reported as written, and the other export died on a missing .tmp), and one
    without --overwrite never replaces a file another export wrote while it ran."""
    import nasbench_suite.table as table_module
    from nasbench_suite.cli import main

    (tmp_path / "x").mkdir()
    out = tmp_path / "x" / "t.csv"
    theirs = tmp_path / "x" / ".t.csv.tmp"  # what another export, still writing, holds (the old shared name)
    theirs.write_text("being written\n")
    assert main(["export", str(table_dir), "--out", str(out)]) == 0
    assert theirs.read_text() == "being written\n" and len(pd.read_csv(out)) == 10 * 2 * 4
    out.unlink()
    real = table_module.load_table

    def another_export_finishes_meanwhile(*args: object, **kwargs: object) -> object:
        out.write_text("the other export\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(table_module, "load_table", another_export_finishes_meanwhile)
    capsys.readouterr()
    assert main(["export", str(table_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and len(err.strip().splitlines()) == 1 and "--overwrite" in err, err
    assert out.read_text() == "the other export\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [".t.csv.tmp", "t.csv"]  # its own temporary file is gone
    assert main(["export", str(table_dir), "--out", str(out), "--overwrite"]) == 0
    assert len(pd.read_csv(out)) == 10 * 2 * 4


@pytest.mark.parametrize("argv, command", [(["info", "digits", "--jsn"], "info"),
                                           (["search", "--table", "digits", "--strategy", "rea", "--max-queries", "5",
                                             "--out", "never", "--json"], "search"),
                                           (["table", "build", "run", "--out", "never", "--bogus"], "table build")])
def test_an_option_no_command_takes_is_refused_with_that_commands_usage(argv: list[str], command: str, capsys) -> None:
    """README, Command line: an option argparse refuses prints the command's usage before the one error line
    (an unknown option printed only `usage: nasbench [-h] COMMAND ...`)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and not Path("never").exists()
    assert err.startswith(f"usage: nasbench {command} [-h]") and f"nasbench {command}: error: unrecognized arguments: " in err
