"""A copy of a real comparison's runs folder for tests of what ``nasbench report`` does with folders."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

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
