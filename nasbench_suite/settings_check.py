"""Type checks for user-given method settings (``--set KEY=VALUE``, config files) against the
defaults of the strategy or weight-sharing method, so that a value of the wrong kind is one clear
message before any work, not an exception deep inside a run."""
from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from numbers import Real
from typing import Any, Mapping


def dataclass_defaults(cls: type) -> dict[str, Any]:
    """{setting: default} of a dataclass's init fields (fields without a default are left out)."""
    out: dict[str, Any] = {}
    if is_dataclass(cls):
        for f in fields(cls):
            if f.init and f.default is not MISSING:
                out[f.name] = f.default
            elif f.init and f.default_factory is not MISSING:
                out[f.name] = f.default_factory()
    return out


def setting_type_error(defaults: Mapping[str, Any], settings: Mapping[str, Any]) -> str | None:
    """A message naming the first setting whose value is not of its default's kind, or None.

    bool defaults take bools; int defaults integers (not bools); float defaults any real number;
    str defaults strings; list or tuple defaults a list of the same length (any length when the default
    is empty); None defaults anything."""
    for key, value in settings.items():
        if key not in defaults or defaults[key] is None:
            continue
        default = defaults[key]
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif isinstance(default, Real):
            ok, kind = isinstance(value, Real) and not isinstance(value, bool), "a number"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "a string"
        elif isinstance(default, (list, tuple)) and not default:  # an empty default: a list of any length
            ok, kind = isinstance(value, (list, tuple)), "a list"
        elif isinstance(default, (list, tuple)):
            ok, kind = isinstance(value, (list, tuple)) and len(value) == len(default), f"a list of {len(default)} values"
        else:
            continue
        if not ok:
            return f"setting {key}={value!r} must be {kind} (default {default!r})"
    return None
