"""Cross-check our zero-cost proxies against NASLib's published NB201 scores (NAS-Bench-Suite-Zero subset).

    python benchmarks/proxy_crosscheck.py compute --group data-free --ref-dir ../shared/reference --data-dir ../shared/datasets
    python benchmarks/proxy_crosscheck.py compute --group data --ref-dir ../shared/reference --data-dir ../shared/datasets
    python benchmarks/proxy_crosscheck.py compute --group grasp --ref-dir ../shared/reference --data-dir ../shared/datasets
    python benchmarks/proxy_crosscheck.py report --ref-dir ../shared/reference

The cells are the 725 CIFAR-10 rows of ``nb201_zero_cost_proxies_naslib_subset.csv``, joined to our
cells through NB201's index -> arch string (``nb201_nats_test_acc_200ep.csv``, row i = index i).
Our scores are computed at NAS-Bench-201's network (C=16, N=5, 32x32, 10 classes), batch 64, seed 0,
one torch thread; the data-dependent proxies see 64 images of our CIFAR-10 16px train split
(JPEG-derived) upsampled bilinearly to 32x32, NOT NASLib's real 32x32 CIFAR-10 images. Cells are
scored in a seeded random order and every group is resumable, so a partial run is a uniform
subsample; the report states n per proxy. The reference files are read, never copied: the committed
outputs are our own scores (``reports/proxy_crosscheck/scores-<group>/``) and the correlations.
``--out DIR`` puts the scores and the report elsewhere (default: this checkout's
``reports/proxy_crosscheck``, wherever the script is run from).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # score with this checkout's proxies, not an installed copy

from nasbench_suite.data import load_dataset  # noqa: E402
from nasbench_suite.latency import fingerprint_words  # noqa: E402
from nasbench_suite.model import MacroConfig  # noqa: E402
from nasbench_suite.proxies import ProxySettings  # noqa: E402
from nasbench_suite.proxy_store import ProxyStore, load_proxies, make_minibatch  # noqa: E402
from nasbench_suite.space import Arch  # noqa: E402

OUT = ROOT / "reports" / "proxy_crosscheck"
GROUPS = {"data-free": ("synflow", "params", "flops"),
          "data": ("grad_norm", "snip", "fisher", "jacob_cov", "naswot", "zen"),
          "grasp": ("grasp",),
          "seed1": ("grad_norm", "snip", "fisher", "jacob_cov", "naswot"),
          "grasp-seed1": ("grasp",)}
"""``seed1`` / ``grasp-seed1``: proxies again under seed 1 (another minibatch and other initial weights), on
the first ``--limit`` cells of the order: the seed-to-seed agreement of our own scores."""
SEEDS = {"seed1": 1, "grasp-seed1": 1}
SEED0_GROUP = {"seed1": "data", "grasp-seed1": "grasp"}
THEIRS = {"synflow": "synflow", "params": "params", "flops": "flops", "grad_norm": "grad_norm", "snip": "snip",
          "fisher": "fisher", "jacob_cov": "jacov", "naswot": "nwot", "grasp": "grasp"}
NASLIB_OPS = {0: 1, 1: 0, 2: 3, 3: 2, 4: 4}
"""NASLib op id -> our op index (NASLib: 0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 pool)."""
NASLIB_EDGE_OF_OURS = (0, 1, 3, 2, 4, 5)
"""Our edge e (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2) is NASLib tuple position NASLIB_EDGE_OF_OURS[e]."""


def reference(ref_dir: Path) -> pd.DataFrame:
    """The 725 CIFAR-10 rows with our arch index and NB201's 200-epoch CIFAR-10 test accuracy."""
    zc = pd.read_csv(ref_dir / "nb201_zero_cost_proxies_naslib_subset.csv")
    zc = zc[zc["dataset"] == "cifar10"].copy()
    nats = pd.read_csv(ref_dir / "nb201_nats_test_acc_200ep.csv")
    strings = nats["ArchitectureString"].to_numpy()
    zc["arch_str"] = strings[zc["arch_index"].to_numpy()]
    zc["ours"] = [Arch.from_str(s).index for s in zc["arch_str"]]
    zc["nb201_test_200ep"] = nats["CIFAR10TestAccuracy200Epochs"].to_numpy()[zc["arch_index"].to_numpy()]
    tuples = [tuple(int(t) for t in s.strip("()").split(",")) for s in zc["naslib_tuple"]]
    from_tuple = [Arch(tuple(NASLIB_OPS[t[NASLIB_EDGE_OF_OURS[e]]] for e in range(6))).index for t in tuples]
    zc["tuple_agrees"] = np.asarray(from_tuple) == zc["ours"].to_numpy()
    return zc.sort_values("ours").reset_index(drop=True)


def compute(args: argparse.Namespace) -> None:
    ref = reference(Path(args.ref_dir))
    settings = ProxySettings(MacroConfig(16, 5, 3, 32, 10), 64, SEEDS.get(args.group, 0))
    data = make_minibatch(load_dataset("cifar10-16px", args.data_dir), settings)
    order = np.random.default_rng(2021).permutation(ref["ours"].to_numpy())[:args.limit]
    table = {"name": "nb201-crosscheck (NAS-Bench-201 cells; no table)", "content_hash": "-"}
    with ProxyStore(Path(args.out) / f"scores-{args.group}", table, settings, GROUPS[args.group],
                    data.describe) as store:
        done = store.compute([int(a) for a in order], data.batch, workers=args.workers, flush_every=5)
    print(f"{args.group}: {done['computed']} computed now, {done['already_stored']} already stored, "
          f"{done['wall_seconds']:.0f} s")


