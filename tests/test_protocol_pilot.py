"""reports/protocol_pilot/pilot.py: its tables do not depend on the invocations that made them."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PILOT = Path(__file__).resolve().parents[1] / "reports" / "protocol_pilot"


def test_measuring_one_candidate_again_leaves_the_committed_table_as_it_is(tmp_path: Path) -> None:
    """`--only NAME` put NAME's row after the kept ones, and the columns in the kept file's order (its counts
    written as floats, 96.0): a fresh run of every candidate gave another file than the committed one."""
    shutil.copytree(PILOT / "runs" / "digits", tmp_path / "runs" / "digits")
    for name in ("digits.csv", "digits.md"):
        shutil.copy(PILOT / name, tmp_path / name)
    # the kept file as an older run may have left it, its columns in another order than a run writes them:
    # the kept rows are written back in this run's column order
    lines = [line.split(",") for line in (tmp_path / "digits.csv").read_text().splitlines()]
    (tmp_path / "digits.csv").write_text("".join(",".join(cols[::-1]) + "\n" for cols in lines))
    done = subprocess.run([sys.executable, str(PILOT / "pilot.py"), "--dataset", "digits", "--partial", "--only",
                           "C8-N1-e4-full", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("digits.csv", "digits.md"):
        assert (tmp_path / name).read_bytes() == (PILOT / name).read_bytes(), name
