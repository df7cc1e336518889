"""Training protocol and the plain trainer: real training on small data, deterministic given the seed."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench_suite.data import load_dataset
from nasbench_suite.errors import NasBenchError
from nasbench_suite.pre_evaluate import PreEvaluateError, parse_archs
from nasbench_suite.space import Arch, isomorphism_classes
from nasbench_suite.train import Protocol, ProtocolError, augment_batch, load_protocol_data, train_cell

FAST = Protocol(dataset="synthetic", channels=4, cells=1, epochs=3, batch_size=64)


@pytest.fixture(scope="module")
def synthetic():
    torch.set_num_threads(1)
    return load_protocol_data(FAST)


def test_same_seed_same_curves_other_seed_differs(synthetic) -> None:
    a = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    strip = lambda recs: [{k: v for k, v in r.metrics.items() if not k.endswith("seconds")} for r in recs]  # noqa: E731
    first, again = train_cell(a, synthetic, FAST, seed=5), train_cell(a, synthetic, FAST, seed=5)
    assert strip(first) == strip(again)
    assert strip(first) != strip(train_cell(a, synthetic, FAST, seed=6))
    assert [r.epoch for r in first] == [1, 2, 3]
    keys = {f"{s}_{m}" for s in ("train", "valid", "test") for m in ("loss", "acc", "seconds")}
    assert set(first[0].metrics) == keys
    assert all(r.metrics["train_seconds"] > 0 for r in first)


def test_training_learns_and_disconnected_cells_stay_at_chance(synthetic) -> None:
    longer = Protocol(dataset="synthetic", channels=4, cells=1, epochs=6, batch_size=64)
    good = train_cell("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                      synthetic, longer, seed=0)
    assert good[-1].metrics["train_loss"] < good[0].metrics["train_loss"]
    assert good[-1].metrics["valid_acc"] > 35.0  # 10 classes: chance is 10%; seeds 0-2 reach 48-57%
    dead = train_cell(0, synthetic, FAST, seed=0)
    assert Arch.from_index(0).is_disconnected()
    # the output does not depend on the input, so every image gets the same class
    assert dead[-1].metrics["valid_acc"] <= 20.0


def test_training_does_not_touch_global_rng(synthetic) -> None:
    torch.manual_seed(123)
    np.random.seed(7)
    expected_t, expected_n = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(7)
    train_cell(100, synthetic, FAST, seed=1)
    assert torch.rand(1) == expected_t and np.random.rand() == expected_n


def test_protocol_validation_and_data_mismatch(synthetic) -> None:
    with pytest.raises(ProtocolError):
        Protocol(dataset="digits", epochs=0)
    with pytest.raises(ProtocolError):
        Protocol(dataset="digits", train_subset=-5)
    with pytest.raises(ProtocolError, match="load_protocol_data"):
        train_cell(0, synthetic, Protocol(dataset="digits"), seed=0)
    with pytest.raises(ProtocolError, match="train_subset"):
        train_cell(0, synthetic, Protocol(dataset="synthetic", train_subset=100), seed=0)


def test_augment_batch_crops_and_flips() -> None:
    rng = np.random.default_rng(0)
    x = torch.arange(8 * 1 * 4 * 4, dtype=torch.float32).reshape(8, 1, 4, 4)
    out = augment_batch(x, rng, padding=0, pad_value=torch.zeros(1))
    mirrored = []
    for i in range(8):  # without padding, each image is itself or its mirror
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
        mirrored.append(torch.equal(out[i], x[i].flip(-1)))
    assert any(mirrored) and not all(mirrored)  # it flips some images, not all
    out = augment_batch(x, np.random.default_rng(1), padding=2, pad_value=torch.tensor([-9.0]))
    assert out.shape == x.shape
    values = set(out.unique().tolist())
    assert values <= set(x.unique().tolist()) | {-9.0} and -9.0 in values  # some crops take in the padding


def test_parse_archs() -> None:
    iso = isomorphism_classes()
    assert parse_archs("all") == list(range(15625))
    assert parse_archs("classes") == iso.representatives.tolist()
    sample = parse_archs("sample:50")
    assert len(sample) == 50 == len(set(sample)) and sample == parse_archs("sample:50")
    assert set(sample) <= set(iso.representatives.tolist())
    assert parse_archs("3-6") == [3, 4, 5, 6] and parse_archs("9,1") == [9, 1]
    for bad in ("sample:x", "sample:0", "a-b", "", "1,99999"):
        with pytest.raises(NasBenchError):  # PreEvaluateError, or ArchError for an index out of range
            parse_archs(bad)
    with pytest.raises(PreEvaluateError):
        parse_archs("sample:99999")


def test_valid_subset_is_stratified_nested_and_recorded() -> None:
    full = load_dataset("synthetic")
    small = load_dataset("synthetic", max_valid=40)
    larger = load_dataset("synthetic", max_valid=60)
    assert len(small.splits["valid"]) == 40 and len(full.splits["valid"]) == 100
    assert set(small.splits["valid"].index) <= set(larger.splits["valid"].index) <= set(full.splits["valid"].index)
    assert np.bincount(small.splits["valid"].y, minlength=10).tolist() == [4] * 10
    assert small.split_info["max_valid"] == 40 and "max_valid" not in full.split_info
    np.testing.assert_array_equal(small.splits["train"].x, full.splits["train"].x)  # train untouched


def test_protocol_valid_subset_is_checked_and_recorded_only_when_set() -> None:
    plain = Protocol(dataset="synthetic")
    assert "valid_subset" not in plain.to_dict()  # identities of runs made before the field existed hold
    subset = Protocol(dataset="synthetic", valid_subset=40)
    assert subset.to_dict()["valid_subset"] == 40
    with pytest.raises(ProtocolError, match="valid_subset"):
        train_cell(0, load_dataset("synthetic"), subset, seed=0)
    loaded = load_protocol_data(subset)  # the valid split cut to the protocol's subset, which it accepts
    assert len(loaded.splits["valid"]) == 40 and len(loaded.splits["train"]) == 400
    subset.check_data(loaded)
    with pytest.raises(ProtocolError):
        Protocol(dataset="synthetic", valid_subset=0)


def test_lr_schedule_differs_from_nb201_per_epoch_cosine_and_says_so() -> None:
    """Ours is cosine per step down to 0; NAS-Bench-201's (``CosineAnnealingLR`` with warmup 0) is set once
    per epoch, 0.05 * (1 + cos(pi e / E)). The code keeps its schedule (the shipped tables use it); the
    docs must not claim NAS-Bench-201's and must state the difference."""
    import math
    import re
    from pathlib import Path

    from nasbench_suite import train
    from nasbench_suite.train import cosine_lr, steps_per_epoch

    p = Protocol(dataset="cifar10-16px", epochs=4, batch_size=256, train_subset=10000)
    spe = steps_per_epoch(p, 10000)
    total = spe * p.epochs
    ours = [sum(cosine_lr(p, e * spe + i, total) for i in range(spe)) / spe for e in range(p.epochs)]
    nb201 = [0.05 * (1 + math.cos(math.pi * e / p.epochs)) for e in range(p.epochs)]
    assert spe == 40 and cosine_lr(p, spe - 1, total) < p.lr  # changes within the first epoch
    assert cosine_lr(p, total, total) == 0.0 and nb201[-1] > 0.01
    assert [round(x, 3) for x in ours] == [0.095, 0.069, 0.032, 0.005]
    assert [round(x, 3) for x in nb201] == [0.1, 0.085, 0.05, 0.015]

    doc = " ".join(train.__doc__.split())
    assert "as NAS-Bench-201 does" not in doc
    assert "NAS-Bench-201 sets it once per epoch" in doc
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert re.search(r"NAS-Bench-201 sets it once per epoch, 0\.05 \* \(1 \+ cos\(pi \* e / E\)\)", readme)
    assert "0.1, 0.085, 0.05, 0.015 per epoch there; 0.095, 0.069, 0.032, 0.005 on average here" in readme


