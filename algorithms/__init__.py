"""Search strategies, one module each, all against the ask/tell interface of nasbench_suite."""
