"""The configuration of ``nasbench compare``: a TOML file, checked field by field.

A config names a table, the replayed strategies (each with its settings), the run seeds, the
simulated budget, the processes, the latency source of the accuracy-vs-latency view and, optionally,
weight-sharing methods run for real. Every field is checked before any work starts; a bad one raises
:class:`ConfigError` naming the field (``strategy[2].settings``, ``budget.seconds``, ...).

The embedded default (:data:`DEFAULT_CONFIG`, ``nasbench compare`` without ``--config``) is
``nasbench_suite/configs/digits-default.toml``; ``nasbench compare --print-default`` shows it. Every
config embedded beside it (:func:`embedded_configs`) can be named instead of a path:
``nasbench compare --config cifar10-16px`` (``--print-default`` then shows that one).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import AbstractSet, Any, Mapping

from .errors import NasBenchError
from .intlist import MAX_SEED, parse_int_list

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CONFIGS_DIR = Path(__file__).with_name("configs")
DEFAULT_CONFIG = CONFIGS_DIR / "digits-default.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_BOOTSTRAP = 100_000
"""Most bootstrap resamples of a report's median band: 100 times the default, and the band of one column is
resampled at once (resamples x runs values), so ``bootstrap = 99999999999999999999`` was a numpy ValueError
traceback after every run had finished, and ``100000000`` took gigabytes and no end in sight."""


class ConfigError(NasBenchError, ValueError):
    """A compare config is missing, unreadable or has a bad field."""


@dataclass(frozen=True)
class StrategyEntry:
    name: str
    label: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WeightSharingEntry:
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    epochs: int
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-method settings (``[weight_sharing.settings.darts-v1]``)."""


