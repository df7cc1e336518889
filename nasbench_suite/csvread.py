"""Read a CSV with its floats exactly as they were written.

``DataFrame.to_csv`` writes a float as its shortest round-trip repr, but before pandas 3 the default
C parser of ``read_csv`` (``float_precision="high"``) is not correctly rounded: about one value in
five of a column written that way comes back one unit in the last place off (3,644 of 20,000
lognormal floats under pandas 2.0.3 to 2.3.3; none under 3.1). A latency or proxy value read back,
or a measured folder resumed, would then differ in its last bit from the same value kept in memory.
Those pandas versions are asked for ``float_precision="round_trip"`` (Python's own correctly
rounded parser); pandas 3 parses exactly by default and deprecates the option.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def read_csv(path: str | Path, **kwargs: Any) -> "pd.DataFrame":
    """``pd.read_csv(path, **kwargs)`` whose floats are the written ones, bit for bit, under every
    pandas this project supports."""
    import pandas as pd

    if int(pd.__version__.split(".")[0]) < 3:
        kwargs.setdefault("float_precision", "round_trip")
    return pd.read_csv(path, **kwargs)
