"""The benchmark scripts run end to end on tiny settings (their figures are measured by hand, not here).

Every script is run from outside the checkout with a decoy ``nasbench_suite`` first on ``PYTHONPATH``:
a script must measure the code of the checkout it sits in, not whatever copy of the package happens
to be installed (this project's is an editable install of another worktree).
"""
from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import numpy as np
import pytest

from tests.script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))


def bench(script: str, *args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


@functools.cache
def _script(name: str) -> ModuleType:
    return load_script(f"benchmarks/{name}", f"benchmark_{name.removesuffix('.py')}")


def refusal(script: str, *args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``script`` writes when it refuses ``args`` with exit status 2, run in this process (a
    start of its own imports torch, 1.5 s for each refusal; that each script imports its own checkout's
    package is checked once per script above). A traceback would be an exception here, failing the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts its checkout first, for this test only
    monkeypatch.setattr(sys, "argv", [script, *args])
    with pytest.raises(SystemExit) as stop:
        _script(script).main()
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def in_process(script: str, *args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """What ``script``'s ``main`` prints on stdout for ``args``, run in this process (as :func:`refusal`: a
    start of its own imports torch; a real process runs each such script once in its test). It returns
    normally (an exit status would be a SystemExit here, failing the test); torch's global seed is
    restored afterwards."""
    import torch

    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts its checkout first, for this test only
    monkeypatch.setattr(sys, "argv", [script, *args])
    capsys.readouterr()
    with torch.random.fork_rng(devices=[]):
        _script(script).main()
    return capsys.readouterr().out


HELP_EACH = """
import contextlib, io, json, os, runpy, sys, traceback
start = list(sys.path)  # as python -c starts: '' first, then PYTHONPATH (the decoy), the library, site
folders = [os.path.realpath(p) for p in sys.argv[1:3]]  # the checkout and the decoy
for script in sys.argv[3:]:
    # as a fresh python would start the script: no module of the checkout (or the decoy) imported yet,
    # the script's folder first on sys.path, then PYTHONPATH (only libraries such as torch stay loaded)
    for name, module in list(sys.modules.items()):
        where = os.path.realpath(getattr(module, "__file__", None) or "/")
        if name.split(".")[0] == "nasbench_suite" or any(where.startswith(f + os.sep) for f in folders):
            del sys.modules[name]
    sys.path[:] = [os.path.dirname(script), *start[1:]]
    sys.argv = [script, "--help"]
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    print(json.dumps({"script": os.path.basename(script), "code": code, "stdout": out.getvalue(),
                      "stderr": err.getvalue()}), file=sys.__stdout__, flush=True)
"""


@pytest.fixture(scope="module")
def helps(decoy: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each benchmark's ``--help``, all run in one real python started from outside the checkout with the
    decoy first on PYTHONPATH (a start imports torch, 1.5-2 s: paid once, not per script). Before each script
    the process is put back as a fresh ``python SCRIPT`` would find it: the modules of the checkout and
    of the decoy forgotten (so no script finds ``nasbench_suite`` imported by one before it) and the
    script's folder first on ``sys.path``, then PYTHONPATH's decoy."""
    folder = tmp_path_factory.mktemp("helps")
    out = subprocess.run([sys.executable, "-c", HELP_EACH, str(ROOT), decoy["PYTHONPATH"],
                          *(str(ROOT / "benchmarks" / s) for s in SCRIPTS)],
                         capture_output=True, text=True, timeout=300, cwd=folder, env=decoy)
    assert out.returncode == 0, out.stderr[-2000:]
    ran = {r["script"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert sorted(ran) == SCRIPTS
    return ran


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_imports_the_package_of_its_own_checkout(script: str, helps: dict[str, dict]) -> None:
    """pre_evaluate_speed, table_load, compile_probe and proxy_crosscheck imported the installed package
    (here: the decoy; in this project: /work/main's editable install), so run from a worktree they
    timed another tree's code, and from a clean checkout without an install they did not start."""
    out = helps[script]
    assert out["code"] == 0, out["stderr"][-2000:]
    assert "usage:" in out["stdout"]


def test_pre_evaluate_speed_prints_a_row_per_batch_size_for_a_spread_selection(speed_figures) -> None:
    """The run is conftest's ``speed_figures`` (decoy first on PYTHONPATH, as above; shared with
    test_gpu_paths.py): 4 spread cells, ``--batch-cells 2,4`` in 1 and in ``--workers 2`` processes."""
    returncode, lines, _, stderr = speed_figures
    stdout = "\n".join(lines)
    assert returncode == 0, stderr[-2000:]
    assert "drawn uniformly, seed 0" in stdout
    rows = [line for line in lines if line.startswith(("naive loop (", "reference trainer (", "engine,"))]
    assert [r.split("  ")[0] for r in rows[2:]] == [  # a row per cells/batch, of 1 and of 2 processes
        "engine, 1 process x 1 thread, 2 cells/batch", "engine, 2 processes x 1 thread, 2 cells/batch",
        "engine, 1 process x 1 thread, 4 cells/batch"]
    assert rows[0].startswith("naive loop (plain PyTorch)") and " 1.00x" in rows[0]
    assert len(rows) == 5 and all(r.split()[-1].endswith("%") for r in rows)
    assert "median of 2 interleaved repetition(s)" in stdout and "Load average " in stdout
    # the naive loop trains as the reference trainer does: first-epoch losses agree to float rounding
    check = next(line for line in lines if line.startswith("naive loop vs reference trainer"))
    assert float(check.split("at most ")[1].split(")")[0]) < 1e-3
    assert "convolution share:" in stdout
    # the figures are the quotients they say they are
    table = [line for line in lines if line.startswith(("naive loop (", "reference trainer (", "engine,"))]
    peak = float(stdout.split("threads): ")[1].split(" GFLOP/s")[0])
    gflop = float(stdout.split(" GFLOP of useful work")[0].split()[-1])
    naive_s, reference_s = float(table[0].split()[-8]), float(table[1].split()[-8])
    timings: dict[str, list[str]] = {}  # each row's repetitions, as printed while they ran
    for line in lines:
        if line.startswith("timed, repetition "):
            timings.setdefault(line.split(": ")[1], []).append(line.rsplit(": ", 1)[1].removesuffix(" s"))
    for line in table:  # seconds are printed to 10 ms, GFLOP(/s) to 0.1: compare to 10% or the last digit
        f = line.split()
        sec, images_s, archs_h, gflops, vs_naive, vs_ref, of_peak = (
            float(f[-8]), float(f[-6]), float(f[-5]), float(f[-4]), float(f[-3].rstrip("x")), float(f[-2].rstrip("x")),
            float(f[-1].rstrip("%")))
        reps = timings[line.split("  ")[0]]  # seconds: the median of the row's 2 repetitions, (min-max) their range
        assert len(reps) == 2 and sec == pytest.approx(float(np.median([float(r) for r in reps])), abs=0.0101)
        assert f[-7] == f"({min(reps, key=float)}-{max(reps, key=float)})"
        assert images_s == pytest.approx(1 * 400 * 4 / sec, rel=0.1)  # epochs x train images x cells
        assert archs_h == pytest.approx(4 * 3600 / sec, rel=0.1)  # cells per hour
        assert gflops == pytest.approx(gflop / sec, rel=0.1, abs=0.06)
        assert vs_naive == pytest.approx(naive_s / sec, rel=0.1, abs=0.01)
        assert vs_ref == pytest.approx(reference_s / sec, rel=0.1, abs=0.01)
        # of peak comes from the unrounded GFLOP/s: allow the printed GFLOP/s's last digit (0.05) and its own
        assert of_peak == pytest.approx(100 * gflops / peak, rel=0.05, abs=100 * 0.05 / peak + 0.05)
    # the ceilings: the fastest engine row with every non-convolution op free (its time x the share), and 100%
    # of the matmul peak, each against the naive loop
    best_s = min(float(line.split()[-8]) for line in table[2:])
    said = next(line for line in lines if line.startswith("convolution share: "))
    share = float(said.split("convolution share: ")[1].split("%")[0]) / 100  # printed to 1%
    reach, of_peak_free = said.split("would reach ")[1].split(" the naive loop and ")
    assert 0 < share <= 1
    rel = 0.1 + 0.005 / share  # and the share's rounding to 1%
    assert float(reach.rstrip("x")) == pytest.approx(naive_s / best_s / share, rel=rel)
    assert float(of_peak_free.split("%")[0]) == pytest.approx(100 * gflop / best_s / peak / share, rel=rel, abs=1)
    ceiling = next(line for line in lines if line.startswith("matmul-peak ceiling: "))
    assert float(ceiling.split("would reach ")[1].split("x the naive loop")[0]) == pytest.approx(
        peak * naive_s / gflop, rel=0.1)
    # the convolution share is measured at the fastest engine row's cells per batch
    engine = [(int(line.split(",")[-1].split()[0]), float(line.split()[-8])) for line in table[2:]]
    share_k = int(stdout.split("wall time (")[1].split(" cells/batch")[0])
    assert min(s for k, s in engine if k == share_k) == min(s for _, s in engine)  # (a tie at 10 ms may be either)


def test_table_load_measures_a_small_table_in_a_fresh_process_of_the_checkout(decoy: dict[str, str],
                                                                              tmp_path: Path) -> None:
    """The measuring child imported the package from its working folder (the installed copy when run
    from elsewhere) and printed RSS in MiB labelled MB; ``--archs`` makes a small table for this check."""
    out = bench("table_load.py", "--archs", "50", "--dir", str(tmp_path), env=decoy, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("table: 50 archs x 3 seeds x 200 epochs x 8 metrics")
    rss = next(line for line in out.stdout.splitlines() if "peak RSS of the process" in line)
    assert " MiB (imports alone " in rss and " MB " not in rss.split("<")[0]
    assert len([line for line in out.stdout.splitlines() if line.startswith("  ")]) == 7
    assert bench("table_load.py", "--archs", "0", env=decoy, cwd=tmp_path).returncode == 2


def test_latency_order_refuses_fewer_than_two_shuffled_passes(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A cell's own latency is its mean over the *other* shuffled passes: with --passes 3 (one shuffled
    pass) that mean was empty, and the script printed NaN residuals (not even valid JSON) with exit 0."""
    said = refusal("latency_order.py", "--cells", "4", "--passes", "3", monkeypatch=monkeypatch, capsys=capsys)
    assert said.endswith("--passes must be at least 4 (two shuffled passes), got 3")


def test_latency_order_runs_on_a_few_cells(decoy: dict[str, str], tmp_path: Path) -> None:
    out = bench("latency_order.py", "--cells", "6", "--repeats", "3", "--warmup", "1", "--passes", "4",
                "--out", str(tmp_path / "order.json"), env=decoy, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))  # strict JSON
    rows = [r for r in result["median_ms"] if "pass" in r]
    assert [r["order"] for r in rows] == ["index", "shuffled:1", "index", "shuffled:3"]
    for r in rows:  # in index order the timing position is the arch index's rank
        if r["order"] == "index":
            assert r["spearman_position_residual"] == pytest.approx(r["spearman_index_residual"])
    assert json.loads((tmp_path / "order.json").read_text())["cell_indices"] == sorted(
        json.loads((tmp_path / "order.json").read_text())["cell_indices"])


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # residuals all 0: no rank correlation
def test_latency_order_keeps_each_timing_under_its_cell_in_every_pass(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """A shuffled pass times the cells in another order; each timing is kept under its cell, not under its
    position in the pass. With a fake timing that follows the cell alone, every pass holds the same values
    (Kendall tau 1 between passes)."""
    from nasbench_suite.latency import STATS, TimingOrder

    script = load_script("benchmarks/latency_order.py", "latency_order_under_test")

    def by_cell(arch, config, method):  # what measure_arch returns, without timing anything
        return {b: dict.fromkeys(STATS, 1.0 + arch.index / 1e4) for b in method.batches}

    monkeypatch.setattr(script, "measure_arch", by_cell)
    out = tmp_path / "order.json"
    monkeypatch.setattr(sys, "argv", ["latency_order.py", "--cells", "6", "--repeats", "3", "--warmup", "0",
                                      "--passes", "4", "--out", str(out)])
    script.main()
    capsys.readouterr()
    saved = json.loads(out.read_text())
    cells = saved["cell_indices"]
    assert saved["medians"] == saved["minima"] == [[1.0 + c / 1e4 for c in cells]] * 4
    assert list(saved["kendall_tau_medians"].values()) == pytest.approx([1.0] * 6)
    assert TimingOrder("shuffled", 1).arrange(cells) != cells  # pass 1 timed them in another order than the index


def test_latency_predictors_gives_no_measuring_rate_for_a_run_that_measured_nothing(
        decoy: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Resumed on a folder that already held every cell, seconds_per_cell was the store check's wall
    time divided by 1 (0.005 s 'per cell', a projected 0.009 hours for all classes): a rate of nothing.
    The first run is a real process (from outside the checkout, the decoy first on PYTHONPATH); the resumed
    one runs in this process (what it prints is what is checked, not how a process starts)."""
    args = ("--cells", "8", "--train", "5", "--repeats", "3", "--out", str(tmp_path / "lat"))
    first = bench("latency_predictors.py", *args, env=decoy, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    r1 = json.loads(first.stdout)
    assert r1["measured_cells"] == 8 and r1["measured_now"] == 8 and r1["seconds_per_cell"] > 0
    assert r1["projected_hours_all_classes"] == pytest.approx(r1["seconds_per_cell"] * 6466 / 3600)
    assert r1["lut"]["cells"] == 3 and r1["xgboost_log_target"]["train_cells"] == 5
    r2 = json.loads(in_process("latency_predictors.py", *args, monkeypatch=monkeypatch, capsys=capsys))
    assert r2["measured_now"] == 0
    assert r2["seconds_per_cell"] is None and r2["projected_hours_all_classes"] is None


@pytest.mark.parametrize("args, says", [
    (("--cells", "8", "--train", "8"), "--train must leave at least 2 of the --cells for testing"),
    (("--cells", "8", "--train", "1"), "--train must be at least 2"),
    (("--repeats", "2"), "need warmup >= 0, repeats >= 3 and threads >= 1"),
    (("--table", "no-such-table"), "no-such-table"),
    (("--shape", "16,5"), "--shape must be C,N,R,IN integers"),
    (("--stat", "max_ms"), "argument --stat: invalid choice: 'max_ms'"),
], ids=["train-all", "train-one", "repeats", "table", "shape", "stat"])
def test_latency_predictors_refuses_bad_settings_in_one_line(args: tuple[str, ...], says: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    said = refusal("latency_predictors.py", *args, "--out", str(tmp_path / "lat"), monkeypatch=monkeypatch,
                   capsys=capsys)
    assert says in said and not (tmp_path / "lat").exists()


def test_latency_noise_times_the_same_cells_in_separate_processes(decoy: dict[str, str], tmp_path: Path) -> None:
    """The processes' folders stayed behind in the temporary folder after every run."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = bench("latency_noise.py", "--cells", "3", "--processes", "2", "--repeats", "3",
                env={**decoy, "TMPDIR": str(tmp)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)
    assert (r["cells"], r["processes"], len(r["kendall_tau_between_processes"])) == (3, 2, 1)
    # each process timed the cells itself (a process resuming another's folder would time nothing, and report
    # its medians: no spread at all); independent timings, to the nanosecond, never all agree
    assert r["across_processes_max_over_min"]["max"] > 1.0 and r["across_processes_cv_percent"]["p90"] > 0
    assert list(tmp.iterdir()) == []
    refused = bench("latency_noise.py", "--processes", "1", env=decoy, cwd=tmp_path)
    assert refused.returncode == 2 and "--processes must be at least 2" in refused.stderr


def test_latency_search_scores_fronts_against_the_true_front(decoy: dict[str, str], tmp_path: Path) -> None:
    out = bench("latency_search.py", "--seeds", "1", "--queries", "12", env=decoy, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)
    assert set(r["strategies"]) == {"random", "rea", "bananas", "nsga2"}
    for name, row in r["strategies"].items():
        assert 0 < row["hypervolume_ratio_mean"] <= 1  # a subset's front never beats the true front's
        assert ("constrained" in row) == (name != "nsga2")
        if name != "nsga2":
            assert row["constrained"]["incumbents_over_limit"] == 0


@pytest.mark.parametrize("args, says", [
    (("--seeds", "0"), "--seeds and --queries must be at least 1"),
    (("--limit-quantile", "2"), "--limit-quantile must be in (0, 1]"),
    (("--latency", "no-such-folder"), "is not a latency folder"),
    (("--device-csv", str(ROOT / "tests" / "no-such.csv"), "--device", "pixel3_ms"), "no-such.csv"),
    (("--latency", next((ROOT / "benchmarks_data" / "latency").glob("cifar10-16px-cpu-*")).name, "--table", "digits",
      "--seeds", "1", "--queries", "5"), "timed the network"),
], ids=["seeds", "quantile", "folder", "device-csv", "other-network"])
def test_latency_search_refuses_bad_settings_in_one_line(args: tuple[str, ...], says: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Each was a traceback (--seeds 0: NaN means printed with exit 0; the CIFAR-16px network's latency folder
    scored the digits table's fronts without a word)."""
    assert says in refusal("latency_search.py", *args, monkeypatch=monkeypatch, capsys=capsys)


REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.mark.skipif(not (REFERENCE / "nb201_hp12_mean_acc.csv").is_file(),
                    reason="no shared reference folder beside the repository")
def test_search_replay_prints_the_harness_beside_a_plain_loop(decoy: dict[str, str], tmp_path: Path) -> None:
    """The side-by-side's ratio is checked on every run, never skipped: 60 baseline seeds give the plain loop
    about a hundred times its 1 ms print resolution on a 2-core machine (a loop timed as 0.000 s fails), and
    the ratio is compared against the bounds the printed seconds' rounding allows, however small they are."""
    out = bench("search_replay.py", "--seeds", "3", "--workers", "1", "--baseline-seeds", "60", "--tables",
                str(tmp_path / "tables"), "--ref-dir", str(REFERENCE), env=decoy, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    total = next(line for line in lines if line.startswith("4 strategies x 3 seeds = 12 runs"))
    assert "(in this process, evaluation included)" in total
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] in (["random"], ["rea"], ["reinforce"],
                                                                                      ["bohb"])}
    assert set(rows) == {"random", "rea", "reinforce", "bohb"}
    queries = int(total.split(", ")[1].split()[0].replace(",", ""))
    assert queries == pytest.approx(sum(float(r[1]) * 3 for r in rows.values()), abs=1)
    side = next(line for line in lines if line.startswith("120 RS + REA runs in one process"))
    plain = float(side.split("plain NumPy loop ")[1].split(" s")[0])
    harness = float(side.split("harness ")[1].split(" s")[0])
    ratio = float(side.split("(ratio ")[1].split(";")[0])
    # seconds printed to 1 ms, the ratio to 0.01: the unrounded quotient lies within these bounds, and a
    # plain loop printed as 0.000 s (a workload too small to time, or no loop timed) fails here, loudly
    assert plain >= 0.001, side
    low, high = (harness - 0.0005) / (plain + 0.0005), (harness + 0.0005) / (plain - 0.0005)
    assert low - 0.0051 <= ratio <= high + 0.0051, (ratio, low, high)
    assert float(side.split("a call of 1 seed took ")[1].split(" s)")[0]) > 0  # the fixed part of the harness's time
    assert bench("search_replay.py", "--seeds", "0", env=decoy, cwd=tmp_path).returncode == 2


def test_search_replay_without_reference_files_is_one_line(decoy: dict[str, str], tmp_path: Path) -> None:
    """It exited 1 through sys.exit; a missing input is a usage error, 2, like every other refusal."""
    out = bench("search_replay.py", "--ref-dir", str(tmp_path / "none"), "--tables", str(tmp_path / "t"), env=decoy,
                cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith(f"no reference files at {tmp_path / 'none'} (pass --ref-dir) "
                                                        f"and no tables at {tmp_path / 't'}")


def test_nats_import_benchmark_replaces_its_tables_and_nothing_else(decoy: dict[str, str], tmp_path: Path) -> None:
    """It began with shutil.rmtree(--out): pointed at a folder holding anything else, it deleted it all."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from nats_generator import generate_folder
    finally:
        sys.path.remove(str(ROOT / "tests"))
    folder = generate_folder(tmp_path / "src", [0, 5, 9], seed=0)
    (folder / "README.txt").write_text("not an arch file")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for workers in ("1", "2"):  # the second run replaces the first run's tables
        run = bench("nats_import.py", "--folder", str(folder), "--out", str(out), "--block-size", "2",
                    "--workers", workers, env=decoy, cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.startswith("imported 3 arch files into 8 tables"), run.stdout
        assert "RSS while importing (files read: MiB): 1: " in run.stdout
        assert ("peak RSS of the largest decoding process" in run.stdout) == (workers == "2")
    assert (out / "keep.txt").read_text() == "mine"
    assert len([p for p in out.iterdir() if (p / "manifest.json").is_file()]) == 8
    missing = bench("nats_import.py", "--folder", str(tmp_path / "none"), env=decoy, cwd=tmp_path)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


def _fake_crosscheck_inputs(folder: Path) -> tuple[Path, Path]:
    """A reference folder of 5 NB201 rows (4 of them in the fake NASLib subset) and a tiny cifar10_16px.npz."""
    import numpy as np
    import pandas as pd

    from nasbench_suite.space import Arch

    rng = np.random.default_rng(0)
    ref, data = folder / "reference", folder / "datasets"
    ref.mkdir()
    data.mkdir()
    cells = [Arch.from_index(int(a)) for a in (3, 1234, 5000, 9999, 15000)]
    pd.DataFrame({"CIFAR10TestAccuracy200Epochs": rng.uniform(80, 94, 5), "ArchitectureString": [str(c) for c in cells]}
                 ).to_csv(ref / "nb201_nats_test_acc_200ep.csv", index=False)
    naslib_op = {0: 1, 1: 0, 2: 3, 3: 2, 4: 4}  # ours -> NASLib's (the map is its own inverse)
    naslib_edge = (0, 1, 3, 2, 4, 5)
    rows = []
    for i in (0, 1, 3, 4):
        t = [0] * 6
        for e, op in enumerate(cells[i].ops):
            t[naslib_edge[e]] = naslib_op[op]
        rows.append({"dataset": "cifar10", "arch_index": i, "naslib_tuple": str(tuple(t)).replace(" ", ""),
                     "val_accuracy": rng.uniform(80, 90),
                     **{c: rng.uniform(0, 100) for c in ("synflow", "params", "flops", "grad_norm", "snip", "fisher",
                                                         "jacov", "nwot", "grasp")},
                     **{f"{c}_time_s": 0.5 for c in ("synflow", "params", "flops")}})
    rows.append({**rows[0], "dataset": "cifar100"})  # another dataset's row is left out
    pd.DataFrame(rows).to_csv(ref / "nb201_zero_cost_proxies_naslib_subset.csv", index=False)
    n_train, n_test = 200, 50
    with open(data / "cifar10_16px.npz", "wb") as f:
        np.savez(f, x_train=rng.integers(0, 256, (n_train, 16, 16, 3), dtype=np.uint8),
                 y_train=(np.arange(n_train) % 10).astype(np.uint8),
                 x_test=rng.integers(0, 256, (n_test, 16, 16, 3), dtype=np.uint8),
                 y_test=(np.arange(n_test) % 10).astype(np.uint8))
    return ref, data


def test_proxy_crosscheck_computes_and_reports_into_out(decoy: dict[str, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The scores and the report went to reports/proxy_crosscheck relative to the working folder (so run
    from elsewhere they landed there, and no run could leave the checkout's committed reports alone).
    compute runs as a real process from outside the checkout (the decoy first on PYTHONPATH); report
    runs in this process, from the same working folder (what it writes and prints is what is checked)."""
    ref, data = _fake_crosscheck_inputs(tmp_path)
    out = tmp_path / "crosscheck"
    run = bench("proxy_crosscheck.py", "compute", "--group", "data-free", "--ref-dir", str(ref), "--data-dir", str(data),
                "--limit", "3", "--out", str(out), env=decoy, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("data-free: 3 computed now, 0 already stored")
    monkeypatch.chdir(tmp_path)
    report = in_process("proxy_crosscheck.py", "report", "--ref-dir", str(ref), "--out", str(out),
                        monkeypatch=monkeypatch, capsys=capsys)
    assert (out / "cifar10.md").read_text() == report
    assert "the 4 CIFAR-10 rows" in report and "same cell for 4 of 4" in report
    table = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in report.splitlines()
             if line.startswith(("| synflow ", "| params ", "| flops "))}
    assert set(table) == {"synflow", "params", "flops"} and table["params"][1] == table["flops"][1] == "3"
    assert table["synflow"][1] == "2"  # cell 15000 is disconnected: its synflow is -inf, left out of the ranks
    assert not (tmp_path / "reports").exists()


COMPILE_CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import torch
import torch._dynamo
import compile_probe as cp
if not cp.torch_compiles_the_engine():
    sys.exit("skip: torch " + torch.__version__)
for limit in map(int, sys.argv[2:]):
    torch._dynamo.reset()  # compiled code and recompile counts as in a fresh process, for each limit
    cp.configure_dynamo(limit if limit else cp.RECOMPILE_LIMIT)
    ok0, tried0 = cp.dynamo_frames()
    x = torch.zeros(cp.BATCH, 3, cp.RES, cp.RES).to(memory_format=torch.channels_last)
    cp.step_fn(cp.engine_net(True, backend="eager"), x, torch.zeros(cp.BATCH, dtype=torch.long))()
    ok, tried = cp.dynamo_frames()
    print(limit, ok - ok0, tried - tried0)  # this limit's frames alone
"""
LIMITS = (0, 8)


@pytest.fixture(scope="module")
def compiled_frames(decoy: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[int, int]]:
    """(frames compiled, frames tried) of the engine's traced step at each of ``LIMITS``, from one process
    (each start imports torch and dynamo: paid once), dynamo reset between the limits."""
    out = subprocess.run([sys.executable, "-c", COMPILE_CHECK, str(ROOT / "benchmarks"), *map(str, LIMITS)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path_factory.mktemp("compile"), env=decoy)
    if out.stderr.startswith("skip: "):
        pytest.skip(f"{out.stderr.strip()[6:]}: its dynamo fails inside torch on the engine (compile_probe.MIN_TORCH)")
    assert out.returncode == 0, out.stderr[-2000:]
    counts = {int(limit): (int(ok), int(tried)) for limit, ok, tried in map(str.split, out.stdout.splitlines())}
    assert sorted(counts) == sorted(LIMITS)
    return counts


@pytest.mark.parametrize("limit", LIMITS, ids=["probe", "torch-default"])
def test_compile_probe_compiles_every_frame_of_the_engine(limit: int, compiled_frames) -> None:
    """At torch's default recompile limit (8) one of the 9 shapes StackedReLUConvBN.forward meets ran
    eagerly, so 'ops compiled' was partly eager. Traced with the 'eager' backend (no inductor: fast)."""
    ok, tried = compiled_frames[limit]
    assert tried > 0 and (ok == tried) == (limit == 0), (ok, tried)


@pytest.mark.parametrize("args, says", [
    (("--archs", "0"), "--archs must be 1..6466"),
    (("--first", "6460", "--archs", "16"), "--first must be 0..6450 for 16 consecutive representatives of 6466"),
    (("--workers", "0"), "--workers must be at least 1"),
    (("--batch-cells", "0"), "--batch-cells must be at least 1"),
    (("--dataset", "nope"), "unknown dataset 'nope'"),
    (("--epochs", "0"), "protocol field 'epochs' must be a positive integer"),
], ids=["archs", "first", "workers", "batch-cells", "dataset", "epochs"])
def test_pre_evaluate_speed_refuses_bad_settings_in_one_line(args: tuple[str, ...], says: str,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """--archs 0 and --batch-cells 0 were ValueError tracebacks, a bad dataset or protocol field too; --first
    near the end silently trained fewer cells than --archs asked for (6 instead of 16 here)."""
    assert says in refusal("pre_evaluate_speed.py", "--dataset", "synthetic", *args, monkeypatch=monkeypatch,
                           capsys=capsys)


# ----- pre_evaluate_speed's timing and work figures, with the training faked --------------------------
COLD = 100.0  # the fake clock's extra seconds for a trainer's first call in its process (data, kernels, allocator)


def _fake_speed_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                    *args: str) -> tuple[str, list[tuple[str, tuple[int, ...]]]]:
    """pre_evaluate_speed's ``main`` on ``args`` with every trainer faked on a fake clock: each cell trained
    advances it 1 s, plus :data:`COLD` s on the first call of a trainer in its process (the naive loop's, the
    reference trainer's, or an engine pool's worker task: the pools run their tasks in this process, a
    pool standing for its processes). The peak, the kernel ceiling and the convolution share are constants.
    A row's measured seconds are then its cells exactly when the warm-up took the cold start, and
    ``COLD`` more when it did not. Returns the stdout and every trainer call, in order, as (who, cells)."""
    module = _script("pre_evaluate_speed.py")
    now = [0.0]
    calls: list[tuple[str, tuple[int, ...]]] = []
    warmed: set[object] = set()

    def train(who: object, name: str, cells: tuple[int, ...]) -> bool:
        cold = who not in warmed
        warmed.add(who)
        now[0] += len(cells) + (COLD if cold else 0.0)
        calls.append((name, cells))
        return cold

    def plain_train_cell(arch: int, *rest: object) -> float:
        return 1.0 + train("plain", "plain", (arch,))  # a cold call's loss is off by 1: it must not be the check's

    def train_cell(arch: int, *rest: object) -> tuple:
        return (type("Record", (), {"metrics": {"train_loss": 1.0}})(),)

    def reference_train_cell(arch: int, *rest: object) -> tuple:
        train("reference", "reference", (arch,))
        return train_cell(arch)

    class Pool:
        def __init__(self, processes: int) -> None:
            self.processes = processes

        def map(self, fn: Callable, *columns: tuple) -> Iterator:
            return map(partial(fn, self), *columns)

    @contextlib.contextmanager
    def spawn_pool(processes: int) -> Iterator[Pool]:
        yield Pool(processes)

    def train_in_worker(pool: Pool, protocol: object, data_dir: object, archs: tuple[int, ...], *rest: object) -> list:
        train((pool, archs[0]), f"engine x{pool.processes}", tuple(archs))  # a worker per first cell
        return list(archs)

    monkeypatch.setattr(module, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: now[0])}))
    monkeypatch.setattr(module, "plain_train_cell", plain_train_cell)
    monkeypatch.setattr(module, "train_cell", reference_train_cell)
    monkeypatch.setattr(module, "spawn_pool", spawn_pool)
    monkeypatch.setattr(module, "_train_in_worker", train_in_worker)
    monkeypatch.setattr(module, "matmul_peak", lambda device: 1000.0)
    monkeypatch.setattr(module, "conv_ceiling", lambda *a: 500.0)
    monkeypatch.setattr(module, "conv_share", lambda *a: 0.5)
    return in_process("pre_evaluate_speed.py", *args, monkeypatch=monkeypatch, capsys=capsys), calls


def test_pre_evaluate_speed_times_each_row_after_one_untimed_warm_up(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Each row is warmed up once, unmeasured, before its first timed round: the naive loop and the reference
    trainer by one cell (``timed``), an engine row of one process by its first batch of cells, of several by
    their whole shards (``WorkerRow``). A script that dropped the warm-up timed the cold start in its first
    repetition; one that timed the warm-up instead timed the cold start and one cell (or no round at all)."""
    out, calls = _fake_speed_run(monkeypatch, capsys, "--dataset", "synthetic", "--archs", "4", "--epochs", "1",
                                 "--workers", "2", "--batch-cells", "2", "--repeats", "2")
    timed_lines = [line for line in out.splitlines() if line.startswith("timed, repetition ")]
    names = ["naive loop (plain PyTorch)", "reference trainer (train_cell)", "engine, 1 process x 1 thread, 2 cells/batch",
             "engine, 2 processes x 1 thread, 2 cells/batch"]
    assert len(timed_lines) == 2 * len(names)
    for r, line in enumerate(timed_lines):  # every timed round: its 4 cells at 1 s each, no cold start
        assert line.startswith(f"timed, repetition {r // len(names) + 1} of 2: {names[r % len(names)]}")
        assert line.endswith(": 4.00 s"), line
    archs = calls[1][1] + calls[2][1] + calls[3][1] + calls[4][1]  # the naive loop's first timed round
    assert len(set(archs)) == 4
    a, b = archs[:2], archs[2:]
    one_round = {  # each row's calls in one timed round
        "plain": [("plain", (x,)) for x in archs], "reference": [("reference", (x,)) for x in archs],
        "engine x1": [("engine x1", archs)], "engine x2": [("engine x2", a), ("engine x2", b)]}
    assert calls == [  # a warm-up before each row's first round, in the first repetition only
        ("plain", archs[:1]), *one_round["plain"], ("reference", archs[:1]), *one_round["reference"],
        ("engine x1", a), *one_round["engine x1"], ("engine x2", a), ("engine x2", b), *one_round["engine x2"],
        *one_round["plain"], *one_round["reference"], *one_round["engine x1"], *one_round["engine x2"]]
    # the losses compared are the timed rounds' (the cold warm-up's loss is 1 off)
    assert "first-epoch train loss 0.0e+00 apart" in out and "at most 0.0e+00" in out


def test_pre_evaluate_speed_counts_the_useful_work_of_the_cells_it_trains(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The "GFLOP of useful work" the GFLOP/s and %-of-peak columns divide, recomputed from the inputs
    apart from the script's formula: each trained cell's network built and its multiply-accumulates per
    image counted by forward hooks (``model.count_flops_hooks``, not the analytic count the script uses),
    2 FLOPs each, 3 passes (forward and backward) per training image and 1 per evaluated (valid + test)
    image, every epoch. With the training faked, 50 epochs cost nothing and give a figure large enough
    that its printed 0.1 GFLOP resolves a dropped or doubled factor; the seconds are exact (4 cells, 1 s each)."""
    from nasbench_suite.model import build_network, count_flops_hooks
    from nasbench_suite.space import Arch
    from nasbench_suite.train import Protocol, load_protocol_data

    epochs = 50
    out, calls = _fake_speed_run(monkeypatch, capsys, "--dataset", "synthetic", "--archs", "4", "--epochs", str(epochs),
                                 "--workers", "1", "--batch-cells", "4")
    cells = [arch for who, (arch, *_) in calls if who == "plain"][1:]  # the naive loop's timed round
    protocol = Protocol(dataset="synthetic", epochs=epochs)
    data = load_protocol_data(protocol)
    config = protocol.macro_config(data)
    macs = sum(count_flops_hooks(build_network(Arch.from_index(a), config), config) for a in cells)
    n_train, n_eval = len(data.splits["train"].y), len(data.splits["valid"].y) + len(data.splits["test"].y)
    flops = epochs * macs * 2 * (3 * n_train + 1 * n_eval)
    assert len(cells) == 4 and flops > 1e10  # the printed 0.1 GFLOP is then under 1% of it
    said = float(out.split(" GFLOP of useful work")[0].split()[-1])
    assert said == pytest.approx(flops / 1e9, abs=0.051)
    assert f"{n_train} train + {n_eval} eval images" in out
    table = [line for line in out.splitlines() if line.startswith(("naive loop (", "reference trainer (", "engine,"))]
    assert len(table) == 3
    for line in table:  # GFLOP/s and % of the (fake) 1000 GFLOP/s peak over each row's exact 4 s
        f = line.split()
        assert float(f[-8]) == 4.0
        assert float(f[-4]) == pytest.approx(flops / 4 / 1e9, abs=0.051)
        assert float(f[-1].rstrip("%")) == pytest.approx(100 * flops / 4 / 1e9 / 1000, abs=0.051)
