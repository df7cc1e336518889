"""Checks of user-given method settings (``--set KEY=VALUE``, config files): their kind against the
defaults of the strategy or weight-sharing method (:func:`setting_type_error`), and the range of the
numeric ones and the choices of the named ones (:class:`Bound`, :func:`setting_range_error`), so that a
bad value is one clear message before any work, not an exception, a loop without end or an exhausted
memory deep inside a run."""
from __future__ import annotations

import math
from dataclasses import MISSING, fields, is_dataclass
from numbers import Integral, Real
from typing import Any, Mapping, NamedTuple


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


class Bound(NamedTuple):
    """The values a setting accepts: a finite number (``integer``: an integer, not a bool) from ``lo`` to
    ``hi`` (``None``: no upper bound, e.g. a later check against the table bounds it), each end excluded when
    ``lo_open`` / ``hi_open``; or, when ``choices`` is given, one of those values. ``null``: None too (a
    default of None, which the type check passes whatever the value). ``each``: a list whose every element
    is such a value (its length is the type check's). ``why``: words added to the message in parentheses."""

    lo: float = 0
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False
    hi_open: bool = False
    null: bool = False
    each: bool = False
    choices: tuple[Any, ...] = ()
    why: str = ""

    def accepts(self, value: Any) -> bool:
        if self.each:
            return isinstance(value, (list, tuple)) and all(self._replace(each=False).accepts(v) for v in value)
        if value is None and self.null:
            return True
        if self.choices:
            return isinstance(value, (str, int, float)) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, Integral if self.integer else Real):  # numpy's too
            return False
        if not isinstance(value, Integral) and not math.isfinite(value):  # (a huge int is finite, and no float)
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        return above and (self.hi is None or (value < self.hi if self.hi_open else value <= self.hi))

    def describe(self) -> str:
        """What the setting must be, e.g. "a finite number in (0, 10]", "an integer >= 7 or null"."""
        if self.choices:
            text = f"one of {', '.join(map(repr, self.choices))}"
        else:
            kind = "an integer" if self.integer else "a finite number"
            lo, hi = (str(x) if isinstance(x, int) or x is None else f"{x:g}" for x in (self.lo, self.hi))
            if self.hi is None:
                text = f"{kind} {'>' if self.lo_open else '>='} {lo}"
            else:
                text = f"{kind} in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
            if self.each:
                text = f"a list of {'integers' if self.integer else 'finite numbers'}{text[len(kind):]}"
        return text + (" or null" if self.null else "") + (f" ({self.why})" if self.why else "")


def setting_range_error(bounds: Mapping[str, Bound], settings: Mapping[str, Any]) -> str | None:
    """A message naming the first setting of ``bounds`` (in their order) whose value in ``settings`` is out
    of its bound, or None; settings without a bound, or not in ``settings``, pass."""
    for key, bound in bounds.items():
        if key in settings and not bound.accepts(settings[key]):
            return f"setting {key}={settings[key]!r} must be {bound.describe()}"
    return None


def attribute_range_error(bounds: Mapping[str, Bound], obj: Any) -> str | None:
    """:func:`setting_range_error` of ``obj``'s attributes named in ``bounds`` (a strategy's, predictor's
    or weight-sharing settings object's own fields)."""
    return setting_range_error(bounds, {key: getattr(obj, key) for key in bounds})
