"""Protocol pilot: which training protocol ranks cells best, and at what cost?

Trains the same sample of isomorphism-class representatives under each candidate protocol, two
seeds each, through the normal pre-evaluation machinery (batched engine, one-thread worker
processes, a resumable run folder per candidate under ``runs/``), then measures per candidate:

- the spread of final valid accuracy (mean of seeds) and the seed-to-seed Kendall tau;
- for CIFAR-10: Spearman and Kendall tau of our final valid and test accuracy against NAS-Bench-201's
  200-epoch CIFAR-10 test accuracy (``nb201_nats_test_acc_200ep.csv``, joined on the arch string),
  over the sample and over its top 10% (by NB201), next to NB201's own 12-epoch ``cifar10_valid``
  accuracy on the same cells;
- for CIFAR-10, each candidate against the chosen protocol (``CHOSEN``, the full run's) on the cells
  both have: the difference of their Spearman (valid and test) with a 95% paired bootstrap interval;
- for CIFAR-10, how far more seeds could go: single-seed Spearman, the seed-to-seed Spearman, and
  from them (correction for attenuation) the ranking of 2 and 5 seeds' mean and of the noise-free
  score, for final valid accuracy and final train loss (``nasbench_suite.fidelity.seed_noise_ceiling``);
- cost: measured training + evaluation seconds per cell (engine attribution, see the manifest rule)
  and the wall time of the candidate's run on this machine.

The CIFAR sample is stratified over NB201's accuracy range: the 6,466 class representatives sorted
by NB201 200-epoch test accuracy, cut into ``--cells`` equal-count bins, one drawn per bin
(``numpy.random.default_rng(0)``). The digits sample is a uniform draw of representatives.

    python reports/protocol_pilot/pilot.py --dataset cifar10-16px --data-dir ../shared/datasets \\
        --reference ../shared/reference [--cells 200] [--only NAME,...]
    python reports/protocol_pilot/pilot.py --dataset digits

Writes ``<dataset>.csv`` (one row per candidate) and ``<dataset>.md`` next to this script. Finished
candidates are read back from their run folders, so re-running only trains what is missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from nasbench_suite.engine import default_batch_cells
from nasbench_suite.fidelity import seed_noise_ceiling
from nasbench_suite.pre_evaluate import RunSpec, run_pre_evaluation
from nasbench_suite.run_progress import snapshot
from nasbench_suite.space import Arch, isomorphism_classes
from nasbench_suite.train import Protocol

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1)
CHOSEN = "C8-N1-e4-10k-b256-noaug"
"""The CIFAR-16px protocol of the full run; every other candidate is compared with it cell by cell."""

CANDIDATES: dict[str, dict[str, Protocol]] = {
    "digits": {
        "C8-N1-e10-full": Protocol(dataset="digits", channels=8, cells=1, epochs=10),
        "C8-N1-e4-full": Protocol(dataset="digits", channels=8, cells=1, epochs=4),
        "C8-N1-e10-full-lr0.025": Protocol(dataset="digits", channels=8, cells=1, epochs=10, lr=0.025),
        "C8-N1-e10-400": Protocol(dataset="digits", channels=8, cells=1, epochs=10, train_subset=400),
        "C8-N1-e6-400": Protocol(dataset="digits", channels=8, cells=1, epochs=6, train_subset=400),
    },
    "cifar10-16px": {
        "C8-N1-e4-10k-b256": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=4, batch_size=256,
                                      train_subset=10_000, valid_subset=10_000),
        "C8-N1-e8-10k-b256": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=8, batch_size=256,
                                      train_subset=10_000, valid_subset=10_000),
        "C8-N1-e4-25k-b256": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=4, batch_size=256,
                                      valid_subset=10_000),
        "C16-N1-e4-10k-b256": Protocol(dataset="cifar10-16px", channels=16, cells=1, epochs=4, batch_size=256,
                                       train_subset=10_000, valid_subset=10_000),
        # Without random crop + flip: a 16-cell side run (seed 0) ranked cells with Spearman 0.85 against
        # NB201 200-epoch test accuracy without augmentation and 0.48 with it; on the first 64 cells of
        # the pilot sample (2 seeds) the gap is smaller: 0.55 without, 0.44 with (NB201 hp12: 0.78).
        "C8-N1-e4-10k-b256-noaug": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=4, batch_size=256,
                                            train_subset=10_000, valid_subset=10_000, augment=False),
        "C8-N1-e8-10k-b256-noaug": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=8, batch_size=256,
                                            train_subset=10_000, valid_subset=10_000, augment=False),
        # The same training FLOPs as C8-N1-e4-10k-b256-noaug spent on more, smaller SGD steps: twice the
        # updates on the same images, or twice the epochs on half the images.
        "C8-N1-e4-10k-b128-noaug": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=4, batch_size=128,
                                            train_subset=10_000, valid_subset=10_000, augment=False),
        "C8-N1-e8-5k-b128-noaug": Protocol(dataset="cifar10-16px", channels=8, cells=1, epochs=8, batch_size=128,
                                           train_subset=5_000, valid_subset=10_000, augment=False),
        # For a GPU session (--device cuda): NB201's own macro network (C=16, N=5) and its 12 epochs on
        # cifar10-valid's 25k training images, and cheaper steps towards it, to measure Spearman against
        # cost where the CPU cannot go.
        "C16-N1-e12-25k-b256-noaug": Protocol(dataset="cifar10-16px", channels=16, cells=1, epochs=12, batch_size=256,
                                              valid_subset=10_000, augment=False),
        "C16-N2-e12-25k-b256": Protocol(dataset="cifar10-16px", channels=16, cells=2, epochs=12, batch_size=256,
                                        valid_subset=10_000),
        "C16-N5-e12-25k-b256": Protocol(dataset="cifar10-16px", channels=16, cells=5, epochs=12, batch_size=256,
                                        valid_subset=10_000),
    },
}


def reference_frame(ref_dir: Path) -> pd.DataFrame:
    """NB201 200-epoch CIFAR-10 test accuracy and 12-epoch cifar10-valid accuracy, by our arch index."""
    test200 = pd.read_csv(ref_dir / "nb201_nats_test_acc_200ep.csv")
    hp12 = pd.read_csv(ref_dir / "nb201_hp12_mean_acc.csv")
    frame = pd.DataFrame({"arch_str": test200["ArchitectureString"],
                          "nb201_test200": test200["CIFAR10TestAccuracy200Epochs"]})
    frame = frame.merge(hp12[["arch_str", "cifar10_valid"]].rename(columns={"cifar10_valid": "nb201_valid12"}),
                        on="arch_str", validate="one_to_one")
    frame["arch"] = [Arch.from_str(s).index for s in frame["arch_str"]]
    return frame.set_index("arch")


def sample_cells(dataset: str, n: int, ref: pd.DataFrame | None) -> list[int]:
    reps = np.asarray(isomorphism_classes().representatives)
    rng = np.random.default_rng(0)
    if ref is None:
        return sorted(int(a) for a in rng.choice(reps, size=n, replace=False))
    acc = ref.loc[reps, "nb201_test200"].to_numpy()
    order = reps[np.argsort(acc, kind="stable")]
    bins = np.array_split(order, n)
    return sorted(int(rng.choice(b)) for b in bins)


def correlations(ours: pd.Series, theirs: pd.Series) -> tuple[float, float]:
    return float(spearmanr(ours, theirs).statistic), float(kendalltau(ours, theirs).statistic)


def final_accuracies(run_dir: Path) -> tuple[pd.DataFrame, list, pd.DataFrame]:
    """A candidate's rows, its sessions, and its final-epoch rows, from the run folder's committed
    files (never its store, so a candidate that is still training can be measured beside it)."""
    snap = snapshot(run_dir)
    frame = snap.frame
    return frame, snap.sessions, frame[frame["epoch"] == frame["epoch"].max()]


def versus_chosen(last: pd.DataFrame, chosen_last: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """This candidate's Spearman against NB201 200-epoch test accuracy minus the chosen protocol's, on
    the cells both have with every seed, with a 95% paired percentile-bootstrap interval over cells
    (2,000 resamples, ``numpy.random.default_rng(0)``)."""
    from scipy.stats import bootstrap

    def complete_means(rows: pd.DataFrame) -> pd.DataFrame:
        seeds = rows.groupby("arch_index")["seed"].nunique()
        return rows.groupby("arch_index")[["valid_acc", "test_acc"]].mean()[seeds == len(SEEDS)]

    ours, chosen = complete_means(last), complete_means(chosen_last)
    cells = ours.index.intersection(chosen.index).intersection(ref.index)
    target = ref.loc[cells, "nb201_test200"].to_numpy()

    def difference(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> float:
        return float(spearmanr(a, t).statistic - spearmanr(b, t).statistic)

    out: dict = {"cells_vs_chosen": len(cells)}
    for col, key in (("valid_acc", "valid"), ("test_acc", "test")):
        a, b = ours.loc[cells, col].to_numpy(), chosen.loc[cells, col].to_numpy()
        ci = bootstrap((a, b, target), difference, paired=True, vectorized=False, n_resamples=2000,
                       method="percentile", rng=np.random.default_rng(0)).confidence_interval
        out[f"{key}_spearman_minus_chosen"] = difference(a, b, target)
        out[f"{key}_spearman_minus_chosen_ci95_low"] = float(ci.low)
        out[f"{key}_spearman_minus_chosen_ci95_high"] = float(ci.high)
    return out


def evaluate_candidate(name: str, run_dir: Path, ref: pd.DataFrame | None, wall: float) -> dict | None:
    """The candidate's row of measures; None while its run folder holds no finished result."""
    frame, sessions, last = final_accuracies(run_dir)
    if last.empty:
        return None
    per_seed = last.pivot(index="arch_index", columns="seed", values="valid_acc")
    mean = last.groupby("arch_index")[["valid_acc", "test_acc", "valid_loss", "train_loss"]].mean()
    mean["neg_valid_loss"], mean["neg_train_loss"] = -mean["valid_loss"], -mean["train_loss"]
    seconds = frame.groupby(["arch_index", "seed"])[["train_seconds", "valid_seconds", "test_seconds"]].sum().sum(axis=1)
    per_seed = per_seed.dropna()  # cells with every seed (an incomplete run may lack some)
    row = {"protocol": name, "results": len(last), "cells": len(mean), "seeds": per_seed.shape[1],
           "valid_min": mean["valid_acc"].min(), "valid_median": mean["valid_acc"].median(),
           "valid_max": mean["valid_acc"].max(), "valid_std": mean["valid_acc"].std(),
           "seed_tau": float(kendalltau(per_seed.iloc[:, 0], per_seed.iloc[:, 1]).statistic),
           "seconds_per_cell": float(seconds.mean()),
           "wall_seconds": round(sum(s.wall_seconds for s in sessions), 1) or wall}
    if ref is not None:
        joined = mean.join(ref, how="inner")
        top = joined[joined["nb201_test200"] >= joined["nb201_test200"].quantile(0.9)]
        for label, part in (("all", joined), ("top10", top)):
            # our final valid and test accuracy (the table's measure), and for diagnosis our final valid
            # and train loss (less noisy at this fidelity), beside NB201's own 12-epoch valid accuracy
            for col in ("valid_acc", "test_acc", "neg_valid_loss", "neg_train_loss", "nb201_valid12"):
                rho, tau = correlations(part[col], part["nb201_test200"])
                key = {"valid_acc": "ours_valid", "test_acc": "ours_test", "neg_valid_loss": "ours_valid_loss",
                       "neg_train_loss": "ours_train_loss", "nb201_valid12": "nb201_hp12_valid"}[col]
                row[f"{key}_spearman_{label}"] = rho
                row[f"{key}_kendall_{label}"] = tau
        for col, key, sign in (("valid_acc", "ours_valid", 1), ("train_loss", "ours_train_loss", -1)):
            seeds = (sign * last.pivot(index="arch_index", columns="seed", values=col)).dropna().join(
                ref["nb201_test200"], how="inner")
            c = seed_noise_ceiling([seeds[s].to_numpy() for s in SEEDS], seeds["nb201_test200"].to_numpy())
            row.update({f"{key}_spearman_1seed": c["one_seed"], f"{key}_seed_spearman": c["seed_spearman"],
                        f"{key}_spearman_2seeds_predicted": c["predicted_2"],
                        f"{key}_spearman_5seeds_predicted": c["predicted_5"],
                        f"{key}_spearman_noise_free": c["noise_free"]})
        chosen_dir = run_dir.parent / CHOSEN
        if name != CHOSEN and (chosen_dir / "run.json").is_file():
            row.update(versus_chosen(last, final_accuracies(chosen_dir)[2], ref))
    return row


