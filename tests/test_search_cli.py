"""`nasbench search`, `nasbench predictors` and `nasbench reference build` from the command line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import algorithms.common
import algorithms.rea
import nasbench_suite.predictors
import nasbench_suite.strategy
from nasbench_suite.cli import REPLAY_RESUME_HINT, main
from nasbench_suite.data import files_sha256
from nasbench_suite.source_files import class_source_files
from nasbench_suite.table import Benchmark

STRATEGY_FILES = class_source_files(nasbench_suite.strategy.Strategy)
"""The base Strategy's file and the project modules it imports: a strategy's source_sha256 covers its class's
files, its bases' and what they import."""


def test_search_writes_tidy_results_and_a_manifest_reproducibly(search_table: Benchmark, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "rea", "--set", "population=8",
            "--seeds", "0-4", "--budget", "1500", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "final incumbent test_acc" in out
    timing = json.loads((tmp_path / "a" / "timing.json").read_text())  # the rate printed is the runs' own
    assert f"inside the runs {timing['queries_per_second_per_process']:,.0f} queries/s per process" in out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("trajectories.parquet", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    frame = pd.read_parquet(tmp_path / "a" / "trajectories.parquet")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert sorted(frame["seed"].unique()) == [0, 1, 2, 3, 4] and (frame["finish_time"] <= 1500).all()
    rea_files = class_source_files(algorithms.rea.RegularizedEvolution)
    assert rea_files[:3] == [Path(algorithms.rea.__file__), Path(algorithms.common.__file__), STRATEGY_FILES[0]]
    assert Path(nasbench_suite.predictors.__file__) in rea_files  # common.py's model-guided loop fits them
    assert manifest["strategy"] == {"name": "rea", "class": "algorithms.rea.RegularizedEvolution",
                                    "source_sha256": files_sha256(rea_files),
                                    "settings": {"population": 8, "sample_size": 3, "mutation": "node_then_edge",
                                                 "epochs": None}}
    assert manifest["search"]["content_hash"] == search_table.content_hash
    assert manifest["budget"]["overrun"] == "strict" and manifest["seeds"] == {"count": 5, "ranges": "0-4"}
    assert set(manifest["columns"]) == set(frame.columns)
    assert json.loads((tmp_path / "a" / "timing.json").read_text())["runs"] == 5


@pytest.mark.parametrize("extra, message", [
    (["--strategy", "nope", "--budget", "10"], "unknown strategy"),
    (["--strategy", "nope", "--budget", "10"], "--import MODULE|FILE.py"),  # how to make one's own known
    (["--strategy", "rea", "--budget", "10", "--set", "populaton=3"], "has no setting"),
    (["--strategy", "rea"], "give a budget"),
    (["--strategy", "rea", "--budget", "10", "--objective", "test_acc"], "test metric"),
    (["--strategy", "rea", "--budget", "-5"], "positive"),
    (["--strategy", "rea", "--budget", "10", "--seeds", "a-b"], "is not a list of non-negative integers"),
    # each names its option (both used to say only "workers" or "processes", which read as the other one)
    (["--strategy", "rea", "--budget", "10", "--sim-workers", "0"], "simulated workers per run (--sim-workers"),
    # were ignored without a word: the run had no latency at all
    (["--strategy", "rea", "--budget", "10", "--latency-batch", "64"], "--latency, which is not given"),
    (["--strategy", "rea", "--budget", "10", "--latency-stat", "min_ms"], "--latency, which is not given"),
    # ask(99999999999999999999) filled memory: the first ask() asks one query per worker
    (["--strategy", "rea", "--budget", "10", "--sim-workers", "10001"], "must be an integer 1..10,000, got 10001"),
    (["--strategy", "rea", "--budget", "10", "--workers", "0"], "processes (--workers) must be"),
    (["--strategy", "rea", "--budget", "10", "--set", "=5"], "--set expects KEY=VALUE, got '=5'"),
    # the last one was taken without a word (as a JSON object naming a key twice is refused)
    (["--strategy", "rea", "--budget", "10", "--set", "population=5", "--set", " population=20"],
     "--set gives population twice (' population=20'); give each setting once"),
    # was recorded in the manifest as the run's policy, though without a seconds budget it has no effect
    (["--strategy", "rea", "--max-queries", "5", "--overrun", "finish"], "seconds budget (--budget), which is not given"),
])
def test_search_user_errors_are_one_line(search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture,
                                         extra: list[str], message: str) -> None:
    code = main(["search", "--table", str(search_table.path), "--seeds", "0-1", "--workers", "1",
                 "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("strategy, setting, message", [
    # None defaults let any type through the type check: a TypeError line from setup(), a slice error mid-run
    ("hyperband", "min_epoch=\"x\"", "setting min_epoch='x' must be an integer >= 1 or null"),
    ("bohb", "min_epoch=\"x\"", "setting min_epoch='x' must be an integer >= 1 or null"),
    ("bohb", "min_points_in_model=NaN", "setting min_points_in_model=nan must be an integer >= 7 or null"),
    # overflowed: an OverflowError line, an XGBoostError line at the first fit, or ran on overflow warnings
    ("reinforce-lstm", "init_range=1e308", "setting init_range=1e+308 must be a finite number in (0, 10]"),
    ("xgb-evolution", "learning_rate=1e308", "setting learning_rate=1e+308 must be a finite number in (0, 10]"),
    ("reinforce", "init_scale=1e308", "setting init_scale=1e+308 must be a finite number in [0, 100]"),
    ("reinforce", "learning_rate=1e308", "setting learning_rate=1e+308 must be a finite number in [0, 10]"),
    ("bananas", "lr=1e308", "setting lr=1e+308 must be a finite number in (0, 10]"),
    # filled the memory or ran for ever
    ("reinforce-lstm", "hidden=1000000000", "setting hidden=1000000000 must be an integer in [1, 1024] (LSTM units)"),
    ("bananas", "members=1000000000000", "setting members=1000000000000 must be an integer in [1, 100]"),
    ("bananas", "train_epochs=1000000000000", "setting train_epochs=1000000000000 must be an integer in [1, 10000]"),
    ("bananas", "width=1000000000", "setting width=1000000000 must be an integer in [1, 1024]"),
    ("bananas-warm", "layers=1000000000", "setting layers=1000000000 must be an integer in [1, 100]"),
    ("xgb-evolution", "n_estimators=1000000000000", "setting n_estimators=1000000000000 must be an integer in "
                                                    "[1, 100000]"),
    ("rea", "sample_size=100000000000", "setting sample_size=100000000000 must be an integer in [1, 1000000]"),
    ("bohb", "num_samples=1000000000000", "setting num_samples=1000000000000 must be an integer in [1, 10000]"),
    ("hyperband", f"eta={10**30}", f"setting eta={10**30} must be an integer in [2, 1000]"),
    # accepted until the first child
    ("rea", "mutation=\"bogus\"", "setting mutation='bogus' must be one of 'node_then_edge', 'uniform_edge'"),
    ("rea-move", "mutation=\"bogus\"", "setting mutation='bogus' must be one of 'node_then_edge', 'uniform_edge'"),
    # checks of their own wording before ("BANANAS loss must be one of mae, mse; got 'huber'", "NSGA-II's crossover
    # is a probability in [0, 1], got 1.5", "model-guided search needs n_init >= 2 ...", ...): the shared one now
    ("bananas", "loss=\"huber\"", "setting loss='huber' must be one of 'mae', 'mse'"),
    ("bananas", "encoding=\"adj\"", "setting encoding='adj' must be one of 'onehot', 'path', 'trunc_path'"),
    ("bananas", "candidate_scheme=\"x\"", "setting candidate_scheme='x' must be one of 'naszilla', 'edits'"),
    ("xgb-evolution", "candidate_scheme=\"x\"", "setting candidate_scheme='x' must be one of 'naslib', 'edits'"),
    ("bananas", "n_init=1", "setting n_init=1 must be an integer >= 2 (a model needs two results)"),
    ("xgb-evolution", "max_edits=7", "setting max_edits=7 must be an integer in [1, 6] (the edges of a cell; "),
    ("bananas-warm", "candidates=15626", "setting candidates=15626 must be an integer in [1, 15625] (the cells of "
                                         "the space)"),
    ("local-search", "improvement=\"steepest\"", "setting improvement='steepest' must be one of 'first', 'best'"),
    ("local-search", "n_init=0", "setting n_init=0 must be an integer >= 1"),
    ("hyperband", "incumbent_rule=\"last\"", "setting incumbent_rule='last' must be one of 'highest-epoch', "
                                              "'max-budget', 'best'"),
    ("hyperband", "min_budget=-1", "setting min_budget=-1 must be a finite number > 0 or null"),
    ("bohb", "top_n_percent=100", "setting top_n_percent=100 must be an integer in [1, 99]"),
    ("bohb", "random_fraction=2", "setting random_fraction=2 must be a finite number in [0, 1]"),
    ("bohb", "bandwidth_factor=0", "setting bandwidth_factor=0 must be a finite number > 0"),
    ("bohb", "min_bandwidth=0", "setting min_bandwidth=0 must be a finite number in (0, 1] (1 redraws every edge)"),
    ("nsga2", "crossover=1.5", "setting crossover=1.5 must be a finite number in [0, 1] (a probability)"),
    ("nsga2", "mutation=-1", "setting mutation=-1 must be a finite number in [0, 1] (a probability)"),
    ("rea-move", "random_move=1.5", "setting random_move=1.5 must be a finite number in [0, 1] (a probability)"),
    ("rea-warm", "pool=0", "setting pool=0 must be an integer >= 1 (the cells drawn for the proxy to rank)"),
    ("random-warm", "pool=0", "setting pool=0 must be an integer >= 1 (the cells drawn for the proxy to rank)"),
    # together: members x layers x width^2 reached ~1e10 weights, which filled the memory at the first fit
    ("bananas", ["members=100", "layers=100", "width=1024"], "settings members=100, layers=100, width=1024 give an "
                                                             "ensemble of 10,394,316,900 weights on the trunc_path "
                                                             "encoding (30 inputs); at most 100,000,000"),
    # "max_budget 1e+300 asks for 20 epochs": the first rung past the table, not max_budget's own problem
    ("hyperband", ["min_budget=1", "max_budget=1e300"], "max_budget 1e+300 asks for more epochs than the table "
                                                        "records: a rung trains its budget's whole number of epochs"),
    ("bohb", ["min_budget=1", "max_budget=30"], "max_budget 30 asks for more epochs than the table records"),
    # an OverflowError line
    ("hyperband", ["min_budget=1e-308", "max_budget=4", "eta=2"], "min_budget 1e-308 and max_budget 4 are too far "
                                                                  "apart for eta 2"),
])
def test_a_setting_out_of_its_range_is_one_line_naming_it_before_any_run(search_table: Benchmark, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture, strategy: str,
                                                                          setting: str | list[str],
                                                                          message: str) -> None:
    sets = [arg for one in ([setting] if isinstance(setting, str) else setting) for arg in ("--set", one)]
    code = main(["search", "--table", str(search_table.path), "--strategy", strategy, *sets,
                 "--max-queries", "30", "--seeds", "0", "--workers", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"nasbench: error: strategy {strategy!r}: {message}"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_search_options_reach_the_runs_and_the_defaults_are_readmes(search_table: Benchmark, tmp_path: Path) -> None:
    """--overrun, --search-epochs and --objective reach every run (all were parsed and could be dropped unnoticed:
    the manifest records the option given, whatever the runs used); left out, --seeds is 0-9 and --objective
    valid_acc, as README's option table says."""
    base = ["search", "--table", str(search_table.path), "--strategy", "random", "--workers", "1"]
    assert main([*base, "--budget", "20", "--overrun", "finish", "--search-epochs", "2", "--objective", "train_acc",
                 "--seeds", "0-3", "--out", str(tmp_path / "a")]) == 0
    frame = pd.read_parquet(tmp_path / "a" / "trajectories.parquet")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["budget"]["overrun"] == "finish" and frame["finish_time"].max() > 20
    assert frame["epochs"].max() == 2 and search_table.max_epoch > 2
    told = [search_table.array("train", "acc", epoch=int(e), seed=int(s))[search_table.row(int(a))]
            for a, e, s in zip(frame["arch_index"], frame["epochs"], frame["table_seed"])]
    assert manifest["search"]["objective"] == "train_acc" and frame["value"].tolist() == pytest.approx(told)
    assert main([*base, "--max-queries", "2", "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert manifest["seeds"]["ranges"] == "0-9" and "(default `0-9`)" in readme
    assert manifest["search"]["objective"] == "valid_acc" and "(default `valid_acc`;" in readme


def test_search_and_export_write_into_a_folder_named_by_bytes_that_are_not_utf8(search_table: Benchmark,
                                                                              tiny_table: Benchmark,
                                                                              tmp_path: Path) -> None:
    # pyarrow was given the paths and encodes them as UTF-8, not as the file system does: the runs of a
    # search into b"caf\xe9" (a Latin-1 name on a UTF-8 system) ended in a UnicodeEncodeError traceback.
    # The export is of the 4-cell tiny table: the path is what is checked (the search table's 562,500 rows
    # took about a second to export, read back and count, whatever the folder's name)
    odd = tmp_path / os.fsdecode(b"caf\xe9")
    assert main(["search", "--table", str(search_table.path), "--strategy", "rea", "--seeds", "0-1",
                 "--max-queries", "5", "--workers", "1", "--out", str(odd)]) == 0
    assert main(["export", str(tiny_table.path), "--out", str(odd / "rows.parquet")]) == 0
    with open(odd / "trajectories.parquet", "rb") as f:
        assert sorted(pd.read_parquet(f)["seed"].unique()) == [0, 1]
    with open(odd / "rows.parquet", "rb") as f:
        assert len(pd.read_parquet(f)) == len(tiny_table.to_frame()) > 0


def test_search_refuses_to_overwrite_results(search_table: Benchmark, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    args = ["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0", "--max-queries", "5",
            "--workers", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_no_eval_refuses_eval_options(search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-1", "--max-queries", "5",
            "--workers", "1"]
    for extra, named in ((["--eval-split", "test"], "--eval-split"),
                         (["--eval-measure", "loss", "--eval-epoch", "2"], "--eval-measure, --eval-epoch")):
        assert main([*base, "--no-eval", *extra, "--out", str(tmp_path / "refused")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--no-eval" in err and named in err, err
        assert not (tmp_path / "refused").exists()
    assert main([*base, "--no-eval", "--out", str(tmp_path / "none")]) == 0
    assert "final incumbent" not in capsys.readouterr().out
    assert main([*base, "--eval-split", "valid", "--out", str(tmp_path / "valid")]) == 0
    assert "final incumbent valid_acc" in capsys.readouterr().out


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


def test_predictors_defaults_fit_a_small_table(capsys: pytest.CaptureFixture) -> None:
    """digits-sample has 200 trained cells: the default sizes stop at half of them and the default test
    size is what the largest leaves (it used to fail unless --test-size was given)."""
    assert main(["predictors", "--table", "digits-sample", "--predictors", "ridge", "--repeats", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert sorted({r["train_size"] for r in payload["results"]}) == [10, 20, 50, 100] and payload["test_size"] == 100
    assert main(["predictors", "--table", "digits-sample", "--predictors", "ridge", "--sizes", "10,199"]) == 2
    err = capsys.readouterr().err
    assert "leaves 1 to hold out" in err and "--sizes" in err and len(err.strip().splitlines()) == 1


def _few_cell_table(out: Path, cells: int, nan_cells: int = 0) -> Path:
    """A table of the first ``cells`` of conftest's small cells, ``nan_cells`` of them with no valid_acc
    at the last epoch."""
    from conftest import SMALL_ARCHS, SMALL_EPOCHS, small_results
    from nasbench_suite.table import build_table

    frame = small_results(np.random.default_rng(1))
    frame = frame[frame["arch_index"].isin(SMALL_ARCHS[:cells])].copy()
    no_target = frame["arch_index"].isin(SMALL_ARCHS[:nan_cells]) & (frame["epoch"] == SMALL_EPOCHS)
    frame.loc[no_target, "valid_acc"] = np.nan
    build_table(frame, out, metadata={"dataset": {"name": "generated", "sha256": "-"}, "protocol": {"epochs": 4}})
    return out


@pytest.mark.parametrize("cells", [1, 2, 3])
def test_predictors_on_a_table_too_small_for_a_kendall_tau(tmp_path: Path, cells: int,
                                                          capsys: pytest.CaptureFixture) -> None:
    """Fewer than 4 cells: one line saying so. It used to say "give smaller --sizes" (1 or 2 cells) or
    "training-set sizes must be integers >= 2" (3 cells) when no --sizes was given."""
    table = _few_cell_table(tmp_path / "t", cells)
    assert main(["predictors", "--table", str(table), "--predictors", "ridge"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: table 't' has {cells} trained cells with a finite valid_acc at epoch 4; "
                          "a Kendall tau needs at least 4") and len(err.strip().splitlines()) == 1


def test_predictors_defaults_count_only_cells_with_a_target(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """3 of 10 cells have no valid_acc at the last epoch: the default sizes and test size come from the 7
    others. They used to come from all 10 (size 5, 5 held out), which kendall_tau_curve then refused."""
    table = _few_cell_table(tmp_path / "t", 10, nan_cells=3)
    assert main(["predictors", "--table", str(table), "--predictors", "ridge", "--repeats", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["test_size"] == 4 and [r["train_size"] for r in payload["results"]] == [3]


@pytest.mark.parametrize("target", ["valid", "valid_", "_acc", ""])
def test_predictors_target_without_a_split_or_a_measure_says_its_form(target: str,
                                                                     capsys: pytest.CaptureFixture) -> None:
    """``--target valid`` said "table 'digits-sample' records no '' on the 'valid' split" (and ``--target _acc``
    "unknown split ''")."""
    assert main(["predictors", "--table", "digits-sample", "--target", target, "--predictors", "ridge"]) == 2
    err = capsys.readouterr().err
    assert f"--target must look like SPLIT_MEASURE, e.g. valid_acc or train_loss; got {target!r}" in err, err
    assert len(err.strip().splitlines()) == 1


def test_predictors_named_twice_are_evaluated_once(capsys: pytest.CaptureFixture) -> None:
    """--predictors ridge,ridge used to give each split twice to the mean and std: with 1 split the std
    read 0.0 (and "+- 0.00"), with 3 it was the std of 6 values, 3 of them repeats."""
    base = ["predictors", "--table", "digits", "--sizes", "10,20", "--json"]
    def untimed(out: str) -> list[dict]:  # fit_seconds_mean is a wall-clock time: it differs run to run
        return [{k: v for k, v in r.items() if k != "fit_seconds_mean"} for r in json.loads(out)["results"]]

    assert main([*base, "--predictors", "ridge", "--repeats", "3"]) == 0
    once = untimed(capsys.readouterr().out)
    assert main([*base, "--predictors", "ridge,ridge", "--repeats", "3"]) == 0
    assert untimed(capsys.readouterr().out) == once
    assert main([*base, "--predictors", "ridge,ridge", "--repeats", "1"]) == 0
    assert all(r["kendall_tau_std"] is None for r in json.loads(capsys.readouterr().out)["results"])


def test_predictors_text_has_no_std_for_one_split(capsys: pytest.CaptureFixture) -> None:
    """The std over one split is undefined (None in --json); the text used to print it as "+- 0.00"."""
    assert main(["predictors", "--table", "digits", "--predictors", "ridge", "--sizes", "10", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "over 1 split)" in out and "+- n/a" in out and "+- 0.00" not in out


USER_STRATEGY = '''
from dataclasses import dataclass

from nasbench_suite.strategy import Query, Strategy, register


@register("{name}")
@dataclass
class Greedy(Strategy):
    explore: float = 0.3

    def setup(self, space, rng):
        self.space, self.rng, self.best = space, rng, None

    def ask(self, n):
        return [Query(self.space.random_arch(self.rng) if self.best is None or self.rng.random() < self.explore
                      else self.space.mutate(self.best[1], self.rng), self.space.max_epoch) for _ in range(n)]

    def tell(self, results):
        for r in results:
            if self.best is None or r.value > self.best[0]:
                self.best = (r.value, r.arch)
'''


@pytest.fixture
def user_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A strategy in a file of its own, registered only by importing that file."""
    import sys

    from nasbench_suite import strategy

    stem = f"user_greedy_{request.node.name.split('[')[0][-20:]}"
    path = tmp_path / f"{stem}.py"
    path.write_text(USER_STRATEGY.format(name="user-greedy"))
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))  # registrations end with the test
    request.addfinalizer(lambda: sys.modules.pop(stem, None))
    return path


def test_search_runs_a_user_strategy_from_a_file_in_worker_processes(search_table: Benchmark, tmp_path: Path,
                                                                     user_strategy: Path) -> None:
    """--import registers the strategy; spawned worker processes import the same file, and the results
    do not depend on the number of processes."""
    args = ["search", "--table", str(search_table.path), "--import", str(user_strategy), "--strategy", "user-greedy",
            "--set", "explore=0.5", "--seeds", "0-3", "--max-queries", "12"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    assert (tmp_path / "one" / "trajectories.parquet").read_bytes() == \
        (tmp_path / "two" / "trajectories.parquet").read_bytes()
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["strategy"] == {"name": "user-greedy", "class": f"{user_strategy.stem}.Greedy",
                                    "source_sha256": files_sha256([user_strategy, *STRATEGY_FILES]),
                                    "settings": {"explore": 0.5}}
    assert len(pd.read_parquet(tmp_path / "two" / "trajectories.parquet")) == 4 * 12
    # the same strategy name and settings from a changed file: the manifest shows the change
    user_strategy.write_text(user_strategy.read_text() + "\n# tuned\n")
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "changed")]) == 0
    changed = json.loads((tmp_path / "changed" / "manifest.json").read_text())["strategy"]
    assert changed["settings"] == manifest["strategy"]["settings"]
    assert changed["source_sha256"] == files_sha256([user_strategy, *STRATEGY_FILES]) != manifest["strategy"]["source_sha256"]


def test_compare_runs_a_user_strategy_beside_the_shipped_ones(search_table: Benchmark, tmp_path: Path,
                                                             user_strategy: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(f'name = "mine"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-2"\nworkers = 2\n'
                      '[budget]\nqueries = 10\n[latency]\nsource = "none"\n'
                      '[[strategy]]\nname = "random"\n[[strategy]]\nname = "user-greedy"\n')
    assert main(["compare", "--import", str(user_strategy), "--config", str(config), "--out", str(tmp_path / "c")]) == 0
    trajectories = pd.read_parquet(tmp_path / "c" / "runs" / "replayed" / "user-greedy" / "trajectories.parquet")
    assert sorted(trajectories["seed"].unique()) == [0, 1, 2]
    assert "user-greedy" in (tmp_path / "c" / "index.md").read_text()


def test_compare_says_how_to_make_a_users_strategy_known(search_table: Benchmark, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(f'name = "mine"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-2"\n'
                      '[budget]\nqueries = 10\n[latency]\nsource = "none"\n[[strategy]]\nname = "not-imported"\n')
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "unknown strategy 'not-imported'" in err and "--import MODULE|FILE.py" in err


@pytest.mark.parametrize("content, message", [
    (None, "no strategy file"),
    ("raise RuntimeError('broken on purpose')", "RuntimeError: broken on purpose"),
    ("import no_such_module_xyz", "No module named 'no_such_module_xyz'"),
])
def test_a_strategy_file_that_cannot_be_imported_is_one_line(search_table: Benchmark, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture, content: str | None,
                                                             message: str) -> None:
    path = tmp_path / "broken_strategy_file.py"
    if content is not None:
        path.write_text(content)
    for command in (["search", "--table", str(search_table.path), "--strategy", "random", "--max-queries", "5",
                     "--out", str(tmp_path / "o")], ["compare"]):
        assert main([*command, "--import", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_table_folder_as_out_is_refused_without_suggesting_overwrite(search_table: Benchmark, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """It said "already holds manifest.json; pass --overwrite", and --overwrite was then refused."""
    before = {p.name: p.read_bytes() for p in search_table.path.iterdir() if p.is_file()}
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--max-queries", "5",
                 "--seeds", "0", "--workers", "1", "--out", str(search_table.path)]) == 2
    err = capsys.readouterr().err
    assert "not search results" in err and "--overwrite" not in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in search_table.path.iterdir() if p.is_file()} == before


def test_an_import_path_that_is_not_a_py_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Was "ModuleNotFoundError: No module named '/.../mine'": the path read as a module name."""
    for path in (tmp_path / "mine.json", tmp_path / "folder"):
        assert main(["compare", "--import", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"from {str(path)!r}: a path but not a .py file" in err and len(err.strip().splitlines()) == 1


def test_an_import_that_registers_no_strategy_is_refused(search_table: Benchmark, tmp_path: Path, user_strategy: Path,
                                                         capsys: pytest.CaptureFixture, request: pytest.FixtureRequest) -> None:
    """``--import os`` (or a file with no @register) was taken without a word and the run went on with the strategies
    known before; a module imported before (given twice, or a shipped one) still counts as registering its own."""
    import sys

    from nasbench_suite.cli import _import_strategies

    helper = tmp_path / "no_strategy_helper.py"
    helper.write_text("X = 1\n")
    request.addfinalizer(lambda: sys.modules.pop(helper.stem, None))
    for source in ("os", str(helper)):
        for command in (["search", "--table", str(search_table.path), "--strategy", "random", "--max-queries", "5",
                         "--out", str(tmp_path / "o")], ["compare"]):
            assert main([*command, "--import", source]) == 2
            assert capsys.readouterr().err == f"nasbench: error: --import {source}: the module registered no strategy " \
                "(no class with @register(NAME) in it or its submodules); import the module that defines yours\n"
    assert not (tmp_path / "o").exists()
    _import_strategies([str(user_strategy), str(user_strategy), "algorithms.rea"])


BUGGY_STRATEGY = '''
from dataclasses import dataclass

from nasbench_suite.strategy import Query, Strategy, register


@register("user-buggy")
@dataclass
class Buggy(Strategy):
    def setup(self, space, rng):
        self.space, self.rng = space, rng

    def ask(self, n):
        return [Query(self.space.random_arch(self.rng), self.space.max_epoch) for _ in range(n)]

    def tell(self, results):
        raise ValueError("oops in my tell")
'''


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_exception_in_a_user_strategy_is_one_line_naming_it(search_table: Benchmark, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
                                                               workers: str) -> None:
    """A bug in the user's own strategy code stops the command with one line naming the strategy, the method,
    the exception and where it was raised (it used to end in a traceback and exit code 1)."""
    import sys

    from nasbench_suite import strategy

    path = tmp_path / f"buggy_strategy_{workers}.py"
    path.write_text(BUGGY_STRATEGY)
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    request.addfinalizer(lambda: sys.modules.pop(path.stem, None))
    code = main(["search", "--table", str(search_table.path), "--import", str(path), "--strategy", "user-buggy",
                 "--seeds", "0-1", "--max-queries", "5", "--workers", workers, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "'user-buggy'" in err and "tell()" in err and "ValueError: oops in my tell" in err
    line = BUGGY_STRATEGY.splitlines().index('        raise ValueError("oops in my tell")') + 1
    assert f"{path.name}:{line})" in err
    assert not (tmp_path / "o").exists()


BAD_QUERY_STRATEGY = '''
from dataclasses import dataclass

from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Strategy, register


@register("user-bad-query")
@dataclass
class BadQuery(Strategy):
    mode: str = "epochs-0"

    def setup(self, space, rng):
        self.space, self.told = space, []

    def ask(self, n):
        cell = Arch.from_index(int(self.space.arch_indices[0]))
        if self.mode == "epochs-0":
            return [Query(cell, 0)]
        if self.mode == "epochs-past-the-table":
            return [Query(cell, self.space.max_epoch + 1)]
        if self.mode == "cell-not-in-the-table":
            return [Query(Arch.from_index(5), 1)]
        if self.mode == "trial-true":  # two trials of the cell, then True (== 1 to Python) as a trial id
            return [Query(cell, 1)][:n] if len(self.told) < 2 else [Query(cell, 2, trial=True)][:n]
        # two workers: continue the first trial while it is still running
        return [Query(cell, 1), Query(cell, 2, trial=0)][:n]

    def tell(self, results):
        self.told.extend(results)
'''


@pytest.mark.parametrize("mode, message", [
    ("epochs-0", "ask() returned a query of arch 0 for 0 epochs; query epochs must be an integer 1..3"),
    ("epochs-past-the-table", "ask() returned a query of arch 0 for 4 epochs; query epochs must be an integer 1..3"),
    ("cell-not-in-the-table", "architecture 5 ("),
    ("continue-a-running-trial", "cannot continue trial 0: it is still running"),
    ("trial-true", "cannot continue trial True: no trial of arch 0"),
])
def test_a_query_the_table_cannot_answer_is_one_line_naming_the_strategy(
        tiny_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, mode: str, message: str) -> None:
    """The run loop's refusals of what a strategy asked (epochs out of range, a cell the table lacks, a
    trial still running) said neither whose query it was nor, for the epochs, which cell: in a compare
    of several strategies the line did not tell which one to fix. They now start "strategy 'NAME': "."""
    import sys

    from nasbench_suite import strategy

    path = tmp_path / f"bad_query_{mode.replace('-', '_')}.py"
    path.write_text(BAD_QUERY_STRATEGY)
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    request.addfinalizer(lambda: sys.modules.pop(path.stem, None))
    code = main(["search", "--table", str(tiny_table.path), "--import", str(path), "--strategy", "user-bad-query",
                 "--set", f'mode="{mode}"', "--seeds", "0-1", "--max-queries", "5", "--sim-workers", "2",
                 "--workers", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("nasbench: error: strategy 'user-bad-query': ") and message in err, err
    assert not (tmp_path / "o").exists()


def test_compare_refuses_a_late_strategys_setting_before_any_run(search_table: Benchmark, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                request: pytest.FixtureRequest) -> None:
    """A setting the table refuses (checked in the strategy's setup) stops compare before any run: the
    strategy listed first fails in its first tell() if it runs, so its error would be the one reported."""
    import sys

    from nasbench_suite import strategy

    path = tmp_path / "buggy_first.py"
    path.write_text(BUGGY_STRATEGY)
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    request.addfinalizer(lambda: sys.modules.pop(path.stem, None))
    config = tmp_path / "late.toml"
    config.write_text(f'name = "late"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-1"\nworkers = 1\n'
                      '[budget]\nqueries = 10\n[latency]\nsource = "none"\n[[strategy]]\nname = "user-buggy"\n'
                      '[[strategy]]\nname = "hyperband"\n'
                      'settings = { query_epochs = 999, resume = false, min_budget = 1.0, max_budget = 3.0 }\n')
    assert main(["compare", "--import", str(path), "--config", str(config), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "query_epochs=999 is not a fidelity" in err and "oops" not in err, err
    assert not (tmp_path / "c").exists()


def test_a_user_strategy_may_not_take_a_shipped_name(search_table: Benchmark, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """A user file registering 'rea' used to replace the shipped REA or be replaced by it, depending on
    what was imported first, and its runs were labelled rea either way."""
    import sys

    from nasbench_suite import strategy

    path = tmp_path / "my_rea_strategy.py"
    path.write_text(USER_STRATEGY.format(name="rea"))
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    request.addfinalizer(lambda: sys.modules.pop(path.stem, None))
    code = main(["search", "--table", str(search_table.path), "--import", str(path), "--strategy", "rea",
                 "--seeds", "0", "--max-queries", "5", "--workers", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "'rea'" in err and "shipped" in err and "another name" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("limit", ["-1", "0", "nan", "inf"])
def test_a_latency_limit_must_be_a_positive_number(search_table: Benchmark, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture, limit: str) -> None:
    """-1 used to be refused as 'below the fastest cell', and nan or inf were taken."""
    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(15625), "toy_ms": np.random.default_rng(0).uniform(1, 3, 15625)}).to_csv(
        csv, index=False)
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--max-queries", "5",
                 "--latency", f"{csv}:toy_ms", "--max-latency", limit, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--max-latency" in err and "> 0" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


QUIET_STRATEGIES = '''
from dataclasses import dataclass

from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Strategy, register


@register("user-stops-early")
@dataclass
class StopsEarly(Strategy):
    def setup(self, space, rng):
        self.space, self.asked = space, 0

    def ask(self, n):
        self.asked += 1
        return [Query(Arch.from_index(int(self.space.arch_indices[0])), self.space.max_epoch)] if self.asked <= 2 else []

    def tell(self, results):
        pass


@register("user-names-unqueried")
@dataclass
class NamesUnqueried(StopsEarly):
    def ask(self, n):
        return [Query(Arch.from_index(int(self.space.arch_indices[0])), self.space.max_epoch)]

    def incumbent(self):
        return Arch.from_index(int(self.space.arch_indices[1]))
'''


def _user_strategies(source: str, stem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> Path:
    """``source`` written to ``tmp_path/stem.py`` for ``--import``; what it registers is forgotten after the test."""
    import sys

    from nasbench_suite import strategy

    path = tmp_path / f"{stem}.py"
    path.write_text(source)
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
    request.addfinalizer(lambda: sys.modules.pop(path.stem, None))
    return path


@pytest.fixture(scope="module")
def quiet_compare(search_table: Benchmark, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One `compare --import` of random, user-stops-early and user-names-unqueried (seeds 0-1, 10 queries), run
    once for the two tests that read it (each ran this same compare, report included, for itself): its exit
    status, what it printed, and its folder (read only). What the file registers is forgotten after it."""
    import contextlib
    import io
    import sys

    from nasbench_suite import strategy

    tmp = tmp_path_factory.mktemp("quiet")
    path = tmp / "quiet_user_strategies.py"
    path.write_text(QUIET_STRATEGIES)
    config = tmp / "quiet.toml"
    config.write_text(f'name = "quiet"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-1"\nworkers = 1\n'
                      '[budget]\nqueries = 10\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n'
                      '[[strategy]]\nname = "user-stops-early"\n[[strategy]]\nname = "user-names-unqueried"\n')
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))
        try:
            with contextlib.redirect_stdout(printed):
                code = main(["compare", "--import", str(path), "--config", str(config), "--out", str(tmp / "d")])
        finally:
            sys.modules.pop(path.stem, None)
    return code, printed.getvalue(), tmp / "d"


def test_a_run_without_an_incumbent_is_not_counted_as_naming_an_unqueried_cell() -> None:
    """A constrained run that found no feasible cell ends on incumbent -1 with no value: nothing was named."""
    from nasbench_suite.search import run_notes

    final = pd.DataFrame({"incumbent_index": [-1, 5, 7], "incumbent_value": [np.nan, np.nan, 91.0]})
    assert run_notes("s", {"search": {"table": "t"}, "runs": {"stop_reasons": {"queries": 3}}}, final) == [
        "1 of 3 runs of s end with an incumbent the strategy named but never queried: no query paid for it, yet its "
        "evaluation is read and reported (incumbent_value is NaN)"]


def test_a_run_ending_on_cell_0_it_never_queried_is_counted_as_naming_an_unqueried_cell() -> None:
    """Cell 0 is a cell like any other (index -1, not 0, means no incumbent): a run that names it untold is flagged."""
    from nasbench_suite.search import run_notes

    final = pd.DataFrame({"incumbent_index": [0, 0, -1], "incumbent_value": [np.nan, 80.0, np.nan]})
    assert run_notes("s", {"search": {"table": "t"}, "runs": {"stop_reasons": {"queries": 3}}}, final) == [
        "1 of 3 runs of s end with an incumbent the strategy named but never queried: no query paid for it, yet its "
        "evaluation is read and reported (incumbent_value is NaN)"]


def test_runs_stopped_at_the_query_limit_are_flagged_and_a_larger_max_queries_refused(
        search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--max-queries 100000000` or `--budget 1e12` ran with no end; the first is now refused before any run, the
    second stops each run at the simulator's MAX_RUN_QUERIES, and `search` says so in a note."""
    from nasbench_suite import search, simulator

    base = ["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-1", "--workers", "1"]
    assert main([*base, "--max-queries", "1000001", "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert err == "nasbench: error: budget queries must be at most 1,000,000 per run, got 1000001\n"
    assert not (tmp_path / "refused").exists()
    monkeypatch.setattr(simulator, "MAX_RUN_QUERIES", 6)
    monkeypatch.setattr(search, "MAX_RUN_QUERIES", 6)
    assert main([*base, "--budget", "1e12", "--out", str(tmp_path / "capped")]) == 0
    assert ("note: 2 of 2 runs of random ended before their seconds budget, at 6 queries, the most one run "
            "dispatches (stop reason 'query_limit' in manifest.json)") in capsys.readouterr().out
    manifest = json.loads((tmp_path / "capped" / "manifest.json").read_text())
    assert manifest["runs"]["stop_reasons"] == {"query_limit": 2} and manifest["rows"] == 12


def test_runs_that_stop_early_or_end_on_an_unqueried_incumbent_are_flagged(
        search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, quiet_compare: tuple[int, str, Path]) -> None:
    """Neither is an error, but both used to pass without a word: a strategy whose ask() returns nothing
    while nothing runs (a bug that waits for a result that never comes) ended every run after 2 of its
    budget's 10 queries, and one that names a cell it never queried got that cell's test accuracy for free;
    `search` and `compare` now print a note for each."""
    path = _user_strategies(QUIET_STRATEGIES, "quiet_user_strategies", tmp_path, monkeypatch, request)
    common = ["--table", str(search_table.path), "--import", str(path), "--seeds", "0-2", "--max-queries", "10",
              "--workers", "1"]
    assert main(["search", *common, "--strategy", "user-stops-early", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "note: 3 of 3 runs of user-stops-early ended before the budget: the strategy asked for no query" in out
    assert "never queried" not in out
    assert main(["search", *common, "--strategy", "user-names-unqueried", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "note: 3 of 3 runs of user-names-unqueried end with an incumbent the strategy named but never queried" in out
    assert "ended before the budget" not in out
    assert main(["search", *common, "--strategy", "random", "--out", str(tmp_path / "c")]) == 0
    assert "note:" not in capsys.readouterr().out
    code, printed, _ = quiet_compare  # the compare of the three
    assert code == 0
    notes = [line for line in printed.splitlines() if line.startswith("note:")]
    assert len(notes) == 2 and "2 of 2 runs of user-stops-early ended before" in notes[0]
    assert "2 of 2 runs of user-names-unqueried end with an incumbent" in notes[1]


def test_a_search_of_valid_values_filled_from_ori_test_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A NATS-Bench table imported with --valtest-as-valid holds valid values from ori-test, which contains the
    x-test half its test split is: searched and judged on it, the runs' test accuracy was reported without a
    word (the table's manifest said so; the search's output did not)."""
    from fixture_tables import search_results

    from nasbench_suite.table import build_table

    table = build_table(search_results(seeds=(0,), epochs=4), tmp_path / "filled", name="filled",
                        metadata={"dataset": {"name": "generated", "sha256": "-"}, "valtest_as_valid": True,
                                  "description": "generated values for tests (not trained)"})
    base = ["search", "--table", str(table.path), "--strategy", "random", "--seeds", "0-1", "--max-queries", "5",
            "--workers", "1"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert ("note: runs of random searched table filled, whose valid values were partly filled from NATS-Bench's "
            "ori-test (imported with --valtest-as-valid)") in out
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["search"]["valid_filled_from_ori_test"] is True
    config = tmp_path / "filled.toml"
    config.write_text(f'name = "filled"\ntable = "{table.path.as_posix()}"\nseeds = "0-1"\nworkers = 1\n'
                      '[budget]\nqueries = 5\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n')
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "c")]) == 0
    assert "note: runs of random searched table filled" in capsys.readouterr().out
    caveats = (tmp_path / "c" / "index.md").read_text().split("## Caveats")[1].split("## ")[0]
    assert "not independent of what they searched" in caveats
    # a table that was not filled: no note, and no new key in the manifest
    assert main(["search", "--table", "digits-sample", *base[3:], "--out", str(tmp_path / "b")]) == 0
    assert "note:" not in capsys.readouterr().out
    assert "valid_filled_from_ori_test" not in json.loads((tmp_path / "b" / "manifest.json").read_text())["search"]


def test_the_comparison_report_carries_the_notes_of_its_runs(tmp_path: Path,
                                                             quiet_compare: tuple[int, str, Path]) -> None:
    """The notes went to the terminal only: the report (index.md and index.html, shared without the
    terminal's output) showed a strategy's final accuracy from a cell it never paid for, or runs cut
    short, without a word. It now has a Caveats section, first, with the same sentences (none when
    there is nothing to note: the committed reports are unchanged); `nasbench report` writes it too."""
    code, out, folder = quiet_compare  # compare of random, user-stops-early and user-names-unqueried
    assert code == 0
    printed = [line.removeprefix("note: ") for line in out.splitlines() if line.startswith("note:")]
    assert len(printed) == 2
    md = (folder / "index.md").read_text()
    assert md.count("## Caveats") == 1 and md.index("## Caveats") < md.index("## Anytime performance")
    caveats = md.split("## Caveats")[1].split("## ")[0]
    assert "2 of 2 runs of user-stops-early ended before the budget" in caveats
    assert "2 of 2 runs of user-names-unqueried end with an incumbent the strategy named but never queried" in caveats
    assert all(f"{note}." in caveats for note in printed) and "random" not in caveats
    html = (folder / "index.html").read_text()
    assert "<h2>Caveats</h2>" in html and "2 of 2 runs of user-names-unqueried end with an incumbent" in html
    assert main(["report", str(folder / "runs"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "index.md").read_text() == md


STOPPED_STRATEGIES = '''
from dataclasses import dataclass
from pathlib import Path

from nasbench_suite.space import Arch
from nasbench_suite.strategy import Query, Strategy, register


@register("user-stopped-in-tell")
@dataclass
class StoppedInTell(Strategy):
    """Stands in for a tell() that never returns and is stopped by Ctrl-C: the stop arrives there."""

    def setup(self, space, rng):
        self.space, self.told = space, 0

    def ask(self, n):
        return [Query(Arch.from_index(int(self.space.arch_indices[self.told])), self.space.max_epoch)]

    def tell(self, results):
        self.told += 1
        if self.told == 3:
            raise KeyboardInterrupt


@register("user-stopped-in-setup")
@dataclass
class StoppedInSetup(StoppedInTell):
    def setup(self, space, rng):
        raise KeyboardInterrupt


@register("user-hangs-in-ask")
@dataclass
class HangsInAsk(StoppedInTell):
    """ask() loops forever after 3 results, once it has left a file saying so (MARKER is set by the test)."""

    def tell(self, results):
        self.told += 1

    def ask(self, n):
        if self.told == 3:
            Path(MARKER).write_text("hanging")
            while True:
                pass
        return super().ask(n)
'''


@pytest.mark.parametrize("stop, code, word", [(KeyboardInterrupt, 130, "interrupted"), ("terminated", 143, "terminated")])
def test_a_stopped_run_names_the_strategy_method_and_run_seed(
        search_table: Benchmark, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, stop: type | str, code: int, word: str) -> None:
    """A strategy method that never returns hangs the run, and Ctrl-C (or kill PID) said only
    'nasbench: interrupted': nothing named the strategy, the run or the method. The one line now does,
    for search and compare in this process (--workers 1); a stop in the simulator's own code names the
    strategy and run seed, one in the setup check before the runs the strategy and setup()."""
    from nasbench_suite import cli, simulator

    source = STOPPED_STRATEGIES
    if stop == "terminated":  # what cli raises for kill PID (SIGTERM)
        source = source.replace("raise KeyboardInterrupt", "raise Terminated").replace(
            "from pathlib import Path\n", "from pathlib import Path\n\nfrom nasbench_suite.cli import Terminated\n")
    path = _user_strategies(source, "stopped_user_strategies", tmp_path, monkeypatch, request)
    common = ["--table", str(search_table.path), "--import", str(path), "--max-queries", "10", "--workers", "1"]
    assert main(["search", *common, "--seeds", "2-4", "--strategy", "user-stopped-in-tell", "--out",
                 str(tmp_path / "a")]) == code
    assert capsys.readouterr().err == (f"nasbench: {word} in tell() of strategy 'user-stopped-in-tell', run seed 2"
                                     f"{REPLAY_RESUME_HINT}\n")
    assert main(["search", *common, "--seeds", "2-4", "--strategy", "user-stopped-in-setup", "--out",
                 str(tmp_path / "b")]) == code
    assert capsys.readouterr().err == (f"nasbench: {word} in setup() of strategy 'user-stopped-in-setup'"
                                     f"{REPLAY_RESUME_HINT}\n")
    config = tmp_path / "stopped.toml"
    config.write_text(f'name = "stopped"\ntable = "{search_table.path.as_posix()}"\nseeds = "5-6"\nworkers = 1\n'
                      '[budget]\nqueries = 10\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n'
                      '[[strategy]]\nname = "user-stopped-in-tell"\n')
    assert main(["compare", "--import", str(path), "--config", str(config), "--out", str(tmp_path / "c")]) == code
    assert capsys.readouterr().err == (f"nasbench: {word} in tell() of strategy 'user-stopped-in-tell', run seed 5"
                                     f"{REPLAY_RESUME_HINT}\n")

    def stopped(*args: object) -> None:  # the simulator's own code, between the strategy's methods
        raise KeyboardInterrupt if stop is KeyboardInterrupt else cli.Terminated

    monkeypatch.setattr(simulator, "Result", stopped)
    assert main(["search", *common, "--seeds", "7", "--strategy", "random", "--out", str(tmp_path / "d")]) == code
    assert capsys.readouterr().err == (f"nasbench: {word} during run seed 7 of strategy 'random'"
                                     f"{REPLAY_RESUME_HINT}\n")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through Linux's /proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_on_a_strategy_that_never_returns(search_table: Benchmark, tmp_path: Path, workers: int) -> None:
    """Real Ctrl-C (SIGINT to the process group) on a search whose ask() loops forever. In this process the
    line names the strategy, method and run seed; with worker processes the parent is only waiting for
    them and cannot say which run hung (the README says to rerun with --workers 1): the line stays
    'nasbench: interrupted', with no traceback and no worker left looping."""
    import os
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / "hanging"
    source = STOPPED_STRATEGIES.replace("MARKER", repr(str(marker)))
    (tmp_path / "hangs.py").write_text(source)
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from nasbench_suite.cli import main; sys.exit(main(sys.argv[1:]))")
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "search", "--table", str(search_table.path), "--import", str(tmp_path / "hangs.py"),
         "--strategy", "user-hangs-in-ask", "--seeds", "3-4", "--max-queries", "10", "--workers", str(workers),
         "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": root})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the strategy never started hanging: {proc.communicate()}")
            time.sleep(0.05)
        spawned = _workers_of(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    expected = ("nasbench: interrupted in ask() of strategy 'user-hangs-in-ask', run seed 3" if workers == 1
                else "nasbench: interrupted") + REPLAY_RESUME_HINT
    assert proc.returncode == 130 and err == expected + "\n", err
    assert len(spawned) == (0 if workers == 1 else 2) and not any(_alive(pid) for pid in spawned)


def _workers_of(parent: int) -> list[int]:
    """The multiprocessing workers among ``parent``'s children (from /proc: Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent \
                    and b"spawn_main" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except (ValueError, OSError, IndexError):  # gone meanwhile
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_proxies_stored_beside_a_table_after_a_search_are_read_by_the_next_one_in_the_same_session(
        search_table: Benchmark, tmp_path: Path) -> None:
    """The compiled oracle was cached by the table's content hash alone: proxies scored beside the table (or
    damaged) after a first search in a notebook were never read by the later searches of that session."""
    import shutil

    from nasbench_suite import search
    from nasbench_suite.errors import ProxyError
    from nasbench_suite.simulator import Budget

    table = tmp_path / "tables" / "t"
    shutil.copytree(search_table.path, table)
    spec = search.SearchSpec(str(table), "random", Budget(None, 3))
    search.run_seeds(spec, [0], evaluation=None, progress=False)
    folder = tmp_path / "tables" / "proxies" / search_table.name
    folder.mkdir(parents=True)
    (folder / "proxies.json").write_text("{")  # read again now: a damaged folder is its one error
    (folder / "proxies.csv").write_text("arch_index\n")
    with pytest.raises(ProxyError, match="cannot be read"):
        search.run_seeds(spec, [0], evaluation=None, progress=False)


def test_a_proxies_csv_written_after_a_search_is_read_by_the_next_one_in_the_same_session(
        search_table: Benchmark, tmp_path: Path) -> None:
    """The compiled oracle's cache key holds both files of a proxy folder: a proxies.json alone (no proxies yet)
    cached the oracle, and the proxies.csv written next to it later was never read in that session."""
    import shutil

    from nasbench_suite import search
    from nasbench_suite.errors import ProxyError
    from nasbench_suite.simulator import Budget

    table = tmp_path / "tables" / "t"
    shutil.copytree(search_table.path, table)
    folder = tmp_path / "tables" / "proxies" / search_table.name
    folder.mkdir(parents=True)
    (folder / "proxies.json").write_text("{")  # no proxies.csv: no stored proxies, the search runs
    spec = search.SearchSpec(str(table), "random", Budget(None, 3))
    search.run_seeds(spec, [0], evaluation=None, progress=False)
    (folder / "proxies.csv").write_text("arch_index\n")  # now a (damaged) store: read, and refused
    with pytest.raises(ProxyError, match="cannot be read"):
        search.run_seeds(spec, [0], evaluation=None, progress=False)


def test_results_are_written_a_row_group_at_a_time_as_one_whole_table_write_would(
        search_table: Benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """trajectories.parquet was converted to Arrow whole, a copy of the frame beside it (1.6M rows: ~150 MB more
    at the peak); it is converted a row group at a time now, into the same bytes as one whole-table write."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nasbench_suite import search
    from nasbench_suite.simulator import Budget

    monkeypatch.setattr(search, "ROW_GROUP", 7)
    results = search.run_seeds(search.SearchSpec(str(search_table.path), "random", Budget(None, 10)), "0-2",
                               evaluation=None, progress=False)
    results.write(tmp_path / "sliced")
    pq.write_table(pa.Table.from_pandas(results.frame, preserve_index=False), tmp_path / "whole.parquet",
                   compression="zstd", row_group_size=7)
    written = tmp_path / "sliced" / "trajectories.parquet"
    assert pq.ParquetFile(written).metadata.num_row_groups == 5  # 30 rows
    assert written.read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    empty = search.SearchResults(results.frame.iloc[:0], results.manifest, results.timing)
    empty.write(tmp_path / "empty")
    pq.write_table(pa.Table.from_pandas(empty.frame, preserve_index=False), tmp_path / "empty.parquet",
                   compression="zstd")
    assert (tmp_path / "empty" / "trajectories.parquet").read_bytes() == (tmp_path / "empty.parquet").read_bytes()


def test_latency_batch_and_statistic_reach_the_runs(search_table: Benchmark, tmp_path: Path) -> None:
    """``--latency-batch`` and ``--latency-stat`` choose the latencies the runs see and the manifest records
    (the shipped digits folder times batches 1 and 64); a search that took the defaults instead was not seen."""
    from nasbench_suite.latency import load_latency, shipped_latency_folders

    folder = next(p for p in shipped_latency_folders() if p.name.startswith("digits-"))
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-1",
                 "--max-queries", "5", "--workers", "1", "--latency", str(folder), "--latency-batch", "64",
                 "--latency-stat", "min_ms", "--out", str(tmp_path / "o")]) == 0
    latency = json.loads((tmp_path / "o" / "manifest.json").read_text())["search"]["latency"]
    assert (latency["batch"], latency["statistic"]) == (64, "min_ms") and "min_ms" in latency["source"]
    frame = pd.read_parquet(tmp_path / "o" / "trajectories.parquet")
    want = load_latency(folder, "min_ms").of(64)[frame["arch_index"].to_numpy()]
    assert frame["latency"].to_numpy() == pytest.approx(want) and not np.allclose(
        want, load_latency(folder).of(1)[frame["arch_index"].to_numpy()])


def test_a_latency_folder_measured_again_within_one_session_is_read_again(search_table: Benchmark,
                                                                          tmp_path: Path) -> None:
    """The cache of a latency folder is keyed by both of its files: its latency.csv rewritten (every time three
    times slower) with latency.json unchanged gives the new latencies, not the ones cached before."""
    import os
    import shutil

    from nasbench_suite.latency import shipped_latency_folders
    from nasbench_suite.search import SearchSpec, run_seeds
    from nasbench_suite.simulator import Budget

    folder = tmp_path / "digits-copy"
    shutil.copytree(next(p for p in shipped_latency_folders() if p.name.startswith("digits-")), folder)
    spec = SearchSpec(str(search_table.path), "random", Budget(queries=5), latency=str(folder))
    before = run_seeds(spec, [0], evaluation=None, progress=False).frame["latency"].to_numpy()
    table = pd.read_csv(folder / "latency.csv")
    ms = [c for c in table.columns if c.endswith("_ms")]
    table[ms] = table[ms] * 3
    table.to_csv(folder / "latency.csv", index=False)
    os.utime(folder / "latency.csv", ns=(10**18, 10**18))  # a new mtime even on a coarse clock
    after = run_seeds(spec, [0], evaluation=None, progress=False).frame["latency"].to_numpy()
    np.testing.assert_allclose(after, 3 * before, rtol=1e-5)


def test_eval_table_reaches_the_evaluation(search_table: Benchmark, tmp_path: Path) -> None:
    """``--eval-table`` names the table the incumbents are read from (here the shipped digits table, searched
    on the generated one); dropped, the searched table was read instead without a word."""
    from nasbench_suite.evaluation import EvalSpec, incumbent_metric
    from nasbench_suite.table import load_table

    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-1",
                 "--max-queries", "5", "--workers", "1", "--eval-table", "digits", "--out", str(tmp_path / "o")]) == 0
    digits = load_table("digits")
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["evaluation"]["content_hash"] == \
        digits.content_hash != search_table.content_hash
    frame = pd.read_parquet(tmp_path / "o" / "trajectories.parquet")
    want = incumbent_metric(frame["incumbent_index"].to_numpy(), digits, EvalSpec())[0]
    assert frame["incumbent_test_acc"].to_numpy() == pytest.approx(want)


def test_a_strategys_source_sha256_covers_its_base_classes_files(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A strategy whose base class lives in another file (as the model-guided strategies' loop lives in
    algorithms/common.py): an edit of the base's file, with the strategy's own file and settings unchanged,
    shows in source_sha256. Python's own modules (abc) are left out, so the value does not depend on the
    Python version."""
    import importlib.util
    import sys

    from nasbench_suite.search import _source_sha256

    (tmp_path / "base_mod.py").write_text("from nasbench_suite.strategy import Strategy\n\n\n"
                                          "class Base(Strategy):\n    pass\n")
    (tmp_path / "leaf_mod.py").write_text("from base_mod import Base\n\n\nclass Leaf(Base):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    leaf = importlib.import_module("leaf_mod").Leaf
    before = _source_sha256(leaf)
    assert before == files_sha256([tmp_path / "leaf_mod.py", tmp_path / "base_mod.py", *STRATEGY_FILES])
    (tmp_path / "base_mod.py").write_text((tmp_path / "base_mod.py").read_text() + "# edited\n")
    assert _source_sha256(leaf) != before
    assert _source_sha256(type("NoFile", (), {"__module__": "a_notebook_cell"})) is None  # no file holds it
    stdin = importlib.util.module_from_spec(importlib.util.spec_from_loader("from_stdin", loader=None))
    stdin.__file__ = "<stdin>"  # `python -`: a file name that is no file
    monkeypatch.setitem(sys.modules, "from_stdin", stdin)
    assert _source_sha256(type("FromStdin", (), {"__module__": "from_stdin"})) is None
    assert _source_sha256(type("LeafOfNotebook", (type("Base", (), {"__module__": "a_notebook_cell"}),),
                               {"__module__": "leaf_mod"})) is None  # its base cannot be told from an edited one


def test_a_strategys_source_files_take_in_the_project_modules_it_imports(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         request: pytest.FixtureRequest) -> None:
    """Helpers the strategy imports (at the top or inside a method), from beside its file or from its own
    package (relative imports, ``from package import module``), and what those import in turn, count as
    its source; third-party modules (numpy) and Python's own do not. An edit of a helper changes
    source_sha256 (before, only the class's and its bases' files counted: an edited predictor left a
    BANANAS manifest unchanged)."""
    import importlib
    import sys

    from nasbench_suite.search import _source_sha256

    names = ("sf_leaf", "sf_helper", "sf_lazy", "sf_lab", "sf_lab.strategies", "sf_lab.util", "sf_lab.deep")
    request.addfinalizer(lambda: [sys.modules.pop(name, None) for name in names])
    (tmp_path / "sf_helper.py").write_text("import numpy\nfrom sf_lab import util\n")
    (tmp_path / "sf_lazy.py").write_text("X = 1\n")
    (tmp_path / "sf_unused.py").write_text("X = 2\n")  # beside, never imported
    (tmp_path / "sf_leaf.py").write_text(
        "import numpy as np\nimport json\nimport sf_helper\nfrom sf_lab.strategies import Lab\n\n\n"
        "class Leaf(Lab):\n    def ask(self, n):\n        import sf_lazy\n        return []\n")
    lab = tmp_path / "sf_lab"
    lab.mkdir()
    (lab / "__init__.py").write_text("")
    (lab / "util.py").write_text("Y = 1\n")
    (lab / "deep.py").write_text("from . import util\n")
    (lab / "strategies.py").write_text("from nasbench_suite.strategy import Strategy\n\nfrom .deep import util\n\n\n"
                                       "class Lab(Strategy):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    leaf = importlib.import_module("sf_leaf").Leaf
    files = class_source_files(leaf)
    assert files is not None
    assert files[:3] == [tmp_path / "sf_leaf.py", lab / "strategies.py", STRATEGY_FILES[0]]  # the classes first
    assert set(files) == {tmp_path / "sf_leaf.py", tmp_path / "sf_helper.py", tmp_path / "sf_lazy.py",
                          lab / "__init__.py", lab / "util.py", lab / "deep.py", lab / "strategies.py",
                          *STRATEGY_FILES}
    assert len(files) == len(set(files))
    before = _source_sha256(leaf)
    assert before == files_sha256(files)
    (tmp_path / "sf_unused.py").write_text("X = 3\n")
    assert _source_sha256(leaf) == before  # not part of it
    (lab / "util.py").write_text("Y = 2\n")  # two imports away, through sf_helper and through deep
    assert _source_sha256(leaf) != before


def test_the_specs_of_one_search_hash_each_strategy_class_once(search_table: Benchmark,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A search of several specs worked out each manifest's source_sha256 from scratch: each spec of a class
    hashed its files again. Now a class is hashed once per call, with the same values."""
    import algorithms.random_search
    from nasbench_suite import search
    from nasbench_suite.simulator import Budget

    hashed = []
    real_hash = search._source_sha256
    monkeypatch.setattr(search, "_source_sha256", lambda cls: hashed.append(cls) or real_hash(cls))
    budget = Budget(queries=5)
    specs = [search.SearchSpec(str(search_table.path), "rea", budget, {"population": 8}),
             search.SearchSpec(str(search_table.path), "random", budget),
             search.SearchSpec(str(search_table.path), "rea", budget, {"population": 5, "sample_size": 2})]
    results = search.run_many(specs, "0-1", progress=False)
    classes = [algorithms.rea.RegularizedEvolution, algorithms.random_search.RandomSearch]
    assert hashed == classes
    want = [files_sha256(class_source_files(classes[k])) for k in (0, 1, 0)]
    assert [r.manifest["strategy"]["source_sha256"] for r in results] == want


def test_search_rows_follow_the_seeds_ascending_whatever_order_they_are_written_in(search_table: Benchmark,
                                                                                    tmp_path: Path) -> None:
    """'--seeds 5,0-2' and '--seeds 0-2,5' are the same runs: the same bytes (rows in ascending seed order, as
    the manifest's seed ranges are written), not the rows of run 5 first."""
    args = ["search", "--table", str(search_table.path), "--strategy", "random", "--max-queries", "5",
            "--workers", "1"]
    assert main([*args, "--seeds", "5,0-2", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--seeds", "0-2,5", "--out", str(tmp_path / "b")]) == 0
    for name in ("trajectories.parquet", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert pd.read_parquet(tmp_path / "a" / "trajectories.parquet")["seed"].drop_duplicates().tolist() == [0, 1, 2, 5]


def test_an_unknown_mutation_scheme_is_refused_on_a_table_of_some_cells(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """On a table holding only some cells a mutation is a random held neighbour whatever the scheme, so
    `--set mutation='"x"'` ran there (exit 0, the manifest recording mutation 'x'); on the full table it
    was refused (at its first child, as "failed in ask(): ArchError: ..."). Now both refuse it before the runs."""
    for table in ("digits-sample", "digits"):
        assert main(["search", "--table", table, "--strategy", "rea", "--set", 'mutation="x"', "--seeds", "0",
                     "--max-queries", "40", "--workers", "1", "--out", str(tmp_path / table)]) == 2
        err = capsys.readouterr().err
        assert err == ("nasbench: error: strategy 'rea': setting mutation='x' must be one of 'node_then_edge', "
                       "'uniform_edge'\n")
        assert not (tmp_path / table).exists()


def test_timing_counts_the_processes_that_ran_not_the_workers_asked_for(search_table: Benchmark, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A pool starts no more processes than there are tasks: with 2 seeds, --workers 8 starts 2, and
    timing.json and the printed line said 8."""
    assert main(["search", "--table", str(search_table.path), "--strategy", "random", "--seeds", "0-1",
                 "--max-queries", "5", "--workers", "8", "--out", str(tmp_path / "o")]) == 0
    assert " s wall with 2 process(es) (local)" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "timing.json").read_text())["processes"] == 2
