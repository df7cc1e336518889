"""The comparison report's statistics on small hand-made frames, each checked against an independent computation
(the standard library's ``statistics``, ``scipy.stats``, numbers worked by hand), not against the report's output.

Found by a mutation audit of ``nasbench_suite/report/stats.py``: each test here kills a mutant the other tests let
through (named in its docstring). The report's end-to-end rows are checked in tests/test_compare.py.
"""
from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from nasbench_suite.report import stats
from nasbench_suite.report.build import md_table


def test_a_runs_final_row_is_its_last_result_and_queries_count_every_result_told() -> None:
    """README: "queries = results told to the strategy", so a cell told twice counts twice (mutant: distinct cells
    queried); the final result is the run's last row, not its best or first."""
    frame = pd.DataFrame({"seed": [3, 3, 3, 3, 1, 1], "arch_index": [7, 8, 7, 7, 5, 6],
                          stats.ACC: [50.0, 60.0, 60.0, 55.0, 40.0, 45.0], stats.REGRET: [5.0, 0.0, 0.0, 1.0, 9.0, 8.0]})
    final = stats.finals(frame)
    assert list(final.index) == [1, 3]  # seed order
    assert final[stats.ACC].tolist() == [45.0, 55.0]
    assert final["queries"].tolist() == [2, 4]
    assert stats.final_table({"s": final}).loc[0, "queries_mean"] == 3.0


def test_the_iqr_is_the_linearly_interpolated_quartiles_difference() -> None:
    """IQR = 75th - 25th percentile, quartiles interpolated linearly between order statistics (numpy's and pandas'
    default, the standard library's "inclusive" method). Four runs put both quartiles between two runs, where
    'nearest', 'lower' or 'higher' quartiles differ (test_compare's five runs put them on runs)."""
    runs = [1.0, 2.0, 4.0, 8.0]
    q1, _, q3 = statistics.quantiles(runs, n=4, method="inclusive")  # 1.75 and 5.0
    assert (q1, q3) == (1.75, 5.0)
    s = stats.summary(pd.Series(runs))
    assert s["iqr"] == pytest.approx(q3 - q1)
    assert s["median"] == statistics.median(runs) and s["std"] == pytest.approx(statistics.stdev(runs))


def test_rank_tests_count_only_the_seeds_every_strategy_ran() -> None:
    """Seeds are blocks only where every strategy ran them: here the middle strategy lacks seed 4, so the blocks
    are seeds 0-3 (a mutant intersecting only the first and last strategies' seeds failed or counted seed 4)."""
    from scipy.stats import friedmanchisquare

    acc = {"a": [90.0, 70.0, 88.0, 50.0, 10.0], "b": [80.0, 75.0, 60.0, 90.0], "c": [85.0, 74.0, 70.0, 60.0, 99.0]}
    final = {k: pd.DataFrame({stats.ACC: v}, index=range(len(v))) for k, v in acc.items()}
    tests = stats.rank_tests(final, alpha=0.05)
    assert tests is not None and list(tests.ranks.index) == [0, 1, 2, 3]
    expected = friedmanchisquare(*(v[:4] for v in acc.values()))
    assert tests.friedman_statistic == pytest.approx(expected.statistic)
    assert tests.friedman_p == pytest.approx(expected.pvalue)


def test_report_tables_print_floats_to_two_decimals_and_nan_as_n_a() -> None:
    """The markdown tables (the mean-rank table among them) print 2 decimals and a missing value as n/a (mutant:
    3 decimals by default, which only the mean-rank column shows)."""
    frame = pd.DataFrame({"strategy": ["a", "b"], "mean rank": [5 / 3, float("nan")], "runs": [3, 3]})
    assert md_table(frame) == ("| strategy | mean rank | runs |\n| --- | --- | --- |\n"
                               "| a | 1.67 | 3 |\n| b | n/a | 3 |")


def test_the_band_leaves_out_columns_some_run_has_not_reached_and_warns_nothing() -> None:
    """Grid times before a run's first result: the median and its band are NaN there, left out of the bootstrap
    (bootstrapping them gave NaN too, but with scipy's warning on the report's stderr, once per such column block)."""
    import warnings

    values = np.array([[np.nan, 50.0, 60.0], [np.nan, np.nan, 40.0], [30.0, 55.0, 65.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        median, low, high = stats.median_band(values, 200, 0.05, seed=0)
    assert np.isnan(median[:2]).all() and np.isnan(low[:2]).all() and np.isnan(high[:2]).all()
    # every resampled median of 60, 40, 65 is one of them
    assert median[2] == 60.0 and 40.0 <= low[2] <= 60.0 <= high[2] <= 65.0
