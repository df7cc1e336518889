"""The report's figures: matplotlib ``Figure`` objects (no pyplot state), saved as PNG with fixed
metadata so that the same numbers give the same bytes."""
from __future__ import annotations

import contextlib
import io
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, SymmetricalLogLocator

from .stats import ACC, RankTests

DPI = 110
LEGEND_ROW_INCHES = 0.2
"""Height of one row of the anytime figure's legend (8-point labels)."""
_STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
          "svg.hashsalt": "nasbench", "path.simplify": False}


def palette(replayed: Sequence[str], measured: Sequence[str] = ()) -> dict[str, tuple[float, float, float]]:
    """A fixed color per label, in label order: seaborn's 'tab10' for replayed strategies (cycling
    after ten; :func:`line_style` then tells them apart) and 'Dark2' for weight-sharing methods, so
    that every strategy keeps its color in every figure."""
    import seaborn as sns

    tab10 = sns.color_palette("tab10", 10)
    colors = {label: tab10[k % 10] for k, label in enumerate(replayed)}
    colors.update(zip(measured, sns.color_palette("Dark2", len(measured))))
    return colors


def line_style(k: int) -> str:
    """Solid for the first ten strategies, dashed for the next ten (their colors repeat), and so on."""
    return ("-", "--", ":", "-.")[(k // 10) % 4]


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes: no software/date chunks, so reproducible byte for byte.

    The figures call ``tight_layout`` before this, and ``bbox_inches="tight"`` lays them out once more: both
    are kept. Without the first (or with it moved into savefig's own pass as a layout engine) or without the
    second, every report PNG changes (checked 2026-12-07, matplotlib 3.11.2, on digits-default: e.g. anytime
    1146x477 px became 994x477, 1147x477 and 1155x462); ``tight_layout`` is 0.5 s of a 10 s report."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.1)
    return buf.getvalue()


def _rc() -> contextlib.AbstractContextManager[None]:
    """Matplotlib's defaults with :data:`_STYLE` on top, whatever this user's ``matplotlibrc`` (or a
    ``matplotlib.style.use`` in their session) says: a ``matplotlibrc`` with ``axes.grid: True`` changed
    every figure's bytes."""
    import matplotlib.style

    return matplotlib.style.context(["default", _STYLE])


def regret_linthresh(regrets: np.ndarray) -> float:
    """The regret axis' linear range: the power of ten at or below the smallest positive regret drawn (1 if none).

    A pure log axis cannot draw a regret of 0 (a run that found the table's best cell), which is what a
    good strategy's median reaches; the symlog axis draws it at the bottom and stays logarithmic above.
    """
    positive = regrets[np.isfinite(regrets) & (regrets > 0)]
    return float(10.0 ** np.floor(np.log10(positive.min()))) if positive.size else 1.0


def anytime_figure(grid: np.ndarray, curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                 np.ndarray, np.ndarray]],
                   colors: Mapping[str, tuple], alpha: float, title: str) -> bytes:
    """Two panels against simulated seconds (log): incumbent test accuracy and its regret (symlog), each
    the median over runs as a step function with its bootstrap band. ``curves[label]`` =
    (acc median, low, high, regret median, low, high)."""
    # the legend below the panels takes 6 labels a row; the space kept for it holds 3 rows, and each
    # further row makes the figure taller (26 strategies' legend covered the x-axis labels)
    extra = max(0, -(-len(curves) // 6) - 3) * LEGEND_ROW_INCHES
    with _rc():
        fig = Figure(figsize=(10.5, 4.2 + extra))
        axes = fig.subplots(1, 2)
        for k, (label, (am, al, ah, rm, rl, rh)) in enumerate(curves.items()):
            c = colors[label]
            for ax, (m, lo, hi) in zip(axes, ((am, al, ah), (rm, rl, rh))):
                ax.step(grid, m, where="post", color=c, lw=1.4, ls=line_style(k), label=label)
                ax.fill_between(grid, lo, hi, step="post", color=c, alpha=0.15, lw=0)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("simulated seconds (table training + validation cost)")
            ax.grid(True, which="both", alpha=0.25)
        axes[0].set_ylabel("incumbent test accuracy (%)")
        axes[1].set_ylabel("regret to the table's best test accuracy (%)")
        linthresh = regret_linthresh(np.concatenate([np.ravel(c[3:]) for c in curves.values()]))
        axes[1].set_yscale("symlog", linthresh=linthresh, linscale=0.5)
        axes[1].yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=linthresh, subs=(1, 2, 5)))
        axes[1].yaxis.set_major_formatter(FormatStrFormatter("%g"))
        lows = np.concatenate([c[0][np.isfinite(c[0])] for c in curves.values()])
        if lows.size:
            axes[0].set_ylim(np.percentile(lows, 5) - 1, None)
        axes[0].set_title(f"median over runs, {100 * (1 - alpha):.0f}% bootstrap band")
        axes[1].set_title(f"regret (lower is better; log above {linthresh:g}, linear below, so 0 shows)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False,
                   bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(title)
        fig.tight_layout(rect=(0, (0.42 + extra) / (4.2 + extra), 1, 1))
        return png_bytes(fig)


def final_figure(final: Mapping[str, pd.DataFrame], ws_final: Mapping[str, pd.DataFrame],
                 colors: Mapping[str, tuple]) -> bytes:
    """Box plots of every run's final test accuracy: replayed strategies, then weight-sharing methods
    (hatched: their cost is measured, not simulated)."""
    labels = list(final) + list(ws_final)
    data = [f[ACC].to_numpy() for f in final.values()] + [f[ACC].to_numpy() for f in ws_final.values()]
    with _rc():
        fig = Figure(figsize=(10.5, 3.6))
        ax = fig.subplots()
        box = ax.boxplot(data, patch_artist=True, widths=0.6, medianprops={"color": "black"}, showfliers=True)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
        for k, patch in enumerate(box["boxes"]):
            label = labels[k]
            if label in final:
                patch.set_facecolor((*colors[label], 0.45))
            else:
                patch.set_facecolor((0.8, 0.8, 0.8, 0.6))
                patch.set_hatch("///")
        rng = np.random.default_rng(0)
        for k, values in enumerate(data):
            ax.scatter(k + 1 + rng.uniform(-0.18, 0.18, len(values)), values, s=6, color="black", alpha=0.5, zorder=3)
        if ws_final:
            ax.axvline(len(final) + 0.5, color="grey", lw=0.8, ls="--")
            ax.text(len(final) + 0.6, 0.02, "weight sharing (measured cost)", transform=ax.get_xaxis_transform(),
                    fontsize=8, color="grey")
        ax.set_ylabel("final test accuracy (%)")
        ax.grid(True, axis="y", alpha=0.25)
        fig.tight_layout()
        return png_bytes(fig)


def cd_figure(tests: RankTests, colors: Mapping[str, tuple]) -> bytes:
    """Critical-difference diagram (scikit-posthocs): mean ranks, bars join strategies that Nemenyi's
    test cannot tell apart at ``alpha``."""
    import scikit_posthocs as sp

    names = list(tests.mean_ranks.index)
    # integer keys: scikit-posthocs groups labels in sets, and string hashing differs between processes
    ranks = pd.Series(tests.mean_ranks.to_numpy(), index=range(len(names)))
    p_values = pd.DataFrame(tests.nemenyi_p.loc[names, names].to_numpy(), index=ranks.index, columns=ranks.index)
    with _rc():
        fig = Figure(figsize=(8.5, 1.2 + 0.28 * len(names)))
        ax = fig.subplots()
        drawn = sp.critical_difference_diagram(ranks, p_values, ax=ax, alpha=tests.alpha,
                                               color_palette={i: colors[n] for i, n in enumerate(names)},
                                               label_fmt_left="{label}", label_fmt_right="{label}")
        _cd_bar(ax, float(ranks.min()), tests.critical_difference)
        for text in drawn["labels"]:
            i = int(text.get_text())
            left = text.get_horizontalalignment() == "right"
            text.set_text(f"{names[i]} ({ranks[i]:.2f})" if left else f"({ranks[i]:.2f}) {names[i]}")
        ax.set_xlim(1, max(len(names), ranks.iloc[0] + tests.critical_difference))  # the whole rank scale
        ax.set_title(f"mean rank of final test accuracy (1 = best); Friedman p = {tests.friedman_p:.3g}, "
                     f"Nemenyi CD = {tests.critical_difference:.2f} at alpha {tests.alpha}", fontsize=9,
                     pad=CD_BAR_POINTS + 18)  # above the CD bar and its label
        fig.tight_layout()
        return png_bytes(fig)


CD_BAR_POINTS = 24
"""Height of the CD bar above the rank axis, in points (its 10 pt tick labels sit between)."""


def _cd_bar(ax: Any, start: float, cd: float) -> None:
    """The critical difference as a bar from the best mean rank, above the rank axis's tick labels (scikit-
    posthocs draws it half a row above the axis, across the tick labels of a figure this short)."""
    from matplotlib.transforms import offset_copy

    above = offset_copy(ax.transData, fig=ax.figure, y=CD_BAR_POINTS, units="points")  # clear of the tick labels
    ax.plot([start, start + cd], [0, 0], color="k", lw=2, transform=above, clip_on=False)
    ax.text(start + cd / 2, 0, f"CD = {cd:.2g}", ha="center", va="bottom", transform=offset_copy(
        ax.transData, fig=ax.figure, y=CD_BAR_POINTS + 3, units="points"), clip_on=False)


def latency_figure(cells: pd.DataFrame, final: Mapping[str, pd.DataFrame], colors: Mapping[str, tuple],
                   latency_label: str) -> bytes:
    """Test accuracy vs measured latency: every cell of the table (grey), its Pareto front (black
    steps) and the final cell of every run (one color per strategy)."""
    with _rc():
        fig = Figure(figsize=(8.5, 4.6))
        ax = fig.subplots()
        ax.scatter(cells["latency_ms"], cells["test_acc"], s=2, color="0.8", rasterized=True, label="all cells")
        front = cells[cells["pareto"]].sort_values("latency_ms", kind="stable")
        ax.step(front["latency_ms"], front["test_acc"], where="post", color="black", lw=1.2, label="table Pareto front")
        ax.scatter(front["latency_ms"], front["test_acc"], s=10, color="black", zorder=3)
        for k, (label, f) in enumerate(final.items()):
            if "incumbent_latency" in f:
                ax.scatter(f["incumbent_latency"], f[ACC], s=16, color=colors[label], alpha=0.8,
                           marker="o^sD"[(k // 10) % 4],
                           edgecolor="white", lw=0.3, label=label, zorder=4)
        top = cells["test_acc"].max()
        ax.set_ylim(max(cells["test_acc"].min(), top - 25), top + 1)
        ax.set_xlabel(f"latency (ms), {latency_label}")
        ax.set_ylabel("table test accuracy (%)")
        ax.grid(True, alpha=0.25)
        ax.legend(loc="lower right", ncol=2, fontsize=7, markerscale=1.5)
        fig.tight_layout()
        return png_bytes(fig)


def weight_sharing_figure(ws: Mapping[str, pd.DataFrame], colors: Mapping[str, tuple]) -> bytes:
    """Weight-sharing runs: the derived cell's table test accuracy after each search epoch against the
    measured wall seconds, median over seeds."""
    with _rc():
        fig = Figure(figsize=(8.5, 3.6))
        ax = fig.subplots()
        for label, frame in ws.items():
            g = frame.groupby("step", sort=True)
            ax.plot(g["measured_time"].median(), g[ACC].median(), marker="o", ms=3, color=colors[label], label=label)
        ax.set_xlabel("measured search seconds on this machine (median over seeds)")
        ax.set_ylabel("derived cell's table test acc (%)")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=8, ncol=3)
        fig.tight_layout()
        return png_bytes(fig)


def league_figure(frame: pd.DataFrame, title: str) -> bytes:
    """The estimator league: Spearman against cost per cell (log), one point per estimator labelled
    with its id, one color per family (``frame``: id, family, cost_s_per_cell, spearman)."""
    with _rc():
        fig = Figure(figsize=(8, 5.5))
        ax = fig.subplots()
        for k, fam in enumerate(dict.fromkeys(frame["family"])):
            sub = frame[frame["family"] == fam]
            cost = np.maximum(sub["cost_s_per_cell"].to_numpy(float), 1e-6)
            ax.scatter(cost, sub["spearman"], label=fam, color=f"C{k}", s=30)
            for ident, x, y in zip(sub["id"], cost, sub["spearman"]):
                ax.annotate(str(ident), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("cost per cell (seconds, log scale)")
        ax.set_ylabel("Spearman vs final test accuracy")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        return png_bytes(fig)


def scatter_figure(x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str) -> bytes:
    """One point per cell: ``y`` against ``x`` (e.g. a table's accuracy against a reference's)."""
    with _rc():
        fig = Figure(figsize=(5.5, 4.5))
        ax = fig.subplots()
        ax.scatter(x, y, s=4, alpha=0.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        return png_bytes(fig)