def report(args: argparse.Namespace) -> None:
    from scipy.stats import spearmanr

    out = Path(args.out)
    ref = reference(Path(args.ref_dir)).set_index("ours")
    rows, machines = [], []
    for group in (g for g in GROUPS if g not in SEEDS):  # other seeds only enter the agreement table
        folder = out / f"scores-{group}"
        if not (folder / "proxies.csv").is_file():
            continue
        table = load_proxies(folder)
        machine = fingerprint_words(table.identity.get("fingerprint"))
        if machine not in machines:  # each machine the scores recorded, in the order first met
            machines.append(machine)
        for p in table.proxies:
            ours = pd.Series(table.scores[p][ref.index.to_numpy()], index=ref.index)
            secs = pd.Series(table.seconds[p][ref.index.to_numpy()], index=ref.index)
            col = THEIRS.get(p)
            theirs = ref[col] if col else pd.Series(np.nan, index=ref.index)
            ok = ours.notna() & np.isfinite(ours) & (theirs.notna() if col else True)
            n = int(ok.sum())

            def rho(a: pd.Series, b: pd.Series) -> float:
                return float(spearmanr(a[ok], b[ok]).statistic) if n > 2 and a[ok].notna().all() else float("nan")

            rows.append({"proxy": p, "naslib_column": col or "-", "cells": n,
                         "spearman_ours_vs_naslib": rho(ours, theirs),
                         "spearman_ours_vs_nb201_test_200ep": rho(ours, ref["nb201_test_200ep"]),
                         "spearman_naslib_vs_nb201_test_200ep": rho(theirs, ref["nb201_test_200ep"]),
                         "spearman_ours_vs_naslib_val_200ep": rho(ours, ref["val_accuracy"]),
                         "our_seconds_per_cell": float(secs[ok].mean()),
                         "naslib_seconds_per_cell": float(ref.loc[ok, f"{col}_time_s"].mean()) if col else float("nan")})
    seed_rows = seed_agreement(out, ref.index.to_numpy())
    frame = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "correlations.csv", index=False, float_format="%.4f", lineterminator="\n")
    lines = [
        "# Zero-cost proxies: our scores against NASLib's published NAS-Bench-201 scores (CIFAR-10)",
        "",
        "Generated by `python benchmarks/proxy_crosscheck.py report --ref-dir ../shared/reference` from our "
        "stored scores (`scores-*/`) and the reference files (not committed; see `../shared/reference/PROVENANCE.md`).",
        "",
        f"* Cells: the {len(ref)} CIFAR-10 rows of NASLib's `zc_nasbench201.json` subset, joined by NB201 index -> "
        f"arch string; NASLib's own tuple encoding decodes to the same cell for {int(ref['tuple_agrees'].sum())} of "
        f"{len(ref)}.",
        f"* Ours: NB201's network (C=16, N=5, 32x32), batch 64, seed 0, CPU ({'; '.join(machines)}). "
        "synflow, zen, params and flops read no images; the other proxies see 64 images of our CIFAR-10 16px "
        "(JPEG-derived) train split **upsampled bilinearly to 32x32**, not NASLib's real 32x32 images.",
        "* `cells` is the number of cells with both scores (data-dependent groups are scored in a seeded random "
        "order and may be a partial, uniform subsample when the run was stopped).",
        "* NB201 200ep: `CIFAR10TestAccuracy200Epochs` (trained on 50k, mean over seeds).",
        "",
        "| proxy | cells | Spearman ours vs NASLib | ours vs NB201 test 200ep | NASLib vs NB201 test 200ep "
        "| our s/cell | NASLib s/cell |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [f"{r[k]:.3f}" if r[k] == r[k] else "-" for k in
                 ("spearman_ours_vs_naslib", "spearman_ours_vs_nb201_test_200ep", "spearman_naslib_vs_nb201_test_200ep",
                  "our_seconds_per_cell", "naslib_seconds_per_cell")]
        lines.append(f"| {r['proxy']} | {r['cells']} | " + " | ".join(cells) + " |")
    if seed_rows:
        lines += ["", "Seed-to-seed agreement of our own scores (seed 0 vs seed 1: another minibatch and other initial "
                  "weights), on the cells scored under both:", "", "| proxy | cells | Spearman seed 0 vs seed 1 |",
                  "| --- | ---: | ---: |"]
        lines += [f"| {p} | {n} | {r:.3f} |" for p, n, r in seed_rows]
    notes = Path(args.notes) if args.notes else out / "notes.md"
    if notes.is_file():
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    (out / "cifar10.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def seed_agreement(folder: Path, cells: np.ndarray) -> list[tuple[str, int, float]]:
    from scipy.stats import spearmanr

    out = []
    for group, base in SEED0_GROUP.items():
        if not all((folder / f"scores-{g}" / "proxies.csv").is_file() for g in (group, base)):
            continue
        a, b = load_proxies(folder / f"scores-{base}"), load_proxies(folder / f"scores-{group}")
        for p in b.proxies:
            x, y = a.scores[p][cells], b.scores[p][cells]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() > 2:
                out.append((p, int(ok.sum()), float(spearmanr(x[ok], y[ok]).statistic)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("compute")
    p.add_argument("--group", choices=list(GROUPS), required=True)
    p.add_argument("--ref-dir", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--limit", type=int, help="only the first N cells of the seeded order")
    p.add_argument("--out", default=str(OUT), help="folder of the scores (default: %(default)s)")
    p.set_defaults(func=compute)
    p = sub.add_parser("report")
    p.add_argument("--ref-dir", required=True)
    p.add_argument("--notes", help="markdown appended to the report (default: OUT/notes.md)")
    p.add_argument("--out", default=str(OUT), help="folder of the scores and the report (default: %(default)s)")
    p.set_defaults(func=report)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
