"""``nasbench estimators``: the estimator league table of a table, written under ``reports/estimators/<table>/``.

Inputs are the table, its stored zero-cost proxies (``nasbench proxies``) and the stored supernet
scores (``supernet.csv`` / ``supernet.json`` in the output folder, made once by
:func:`train_and_score_supernet`: one weight-sharing supernet trained briefly on the table's data
and every judged cell scored with inherited weights, measured seconds). Outputs, byte-identical on
every regeneration from the same inputs: ``league.md`` (with ``notes.md`` appended when the folder
has one), ``league.csv`` and ``league.png`` (Spearman against log cost per cell, one point per estimator).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import jsonread
from .csvread import read_csv
from .estimators import (METRICS, Estimate, EstimatorError, Judged, curve_estimates, fidelity_estimates,
                         judged_cells, league_table, predictor_estimates, proxy_estimates)
from .store import atomic_write_bytes, atomic_write_text, check_cell_csv

if TYPE_CHECKING:
    import pandas as pd

    from .proxy_store import ProxyTable
    from .table import Benchmark

SUPERNET_CSV = "supernet.csv"
SUPERNET_JSON = "supernet.json"
NOTES = "notes.md"
"""Optional hand-written notes in the output folder, appended to ``league.md``."""


# ----- weight sharing ------------------------------------------------------------------------------
def train_and_score_supernet(bench: "Benchmark", archs: np.ndarray, epochs: int, seed: int = 0,
                             data_dir: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Train a supernet (the table's macro shape and data, with its augmentation where the protocol
    augments, NB201's search recipe, one uniformly random
    path per step as RSPS does) for ``epochs`` epochs, then score every cell of ``archs`` by its valid
    accuracy (percent, all of the valid split) with inherited weights. Returns the scores and a record
    with the measured training and scoring seconds."""
    import torch

    from .latency import fingerprint, torch_threads
    from .space import Arch
    from .supernet import Supernet, onehot_weights
    from .train import load_protocol_data, torch_seed
    from .weight_sharing import Context, SearchSettings, _cosine, protocol_augmentation, table_protocol

    protocol = table_protocol(bench)
    data = load_protocol_data(protocol, data_dir)
    config = protocol.macro_config(data)
    settings = SearchSettings(epochs)
    data_ss, torch_ss, method_ss = np.random.SeedSequence(int(seed)).spawn(3)
    order_rng = np.random.default_rng(data_ss)
    tx, ty = (torch.from_numpy(a) for a in (data.splits["train"].x, data.splits["train"].y))
    vx, vy = (torch.from_numpy(a) for a in (data.splits["valid"].x, data.splits["valid"].y))
    bs = protocol.batch_size
    augment = protocol_augmentation(protocol, data, "cpu")  # as the table's own training (None on digits)
    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(torch_ss))
        t0 = time.perf_counter()
        net = Supernet(config)
        opt = torch.optim.SGD(net.parameters(), lr=settings.lr, momentum=settings.momentum,
                              nesterov=settings.nesterov, weight_decay=settings.weight_decay)
        ctx = Context(net, opt, settings, np.random.default_rng(method_ss), vx, vy, bs, epochs)
        total, step = -(-len(ty) // bs) * epochs, 0
        for _ in range(epochs):
            perm = order_rng.permutation(len(ty))
            for start in range(0, len(ty), bs):
                for group in opt.param_groups:
                    group["lr"] = _cosine(settings, step, total)
                arch = Arch.random(ctx.rng)
                idx = torch.from_numpy(perm[start:start + bs])
                xb = tx[idx] if augment is None else augment(tx[idx], order_rng)
                ctx.weight_step(xb, ty[idx], onehot_weights(arch), torch.as_tensor(arch.ops))
                step += 1
        train_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = np.asarray([ctx.accuracy(Arch.from_index(int(a))) for a in archs], dtype=np.float64)
        score_seconds = time.perf_counter() - t0
    record = {"epochs": epochs, "seed": seed, "config": config.to_dict(), "batch_size": bs, "steps": step,
              "recipe": "NB201 search recipe (SGD nesterov 0.9, lr 0.025 cosine to 0.001, wd 5e-4, clip 5); "
                        "one uniformly random path per step (RSPS); scored by valid accuracy of the cell's path "
                        "with batch statistics",
              "cells_scored": int(len(archs)), "train_seconds": round(train_seconds, 3),
              "score_seconds": round(score_seconds, 3), "fingerprint": fingerprint("cpu", 1),
              "measured": "wall seconds on this machine, 1 torch thread"}
    return scores, record


RECORD_KEYS = ("epochs", "train_seconds", "score_seconds", "cells_scored")
"""What :func:`supernet_estimate` reads from ``supernet.json``."""


def _read_supernet(folder: Path) -> tuple[dict[str, Any], dict[int, float]]:
    """The stored supernet record and its scores by arch index; :class:`EstimatorError` (one line) when
    either file is missing, unreadable or lacks what the league reads."""
    again = f"delete {SUPERNET_CSV} and {SUPERNET_JSON} in {folder} to train and score the supernet again"
    try:
        record = jsonread.loads((folder / SUPERNET_JSON).read_text(encoding="utf-8"))
        frame = read_csv(folder / SUPERNET_CSV)
        if not isinstance(record, dict) or any(k not in record for k in RECORD_KEYS):
            raise ValueError(f"{SUPERNET_JSON} must hold {', '.join(RECORD_KEYS)}")
        numbers = [record[k] for k in RECORD_KEYS]  # the cost divides them: not a traceback
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            raise TypeError(f"{SUPERNET_JSON}'s {', '.join(RECORD_KEYS)} must be numbers")
        if not all(map(math.isfinite, numbers)) or min(numbers[:3]) < 0:  # JSON's NaN, Infinity; a negative time
            raise ValueError(f"{SUPERNET_JSON}'s {', '.join(RECORD_KEYS)} must be finite, epochs and seconds not "
                             "negative")
        if not record["cells_scored"] > 0 or {"arch_index", "valid_acc"} - set(frame.columns):
            raise ValueError(f"{SUPERNET_CSV} must have arch_index and valid_acc columns and {SUPERNET_JSON} "
                             "a positive cells_scored")
        archs = check_cell_csv(frame, ("arch_index", "valid_acc"), SUPERNET_CSV)  # not empty, 1.5 or beyond int64
        if len(np.unique(archs)) < len(archs):
            raise ValueError(f"{SUPERNET_CSV} scores a cell twice")
        values = dict(zip(archs.tolist(), frame["valid_acc"].to_numpy(np.float64)))
    except (OSError, ValueError, TypeError, OverflowError) as exc:  # OverflowError: a number beyond float
        raise EstimatorError(f"stored supernet scores in {folder} cannot be read ({type(exc).__name__}: {exc}); "
                             f"{again}") from None
    return record, values


def supernet_estimate(folder: Path, judged: Judged, bench: "Benchmark") -> Estimate | None:
    """The stored supernet scores of ``bench``'s judged cells, or None when none are stored; scores made for
    another table (another content hash recorded, or, in a record from before the hash was kept, cells
    this table does not judge) are refused, never read as this table's."""
    if not (folder / SUPERNET_CSV).is_file():
        return None
    record, values = _read_supernet(folder)
    again = (f"write the league into another --out folder, or delete {SUPERNET_CSV} and {SUPERNET_JSON} in {folder} "
             f"to train and score the supernet on {bench.name!r}")
    made_for = record.get("content_hash")
    if made_for is not None and made_for != bench.content_hash:
        raise EstimatorError(f"{folder} holds supernet scores of table {record.get('table', '?')!r} ({made_for}), "
                             f"not of {bench.name!r} ({bench.content_hash}); {again}")
    foreign = len(set(values) - {int(a) for a in judged.archs})
    if foreign:
        raise EstimatorError(f"{folder / SUPERNET_CSV} scores {foreign} cells that table {bench.name!r} does not "
                             f"judge: it was made for another table; {again}")
    missing = [int(a) for a in judged.archs if int(a) not in values]
    if missing:
        raise EstimatorError(f"{folder / SUPERNET_CSV} lacks {len(missing)} judged cells; delete it to score again")
    cost = (record["train_seconds"] + record["score_seconds"]) / record["cells_scored"]
    return Estimate(f"supernet, {record['epochs']} epoch{'' if record['epochs'] == 1 else 's'} (RSPS)", "weight sharing",
                    np.asarray([values[int(a)] for a in judged.archs]), cost, "measured")


def ensure_supernet(bench: "Benchmark", folder: Path, judged: Judged, epochs: int, data_dir: str | None,
                    asked: bool = False) -> None:
    """Train and score the supernet once; stored results are reused (delete them to measure again). Stored
    scores of another number of epochs than ``epochs`` where the user ``asked`` for it (not the default)
    are refused, not shown in place of the run asked for; ``epochs`` 0 trains none."""
    import pandas as pd

    if (folder / SUPERNET_CSV).is_file():
        if asked and epochs > 0:  # else not read here: the league reads them (once) to show them
            stored = _read_supernet(folder)[0]["epochs"]
            if stored != epochs:
                raise EstimatorError(f"{folder} holds supernet scores of {stored} epochs, not the {epochs} asked for: "
                                     f"give --supernet-epochs {stored} to show them, or delete {SUPERNET_CSV} and "
                                     f"{SUPERNET_JSON} there (or give another --out) to train {epochs}")
        return
    if epochs <= 0:
        return
    scores, record = train_and_score_supernet(bench, judged.archs, epochs, data_dir=data_dir)
    record.update(table=bench.name, content_hash=bench.content_hash)  # so another table never reads these scores
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SUPERNET_JSON, json.dumps(record, indent=2, sort_keys=True) + "\n")
    text = pd.DataFrame({"arch_index": judged.archs, "valid_acc": scores}).to_csv(
        index=False, float_format="%.6g", lineterminator="\n")
    atomic_write_text(folder / SUPERNET_CSV, text)


