"""Zero-cost proxies, their store, the estimator league table, the warm-start and move-proposal strategies."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nasbench_suite.errors import NasBenchError, ProxyError, RunMismatchError
from nasbench_suite.model import MacroConfig
from nasbench_suite.proxies import PROXIES, Minibatch, ProxySettings, pick_minibatch, score_cell, synflow
from nasbench_suite.space import Arch

CONFIG = MacroConfig(channels=4, cells=1, in_channels=1, resolution=8, num_classes=10)
SETTINGS = ProxySettings(CONFIG, batch_size=16, seed=3)
GOOD = Arch.from_str("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")


def batch(n: int = 16, seed: int = 0) -> Minibatch:
    g = torch.Generator().manual_seed(seed)
    return Minibatch(torch.randn(n, 1, 8, 8, generator=g), torch.arange(n) % 10)


def supernet_record(epochs: int, cells: int, **extra: object) -> dict[str, object]:
    """A stored supernet.json record (the keys the league reads) of 1 s of training and 1 s of scoring."""
    return {"epochs": epochs, "train_seconds": 1.0, "score_seconds": 1.0, "cells_scored": cells, **extra}


def values(scores: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {k: v for k, (v, _) in scores.items()}


def test_synflow_by_hand_on_a_two_layer_linear_network() -> None:
    # R = 1^T |W2| |W1| 1 = [1 2] @ [[1 2] [3 4]] @ [1 1] = 1*3 + 2*7 = 17; each layer's sum of
    # |w| * dR/d|w| equals R (synaptic flow is conserved), so synflow = 2 * 17, whatever the signs.
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 4.0]]))
        net[1].weight.copy_(torch.tensor([[-1.0, 2.0]]))
    assert synflow(net, (2,)) == 34.0


def test_fisher_credits_each_channel_to_every_weight_of_the_channel() -> None:
    """NASLib's fisher (Abdelfattah et al. 2021) broadcasts each output channel's value to the channel's
    weights (``weight.shape[1:]``) and sums over parameters, so a channel counts fan-in times. Ours was a
    plain sum over channels, which ranked NB201 cells at Spearman 0.90 against NASLib's published fisher
    (0.98 with the fan-in factor, on 100 of the cross-check's cells)."""
    from nasbench_suite.proxies import fisher

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2, bias=False))
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    w = net[0].weight.detach().clone()
    a = x @ w.t()
    g = (torch.softmax(a, dim=1) - F.one_hot(y, 2).float()) / len(y)  # dL/da of the mean cross-entropy
    expected = 3 * float((0.5 * (a * g).pow(2).mean(0)).sum())  # 2 channels, 3 weights each
    assert fisher(net, Minibatch(x, y)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("proxy", ["fisher", "zen"])
def test_a_folder_from_before_a_definition_fix_refuses_to_resume(tmp_path: Path, proxy: str) -> None:
    import json

    from nasbench_suite.proxy_store import IDENTITY_FILE, ProxyStore

    table = {"name": "t", "content_hash": "h"}
    with ProxyStore(tmp_path / "p", table, SETTINGS, [proxy], {"dataset": "x"}) as store:
        store.compute([GOOD.index], batch())
    ident = tmp_path / "p" / IDENTITY_FILE
    old = json.loads(ident.read_text())
    del old[proxy]  # what a folder written before the fix holds
    ident.write_text(json.dumps(old))
    with pytest.raises(RunMismatchError):
        ProxyStore(tmp_path / "p", table, SETTINGS, [proxy], {"dataset": "x"})
    with ProxyStore(tmp_path / "q", table, SETTINGS, ["synflow"], {"dataset": "x"}):
        pass  # folders without fisher are unaffected
    assert {"fisher", "zen"}.isdisjoint(json.loads((tmp_path / "q" / IDENTITY_FILE).read_text()))


def test_zen_leaves_out_a_batchnorm_fed_only_through_none_edges() -> None:
    """Node 1 receives only ``none``, so the 3x3 convolution on edge 1->2 sees zeros and its BatchNorm's
    input has variance 0 (in each of the network's 3 cells): those log 0 = -inf terms are left out, so the
    cell's live part is scored."""
    from nasbench_suite.model import build_network
    from nasbench_suite.proxies import init_seed, zen

    dead_branch = Arch.from_str("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|")
    shape = (CONFIG.in_channels, CONFIG.resolution, CONFIG.resolution)
    torch.manual_seed(init_seed(0))
    net = build_network(dead_branch, CONFIG)
    logs: list[float] = []
    hooks = [m.register_forward_pre_hook(lambda m, i: logs.append(float(i[0].double().var(dim=(0, 2, 3), unbiased=False).mean())))
             for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    score = zen(net, shape, 8, torch.Generator().manual_seed(5))
    for h in hooks:
        h.remove()
    variances = logs[len(logs) // 2:]  # the unperturbed pass (the second)
    assert sum(v == 0 for v in variances) == CONFIG.cells * 3 and math.isfinite(score)


def test_zen_reads_the_feature_map_global_pooling_reads_summed_per_image() -> None:
    """Zen-NAS (and NASLib's NB201 ``forward_before_global_avg_pool``: the input of AdaptiveAvgPool2d)
    measures the perturbation on the pre-GAP feature map, after the final BatchNorm and ReLU, summed over
    (C, H, W) and averaged over the batch. Ours read the last cell's output (before ``lastact``, whose
    BatchNorm term the score adds as well) averaged over every element."""
    from nasbench_suite.model import build_network
    from nasbench_suite.proxies import init_seed, zen

    shape = (CONFIG.in_channels, CONFIG.resolution, CONFIG.resolution)

    def net() -> nn.Module:
        torch.manual_seed(init_seed(0))
        return build_network(GOOD, CONFIG)

    got = zen(net(), shape, 8, torch.Generator().manual_seed(5))
    model, gen = net(), torch.Generator().manual_seed(5)
    with torch.no_grad():  # the same draws, in the same order, as zen()
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.bias.zero_()
        x1 = torch.randn(8, *shape, generator=gen)
        x2 = x1 + 0.01 * torch.randn(8, *shape, generator=gen)

        def pre_gap(x: torch.Tensor) -> torch.Tensor:
            h = model.stem(x)
            for cell in model.cells:
                h = cell(h)
            return model.lastact(h).double()

        f2 = pre_gap(x2)
        bn: list[float] = []
        hooks = [m.register_forward_pre_hook(lambda m, i: bn.append(
            float(torch.log(torch.sqrt(i[0].double().var(dim=(0, 2, 3), unbiased=False).mean())))))
            for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        f1 = pre_gap(x1)
        for h in hooks:
            h.remove()
    expected = math.log(float((f1 - f2).abs().sum(dim=(1, 2, 3)).mean())) + sum(v for v in bn if math.isfinite(v))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_synflow_reads_no_data() -> None:
    scores = score_cell(GOOD, batch(), SETTINGS, ["synflow"])
    other = score_cell(GOOD, batch(seed=9), SETTINGS, ["synflow"])
    assert values(scores) == values(other) and values(scores)["synflow"] > 0


def test_proxies_are_deterministic_under_a_seed_and_change_with_it() -> None:
    a = values(score_cell(GOOD, batch(), SETTINGS))
    b = values(score_cell(GOOD, batch(), SETTINGS))
    assert a == b
    assert set(a) == set(PROXIES) and all(math.isfinite(v) for v in a.values())
    c = values(score_cell(GOOD, batch(), ProxySettings(CONFIG, batch_size=16, seed=4)))
    assert c["grad_norm"] != a["grad_norm"] and c["params"] == a["params"]


def test_proxies_do_not_touch_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    score_cell(GOOD, batch(), SETTINGS, ["grad_norm", "zen"])
    assert torch.equal(torch.rand(3), expected)


def test_cells_that_compute_the_same_function_with_the_same_weights_get_the_same_scores() -> None:
    # node 1 feeds nothing (edges 2<-1 and 3<-1 are none): a parameter-free op on edge 1<-0 is dead,
    # so these three cells hold the same parameters, draw the same weights and compute the same function
    base = ["skip_connect", "nor_conv_3x3", "none", "skip_connect", "none", "nor_conv_1x1"]
    cells = [Arch.from_names([op, *base[1:]]) for op in ("skip_connect", "avg_pool_3x3", "none")]
    assert len({c.canonical_str() for c in cells}) == 1
    scores = [values(score_cell(c, batch(), SETTINGS)) for c in cells]
    assert scores[0] == scores[1] == scores[2]
    # a dead convolution changes the weights drawn after it and the parameter count: scores may differ
    conv = values(score_cell(Arch.from_names(["nor_conv_3x3", *base[1:]]), batch(), SETTINGS))
    assert conv["params"] > scores[0]["params"] and conv["snip"] != scores[0]["snip"]


def test_disconnected_cells_get_minus_infinity_not_nan_or_a_crash() -> None:
    cut = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    assert cut.is_disconnected()
    scores = values(score_cell(cut, batch(), SETTINGS))
    assert all(scores[p] == -math.inf for p in PROXIES if p not in ("params", "flops"))
    assert scores["params"] > 0 and scores["flops"] > 0


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_an_infinite_score_of_a_connected_cell_is_stored_as_computed(monkeypatch: pytest.MonkeyPatch,
                                                                     value: float) -> None:
    """+inf is a sum that overflowed (larger than every finite score): it was stored as -inf and ranked the
    cell last; it is kept, as is -inf (a log of 0, e.g. naswot of a singular kernel)."""
    import nasbench_suite.proxies as proxies

    monkeypatch.setattr(proxies, "synflow", lambda net, shape: value)
    scores = values(score_cell(GOOD, batch(), SETTINGS, ["synflow", "params"]))
    assert scores["synflow"] == value and scores["params"] > 0


def test_a_nan_score_is_one_error_naming_the_proxy_and_cell_not_a_disconnected_cell(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A NaN was stored as -inf, so the cell ranked as if it were disconnected; it is refused."""
    import nasbench_suite.proxies as proxies
    from nasbench_suite.cli import main

    monkeypatch.setattr(proxies, "synflow", lambda net, shape: math.nan)
    with pytest.raises(ProxyError, match=f"proxy synflow is NaN on cell {GOOD.index}"):
        score_cell(GOOD, batch(), SETTINGS, ["synflow"])
    args = ["proxies", "--table", "digits", "--archs", "3110", "--proxies", "synflow", "--out", str(tmp_path / "p")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "nasbench: error: proxy synflow is NaN on cell 3110" in err and "Traceback" not in err


def test_a_folder_from_the_all_minus_inf_rule_resumes_only_where_the_rules_agree(tmp_path: Path) -> None:
    """Folders written when every non-finite score was stored as -inf: where only disconnected cells are
    -inf, the identity is rewritten to the current rule and the run resumes; a connected cell at -inf
    there may have been +inf or NaN, so that folder is refused."""
    import json

    import pandas as pd

    from nasbench_suite.proxies import LEGACY_UNDEFINED, UNDEFINED
    from nasbench_suite.proxy_store import CSV_FILE, IDENTITY_FILE, STORE_FILE, ProxyStore

    table = {"name": "t", "content_hash": "h"}
    cut = 0  # all-none: disconnected
    assert Arch.from_index(cut).is_disconnected() and not GOOD.is_disconnected()
    for folder, connected_minus_inf in ((tmp_path / "ok", False), (tmp_path / "bad", True)):
        with ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
            store.compute([cut, GOOD.index], batch())
        ident = json.loads((folder / IDENTITY_FILE).read_text())
        assert ident["undefined"] == UNDEFINED
        (folder / IDENTITY_FILE).write_text(json.dumps({**ident, "undefined": LEGACY_UNDEFINED}))
        (folder / STORE_FILE).unlink()
        if connected_minus_inf:
            frame = pd.read_csv(folder / CSV_FILE)
            frame.loc[frame.arch_index == GOOD.index, "synflow"] = -math.inf
            frame.to_csv(folder / CSV_FILE, index=False)
    with ProxyStore(tmp_path / "ok", table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        assert store.compute([cut, GOOD.index, 15624], batch())["computed"] == 1
    assert json.loads((tmp_path / "ok" / IDENTITY_FILE).read_text())["undefined"] == UNDEFINED
    with pytest.raises(RunMismatchError, match=rf"connected cell\(s\) \[{GOOD.index}\]"):
        ProxyStore(tmp_path / "bad", table, SETTINGS, ["synflow", "params"], {"dataset": "x"})


def test_plus_inf_ranks_first_in_the_league_and_the_strategies() -> None:
    """+inf (an overflowed score) ranked last in rank_metrics/ranks and in proxy_ranking; it ranks first.
    -inf and NaN still rank last, tied."""
    from algorithms.common import proxy_ranking
    from nasbench_suite.estimators import finite_floor, rank_metrics, ranks

    t = np.arange(100, dtype=float)
    overflowed = rank_metrics(np.where(t >= 95, np.inf, t), t)
    assert overflowed["top10_precision"] == 1.0 and 0.999 < overflowed["spearman"] < 1.0
    x = np.array([2.0, np.inf, np.nan, -np.inf, 1.0])
    assert finite_floor(x).tolist() == [2.0, 3.0, 0.0, 0.0, 1.0]
    assert ranks(x).tolist() == pytest.approx([0.8, 1.0, 0.3, 0.3, 0.6])
    assert finite_floor(np.array([np.inf, -np.inf, np.nan])).tolist() == [1.0, 0.0, 0.0]
    assert proxy_ranking(x).tolist() == [2.0, np.inf, -np.inf, -np.inf, 1.0]


def test_minibatch_is_fixed_by_the_seed() -> None:
    a = pick_minibatch(400, 64, 0)
    assert np.array_equal(a, pick_minibatch(400, 64, 0)) and len(set(a.tolist())) == 64
    assert not np.array_equal(a, pick_minibatch(400, 64, 1))
    with pytest.raises(ProxyError):
        pick_minibatch(10, 64, 0)


def test_store_resumes_and_refuses_another_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder belongs to one table (content hash), one set of proxies, one ProxySettings (macro shape, minibatch
    size, seed) and one machine fingerprint: opening it for any other is refused."""
    import nasbench_suite.latency as latency
    from nasbench_suite.proxy_store import ProxyStore, load_proxies

    table = {"name": "t", "content_hash": "h"}
    archs = [GOOD.index, 0, 15624]
    with ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        first = store.compute(archs[:2], batch())
    (tmp_path / "p" / "store.sqlite").unlink()  # the committed CSV alone carries the results on
    with ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        second = store.compute(archs, batch())
    assert (first["computed"], second["computed"], second["already_stored"]) == (2, 1, 2)
    loaded = load_proxies(tmp_path / "p")
    assert loaded.scored().sum() == 3 and loaded.scores["synflow"][0] == -math.inf
    with pytest.raises(RunMismatchError):
        ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow"], {"dataset": "x"})
    wider = MacroConfig(channels=8, cells=1, in_channels=1, resolution=8, num_classes=10)
    for other_table, settings in (({"name": "t", "content_hash": "h2"}, SETTINGS),
                                  (table, ProxySettings(CONFIG, batch_size=16, seed=4)),
                                  (table, ProxySettings(CONFIG, batch_size=8, seed=3)),
                                  (table, ProxySettings(wider, batch_size=16, seed=3))):
        with pytest.raises(RunMismatchError):
            ProxyStore(tmp_path / "p", other_table, settings, ["synflow", "params"], {"dataset": "x"})
    real = latency.fingerprint
    monkeypatch.setattr(latency, "fingerprint", lambda *a: {**real(*a), "cpu": "Some Other CPU", "hash": "another"})
    with pytest.raises(RunMismatchError, match="fingerprint"):
        ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow", "params"], {"dataset": "x"})


def test_a_damaged_proxy_folder_is_one_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A broken proxies.json or proxies.csv (beside a table, every search of that table reads it) was a
    JSONDecodeError / KeyError traceback in search, estimators and proxies; it is one ProxyError line."""
    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import CSV_FILE, IDENTITY_FILE, ProxyStore, load_proxies

    table = {"name": "t", "content_hash": "h"}
    folder = tmp_path / "p"
    with ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        store.compute([GOOD.index, 0], batch())
    good = {name: (folder / name).read_text() for name in (IDENTITY_FILE, CSV_FILE)}
    damage = {IDENTITY_FILE: ["{", "[]", '{"proxies": []}'],
              CSV_FILE: ["", "garbage\n", "arch_index,synflow\n0,1\n", good[CSV_FILE].replace("\n0,", "\n99999,"),
                         good[CSV_FILE].replace("\n0,", "\n99999999999999999999,"),  # was an OverflowError traceback
                         good[CSV_FILE] + good[CSV_FILE].splitlines()[-1] + "\n"]}  # a cell's row twice: was read
    for name, texts in damage.items():
        for text in texts:
            (folder / name).write_text(text)
            with pytest.raises(ProxyError, match=f"proxy folder {folder} cannot be read .*`nasbench proxies` again"):
                load_proxies(folder)
            with pytest.raises(NasBenchError, match=f"{folder}"):  # a ProxyError, or the StoreError of wrong columns
                ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"}).close()
            estimators = ["estimators", "--table", "digits", "--proxies", str(folder), "--out", str(tmp_path / "e")]
            assert main(estimators) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"nasbench: error: proxy folder {folder} cannot be read") and err.count("\n") == 1
            assert (folder / name).read_text() == text  # reported, not replaced
        (folder / name).write_text(good[name])
    assert load_proxies(folder).scored().sum() == 2


# ----- estimators ----------------------------------------------------------------------------------
def test_top_10_percent_metrics_break_ties_at_random_not_by_row_order() -> None:
    from nasbench_suite.estimators import rank_metrics, top_share

    t = np.arange(20, dtype=float)  # the true top 10%: the last two rows
    flat = np.zeros(20)  # params-like: every cell tied; row order used to put rows 0 and 1 on top (precision 0)
    assert rank_metrics(flat, t)["top10_precision"] == pytest.approx(0.1)  # each cell has a 2/20 chance
    steps = np.repeat([0.0, 1.0], 10)  # the top 10 tie: the two true best are 2 of the 10 sharing 2 places
    assert rank_metrics(steps, t)["top10_precision"] == pytest.approx(0.2)
    assert rank_metrics(steps[::-1], t[::-1])["top10_precision"] == pytest.approx(0.2)
    assert top_share(np.array([3.0, 1.0, 1.0, 1.0, 0.0]), 0.4).tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3, 0])
    tied_target = np.array([5.0, 5.0, 5.0] + [0.0] * 17)  # 3 cells tie for the 2 places of the true top 10%
    assert rank_metrics(np.arange(20.0)[::-1], tied_target)["top10_precision"] == pytest.approx(2 / 3)
    assert rank_metrics(np.arange(20.0), tied_target)["top10_precision"] == 0.0


def test_top_10_percent_by_hand() -> None:
    """k = ceil(10% of n): 3 of 25 cells (floor would give 2); a single cell is its own top."""
    from nasbench_suite.estimators import rank_metrics, top_share

    assert top_share(np.arange(25.0)).tolist() == [0.0] * 22 + [1.0] * 3
    assert top_share(np.array([7.0])).tolist() == [1.0]
    # 20 cells, top 10% = 2 places: the true best (10) and two cells tied at 9 sharing the second. The top-10%
    # correlations are over those 3 cells (every cell tied with the boundary), scores 3, 2, 1 against targets
    # 10, 9, 9: Spearman over ranks (3, 2, 1) and (3, 1.5, 1.5) = 1.5 / sqrt(2 * 1.5) = sqrt(3) / 2; Kendall's
    # tau-b = (2 concordant - 0 discordant) / sqrt(3 pairs * (3 - 1 tied pair)) = 2 / sqrt(6)
    target = np.array([10.0, 9.0, 9.0] + [0.0] * 17)
    scores = np.array([3.0, 2.0, 1.0] + [0.0] * 17)
    m = rank_metrics(scores, target)
    assert m["spearman_top10"] == pytest.approx(np.sqrt(3) / 2) and m["kendall_top10"] == pytest.approx(2 / np.sqrt(6))
    # fewer than 3 cells in the top 10% (20 distinct targets: 2): the correlation there is undefined, counted 0
    perfect = rank_metrics(np.arange(20.0), np.arange(20.0))
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["spearman_top10"] == perfect["kendall_top10"] == 0.0


def test_the_vote_is_the_mean_rank_of_its_three_proxies_and_pays_all_three() -> None:
    """Four judged cells; each proxy's ranks over them, divided by 4, averaged: synflow 1, 2, 3, 4, jacob_cov
    4, 3, 2, 1 and snip 1, 3, 2, 4 give (1 + 4 + 1) / 12, (2 + 3 + 3) / 12, (3 + 2 + 2) / 12, (4 + 1 + 4) / 12.
    Its cost per cell is the sum of the three proxies' mean seconds."""
    from nasbench_suite.estimators import Judged, proxy_estimates
    from nasbench_suite.proxy_store import ProxyTable

    archs = np.array([5, 6, 7, 8])
    given = {"synflow": ([1, 2, 3, 4], 0.1), "jacob_cov": ([4, 3, 2, 1], 0.2), "snip": ([1, 3, 2, 4], 0.4)}
    scores, seconds = {}, {}
    for p, (values, cost) in given.items():
        scores[p], seconds[p] = np.full(15625, np.nan), np.full(15625, np.nan)
        scores[p][archs], seconds[p][archs] = values, cost
    estimates = proxy_estimates(ProxyTable(scores, seconds, {}), Judged(np.arange(4), archs, np.zeros(4)))
    assert [e.name for e in estimates] == ["synflow", "jacob_cov", "snip", "vote(synflow,jacob_cov,snip)"]
    vote = estimates[-1]
    assert vote.scores == pytest.approx(np.array([6, 8, 7, 9]) / 12) and vote.cost_per_cell == pytest.approx(0.7)


def test_estimators_are_judged_on_20_cells_or_more(tiny_table) -> None:
    """4 cells are refused; so are 19, and 20 are enough (the hand-made table leaves out 2 of its rows)."""
    from nasbench_suite.estimators import EstimatorError, judged_cells

    with pytest.raises(EstimatorError, match="has 4 trained cells with a test accuracy; need 20"):
        judged_cells(tiny_table)
    with pytest.raises(EstimatorError, match="has 19 trained cells with a test accuracy; need 20"):
        judged_cells(_fake_bench(21))
    assert len(judged_cells(_fake_bench(22)).rows) == 20


@pytest.mark.parametrize("hole", ["score", "seconds"])
def test_a_judged_cell_without_a_score_of_any_proxy_is_refused_naming_the_proxy(search_table, hole: str) -> None:
    """Only the first proxy's column was checked for missing scores: a NaN in another proxy's column (a
    hand-edited or damaged proxies.csv) ranked that cell last in the league, as if it were disconnected,
    and a NaN in its seconds made the proxy's cost NaN, both silently."""
    from fixture_tables import synthetic_proxies

    from nasbench_suite.estimators import EstimatorError, judged_cells, proxy_estimates
    from nasbench_suite.proxy_store import ProxyTable

    judged = judged_cells(search_table)
    score, seconds = synthetic_proxies()["synflow"]
    params = (np.arange(15625, dtype=float), np.full(15625, 1e-4))
    complete = ProxyTable({"synflow": score, "params": params[0]}, {"synflow": seconds, "params": params[1]}, {})
    assert [e.name for e in proxy_estimates(complete, judged)] == ["synflow", "params"]
    holed = (params[0] if hole == "seconds" else params[0].copy(), params[1] if hole == "score" else params[1].copy())
    (holed[0] if hole == "score" else holed[1])[judged.archs[3]] = np.nan
    damaged = ProxyTable({"synflow": score, "params": holed[0]}, {"synflow": seconds, "params": holed[1]}, {})
    with pytest.raises(EstimatorError, match="^1 judged cells have no stored params score or seconds"):
        proxy_estimates(damaged, judged)


def test_estimators_refuses_unfinished_proxies_before_the_supernet_trains(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    """`nasbench estimators --proxies DIR`, DIR scoring 2 cells of digits: the supernet trained and scored
    every judged cell (minutes at the default 30 epochs) before the missing scores were reported."""
    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import ProxyStore
    from nasbench_suite.table import load_table

    bench = load_table("digits")
    folder, out = tmp_path / "p", tmp_path / "league"
    with ProxyStore(folder, {"name": bench.name, "content_hash": bench.content_hash}, SETTINGS, ["synflow", "params"],
                    {"dataset": "x"}) as store:
        store.compute([GOOD.index, 0], batch())
    assert main(["estimators", "--table", "digits", "--proxies", str(folder), "--supernet-epochs", "1",
                 "--out", str(out)]) == 2
    assert not (out / "supernet.csv").exists()  # refused before the supernet trained (1 epoch and scoring: 99 s)
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: 6464 judged cells have no stored synflow score") and err.count("\n") == 1


def test_estimators_refuses_proxies_of_another_table_before_any_work(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """`--proxies DIR`, DIR made for another table (another content hash): one line naming DIR and the table it
    belongs to, before the supernet trains or anything is written."""
    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import ProxyStore

    folder, out = tmp_path / "p", tmp_path / "league"
    other = {"content_hash": "sha256:" + "0" * 64, "name": "digits"}  # as the folder stores it: keys sorted
    with ProxyStore(folder, other, SETTINGS, ["params"], {"dataset": "x"}) as store:
        store.compute([GOOD.index], batch())
    assert main(["estimators", "--table", "digits", "--proxies", str(folder), "--supernet-epochs", "1",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"nasbench: error: proxies in {folder} belong to another table ({other})\n"
    assert not out.exists()


def test_rank_metrics_and_curve_extrapolation() -> None:
    from nasbench_suite.estimators import extrapolate_pow3, rank_metrics

    t = np.arange(100, dtype=float)
    perfect = rank_metrics(t * 2 + 1, t)
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["top10_precision"] == 1.0
    reverse = rank_metrics(-t, t)
    assert reverse["kendall"] == pytest.approx(-1.0) and reverse["top10_precision"] == 0.0
    with_undefined = rank_metrics(np.where(t < 5, -np.inf, t), t)
    assert 0.999 < with_undefined["spearman"] < 1.0 and with_undefined["top10_precision"] == 1.0  # 5 ties, ranked last
    epochs = np.arange(1, 7, dtype=float)
    curves = np.stack([80 - 30 * epochs ** -0.7, 60 - 10 * epochs ** -1.5])
    predicted = extrapolate_pow3(curves[:, :4], 6)  # alpha on a grid: close, and far closer than the 4th epoch
    assert predicted == pytest.approx(curves[:, 5], abs=0.2)
    assert (np.abs(curves[:, 3] - curves[:, 5]) > 0.5).all()


def test_curve_extrapolation_stays_an_accuracy_and_needs_epochs_to_extrapolate_to(search_table) -> None:
    """A curve still rising fast at epoch 3 would pass 100% by epoch 200, one falling fast would go below 0%:
    predictions are clipped to [0, 100]. A curve is fitted on 3..max_epoch - 1 epochs only: from every epoch
    there is nothing to extrapolate, and under 3 the fit has more parameters than points."""
    from nasbench_suite.estimators import curve_estimates, extrapolate_pow3, judged_cells

    predicted = extrapolate_pow3(np.array([[90.0, 98.0, 99.5], [10.0, 2.0, 0.5]]), 200)
    assert predicted.tolist() == [100.0, 0.0]
    judged, last = judged_cells(search_table), search_table.max_epoch
    names = [e.name for e in curve_estimates(search_table, judged, [2, 3, last - 1, last])]
    assert names == [f"curve extrapolation from {k} epochs (1 seed)" for k in (3, last - 1)]


def test_a_learning_curve_pays_a_validation_pass_for_every_epoch_it_reads() -> None:
    """The curve from k epochs fits valid accuracy at epochs 1..k, so it pays k validation passes; it was
    charged one (the k-epoch low-fidelity estimator's cost: 0.1241 s per cell on digits at k=3, 0.1436 with
    the passes it reads)."""
    from nasbench_suite.estimators import curve_estimates, fidelity_estimates, judged_cells
    from nasbench_suite.table import load_table

    bench = load_table("digits")
    judged = judged_cells(bench)
    seed = bench.seeds[0]

    def seconds(split: str, epoch: int) -> np.ndarray:
        return bench.array(split, "seconds", epoch=epoch, seed=seed)[judged.rows]

    (curve,) = curve_estimates(bench, judged, [3])
    (low,) = fidelity_estimates(bench, judged, [3])
    train = seconds("train", 1) + seconds("train", 2) + seconds("train", 3)
    assert curve.cost_per_cell == pytest.approx(
        float(np.mean(train + seconds("valid", 1) + seconds("valid", 2) + seconds("valid", 3))), rel=1e-9)
    assert low.cost_per_cell == pytest.approx(float(np.mean(train + seconds("valid", 3))), rel=1e-9)
    assert curve.cost_per_cell > low.cost_per_cell + 0.01


def test_a_predictor_size_that_leaves_too_few_cells_is_refused_not_skipped(search_table) -> None:
    from nasbench_suite.estimators import HELD_OUT, EstimatorError, judged_cells, predictor_estimates

    judged = judged_cells(search_table)
    largest = len(judged.rows) - HELD_OUT
    with pytest.raises(EstimatorError, match=f"size {largest + 1} .* the largest allowed size is {largest}$"):
        predictor_estimates(search_table, judged, [20, largest + 1], None, repeats=1)  # returned only n=20 rows


def test_a_predictor_pays_its_training_cells_and_the_proxies_it_reads(search_table) -> None:
    """n full trainings (seed 0's training seconds through the last epoch plus one validation pass) spread
    over every judged cell, plus, for the +zero-cost variant, every proxy's mean seconds per cell."""
    from nasbench_suite.estimators import judged_cells, predictor_estimates
    from nasbench_suite.proxy_store import ProxyTable

    judged = judged_cells(search_table)
    seed, last = search_table.seeds[0], search_table.max_epoch
    train = sum(search_table.array("train", "seconds", epoch=e, seed=seed) for e in range(1, last + 1))
    full = float(np.mean((train + search_table.array("valid", "seconds", epoch=last, seed=seed))[judged.rows]))
    scores = {p: np.arange(15625.0) * sign for p, sign in (("params", 1.0), ("flops", -1.0))}
    seconds = {"params": np.full(15625, 0.25), "flops": np.full(15625, 0.5)}
    plain, with_zc = predictor_estimates(search_table, judged, [20], ProxyTable(scores, seconds, {}), "ridge", repeats=1)
    assert plain.name == "ridge on n=20" and with_zc.name == "ridge+zero-cost on n=20"
    assert plain.cost_per_cell == pytest.approx(20 * full / len(judged.rows), rel=1e-9)
    assert with_zc.cost_per_cell == pytest.approx(plain.cost_per_cell + 0.75, rel=1e-9)
    assert len(plain.rows) == len(judged.rows) - 20  # judged on the cells it was not trained on


def test_estimators_never_read_the_test_split(search_table, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test accuracy is the target, read once by judged_cells; an estimator (a low fidelity, a learning
    curve, a predictor's training labels) reads only the train and valid splits, nor the target judged_cells
    read: the same estimates come out when the target handed to them is blanked."""
    from nasbench_suite.estimators import (Judged, curve_estimates, fidelity_estimates, judged_cells,
                                           predictor_estimates)

    judged = judged_cells(search_table)
    blind = Judged(judged.rows, judged.archs, np.zeros(len(judged.rows)))
    array = search_table.array

    def search_side(split: str, *args: object, **kwargs: object) -> np.ndarray:
        assert split != "test", "an estimator read the test split"
        return array(split, *args, **kwargs)

    monkeypatch.setattr(search_table, "array", search_side)
    made = []
    for given in (judged, blind):
        made.append(fidelity_estimates(search_table, given, [1]) + curve_estimates(search_table, given, [3])
                    + predictor_estimates(search_table, given, [20], None, "ridge", repeats=1))
    assert len(made[0]) == 3
    for seen, blinded in zip(*made):
        assert seen.scores.tolist() == blinded.scores.tolist(), f"{seen.name} read the target"


def test_the_league_averages_the_repeats_of_an_estimator() -> None:
    """Two draws of one predictor, one ranking 20 cells perfectly and one backwards: Spearman and Kendall
    1 and -1 average to 0, top-10% precision 1 and 0 to 0.5; rows keep the order first given."""
    from nasbench_suite.estimators import Estimate, Judged, league_table

    t = np.arange(20.0)
    judged = Judged(np.arange(20), np.arange(20), t)
    frame = league_table([Estimate("p", "predictor", t, 2.0, "table"), Estimate("q", "zero-cost", t, 1.0, "measured"),
                          Estimate("p", "predictor", -t, 2.0, "table")], judged)
    assert list(frame["estimator"]) == ["p", "q"] and list(frame["repeats"]) == [2, 1]
    p = frame.iloc[0]
    assert (p["spearman"], p["kendall"], p["top10_precision"]) == pytest.approx((0.0, 0.0, 0.5))
    assert frame.iloc[1]["spearman"] == pytest.approx(1.0)
    # an estimate of some cells (a predictor's held-out ones) is judged against those cells' targets
    held_out = np.arange(19, 9, -1)
    (row,) = league_table([Estimate("r", "predictor", t[held_out], 2.0, "table", held_out)], judged).itertuples()
    assert row.cells == 10 and row.spearman == pytest.approx(1.0) and row.top10_precision == 1.0


def test_stored_supernet_scores_of_a_single_cell_this_table_does_not_judge_are_refused(tmp_path: Path,
                                                                                      search_table) -> None:
    """A record without the table's hash (written before it was kept) whose supernet.csv scores every judged cell
    and one more: that one cell is enough to refuse it as another table's scores, never read as this table's."""
    import json
    import re

    from nasbench_suite.estimators import EstimatorError, Judged, judged_cells
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, supernet_estimate

    full = judged_cells(search_table)
    (tmp_path / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},1.0\n" for a in full.archs))
    (tmp_path / SUPERNET_JSON).write_text(json.dumps(supernet_record(1, len(full.archs))))
    judged = Judged(full.rows[:-1], full.archs[:-1], full.target[:-1])  # a table judging all but the last cell
    with pytest.raises(EstimatorError, match="^" + re.escape(
            f"{tmp_path / SUPERNET_CSV} scores 1 cells that table {search_table.name!r} does not judge: it was made "
            f"for another table; write the league into another --out folder, or delete {SUPERNET_CSV} and "
            f"{SUPERNET_JSON} in {tmp_path} to train and score the supernet on {search_table.name!r}") + "$"):
        supernet_estimate(tmp_path, judged, search_table)
    assert supernet_estimate(tmp_path, full, search_table).cost_per_cell == 2.0 / len(full.archs)


def test_stored_supernet_seconds_that_are_not_numbers_or_an_arch_index_not_a_whole_number_are_one_line(
        tmp_path: Path, search_table) -> None:
    """A supernet.json of every judged cell whose seconds or cells_scored are not numbers (null, "1.0", [3]) was a
    TypeError traceback where the cost per cell divides them (true was read as 1; NaN, Infinity and a negative
    time gave a nan, infinite or negative cost); an arch index beyond int64 in supernet.csv an
    OverflowError traceback, an empty one was read as cell -2**63, 1.5 as cell 1 and a cell's second row
    replaced its first. All are the one line of any unreadable stored scores."""
    import json
    import re

    from nasbench_suite.estimators import EstimatorError, judged_cells
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, supernet_estimate

    judged = judged_cells(search_table)
    rows = "".join(f"{a},1.0\n" for a in judged.archs)
    record = supernet_record(1, len(judged.archs))
    again = f"; delete {SUPERNET_CSV} and {SUPERNET_JSON} in {tmp_path} to train and score the supernet again"
    (tmp_path / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + rows)
    keys = "supernet.json's epochs, train_seconds, score_seconds, cells_scored must be"
    typed, bounded = f"TypeError: {keys} numbers", f"ValueError: {keys} finite, epochs and seconds not negative"
    for key, value, says in (("train_seconds", None, typed), ("score_seconds", "1.0", typed),
                             ("cells_scored", [3], typed), ("cells_scored", True, typed),  # true was read as 1
                             ("train_seconds", float("nan"), bounded), ("score_seconds", float("inf"), bounded),
                             ("train_seconds", -5.0, bounded), ("epochs", -1, bounded),
                             ("score_seconds", 10 ** 400, "OverflowError: int too large to convert to float")):
        (tmp_path / SUPERNET_JSON).write_text(json.dumps({**record, key: value}))
        with pytest.raises(EstimatorError, match="^" + re.escape(
                f"stored supernet scores in {tmp_path} cannot be read ({says}){again}") + "$"):
            supernet_estimate(tmp_path, judged, search_table)
    (tmp_path / SUPERNET_JSON).write_text(json.dumps(record))
    assert supernet_estimate(tmp_path, judged, search_table).cost_per_cell == 2.0 / len(judged.archs)
    first, outside = judged.archs[0], f"{SUPERNET_CSV} has an arch_index outside 0..15624"
    damaged = {"99999999999999999999999,1.0\n": outside,  # was an OverflowError traceback
               ",1.0\n": outside,  # was read as cell -2**63, "another table's"
               f"{first}.5,1.0\n": outside,  # was read as cell {first}
               f"{first},2.0\n": f"{SUPERNET_CSV} scores a cell twice"}  # was read: the later row won
    for row, says in damaged.items():
        (tmp_path / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + row + rows)
        with pytest.raises(EstimatorError, match="^" + re.escape(
                f"stored supernet scores in {tmp_path} cannot be read (ValueError: {says}){again}") + "$"):
            supernet_estimate(tmp_path, judged, search_table)


def test_league_md_cost_line_of_a_manifest_without_threads_or_the_trainers_rule(tmp_path: Path, search_table,
                                                                               bare_league,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest recording the machine but not its torch threads says '?' threads (not 1, a guess); a trainer
    record without its rule for seconds adds nothing after the machine (was a KeyError on 'seconds')."""
    from nasbench_suite.league import write_league

    monkeypatch.setitem(search_table.manifest, "hardware", {"cpu": "Table CPU", "device": "cpu", "logical_cpus": 6})
    monkeypatch.setitem(search_table.manifest, "compute", {"trainer": {"batch_cells": 4}})
    frame, judged = bare_league
    write_league(frame, search_table, judged, tmp_path, None)
    (line,) = [line for line in (tmp_path / "league.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("* Cost per cell")]
    assert ("or one per epoch read for a learning curve; recorded on Table CPU, 6 logical CPUs, ? torch threads per "
            "process); predictors spread n full trainings over all judged cells.") in line


def test_league_png_is_titled_with_the_table_and_the_ids_of_league_md(tmp_path: Path, search_table, bare_league,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """league.png plots the league's rows (one point per estimator, labelled by its id) under the title naming the
    table and where the ids are listed; written as league_figure returned it."""
    import nasbench_suite.report.figures as figures
    from nasbench_suite.league import write_league

    drawn = []
    monkeypatch.setattr(figures, "league_figure", lambda frame, title: drawn.append((frame, title)) or b"PNG")
    frame, judged = bare_league
    write_league(frame, search_table, judged, tmp_path, None)
    ((plotted, title),) = drawn
    assert plotted is frame and title == f"Estimators on {search_table.name} (ids as in league.md)"
    assert (tmp_path / "league.png").read_bytes() == b"PNG"


def test_ensure_supernet_trains_the_judged_cells_on_the_data_folder_given(tmp_path: Path, search_table,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`--data-dir DIR` reaches the supernet's training (it read the default data folder), with the judged cells,
    the epochs asked for and seed 0."""
    import nasbench_suite.league as league
    from nasbench_suite.estimators import judged_cells

    calls = []

    def fake(bench, archs, epochs, seed=0, data_dir=None):
        calls.append((bench, [int(a) for a in archs], epochs, seed, data_dir))
        return np.zeros(len(archs)), supernet_record(epochs, len(archs))

    monkeypatch.setattr(league, "train_and_score_supernet", fake)
    judged = judged_cells(search_table)
    league.ensure_supernet(search_table, tmp_path / "league", judged, 3, str(tmp_path / "data"))
    assert calls == [(search_table, [int(a) for a in judged.archs], 3, 0, str(tmp_path / "data"))]


def test_ensure_supernet_keeps_a_folders_supernet_csv_even_without_its_record(tmp_path: Path, search_table,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """supernet.csv is what says scores are stored: one without its supernet.json is neither trained over nor
    overwritten (the league then refuses it in one line); asked for epochs, it is read and refused at once."""
    import re

    import nasbench_suite.league as league
    from nasbench_suite.estimators import EstimatorError, judged_cells

    monkeypatch.setattr(league, "train_and_score_supernet", lambda *a, **k: pytest.fail("trained a supernet"))
    judged = judged_cells(search_table)
    (tmp_path / league.SUPERNET_CSV).write_text("arch_index,valid_acc\n1,50\n")
    league.ensure_supernet(search_table, tmp_path, judged, 2, None)
    assert [p.name for p in tmp_path.iterdir()] == [league.SUPERNET_CSV]
    assert (tmp_path / league.SUPERNET_CSV).read_text() == "arch_index,valid_acc\n1,50\n"
    with pytest.raises(EstimatorError, match=f"^stored supernet scores in {re.escape(str(tmp_path))} cannot be read "
                                             r"\(FileNotFoundError: "):
        league.ensure_supernet(search_table, tmp_path, judged, 2, None, asked=True)


def test_estimators_refuses_too_large_sizes_before_the_supernet_trains(tmp_path: Path, search_table,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """`--sizes` leaving fewer than 10 cells to judge on is refused before the (default 30-epoch) supernet trains
    and before anything is written, as the predictors would refuse it only after the training."""
    import nasbench_suite.league as league
    from nasbench_suite.cli import main
    from nasbench_suite.estimators import HELD_OUT, judged_cells

    monkeypatch.setattr(league, "train_and_score_supernet", lambda *a, **k: pytest.fail("trained a supernet"))
    judged = len(judged_cells(search_table).rows)
    out = tmp_path / "league"
    assert main(["estimators", "--table", str(search_table.path), "--sizes", f"10,{judged - HELD_OUT + 1}",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"nasbench: error: predictor training-set size {judged - HELD_OUT + 1} (--sizes) is too large for the {judged} "
        f"judged cells ({HELD_OUT} must be left to judge it on); the largest allowed size is {judged - HELD_OUT}")
    assert not out.exists()


def test_predictor_reads_extra_features() -> None:
    from nasbench_suite.predictors import make_predictor

    rng = np.random.default_rng(0)
    archs = rng.choice(15625, 200, replace=False)
    hidden = rng.normal(size=15625)
    y = hidden[archs]
    plain = make_predictor("ridge", extra_features=None).fit(archs[:150], y[:150]).predict(archs[150:])
    extra = make_predictor("ridge", extra_features=hidden[:, None]).fit(archs[:150], y[:150]).predict(archs[150:])
    assert np.corrcoef(extra, y[150:])[0, 1] > 0.99 > np.corrcoef(plain, y[150:])[0, 1]


@pytest.fixture(scope="module")
def bare_league(search_table, tmp_path_factory: pytest.TempPathFactory):
    """``build_league(search_table, None, folder, sizes=(20,), repeats=1)`` of a folder holding no stored supernet
    scores (no proxies, no supernet): the (frame, judged) that five league.md tests built for themselves, each
    the same, built once; each test writes its own folder from it (:func:`write_league` does not change it)."""
    from nasbench_suite.league import build_league

    return build_league(search_table, None, tmp_path_factory.mktemp("bare_league"), sizes=(20,), repeats=1)


def test_league_csv_keeps_a_small_cost_per_cell(tmp_path: Path, search_table) -> None:
    """league.csv wrote the cost with 4 decimals: a proxy of 3.5e-05 s per cell (digits' flops) read 0.0000,
    a free estimator to whoever plots or divides by it; it now has 4 significant digits, as league.md."""
    from fixture_tables import synthetic_proxies

    from nasbench_suite.league import build_league, write_league
    from nasbench_suite.proxy_store import ProxyTable

    score, seconds = synthetic_proxies()["synflow"]
    proxies = ProxyTable({"synflow": score}, {"synflow": seconds * 0.03472}, {"settings": {"batch_size": 1, "seed": 0,
                                                                                            "config": {}}})
    frame, judged = build_league(search_table, proxies, tmp_path, sizes=(20,), repeats=1)
    write_league(frame, search_table, judged, tmp_path, proxies)
    import pandas as pd

    league = pd.read_csv(tmp_path / "league.csv").set_index("estimator")
    assert league.loc["synflow", "cost_s_per_cell"] == pytest.approx(3.472e-5, rel=1e-3)
    assert league["cost_s_per_cell"].to_numpy() == pytest.approx(frame["cost_s_per_cell"].to_numpy(), rel=1e-3)


def test_league_table_regenerates_byte_identical(tmp_path: Path, search_table) -> None:
    from fixture_tables import synthetic_proxies

    from nasbench_suite.league import build_league, write_league
    from nasbench_suite.proxy_store import ProxyTable

    score, seconds = synthetic_proxies()["synflow"]
    proxies = ProxyTable({"synflow": score}, {"synflow": seconds}, {"settings": {"batch_size": 1, "seed": 0,
                                                                                 "config": {}}})
    outputs = []
    for run in range(2):
        folder = tmp_path / f"r{run}"
        frame, judged = build_league(search_table, proxies, folder, sizes=(20,), repeats=1)
        outputs.append({p.name: p.read_bytes() for p in write_league(frame, search_table, judged, folder, proxies)})
    assert outputs[0] == outputs[1] and set(outputs[0]) == {"league.md", "league.csv", "league.png"}
    assert "judged on the others; mean of 1 draw.\n" in outputs[0]["league.md"].decode()  # said 3 whatever was run
    rows = {r.estimator: r for r in frame.itertuples()}
    assert rows["synflow"].spearman > 0.5  # the generated proxy follows the generated quality
    assert rows["valid acc @ epoch 12 (1 seed)"].spearman > rows["valid acc @ epoch 1 (1 seed)"].spearman


def test_league_md_states_the_draws_that_were_run(tmp_path: Path, search_table) -> None:
    from nasbench_suite.league import build_league, write_league

    frame, judged = build_league(search_table, None, tmp_path, sizes=(20,), repeats=2)
    write_league(frame, search_table, judged, tmp_path, None)
    assert set(frame.loc[frame["family"] == "predictor", "repeats"]) == {2}
    assert "judged on the others; mean of 2 draws.\n" in (tmp_path / "league.md").read_text(encoding="utf-8")


def test_league_md_appends_the_folders_notes(tmp_path: Path, search_table, bare_league) -> None:
    """league.md is the generated table with the folder's hand-written notes.md appended after it (league.py's
    module doc), trailing blank lines dropped; notes.md itself is left as written, and without it nothing is
    appended."""
    from nasbench_suite.league import NOTES, write_league

    frame, judged = bare_league  # built on a folder like tmp_path: no stored supernet scores
    write_league(frame, search_table, judged, tmp_path, None)
    bare = (tmp_path / "league.md").read_text(encoding="utf-8")
    assert bare.endswith("](league.png)\n") and NOTES == "notes.md"
    notes = "## Reading the table\n\nThe proxies are *weak* here.\n\n\n"
    (tmp_path / NOTES).write_text(notes, encoding="utf-8")
    write_league(frame, search_table, judged, tmp_path, None)
    assert (tmp_path / "league.md").read_text(encoding="utf-8") == bare + "\n" + notes.rstrip() + "\n"
    assert (tmp_path / NOTES).read_text(encoding="utf-8") == notes


def test_league_md_names_only_the_inputs_it_read_and_the_machine_they_recorded(tmp_path: Path, search_table,
                                                                               bare_league) -> None:
    import json

    from fixture_tables import synthetic_proxies

    from nasbench_suite.estimators import judged_cells
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, build_league, write_league
    from nasbench_suite.proxy_store import ProxyTable

    def league_md(folder: Path, proxies: ProxyTable | None) -> str:
        if proxies is None:
            frame, judged = bare_league
        else:
            frame, judged = build_league(search_table, proxies, folder, sizes=(20,), repeats=1)
        write_league(frame, search_table, judged, folder, proxies)
        return (folder / "league.md").read_text(encoding="utf-8")

    bare = league_md(tmp_path / "bare", None)  # no proxies, no supernet: neither is claimed, nothing was measured
    assert f"from the table ({search_table.content_hash}); regenerated" in bare
    assert "supernet" not in bare and "stored zero-cost proxies" not in bare and "`measured`" not in bare
    assert (f"* No zero-cost proxies: none were stored for this table (`nasbench proxies --table {search_table.name}` "
            "computes them; `--proxies DIR` reads them from a folder), so the league leaves them out.") in bare
    assert "shared cores" not in bare

    score, seconds = synthetic_proxies()["synflow"]
    proxies = ProxyTable({"synflow": score}, {"synflow": seconds},
                         {"settings": {"batch_size": 1, "seed": 0, "config": {}},
                          "fingerprint": {"cpu": "Proxy CPU", "logical_cpus": 7, "threads": 1, "hash": "p"}})
    folder = tmp_path / "full"
    folder.mkdir()
    archs = judged_cells(search_table).archs
    (folder / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},{a % 97}\n" for a in archs))
    (folder / SUPERNET_JSON).write_text(json.dumps(supernet_record(
        2, len(archs), fingerprint={"cpu": "Supernet CPU", "logical_cpus": 5, "threads": 3, "hash": "s"})))
    full = league_md(folder, proxies)
    assert "its stored zero-cost proxies and the stored supernet scores; regenerated" in full
    assert "No zero-cost proxies" not in full
    assert ("`measured` = wall seconds on the machine each result recorded (zero-cost proxies: Proxy CPU, "
            "7 logical CPUs, 1 torch thread per process; supernet: Supernet CPU, 5 logical CPUs, 3 torch threads "
            "per process)") in full
    assert "shared cores" not in full


def test_league_md_names_the_machine_and_the_rule_of_the_tables_own_seconds(tmp_path: Path, search_table, bare_league,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The `measured` costs named their machine, the `table` costs did not: on digits the cost column set
    proxies timed on an AMD EPYC beside training seconds recorded on an Intel Xeon by the batched engine
    (4 cells a pass, each pass's seconds shared by FLOPs), unsaid."""
    from nasbench_suite.league import write_league

    def cost_line(folder: Path) -> str:  # the league.md written now, from the manifest as it is now
        frame, judged = bare_league
        write_league(frame, search_table, judged, folder, None)
        return next(line for line in (folder / "league.md").read_text(encoding="utf-8").splitlines()
                    if line.startswith("* Cost per cell"))

    assert "recorded on" not in cost_line(tmp_path / "bare")  # the generated table records no machine
    monkeypatch.setitem(search_table.manifest, "hardware", {"cpu": "Table CPU", "device": "cpu", "logical_cpus": 6})
    monkeypatch.setitem(search_table.manifest, "compute", {"threads_per_worker": 1, "trainer": {
        "batch_cells": 4, "seconds": "seconds of each batched pass shared among its cells"}})
    assert ("plus one validation pass, or one per epoch read for a learning curve; recorded on Table CPU, 6 logical CPUs, 1 torch thread per process; seconds of "
            "each batched pass shared among its cells (4 cells a pass)); predictors") in cost_line(tmp_path / "one")
    monkeypatch.setitem(search_table.manifest, "compute", {"threads_per_worker": 2, "trainer": {
        "batch_cells": [4, 8], "seconds": "shared seconds"}})
    assert "; recorded on Table CPU, 6 logical CPUs, 2 torch threads per process; shared seconds (4 or 8 cells a pass))" \
        in cost_line(tmp_path / "sizes")
    monkeypatch.setitem(search_table.manifest, "hardware", {"machines": [
        {"cpu": "A", "device": "cpu", "logical_cpus": 2, "results_written": 1200},
        {"cpu": "B", "device": "cuda:0 (GPU X)", "logical_cpus": 16, "results_written": 5}]})
    monkeypatch.setitem(search_table.manifest, "compute", {"threads_per_worker": 1, "trainer": "plain trainer"})
    assert ("recorded on A, 2 logical CPUs, 1 torch thread per process (1,200 results); B, 16 logical CPUs, 1 torch "
            "thread per process, cuda:0 (GPU X) (5 results); plain trainer)") in cost_line(tmp_path / "two")


# ----- warm start ----------------------------------------------------------------------------------
def test_warm_start_rea_seeds_its_population_with_the_best_proxy_cells_and_pays_for_them(search_table) -> None:
    from fixture_tables import synthetic_proxies

    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.strategy import make_strategy

    proxies = synthetic_proxies()
    oracle = Oracle(search_table).with_proxies(proxies)
    plain = run_search(make_strategy("rea"), oracle, Budget(queries=10), seed=1)
    warm = run_search(make_strategy("rea-warm", {"pool": 500}), oracle, Budget(queries=10), seed=1)
    score = proxies["synflow"][0]
    assert score[warm.columns["arch_index"]].min() > np.median(score[plain.columns["arch_index"]])
    cols = warm.columns
    r, s, e = oracle.row_of[cols["arch_index"][0]], oracle.seeds.index(cols["table_seed"][0]), cols["epochs"][0]
    training = oracle.cum_train[r, s, e] + oracle.valid_seconds[r, s, e - 1]
    assert cols["cost"][0] == pytest.approx(training + 500 * 0.001)  # the pool's proxy seconds are charged once
    r1, s1 = oracle.row_of[cols["arch_index"][1]], oracle.seeds.index(cols["table_seed"][1])
    assert cols["cost"][1] == pytest.approx(oracle.cum_train[r1, s1, e] + oracle.valid_seconds[r1, s1, e - 1])
    with pytest.raises(Exception, match="zero-cost proxies"):
        run_search(make_strategy("rea-warm"), Oracle(search_table), Budget(queries=3), seed=1)


@pytest.mark.parametrize("name", ["rea-warm", "bananas-warm"])
def test_warm_start_charge_false_starts_from_the_same_cells_with_the_proxy_seconds_free(name: str,
                                                                                          search_table) -> None:
    """``charge=False`` compares at equal training cost, as the reference notebook compares at equal
    numbers of trained models (SamsungLabs/zero-cost-nas ``notebooks/nas_examples.ipynb``): the same
    cells in the same order, none of the pool's proxy seconds on the clock."""
    from fixture_tables import synthetic_proxies

    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.strategy import StrategyError, make_strategy

    oracle = Oracle(search_table).with_proxies(synthetic_proxies())
    fast = {"train_epochs": 20, "members": 2} if name == "bananas-warm" else {}
    charged = run_search(make_strategy(name, {"pool": 500, **fast}), oracle, Budget(queries=6), seed=3).columns
    free = run_search(make_strategy(name, {"pool": 500, "charge": False, **fast}), oracle, Budget(queries=6),
                      seed=3).columns
    np.testing.assert_array_equal(free["arch_index"], charged["arch_index"])
    rows, slots = oracle.row_of[free["arch_index"]], [oracle.seeds.index(s) for s in free["table_seed"]]
    training = oracle.cum_train[rows, slots, free["epochs"]] + oracle.valid_seconds[rows, slots, free["epochs"] - 1]
    np.testing.assert_allclose(free["cost"], training)
    assert charged["cost"].sum() == pytest.approx(training.sum() + 500 * 0.001)
    with pytest.raises(StrategyError, match="true or false"):
        make_strategy(name, {"charge": "False"})  # a string would be truthy


def test_warm_random_search_trains_the_whole_pool_best_first_then_uniform_cells(search_table) -> None:
    """The notebook's ``run_random_search(zero_cost_warmup=...)``: every cell of the scored pool, in
    decreasing proxy order, then uniform cells; the pool's proxy seconds charged once unless charge=false."""
    from fixture_tables import synthetic_proxies

    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.strategy import StrategyError, make_strategy

    proxies = synthetic_proxies()
    score = proxies["synflow"][0]
    oracle = Oracle(search_table).with_proxies(proxies)
    top = run_search(make_strategy("random-warm", {"pool": 500}), oracle, Budget(queries=20), seed=4).columns
    plain = run_search(make_strategy("random"), oracle, Budget(queries=200), seed=4).columns["arch_index"]
    assert (np.diff(score[top["arch_index"]]) <= 0).all()  # the best 20 of 500, best first
    assert score[top["arch_index"]].min() > np.quantile(score[plain], 0.8)
    cols = run_search(make_strategy("random-warm", {"pool": 8}), oracle, Budget(queries=20), seed=4).columns
    pool = cols["arch_index"][:8]
    assert (np.diff(score[pool]) <= 0).all() and len(set(pool.tolist())) == 8  # the whole pool, then uniform cells
    assert len(cols["arch_index"]) == 20
    after = set(cols["arch_index"][8:].tolist())  # 12 uniform draws of 15,625 cells: distinct and outside the pool
    assert len(after) == 12 and not after & set(pool.tolist())
    free = run_search(make_strategy("random-warm", {"pool": 8, "charge": False}), oracle, Budget(queries=20),
                      seed=4).columns
    np.testing.assert_array_equal(free["arch_index"], cols["arch_index"])
    assert cols["cost"].sum() == pytest.approx(free["cost"].sum() + 8 * 0.001)
    with pytest.raises(StrategyError, match=r"setting pool=0 must be an integer >= 1"):
        run_search(make_strategy("random-warm", {"pool": 0}), oracle, Budget(queries=3), seed=4)


# ----- move proposal -------------------------------------------------------------------------------
def move_space(scores: np.ndarray, seconds: np.ndarray, cells: np.ndarray | None = None):
    from nasbench_suite.space import NUM_ARCHS
    from nasbench_suite.strategy import SearchSpace

    cells = np.arange(NUM_ARCHS) if cells is None else cells
    return SearchSpace(fidelities=(12,), arch_indices=cells, proxies={"synflow": (scores, seconds)})


def move_proxies(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from nasbench_suite.space import NUM_ARCHS

    rng = np.random.default_rng(seed)
    return rng.normal(size=NUM_ARCHS), rng.uniform(0.001, 0.01, NUM_ARCHS)


def test_move_proposal_child_is_the_parents_best_scoring_neighbour_last_of_ties_first() -> None:
    """SamsungLabs/zero-cost-nas ``notebooks/nas_examples.ipynb``, ``mutate_spec_zero_cost``: the 24
    one-edge neighbours (edge by edge, ops increasing), sorted ascending by synflow, the last one taken,
    so a tie goes to the last tied neighbour; an undefined (-inf) or unstored (NaN) score ranks last."""
    from nasbench_suite.strategy import make_strategy

    scores, seconds = move_proxies()
    near = GOOD.neighbours()
    idx = [a.index for a in near]
    scores[idx] = np.linspace(0.0, 1.0, 24)
    scores[idx[5]] = scores[idx[17]] = 2.0  # tied best
    scores[idx[23]], scores[idx[22]] = np.nan, -np.inf  # the last two rank last
    move = make_strategy("rea-move", {"random_move": 0.0})
    move.setup(move_space(scores, seconds), np.random.default_rng(0))
    first = move.offspring(GOOD)
    assert first.arch == near[17] and first.epochs == 12
    assert first.charge == pytest.approx(np.nansum(seconds[idx]))  # every neighbour scored for this child
    assert move.offspring(GOOD).charge == 0.0  # scored already: the run knows their scores
    other = near[0]
    fresh = [a.index for a in other.neighbours() if not move._scored[a.index]]
    assert len(fresh) == 21  # its 3 other ops on edge 0 were GOOD's neighbours; GOOD itself is new
    assert move.offspring(other).charge == pytest.approx(seconds[fresh].sum())

    free = make_strategy("rea-move", {"random_move": 0.0, "charge": False})
    free.setup(move_space(scores, seconds), np.random.default_rng(0))
    child = free.offspring(GOOD)
    assert child.arch == near[17] and child.charge == 0.0


def test_move_proposal_random_move_is_a_uniform_neighbour_scoring_nothing() -> None:
    from nasbench_suite.strategy import make_strategy

    scores, seconds = move_proxies(1)
    near = GOOD.neighbours()
    best = max(near, key=lambda a: scores[a.index])
    always = make_strategy("rea-move", {"random_move": 1.0})
    always.setup(move_space(scores, seconds), np.random.default_rng(2))
    children = [always.offspring(GOOD) for _ in range(4800)]
    assert all(q.charge == 0.0 for q in children)
    counts = np.array([sum(q.arch == a for q in children) for a in near])
    assert counts.sum() == 4800 and counts.min() > 140 and counts.max() < 260  # 200 each, sd 14
    sometimes = make_strategy("rea-move")  # random_move=0.25, as the notebook's random.random() > 0.75
    sometimes.setup(move_space(scores, seconds), np.random.default_rng(3))
    moved = np.mean([sometimes.offspring(GOOD).arch != best for _ in range(4000)])
    assert moved == pytest.approx(0.25 * 23 / 24, abs=0.03)


def test_move_proposal_stays_in_a_partial_table() -> None:
    from nasbench_suite.strategy import make_strategy

    scores, seconds = move_proxies(2)
    near = GOOD.neighbours()
    held = np.array(sorted({GOOD.index, near[2].index, near[9].index} | set(range(0, 15625, 7))))
    inside = [a for a in near if a.index in set(held.tolist())]
    move = make_strategy("rea-move", {"random_move": 0.0})
    move.setup(move_space(scores, seconds, held), np.random.default_rng(0))
    child = move.offspring(GOOD)
    assert child.arch == max(inside, key=lambda a: scores[a.index])
    assert child.charge == pytest.approx(sum(seconds[a.index] for a in inside))


def test_move_proposal_unstored_neighbours_rank_last_and_cost_nothing() -> None:
    """Neighbours whose score is not stored yet (NaN score and seconds, a proxy run under way) rank below every
    stored score, negative ones too, and add nothing to the charge (it used to be a NaN sum otherwise)."""
    from nasbench_suite.strategy import make_strategy

    scores, seconds = move_proxies(3)
    near = GOOD.neighbours()
    idx = np.array([a.index for a in near])
    scores[idx] = -1.0 - np.arange(24.0)  # all negative: near[0] (-1) is the best stored one
    scores[idx[5:]], seconds[idx[5:]] = np.nan, np.nan
    move = make_strategy("rea-move", {"random_move": 0.0})
    move.setup(move_space(scores, seconds), np.random.default_rng(0))
    child = move.offspring(GOOD)
    assert child.arch == near[0] and child.charge == pytest.approx(seconds[idx[:5]].sum())


def test_move_proposal_parent_without_a_neighbour_in_the_table_gets_a_random_edit() -> None:
    """On a table of some cells, a parent none of whose 24 neighbours is held gets an ordinary random edit (a
    random cell of the table), charged nothing."""
    from nasbench_suite.strategy import make_strategy

    scores, seconds = move_proxies(4)
    near = {a.index for a in GOOD.neighbours()}
    held = np.array([GOOD.index] + [i for i in range(0, 15625, 97) if i not in near])
    move = make_strategy("rea-move", {"random_move": 0.0})
    move.setup(move_space(scores, seconds, held), np.random.default_rng(0))
    children = [move.offspring(GOOD) for _ in range(20)]
    assert all(q.charge == 0.0 and move.space.contains(q.arch) for q in children)
    assert len({q.arch for q in children}) > 10


def test_move_proposal_runs_the_same_cells_with_the_proxy_seconds_free_and_refuses_bad_settings(
        search_table) -> None:
    from fixture_tables import synthetic_proxies

    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.strategy import StrategyError, make_strategy

    oracle = Oracle(search_table).with_proxies(synthetic_proxies())
    charged = run_search(make_strategy("rea-move"), oracle, Budget(queries=40), seed=3).columns
    free = run_search(make_strategy("rea-move", {"charge": False}), oracle, Budget(queries=40), seed=3).columns
    np.testing.assert_array_equal(free["arch_index"], charged["arch_index"])
    extra = np.round((charged["cost"] - free["cost"]) / 0.001, 6)  # 1 ms per scored cell
    assert (extra[:10] == 0).all() and extra.sum() >= 24 and (extra == np.round(extra)).all()
    plain = run_search(make_strategy("rea", {"mutation": "uniform_edge"}), oracle, Budget(queries=40), seed=3)
    score = synthetic_proxies()["synflow"][0]
    assert np.mean(score[free["arch_index"][10:]]) > np.mean(score[plain.columns["arch_index"][10:]])
    with pytest.raises(StrategyError, match="zero-cost proxies and this run has none"):
        run_search(make_strategy("rea-move"), Oracle(search_table), Budget(queries=3), seed=1)
    with pytest.raises(StrategyError, match="no stored proxy 'snip'; stored: synflow"):
        run_search(make_strategy("rea-move", {"proxy": "snip"}), oracle, Budget(queries=3), seed=1)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(StrategyError, match=r"setting random_move=.* must be a finite number in \[0, 1\] \(a "):
            make_strategy("rea-move", {"random_move": bad}).setup(oracle.space, np.random.default_rng(0))


# ----- command line --------------------------------------------------------------------------------
def test_cli_proxies_scores_cells_and_reports_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import load_proxies

    assert main(["proxies", "--table", "digits", "--proxies", "bogus", "--out", str(tmp_path / "x")]) == 2
    assert main(["proxies", "--table", "digits", "--channels", "16"]) == 2
    assert main(["proxies", "--table", "digits", "--workers", "0", "--out", str(tmp_path / "w")]) == 2
    assert main(["proxies", "--table", "digits", "--channels", "0", "--out", str(tmp_path / "c")]) == 2  # was the default
    err = capsys.readouterr().err
    assert "unknown proxy" in err and "needs --out" in err and "Traceback" not in err
    assert "--workers must be a positive integer" in err and "channels must be a positive integer" in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "c").exists()
    # more workers than work: as many as there are chunks (was an OverflowError from the pool's semaphore)
    assert main(["proxies", "--table", "digits", "--archs", "3110", "--proxies", "params", "--workers", str(2**62),
                 "--out", str(tmp_path / "many")]) == 0
    out = tmp_path / "p"
    args = ["proxies", "--table", "digits", "--archs", "3110-3113", "--proxies", "synflow,params", "--out", str(out)]
    assert main(args) == 0
    table = load_proxies(out)
    assert table.scored().sum() == 4 and table.identity["table"]["name"] == "digits"
    assert main(args) == 0 and "0 computed now, 4 already stored" in capsys.readouterr().out
    # a complete folder resumed with worker processes: nothing to score (was a ValueError traceback from a pool of 0)
    assert main(args + ["--workers", "2"]) == 0 and "0 computed now, 4 already stored" in capsys.readouterr().out


def test_warm_start_draws_its_pool_from_the_scored_cells(search_table) -> None:
    from fixture_tables import synthetic_proxies

    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.strategy import make_strategy

    score, seconds = synthetic_proxies()["synflow"]
    # a proxy run still under way: 313 cells scored, so a pool of 300 drawn from every cell would hold about 6
    # scored ones and the top 10 would have to take unscored cells (NaN ranks last)
    partial = np.where(np.arange(score.size) % 50 == 0, score, np.nan)
    oracle = Oracle(search_table).with_proxies({"synflow": (partial, seconds)})
    run = run_search(make_strategy("rea-warm", {"pool": 300}), oracle, Budget(queries=10), seed=2)
    assert (run.columns["arch_index"] % 50 == 0).all()


def test_league_refuses_supernet_scores_made_for_another_table(tmp_path: Path, search_table,
                                                                capsys: pytest.CaptureFixture) -> None:
    """`nasbench estimators --table digits-sample --out DIR`, DIR holding digits' supernet.csv/json: the league
    listed digits' supernet scores as digits-sample's 'supernet, 30 epochs (RSPS)' row (a supernet trained on
    another table's data and protocol). Now the record keeps the table's content hash, and a record from
    before that is refused when it scores cells this table does not judge."""
    import json

    from nasbench_suite.estimators import EstimatorError, Judged, judged_cells
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, build_league, supernet_estimate

    archs = [int(a) for a in judged_cells(search_table).archs]
    record = supernet_record(2, len(archs))

    def store(folder: Path, cells: list[int], **extra: object) -> Path:
        folder.mkdir()
        (folder / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},{a % 97}\n" for a in cells))
        (folder / SUPERNET_JSON).write_text(json.dumps({**record, **extra}))
        return folder

    other = store(tmp_path / "other", archs, table="digits", content_hash="sha256:" + "0" * 64)
    with pytest.raises(EstimatorError, match="holds supernet scores of table 'digits'"):
        build_league(search_table, None, other, sizes=(20,), repeats=1)
    legacy = store(tmp_path / "legacy", archs)  # no hash: written before it was recorded
    judged = judged_cells(search_table)
    fewer = Judged(judged.rows[:100], judged.archs[:100], judged.target[:100])  # a table judging fewer cells
    with pytest.raises(EstimatorError, match=f"scores {len(archs) - 100} cells that table .* does not judge"):
        supernet_estimate(legacy, fewer, search_table)
    mine = store(tmp_path / "mine", archs, table=search_table.name, content_hash=search_table.content_hash)
    frame, _ = build_league(search_table, None, mine, sizes=(20,), repeats=1)
    assert "supernet, 2 epochs (RSPS)" in set(frame["estimator"])
    old = store(tmp_path / "old", archs)  # a record without the hash, of exactly this table's cells, still reads
    frame, _ = build_league(search_table, None, old, sizes=(20,), repeats=1)
    assert "supernet, 2 epochs (RSPS)" in set(frame["estimator"])


def test_proxies_default_to_the_cells_a_partial_table_holds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`nasbench proxies --table T` on a table of 200 cells scores those 200, not all 15,625 (a search or the
    league reads no other cell's score); `--archs all` still scores every cell."""
    import pandas as pd

    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import CSV_FILE
    from nasbench_suite.table import load_table

    bench = load_table("digits-sample")
    assert len(bench.arch_indices) == 200
    out = tmp_path / "p"
    assert main(["proxies", "--table", "digits-sample", "--proxies", "params", "--out", str(out)]) == 0
    frame = pd.read_csv(out / CSV_FILE)
    assert sorted(frame["arch_index"]) == sorted(bench.arch_indices.tolist())
    assert "proxies of 200 cells of digits-sample" in capsys.readouterr().out


def test_cli_proxies_scores_the_class_representatives_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`nasbench proxies` scores the class representatives among the cells asked for before the other members
    (the module doc: a stopped run already covers every class), here a representative above a member's index."""
    import nasbench_suite.proxy_store as proxy_store
    from nasbench_suite.cli import main
    from nasbench_suite.space import isomorphism_classes

    iso = isomorphism_classes()
    member = next(a for a in range(15625) if iso.representatives[iso.class_of[a]] != a)
    rep = int(next(r for r in iso.representatives if r > member))
    seen: list[int] = []
    real = proxy_store._score_chunk
    monkeypatch.setattr(proxy_store, "_score_chunk", lambda archs, *rest: seen.extend(archs) or real(archs, *rest))
    assert main(["proxies", "--table", "digits", "--proxies", "params", "--archs", f"{member},{rep}",
                 "--out", str(tmp_path / "p")]) == 0
    assert seen == [rep, member]


def test_one_writer_per_proxy_folder_and_a_killed_holder_blocks_nothing(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A second `nasbench proxies` on a folder another process is scoring into stops at once with one line naming
    that process (two writers scored every cell twice, each timing its *_seconds under the other's load, and raced
    on proxies.csv); a writer killed with SIGKILL blocks no later run. One holder process (killed with SIGKILL)
    opens both folders, p and new: the first start of new is the second case below (each holder started a
    Python that imports torch)."""
    from lock_holder import holding

    from nasbench_suite.cli import main
    from nasbench_suite.errors import RunInUseError
    from nasbench_suite.proxy_store import ProxyStore

    folder, table = tmp_path / "p", {"name": "t", "content_hash": "h"}
    with ProxyStore(folder, table, SETTINGS, ["params"], {"dataset": "x"}) as store:
        store.compute([0], batch())
    before = {name: (folder / name).read_bytes() for name in ("proxies.json", "proxies.csv")}
    setup = ("import contextlib\nfrom nasbench_suite.model import MacroConfig\n"
             "from nasbench_suite.proxies import ProxySettings\nfrom nasbench_suite.proxy_store import ProxyStore\n"
             f"settings = ProxySettings(MacroConfig(**{CONFIG.to_dict()!r}), batch_size=16, seed=3)\n"
             "@contextlib.contextmanager\ndef held(*folders):\n    with contextlib.ExitStack() as stack:\n"
             "        for f in folders:\n"
             f"            stack.enter_context(ProxyStore(f, {table!r}, settings, ['params'], {{'dataset': 'x'}}))\n"
             "        yield")
    opener = "held(Path(sys.argv[1]), Path(sys.argv[1]).parent / 'new')"  # p, then new
    with holding(setup, opener, folder) as holder:
        assert (tmp_path / "new" / "proxies.json").is_file()  # new opened too
        with pytest.raises(RunInUseError, match=f"in use by process {holder.pid} \\(nasbench proxies\\)"):
            ProxyStore(folder, table, SETTINGS, ["params"], {"dataset": "x"})
        assert main(["proxies", "--table", "digits", "--proxies", "params", "--archs", "1", "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nasbench: error: ") and len(err.strip().splitlines()) == 1, err
        assert f"in use by process {holder.pid}" in err and "proxies.csv" in err
        assert {name: (folder / name).read_bytes() for name in before} == before
    with ProxyStore(folder, table, SETTINGS, ["params"], {"dataset": "x"}) as store:  # the killed holder's lock went
        assert store.compute([0, 1], batch())["computed"] == 1
    # a first start killed before its proxies.json was written leaves its lock file: not a foreign folder
    # (new, first opened by the holder killed above)
    (tmp_path / "new" / "proxies.json").unlink()
    with ProxyStore(tmp_path / "new", table, SETTINGS, ["params"], {"dataset": "x"}) as store:
        assert store.compute([0], batch())["computed"] == 1


def _linear_case() -> tuple[nn.Sequential, Minibatch, torch.Tensor]:
    """One Linear layer (no bias) on 5 images: (net, batch, dL/dW of the mean cross-entropy by hand)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 2, bias=False))
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    logits = x @ net[0].weight.detach().t()
    g = ((torch.softmax(logits, dim=1) - F.one_hot(y, 2).float()) / len(y)).t() @ x
    return net, Minibatch(x, y), g


def test_grad_norm_snip_and_grasp_by_hand_on_one_linear_layer() -> None:
    from nasbench_suite.proxies import grad_norm, grasp, snip

    net, mb, g = _linear_case()
    w = net[0].weight.detach().clone()
    assert grad_norm(net, mb) == pytest.approx(float(g.pow(2).sum().sqrt()), rel=1e-5)  # L2 norm, not squared
    assert snip(net, mb) == pytest.approx(float((w * g).abs().sum()), rel=1e-5)  # |W * g| elementwise
    # grasp = -W . (H g), H the Hessian of the loss in W (torch's own, flattened)
    loss = lambda flat: F.cross_entropy(mb.x @ flat.view(2, 3).t(), mb.y)  # noqa: E731
    hessian = torch.autograd.functional.hessian(loss, w.flatten())
    expected = float(-(w.flatten() * (hessian @ g.flatten())).sum())
    assert expected != 0.0
    assert grasp(net, mb) == pytest.approx(expected, rel=1e-4)


def test_jacob_cov_of_identical_jacobians_by_hand() -> None:
    """A bias-free Linear net: every image's input Jacobian of the summed logits is W.sum(0), so the
    correlation matrix is all ones, eigenvalues n (once) and 0: score -sum(log(v + k) + 1/(v + k)), k=1e-5."""
    from nasbench_suite.proxies import jacob_cov

    net, mb, _ = _linear_case()
    n, k = 5, 1e-5
    expected = -((math.log(n + k) + 1 / (n + k)) + (n - 1) * (math.log(k) + 1 / k))
    assert jacob_cov(net, mb) == pytest.approx(expected, rel=1e-6)


def test_naswot_kernel_counts_agreeing_units_by_hand() -> None:
    """One ReLU on 3 images of 3 units, active where > 0: codes 110, 100, 011 (0 is inactive). K_ij =
    units where images i and j agree = [[3, 2, 1], [2, 3, 0], [1, 0, 3]]: det 3*9 - 2*6 + 1*(-3) = 12."""
    from nasbench_suite.proxies import naswot

    x = torch.tensor([[1.0, 2.0, -1.0], [3.0, 0.0, -2.0], [-1.0, 1.0, 5.0]])
    assert naswot(nn.Sequential(nn.ReLU()), Minibatch(x, torch.zeros(3, dtype=torch.long))) == pytest.approx(
        math.log(12.0), rel=1e-12)


def test_fisher_of_a_conv_layer_sums_over_positions_by_hand() -> None:
    """Conv2d(1->2, 3x3) then global average pooling as the logits: dL/da = g / (H*W) at every position, so
    a channel's sum_hw a * dL/da is logit_k * g_k; fisher = 9 weights per channel * sum_k 0.5 * mean_b(.)^2."""
    from nasbench_suite.proxies import fisher

    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x, y = torch.randn(4, 1, 5, 5), torch.tensor([0, 1, 1, 0])
    logits = net(x).detach()
    g = (torch.softmax(logits, dim=1) - F.one_hot(y, 2).float()) / len(y)
    expected = 9 * float((0.5 * (logits * g).pow(2).mean(0)).sum())
    assert fisher(net, Minibatch(x, y)) == pytest.approx(expected, rel=1e-5)


def test_synflow_removes_batchnorm_and_takes_absolute_weights() -> None:
    """1x1 conv (w=-3) -> BatchNorm2d -> 4 pixels -> Linear(4 -> 1) on an all-ones 2x2 input: without the
    BatchNorm R = |w| * sum|W2| = 3 * 10; synflow = 2R (conserved flow). A BatchNorm left in place would
    normalise the 4 equal pixels to 0 (R = 0)."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(-3.0)
        net[3].weight.copy_(torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
    assert synflow(net, (1, 2, 2)) == 60.0


def test_pick_minibatch_draws_distinct_rows_and_needs_two() -> None:
    assert pick_minibatch(10, 10, seed=4).tolist() == list(range(10))
    rows = pick_minibatch(1000, 64, seed=4)
    assert len(set(rows.tolist())) == 64 and np.all(np.diff(rows) > 0)
    for bad in (1, 11):
        with pytest.raises(ProxyError):
            pick_minibatch(10, bad, seed=4)


def test_jacob_cov_an_image_with_a_constant_jacobian_correlates_with_nothing() -> None:
    """ReLU -> Linear: images 0 and 1 (all inputs > 0) share the Jacobian W.sum(0); image 2 (all < 0) has a
    zero Jacobian, whose correlations (NaN) count 0: eigenvalues 2, 0, 0 (not 3, 0, 0)."""
    from nasbench_suite.proxies import jacob_cov

    torch.manual_seed(1)
    net = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
    x = torch.tensor([[1.0, 2.0, 0.5], [0.3, 1.0, 4.0], [-1.0, -2.0, -3.0]])
    k = 1e-5
    expected = -((math.log(2 + k) + 1 / (2 + k)) + 2 * (math.log(k) + 1 / k))
    assert jacob_cov(net, Minibatch(x, torch.tensor([0, 1, 0]))) == pytest.approx(expected, rel=1e-6)


def _warm(name: str, scores: np.ndarray, seconds: np.ndarray, seed: int = 0, **settings):
    from nasbench_suite.strategy import make_strategy

    strategy = make_strategy(name, settings)
    strategy.setup(move_space(scores, seconds), np.random.default_rng(seed))
    return strategy


def test_warm_start_takes_the_best_of_a_pool_of_scored_cells_and_charges_the_whole_pool() -> None:
    """Only the 12 cells with a stored score can be drawn (NaN: not stored); rea-warm with population 3 and
    pool 12 starts from the 3 best, best first, and its first ask of 4 queries splits the 12 cells' seconds
    evenly over them."""
    from nasbench_suite.space import NUM_ARCHS

    scored = np.arange(12) * 1000 + 7
    scores, seconds = np.full(NUM_ARCHS, np.nan), np.zeros(NUM_ARCHS)
    scores[scored] = np.arange(12.0) % 5  # ties: 0..4, 0..4, 0, 1
    seconds[scored] = 0.5 + np.arange(12)
    strategy = _warm("rea-warm", scores, seconds, population=3, pool=12)
    queries = strategy.ask(4)
    assert [scores[q.arch.index] for q in queries[:3]] == [4.0, 4.0, 3.0]  # the best 3, best first
    assert [q.charge for q in queries] == pytest.approx([seconds.sum() / 4] * 4)
    assert all(q.charge == 0.0 for q in strategy.ask(2))


def test_bananas_warm_starts_from_the_best_n_init_cells_of_the_pool() -> None:
    """bananas-warm with n_init=4 and a pool of the 12 scored cells: its first 4 queries are the 4 best, best
    first (scores 11, 10, 9, 8), then it waits for a model."""
    from nasbench_suite.space import NUM_ARCHS

    scored = np.arange(12) * 1000 + 7
    scores, seconds = np.full(NUM_ARCHS, np.nan), np.full(NUM_ARCHS, 0.01)
    scores[scored] = np.arange(12.0)
    strategy = _warm("bananas-warm", scores, seconds, n_init=4, pool=12)
    assert [q.arch.index for q in strategy.ask(6)] == [11007, 10007, 9007, 8007]


def test_warm_start_ties_keep_the_order_drawn_and_sizes_are_checked() -> None:
    """100 cells scored 0, 1 or 2 (34 of them 2): the warm start is the first 20 of those scored 2 in the
    order drawn (with the strategy's generator after the base strategy's setup); a pool smaller than the initial cells, or fewer scored cells
    than them, is refused; random-warm takes the whole pool, or every scored cell when fewer are scored."""
    from nasbench_suite.space import NUM_ARCHS
    from nasbench_suite.strategy import StrategyError, make_strategy

    scored = np.arange(100) * 150
    scores = np.full(NUM_ARCHS, np.nan)
    scores[scored] = np.arange(100) % 3 * 1.0
    seconds = np.full(NUM_ARCHS, 0.01)
    strategy = _warm("rea-warm", scores, seconds, seed=3, population=20, pool=100)
    plain, rng = make_strategy("rea", {"population": 20}), np.random.default_rng(3)
    plain.setup(move_space(scores, seconds), rng)
    drawn = rng.choice(scored, 100, replace=False)
    assert [a.index for a in strategy._warm] == drawn[scores[drawn] == 2.0][:20].tolist()
    with pytest.raises(StrategyError, match=r"pool \(19\) must hold at least the 20 initial cells"):
        _warm("rea-warm", scores, seconds, population=20, pool=19)
    few = np.where(np.arange(NUM_ARCHS) < 19, 1.0, np.nan)
    with pytest.raises(StrategyError, match="stored for 19 cells of the table; the warm start needs at least 20"):
        _warm("rea-warm", few, seconds, population=20, pool=30)
    assert len(_warm("rea-warm", np.where(np.arange(NUM_ARCHS) < 20, 1.0, np.nan), seconds, population=20,
                     pool=20)._warm) == 20
    random_warm = _warm("random-warm", few, seconds, pool=30)
    assert sorted(a.index for a in random_warm._warm) == list(range(19))
    assert len({q.arch.index for q in random_warm.ask(19)}) == 19


def test_the_league_reads_stored_supernet_scores_per_cell_and_costs_them_as_measured(tmp_path: Path,
                                                                                     search_table) -> None:
    """The supernet row: each judged cell's stored score (by arch index, whatever the CSV's row order), cost per
    cell = (training + scoring seconds) / cells scored, marked measured; rows numbered from 1; by default the
    low-fidelity rows include the table's last epoch."""
    import json

    from nasbench_suite.estimators import judged_cells, rank_metrics
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, build_league

    judged = judged_cells(search_table)
    archs = [int(a) for a in judged.archs]
    scores = {a: float((a * 7919) % 1000) for a in archs}
    (tmp_path / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},{scores[a]}\n" for a in archs[::-1]))
    (tmp_path / SUPERNET_JSON).write_text(json.dumps({"epochs": 1, "train_seconds": 30.0, "score_seconds": 10.0,
                                                      "cells_scored": len(archs), "table": search_table.name,
                                                      "content_hash": search_table.content_hash}))
    frame, _ = build_league(search_table, None, tmp_path, sizes=(20,), repeats=1)
    assert frame["id"].tolist() == list(range(1, len(frame) + 1))
    (row,) = frame[frame["estimator"] == "supernet, 1 epoch (RSPS)"].itertuples()
    assert (row.family, row.cost_kind, row.cells) == ("weight sharing", "measured", len(archs))
    assert row.cost_s_per_cell == pytest.approx(40.0 / len(archs))
    want = rank_metrics(np.array([scores[a] for a in archs]), judged.target)
    assert row.spearman == pytest.approx(want["spearman"]) and row.kendall == pytest.approx(want["kendall"])
    assert f"valid acc @ epoch {search_table.max_epoch} (1 seed)" in set(frame["estimator"])
    assert frame["estimator"].tolist() == [f"valid acc @ epoch {e} (1 seed)" for e in (1, 2, 3, 4, 12)] + [
        f"curve extrapolation from {k} epochs (1 seed)" for k in (3, 4)] + ["xgboost on n=20", "supernet, 1 epoch (RSPS)"]


def test_ensure_supernet_stores_the_tables_hash_and_trains_only_when_asked(tmp_path: Path, search_table,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored record names the table and its content hash (so another table never reads the scores);
    --supernet-epochs 0 trains nothing."""
    import json

    import nasbench_suite.league as league
    from nasbench_suite.estimators import judged_cells

    judged = judged_cells(search_table)
    calls = []

    def fake(bench, archs, epochs, seed=0, data_dir=None):
        calls.append(epochs)
        return np.full(len(archs), 12.3456789), supernet_record(epochs, len(archs))

    monkeypatch.setattr(league, "train_and_score_supernet", fake)
    league.ensure_supernet(search_table, tmp_path / "none", judged, 0, None)
    assert calls == [] and not (tmp_path / "none").exists()
    league.ensure_supernet(search_table, tmp_path / "one", judged, 2, None)
    record = json.loads((tmp_path / "one" / league.SUPERNET_JSON).read_text())
    assert calls == [2] and (record["table"], record["content_hash"]) == (search_table.name, search_table.content_hash)
    scores = (tmp_path / "one" / league.SUPERNET_CSV).read_text().splitlines()  # to 6 significant digits, by arch
    assert scores == ["arch_index,valid_acc"] + [f"{a},12.3457" for a in judged.archs]


def test_stored_supernet_scores_lacking_judged_cells_are_refused(tmp_path: Path, search_table) -> None:
    """A supernet.csv of this table missing some judged cells, or a record of 0 cells scored (or fewer: -3 gave a
    negative cost per cell): one EstimatorError (not a KeyError or ZeroDivisionError traceback)."""
    import json
    import re

    from nasbench_suite.estimators import EstimatorError, judged_cells
    from nasbench_suite.league import SUPERNET_CSV, SUPERNET_JSON, supernet_estimate

    judged = judged_cells(search_table)
    archs = [int(a) for a in judged.archs]
    (tmp_path / SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},1.0\n" for a in archs[3:]))
    (tmp_path / SUPERNET_JSON).write_text(json.dumps(supernet_record(1, len(archs) - 3,
                                                                      content_hash=search_table.content_hash)))
    with pytest.raises(EstimatorError, match="lacks 3 judged cells"):
        supernet_estimate(tmp_path, judged, search_table)
    for cells in (0, -3):  # the cost per cell divides by it
        (tmp_path / SUPERNET_JSON).write_text(json.dumps(supernet_record(1, cells)))
        with pytest.raises(EstimatorError, match="^" + re.escape(
                f"stored supernet scores in {tmp_path} cannot be read (ValueError: {SUPERNET_CSV} must have arch_index "
                f"and valid_acc columns and {SUPERNET_JSON} a positive cells_scored); delete {SUPERNET_CSV} and "
                f"{SUPERNET_JSON} in {tmp_path} to train and score the supernet again") + "$"):
            supernet_estimate(tmp_path, judged, search_table)
    for record in ({"epochs": 1, "train_seconds": 1.0, "cells_scored": 3},  # no score_seconds
                   ["epochs", "train_seconds", "score_seconds", "cells_scored"]):  # the keys, not a record
        (tmp_path / SUPERNET_JSON).write_text(json.dumps(record))
        with pytest.raises(EstimatorError, match=r"cannot be read \(ValueError: supernet.json must hold epochs, "
                                                 r"train_seconds, score_seconds, cells_scored\); delete"):
            supernet_estimate(tmp_path, judged, search_table)


def test_the_minibatch_is_the_seeds_rows_resized_to_the_networks_resolution_and_recorded() -> None:
    """make_minibatch: the rows of pick_minibatch under the settings' seed, resized (bilinear) when the data's
    resolution is not the network's, with rows, source rows and resize in the identity; a channel count
    the network does not take is refused."""
    from types import SimpleNamespace

    from nasbench_suite.proxy_store import make_minibatch

    g = np.random.default_rng(0)
    x = g.standard_normal((40, 1, 8, 8)).astype(np.float32)
    train = SimpleNamespace(x=x, y=np.arange(40, dtype=np.int64) % 10, index=np.arange(100, 140, dtype=np.int64))
    data = SimpleNamespace(name="toy", sha256="s", splits={"train": train})
    rows = pick_minibatch(40, 16, 3)
    kept = make_minibatch(data, SETTINGS)  # CONFIG: resolution 8, 1 channel
    assert torch.equal(kept.batch.x, torch.from_numpy(x[rows])) and kept.describe["resize"] is None
    assert kept.batch.y.tolist() == train.y[rows].tolist()
    assert kept.describe["rows"] == rows.tolist() and kept.describe["source_rows"] == (rows + 100).tolist()
    larger = ProxySettings(MacroConfig(channels=4, cells=1, in_channels=1, resolution=12, num_classes=10), 16, 3)
    made = make_minibatch(data, larger)
    expected = F.interpolate(torch.from_numpy(x[rows]), size=(12, 12), mode="bilinear", align_corners=False)
    assert torch.equal(made.batch.x, expected) and made.describe["resize"] == "bilinear 8x8 -> 12x12 (align_corners=False)"
    rgb = ProxySettings(MacroConfig(channels=4, cells=1, in_channels=3, resolution=8, num_classes=10), 16, 3)
    with pytest.raises(ProxyError, match="the data has 1 channels, the network expects 3"):
        make_minibatch(data, rgb)


def test_a_proxy_folder_refuses_another_minibatch_and_its_csv_keeps_nine_digits(tmp_path: Path) -> None:
    """The minibatch (dataset, rows) is part of a folder's identity: scores of another minibatch are never mixed
    in. proxies.csv holds every score and second to 9 significant digits (load_proxies reads them back)."""
    from nasbench_suite.proxy_store import ProxyStore, load_proxies

    table = {"name": "t", "content_hash": "h"}
    with ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow", "jacob_cov"], {"dataset": "x", "rows": [1, 2]}) as store:
        store.compute([GOOD.index, 3110], batch())
        frame = store.frame()
    loaded = load_proxies(tmp_path / "p")
    for p in ("synflow", "jacob_cov"):
        for name, kept in ((p, loaded.scores[p]), (f"{p}_seconds", loaded.seconds[p])):
            assert np.allclose(kept[frame["arch_index"]], frame[name], rtol=1e-8, atol=0), name
    for data in ({"dataset": "x", "rows": [1, 3]}, {"dataset": "y", "rows": [1, 2]}):
        with pytest.raises(RunMismatchError):
            ProxyStore(tmp_path / "p", table, SETTINGS, ["synflow", "jacob_cov"], data)


def test_proxy_store_compute_refuses_fewer_than_one_worker(tmp_path: Path) -> None:
    from nasbench_suite.proxy_store import ProxyStore

    with ProxyStore(tmp_path / "p", {"name": "t", "content_hash": "h"}, SETTINGS, ["params"], {"dataset": "x"}) as store:
        with pytest.raises(ProxyError, match="workers must be a positive integer, got 0"):
            store.compute([GOOD.index], batch(), workers=0)
        assert store.done() == set()


def test_ordered_cells_puts_each_class_representative_first_in_index_order_once() -> None:
    from nasbench_suite.proxy_store import ordered_cells
    from nasbench_suite.space import isomorphism_classes

    reps = set(isomorphism_classes().representatives.tolist())
    cells = [15624, 3110, 0, 3110, 7, 12000, 5, 42]
    ordered = ordered_cells(cells)
    first = sorted(c for c in set(cells) if c in reps)
    assert 0 < len(first) < len(set(cells))
    assert ordered == first + sorted(c for c in set(cells) if c not in reps)


def test_a_reopened_proxy_folder_keeps_its_stored_scores_and_refuses_a_reordered_csv(tmp_path: Path) -> None:
    """Importing proxies.csv on start adds the cells the working store lacks and overwrites none (the CSV holds
    9 digits, the store every bit); a CSV whose columns were reordered (a spreadsheet) is refused, not
    imported by position (which put one proxy's scores under another)."""
    import pandas as pd

    from nasbench_suite.errors import StoreError
    from nasbench_suite.proxy_store import CSV_FILE, STORE_FILE, ProxyStore

    table, folder = {"name": "t", "content_hash": "h"}, tmp_path / "p"
    with ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        store.compute([GOOD.index, 3110], batch())
        before = store.frame()
    with ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"}) as store:
        pd.testing.assert_frame_equal(store.frame(), before, check_exact=True)
    csv = pd.read_csv(folder / CSV_FILE)
    csv[["arch_index", "params", "synflow", "params_seconds", "synflow_seconds"]].to_csv(folder / CSV_FILE, index=False)
    (folder / STORE_FILE).unlink()
    with pytest.raises(StoreError, match="has columns"):
        ProxyStore(folder, table, SETTINGS, ["synflow", "params"], {"dataset": "x"})


def test_proxy_compute_counts_the_stored_cells_in_its_bar_and_refuses_a_changed_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells are scored in the order given (nasbench proxies gives the class representatives first, so that a
    stopped run covers every class), not by index; the progress bar starts at the cells already stored; a machine
    fingerprint that changed since the folder was opened (its seconds would be of two machines) stops compute
    before it scores a cell."""
    from nasbench_suite import latency, proxy_store
    from nasbench_suite.proxy_store import ProxyStore

    calls = []
    real_store_cells = proxy_store.store_cells
    monkeypatch.setattr(proxy_store, "store_cells",
                        lambda *a, **k: calls.append((k["total"], k["initial"])) or real_store_cells(*a, **k))
    with ProxyStore(tmp_path / "p", {"name": "t", "content_hash": "h"}, SETTINGS, ["params"], {"dataset": "x"}) as store:
        scored: list[int] = []
        store.compute([GOOD.index, 0], batch(), on_cell=scored.append)
        store.compute([GOOD.index, 0, 3110], batch())
        assert calls == [(2, 0), (3, 2)] and scored == [GOOD.index, 0] and GOOD.index > 0
        real = latency.fingerprint
        monkeypatch.setattr(latency, "fingerprint", lambda *a: {**real(*a), "hash": "another machine"})
        with pytest.raises(ProxyError, match="seconds of two machines are never mixed"):
            store.compute([15624], batch())
        assert store.done() == {GOOD.index, 0, 3110}


def test_proxy_scores_of_spawned_workers_cover_every_chunk_in_the_order_given() -> None:
    """More chunks of 8 cells than the 2 * workers submitted at first: each later chunk is submitted as one
    finishes, the last included, and the scores come back in the order of the cells."""
    from nasbench_suite.proxy_store import _scores

    todo = list(range(15624, 15624 - 41, -1))  # 6 chunks, the last of 1 cell
    spawned = [(a, values(s)) for a, s in _scores(todo, batch(), SETTINGS, ["params"], workers=2)]
    serial = [(a, values(s)) for a, s in _scores(todo, batch(), SETTINGS, ["params"], workers=1)]
    assert [a for a, _ in spawned] == todo and spawned == serial


def test_proxy_cells_are_scored_with_one_torch_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cell is scored with torch set to 1 thread whatever the caller's setting (the mode ProxySettings records:
    every stored *_seconds is of one thread)."""
    import nasbench_suite.proxies as proxies
    from nasbench_suite.latency import torch_threads
    from nasbench_suite.proxy_store import _scores

    threads: list[int] = []
    real = proxies.score_cell
    monkeypatch.setattr(proxies, "score_cell", lambda *a, **k: threads.append(torch.get_num_threads()) or real(*a, **k))
    with torch_threads(2):
        assert [a for a, _ in _scores([GOOD.index, 0], batch(), SETTINGS, ["params"], workers=1)] == [GOOD.index, 0]
        assert torch.get_num_threads() == 2  # and restored after
    assert threads == [1, 1]


def test_attached_proxy_scores_follow_the_views_row_order() -> None:
    from nasbench_suite.proxy_store import ProxyTable
    from nasbench_suite.table import TableView

    scores = np.arange(15625, dtype=np.float64)
    view = TableView("t", {}, {}, [], [], np.array([7, 3, 12000]), {})
    table = ProxyTable({"synflow": scores}, {"synflow": scores / 10}, {})
    assert table.attach(view) == ["zc_synflow"]
    assert view._scalars["zc_synflow"].tolist() == [7.0, 3.0, 12000.0]


def test_stored_for_reads_the_proxies_beside_a_table_only_for_its_own_content_hash(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from nasbench_suite.proxy_store import ProxyStore, stored_for

    bench = SimpleNamespace(name="t", content_hash="h1", path=tmp_path / "tables" / "t")
    assert stored_for(bench) is None  # no folder
    with ProxyStore(tmp_path / "tables" / "proxies" / "t", {"name": "t", "content_hash": "h1"}, SETTINGS, ["params"],
                    {"dataset": "x"}) as store:
        store.compute([GOOD.index], batch())
    assert stored_for(bench).scored().sum() == 1
    assert stored_for(SimpleNamespace(name="t", content_hash="h2", path=bench.path)) is None  # the table changed


def test_config_for_overrides_only_the_shape_fields_given() -> None:
    from types import SimpleNamespace

    from nasbench_suite.errors import ModelConfigError
    from nasbench_suite.proxy_store import config_for

    bench = SimpleNamespace(manifest={"protocol": {"channels": 8, "cells": 1},
                                      "dataset": {"in_channels": 1, "resolution": 8, "num_classes": 10}})
    base = MacroConfig(channels=8, cells=1, in_channels=1, resolution=8, num_classes=10)
    assert config_for(bench) == base
    assert config_for(bench, channels=16, cells=2, resolution=12) == MacroConfig(16, 2, 1, 12, 10)
    with pytest.raises(ModelConfigError):
        config_for(bench, resolution=0)  # passed on to be refused, not read as "the table's"


def test_estimators_refuse_stored_supernet_scores_of_other_epochs_than_asked(
        tmp_path: Path, search_table, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A folder holding 2-epoch supernet scores: `--supernet-epochs 3` showed them as the league's supernet row
    without a word (the option was ignored). Now it is refused in one line, the stored files untouched;
    without the option, or with 2, they are shown; 0 trains none and shows them."""
    import json

    import nasbench_suite.league as league
    from nasbench_suite.cli import main
    from nasbench_suite.estimators import judged_cells

    monkeypatch.setattr(league, "train_and_score_supernet", lambda *a, **k: pytest.fail("trained a supernet"))
    archs = [int(a) for a in judged_cells(search_table).archs]
    out = tmp_path / "league"
    out.mkdir()
    (out / league.SUPERNET_CSV).write_text("arch_index,valid_acc\n" + "".join(f"{a},{a % 97}\n" for a in archs))
    (out / league.SUPERNET_JSON).write_text(json.dumps(supernet_record(
        2, len(archs), table=search_table.name, content_hash=search_table.content_hash)))
    stored = {p.name: p.read_bytes() for p in out.iterdir()}
    base = ["estimators", "--table", str(search_table.path), "--sizes", "20", "--repeats", "1", "--out", str(out)]
    assert main(base + ["--supernet-epochs", "3"]) == 2
    err = capsys.readouterr().err.splitlines()[-1] + "\n"  # after the note that the table has no proxies
    assert err == (f"nasbench: error: {out} holds supernet scores of 2 epochs, not the 3 asked for: give "
                   f"--supernet-epochs 2 to show them, or delete supernet.csv and supernet.json there (or give "
                   f"another --out) to train 3\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == stored
    for extra in ([], ["--supernet-epochs", "2"], ["--supernet-epochs", "0"]):
        assert main(base + extra) == 0, capsys.readouterr().err
        assert "supernet, 2 epochs (RSPS)" in (out / "league.csv").read_text()
    import pandas as pd

    league_csv = pd.read_csv(out / "league.csv")  # --repeats 1 reached the predictors (their default is 3)
    assert set(league_csv.loc[league_csv["family"] == "predictor", "repeats"]) == {1}


# ----- proxies against the documented seeds and references (mutation round 4) ----------------------
def test_score_cell_scores_every_proxy_on_the_documented_initial_weights_reference() -> None:
    """Every proxy of score_cell scores a network built right after torch.manual_seed(torch_seed(SeedSequence(
    seed, spawn_key=(1,)))) (INIT: the same weights for every proxy), in training mode; grad_norm (sum of L2
    norms) and snip (sum |W * dL/dW|) are recomputed here in a few lines, the other proxies with the module's
    functions (pinned by hand above) on that independently built network; zen's Gaussian draws come from a
    generator seeded with that torch seed + 1. params is the network's real parameter count, flops the
    closed form; every proxy's seconds are measured (> 0)."""
    from nasbench_suite import proxies as P
    from nasbench_suite.model import analytic_flops, build_network
    from nasbench_suite.train import torch_seed

    mb, shape = batch(), (CONFIG.in_channels, CONFIG.resolution, CONFIG.resolution)
    got = score_cell(GOOD, mb, SETTINGS)
    seed = torch_seed(np.random.SeedSequence(SETTINGS.seed, spawn_key=(1,)))

    def net() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_network(GOOD, CONFIG)

    model = net()
    F.cross_entropy(model(mb.x), mb.y).backward()
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert got["grad_norm"][0] == pytest.approx(sum(float(w.grad.norm()) for w in weights), rel=1e-6)
    assert got["snip"][0] == pytest.approx(sum(float((w.detach() * w.grad).abs().sum()) for w in weights), rel=1e-6)
    expected = {"grasp": P.grasp(net(), mb), "fisher": P.fisher(net(), mb), "synflow": P.synflow(net(), shape),
                "jacob_cov": P.jacob_cov(net(), mb), "naswot": P.naswot(net(), mb),
                "zen": P.zen(net(), shape, SETTINGS.batch_size, torch.Generator().manual_seed(seed + 1))}
    for name, value in expected.items():
        assert got[name][0] == pytest.approx(value, rel=1e-6), name
    assert got["params"][0] == sum(p.numel() for p in model.parameters())
    assert got["flops"][0] == float(analytic_flops(np.asarray([GOOD.ops]), CONFIG)[0]) != got["params"][0]
    assert all(seconds > 0 for _, seconds in got.values())


def test_check_proxies_keeps_the_documented_order_once_and_refuses_none_reference() -> None:
    from nasbench_suite.proxies import check_proxies

    assert check_proxies(["flops", "synflow", "flops", "grad_norm"]) == ("grad_norm", "synflow", "flops")
    assert list(score_cell(GOOD, batch(), SETTINGS, ["params", "snip"])) == ["snip", "params"]
    with pytest.raises(ProxyError, match=r"\(none given\)"):
        check_proxies([])


def test_pick_minibatch_is_the_seeds_spawn_key_0_draw_reference() -> None:
    """The minibatch rows: SeedSequence(seed, spawn_key=(0,)) (the init weights use spawn_key=(1,)), a draw
    without replacement, sorted."""
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(0,)))
    assert pick_minibatch(500, 32, 7).tolist() == sorted(rng.choice(500, size=32, replace=False).tolist())


def test_synflow_by_hand_is_float64_and_takes_nested_batchnorm_and_biases_reference() -> None:
    """Three hand cases. (1) Two 1x1 Linear layers of weight 2^80 (exact in float32): R = 2^160, which float32
    overflows; synflow = 2R = 2^161 in float64. (2) A BatchNorm inside a nested block is removed too (the cells' BatchNorms are nested):
    conv (w=-3) -> BN -> Linear(|W2| sums to 10) on an all-ones 2x2 input: 2 * 30. (3) Biases are made
    absolute too (every parameter, as the reference linearizes the whole state): Linear(w=1, b=-5) -> ReLU ->
    Linear(w=-1): hidden 1 + 5 = 6, R = 6; |w1| dR/d|w1| = 1, |w2| dR/d|w2| = 6: synflow 7 (0 if b kept -5)."""
    big = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        big[0].weight.fill_(2.0**80)
        big[1].weight.fill_(-(2.0**80))
    assert synflow(big, (1,)) == 2.0**161
    nested = nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.BatchNorm2d(1)), nn.Flatten(),
                           nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        nested[0][0].weight.fill_(-3.0)
        nested[2].weight.copy_(torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
    assert synflow(nested, (1, 2, 2)) == 60.0
    biased = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        biased[0].weight.fill_(1.0)
        biased[0].bias.fill_(-5.0)
        biased[2].weight.fill_(-1.0)
    assert synflow(biased, (1,)) == 7.0


def test_naswot_sums_the_kernels_of_every_relu_by_hand() -> None:
    """Two ReLUs in a row on the 3 images of the one-ReLU case above: the second sees the same active units
    (codes 110, 100, 011), so K = 2 * [[3, 2, 1], [2, 3, 0], [1, 0, 3]]: det 8 * 12 = 96."""
    from nasbench_suite.proxies import naswot

    x = torch.tensor([[1.0, 2.0, -1.0], [3.0, 0.0, -2.0], [-1.0, 1.0, 5.0]])
    net = nn.Sequential(nn.ReLU(), nn.ReLU())
    assert naswot(net, Minibatch(x, torch.zeros(3, dtype=torch.long))) == pytest.approx(math.log(96.0), rel=1e-12)


# ----- estimators on a hand-made table (mutation round 4) ------------------------------------------
def _fake_bench(n: int = 24, seeds: tuple[int, ...] = (7, 8), max_epoch: int = 6):
    """A stand-in Benchmark: acc(split, epoch, seed, row) = 50 + row - 30 * epoch^-0.5 (+ 5 on the valid
    split, + seed when one is named, + 40 for the test split's mean over seeds); row 3's test accuracy is
    missing and row 5 was not trained (a class copy); seconds = epoch + row / 100 (+ 1 for valid)."""
    from types import SimpleNamespace

    rows = np.arange(n, dtype=np.float64)

    def array(split: str, measure: str = "acc", *, epoch: int, seed: int | None = None) -> np.ndarray:
        if measure == "seconds":
            return epoch + rows / 100 + (split == "valid") + (0.0 if seed is None else seed)
        out = 50 + rows - 30 * epoch ** -0.5 + (5.0 if split == "valid" else 0.0) + (40.0 if seed is None else seed)
        if split == "test":
            out[3] = np.nan
        return out

    trained = np.ones(n, dtype=bool)
    trained[5] = False
    return SimpleNamespace(name="fake", seeds=list(seeds), max_epoch=max_epoch, array=array,
                           trained_rows=lambda: trained, arch_indices=np.arange(100, 100 + n))


def test_judged_cells_are_the_trained_rows_with_a_final_test_accuracy_mean_over_seeds_by_hand() -> None:
    """Rows 3 (no test accuracy) and 5 (not trained) are left out: 22 judged cells, so a predictor may train on
    12 of them (10 are left to judge it on, as the README says) and not on 13."""
    from nasbench_suite.estimators import EstimatorError, check_sizes, judged_cells

    bench = _fake_bench()
    judged = judged_cells(bench)
    keep = [r for r in range(24) if r not in (3, 5)]
    assert judged.rows.tolist() == keep and judged.archs.tolist() == [100 + r for r in keep]
    assert judged.target == pytest.approx(bench.array("test", epoch=6)[keep])  # the seed mean, last epoch
    check_sizes([1, 12], judged)
    with pytest.raises(EstimatorError, match="size 13 .* the largest allowed size is 12$"):
        check_sizes([12, 13], judged)


def test_fidelity_and_curve_estimators_read_seed_0s_valid_curve_by_hand() -> None:
    """The k-epoch estimators read the first seed's (7) valid accuracy at epochs 1..k and extrapolate to the
    last epoch (6); the curve is exactly 55 + row + 7 - 30 t^-0.5, so the grid's alpha nearest 0.5 predicts
    62 + row - 30 / sqrt(6) within 0.1 (the same fit from epoch 2, or to epoch 5, is off by more)."""
    from nasbench_suite.estimators import curve_estimates, extrapolate_pow3, fidelity_estimates, judged_cells

    bench = _fake_bench()
    judged = judged_cells(bench)
    (low,) = fidelity_estimates(bench, judged, [2])
    assert low.scores.tolist() == bench.array("valid", epoch=2, seed=7)[judged.rows].tolist()
    # seed 7's seconds (epoch + row / 100 + 7; valid + 1): train epochs 1 and 2, one validation pass at 2
    assert low.cost_per_cell == pytest.approx(float(np.mean((1 + 7) + (2 + 7) + (2 + 1 + 7) + 3 * judged.rows / 100)))
    (curve,) = curve_estimates(bench, judged, [4])
    curves = np.stack([bench.array("valid", epoch=e, seed=7)[judged.rows] for e in (1, 2, 3, 4)], axis=1)
    assert curve.scores.tolist() == extrapolate_pow3(curves, 6).tolist()
    assert curve.scores == pytest.approx(62 + judged.rows - 30 / np.sqrt(6), abs=0.1)


def test_kendall_and_spearman_and_the_three_epoch_minimum_by_hand() -> None:
    """Scores 1..5 against targets 1, 2, 3, 5, 4: one swapped pair of 10, so Kendall's tau = (9 - 1) / 10 = 0.8 and
    Spearman = 1 - 6 * 2 / (5 * 24) = 0.9. A learning curve of 2 epochs cannot fit 3 parameters: refused."""
    from nasbench_suite.estimators import EstimatorError, extrapolate_pow3, rank_metrics

    m = rank_metrics(np.arange(1.0, 6.0), np.array([1.0, 2.0, 3.0, 5.0, 4.0]))
    assert m["kendall"] == pytest.approx(0.8) and m["spearman"] == pytest.approx(0.9)
    with pytest.raises(EstimatorError, match="at least 3 epochs"):
        extrapolate_pow3(np.array([[50.0, 60.0], [40.0, 45.0]]), 10)


def test_a_proxys_cost_is_the_mean_of_its_seconds_over_the_judged_cells() -> None:
    from nasbench_suite.estimators import Judged, proxy_estimates
    from nasbench_suite.proxy_store import ProxyTable

    archs = np.array([5, 6, 7])
    scores, seconds = np.full(15625, np.nan), np.full(15625, 100.0)  # the unjudged cells' seconds are not read
    scores[archs], seconds[archs] = [3.0, 1.0, 2.0], [1.0, 2.0, 6.0]
    (est,) = proxy_estimates(ProxyTable({"snip": scores}, {"snip": seconds}, {}), Judged(np.arange(3), archs, np.zeros(3)))
    assert est.cost_per_cell == pytest.approx(3.0) and est.scores.tolist() == [3.0, 1.0, 2.0]


def test_predictor_repeats_draw_their_own_split_and_read_the_proxies_ranks(search_table,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeat r trains on the first n of default_rng([seed, r]).permutation(judged cells), labelled with seed 0's
    final valid accuracy, and is judged on the rest; the +zero-cost variant's extra features are each proxy's ranks / n over the judged cells (rows of
    unjudged arch indices 0), not the raw scores."""
    import nasbench_suite.predictors as predictors
    from nasbench_suite.estimators import judged_cells, predictor_estimates, ranks
    from nasbench_suite.proxy_store import ProxyTable

    judged = judged_cells(search_table)
    seen: list[tuple[np.ndarray | None, np.ndarray]] = []
    labels: list[np.ndarray] = []

    class Fake:
        def __init__(self, extra: np.ndarray | None) -> None:
            self.extra = extra

        def fit(self, archs: np.ndarray, y: np.ndarray) -> "Fake":
            seen.append((self.extra, np.asarray(archs)))
            labels.append(np.asarray(y))
            return self

        def predict(self, archs: np.ndarray) -> np.ndarray:
            return np.zeros(len(archs))

    monkeypatch.setattr(predictors, "make_predictor", lambda name, seed, extra_features=None: Fake(extra_features))
    scores = {"params": np.arange(15625.0) * 3.0 + 1.0}
    out = predictor_estimates(search_table, judged, [20], ProxyTable(scores, {"params": np.full(15625, 0.1)}, {}),
                              "ridge", repeats=2, seed=4)
    n_cells = len(judged.rows)
    for r in range(2):
        order = np.random.default_rng([4, r]).permutation(n_cells)
        assert seen[r][1].tolist() == judged.archs[order[:20]].tolist()
        valid = search_table.array("valid", "acc", epoch=search_table.max_epoch, seed=search_table.seeds[0])
        assert labels[r].tolist() == valid[judged.rows][order[:20]].tolist()  # the labels: seed 0's final valid acc
        assert out[r].rows.tolist() == np.sort(order[20:]).tolist()
    assert out[0].rows.tolist() != out[1].rows.tolist()
    extra = seen[2][0]
    assert extra is not None and extra[judged.archs, 0].tolist() == ranks(scores["params"][judged.archs]).tolist()
    assert extra.shape == (int(judged.archs.max()) + 1, 1)


# ----- estimators: mutation audit of estimators.py / league.py / cmd_estimators ---------------------
def test_check_sizes_names_the_smallest_size_given_twice_and_the_largest_size_too_large() -> None:
    """22 judged cells (sizes up to 12 leave 10 to judge on): of two sizes given twice the smaller is named, of
    several too large the largest; a repeated size is refused first."""
    from nasbench_suite.estimators import EstimatorError, check_sizes, judged_cells

    judged = judged_cells(_fake_bench())
    with pytest.raises(EstimatorError) as twice:
        check_sizes([9, 5, 30, 9, 5, 30], judged)
    assert str(twice.value) == ("predictor training-set size 5 is given more than once (--sizes); each size is drawn "
                                "--repeats times: list it once")
    with pytest.raises(EstimatorError) as big:
        check_sizes([13, 15, 2, 14], judged)
    assert str(big.value) == ("predictor training-set size 15 (--sizes) is too large for the 22 judged cells (10 "
                              "must be left to judge it on); the largest allowed size is 12")


def test_fidelity_estimates_keep_the_epochs_the_table_holds_from_1_to_its_last() -> None:
    """Epochs outside 1..max_epoch (6) are left out, not read (the stand-in table would give epoch 0 and 7 rows)."""
    from nasbench_suite.estimators import fidelity_estimates, judged_cells

    bench = _fake_bench()
    names = [e.name for e in fidelity_estimates(bench, judged_cells(bench), [0, 2, 6, 7])]
    assert names == ["valid acc @ epoch 2 (1 seed)", "valid acc @ epoch 6 (1 seed)"]


def test_a_curve_that_no_fit_reads_predicts_its_last_value() -> None:
    """A curve with a missing epoch (NaN) fits no alpha: its prediction is the last value it read (60), flat, not 0;
    the other rows are fitted as usual (a constant curve predicts itself)."""
    from nasbench_suite.estimators import extrapolate_pow3

    predicted = extrapolate_pow3(np.array([[50.0, np.nan, 60.0], [40.0, 40.0, 40.0]]), 12)
    assert predicted[0] == 60.0 and predicted[1] == pytest.approx(40.0, abs=1e-9)


def test_a_cells_missing_seconds_leave_it_out_of_the_mean_cost() -> None:
    """A judged cell without seed 0's epoch-1 training seconds (NaN) is left out of the mean cost per cell, which
    stays a number: the k = 2 low-fidelity cost is the mean over the other cells of their 2 training epochs and
    one validation pass (seed 7: (1 + 7) + (2 + 7) + (2 + 1 + 7) + 3 * row / 100)."""
    from nasbench_suite.estimators import fidelity_estimates, judged_cells

    bench = _fake_bench()
    full = bench.array

    def array(split: str, measure: str = "acc", *, epoch: int, seed: int | None = None) -> np.ndarray:
        out = full(split, measure, epoch=epoch, seed=seed)
        if (split, measure, epoch) == ("train", "seconds", 1):
            out[0] = np.nan
        return out

    bench.array = array
    judged = judged_cells(bench)
    (low,) = fidelity_estimates(bench, judged, [2])
    assert low.cost_per_cell == pytest.approx(float(np.mean(27 + 3 * judged.rows[1:] / 100)))


def test_predictor_draws_are_seeded_1000_seed_plus_draw_and_listed_size_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each size fits the plain predictor's draws, then the +zero-cost variant's, each draw r of run seed s seeded
    1000 * s + r (distinct up to 1,000 draws, the bound of --repeats); the plain one's cost is `table`, the one
    reading the proxies `table + measured`."""
    import nasbench_suite.predictors as predictors
    from nasbench_suite.estimators import judged_cells, predictor_estimates
    from nasbench_suite.proxy_store import ProxyTable

    seeds: list[int] = []

    class Fake:
        def fit(self, archs: np.ndarray, y: np.ndarray) -> "Fake":
            return self

        def predict(self, archs: np.ndarray) -> np.ndarray:
            return np.zeros(len(archs))

    def make(name: str, seed: int, extra_features: np.ndarray | None = None) -> Fake:
        seeds.append(seed)
        return Fake()

    monkeypatch.setattr(predictors, "make_predictor", make)
    bench = _fake_bench()
    proxies = ProxyTable({"params": np.arange(15625.0)}, {"params": np.full(15625, 0.5)}, {})
    out = predictor_estimates(bench, judged_cells(bench), [5, 12], proxies, "ridge", repeats=2, seed=3)
    assert [e.name for e in out] == ["ridge on n=5"] * 2 + ["ridge+zero-cost on n=5"] * 2 + \
        ["ridge on n=12"] * 2 + ["ridge+zero-cost on n=12"] * 2
    assert seeds == [3000, 3001] * 4
    assert [e.cost_kind for e in out] == (["table"] * 2 + ["table + measured"] * 2) * 2


def test_cli_estimators_defaults_write_the_league_under_reports_and_print_the_best_five(
        tmp_path: Path, search_table, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`nasbench estimators --table T` with no other option: the proxies stored beside T, a 30-epoch supernet
    (trained once: here a stand-in), predictor sizes 10, 100 and 1000 (all leave 10 cells on this table) of 3 draws
    each, written to reports/estimators/<table name>; it prints the files and counts, then the five estimators
    of the highest Spearman, best first."""
    import pandas as pd

    import nasbench_suite.league as league
    import nasbench_suite.predictors as predictors
    import nasbench_suite.proxy_store as proxy_store
    from nasbench_suite.cli import main
    from nasbench_suite.proxy_store import ProxyTable

    trained: list[int] = []

    def fake(bench, archs, epochs, seed=0, data_dir=None):
        trained.append(epochs)
        return (archs % 97).astype(float), supernet_record(epochs, len(archs))

    class Constant:  # a stand-in predictor (xgboost's 18 fits took 20 s): the league's rows, not its numbers
        def fit(self, archs: np.ndarray, y: np.ndarray) -> "Constant":
            return self

        def predict(self, archs: np.ndarray) -> np.ndarray:
            return np.zeros(len(archs))

    monkeypatch.setattr(league, "train_and_score_supernet", fake)
    monkeypatch.setattr(predictors, "make_predictor", lambda name, seed, extra_features=None: Constant())
    params = ProxyTable({"params": np.arange(15625.0)}, {"params": np.full(15625, 1e-4)},
                        {"table": {"name": search_table.name, "content_hash": search_table.content_hash},
                         "settings": {"batch_size": 1, "seed": 0, "config": {}}})
    monkeypatch.setattr(proxy_store, "stored_for", lambda bench: params if bench is not None else None)
    monkeypatch.chdir(tmp_path)
    assert main(["estimators", "--table", str(search_table.path)]) == 0
    out = Path("reports") / "estimators" / search_table.name
    assert trained == [30] and sorted(p.name for p in out.iterdir()) == [
        "league.csv", "league.md", "league.png", "supernet.csv", "supernet.json"]
    frame = pd.read_csv(out / "league.csv")
    predictors = frame[frame["family"] == "predictor"]
    assert predictors["estimator"].tolist() == [f"xgboost{zc} on n={n}" for n in (10, 100, 1000)
                                                for zc in ("", "+zero-cost")]
    assert set(predictors["repeats"]) == {3} and "params" in set(frame["estimator"])
    lines = capsys.readouterr().out.splitlines()
    judged = int(frame["cells"].max())
    assert lines[0] == (f"wrote {out / 'league.md'}, {out / 'league.csv'}, {out / 'league.png'} "
                        f"({len(frame)} estimators on {judged} cells)")
    shown = {line[2:46].rstrip(): float(line.split("Spearman ")[1].split()[0]) for line in lines[1:]}
    spearman = frame.set_index("estimator")["spearman"]
    assert len(lines) == 6 and list(shown.values()) == sorted(shown.values(), reverse=True)
    assert all(abs(value - spearman[name]) < 6e-4 for name, value in shown.items())
    assert min(shown.values()) > spearman.drop(list(shown)).max() - 1e-3  # the five best (to the digits shown)


def test_league_md_and_csv_of_a_hand_made_league_line_by_line(tmp_path: Path, search_table) -> None:
    """Two rows written by hand: league.md gives the inputs, the target, the proxies' settings and one machine
    for both measured inputs, each metric to 3 decimals in the column order of its header and the cost to 4
    significant digits; league.csv each metric to 4 decimals."""
    import json

    import pandas as pd

    from nasbench_suite.estimators import judged_cells
    from nasbench_suite.league import SUPERNET_JSON, write_league
    from nasbench_suite.proxy_store import ProxyTable

    judged = judged_cells(search_table)
    frame = pd.DataFrame({"id": [1, 2], "estimator": ["p on n=5", "supernet, 1 epoch (RSPS)"],
                          "family": ["predictor", "weight sharing"], "cells": [30, 40], "repeats": [1, 1],
                          "cost_s_per_cell": [0.000123456, 2.5], "cost_kind": ["table", "measured"],
                          "spearman": [0.123456, 0.9], "kendall": [-0.5, 0.8], "spearman_top10": [0.25, 0.0],
                          "kendall_top10": [1 / 3, 0.0], "top10_precision": [0.875, 1.0]})
    machine = {"cpu": "CPU Z", "logical_cpus": 4, "threads": 1, "hash": "z"}
    (tmp_path / SUPERNET_JSON).write_text(json.dumps({"epochs": 1, "fingerprint": machine}))
    proxies = ProxyTable({}, {}, {"settings": {"batch_size": 16, "seed": 3, "config": {"channels": 4}},
                                  "fingerprint": machine})
    write_league(frame, search_table, judged, tmp_path, proxies)
    md = (tmp_path / "league.md").read_text(encoding="utf-8").splitlines()
    assert md[2] == (f"Generated by `nasbench estimators --table {search_table.name}` from the table "
                     f"({search_table.content_hash}), its stored zero-cost proxies and the stored supernet scores; "
                     "regenerated byte-identical.")
    assert md[4] == (f"* Target: test accuracy at epoch 12, mean over seeds [0, 1, 2], on the {len(judged.rows)} cells "
                     "trained for real (isomorphism-class representatives where the table fills members).")
    assert md[6].endswith("judged on the others; mean of 1 draw.")
    assert md[7].startswith("* Cost per cell: `measured` = wall seconds on the machine each result recorded "
                            "(zero-cost proxies and supernet: CPU Z, 4 logical CPUs, 1 torch thread per process); ")
    assert md[8:10] == ["* Zero-cost proxies of disconnected cells are -inf (ranked last, tied).",
                        "* Proxies: batch 16 of the train split, seed 3, network {'channels': 4}."]
    assert md[11].startswith("| id | estimator | family | Spearman | Kendall | Spearman top10% | Kendall top10% |")
    assert md[13:15] == ["| 1 | p on n=5 | predictor | 0.123 | -0.500 | 0.250 | 0.333 | 0.875 | 0.0001235 | table | 30 |",
                         "| 2 | supernet, 1 epoch (RSPS) | weight sharing | 0.900 | 0.800 | 0.000 | 0.000 | 1.000 | 2.5 | "
                         "measured | 40 |"]
    assert (tmp_path / "league.csv").read_text(encoding="utf-8").splitlines() == [
        "id,estimator,family,cells,repeats,cost_s_per_cell,cost_kind,spearman,kendall,spearman_top10,kendall_top10,"
        "top10_precision",
        "1,p on n=5,predictor,30,1,0.0001235,table,0.1235,-0.5000,0.2500,0.3333,0.8750",
        "2,\"supernet, 1 epoch (RSPS)\",weight sharing,40,1,2.5,measured,0.9000,0.8000,0.0000,0.0000,1.0000"]


# --- mutation audit of proxies.py / proxy_store.py ---
def test_synflow_sums_every_output_of_the_network_by_hand() -> None:
    """R is the sum (not the mean) of all outputs for one all-ones input: Linear(2 -> 3) then Linear(3 -> 2), no
    bias, |W1| 1 = [3, 7, 11], |W2| [3, 7, 11] = [1*3 + 1*11, 2*3 + 1*7] = [14, 13]: R = 27, and each layer's flow
    equals R (conserved): synflow = 54 (27 if R were the mean of the 2 outputs, 108 on two all-ones images)."""
    net = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 4.0], [-5.0, 6.0]]))
        net[1].weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [-2.0, 1.0, 0.0]]))
    assert synflow(net, (2,)) == 54.0


def test_grasp_is_zero_when_no_weight_takes_part_in_the_loss() -> None:
    """The logits read only a Linear layer's bias: no Conv2d/Linear weight gets a gradient, so H g is empty and
    grasp is 0 (not an autograd error)."""
    from nasbench_suite.proxies import grasp

    class BiasOnly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc.bias.expand(len(x), 2)

    net = BiasOnly()
    with torch.no_grad():
        net.fc.bias.copy_(torch.tensor([0.5, -0.5]))
    assert grasp(net, Minibatch(torch.ones(4, 3), torch.tensor([0, 1, 0, 1]))) == 0.0


def test_proxies_of_a_network_holding_stale_gradients_are_those_of_a_fresh_one() -> None:
    """grad_norm, snip and synflow clear the gradients a network holds before their own backward pass (the hand
    values of one Linear layer, and 2 * 17 of the two-layer synflow case above, after an earlier backward)."""
    from nasbench_suite.proxies import grad_norm, snip

    net, mb, g = _linear_case()
    w = net[0].weight.detach().clone()
    F.cross_entropy(net(mb.x), mb.y).backward()  # stale: would add to the proxy's own gradient
    assert grad_norm(net, mb) == pytest.approx(float(g.pow(2).sum().sqrt()), rel=1e-5)
    F.cross_entropy(net(mb.x), mb.y).backward()
    assert snip(net, mb) == pytest.approx(float((w * g).abs().sum()), rel=1e-5)
    two = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        two[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 4.0]]))
        two[1].weight.copy_(torch.tensor([[-1.0, 2.0]]))
    two(torch.ones(1, 2)).sum().backward()
    assert synflow(two, (2,)) == 34.0


def test_fisher_naswot_and_zen_leave_no_hook_on_the_network() -> None:
    from nasbench_suite.model import build_network
    from nasbench_suite.proxies import fisher, naswot, zen

    shape = (CONFIG.in_channels, CONFIG.resolution, CONFIG.resolution)
    for run in (lambda net: fisher(net, batch()), lambda net: naswot(net, batch()),
                lambda net: zen(net, shape, 4, torch.Generator().manual_seed(0))):
        net = build_network(GOOD, CONFIG)
        run(net)
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def _zen_by_hand(w: float, x1: torch.Tensor, x2: torch.Tensor, bn: bool) -> float:
    """Zen of 1x1 conv (weight w, bias 0) [-> BatchNorm (1, 0, batch statistics)] -> ReLU -> global pooling."""
    a1, a2 = w * x1.double(), w * x2.double()
    term = 0.0
    if bn:
        mean, var = a1.mean(), a1.var(unbiased=False)
        term = math.log(math.sqrt(float(var)))
        a1 = (a1 - mean) / torch.sqrt(var + 1e-5)
        m2, v2 = a2.mean(), a2.var(unbiased=False)
        a2 = (a2 - m2) / torch.sqrt(v2 + 1e-5)
    delta = float((torch.relu(a2) - torch.relu(a1)).abs().sum(dim=(1, 2, 3)).mean())
    return math.log(delta) + term


def test_zen_by_hand_reinitializes_conv_biases_and_batchnorm_and_is_minus_inf_for_a_constant_map() -> None:
    """zen() draws the conv weight (one N(0, 1) number), then x1 and the perturbation 0.01 e from its generator,
    zeroes conv biases and sets BatchNorm to weight 1, bias 0: a conv bias of -100 (every ReLU off) or a
    BatchNorm of weight 3, bias -100 left in place would make the map constant. A feature map that does not move
    with the input (delta 0) scores -inf (log 0), not a math domain error."""
    from nasbench_suite.proxies import zen

    class Net(nn.Module):
        def __init__(self, bn: bool) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1, bias=not bn)
            self.bn = nn.BatchNorm2d(1) if bn else nn.Identity()
            self.global_pooling = nn.AdaptiveAvgPool2d(1)
            self.scale = 1.0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.global_pooling(torch.relu(self.bn(self.conv(x))) * self.scale).flatten(1)

    for bn in (False, True):
        net = Net(bn)
        with torch.no_grad():
            if bn:
                net.bn.weight.fill_(3.0)
                net.bn.bias.fill_(-100.0)
            else:
                net.conv.bias.fill_(-100.0)
        gen = torch.Generator().manual_seed(5)
        w = float(torch.empty(1).normal_(generator=gen))
        x1 = torch.randn(6, 1, 2, 2, generator=gen)
        x2 = x1 + 0.01 * torch.randn(6, 1, 2, 2, generator=gen)
        assert zen(net, (1, 2, 2), 6, torch.Generator().manual_seed(5)) == pytest.approx(
            _zen_by_hand(w, x1, x2, bn), rel=1e-5), bn
    constant = Net(False)
    constant.scale = 0.0
    assert zen(constant, (1, 2, 2), 6, torch.Generator().manual_seed(5)) == -math.inf


def test_a_disconnected_cell_is_minus_inf_in_zero_seconds_for_every_scored_proxy() -> None:
    cut = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    got = score_cell(cut, batch(), SETTINGS)
    assert {p: got[p] for p in PROXIES if p not in ("params", "flops")} == {
        p: (-math.inf, 0.0) for p in PROXIES if p not in ("params", "flops")}


def test_a_nan_score_is_refused_in_one_exact_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import nasbench_suite.proxies as proxies

    monkeypatch.setattr(proxies, "zen", lambda *a: math.nan)
    with pytest.raises(ProxyError) as info:
        score_cell(GOOD, batch(), SETTINGS, ["zen"])
    assert str(info.value) == (f"proxy zen is NaN on cell {GOOD.index} ({GOOD.to_str()}) at C=4, N=1, 8x8: a NaN has "
                               "no rank; leave zen out (--proxies) for this network shape")


def test_proxy_settings_default_to_a_minibatch_of_64_and_seed_0() -> None:
    assert ProxySettings(CONFIG) == ProxySettings(CONFIG, batch_size=64, seed=0)


def test_cli_proxies_reproduces_the_committed_digits_scores_and_identity(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    """`nasbench proxies --table digits` at its defaults (minibatch 64, seed 0) rescores cells of the committed
    benchmarks_data/proxies/digits folder to its stored values (9 digits; rel 1e-4 leaves room for another CPU's
    float rounding) under the same identity, the machine's fingerprint aside: a change of any proxy's definition,
    of the minibatch or of the initial weights shows here (and needs a new folder). The second run's mean seconds
    are over the cells it was asked for (not cell 0, stored by the first run, at 0 s)."""
    import json

    import pandas as pd

    import benchmarks_data
    from nasbench_suite.cli import main

    committed = Path(benchmarks_data.__file__).parent / "proxies" / "digits"
    out = tmp_path / "p"
    assert main(["proxies", "--table", "digits", "--archs", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    cells = [3110, GOOD.index]  # a 1x1 conv after a dead input edge; 3x3 and 1x1 convs, skip, pool, none
    assert main(["proxies", "--table", "digits", "--archs", ",".join(map(str, cells)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    mine, ref = (json.loads((folder / "proxies.json").read_text()) for folder in (out, committed))
    assert {k: v for k, v in mine.items() if k != "fingerprint"} == {k: v for k, v in ref.items() if k != "fingerprint"}
    got = pd.read_csv(out / "proxies.csv").set_index("arch_index")
    want = pd.read_csv(committed / "proxies.csv").set_index("arch_index")
    assert got.index.tolist() == [0, *sorted(cells)]
    for p in PROXIES:
        assert got.loc[0, p] == want.loc[0, p], p  # -inf, or params/flops
        assert got.loc[cells, p].to_numpy() == pytest.approx(want.loc[cells, p].to_numpy(), rel=1e-4), p
    assert printed[0].startswith("proxies of 2 cells of digits (2 computed now, 0 already stored) in ")
    assert printed[1] == "mean seconds per cell: " + ", ".join(
        f"{p} {got.loc[cells, p + '_seconds'].mean():.4f}" for p in PROXIES)


def test_cli_proxies_takes_the_seed_batch_size_and_resolution_given(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    import json

    from nasbench_suite.cli import main

    assert main(["proxies", "--table", "digits", "--resolution", "12"]) == 2
    assert "a network shape other than the table's (--channels/--cells/--resolution) needs --out DIR" in (
        capsys.readouterr().err)
    out = tmp_path / "p"
    assert main(["proxies", "--table", "digits", "--archs", "0", "--proxies", "params", "--seed", "5",
                 "--batch-size", "8", "--resolution", "12", "--out", str(out)]) == 0
    ident = json.loads((out / "proxies.json").read_text())
    assert (ident["settings"]["seed"], ident["settings"]["batch_size"], ident["settings"]["config"]["resolution"]) == (
        5, 8, 12)
    assert ident["data"]["rows"] == pick_minibatch(ident["data"]["split_size"], 8, 5).tolist()
    assert ident["data"]["resize"] == "bilinear 8x8 -> 12x12 (align_corners=False)"


def test_unknown_proxy_names_are_refused_in_one_exact_message() -> None:
    from nasbench_suite.proxies import check_proxies

    with pytest.raises(ProxyError) as info:
        check_proxies(["snip", "bogus"])
    assert str(info.value) == ("unknown proxy name(s) ['bogus']; proxies are grad_norm, snip, grasp, fisher, synflow, "
                               "jacob_cov, naswot, zen, params, flops")


def test_a_layer_whose_output_the_score_never_reads_adds_nothing() -> None:
    """A Linear layer run in the forward pass but whose output is dropped gets no gradient (None), nor does its
    output (fisher): grad_norm, snip, grasp, fisher and
    synflow equal their hand values of the one-layer case without it (synflow: all-ones input, one layer,
    R = sum |W| = the layer's flow)."""
    from nasbench_suite.proxies import fisher, grad_norm, grasp, snip

    class WithIdle(nn.Module):
        def __init__(self, fc: nn.Module) -> None:
            super().__init__()
            self.fc, self.idle = fc, nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.idle(x)  # run, never read
            return self.fc(x)

    net, mb, g = _linear_case()
    w = net[0].weight.detach().clone()
    a = mb.x @ w.t()
    ga = (torch.softmax(a, dim=1) - F.one_hot(mb.y, 2).float()) / len(mb.y)
    hessian = torch.autograd.functional.hessian(lambda flat: F.cross_entropy(mb.x @ flat.view(2, 3).t(), mb.y),
                                                w.flatten())
    assert grad_norm(WithIdle(net[0]), mb) == pytest.approx(float(g.pow(2).sum().sqrt()), rel=1e-5)
    assert snip(WithIdle(net[0]), mb) == pytest.approx(float((w * g).abs().sum()), rel=1e-5)
    assert grasp(WithIdle(net[0]), mb) == pytest.approx(float(-(w.flatten() * (hessian @ g.flatten())).sum()), rel=1e-4)
    assert fisher(WithIdle(net[0]), mb) == pytest.approx(3 * float((0.5 * (a * ga).pow(2).mean(0)).sum()), rel=1e-5)
    assert synflow(WithIdle(net[0]), (3,)) == pytest.approx(float(w.abs().sum().double()), rel=1e-6)


def test_fisher_skips_a_frozen_layer_on_the_input_by_hand() -> None:
    """A frozen first layer (weights without requires_grad) on an input without it has an output that carries no
    gradient: fisher leaves it out and scores the second layer alone, 3 weights per output channel."""
    from nasbench_suite.proxies import fisher

    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 3, bias=False).requires_grad_(False), nn.Linear(3, 2, bias=False))
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    a = net[0](x) @ net[1].weight.detach().t()
    g = (torch.softmax(a, dim=1) - F.one_hot(y, 2).float()) / len(y)
    assert fisher(net, Minibatch(x, y)) == pytest.approx(3 * float((0.5 * (a * g).pow(2).mean(0)).sum()), rel=1e-5)


def test_a_folder_with_proxies_json_alone_is_no_proxy_folder_and_no_stored_proxies(tmp_path: Path) -> None:
    """A first run killed before it wrote proxies.csv leaves proxies.json alone: load_proxies says the folder is not
    a proxy folder yet (not 'cannot be read'), and stored_for finds no proxies beside the table."""
    from types import SimpleNamespace

    from nasbench_suite.proxy_store import load_proxies, stored_for

    folder = tmp_path / "tables" / "proxies" / "t"
    folder.mkdir(parents=True)
    (folder / "proxies.json").write_text('{"proxies": ["params"], "table": {"content_hash": "h"}}')
    with pytest.raises(ProxyError) as info:
        load_proxies(folder)
    assert str(info.value) == (f"{folder} is not a proxy folder: it needs proxies.json and proxies.csv "
                               "(run `nasbench proxies --table T` first)")
    assert stored_for(SimpleNamespace(name="t", content_hash="h", path=tmp_path / "tables" / "t")) is None


def test_config_for_reads_each_shape_field_from_its_own_manifest_entry() -> None:
    from types import SimpleNamespace

    from nasbench_suite.proxy_store import config_for

    bench = SimpleNamespace(manifest={"protocol": {"channels": 16, "cells": 2},
                                      "dataset": {"in_channels": 3, "resolution": 12, "num_classes": 7}})
    assert config_for(bench) == MacroConfig(channels=16, cells=2, in_channels=3, resolution=12, num_classes=7)
