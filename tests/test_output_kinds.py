"""Every command that writes an output folder refuses a folder that holds another kind's marker file
(:mod:`nasbench_suite.folder_kind`), with one line naming the kind; the folder is left as it was."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasbench_suite.cli import main
from nasbench_suite.errors import OutputKindError
from nasbench_suite.folder_kind import check_output_kind, folder_kind
from tests.fixture_runs import few_runs_copy, figures_not_rendered

REPO = Path(__file__).resolve().parents[1]

MARKERS: dict[str, dict[str, str]] = {  # the least of each kind: its marker file(s)
    "pre-evaluation run": {"run.json": "{}", "shards/0.csv": "arch,seed\n"},
    "table": {"manifest.json": json.dumps({"content_hash": "x", "arrays": {}})},
    "search results": {"manifest.json": json.dumps({"format": "nasbench-search-results"}), "trajectories.parquet": ""},
    "compare runs": {"compare.json": "{}"},
    "comparison report": {"runs/compare.json": "{}", "index.md": "# report\n"},
    "latency": {"latency.json": "{}", "latency.csv": "arch_index\n"},
    "proxy": {"proxies.json": "{}", "proxies.csv": "arch_index\n"},
    "estimators report": {"league.csv": "estimator\n", "supernet.json": "{}"},
    "fidelity report": {"fidelity.csv": "ranking\n", "fidelity.md": "# f\n"},
}


def make(folder: Path, kind: str) -> dict[str, bytes]:
    for name, text in MARKERS[kind].items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return snapshot(folder)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


COMMANDS: dict[str, list[str]] = {  # each with OUT where its --out goes; refused before any work
    "search": ["search", "--table", "digits", "--strategy", "random", "--max-queries", "5", "--seeds", "0",
               "--workers", "1", "--out", "OUT"],
    "darts": ["darts", "--table", "digits", "--method", "rsps", "--seeds", "0", "--epochs", "1", "--out", "OUT"],
    "compare": ["compare", "--out", "OUT"],
    "report": ["report", str(REPO / "reports" / "digits-default" / "runs"), "--out", "OUT"],
    "fidelity": ["fidelity", "--table", "digits", "--reference", "digits", "--out", "OUT"],
    "estimators": ["estimators", "--table", "digits", "--supernet-epochs", "0", "--out", "OUT"],
    "reference build": ["reference", "build", "--ref-dir", "NOWHERE", "--out", "OUT"],
    "import nats-tss": ["import", "nats-tss", "NOWHERE", "--out", "OUT"],
    "data pack": ["data", "pack", "--dataset", "digits", "--out", "OUT"],
    "latency measure": ["latency", "measure", "--table", "digits", "--archs", "0", "--out", "OUT"],
    "proxies": ["proxies", "--table", "digits", "--archs", "0", "--out", "OUT"],
}
OWN = {"search": "search results", "darts": "search results", "compare": "comparison report",
       "report": "comparison report", "fidelity": "fidelity report", "estimators": "estimators report",
       "latency measure": "latency", "proxies": "proxy"}
# search, darts and the report commands refused a table folder already, in words of their own
PAIRS = [(c, k) for c in COMMANDS for k in MARKERS
         if k != OWN.get(c) and not (k == "table" and c in OWN and c not in ("latency measure", "proxies"))]


@pytest.mark.parametrize(("command", "kind"), PAIRS)
def test_an_output_folder_of_another_kind_is_refused(command: str, kind: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """search/darts wrote trajectories.parquet into a run folder, compare/report wrote a report into search
    results or a compare's runs folder, reference build / import made tables inside a table folder..."""
    out = tmp_path / "out"
    before = make(out, kind)
    argv = [str(out) if a == "OUT" else str(tmp_path / "nowhere") if a == "NOWHERE" else a for a in COMMANDS[command]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {out} is a") and f" {kind} folder (" in err, err
    assert err.endswith("choose another output folder\n") and err.count("\n") == 1, err
    assert snapshot(out) == before


def test_the_kinds_are_told_apart(tmp_path: Path) -> None:
    for kind in MARKERS:
        make(tmp_path / kind, kind)
        assert folder_kind(tmp_path / kind) is not None and folder_kind(tmp_path / kind)[0] == kind
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "index.md").write_text("mine")  # an index.md alone is a user's, not a report
    (notes / "manifest.json").write_text("{}")  # a manifest of no known format
    assert folder_kind(notes) is None and folder_kind(tmp_path / "missing") is None
    check_output_kind(notes)
    for own in ("comparison report", "compare runs", "search results", "estimators report", "fidelity report"):
        check_output_kind(tmp_path / own, {own})


@pytest.mark.parametrize(("kind", "marker"), [
    ("pre-evaluation run", "run.json"), ("compare runs", "compare.json"), ("comparison report", "runs/compare.json"),
    ("latency", "latency.json"), ("proxy", "proxies.json"), ("estimators report", "league.csv"),
    ("estimators report", "supernet.json"), ("fidelity report", "fidelity.csv")])
def test_each_marker_alone_tells_its_kind(kind: str, marker: str, tmp_path: Path) -> None:
    """A folder keeps its kind by any one of its markers (an estimators folder of the league alone, a
    report whose index was deleted): each is checked on its own, not only beside the others."""
    (tmp_path / marker).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / marker).write_text("{}")
    assert folder_kind(tmp_path) == (kind, marker)
    article = "an" if kind == "estimators report" else "a"
    with pytest.raises(OutputKindError, match=rf"is {article} {kind} folder \({marker}\); choose another output folder"):
        check_output_kind(tmp_path)