# ----- the report ----------------------------------------------------------------------------------
def build_league(bench: "Benchmark", proxies: "ProxyTable | None", folder: Path, *,
                 fidelity_epochs: Sequence[int] | None = None, curve_epochs: Sequence[int] = (3, 4),
                 sizes: Sequence[int] = (10, 100, 1000), repeats: int = 3) -> tuple["pd.DataFrame", Judged]:
    judged = judged_cells(bench)
    ws = supernet_estimate(folder, judged, bench)  # first: unreadable stored scores stop it before the predictors run
    estimates: list[Estimate] = []
    if proxies is not None:
        estimates += proxy_estimates(proxies, judged)
    if fidelity_epochs is None:  # a few early epochs, and the table's last (full fidelity, one seed)
        fidelity_epochs = sorted({e for e in (1, 2, 3, 4) if e < bench.max_epoch} | {bench.max_epoch})
    estimates += fidelity_estimates(bench, judged, fidelity_epochs)
    estimates += curve_estimates(bench, judged, curve_epochs)
    estimates += predictor_estimates(bench, judged, sizes, proxies, repeats=repeats)
    if ws is not None:
        estimates.append(ws)
    frame = league_table(estimates, judged)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame, judged


def write_league(frame: "pd.DataFrame", bench: "Benchmark", judged: Judged, folder: Path,
                 proxies: "ProxyTable | None") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    # the cost to 4 significant digits, as league.md: 4 decimals wrote flops' 3.5e-05 s per cell as 0.0000
    csv = frame.assign(cost_s_per_cell=frame["cost_s_per_cell"].map("{:.4g}".format)).to_csv(
        index=False, float_format="%.4f", lineterminator="\n")
    atomic_write_text(folder / "league.csv", csv)
    atomic_write_text(folder / "league.md", _markdown(frame, bench, judged, proxies, folder))
    from .report.figures import league_figure

    atomic_write_bytes(folder / "league.png", league_figure(frame, f"Estimators on {bench.name} (ids as in league.md)"))
    return [folder / "league.md", folder / "league.csv", folder / "league.png"]


