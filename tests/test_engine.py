"""The batched engine: a cell trained in a batch gives the same results as the cell trained alone."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_suite.engine import build_stacked, train_batched, train_shard
from nasbench_suite.model import MacroConfig
from nasbench_suite.space import Arch
from nasbench_suite.train import Protocol, ProtocolError, load_protocol_data, run_streams, torch_seed, train_cell

PROTO = Protocol(dataset="synthetic", channels=4, cells=2, epochs=2, batch_size=64)
# Every op on every edge (the uniform cells), mixed cells, a disconnected one and a cell whose node 3
# takes only skips: the batch exercises full, partial and empty op subsets on every edge.
ARCHS = [Arch((op,) * 6).index for op in range(5)] + [
    Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|").index,
    Arch.from_str("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|").index,
    Arch.from_str("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|").index,
]


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    return load_protocol_data(PROTO)


def _alone_net(arch: int, config: MacroConfig, seed: int):
    from nasbench_suite.model import build_network

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(run_streams(seed, Arch.from_index(arch))[1]))
        return build_network(arch, config)


def test_stacked_forward_and_gradients_equal_each_network_alone(data) -> None:
    """The logits, and the gradient of every parameter of every network (stem, cell edges, reduction blocks,
    head BatchNorm, classifier), of the stack against each network alone."""
    config = PROTO.macro_config(data)
    stacked = build_stacked([Arch.from_index(a) for a in ARCHS], config, seed=3, device=torch.device("cpu"))
    x = torch.from_numpy(data.splits["train"].x[:32])
    y = torch.from_numpy(data.splits["train"].y[:32])
    logits = stacked(x.contiguous(memory_format=torch.channels_last))
    k, b, c = logits.shape
    F.cross_entropy(logits.reshape(k * b, c), y.repeat(k), reduction="none").view(k, b).mean(1).sum().backward()
    nets = []
    for j, arch in enumerate(ARCHS):
        net = _alone_net(arch, config, seed=3)
        alone = net(x)
        F.cross_entropy(alone, y).backward()
        torch.testing.assert_close(logits[j], alone, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(stacked.fc_weight.grad[j], net.classifier.weight.grad, rtol=1e-3, atol=1e-5)
        stem = stacked.stem_conv.weight.grad[j * 4 : (j + 1) * 4]
        torch.testing.assert_close(stem, net.stem[0].weight.grad, rtol=1e-3, atol=1e-5)
        nets.append(net)
    # the stem's and the classifier's gradients alone were right with every other convolution or BatchNorm
    # frozen out of the stack (its weights no Parameter): every parameter of every network. atol 1e-4: the
    # all-1x1 cell's edge and BatchNorm gradients came to 0.55 of rtol 1e-3 + atol 1e-5 (AMD EPYC), 0.17 of this
    pairs = _gradient_pairs(stacked, nets)
    assert len(pairs) == sum(len(list(n.parameters())) for n in nets)  # every parameter of every network
    for name, grad, own in pairs:
        torch.testing.assert_close(grad, own, rtol=1e-3, atol=1e-4, msg=name)


def _gradient_pairs(stacked, nets: list) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, the stack's gradient block of one network's parameter, that network's own gradient) for every
    parameter of every network, found through the modules the stack was built from."""
    from nasbench_suite.engine import StackedReduction

    pairs = []

    def add(name: str, grad, owners: list) -> None:  # grad stacks the owners' along dim 0: [(network, parameter)]
        assert grad is not None, f"{name}: no gradient in the stack"
        size = owners[0][1].shape[0]
        assert grad.shape[0] == size * len(owners), name
        for u, (j, own) in enumerate(owners):
            pairs.append((f"{name} of network {j}", grad[u * size : (u + 1) * size], own.grad))

    def bn(name: str, stack, owners: list) -> None:
        add(f"{name} weight", stack.weight.grad, [(j, m.weight) for j, m in owners])
        add(f"{name} bias", stack.bias.grad, [(j, m.bias) for j, m in owners])

    def relu_conv_bn(name: str, stack, owners: list) -> None:
        add(f"{name} conv", stack.conv.weight.grad, [(j, m.op[1].weight) for j, m in owners])
        bn(f"{name} BN", stack.bn, [(j, m.op[2]) for j, m in owners])

    every = list(enumerate(nets))
    add("stem conv", stacked.stem_conv.weight.grad, [(j, n.stem[0].weight) for j, n in every])
    bn("stem BN", stacked.stem_bn, [(j, n.stem[1]) for j, n in every])
    for pos, layer in enumerate(stacked.layers):
        cells = [(j, n.cells[pos]) for j, n in every]
        if isinstance(layer, StackedReduction):
            relu_conv_bn(f"cells.{pos}.conv_a", layer.conv_a, [(j, cell.conv_a) for j, cell in cells])
            relu_conv_bn(f"cells.{pos}.conv_b", layer.conv_b, [(j, cell.conv_b) for j, cell in cells])
            add(f"cells.{pos}.downsample", layer.down.weight.grad, [(j, cell.downsample[1].weight) for j, cell in cells])
        else:  # one stack per (edge, conv op), over the networks with that op on that edge, in their order
            for key, stack in layer.convs.items():
                e, op = (int(part[1:]) for part in key.split("_"))
                relu_conv_bn(f"cells.{pos}.{key}", stack, [(j, cell.layers[e]) for j, cell in cells
                                                           if nets[j].arch.ops[e] == op])
    bn("last BN", stacked.last_bn, [(j, n.lastact[0]) for j, n in every])
    for j, n in every:
        pairs.append((f"classifier weight of network {j}", stacked.fc_weight.grad[j], n.classifier.weight.grad))
        pairs.append((f"classifier bias of network {j}", stacked.fc_bias.grad[j], n.classifier.bias.grad))
    return pairs


