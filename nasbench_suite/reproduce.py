"""Replay a published multi-trial NAS protocol on local tables and print our numbers beside the
published ones (``nasbench reproduce nb201`` / ``nasbench reproduce nats``).

Both protocols search on the **12-epoch** validation accuracy of one trial (the hp=12 table: its
own 12-epoch schedule, not the 200-epoch run cut short), charge each query the 12-epoch training
seconds plus one validation pass (NATS-Bench's BOHB also queries epochs 1 and 4 of that schedule
where the table records them, charged as far as they train: NATS' ``simulate_train_eval`` charges
``train-all-time + valid-per-time``, the latter the mean per-epoch pass, equal to the queried epoch's
where the recorded pass times are constant over epochs, as in every hp=12 record of the 3-arch NATS
fixture), and report a **200-epoch test accuracy** (the hp=200 table, mean over its seeds). The clock
and the report follow each paper's scripts:

* ``nb201``: random search and REA (exps/algos/RANDOM.py, R_EA.py) drop the query that would cross
  the budget (``overrun="strict"``); REINFORCE (exps/algos/reinforce.py) appends each sampled cell to
  its trace before the budget check and stops after it, so the crossing query is run and may be the
  answer (``overrun="finish"``; with one worker it is the last). Reported: the final incumbent.
* ``nats``: every script (exps/NATS-algos/random_wo_share.py, regularized_ea.py, reinforce.py) loops
  while the clock is below the budget, the crossing query included (``overrun="finish"``; NATS'
  bohb.py runs 300 HpBandSter iterations whatever the budget, see below). Reported as
  exps/NATS-Bench/draw-table.py does (``query_performance``): per run, the accuracies of the
  incumbents at the two results that finished nearest the budget, interpolated linearly to it
  (:func:`interpolate_at`).

* ``nb201`` (NAS-Bench-201, ICLR 2020): search on CIFAR-10 (cifar10-valid, x-valid) with 12,000 s;
  the incumbents are evaluated on CIFAR-10 (test) and, where those tables exist, on CIFAR-100 and
  ImageNet16-120 (x-test): NB201 searched on CIFAR-10 only and reported the same architectures on
  all three datasets. Settings from NB201's scripts: REA population 10 / sample 3, REINFORCE
  lr 0.001 (EMA momentum 0.9), BOHB 4 samples and no random fraction (BOHB.sh), bandwidth factor 3
  and minimum bandwidth 0.3 (the defaults of its exps/algos/BOHB.py, which BOHB.sh keeps).
  NB201's BOHB (exps/algos/BOHB.py) runs HpBandSter with eta 3, min_budget 12 and max_budget 200,
  but its worker ignores the budget: every evaluation, promotions included, is a full 12-epoch
  query of a freshly drawn trial, charged in full; the incumbent is HpBandSter's, the best config
  evaluated at the largest budget (``Result.get_incumbent_id``). Here: brackets over the virtual
  budgets 22.2 / 66.7 / 200 (``min_budget=12, max_budget=200``), ``query_epochs=12``,
  ``resume=False``, ``incumbent_rule="max-budget"``; the KDE models are keyed on those budgets.
* ``nats`` (NATS-Bench, TPAMI 2021): search on each dataset's own 12-epoch x-valid with 20,000 s
  (CIFAR-10), 40,000 s (CIFAR-100) and 120,000 s (ImageNet16-120); REINFORCE lr 0.01; BOHB 4
  samples, no random fraction, bandwidth factor 3, minimum bandwidth 0.3. NATS-Bench's BOHB
  (exps/NATS-algos/bohb.py) runs HpBandSter with eta 3, min_budget 1 and max_budget 12, and each
  evaluation is a fresh ``simulate_train_eval(..., iepoch=int(budget) - 1, hp='12')``: the rungs
  train 1, 4 and 12 epochs of the 12-epoch schedule, each charged from scratch (no resume), and
  the result is the best accuracy seen at any budget. Here: ``min_budget=1, max_budget=12``,
  ``resume=False``, ``incumbent_rule="best"`` (on a table with epoch 12 only, every rung is 12 epochs).
  Its run ends at the first result past the budget, where NATS' goes on: when a later, shorter
  result finishes nearer the budget than the last one before it, the interpolation there uses it and
  ours cannot.

Tables are found in one folder, either imported official data (``nasbench import nats-tss``:
``<prefix>-cifar10-valid-hp12`` / ``<prefix>-cifar10-hp200``, ...) or the tables that
``nasbench reference build`` makes from the reference CSVs (``nb201-cifar10-hp12`` /
``nb201-cifar10-hp200``, CIFAR-10 by default): CI can run the replay without the official files.

Published numbers live in ``nasbench_suite/configs/published_nb201.json`` with their citation; only
rows marked verified carry numbers, and the verdict (within one published std or not) is given only
for those.
"""
from __future__ import annotations

