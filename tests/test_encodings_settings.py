"""The whole-space encodings (``encodings``) on hand-checked cells and their index handling, and the settings
checks (``settings_check``): defaults of a dataclass, bounds and their messages. Cases found missing by a
hand-made mutation audit of those two modules."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from nasbench_suite.encodings import (ENCODING_DIMS, ENCODINGS, TRUNC_PATH_DIM, as_indices, encode, onehot_matrix,
                                      path_matrix)
from nasbench_suite.errors import ArchError
from nasbench_suite.settings_check import Bound, attribute_range_error, dataclass_defaults, setting_range_error
from nasbench_suite.space import Arch

# --- encodings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index, ops, onehot, path", [
    # ops per edge (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2); paths (3,), (0, 4), (1, 5), (0, 2, 5) at offsets 0, 5, 30
    (0, (0, 0, 0, 0, 0, 0), {0, 5, 10, 15, 20, 25}, {0, 5, 30}),
    (1, (0, 0, 0, 0, 0, 1), {0, 5, 10, 15, 20, 26}, {0, 5, 5 + 1 * 5, 30 + 1 * 25}),
    (3125, (1, 0, 0, 0, 0, 0), {1, 5, 10, 15, 20, 25}, {0, 5 + 1, 5, 30 + 1}),
    (15624, (4, 4, 4, 4, 4, 4), {4, 9, 14, 19, 24, 29}, {4, 5 + 4 + 4 * 5, 30 + 4 + 4 * 5 + 4 * 25}),
    (Arch((2, 3, 1, 4, 0, 2)).index, (2, 3, 1, 4, 0, 2), {2, 8, 11, 19, 20, 27},
     {4, 5 + 2 + 0 * 5, 5 + 3 + 2 * 5, 30 + 2 + 1 * 5 + 2 * 25}),
])
def test_each_encoding_on_hand_checked_cells(index: int, ops: tuple[int, ...], onehot: set[int], path: set[int]) -> None:
    """One-hot: edge-major, column edge * 5 + op. Path: one bit per input->output path, at the offset of its
    length plus its ops in base 5, the first edge's op the least significant; trunc_path its first 30 columns."""
    assert Arch.from_index(index).ops == ops
    got = {kind: encode(index, kind) for kind in ENCODINGS}
    assert {kind: x.shape for kind, x in got.items()} == {"onehot": (1, 30), "path": (1, 155), "trunc_path": (1, 30)}
    assert all(x.dtype == np.float32 and set(np.unique(x).tolist()) == {0.0, 1.0} for x in got.values())
    assert set(np.flatnonzero(got["onehot"][0]).tolist()) == onehot
    assert set(np.flatnonzero(got["path"][0]).tolist()) == path
    assert set(np.flatnonzero(got["trunc_path"][0]).tolist()) == {c for c in path if c < 30}


def test_the_matrices_are_read_only_float32_and_the_dims_named() -> None:
    for matrix, dim in ((onehot_matrix(), 30), (path_matrix(), 155)):
        assert matrix.shape == (15625, dim) and matrix.dtype == np.float32 and not matrix.flags.writeable
        with pytest.raises(ValueError):
            matrix[0, 0] = 1.0
    assert ENCODINGS == ("onehot", "path", "trunc_path") and TRUNC_PATH_DIM == 30
    assert ENCODING_DIMS == {"onehot": 30, "path": 155, "trunc_path": 30}
    assert (onehot_matrix().sum(axis=1) == 6).all()
    bits = path_matrix().sum(axis=1)  # 3 where the two two-edge paths share their ops (edges 0, 4 as 1, 5): 5**4
    assert set(bits.tolist()) == {3.0, 4.0} and int((bits == 3).sum()) == 625


def test_as_indices_takes_every_form_of_a_batch_or_a_single_cell() -> None:
    arch = Arch.from_index(7)
    for single in (7, np.int64(7), np.uint8(7), arch, arch.to_str(), np.array(7)):
        got = as_indices(single)
        assert got.dtype == np.int64 and got.tolist() == [7], single
    for batch in ([7, 9000], np.array([7, 9000], dtype=np.uint16), np.array([7, 9000], dtype=np.int32),
                  [arch, Arch.from_index(9000).to_str()], (i for i in (7, 9000))):
        assert as_indices(batch).tolist() == [7, 9000]
    for empty in ([], np.array([], dtype=np.int64)):
        assert as_indices(empty).shape == (0,)
        assert encode(empty, "path").shape == (0, 155)
    assert encode(np.array(7), "onehot").shape == (1, 30)
    np.testing.assert_array_equal(encode(np.uint8(7), "path"), path_matrix()[[7]])


