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
