"""``nasbench report RUNS``: the comparison report, regenerated from a runs folder alone.

Writes into the report folder (by default the runs folder's parent):

- ``index.md`` (figures linked from ``figures/``) and ``index.html`` (self-contained: the same
  figures embedded as PNG data, the same tables);
- ``figures/anytime.png``, ``final.png``, ``cd.png``, ``latency.png``, ``weight_sharing.png``;
- ``final.csv`` (per strategy), ``ranks.csv`` (per seed and strategy), ``nemenyi.csv`` (p-values),
  ``anytime.csv`` (median and band per strategy and grid time), ``hypervolume.csv`` (per strategy and
  seed, with a latency source).

Every file is a pure function of the runs folder: sorted rows, fixed float formatting, PNGs without
date or software chunks, and no process count (the same report whatever ``--workers`` made the runs).
Nothing is re-run and no table is read.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import jsonread
from ..compare import CELLS_FILE, WEIGHT_SHARING, WS_STAGING, CompareError, read_compare
from ..intlist import format_int_list, parse_int_list
from ..search import FORMAT as SEARCH_FORMAT
from ..search import MANIFEST_FILE, RESULTS_FILE, read_results, run_notes
from ..store import atomic_write_bytes, atomic_write_text
from . import figures, stats

CSV_FLOAT = "%.6g"


@dataclass
class Runs:
    record: dict[str, Any]
    replayed: dict[str, pd.DataFrame]
    manifests: dict[str, dict[str, Any]]
    weight_sharing: dict[str, pd.DataFrame]
    ws_manifests: dict[str, dict[str, Any]]
    cells: pd.DataFrame | None


REPLAYED_COLUMNS = ("seed", "arch_index", "finish_time", "incumbent_index", "incumbent_value", stats.ACC,
                    stats.REGRET)
"""The columns of a replayed run's trajectories the report reads."""
WS_COLUMNS = ("seed", "step", "epochs", "measured_time", stats.ACC, stats.REGRET)
"""The columns of a weight-sharing run's trajectories the report reads."""