def test_batched_training_equals_training_alone(data) -> None:
    batched = train_batched(ARCHS, data, PROTO, seed=7)
    assert sorted(batched) == sorted(ARCHS)
    for arch in ARCHS:
        alone = train_cell(arch, data, PROTO, seed=7)
        assert [r.epoch for r in batched[arch]] == [r.epoch for r in alone] == [1, 2]
        for rb, ra in zip(batched[arch], alone):
            # grouped and plain convolutions round differently (by CPU: oneDNN's kernels differ), and SGD
            # amplifies that on near-chance cells: 1e-4 after one epoch, up to 6e-3 after two (AMD EPYC);
            # a wrong weight, gradient or schedule in the batch is off by far more already after epoch 1
            rel = 1e-3 if rb.epoch == 1 else 1e-2
            for key in ("train_loss", "valid_loss", "test_loss"):
                assert rb.metrics[key] == pytest.approx(ra.metrics[key], rel=rel), (arch, rb.epoch, key)
            # near-chance cells have near-tied logits, so float rounding may flip a few argmaxes: valid and
            # test hold 100 images each (1 image = 1 point); train accuracy is counted over 400 images while
            # the weights move (torch 2.11's oneDNN: 16% batched, 12% alone, on the all-1x1 cell at epoch 2,
            # its losses 0.4% apart)
            for key, points in (("train_acc", 5.0), ("valid_acc", 3.0), ("test_acc", 3.0)):
                assert abs(rb.metrics[key] - ra.metrics[key]) <= points + 1e-9, (arch, rb.epoch, key)
            assert rb.metrics["train_seconds"] > 0


def test_batched_training_with_augmentation_equals_alone(data) -> None:
    proto = Protocol(dataset="synthetic", channels=4, cells=1, epochs=1, batch_size=64, augment=True, crop_padding=1)
    archs = ARCHS[5:]
    batched = train_batched(archs, data, proto, seed=1)
    for arch in archs:
        alone = train_cell(arch, data, proto, seed=1)
        assert batched[arch][0].metrics["train_loss"] == pytest.approx(alone[0].metrics["train_loss"], rel=1e-3)