def scatter(runs: Path, names: list[str], ref: pd.DataFrame, out: Path) -> None:
    """One panel per candidate with results: our final valid accuracy (mean of seeds) against NB201's
    200-epoch CIFAR-10 test accuracy, cell by cell."""
    from matplotlib.figure import Figure

    have = [n for n in names if (runs / n / "shards").is_dir() and any((runs / n / "shards").rglob("*.csv"))]
    if not have:
        return
    fig = Figure(figsize=(4.2 * len(have), 3.8))
    for ax, name in zip(np.atleast_1d(fig.subplots(1, len(have))), have):
        frame = final_accuracies(runs / name)[0]
        if frame.empty:
            continue
        last = frame[frame["epoch"] == frame["epoch"].max()].groupby("arch_index")["valid_acc"].mean()
        joined = ref.join(last, how="inner")
        rho, tau = correlations(joined["valid_acc"], joined["nb201_test200"])
        ax.scatter(joined["nb201_test200"], joined["valid_acc"], s=8, alpha=0.7)
        ax.set_title(f"{name}\n{len(joined)} cells, Spearman {rho:.2f}, Kendall {tau:.2f}", fontsize=9)
        ax.set_xlabel("NB201 200-epoch CIFAR-10 test acc (%)")
        ax.set_ylabel("our final valid acc (%), mean of seeds")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})