def test_a_report_index_needs_both_pages_and_a_damaged_manifest_is_no_kind(tmp_path: Path) -> None:
    """index.md and index.html together are a report (one alone is a user's page); a manifest.json that is not
    JSON, or JSON but not an object, marks no kind (and is no traceback); a file is no folder."""
    (tmp_path / "index.md").write_text("# mine")
    assert folder_kind(tmp_path) is None
    (tmp_path / "index.html").write_text("<p>mine</p>")
    assert folder_kind(tmp_path) == ("comparison report", "index.md and index.html")
    for text in ("{not json", '["nasbench-search-results"]', "[" * 100_000):
        folder = tmp_path / str(len(text))
        folder.mkdir()
        (folder / "manifest.json").write_text(text)
        assert folder_kind(folder) is None, text
    assert folder_kind(tmp_path / "index.md") is None


def test_the_first_marker_in_the_documented_order_names_the_kind(tmp_path: Path) -> None:
    """A folder holding several kinds' markers is named by the first in folder_kind's order (a run before a
    table before search results...), so the refusal names the same kind every time: MARKERS is in that order,
    and each kind's markers added to a folder holding those of every later kind name it."""
    for kind in reversed(MARKERS):  # a fidelity report's markers first, a pre-evaluation run's last
        if kind == "table":  # a manifest both search results' and a table's (a table's alone hides the former)
            (tmp_path / "manifest.json").write_text(json.dumps({"format": "nasbench-search-results",
                                                                "content_hash": "x", "arrays": {}}))
        else:
            make(tmp_path, kind)
        assert folder_kind(tmp_path)[0] == kind, kind
    assert folder_kind(tmp_path) == ("pre-evaluation run", "run.json")


def test_the_shipped_output_folders_are_of_their_own_kind() -> None:
    """What the commands wrote in this repository reads as their own kind, so rewriting them is allowed."""
    reports = REPO / "reports"
    assert folder_kind(reports / "digits-default")[0] == "comparison report"
    assert folder_kind(reports / "digits-default" / "runs")[0] == "compare runs"
    assert folder_kind(reports / "digits-default" / "runs" / "replayed" / "rea")[0] == "search results"
    assert folder_kind(reports / "estimators" / "digits")[0] == "estimators report"
    assert folder_kind(reports / "fidelity" / "cifar10-16px")[0] == "fidelity report"
    assert folder_kind(REPO / "benchmarks_data" / "digits")[0] == "table"


def test_a_command_reuses_its_own_folder_and_a_folder_of_no_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What stays allowed: search into a folder holding a user's notes, then again into its own results
    with --overwrite; report rewritten in place into a compare's folder (the runs' parent, its default)
    and into a report folder it made before."""
    out = tmp_path / "search"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    search = [*COMMANDS["search"][:-1], str(out)]
    assert main(search) == 0
    assert main([*search, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and folder_kind(out)[0] == "search results"
    compare = tmp_path / "compare"
    few_runs_copy(compare / "runs")
    figures_not_rendered(monkeypatch)  # which folders a report is written into is checked, not its figures
    assert main(["report", str(compare / "runs")]) == 0
    assert main(["report", str(compare / "runs"), "--out", str(tmp_path / "report")]) == 0
    assert folder_kind(tmp_path / "report")[0] == "comparison report"
    assert main(["report", str(compare / "runs"), "--out", str(tmp_path / "report")]) == 0
    capsys.readouterr()


def test_the_latency_marker_is_the_latency_stores_identity_file() -> None:
    from nasbench_suite import folder_kind as fk
    from nasbench_suite.latency import IDENTITY_FILE

    assert fk.LATENCY_FILE == IDENTITY_FILE


@pytest.mark.parametrize("kind", [k for k in MARKERS if k not in ("table", "pre-evaluation run")])
def test_info_on_an_output_folder_names_its_kind(kind: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """nasbench info on a search results folder said 'manifest.json has no integer schema_version'; on a report
    folder, 'has no manifest.json: not a table'."""
    make(tmp_path / "out", kind)
    assert main(["info", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {tmp_path / 'out'} is a") and f" {kind} folder (" in err, err
    assert err.endswith("nasbench info shows a table or a pre-evaluation run folder\n") and err.count("\n") == 1