def test_shard_is_deterministic_and_seconds_follow_flops(data) -> None:
    first = train_shard(ARCHS[:5], data, PROTO, seed=2, batch_cells=3)
    again = train_shard(ARCHS[:5], data, PROTO, seed=2, batch_cells=3)
    strip = lambda recs: [{k: v for k, v in r.metrics.items() if not k.endswith("seconds")} for r in recs]  # noqa: E731
    assert {a: strip(r) for a, r in first.items()} == {a: strip(r) for a, r in again.items()}
    # within one batch (archs 0..2: none, skip, conv1x1 everywhere), the cell with more FLOPs gets more time
    secs = [first[a][0].metrics["train_seconds"] for a in ARCHS[:3]]
    assert secs[2] > secs[1] == pytest.approx(secs[0])


def test_batched_training_does_not_touch_global_rng(data) -> None:
    import numpy as np

    proto = Protocol(dataset="synthetic", channels=4, cells=1, epochs=1, batch_size=64)
    torch.manual_seed(123)
    np.random.seed(7)
    expected_t, expected_n = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(7)
    train_batched(ARCHS[5:7], data, proto, seed=1)
    assert torch.rand(1) == expected_t and np.random.rand() == expected_n


def test_bad_batches_are_rejected(data) -> None:
    with pytest.raises(ProtocolError):
        train_batched([], data, PROTO, seed=0)
    with pytest.raises(ProtocolError):
        train_batched([5, 5], data, PROTO, seed=0)
    with pytest.raises(ProtocolError):
        train_batched([5], data, Protocol(dataset="digits"), seed=0)


def test_default_batch_size_follows_the_device_and_the_activation_size() -> None:
    from nasbench_suite.engine import CPU_BATCH_CELLS, default_batch_cells

    digits = Protocol(dataset="digits", channels=8, batch_size=128)
    cifar = Protocol(dataset="cifar10-16px", channels=8, batch_size=256)
    assert default_batch_cells("cpu") == default_batch_cells("cpu", digits, 8) == CPU_BATCH_CELLS
    assert default_batch_cells("cpu", cifar, 16) == 2  # 2 MiB per cell at stage 1
    assert default_batch_cells("cpu", Protocol(dataset="cifar10-16px", channels=64, batch_size=256), 16) == 1
    assert default_batch_cells("cuda", cifar, 16) == 64


