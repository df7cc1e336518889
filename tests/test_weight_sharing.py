"""Weight-sharing search: the supernet, DARTS' second-order gradient, and short searches end to end."""
from __future__ import annotations

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

    approx = unrolled_alpha_grad(net, alpha, x, y, xv, yv, xi=xi, weight_decay=wd, momentum_terms=momentum,
                                 epsilon=1e-5)
    first_order = torch.autograd.grad(F.cross_entropy(net(xv, a.softmax(-1)), yv), a)[0]
    assert not torch.allclose(exact, first_order, rtol=1e-3, atol=1e-6)  # the check has teeth
    torch.testing.assert_close(approx, exact, rtol=1e-4, atol=1e-7)


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


@pytest.mark.parametrize("method", METHODS)
def test_short_search_writes_tidy_results(ws_table, tmp_path, method, capsys):
    import json

    import pandas as pd

    from nasbench_suite.cli import main
    from nasbench_suite.space import NUM_EDGES
    from nasbench_suite.table import load_table

    argv = ["darts", "--table", str(ws_table), "--method", method, "--seeds", "0-1", "--epochs", "2"]
    for k, v in SMALL[method].items():
        argv += ["--set", f"{k}={v}"]
    argv += ["--out", str(tmp_path / "a")]
    assert main(argv) == 0
    assert "table test accuracy" in capsys.readouterr().out
    frame = pd.read_parquet(tmp_path / "a" / "trajectories.parquet")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
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

    # the same seed gives the same search (every column but the measured seconds)
    assert main(argv[:-1] + [str(tmp_path / "b")]) == 0
    again = pd.read_parquet(tmp_path / "b" / "trajectories.parquet")
    measured = ["measured_seconds", "measured_time"]
    pd.testing.assert_frame_equal(frame.drop(columns=measured), again.drop(columns=measured))


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
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("nasbench: error:") for line in err)


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
    minibatch; the argmax per edge of an untrained (uniform) policy would be the all-`none` cell."""
    from types import SimpleNamespace

    from algorithms.enas import ENAS
    from nasbench_suite.space import CONV3

    def score(arch, x=None, y=None):
        return float(sum(op == CONV3 for op in arch.ops))

    def ctx():
        return SimpleNamespace(rng=np.random.default_rng(0), valid_batch=lambda size=None: (None, None), accuracy=score)

    method, again = ENAS(), ENAS()  # derive_samples: 10, NB201's per-epoch get_best_arch
    c, c2 = ctx(), ctx()
    method.setup(c)
    again.setup(c2)
    derived = method.derive(c)
    best = max(score(again.sample(c2)) for _ in range(10))
    assert score(derived) == best >= 2 and derived != Arch((0,) * 6)


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
    ("enas", {"controller_steps": 0}),
])
def test_out_of_range_method_settings_are_refused_before_any_training(method: str, settings: dict) -> None:
    from nasbench_suite.weight_sharing import WeightSharingError, make_method

    with pytest.raises(WeightSharingError, match=f"^{method.split('-')[0]}"):
        make_method(method, settings)
    make_method(method, {})  # the defaults pass
