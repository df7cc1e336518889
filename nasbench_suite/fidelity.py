"""How faithfully a table ranks cells: its final accuracies against a reference table's (for example
NAS-Bench-201's 200-epoch CIFAR-10 test accuracy, from ``nasbench reference build`` or an imported
NATS-Bench table), over the cells the table trained for real, next to a baseline table's ranking
(for example NB201's own 12-epoch table) on the same cells; its seed-to-seed agreement; and its
best cell with that cell's rank in the reference.

    nasbench fidelity --table cifar10-16px --reference local_tables/nb201-cifar10-hp200 \\
        --baseline local_tables/nb201-cifar10-hp12 [--out reports/fidelity/cifar10-16px]

Writes ``fidelity.md``, ``fidelity.csv`` and ``scatter.png``, the same bytes from the same tables.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .estimators import EstimatorError, judged_cells, rank_metrics
from .space import Arch
from .store import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from .table import Benchmark

METRIC_NAMES = {"spearman": "Spearman", "kendall": "Kendall tau", "spearman_top10": "Spearman top 10%",
                "kendall_top10": "Kendall top 10%", "top10_precision": "top-10% precision"}


@dataclass(frozen=True)
class Fidelity:
    frame: "pd.DataFrame"
    """One row per ranking (ours valid acc, ours test acc, the baseline's valid acc, then ours valid and
    train loss where the table has them) with :data:`METRIC_NAMES`."""
    cells: int
    seed_tau: float | None
    """Mean Kendall tau of final valid accuracy between pairs of the table's seeds (None: one seed)."""
    ceiling: dict[str, float] | None
    """:func:`seed_noise_ceiling` of final valid accuracy (None: one seed)."""
    best: dict[str, Any]
    ours_valid: np.ndarray
    reference_test: np.ndarray
    seed_cells: int = 0
    """The cells ``seed_tau`` and ``ceiling`` are computed over: those with a final valid accuracy in every
    seed (fewer than ``cells`` where some cells lack a seed, as 7,456 do at NATS-Bench's hp=200; 0 where
    there are no seed statistics: one seed, or fewer than 20 cells with every seed)."""


def seed_noise_ceiling(per_seed: "list[np.ndarray]", target: np.ndarray) -> dict[str, float]:
    """How far more seeds could take a table's ranking (needs 2 or more seeds, cells in rows).

    With each seed's score = the cell's noise-free score + independent seed noise, one seed ranks
    against the target at ``rho_1 = rho_inf * sqrt(r)`` (``r``: the agreement of two seeds), so the
    noise-free score ranks at ``rho_inf = rho_1 / sqrt(r)`` (Spearman's correction for attenuation)
    and the mean of ``k`` seeds at ``rho_inf * sqrt(k r / (1 + (k - 1) r))``. Spearman correlations
    stand in for the model's linear ones; ``predicted_k`` for the table's own ``k`` beside the measured
    value checks the model on the data at hand.

    The extrapolated values (``noise_free`` and every ``predicted_k``) are clipped to [-1, 1], the
    range of a correlation: seeds that agree with each other less than with the target (``rho_1 >
    sqrt(r)``, which the model cannot produce) would extrapolate past 1, and then the report gives 1,
    marked as the bound (:func:`at_bound`)."""
    from scipy.stats import spearmanr

    rho_1 = float(np.mean([spearmanr(x, target).statistic for x in per_seed]))
    r = float(np.mean([spearmanr(a, b).statistic for a, b in itertools.combinations(per_seed, 2)]))
    rho_inf = float(rho_1 / np.sqrt(r)) if r > 0 else float("nan")
    out = {"one_seed": rho_1, "seed_spearman": r, "noise_free": float(np.clip(rho_inf, -1.0, 1.0))}
    for k in sorted({len(per_seed), 5}):
        out[f"predicted_{k}"] = float(np.clip(rho_inf * np.sqrt(k * r / (1 + (k - 1) * r)), -1.0, 1.0))
    return out