import importlib.resources
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import jsonread
from .errors import NasBenchError, not_a_folder
from .evaluation import EvalSpec, incumbent_metric
from .intlist import MAX_ITEMS
from .search import MANIFEST_FILE, RESULTS_FILE, read_results, run_seeds, SearchSpec
from .simulator import Budget
from .table import Benchmark, load_table

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("random", "rea", "reinforce", "bohb")
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
WEIGHT_SHARING = ("darts-v1", "darts-v2", "gdas", "rsps", "enas")
_NATS_NAME = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
DEFAULT_WEIGHT_SHARING = Path(__file__).resolve().parents[1] / "reports" / "weight_sharing" / "digits"
"""The committed weight-sharing runs, found from the package's own folder (not the current directory):
they exist in a source checkout (or an editable install of one), not in an installed wheel."""


PUBLISHED_FILE = "nasbench_suite/configs/published_nb201.json"
"""The shipped published-results file, as the output names it."""


class ReproduceError(NasBenchError, ValueError):
    """A protocol, its tables or the published-results file cannot be used as asked."""


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    budgets: dict[str, float]
    """search dataset -> simulated seconds"""
    settings: dict[str, dict[str, Any]]
    transfer: bool
    """evaluate the incumbents of the (single) search dataset on every dataset's table"""
    overrun: dict[str, str] = field(default_factory=dict)
    """method -> the seconds budget's overrun policy (:class:`~nasbench_suite.simulator.Budget`); strict
    unless named"""
    report: str = "final"
    """``final``: the final incumbent's accuracy; ``interpolate``: NATS-Bench's :func:`interpolate_at`"""


PROTOCOLS: dict[str, Protocol] = {
    "nb201": Protocol(
        "nb201", "NAS-Bench-201 (Dong & Yang, ICLR 2020), multi-trial methods of its Table 5",
        {"cifar10": 12000.0},
        {"random": {}, "rea": {"population": 10, "sample_size": 3},
         "reinforce": {"learning_rate": 0.001, "momentum": 0.9},
         "bohb": {"num_samples": 4, "random_fraction": 0.0, "bandwidth_factor": 3.0, "min_bandwidth": 0.3,
                  "eta": 3, "min_budget": 12.0, "max_budget": 200.0, "query_epochs": 12, "resume": False,
                  "incumbent_rule": "max-budget"}},
        transfer=True, overrun={"reinforce": "finish"}),
    "nats": Protocol(
        "nats", "NATS-Bench (Dong et al., TPAMI 2021), topology search space, non-weight-sharing methods",
        {"cifar10": 20000.0, "cifar100": 40000.0, "imagenet16-120": 120000.0},
        {"random": {}, "rea": {"population": 10, "sample_size": 3},
         "reinforce": {"learning_rate": 0.01, "momentum": 0.9},
         "bohb": {"num_samples": 4, "random_fraction": 0.0, "bandwidth_factor": 3.0, "min_bandwidth": 0.3,
                  "eta": 3, "min_budget": 1.0, "max_budget": 12.0, "resume": False, "incumbent_rule": "best"}},
        transfer=False, overrun={m: "finish" for m in METHODS}, report="interpolate"),
}


@dataclass(frozen=True)
class Published:
    mean: float
    std: float
    evidence: str = ""
    """How the value was checked, e.g. 'quoted identically by ReLIZO, GENIUS (at least one names the
    paper as origin)'."""


@dataclass
class Row:
    protocol: str
    method: str
    search_dataset: str
    eval_dataset: str
    search_table: str
    eval_table: str
    budget_seconds: float
    runs: int
    mean: float
    std: float
    queries_per_run: float
    wall_seconds: float
    seeds: str = ""
    published: Published | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    overrun: str = "strict"
    report: str = "final"

    @property
    def verdict(self) -> str:
        if self.published is None:
            return "no verified published value"
        gap = self.mean - self.published.mean
        if abs(gap) <= self.published.std:
            return "within 1 published std"
        stds = abs(gap) / self.published.std if self.published.std > 0 else math.inf
        return f"outside ({gap:+.2f}, {stds:.1f} published stds)"


