"""Parse JSON that may come from someone else's file: every refusal a ``json.JSONDecodeError``.

``json.loads`` raises ``RecursionError`` (not a ``ValueError``) on a document nested a few thousand
levels deep (``[[[[...``, 200 kB), and a plain ``ValueError`` (not a ``json.JSONDecodeError``) on an
integer of more than 4,300 digits (Python's ``sys.get_int_max_str_digits``). A table manifest, run
file, latency or proxy folder, ``compare.json`` or result store crafted so made its reader print a
traceback. :func:`loads` raises ``json.JSONDecodeError`` (a ``ValueError``) for both, which every
reader already turns into one line naming the file. It also refuses an object that names a key twice, which
``json.loads`` reads as the last value (a hand-edited protocol file whose ``"epochs"`` appears twice would
otherwise run with one of them, silently); no writer of this package writes one.
"""
from __future__ import annotations

import json
from typing import Any


class RefusedJSON(json.JSONDecodeError):
    """A document ``json.loads`` refuses for its depth or a number's length: a ``json.JSONDecodeError``
    whose message names no position (there is none to name)."""

    def __init__(self, msg: str) -> None:
        ValueError.__init__(self, msg)
        self.msg, self.doc, self.pos, self.lineno, self.colno = msg, "", 0, 1, 1

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.msg,)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RefusedJSON(f"the key {key!r} appears more than once in one object")
        seen.add(key)
    return dict(pairs)


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``; a document too deeply nested, with a too long number or with a key named twice
    in one object raises :class:`RefusedJSON` (a ``json.JSONDecodeError``) like any other malformed one."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except RecursionError:
        raise RefusedJSON("nested too deeply (arrays or objects inside one another some thousand levels)") from None
    except ValueError as exc:  # an integer of more digits than int() converts
        raise RefusedJSON(f"a number is too long: {str(exc).split(';')[0]}") from None
