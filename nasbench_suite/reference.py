"""Build local tables from the NAS-Bench-201 / NATS-Bench reference files, to replay published
search protocols (e.g. NB201's: search on 12-epoch validation accuracy under a 12,000 s simulated
budget, report the 200-epoch test accuracy).

The reference files (``nb201_hp12_mean_acc.csv``, ``nb201_200ep_final_valid_per_seed.csv``,
``nb201_nats_test_acc_200ep.csv``, ``nats_tss_fixture_3archs.json``; see their PROVENANCE.md) are
third-party data that must not be committed or shipped, and neither may tables built from them:
build them locally with ``nasbench reference build --ref-dir DIR --out DIR``.

Two tables per dataset, because NB201's 12-epoch runs (``hp=12``, their own schedule) are not the
200-epoch runs cut short:

``nb201-<dataset>-hp12`` (search): epochs 1..12. ``valid_acc`` and ``test_acc`` at epoch 12 only
(the mean over NB201's hp=12 trials; the reference has no per-epoch curves, so this table has a
single fidelity). ``train_seconds`` every epoch: NATS-Bench's pseudo training time per epoch.
``valid_seconds``: an estimate, the per-epoch training time times the ratio of validation-pass time
to training-epoch time measured in the 3-arch fixture (NATS records it per arch; the reference has
it for those 3 only).

``nb201-<dataset>-hp200`` (evaluation): epochs 1..200; ``test_acc`` at epoch 200 (NATS-Bench's mean
over seeds), ``valid_acc`` at epoch 200 for cifar10 only (mean of the per-seed x-valid accuracies;
for the other datasets the reference's per-seed column is ``valtest``, which overlaps the test set,
so it is left out); the same seconds as hp12 (for cifar10 those of cifar10-valid, trained on 25k
images: the reference has no time for the 50k run, so they are about half of its cost; the manifest's
``train_seconds_note`` says so).

Both tables have one seed, numbered 0, holding means: the reference has no per-trial values at
hp=12, so common random numbers have nothing to vary. Cells are indexed by our base-5 index (the
NB201 index is kept as the per-arch value ``nb201_index``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import jsonread
from . import tablefile
from .csvread import read_csv
from .errors import DatasetError, not_a_folder
from .space import NUM_ARCHS, Arch
from .table import Benchmark, build_table, load_table

HP12 = "nb201_hp12_mean_acc.csv"
PER_SEED = "nb201_200ep_final_valid_per_seed.csv"
TEST200 = "nb201_nats_test_acc_200ep.csv"
FIXTURE = "nats_tss_fixture_3archs.json"

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class _Columns:
    hp12: str  # prefix of <prefix>_valid / <prefix>_test in the hp12 file
    seconds: str  # per-epoch pseudo train time column in the per-seed file
    test200: str
    valid200: str | None
    nats_name: str  # NATS dataset name in the fixture (for the eval/train time ratio)
    description: str


DATASETS: dict[str, _Columns] = {
    "cifar10": _Columns("cifar10", "cifar10_valid_train_time_per_epoch_s", "CIFAR10TestAccuracy200Epochs",
                        "cifar10_valid_acc", "cifar10-valid",
                        "search: cifar10-valid (trained on 25k, validated on the other 25k); test: cifar10 "
                        "(trained on 50k) on the 10k test images"),
    "cifar100": _Columns("cifar100", "cifar100_train_time_per_epoch_s", "CIFAR100TestAccuracy200Epochs", None,
                         "cifar100", "cifar100: valid = x-valid, test = x-test (halves of the test set)"),
    "imagenet16-120": _Columns("imagenet16_120", "imagenet16_120_train_time_per_epoch_s",
                               "ImageNetTestAccuracy200Epochs", None, "ImageNet16-120",
                               "ImageNet16-120: valid = x-valid, test = x-test (halves of the valid set)"),
}


def _read_csv(path: Path, columns: list[str]) -> "pd.DataFrame":
    """The reference CSV at ``path``, which must have ``columns``."""
    if not path.is_file():
        raise DatasetError(f"reference file {path} is missing; --ref-dir must hold {HP12}, {PER_SEED}, {TEST200}, {FIXTURE}")
    try:
        frame = read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise DatasetError(f"reference file {path} is not a readable CSV ({type(exc).__name__}: {exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"reference file {path} lacks the column(s) {', '.join(missing)}: not the file PROVENANCE.md "
                           f"describes")
    return frame


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _our_index(strings: "pd.Series", path: Path) -> np.ndarray:
    try:
        return np.asarray([Arch.from_str(s).index for s in strings], dtype=np.int64)
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"reference file {path}: {exc}") from None


def _valid_pass_ratio(path: Path, nats_name: str) -> float:
    """Mean over the fixture's archs of (x-valid evaluation time) / (training time of one epoch), hp=12."""
    if not path.is_file():
        raise DatasetError(f"reference file {path} is missing (needed for the validation-pass time ratio)")
    ratios = []
    try:
        archs = jsonread.loads(path.read_text(encoding="utf-8"))["archs"]
        for record in archs.values():
            for key, result in record["12"]["all_results"].items():
                if key.split("|")[0] != nats_name:
                    continue
                evals = [v for k, v in result["eval_times"].items() if k.startswith("x-valid@")]
                if evals:
                    ratios.append(float(np.mean(evals)) / float(np.mean(list(result["train_times"].values()))))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
        raise DatasetError(f"reference file {path} is not the 3-arch NATS-Bench fixture PROVENANCE.md describes "
                           f"({type(exc).__name__}: {exc})") from None
    if not ratios:
        raise DatasetError(f"{path} has no x-valid evaluation times for {nats_name}")
    return float(np.mean(ratios))


