"""`nasbench fidelity`: a table's ranking of cells against a reference table's, written reproducibly."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixture_tables import build_search_table, search_results

from nasbench_suite.cli import main
from nasbench_suite.fidelity import fidelity, seed_noise_ceiling, write_fidelity
from nasbench_suite.table import build_table


@pytest.fixture(scope="module")
def other_table(tmp_path_factory: pytest.TempPathFactory):
    """Another generated table over the same cells: the same cell qualities' form, other noise."""
    return build_search_table(tmp_path_factory.mktemp("other") / "other", seed=1, seeds=(0, 1), epochs=4)


def test_a_table_against_itself_ranks_its_test_accuracy_perfectly(search_table) -> None:
    result = fidelity(search_table, search_table)
    by = result.frame.set_index("ranking")
    test_row = [r for r in by.index if "test acc" in r][0]
    assert by.loc[test_row, "spearman"] == pytest.approx(1.0) and by.loc[test_row, "top10_precision"] == 1.0
    assert result.best["reference_test"] == pytest.approx(result.reference_test[np.argmax(result.ours_valid)])
    assert 0 < result.seed_tau < 1  # three noisy seeds agree, not perfectly


def test_rankings_best_cell_rank_and_reproducible_files(search_table, other_table, tmp_path: Path) -> None:
    result = fidelity(other_table, search_table, baseline=search_table)
    assert list(result.frame["ranking"]) == [
        "generated-search: valid acc at epoch 4 (mean of 2 seeds)",
        "generated-search: test acc at epoch 4 (mean of 2 seeds)",
        "generated-search: valid acc at epoch 12"]  # no loss rows: this table records no losses
    assert ((result.frame[["spearman", "kendall"]].abs() <= 1).all()).all()
    ref = search_table.array("test", "acc", epoch=search_table.max_epoch)
    b = result.best
    # the best cell is the table's by its valid accuracy; its test accuracy is the reference's (not the table's own)
    ours = other_table.array("valid", "acc", epoch=other_table.max_epoch)
    assert b["arch_index"] == int(other_table.arch_indices[np.argmax(ours)])
    assert b["reference_test"] == pytest.approx(search_table.metric(b["arch_index"], "test", epoch=search_table.max_epoch))
    assert b["reference_test"] != pytest.approx(other_table.metric(b["arch_index"], "test", epoch=other_table.max_epoch))
    assert b["reference_rank"] == int((ref > b["reference_test"]).sum()) + 1 and b["reference_cells"] == len(ref)
    first = write_fidelity(result, other_table, search_table, tmp_path / "a")
    rc = main(["fidelity", "--table", str(other_table.path), "--reference", str(search_table.path),
               "--baseline", str(search_table.path), "--out", str(tmp_path / "b")])
    assert rc == 0
    for path in first:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_a_reference_without_the_cells_is_one_clear_error(search_table, tiny_table, tmp_path: Path, capsys) -> None:
    """A reference that is no table, and one holding only 4 of the cells: one error line each, no report."""
    rc = main(["fidelity", "--table", str(search_table.path), "--reference", "nosuch-table"])
    assert rc == 2 and "no table named or at 'nosuch-table'" in capsys.readouterr().err
    rc = main(["fidelity", "--table", str(search_table.path), "--reference", str(tiny_table.path),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("nasbench: error: reference 'tiny-clock' has a final test accuracy for only 4 ")
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_losses_are_ranked_lower_first_beside_the_accuracies(search_table, tmp_path: Path) -> None:
    frame = search_results(seed=1, seeds=(0, 1), epochs=4)
    frame["valid_loss"] = 3.0 - frame["valid_acc"] / 50.0  # a loss that falls exactly as accuracy rises
    frame["train_loss"] = 3.0 - frame["train_acc"] / 50.0
    bench = build_table(frame, tmp_path / "with-loss", name="with-loss")
    by = fidelity(bench, search_table).frame.set_index("ranking")
    valid_loss = "with-loss: valid loss at epoch 4, lower ranks higher (mean of 2 seeds)"
    train_loss = "with-loss: train loss at epoch 4, lower ranks higher (mean of 2 seeds)"
    assert list(by.index)[2:] == [valid_loss, train_loss]
    valid_acc = by.loc["with-loss: valid acc at epoch 4 (mean of 2 seeds)"]
    np.testing.assert_allclose(by.loc[valid_loss].to_numpy(float), valid_acc.to_numpy(float), atol=1e-9)
    assert by.loc[train_loss, "spearman"] > 0.5


def test_the_seed_noise_model_predicts_the_mean_of_more_seeds_and_the_noise_free_ranking() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    true = rng.normal(size=4000)
    target = true + rng.normal(0.0, 0.5, true.size)
    seeds = [true + rng.normal(0.0, 1.0, true.size) for _ in range(5)]
    two = seed_noise_ceiling(seeds[:2], target)
    assert two["predicted_2"] == pytest.approx(spearmanr(np.mean(seeds[:2], axis=0), target).statistic, abs=0.01)
    assert two["predicted_5"] == pytest.approx(spearmanr(np.mean(seeds, axis=0), target).statistic, abs=0.01)
    assert two["noise_free"] == pytest.approx(spearmanr(true, target).statistic, abs=0.02)
    assert two["one_seed"] < two["predicted_2"] < two["predicted_5"] < two["noise_free"]
    assert set(seed_noise_ceiling(seeds, target)) == {"one_seed", "seed_spearman", "noise_free", "predicted_5"}


def test_the_report_says_how_far_more_seeds_could_go(search_table, other_table, tmp_path: Path) -> None:
    result = fidelity(other_table, search_table)
    assert result.ceiling is not None and result.ceiling["one_seed"] < result.ceiling["noise_free"]
    write_fidelity(result, other_table, search_table, tmp_path)
    assert f"{result.ceiling['noise_free']:.3f} for infinitely many" in (tmp_path / "fidelity.md").read_text()


def _past_one() -> tuple[list[np.ndarray], np.ndarray]:
    """Two seeds that agree with each other less than with the target (the noise of one is the
    negative of the other's): the seed-noise model extrapolates past 1."""
    rng = np.random.default_rng(0)
    target = rng.normal(size=2000)
    noise = rng.normal(0.0, 0.7, target.size)
    return [target + noise, target - noise], target


def test_an_extrapolated_ceiling_is_clipped_to_one_and_marked_as_clipped() -> None:
    from nasbench_suite.fidelity import _ceiling_line

    seeds, target = _past_one()
    c = seed_noise_ceiling(seeds, target)
    assert c["one_seed"] / np.sqrt(c["seed_spearman"]) > 1.1  # the unclipped extrapolation
    assert c["noise_free"] == 1.0 and c["predicted_5"] == 1.0 and c["predicted_2"] <= 1.0
    assert all(-1.0 <= v <= 1.0 for v in c.values())
    line = _ceiling_line(c, 2)
    assert "1.000 (clipped to 1: the model's extrapolation reaches or passes it) for infinitely many" in line
    negative = seed_noise_ceiling(seeds, -target)
    assert negative["noise_free"] == -1.0 and "-1.000 (clipped to -1:" in _ceiling_line(negative, 2)


def test_the_report_and_the_command_print_a_clipped_ceiling_as_clipped(search_table, other_table, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from nasbench_suite import fidelity as fidelity_module

    clipped = seed_noise_ceiling(*_past_one())
    monkeypatch.setattr(fidelity_module, "seed_noise_ceiling", lambda per_seed, target: clipped)
    assert main(["fidelity", "--table", str(other_table.path), "--reference", str(search_table.path),
                 "--out", str(tmp_path)]) == 0
    out, md = capsys.readouterr().out, (tmp_path / "fidelity.md").read_text()
    assert "1.000 (clipped to 1: the model's extrapolation reaches or passes it) with infinitely many" in out
    assert "1.000 (clipped to 1: the model's extrapolation reaches or passes it) for infinitely many" in md


def test_a_fidelity_report_is_never_written_inside_another_output(search_table, other_table, tmp_path: Path,
                                                                  capsys) -> None:
    """``--out FID/figs`` of an existing fidelity report wrote a second report inside the first and exited 0."""
    args = ["fidelity", "--table", str(other_table.path), "--reference", str(search_table.path), "--out"]
    assert main([*args, str(tmp_path / "fid")]) == 0
    capsys.readouterr()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main([*args, str(tmp_path / "fid" / "figs")]) == 2
    assert capsys.readouterr().err == f"nasbench: error: --out {tmp_path / 'fid' / 'figs'} is inside the fidelity " \
        f"report folder {(tmp_path / 'fid').resolve()} (fidelity.csv); write into a folder of its own\n"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_cells_lacking_a_seed_leave_the_seed_statistics_finite(search_table, tmp_path: Path, capsys) -> None:
    """NATS-Bench's hp=200 runs have 3 seeds for some cells and 2 for the others: the seed-to-seed tau
    and the seed-noise model are computed over the cells that have every seed (were NaN)."""
    frame = search_results(seed=1, seeds=(0, 1, 2), epochs=4)
    lacking = (frame["seed"] == 2) & (frame["arch_index"] % 2 == 0)
    frame.loc[lacking, ["train_acc", "train_seconds", "valid_acc", "test_acc"]] = np.nan
    bench = build_table(frame, tmp_path / "two-or-three-seeds", name="two-or-three-seeds")
    result = fidelity(bench, search_table)
    assert result.seed_tau is not None and 0 < result.seed_tau < 1
    assert result.ceiling is not None and all(np.isfinite(v) for v in result.ceiling.values())
    assert result.seed_cells == int((bench.arch_indices % 2 == 1).sum()) < result.cells
    assert main(["fidelity", "--table", str(bench.path), "--reference", str(search_table.path),
                 "--out", str(tmp_path / "report")]) == 0
    out, md = capsys.readouterr().out, (tmp_path / "report" / "fidelity.md").read_text()
    assert "nan" not in out and "nan" not in md
    assert f"over the {result.seed_cells} cells that have every seed" in md


def test_seed_statistics_need_20_cells_with_every_seed(search_table, tmp_path: Path) -> None:
    """Only 19 cells have both seeds: no seed-to-seed tau or seed-noise model (too few cells to say), and the
    report says why; 20 are enough."""
    frame = search_results(seed=1, seeds=(0, 1), epochs=4)
    archs = np.sort(frame["arch_index"].unique())
    lacking = (frame["seed"] == 1) & ~frame["arch_index"].isin(archs[:20])
    frame.loc[lacking, ["train_acc", "train_seconds", "valid_acc", "test_acc"]] = np.nan
    twenty = fidelity(build_table(frame, tmp_path / "twenty-with-both-seeds", name="twenty-with-both-seeds"),
                      search_table)
    assert twenty.seed_cells == 20 and twenty.seed_tau is not None and twenty.ceiling is not None
    frame.loc[(frame["seed"] == 1) & (frame["arch_index"] == archs[19]), ["train_acc", "train_seconds", "valid_acc",
                                                                          "test_acc"]] = np.nan
    bench = build_table(frame, tmp_path / "nineteen-with-both-seeds", name="nineteen-with-both-seeds")
    result = fidelity(bench, search_table)
    assert result.seed_tau is None and result.ceiling is None and result.seed_cells == 0
    write_fidelity(result, bench, search_table, tmp_path / "report")
    assert "none: fewer than 20 of the cells have a final valid accuracy in every seed" in \
        (tmp_path / "report" / "fidelity.md").read_text()


def test_a_reference_holding_fewer_than_20_of_the_cells_is_refused(search_table, tiny_table, tmp_path: Path) -> None:
    """4 cells are refused; 20 are enough."""
    from nasbench_suite.estimators import EstimatorError

    with pytest.raises(EstimatorError, match="'tiny-clock' has a final test accuracy for only 4 of the"):
        fidelity(search_table, tiny_table)
    frame = search_results(seed=1, seeds=(0, 1), epochs=4)
    archs = np.sort(frame["arch_index"].unique())[:20]
    twenty = build_table(frame[frame["arch_index"].isin(archs)], tmp_path / "twenty", name="twenty")
    assert fidelity(search_table, twenty).best["reference_cells"] == 20


def test_the_baseline_ranks_by_its_valid_accuracy(search_table, other_table) -> None:
    """The baseline (e.g. NB201's 12-epoch table) ranks by its final valid accuracy, not by its test accuracy
    (which, with the reference as baseline, would be the target itself: Spearman 1)."""
    from scipy.stats import spearmanr

    from nasbench_suite.estimators import judged_cells

    result = fidelity(other_table, search_table, baseline=search_table)
    archs = judged_cells(other_table).archs
    row = search_table.row
    valid = search_table.array("valid", "acc", epoch=search_table.max_epoch)[[row(int(a)) for a in archs]]
    test = search_table.array("test", "acc", epoch=search_table.max_epoch)[[row(int(a)) for a in archs]]
    baseline = result.frame.set_index("ranking").loc["generated-search: valid acc at epoch 12"]
    assert baseline["spearman"] == pytest.approx(spearmanr(valid, test).statistic) and baseline["spearman"] < 0.999


def test_seed_agreement_is_the_mean_over_every_pair_of_seeds(search_table) -> None:
    """Three seeds make three pairs: the seed-to-seed Kendall tau and the seed-noise model's two-seed
    Spearman are means over all three (scipy per pair), and one seed's Spearman the mean over the seeds."""
    from itertools import combinations

    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(1)
    target = rng.normal(size=500)
    per_seed = [target + rng.normal(0.0, sd, target.size) for sd in (0.3, 1.0, 3.0)]  # pairs agree unequally
    c = seed_noise_ceiling(per_seed, target)
    pairs = [spearmanr(a, b).statistic for a, b in combinations(per_seed, 2)]
    assert max(pairs) - min(pairs) > 0.2 and c["seed_spearman"] == pytest.approx(np.mean(pairs))
    assert c["one_seed"] == pytest.approx(np.mean([spearmanr(x, target).statistic for x in per_seed]))

    assert len(search_table.seeds) == 3
    result = fidelity(search_table, search_table)
    valid = [search_table.array("valid", "acc", epoch=search_table.max_epoch, seed=s) for s in search_table.seeds]
    taus = [kendalltau(a, b).statistic for a, b in combinations(valid, 2)]
    assert max(taus) > min(taus) and result.seed_tau == pytest.approx(np.mean(taus))


def test_the_best_cells_reference_rank_is_among_all_the_references_cells(search_table, tmp_path: Path) -> None:
    """A table of 200 cells that leaves out the reference's best: its best cell's rank and the reference's best
    accuracy are over every cell the reference holds, not over the 200."""
    best_arch, best = search_table.optimum("test", "acc")
    archs = [a for a in range(0, 15625, 70) if a != best_arch.index][:200]
    frame = search_results(seed=1, seeds=(0, 1), epochs=4)
    bench = build_table(frame[frame["arch_index"].isin(archs)], tmp_path / "some-cells", name="some-cells")
    result = fidelity(bench, search_table)
    ref = search_table.array("test", "acc", epoch=search_table.max_epoch)
    b = result.best
    assert result.cells == 200 and b["reference_best"] == best and b["reference_cells"] == 15625
    assert b["reference_rank"] == int((ref > b["reference_test"]).sum()) + 1 > 1


def _some_cells(tmp_path: Path, name: str, archs: np.ndarray, seeds: tuple[int, ...] = (0, 1), seed: int = 1,
                frame: pd.DataFrame | None = None):
    """A small table (seconds to build, not the 15,625 cells) of the generated results of ``archs``."""
    frame = _two_epochs(seed, seeds) if frame is None else frame
    return build_table(frame[frame["arch_index"].isin(archs)], tmp_path / name, name=name)


@functools.lru_cache(maxsize=None)
def _two_epochs(seed: int, seeds: tuple[int, ...]) -> pd.DataFrame:
    """The generated results of every cell at 2 epochs (made once per seed: 0.3 s each); never modified."""
    return search_results(seed=seed, seeds=seeds, epochs=2)


FORTY = np.arange(0, 15625, 300)[:40]


def test_a_reference_of_19_of_the_cells_is_refused_naming_both_counts(tmp_path: Path) -> None:
    """20 cells are the least (the other test: 4 refused, 20 enough); 19 are refused, the message counting the
    reference's cells among the table's."""
    from nasbench_suite.estimators import EstimatorError

    bench = _some_cells(tmp_path, "forty", FORTY)
    reference = _some_cells(tmp_path, "nineteen", FORTY[:19], seed=0)
    with pytest.raises(EstimatorError) as caught:
        fidelity(bench, reference)
    assert str(caught.value) == "reference 'nineteen' has a final test accuracy for only 19 of the 40 cells 'forty' " \
        "trained; need 20"
    result = fidelity(bench, _some_cells(tmp_path, "twenty", FORTY[:20], seed=0))
    assert result.cells == 20 == len(result.ours_valid) == len(result.reference_test)  # the cells both have


def test_a_table_of_one_seed_says_one_seed_and_has_no_seed_statistics(search_table, tmp_path: Path) -> None:
    """One seed: "mean of 1 seed" (not "1 seeds"), no seed-to-seed tau and no seed-noise model (it needs two seeds:
    with one, its two-seed agreement is the mean over no pairs), and the report says so."""
    bench = _some_cells(tmp_path, "one-seed", FORTY, seeds=(0,))
    result = fidelity(bench, search_table)
    assert list(result.frame["ranking"]) == ["one-seed: valid acc at epoch 2 (mean of 1 seed)",
                                             "one-seed: test acc at epoch 2 (mean of 1 seed)"]
    assert (result.cells, result.seed_tau, result.ceiling, result.seed_cells) == (40, None, None, 0)
    write_fidelity(result, bench, search_table, tmp_path / "report")
    md = (tmp_path / "report" / "fidelity.md").read_text()
    assert "\n* Seed-to-seed agreement: one seed, none\n* Best cell of `one-seed`" in md and "More seeds" not in md


def test_a_baseline_lacking_one_of_the_cells_is_refused(search_table, tmp_path: Path) -> None:
    from nasbench_suite.estimators import EstimatorError

    bench = _some_cells(tmp_path, "forty", FORTY)
    baseline = _some_cells(tmp_path, "thirty-nine", FORTY[1:], seed=2)
    with pytest.raises(EstimatorError) as caught:
        fidelity(bench, search_table, baseline=baseline)
    assert str(caught.value) == "baseline 'thirty-nine' lacks a final valid accuracy for some of the cells"
    assert len(fidelity(bench, search_table, baseline=_some_cells(tmp_path, "all-forty", FORTY, seed=2)).frame) == 3


def test_the_best_cells_reference_rank_leaves_out_the_reference_cells_without_a_test_accuracy(tmp_path: Path) -> None:
    """A reference whose test accuracy is missing for some cells (not trained there): its best cell's rank, the
    reference's cell count and its best accuracy are over the cells that have one, not NaN and not 60."""
    bench = _some_cells(tmp_path, "forty", FORTY)
    sixty = np.r_[FORTY, FORTY[:20] + 1]  # the table's 40 cells and 20 others
    frame = _two_epochs(0, (0,)).copy()
    untested = frame["arch_index"].isin(sixty[40:50])  # 10 of the cells the table did not train
    frame.loc[untested, "test_acc"] = np.nan
    frame.loc[frame["arch_index"] == sixty[55], "test_acc"] = 100.0  # the reference's best, beyond any other
    reference = _some_cells(tmp_path, "fifty-with-test", sixty, frame=frame)
    result = fidelity(bench, reference)
    b = result.best
    assert b["reference_cells"] == 50 and b["reference_best"] == 100.0
    tested = reference.array("test", "acc", epoch=2)
    tested = tested[np.isfinite(tested)]
    assert len(tested) == 50 and b["reference_rank"] == int((tested > b["reference_test"]).sum()) + 1 >= 2


def test_seeds_that_do_not_agree_at_all_give_no_noise_free_ranking() -> None:
    """Two seeds whose Spearman agreement is exactly 0 (ranks 1-5 against 2, 5, 3, 1, 4): the model's correction
    divides by sqrt(0), so the noise-free and predicted rankings are undefined (NaN), not an infinity clipped
    to 1, and the report's line says the model predicts nothing (it printed 'nan for infinitely many')."""
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 5.0, 3.0, 1.0, 4.0])
    c = seed_noise_ceiling([a, b], a)
    assert c["seed_spearman"] == 0.0 and c["one_seed"] == pytest.approx(0.5)
    assert np.isnan(c["noise_free"]) and np.isnan(c["predicted_2"]) and np.isnan(c["predicted_5"])
    from nasbench_suite.fidelity import _ceiling_line

    assert _ceiling_line(c, 2) == ("* More seeds (seed-noise model, `fidelity.seed_noise_ceiling`): one seed's valid "
                                   "accuracy ranks at Spearman 0.500 and two seeds agree at 0.000, so the model "
                                   "predicts nothing: it needs seeds that agree (a positive Spearman).")


def test_the_report_files_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fidelity.md and fidelity.csv of a result made by hand, every number in its place and format (3 decimals in
    the text, 4 in the CSV), and the scatter drawn of the reference's accuracy (x) against ours (y) under the first
    ranking's Spearman."""
    from types import SimpleNamespace

    from nasbench_suite.fidelity import Fidelity
    from nasbench_suite.report import figures

    drawn = []
    monkeypatch.setattr(figures, "scatter_figure", lambda *args: drawn.append(args) or b"png")
    frame = pd.DataFrame([
        {"ranking": "t: valid acc", "spearman": 0.81234, "kendall": 0.6, "spearman_top10": 0.25,
         "kendall_top10": 0.2, "top10_precision": 0.5},
        {"ranking": "t: test acc", "spearman": 0.9, "kendall": 0.75, "spearman_top10": 0.4, "kendall_top10": 0.3,
         "top10_precision": 0.625}])
    ceiling = {"one_seed": 0.7, "seed_spearman": 0.6, "noise_free": 0.9037, "predicted_3": 0.85, "predicted_5": 0.875}
    best = {"arch_index": 123, "arch_str": "|a|", "ours_valid": 91.234, "reference_test": 93.5, "reference_rank": 7,
            "reference_cells": 15625, "reference_best": 94.37}
    ours, theirs = np.array([91.234, 80.0]), np.array([93.5, 70.0])
    result = Fidelity(frame, 40, 0.4567, ceiling, best, ours, theirs, seed_cells=40)
    bench = SimpleNamespace(name="t", content_hash="sha256:t", seeds=(0, 1, 2))
    reference = SimpleNamespace(name="ref", content_hash="sha256:r", max_epoch=200)
    paths = write_fidelity(result, bench, reference, tmp_path)
    assert paths == [tmp_path / "fidelity.md", tmp_path / "fidelity.csv", tmp_path / "scatter.png"]
    assert (tmp_path / "fidelity.md").read_text() == (
        "# Fidelity of `t` against `ref`\n\n"
        "Generated by `nasbench fidelity` from the tables (sha256:t; reference sha256:r); the same bytes from the "
        "same tables.\n\n"
        "* Cells: the 40 cells `t` trained for real (isomorphism-class representatives where it fills the members) "
        "that the reference has.\n"
        "* Target: `ref` test accuracy at its epoch 200; top 10% = the best 10% by the target (with the cells tied at "
        "its boundary); top-10% precision breaks ties at random (in expectation).\n"
        "* Seed-to-seed agreement: Kendall tau 0.457 of final valid accuracy between seeds [0, 1, 2] (mean over "
        "pairs).\n"
        "* More seeds (seed-noise model, `fidelity.seed_noise_ceiling`): one seed's valid accuracy ranks at Spearman "
        "0.700 and two seeds agree at 0.600, so the model gives 0.850 for the mean of 3 (measured: the first row), "
        "0.875 for 5 seeds and 0.904 for infinitely many.\n"
        "* Best cell of `t` (by final valid accuracy): 123 `|a|`, valid 91.23%; in `ref` its test accuracy is 93.50%, "
        "rank 7 of 15625 (best 94.37%).\n\n"
        "| ranking | Spearman | Kendall tau | Spearman top 10% | Kendall top 10% | top-10% precision |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        "| t: valid acc | 0.812 | 0.600 | 0.250 | 0.200 | 0.500 |\n"
        "| t: test acc | 0.900 | 0.750 | 0.400 | 0.300 | 0.625 |\n\n"
        "![ours against the reference](scatter.png)\n")
    assert (tmp_path / "fidelity.csv").read_text() == (
        "ranking,spearman,kendall,spearman_top10,kendall_top10,top10_precision\n"
        "t: valid acc,0.8123,0.6000,0.2500,0.2000,0.5000\n"
        "t: test acc,0.9000,0.7500,0.4000,0.3000,0.6250\n")
    (args,) = drawn
    assert args[0] is theirs and args[1] is ours
    assert args[2:] == ("ref test accuracy (%)", "t final valid accuracy (%)", "40 cells, Spearman 0.812")
    assert (tmp_path / "scatter.png").read_bytes() == b"png"
