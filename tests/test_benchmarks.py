"""The benchmark scripts run end to end on tiny settings (their figures are measured by hand, not here)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pre_evaluate_speed_prints_a_row_per_batch_size_for_a_spread_selection() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pre_evaluate_speed.py"), "--dataset", "synthetic",
                          "--archs", "4", "--epochs", "1", "--workers", "1", "--batch-cells", "1,2", "--select", "spread",
                          "--repeats", "2"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "drawn uniformly, seed 0" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith(("naive loop (", "reference trainer (", "engine,"))]
    assert [r.split(",")[-1].split()[0] for r in rows[2:]] == ["1", "2"]  # cells/batch of the engine rows
    assert rows[0].startswith("naive loop (plain PyTorch)") and " 1.00x" in rows[0]
    assert len(rows) == 4 and all(r.split()[-1].endswith("%") for r in rows)
    assert "median of 2 interleaved repetition(s)" in out.stdout
    # the naive loop trains as the reference trainer does: first-epoch losses agree to float rounding
    check = next(line for line in out.stdout.splitlines() if line.startswith("naive loop vs reference trainer"))
    assert float(check.split("at most ")[1].split(")")[0]) < 1e-3
    assert "convolution share:" in out.stdout
