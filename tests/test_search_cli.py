"""`nasbench search`, `nasbench predictors` and `nasbench reference build` from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nasbench_suite.cli import main
from nasbench_suite.table import Benchmark


def test_search_writes_tidy_results_and_a_manifest_reproducibly(search_table: Benchmark, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--set", "population=8",
            "--seeds", "0-4", "--budget", "1500", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "final incumbent test_acc" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("trajectories.parquet", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    frame = pd.read_parquet(tmp_path / "a" / "trajectories.parquet")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert sorted(frame["seed"].unique()) == [0, 1, 2, 3, 4] and (frame["finish_time"] <= 1500).all()
    assert manifest["strategy"] == {"name": "rea", "class": "algorithms.rea.RegularizedEvolution",
                                    "settings": {"population": 8, "sample_size": 3, "mutation": "node_then_edge",
                                                 "epochs": None}}
    assert manifest["search"]["content_hash"] == search_table.content_hash
    assert manifest["budget"]["overrun"] == "strict" and manifest["seeds"] == {"count": 5, "ranges": "0-4"}
    assert set(manifest["columns"]) == set(frame.columns)
    assert json.loads((tmp_path / "a" / "timing.json").read_text())["runs"] == 5


@pytest.mark.parametrize("extra, message", [
    (["--strategy", "nope", "--budget", "10"], "unknown strategy"),
    (["--strategy", "rea", "--budget", "10", "--set", "populaton=3"], "has no setting"),
    (["--strategy", "rea"], "give a budget"),
    (["--strategy", "rea", "--budget", "10", "--objective", "test_acc"], "test metric"),
    (["--strategy", "rea", "--budget", "-5"], "positive"),
    (["--strategy", "rea", "--budget", "10", "--seeds", "a-b"], "is not a list of non-negative integers"),
])
def test_search_user_errors_are_one_line(search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture,
                                         extra: list[str], message: str) -> None:
    code = main(["search", "--table", str(search_table.path), "--seeds", "0-1", "--workers", "1",
                 "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_search_refuses_to_overwrite_results(search_table: Benchmark, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0", "--max-queries", "5",
            "--workers", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_predictors_command(search_table: Benchmark, capsys: pytest.CaptureFixture) -> None:
    assert main(["predictors", "--table", str(search_table.path), "--predictors", "ridge,xgboost", "--sizes", "20,100",
                 "--repeats", "2", "--test-size", "300", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {(r["predictor"], r["train_size"]) for r in payload["results"]} == {
        ("ridge", 20), ("ridge", 100), ("xgboost", 20), ("xgboost", 100)}
    assert main(["predictors", "--table", str(search_table.path), "--predictors", "oracle"]) == 2


def test_predictors_leave_out_cells_filled_from_a_representative(capsys: pytest.CaptureFixture) -> None:
    # the shipped digits table trained 6,466 class representatives; the other cells are copies of them,
    # so only the representatives may be drawn (6,000 + 1,000 would fit in 15,625 cells, not in 6,466)
    assert main(["predictors", "--table", "digits", "--predictors", "ridge", "--sizes", "6000",
                 "--test-size", "1000"]) == 2
    assert "has 6466 cells" in capsys.readouterr().err
