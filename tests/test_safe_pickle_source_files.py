"""The restricted unpickler's allow-list, dtype and scalar refusals and messages (``safe_pickle``), and which
files make a strategy's ``source_sha256`` (``source_files``): cases found missing by a hand-made mutation
audit of those two modules."""
from __future__ import annotations

import builtins
import bz2
import importlib
import io
import pickle
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasbench_suite.errors import DatasetError
from nasbench_suite.safe_pickle import RestrictedUnpickler, UnsafePickleError, load_pbz2, loads
from nasbench_suite.source_files import class_source_files

ALLOWED_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "bool", "str", "bytes", "bytearray",
                    "complex"}
REFUSAL = "the safe loader admits only builtin containers, collections.OrderedDict and numeric numpy scalars"


# --- safe_pickle ------------------------------------------------------------------------------------------------


def test_the_allow_list_is_exactly_the_documented_globals() -> None:
    """Every builtin outside the twelve containers and scalars (type, getattr, vars, breakpoint...) and every
    name of any other module (posix.dict is no builtin dict, numpy's array rebuild is no scalar) is refused
    with the one message naming it; the documented globals resolve."""
    unpickler = RestrictedUnpickler(io.BytesIO(b""))
    allowed = {(module, name) for module in ("builtins", "__builtin__") for name in ALLOWED_BUILTINS}
    allowed |= {("collections", "OrderedDict"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar")}
    names = sorted({*dir(builtins), "OrderedDict", "scalar", "dtype", "system", "_reconstruct", "ndarray", "encode"})
    modules = ("builtins", "__builtin__", "os", "posix", "nt", "sys", "io", "copyreg", "_codecs", "subprocess",
               "collections", "numpy", "numpy.core.multiarray", "numpy._core.multiarray", "torch._utils")
    for module in modules:
        for name in names:
            if (module, name) in allowed:
                assert callable(unpickler.find_class(module, name)), (module, name)
                continue
            with pytest.raises(UnsafePickleError) as refused:
                unpickler.find_class(module, name)
            assert str(refused.value) == f"refused to load the global {module}.{name}: {REFUSAL}"
    assert all(unpickler.find_class(m, n) is getattr(builtins, n)
               for m, n in allowed if m in ("builtins", "__builtin__") and n not in ("bytes", "bytearray"))


def test_a_refused_global_in_a_file_is_one_exact_message_naming_the_file(tmp_path: Path) -> None:
    evil = tmp_path / "000001.pickle.pbz2"
    evil.write_bytes(bz2.compress(b"cposix\nsystem\n(S'true'\ntR."))
    with pytest.raises(UnsafePickleError) as refused:
        load_pbz2(evil)
    assert str(refused.value) == f"{evil}: refused to load the global posix.system: {REFUSAL}"


@pytest.mark.parametrize("value", [np.bool_(True), np.bool_(False), np.int8(-5), np.int16(-300), np.int32(7),
                                   np.int64(-2**40), np.uint8(200), np.uint16(65535), np.uint32(4_000_000_000),
                                   np.uint64(2**63 + 5), np.float16(0.5), np.float32(1.25), np.float64(-0.1)])
def test_every_plain_numeric_numpy_scalar_loads_as_itself(value: Any) -> None:
    """bool, int, uint and float scalars (the 'biuf' kinds), one-byte ones included (their pickled byte
    order is '|'), load with their own dtype and value, at every protocol that pickles them with numpy's
    scalar rebuild."""
    for protocol in (3, 4, 5):
        got = loads(pickle.dumps(value, protocol=protocol))
        assert type(got) is type(value) and got.dtype == value.dtype and got == value, (value, protocol)


def _dtype_pickle(name_opcodes: bytes, state: bytes = b"") -> bytes:
    """A protocol-0 pickle of numpy.dtype(<name>, False, True), then BUILD with ``state`` when given."""
    return b"cnumpy\ndtype\n(" + name_opcodes + b"I00\nI01\ntR" + (b"(" + state + b"tb" if state else b"") + b"."


@pytest.mark.parametrize("name_opcodes, says", [
    (b"S'longdouble'\n", "refused numpy dtype 'longdouble': only plain numeric dtypes are allowed"),  # > 8 chars
    (b"c__builtin__\nint\n", "refused numpy dtype <class 'int'>: only plain numeric dtypes are allowed"),  # no str
    (b"S'xyz'\n", "refused numpy dtype 'xyz': not a dtype name"),
    (b"S'c16'\n", "refused numpy dtype 'c16': only plain numeric dtypes are allowed"),
    (b"S'O'\n", "refused numpy dtype 'O': only plain numeric dtypes are allowed"),
])
def test_a_dtype_that_is_no_plain_numeric_name_is_refused_with_its_reason(name_opcodes: bytes, says: str) -> None:
    with pytest.raises(UnsafePickleError) as refused:
        loads(_dtype_pickle(name_opcodes))
    assert str(refused.value) == f"pickle: {says}"


@pytest.mark.parametrize("state, shown", [(b"I3\nS'x'\n", "(3, 'x')"), (b"I3\n", "(3,)"), (b"S'<'\nS'<'\n", None)])
def test_a_dtype_state_without_a_byte_order_is_refused(state: bytes, shown: str | None) -> None:
    """numpy.dtype's pickled state is (version, byte order, ...): a state with no second item or a byte order
    other than < > | = is refused by name, not left to numpy (a ValueError: 'not a readable pickle')."""
    if shown is None:  # the byte order in its place loads
        assert type(loads(_dtype_pickle(b"S'f8'\n", state))).__name__ == "_DTypeRecord"
        return
    with pytest.raises(UnsafePickleError) as refused:
        loads(_dtype_pickle(b"S'f8'\n", state))
    assert str(refused.value) == f"pickle: refused numpy dtype state {shown}"


class _RawScalar:
    """Pickles as numpy's scalar rebuild called with any ``dtype`` and ``data``."""

    def __init__(self, dtype: Any, data: Any) -> None:
        self.dtype, self.data = dtype, data

    def __reduce__(self) -> tuple[Any, ...]:
        return np.float64(0).__reduce__()[0], (self.dtype, self.data)


def test_a_scalar_needs_a_safe_dtype_and_raw_bytes() -> None:
    """The scalar rebuild takes only a dtype the safe loader built (not a string, a dict or an int) and a
    bytes value of the dtype's size (not a str of 8 characters, a list or a bytearray)."""
    for dtype in ("<f8", {"a": 1}, 8):
        with pytest.raises(UnsafePickleError) as refused:
            loads(pickle.dumps(_RawScalar(dtype, b"\x00" * 8), protocol=3))
        assert str(refused.value) == "pickle: refused numpy scalar: its dtype was not built by the safe loader"
    for data in ("abcdefgh", [0] * 8, bytearray(8)):
        with pytest.raises(UnsafePickleError) as refused:
            loads(pickle.dumps(_RawScalar(np.dtype("<f8"), data), protocol=3))
        assert str(refused.value) == "pickle: refused numpy scalar of float64: expected 8 raw bytes"


@pytest.mark.parametrize("payload, kind", [
    (b"c__builtin__\ndict\n(I1\ntR.", "TypeError"),  # dict(1)
    (b"\x80\x04\x95\x05", "UnpicklingError"),  # truncated
    (b"(lp0\n", "EOFError"),  # no STOP
    (b"g7\n.", "UnpicklingError"),  # a memo entry never stored
    (b"", "EOFError"),
    (b"I1\nI2\nb.", "UnpicklingError"),  # BUILD with a state that is no dict
    (b"c__builtin__\nset\n(tR(I1\nI2\ndb.", "AttributeError"),  # BUILD on a set
])
def test_a_malformed_pickle_of_any_kind_is_one_error(payload: bytes, kind: str) -> None:
    with pytest.raises(UnsafePickleError, match=rf"^thing is not a readable pickle \({kind}: "):
        loads(payload, "thing")


def test_protocols_0_to_5_load_the_builtin_containers_and_scalars() -> None:
    value = {"a": [1, -2.5, "x", None, True], "b": (3, {4}, frozenset({5})), "c": 3 + 4j, 7: {"d": [[]]}}
    for protocol in range(6):
        assert loads(pickle.dumps(value, protocol=protocol)) == value, protocol
    assert loads(pickle.dumps(bytearray(b"ab"), protocol=5)) == bytearray(b"ab")


def test_a_file_that_is_no_bz2_or_is_missing_is_one_error_naming_it(tmp_path: Path) -> None:
    """Not bz2: an UnsafePickleError naming the file; missing: a DatasetError (not an unsafe pickle) naming it."""
    plain = tmp_path / "000002.pickle.pbz2"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=4))  # not compressed
    with pytest.raises(UnsafePickleError, match=rf"^{re.escape(str(plain))} is not a readable pickle \(OSError: "):
        load_pbz2(plain)
    with pytest.raises(UnsafePickleError, match=rf"^{re.escape(str(plain))} is not a readable pickle \(OSError: "):
        load_pbz2(plain, limit=10**6)
    missing = tmp_path / "absent.pickle.pbz2"
    with pytest.raises(DatasetError) as refused:
        load_pbz2(missing)
    assert type(refused.value) is DatasetError
    assert str(refused.value) == f"cannot read {missing}: No such file or directory"