def test_augment_batch_is_a_padded_random_crop_then_a_coin_flip_mirror() -> None:
    """Reference: pad each image with the pad value, cut the h x w window at offsets (dy, dx) drawn from
    0..2p, mirror it left-right when the draw in [0, 1) is below 0.5 (draws in that order)."""
    n, c, h, w, p = 40, 2, 4, 5, 2
    x = torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w)
    pad_value = torch.tensor([-1.0, -2.0])
    out = augment_batch(x, np.random.default_rng(3), padding=p, pad_value=pad_value)
    rng = np.random.default_rng(3)
    dy, dx, coin = rng.integers(0, 2 * p + 1, size=n), rng.integers(0, 2 * p + 1, size=n), rng.random(n)
    assert set(dy.tolist()) == set(range(2 * p + 1)) and 0 < (coin < 0.5).sum() < n  # every offset, both sides
    for i in range(n):
        padded = torch.stack([F.pad(x[i, k], (p, p, p, p), value=float(pad_value[k])) for k in range(c)])
        crop = padded[:, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
        assert torch.equal(out[i], crop.flip(-1) if coin[i] < 0.5 else crop), i


def test_minibatch_stream_defaults_padding_black_and_augment_override(synthetic) -> None:
    from nasbench_suite.train import MinibatchStream

    stream = MinibatchStream(synthetic, FAST, np.random.SeedSequence(0), "cpu")
    assert synthetic.resolution == 8 and stream.padding == 1  # resolution // 8
    assert stream.augment is synthetic.augment is False
    raw_black = torch.tensor([(0.0 - m) / s for m, s in zip(synthetic.mean, synthetic.std)])
    torch.testing.assert_close(stream.black, raw_black)  # black pixels after normalization
    on = MinibatchStream(synthetic, Protocol(dataset="synthetic", augment=True, crop_padding=3), np.random.SeedSequence(0),
                         "cpu")
    assert on.augment is True and on.padding == 3
    # the overrides are taken as given when they are falsy too: augment=False turns a dataset's default
    # augmentation off, crop_padding=0 crops without padding (not the default resolution // 8)
    augmenting = dataclasses.replace(synthetic, augment=True)
    off = MinibatchStream(augmenting, Protocol(dataset="synthetic", augment=False, crop_padding=0),
                          np.random.SeedSequence(0), "cpu")
    assert off.augment is False and off.padding == 0
    assert MinibatchStream(augmenting, FAST, np.random.SeedSequence(0), "cpu").augment is True


def test_batches_and_steps_with_and_without_drop_last() -> None:
    from nasbench_suite.train import _batches, steps_per_epoch

    sizes = lambda n, bs, drop: [len(b) for b in _batches(n, bs, np.random.default_rng(0), drop)]  # noqa: E731
    assert sizes(10, 4, False) == [4, 4, 2] and sizes(10, 4, True) == [4, 4]
    assert sizes(3, 4, True) == [3]  # fewer rows than a batch: one short batch, not none
    assert sorted(np.concatenate(list(_batches(10, 4, np.random.default_rng(0), False))).tolist()) == list(range(10))
    steps = lambda n, drop: steps_per_epoch(Protocol(dataset="digits", batch_size=4, drop_last=drop), n)  # noqa: E731
    assert (steps(10, False), steps(10, True), steps(3, True), steps(3, False)) == (3, 2, 1, 1)


def test_eval_chunks_merge_only_a_last_single_image_and_respect_the_batch_size() -> None:
    from nasbench_suite.train import eval_chunks

    x = torch.zeros(1, 1, 2, 2)  # 16 bytes per channel and image: the cache bound is far away
    lengths = lambda n, bs: [s.stop - s.start for s in eval_chunks(n, bs, x, 4)]  # noqa: E731
    assert lengths(1, 16) == [1]
    assert lengths(17, 16) == [17] and lengths(18, 16) == [16, 2]
    assert lengths(25, 10) == [10, 10, 5]  # the protocol's batch size caps the chunk on a CPU too


def test_make_sgd_steps_are_nesterov_momentum_with_weight_decay_by_hand() -> None:
    """Two steps on one weight with a constant gradient g, by hand: d = g + wd*w, buf = m*buf + d
    (buf = d on the first step), w -= lr * (d + m*buf)."""
    proto = Protocol(dataset="digits")  # lr 0.1, momentum 0.9, nesterov, weight decay 5e-4
    got, expected = _sgd_steps_and_by_hand(proto, 2)
    assert got == pytest.approx(expected, rel=1e-12)


def _sgd_steps_and_by_hand(proto: Protocol, steps: int) -> tuple[float, float]:
    """(w after ``steps`` of make_sgd from w = 2 with gradient 0.5, the same by hand): d = g + wd*w,
    buf = d on the first step and m*buf + d after, w -= lr * (d + m*buf) with Nesterov, lr * buf without."""
    from nasbench_suite.train import make_sgd

    w = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    opt = make_sgd(iter([w]), proto)
    m, wd = proto.momentum, proto.weight_decay
    expected, buf, g = 2.0, None, 0.5
    for _ in range(steps):
        w.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        d = g + wd * expected
        buf = d if buf is None else m * buf + d
        expected -= proto.lr * ((d + m * buf) if proto.nesterov else buf)
    return w.item(), expected


def test_protocol_bounds_lr_momentum_and_crop_padding() -> None:
    for bad in ({"lr": 0.0}, {"momentum": 1.0}, {"momentum": -0.1}, {"weight_decay": -1e-9}, {"crop_padding": -1},
                {"lr": math.inf}, {"weight_decay": math.inf}, {"lr": math.nan}, {"momentum": math.nan},
                {"weight_decay": math.nan}):
        with pytest.raises(ProtocolError):
            Protocol(dataset="digits", **bad)
    assert Protocol(dataset="digits", crop_padding=0, momentum=0.0, weight_decay=0.0).crop_padding == 0


def test_train_accuracy_counts_the_images_trained_on_when_drop_last_drops_some(synthetic) -> None:
    proto = Protocol(dataset="synthetic", channels=4, cells=1, epochs=1, batch_size=64, drop_last=True)
    seen = 64 * (len(synthetic.splits["train"]) // 64)
    assert seen == 384  # 16 of the 400 train images are dropped
    acc = train_cell(Arch.parse(1234), synthetic, proto, seed=0)[0].metrics["train_acc"]
    correct = acc * seen / 100.0
    assert correct == pytest.approx(round(correct), abs=1e-9) and 0 < correct <= seen


def test_make_sgd_takes_momentum_nesterov_and_weight_decay_from_the_protocol() -> None:
    """Protocols other than the defaults, by hand (see ``_sgd_steps_and_by_hand``)."""
    for fields in ({"momentum": 0.5, "nesterov": False, "weight_decay": 0.01}, {"momentum": 0.5, "weight_decay": 0.0}):
        got, expected = _sgd_steps_and_by_hand(Protocol(dataset="digits", **fields), 3)
        assert got == pytest.approx(expected, rel=1e-12), fields


def test_weight_decay_reaches_every_parameter_batchnorm_and_biases_included(synthetic) -> None:
    """With zero gradients, one Nesterov step shrinks each weight by lr * (1 + momentum) * wd * w: every
    parameter of the network (convolutions, BatchNorm scales and shifts, the classifier's bias), as
    NAS-Bench-201 decays them all."""
    from nasbench_suite.model import build_network
    from nasbench_suite.train import make_sgd

    torch.manual_seed(0)
    net = build_network(Arch.parse(1234), FAST.macro_config(synthetic)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(0.5, 1.5)  # BatchNorm's shifts start at 0: give every parameter a value to decay
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = make_sgd(net.parameters(), FAST)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    factor = 1 - 0.1 * (1 + 0.9) * 5e-4
    kinds = {p.dim() for p in net.parameters()}
    assert kinds == {1, 2, 4}  # BatchNorm and bias vectors, the classifier, convolutions
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.detach(), before[name] * factor, rtol=1e-12, atol=0, msg=name)


def test_minibatch_stream_sets_the_cosine_learning_rate_of_every_step_reaching_0_after_the_last() -> None:
    """400 train images in batches of 64: 7 steps per epoch, 21 over 3 epochs; step s (0-based, counted
    across epochs) runs at 0.05 * (1 + cos(pi * s / 21)): 0.1 at the first, above 0 at the last. The cosine
    starts from the protocol's lr: at lr 0.4, 0.2 * (1 + cos(pi * s / 21))."""
    from nasbench_suite.train import MinibatchStream

    data = load_protocol_data(FAST)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(2))], lr=99.0)

    def rates(protocol: Protocol) -> list[float]:
        stream = MinibatchStream(data, protocol, np.random.SeedSequence(0), "cpu")
        lrs = []
        for _ in range(protocol.epochs):
            for _batch in stream.epoch(opt):
                assert len({g["lr"] for g in opt.param_groups}) == 1
                lrs.append(opt.param_groups[0]["lr"])
        assert stream.total_steps == len(lrs) == 21
        return lrs

    lrs = rates(FAST)
    assert lrs == pytest.approx([0.05 * (1 + math.cos(math.pi * s / 21)) for s in range(21)], rel=1e-12, abs=0)
    assert lrs[0] == 0.1 and 0 < lrs[-1] < 0.001
    faster = rates(dataclasses.replace(FAST, lr=0.4))
    assert faster == pytest.approx([0.2 * (1 + math.cos(math.pi * s / 21)) for s in range(21)], rel=1e-12, abs=0)


