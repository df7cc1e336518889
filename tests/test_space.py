"""The cell space: conversions, neighbourhoods, mutation, encodings and NATS-Bench isomorphism."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite.errors import ArchError
from nasbench_suite.space import (
    NUM_ARCHS, OPS, PATH_ENCODING_DIM, Arch, all_ops, disconnected_mask, indices_of, isomorphism_classes,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nb201_nats_test_acc_200ep.csv"

# (arch string, NATS-Bench UniqueString) pinned from nb201_nats_test_acc_200ep.csv rows 0, 1, 3, 6, 7.
PINNED = [
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
     "(0)@avg_pool_3x3+(0)@avg_pool_3x3+(0)@nor_conv_1x1+(0)@nor_conv_1x1"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
     "((0)@nor_conv_3x3)@avg_pool_3x3+(0)@nor_conv_3x3+((0)@nor_conv_3x3)@nor_conv_3x3+0"),
    ("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|", "#+#+#+0"),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
     "(#+#)@nor_conv_3x3+((0)@nor_conv_3x3)@nor_conv_3x3+(0)@avg_pool_3x3"),
    ("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
     "#+(#+0)@nor_conv_3x3+0"),
]


def test_all_round_trips() -> None:
    ops = all_ops()
    assert ops.shape == (NUM_ARCHS, 6)
    seen = set()
    for i in range(NUM_ARCHS):
        a = Arch.from_index(i)
        assert a.index == i
        assert tuple(ops[i]) == a.ops
        s = str(a)
        assert s not in seen
        seen.add(s)
        assert Arch.from_str(s) == a
        assert Arch(a.ops) == a
        assert Arch.parse(i) == Arch.parse(s) == Arch.parse(list(a.ops)) == a
    np.testing.assert_array_equal(indices_of(ops), np.arange(NUM_ARCHS))


def test_index_is_base5_with_first_edge_most_significant() -> None:
    assert Arch.from_index(0).ops == (0,) * 6
    assert Arch.from_index(NUM_ARCHS - 1).ops == (4,) * 6
    assert Arch((0, 0, 0, 0, 0, 1)).index == 1
    assert Arch((1, 0, 0, 0, 0, 0)).index == 5**5
    a = Arch.from_str("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert a.ops == (3, 1, 0, 4, 2, 3)
    assert a.index == 3 * 3125 + 1 * 625 + 0 * 125 + 4 * 25 + 2 * 5 + 3
    assert a.names == ("nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3")


@pytest.mark.parametrize("bad", [
    "", "|none~0|", "|none~0|+|none~0|none~1|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "none~0+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|+|none~0|none~1|none~2|", "|none0|+|none~0|none~1|+|none~0|none~1|none~2|",
])
def test_bad_strings_raise(bad: str) -> None:
    with pytest.raises(ArchError):
        Arch.from_str(bad)


def test_a_node_with_too_many_inputs_is_named() -> None:
    with pytest.raises(ArchError, match="node 1 must have 1 inputs, got 2"):
        Arch.from_str("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize("edge", [-1, 6])
def test_replace_refuses_an_edge_out_of_range(edge: int) -> None:
    with pytest.raises(ArchError, match="edge .* is out of range 0..5"):
        Arch.from_index(0).replace(edge, 1)


@pytest.mark.parametrize("op", [-1, 5])
def test_indices_of_refuses_op_indices_out_of_range(op: int) -> None:
    with pytest.raises(ArchError, match="op indices must lie in 0..4"):
        indices_of(np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, op]]))


def test_unknown_op_message_lists_known_ops() -> None:
    with pytest.raises(ArchError, match="unknown operation 'conv'.*nor_conv_3x3"):
        Arch.from_str("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize("bad", [-1, NUM_ARCHS, 10**9, True, 1.0, "abc", None])
def test_bad_indices_raise(bad: object) -> None:
    with pytest.raises(ArchError):
        Arch.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("ops", [(0,) * 5, (0,) * 7, (0, 0, 0, 0, 0, 5), (0, 0, 0, 0, 0, -1), (0, 0, 0, 0, 0, 1.5)])
def test_bad_op_tuples_raise(ops: tuple) -> None:
    with pytest.raises(ArchError):
        Arch(tuple(ops))


def test_arch_is_immutable_and_hashable() -> None:
    a = Arch.from_index(1234)
    with pytest.raises(AttributeError):
        a.ops = (0,) * 6  # type: ignore[misc]
    assert {a: 1}[Arch.from_index(1234)] == 1


def test_neighbours() -> None:
    rng = np.random.default_rng(1)
    for i in rng.integers(0, NUM_ARCHS, 200):
        a = Arch.from_index(int(i))
        nbrs = a.neighbours()
        assert len(nbrs) == 24 and len(set(nbrs)) == 24
        for b in nbrs:
            assert sum(x != y for x, y in zip(a.ops, b.ops)) == 1
            assert a in b.neighbours()


def test_random_and_mutate_are_seeded() -> None:
    def draw(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)  # one generator for the whole draw: every call must advance it
        return [Arch.random(rng).index for _ in range(20)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4) and len(set(draw(3))) > 1  # the caller's generator is used, not a fixed one
    rng1, rng2, rng3 = np.random.default_rng(7), np.random.default_rng(7), np.random.default_rng(8)
    a = Arch.from_index(777)
    children = [a.mutate(rng1).index for _ in range(50)]
    assert children == [a.mutate(rng2).index for _ in range(50)]
    assert children != [a.mutate(rng3).index for _ in range(50)] and len(set(children)) > 1  # the caller's, too


def test_random_covers_ops_uniformly() -> None:
    rng = np.random.default_rng(0)
    counts = Counter(op for _ in range(4000) for op in Arch.random(rng).ops)
    assert set(counts) == set(range(5))
    assert all(abs(c / 24000 - 0.2) < 0.02 for c in counts.values())


def test_mutation_schemes() -> None:
    rng = np.random.default_rng(0)
    a = Arch.from_index(4321)
    for scheme, expected_edge0 in (("node_then_edge", 1 / 3), ("uniform_edge", 1 / 6)):
        edges, new_ops = Counter(), Counter()
        for _ in range(6000):
            b = a.mutate(rng, scheme)
            diff = [e for e in range(6) if a.ops[e] != b.ops[e]]
            assert len(diff) == 1
            edges[diff[0]] += 1
            new_ops[(a.ops[diff[0]], b.ops[diff[0]])] += 1
        assert abs(edges[0] / 6000 - expected_edge0) < 0.03
        assert len(edges) == 6
        for old_op in set(a.ops):  # the new op: uniform among the four others (each of them, the last op too)
            drawn = {new: n for (was, new), n in new_ops.items() if was == old_op}
            assert sorted(drawn) == [op for op in range(5) if op != old_op]
            assert max(drawn.values()) / sum(drawn.values()) < 0.25 + 0.06
    with pytest.raises(ArchError):
        a.mutate(rng, "bogus")


def test_onehot_encoding() -> None:
    a = Arch((3, 1, 0, 4, 2, 3))
    x = a.onehot()
    assert x.shape == (30,) and x.sum() == 6
    assert tuple(int(k) for k in x.reshape(6, 5).argmax(axis=1)) == a.ops


def test_path_encoding() -> None:
    # paths: 3<-0 [op 4]; 1<-0,3<-1 [3, 2]; 2<-0,3<-2 [1, 3]; 1<-0,2<-1,3<-2 [3, 0, 3]
    a = Arch((3, 1, 0, 4, 2, 3))
    x = a.path_encoding()
    assert x.shape == (PATH_ENCODING_DIM,) == (155,)
    expected = {4, 5 + 3 + 2 * 5, 5 + 1 + 3 * 5, 30 + 3 + 0 * 5 + 3 * 25}
    assert set(np.flatnonzero(x).tolist()) == expected
    assert np.array_equal(a.encode("path"), x) and np.array_equal(a.encode("onehot"), a.onehot())
    with pytest.raises(ArchError):
        a.encode("graph")


def test_arch_encode_takes_every_encoding_name_the_predictors_take() -> None:
    """Arch.encode refused 'trunc_path' (ArchError "use 'onehot' or 'path'") although
    nasbench_suite.encodings.encode, the predictors and BANANAS (its default encoding) take it."""
    from nasbench_suite.encodings import ENCODINGS, encode

    a = Arch((3, 1, 0, 4, 2, 3))
    for kind in ENCODINGS:
        assert np.array_equal(a.encode(kind), encode(a, kind)[0]), kind
    assert a.encode("trunc_path").shape == (30,) and np.array_equal(a.encode("trunc_path"), a.path_encoding()[:30])


# naszilla's Cell201 (naszilla/nas_bench_201/cell_201.py) and NASLib's NB201 encodings
# (naslib/search_spaces/nasbench201/encodings.py, conversions.py), rewritten from their definitions on
# the architecture string, so ours is checked against them cell by cell.
NASZILLA_OPS = ["avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3", "none", "skip_connect"]
NASLIB_OPS = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]
NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))


def _string_ops(arch_str: str) -> list[str]:
    """Cell201.get_op_list: the ops in string order."""
    return [t.split("~")[0] for i, t in enumerate(arch_str.split("|")) if i not in (0, 2, 5, 9)]


def _naszilla_path_indices(arch_str: str) -> set[int]:
    """Cell201.get_path_indices over the path blueprints [[3], [0, 4], [1, 5], [0, 2, 5]]."""
    ops = _string_ops(arch_str)
    out = set()
    for i, blueprint in enumerate(([3], [0, 4], [1, 5], [0, 2, 5])):
        index = 0 if i == 0 else 5 if i in (1, 2) else 30
        out.add(index + sum(NASZILLA_OPS.index(ops[e]) * 5**j for j, e in enumerate(blueprint)))
    return out


def _naslib_onehot(arch_str: str) -> np.ndarray:
    """encode_adjacency_one_hot of convert_str_to_op_indices(arch_str)."""
    node_ops = [[t.split("~")[0] for t in n.strip()[1:-1].split("|")] for n in arch_str.split("+")]
    op_indices = [NASLIB_OPS.index(node_ops[v - 2][u - 1]) for u, v in NASLIB_EDGES]
    return np.eye(5, dtype=np.float32)[op_indices].reshape(-1)


def test_path_encoding_is_naszillas_with_its_op_numbers_relabelled() -> None:
    """5 + 25 + 125 = 155 bits; our column for an op sequence is naszilla's with each op renumbered from
    its order (avg_pool, conv1x1, conv3x3, none, skip) to NB201's, the length blocks kept; the first 30
    columns (trunc_path, encode_freq_paths(cutoff=30)) are the same 30 paths. Every cell."""
    from nasbench_suite.encodings import path_matrix

    relabel = np.zeros(155, dtype=np.int64)  # our column -> naszilla's column
    for length, offset in ((1, 0), (2, 5), (3, 30)):
        for seq in np.ndindex(*(5,) * length):
            ours = offset + sum(op * 5**j for j, op in enumerate(seq))
            relabel[ours] = offset + sum(NASZILLA_OPS.index(OPS[op]) * 5**j for j, op in enumerate(seq))
    assert sorted(relabel.tolist()) == list(range(155)) and sorted(relabel[:30].tolist()) == list(range(30))
    paths = path_matrix()
    for index in range(NUM_ARCHS):
        arch = Arch.from_index(index)
        assert set(relabel[np.flatnonzero(paths[index])].tolist()) == _naszilla_path_indices(arch.to_str()), arch


def test_path_and_trunc_path_follow_naszillas_definition_on_paths_found_by_search() -> None:
    """An implementation from naszilla's definition that shares nothing with ours: each cell's NB201 string
    is written from its index (index = sum(op_e * 5**(5 - e)), ops in NB201's order), its edges read back
    from the string, every input->output path found by depth-first search (so the four blueprints are not
    assumed), ``none`` edges included as naszilla's Cell201 does; a path of ops (o_1..o_L) in naszilla's
    op numbering sets bit sum_{l<L} 5**l + sum_j o_j * 5**j (encode_paths, 155 bits);
    encode_freq_paths(cutoff=30) keeps the bits below 30. Ours equals it on all 15,625 cells, columns
    relabelled from our op numbering to naszilla's within each path length."""
    from nasbench_suite.encodings import encode

    nb201_ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

    def nb201_string(index: int) -> str:
        ops = [nb201_ops[(index // 5 ** (5 - e)) % 5] for e in range(6)]
        return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)

    def naszilla_bits(arch_str: str) -> tuple[set[int], int]:
        into: dict[int, list[tuple[int, str]]] = {}  # node -> [(source, op)]
        for node, text in enumerate(arch_str.split("+"), start=1):
            for token in text.strip("|").split("|"):
                op, source = token.split("~")
                into.setdefault(int(source), []).append((node, op))
        paths: list[list[str]] = []

        def walk(node: int, ops: list[str]) -> None:
            if node == 3:
                paths.append(ops)
            for target, op in into.get(node, []):
                walk(target, [*ops, op])

        walk(0, [])
        bits = {sum(5**l for l in range(1, len(p))) + sum(NASZILLA_OPS.index(o) * 5**j for j, o in enumerate(p))
                for p in paths}
        return bits, len(paths)

    relabel = np.zeros(155, dtype=np.int64)  # our column -> naszilla's
    for length, offset in ((1, 0), (2, 5), (3, 30)):
        for seq in np.ndindex(*(5,) * length):
            relabel[offset + sum(op * 5**j for j, op in enumerate(seq))] = \
                offset + sum(NASZILLA_OPS.index(nb201_ops[op]) * 5**j for j, op in enumerate(seq))
    path, trunc = encode(np.arange(NUM_ARCHS), "path"), encode(np.arange(NUM_ARCHS), "trunc_path")
    assert path.shape == (NUM_ARCHS, 155) and trunc.shape == (NUM_ARCHS, 30)
    for index in range(NUM_ARCHS):
        arch_str = nb201_string(index)
        assert Arch.from_index(index).to_str() == arch_str
        bits, n_paths = naszilla_bits(arch_str)
        assert n_paths == 4
        assert set(relabel[np.flatnonzero(path[index])].tolist()) == bits, arch_str
        assert set(relabel[np.flatnonzero(trunc[index])].tolist()) == {b for b in bits if b < 30}, arch_str


def test_onehot_is_naslibs_adjacency_one_hot_in_our_column_order() -> None:
    """NASLib's adjacency_one_hot (edges in EDGE_LIST order, ops skip, none, conv3x3, conv1x1, pool) is
    ours with the columns permuted: our edges 0, 1, 3, 2, 4, 5, our ops 1, 0, 3, 2, 4. Every cell."""
    from nasbench_suite.encodings import onehot_matrix

    cols = np.array([5 * e + OPS.index(op) for e in (0, 1, 3, 2, 4, 5) for op in NASLIB_OPS])
    onehot = onehot_matrix()
    for index in range(NUM_ARCHS):
        arch = Arch.from_index(index)
        assert np.array_equal(onehot[index, cols], _naslib_onehot(arch.to_str())), arch


@pytest.mark.parametrize("arch_str,unique", PINNED)
def test_canonical_string_pinned(arch_str: str, unique: str) -> None:
    assert Arch.from_str(arch_str).canonical_str() == unique


def test_isomorphism_classes_and_disconnected_cells() -> None:
    iso = isomorphism_classes()
    assert iso.num_classes == 6466
    assert len(set(iso.strings)) == 6466
    assert int(disconnected_mask().sum()) == 341
    # representatives are the smallest index in their class, in increasing order
    assert np.all(np.diff(iso.representatives) > 0)
    for c in (0, 17, 6465):
        members = iso.members(int(iso.representatives[c]))
        assert members.min() == iso.representatives[c]
        assert {Arch.from_index(int(m)).canonical_str() for m in members} == {iso.strings[c]}
    # every disconnected cell is in a class whose members are all disconnected
    dis = disconnected_mask()
    assert all(dis[iso.members(int(i))].all() for i in np.flatnonzero(dis)[:20])
    assert Arch.from_index(0).is_disconnected()
    assert Arch((1, 0, 0, 0, 0, 1)).is_disconnected()  # 0 -skip-> 1, 2 -skip-> 3, but nothing enters 2
    assert not Arch((1, 0, 1, 0, 0, 1)).is_disconnected()  # adding 2 <-skip- 1 joins them


def _cell_outputs(x: np.ndarray, maps: dict[int, np.ndarray]) -> list[bytes]:
    """Each cell's output on ``x`` with its ops as functions: none -> 0, skip -> x, the others
    ``tanh(W_op @ x)`` (zero at zero, as NATS-Bench's ``#`` rule assumes); rounded bytes to compare."""
    from nasbench_suite.space import EDGES

    def apply(op: int, v: np.ndarray) -> np.ndarray:
        return np.zeros_like(v) if op == 0 else v if op == 1 else np.tanh(maps[op] @ v)

    out = []
    for ops in all_ops():
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(apply(int(ops[e]), nodes[src]) for e, (dst, src) in enumerate(EDGES) if dst == node))
        out.append(np.round(nodes[3], 9).tobytes())
    return out


def test_isomorphism_classes_against_brute_force_references() -> None:
    """Without the shared NATS-Bench file: (1) every class is one function (the cells' outputs with random
    zero-preserving ops are equal within each of the 6,466 classes; a canonical string that merged cells of
    different functions fails); (2) the representative is the smallest index of the cells sharing the string,
    and ``members`` / ``representative_of`` name exactly those; (3) a cell is cut off iff none of its input ->
    output paths (enumerated here from the edge list) has only non-``none`` edges."""
    from nasbench_suite.space import EDGES

    iso = isomorphism_classes()
    rng = np.random.default_rng(0)
    outputs = np.array(_cell_outputs(rng.normal(size=(6, 3)), {k: rng.normal(size=(6, 6)) for k in (2, 3, 4)}),
                       dtype=object)
    assert all(len(set(outputs[iso.class_of == c])) == 1 for c in range(iso.num_classes))
    assert len(set(outputs)) < iso.num_classes  # the check has teeth: other classes share a function too
    by_string: dict[str, list[int]] = {}
    for i in range(NUM_ARCHS):
        by_string.setdefault(Arch.from_index(i).canonical_str(), []).append(i)
    assert len(by_string) == iso.num_classes
    for members in list(by_string.values())[::97]:
        for i in members[:3]:
            assert iso.representative_of(i) == Arch.from_index(members[0])
            assert iso.members(i).tolist() == members
            assert iso.strings[iso.class_of[i]] == Arch.from_index(i).canonical_str()

    def paths(node: int) -> list[list[int]]:  # edge lists from node 0 to ``node``
        if node == 0:
            return [[]]
        return [p + [e] for e, (dst, src) in enumerate(EDGES) if dst == node for p in paths(src)]

    cut_off = [all(any(ops[e] == 0 for e in p) for p in paths(3)) for ops in all_ops()]
    assert len(paths(3)) == 4
    np.testing.assert_array_equal(disconnected_mask(), cut_off)
    assert all(Arch.from_index(i).is_disconnected() == c for i, c in enumerate(cut_off) if i % 7 == 0)


def test_nats_bench_classes_keep_a_none_edge_as_a_term() -> None:
    """NATS-Bench's strings count a ``none`` input as a term (``#``), so swapping nodes 1 and 2 of a cell without
    edge 2<-1 gives an isomorphic cell in another class: the classes are sound (one function each, above) but
    finer than isomorphism. Kept, as the classes must be NATS-Bench's (6,466)."""
    a = Arch.from_str("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|avg_pool_3x3~2|")
    b = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|avg_pool_3x3~2|")  # nodes 1, 2 swapped
    assert a.canonical_str() == "#+(#+(0)@nor_conv_3x3)@avg_pool_3x3+((0)@nor_conv_1x1)@avg_pool_3x3"
    assert b.canonical_str() == "#+(#+(0)@nor_conv_1x1)@avg_pool_3x3+((0)@nor_conv_3x3)@avg_pool_3x3"


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared NB201 reference not present")
def test_canonical_strings_equal_nats_bench_for_every_cell() -> None:
    import pandas as pd

    ref = pd.read_csv(REFERENCE, usecols=["ArchitectureString", "UniqueString"])
    assert len(ref) == NUM_ARCHS
    ours = [Arch.from_str(s).canonical_str() for s in ref["ArchitectureString"]]
    assert ours == ref["UniqueString"].tolist()
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


@pytest.mark.parametrize("text", ["²", "１２", "٣"])  # str.isdigit takes these, int() refuses some of them
def test_parse_refuses_non_ascii_digits_with_an_arch_error(text: str) -> None:
    with pytest.raises(ArchError):  # "²" used to be a bare ValueError
        Arch.parse(text)
    assert Arch.parse(" 42 ").index == 42


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_random_and_mutate_need_a_generator(rng: object) -> None:
    with pytest.raises(ArchError, match="Arch.random needs a np.random.Generator"):  # was an AttributeError
        Arch.random(rng)
    with pytest.raises(ArchError, match="Arch.mutate needs a np.random.Generator"):
        Arch.from_index(5).mutate(rng)


def test_encode_takes_a_single_arch() -> None:
    from nasbench_suite.encodings import as_indices, encode

    arch = Arch.from_index(9000)
    for kind in ("path", "onehot"):  # a single Arch used to fail: "'Arch' object is not iterable"
        batch = encode([arch], kind)
        for single in (arch, 9000, np.int64(9000), str(arch), np.array(9000)):
            np.testing.assert_array_equal(encode(single, kind), batch)
    assert as_indices(arch).tolist() == [9000]
    with pytest.raises(ArchError):
        as_indices(True)
    assert encode(np.array([0, 15624]), "onehot").shape == (2, 30)  # the first and last cells
    for bad in (-1, 15625):  # an index array one past either end is refused by name, not an IndexError
        with pytest.raises(ArchError, match=r"indices must lie in 0\.\.15624"):
            encode(np.array([0, bad]), "onehot")


@pytest.mark.parametrize("text", ["-1", "-15625", "15625", "+99999"])
def test_parse_says_an_integer_out_of_range_is_out_of_range(text: str) -> None:
    """"-1" was read as a bad architecture string."""
    with pytest.raises(ArchError, match=f"architecture index {int(text)} is out of range 0..15624"):
        Arch.parse(text)
    assert Arch.parse("+7") == Arch.from_index(7)
    with pytest.raises(ArchError, match="bad architecture string"):
        Arch.parse("--1")