def test_evaluation_numbers_do_not_depend_on_the_cpu_chunk_size(data, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CPU evaluation runs in cache-sized chunks (train.eval_chunk); any chunking gives the same
    losses and accuracies up to float rounding, for the stacked networks and for a network alone."""
    from nasbench_suite import train
    from nasbench_suite.engine import evaluate_stacked

    config = PROTO.macro_config(data)
    stacked = build_stacked([Arch.from_index(a) for a in ARCHS], config, seed=5, device=torch.device("cpu"))
    alone = _alone_net(ARCHS[5], config, seed=5)
    x = torch.from_numpy(data.splits["valid"].x).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(data.splits["valid"].y)
    with torch.no_grad():  # running statistics away from their initial values
        stacked.train()(x)
        alone.train()(x)
    per_image = stacked.stem_conv.weight.shape[0] * x.shape[-1] * x.shape[-2] * 4
    results = []
    for chunk in (len(y), 64, 33, 20, 16):  # one pass, then chunks (33: a last chunk of 1 image, merged)
        monkeypatch.setattr(train, "EVAL_CHUNK_BYTES", chunk * per_image)
        assert train.eval_chunks(len(y), len(y), x, stacked.stem_conv.weight.shape[0])[0] == slice(0, chunk)
        loss, acc = evaluate_stacked(stacked, x, y, batch_size=len(y))
        results.append((loss.tolist(), acc.tolist(), train.evaluate(alone, x, y, batch_size=len(y))))
    # bit for bit on the Intel CPUs this was written on; oneDNN on others (AMD EPYC, AVX-512) picks
    # its convolution kernel per batch size, so the chunking may move the last float bits
    flat = [(loss + [single[0]], acc + [single[1]]) for loss, acc, single in results]
    for losses, accs in flat[1:]:
        torch.testing.assert_close(torch.tensor(losses), torch.tensor(flat[0][0]), rtol=1e-5, atol=1e-6)
        assert max(abs(u - v) for u, v in zip(accs, flat[0][1])) <= 1.0 + 1e-9  # 1 image of 100
    assert [p.stop - p.start for p in train.eval_chunks(97, 1024, x, 4 * 100_000)] == [16] * 5 + [17]


def test_evaluation_folds_batchnorm_into_the_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """In evaluation mode ``conv(x, bn)`` is one convolution with the BatchNorm folded into its filters and a
    bias (the BatchNorm itself never runs), the same numbers as the BatchNorm after the convolution; a whole
    stack in evaluation runs no BatchNorm but the head's (after a sum of cell outputs, no convolution)."""
    from nasbench_suite.engine import StackedBN, StackedConv

    gen = torch.Generator().manual_seed(0)
    convs = [torch.nn.Conv2d(4, 4, 3, padding=1, bias=False) for _ in range(3)]
    bns = [torch.nn.BatchNorm2d(4) for _ in range(3)]
    for bn in bns:  # running statistics and affine weights far from their initial values
        bn.running_mean.normal_(0, 2, generator=gen)
        bn.running_var.uniform_(0.1, 5, generator=gen)
        bn.weight.data.normal_(1, 0.5, generator=gen)
        bn.bias.data.normal_(0, 0.5, generator=gen)
    conv, bn = StackedConv(convs), StackedBN(bns)
    x = torch.randn(8, 12, 6, 6, generator=gen).contiguous(memory_format=torch.channels_last)
    bn.eval()

    def not_folded(y: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the BatchNorm ran after the convolution: not folded into it")

    with torch.no_grad():
        bn.forward = not_folded  # equal numbers alone would pass without any folding
        folded = conv(x, bn)
        del bn.forward
        torch.testing.assert_close(folded, bn(conv(x)), rtol=1e-5, atol=1e-5)
        # block k of the stack is cell k's conv and BatchNorm (weights, shifts, running statistics)
        for k, (c, b) in enumerate(zip(convs, bns)):
            alone = b.eval()(c(x[:, 4 * k : 4 * k + 4]))
            torch.testing.assert_close(conv(x, bn)[:, 4 * k : 4 * k + 4], alone, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(bn(conv(x))[:, 4 * k : 4 * k + 4], alone, rtol=1e-5, atol=1e-5)
        bn.train()  # training mode normalizes by the batch's statistics: no folding
        torch.testing.assert_close(conv(x, bn), bn(conv(x)), rtol=0, atol=0)
    stack = build_stacked([Arch.from_index(a) for a in ARCHS[:4]], MacroConfig(channels=4, cells=1, resolution=8),
                          seed=0, device=torch.device("cpu")).eval()  # cells of 1x1 and 3x3 edges, reductions
    calls = []
    real = F.batch_norm
    monkeypatch.setattr(F, "batch_norm", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    with torch.no_grad():
        stack(torch.randn(2, 3, 8, 8, generator=gen).contiguous(memory_format=torch.channels_last))
    assert len(calls) == 1


def test_folded_batchnorm_keeps_eps_for_tiny_running_variances() -> None:
    """scale = weight / sqrt(running_var + eps): with running_var of the order of eps, leaving eps out
    changes the scale by several percent (the folding test above uses variances far from eps)."""
    from nasbench_suite.engine import StackedBN

    bns = [torch.nn.BatchNorm2d(2) for _ in range(2)]
    for bn in bns:
        bn.running_var.fill_(2e-5)
        bn.running_mean.fill_(0.5)
    scale, shift = StackedBN(bns).folded()
    expected = 1.0 / (2e-5 + 1e-5) ** 0.5
    torch.testing.assert_close(scale, torch.full((4,), expected), rtol=1e-6, atol=0)
    torch.testing.assert_close(shift, torch.full((4,), -0.5 * expected), rtol=1e-6, atol=0)


def test_an_edge_shared_by_every_cell_then_a_partial_edge_leave_the_source_node_intact(data) -> None:
    """Both cells take skip_connect on edge 2<-0 (every cell: the node's sum starts as a view of node 0),
    then differ on edge 2<-1 (a partial op added in); node 0 is read again by edge 3<-0, so adding in place
    into the view would change it."""
    archs = [Arch.from_str("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"),
             Arch.from_str("|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|")]
    _assert_stacked_forward_equals_alone(archs, data, seed=3)


def _assert_stacked_forward_equals_alone(archs: list[Arch], data, seed: int) -> None:
    """The stack's logits of 8 training images, cell by cell, against each network alone (training mode)."""
    config = PROTO.macro_config(data)
    stacked = build_stacked(archs, config, seed=seed, device=torch.device("cpu"))
    x = torch.from_numpy(data.splits["train"].x[:8])
    with torch.no_grad():
        logits = stacked(x.contiguous(memory_format=torch.channels_last))
        for j, arch in enumerate(archs):
            torch.testing.assert_close(logits[j], _alone_net(arch.index, config, seed=seed)(x), rtol=1e-4, atol=1e-4)


def test_each_pass_s_seconds_are_shared_among_the_cells_in_proportion_to_their_flops(data, monkeypatch) -> None:
    """A clock that advances 1 s per reading: each pass (train epoch, valid, test) measures 1 s exactly,
    and the cells' seconds of that pass sum to it, each cell's share its share of the batch's FLOPs."""
    import numpy as np

    from nasbench_suite import engine
    from nasbench_suite.model import analytic_flops

    class Clock:
        now = 0.0

        @classmethod
        def perf_counter(cls) -> float:
            cls.now += 1.0
            return cls.now

    monkeypatch.setattr(engine, "time", Clock)
    proto = Protocol(dataset="synthetic", channels=4, cells=1, epochs=1, batch_size=64)
    archs = ARCHS[:3]  # none, skip, conv1x1 everywhere
    records = train_batched(archs, data, proto, seed=0)
    flops = analytic_flops(np.array([Arch.from_index(a).ops for a in archs]), proto.macro_config(data))
    for split in ("train", "valid", "test"):
        secs = np.array([records[a][0].metrics[f"{split}_seconds"] for a in archs])
        np.testing.assert_allclose(secs, flops / flops.sum(), rtol=1e-12)
        assert secs.sum() == pytest.approx(1.0, rel=1e-12)


def test_a_shard_trains_its_cells_in_consecutive_batches_of_batch_cells_in_the_given_order(data, monkeypatch) -> None:
    from nasbench_suite import engine

    groups = []

    def fake(archs, data, protocol, seed, device="cpu"):
        groups.append((list(archs), seed, device))
        return {a: [a] for a in archs}

    monkeypatch.setattr(engine, "train_batched", fake)
    out = train_shard([9, 4, 7, 1, 3, 8, 2], data, PROTO, seed=5, batch_cells=3)
    assert groups == [([9, 4, 7], 5, "cpu"), ([1, 3, 8], 5, "cpu"), ([2], 5, "cpu")]
    assert out == {a: [a] for a in (9, 4, 7, 1, 3, 8, 2)}
    groups.clear()
    train_shard([9, 4, 7, 1, 3, 8, 2], data, PROTO, seed=5)  # default on CPU for 8x8 synthetic: 4 per batch
    assert [g for g, _, _ in groups] == [[9, 4, 7, 1], [3, 8, 2]]
    groups.clear()  # the default follows the protocol: 16 MiB of stage-1 activation per cell, 1 per batch
    train_shard([9, 4, 7], data, Protocol(dataset="synthetic", channels=64, batch_size=1024), seed=5)
    assert [g for g, _, _ in groups] == [[9], [4], [7]]


def test_two_cells_per_op_on_a_partial_edge_after_a_shared_one_keep_their_own_channels(data) -> None:
    """Edge 2<-0 is skip_connect in all four cells (node 2's sum starts as a view of node 0), then edge
    2<-1 has two cells on nor_conv_3x3 and two on avg_pool_3x3: each op's two outputs must be added into
    their own cells' channel blocks (the not-in-place add of a gathered op), in the cells' order."""
    archs = [Arch.from_str("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"),
             Arch.from_str("|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"),
             Arch.from_str("|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"),
             Arch.from_str("|skip_connect~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|")]
    _assert_stacked_forward_equals_alone(archs, data, seed=4)