def test_minibatch_stream_serves_the_train_split_shuffled_by_the_seed_and_augments_only_when_asked() -> None:
    """Each epoch is a permutation of the train split (images with their labels), in another order each
    epoch and each seed; unaugmented, the images are the stored ones; augmented (crop + flip), some differ."""
    from nasbench_suite.train import MinibatchStream

    data = load_protocol_data(FAST)
    train = data.splits["train"]
    row_of = {row.tobytes(): i for i, row in enumerate(train.x)}
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)

    def orders(protocol: Protocol, seed: int, epochs: int) -> list[list[int]]:
        stream = MinibatchStream(data, protocol, np.random.SeedSequence(seed), "cpu")
        out = []
        for _ in range(epochs):
            rows = []
            for xb, yb in stream.epoch(opt):
                assert xb.is_contiguous(memory_format=torch.channels_last)
                for image, label in zip(xb.numpy(), yb.tolist()):
                    rows.append(row_of[np.ascontiguousarray(image).tobytes()])
                    assert label == train.y[rows[-1]]
            out.append(rows)
        return out

    first, second = orders(FAST, 0, 2)
    assert sorted(first) == sorted(second) == list(range(len(train)))
    assert first != second and first != list(range(len(train)))
    assert orders(FAST, 0, 1)[0] == first and orders(FAST, 1, 1)[0] != first
    augmented = MinibatchStream(data, Protocol(dataset="synthetic", batch_size=64, augment=True),
                                np.random.SeedSequence(0), "cpu")
    changed = sum(np.ascontiguousarray(image).tobytes() not in row_of
                  for xb, _ in augmented.epoch(opt) for image in xb.numpy())
    # 1 of the 9 crop offsets (padding 1 at 8x8) keeps an image in place and half are flipped: a flip alone
    # would change about half of them, the crop and flip all but about 1 in 18
    assert changed > 0.8 * len(train)