def _read_run(folder: Path, needs: tuple[str, ...], columns: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A run's results and manifest; a manifest that is not one of search results holding ``needs`` (the
    entries the report reads), or results without ``columns``, are refused with one line, not left to fail
    while the report is built."""
    try:
        frame = read_results(folder / RESULTS_FILE)
        manifest = jsonread.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CompareError(f"cannot read the run in {folder}: {e}") from None
    if (not isinstance(manifest, dict) or manifest.get("format") != SEARCH_FORMAT
            or not all(isinstance(manifest.get(k), dict) for k in needs)):
        raise CompareError(f"{folder / MANIFEST_FILE} is not the manifest of a run made by nasbench compare "
                           f"(a {SEARCH_FORMAT} object with {', '.join(needs)}); make the runs again with nasbench "
                           "compare into a new folder")
    missing = [c for c in columns if c not in frame.columns]
    if missing:  # a KeyError traceback while the report was built
        raise CompareError(f"{folder / RESULTS_FILE} lacks the column(s) {', '.join(missing)}: not the results of a "
                           "run made by nasbench compare; make the runs again with nasbench compare into a new folder")
    return frame, manifest


def _check_seeds(label: str, folder: Path, frame: pd.DataFrame, manifest: dict[str, Any], listed: list[int]) -> None:
    """Refuse a run of strategy ``label`` whose seeds are not those compare.json lists (``listed``): a folder
    replaced by a search of other seeds was reported as the compare's, on other data, without a word. The seeds
    it holds are those its manifest ran (a run that stopped before its first result has no rows) and those its
    results hold."""
    try:
        held = set(parse_int_list(manifest["seeds"]["ranges"])) | {int(s) for s in frame["seed"].unique()}
    except (KeyError, TypeError, ValueError):
        raise CompareError(f"{folder} does not say which seeds it ran (its manifest's seeds.ranges, its results' "
                           "seed column); make the runs again with nasbench compare into a new folder") from None
    missing, extra = sorted(set(listed) - held), sorted(held - set(listed))
    if missing or extra:
        what = "; ".join(f"{format_int_list(seeds)} {word}" for seeds, word in ((missing, "missing"), (extra, "extra"))
                         if seeds)
        raise CompareError(f"{folder} holds other runs of {label!r} than compare.json lists (seeds "
                           f"{format_int_list(listed)}): seeds {what}; make the runs again with nasbench compare "
                           "into a new folder")


def load_runs(runs: Path) -> Runs:
    """Everything the report needs from a runs folder made by ``nasbench compare``."""
    runs = Path(runs)
    record = read_compare(runs)
    if record["weight_sharing"] and not (runs / WEIGHT_SHARING).is_dir() and (runs / WS_STAGING).is_dir():
        raise CompareError(f"{runs} holds the runs of a compare stopped before it put its weight-sharing runs in "
                           f"place ({runs / WS_STAGING}): run the same nasbench compare again to finish it")
    replayed, manifests, ws, ws_manifests = {}, {}, {}, {}
    for label, rel in record["replayed"]:  # config order
        replayed[label], manifests[label] = _read_run(runs / rel, ("search", "strategy", "evaluation", "runs", "seeds"),
                                                      REPLAYED_COLUMNS)
        _check_seeds(label, runs / rel, replayed[label], manifests[label], record["config"]["seeds"])
    ws_seeds = (record["config"]["weight_sharing"] or {}).get("seeds", [])
    for method, rel in record["weight_sharing"]:
        ws[method], ws_manifests[method] = _read_run(runs / rel, ("strategy", "supernet", "cost", "seeds"),
                                                            WS_COLUMNS)
        _check_seeds(method, runs / rel, ws[method], ws_manifests[method], ws_seeds)
    try:
        cells = read_results(runs / CELLS_FILE) if (runs / CELLS_FILE).is_file() else None
    except (OSError, ValueError) as e:
        raise CompareError(f"cannot read {runs / CELLS_FILE}: {e}") from None
    return Runs(record, replayed, manifests, ws, ws_manifests, cells)


# ----- text helpers --------------------------------------------------------------------------------
def _fmt(x: Any, digits: int = 2) -> str:
    if isinstance(x, (float, np.floating)):
        return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"
    return str(x)


def md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="t", float_format=lambda v: _fmt(v), escape=True)


def _pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {_fmt(std, digits)}"


# ----- the report ----------------------------------------------------------------------------------
@dataclass
class Section:
    title: str
    text: str = ""
    table: pd.DataFrame | None = None
    figure: str | None = None
    alt: str = ""


def build_report(runs: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``runs`` into ``out`` (default: the parent of ``runs``); returns ``out``."""
    runs = Path(runs)
    data = load_runs(runs)
    out = runs.parent if out is None else Path(out)
    rec, cfg = data.record, data.record["config"]
    if (out / "figures").is_symlink():  # its stale figures were deleted, and new ones written, wherever it led
        raise CompareError(f"{out / 'figures'} is a symbolic link; the report writes and clears its own figures "
                           "folder there: delete the link, or write the report into another folder")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    labels = list(data.replayed)
    colors = figures.palette(labels, list(data.weight_sharing))
    final = {k: stats.finals(f) for k, f in data.replayed.items()}
    ws_final = {k: stats.finals(f) for k, f in data.weight_sharing.items()}
    evaluation = next(iter(data.manifests.values()))["evaluation"]
    pngs: dict[str, bytes] = {}
    sections: list[Section] = []

    # the notes `nasbench compare` printed, for the report's readers (no section when there are none)
    notes = [note for label in labels
             for note in run_notes(label, data.manifests[label], final[label])]
    if notes:
        sections.append(Section("Caveats", text=" ".join(f"{note}." for note in notes)
                                + " None of this is an error: the figures and tables below include these runs as they are."))

    # anytime curves
    grid = stats.time_grid(data.replayed, cfg["budget_seconds"])
    curves, rows = {}, []
    for k, (label, frame) in enumerate(data.replayed.items()):
        _, acc = stats.anytime(frame, grid, stats.ACC)
        _, reg = stats.anytime(frame, grid, stats.REGRET)
        a = stats.median_band(acc, cfg["bootstrap"], cfg["alpha"], seed=2 * k)
        r = stats.median_band(reg, cfg["bootstrap"], cfg["alpha"], seed=2 * k + 1)
        curves[label] = (*a, *r)
        rows.append(pd.DataFrame({"strategy": label, "time": grid, "acc_median": a[0], "acc_low": a[1],
                                  "acc_high": a[2], "regret_median": r[0], "regret_low": r[1], "regret_high": r[2]}))
    atomic_write_text(out / "anytime.csv", pd.concat(rows).to_csv(index=False, float_format=CSV_FLOAT))
    pngs["anytime"] = figures.anytime_figure(grid, curves, colors, cfg["alpha"],
                                             f"{len(labels)} strategies on {rec['table']['name']}, "
                                             f"{len(cfg['seeds'])} runs each")
    sections.append(Section(
        "Anytime performance", figure="anytime",
        alt="incumbent test accuracy and regret against simulated time",
        text=(f"Incumbent {evaluation['split']} accuracy (what the searcher would report, read after the run from the "
              f"table's epoch {evaluation['epoch']}, mean over table seeds) and regret to the table's best "
              f"({evaluation['optimum']:.2f}%, arch {evaluation['optimum_arch']}) against simulated seconds. "
              f"Step functions: the median over {len(cfg['seeds'])} runs; "
              + (f"bands: {100 * (1 - cfg['alpha']):.0f}% percentile bootstrap of that median ({cfg['bootstrap']} "
                 "resamples)." if len(cfg["seeds"]) > 1 else "no band: one run has no spread to resample."))))

    # final results (+ weight sharing beside them)
    table = stats.final_table(final)
    atomic_write_text(out / "final.csv", table.to_csv(index=False, float_format=CSV_FLOAT))
    shown = pd.DataFrame({
        "strategy": table["strategy"], "cost": "replayed (simulated s)", "runs": table["runs"],
        "test acc mean ± std": [_pm(m, s) for m, s in zip(table["test_acc_mean"], table["test_acc_std"])],
        "test acc median [IQR]": [f"{m:.2f} [{i:.2f}]" for m, i in zip(table["test_acc_median"], table["test_acc_iqr"])],
        "regret mean ± std": [_pm(m, s) for m, s in zip(table["regret_mean"], table["regret_std"])],
        "regret median [IQR]": [f"{m:.2f} [{i:.2f}]" for m, i in zip(table["regret_median"], table["regret_iqr"])],
        "queries": [f"{q:.0f}" for q in table["queries_mean"]]})
    ws_rows = []
    for method, f in ws_final.items():
        a, r = stats.summary(f[stats.ACC]), stats.summary(f[stats.REGRET])
        ws_rows.append({"strategy": method, "cost": f"measured: {f['measured_time'].mean():.1f} s/run wall",
                        "runs": len(f), "test acc mean ± std": _pm(a["mean"], a["std"]),
                        "test acc median [IQR]": f"{a['median']:.2f} [{a['iqr']:.2f}]",
                        "regret mean ± std": _pm(r["mean"], r["std"]),
                        "regret median [IQR]": f"{r['median']:.2f} [{r['iqr']:.2f}]",
                        "queries": f"{int(f['epochs'].max())} supernet epochs"})
    if ws_rows:
        shown = pd.concat([shown, pd.DataFrame(ws_rows)], ignore_index=True)
    pngs["final"] = figures.final_figure(final, ws_final, colors)
    sections.append(Section(
        "Final results", table=shown, figure="final", alt="final test accuracy per run and strategy",
        text=("The final incumbent of every run. Std is over runs (ddof 1); IQR = 75th - 25th percentile; queries = "
              "results told to the strategy." + (
                  " Weight-sharing rows are real runs on this machine: their cost is **measured wall seconds**, not "
                  "simulated time, and their runs use their own seeds "
                  f"({', '.join(sorted({m['seeds']['ranges'] for m in data.ws_manifests.values()}))})."
                  if data.ws_manifests else ""))))

    # ranks and significance
    tests = stats.rank_tests(final, cfg["alpha"])
    if tests is not None:
        atomic_write_text(out / "ranks.csv", tests.ranks.rename_axis("seed").to_csv(float_format=CSV_FLOAT))
        atomic_write_text(out / "nemenyi.csv", tests.nemenyi_p.rename_axis("strategy").to_csv(float_format=CSV_FLOAT))
        pngs["cd"] = figures.cd_figure(tests, colors)
        verdict = "differ" if tests.friedman_p < tests.alpha else "cannot be told apart"
        mr = pd.DataFrame({"strategy": tests.mean_ranks.index, "mean rank": tests.mean_ranks.to_numpy()})
        sections.append(Section(
            "Ranks and significance", table=mr, figure="cd", alt="critical-difference diagram",
            text=(f"Per seed, strategies are ranked by final test accuracy (1 = best, ties averaged); seeds are blocks "
                  f"(every strategy ran every seed, paired by common random numbers). Friedman chi² = "
                  f"{tests.friedman_statistic:.2f}, p = {tests.friedman_p:.3g}: at alpha {tests.alpha} the strategies "
                  f"**{verdict}**. Nemenyi post-hoc test (scikit-posthocs): critical difference "
                  f"{tests.critical_difference:.2f} ranks; bars join strategies it cannot separate"
                  + ("" if tests.friedman_p < tests.alpha else
                     " (shown for reference: a post-hoc test is read only where the Friedman test rejects, Demšar 2006)")
                  + ". Weight-sharing "
                  "methods are not ranked (other seeds, measured cost). p-values: `nemenyi.csv`; ranks: `ranks.csv`.")))
    else:
        sections.append(Section("Ranks and significance", text=_no_rank_tests(final)))

    # accuracy vs latency
    lat = rec.get("latency")
    hv: dict[str, pd.Series] = {}
    if data.cells is not None and lat is not None:
        where = {"this machine": "measured on this machine",
                 "another machine": f"measured on another machine (fingerprint {lat['key']}; this one is "
                                    f"{rec['machine']['hash']})",
                 "third-party": f"a third-party device table (column {lat['key']})"}[lat["kind"]]
        label = f"{lat['name']}, {where}"
        pngs["latency"] = figures.latency_figure(data.cells, final, colors, f"batch {cfg['latency_batch']}, {label}")
        front = data.cells[data.cells["pareto"]]
        hv = {k: stats.hypervolume_ratios(data.replayed[k], data.cells) for k, f in final.items() if "incumbent_latency" in f}
        if hv:
            atomic_write_text(out / "hypervolume.csv", pd.concat(hv, names=["strategy"]).reset_index().to_csv(
                index=False, float_format=CSV_FLOAT))
        lat_rows = pd.DataFrame([{"strategy": k, "median latency of final cells (ms)": f"{final[k]['incumbent_latency'].median():.3f}",
                                  "final cells on the table's front": int(final[k]["incumbent_index"].isin(front["arch_index"]).sum()),
                                  "hypervolume of queried cells / front's": _pm(r.mean(), r.std(ddof=1), 3)}
                                 for k, r in hv.items()])
        sections.append(Section(
            "Accuracy and latency", table=lat_rows, figure="latency", alt="test accuracy against latency",
            text=(f"Final cells of every run against their latency ({lat['source']}; {label}). Grey: every cell of the "
                  f"table; black: the table's Pareto front ({_front_size(front)}) of test accuracy and latency. "
                  + _latency_objective_note(data.manifests) + " Hypervolume: of every cell a run queried (at any "
                  "fidelity, valued at the table's test accuracy and latency), divided by the table front's, reference "
                  "point the table's lowest accuracy and highest latency; mean ± std over runs (ddof 1), per run in "
                  "`hypervolume.csv`.")))
    else:
        sections.append(Section("Accuracy and latency", text="No latency source was configured or found for this table."))

    # weight sharing
    if data.weight_sharing:
        pngs["weight_sharing"] = figures.weight_sharing_figure(data.weight_sharing, colors)
        m = next(iter(data.ws_manifests.values()))
        sections.append(Section(
            "Weight sharing (measured)", figure="weight_sharing", alt="weight-sharing runs against measured seconds",
            text=(f"Supernet {_shape(m['supernet']['config'])} trained for real on {m['cost']['device']} "
                  f"({rec['machine']['cpu']}); after each search epoch the derived cell is looked up in the table. Cost "
                  "is measured wall seconds on this machine, so it differs between executions and machines; the "
                  "accuracies are a pure function of the seeds on this CPU model (another model's float rounding can "
                  "move the derived cells).")))

    # the process count is not part of the report: it must read the same whatever --workers ran it
    config = {**{k: v for k, v in cfg.items() if k != "workers"}, "seeds": format_int_list(cfg["seeds"])}
    if cfg.get("weight_sharing"):
        config["weight_sharing"] = {**cfg["weight_sharing"], "seeds": format_int_list(cfg["weight_sharing"]["seeds"])}
    manifest = {"table": rec["table"], "package_version": rec["package_version"], "machine": rec["machine"],
                "config": config, "latency": lat,
                "strategies (with every default setting)": {k: v["strategy"] for k, v in data.manifests.items()},
                "weight sharing": {k: {"strategy": v["strategy"], "supernet": v["supernet"]}
                                   for k, v in data.ws_manifests.items()}}
    for name, payload in pngs.items():
        atomic_write_bytes(out / "figures" / f"{name}.png", payload)
    # a report rewritten in place keeps no output of an earlier one that this one does not make
    for stale in [*(p for p in (out / "figures").glob("*.png") if p.stem not in pngs),
                  *([] if tests is not None else [out / "ranks.csv", out / "nemenyi.csv"]),
                  *([] if "latency" in pngs and hv else [out / "hypervolume.csv"])]:
        stale.unlink(missing_ok=True)
    atomic_write_text(out / "index.md", _markdown(rec, sections, manifest))
    atomic_write_text(out / "index.html", _html(rec, sections, manifest, pngs))
    return out


