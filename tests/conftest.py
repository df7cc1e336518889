"""Shared fixtures: small tables built in the tests from generated values (they test the format and
the API, not any benchmark's numbers)."""
from __future__ import annotations

from pathlib import Path

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
