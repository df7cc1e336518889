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


PNG_STUB = b"\x89PNG\r\n\x1a\n(drawn, not rendered: tests.fixture_runs.figures_not_rendered)"


def figures_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report figure is still drawn (its data, axes and legend made), but not rendered to PNG: its bytes are
    :data:`PNG_STUB`. Rendering is 60% of a report's time (0.8 of 1.4 s on test_compare's toy runs); the tests that
    use this read a report's text, tables and files, not its pictures, which test_compare checks on ``full_run``
    (every figure a PNG, byte-identical from runs alone) and its figure tests."""
    from nasbench_suite.report import figures

    monkeypatch.setattr(figures, "png_bytes", lambda fig: PNG_STUB)