def _front_size(front: pd.DataFrame) -> str:
    """"51 cells, 11 distinct points: ..." where cells share both values (an isomorphism class's members are
    filled from its representative and timed as one), as the figure shows only the distinct points."""
    points = len(front[["test_acc", "latency_ms"]].drop_duplicates())
    if points == len(front):
        return f"{len(front)} cells"
    return f"{len(front)} cells, {points} distinct points: isomorphic cells share accuracy and latency"


def _latency_objective_note(manifests: dict[str, dict[str, Any]]) -> str:
    """Which replayed entries searched with latency as an objective (the nsga2 ones, by label); a strategy of
    the user's own (its class outside ``algorithms``) is named as one the report cannot classify."""
    moo = [label if label == "nsga2" else f"{label} (nsga2)" for label, m in manifests.items()
           if m["strategy"]["name"] == "nsga2"]
    own = [label for label, m in manifests.items()  # (runs older than the recorded class: shipped)
           if not m["strategy"].get("class", "algorithms.").startswith("algorithms.")]
    others = "the shipped others" if own else "the others"
    if not moo:
        note = ("No shipped strategy here searched with latency as an objective." if own else
                "No strategy here searched with latency as an objective: all optimize accuracy alone.")
    else:
        note = f"Only {_listed(moo)} searched with latency as an objective; {others} optimize accuracy alone."
    if own:
        note += (f" {_listed(own)} {'is a strategy' if len(own) == 1 else 'are strategies'} of your own: whether "
                 f"{'it reads' if len(own) == 1 else 'they read'} a result's latency is not recorded.")
    return note


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _no_rank_tests(final: dict[str, pd.DataFrame]) -> str:
    """Why the report has no ranks, Friedman test or critical-difference diagram."""
    if len(final) < 3:
        return (f"Omitted: the Friedman test and Nemenyi's post-hoc test need at least 3 strategies, and this "
                f"comparison has {len(final)}.")
    return ("Omitted: the Friedman test and Nemenyi's post-hoc test need at least 2 seeds that every strategy ran, "
            "and this comparison has fewer.")