# ----- published numbers -------------------------------------------------------------------------------
def load_published(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The published-results file (default: the one shipped with the package)."""
    if path is None:
        text = importlib.resources.files("nasbench_suite").joinpath("configs/published_nb201.json").read_text("utf-8")
        where = PUBLISHED_FILE
    else:
        try:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ReproduceError(f"cannot read published results {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # a binary file: was a traceback
            raise ReproduceError(f"{path} is not valid JSON: not UTF-8 text ({exc.reason})") from None
    try:
        data = jsonread.loads(text)
    except json.JSONDecodeError as exc:
        raise ReproduceError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ReproduceError(f"{where} must hold an object with a 'results' list")
    for i, row in enumerate(data["results"]):
        _check_result(row, f"{where}: results[{i}]")
    return data


def _check_result(row: Any, where: str) -> None:
    """A row of the published-results file: an object; a verified one has a finite mean and std >= 0."""
    if not isinstance(row, dict):
        raise ReproduceError(f"{where} is a {type(row).__name__}, not an object with protocol, method, dataset, verified")
    if row.get("verified") is True:
        for key in ("mean", "std"):
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ReproduceError(f"{where} is verified but its {key} is {value!r}, not a finite number")
        if row["std"] < 0:
            raise ReproduceError(f"{where} has a negative std ({row['std']!r})")


def published_value(data: dict[str, Any], protocol: str, method: str, dataset: str, split: str = "test") -> Published | None:
    for r in data["results"]:
        if (r.get("protocol"), r.get("method"), r.get("dataset"), r.get("split", "test")) == (protocol, method, dataset, split):
            if r.get("verified") is True and isinstance(r.get("mean"), (int, float)) and isinstance(r.get("std"), (int, float)):
                return Published(float(r["mean"]), float(r["std"]), _evidence(r))
            return None
    return None


def _evidence(row: dict[str, Any]) -> str:
    if row.get("evidence") == "paper":
        return "read in the paper"
    names = row.get("quoted_by", []) or ["?"]
    if len(names) == 1:
        return f"quoted by {names[0]}, which {'names the paper as its origin' if row.get('attributed') else 'does not name its origin'}"
    origin = "at least one names the paper as origin" if row.get("attributed") else "none names its origin"
    return f"quoted identically by {', '.join(names)} ({origin})"


# ----- tables ------------------------------------------------------------------------------------------
def find_tables(folder: Path, dataset: str, prefix: str) -> tuple[Path, Path] | None:
    """(search hp12 table, evaluation hp200 table) of ``dataset`` in ``folder``: imported ones first,
    then reference-built ones."""
    nats = _NATS_NAME[dataset]
    candidates = [(f"{prefix}-{'cifar10-valid' if dataset == 'cifar10' else nats}-hp12", f"{prefix}-{nats}-hp200"),
                  (f"nb201-{dataset}-hp12", f"nb201-{dataset}-hp200")]
    for search, evaluate in candidates:
        if (folder / search).is_dir() and (folder / evaluate).is_dir():
            return folder / search, folder / evaluate
    return None


def _eval_table(folder: Path, dataset: str, prefix: str) -> Path | None:
    found = find_tables(folder, dataset, prefix)
    if found:
        return found[1]
    alone = folder / f"{prefix}-{_NATS_NAME[dataset]}-hp200"
    return alone if alone.is_dir() else None


def _stats(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def reproduce(protocol: str, tables: str | os.PathLike, *, runs: int = 100, first_seed: int = 0, processes: int = 1,
              prefix: str = "nats-tss", published: dict[str, Any] | None = None,
              methods: Sequence[str] = METHODS) -> list[Row]:
    """Replay ``protocol`` on the tables in ``tables``; one row per (method, evaluated dataset)."""
    if protocol not in PROTOCOLS:
        raise ReproduceError(f"unknown protocol {protocol!r}; use {' or '.join(PROTOCOLS)}")
    if not 1 <= runs <= MAX_ITEMS:  # the seed list is built: --runs 99999999999999999999 was a MemoryError
        raise ReproduceError(f"runs must be 1..{MAX_ITEMS:,}, got {runs}")
    if first_seed < 0:
        raise ReproduceError(f"first_seed (--first-seed) must be >= 0, got {first_seed}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ReproduceError(f"unknown method(s) {unknown}; the protocol covers {', '.join(METHODS)}")
    proto, folder = PROTOCOLS[protocol], Path(tables)
    if not folder.is_dir():
        raise ReproduceError(f"tables folder {folder} {not_a_folder(folder)}; import the official files "
                             f"(nasbench import nats-tss) or build the reference tables (nasbench reference build)")
    published = load_published() if published is None else published
    plan = [(ds, find_tables(folder, ds, prefix)) for ds in proto.budgets]
    plan = [(ds, found) for ds, found in plan if found is not None]
    if not plan:
        wanted = ", ".join(f"{prefix}-cifar10-valid-hp12 + {prefix}-cifar10-hp200" if ds == "cifar10" else ds
                           for ds in proto.budgets)
        raise ReproduceError(f"{folder} holds no search/evaluation table pair for {protocol} (looked for {wanted}, "
                             f"or nb201-<dataset>-hp12 + -hp200 from `nasbench reference build`)")
    seeds = list(range(first_seed, first_seed + runs))
    rows: list[Row] = []
    for ds, (search, evaluate) in plan:
        targets = [(ds, evaluate)]
        if proto.transfer:
            targets += [(other, p) for other in DATASETS if other != ds and (p := _eval_table(folder, other, prefix))]
        benches: dict[Path, Benchmark] = {p: load_table(p) for _, p in targets}
        for method in methods:
            overrun = proto.overrun.get(method, "strict")
            spec = SearchSpec(str(search), method, Budget(seconds=proto.budgets[ds], overrun=overrun),
                              proto.settings[method])
            started = time.perf_counter()
            res = run_seeds(spec, seeds, processes=processes, evaluation=EvalSpec(str(evaluate)), progress=False)
            wall = time.perf_counter() - started
            for eval_ds, path in targets:
                mean, std = _stats(reported_values(res.frame, benches[path], proto.report, proto.budgets[ds]))
                rows.append(Row(protocol, method, ds, eval_ds, Path(search).name, benches[path].name,
                                proto.budgets[ds], len(seeds), mean, std, float(res.manifest["runs"]["results_per_run"]["mean"]),
                                wall, f"{seeds[0]}-{seeds[-1]}", published_value(published, protocol, method, eval_ds),
                                dict(proto.settings[method]), overrun, proto.report))
    return rows


def interpolate_at(times: np.ndarray, values: np.ndarray, at: float) -> float:
    """NATS-Bench's reported value of one run (``query_performance`` in exps/NATS-Bench/draw-table.py):
    of the run's (time, incumbent accuracy) points, the two nearest ``at`` (earlier first on a tie),
    their accuracies taken linearly to ``at``; both may lie on one side of it (an extrapolation, as
    there). A run with one point gives its value; two nearest points at one time (results that cost
    nothing) give the later one's value, where the formula would divide by zero."""
    if len(times) == 1:
        return float(values[0])
    a, b = np.argsort(np.abs(np.asarray(times, dtype=np.float64) - at), kind="stable")[:2]
    ta, tb = float(times[a]), float(times[b])
    if ta == tb:
        return float(values[max(a, b)])
    return (tb - at) / (tb - ta) * float(values[a]) + (at - ta) / (tb - ta) * float(values[b])


def reported_values(frame: "pd.DataFrame", bench: Benchmark, report: str, budget: float) -> np.ndarray:
    """One reported accuracy per run (seed order) of a search results frame, read from ``bench``: the
    final incumbent's (``report='final'``) or :func:`interpolate_at` the budget over every told
    result's finish time and incumbent (``'interpolate'``)."""
    if report == "final":
        final = frame.groupby("seed", sort=True).tail(1)
        return incumbent_metric(final["incumbent_index"].to_numpy(), bench, EvalSpec())[0]
    if report != "interpolate":
        raise ReproduceError(f"unknown report rule {report!r}; use 'final' or 'interpolate'")
    values = incumbent_metric(frame["incumbent_index"].to_numpy(), bench, EvalSpec())[0]
    times, seeds = frame["finish_time"].to_numpy(), frame["seed"].to_numpy()
    starts = np.flatnonzero(np.r_[True, seeds[1:] != seeds[:-1]])  # rows are grouped by seed, in seed order
    ends = np.r_[starts[1:], len(seeds)]
    return np.array([interpolate_at(times[i:j], values[i:j], budget) for i, j in zip(starts, ends)])


# ----- weight sharing beside the published rows --------------------------------------------------------
@dataclass
class WeightSharingRow:
    method: str
    runs: int
    source: str
    own_table: str
    own_mean: float
    own_std: float
    eval_table: str | None
    eval_mean: float | None
    eval_std: float | None
    published: Published | None


def weight_sharing_folder(report_dir: str | os.PathLike | None) -> tuple[Path | None, str]:
    """The folder of weight-sharing runs to show beside NB201's rows, or None and why not (a line for the
    output). A folder given must exist and hold runs; without one, :data:`DEFAULT_WEIGHT_SHARING` is used
    where it exists."""
    if report_dir is None:
        if DEFAULT_WEIGHT_SHARING.is_dir():
            return DEFAULT_WEIGHT_SHARING, ""
        return None, (f"weight-sharing rows left out: the default folder {DEFAULT_WEIGHT_SHARING} "
                      f"{not_a_folder(DEFAULT_WEIGHT_SHARING)} "
                      "(reports/ comes with a source checkout, not an installed package); pass --weight-sharing DIR")
    folder = Path(report_dir)
    if not folder.is_dir():
        raise ReproduceError(f"weight-sharing folder {folder} {not_a_folder(folder)}")
    if not any((folder / m / RESULTS_FILE).is_file() for m in WEIGHT_SHARING):
        raise ReproduceError(f"weight-sharing folder {folder} holds no nasbench darts results "
                             f"(<folder>/<method>/trajectories.parquet, method one of {', '.join(WEIGHT_SHARING)})")
    return folder, ""


def weight_sharing_rows(report_dir: str | os.PathLike, tables: str | os.PathLike, prefix: str = "nats-tss",
                        published: dict[str, Any] | None = None) -> list[WeightSharingRow]:
    """Our weight-sharing runs (``nasbench darts`` result folders under ``report_dir``/<method>), their
    final cells' accuracy on the table they were searched with, the same cells looked up in the
    CIFAR-10 200-epoch table when one is in ``tables``, and NB201's published row."""
    published = load_published() if published is None else published
    root = Path(report_dir)
    if not root.is_dir():
        raise ReproduceError(f"weight-sharing folder {root} {not_a_folder(root)}")
    evaluate = _eval_table(Path(tables), "cifar10", prefix) if Path(tables).is_dir() else None
    bench = load_table(evaluate) if evaluate else None
    out = []
    for method in WEIGHT_SHARING:
        folder = root / method
        if not (folder / RESULTS_FILE).is_file():
            continue
        try:
            frame = read_results(folder / RESULTS_FILE)
            manifest = jsonread.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # a damaged run: was a traceback
            raise ReproduceError(f"cannot read the weight-sharing run in {folder}: {exc}") from None
        missing = [c for c in ("seed", "incumbent_index", "incumbent_test_acc") if c not in frame.columns]
        if not isinstance(manifest, dict) or missing:  # a KeyError/AttributeError traceback before
            raise ReproduceError(f"{folder} is not a weight-sharing run of nasbench darts or compare ("
                                 + (f"its trajectories lack {', '.join(missing)}" if missing else
                                    "its manifest.json is not an object") + ")")
        final = frame.groupby("seed", sort=True).tail(1)
        own_mean, own_std = _stats(final["incumbent_test_acc"].to_numpy(dtype=np.float64))
        eval_mean = eval_std = None
        if bench is not None:
            values, _, _ = incumbent_metric(final["incumbent_index"].to_numpy(), bench, EvalSpec())
            eval_mean, eval_std = _stats(values)
        out.append(WeightSharingRow(method, len(final), str(folder), manifest.get("evaluation", {}).get("table", "?"),
                                    own_mean, own_std, None if bench is None else bench.name, eval_mean, eval_std,
                                    published_value(published, "nb201", method, "cifar10")))
    return out


# ----- output ------------------------------------------------------------------------------------------
def _pm(mean: float | None, std: float | None) -> str:
    return "n/a" if mean is None or std is None else f"{mean:.2f} +- {std:.2f}"


def _pub(published: Published | None) -> str:
    return "n/a" if published is None else _pm(published.mean, published.std)


_BUDGET_RULE = {
    "nb201": "strict budget (REINFORCE: the query that crosses it is run and counts, then the run ends); "
             "reported = 200-epoch test accuracy of the final incumbent",
    "nats": "queries start while the clock is below the budget (the crossing query runs and counts); reported = "
            "200-epoch test accuracy interpolated at the budget between the incumbents of the two results that "
            "finished nearest it",
}


def render(protocol: str, rows: list[Row], ws: list[WeightSharingRow], seconds: float,
           published: dict[str, Any], ws_note: str = "", published_file: str = PUBLISHED_FILE) -> str:
    """The report; ``published_file`` names the file ``published`` was read from."""
    proto = PROTOCOLS[protocol]
    lines = [f"nasbench reproduce {protocol}: {proto.title}",
             "protocol: search on the 12-epoch (hp=12) valid accuracy of one trial (the table's seed the run's trial "
             "reads; a table of trial means, as `nasbench reference build` writes, holds their mean as its one seed); "
             "cost = 12-epoch train seconds + "
             "one validation pass; " + _BUDGET_RULE[protocol] + " (mean over the table's seeds)"
             + ("; BOHB's rungs train 1, 4 and 12 epochs of that schedule (where the table records them), each "
                "charged from scratch" if protocol == "nats" else "")]
    for (ds, search, budget), group in _groups(rows):
        lines += ["", f"search {ds} on {search}, budget {budget:,.0f} simulated s, {group[0].runs} runs (seeds "
                      f"{group[0].seeds}); accuracy in percent, std over runs; seconds = wall time of the method's runs"]
        lines.append(f"{'method':<10} {'evaluated on':<36} {'ours (mean +- std)':>19} {'published':>15}  "
                     f"{'verdict':<30} {'queries/run':>11} {'seconds':>8}")
        for r in group:
            lines.append(f"{r.method:<10} {r.eval_table + ' test':<36} {_pm(r.mean, r.std):>19} "
                         f"{_pub(r.published):>15}  "
                         f"{r.verdict:<30} {r.queries_per_run:>11.1f} {r.wall_seconds:>8.1f}")
    if ws:
        lines += ["", "weight-sharing methods beside NB201's published rows. NOT the same experiment: our runs searched "
                      "the project's own table (below: its name) with its small supernet, NB201's searched CIFAR-10 with "
                      "its own; the middle column only looks the cells our runs found up in the CIFAR-10 table.",
                  f"{'method':<9} {'runs':>4} {'own table test':>22} {'same cells, CIFAR-10 test':>26} "
                  f"{'NB201 published (C10 test)':>27}"]
        for w in ws:
            lines.append(f"{w.method:<9} {w.runs:>4} {_pm(w.own_mean, w.own_std) + ' (' + w.own_table + ')':>22} "
                         f"{_pm(w.eval_mean, w.eval_std):>26} {_pub(w.published):>27}")
    if ws_note:
        lines += ["", ws_note]
    used = {(r.method, r.eval_dataset): r.published for r in rows if r.published}
    used.update({(w.method, "cifar10"): w.published for w in ws if w.published})
    if used:
        lines += ["", f"published values used, and how each was checked (details: 'quoting_sources' in "
                      f"{published_file}):"]
        lines += [f"  {m} {ds}: {_pub(pub)}, {pub.evidence}" for (m, ds), pub in used.items()]
    if not any(r.published for r in rows):
        lines += ["", f"published values: none verified yet in {published_file}; see its "
                      "'verification_status'. Verdicts need a verified row (paper + table)."]
    src = published.get("sources", {}).get(protocol, {})
    if src:
        lines.append(f"source: {src.get('paper', '?')}, {src.get('table', '?')}")
    lines.append(f"took {seconds:.1f} s wall")
    return "\n".join(lines)


def _groups(rows: list[Row]) -> list[tuple[tuple[str, str, float], list[Row]]]:
    out: dict[tuple[str, str, float], list[Row]] = {}
    for r in rows:
        out.setdefault((r.search_dataset, r.search_table, r.budget_seconds), []).append(r)
    return list(out.items())


def payload(rows: list[Row], ws: list[WeightSharingRow], seconds: float, ws_note: str = "") -> dict[str, Any]:
    return {"rows": [{**asdict(r), "verdict": r.verdict} for r in rows], "weight_sharing": [asdict(w) for w in ws],
            "wall_seconds": seconds, **({"weight_sharing_note": ws_note} if ws_note else {})}
