"""Integer lists written as ranges: ``"0-29"``, ``"0,5,7-9"``, ``"10,100,1000"`` (seeds, arch indices,
predictor training sizes, latency batch sizes), parsed and written back the same way everywhere."""
from __future__ import annotations

import numbers
import re
from typing import Any, Sequence

_PART = re.compile(r"\s*(\d{1,4300})\s*(?:-\s*(\d{1,4300})\s*)?")
"""One item, ``I`` or ``A-B``: at most 4,300 digits, the most int() converts (past it, int() raises a ValueError
that suggests sys.set_int_max_str_digits instead of naming the list)."""
MAX_ITEMS = 1_000_000
"""The most integers a list may expand to: far above any seed count, arch list or size list, and a
range like ``0-99999999999`` is one clear error instead of a ``MemoryError`` while it is expanded."""
MAX_SEED = 2**63 - 1
"""The largest run seed: trajectories store seeds as int64."""


def is_integer(value: Any) -> bool:
    """A Python or numpy integer, not a bool (``True`` is an ``int`` to Python, never a count or a seed here)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def parse_int_list(text: str) -> list[int]:
    """The integers of ``text`` in the order written, ranges expanded; ``ValueError`` naming ``text``
    for anything else (an empty list, a reversed range, a non-integer, more than :data:`MAX_ITEMS` integers)."""
    ranges: list[range] = []
    for part in text.split(","):
        m = _PART.fullmatch(part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise ValueError(f"{text!r} is not a list of non-negative integers like '0-29' or '0,5,7-9'")
        ranges.append(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    total = sum(r.stop - r.start for r in ranges)  # len() overflows past sys.maxsize
    if total > MAX_ITEMS:
        raise ValueError(f"{text!r} expands to {total:,} integers; at most {MAX_ITEMS:,} are accepted")
    return [i for r in ranges for i in r]


def format_int_list(values: Sequence[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (sorted)."""
    parts: list[str] = []
    s = sorted(values)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)