@dataclass(frozen=True)
class CompareConfig:
    name: str
    table: str
    seeds: tuple[int, ...]
    strategies: tuple[StrategyEntry, ...]
    budget_seconds: float | None
    budget_queries: int | None
    overrun: str = "strict"
    sim_workers: int = 1
    workers: int = 2
    latency: str = "auto"
    """``auto`` (this machine's measured latency for the table's network, else another machine's,
    labelled), a latency folder, or ``none``."""
    latency_batch: int = 1
    bootstrap: int = 1000
    alpha: float = 0.05
    weight_sharing: WeightSharingEntry | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, sorted-key friendly form for manifests."""
        out = asdict(self)
        out["seeds"] = list(self.seeds)
        out["strategies"] = [{"name": s.name, "label": s.label, "settings": dict(s.settings)} for s in self.strategies]
        if self.weight_sharing is not None:
            ws = self.weight_sharing
            out["weight_sharing"] = {"methods": list(ws.methods), "seeds": list(ws.seeds), "epochs": ws.epochs,
                                     "settings": {k: dict(v) for k, v in ws.settings.items()}}
        return out


# ----- field checks --------------------------------------------------------------------------------
def _keys(where: str, table: Any, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"config field {where}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"config field {where}.{unknown[0]}: unknown field; known: {', '.join(sorted(allowed))}"
                          if where else f"config field {unknown[0]}: unknown field; known: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(table))
    if missing:
        raise ConfigError(f"config field {_join(where, missing[0])}: required but missing")
    return table


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _int(where: str, value: Any, low: int = 1, high: int | None = None, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"config field {where}: expected an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"config field {where}: expected at most {high:,}{unit}, got {value}")
    return value


def _float(where: str, value: Any, low: float = 0.0, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low < value < high):
        raise ConfigError(f"config field {where}: expected a number in ({low}, {high}), got {value!r}")
    return float(value)


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"config field {where}: expected a non-empty string, got {value!r}")
    return value


def _label(where: str, value: Any) -> str:
    value = _str(where, value)
    if not _NAME.match(value):
        raise ConfigError(f"config field {where}: {value!r} must use letters, digits, '.', '_' or '-' "
                          "(it names a folder)")
    return value


def parse_seeds(where: str, value: Any) -> tuple[int, ...]:
    """``"0-29"``, ``"0,5,7-9"`` or a list of integers -> distinct non-negative seeds, ascending (``"5,0-2"``
    is the config of ``"0-2,5"``: the same runs, rows and report)."""
    seeds: list[int] = []
    if isinstance(value, list):
        for k, v in enumerate(value):
            seeds.append(_int(f"{where}[{k}]", v, low=0))
    elif isinstance(value, str):
        try:
            seeds = parse_int_list(value)
        except ValueError as exc:
            raise ConfigError(f"config field {where}: {exc}") from None
    else:
        raise ConfigError(f"config field {where}: expected a string like '0-29' or a list of integers, got {value!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"config field {where}: seeds must be distinct, at least one")
    if max(seeds) > MAX_SEED:
        raise ConfigError(f"config field {where}: seeds must be at most 2**63 - 1 (stored as int64), got {max(seeds)}")
    return tuple(sorted(seeds))


def _strategies(value: Any) -> tuple[StrategyEntry, ...]:
    from .strategy import OWN_STRATEGY_HINT, StrategyError, make_strategy, strategy_names

    if not isinstance(value, list) or not value:
        raise ConfigError("config field strategy: expected at least one [[strategy]] table")
    out: list[StrategyEntry] = []
    for k, entry in enumerate(value):
        where = f"strategy[{k}]"
        entry = _keys(where, entry, {"name", "label", "settings"}, {"name"})
        name = _str(f"{where}.name", entry["name"])
        if name not in strategy_names():
            raise ConfigError(f"config field {where}.name: unknown strategy {name!r}; registered: "
                              f"{', '.join(strategy_names())} ({OWN_STRATEGY_HINT})")
        settings = entry.get("settings", {})
        settings = _keys(f"{where}.settings", settings, set(settings) if isinstance(settings, dict) else set())
        try:
            make_strategy(name, dict(settings))
        except StrategyError as e:
            raise ConfigError(f"config field {where}.settings: {e}") from None
        out.append(StrategyEntry(name, _label(f"{where}.label", entry.get("label", name)), settings))
    labels = [s.label for s in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"config field strategy: label {dup[0]!r} is used twice; give each entry its own label")
    return tuple(out)


def _weight_sharing(value: Any) -> WeightSharingEntry:
    from .weight_sharing import METHODS, SearchSettings, WeightSharingError, make_method, split_loop_settings

    ws = _keys("weight_sharing", value, {"methods", "seeds", "epochs", "settings"}, {"methods", "epochs"})
    methods = ws["methods"]
    if not isinstance(methods, list) or not methods:
        raise ConfigError("config field weight_sharing.methods: expected a non-empty list of method names")
    for k, m in enumerate(methods):
        if not isinstance(m, str) or m not in METHODS:  # a list or table is unhashable
            raise ConfigError(f"config field weight_sharing.methods[{k}]: unknown method {m!r}; use one of "
                              f"{', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise ConfigError("config field weight_sharing.methods: a method is listed twice")
    settings = _keys("weight_sharing.settings", ws.get("settings", {}), set(methods))
    for m, s in settings.items():
        _keys(f"weight_sharing.settings.{m}", s, set(s) if isinstance(s, dict) else set())
        loop, own = split_loop_settings(s)
        try:
            SearchSettings(1, **loop)
            make_method(m, own)
        except (WeightSharingError, TypeError) as e:
            raise ConfigError(f"config field weight_sharing.settings.{m}: {e}") from None
    return WeightSharingEntry(tuple(methods), parse_seeds("weight_sharing.seeds", ws.get("seeds", "0-2")),
                              _int("weight_sharing.epochs", ws["epochs"]), settings)


def parse_config(data: Mapping[str, Any]) -> CompareConfig:
    """Check a parsed TOML document and turn it into a :class:`CompareConfig`."""
    from .simulator import MAX_RUN_QUERIES, OVERRUN_POLICIES

    top = _keys("", dict(data), {"name", "table", "seeds", "workers", "budget", "strategy", "latency",
                                 "report", "weight_sharing"}, {"name", "table", "seeds", "budget", "strategy"})
    budget = _keys("budget", top["budget"], {"seconds", "queries", "overrun", "sim_workers"})
    seconds = _float("budget.seconds", budget["seconds"]) if "seconds" in budget else None
    queries = _int("budget.queries", budget["queries"], high=MAX_RUN_QUERIES, unit=" per run") \
        if "queries" in budget else None
    if seconds is None and queries is None:
        raise ConfigError("config field budget: give seconds (simulated), queries, or both")
    overrun = budget.get("overrun", "strict")
    if overrun not in OVERRUN_POLICIES:
        raise ConfigError(f"config field budget.overrun: {overrun!r} is not one of {', '.join(OVERRUN_POLICIES)}")
    if seconds is None and overrun != "strict":  # as search refuses --overrun without --budget: else recorded, unused
        raise ConfigError(f'config field budget.overrun: "{overrun}" says what happens at the seconds budget, and '
                          "budget.seconds is not given; give seconds or leave overrun out")
    latency = _keys("latency", top.get("latency", {}), {"source", "batch"})
    report = _keys("report", top.get("report", {}), {"bootstrap", "alpha"})
    source = _str("latency.source", latency.get("source", "auto"))
    batch = _int("latency.batch", latency.get("batch", 1))
    if source == "none" and batch != 1:  # as search refuses --latency-batch without --latency: else unused
        raise ConfigError(f"config field latency.batch: batch {batch} chooses among the latencies of latency.source, "
                          'which is "none"; give a source or leave batch out')
    return CompareConfig(
        name=_label("name", top["name"]), table=_str("table", top["table"]), seeds=parse_seeds("seeds", top["seeds"]),
        strategies=_strategies(top["strategy"]), budget_seconds=seconds, budget_queries=queries, overrun=overrun,
        sim_workers=_int("budget.sim_workers", budget.get("sim_workers", 1)),
        workers=_int("workers", top.get("workers", 2)),
        latency=source,
        latency_batch=batch,
        bootstrap=_int("report.bootstrap", report.get("bootstrap", 1000), low=100, high=MAX_BOOTSTRAP, unit=" resamples"),
        alpha=_float("report.alpha", report.get("alpha", 0.05), 0.0, 0.5),
        weight_sharing=_weight_sharing(top["weight_sharing"]) if "weight_sharing" in top else None,
    )


def embedded_configs() -> dict[str, Path]:
    """The configs shipped in the package, by name (the file name without ``.toml``)."""
    return {p.stem: p for p in sorted(CONFIGS_DIR.glob("*.toml"))}


def config_path(path: str | Path | None = None) -> Path:
    """The file a config argument names: a file, the name of an embedded config (a file of that path
    wins), or the embedded default when ``path`` is None."""
    if path is None:
        return DEFAULT_CONFIG
    if not Path(path).exists():
        return embedded_configs().get(str(path), Path(path))
    return Path(path)


def config_text(path: str | Path | None = None) -> tuple[Path, str]:
    """The file a config argument names (see :func:`config_path`) and its text, unchecked."""
    path = config_path(path)
    if path.suffix.lower() not in (".toml", ""):
        raise ConfigError(f"{path}: configs are TOML files (.toml)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (embedded configs: "
                          f"{', '.join(embedded_configs())})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    return path, text


def load_config(path: str | Path | None = None) -> CompareConfig:
    """Read and check a TOML config: a file, the name of an embedded config (a file of that path
    wins), or the embedded default when ``path`` is None."""
    path, text = config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    except RecursionError:  # a received config of arrays or tables nested thousands deep: was a traceback
        raise ConfigError(f"{path} is not valid TOML: nested too deeply") from None
    except ValueError as e:  # an integer of more than 4,300 digits (int() refuses it): was a traceback
        raise ConfigError(f"{path} is not valid TOML: a number is too long: {str(e).split(';')[0]}") from None
    return parse_config(data)