# --- source_files -----------------------------------------------------------------------------------------------


@pytest.fixture()
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` first on sys.path; the modules a test imports from it are forgotten after it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def test_a_class_of_a_dotted_python_module_is_left_out(modules: Path) -> None:
    """json.decoder's JSONDecoder in the bases is Python's own (its top-level package is), not the strategy."""
    _write(modules, {"sfa_leaf.py": "import json.decoder\n\n\nclass Leaf(json.decoder.JSONDecoder):\n    pass\n"})
    assert class_source_files(importlib.import_module("sfa_leaf").Leaf) == [modules / "sfa_leaf.py"]


def test_this_package_counts_for_a_class_that_does_not_derive_from_it(modules: Path) -> None:
    import nasbench_suite.encodings
    import nasbench_suite.errors

    _write(modules, {"sfb_leaf.py": "from nasbench_suite import encodings\n\n\nclass Leaf:\n    pass\n"})
    files = class_source_files(importlib.import_module("sfb_leaf").Leaf)
    assert files is not None and files[0] == modules / "sfb_leaf.py"
    assert {Path(nasbench_suite.encodings.__file__), Path(nasbench_suite.errors.__file__)} <= set(files)


def test_only_a_plain_modules_folder_lends_it_helpers(modules: Path) -> None:
    """``import name`` finds a helper beside a class's plain-module file only: beside a package's module (an
    absolute import there is never the package's file), in a package's __init__ (the same) or beside a package
    (in site-packages: other distributions) a file of that name is not the class's code."""
    _write(modules, {"sfc_pkg/__init__.py": "import sfc_beside\n\n\nclass Top:\n    def ask(self):\n        import sfc_helper\n",
                     "sfc_pkg/strategies.py": "class Inner:\n    def ask(self):\n        import sfc_helper\n",
                     "sfc_pkg/sfc_helper.py": "", "sfc_beside.py": ""})
    pkg = importlib.import_module("sfc_pkg")
    inner = importlib.import_module("sfc_pkg.strategies").Inner
    assert class_source_files(inner) == [modules / "sfc_pkg" / "strategies.py"]
    assert class_source_files(pkg.Top) == [modules / "sfc_pkg" / "__init__.py"]


def test_a_packages_init_resolves_its_relative_imports_in_itself(modules: Path) -> None:
    _write(modules, {"sfd_lab/__init__.py": "from .util import Y\n", "sfd_lab/util.py": "Y = 1\n",
                     "sfd_lab/strategies.py": "import sfd_lab\n\n\nclass Leaf:\n    pass\n"})
    leaf = importlib.import_module("sfd_lab.strategies").Leaf
    lab = modules / "sfd_lab"
    assert class_source_files(leaf) == [lab / "strategies.py", lab / "__init__.py", lab / "util.py"]


def test_imports_are_followed_in_source_order_each_name_of_an_import(modules: Path) -> None:
    """A lazy import in a method above a top-level one comes first (ast.walk would give the top-level one
    first); ``import a, b`` takes both; a relative import in a plain module (which cannot have run) and an
    unreadable helper (edited since its import into a syntax error) name nothing further, the helper still
    listed."""
    _write(modules, {"sfe_leaf.py": "class Leaf:\n    def ask(self):\n        import sfe_lazy\n"
                                    "        from . import nothing\n\n\nimport sfe_top, sfe_second\n",
                     "sfe_lazy.py": "", "sfe_top.py": "", "sfe_second.py": "import sfe_broken\n",
                     "sfe_broken.py": "X = 1\n"})
    leaf = importlib.import_module("sfe_leaf").Leaf
    want = [modules / f"sfe_{name}.py" for name in ("leaf", "lazy", "top", "second", "broken")]
    assert class_source_files(leaf) == want
    (modules / "sfe_broken.py").write_text("def (:\n")
    assert class_source_files(leaf) == want


def test_a_sourceless_module_of_the_project_is_not_listed(modules: Path) -> None:
    """Only .py sources are hashed: a compiled-only module (a .pyc with no source) is left out."""
    import py_compile

    _write(modules, {"sff_lab/__init__.py": "", "sff_lab/compiled_src.py": "Z = 1\n",
                     "sff_lab/strategies.py": "from sff_lab import compiled\n\n\nclass Leaf:\n    pass\n"})
    lab = modules / "sff_lab"
    py_compile.compile(str(lab / "compiled_src.py"), cfile=str(lab / "compiled.pyc"))
    (lab / "compiled_src.py").unlink()
    leaf = importlib.import_module("sff_lab.strategies").Leaf
    assert importlib.import_module("sff_lab.compiled").Z == 1
    assert class_source_files(leaf) == [lab / "strategies.py", lab / "__init__.py"]


def test_the_first_classs_folder_wins_a_helper_name_found_in_two(modules: Path, tmp_path: Path) -> None:
    """Two single-file classes in two folders that each hold sfg_same.py: the leaf's folder (first in the
    method resolution order) gives it, on every run."""
    first, second = modules / "first", modules / "second"
    _write(first, {"sfg_leaf.py": "import sfg_same\nfrom sfg_base import Base\n\n\nclass Leaf(Base):\n    pass\n",
                   "sfg_same.py": ""})
    _write(second, {"sfg_base.py": "class Base:\n    pass\n", "sfg_same.py": ""})
    sys.path[:0] = [str(first), str(second)]
    try:
        leaf = importlib.import_module("sfg_leaf").Leaf
    finally:
        del sys.path[:2]
    assert class_source_files(leaf) == [first / "sfg_leaf.py", second / "sfg_base.py", first / "sfg_same.py"]


def test_resolving_a_lazy_import_runs_no_package(modules: Path) -> None:
    """A strategy that imports a subpackage only when it runs (one that needs a GPU): its files are found
    without importing it. Before, importlib.util.find_spec imported the subpackage's parent to look in it,
    running its __init__.py, and what that raised was a traceback of the manifest's source_sha256."""
    _write(modules, {"sfh_lab/__init__.py": "",
                     "sfh_lab/strategies.py": "class Leaf:\n    def ask(self):\n        import sfh_lab.gpu.kernels\n",
                     "sfh_lab/gpu/__init__.py": "raise RuntimeError('needs a GPU')\n", "sfh_lab/gpu/kernels.py": ""})
    leaf = importlib.import_module("sfh_lab.strategies").Leaf
    lab = modules / "sfh_lab"
    assert class_source_files(leaf) == [lab / "strategies.py", lab / "gpu" / "kernels.py"]
    assert "sfh_lab.gpu" not in sys.modules