@pytest.mark.parametrize("bad", [np.array([15625]), np.array([-1]), np.array([0, 15625]), np.array([-1, 3])])
def test_an_index_array_outside_the_space_is_refused(bad: np.ndarray) -> None:
    assert as_indices(np.array([0, 15624])).tolist() == [0, 15624]  # both ends inside
    for kind in ENCODINGS:
        with pytest.raises(ArchError) as refused:
            encode(bad, kind)
        assert str(refused.value) == "architecture indices must lie in 0..15624"


def test_an_unknown_encoding_is_one_message_naming_the_three() -> None:
    with pytest.raises(ArchError) as refused:
        encode(0, "graph")
    assert str(refused.value) == "unknown encoding 'graph'; use onehot, path, trunc_path"


# --- settings_check ---------------------------------------------------------------------------------------------


@dataclass
class _Settings:
    needed: int
    n: int = 3
    names: list = field(default_factory=list)
    hidden: int = field(default=5, init=False)
    cache: dict = field(default_factory=dict, init=False)


def test_dataclass_defaults_are_the_init_fields_with_a_default_each_a_fresh_value() -> None:
    """A field without a default, and fields not set by __init__, are no settings; a default_factory's value
    is made anew for each call (a list one caller fills is not another's default)."""
    first = dataclass_defaults(_Settings)
    assert first == {"n": 3, "names": []}
    first["names"].append(1)
    assert dataclass_defaults(_Settings) == {"n": 3, "names": []}
    assert dataclass_defaults(int) == {} and dataclass_defaults(type("Plain", (), {"n": 3})) == {}


@pytest.mark.parametrize("bound, value, accepted", [
    (Bound(0, 1), None, False), (Bound(0, 1, null=True), None, True), (Bound(choices=("a",)), None, False),
    (Bound(1, 100, integer=True), 10**400, False), (Bound(1, integer=True), 10**400, True),
    (Bound(0), 10**400, True), (Bound(0, 1e300), 10**400, False), (Bound(0), -(10**400), False),
    (Bound(0, lo_open=True), 0, False), (Bound(0, lo_open=True), 5e-324, True),
    (Bound(0, 1, each=True, integer=True), [0, 1], True), (Bound(0, 1, each=True, integer=True), [0, 1.0], False),
    (Bound(0, 1, each=True, integer=True), (1,), True), (Bound(choices=(1, 2)), 2, True),
    (Bound(choices=(1, 2)), 2.0, True), (Bound(choices=("a", "b")), "ab", False),
    (Bound(choices=("a", "b"), null=True), "a", True), (Bound(choices=("a", "b"), null=True), None, True),
    (Bound(0, 1), np.float32(0.5), True), (Bound(0, 10, integer=True), np.int64(3), True),
    (Bound(0, 10, integer=True), np.bool_(True), False), (Bound(0, 1), np.float64(math.nan), False),
])
def test_bound_accepts(bound: Bound, value: object, accepted: bool) -> None:
    """None only when null; an integer of 400 digits is compared as an integer (no OverflowError from
    math.isfinite); an open lower end excludes only itself; numpy's numbers count as numbers."""
    assert bool(bound.accepts(value)) is accepted


@pytest.mark.parametrize("bound, text", [
    (Bound(0, lo_open=True), "a finite number > 0"), (Bound(2), "a finite number >= 2"),
    (Bound(1, integer=True, lo_open=True), "an integer > 1"),
    (Bound(1, 10_000_000, integer=True), "an integer in [1, 10000000]"),
    (Bound(0.5, 2.5, lo_open=True, hi_open=True), "a finite number in (0.5, 2.5)"),
    (Bound(0, 1e-3), "a finite number in [0, 0.001]"),
    (Bound(1, 100_000, integer=True, each=True, why="units"), "a list of integers in [1, 100000] (units)"),
    (Bound(0, each=True), "a list of finite numbers >= 0"),
    (Bound(choices=("a", 1), null=True, why="w"), "one of 'a', 1 or null (w)"),
])
def test_bound_describe(bound: Bound, text: str) -> None:
    assert bound.describe() == text


def test_range_errors_name_the_setting_and_read_an_objects_attributes() -> None:
    bounds = {"n": Bound(1, 10, integer=True), "lr": Bound(0, 1)}
    assert setting_range_error(bounds, {"lr": None}) == "setting lr=None must be a finite number in [0, 1]"
    assert setting_range_error(bounds, {"n": 10**400, "lr": 0.5}).startswith("setting n=1000") and \
        setting_range_error(bounds, {"n": 10**400}).endswith(" must be an integer in [1, 10]")
    obj = type("Obj", (), {"n": 10, "lr": 1.5})()
    assert attribute_range_error(bounds, obj) == "setting lr=1.5 must be a finite number in [0, 1]"
    obj.lr = 1.0
    assert attribute_range_error(bounds, obj) is None
    obj.n = 0
    assert attribute_range_error(bounds, obj) == "setting n=0 must be an integer in [1, 10]"
