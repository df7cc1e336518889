"""The NAS-Bench-201 / NATS-Bench topology search space.

A cell is a DAG on 4 nodes (node 0 is the cell input, node 3 its output) with 6 edges, each carrying
one of 5 operations. An :class:`Arch` is the immutable 6-tuple of op indices in the edge order of the
standard NAS-Bench-201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``:

====  ======  =====================
edge  target  source
====  ======  =====================
0     node 1  node 0
1     node 2  node 0
2     node 2  node 1
3     node 3  node 0
4     node 3  node 1
5     node 3  node 2
====  ======  =====================

Our index is the base-5 number whose digits are the op indices, edge 0 most significant::

    index = sum(ops[e] * 5 ** (5 - e) for e in range(6))

so sorting by index sorts the op tuples lexicographically. NAS-Bench-201's own index is an
unrelated permutation stored in its files; the architecture string joins the two.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Sequence, Union

import numpy as np

from .errors import ArchError

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_OPS = len(OPS)
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""(target, source) node of each edge, in string order."""
NUM_EDGES = len(EDGES)
NUM_NODES = 4
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625
NONE, SKIP, CONV1, CONV3, POOL = range(NUM_OPS)

_OP_INDEX = {name: i for i, name in enumerate(OPS)}
_PLACE = tuple(NUM_OPS ** (NUM_EDGES - 1 - e) for e in range(NUM_EDGES))

# Input->output paths, as edge indices in order of traversal (used by the path encoding).
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
_PATH_OFFSETS = {1: 0, 2: NUM_OPS, 3: NUM_OPS + NUM_OPS**2}
PATH_ENCODING_DIM = NUM_OPS + NUM_OPS**2 + NUM_OPS**3  # 155
TRUNC_PATH_ENCODING_DIM = NUM_OPS + NUM_OPS**2  # 30: the paths of one and two edges (naszilla's cutoff 30)
ONEHOT_ENCODING_DIM = NUM_EDGES * NUM_OPS  # 30

ArchLike = Union["Arch", int, str, Sequence[int]]