def markdown(table: pd.DataFrame, dataset: str) -> str:
    """The candidates as a Markdown table, one column per candidate (they are few, measures many)."""
    t = table.set_index("protocol").T
    lines = [f"# Protocol pilot: {dataset}", "",
             f"Written by `python reports/protocol_pilot/pilot.py --dataset {dataset} ...` from the committed "
             f"run folders in `runs/{dataset}/` (`--partial` measures them without training). What each measure "
             "is: the script's docstring. A candidate whose `results` is below `planned_results` is incomplete."
             + (f" The full run's protocol is `{CHOSEN}`; the `*_minus_chosen` rows compare each candidate with "
                "it on the cells both have." if dataset == "cifar10-16px" else ""), "",
             "| measure | " + " | ".join(t.columns) + " |", "| --- |" + " --- |" * len(t.columns)]
    lines += [f"| {k} | " + " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row) + " |"
              for k, row in t.iterrows()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(CANDIDATES), default="digits")
    ap.add_argument("--data-dir")
    ap.add_argument("--reference", help="folder with NB201 reference CSVs (needed for cifar10-16px)")
    ap.add_argument("--cells", type=int, default=None, help="sample size (default 200 for CIFAR, 48 for digits)")
    ap.add_argument("--only", help="comma-separated candidate names")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=HERE, help="where the run folders and results go")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (trains in this process: --workers 1)")
    ap.add_argument("--batch-cells", type=int, help="cells the engine stacks (default: the engine's for the device)")
    ap.add_argument("--partial", action="store_true",
                    help="only measure what the run folders hold (no training); incomplete candidates are marked")
    args = ap.parse_args()

    cifar = args.dataset.startswith("cifar")
    if cifar and not args.reference:
        sys.exit("pilot: --reference is needed for cifar10-16px (the NB201 data to measure against)")
    ref = reference_frame(Path(args.reference)) if cifar else None
    cells = sample_cells(args.dataset, args.cells or (200 if cifar else 48), ref)
    names = args.only.split(",") if args.only else list(CANDIDATES[args.dataset])
    rows = []
    for name in names:
        protocol = CANDIDATES[args.dataset][name]
        run_dir = args.out / "runs" / args.dataset / name
        spec = RunSpec(",".join(map(str, cells)), SEEDS, protocol,
                       shard_size=max(16, args.batch_cells or default_batch_cells(args.device)),
                       batch_cells=args.batch_cells)
        t0 = time.perf_counter()
        if args.partial:  # measure the committed shard files; train nothing
            if not (run_dir / "run.json").is_file():
                continue
            planned = len(cells) * len(SEEDS)
        else:
            status = run_pre_evaluation(spec, run_dir, data_dir=args.data_dir, workers=args.workers, device=args.device)
            if not status.complete:
                sys.exit(f"pilot: {name} is incomplete ({status.stored}/{status.planned}); run again to resume")
            planned = status.planned
        row = evaluate_candidate(name, run_dir, ref, time.perf_counter() - t0)
        if row is None:
            continue
        rows.append({**row, "planned_results": planned})
        print(pd.DataFrame(rows[-1:]).round(3).T.to_string(header=False), flush=True)
    table = pd.DataFrame(rows).round(4)
    out = args.out / f"{args.dataset}.csv"
    kept = pd.read_csv(out) if out.exists() else table.iloc[:0]  # candidates measured earlier (--only), not now
    kept = kept[~kept["protocol"].isin(table["protocol"])]
    if len(kept):  # in this run's column order: a file does not depend on the invocations that made it
        table = pd.concat([kept, table], ignore_index=True)[[*table.columns, *kept.columns.difference(table.columns)]]
    order = {n: i for i, n in enumerate(CANDIDATES[args.dataset])}
    table = table.sort_values("protocol", key=lambda c: c.map(order), kind="stable", ignore_index=True)
    table.to_csv(out, index=False)
    (args.out / f"{args.dataset}.md").write_text(markdown(table.round(3), args.dataset), encoding="utf-8")
    if ref is not None:
        try:
            scatter(args.out / "runs" / args.dataset, list(CANDIDATES[args.dataset]), ref,
                    args.out / f"{args.dataset}-scatter.png")
        except ImportError as exc:  # e.g. the lent GPU machine has no matplotlib; the shards are what matter
            print(f"scatter plot skipped ({exc})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
