"""`nasbench compare` and `nasbench report`: configs, runs folders, statistics and byte-identical reports.

The table here holds GENERATED values (tests/fixture_tables.py), not training results; the
weight-sharing run trains a real C=4 supernet on the synthetic dataset for one epoch.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nasbench_suite.cli import main
from nasbench_suite.compare_config import DEFAULT_CONFIG, MAX_BOOTSTRAP, ConfigError, embedded_configs, load_config, parse_config
from nasbench_suite.report import stats
from nasbench_suite.strategy import strategy_names
from tests.fixture_runs import figures_not_rendered

CONFIG = """
name = "toy"
table = "{table}"
seeds = "0-3"
workers = 1

[budget]
queries = 15

[latency]
source = "{latency}"

[report]
bootstrap = 200

[[strategy]]
name = "random"

[[strategy]]
name = "rea"
label = "rea-small"
settings = {{ population = 5, sample_size = 2 }}

[[strategy]]
name = "local-search"

[[strategy]]
name = "nsga2"
settings = {{ population = 4 }}
"""
WEIGHT_SHARING = """
[weight_sharing]
methods = ["gdas"]
seeds = "0-1"
epochs = 1
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A full-coverage generated table with a synthetic-data protocol, a generated latency CSV and two
    configs (with and without a weight-sharing method)."""
    from nasbench_suite.table import build_table
    from nasbench_suite.train import Protocol
    from tests.fixture_tables import search_results

    root = tmp_path_factory.mktemp("compare")
    protocol = Protocol("synthetic", channels=4, cells=1, epochs=3, batch_size=100)
    table = root / "toy-table"
    build_table(search_results(seeds=(0, 1), epochs=3), table, name="toy-table",
                metadata={"dataset": {"name": "synthetic"}, "protocol": protocol.to_dict(),
                          "description": "generated values for tests (not trained)"})
    rng = np.random.default_rng(5)
    csv = root / "devices.csv"
    pd.DataFrame({"arch_index": np.arange(15625), "toy_ms": rng.uniform(1, 3, 15625)}).to_csv(csv, index=False)
    text = CONFIG.format(table=table.as_posix(), latency=f"{csv.as_posix()}:toy_ms")
    (root / "replay.toml").write_text(text)
    (root / "full.toml").write_text(text + WEIGHT_SHARING)
    return {"root": root, "table": table, "replay": root / "replay.toml", "full": root / "full.toml"}


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` except the wall-clock ``timing.json`` of each run."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "timing.json"}


@pytest.fixture(scope="module")
def full_run(toy: dict[str, Path]) -> Path:
    out = toy["root"] / "full"
    assert main(["compare", "--config", str(toy["full"]), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def replay_run(toy: dict[str, Path]) -> Path:
    """The replay config's compare (one worker process), shared by the tests that read it or copy it."""
    out = toy["root"] / "replay-a"
    assert main(["compare", "--config", str(toy["replay"]), "--out", str(out), "--workers", "1"]) == 0
    return out


def test_compare_writes_runs_and_a_complete_report(full_run: Path) -> None:
    runs = full_run / "runs"
    record = json.loads((runs / "compare.json").read_text())
    assert [label for label, _ in record["replayed"]] == ["random", "rea-small", "local-search", "nsga2"]
    assert record["table"]["name"] == "toy-table" and record["table"]["content_hash"].startswith("sha256:")
    assert record["latency"]["kind"] == "third-party" and record["latency"]["key"] == "toy_ms"
    for label in ("random", "rea-small", "local-search", "nsga2"):
        frame = pd.read_parquet(runs / "replayed" / label / "trajectories.parquet")
        assert sorted(frame["seed"].unique()) == [0, 1, 2, 3] and frame.groupby("seed").size().max() <= 15
    ws = pd.read_parquet(runs / "weight_sharing" / "gdas" / "trajectories.parquet")
    assert list(ws["seed"]) == [0, 1] and (ws["measured_seconds"] > 0).all()

    final = pd.read_csv(full_run / "final.csv")
    assert list(final["strategy"]) == ["random", "rea-small", "local-search", "nsga2"]
    random_final = pd.read_parquet(runs / "replayed" / "random" / "trajectories.parquet").groupby("seed").tail(1)
    assert final.loc[0, "test_acc_mean"] == pytest.approx(random_final["incumbent_test_acc"].mean(), rel=1e-5)
    assert (final["queries_mean"] <= 15).all()
    md = (full_run / "index.md").read_text()
    for heading in ("Anytime performance", "Final results", "Ranks and significance", "Accuracy and latency",
                    "Weight sharing (measured)", "Manifest"):
        assert f"## {heading}" in md
    for fig in ("anytime", "final", "cd", "latency", "weight_sharing"):
        assert f"(figures/{fig}.png)" in md
        assert (full_run / "figures" / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "measured: " in md and "replayed (simulated s)" in md
    assert "Caveats" not in md  # shipped strategies neither stop early nor name unqueried cells: nothing to note
    html = (full_run / "index.html").read_text()
    assert html.count('src="data:image/png;base64,') == 5 and "http" not in html.replace("http-equiv", "")
    ranks = pd.read_csv(full_run / "ranks.csv", index_col="seed")
    assert ranks.shape == (4, 4) and np.allclose(ranks.sum(axis=1), 1 + 2 + 3 + 4)
    hv = pd.read_csv(full_run / "hypervolume.csv")
    assert list(hv.groupby("strategy", sort=False).size().items()) == [
        ("random", 4), ("rea-small", 4), ("local-search", 4), ("nsga2", 4)]
    assert ((hv["hypervolume_ratio"] > 0) & (hv["hypervolume_ratio"] <= 1)).all()
    assert "hypervolume of queried cells / front's" in md


def test_cells_parquet_holds_every_cells_final_test_accuracy_latency_and_the_tables_front(
        toy: dict[str, Path], full_run: Path) -> None:
    """The latency view's background: table test accuracy (last epoch, mean over seeds), the config's latency,
    and the front of high accuracy at low latency; a table of every cell records no cell count."""
    from nasbench_suite.table import load_table

    bench = load_table(toy["table"])
    cells = pd.read_parquet(full_run / "runs" / "cells.parquet")
    assert cells["arch_index"].tolist() == bench.arch_indices.tolist()
    assert cells["test_acc"].to_numpy() == pytest.approx(bench.array("test", "acc", epoch=bench.max_epoch))
    from nasbench_suite.space import nb201_order

    csv, latency = pd.read_csv(toy["root"] / "devices.csv"), np.full(15625, np.nan)
    latency[nb201_order()[csv["arch_index"].to_numpy()]] = csv["toy_ms"].to_numpy()  # NAS-Bench-201's numbering
    assert cells["latency_ms"].to_numpy() == pytest.approx(latency[bench.arch_indices])
    order = cells.sort_values(["latency_ms", "test_acc"], ascending=[True, False], kind="stable")
    best_before = np.maximum.accumulate(np.r_[-np.inf, order["test_acc"].to_numpy()[:-1]])
    assert order["pareto"].tolist() == (order["test_acc"].to_numpy() > best_before).tolist()
    record = json.loads((full_run / "runs" / "compare.json").read_text())
    assert "cells" not in record["table"] and "It holds" not in (full_run / "index.md").read_text()


def test_the_latency_and_weight_sharing_rows_of_the_report_by_hand(full_run: Path) -> None:
    """Per strategy: the median latency of its final cells, how many are on the table's front, the front's size,
    the hypervolume ratio's mean and std (ddof 1); the weight-sharing row's mean measured seconds per run."""
    runs = full_run / "runs"
    cells = pd.read_parquet(runs / "cells.parquet")
    front = set(cells.loc[cells["pareto"], "arch_index"])
    md = (full_run / "index.md").read_text()
    points = len(cells.loc[cells["pareto"], ["test_acc", "latency_ms"]].drop_duplicates())
    size = f"{len(front)} cells" + (f", {points} distinct points: isomorphic cells share accuracy and latency"
                                    if points < len(front) else "")
    assert f"the table's Pareto front ({size}) of" in md and len(front) < len(cells)
    hv = pd.read_csv(full_run / "hypervolume.csv")
    for label in ("random", "rea-small", "local-search", "nsga2"):
        final = stats.finals(pd.read_parquet(runs / "replayed" / label / "trajectories.parquet"))
        ratio = hv.loc[hv["strategy"] == label, "hypervolume_ratio"]
        on_front = int(final["incumbent_index"].isin(front).sum())
        assert (f"| {label} | {final['incumbent_latency'].median():.3f} | {on_front} | "
                f"{ratio.mean():.3f} ± {ratio.std(ddof=1):.3f} |") in md
    ws = stats.finals(pd.read_parquet(runs / "weight_sharing" / "gdas" / "trajectories.parquet"))
    assert f"| gdas | measured: {ws['measured_time'].mean():.1f} s/run wall | 2 |" in md


def _summary_cells(values: list[float]) -> str:
    """A final-results row's "mean ± std | median [IQR]" cells by hand (the statistics module: std ddof 1, linear
    quartiles), 2 decimals."""
    import statistics

    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} | "
            f"{statistics.median(values):.2f} [{q3 - q1:.2f}]")


