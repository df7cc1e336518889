"""One writer per pre-evaluation run folder.

``nasbench pre-evaluate`` and ``nasbench table build`` (which imports the committed files into the
store and tidies interrupted writes) hold an exclusive advisory lock on ``RUN_DIR/.lock`` while they
work. A second such process on the same folder stops at once with a message naming the holder,
instead of deleting the first one's in-flight temporary files or training its work units twice.
Readers of the committed files (``nasbench info RUN_DIR``, ``nasbench table build --partial``) take
no lock. The kernel drops the lock when its holder exits, however it exits (``kill -9`` included),
so a stale ``.lock`` file never blocks a later run.

The resumable per-cell stores take the same lock on their folder: ``nasbench latency measure`` (two
writers would time every cell twice, each under the other's load, and race on ``latency.csv``) and
``nasbench proxies`` (the same for the ``*_seconds`` costs and ``proxies.csv``).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .errors import RunInUseError

LOCK_FILE = ".lock"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per folder is then the user's to keep
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def run_lock(run_dir: Path, purpose: str, meanwhile: str | None = None) -> Iterator[None]:
    """Hold ``run_dir``'s writer lock for the block, or raise :class:`RunInUseError` if another holds it.

    ``meanwhile`` tells the refused user how to read what the holder has finished so far (by default:
    a pre-evaluation run folder's ``nasbench info`` and ``nasbench table build --partial``)."""
    if meanwhile is None:
        meanwhile = f"to read what it has finished meanwhile: nasbench info {run_dir}, or nasbench table build " \
                    f"{run_dir} --partial"
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                raise RunInUseError(f"{run_dir} is in use by {holder}; wait for it to finish or stop it "
                                    f"({meanwhile})") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} ({purpose})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
