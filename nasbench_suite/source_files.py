"""The source files a strategy's code is made of, for the ``source_sha256`` of a search manifest.

:func:`class_source_files` starts from the files defining a class and its base classes and adds, transitively,
the project modules they import (at the top of a file or inside a function: a lazy import is code the class
runs too). A project module is one of this package, of the top-level package of one of those classes (the
shipped ``algorithms``, a user's ``mylab``), or a plain ``.py`` file beside a class's own plain-module file
(the helpers of a single-file strategy). Third-party and Python's own modules are left out: their versions
are the environment, not the strategy. Imports are read from the source (``ast``), not run, and a name is
resolved without importing anything (no package's ``__init__.py`` runs).
"""
from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import inspect
import sys
from pathlib import Path

_PACKAGE = __name__.partition(".")[0]


def class_source_files(cls: type) -> list[Path] | None:
    """The files of ``cls`` and its bases in method resolution order (Python's own modules left out), then
    the project modules they import, in the order they are first met; each file once. None when one of the
    classes has no readable source file (defined in a notebook, or in ``python -``, whose file is
    '<stdin>'): such a class cannot be told from an edited one."""
    modules: list[tuple[Path, str]] = []  # (file, module name) of each class of the MRO
    for base in cls.__mro__:
        if base.__module__.partition(".")[0] in sys.stdlib_module_names:  # builtins, abc, typing...
            continue
        try:
            file = Path(inspect.getfile(base))
        except (TypeError, OSError):
            return None
        if not file.is_file():
            return None
        modules.append((file, base.__module__))
    tops = {_PACKAGE, *(name.partition(".")[0] for _, name in modules)}
    beside: list[Path] = []  # a list, not a set: the first folder holding a name wins, the same on every run
    for file, name in modules:
        if file.name != "__init__.py" and "." not in name and file.resolve().parent not in beside:
            beside.append(file.resolve().parent)
    files: list[Path] = []
    seen: set[Path] = set()
    queue = list(modules)
    while queue:
        file, name = queue.pop(0)
        if file.resolve() in seen:
            continue
        seen.add(file.resolve())
        files.append(file)
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for found in _imported(file, package, tops, beside):
            if found[0].resolve() not in seen:
                queue.append(found)
    return files


def _imported(file: Path, package: str, tops: set[str], beside: list[Path]) -> list[tuple[Path, str]]:
    """(file, module name) of each project module ``file`` imports, in source order."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (OSError, SyntaxError, ValueError):  # edited since its import into something unreadable: its bytes
        return []                                 # are still hashed, it names no further module
    found: list[tuple[Path, str]] = []

    def add(name: str) -> Path | None:
        module = _module(name, tops, beside)
        if module is not None:
            found.append((module, name))
        return module

    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    for node in sorted(imports, key=lambda node: (node.lineno, node.col_offset)):  # not ast.walk's order
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
            continue
        try:
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                if node.level else (node.module or "")
        except (ImportError, ValueError):  # a relative import outside a package: it cannot have run
            continue
        init = add(base)
        if init is not None and init.name == "__init__.py":  # `from package import submodule`
            for alias in node.names:
                add(f"{base}.{alias.name}")
    return found


def _module(name: str, tops: set[str], beside: list[Path]) -> Path | None:
    """The source file of module ``name`` when it is a project module with one, else None."""
    if not name:
        return None
    if name.partition(".")[0] not in tops:
        if "." in name:
            return None
        for folder in beside:  # a helper beside a single-file strategy
            if (folder / f"{name}.py").is_file():
                return folder / f"{name}.py"
        return None
    try:
        spec = _spec(name)
    except (ImportError, ValueError, AttributeError):  # not a module (a class imported from one), or absent
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py") or not Path(spec.origin).is_file():
        return None
    return Path(spec.origin)


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec the import system would find for module ``name``, without importing anything: an imported
    module's own, else found by the finders in its parent's search path. ``importlib.util.find_spec`` imports
    the parent package, running its ``__init__.py``: a subpackage a strategy imports lazily (only when it runs)
    ran at hashing time, and whatever it raised (a missing GPU, a missing optional dependency) was a traceback."""
    if name in sys.modules:
        return getattr(sys.modules[name], "__spec__", None)
    parent = name.rpartition(".")[0]
    path = None
    if parent:
        module = sys.modules.get(parent)
        if module is not None:
            path = getattr(module, "__path__", None)
        else:
            spec = _spec(parent)
            path = None if spec is None else spec.submodule_search_locations
        if path is None:  # the parent is no package (or absent): no submodule of it
            return None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, path) if find is not None else None
        if spec is not None:
            return spec
    return None
