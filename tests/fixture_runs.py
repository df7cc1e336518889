"""A copy of a real comparison's runs folder for tests of what ``nasbench report`` does with folders."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

RUNS = Path(__file__).resolve().parents[1] / "reports" / "digits-default" / "runs"
LEAST_BOOTSTRAP = 100  # the fewest resamples a config takes (report.bootstrap)


def quick_runs_copy(dest: Path) -> Path:
    """``reports/digits-default/runs`` copied to ``dest``, its report bootstrap lowered from 1,000 to the
    fewest a config takes: 1,000 resamples are 3 of the 4.5 s a report of it takes, and these tests look at
    the files a report writes and where, not at its bands."""
    shutil.copytree(RUNS, dest)
    record = json.loads((dest / "compare.json").read_text())
    record["config"]["bootstrap"] = LEAST_BOOTSTRAP
    (dest / "compare.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return dest


FEW_STRATEGIES = ("random", "rea", "nsga2")  # the least for rank tests (3), with the latency objective's nsga2
FEW_METHODS = ("gdas",)


def few_runs_copy(dest: Path) -> Path:
    """:func:`quick_runs_copy` of the runs of :data:`FEW_STRATEGIES` and :data:`FEW_METHODS` alone (of 14 and 5),
    with the compare.json a compare of a config naming only those writes: every section and figure of a report
    is still made (ranks, latency, weight sharing), in a third of the time. For tests of where a report's files
    are written, not of what the digits comparison found."""
    def others(folder: str, names: list[str]) -> list[str]:
        part = Path(folder).name
        keep = FEW_STRATEGIES if part == "replayed" else FEW_METHODS if part == "weight_sharing" else None
        return [] if keep is None else [n for n in names if n not in keep]

    shutil.copytree(RUNS, dest, ignore=others)
    record = json.loads((dest / "compare.json").read_text())
    record["config"]["bootstrap"] = LEAST_BOOTSTRAP
    record["config"]["strategies"] = [s for s in record["config"]["strategies"] if s["label"] in FEW_STRATEGIES]
    record["config"]["weight_sharing"]["methods"] = list(FEW_METHODS)
    record["replayed"] = [pair for pair in record["replayed"] if pair[0] in FEW_STRATEGIES]
    record["weight_sharing"] = [pair for pair in record["weight_sharing"] if pair[0] in FEW_METHODS]
    identity = record["weight_sharing_identity"]
    identity["weight_sharing"] = record["config"]["weight_sharing"]
    identity["source_sha256"] = {m: identity["source_sha256"][m] for m in FEW_METHODS}
    assert [label for label, _ in record["replayed"]] == list(FEW_STRATEGIES) and len(record["weight_sharing"]) == 1
    (dest / "compare.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return dest


PNG_STUB = b"\x89PNG\r\n\x1a\n(drawn, not rendered: tests.fixture_runs.figures_not_rendered)"


def figures_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report figure is still drawn (its data, axes and legend made), but not rendered to PNG: its bytes are
    :data:`PNG_STUB`. Rendering is 60% of a report's time (0.8 of 1.4 s on test_compare's toy runs); the tests that
    use this read a report's text, tables and files, not its pictures, which test_compare checks on ``full_run``
    (every figure a PNG, byte-identical from runs alone) and its figure tests."""
    from nasbench_suite.report import figures

    monkeypatch.setattr(figures, "png_bytes", lambda fig: PNG_STUB)