def test_the_weight_sharing_row_by_hand_on_three_seeds_of_ten_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy compare's weight-sharing runs are 2 seeds of 1 epoch, where median = mean and every row's epochs
    are the last: on the committed digits runs (GDAS, 3 seeds, 10 supernet epochs) the row's median, IQR, mean
    wall seconds of the last epochs and the epochs shown are checked by hand."""
    import statistics

    from nasbench_suite.report.build import build_report
    from tests.fixture_runs import few_runs_copy

    runs = few_runs_copy(tmp_path / "runs")
    figures_not_rendered(monkeypatch)  # the table is checked
    build_report(runs, tmp_path / "report")
    ws = pd.read_parquet(runs / "weight_sharing" / "gdas" / "trajectories.parquet")
    last = [run.sort_values("epochs").iloc[-1] for _, run in ws.groupby("seed")]
    acc = [float(r[stats.ACC]) for r in last]
    assert len(last) == 3 and ws["epochs"].nunique() == 10 and statistics.median(acc) != statistics.mean(acc)
    assert (f"| gdas | measured: {statistics.mean(float(r['measured_time']) for r in last):.1f} s/run wall | 3 | "
            f"{_summary_cells(acc)} | {_summary_cells([float(r[stats.REGRET]) for r in last])} | "
            f"{int(max(r['epochs'] for r in last))} supernet epochs |") in (tmp_path / "report" / "index.md").read_text()


def test_the_final_results_and_mean_rank_rows_of_the_report_by_hand(full_run: Path) -> None:
    """index.md's tables from the trajectories alone, with the standard library's statistics: per run its last
    result; mean ± std (ddof 1), median [IQR: 75th - 25th percentile, linear], 2 decimals; queries = results told
    per run, mean, no decimals; the weight-sharing row likewise with its supernet epochs; and the mean rank per
    strategy (1 = best final test accuracy within a seed, ties averaged), best first, 2 decimals."""
    import statistics

    cells = _summary_cells
    runs, md = full_run / "runs", (full_run / "index.md").read_text()
    labels, acc = ["random", "rea-small", "local-search", "nsga2"], {}
    for label in labels:
        frame = pd.read_parquet(runs / "replayed" / label / "trajectories.parquet")
        last = [run.iloc[-1] for _, run in frame.groupby("seed")]
        acc[label] = {int(r["seed"]): float(r[stats.ACC]) for r in last}
        told = [len(run) for _, run in frame.groupby("seed")]
        assert (f"| {label} | replayed (simulated s) | 4 | {cells([float(r[stats.ACC]) for r in last])} | "
                f"{cells([float(r[stats.REGRET]) for r in last])} | {statistics.mean(told):.0f} |") in md
    ws = pd.read_parquet(runs / "weight_sharing" / "gdas" / "trajectories.parquet")
    last = [run.iloc[-1] for _, run in ws.groupby("seed")]
    assert (f"| gdas | measured: {statistics.mean(float(r['measured_time']) for r in last):.1f} s/run wall | 2 | "
            f"{cells([float(r[stats.ACC]) for r in last])} | {cells([float(r[stats.REGRET]) for r in last])} | "
            f"{int(ws['epochs'].max())} supernet epochs |") in md
    mean_rank = {label: statistics.mean(
        1 + sum(acc[o][seed] > acc[label][seed] for o in labels) + sum(acc[o][seed] == acc[label][seed] for o in labels if o != label) / 2
        for seed in range(4)) for label in labels}
    order = sorted(labels, key=lambda label: mean_rank[label])  # stable: ties in config order
    rows = "\n".join(f"| {label} | {mean_rank[label]:.2f} |" for label in order)
    assert f"| strategy | mean rank |\n| --- | --- |\n{rows}\n" in md


@pytest.mark.parametrize("friedman_p, said", [(0.5, True), (0.001, False)])
def test_a_nemenyi_diagram_after_a_friedman_test_that_does_not_reject_says_so(
        full_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, friedman_p: float, said: bool) -> None:
    """The critical-difference bars were shown with the same words whether or not the Friedman test rejected."""
    import dataclasses

    from nasbench_suite.report import build, stats

    real = stats.rank_tests
    monkeypatch.setattr(stats, "rank_tests", lambda *a: dataclasses.replace(real(*a), friedman_p=friedman_p))
    figures_not_rendered(monkeypatch)  # the words are checked
    build.build_report(full_run / "runs", tmp_path)
    section = (tmp_path / "index.md").read_text().split("## Ranks and significance\n\n", 1)[1].split("\n\n", 1)[0]
    assert ("a post-hoc test is read only where the Friedman test rejects" in section) is said
    assert ("cannot be told apart" in section) is said


def test_hypervolume_ratios_of_the_cells_each_run_queried() -> None:
    """Worked by hand: cells A (90%, 1 ms), B (80, 0.5), C (70, 2), D (60, 3); reference (60, 3); the table's
    front A, B dominates 20 x 0.5 + 30 x 2 = 70. Seed 0 queried A, C and A again (60 of 70); seed 1 B, D and
    a cell without a latency (B alone: 20 x 2.5 = 50); seed 2 B then A, the whole front (70 of 70)."""
    from nasbench_suite.report.stats import hypervolume_ratios

    cells = pd.DataFrame({"arch_index": [10, 11, 12, 13], "test_acc": [90.0, 80.0, 70.0, 60.0],
                          "latency_ms": [1.0, 0.5, 2.0, 3.0]})
    frame = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1, 2, 2], "arch_index": [10, 12, 10, 11, 13, 99, 11, 10]})
    ratios = hypervolume_ratios(frame, cells)
    assert list(ratios.index) == [0, 1, 2] and ratios.to_numpy() == pytest.approx([60 / 70, 50 / 70, 1.0])
    # cells of one latency: the reference point's latency is theirs, so the front dominates no area and a
    # ratio is undefined (NaN), not a ZeroDivisionError
    flat = pd.DataFrame({"arch_index": [10, 11], "test_acc": [90.0, 80.0], "latency_ms": [1.0, 1.0]})
    assert hypervolume_ratios(frame, flat).isna().all()


def test_rerunning_a_config_into_its_folder_is_byte_identical(toy: dict[str, Path], full_run: Path) -> None:
    before = _files(full_run)
    assert main(["compare", "--config", str(toy["full"]), "--out", str(full_run)]) == 0
    after = _files(full_run)
    assert before.keys() == after.keys() and all(before[k] == after[k] for k in before), \
        [k for k in before if before[k] != after.get(k)]


def test_a_replay_config_gives_identical_files_in_two_folders(toy: dict[str, Path], replay_run: Path) -> None:
    b = toy["root"] / "replay-b"
    assert main(["compare", "--config", str(toy["replay"]), "--out", str(b), "--workers", "2"]) == 0
    fa, fb = _files(replay_run), _files(b)
    assert fa.keys() == fb.keys() and sorted(k for k in fa if fa[k] != fb[k]) == ["runs/compare.json"]
    # only the recorded worker count differs; the results, figures and report do not
    ja, jb = json.loads(fa["runs/compare.json"]), json.loads(fb["runs/compare.json"])
    assert ja["config"].pop("workers") == 1 and jb["config"].pop("workers") == 2 and ja == jb


def test_a_folder_named_by_bytes_that_are_not_utf8_works_like_any_other(toy: dict[str, Path], replay_run: Path,
                                                                         tmp_path: Path) -> None:
    # pyarrow was given the paths and encodes them as UTF-8, not as the file system does: a folder named
    # b"caf\xe9" (a Latin-1 name on a UTF-8 system) stopped compare with a UnicodeEncodeError traceback,
    # and under a Latin-1 locale 'caf\xe9' was written to a folder named b"caf\xc3\xa9" (not found)
    odd = tmp_path / os.fsdecode(b"caf\xe9")
    assert main(["compare", "--config", str(toy["replay"]), "--out", str(odd), "--workers", "1"]) == 0
    assert main(["report", str(odd / "runs"), "--out", str(odd / "again")]) == 0
    # the same files as the same compare into a plain folder (replay_run), and the report again is its report
    plain = _files(replay_run)
    plain.update({f"again/{k}": v for k, v in plain.items() if not k.startswith("runs/")})
    fa = _files(odd)
    assert fa.keys() == plain.keys() and all(fa[k] == plain[k] for k in fa), [k for k in fa if fa[k] != plain.get(k)]


def test_report_regenerates_from_runs_alone_byte_identically(toy: dict[str, Path], full_run: Path,
                                                             tmp_path: Path) -> None:
    """The report reads the runs folder and nothing else: with the table and the latency CSV the runs were
    made from gone (a runs folder received without them), it is the report compare wrote."""
    hidden = {p: p.with_name(f"{p.name}.hidden") for p in (toy["table"], toy["root"] / "devices.csv")}
    for p, q in hidden.items():
        p.rename(q)
    try:
        assert main(["report", str(full_run / "runs"), "--out", str(tmp_path / "r1")]) == 0
        r1 = _files(tmp_path / "r1")
        (tmp_path / "r1" / "figures" / "from_an_earlier_config.png").write_bytes(b"stale")
        assert main(["report", str(full_run / "runs"), "--out", str(tmp_path / "r1")]) == 0  # the same again
    finally:
        for p, q in hidden.items():
            q.rename(p)
    original = {k: v for k, v in _files(full_run).items() if not k.startswith("runs/")}
    assert r1 and original == r1
    assert _files(tmp_path / "r1") == r1  # a report rewritten in place keeps nothing of an earlier one


@pytest.mark.parametrize("inside", ["replayed", "replayed/random/figures"])
def test_a_report_is_never_written_inside_its_runs_folder(inside: str, full_run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``nasbench report RUNS --out RUNS/replayed`` wrote index.md, final.csv and figures/ among the stored
    runs (or into a new folder inside a strategy's own one) and exited 0."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    before = _files(runs)
    assert main(["report", str(runs), "--out", str(runs / inside)]) == 2
    err = capsys.readouterr().err
    assert f"is inside the runs folder {runs}" in err and len(err.strip().splitlines()) == 1, err
    assert _files(runs) == before


def test_report_of_a_folder_inside_the_runs_says_it_is_no_runs_folder(full_run: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``nasbench report RUNS/replayed`` said "RUNS is a compare runs folder (compare.json); choose another output
    folder", of an --out never given (the default, the given folder's parent)."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    assert main(["report", str(runs / "replayed")]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: {runs / 'replayed'} is not a compare runs folder: no compare.json (make one with " \
                  "nasbench compare)\n", err


@pytest.mark.parametrize("command", ["search", "darts"])
def test_search_and_darts_never_write_inside_a_compare_runs_folder(command: str, toy: dict[str, Path], full_run: Path,
                                                                   tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``nasbench search ... --out RUNS/replayed/random --overwrite`` replaced the compare's stored runs of that
    strategy (one seed of two, say), and ``nasbench report RUNS`` then reported them as the compare's without a
    word; darts wrote its own results there."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    before = _files(runs)
    argv = {"search": ["search", "--strategy", "random", "--seeds", "0", "--max-queries", "3", "--workers", "1"],
            "darts": ["darts", "--method", "rsps", "--seeds", "0", "--epochs", "1"]}[command]
    for out in (runs / "replayed" / "random", runs / "replayed" / "new"):
        assert main([*argv, "--table", str(toy["table"]), "--out", str(out), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert f"is inside the compare runs folder {runs.resolve()}" in err and len(err.strip().splitlines()) == 1, err
    assert _files(runs) == before


def test_the_report_does_not_depend_on_the_worker_count(full_run: Path, tmp_path: Path) -> None:
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    record = json.loads((runs / "compare.json").read_text())
    record["config"]["workers"] = 7  # as `nasbench compare --workers 7` records it
    (runs / "compare.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    assert main(["report", str(runs), "--out", str(tmp_path / "report")]) == 0
    original = {k: v for k, v in _files(full_run).items() if not k.startswith("runs/")}
    assert _files(tmp_path / "report") == original
    md = (full_run / "index.md").read_text()
    assert "## Weight sharing (measured)" in md and "at once" not in md and '"workers"' not in md


TWO_STRATEGIES = """
name = "two"
table = "{table}"
seeds = "{seeds}"
workers = 1

[budget]
queries = 10

[latency]
source = "none"

[[strategy]]
name = "random"

[[strategy]]
name = "rea"
{third}"""


SETTINGS = """
name = "settings"
table = "{table}"
seeds = "0-4"
workers = 1

[budget]
seconds = 100.0
overrun = "{overrun}"
sim_workers = 2

[latency]
source = "none"

[report]
bootstrap = 150
alpha = 0.2

[[strategy]]
name = "random"

[[strategy]]
name = "rea"
settings = {{ population = 3, sample_size = 2 }}

[[strategy]]
name = "local-search"
"""


@pytest.mark.parametrize("overrun", ["strict", "finish"])
def test_the_budget_and_report_settings_of_a_config_reach_the_runs_and_the_report(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrun: str) -> None:
    """Overrun and simulated workers reach every replayed run; anytime.csv is the median band of each strategy's
    runs on the grid up to the budget (or the last finish), with the config's bootstrap resamples and alpha."""
    config = tmp_path / "c.toml"
    config.write_text(SETTINGS.format(table=toy["table"].as_posix(), overrun=overrun))
    real, bands = stats.median_band, []  # 5 runs' medians: 150 and 1,000 resamples can give the same band

    def median_band(values: np.ndarray, resamples: int, alpha: float, seed: int) -> tuple:
        bands.append((resamples, alpha))
        return real(values, resamples, alpha, seed)

    monkeypatch.setattr(stats, "median_band", median_band)
    figures_not_rendered(monkeypatch)  # runs, anytime.csv and index.md are checked
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    assert bands == [(150, 0.2)] * 6
    monkeypatch.undo()
    runs = tmp_path / "out" / "runs" / "replayed"
    frames = {label: pd.read_parquet(runs / label / "trajectories.parquet") for label in ("random", "rea", "local-search")}
    for label in frames:
        manifest = json.loads((runs / label / "manifest.json").read_text())
        assert (manifest["budget"]["overrun"], manifest["budget"]["seconds"], manifest["workers"]) == (overrun, 100.0, 2)
    last = max(f["finish_time"].max() for f in frames.values())
    assert last > 100 if overrun == "finish" else last < 100
    grid = stats.time_grid(frames, 100.0)
    assert grid[-1] == max(last, 100.0)
    anytime = pd.read_csv(tmp_path / "out" / "anytime.csv")
    assert list(anytime["strategy"].unique()) == list(frames) and (anytime.groupby("strategy").size() == 200).all()
    for k, (label, frame) in enumerate(frames.items()):
        rows = anytime[anytime["strategy"] == label]
        assert rows["time"].to_numpy() == pytest.approx(grid, rel=1e-5)
        for column, seed, name in ((stats.ACC, 2 * k, "acc"), (stats.REGRET, 2 * k + 1, "regret")):
            band = stats.median_band(stats.anytime(frame, grid, column)[1], 150, 0.2, seed=seed)
            for values, part in zip(band, ("median", "low", "high")):
                assert rows[f"{name}_{part}"].to_numpy() == pytest.approx(values, rel=1e-5, nan_ok=True), (label, name, part)
    md = (tmp_path / "out" / "index.md").read_text()
    assert "bands: 80% percentile bootstrap of that median (150 resamples)" in md
    assert "ranks; bars join" in md and f"{stats.rank_tests({k: stats.finals(f) for k, f in frames.items()}, 0.2).critical_difference:.2f} ranks" in md
    assert "at alpha 0.2 the strategies" in md


