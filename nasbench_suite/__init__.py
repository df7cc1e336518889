"""nasbench_suite: a NAS-Bench-201 style tabular benchmark, search simulator and comparison suite."""
from .errors import NasBenchError
from .space import Arch
from .table import Benchmark, SearchView, build_table, load_table

__version__ = "0.1.0"
__all__ = ["Arch", "Benchmark", "NasBenchError", "SearchView", "build_table", "load_table", "__version__"]
