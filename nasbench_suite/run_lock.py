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
``nasbench proxies`` (the same for the ``*_seconds`` costs and ``proxies.csv``). So do the commands that
write an output folder, for as long as they run (:func:`output_lock`): ``search``, ``darts``,
``compare``, ``report``, ``estimators`` and ``fidelity``; they remove the lock file when they end.
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
def run_lock(run_dir: Path, purpose: str, meanwhile: str | None = None, remove: bool = False) -> Iterator[None]:
    """Hold ``run_dir``'s writer lock for the block, or raise :class:`RunInUseError` if another holds it.

    ``meanwhile`` tells the refused user how to read what the holder has finished so far (by default:
    a pre-evaluation run folder's ``nasbench info`` and ``nasbench table build --partial``). With
    ``remove`` the lock file is deleted when the block ends (a kill still leaves it, harmless)."""
    if meanwhile is None:
        meanwhile = f"to read what it has finished meanwhile: nasbench info {run_dir}, or nasbench table build " \
                    f"{run_dir} --partial"
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunInUseError(f"{run_dir} is in use by {holder}; wait for it to finish or stop it "
                                f"({meanwhile})") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # a holder that removes its lock file deleted this one as it let go: take the new one
    try:
        if fcntl is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} ({purpose})\n".encode(), 0)
        yield
    finally:
        if remove:
            with contextlib.suppress(OSError):
                path.unlink()  # while still held: a process that opened it now finds it gone when it gets it
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def output_lock(folder: Path, purpose: str, meanwhile: str) -> Iterator[None]:
    """:func:`run_lock` on a command's output folder (created if missing) for the whole command: a second
    command writing the same folder stops at once, before its work, instead of mixing its files into the
    first one's. The lock file is removed when the command ends, and so are the folder and the parents
    this call created that hold nothing else then (the command failed before writing)."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # the folder and the parents it needs
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with run_lock(folder, purpose, meanwhile, remove=True):
            yield
    finally:
        for path in created:  # only while empty: the command stopped before it wrote anything
            try:
                path.rmdir()
            except OSError:
                break