def _draws(frame: "pd.DataFrame") -> str:
    """``"; mean of N draws"``, N the predictor rows' repeats as :func:`league_table` counted them (the draws run),
    or "" when there are no predictor rows."""
    counts = sorted({int(n) for n in frame.loc[frame["family"] == "predictor", "repeats"]})
    if not counts:
        return ""
    return f"; mean of {' or '.join(map(str, counts))} draw{'' if counts == [1] else 's'}"


def _and(items: Sequence[str]) -> str:
    """``"a, b and c"``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _supernet_record(folder: Path) -> dict[str, Any]:
    """The stored supernet record (``supernet.json``: epochs, seconds, the machine's fingerprint)."""
    return jsonread.loads((folder / SUPERNET_JSON).read_text(encoding="utf-8"))


def _measured_on(proxies: "ProxyTable | None", supernet: dict[str, Any] | None) -> str:
    """``"`measured` = wall seconds on ...; "`` naming the machine each measured input recorded (its
    fingerprint), or "" when no estimator was measured (no proxies, no supernet)."""
    from .latency import fingerprint_words

    machines: dict[str, list[str]] = {}
    if proxies is not None:
        machines.setdefault(fingerprint_words(proxies.identity.get("fingerprint")), []).append("zero-cost proxies")
    if supernet is not None:
        machines.setdefault(fingerprint_words(supernet.get("fingerprint")), []).append("supernet")
    if not machines:
        return ""
    where = "; ".join(f"{_and(what)}: {machine}" for machine, what in machines.items())
    return f"`measured` = wall seconds on the machine each result recorded ({where}); "


def _table_seconds_on(bench: "Benchmark") -> str:
    """``"; recorded on ...; <the trainer's rule for seconds> (k cells a pass)"``: where and how the table's
    seconds (the ``table`` costs) were measured, from its manifest, or "" when it records neither. The
    ``measured`` costs name their machines too, so a reader sees when the cost column mixes machines."""
    from .latency import fingerprint_words

    hardware = bench.manifest.get("hardware") or {}
    compute = bench.manifest.get("compute") or {}
    threads = compute.get("threads_per_worker", "?")

    def words(machine: dict[str, Any]) -> str:
        text = fingerprint_words({"cpu": machine.get("cpu"), "logical_cpus": machine.get("logical_cpus", "?"),
                                  "threads": threads})
        device = machine.get("device", "cpu")
        return text if device == "cpu" else f"{text}, {device}"

    listed = hardware.get("machines")
    machines = listed if isinstance(listed, list) else [hardware] if hardware else []
    out = ""
    if len(machines) == 1:
        out += f"; recorded on {words(machines[0])}"
    elif machines:
        out += "; recorded on " + "; ".join(f"{words(m)} ({int(m.get('results_written', 0)):,} results)"
                                            for m in machines)
    trainer = compute.get("trainer")
    if isinstance(trainer, str):  # older tables: the trainer's name (the plain trainer times each cell alone)
        out += f"; {trainer}"
    elif isinstance(trainer, dict) and trainer.get("seconds"):
        batch = trainer.get("batch_cells")
        sizes = [batch] if isinstance(batch, int) else list(batch or [])
        out += f"; {trainer['seconds']}" + (f" ({' or '.join(map(str, sizes))} cells a pass)" if sizes else "")
    return out


def _markdown(frame: "pd.DataFrame", bench: "Benchmark", judged: Judged, proxies: "ProxyTable | None",
              folder: Path) -> str:
    supernet = _supernet_record(folder) if (frame["family"] == "weight sharing").any() else None
    inputs = [f"the table ({bench.content_hash})"]
    if proxies is not None:
        inputs.append("its stored zero-cost proxies")
    if supernet is not None:
        inputs.append("the stored supernet scores")
    lines = [
        f"# Estimator league table: `{bench.name}`",
        "",
        f"Generated by `nasbench estimators --table {bench.name}` from {_and(inputs)}; regenerated byte-identical.",
        "",
        f"* Target: test accuracy at epoch {bench.max_epoch}, mean over seeds {list(bench.seeds)}, on the "
        f"{len(judged.rows)} cells trained for real (isomorphism-class representatives where the table fills members).",
        "* Spearman / Kendall tau-b (scipy; tied values share a rank) over all judged cells and over the best 10% by "
        "the target (with the cells tied at its boundary); top-10% precision: share of the estimator's top 10% in the "
        "true top 10%, ties broken at random (in expectation).",
        "* Predictors (XGBoost on the one-hot encoding; `+zero-cost` adds every proxy's rank as a feature) are trained "
        f"on n random judged cells (their seed-0 final valid accuracy) and judged on the others{_draws(frame)}.",
        f"* Cost per cell: {_measured_on(proxies, supernet)}`table` = the table's own training seconds of seed 0 "
        f"(through the epochs used, plus one validation pass, or one per epoch read for a learning curve"
        f"{_table_seconds_on(bench)}); predictors spread n full "
        "trainings over all judged cells.",
    ]
    if proxies is not None:
        lines.append("* Zero-cost proxies of disconnected cells are -inf (ranked last, tied).")
        s = proxies.identity["settings"]
        lines.append(f"* Proxies: batch {s['batch_size']} of the train split, seed {s['seed']}, network {s['config']}.")
    else:  # said only on stderr before: the league read as if zero-cost proxies had been judged and lost
        lines.append(f"* No zero-cost proxies: none were stored for this table (`nasbench proxies --table {bench.name}` "
                     "computes them; `--proxies DIR` reads them from a folder), so the league leaves them out.")
    lines += ["", "| id | estimator | family | Spearman | Kendall | Spearman top10% | Kendall top10% | top-10% precision "
              "| cost s/cell | cost | cells |", "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in frame.itertuples(index=False):
        lines.append(f"| {r.id} | {r.estimator} | {r.family} | {r.spearman:.3f} | {r.kendall:.3f} | "
                     f"{r.spearman_top10:.3f} | {r.kendall_top10:.3f} | {r.top10_precision:.3f} | "
                     f"{r.cost_s_per_cell:.4g} | {r.cost_kind} | {r.cells} |")
    lines += ["", "![Spearman against cost per cell](league.png)", ""]
    notes = folder / NOTES
    if notes.is_file():  # hand-written reading of the numbers, kept beside the generated table
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


__all__ = ["METRICS", "build_league", "ensure_supernet", "write_league"]
