"""Run any Optuna sampler as a strategy (optional: ``pip install 'nasbench-suite[optuna]'``).

Each edge is a categorical parameter ``edge0``..``edge5`` over the op names; the objective is
maximized. The sampler is built from its class name in ``optuna.samplers`` with ``seed`` drawn from
the strategy's generator (plus any ``sampler_settings``), so a run is reproducible. Optuna's own
clock plays no part: the simulator charges every query its table cost.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from nasbench_suite.errors import BackendUnavailableError
from nasbench_suite.space import NUM_EDGES, OPS, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, StrategyError, register

from .common import require_full_space


def import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise BackendUnavailableError("the optuna strategy needs Optuna: pip install 'nasbench-suite[optuna]'") from None
    return optuna


def sampler_settings_error(settings: Any) -> str | None:
    """What is wrong with a ``sampler_settings`` value before the sampler sees it, or None: it must be a table
    (a JSON object, a dict) of keyword arguments, named by strings, without ``seed`` (the adapter sets it)."""
    if not isinstance(settings, dict):
        return (f"setting sampler_settings={settings!r} must be a table of the sampler's keyword arguments (a JSON "
                f"object)")
    bad = [key for key in settings if not isinstance(key, str)]
    if bad:
        return f"setting sampler_settings={settings!r} must name its keyword arguments by strings; not {bad[0]!r}"
    if "seed" in settings:
        return (f"setting sampler_settings={settings!r} may not hold seed: the adapter seeds the sampler from the "
                f"run's seed")
    return None


@register("optuna")
@dataclass
class OptunaStrategy(Strategy):
    sampler: str = "TPESampler"
    sampler_settings: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()  # it declares none; a subclass's are checked here, first
        problem = sampler_settings_error(self.sampler_settings)  # before Optuna is needed: checked without it
        if problem:
            raise StrategyError(problem)
        optuna = import_optuna()
        require_full_space(space, "the Optuna adapter")
        cls = getattr(optuna.samplers, self.sampler, None)
        if not isinstance(cls, type):
            raise StrategyError(f"optuna.samplers has no sampler {self.sampler!r}")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._epochs = space.epochs_or_max(self.epochs)
        try:
            sampler = cls(seed=int(rng.integers(2**31)), **self.sampler_settings)
        except (TypeError, ValueError) as e:  # an argument the sampler does not take, or a value it refuses
            raise StrategyError(f"setting sampler_settings={self.sampler_settings!r} is refused by optuna sampler "
                                f"{self.sampler}: {type(e).__name__}: {e}") from None
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.dist = {f"edge{e}": optuna.distributions.CategoricalDistribution(OPS) for e in range(NUM_EDGES)}
        self.waiting: defaultdict[int, deque] = defaultdict(deque)  # arch index -> Optuna trials asked for it

    def ask(self, n: int) -> list[Query]:
        out = []
        for _ in range(n):
            trial = self.study.ask(self.dist)
            arch = Arch.from_names([trial.params[f"edge{e}"] for e in range(NUM_EDGES)])
            self.waiting[arch.index].append(trial)
            out.append(Query(arch, self._epochs))
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            self.study.tell(self.waiting[r.arch.index].popleft(), r.value)