def at_bound(value: float) -> str:
    """An extrapolated correlation of :func:`seed_noise_ceiling` as reported: 3 decimals, and where it
    is -1 or 1 a note that the model's extrapolation was clipped there."""
    return f"{value:.3f}" + (f" (clipped to {value:.0f}: the model's extrapolation reaches or passes it)"
                             if abs(value) >= 1.0 else "")


def _by_arch(bench: "Benchmark", archs: np.ndarray, split: str) -> np.ndarray:
    """``bench``'s final ``split`` accuracy (mean over its seeds) for ``archs``; NaN where it has none."""
    values = bench.array(split, "acc", epoch=bench.max_epoch)
    lookup = np.full(int(max(bench.arch_indices.max(), archs.max())) + 1, np.nan)
    lookup[bench.arch_indices] = values
    return lookup[archs]


def fidelity(bench: "Benchmark", reference: "Benchmark", baseline: "Benchmark | None" = None) -> Fidelity:
    import pandas as pd
    from scipy.stats import kendalltau

    judged = judged_cells(bench)
    target = _by_arch(reference, judged.archs, "test")
    keep = np.isfinite(target)
    if keep.sum() < 20:
        raise EstimatorError(f"reference {reference.name!r} has a final test accuracy for only {int(keep.sum())} "
                             f"of the {len(keep)} cells {bench.name!r} trained; need 20")
    archs, rows, target = judged.archs[keep], judged.rows[keep], target[keep]
    epoch = bench.max_epoch
    ours_valid = bench.array("valid", "acc", epoch=epoch)[rows]
    seeds = f"mean of {len(bench.seeds)} seed{'s' if len(bench.seeds) != 1 else ''}"
    rankings = [(f"{bench.name}: valid acc at epoch {epoch} ({seeds})", ours_valid),
                (f"{bench.name}: test acc at epoch {epoch} ({seeds})",
                 bench.array("test", "acc", epoch=epoch)[rows])]
    if baseline is not None:
        base = _by_arch(baseline, archs, "valid")
        if not np.isfinite(base).all():
            raise EstimatorError(f"baseline {baseline.name!r} lacks a final valid accuracy for some of the cells")
        rankings.append((f"{baseline.name}: valid acc at epoch {baseline.max_epoch}", base))
    for split in ("valid", "train"):  # diagnostics: at low fidelity a loss can rank better than accuracy
        if split in bench.splits and "loss" in bench.measures(split):
            rankings.append((f"{bench.name}: {split} loss at epoch {epoch}, lower ranks higher ({seeds})",
                             -bench.array(split, "loss", epoch=epoch)[rows]))
    frame = pd.DataFrame([{"ranking": name, **rank_metrics(scores, target)} for name, scores in rankings])

    per_seed = [bench.array("valid", "acc", epoch=epoch, seed=s)[rows] for s in bench.seeds]
    every_seed = np.logical_and.reduce([np.isfinite(x) for x in per_seed])  # a cell lacking a seed would give NaN
    seed_cells = int(every_seed.sum()) if len(per_seed) > 1 and every_seed.sum() >= 20 else 0
    per_seed = [x[every_seed] for x in per_seed] if seed_cells else []
    taus = [float(kendalltau(a, b).statistic) for a, b in itertools.combinations(per_seed, 2)]
    all_ref = reference.array("test", "acc", epoch=reference.max_epoch)
    all_ref = all_ref[np.isfinite(all_ref)]
    b = int(np.argmax(ours_valid))  # first of ties: the lowest arch index
    rank = int((all_ref > target[b]).sum()) + 1
    best = {"arch_index": int(archs[b]), "arch_str": Arch.from_index(int(archs[b])).to_str(),
            "ours_valid": float(ours_valid[b]), "reference_test": float(target[b]), "reference_rank": rank,
            "reference_cells": int(len(all_ref)), "reference_best": float(all_ref.max())}
    ceiling = seed_noise_ceiling(per_seed, target[every_seed]) if seed_cells else None
    return Fidelity(frame, len(rows), float(np.mean(taus)) if taus else None, ceiling, best, ours_valid, target,
                    seed_cells)


