"""What kind of output folder a folder is, told by its marker file, and the one rule every command that
writes an output folder keeps: it refuses a folder that holds another kind's marker.

A folder with none of these markers (missing, empty, or holding a user's notes) is of no kind and is
accepted as before; each command's own checks (``--overwrite``, a locked folder) come on top.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection

from . import jsonread
from .errors import OutputKindError

RUN = "pre-evaluation run"
TABLE = "table"
SEARCH = "search results"
COMPARE_RUNS = "compare runs"
COMPARE_REPORT = "comparison report"
LATENCY = "latency"
PROXIES = "proxy"
ESTIMATORS = "estimators report"
FIDELITY = "fidelity report"
LATENCY_FILE = "latency.json"
"""A latency store's marker, ``latency.IDENTITY_FILE`` (not imported from there: that module imports torch,
which search, compare and report do not otherwise load)."""


def _json(path: Path) -> Any:
    try:
        return jsonread.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def folder_kind(folder: Path) -> tuple[str, str] | None:
    """``(kind, marker)`` of ``folder`` (e.g. ``("pre-evaluation run", "run.json")``), the first marker
    found in the order below; None when it holds none of them (or is not a folder)."""
    from .compare import COMPARE_FILE
    from .league import SUPERNET_JSON
    from .pre_evaluate import RUN_FILE
    from .proxy_store import IDENTITY_FILE as PROXY_FILE
    from .search import FORMAT, MANIFEST_FILE
    from .tablefile import holds_table

    if not folder.is_dir():
        return None
    manifest = _json(folder / MANIFEST_FILE) if (folder / MANIFEST_FILE).is_file() else None
    checks = (
        (RUN, RUN_FILE, (folder / RUN_FILE).is_file()),
        (TABLE, f"{MANIFEST_FILE} with a content hash", holds_table(folder)),
        (SEARCH, f"{MANIFEST_FILE} of format {FORMAT}", isinstance(manifest, dict) and manifest.get("format") == FORMAT),
        (COMPARE_RUNS, COMPARE_FILE, (folder / COMPARE_FILE).is_file()),
        (COMPARE_REPORT, f"runs/{COMPARE_FILE}", (folder / "runs" / COMPARE_FILE).is_file()),
        (COMPARE_REPORT, "index.md and index.html", (folder / "index.md").is_file() and (folder / "index.html").is_file()),
        (LATENCY, LATENCY_FILE, (folder / LATENCY_FILE).is_file()),
        (PROXIES, PROXY_FILE, (folder / PROXY_FILE).is_file()),
        (ESTIMATORS, "league.csv", (folder / "league.csv").is_file()),
        (ESTIMATORS, SUPERNET_JSON, (folder / SUPERNET_JSON).is_file()),
        (FIDELITY, "fidelity.csv", (folder / "fidelity.csv").is_file()),
    )
    return next(((kind, marker) for kind, marker, found in checks if found), None)


def check_output_kind(folder: Path, allowed: Collection[str] = ()) -> None:
    """Refuse (:class:`OutputKindError`) an output ``folder`` that holds the marker of a kind not in
    ``allowed`` (the kind the command itself writes; none for a folder that holds others' outputs, as
    the parent folder of tables): one line naming the kind and its marker."""
    found = folder_kind(folder)
    if found is not None and found[0] not in allowed:
        raise OutputKindError(f"{folder} is {described(found)}; choose another output folder")


def described(found: tuple[str, str]) -> str:
    """``(kind, marker)`` as words: 'an estimators report folder (league.csv)'."""
    kind, marker = found
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} folder ({marker})"