@pytest.mark.parametrize("seeds, third, reason", [
    ("0-3", "", "need at least 3 strategies, and this comparison has 2."),
    ("0", '\n[[strategy]]\nname = "local-search"\n', "need at least 2 seeds that every strategy ran"),
])
def test_a_report_without_rank_tests_says_why(toy: dict[str, Path], tmp_path: Path, seeds: str, third: str,
                                              reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    figures_not_rendered(monkeypatch)  # which files are written is checked, and the words
    config = tmp_path / "two.toml"
    config.write_text(TWO_STRATEGIES.format(table=toy["table"].as_posix(), seeds=seeds, third=third))
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "index.md").read_text()
    section = md.split("## Ranks and significance\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert section.startswith("Omitted: the Friedman test and Nemenyi's post-hoc test") and reason in section
    assert not (tmp_path / "out" / "ranks.csv").exists() and not (tmp_path / "out" / "figures" / "cd.png").exists()
    assert reason in (tmp_path / "out" / "index.html").read_text()


def test_the_latency_batch_of_a_config_reaches_the_runs_and_the_cells(search_table: object, tmp_path: Path) -> None:
    """``[latency] batch`` picks the batch size whose latencies every replayed run sees (its manifest and latency
    column) and cells.parquet holds; the shipped digits folder times batches 1 and 64. A compare that used
    batch 1 for either was not seen (the toy configs take the default)."""
    from nasbench_suite.compare import run_compare
    from nasbench_suite.latency import load_latency, shipped_latency_folders

    folder = next(p for p in shipped_latency_folders() if p.name.startswith("digits-"))
    config = tmp_path / "b64.toml"
    config.write_text(f'name = "b64"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-1"\nworkers = 1\n'
                      f'[budget]\nqueries = 5\n[latency]\nsource = "{folder.as_posix()}"\nbatch = 64\n'
                      '[[strategy]]\nname = "random"\n')
    runs = run_compare(load_config(config), tmp_path / "runs")
    b64, b1 = load_latency(folder).of(64), load_latency(folder).of(1)
    manifest = json.loads((runs / "replayed" / "random" / "manifest.json").read_text())
    assert manifest["search"]["latency"]["batch"] == 64
    frame = pd.read_parquet(runs / "replayed" / "random" / "trajectories.parquet")
    assert frame["latency"].to_numpy() == pytest.approx(b64[frame["arch_index"].to_numpy()])
    cells = pd.read_parquet(runs / "cells.parquet")
    assert cells["latency_ms"].to_numpy() == pytest.approx(b64[cells["arch_index"].to_numpy()])
    assert not np.allclose(b64[cells["arch_index"].to_numpy()], b1[cells["arch_index"].to_numpy()])


@pytest.mark.parametrize("change, note", [
    (lambda t: t.replace('name = "nsga2"', 'name = "nsga2"\nlabel = "moo"'),
     "Only moo (nsga2) searched with latency as an objective; the others optimize accuracy alone."),
    (lambda t: t.split("[[strategy]]\nname = \"nsga2\"")[0],
     "No strategy here searched with latency as an objective: all optimize accuracy alone."),
])
def test_the_latency_section_names_the_entries_that_searched_with_latency(toy: dict[str, Path], tmp_path: Path,
                                                                          change, note: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """It said "Only nsga2 searched with latency" whatever the config held: also with no nsga2 entry at all, and
    with an nsga2 entry under another label."""
    figures_not_rendered(monkeypatch)  # the words are checked
    config = tmp_path / "c.toml"
    config.write_text(change(toy["replay"].read_text()))
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "index.md").read_text()
    section = md.split("## Accuracy and latency\n\n", 1)[1].split("\n\n", 1)[0]
    assert note in section and note in (tmp_path / "out" / "index.html").read_text()


def test_the_latency_note_does_not_say_a_strategy_of_ones_own_optimizes_accuracy_alone() -> None:
    """It was decided by the strategy's name: a registered strategy of the user's that reads ``Result.latency`` was
    said to "optimize accuracy alone"."""
    from nasbench_suite.report.build import _latency_objective_note

    def entry(name: str, cls: str) -> dict:
        return {"strategy": {"name": name, "class": cls}}

    shipped = {"rea": entry("rea", "algorithms.rea.RegularizedEvolution"), "nsga2": entry("nsga2", "algorithms.nsga2.NSGA2")}
    mine = {"mine": entry("lat-aware", "mylab.LatAware")}
    assert _latency_objective_note(shipped) == \
        "Only nsga2 searched with latency as an objective; the others optimize accuracy alone."
    assert _latency_objective_note({**shipped, **mine}) == (
        "Only nsga2 searched with latency as an objective; the shipped others optimize accuracy alone. mine is a "
        "strategy of your own: whether it reads a result's latency is not recorded.")
    assert _latency_objective_note({"rea": shipped["rea"], **mine, "m2": entry("x", "x.X")}) == (
        "No shipped strategy here searched with latency as an objective. mine and m2 are strategies of your own: "
        "whether they read a result's latency is not recorded.")


def test_weight_sharing_runs_are_kept_only_under_the_same_code(toy: dict[str, Path], full_run: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun kept the finished weight-sharing runs whatever the method's or the loop's code had become
    (an edited darts.py with the same settings reused the old results); the identity now holds each
    method's source sha256, and the runs' manifests record it."""
    from nasbench_suite import compare, weight_sharing
    from nasbench_suite.table import load_table

    cfg = load_config(str(toy["full"]))
    identity = compare._ws_identity(cfg, load_table(cfg.table).content_hash)
    assert compare._reusable_ws(full_run / "runs", identity)
    manifest = json.loads((full_run / "runs" / "weight_sharing" / "gdas" / "manifest.json").read_text())
    assert manifest["strategy"]["source_sha256"] == weight_sharing.source_sha256("gdas") == identity["source_sha256"]["gdas"]
    monkeypatch.setattr(weight_sharing, "source_sha256", lambda method: "edited")
    assert not compare._reusable_ws(full_run / "runs", compare._ws_identity(cfg, load_table(cfg.table).content_hash))


def test_the_identity_of_weight_sharing_runs_holds_their_settings_table_and_machine(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finished weight-sharing runs are kept by a rerun only under the same identity: other epochs, seeds or
    method settings, another table or another machine must train them again (measured seconds are this machine's).
    So are those a stopped compare left staged: its staging folder is emptied for a rerun of another identity."""
    import dataclasses

    from nasbench_suite import compare

    cfg = load_config(str(toy["full"]))
    same = compare._ws_identity(cfg, "sha256:t")
    assert compare._ws_identity(load_config(str(toy["full"])), "sha256:t") == same
    ws = cfg.weight_sharing
    for other in (dataclasses.replace(ws, epochs=2), dataclasses.replace(ws, seeds=(0, 1, 2)),
                  dataclasses.replace(ws, settings={"gdas": {"tau_max": 8}})):
        assert compare._ws_identity(dataclasses.replace(cfg, weight_sharing=other), "sha256:t") != same
    assert compare._ws_identity(cfg, "sha256:u") != same
    staging = compare._ws_staging(tmp_path, same)
    (staging / "gdas").mkdir()  # a method the stopped compare finished
    assert compare._ws_staging(tmp_path, same) == staging and (staging / "gdas").is_dir()
    other = compare._ws_identity(dataclasses.replace(cfg, weight_sharing=dataclasses.replace(ws, epochs=2)), "sha256:t")
    assert compare._ws_staging(tmp_path, other) == staging and not (staging / "gdas").exists()
    monkeypatch.setattr(compare, "machine", lambda: {"hash": "another machine"})
    assert compare._ws_identity(cfg, "sha256:t") != same


def test_compare_does_not_replace_another_configs_runs(toy: dict[str, Path], full_run: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    before = _files(full_run)
    assert main(["compare", "--config", str(toy["replay"]), "--out", str(full_run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another config" in err and "--overwrite" in err
    assert _files(full_run) == before


def test_a_compare_stopped_while_writing_its_runs_leaves_the_old_runs_whole(
        toy: dict[str, Path], replay_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """`compare --overwrite` removed the old replayed runs, then wrote the new ones one strategy at a time:
    stopped in between, the folder held the old compare.json (its config) beside some new runs."""
    from nasbench_suite.search import SearchResults

    out = tmp_path / "out"
    shutil.copytree(replay_run, out)  # the folder a compare of the replay config made
    before = _files(out)
    config = tmp_path / "more.toml"
    config.write_text(toy["replay"].read_text().replace('seeds = "0-3"', 'seeds = "0-5"'))
    real, written = SearchResults.write, []

    def stopped_at_the_second(self: SearchResults, *args: object, **kwargs: object) -> object:
        if written:
            raise KeyboardInterrupt
        written.append(real(self, *args, **kwargs))
        return written[-1]

    monkeypatch.setattr(SearchResults, "write", stopped_at_the_second)
    assert main(["compare", "--config", str(config), "--out", str(out), "--overwrite"]) == 130
    assert {k: v for k, v in _files(out).items()  # the staged runs are kept for the rerun to read back
            if not k.startswith(("runs/.replayed.tmp/", "runs/.replayed.partial/"))} == before
    monkeypatch.undo()
    capsys.readouterr()
    figures_not_rendered(monkeypatch)  # the runs and final.csv are checked
    assert main(["compare", "--config", str(config), "--out", str(out), "--overwrite"]) == 0
    assert not (out / "runs" / ".replayed.tmp").exists() and not (out / "runs" / ".replayed.partial").exists()
    assert pd.read_csv(out / "final.csv")["runs"].tolist() == [6, 6, 6, 6]


TWO_METHODS = """
name = "two-methods"
table = "{table}"
seeds = "0"
workers = 1

[budget]
queries = 3

[latency]
source = "none"

[[strategy]]
name = "random"

[weight_sharing]
methods = ["gdas", "darts-v1"]
seeds = "0"
epochs = 1
"""


def test_a_compare_stopped_between_weight_sharing_methods_runs_only_the_unfinished_ones_again(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each weight-sharing method's runs (hours each on real data) were kept only once every method had
    finished: a stop after the first of two methods ran both again. Now each is kept as it finishes.

    The config is the least that has two methods (one replayed strategy and one seed, one weight-sharing seed,
    darts-v1 the second method as the quickest to train after gdas): what is staged, kept and run again does not
    depend on how many runs each method makes or how many strategies are replayed beside them."""
    from nasbench_suite.search import SearchResults

    config = tmp_path / "two.toml"
    config.write_text(TWO_METHODS.format(table=toy["table"].as_posix()))
    out = tmp_path / "out"
    real = SearchResults.write

    def stopped_at_the_second(self: SearchResults, path: Path, *args: object, **kwargs: object) -> object:
        if Path(path).name == "darts-v1" and Path(path).parent.name == ".weight_sharing.tmp":
            raise KeyboardInterrupt
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(SearchResults, "write", stopped_at_the_second)
    assert main(["compare", "--config", str(config), "--out", str(out)]) == 130
    gdas = out / "runs" / ".weight_sharing.tmp" / "gdas"
    assert not (gdas.parent / "darts-v1").exists()
    kept = {name: (gdas / name).read_bytes() for name in ("trajectories.parquet", "timing.json")}
    monkeypatch.undo()
    figures_not_rendered(monkeypatch)  # the runs are checked, not the report
    assert main(["compare", "--config", str(config), "--out", str(out)]) == 0
    ws = out / "runs" / "weight_sharing"
    assert sorted(p.name for p in ws.iterdir()) == ["darts-v1", "gdas"] and not gdas.parent.exists()
    # read back, not run again: timing.json holds the wall-clock seconds of the first execution
    assert {name: (ws / "gdas" / name).read_bytes() for name in kept} == kept
    assert not (ws / ".identity.json").exists()
    # every method finished, stopped while compare.json was written: the runs were in place already, and the
    # rerun (no compare.json naming their identity) trained them all again; now they are put in place after it
    from nasbench_suite import compare

    # new weight-sharing runs: their seeds, not the replayed strategy's
    config.write_text(config.read_text().replace('seeds = "0"\nepochs', 'seeds = "1"\nepochs'))
    assert 'seeds = "1"' in config.read_text()
    real_write = compare.atomic_write_text

    def stopped_writing_compare_json(path: Path, text: str) -> None:
        if path.name == "compare.json":
            raise KeyboardInterrupt
        real_write(path, text)

    monkeypatch.setattr(compare, "atomic_write_text", stopped_writing_compare_json)
    assert main(["compare", "--config", str(config), "--out", str(out), "--overwrite"]) == 130
    monkeypatch.setattr(compare, "atomic_write_text", real_write)
    kept = {name: (gdas / name).read_bytes() for name in ("trajectories.parquet", "timing.json")}
    assert main(["compare", "--config", str(config), "--out", str(out)]) == 0
    assert {name: (ws / "gdas" / name).read_bytes() for name in kept} == kept and not gdas.parent.exists()


def test_a_compare_of_one_worker_starts_no_process_and_gives_the_runs_of_two(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``workers = 1`` ran the replays in this process but the weight-sharing methods in a spawned pool of one
    process (2-3 s to start: it imports torch). Now it starts no process: not for a run, nor for a run resumed
    after a ``kill PID`` in the middle of the second method's training (stopped at once, the first method kept,
    as with the pool). The runs are those ``--workers 2`` makes in its spawned pools (measured seconds aside)."""
    import multiprocessing.process
    import signal

    from nasbench_suite import weight_sharing

    def no_process(self: object) -> None:
        raise AssertionError("compare started a process with workers = 1")

    config = tmp_path / "two.toml"
    config.write_text(TWO_METHODS.format(table=toy["table"].as_posix()))  # workers = 1
    figures_not_rendered(monkeypatch)  # the runs are compared, not the report
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", no_process)
    real_run_one, trained = weight_sharing.run_one, []

    def killed_in_darts_v1(bench: object, method: str, *args: object, **kwargs: object) -> object:
        trained.append(method)
        if method == "darts-v1" and trained.count(method) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # `kill PID` while it trains: main's handler stops it here
        return real_run_one(bench, method, *args, **kwargs)

    monkeypatch.setattr(weight_sharing, "run_one", killed_in_darts_v1)
    one = tmp_path / "one"
    assert main(["compare", "--config", str(config), "--out", str(one)]) == 143
    staged = one / "runs" / ".weight_sharing.tmp"
    assert (staged / "gdas" / "timing.json").is_file() and not (staged / "darts-v1").exists()
    assert main(["compare", "--config", str(config), "--out", str(one)]) == 0
    assert trained == ["gdas", "darts-v1", "darts-v1"]  # the rerun trained only the method the stop cut short
    monkeypatch.undo()  # the pools of --workers 2 start processes
    figures_not_rendered(monkeypatch)
    two = tmp_path / "two"
    assert main(["compare", "--config", str(config), "--out", str(two), "--workers", "2"]) == 0
    fa, fb = _files(one / "runs"), _files(two / "runs")
    assert fa.keys() == fb.keys()
    ja, jb = json.loads(fa.pop("compare.json")), json.loads(fb.pop("compare.json"))
    assert ja["config"].pop("workers") == 1 and jb["config"].pop("workers") == 2 and ja == jb
    for method in ("gdas", "darts-v1"):  # measured wall seconds differ from one execution to the next
        ta, tb = (pd.read_parquet(io.BytesIO(f.pop(f"weight_sharing/{method}/trajectories.parquet")))
                  for f in (fa, fb))
        assert len(ta) == 1
        measured = ["measured_seconds", "measured_time"]
        pd.testing.assert_frame_equal(ta.drop(columns=measured), tb.drop(columns=measured))
    assert fa == fb


def test_report_on_runs_whose_weight_sharing_runs_a_stop_left_staged_says_to_finish_the_compare(
        full_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Stopped after compare.json was written, before its weight-sharing runs were put in place: the report
    said only 'cannot read the run in runs/weight_sharing/gdas'."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    (runs / "weight_sharing").rename(runs / ".weight_sharing.tmp")
    assert main(["report", str(runs), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the same nasbench compare again" in err


@pytest.mark.parametrize("change, field", [
    (lambda t: t.replace('seeds = "0-3"', 'seeds = "3-1"'), "config field seeds"),
    (lambda t: t.replace('queries = 15', 'queries = 0'), "budget.queries"),
    (lambda t: t.replace('queries = 15', 'seconds = "long"'), "budget.seconds"),
    # the field, not a later refusal that says "budget" or "table" too (the simulator's, load_table's)
    (lambda t: t.replace('[budget]\nqueries = 15', '[budget]'), "config field budget: give seconds"),
    (lambda t: t.replace('name = "rea"', 'name = "reaa"'), "strategy[1].name"),
    (lambda t: t.replace('population = 5,', 'populaton = 5,'), "strategy[1].settings"),
    (lambda t: t.replace('label = "rea-small"', 'label = "random"'), "config field strategy: label 'random' is used twice"),
    (lambda t: t.replace('label = "rea-small"', 'label = "a/b"'), "strategy[1].label"),
    (lambda t: t.replace('workers = 1', 'workers = 1\nwokers = 2'), "wokers"),
    (lambda t: t.replace('bootstrap = 200', 'bootstrap = 10'), "report.bootstrap"),
    (lambda t: t + WEIGHT_SHARING.replace('"gdas"', '"darts-v3"'), "weight_sharing.methods[0]"),
    (lambda t: t + WEIGHT_SHARING.replace('epochs = 1', 'epochs = -1'), "weight_sharing.epochs"),
    (lambda t: t + WEIGHT_SHARING + "[weight_sharing.settings.gdas]\ntaux = 10\n", "weight_sharing.settings.gdas"),
    (lambda t: t + WEIGHT_SHARING + "[weight_sharing.settings.gdas]\nbn_scoring = \"nope\"\n",
     "weight_sharing.settings.gdas: setting bn_scoring='nope' must be one of"),
    (lambda t: t + "[weight_sharing]\nepochs = 1\n", "weight_sharing.methods"),
    (lambda t: t.replace('table = ', 'table = 3 #'), "config field table"),
    (lambda t: t + "\n[[strategy\n", "not valid TOML"),
    # the next six were tracebacks (TypeError, MemoryError, OverflowError) or ran with the bad value
    (lambda t: t.replace('settings = { population = 5, sample_size = 2 }', 'settings = 5'),
     "strategy[1].settings: expected a table, got int"),
    (lambda t: t + WEIGHT_SHARING + "[weight_sharing.settings]\ngdas = 5\n",
     "weight_sharing.settings.gdas: expected a table, got int"),
    (lambda t: t + WEIGHT_SHARING.replace('["gdas"]', '[["gdas"]]'), "weight_sharing.methods[0]: unknown method"),
    (lambda t: t.replace('seeds = "0-3"', 'seeds = "0-99999999999"'), "seeds: '0-99999999999' expands to"),
    (lambda t: t.replace('seeds = "0-3"', 'seeds = [9223372036854775808]'), "seeds: seeds must be at most 2**63 - 1"),
    (lambda t: t.replace('{ population = 4 }', '{ population = 4, crossover = 1.5 }'),
     "strategy 'nsga2': setting crossover=1.5 must be a finite number in [0, 1] (a probability)"),
])
def test_bad_configs_name_the_field(toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture,
                                    change, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(change(toy["replay"].read_text()))
    assert main(["compare", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nasbench: error:") and field in err, err
    assert not (tmp_path / "out").exists()


MINIMAL = {"name": "x", "table": "digits", "seeds": "0-2", "budget": {"seconds": 5.0}, "strategy": [{"name": "random"}]}


def test_the_fields_a_config_leaves_out_take_their_stated_defaults() -> None:
    """README's [report] row states bootstrap 1000 and alpha 0.05; the budget is strict with one simulated worker,
    2 processes, latency auto at batch 1, and weight-sharing seeds 0-2 (as `nasbench darts`' default)."""
    cfg = parse_config({**MINIMAL, "weight_sharing": {"methods": ["gdas"], "epochs": 1}})
    assert (cfg.overrun, cfg.sim_workers, cfg.workers, cfg.latency, cfg.latency_batch) == ("strict", 1, 2, "auto", 1)
    assert (cfg.budget_seconds, cfg.budget_queries, cfg.weight_sharing.seeds) == (5.0, None, (0, 1, 2))
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert (f"`bootstrap` resamples of the median band (default {cfg.bootstrap}, 100 to {MAX_BOOTSTRAP:,}), `alpha` of "
            f"the tests ({cfg.alpha})"
            in readme) and (cfg.bootstrap, cfg.alpha) == (1000, 0.05)


@pytest.mark.parametrize("change, message", [
    ({"budget": {"seconds": 0}}, "budget.seconds: expected a number in (0.0, inf), got 0"),
    ({"report": {"alpha": 0.0}}, "report.alpha: expected a number in (0.0, 0.5), got 0.0"),
    ({"report": {"alpha": 0.5}}, "report.alpha: expected a number in (0.0, 0.5), got 0.5"),
    ({"report": {"bootstrap": 99}}, "report.bootstrap: expected an integer >= 100, got 99"),
    ({"report": {"bootstrap": 100_001}}, "report.bootstrap: expected at most 100,000 resamples, got 100001"),
    # numpy's ValueError traceback in the report, after every run had finished
    ({"report": {"bootstrap": 10**20}}, "report.bootstrap: expected at most 100,000 resamples"),
    ({"workers": 0}, "workers: expected an integer >= 1, got 0"),
    ({"budget": {"queries": 1_000_001}}, "budget.queries: expected at most 1,000,000 per run, got 1000001"),
    ({"seeds": [0, 1, 1]}, "seeds: seeds must be distinct, at least one"),
    ({"seeds": "3,0-3"}, "seeds: seeds must be distinct, at least one"),
    ({"seeds": [0, -1]}, "seeds[1]: expected an integer >= 0, got -1"),
    ({"budget": {"queries": 3, "overrun": "late"}}, "budget.overrun: 'late' is not one of strict, finish"),
    # recorded in compare.json and never used (search refuses --overrun finish without --budget the same way)
    ({"budget": {"queries": 3, "overrun": "finish"}}, 'budget.overrun: "finish" says what happens at the seconds '
                                                      "budget, and budget.seconds is not given"),
    ({"weight_sharing": {"methods": ["gdas", "gdas"], "epochs": 1}}, "weight_sharing.methods: a method is listed twice"),
    # parsed and never used (search refuses --latency-batch without --latency the same way)
    ({"latency": {"source": "none", "batch": 64}}, 'latency.batch: batch 64 chooses among the latencies of '
                                                    'latency.source, which is "none"'),
    # settings of a method the config does not run were read and never used
    ({"weight_sharing": {"methods": ["gdas"], "epochs": 1, "settings": {"rsps": {"candidates": 5}}}},
     "weight_sharing.settings.rsps: unknown field; known: gdas"),
    ({"weight_sharing": {"methods": ["gdas"], "epochs": 1, "settings": {"gdas": {"bn_scoring": "nope"}}}},
     "weight_sharing.settings.gdas: setting bn_scoring='nope' must be one of"),
    # true is an int to Python (1): a boolean is no count, seed or number of seconds
    ({"workers": True}, "workers: expected an integer >= 1, got True"),
    ({"budget": {"seconds": True}}, "budget.seconds: expected a number in (0.0, inf), got True"),
    ({"table": ""}, "table: expected a non-empty string, got ''"),
    ({"seeds": []}, "seeds: seeds must be distinct, at least one"),  # was max()'s ValueError, not the field
    ({"weight_sharing": {"methods": [], "epochs": 1}},
     "weight_sharing.methods: expected a non-empty list of method names"),
    ({"workers": "2"}, "workers: expected an integer >= 1, got '2'"),  # the string quoted: not the number 2
    ({"weight_sharing": {"methods": ["gdas"], "epochs": 0}}, "weight_sharing.epochs: expected an integer >= 1, got 0"),
    ({"name": "a/b"}, "name: 'a/b' must use letters, digits, '.', '_' or '-' (it names a folder)"),
])
def test_config_bounds_are_refused_naming_the_field(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match="config field " + re.escape(message)):
        parse_config({**MINIMAL, **change})


def test_config_values_at_their_bounds_are_accepted(tmp_path: Path) -> None:
    cfg = parse_config({**MINIMAL, "seeds": [0, 2**63 - 1], "workers": 1, "budget": {"seconds": 1e-9},
                        "report": {"bootstrap": 100, "alpha": 0.49}})
    assert (cfg.seeds, cfg.workers, cfg.bootstrap, cfg.alpha) == ((0, 2**63 - 1), 1, 100, 0.49)
    assert parse_config({**MINIMAL, "report": {"bootstrap": 100_000}}).bootstrap == 100_000
    assert parse_config({**MINIMAL, "latency": {"source": "none", "batch": 1}}).latency_batch == 1  # the default
    assert parse_config({**MINIMAL, "budget": {"seconds": 5, "overrun": "finish"}}).overrun == "finish"
    assert parse_config({**MINIMAL, "budget": {"queries": 3, "overrun": "strict"}}).overrun == "strict"
    # seeds in any order are the config of the same seeds ascending: the same runs, rows and report
    shuffled = parse_config({**MINIMAL, "seeds": "5,0-2", "weight_sharing": {"methods": ["gdas"], "epochs": 1, "seeds": [2, 0]}})
    assert (shuffled.seeds, shuffled.weight_sharing.seeds) == ((0, 1, 2, 5), (0, 2))
    assert shuffled.to_dict() == parse_config({**MINIMAL, "seeds": "0-2,5",
                                               "weight_sharing": {"methods": ["gdas"], "epochs": 1, "seeds": "0,2"}}).to_dict()
    plain = tmp_path / "my-config"  # a config file named without .toml is read like one
    plain.write_text('name = "x"\ntable = "digits"\nseeds = "0"\n[budget]\nqueries = 1\n[[strategy]]\nname = "random"\n')
    assert load_config(plain).name == "x"


def test_a_top_level_field_missing_or_unknown_is_named_without_a_leading_dot() -> None:
    """A field of the document itself is named bare ("name", "wokers"), one of a table with its table's name
    ("budget.sconds"); the unknown field's message lists the known ones."""
    without_name = {k: v for k, v in MINIMAL.items() if k != "name"}
    with pytest.raises(ConfigError, match=r"^config field name: required but missing$"):
        parse_config(without_name)
    with pytest.raises(ConfigError, match=r"^config field wokers: unknown field; known: budget, latency, name, report, "
                                          r"seeds, strategy, table, weight_sharing, workers$"):
        parse_config({**MINIMAL, "wokers": 2})
    with pytest.raises(ConfigError, match=r"^config field budget\.sconds: unknown field; known: overrun, queries, "
                                          r"seconds, sim_workers$"):
        parse_config({**MINIMAL, "budget": {"sconds": 5}})


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    """A config of other bytes than UTF-8 (a Latin-1 é) was a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"cannot read config file {path}: 'utf-8' codec can't decode byte 0xe9 in position "
                                 "11: invalid continuation byte")


def test_a_number_too_long_for_python_is_named_without_pythons_advice(tmp_path: Path) -> None:
    """int() refuses a 5,000-digit integer with advice to call sys.set_int_max_str_digits(), which a config's
    author cannot follow: the message keeps the part before it."""
    path = tmp_path / "long.toml"
    path.write_text("seeds = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    try:  # Python's own words (3.10 says "(4300)", later ones "(4300 digits)"), up to its advice
        int("9" * 5000)
    except ValueError as exc:
        python_says = str(exc).split(";")[0]
    assert python_says.startswith("Exceeds the limit (4300") and "sys.set_int_max_str_digits" not in python_says
    assert str(caught.value) == f"{path} is not valid TOML: a number is too long: {python_says}"


def test_embedded_configs_are_listed_by_name_whatever_order_the_folder_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder's listing order is the file system's (hash order on ext4): the names (and the error that lists
    them) are sorted."""
    from nasbench_suite import compare_config

    class Folder:
        def glob(self, pattern: str) -> list[Path]:
            assert pattern == "*.toml"
            return [Path("/c/zeta.toml"), Path("/c/alpha.toml"), Path("/c/mid.toml")]

    monkeypatch.setattr(compare_config, "CONFIGS_DIR", Folder())
    assert list(embedded_configs()) == ["alpha", "mid", "zeta"]
    assert embedded_configs()["mid"] == Path("/c/mid.toml")


def test_a_config_file_of_another_suffix_is_refused_before_it_is_read(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """Configs are TOML files: a --config path whose suffix is not .toml (in any case) is refused naming that,
    even when its text is a valid config and under --print-default, instead of being read as TOML (a file named
    without a suffix is read like one: test_config_values_at_their_bounds_are_accepted)."""
    text = 'name = "x"\ntable = "digits"\nseeds = "0"\n[budget]\nqueries = 1\n[[strategy]]\nname = "random"\n'
    other = tmp_path / "c.json"
    other.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{other}: configs are TOML files (.toml)")):
        load_config(other)
    assert main(["compare", "--config", str(other), "--print-default"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"nasbench: error: {other}: configs are TOML files (.toml)\n", err
    upper = tmp_path / "c.TOML"
    upper.write_text(text)
    assert load_config(upper).name == "x"


def test_weight_sharing_settings_reach_bn_scoring(toy: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``bn_scoring`` in ``[weight_sharing.settings.<method>]`` goes to the search loop, the rest to the method
    (the config used to refuse it as an unknown setting of the method)."""
    from nasbench_suite import compare, weight_sharing
    from nasbench_suite.compare_config import load_config

    path = tmp_path / "bn.toml"
    path.write_text(toy["full"].read_text() + '[weight_sharing.settings.gdas]\nbn_scoring = "nb201"\ntau_max = 8\n')
    cfg = load_config(path)
    seen: dict[str, object] = {}
    monkeypatch.setattr(weight_sharing, "run_weight_sharing",
                        lambda table, method, seeds, settings, own: seen.update(loop=settings, own=own))
    compare._ws_run((cfg.table, "gdas", cfg.weight_sharing.seeds, cfg.weight_sharing.epochs,
                     dict(cfg.weight_sharing.settings["gdas"])))
    assert seen["loop"].bn_scoring == "nb201" and seen["loop"].epochs == 1 and seen["own"] == {"tau_max": 8}


def test_weight_sharing_epochs_and_settings_of_a_config_reach_the_runs_through_compare(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[weight_sharing] epochs`` and ``[weight_sharing.settings.<method>]`` reach the runs compare makes (the
    test above hands _ws_run its own job; the toy config's 1 epoch is also the smallest, so a job list that
    dropped either was not seen): two epochs per run, the method's tau_max and the loop's bn_scoring."""
    from nasbench_suite.compare import run_compare

    config = tmp_path / "ws.toml"
    config.write_text(f'name = "ws"\ntable = "{toy["table"].as_posix()}"\nseeds = "0"\nworkers = 1\n'
                      '[budget]\nqueries = 3\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n'
                      '[weight_sharing]\nmethods = ["gdas"]\nseeds = "0"\nepochs = 2\n'
                      '[weight_sharing.settings.gdas]\nbn_scoring = "nb201"\ntau_max = 8\n')
    runs = run_compare(load_config(config), tmp_path / "runs")
    manifest = json.loads((runs / "weight_sharing" / "gdas" / "manifest.json").read_text())
    assert manifest["strategy"]["settings"]["tau_max"] == 8
    assert manifest["supernet"]["search_settings"]["epochs"] == 2
    assert manifest["supernet"]["search_settings"]["bn_scoring"] == "nb201"
    frame = pd.read_parquet(runs / "weight_sharing" / "gdas" / "trajectories.parquet")
    assert frame["epochs"].tolist() == [1, 2]


def test_a_setting_refused_at_setup_names_the_strategy(toy: dict[str, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """With several strategies in one compare, "eta must be >= 2, got 1" alone did not say whose it was."""
    path = tmp_path / "eta.toml"
    path.write_text(toy["replay"].read_text() + '\n[[strategy]]\nname = "hyperband"\nsettings = { eta = 1 }\n')
    assert main(["compare", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == ("nasbench: error: strategy 'hyperband': setting eta=1 must be an integer in "
                                       "[2, 1000]\n")

def test_missing_config_and_runs_folder_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a compare runs folder" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["[1, 2]", '"nasbench-compare"', "3", "null"])
def test_a_compare_json_that_is_not_an_object_is_a_clear_error(tmp_path: Path, text: str,
                                                              capsys: pytest.CaptureFixture) -> None:
    """JSON that is not an object (a list, a string, a number) was read with ``.get``: a traceback."""
    (tmp_path / "compare.json").write_text(text + "\n", encoding="utf-8")
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"nasbench: error: {tmp_path / 'compare.json'} is not a nasbench-compare record\n"


def test_the_embedded_default_config_runs_every_replayed_strategy(capsys: pytest.CaptureFixture) -> None:
    cfg = load_config(None)
    assert cfg.table == "digits" and len(cfg.seeds) >= 20 and cfg.weight_sharing is not None
    names = {s.name for s in cfg.strategies}
    assert names == set(strategy_names()) - {"optuna"}  # an optional extra
    assert set(cfg.weight_sharing.methods) == {"darts-v1", "darts-v2", "gdas", "rsps", "enas"}
    assert main(["compare", "--print-default"]) == 0
    assert capsys.readouterr().out == DEFAULT_CONFIG.read_text()
    with pytest.raises(ConfigError, match="config field strategy: expected at least one"):
        parse_config({"name": "x", "table": "digits", "seeds": "0", "budget": {"queries": 1}, "strategy": []})


def test_an_embedded_config_is_named_instead_of_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    assert set(embedded_configs()) >= {"digits-default", "cifar10-16px"}
    cfg = load_config("cifar10-16px")
    assert cfg.table == "cifar10-16px" and cfg.weight_sharing is None and len(cfg.seeds) >= 20
    from nasbench_suite.compare import resolve_latency
    from nasbench_suite.table import load_table
    assert resolve_latency(cfg.latency, load_table(cfg.table))[0] is not None  # nsga2 has its shipped latency
    assert load_config("digits-default") == load_config(None)
    monkeypatch.chdir(tmp_path)  # a file of that name wins over the embedded config
    Path("cifar10-16px").write_text(DEFAULT_CONFIG.read_text())
    assert load_config("cifar10-16px") == load_config(None)
    assert main(["compare", "--config", "no-such-config"]) == 2
    assert "embedded configs: cifar10-16px, digits-default" in capsys.readouterr().err


@pytest.mark.parametrize("extra, named", [(["--out", "elsewhere"], "--out"), (["--workers", "0"], "--workers"),
                                          (["--overwrite", "--import", "mine.py"], "--overwrite, --import")])
def test_print_default_refuses_the_options_of_a_run(extra: list[str], named: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--print-default runs nothing: --out, --workers (even an invalid 0), --overwrite and --import were
    ignored without a word, exit 0."""
    assert main(["compare", "--print-default", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"so it takes no {named};" in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err


def test_print_default_prints_the_config_that_config_names(toy: dict[str, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", "--config", "cifar10-16px", "--print-default"]) == 0
    assert capsys.readouterr().out == embedded_configs()["cifar10-16px"].read_text()
    assert main(["compare", "--print-default", "--config", str(toy["replay"])]) == 0
    assert capsys.readouterr().out == toy["replay"].read_text()
    assert main(["compare", "--print-default", "--config", "no-such-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


# ----- statistics ----------------------------------------------------------------------------------
def test_anytime_is_a_step_function_of_finish_times() -> None:
    frame = pd.DataFrame({"seed": [0, 0, 0, 1], "finish_time": [1.0, 2.0, 5.0, 3.0],
                          "incumbent_test_acc": [50.0, 60.0, 70.0, 40.0]})
    seeds, values = stats.anytime(frame, np.array([0.5, 1.0, 4.0, 5.0, 9.0]))
    assert list(seeds) == [0, 1]
    np.testing.assert_array_equal(values[0], [np.nan, 50, 60, 70, 70])
    np.testing.assert_array_equal(values[1], [np.nan, np.nan, 40, 40, 40])
    median, low, high = stats.median_band(values, 200, 0.05, seed=0)
    assert np.isnan(median[0]) and np.isnan(low[1]) and median[4] == 55 and low[4] <= 55 <= high[4]


def test_the_median_band_resamples_in_bounded_memory_and_gives_the_same_band(monkeypatch: pytest.MonkeyPatch) -> None:
    # scipy resampled every grid column at once (resamples x runs x columns): 1.8 GB of peak RSS for a
    # report of 500 runs per strategy, growing with the runs, where a few MB of results are stored
    import scipy.stats

    rng = np.random.default_rng(0)
    values = rng.normal(90, 2, (150, 60))  # 1000 x 150 x 57 = 8.55M resampled values: two blocks of 2**23
    values[:5, :3] = np.nan  # columns some runs have not reached yet are left out, as before
    whole = scipy.stats.bootstrap((values[:, 3:],), np.median, n_resamples=1000, axis=0, vectorized=True,
                                  confidence_level=0.95, method="percentile", rng=np.random.default_rng(7))
    sizes = []

    def bounded(data: tuple[np.ndarray, ...], *args: object, n_resamples: int, **kwargs: object) -> object:
        sizes.append(n_resamples * data[0].size)
        assert sizes[-1] * 8 <= 64 * 2 ** 20, "more than 64 MiB of resamples at once"
        return real(data, *args, n_resamples=n_resamples, **kwargs)

    real = scipy.stats.bootstrap
    monkeypatch.setattr(scipy.stats, "bootstrap", bounded)
    median, low, high = stats.median_band(values, 1000, 0.05, seed=7)
    assert len(sizes) > 1
    assert np.isnan(low[:3]).all() and np.isnan(high[:3]).all()
    np.testing.assert_array_equal(low[3:], whole.confidence_interval.low)  # the same band, value for value
    np.testing.assert_array_equal(high[3:], whole.confidence_interval.high)


def test_rank_tests_find_a_strategy_that_always_wins() -> None:
    rng = np.random.default_rng(0)
    final = {name: pd.DataFrame({stats.ACC: rng.normal(80, 1, 12) + shift}, index=range(12))
             for name, shift in (("a", 5.0), ("b", 0.0), ("c", 0.1))}
    tests = stats.rank_tests(final, alpha=0.05)
    assert tests is not None and tests.mean_ranks.index[0] == "a" and tests.mean_ranks["a"] == 1.0
    assert tests.friedman_p < 0.01 and tests.nemenyi_p.loc["a", "b"] < 0.05 and tests.nemenyi_p.loc["b", "c"] > 0.05
    # CD = q_0.05(k=3, inf) / sqrt(2) * sqrt(k (k + 1) / (6 N)) = 2.343 * sqrt(12 / 72) (Demsar 2006, table 5)
    assert tests.critical_difference == pytest.approx(2.343 * np.sqrt(12 / 72), abs=2e-3)
    assert stats.rank_tests({"a": final["a"], "b": final["b"]}, alpha=0.05) is None


def test_rank_tests_by_hand_with_a_tie() -> None:
    # per seed, 1 = best test accuracy, ties averaged:
    #   seed 0: a 90, b 80, c 85 -> 1, 3, 2      seed 1: a 70, b 75, c 75 -> 3, 1.5, 1.5
    #   seed 2: a 88, b 60, c 70 -> 1, 3, 2      seed 3: a 50, b 90, c 60 -> 3, 1, 2
    # mean ranks a 2, b 2.125, c 1.875, listed best first: c, a, b. Friedman (Demsar 2006, eq. 1) over rank sums
    # 8, 8.5, 7.5 with n = 4, k = 3: 12 / (n k (k + 1)) * 192.5 - 3 n (k + 1) = 0.125, divided by the tie
    # correction 1 - (2^3 - 2) / (n k (k^2 - 1)) = 0.9375
    acc = {"a": [90.0, 70.0, 88.0, 50.0], "b": [80.0, 75.0, 60.0, 90.0], "c": [85.0, 75.0, 70.0, 60.0]}
    final = {k: pd.DataFrame({stats.ACC: v}, index=[10, 11, 12, 13]) for k, v in acc.items()}
    final["a"] = pd.concat([final["a"], pd.DataFrame({stats.ACC: [99.0]}, index=[14])])  # a seed only a ran: left out
    tests = stats.rank_tests(final, alpha=0.05)
    assert tests is not None and list(tests.ranks.index) == [10, 11, 12, 13]
    np.testing.assert_array_equal(tests.ranks.to_numpy(), [[1, 3, 2], [3, 1.5, 1.5], [1, 3, 2], [3, 1, 2]])
    assert list(tests.mean_ranks.index) == ["c", "a", "b"]
    assert tests.mean_ranks.to_numpy() == pytest.approx([1.875, 2.0, 2.125])
    assert tests.friedman_statistic == pytest.approx(0.125 / 0.9375)
    assert tests.friedman_p == pytest.approx(math.exp(-0.125 / 0.9375 / 2))  # chi-squared with 2 dof: exp(-x / 2)
    # CD = q_0.05(3, inf) / sqrt(2) * sqrt(k (k + 1) / (6 n)) = 2.343 * sqrt(12 / 24) (Demsar 2006, table 5)
    assert tests.critical_difference == pytest.approx(2.343 * math.sqrt(12 / 24), abs=2e-3)
    # one seed in common (the others ran on other seeds): no blocks to test over
    assert stats.rank_tests({"a": final["a"], "b": final["b"], "c": final["c"].iloc[[0]]}, alpha=0.05) is None


def test_anytime_curves_reach_results_that_finish_after_the_budget() -> None:
    # overrun "finish": the last query of a run started before the 10 s budget and ended at 12 s
    frames = {"a": pd.DataFrame({"seed": [0, 0, 1], "finish_time": [4.0, 12.0, 9.0],
                                 "incumbent_test_acc": [50.0, 60.0, 70.0]})}
    grid = stats.time_grid(frames, budget=10.0)
    assert grid[-1] == 12.0
    _, values = stats.anytime(frames["a"], grid)
    # the curve ends on each run's final result, as the final table reads it
    np.testing.assert_array_equal(values[:, -1], stats.finals(frames["a"])[stats.ACC].to_numpy())
    # strict overrun (every result within the budget): the grid still ends at the budget
    frames["a"]["finish_time"] = [4.0, 8.0, 9.0]
    assert stats.time_grid(frames, budget=10.0)[-1] == 10.0


def test_the_time_grid_starts_at_the_earliest_first_result_of_any_run() -> None:
    # first results: strategy a's runs at 3 s and 0.5 s, b's at 2 s; the grid starts at the earliest (0.5 s),
    # not at a later run's first result (whose curve is NaN before it anyway)
    frames = {"a": pd.DataFrame({"seed": [0, 0, 1, 1], "finish_time": [3.0, 7.0, 0.5, 6.0]}),
              "b": pd.DataFrame({"seed": [0, 0], "finish_time": [2.0, 8.0]})}
    grid = stats.time_grid(frames, budget=10.0, points=5)
    assert grid[0] == pytest.approx(0.5) and grid[-1] == pytest.approx(10.0)
    np.testing.assert_allclose(np.diff(np.log(grid)), np.log(10.0 / 0.5) / 4)  # log-spaced
    # a first result far below the end is clamped: the log grid spans at most 4 decades (10 s * 1e-4)
    frames["a"].loc[2, "finish_time"] = 1e-7
    assert stats.time_grid(frames, budget=10.0, points=5)[0] == pytest.approx(1e-3)


def test_the_final_table_summary_by_hand() -> None:
    # runs 1, 2, 3, 4, 10: mean 4; std over runs with ddof 1 = sqrt((9 + 4 + 1 + 0 + 36) / 4) = sqrt(12.5);
    # median 3; quartiles (linear interpolation, positions 1 and 3 of 0..4) 2 and 4, so IQR 2
    s = stats.summary(pd.Series([1.0, 2.0, 3.0, 4.0, 10.0]))
    assert s == pytest.approx({"mean": 4.0, "std": math.sqrt(12.5), "median": 3.0, "iqr": 2.0})
    runs = pd.DataFrame({stats.ACC: [1.0, 2.0, 3.0, 4.0, 10.0], stats.REGRET: [9.0, 8.0, 7.0, 6.0, 0.0],
                         "queries": [10, 10, 12, 12, 13]})
    (row,) = stats.final_table({"rs": runs}).to_dict("records")
    assert row == pytest.approx({"strategy": "rs", "runs": 5, "test_acc_mean": 4.0, "test_acc_std": math.sqrt(12.5),
                                 "test_acc_median": 3.0, "test_acc_iqr": 2.0, "regret_mean": 6.0,
                                 "regret_std": math.sqrt(12.5), "regret_median": 7.0, "regret_iqr": 2.0,
                                 "queries_mean": 11.4})


def test_the_curve_is_the_median_over_runs_not_the_mean() -> None:
    # three runs at two grid times: the middle run's values (52, 61), not the means (64, 73.33)
    values = np.array([[50.0, 60.0], [52.0, 61.0], [90.0, 99.0]])
    median, low, high = stats.median_band(values, 200, 0.05, seed=0)
    np.testing.assert_array_equal(median, [52.0, 61.0])
    # every resampled median is one of the runs' values: the band lies within their range
    assert ((low >= values.min(axis=0)) & (low <= median) & (median <= high) & (high <= values.max(axis=0))).all()


def test_a_single_run_has_no_std_or_band_not_a_zero_one(toy: dict[str, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # ddof 1 over one run is undefined: the report must not print "± 0.00" (no spread) nor claim a band
    figures_not_rendered(monkeypatch)  # final.csv and the words are checked
    assert np.isnan(stats.summary(pd.Series([88.0]))["std"])
    config = tmp_path / "one.toml"
    config.write_text(TWO_STRATEGIES.format(table=toy["table"].as_posix(), seeds="0", third=""))
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "index.md").read_text()
    final = pd.read_csv(tmp_path / "out" / "final.csv")
    assert final["test_acc_std"].isna().all() and final["regret_std"].isna().all()
    assert "± 0.00" not in md and "± n/a" in md
    assert "no band: one run" in md and "percentile bootstrap of that median" not in md
    assert "Weight-sharing rows" not in md and "own seeds (-)" not in md  # none were run: no sentence about them


def test_the_declared_scipy_floor_has_the_bootstrap_the_report_calls() -> None:
    # median_band seeds scipy.stats.bootstrap with rng=, a keyword scipy added in 1.15 (SPEC 7);
    # under an older scipy that pyproject allowed, every `nasbench report` failed with a TypeError
    import inspect
    import re

    from scipy.stats import bootstrap

    assert "rng=" in inspect.getsource(stats.median_band) and "rng" in inspect.signature(bootstrap).parameters
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    floor = re.search(r'"scipy>=([0-9.]+)"', pyproject)
    assert floor is not None and tuple(map(int, floor.group(1).split(".")[:2])) >= (1, 15)


def test_rank_tests_of_strategies_tied_on_every_seed_say_no_difference_not_nan() -> None:
    # common random numbers: on a small budget random and rea (and others) can return the same cell on
    # every seed; the report then printed "Friedman chi² = nan, p = nan" (and scipy warned on stderr)
    same = pd.DataFrame({stats.ACC: [88.0, 91.0, 90.5]}, index=range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tests = stats.rank_tests({"a": same, "b": same.copy(), "c": same.copy()}, alpha=0.05)
    assert tests is not None and tests.friedman_statistic == 0.0 and tests.friedman_p == 1.0
    assert (tests.mean_ranks == 2.0).all() and (tests.nemenyi_p.to_numpy() == 1.0).all()


def test_the_regret_axis_draws_a_regret_of_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """The regret panel is symlog with the linear range regret_linthresh gives, so a median regret of 0 lies on
    the axis (a pure log axis, as before, dropped it and still made a PNG)."""
    from nasbench_suite.report import figures
    from nasbench_suite.report.figures import anytime_figure, regret_linthresh

    assert regret_linthresh(np.array([0.0, 0.034, 2.5, np.nan])) == pytest.approx(0.01)
    assert regret_linthresh(np.array([0.0, 0.0])) == 1.0  # every run found the best cell
    real, drawn = figures.png_bytes, []
    monkeypatch.setattr(figures, "png_bytes", lambda fig: drawn.append(fig) or real(fig))
    grid = np.array([1.0, 10.0, 100.0])
    acc, regret = np.array([90.0, 93.0, 94.0]), np.array([4.0, 1.0, 0.0])  # the median reaches the best cell
    png = anytime_figure(grid, {"rs": (acc, acc - 1, acc + 1, regret, regret, regret + 0.5)}, {"rs": (0, 0, 1)},
                         0.05, "t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ax = drawn[0].axes[1]
    assert ax.get_yscale() == "symlog" and ax.yaxis.get_transform().linthresh == pytest.approx(0.1)  # 0.5's decade
    low, high = ax.get_ylim()
    assert low <= 0.0 < high and np.isfinite(ax.transData.transform((100.0, 0.0))).all()


def test_figures_do_not_depend_on_the_users_matplotlib_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # a user's matplotlibrc (or plt.style.use in a notebook) was drawn into every report figure: the same
    # runs gave other PNG bytes on a machine whose matplotlibrc set a font, a background or a grid
    import matplotlib

    from nasbench_suite.report.figures import scatter_figure

    x = np.linspace(0.0, 1.0, 50)
    before = scatter_figure(x, x ** 2, "x", "y", "t")
    for key, value in {"font.family": ["serif"], "axes.facecolor": "0.9", "savefig.facecolor": "0.5",
                       "axes.formatter.use_locale": True, "xtick.direction": "in"}.items():
        monkeypatch.setitem(matplotlib.rcParams, key, value)
    assert scatter_figure(x, x ** 2, "x", "y", "t") == before


@pytest.mark.parametrize("strategies", [14, 26, 40])
def test_the_anytime_legend_of_many_strategies_leaves_the_axis_labels_readable(
        strategies: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the space kept below the panels held 3 legend rows (18 labels): 26 strategies' legend covered both
    # x-axis labels and tick labels
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from nasbench_suite.report import figures

    drawn = []
    monkeypatch.setattr(figures, "png_bytes", lambda fig: drawn.append(fig) or b"")
    grid = np.geomspace(0.1, 30, 50)
    labels = [f"strategy-{k}" for k in range(strategies)]
    curves = {label: (np.full(50, 90.0), np.full(50, 89.0), np.full(50, 91.0), np.full(50, 3.0),
                      np.full(50, 2.0), np.full(50, 4.0)) for label in labels}
    figures.anytime_figure(grid, curves, figures.palette(labels), 0.05, "t")
    canvas = FigureCanvasAgg(drawn[0])
    canvas.draw()  # places the axis labels
    renderer = canvas.get_renderer()
    legend = drawn[0].legends[0].get_window_extent(renderer)
    for ax in drawn[0].axes:
        for text in [ax.xaxis.label, *ax.get_xticklabels()]:
            assert not legend.overlaps(text.get_window_extent(renderer)), text.get_text()

@pytest.mark.parametrize("strategies", [3, 14])
def test_the_cd_bar_and_its_label_clear_the_rank_tick_labels_and_the_title(
        strategies: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """scikit-posthocs drew the CD bar half a row above the rank axis: across its tick labels (reports/digits-default
    showed 'CD = 3.6' over the 6 and 8)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from nasbench_suite.report import figures

    rng = np.random.default_rng(1)
    labels = [f"s{k}" for k in range(strategies)]
    final = {name: pd.DataFrame({stats.ACC: rng.normal(80, 1, 20) + 0.2 * k}, index=range(20))
             for k, name in enumerate(labels)}
    drawn = []
    monkeypatch.setattr(figures, "png_bytes", lambda fig: drawn.append(fig) or b"")
    tests = stats.rank_tests(final, alpha=0.05)
    figures.cd_figure(tests, figures.palette(labels))
    canvas = FigureCanvasAgg(drawn[0])
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = drawn[0].axes[0]
    cd = [t for t in ax.texts if t.get_text().startswith("CD = ")]
    bar = [line for line in ax.lines if len(line.get_xdata()) == 2 and np.allclose(
        line.get_xdata(), [tests.mean_ranks.min(), tests.mean_ranks.min() + tests.critical_difference])]
    assert len(cd) == 1 and len(bar) == 1
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    title = ax.title.get_window_extent(renderer)
    for artist in (cd[0], bar[0]):
        box = artist.get_window_extent(renderer)
        assert not any(box.overlaps(t) for t in ticks) and not box.overlaps(title)


def test_report_refuses_an_out_folder_holding_the_report_of_other_runs(replay_run: Path, full_run: Path,
                                                                        tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """`nasbench report A/runs --out B`, B a compare folder of other runs: it replaced B's report (and removed
    B's figures it does not draw), so B/index.md described A's runs beside B/runs."""
    for name, made in (("a", replay_run), ("b", full_run)):  # two compares' folders (of two configs)
        shutil.copytree(made, tmp_path / name)
    before = _files(tmp_path / "b")
    assert main(["report", str(tmp_path / "a" / "runs"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: --out ") and "holds the report of other runs" in err
    assert len(err.strip().splitlines()) == 1
    assert _files(tmp_path / "b") == before
    # its own runs, a fresh folder and the default (the runs folder's parent) still work
    assert main(["report", str(tmp_path / "b" / "runs"), "--out", str(tmp_path / "b")]) == 0
    assert main(["report", str(tmp_path / "a" / "runs"), "--out", str(tmp_path / "fresh")]) == 0
    assert main(["report", str(tmp_path / "a" / "runs")]) == 0
    assert _files(tmp_path / "b") == before


def test_report_on_a_compare_output_folder_names_its_runs_folder(replay_run: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """`nasbench report DIR` (the folder compare printed, not DIR/runs) said only 'no compare.json'."""
    before = _files(replay_run)
    assert main(["report", str(replay_run)]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: {replay_run} is a compare output folder, not its runs folder: give " \
                  f"{replay_run / 'runs'}\n"
    assert _files(replay_run) == before  # refused before anything is written (other tests read this folder)


def test_a_report_on_a_table_of_some_cells_says_so_and_the_strategies_stay_inside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's own table of 64 cells: the report's first lines say the strategies searched only those cells and
    regret is to their best (not the space's), every query and incumbent is one of them, and a table without a
    description leaves no dangling colon."""
    from nasbench_suite.table import build_table
    from tests.fixture_tables import search_results

    results = search_results(seeds=(0, 1), epochs=3)
    cells = np.arange(1000, 1064)
    table = tmp_path / "mine"
    build_table(results[results["arch_index"].isin(cells)], table, name="mine",
                metadata={"dataset": {"name": "synthetic"}, "protocol": {"epochs": 3}})
    config = tmp_path / "mine.toml"
    config.write_text(CONFIG.format(table=table.as_posix(), latency="none").replace(
        '[[strategy]]\nname = "nsga2"\nsettings = { population = 4 }\n', ""))
    figures_not_rendered(monkeypatch)  # the words and the runs are checked
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    intro = (tmp_path / "out" / "index.md").read_text().split("\n\n")[1]
    assert intro.startswith("Table `mine` (sha256:") and "…): It holds 64 of the 15,625 cells (" in intro
    assert "every strategy searched only these, and regret is to the best of them" in intro
    assert "It holds 64 of the 15,625 cells" in (tmp_path / "out" / "index.html").read_text()
    for path in (tmp_path / "out" / "runs" / "replayed").glob("*/trajectories.parquet"):
        frame = pd.read_parquet(path)
        assert frame["arch_index"].isin(cells).all() and frame["incumbent_index"].isin(cells).all(), path


@pytest.mark.parametrize("which", ["replayed", "weight_sharing"])
@pytest.mark.parametrize("text", ["[]", "{}", '{"format": "nasbench-search-results", "runs": 3}'])
def test_a_damaged_run_manifest_is_a_clear_error(full_run: Path, tmp_path: Path, which: str, text: str,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A damaged run manifest ended the report in a TypeError or KeyError traceback while it was built."""
    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    manifest = next(p for p in sorted((runs / which).glob("*/manifest.json")))
    manifest.write_text(text + "\n", encoding="utf-8")
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {manifest} is not the manifest of a run made by nasbench compare")
    assert err.count("\n") == 1


@pytest.mark.parametrize("which, entries", [("replayed", ("search", "strategy", "evaluation", "runs", "seeds")),
                                            ("weight_sharing", ("strategy", "supernet", "cost", "seeds"))])
def test_a_run_manifest_without_an_entry_the_report_reads_is_a_clear_error(
        full_run: Path, tmp_path: Path, which: str, entries: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    """The run's own manifest less any one entry the report reads (its evaluation, its supernet...): refused in one
    line, not a KeyError traceback while the report is built (the manifests above lack every entry at once)."""
    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    manifest = next(p for p in sorted((runs / which).glob("*/manifest.json")))
    whole = json.loads(manifest.read_text())
    for entry in entries:
        manifest.write_text(json.dumps({k: v for k, v in whole.items() if k != entry}) + "\n", encoding="utf-8")
        assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2, entry
        err = capsys.readouterr().err
        assert err.startswith(f"nasbench: error: {manifest} is not the manifest of a run made by nasbench compare"), err
        assert err.count("\n") == 1 and not (tmp_path / "out" / "index.md").exists()


def test_a_strategy_folder_of_other_seeds_than_compare_json_lists_is_refused(
        full_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A strategy folder holding fewer or other seeds than compare.json lists (a run replaced by a search of other
    seeds, a config edited) gave a report built on other data without a word; it is one line naming the strategy
    and the seeds missing and extra."""
    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    folder = runs / "replayed" / "rea-small"
    frame, manifest = pd.read_parquet(folder / "trajectories.parquet"), json.loads((folder / "manifest.json").read_text())
    frame[frame["seed"] != 1].to_parquet(folder / "trajectories.parquet")  # seed 1 gone, seed 9 come
    (folder / "manifest.json").write_text(json.dumps({**manifest, "seeds": {"count": 4, "ranges": "0,2-3,9"}}))
    record = json.loads((runs / "compare.json").read_text())
    record["config"]["weight_sharing"]["seeds"] = [0]
    for restore, line in [(False, f"{folder} holds other runs of 'rea-small' than compare.json lists (seeds 0-3): "
                                  "seeds 1 missing; 9 extra"),
                          (True, f"{runs / 'weight_sharing' / 'gdas'} holds other runs of 'gdas' than compare.json "
                                 "lists (seeds 0): seeds 1 extra")]:
        if restore:  # the replayed run whole again; compare.json lists one weight-sharing seed of two
            (folder / "manifest.json").write_text(json.dumps(manifest))
            frame.to_parquet(folder / "trajectories.parquet")
            (runs / "compare.json").write_text(json.dumps(record))
        assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == f"nasbench: error: {line}; make the runs again with nasbench compare into " \
            "a new folder\n"
        assert not (tmp_path / "out" / "index.md").exists()


@pytest.mark.parametrize("damage, field", [
    (lambda r: r["config"].update(bootstrap=10**20), "config.bootstrap"),  # numpy ValueError
    (lambda r: r["config"].update(bootstrap="1000"), "config.bootstrap"),  # TypeError
    (lambda r: r["config"].update(alpha="x"), "config.alpha"),
    (lambda r: r["config"].pop("alpha"), "config.alpha"),  # KeyError
    (lambda r: r["config"].update(budget_seconds="30"), "config.budget_seconds"),
    (lambda r: r["config"].pop("seeds"), "config.seeds"),
    (lambda r: r["config"].update(strategies=5), "config.strategies"),
    (lambda r: r.pop("package_version"), "package_version"),
    (lambda r: r["table"].update(content_hash=5), "table.content_hash"),
    (lambda r: r["table"].pop("name"), "table.name"),
])
def test_a_damaged_compare_json_config_is_a_clear_error(full_run: Path, tmp_path: Path, damage: Any, field: str,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A compare.json whose config, table or version fields were missing or of the wrong kind ended the report
    in a KeyError, TypeError or numpy ValueError traceback while it was built."""
    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    record = json.loads((runs / "compare.json").read_text())
    damage(record)
    (runs / "compare.json").write_text(json.dumps(record), encoding="utf-8")
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {runs / 'compare.json'} is damaged: {field} is missing or out of range")
    assert err.count("\n") == 1 and not (tmp_path / "out" / "index.md").exists()


def test_a_compare_json_without_any_one_field_the_report_reads_is_a_clear_error(
        full_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Each field the report reads that a compare.json cannot do without, removed in turn, is named in one line
    (the damages above reach some of them only): without config.overrun, say, the report ended in a KeyError
    traceback after writing half its files; without a budget, machine.cpu or machine.hash (read as null or "")
    or a partial table's classes, too."""
    import copy

    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    whole = json.loads((runs / "compare.json").read_text())
    fields = [("config", k) for k in ("name", "seeds", "strategies", "budget_seconds", "budget_queries", "overrun",
                                      "sim_workers", "latency_batch", "bootstrap", "alpha")]
    fields += [("table", k) for k in ("name", "content_hash", "description", "classes")]
    fields += [("machine", "cpu"), ("machine", "hash"), (None, "package_version")]
    whole["table"].update(cells=15625, classes=6466)  # a table of some cells records both (this one checks classes)
    for part, key in fields:
        record = copy.deepcopy(whole)
        (record if part is None else record[part]).pop(key)
        (runs / "compare.json").write_text(json.dumps(record), encoding="utf-8")
        field = key if part is None else f"{part}.{key}"
        assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2, field
        err = capsys.readouterr().err
        assert err.startswith(f"nasbench: error: {runs / 'compare.json'} is damaged: {field} is missing or out of "
                              "range"), err
        assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_latency_auto_prefers_this_machines_folder_of_the_tables_network(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``latency.source: auto``: among the shipped folders timed on the table's network, one measured on this
    machine's fingerprint wins over one of another machine (whatever their names), and its kind says which;
    a folder of another network is never taken by auto, and given as a path it is refused."""
    import json
    import shutil

    from nasbench_suite import compare, latency
    from nasbench_suite.latency import LatencyError
    from nasbench_suite.table import load_table

    shipped = latency.shipped_latency_folders()
    digits = next(p for p in shipped if p.name.startswith("digits-"))
    cifar = next(p for p in shipped if p.name.startswith("cifar10-16px-"))
    copy = tmp_path / "a-digits-elsewhere"  # sorts first by name
    shutil.copytree(digits, copy)
    identity = json.loads((copy / latency.IDENTITY_FILE).read_text())
    identity["fingerprint"]["hash"] = "0123456789ab"
    (copy / latency.IDENTITY_FILE).write_text(json.dumps(identity))
    mine = json.loads((digits / latency.IDENTITY_FILE).read_text())["fingerprint"]["hash"]
    bench = load_table("digits")
    monkeypatch.setattr(latency, "shipped_latency_folders", lambda: [copy, cifar, digits])
    monkeypatch.setattr(compare, "machine", lambda: {"hash": mine})
    argument, described = compare.resolve_latency("auto", bench)
    assert argument == digits.name and described["kind"] == "this machine" and described["key"] == mine
    monkeypatch.setattr(compare, "machine", lambda: {"hash": "ffffffffffff"})  # neither is this machine's
    argument, described = compare.resolve_latency("auto", bench)
    assert argument == copy.name and described["kind"] == "another machine"
    monkeypatch.setattr(latency, "shipped_latency_folders", lambda: [cifar])
    assert compare.resolve_latency("auto", bench) == (None, None)
    with pytest.raises(LatencyError):
        compare.resolve_latency(str(cifar), bench)


def test_a_latency_batch_that_auto_finds_no_latency_for_is_refused(search_table: object, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``[latency] source = "auto"`` that finds no folder for the table's network gives the runs no latency;
    a batch other than 1 asked beside it is refused in one line before any run, not dropped without a word
    (as ``source = "none"`` with a batch is)."""
    from nasbench_suite import latency
    from nasbench_suite.compare import run_compare

    monkeypatch.setattr(latency, "shipped_latency_folders", lambda: [])
    config = tmp_path / "auto64.toml"
    config.write_text(f'name = "a"\ntable = "{search_table.path.as_posix()}"\nseeds = "0-1"\nworkers = 1\n'
                      '[budget]\nqueries = 5\n[latency]\nsource = "auto"\nbatch = 64\n[[strategy]]\nname = "random"\n')
    with pytest.raises(ConfigError, match=r"^config field latency\.batch: batch 64 chooses among latencies, and "
                                          r"latency\.source 'auto' gives none for table "):
        run_compare(load_config(config), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    config.write_text(config.read_text().replace("batch = 64", "batch = 1"))
    assert (run_compare(load_config(config), tmp_path / "runs") / "replayed" / "random").is_dir()


def test_default_out_folders_of_compare_and_report(toy: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``--out``, compare writes its report to ``nasbench-compare/<config name>`` under the folder it
    runs in, with the runs in its ``runs``; report writes beside the runs folder it reads (its parent), the
    same files again."""
    monkeypatch.chdir(tmp_path)
    figures_not_rendered(monkeypatch)  # where the files go is checked (byte-identical PNGs: the regenerate test)
    assert main(["compare", "--config", str(toy["replay"])]) == 0
    out = tmp_path / "nasbench-compare" / "toy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nasbench-compare"]
    assert (out / "index.md").is_file() and (out / "runs" / "compare.json").is_file()
    before = _files(out)
    (out / "index.md").unlink()
    assert main(["report", str(out / "runs")]) == 0
    assert _files(out) == before


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_a_compare_json_of_another_format_version_is_refused(full_run: Path, tmp_path: Path, version: object,
                                                              capsys: pytest.CaptureFixture) -> None:
    """A ``compare.json`` written by another format version (a newer nasbench_suite) is refused in one line
    naming both versions, not read as if it were this one's."""
    runs = tmp_path / "runs"
    shutil.copytree(full_run / "runs", runs)
    record = json.loads((runs / "compare.json").read_text())
    record["format_version"] = version
    (runs / "compare.json").write_text(json.dumps(record))
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"nasbench: error: {runs / 'compare.json'} has format version {version}; "
                                       "this nasbench_suite reads 1\n")
    assert not (tmp_path / "out").exists()


def test_a_compare_without_weight_sharing_removes_the_staging_another_config_left(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopped compare with weight sharing leaves its finished methods staged in ``runs/.weight_sharing.tmp``;
    a compare of a config without weight sharing run into that folder removes them (nothing would ever read
    them there), not leave them behind."""
    out = tmp_path / "out"
    staged = out / "runs" / ".weight_sharing.tmp" / "gdas"
    staged.mkdir(parents=True)
    (staged / "trajectories.parquet").write_bytes(b"left by a stopped compare")
    figures_not_rendered(monkeypatch)  # the runs folder is checked, not the report
    assert main(["compare", "--config", str(toy["replay"]), "--out", str(out)]) == 0
    assert not staged.parent.exists() and (out / "runs" / "compare.json").is_file()


def test_cells_parquet_holds_only_the_cells_the_latency_source_times(search_table: Any, tmp_path: Path) -> None:
    """A device table that times some cells: cells.parquet (the report's accuracy-vs-latency background) holds
    those cells alone, no row of NaN latency for the others."""
    from nasbench_suite.compare import _write_cells
    from nasbench_suite.space import nb201_order

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(100), "toy_ms": np.linspace(1, 2, 100)}).to_csv(csv, index=False)
    _write_cells(search_table, f"{csv}:toy_ms", 1, tmp_path / "cells.parquet")
    cells = pd.read_parquet(tmp_path / "cells.parquet")
    assert sorted(cells["arch_index"]) == sorted(nb201_order()[:100].tolist())
    assert np.isfinite(cells["latency_ms"]).all() and cells["pareto"].any()


def test_a_weight_sharing_method_a_stop_left_half_written_is_written_again(search_table: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop while a method's runs were written leaves its folder without timing.json (written last): the rerun
    runs that method again and writes it over what the stop left, not refuse the folder as results already
    there."""
    from nasbench_suite import compare
    from nasbench_suite.search import SearchSpec, run_seeds
    from nasbench_suite.simulator import Budget

    result = run_seeds(SearchSpec(str(search_table.path), "random", Budget(queries=3)), [0], progress=False)
    monkeypatch.setattr(compare, "_ws_run", lambda job: result)
    half = tmp_path / "gdas"
    half.mkdir()
    (half / "trajectories.parquet").write_bytes(b"cut short by a stop")
    (half / "manifest.json").write_text(json.dumps({"format": "nasbench-search-results"}))
    compare._run_ws_jobs([(str(search_table.path), "gdas", (0,), 1, {})], 1, tmp_path, False)
    assert json.loads((half / "manifest.json").read_text()) == json.loads(json.dumps(result.manifest))
    assert (half / "timing.json").is_file()


def test_a_compare_without_latency_removes_the_cells_an_earlier_one_wrote(search_table: Any, tmp_path: Path) -> None:
    """cells.parquet is the latency view's background: a compare with no latency source run into a folder whose
    earlier compare had one removes it, so the report does not draw the old latencies behind runs that had none."""
    from nasbench_suite.compare import run_compare

    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(15625), "toy_ms": np.linspace(1, 2, 15625)}).to_csv(csv, index=False)
    text = (f'name = "cells"\ntable = "{search_table.path.as_posix()}"\nseeds = "0"\nworkers = 1\n'
            '[budget]\nqueries = 3\n[latency]\nsource = "SOURCE"\n[[strategy]]\nname = "random"\n')
    config = tmp_path / "c.toml"
    for source, cells in ((f"{csv.as_posix()}:toy_ms", True), ("none", False)):
        config.write_text(text.replace("SOURCE", source))
        runs = run_compare(load_config(config), tmp_path / "runs")
        assert (runs / "cells.parquet").is_file() == cells


def test_a_config_of_nsga2_without_a_latency_source_is_refused_before_any_run(search_table: Any, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """NSGA-II searches accuracy and latency: a config whose latency source gives none is refused naming the
    field, before the other strategies' runs (not a failure at nsga2's setup after them)."""
    from nasbench_suite import search
    from nasbench_suite.compare import run_compare

    def no_runs(*args: object, **kwargs: object) -> None:
        raise AssertionError("the replays ran")

    monkeypatch.setattr(search, "run_many", no_runs)
    config = tmp_path / "c.toml"
    config.write_text(f'name = "moo"\ntable = "{search_table.path.as_posix()}"\nseeds = "0"\nworkers = 1\n'
                      '[budget]\nqueries = 3\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n'
                      '[[strategy]]\nname = "nsga2"\n')
    with pytest.raises(ConfigError, match="config field strategy: nsga2 needs a latency source, and latency.source "
                                          "gives none for table 'generated-search'"):
        run_compare(load_config(config), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def _record() -> dict[str, Any]:
    """A compare.json record the report reads (the fields _record_problems checks, at sound values), made by hand."""
    return {"format": "nasbench-compare", "format_version": 1, "package_version": "1.0",
            "config": {"name": "toy", "seeds": [0, 1], "strategies": [{"name": "random"}], "budget_seconds": None,
                       "budget_queries": 15, "overrun": "strict", "sim_workers": 1, "latency_batch": 1,
                       "bootstrap": 200, "alpha": 0.05, "weight_sharing": None},
            "table": {"name": "t", "content_hash": "sha256:0", "description": ""},
            "machine": {"cpu": "x86_64", "hash": "0123"}, "latency": None,
            "replayed": [["random", "replayed/random"]], "weight_sharing": []}


def _pairs(key: str) -> str:
    return f"{key} should be a list of [label (letters, digits, '.', '_', '-'), folder inside the runs folder] pairs"


@pytest.mark.parametrize("damage, problem", [
    (lambda r: r["config"].update(sim_workers=True), "config.sim_workers is missing or out of range"),  # True == 1
    (lambda r: r["config"].update(budget_seconds=True), "config.budget_seconds is missing or out of range"),
    (lambda r: r["config"].update(bootstrap=99), "config.bootstrap is missing or out of range"),
    (lambda r: r["config"].update(alpha=0.0), "config.alpha is missing or out of range"),
    (lambda r: r["config"].update(alpha=0.5), "config.alpha is missing or out of range"),
    (lambda r: r["config"].update(alpha=True), "config.alpha is missing or out of range"),
    (lambda r: r["config"].update(seeds=[]), "config.seeds is missing or out of range"),
    (lambda r: r["config"].update(seeds=[0, -1]), "config.seeds is missing or out of range"),
    (lambda r: r["config"].update(name="a/b"), "config.name is missing or out of range"),
    (lambda r: r["config"].update(strategies=[]), "config.strategies is missing or out of range"),
    (lambda r: r["config"].update(budget_seconds=0), "config.budget_seconds is missing or out of range"),
    (lambda r: r["config"].update(budget_queries=0), "config.budget_queries is missing or out of range"),
    (lambda r: r["config"].update(sim_workers=0), "config.sim_workers is missing or out of range"),
    (lambda r: r["config"].update(latency_batch=0), "config.latency_batch is missing or out of range"),
    (lambda r: r["config"].update(weight_sharing={"seeds": []}), "config.weight_sharing is missing or out of range"),
    (lambda r: r["table"].update(cells=-1, classes=1), "table.cells is missing or out of range"),
    (lambda r: r.update(latency={"kind": None, "key": "k", "name": "n"}), "latency is missing or out of range"),
    (lambda r: r.update(latency={"kind": "third-party", "key": "k"}), "latency is missing or out of range"),
    (lambda r: r["config"].update(budget_queries=None), "config has neither budget_seconds nor budget_queries"),
    (lambda r: r.pop("machine"), "machine should be an object"),
    (lambda r: r.update(weight_sharing=5), _pairs("weight_sharing")),
    (lambda r: r.update(replayed=[["random", "replayed/random", "x"]]), _pairs("replayed")),
    (lambda r: r.update(replayed=[["", "replayed/random"]]), _pairs("replayed")),
    (lambda r: r.update(replayed=[["random", ""]]), _pairs("replayed")),
    (lambda r: r.update(replayed=[["=HYPERLINK(1)", "replayed/random"]]), _pairs("replayed")),
    (lambda r: r.update(replayed=[["random", "/elsewhere/random"]]), _pairs("replayed")),
    (lambda r: r.update(replayed=[["random", "replayed/../../other"]]), _pairs("replayed")),
    # a config that is no object: named, not an AttributeError while its fields are read
    (lambda r: r.update(config=[1]), "config should be an object"),
])
def test_each_damaged_field_of_a_compare_json_is_named(tmp_path: Path, damage: Any, problem: str) -> None:
    """Damages of a compare.json the report would trip on (or show wrong) made by hand, each refused naming its
    field: booleans are no numbers, values at the bounds the config refuses, labels that are no config label and
    folders outside the runs folder; the record undamaged is read as it is."""
    from nasbench_suite.compare import CompareError, read_compare

    (tmp_path / "compare.json").write_text(json.dumps(_record()), encoding="utf-8")
    assert read_compare(tmp_path) == _record()
    record = _record()
    damage(record)
    (tmp_path / "compare.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(CompareError) as caught:
        read_compare(tmp_path)
    assert str(caught.value) == f"{tmp_path / 'compare.json'} is damaged: {problem}; make the runs again with " \
        "nasbench compare into a new folder"


def test_a_compare_json_at_the_bounds_of_its_fields_is_read(tmp_path: Path) -> None:
    """The largest bootstrap a config takes, seeds from 0, a table of some cells (its count and classes) and a
    latency of each kind are a sound record."""
    from nasbench_suite.compare import read_compare

    for change in ({"bootstrap": 100_000}, {"seeds": [0]}, {"budget_seconds": 0.5, "budget_queries": None}):
        record = _record()
        record["config"].update(change)
        record["table"].update(cells=0, classes=0)
        for kind in ("this machine", "another machine", "third-party"):
            record["latency"] = {"kind": kind, "key": "k", "name": "n"}
            (tmp_path / "compare.json").write_text(json.dumps(record), encoding="utf-8")
            assert read_compare(tmp_path) == record


def test_a_compare_json_that_is_no_json_is_a_clear_error(tmp_path: Path) -> None:
    from nasbench_suite.compare import CompareError, read_compare

    (tmp_path / "compare.json").write_text('{"format": ', encoding="utf-8")
    with pytest.raises(CompareError, match="^" + re.escape(f"cannot read {tmp_path / 'compare.json'}: ")):
        read_compare(tmp_path)


def test_a_latency_source_given_as_a_path_or_a_shipped_name_or_a_csv_column(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``latency.source`` as a folder path is given to the runs as an absolute path (the folder the config meant,
    whatever folder a run works in); as the name of a shipped latency folder (which load_latency reads, and which
    manifests name), by that name: it was made an absolute path in the working folder, where no such folder is,
    and every run failed with "is not a latency folder". A device CSV column is described by its file name."""
    from nasbench_suite import compare, latency
    from nasbench_suite.search import latency_of
    from nasbench_suite.table import load_table

    digits = next(p for p in latency.shipped_latency_folders() if p.name.startswith("digits-"))
    bench = load_table("digits")
    key = json.loads((digits / latency.IDENTITY_FILE).read_text())["fingerprint"]["hash"]
    monkeypatch.setattr(compare, "machine", lambda: {"hash": key})
    monkeypatch.chdir(tmp_path)
    shutil.copytree(digits, tmp_path / "mine")
    argument, described = compare.resolve_latency("mine", bench)
    assert argument == str(tmp_path.resolve() / "mine")
    assert described == {"name": "mine", "key": key, "source": latency.load_latency(digits).source,
                         "kind": "this machine"}
    argument, described = compare.resolve_latency(digits.name, bench)
    assert argument == digits.name and described["name"] == digits.name
    np.testing.assert_array_equal(latency_of(argument)[0], latency_of(str(digits))[0])
    csv = tmp_path / "devices.csv"
    pd.DataFrame({"arch_index": range(15625), "toy_ms": np.linspace(1, 2, 15625)}).to_csv(csv, index=False)
    argument, described = compare.resolve_latency(f"{csv}:toy_ms", bench)
    assert argument == f"{csv}:toy_ms"
    assert described == {"name": "devices.csv:toy_ms", "key": "toy_ms", "source": latency_of(argument)[1],
                         "kind": "third-party"}


def test_weight_sharing_methods_are_written_one_by_one_as_each_finishes(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With one worker the methods run one after another in this process, each written before the next starts: a
    stop while the second trains keeps the first (hours of training on real data), not lose both."""
    from nasbench_suite import compare

    class Result:
        def __init__(self, method: str) -> None:
            self.method = method

        def write(self, folder: Path) -> None:
            folder.mkdir(parents=True)
            (folder / "timing.json").write_text(self.method)

    def run(job: tuple) -> Result:
        if job[1] == "darts-v1":
            raise KeyboardInterrupt
        return Result(job[1])

    monkeypatch.setattr(compare, "_ws_run", run)
    jobs = [("t", "gdas", (0,), 1, {}), ("t", "darts-v1", (0,), 1, {})]
    with pytest.raises(KeyboardInterrupt):
        compare._run_ws_jobs(jobs, 1, tmp_path, False)
    assert (tmp_path / "gdas" / "timing.json").read_text() == "gdas" and not (tmp_path / "darts-v1").exists()


def test_a_weight_sharing_staging_folder_of_unreadable_identity_is_emptied(tmp_path: Path) -> None:
    """A staging folder whose identity file is no UTF-8 (damaged) is one of another identity: emptied and given
    this one's, not a UnicodeDecodeError traceback."""
    from nasbench_suite import compare

    staging = tmp_path / compare.WS_STAGING
    (staging / "gdas").mkdir(parents=True)
    (staging / compare.WS_IDENTITY).write_bytes(b"\xff\xfe")
    identity = {"table_hash": "sha256:t", "machine": "m"}
    assert compare._ws_staging(tmp_path, identity) == staging
    assert sorted(p.name for p in staging.iterdir()) == [compare.WS_IDENTITY]
    assert json.loads((staging / compare.WS_IDENTITY).read_text()) == identity


def test_a_configs_dict_is_plain_json(tmp_path: Path) -> None:
    """compare.json records ``to_dict()`` and a rerun compares it with the config read back: seeds and methods as
    lists (a tuple never equals the list JSON reads back: every rerun was "runs of another config")."""
    cfg = parse_config({**MINIMAL, "seeds": "0-2", "weight_sharing": {"methods": ["gdas"], "epochs": 1, "seeds": "1"}})
    d = cfg.to_dict()
    assert d == json.loads(json.dumps(d))
    assert (d["seeds"], d["weight_sharing"]["seeds"], d["weight_sharing"]["methods"]) == ([0, 1, 2], [1], ["gdas"])


def test_a_runs_path_that_is_a_file_is_refused_before_any_run(search_table: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A runs path that is a file is refused naming it before the replays, and the file is left as it was (not a
    FileExistsError traceback from mkdir after every run had finished)."""
    from nasbench_suite import search
    from nasbench_suite.compare import CompareError, run_compare

    monkeypatch.setattr(search, "run_many", lambda *a, **k: 1 / 0)
    config = tmp_path / "c.toml"
    config.write_text(f'name = "f"\ntable = "{search_table.path.as_posix()}"\nseeds = "0"\nworkers = 1\n'
                      '[budget]\nqueries = 3\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n')
    (tmp_path / "runs").write_text("a file")
    with pytest.raises(CompareError) as caught:
        run_compare(load_config(config), tmp_path / "runs")
    assert str(caught.value) == f"{tmp_path / 'runs'} exists and is not a folder"
    assert (tmp_path / "runs").read_text() == "a file"


@pytest.mark.parametrize("finished", [False, True])
def test_a_staged_weight_sharing_method_is_rerun_unless_its_timing_file_is_there(
        toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished: bool) -> None:
    """A stopped compare leaves a method's folder staged: a rerun trains it again unless the folder holds
    timing.json, the file written last (a folder alone is a method stopped while it wrote its files); one that
    has it is put in place as it is."""
    import dataclasses

    from nasbench_suite import compare
    from nasbench_suite.table import load_table

    cfg = load_config(str(toy["full"]))
    cfg = dataclasses.replace(cfg, strategies=cfg.strategies[:1])
    runs = tmp_path / "runs"
    staging = compare._ws_staging(runs, compare._ws_identity(cfg, load_table(cfg.table).content_hash))
    (staging / "gdas").mkdir()
    (staging / "gdas" / "manifest.json").write_text("{}")
    if finished:
        (staging / "gdas" / "timing.json").write_text("staged")
    asked: list[list[tuple]] = []

    class Stop(Exception):
        pass

    def run_ws_jobs(jobs: list[tuple], *args: Any) -> None:
        asked.append(jobs)
        raise Stop

    monkeypatch.setattr(compare, "_run_ws_jobs", run_ws_jobs)
    if finished:
        compare.run_compare(cfg, runs)
        assert asked == [] and (runs / "weight_sharing" / "gdas" / "timing.json").read_text() == "staged"
    else:
        with pytest.raises(Stop):
            compare.run_compare(cfg, runs)
        assert [job[1] for job in asked[0]] == ["gdas"]