def _ceiling_line(c: dict[str, float], seeds: int) -> str:
    start = (f"* More seeds (seed-noise model, `fidelity.seed_noise_ceiling`): one seed's valid accuracy ranks at "
             f"Spearman {c['one_seed']:.3f} and two seeds agree at {c['seed_spearman']:.3f}")
    if not c["seed_spearman"] > 0:  # the model divides by its square root: no prediction (NaN), not a number
        return start + ", so the model predicts nothing: it needs seeds that agree (a positive Spearman)."
    return (f"{start}, so the model gives {at_bound(c[f'predicted_{seeds}'])} for the mean of {seeds} (measured: the "
            f"first row), {at_bound(c['predicted_5'])} for 5 seeds and {at_bound(c['noise_free'])} for infinitely many.")


def _over(result: Fidelity) -> str:
    """Where the seed statistics leave out cells that lack a seed, how many they are over."""
    return "" if result.seed_cells == result.cells else f"; over the {result.seed_cells} cells that have every seed"


def _no_agreement(bench: "Benchmark") -> str:
    return ("one seed, none" if len(bench.seeds) < 2 else
            "none: fewer than 20 of the cells have a final valid accuracy in every seed")


def write_fidelity(result: Fidelity, bench: "Benchmark", reference: "Benchmark", folder: Path) -> list[Path]:
    from .report.figures import scatter_figure

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "fidelity.csv", result.frame.to_csv(index=False, float_format="%.4f", lineterminator="\n"))
    best = result.best
    lines = [f"# Fidelity of `{bench.name}` against `{reference.name}`", "",
             f"Generated by `nasbench fidelity` from the tables ({bench.content_hash}; reference "
             f"{reference.content_hash}); the same bytes from the same tables.", "",
             f"* Cells: the {result.cells} cells `{bench.name}` trained for real (isomorphism-class representatives "
             "where it fills the members) that the reference has.",
             f"* Target: `{reference.name}` test accuracy at its epoch {reference.max_epoch}; top 10% = the best 10% "
             "by the target (with the cells tied at its boundary); top-10% precision breaks ties at random (in "
             "expectation).",
             "* Seed-to-seed agreement: " + (_no_agreement(bench) if result.seed_tau is None else
                                            f"Kendall tau {result.seed_tau:.3f} of final valid accuracy between seeds "
                                            f"{list(bench.seeds)} (mean over pairs{_over(result)})."),
             *([] if result.ceiling is None else [_ceiling_line(result.ceiling, len(bench.seeds))]),
             f"* Best cell of `{bench.name}` (by final valid accuracy): {best['arch_index']} `{best['arch_str']}`, "
             f"valid {best['ours_valid']:.2f}%; in `{reference.name}` its test accuracy is "
             f"{best['reference_test']:.2f}%, rank {best['reference_rank']} of {best['reference_cells']} "
             f"(best {best['reference_best']:.2f}%).", "",
             "| ranking | " + " | ".join(METRIC_NAMES.values()) + " |",
             "| --- |" + " ---: |" * len(METRIC_NAMES)]
    for r in result.frame.itertuples(index=False):
        lines.append(f"| {r.ranking} | " + " | ".join(f"{getattr(r, k):.3f}" for k in METRIC_NAMES) + " |")
    lines += ["", "![ours against the reference](scatter.png)", ""]
    atomic_write_text(folder / "fidelity.md", "\n".join(lines))
    title = f"{result.cells} cells, Spearman {result.frame['spearman'].iloc[0]:.3f}"
    atomic_write_bytes(folder / "scatter.png", scatter_figure(result.reference_test, result.ours_valid,
                                                              f"{reference.name} test accuracy (%)",
                                                              f"{bench.name} final valid accuracy (%)", title))
    return [folder / "fidelity.md", folder / "fidelity.csv", folder / "scatter.png"]
