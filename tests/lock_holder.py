"""A second process that opens a writer's store folder and holds it, for the one-writer-per-folder tests."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import nasbench_suite

ROOT = str(Path(nasbench_suite.__file__).resolve().parents[1])


@contextlib.contextmanager
def holding(setup: str, opener: str, folder: Path) -> Iterator[subprocess.Popen]:
    """Run ``setup`` then ``with <opener>:`` (``folder`` is ``Path(sys.argv[1])``) in another Python process
    until it has opened the folder; yield that process, and kill it (SIGKILL) when the block ends."""
    code = (f"import sys, time\nfrom pathlib import Path\n{setup}\nwith {opener}:\n"
            "    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    try:
        line = proc.stdout.readline().strip()
        assert line == "held", f"the holder did not open {folder} (exit {proc.poll()})"
        yield proc
    finally:
        proc.kill()  # SIGKILL: the holder gets no chance to release anything itself
        proc.wait()
        proc.stdout.close()
