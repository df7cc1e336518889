"""Comparison reports: statistics (:mod:`.stats`), figures (:mod:`.figures`) and the report writer
(:func:`build_report`), all from a runs folder of ``nasbench compare``."""
from .build import build_report, load_runs

__all__ = ["build_report", "load_runs"]
