"""REINFORCE with NAS-Bench-201's policy: an independent categorical distribution over the 5 ops of
each of the 6 edges (a 6x5 logit table, starting uniform), trained by Adam on
``-log p(arch) * (reward - baseline)`` with the reward the objective and the baseline a bias-corrected
exponential moving average of the rewards (NAS-Bench-201's ``ExponentialMovingAverage``), one sampled
cell per update, the baseline updated with a reward before that reward's advantage is taken, as in
NB201's and NATS-Bench's reinforce.py. The logits start at ``init_scale * randn`` (their
``1e-3 * torch.randn``; drawn here from the run's generator); ``init_scale=0`` starts exactly uniform and
draws nothing, as this strategy did before 2026-12-05.
The reward is the objective as the table holds it (accuracy in percent on NB201's tables, as NB201's
API returns it; Adam's step depends on the reward's scale only through its eps).

Under asynchronous workers each result updates the current policy as it arrives (the arch may have
been sampled under an older one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, register

from .common import require_full_space


class EMABaseline:
    """Bias-corrected exponential moving average: value = sum m^k (1-m) r / sum m^k (1-m)."""

    def __init__(self, momentum: float) -> None:
        self.momentum, self.num, self.den = momentum, 0.0, 0.0

    def update(self, reward: float) -> float:
        m = self.momentum
        self.num = m * self.num + (1 - m) * reward
        self.den = m * self.den + (1 - m)
        return self.num / self.den


POLICY_BOUNDS = {"learning_rate": Bound(0, 10), "momentum": Bound(0, 1, hi_open=True)}
"""The bounds of the settings REINFORCE and its LSTM form share: learning_rate 0 is allowed (a policy that
never learns, a control), a huge one made the logits NaN; momentum 1 never moves the baseline off 0/0."""


@register("reinforce")
@dataclass
class Reinforce(Strategy):
    learning_rate: float = 0.01
    momentum: float = 0.9
    """EMA momentum of the reward baseline."""
    init_scale: float = 1e-3
    """Standard deviation of the initial logits (NB201's ``1e-3 * randn``; 0: exactly uniform)."""
    epochs: int | None = None
    bounds = {"learning_rate": POLICY_BOUNDS["learning_rate"], "momentum": POLICY_BOUNDS["momentum"],
              "init_scale": Bound(0, 100)}  # 1e308 overflowed the logits to inf and ran on NaN

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.check_bounds()
        require_full_space(space, "REINFORCE")
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.logits = np.zeros((NUM_EDGES, NUM_OPS))
        if self.init_scale:
            self.logits += self.init_scale * rng.standard_normal((NUM_EDGES, NUM_OPS))
        self.m = np.zeros_like(self.logits)
        self.v = np.zeros_like(self.logits)
        self.steps = 0
        self.baseline = EMABaseline(self.momentum)
        self._rows = np.arange(NUM_EDGES)

    def _probs(self) -> np.ndarray:
        z = np.exp(self.logits - self.logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def ask(self, n: int) -> list[Query]:
        cum = np.cumsum(self._probs(), axis=1)
        u = self.rng.random((n, NUM_EDGES, 1))
        ops = np.minimum((cum[None] < u).sum(axis=2), NUM_OPS - 1).tolist()
        return [Query(Arch(tuple(o)), self._epochs) for o in ops]

    def tell(self, results: Sequence[Result]) -> None:
        for r in results:
            advantage = r.value - self.baseline.update(r.value)
            grad = self._probs()  # d(-log p(arch))/d(logits) = probs - onehot(arch)
            grad[self._rows, r.arch.ops] -= 1.0
            grad *= advantage
            self._adam(grad)

    def _adam(self, grad: np.ndarray, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.steps += 1
        self.m = b1 * self.m + (1 - b1) * grad
        self.v = b2 * self.v + (1 - b2) * grad * grad
        self.logits -= self.learning_rate * (self.m / (1 - b1**self.steps)) / (np.sqrt(self.v / (1 - b2**self.steps)) + eps)