def _shape(config: dict[str, Any]) -> str:
    return (f"C={config['channels']}, N={config['cells']}, {config['resolution']}x{config['resolution']}x"
            f"{config['in_channels']} input, {config['num_classes']} classes")


def _intro(rec: dict[str, Any]) -> str:
    cfg, t = rec["config"], rec["table"]
    budget = " and ".join(x for x in (f"{cfg['budget_seconds']:g} simulated seconds" if cfg["budget_seconds"] else "",
                                      f"{cfg['budget_queries']} queries" if cfg["budget_queries"] else "") if x)
    about = t["description"]
    if "cells" in t:  # a table of some cells only (records before this key have none)
        about = (f"{about} " if about else "") + (
            f"It holds {t['cells']:,} of the 15,625 cells ({t['classes']:,} isomorphism classes): every strategy "
            "searched only these, and regret is to the best of them, not to the best cell of the space.")
    return (f"Table `{t['name']}` ({t['content_hash'][:19]}…){': ' + about if about else '.'}\n\n"
            f"{len(cfg['strategies'])} replayed strategies × {len(cfg['seeds'])} seeds, budget {budget} per run "
            f"({cfg['overrun']} overrun, {cfg['sim_workers']} simulated worker(s)); made by nasbench_suite "
            f"{rec['package_version']} with `nasbench compare`, regenerated by `nasbench report RUNS`.")


