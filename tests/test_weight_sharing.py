"""Weight-sharing search: the supernet, DARTS' second-order gradient, and short searches end to end."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from nasbench_suite.model import MacroConfig, TinyNetwork
from nasbench_suite.space import Arch
from nasbench_suite.supernet import Supernet, derive, onehot_weights, standalone_state_dict

CFG = MacroConfig(channels=4, cells=1, in_channels=1, resolution=8, num_classes=3)


def _seeded(fn, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()


def _perturb_bn(net):
    """Non-trivial BN affine parameters and running statistics, so the copy is really checked."""
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                if m.affine:
                    m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
                if m.track_running_stats:
                    m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=g))


@pytest.mark.parametrize("arch", ["|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
                                  "|skip_connect~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
                                  (0, 0, 0, 0, 0, 0)])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_onehot_supernet_is_the_standalone_network(arch, mode):
    arch = Arch.parse(arch)
    cfg = MacroConfig(channels=4, cells=2, in_channels=1, resolution=8, num_classes=3)
    net = _seeded(lambda: Supernet(cfg))
    _perturb_bn(net)
    alone = TinyNetwork(arch, cfg)
    alone.load_state_dict(standalone_state_dict(net, arch), strict=True)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    net.train(mode == "train")
    alone.train(mode == "train")
    with torch.no_grad():
        want = alone(x)
        got = net(x, onehot_weights(arch))
        got_path = net(x, onehot_weights(arch), torch.as_tensor(arch.ops))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got_path, want, rtol=1e-5, atol=1e-6)
    assert derive(onehot_weights(arch)) == arch


def test_search_cell_batchnorm_is_affine_free_as_in_nb201():
    """NB201's SearchCell (and DARTS' MixedOp) build the candidate ops with affine=False: a conv op must not
    learn a BN scale that rescales its output against the mixing weights. Stem, reductions and head keep it."""
    from nasbench_suite.supernet import SearchCell

    net = _seeded(lambda: Supernet(CFG))
    in_cells = [m for c in net.cells if isinstance(c, SearchCell) for m in c.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    elsewhere = [m for c in [net.stem, net.lastact, *(c for c in net.cells if not isinstance(c, SearchCell))]
                 for m in c.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(in_cells) == 3 * 6 * 2 and elsewhere  # 3 stages x 6 edges x (1x1, 3x3)
    assert not any(m.affine for m in in_cells) and all(m.affine for m in elsewhere)
    assert not any(".edges." in n and n.endswith((".weight", ".bias")) and p.dim() == 1 for n, p in net.named_parameters())


def _edge_batchnorms(net):
    from nasbench_suite.supernet import SearchCell

    return [m for c in net.cells if isinstance(c, SearchCell) for m in c.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_cells_without_running_stats_normalise_with_batch_statistics_in_eval_mode():
    """bn_scoring='nb201' builds the supernet as NB201's scripts do under --track_running_stats 0: the search
    cells' BatchNorm (track_running_stats=False) has no running buffers and, by PyTorch's rule, uses batch
    statistics in eval mode too; stem, reductions and head keep theirs. The weights are those of the default
    supernet, and a train-mode forward is the same."""
    net = _seeded(lambda: Supernet(CFG, cell_running_stats=False))
    default = _seeded(lambda: Supernet(CFG))
    cells = _edge_batchnorms(net)
    elsewhere = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) and m not in cells]
    assert len(cells) == 3 * 6 * 2 and elsewhere
    assert all(not m.track_running_stats and m.running_mean is None and m.running_var is None for m in cells)
    assert all(m.track_running_stats and m.running_mean is not None for m in elsewhere)
    assert not any(".edges." in k for k, _ in net.named_buffers())
    assert all(m.track_running_stats for m in _edge_batchnorms(default))  # the default keeps them
    params = dict(default.named_parameters())
    assert all(torch.equal(p, params[n]) for n, p in net.named_parameters()) and len(params) == len(list(net.parameters()))
    x = torch.randn(6, 4, 8, 8, generator=torch.Generator().manual_seed(5)) * 3 + 2
    cells[0].eval()
    torch.testing.assert_close(cells[0](x), F.batch_norm(x, None, None, training=True))
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(net.train()(x, onehot_weights(arch)), default.train()(x, onehot_weights(arch)))


def test_standalone_network_of_a_supernet_without_cell_running_stats():
    """The export fills the cell BatchNorms' missing running statistics with a fresh module's: the standalone
    network loads strictly, matches in train mode, and with its cell BatchNorms on batch statistics (train mode)
    and the rest in eval mode it computes what the supernet computes in eval mode."""
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    cfg = MacroConfig(channels=4, cells=2, in_channels=1, resolution=8, num_classes=3)
    net = _seeded(lambda: Supernet(cfg, cell_running_stats=False))
    _perturb_bn(net)
    state = standalone_state_dict(net, arch)
    alone = TinyNetwork(arch, cfg)
    alone.load_state_dict(state, strict=True)
    edge_keys = [k for k in state if k.startswith("cells.") and k.endswith("running_var") and ".layers." in k]
    assert edge_keys and all(torch.equal(state[k], torch.ones_like(state[k])) for k in edge_keys)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(net.train()(x, onehot_weights(arch)), alone.train()(x), rtol=1e-5, atol=1e-6)
        alone.eval()
        for name, m in alone.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d) and ".layers." in name:
                m.train()
        torch.testing.assert_close(net.eval()(x, onehot_weights(arch)), alone(x), rtol=1e-5, atol=1e-6)


def _scoring_context(net, bn_scoring, x, y):
    from nasbench_suite.weight_sharing import Context, SearchSettings

    return Context(net, None, SearchSettings(1, bn_scoring=bn_scoring), np.random.default_rng(0), x, y, len(y), 1)


def test_nb201_scoring_uses_running_statistics_outside_the_cells_and_leaves_them_as_they_are():
    """A crafted case: labels are what the batch-statistics forward predicts (batch scoring: 100%); the stem's
    and head's running statistics are set far from the batch's, so eval-mode scoring (bn_scoring='nb201')
    reads them and scores lower. Scoring in nb201 mode changes no buffer; batch scoring (train mode) does."""
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    net = _seeded(lambda: Supernet(CFG, cell_running_stats=False))
    x = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        y = net.train()(x, onehot_weights(arch)).argmax(1)
        for bn in (net.stem[1], net.lastact[0]):
            bn.running_mean.fill_(2.0)
            bn.running_var.fill_(0.05)
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    nb201 = _scoring_context(net, "nb201", x, y).accuracy(arch)
    assert all(torch.equal(v, buffers[k]) for k, v in net.named_buffers())
    assert not net.training  # scored in eval mode
    batch = _scoring_context(net, "batch", x, y).accuracy(arch)
    assert batch == 100.0 and nb201 < 90.0
    assert not torch.equal(net.stem[1].running_mean, buffers["stem.1.running_mean"])  # train mode moves them


@pytest.mark.parametrize("name, default, allowed, bads", [
    ("bn_scoring", "batch", "'batch', 'nb201'", ("eval", "NB201", 1, None)),
    ("zero_grad", "none", "'none', 'zero'", ("None", "in_place", 0, None))])
def test_loop_settings_are_checked(name, default, allowed, bads):
    from nasbench_suite.weight_sharing import SearchSettings, WeightSharingError

    assert getattr(SearchSettings(1), name) == default
    for bad in bads:
        with pytest.raises(WeightSharingError, match=rf"^setting {name}={bad!r} must be one of {allowed}$"):
            SearchSettings(1, **{name: bad})


@pytest.mark.parametrize("settings, message", [
    # were taken: an infinite lr, lr_min or weight decay made the weights NaN; 10**12 epochs ran for ever
    ({"lr": float("inf")}, r"setting lr=inf must be a finite number in (0, 10]"),
    ({"lr": 1e308}, r"setting lr=1e+308 must be a finite number in (0, 10]"),
    ({"lr": float("inf"), "lr_min": float("inf")}, r"setting lr=inf must be a finite number in (0, 10]"),
    ({"weight_decay": float("inf")}, r"setting weight_decay=inf must be a finite number in [0, 10]"),
    ({"grad_clip": float("inf")}, r"setting grad_clip=inf must be a finite number > 0 (the largest gradient norm "
                                  r"kept; a large one clips nothing)"),
    ({"epochs": 10**12}, r"setting epochs=1000000000000 must be an integer in [1, 100000]"),
    # refused before in one message naming none of them ("need lr > 0, 0 <= lr_min <= lr, ...")
    ({"lr": 0.0}, r"setting lr=0.0 must be a finite number in (0, 10]"),
    ({"lr": float("nan")}, r"setting lr=nan must be a finite number in (0, 10]"),
    ({"lr_min": -1.0}, r"setting lr_min=-1.0 must be a finite number in [0, 10]"),
    ({"momentum": 1.0}, r"setting momentum=1.0 must be a finite number in [0, 1)"),
    ({"grad_clip": 0.0}, r"setting grad_clip=0.0 must be a finite number > 0"),
    ({"lr": 0.01, "lr_min": 0.02}, r"need lr_min <= lr (the cosine schedule's end and start), got lr_min=0.02, "
                                   r"lr=0.01"),
    ({"epochs": 0}, r"setting epochs=0 must be an integer in [1, 100000]"),
    ({"channels": 0}, r"setting channels=0 must be an integer >= 1 or null (null: the table protocol's)"),
    ({"batch_size": 2.5}, r"setting batch_size=2.5 must be an integer >= 1 or null"),
    ({"nesterov": "no"}, r"setting nesterov='no' must be true or false"),  # truthy: Nesterov was on
    ({"nesterov": 0}, r"setting nesterov=0 must be true or false"),
])
def test_search_settings_out_of_their_range_name_the_setting(settings: dict, message: str) -> None:
    from nasbench_suite.weight_sharing import SearchSettings, WeightSharingError

    with pytest.raises(WeightSharingError) as info:
        SearchSettings(**{"epochs": 1, **settings})
    assert str(info.value).startswith(message), str(info.value)


def test_search_settings_at_the_ends_of_their_bounds_are_accepted() -> None:
    from nasbench_suite.weight_sharing import SearchSettings

    SearchSettings(100_000, lr=10.0, lr_min=10.0, momentum=0.999, weight_decay=10.0, grad_clip=1e300, channels=1,
                   cells=1, batch_size=1)
    SearchSettings(1, lr=1e-300, lr_min=0.0, momentum=0.0, weight_decay=0.0, grad_clip=1e-300)


@pytest.mark.parametrize("zero_grad", ["none", "zero"])
def test_an_op_off_the_sampled_path_takes_a_momentum_step_only_with_in_place_zeroing(zero_grad):
    """NB201's scripts call ``optimizer.zero_grad()``, which on the torch 1.x they ran on zeroed every gradient
    in place: an op a path step (GDAS, RSPS, ENAS) does not run still took its SGD step (momentum, weight
    decay). torch 2's default sets gradients to None and SGD skips the op. ``zero_grad="zero"`` is the
    first; the default, "none", the second (review finding: the README did not say which)."""
    from nasbench_suite.space import CONV1, CONV3
    from nasbench_suite.weight_sharing import Context, SearchSettings

    def context(settings: SearchSettings) -> Context:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = Supernet(CFG)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        return Context(net, opt, settings, np.random.default_rng(0), x, y, 8, 1, lr=0.05)

    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 3, (8,), generator=g)
    ctx, ref = context(SearchSettings(1, zero_grad=zero_grad)), context(SearchSettings(1))
    conv3_edge0 = "cells.0.edges.0.ops.3.op.1.weight"
    for arch in (Arch((CONV3,) * 6), Arch((CONV1,) * 6)):  # the second step leaves every conv3x3 out
        before = dict(ctx.net.named_parameters())[conv3_edge0].detach().clone()
        ctx.weight_step(x, y, onehot_weights(arch), torch.as_tensor(arch.ops))
        ref.net.train()  # what NB201's scripts do, by hand: gradients zeroed in place
        loss = F.cross_entropy(ref.net(x, onehot_weights(arch), torch.as_tensor(arch.ops)), y)
        ref.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.net.parameters(), 5.0)
        ref.optimizer.step()
    after = dict(ctx.net.named_parameters())[conv3_edge0].detach()
    if zero_grad == "zero":
        torch.testing.assert_close(after, dict(ref.net.named_parameters())[conv3_edge0].detach())
        assert not torch.equal(after, before)
    else:  # left out of the second step: its weights are as the first step left them
        assert torch.equal(after, before)


def test_supernet_rejects_bad_weights():
    from nasbench_suite.errors import ModelConfigError

    net = _seeded(lambda: Supernet(CFG))
    with pytest.raises(ModelConfigError):
        net(torch.zeros(1, 1, 8, 8), torch.zeros(5, 6))


def test_second_order_gradient_matches_autograd_through_the_unrolled_step():
    """DARTS-V2's finite-difference hypergradient vs the exact one: autograd through an explicit
    virtual SGD step (weight decay and a momentum term included), in float64. The finite-difference
    step is taken small (epsilon 1e-5, float64) so that the check tests the formula: at DARTS' own
    epsilon (0.01) the central difference straddles ReLU kinks and is itself an approximation."""
    from algorithms.darts import unrolled_alpha_grad

    net = _seeded(lambda: Supernet(CFG)).double()
    _perturb_bn(net)
    g = torch.Generator().manual_seed(3)
    x, xv = torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64), torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64)
    y, yv = torch.randint(0, 3, (6,), generator=g), torch.randint(0, 3, (6,), generator=g)
    alpha = 0.5 * torch.randn(6, 5, generator=g, dtype=torch.float64)
    xi, wd = 0.05, 5e-4
    names = [n for n, _ in net.named_parameters()]
    w = [p for _, p in net.named_parameters()]
    momentum = [0.01 * torch.randn(p.shape, generator=g, dtype=torch.float64) for p in w]

    a = alpha.clone().requires_grad_(True)
    net.train()
    loss_t = F.cross_entropy(net(x, a.softmax(-1)), y)
    grads = torch.autograd.grad(loss_t, w, create_graph=True)
    w_virtual = {n: p - xi * (gp + wd * p + m) for n, p, gp, m in zip(names, w, grads, momentum)}
    loss_v = F.cross_entropy(functional_call(net, w_virtual, (xv, a.softmax(-1))), yv)
    exact = torch.autograd.grad(loss_v, a)[0]

    net.eval()  # as bn_scoring="nb201" scoring leaves it: the hypergradient is taken in train mode all the same
    approx = unrolled_alpha_grad(net, alpha, x, y, xv, yv, xi=xi, weight_decay=wd, momentum_terms=momentum,
                                 epsilon=1e-5)
    first_order = torch.autograd.grad(F.cross_entropy(net(xv, a.softmax(-1)), yv), a)[0]
    assert not torch.allclose(exact, first_order, rtol=1e-3, atol=1e-6)  # the check has teeth
    torch.testing.assert_close(approx, exact, rtol=1e-4, atol=1e-7)


def test_second_order_gradient_moves_running_statistics_only_by_the_train_passes():
    """NB201's backward_step_unrolled runs the virtual model w' on a deep copy, so the network's BatchNorm
    running statistics take only the three train-minibatch passes (at w, w+ and w-); ours ran w' on the
    network itself, a fourth update from the valid minibatch (read by bn_scoring=nb201's eval-mode scoring
    of darts-v2's value). The valid pass now updates copies of the buffers."""
    from algorithms.darts import unrolled_alpha_grad

    g = torch.Generator().manual_seed(4)
    x, xv = torch.randn(6, 1, 8, 8, generator=g), torch.randn(6, 1, 8, 8, generator=g)
    y, yv = torch.randint(0, 3, (6,), generator=g), torch.randint(0, 3, (6,), generator=g)
    net = _seeded(lambda: Supernet(CFG))
    before = {k: int(v) for k, v in net.state_dict().items() if k.endswith("num_batches_tracked")}
    unrolled_alpha_grad(net, 0.5 * torch.randn(6, 5, generator=g), x, y, xv, yv, xi=0.05)
    after = {k: int(v) for k, v in net.state_dict().items() if k.endswith("num_batches_tracked")}
    assert before and after == {k: v + 3 for k, v in before.items()}


# ----- searches end to end -------------------------------------------------------------------------
METHODS = ["darts-v1", "darts-v2", "gdas", "rsps", "enas"]
SMALL = {"darts-v1": {}, "darts-v2": {}, "gdas": {}, "rsps": {"candidates": 5},
         "enas": {"controller_steps": 2, "controller_samples": 2}}


@pytest.fixture(scope="module")
def ws_table(tmp_path_factory):
    """A full-coverage table whose manifest names the synthetic dataset and a C=4, N=1 protocol.
    Its accuracies are GENERATED values (tests/fixture_tables.py), not training results."""
    from nasbench_suite.table import build_table
    from nasbench_suite.train import Protocol
    from tests.fixture_tables import search_results

    protocol = Protocol("synthetic", channels=4, cells=1, epochs=2, batch_size=100)
    out = tmp_path_factory.mktemp("tables") / "ws-synthetic"
    build_table(search_results(seeds=(0,), epochs=2), out, name="ws-synthetic",
                metadata={"dataset": {"name": "synthetic"}, "protocol": protocol.to_dict(),
                          "description": "generated values for tests (not trained)"})
    return out


@pytest.fixture(scope="module")
def short_search(ws_table, tmp_path_factory):
    """``short_search(method)``: `nasbench darts` of ``method`` (SMALL settings, seeds 0-1, 2 epochs, the default
    loop settings) on ws_table, in-process, made once per method for the tests that read it: (exit status,
    stdout, out folder). Its folders are read, never written, by those tests."""
    import contextlib
    import io

    from nasbench_suite.cli import main

    made = {}

    def search(method: str) -> tuple[int, str, Path]:
        if method not in made:
            out, printed = tmp_path_factory.mktemp(f"darts-{method}") / "a", io.StringIO()
            argv = ["darts", "--table", str(ws_table), "--method", method, "--seeds", "0-1", "--epochs", "2"]
            for k, v in SMALL[method].items():
                argv += ["--set", f"{k}={v}"]
            with contextlib.redirect_stdout(printed):
                code = main(argv + ["--out", str(out)])
            made[method] = (code, printed.getvalue(), out)
        return made[method]

    return search


@pytest.fixture(scope="module")
def default_run(ws_table):
    """``default_run(method)``: ``weight_sharing.run_one`` of ``method`` (SMALL settings) with run seed 0 and
    ``SearchSettings(epochs=2)`` on ws_table, made once per method for the tests that read it (a new copy each
    call)."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    made = {}

    def run(method: str):
        if method not in made:
            made[method] = weight_sharing.run_one(load_table(ws_table), method, 0,
                                                  weight_sharing.SearchSettings(epochs=2), SMALL[method])
        return {k: v.copy() if hasattr(v, "copy") else v for k, v in made[method].items()}

    return run


@pytest.mark.parametrize("method", METHODS)
def test_short_search_writes_tidy_results(ws_table, tmp_path, method, short_search):
    import json

    import pandas as pd

    from nasbench_suite.cli import main
    from nasbench_suite.space import NUM_EDGES
    from nasbench_suite.table import load_table

    argv = ["darts", "--table", str(ws_table), "--method", method, "--seeds", "0-1", "--epochs", "2"]
    for k, v in SMALL[method].items():
        argv += ["--set", f"{k}={v}"]
    argv += ["--out", str(tmp_path / "a")]
    code, printed, out = short_search(method)  # `main(argv)`, its --out the fixture's folder
    assert code == 0
    assert "table test accuracy" in printed
    frame = pd.read_parquet(out / "trajectories.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(frame) == 4 and list(frame["seed"]) == [0, 0, 1, 1] and list(frame["step"]) == [0, 1, 0, 1]
    assert (frame["strategy"] == method).all()
    assert (frame[[c for c in frame if c.startswith("ops_")]].sum(axis=1) == NUM_EDGES).all()
    bench = load_table(ws_table)
    for row in frame.itertuples():
        assert row.incumbent_index == row.arch_index == Arch.from_str(row.arch_str).index
        assert row.incumbent_test_acc == pytest.approx(bench.metric(row.arch_index, "test", epoch=2))
        assert row.table_valid_acc == pytest.approx(bench.metric(row.arch_index, "valid", epoch=2))
        assert row.measured_seconds > 0 and 0 <= row.value <= 100
    assert manifest["cost"]["kind"] == "measured" and manifest["supernet"]["config"]["channels"] == 4
    assert manifest["strategy"]["name"] == method and manifest["seeds"]["ranges"] == "0-1"
    # the CPU the seconds were measured on, by its model name (platform.processor() is '' on Linux: it said "cpu")
    from nasbench_suite.machine import cpu_model

    timing = json.loads((out / "timing.json").read_text())
    assert manifest["cost"]["device_name"] == timing["device_name"] == (cpu_model() or "cpu")
    assert timing["run_seconds"] == frame.groupby("seed")["measured_time"].last().tolist()  # each run's total

    # the same seed gives the same search (every column but the measured seconds)
    assert main(argv[:-1] + [str(tmp_path / "b")]) == 0
    again = pd.read_parquet(tmp_path / "b" / "trajectories.parquet")
    measured = ["measured_seconds", "measured_time"]
    pd.testing.assert_frame_equal(frame.drop(columns=measured), again.drop(columns=measured))


BEFORE_BN_SCORING = {"rsps": ([4079, 6616], [8.0, 12.0], [2.3524792790412903, 2.3326415419578552]),
                     "enas": ([3081, 7891], [13.0, 15.0], [2.3644497990608215, 2.3384077548980713]),
                     "gdas": ([5045, 5670], [16.0, 17.0], [2.3556928038597107, 2.335374414920807])}
PINNED_EXPONENTIAL = [3.508326292037964, 1.2303847074508667, 0.615044116973877]
"""torch 2.13's first three CPU ``exponential_`` draws after seed 0. GDAS's Gumbel noise is drawn so (as NB201's
code draws it); torch 2.1 draws other numbers (its ``rand`` and ``randn`` draw the same), so there GDAS searches
other cells."""


@pytest.mark.parametrize("method", sorted(BEFORE_BN_SCORING))
def test_default_bn_scoring_reproduces_the_searches_made_before_the_setting(default_run, method):
    """bn_scoring='batch' (the default) is the loop as it was: these derived cells, supernet valid accuracies
    and train losses are what the code before the bn_scoring setting gave (seed 0, 2 epochs)."""
    drawn = torch.empty(3).exponential_(generator=torch.Generator().manual_seed(0)).tolist()
    if method == "gdas" and drawn != PINNED_EXPONENTIAL:
        pytest.skip(f"torch {torch.__version__} draws exponential_ (GDAS's Gumbel noise) unlike the torch the pin was made on")
    cells, values, losses = BEFORE_BN_SCORING[method]
    run = default_run(method)  # run_one(ws_table, method, 0, SearchSettings(epochs=2), SMALL[method])
    assert run["arch_index"].tolist() == cells and run["value"].tolist() == values
    np.testing.assert_allclose(run["supernet_train_loss"], losses, rtol=1e-6)


@pytest.mark.parametrize("method", ["gdas", "rsps"])
def test_in_place_zeroing_reaches_the_path_methods(ws_table, method, default_run):
    """GDAS cleared the supernet's gradients to None itself after its alpha step, so zero_grad="zero" in the
    weight step alone changed nothing there: every step still found the ops off its path without a gradient."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    # zero_grad="none" is the default: its run is default_run's, SearchSettings(epochs=2)
    assert weight_sharing.SearchSettings(epochs=2, zero_grad="none") == weight_sharing.SearchSettings(epochs=2)
    runs = [default_run(method), weight_sharing.run_one(load_table(ws_table), method, 0,
                                                        weight_sharing.SearchSettings(epochs=2, zero_grad="zero"),
                                                        SMALL[method])]
    assert runs[0]["supernet_train_loss"][-1] != runs[1]["supernet_train_loss"][-1]


def test_a_protocol_that_augments_augments_both_minibatches_of_every_step(tmp_path, monkeypatch):
    """The table's protocol says augment (random crop + flip, as its own training did and as NB201's
    SearchDataset does for both halves): the weight-sharing loop trained on raw images whatever it said.
    Every step's train and valid minibatch now go through augment_batch, with the protocol's padding."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import build_table, load_table
    from nasbench_suite.train import Protocol, augment_batch
    from tests.fixture_tables import search_results

    protocol = Protocol("synthetic", channels=4, cells=1, epochs=2, batch_size=100, augment=True, crop_padding=2)
    out = tmp_path / "aug"
    build_table(search_results(seeds=(0,), epochs=2), out, name="ws-aug",
                metadata={"dataset": {"name": "synthetic"}, "protocol": protocol.to_dict(),
                          "description": "generated values for tests (not trained)"})
    calls, outputs = [], []

    def recording(x, rng, padding, pad_value):
        calls.append((len(x), padding))
        outputs.append(augment_batch(x, rng, padding, pad_value))
        return outputs[-1]

    monkeypatch.setattr(weight_sharing, "augment_batch", recording)
    stepped = []
    monkeypatch.setattr("algorithms.rsps.RSPS.step", lambda self, ctx, x, y, xv, yv: stepped.append((x, xv)))
    weight_sharing.run_one(load_table(out), "rsps", 0, weight_sharing.SearchSettings(epochs=1), SMALL["rsps"])
    assert stepped and calls == [(len(x), 2) for x, _ in stepped for _ in range(2)]
    # the method is handed the augmented images themselves: the train minibatch's, then the valid one's
    assert all(x is outputs[2 * i] and xv is outputs[2 * i + 1] for i, (x, xv) in enumerate(stepped))

    from nasbench_suite.league import train_and_score_supernet  # the league's supernet estimator: its train batches

    calls.clear()
    train_and_score_supernet(load_table(out), np.array([0, 1, 2]), epochs=1)
    assert calls and all(padding == 2 for _, padding in calls) and sum(n for n, _ in calls) == len(calls) * 100


@pytest.mark.parametrize("method", ["gdas", "rsps"])
def test_nb201_bn_scoring_from_the_cli(ws_table, tmp_path, method, short_search):
    """--set bn_scoring=nb201 reaches the loop (not the method) and is recorded in the manifest. Training is the
    same, so the train losses match the default's; GDAS derives by argmax of alpha, so its cells match too and
    only the supernet's scoring (value) can differ; RSPS picks its cells by that scoring."""
    import json

    import pandas as pd

    from nasbench_suite.cli import main

    argv = ["darts", "--table", str(ws_table), "--method", method, "--seeds", "0", "--epochs", "2"]
    for k, v in SMALL[method].items():
        argv += ["--set", f"{k}={v}"]
    code, _, default = short_search(method)  # the same command with the default bn_scoring, seeds 0-1: seed 0's rows
    assert code == 0
    assert main(argv + ["--set", "bn_scoring=nb201", "--out", str(tmp_path / "nb201")]) == 0
    folders = {"batch": default, "nb201": tmp_path / "nb201"}
    batch, nb201 = (pd.read_parquet(folders[d] / "trajectories.parquet") for d in ("batch", "nb201"))
    batch = batch[batch["seed"] == 0].reset_index(drop=True)
    assert len(batch) == len(nb201) == 2 and (nb201["seed"] == 0).all()
    manifests = {d: json.loads((folders[d] / "manifest.json").read_text()) for d in ("batch", "nb201")}
    assert {d: m["supernet"]["search_settings"]["bn_scoring"] for d, m in manifests.items()} == {
        "batch": "batch", "nb201": "nb201"}
    assert "bn_scoring" not in manifests["nb201"]["strategy"]["settings"]
    np.testing.assert_array_equal(batch["supernet_train_loss"], nb201["supernet_train_loss"])
    if method == "gdas":
        assert batch["arch_index"].tolist() == nb201["arch_index"].tolist()
    assert batch["value"].tolist() != nb201["value"].tolist()


def test_valid_minibatch_has_the_train_minibatch_size_also_in_the_last_step(ws_table, monkeypatch):
    """400 train images in batches of 64: the 7th step has 16; its valid batch has 16 too (NB201's
    SearchDataset pairs a valid image with each train image), not 64."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    class Probe(weight_sharing.Method):
        name = "probe"
        sizes: list[tuple[int, int]] = []

        def step(self, ctx, x, y, xv, yv):
            self.sizes.append((len(y), len(yv)))

        def derive(self, ctx):
            return Arch.from_index(0)

    probe = Probe()
    monkeypatch.setattr(weight_sharing, "make_method", lambda name, settings=None: probe)
    weight_sharing.run_one(load_table(ws_table), "probe", 0, weight_sharing.SearchSettings(epochs=1, batch_size=64))
    assert probe.sizes == [(64, 64)] * 6 + [(16, 16)]


def test_darts_cli_user_errors(ws_table, tmp_path, capsys):
    from nasbench_suite.cli import main

    base = ["darts", "--table", str(ws_table), "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main(base + ["--method", "rsps", "--set", "bogus=1"]) == 2
    assert main(base + ["--method", "rsps", "--channels", "0"]) == 2
    assert main(["darts", "--table", str(tmp_path / "nope"), "--method", "gdas", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert main(base + ["--method", "rsps", "--seeds", str(2**63)]) == 2  # was an OverflowError after the runs
    assert main(base + ["--method", "gdas", "--set", "bn_scoring=eval"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "seeds must be at most 2**63 - 1" in err[3]
    assert len(err) == 5 and all(line.startswith("nasbench: error:") for line in err)
    assert err[-1] == "nasbench: error: setting bn_scoring='eval' must be one of 'batch', 'nb201'"
    assert not (tmp_path / "o").exists()


def test_darts_never_replaces_a_table_folder(ws_table, tmp_path, capsys):
    """--out naming a table (or any folder whose manifest.json is not search results) is refused before
    the search, even with --overwrite; the table is left as it was."""
    import pandas as pd

    from nasbench_suite.cli import main
    from nasbench_suite.search import SearchOutputError, SearchResults
    from tests.fixture_tables import tiny_clock_table

    target = tmp_path / "table"
    tiny_clock_table(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    assert main(["darts", "--table", str(ws_table), "--method", "rsps", "--set", "candidates=5", "--seeds", "0",
                 "--epochs", "1", "--out", str(target), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error:") and "not search results" in err and err.count("\n") == 1
    with pytest.raises(SearchOutputError, match="not search results"):
        SearchResults(pd.DataFrame(), {}, {}).write(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_table_without_protocol_is_a_user_error(tmp_path, capsys):
    from nasbench_suite.cli import main
    from tests.fixture_tables import tiny_clock_table

    tiny_clock_table(tmp_path / "t")
    assert main(["darts", "--table", str(tmp_path / "t"), "--method", "rsps", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "protocol" in capsys.readouterr().err


@pytest.fixture(scope="module")
def partial_ws_table(tmp_path_factory):
    """ws_table's protocol on a table that holds only cells 0..999 (GENERATED values)."""
    from nasbench_suite.table import build_table
    from nasbench_suite.train import Protocol
    from tests.fixture_tables import search_results

    protocol = Protocol("synthetic", channels=4, cells=1, epochs=2, batch_size=100)
    frame = search_results(seeds=(0,), epochs=2)
    out = tmp_path_factory.mktemp("tables") / "ws-partial"
    build_table(frame[frame["arch_index"] < 1000], out, name="ws-partial",
                metadata={"dataset": {"name": "synthetic"}, "protocol": protocol.to_dict(),
                          "description": "generated values for tests (not trained)"})
    return out


def test_a_table_of_some_cells_is_refused_before_any_training(partial_ws_table, tmp_path, capsys, monkeypatch):
    """A method can derive any cell and each epoch's cell is looked up in the table: on digits-sample
    (200 cells) `nasbench darts` trained an epoch, then stopped at 'derived cell 2298 ... is not in table';
    a multi-seed run could fail at any epoch of any seed. Now refused before the data is loaded."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.cli import main

    loaded = []
    monkeypatch.setattr(weight_sharing, "load_protocol_data", lambda *a, **k: loaded.append(a) or 1 / 0)
    assert main(["darts", "--table", str(partial_ws_table), "--method", "gdas", "--seeds", "0", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == ("nasbench: error: table 'ws-partial' holds 1000 of the 15625 cells; a weight-sharing search can "
                   "derive any cell and looks it up in the table, so it needs a table that holds every cell\n")
    assert not loaded and not (tmp_path / "o").exists()


def test_compare_refuses_weight_sharing_on_a_table_of_some_cells_before_the_replays(partial_ws_table, tmp_path,
                                                                                    monkeypatch):
    from nasbench_suite import search
    from nasbench_suite.compare import run_compare
    from nasbench_suite.compare_config import load_config
    from nasbench_suite.weight_sharing import WeightSharingError

    config = tmp_path / "c.toml"
    config.write_text(f'name = "p"\ntable = "{partial_ws_table.as_posix()}"\nseeds = "0"\nworkers = 1\n'
                      '[budget]\nqueries = 5\n[latency]\nsource = "none"\n[[strategy]]\nname = "random"\n'
                      '[weight_sharing]\nmethods = ["gdas"]\nseeds = "0"\nepochs = 1\n')
    replayed = []
    monkeypatch.setattr(search, "run_many", lambda *a, **k: replayed.append(a) or 1 / 0)
    with pytest.raises(WeightSharingError, match="holds 1000 of the 15625 cells"):
        run_compare(load_config(config), tmp_path / "runs")
    assert not replayed and not (tmp_path / "runs").exists()


def test_gumbel_sample_is_hard_forward_soft_backward():
    from algorithms.gdas import gumbel_hard

    alpha = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    weights, index = _seeded(lambda: gumbel_hard(alpha, tau=1.0))
    torch.testing.assert_close(weights.detach(), F.one_hot(index, 5).float())
    (weights * torch.arange(5.0)).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_enas_controller_moves_towards_rewarded_cells():
    """REINFORCE with the EMA baseline on a stand-in reward: cells whose edge 0 is nor_conv_3x3 score 100."""
    from types import SimpleNamespace

    from algorithms.enas import ENAS
    from nasbench_suite.space import CONV3

    method = ENAS(controller_steps=30, controller_lr=0.1)
    ctx = SimpleNamespace(rng=np.random.default_rng(0), valid_batch=lambda: (None, None),
                          accuracy=lambda arch, x, y: 100.0 if arch.ops[0] == CONV3 else 0.0)
    method.setup(ctx)
    method.end_epoch(ctx, 1)
    assert int(method.logits.argmax(dim=1)[0]) == CONV3
    assert method.derive(ctx).ops[0] == CONV3


def test_enas_derives_the_best_sampled_cell_not_the_policy_argmax():
    """ENAS and NB201's get_best_arch keep the best of cells sampled from the policy, each scored on a valid
    minibatch; not the policy's argmax per edge (here the all-avg_pool cell: a policy far from uniform, so that
    cells drawn uniformly, not from the policy, would be other cells)."""
    from types import SimpleNamespace

    from algorithms.enas import ENAS
    from nasbench_suite.space import CONV3, POOL

    def score(arch, x=None, y=None):
        return float(sum(op == CONV3 for op in arch.ops))

    logits = torch.zeros(6, 5, dtype=torch.float64)
    logits[:, POOL] = 2.0
    method = ENAS()  # derive_samples: 10, NB201's per-epoch get_best_arch
    c = SimpleNamespace(rng=np.random.default_rng(0), valid_batch=lambda size=None: (None, None), accuracy=score)
    method.setup(c)
    with torch.no_grad():
        method.logits.copy_(logits)
    derived = method.derive(c)
    rng, p = np.random.default_rng(0), logits.softmax(1).numpy()
    sampled = [Arch(tuple(int(rng.choice(5, p=row / row.sum())) for row in p)) for _ in range(10)]
    assert derived == max(sampled, key=score) and score(derived) >= 1 and derived != Arch((POOL,) * 6)


def test_method_settings_of_the_wrong_kind_are_refused() -> None:
    from nasbench_suite.weight_sharing import WeightSharingError, make_method

    with pytest.raises(WeightSharingError, match=r"gdas: setting tau_max='abc' must be a number"):
        make_method("gdas", {"tau_max": "abc"})
    assert make_method("gdas", {"tau_max": 5}).settings()["tau_max"] == 5  # an integer is a number


@pytest.mark.parametrize("method, settings", [
    ("gdas", {"tau_max": 0.0, "tau_min": 0.0}),  # used to divide by zero and resample forever
    ("gdas", {"tau_max": -1.0}),
    ("rsps", {"candidates": 0}),
    ("darts-v1", {"arch_lr": -1.0}),
    ("darts-v2", {"arch_betas": [0.5, 1.5]}),
    ("darts-v1", {"arch_betas": [0.5, 1.0]}),  # Adam's beta2 = 1 never moves its second moment off 0
    ("enas", {"controller_steps": 0}),
    ("enas", {"derive_samples": 0}),  # derive would keep the best of no cells
    ("enas", {"baseline_decay": 1.5}),
    # infinite values (--set tau_max=1e999 reads as inf) were accepted: tau = inf - (inf - tau_min) * frac is NaN,
    # and gdas resampled its Gumbel noise forever at the first step; an infinite lr or alpha made alpha or the
    # controller's logits inf/NaN
    ("gdas", {"tau_max": float("inf")}),
    ("gdas", {"alpha_init_std": float("inf")}),
    ("darts-v1", {"arch_lr": float("inf")}),
    ("darts-v2", {"arch_weight_decay": float("inf")}),
    ("enas", {"controller_lr": float("inf")}),
    ("enas", {"entropy_weight": float("inf")}),
    # valid_batch (default None, so any type passed the type check): "abc" was a TypeError traceback at once, 2.5
    # and true a TypeError traceback from numpy after the first epoch's training
    ("rsps", {"valid_batch": "abc"}),
    ("rsps", {"valid_batch": 2.5}),
    ("rsps", {"valid_batch": True}),
    ("rsps", {"valid_batch": [3]}),
])
def test_out_of_range_method_settings_are_refused_before_any_training(method: str, settings: dict) -> None:
    from nasbench_suite.weight_sharing import WeightSharingError, make_method

    with pytest.raises(WeightSharingError, match=f"^{method.split('-')[0]}"):
        make_method(method, settings)
    make_method(method, {})  # the defaults pass


@pytest.mark.parametrize("method, settings, message", [
    # overflowed: a torch RuntimeError traceback, Gumbel resampling for ever, "Probabilities contain NaN"
    ("darts-v1", {"arch_lr": 1e308}, "darts-v1: setting arch_lr=1e+308 must be a finite number in [0, 10]"),
    ("darts-v2", {"arch_weight_decay": 1e308}, "darts-v2: setting arch_weight_decay=1e+308 must be a finite number "
                                               "in [0, 10]"),
    ("gdas", {"alpha_init_std": 1e308}, "gdas: setting alpha_init_std=1e+308 must be a finite number in [0, 10]"),
    ("enas", {"controller_lr": 1e308}, "enas: setting controller_lr=1e+308 must be a finite number in [0, 10]"),
    ("enas", {"entropy_weight": 1e308}, "enas: setting entropy_weight=1e+308 must be a finite number in [0, 1000]"),
    # a TypeError traceback: the list's elements were not checked
    ("darts-v1", {"arch_betas": ["a", "b"]}, "darts-v1: setting arch_betas=['a', 'b'] must be a list of finite "
                                            "numbers in [0, 1)"),
    ("darts-v1", {"arch_betas": [0.5, float("nan")]}, "darts-v1: setting arch_betas=[0.5, nan] must be a list of "
                                                     "finite numbers in [0, 1)"),
    # a tiny temperature overflowed the float32 logits to inf: resampled for ever
    ("gdas", {"tau_min": 1e-40}, "gdas: setting tau_min=1e-40 must be a finite number in [1e-06, 1e+06] "
                                 "(the Gumbel-softmax temperature)"),
    ("gdas", {"tau_min": 5.0, "tau_max": 2.0}, "gdas: need tau_min <= tau_max, got tau_min=5.0, tau_max=2.0"),
    # ran for ever
    ("enas", {"controller_steps": 10**12}, "enas: setting controller_steps=1000000000000 must be an integer in "
                                           "[1, 10000]"),
    ("enas", {"controller_samples": 10**12}, "enas: setting controller_samples=1000000000000 must be an integer "
                                             "in [1, 10000]"),
    ("enas", {"derive_samples": 10**12}, "enas: setting derive_samples=1000000000000 must be an integer in "
                                         "[1, 100000]"),
    ("rsps", {"candidates": 10**12}, "rsps: setting candidates=1000000000000 must be an integer in [1, 100000]"),
    ("rsps", {"valid_batch": float("nan")}, "rsps: setting valid_batch=nan must be an integer >= 1 or null "
                                            "(images per valid minibatch; null: the batch size)"),
])
def test_a_method_setting_out_of_its_range_names_it_and_the_range(method: str, settings: dict, message: str) -> None:
    from nasbench_suite.weight_sharing import WeightSharingError, make_method

    with pytest.raises(WeightSharingError) as info:
        make_method(method, settings)
    assert str(info.value) == message


@pytest.mark.parametrize("method, settings", [
    ("darts-v1", {"arch_lr": 10, "arch_betas": [0.0, 0.999999], "arch_weight_decay": 10.0, "alpha_init_std": 10.0}),
    ("darts-v2", {"arch_lr": 0.0, "arch_weight_decay": 0.0, "alpha_init_std": 0.0}),
    ("gdas", {"tau_max": 1e6, "tau_min": 1e-6}),
    ("enas", {"controller_lr": 10.0, "controller_steps": 10_000, "controller_samples": 10_000,
              "derive_samples": 100_000, "entropy_weight": 1000.0, "baseline_decay": 1.0}),
    ("rsps", {"candidates": 100_000, "valid_batch": 10**9}),
])
def test_method_settings_at_the_ends_of_their_bounds_are_accepted(method: str, settings: dict) -> None:
    from nasbench_suite.weight_sharing import make_method

    assert make_method(method, settings).settings().items() >= settings.items()


@pytest.mark.parametrize("method, setting, message", [
    ("darts-v1", "arch_lr=1e308", "darts-v1: setting arch_lr=1e+308 must be a finite number in [0, 10]"),
    ("gdas", "alpha_init_std=1e308", "gdas: setting alpha_init_std=1e+308 must be a finite number in [0, 10]"),
    ("enas", "controller_lr=1e308", "enas: setting controller_lr=1e+308 must be a finite number in [0, 10]"),
    ("darts-v1", 'arch_betas=["a","b"]', "darts-v1: setting arch_betas=['a', 'b'] must be a list of finite numbers "
                                         "in [0, 1)"),
])
def test_a_method_setting_out_of_its_range_is_one_line_before_any_training(ws_table, tmp_path, capsys, method: str,
                                                                          setting: str, message: str) -> None:
    from nasbench_suite.cli import main

    assert main(["darts", "--table", str(ws_table), "--epochs", "1", "--out", str(tmp_path / "o"), "--method", method,
                 "--set", setting]) == 2
    assert capsys.readouterr().err == f"nasbench: error: {message}\n"
    assert not (tmp_path / "o").exists()


# ----- how RSPS and ENAS score their candidates (candidate_batches) --------------------------------
def _recording_context(seed: int = 0, n: int = 10, batch_size: int = 4):
    """A :class:`Context` over ``n`` labelled valid "images" (label = image number) whose ``accuracy`` records
    the valid labels each cell is scored on (in ``.scored``) and returns a made-up score (no supernet)."""
    from nasbench_suite.weight_sharing import Context, SearchSettings

    class Recording(Context):
        def accuracy(self, arch, x=None, y=None):
            self.scored.append((arch, y.tolist()))
            return float(sum(y.tolist())) + arch.index / 1e6  # the score depends on the batch

    ctx = Recording(None, None, SearchSettings(epochs=1), np.random.default_rng(seed),  # type: ignore[arg-type]
                    torch.zeros(n, 1), torch.arange(n), batch_size, 1)
    ctx.scored = []
    return ctx


def test_candidate_batches_are_consecutive_batches_of_shuffled_passes_over_valid():
    """NB201's get_best_arch / search_find_best: each candidate gets the next batch of its valid loader's
    iterator (shuffled, the last batch of a pass smaller, a new shuffle when it runs out)."""
    ctx = _recording_context()
    batches = [y.tolist() for _, y in ctx.candidate_batches(7)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2, 4]
    for one_pass in (batches[:3], batches[3:6]):
        assert sorted(sum(one_pass, [])) == list(range(10))  # no image twice within a pass, every image once
    assert batches[:3] != batches[3:6]  # a fresh shuffle per pass
    assert [len(y) for _, y in ctx.candidate_batches(3, size=6)] == [6, 4, 6]
    again = _recording_context()
    assert [y.tolist() for _, y in again.candidate_batches(7)] == batches  # the method's seeded generator


@pytest.mark.parametrize("method, settings", [("rsps", {"candidates": 5}), ("enas", {"derive_samples": 5})])
def test_per_candidate_batches_score_each_candidate_on_its_own_batch(method, settings):
    from nasbench_suite.weight_sharing import make_method

    per = make_method(method, {**settings, "candidate_batches": "per_candidate"})
    ctx = _recording_context()
    per.setup(ctx)
    derived = per.derive(ctx)
    batches = [y for _, y in ctx.scored]
    assert len(ctx.scored) == 5 and [len(b) for b in batches] == [4, 4, 2, 4, 4]
    assert sorted(sum(batches[:3], [])) == list(range(10))
    best = max(ctx.scored, key=lambda s: sum(s[1]) + s[0].index / 1e6)[0]
    assert derived == best

    shared = make_method(method, settings)  # the default: every candidate on the same minibatch
    assert shared.settings()["candidate_batches"] == "shared"
    ctx = _recording_context()
    shared.setup(ctx)
    shared.derive(ctx)
    assert len(ctx.scored) == 5 and all(y == ctx.scored[0][1] for _, y in ctx.scored) and len(ctx.scored[0][1]) == 4


def test_per_candidate_batches_from_the_cli(ws_table, tmp_path):
    """--set candidate_batches=per_candidate reaches RSPS and is recorded; one epoch trains as the default does
    (the candidates are scored after the epoch's steps)."""
    import json

    import pandas as pd

    from nasbench_suite.cli import main

    argv = ["darts", "--table", str(ws_table), "--method", "rsps", "--seeds", "0", "--epochs", "1",
            "--set", "candidates=20"]
    assert main(argv + ["--out", str(tmp_path / "shared")]) == 0
    assert main(argv + ["--set", "candidate_batches=per_candidate", "--out", str(tmp_path / "per")]) == 0
    shared, per = (pd.read_parquet(tmp_path / d / "trajectories.parquet") for d in ("shared", "per"))
    manifest = json.loads((tmp_path / "per" / "manifest.json").read_text())
    assert manifest["strategy"]["settings"]["candidate_batches"] == "per_candidate"
    np.testing.assert_array_equal(shared["supernet_train_loss"], per["supernet_train_loss"])


def test_a_valid_batch_that_is_not_an_integer_is_a_user_error(ws_table, tmp_path, capsys):
    from nasbench_suite.cli import main

    assert main(["darts", "--table", str(ws_table), "--epochs", "1", "--out", str(tmp_path / "o"), "--method", "rsps",
                 "--set", "valid_batch=abc"]) == 2
    assert capsys.readouterr().err == ("nasbench: error: rsps: setting valid_batch='abc' must be an integer >= 1 or "
                                       "null (images per valid minibatch; null: the batch size)\n")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("method, settings, message", [
    ("rsps", {"candidate_batches": "nb201"}, "rsps: setting candidate_batches='nb201' must be one of 'shared', "
                                             "'per_candidate'"),
    ("enas", {"candidate_batches": "per-candidate"}, "enas: setting candidate_batches='per-candidate' must be one of "
                                                     "'shared', 'per_candidate'"),
])
def test_candidate_batches_out_of_its_choices_has_the_shared_wording(method: str, settings: dict,
                                                                     message: str) -> None:
    from nasbench_suite.weight_sharing import WeightSharingError, make_method

    with pytest.raises(WeightSharingError) as info:
        make_method(method, settings)
    assert str(info.value) == message
    assert make_method(method, {"candidate_batches": "per_candidate"}).settings()["candidate_batches"] == "per_candidate"


def test_bad_candidate_batches_is_a_user_error(ws_table, tmp_path, capsys):
    from nasbench_suite.cli import main

    base = ["darts", "--table", str(ws_table), "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main(base + ["--method", "enas", "--set", "candidate_batches=nb201"]) == 2
    assert main(base + ["--method", "rsps", "--set", "candidate_batches=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nasbench: error: enas: setting candidate_batches='nb201' must be one of 'shared', 'per_candidate'",
                   "nasbench: error: rsps: setting candidate_batches=1 must be a string (default 'shared')"]
    assert not (tmp_path / "o").exists()


# ----- what each method's step fits on which split, in which order -----------------------------
def _step_context(lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4):
    """A real supernet and SGD optimizer in a :class:`Context`; a train and a valid minibatch that differ."""
    from nasbench_suite.weight_sharing import Context, SearchSettings

    net = _seeded(lambda: Supernet(CFG))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(7)
    x, xv = torch.randn(8, 1, 8, 8, generator=g), 2 * torch.randn(8, 1, 8, 8, generator=g) + 1
    y, yv = torch.randint(0, 3, (8,), generator=g), torch.randint(0, 3, (8,), generator=g)
    ctx = Context(net, opt, SearchSettings(1), np.random.default_rng(0), xv, yv, 8, 1, lr=lr)
    return ctx, (x, y, xv, yv)


def _record_weight_steps(ctx, train: bool = True) -> list:
    """Replace ``ctx.weight_step`` by one that records (x, y, weights, index) and, with ``train``, steps."""
    calls, real = [], ctx.weight_step

    def recording(x, y, weights, index=None):
        calls.append((x, y, weights.detach().clone(), index))
        if train:
            real(x, y, weights, index)

    ctx.weight_step = recording
    return calls


def test_darts_step_fits_alpha_on_the_valid_minibatch_then_the_weights_on_the_train_minibatch():
    """DARTS' bilevel step (the paper's order, NB201's DARTS-V2): alpha takes an Adam step (lr 3e-4, weight decay
    1e-3) along grad_alpha L_valid at the weights before this step, in train mode even when scoring left the
    supernet in eval mode; then the weights take an SGD step on the train minibatch under softmax(new alpha)."""
    from nasbench_suite.weight_sharing import make_method

    ctx, (x, y, xv, yv) = _step_context()
    method = make_method("darts-v1")
    _seeded(lambda: method.setup(ctx))
    alpha0 = method.alpha.detach().clone()
    assert 0 < alpha0.abs().max() < 1e-2  # 1e-3 * N(0, 1)
    a = alpha0.clone().requires_grad_(True)
    want = torch.autograd.grad(F.cross_entropy(ctx.net.train()(xv, a.softmax(-1)), yv), a)[0]
    ctx.net.eval()  # as bn_scoring="nb201" scoring leaves it
    calls = _record_weight_steps(ctx)
    method.step(ctx, x, y, xv, yv)
    torch.testing.assert_close(method.alpha.grad, want)
    g = want + 1e-3 * alpha0  # Adam's first step moves each entry by lr * g / |g|
    torch.testing.assert_close(method.alpha.detach(), alpha0 - 3e-4 * g / (g.abs() + 1e-8))
    assert len(calls) == 1 and calls[0][0] is x and calls[0][1] is y and calls[0][3] is None
    torch.testing.assert_close(calls[0][2], method.alpha.detach().softmax(-1), rtol=0, atol=0)


def test_darts_and_gdas_architecture_optimizer_is_nb201s():
    from nasbench_suite.weight_sharing import make_method

    for name in ("darts-v1", "darts-v2", "gdas"):
        ctx, _ = _step_context()
        method = make_method(name, {"arch_lr": 0.01, "arch_betas": [0.3, 0.9], "arch_weight_decay": 0.2})
        _seeded(lambda: method.setup(ctx))
        group = method.arch_opt.param_groups[0]
        assert (group["lr"], group["betas"], group["weight_decay"]) == (0.01, (0.3, 0.9), 0.2)
        assert group["params"] == [method.alpha] and method.alpha.shape == (6, 5)
        default = make_method(name)
        _seeded(lambda: default.setup(ctx))
        group = default.arch_opt.param_groups[0]
        assert (group["lr"], group["betas"], group["weight_decay"]) == (3e-4, (0.5, 0.999), 1e-3)
        zero = make_method(name, {"alpha_init_std": 0.0})
        _seeded(lambda: zero.setup(ctx))
        assert not zero.alpha.detach().any()


def test_darts_and_gdas_derive_the_argmax_of_alpha_per_edge_none_included():
    """The derived cell is the op of largest alpha on each edge (NB201's genotype()), `none` allowed."""
    from nasbench_suite.weight_sharing import make_method

    alpha = torch.tensor([[0.9, 0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.8, 0.3, 0.4], [0.1, 0.7, 0.2, 0.3, 0.4],
                          [0.1, 0.2, 0.3, 0.4, 0.6], [0.1, 0.2, 0.3, 0.5, 0.4], [0.95, 0.2, 0.3, 0.4, 0.5]])
    for name in ("darts-v1", "darts-v2", "gdas"):
        ctx, _ = _step_context()
        method = make_method(name)
        _seeded(lambda: method.setup(ctx))
        with torch.no_grad():
            method.alpha.copy_(alpha)
        assert method.derive(ctx) == Arch((0, 2, 1, 4, 3, 0))


def test_darts_v2_unrolls_one_step_of_the_weight_optimizer_as_configured():
    """darts-v2's virtual step is the run's SGD step: xi = the current lr, the optimizer's weight decay and
    momentum * its momentum buffer; the train minibatch for the step, the valid one for the loss."""
    from algorithms.darts import unrolled_alpha_grad
    from nasbench_suite.weight_sharing import make_method

    ctx, (x, y, xv, yv) = _step_context(lr=0.5, weight_decay=0.05)
    method = make_method("darts-v2")
    _seeded(lambda: method.setup(ctx))
    ctx.weight_step(x, y, method.alpha.detach().softmax(-1))  # momentum buffers now exist
    buffers = [ctx.optimizer.state[p]["momentum_buffer"] for p in ctx.net.parameters()]
    alpha = method.alpha

    def grad(*data, **kw):
        return unrolled_alpha_grad(ctx.net, alpha, *data, **{"xi": 0.5, "weight_decay": 0.05,
                                                             "momentum_terms": [0.9 * b for b in buffers], **kw})

    want = grad(x, y, xv, yv)
    got = method.arch_grad(ctx, x, y, xv, yv)
    torch.testing.assert_close(got, want)
    for wrong in (grad(xv, yv, x, y), grad(x, y, xv, yv, weight_decay=0.0), grad(x, y, xv, yv, momentum_terms=buffers)):
        assert not torch.allclose(got, wrong, rtol=1e-4, atol=0)  # each is told apart


def test_gdas_temperature_falls_linearly_from_tau_max_in_the_first_epoch_to_tau_min_in_the_last():
    from types import SimpleNamespace

    from nasbench_suite.weight_sharing import make_method

    method = make_method("gdas")
    taus = []
    for epochs in (5, 1):
        for epoch in range(1, epochs + 1):
            method.start_epoch(SimpleNamespace(epochs=epochs), epoch)
            taus.append(method.tau)
    assert taus == pytest.approx([10.0, 7.525, 5.05, 2.575, 0.1, 10.0])
    constant = make_method("gdas", {"tau_max": 2.0, "tau_min": 2.0})  # a constant temperature is allowed
    constant.start_epoch(SimpleNamespace(epochs=3), 2)
    assert constant.tau == 2.0


def test_gumbel_sample_is_the_argmax_of_perturbed_log_probabilities_with_the_gradient_of_their_softmax_at_tau():
    """The hard sample is argmax(log_softmax(alpha) + g), g = -log(Exp(1)) from the torch generator; its backward
    is that of softmax((log_softmax(alpha) + g) / tau) (tau 0.3 here: the forward does not show it)."""
    from algorithms.gdas import gumbel_hard

    gen = torch.Generator().manual_seed(0)
    alpha = torch.randn(6, 5, generator=gen).requires_grad_(True)
    upstream = torch.randn(6, 5, generator=gen)
    weights, index = _seeded(lambda: gumbel_hard(alpha, tau=0.3), seed=5)
    (weights * upstream).sum().backward()
    gumbels = _seeded(lambda: -torch.empty(6, 5).exponential_().log(), seed=5)
    a = alpha.detach().clone().requires_grad_(True)
    ((((a.log_softmax(1) + gumbels) / 0.3).softmax(1)) * upstream).sum().backward()
    assert index.tolist() == (alpha.detach().log_softmax(1) + gumbels).argmax(1).tolist()
    torch.testing.assert_close(alpha.grad, a.grad)


def test_gdas_step_trains_the_weights_on_train_and_alpha_on_valid_each_with_its_own_sample():
    """Per step: one Gumbel sample for an SGD step of the weights on the train minibatch (only the sampled ops
    run), a fresh one for alpha's Adam step on the valid minibatch; alpha's gradient is that step's alone."""
    from algorithms.gdas import gumbel_hard
    from nasbench_suite.weight_sharing import make_method

    ctx, (x, y, xv, yv) = _step_context()
    method = make_method("gdas")
    _seeded(lambda: method.setup(ctx))
    method.tau = 0.5
    calls = _record_weight_steps(ctx, train=False)  # the weights stay as they are
    alphas = [method.alpha.detach().clone()]

    def two_steps():
        method.step(ctx, x, y, xv, yv)
        alphas.append(method.alpha.detach().clone())
        method.step(ctx, x, y, xv, yv)

    _seeded(two_steps, seed=3)

    def reference():
        out = []
        for alpha in alphas:
            w, i = gumbel_hard(alpha, 0.5)
            a = alpha.clone().requires_grad_(True)
            wa, ia = gumbel_hard(a, 0.5)
            out.append((w, i, torch.autograd.grad(F.cross_entropy(ctx.net.train()(xv, wa, ia), yv), a)[0]))
        return out

    want = _seeded(reference, seed=3)
    assert len(calls) == 2 and all(c[0] is x and c[1] is y for c in calls)
    for (_, _, weights, index), (w, i, _) in zip(calls, want):
        assert torch.equal(index, i) and torch.equal(weights, w)
    torch.testing.assert_close(method.alpha.grad, want[1][2])
    g = want[0][2] + 1e-3 * alphas[0]  # the first step's Adam update: each entry moves by lr * g / |g|
    torch.testing.assert_close(alphas[1], alphas[0] - 3e-4 * g / (g.abs() + 1e-8))


def test_enas_controller_gradient_is_reinforce_with_the_moving_baseline_and_the_entropy_bonus():
    """One controller update of 3 samples, worked out by hand: rewards are accuracies / 100; the baseline starts at
    the first reward and then b <- decay * b + (1 - decay) * reward before each advantage; the gradient of
    -mean(advantage * log p(cell)) - w * entropy per edge is -mean(adv * (onehot - p)) + w * p * (log p + H_e);
    Adam's first step moves each logit by lr * g / |g|."""
    from types import SimpleNamespace

    from algorithms.enas import ENAS

    logits = torch.tensor(np.random.default_rng(1).normal(size=(6, 5)))
    method = ENAS(controller_steps=1, controller_samples=3, baseline_decay=0.7, entropy_weight=0.3,
                  controller_lr=0.01)

    def score(arch, x=None, y=None):
        return 10.0 * arch.ops[0] + 3.0 * arch.ops[5] + 1.0

    ctx = SimpleNamespace(rng=np.random.default_rng(0), valid_batch=lambda: (None, None), accuracy=score)
    method.setup(ctx)
    with torch.no_grad():
        method.logits.copy_(logits)
    method.end_epoch(ctx, 1)

    p = logits.softmax(1).numpy()
    rng, baseline, grad = np.random.default_rng(0), None, np.zeros((6, 5))
    for _ in range(3):
        ops = [int(rng.choice(5, p=row / row.sum())) for row in p]
        reward = score(Arch(tuple(ops))) / 100
        baseline = reward if baseline is None else 0.7 * baseline + 0.3 * reward
        grad -= (reward - baseline) * (np.eye(5)[ops] - p) / 3
    entropy = -(p * np.log(p)).sum(axis=1, keepdims=True)
    grad += 0.3 * p * (np.log(p) + entropy)
    np.testing.assert_allclose(method.logits.grad.numpy(), grad, rtol=1e-9, atol=1e-12)
    assert abs(baseline - method.baseline) < 1e-12
    np.testing.assert_allclose(method.logits.detach().numpy(), logits.numpy() - 0.01 * grad / (np.abs(grad) + 1e-8),
                               rtol=1e-9, atol=1e-12)


def test_rsps_scores_its_candidates_on_valid_minibatches_of_valid_batch_images():
    from nasbench_suite.weight_sharing import make_method

    for batches, sizes in (("shared", [3, 3, 3, 3]), ("per_candidate", [3, 3, 3, 1])):  # 10 valid images
        method = make_method("rsps", {"candidates": 4, "valid_batch": 3, "candidate_batches": batches})
        ctx = _recording_context()  # batch size 4
        method.derive(ctx)
        assert [len(y) for _, y in ctx.scored] == sizes


def test_the_first_of_tied_candidates_is_kept_and_a_pass_over_valid_restarts_when_it_runs_out_exactly():
    from nasbench_suite.weight_sharing import best_candidate

    ctx = _recording_context()
    ctx.accuracy = lambda arch, x=None, y=None: 50.0  # every candidate ties
    cells = iter([Arch.from_index(i) for i in (7, 3, 9, 3)])
    assert best_candidate(ctx, lambda: next(cells), 4, "shared") == Arch.from_index(7)
    batches = [y.tolist() for _, y in _recording_context().candidate_batches(4, size=5)]  # 10 images, 5 a batch
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert sorted(batches[0] + batches[1]) == sorted(batches[2] + batches[3]) == list(range(10))


def test_the_weight_lr_follows_a_cosine_over_every_step_of_the_run_the_last_batch_of_an_epoch_included(ws_table,
                                                                                                        monkeypatch):
    """400 train images in batches of 64: 7 steps an epoch (the last of 16 images), 14 in 2 epochs; step s has
    lr 0.001 + 0.5 * (0.025 - 0.001) * (1 + cos(pi * s / 14)); the loss and accuracy columns are per image of
    the epoch."""
    import math

    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    class Probe(weight_sharing.Method):
        name = "probe"
        lrs: list[float] = []

        def step(self, ctx, x, y, xv, yv):
            assert ctx.optimizer.param_groups[0]["lr"] == ctx.lr
            self.lrs.append(ctx.lr)
            first = len(self.lrs) <= 7  # epoch 1: loss 2 and a quarter right a step, epoch 2: loss 3 and half right
            ctx.train_loss_sum += (2.0 if first else 3.0) * len(y)
            ctx.train_correct += len(y) // (4 if first else 2)
            ctx.train_seen += len(y)

        def derive(self, ctx):
            return Arch.from_index(0)

    probe = Probe()
    monkeypatch.setattr(weight_sharing, "make_method", lambda name, settings=None: probe)
    run = weight_sharing.run_one(load_table(ws_table), "probe", 0, weight_sharing.SearchSettings(epochs=2, batch_size=64))
    assert probe.lrs == pytest.approx([0.001 + 0.012 * (1 + math.cos(math.pi * s / 14)) for s in range(14)])
    assert run["supernet_train_loss"].tolist() == [2.0, 3.0]  # each epoch its own
    assert run["supernet_train_acc"].tolist() == [100.0 * (6 * 16 + 4) / 400, 100.0 * (6 * 32 + 8) / 400]


def test_weight_step_clips_the_gradient_norm_and_counts_loss_and_hits_per_image():
    """With SGD at lr 1, no momentum and no weight decay, the weights move by exactly the clipped gradient: its
    norm is grad_clip (0.01 here). The step adds the minibatch's summed loss, its hits and its size."""
    from nasbench_suite.weight_sharing import Context, SearchSettings

    ctx, (x, y, _, _) = _step_context(lr=1.0, momentum=0.0, weight_decay=0.0)
    ctx.settings = SearchSettings(1, grad_clip=0.01)
    weights = onehot_weights("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    logits = ctx.net.train()(x, weights).detach()
    before = [p.detach().clone() for p in ctx.net.parameters()]
    ctx.weight_step(x, y, weights)
    moved = torch.cat([(p.detach() - b).reshape(-1) for p, b in zip(ctx.net.parameters(), before)])
    assert float(moved.norm()) == pytest.approx(0.01, rel=1e-4)
    assert ctx.train_loss_sum == pytest.approx(float(F.cross_entropy(logits, y)) * 8, rel=1e-5)
    assert ctx.train_seen == 8 and ctx.train_correct == int((logits.argmax(1) == y).sum()) < 8
    assert isinstance(ctx, Context)


def test_search_augmentation_follows_the_protocol_else_the_dataset_default(monkeypatch):
    """augment None takes the dataset's default (crop + flip for CIFAR); crop_padding None is resolution // 8,
    filled with black (-mean / std per channel); an explicit augment=False turns a default one off."""
    from types import SimpleNamespace

    from nasbench_suite import weight_sharing
    from nasbench_suite.train import Protocol

    calls = []
    monkeypatch.setattr(weight_sharing, "augment_batch", lambda x, rng, padding, fill: calls.append((padding, fill)))
    data = SimpleNamespace(augment=True, resolution=16, mean=(0.5, 0.25), std=(0.25, 0.5))
    f = weight_sharing.protocol_augmentation(Protocol("cifar10", channels=4, cells=1), data, "cpu")
    f(torch.zeros(1, 2, 16, 16), np.random.default_rng(0))
    assert calls[0][0] == 2 and calls[0][1].tolist() == [-2.0, -0.5]
    assert weight_sharing.protocol_augmentation(Protocol("cifar10", channels=4, cells=1, augment=False), data, "cpu") is None
    plain = SimpleNamespace(augment=False, resolution=16, mean=(0.5,), std=(0.25,))
    assert weight_sharing.protocol_augmentation(Protocol("digits", channels=4, cells=1), plain, "cpu") is None
    assert weight_sharing.protocol_augmentation(Protocol("digits", channels=4, cells=1, augment=True), plain, "cpu")


@pytest.mark.parametrize("bn_scoring, running", [("batch", True), ("nb201", False)])
def test_nb201_bn_scoring_searches_a_supernet_whose_cells_keep_no_running_statistics(ws_table, monkeypatch, bn_scoring,
                                                                                      running):
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    class Probe(weight_sharing.Method):
        name = "probe"

        def setup(self, ctx):
            self.edge_bns = _edge_batchnorms(ctx.net)

        def step(self, ctx, x, y, xv, yv):
            pass

        def derive(self, ctx):
            return Arch.from_index(0)

    probe = Probe()
    monkeypatch.setattr(weight_sharing, "make_method", lambda name, settings=None: probe)
    weight_sharing.run_one(load_table(ws_table), "probe", 0, weight_sharing.SearchSettings(epochs=1, bn_scoring=bn_scoring))
    assert probe.edge_bns and all(m.track_running_stats == running for m in probe.edge_bns)


def test_a_path_forward_runs_the_chosen_op_and_passes_the_gradient_to_every_op_weight():
    """NB201's GDAS edge with an op index k: weights[k] * op_k(x) + sum_{j != k} weights[j]. Only op k runs; the
    other terms are zero under a hard one-hot but carry the gradient, d loss / d weights[j] = the sum of the
    upstream gradient (GDAS's alpha learns about the ops not sampled through them)."""
    from nasbench_suite.supernet import MixedOp

    edge = _seeded(lambda: MixedOp(4))
    g = torch.Generator().manual_seed(8)
    x, upstream = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    weights = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15], requires_grad=True)
    out = edge(x, weights, torch.tensor(3))
    (out * upstream).sum().backward()
    with torch.no_grad():
        conv = edge.ops[3](x)
    torch.testing.assert_close(out.detach(), 0.25 * conv + 0.75)
    want = torch.full((5,), float(upstream.sum()))
    want[3] = float((conv * upstream).sum())
    torch.testing.assert_close(weights.grad, want)


def test_scoring_on_all_of_valid_runs_in_chunks_of_1024_images():
    """With batch statistics the chunks are part of the result: 1,100 images score as a chunk of 1,024 and one of 76."""
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    net = _seeded(lambda: Supernet(CFG))
    g = torch.Generator().manual_seed(9)
    x = torch.randn(1100, 1, 8, 8, generator=g) + torch.linspace(-2, 2, 1100).reshape(-1, 1, 1, 1)
    y = torch.randint(0, 3, (1100,), generator=g)
    got = _scoring_context(net, "batch", x, y).accuracy(arch)
    with torch.no_grad():
        hits = sum(int((net.train()(x[a:b], onehot_weights(arch)).argmax(1) == y[a:b]).sum())
                   for a, b in ((0, 1024), (1024, 1100)))
        whole = int((net(x, onehot_weights(arch)).argmax(1) == y).sum())
    assert got == 100.0 * hits / 1100 != 100.0 * whole / 1100


def test_the_run_seed_seeds_the_data_order_the_torch_draws_and_the_method(ws_table, monkeypatch):
    """Another seed gives another search: the train order, the supernet's initial weights (torch) and the method's
    own generator all come from SeedSequence(seed)."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    class Probe(weight_sharing.Method):
        name = "probe"

        def setup(self, ctx):
            self.seen = {"weights": float(next(ctx.net.parameters()).detach().sum()), "method": float(ctx.rng.random())}

        def step(self, ctx, x, y, xv, yv):
            self.seen.setdefault("first_labels", y.tolist())

        def derive(self, ctx):
            return Arch.from_index(0)

    seen = []
    for seed in (0, 1, 0):
        probe = Probe()
        monkeypatch.setattr(weight_sharing, "make_method", lambda name, settings=None: probe)
        weight_sharing.run_one(load_table(ws_table), "probe", seed, weight_sharing.SearchSettings(epochs=1))
        seen.append(probe.seen)
    assert seen[0] == seen[2] and all(seen[0][k] != seen[1][k] for k in seen[0])


def test_second_order_finite_difference_steps_the_weights_by_epsilon_either_way(monkeypatch):
    """DARTS' r = epsilon / ||v||: the two train passes run at w + r v and w - r v, each epsilon (0.01) from w."""
    from algorithms import darts
    from algorithms.darts import unrolled_alpha_grad

    net = _seeded(lambda: Supernet(CFG))
    g = torch.Generator().manual_seed(4)
    x, xv = torch.randn(6, 1, 8, 8, generator=g), torch.randn(6, 1, 8, 8, generator=g)
    y, yv = torch.randint(0, 3, (6,), generator=g), torch.randint(0, 3, (6,), generator=g)
    names = [n for n, _ in net.named_parameters()]
    w = {n: p.detach().clone() for n, p in net.named_parameters()}
    passes = []

    def recording(module, params, args):
        passes.append({n: params[n].detach().clone() for n in names})
        return torch.func.functional_call(module, params, args)

    monkeypatch.setattr(darts, "functional_call", recording)
    unrolled_alpha_grad(net, 0.5 * torch.randn(6, 5, generator=g), x, y, xv, yv, xi=0.05)
    assert len(passes) == 3  # the virtual step's valid pass, then w + r v and w - r v
    plus, minus = ({n: p[n] - w[n] for n in names} for p in passes[1:])
    assert float(torch.cat([d.reshape(-1) for d in plus.values()]).norm()) == pytest.approx(0.01, rel=1e-4)
    assert all(torch.allclose(plus[n], -minus[n], atol=1e-7) for n in names)


def test_darts_cli_runs_seeds_0_to_2_by_default(ws_table, tmp_path, monkeypatch, capsys):
    """``nasbench darts`` without ``--seeds`` runs seeds 0, 1 and 2, as its help and README say."""
    import pandas

    from nasbench_suite import weight_sharing
    from nasbench_suite.cli import main

    asked = []
    real = weight_sharing.run_weight_sharing

    def spy(table, method, seeds, *args, **kwargs):
        asked.append(list(seeds))
        return real(table, method, seeds, *args, **kwargs)

    monkeypatch.setattr(weight_sharing, "run_weight_sharing", spy)
    assert main(["darts", "--table", str(ws_table), "--method", "rsps", "--set", "candidates=5", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 0
    assert asked == [[0, 1, 2]] and "(3 runs of rsps, 1 epochs)" in capsys.readouterr().out
    assert sorted(pandas.read_parquet(tmp_path / "o" / "trajectories.parquet")["seed"].unique()) == [0, 1, 2]
    # seeds in any order: the runs of ascending seeds, as `nasbench search` and the manifest's ranges have them
    assert main(["darts", "--table", str(ws_table), "--method", "rsps", "--set", "candidates=5", "--epochs", "1",
                 "--seeds", "2,0", "--out", str(tmp_path / "p")]) == 0
    assert asked[1] == [0, 2]
    assert pandas.read_parquet(tmp_path / "p" / "trajectories.parquet")["seed"].drop_duplicates().tolist() == [0, 2]


# ----- cases found missing by a hand-made mutation audit of weight_sharing.py and supernet.py -----------------
def _probe_run(ws_table, monkeypatch, record, epochs: int = 2, **settings):
    """``run_one`` on ws_table with a stand-in method whose step calls ``record(ctx, x, y, xv, yv)`` and whose
    derived cell is cell 0; returns the run's columns."""
    from nasbench_suite import weight_sharing
    from nasbench_suite.table import load_table

    class Probe(weight_sharing.Method):
        name = "probe"

        def step(self, ctx, x, y, xv, yv):
            record(ctx, x, y, xv, yv)

        def derive(self, ctx):
            return Arch.from_index(0)

    monkeypatch.setattr(weight_sharing, "make_method", lambda name, settings=None: Probe())
    return weight_sharing.run_one(load_table(ws_table), "probe", 0,
                                  weight_sharing.SearchSettings(epochs=epochs, **settings))


def test_each_epoch_visits_every_train_image_once_in_a_fresh_order_and_valid_minibatches_are_distinct_valid_images(
        ws_table, monkeypatch):
    """The weights' minibatches are a seeded permutation of the train split per epoch (a new one each epoch); each
    step's valid minibatch holds distinct images of the valid split (never a train image) with their own labels."""
    from nasbench_suite.table import load_table
    from nasbench_suite.train import load_protocol_data
    from nasbench_suite.weight_sharing import table_protocol

    data = load_protocol_data(table_protocol(load_table(ws_table)))
    train, valid = data.splits["train"], data.splits["valid"]
    where = {name: {x.tobytes(): i for i, x in enumerate(data.splits[name].x)} for name in ("train", "valid")}
    assert len(where["train"]) == len(train.y) and len(where["valid"]) == len(valid.y)  # images tell themselves apart
    assert not set(where["train"]) & set(where["valid"])
    steps = []

    def record(ctx, x, y, xv, yv):
        t = [where["train"][a.numpy().tobytes()] for a in x]
        v = [where["valid"][a.numpy().tobytes()] for a in xv]  # a KeyError if it is no valid image
        assert y.tolist() == train.y[t].tolist() and yv.tolist() == valid.y[v].tolist()
        steps.append((t, v))

    _probe_run(ws_table, monkeypatch, record, batch_size=64)
    assert len(steps) == 14
    epochs = [sum((t for t, _ in steps[:7]), []), sum((t for t, _ in steps[7:]), [])]
    assert all(sorted(e) == list(range(400)) for e in epochs) and epochs[0] != epochs[1]
    assert epochs[0] != list(range(400))
    assert [len(v) for _, v in steps] == [64] * 6 + [16] + [64] * 6 + [16]
    assert all(len(set(v)) == len(v) for _, v in steps)


def test_the_run_trains_with_one_torch_thread_and_restores_the_callers_count(ws_table, monkeypatch, two_torch_threads):
    seen = []
    _probe_run(ws_table, monkeypatch, lambda ctx, *batch: seen.append(torch.get_num_threads()), epochs=1)
    assert seen == [1] * 4 and torch.get_num_threads() == 2


def test_measured_seconds_take_in_the_supernet_build_in_epoch_1_and_measured_time_adds_them_up(ws_table, monkeypatch):
    """measured_seconds of epoch 1 counts from before the supernet is built; each later epoch from its own start;
    measured_time is their running sum (a stand-in clock whose readings are given)."""
    from types import SimpleNamespace

    from nasbench_suite import weight_sharing

    readings, read = [1.0, 3.0, 10.0, 15.0, 40.0, 41.5], []
    clock = SimpleNamespace(perf_counter=lambda: read.append(1) or readings[len(read) - 1])
    monkeypatch.setattr(weight_sharing, "time", clock)
    built, real = [], weight_sharing.Supernet
    monkeypatch.setattr(weight_sharing, "Supernet", lambda *a, **k: built.append(len(read)) or real(*a, **k))
    run = _probe_run(ws_table, monkeypatch, lambda *a: None, epochs=3)
    assert built == [1] and len(read) == 6  # the start is read before the supernet is built
    assert run["measured_seconds"].tolist() == [2.0, 5.0, 1.5]
    assert run["measured_time"].tolist() == [2.0, 7.0, 8.5]


def test_the_op_columns_count_the_derived_cells_edges_per_op_and_the_method_settings_are_recorded(default_run):
    from nasbench_suite.space import OPS

    run = default_run("rsps")  # run_one(ws_table, "rsps", 0, SearchSettings(epochs=2), {"candidates": 5})
    for i, index in enumerate(run["arch_index"]):
        arch = Arch.from_index(int(index))
        assert run["arch_str"][i] == arch.to_str()
        assert [int(run[f"ops_{name}"][i]) for name in OPS] == [arch.ops.count(k) for k in range(len(OPS))]
    assert len({tuple(Arch.from_index(int(i)).ops.count(k) for k in range(5)) for i in run["arch_index"]}) == 2
    assert run["settings"] == {"candidates": 5, "valid_batch": None, "candidate_batches": "shared"}  # defaults too
    assert run["batch_size"] == 100 and run["config"]["channels"] == 4


def test_valid_minibatches_are_distinct_images_at_most_the_whole_split():
    """valid_batch draws without replacement; a size over the split's (valid_batch=512 on a small split) is cut to
    the split, in valid_batch and in candidate_batches; the first candidate pass is shuffled too."""
    ctx = _recording_context()  # 10 valid images, label = image number, batch size 4
    for _ in range(20):
        y = ctx.valid_batch(8)[1].tolist()
        assert len(y) == 8 and y == sorted(set(y))
    assert ctx.valid_batch(50)[1].tolist() == list(range(10))
    assert [y.tolist() for _, y in ctx.candidate_batches(2, size=50)] == [list(range(10))] * 2
    fresh = _recording_context(seed=3)
    order = np.random.default_rng(3).permutation(10)
    assert [y.tolist() for _, y in fresh.candidate_batches(2)] == [sorted(order[:4]), sorted(order[4:8])]


def test_shared_candidate_scoring_draws_its_minibatch_before_the_cells():
    from nasbench_suite.weight_sharing import best_candidate

    ctx = _recording_context(seed=5)
    best_candidate(ctx, lambda: Arch.random(ctx.rng), 3, "shared")
    rng = np.random.default_rng(5)
    batch = sorted(rng.choice(10, size=4, replace=False).tolist())
    assert ctx.scored == [(Arch.random(rng), batch) for _ in range(3)]


def test_derive_takes_the_first_op_of_tied_alphas_as_torch_argmax_and_nb201_do():
    assert derive(torch.zeros(6, 5)) == Arch((0,) * 6)
    alpha = torch.tensor([[0.0, 0.0, 2.0, 2.0, 1.0]] * 3 + [[0.0, 3.0, 1.0, 3.0, 3.0]] * 3)
    assert derive(alpha) == Arch((2, 2, 2, 1, 1, 1))


def test_the_weight_step_trains_in_train_mode_whatever_mode_scoring_left(monkeypatch):
    """GDAS, RSPS and ENAS take a weight step right after bn_scoring='nb201' scoring left the supernet in eval
    mode: the step must use batch statistics (and move the running ones)."""
    ctx, (x, y, _, _) = _step_context()
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    tracked = int(ctx.net.stem[1].num_batches_tracked)
    ctx.net.eval()
    ctx.weight_step(x, y, onehot_weights(arch), torch.as_tensor(arch.ops))
    assert ctx.net.training and int(ctx.net.stem[1].num_batches_tracked) == tracked + 1


def test_seeds_are_checked_and_method_settings_refused_before_the_table_is_read(monkeypatch):
    from nasbench_suite import table
    from nasbench_suite.intlist import MAX_SEED
    from nasbench_suite.weight_sharing import SearchSettings, WeightSharingError, run_weight_sharing

    read = []
    monkeypatch.setattr(table, "load_table", lambda name: read.append(name) or 1 / 0)
    for seeds in ([], [0, 0], [-1, 2]):
        with pytest.raises(WeightSharingError, match=r"^seeds must be distinct non-negative integers, at least one$"):
            run_weight_sharing("t", "rsps", seeds, SearchSettings(1))
    with pytest.raises(WeightSharingError, match=r"^seeds must be at most 2\*\*63 - 1 \(stored as int64\), got "
                                                 r"9223372036854775808$"):
        run_weight_sharing("t", "rsps", [MAX_SEED + 1], SearchSettings(1))
    with pytest.raises(WeightSharingError, match=r"^rsps has no setting\(s\) \['bogus'\]"):
        run_weight_sharing("t", "rsps", [MAX_SEED], SearchSettings(1), {"bogus": 1})
    with pytest.raises(WeightSharingError, match=r"^unknown weight-sharing method 'darts'; use one of darts-v1, "
                                                 r"darts-v2, gdas, rsps, enas$"):
        run_weight_sharing("t", "darts", [0], SearchSettings(1))
    assert not read
    with pytest.raises(ZeroDivisionError):  # the largest seed passes the checks
        run_weight_sharing("t", "rsps", [MAX_SEED], SearchSettings(1))
    assert read == ["t"]


def test_source_sha256_covers_the_methods_own_file_and_the_shared_modules():
    import nasbench_suite
    from nasbench_suite.data import files_sha256
    from nasbench_suite.weight_sharing import SHARED_SOURCES, WeightSharingError, source_sha256

    root = Path(nasbench_suite.__file__).resolve().parents[1]
    shared = [root / "nasbench_suite" / f"{name}.py" for name in SHARED_SOURCES]
    assert source_sha256("rsps") == files_sha256([root / "algorithms" / "rsps.py", *shared])
    assert source_sha256("darts-v1") == source_sha256("darts-v2") != source_sha256("gdas")
    with pytest.raises(WeightSharingError, match=r"^unknown weight-sharing method 'x'; use one of darts-v1, "):
        source_sha256("x")


@pytest.mark.parametrize("manifest", [{}, {"protocol": None}, {"protocol": ["synthetic"]},
                                      {"protocol": {"channels": 4, "cells": 1}}])
def test_a_table_whose_manifest_has_no_protocol_with_a_dataset_is_refused_in_one_message(manifest):
    from types import SimpleNamespace

    from nasbench_suite.weight_sharing import WeightSharingError, table_protocol

    with pytest.raises(WeightSharingError) as info:
        table_protocol(SimpleNamespace(name="t", manifest=manifest))
    assert str(info.value) == ("table 't' records no training protocol (dataset, channels, cells); weight-sharing "
                               "search needs the table's dataset")


def test_a_table_short_of_one_cell_is_refused_and_a_full_one_taken():
    from types import SimpleNamespace

    from nasbench_suite.space import NUM_ARCHS
    from nasbench_suite.weight_sharing import WeightSharingError, check_covers_every_cell

    with pytest.raises(WeightSharingError, match=r"^table 't' holds 15624 of the 15625 cells; "):
        check_covers_every_cell(SimpleNamespace(name="t", num_archs=NUM_ARCHS - 1))
    check_covers_every_cell(SimpleNamespace(name="t", num_archs=NUM_ARCHS))


def test_a_supernet_of_something_other_than_a_macro_config_is_one_clear_error():
    from nasbench_suite.errors import ModelConfigError

    with pytest.raises(ModelConfigError) as info:
        Supernet(CFG.to_dict())  # type: ignore[arg-type]
    assert str(info.value) == "config must be a MacroConfig, got dict"
