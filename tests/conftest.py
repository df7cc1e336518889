"""Shared fixtures: small tables built in the tests from generated values (they test the format and
the API, not any benchmark's numbers)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

from nasbench_suite.space import Arch

SMALL_ARCHS = [0, 1, 7, 99, 1000, 4321, 8000, 12345, 15000, 15624]
SMALL_SEEDS = [11, 22]
SMALL_EPOCHS = 4


def small_results(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for a in SMALL_ARCHS:
        quality = rng.uniform(30, 90)
        for s in SMALL_SEEDS:
            for e in range(1, SMALL_EPOCHS + 1):
                acc = quality * e / SMALL_EPOCHS + rng.normal(0, 1)
                rows.append(dict(
                    arch_index=a, arch_str=str(Arch.from_index(a)), seed=s, epoch=e,
                    train_loss=2.0 / e, train_acc=acc + 5, train_seconds=1.0 + 0.1 * s + 0.01 * e,
                    valid_loss=2.2 / e, valid_acc=acc, valid_seconds=0.25,
                    test_loss=2.3 / e, test_acc=acc - 1, test_seconds=0.5,
                    params=1000 + a, flops=10 * a + 7,
                ))
    return pd.DataFrame(rows)


@pytest.fixture
def two_torch_threads() -> Iterator[None]:
    """torch on two threads during the test (not the one thread training sets), the count before restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def results() -> pd.DataFrame:
    return small_results(np.random.default_rng(2024))


@pytest.fixture
def table_dir(tmp_path: Path, results: pd.DataFrame) -> Path:
    from nasbench_suite.table import build_table

    out = tmp_path / "small"
    build_table(results, out, metadata={"dataset": {"name": "generated", "sha256": "-"}, "protocol": {"epochs": 4}})
    return out


@pytest.fixture(scope="session")
def search_table(tmp_path_factory: pytest.TempPathFactory):
    """A full-coverage generated table for search tests (see tests/fixture_tables.py)."""
    from fixture_tables import build_search_table

    return build_search_table(tmp_path_factory.mktemp("search") / "generated")


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory: pytest.TempPathFactory):
    """Four cells with round costs, for clock tests (see tests/fixture_tables.py)."""
    from fixture_tables import tiny_clock_table

    return tiny_clock_table(tmp_path_factory.mktemp("clock") / "tiny")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """``generated(folder, archs, seed)``: tests/nats_generator.py's ``generate_folder(folder, archs, seed=seed)``,
    each (archs, seed) generated once per session and copied to ``folder`` for the test to change (generating
    writes the 15,625-entry meta file: about a second each time)."""
    import shutil

    from nats_generator import generate_folder

    made: dict[tuple[tuple[int, ...], int], Path] = {}

    def generate(folder: Path, archs: list[int], seed: int) -> Path:
        key = (tuple(archs), seed)
        if key not in made:
            made[key] = generate_folder(tmp_path_factory.mktemp("generated") / "src", archs, seed=seed)
        return Path(shutil.copytree(made[key], folder))

    return generate


@pytest.fixture(scope="session")
def decoy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose PYTHONPATH holds a ``nasbench_suite`` that refuses to be imported: a benchmark
    script run under it must import the package of the checkout it sits in (tests/test_benchmarks.py)."""
    import os

    folder = tmp_path_factory.mktemp("decoy")
    (folder / "nasbench_suite").mkdir()
    (folder / "nasbench_suite" / "__init__.py").write_text(
        'raise ImportError("the decoy nasbench_suite was imported, not the checkout\'s")\n')
    return {**os.environ, "PYTHONPATH": str(folder)}


@pytest.fixture(scope="session")
def speed_figures(tmp_path_factory: pytest.TempPathFactory, decoy: dict[str, str]):
    """One run of benchmarks/pre_evaluate_speed.py, shared by the tests that check its output (each start
    imports torch, spawns its engine workers and trains every row: the run's cost, paid once): a real process,
    run from outside the checkout with a decoy ``nasbench_suite`` first on ``PYTHONPATH`` (as
    tests/test_benchmarks.py runs every benchmark) and ``python -u`` (as the lent-GPU call runs it), its
    stdout read line by line with the time each line arrived. The settings are the union of what the tests
    need: a spread selection, ``--repeats 2``, and 4 cells in ``--workers 2`` with ``--batch-cells 2,4``,
    where the 2-process row of 2 cells per batch comes from both values (the row once printed twice). Not
    fewer cells: the figures test compares printed quotients of seconds printed to 10 ms, to 10%, and an
    engine row of 2 cells took 0.13-0.19 s on a 2-core CI-like machine (rounding alone is then up to 4%).

    Returns ``(returncode, lines, arrived, stderr)``."""
    import subprocess
    import sys
    import threading
    import time

    root = Path(__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("speed_figures")
    with open(folder / "stderr.txt", "w") as err:  # a file, not a pipe: no deadlock on a full stderr
        proc = subprocess.Popen([sys.executable, "-u", str(root / "benchmarks" / "pre_evaluate_speed.py"),
                                 "--dataset", "synthetic", "--archs", "4", "--epochs", "1", "--workers", "2",
                                 "--batch-cells", "2,4", "--select", "spread", "--repeats", "2"],
                                stdout=subprocess.PIPE, stderr=err, cwd=folder, env=decoy)
    timer = threading.Timer(300, proc.kill)
    timer.start()
    try:  # each line with the time it was read
        read = [(raw.decode().rstrip("\n"), time.monotonic()) for raw in iter(proc.stdout.readline, b"")]
        proc.wait()
    finally:
        timer.cancel()
        proc.kill()
        proc.stdout.close()
    return (proc.returncode, [line for line, _ in read], [t for _, t in read],
            (folder / "stderr.txt").read_text())