def test_evaluate_is_the_mean_cross_entropy_and_accuracy_in_evaluation_mode(synthetic) -> None:
    """By hand on the valid split: the network in eval mode (running statistics, untouched by the pass),
    on the images as stored (no augmentation), chunked or not."""
    from nasbench_suite.model import build_network
    from nasbench_suite.train import evaluate

    torch.manual_seed(0)
    net = build_network(Arch.parse(1234), FAST.macro_config(synthetic))
    with torch.no_grad():  # running statistics away from their initial values
        net(torch.from_numpy(synthetic.splits["train"].x))
    x, y = torch.from_numpy(synthetic.splits["valid"].x), torch.from_numpy(synthetic.splits["valid"].y)
    net.train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    loss, acc = evaluate(net, x, y, batch_size=30)
    assert not net.training and all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    with torch.no_grad():
        logits = net(x)
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == 100.0 * (logits.argmax(1) == y).sum().item() / len(y)


def test_train_cell_evaluates_the_valid_and_test_splits_each_under_its_own_name(synthetic, monkeypatch) -> None:
    """The valid metrics come from the valid split's images and labels, the test metrics from the test
    split's, each epoch, at the protocol's evaluation batch size."""
    from nasbench_suite import train as train_module
    from nasbench_suite.train import eval_tensors

    for split, (x, y) in eval_tensors(synthetic, "cpu").items():
        np.testing.assert_array_equal(x.numpy(), synthetic.splits[split].x)
        np.testing.assert_array_equal(y.numpy(), synthetic.splits[split].y)
    calls = []

    def fake_evaluate(net, x, y, batch_size):
        split = next(s for s in ("valid", "test") if np.array_equal(y.numpy(), synthetic.splits[s].y)
                     and np.array_equal(x.numpy(), synthetic.splits[s].x))
        calls.append((split, batch_size))
        return (1.0, 10.0) if split == "valid" else (2.0, 20.0)

    monkeypatch.setattr(train_module, "evaluate", fake_evaluate)
    proto = Protocol(dataset="synthetic", channels=4, cells=1, epochs=2, batch_size=64, eval_batch_size=50)
    records = train_cell(5, synthetic, proto, seed=0)
    assert sorted(calls) == [("test", 50)] * 2 + [("valid", 50)] * 2
    for r in records:
        assert (r.metrics["valid_loss"], r.metrics["valid_acc"], r.metrics["test_loss"], r.metrics["test_acc"]) == (
            1.0, 10.0, 2.0, 20.0)