def _require_generator(rng: object, what: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ArchError(f"{what} needs a np.random.Generator (e.g. np.random.default_rng(seed)), "
                        f"got {type(rng).__name__} {rng!r}")


MUTATION_SCHEMES = ("node_then_edge", "uniform_edge")
"""The random edits :meth:`Arch.mutate` makes (see there)."""


def check_mutation_scheme(scheme: object) -> None:
    """ArchError unless ``scheme`` is one of :data:`MUTATION_SCHEMES`."""
    if scheme not in MUTATION_SCHEMES:
        raise ArchError(f"unknown mutation scheme {scheme!r}; use 'node_then_edge' or 'uniform_edge'")


@dataclass(frozen=True, slots=True)
class Arch:
    """One cell of the space: the op index on each of the 6 edges, in string order."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if not isinstance(ops, tuple):
            raise ArchError(f"Arch.ops must be a tuple, got {type(ops).__name__}")
        if len(ops) != NUM_EDGES:
            raise ArchError(f"an architecture has {NUM_EDGES} edges, got {len(ops)} ops: {ops!r}")
        for op in ops:
            if isinstance(op, (bool, np.bool_)) or not isinstance(op, (int, np.integer)):
                raise ArchError(f"op indices must be integers 0..{NUM_OPS - 1}, got {op!r}")
            if not 0 <= op < NUM_OPS:
                raise ArchError(f"op index {op} is out of range 0..{NUM_OPS - 1} in {ops!r}")
        object.__setattr__(self, "ops", tuple(int(op) for op in ops))

    # ----- conversions -------------------------------------------------------------------------
    @classmethod
    def from_index(cls, index: int) -> "Arch":
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise ArchError(f"an architecture index must be an integer, got {index!r}")
        if not 0 <= index < NUM_ARCHS:
            raise ArchError(f"architecture index {index} is out of range 0..{NUM_ARCHS - 1}")
        index = int(index)
        return cls(tuple((index // p) % NUM_OPS for p in _PLACE))

    @classmethod
    def from_str(cls, text: str) -> "Arch":
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (surrounding whitespace ignored)."""
        if not isinstance(text, str):
            raise ArchError(f"an architecture string must be a str, got {type(text).__name__}")
        s = text.strip()
        nodes = s.split("+")
        if len(nodes) != NUM_NODES - 1:
            raise ArchError(
                f"bad architecture string {text!r}: expected 3 nodes separated by '+', "
                f"like '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|'"
            )
        ops: list[int] = []
        for target, node in enumerate(nodes, start=1):
            if len(node) < 2 or node[0] != "|" or node[-1] != "|":
                raise ArchError(f"bad architecture string {text!r}: node {target} {node!r} must start and end with '|'")
            parts = node[1:-1].split("|")
            if len(parts) != target:
                raise ArchError(f"bad architecture string {text!r}: node {target} must have {target} inputs, got {len(parts)}")
            for source, part in enumerate(parts):
                name, sep, src = part.partition("~")
                if not sep or src != str(source):
                    raise ArchError(f"bad architecture string {text!r}: expected 'op~{source}' in node {target}, got {part!r}")
                if name not in _OP_INDEX:
                    raise ArchError(f"unknown operation {name!r} in {text!r}; known operations: {', '.join(OPS)}")
                ops.append(_OP_INDEX[name])
        return cls(tuple(ops))

    @classmethod
    def from_names(cls, names: Sequence[str]) -> "Arch":
        unknown = [n for n in names if n not in _OP_INDEX]
        if unknown:
            raise ArchError(f"unknown operation(s) {unknown}; known operations: {', '.join(OPS)}")
        return cls(tuple(_OP_INDEX[n] for n in names))

    @classmethod
    def parse(cls, value: ArchLike) -> "Arch":
        """Accept an Arch, an index, a decimal index string, an architecture string or an op tuple."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, str):
            s = value.strip()
            if s.isascii() and s.lstrip("+-").isdecimal() and len(s) - len(s.lstrip("+-")) <= 1:
                # an integer (str.isdigit also takes e.g. superscripts, which int() refuses); a signed one
                # too, so that -1 is "out of range", not "bad architecture string"
                return cls.from_index(int(s))
            if "," in s and "|" not in s:
                try:
                    return cls(tuple(int(x) for x in s.strip("()[] ").split(",")))
                except ValueError:
                    raise ArchError(f"bad op tuple {value!r}: expected 6 integers like '3,1,0,4,2,2'") from None
            return cls.from_str(s)
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return cls.from_index(value)
        if isinstance(value, (tuple, list, np.ndarray)):
            return cls(tuple(value))
        raise ArchError(f"cannot read an architecture from {value!r}")

    @property
    def index(self) -> int:
        return sum(op * p for op, p in zip(self.ops, _PLACE))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(OPS[op] for op in self.ops)

    def to_str(self) -> str:
        names = self.names
        nodes = []
        start = 0
        for target in range(1, NUM_NODES):
            nodes.append("|" + "|".join(f"{names[start + s]}~{s}" for s in range(target)) + "|")
            start += target
        return "+".join(nodes)

    def __str__(self) -> str:
        return self.to_str()

    def __int__(self) -> int:
        return self.index

    def node_inputs(self, node: int) -> list[tuple[int, int]]:
        """(op, source) pairs of the edges entering ``node`` (1..3), in string order."""
        return [(self.ops[e], src) for e, (dst, src) in enumerate(EDGES) if dst == node]

    # ----- isomorphism -------------------------------------------------------------------------
    def canonical_str(self) -> str:
        """NATS-Bench's ``to_unique_str(consider_zero=True)``: equal strings, isomorphic cells.

        From node 0 = ``0``, node by node: an edge contributes ``#`` if its op is ``none`` or its
        input's string is exactly ``#``; the input's string if the op is ``skip_connect``;
        ``(input)@op`` otherwise. A node is its contributions sorted and joined by ``+`` (so a
        node fed only by zeros is ``#+#``, not ``#``, exactly as in NATS-Bench).
        """
        strings = ["0"]
        for node in range(1, NUM_NODES):
            parts = []
            for op, src in self.node_inputs(node):
                x = strings[src]
                if op == NONE or x == "#":
                    parts.append("#")
                elif op == SKIP:
                    parts.append(x)
                else:
                    parts.append(f"({x})@{OPS[op]}")
            strings.append("+".join(sorted(parts)))
        return strings[-1]

    def is_disconnected(self) -> bool:
        """True when no path of non-``none`` edges joins the input to the output (chance accuracy)."""
        reach = [True, False, False, False]
        for e, (dst, src) in enumerate(EDGES):  # edges are in topological order of their target
            if self.ops[e] != NONE and reach[src]:
                reach[dst] = True
        return not reach[3]

    # ----- neighbourhood and sampling ----------------------------------------------------------
    def neighbours(self) -> list["Arch"]:
        """All 24 cells that differ from this one on exactly one edge (edge-major, op-minor order)."""
        out = []
        for e in range(NUM_EDGES):
            for op in range(NUM_OPS):
                if op != self.ops[e]:
                    out.append(self.replace(e, op))
        return out

    def replace(self, edge: int, op: int) -> "Arch":
        if not 0 <= edge < NUM_EDGES:
            raise ArchError(f"edge {edge} is out of range 0..{NUM_EDGES - 1}")
        ops = list(self.ops)
        ops[edge] = op
        return Arch(tuple(ops))

    def mutate(self, rng: np.random.Generator, scheme: str = "node_then_edge") -> "Arch":
        """One random edit to a different op.

        ``node_then_edge`` is NAS-Bench-201's REA mutation: a uniform node (1..3), then a uniform
        incoming edge of it, then a uniform different op (so edge 1<-0 is picked with p=1/3).
        ``uniform_edge`` picks the edge uniformly among the 6.
        """
        _require_generator(rng, "Arch.mutate")
        check_mutation_scheme(scheme)
        if scheme == "node_then_edge":
            node = int(rng.integers(1, NUM_NODES))
            edges = [e for e, (dst, _) in enumerate(EDGES) if dst == node]
            edge = edges[int(rng.integers(len(edges)))]
        else:  # uniform_edge
            edge = int(rng.integers(NUM_EDGES))
        op = int(rng.integers(NUM_OPS - 1))
        if op >= self.ops[edge]:
            op += 1
        return self.replace(edge, op)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Arch":
        _require_generator(rng, "Arch.random")
        return cls(tuple(int(x) for x in rng.integers(0, NUM_OPS, size=NUM_EDGES)))

    # ----- encodings ---------------------------------------------------------------------------
    def onehot(self) -> np.ndarray:
        """30-dim one-hot of the op on each edge (edge-major), float32.

        NASLib's NB201 ``adjacency_one_hot`` (``encode_adjacency_one_hot``) is the same 30 bits in
        another column order: its edges in ``EDGE_LIST`` order (ours 0, 1, 3, 2, 4, 5) and its ops as
        ``skip_connect, none, nor_conv_3x3, nor_conv_1x1, avg_pool_3x3`` (a test checks every cell);
        naszilla's ``encode_one_hot`` keeps our edge order with its own op order."""
        out = np.zeros(ONEHOT_ENCODING_DIM, dtype=np.float32)
        out[np.arange(NUM_EDGES) * NUM_OPS + np.asarray(self.ops)] = 1.0
        return out

    def path_encoding(self) -> np.ndarray:
        """BANANAS path encoding (155 dims): one bit per op sequence along each input->output path.

        The four paths are 3<-0; 1<-0,3<-1; 2<-0,3<-2; 1<-0,2<-1,3<-2. A path of length L sets bit
        ``offset(L) + sum(op_j * 5**j)``, as in the BANANAS/naszilla code for NAS-Bench-201
        (``Cell201.get_path_indices``; ``none`` counts as an op, so every cell sets exactly four bits,
        two of which may coincide). ``op_j`` is our op index (NB201's order ``none, skip_connect,
        nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``); naszilla numbers the ops ``avg_pool_3x3,
        nor_conv_1x1, nor_conv_3x3, none, skip_connect``, so its columns are ours relabelled within each
        path length (the same 5/25/125 blocks and the same set of paths; a test checks every cell).
        NASLib's ``encode_paths`` for NB201 applies naszilla's path list to its own edge order
        (``EDGE_LIST`` in ``conversions.py``), so its "paths" are edge sets that are not all
        input->output paths; we follow naszilla.
        """
        out = np.zeros(PATH_ENCODING_DIM, dtype=np.float32)
        for path in PATHS:
            idx = _PATH_OFFSETS[len(path)] + sum(self.ops[e] * NUM_OPS**j for j, e in enumerate(path))
            out[idx] = 1.0
        return out

    def encode(self, kind: str) -> np.ndarray:
        """The encoding ``kind``: 'onehot', 'path' or 'trunc_path' (the first
        :data:`TRUNC_PATH_ENCODING_DIM` columns of 'path'), the names ``nasbench_suite.encodings`` takes."""
        if kind == "onehot":
            return self.onehot()
        if kind == "path":
            return self.path_encoding()
        if kind == "trunc_path":
            return self.path_encoding()[:TRUNC_PATH_ENCODING_DIM]
        raise ArchError(f"unknown encoding {kind!r}; use 'onehot', 'path' or 'trunc_path'")


# ----- whole-space helpers -------------------------------------------------------------------------
def iter_archs() -> Iterator[Arch]:
    for i in range(NUM_ARCHS):
        yield Arch.from_index(i)


@functools.lru_cache(maxsize=1)
def all_ops() -> np.ndarray:
    """(15625, 6) int8 array of op indices; row i is the cell with index i. Read-only."""
    idx = np.arange(NUM_ARCHS)
    ops = np.stack([(idx // p) % NUM_OPS for p in _PLACE], axis=1).astype(np.int8)
    ops.flags.writeable = False
    return ops


def indices_of(ops: np.ndarray) -> np.ndarray:
    """Vectorized inverse of :func:`all_ops`: (n, 6) op indices -> (n,) arch indices."""
    ops = np.asarray(ops)
    if ops.ndim != 2 or ops.shape[1] != NUM_EDGES:
        raise ArchError(f"expected an (n, {NUM_EDGES}) array of op indices, got shape {ops.shape}")
    if ops.size and (ops.min() < 0 or ops.max() >= NUM_OPS):
        raise ArchError(f"op indices must lie in 0..{NUM_OPS - 1}")
    return ops.astype(np.int64) @ np.asarray(_PLACE, dtype=np.int64)


@dataclass(frozen=True)
class IsomorphismClasses:
    """The partition of the space into NATS-Bench isomorphism classes.

    ``class_of[i]`` is the class id of arch i; ``representatives[c]`` is the smallest arch index in
    class c (classes are numbered in order of their representative); ``strings[c]`` is the class's
    canonical string.
    """

    class_of: np.ndarray
    representatives: np.ndarray
    strings: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.representatives)

    def representative_of(self, arch: ArchLike) -> Arch:
        return Arch.from_index(int(self.representatives[self.class_of[Arch.parse(arch).index]]))

    def members(self, arch: ArchLike) -> np.ndarray:
        return np.flatnonzero(self.class_of == self.class_of[Arch.parse(arch).index])


@functools.lru_cache(maxsize=1)
def isomorphism_classes() -> IsomorphismClasses:
    class_ids: dict[str, int] = {}
    class_of = np.empty(NUM_ARCHS, dtype=np.int32)
    reps: list[int] = []
    for arch in iter_archs():
        s = arch.canonical_str()
        c = class_ids.get(s)
        if c is None:
            c = class_ids[s] = len(reps)
            reps.append(arch.index)
        class_of[arch.index] = c
    class_of.flags.writeable = False
    representatives = np.asarray(reps, dtype=np.int32)
    representatives.flags.writeable = False
    return IsomorphismClasses(class_of, representatives, tuple(class_ids))


NB201_SHUFFLE_SEED = 88
"""``random.seed(88)``: the shuffle that gave NAS-Bench-201 its index order (see :func:`nb201_order`)."""
_NB201_CHECK = {0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
                9: "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
                123: "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"}


@functools.lru_cache(maxsize=1)
def nb201_order() -> np.ndarray:
    """(15625,) int64: our index of each NAS-Bench-201 / NATS-Bench ``tss`` index. Read-only.

    NAS-Bench-201 enumerated the cells in our base-5 order (``CellStructure.gen_all``) and then ran
    ``random.seed(88); random.shuffle(archs)`` (AutoDL-Projects' ``generate_meta_info``, which asserts
    the strings of its archs 0, 9 and 123, as this function does); the result equals NATS-Bench's
    ``meta_archs`` for all 15,625 cells. Third-party per-cell data keyed by NB201's ``arch_index``
    (HW-NAS-Bench, HELP latencies) maps to ours through it: ``ours = nb201_order()[nb201_index]``.
    """
    import random

    order = list(range(NUM_ARCHS))
    random.Random(NB201_SHUFFLE_SEED).shuffle(order)
    for i, text in _NB201_CHECK.items():
        if Arch.from_index(order[i]).to_str() != text:  # pragma: no cover - a changed random module
            raise ArchError(f"NAS-Bench-201's index order could not be rebuilt: its arch {i} came out as "
                            f"{Arch.from_index(order[i])}, not {text}")
    out = np.asarray(order, dtype=np.int64)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def disconnected_mask() -> np.ndarray:
    """Boolean (15625,) mask of the cells whose output is cut off from the input."""
    mask = np.fromiter((a.is_disconnected() for a in iter_archs()), dtype=bool, count=NUM_ARCHS)
    mask.flags.writeable = False
    return mask