def _markdown(rec: dict[str, Any], sections: list[Section], manifest: dict[str, Any]) -> str:
    parts = [f"# Comparison report: {rec['config']['name']}", "", _intro(rec), ""]
    for s in sections:
        parts += [f"## {s.title}", "", s.text, ""]
        if s.figure:
            parts += [f"![{s.alt}](figures/{s.figure}.png)", ""]
        if s.table is not None:
            parts += [md_table(s.table), ""]
    parts += ["## Manifest", "", "```json", json.dumps(manifest, indent=2, sort_keys=True), "```", ""]
    return "\n".join(parts)


_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
img{max-width:100%;height:auto;display:block;margin:0.8em 0}
table.t{border-collapse:collapse;font-size:0.85em;margin:0.8em 0}
table.t th,table.t td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;white-space:nowrap}
pre{background:#f6f6f6;padding:0.8em;overflow-x:auto;font-size:0.8em}"""


def _inline(text: str) -> str:
    """The little markdown the section texts use (**bold**, `code`) as HTML."""
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _html(rec: dict[str, Any], sections: list[Section], manifest: dict[str, Any], pngs: dict[str, bytes]) -> str:
    title = html.escape(f"Comparison report: {rec['config']['name']}")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{title}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{title}</h1>",
             "".join(f"<p>{_inline(p)}</p>" for p in _intro(rec).split("\n\n"))]
    for s in sections:
        parts += [f"<h2>{html.escape(s.title)}</h2>", f"<p>{_inline(s.text)}</p>"]
        if s.figure:
            data = base64.b64encode(pngs[s.figure]).decode("ascii")
            parts.append(f'<img alt="{html.escape(s.alt)}" src="data:image/png;base64,{data}">')
        if s.table is not None:
            parts.append(html_table(s.table))
    parts += ["<h2>Manifest</h2>", f"<pre>{html.escape(json.dumps(manifest, indent=2, sort_keys=True))}</pre>",
              "</body></html>", ""]
    return "\n".join(parts)