def test_run_streams_share_the_data_stream_across_cells_and_seed_the_weights_per_cell(synthetic) -> None:
    from nasbench_suite.model import build_network
    from nasbench_suite.train import run_streams, torch_seed

    a, b = Arch.parse(100), Arch.parse(200)
    draw = lambda stream: np.random.default_rng(stream).integers(0, 2**31, 4).tolist()  # noqa: E731
    assert draw(run_streams(3, a)[0]) == draw(run_streams(3, b)[0]) != draw(run_streams(4, a)[0])
    assert len({torch_seed(run_streams(s, c)[1]) for s in (3, 4) for c in (a, b)}) == 4

    def stem(arch: Arch, seed: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(run_streams(seed, arch)[1]))
            return build_network(arch, FAST.macro_config(synthetic)).stem[0].weight

    assert not torch.equal(stem(a, 3), stem(b, 3))  # two cells of one seed start from different weights


def test_protocol_macro_config_takes_channels_and_cells_from_the_protocol_and_the_shape_from_the_data(synthetic) -> None:
    config = Protocol(dataset="synthetic", channels=6, cells=3).macro_config(synthetic)
    assert config.to_dict() == {"channels": 6, "cells": 3, "in_channels": 3, "resolution": 8, "num_classes": 10}


@pytest.mark.parametrize("bad", [{"nesterov": None}, {"drop_last": None}, {"drop_last": 1}, {"lr": True},
                                 {"weight_decay": False}, {"crop_padding": True}, {"crop_padding": 1.0},
                                 {"channels": 2.0}, {"eval_batch_size": 0}, {"train_subset": True}, {"dataset": 3}])
def test_protocol_refuses_values_of_the_wrong_kind(bad: dict) -> None:
    with pytest.raises(ProtocolError, match=repr(next(iter(bad))) if "dataset" not in bad else "dataset"):
        Protocol(**{"dataset": "digits", **bad})