def build_reference_tables(ref_dir: str | os.PathLike, out: str | os.PathLike, dataset: str = "cifar10",
                           overwrite: bool = False) -> tuple[Benchmark, Benchmark]:
    """Write ``out/nb201-<dataset>-hp12`` and ``out/nb201-<dataset>-hp200``, both or neither; see the
    module doc."""
    import pandas as pd

    if dataset not in DATASETS:
        raise DatasetError(f"unknown reference dataset {dataset!r}; use one of {', '.join(DATASETS)}")
    cols = DATASETS[dataset]
    ref, out = Path(ref_dir), Path(out)
    if not ref.is_dir():
        raise DatasetError(f"reference folder {ref} {not_a_folder(ref)}")
    hp12 = _read_csv(ref / HP12, ["arch_index", "arch_str", f"{cols.hp12}_valid", f"{cols.hp12}_test"])
    per_seed = _read_csv(ref / PER_SEED, ["arch_index", cols.seconds, *([cols.valid200] if cols.valid200 else [])])
    test200 = _read_csv(ref / TEST200, ["ArchitectureString", cols.test200])
    ratio = _valid_pass_ratio(ref / FIXTURE, cols.nats_name)
    if len(hp12) != NUM_ARCHS or len(test200) != NUM_ARCHS:
        raise DatasetError(f"reference files must have {NUM_ARCHS} rows ({HP12}: {len(hp12)}, {TEST200}: {len(test200)})")

    ours = _our_index(hp12["arch_str"], ref / HP12)  # hp12 row -> our index
    nb201 = hp12["arch_index"].to_numpy(dtype=np.int64)
    order = np.argsort(ours)
    by_nb201 = per_seed.groupby("arch_index")
    seconds = by_nb201[cols.seconds].first().reindex(nb201).to_numpy(dtype=np.float64)
    if np.isnan(seconds).any():
        raise DatasetError(f"{PER_SEED} lacks {cols.seconds} for some archs")
    test_ours = _our_index(test200["ArchitectureString"], ref / TEST200)
    test_by_ours = np.empty(NUM_ARCHS)
    test_by_ours[test_ours] = test200[cols.test200].to_numpy(dtype=np.float64)
    valid200 = (by_nb201[cols.valid200].mean().reindex(nb201).to_numpy(dtype=np.float64)
                if cols.valid200 else None)
    sources = {name: {"sha256": _sha256(ref / name)} for name in (HP12, PER_SEED, TEST200, FIXTURE)}
    common = {
        "dataset": {"name": f"nb201-{dataset}", "sha256": sources[HP12]["sha256"], "description": cols.description},
        "source": {"files": sources, "note": "third-party reference data (see PROVENANCE.md next to the files): "
                                             "build locally, never commit or ship"},
        "seeds_note": "one seed (0) holding means over NB201's trials; the reference has no per-trial hp=12 values",
        "valid_seconds_note": f"estimate: per-epoch train time x {ratio:.4f}, the mean x-valid-pass/train-epoch time "
                              f"ratio of the 3 fixture archs",
        "train_seconds_note": "NATS-Bench pseudo training time per epoch (GTX 1080Ti), constant over epochs"
                              + ("; cifar10-valid's (25k training images) in both tables: the reference has no time "
                                 "for cifar10's 50k, about twice that, so hp200's seconds are about half of its "
                                 "real training cost" if dataset == "cifar10" else ""),
    }

    def frame(epochs: int, at: int, valid: np.ndarray | None, test: np.ndarray) -> "pd.DataFrame":
        """Tidy rows sorted by our index; ``valid`` and ``test`` are in hp12 row order."""
        n = NUM_ARCHS * epochs
        epoch = np.tile(np.arange(1, epochs + 1), NUM_ARCHS)
        final = epoch == at
        data: dict[str, Any] = {
            "arch_index": np.repeat(ours[order], epochs), "seed": np.zeros(n, dtype=np.int64), "epoch": epoch,
            "train_seconds": np.repeat(seconds[order], epochs),
            "valid_seconds": np.repeat(seconds[order] * ratio, epochs),
            "test_acc": np.where(final, np.repeat(test[order], epochs), np.nan),
        }
        if valid is not None:
            data["valid_acc"] = np.where(final, np.repeat(valid[order], epochs), np.nan)
        data["nb201_index"] = np.repeat(nb201[order], epochs)
        return pd.DataFrame(data)

    name12, name200 = f"nb201-{dataset}-hp12", f"nb201-{dataset}-hp200"
    _write_together(out, {
        name12: lambda folder: build_table(
            frame(12, 12, hp12[f"{cols.hp12}_valid"].to_numpy(dtype=np.float64),
                  hp12[f"{cols.hp12}_test"].to_numpy(dtype=np.float64)),
            folder, name=name12,
            metadata={**common, "description": f"NB201 hp=12 (12-epoch schedule) {dataset} accuracies at epoch 12, "
                                               f"for search (reference data, local only)",
                      "protocol": {"epochs": 12, "hp": "12", "values_at_epochs": [12]}}),
        name200: lambda folder: build_table(
            frame(200, 200, valid200, test_by_ours[ours]), folder, name=name200,
            metadata={**common, "description": f"NB201 hp=200 {dataset} final accuracies, for evaluation "
                                               f"(reference data, local only)",
                      "protocol": {"epochs": 200, "hp": "200", "values_at_epochs": [200]}}),
    }, overwrite)
    return load_table(out / name12), load_table(out / name200)


def _write_together(out: Path, writers: dict[str, Callable[[Path], object]], overwrite: bool) -> None:
    """Write each table ``out/<name>`` with ``writers[name](folder)``, all or none: every table is written
    into a staging folder beside its target (``.NAME.tmp-PID-*``, as :func:`tablefile.write_table`'s, so
    that the next build removes what a killed one left) and installed only when all were written, so a
    failed write leaves none of them (nor ``out``, where this made it) behind, and replaces no existing
    table."""
    for name in writers:
        tablefile.check_replaceable(out / name, overwrite)  # before anything is written
    tablefile.remove_stale(out, r"\.reference-build-[a-z0-9_]{8}")  # older versions' staging folder
    made = tablefile.make_folder(out)
    staging: dict[str, Path] = {}
    try:
        try:
            for name, write in writers.items():
                staging[name] = tablefile.temporary_folder(out / name)
                write(staging[name] / name)
            for name in writers:
                tablefile.install(staging[name] / name, out / name, overwrite=overwrite)
        finally:
            for folder in staging.values():
                shutil.rmtree(folder, ignore_errors=True)
    except BaseException:
        tablefile.remove_made(made)
        raise
