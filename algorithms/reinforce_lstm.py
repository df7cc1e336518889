"""REINFORCE with an LSTM controller in the style of Zoph & Le (2017): an LSTM emits the 6 edges'
ops one after another, each step fed the embedding of the previous op (a start token first), with
a separate softmax per edge. Trained by Adam on ``-log p(arch) * (reward - baseline)`` minus an
entropy bonus, the baseline being the bias-corrected EMA of the rewards.

The controller is small (one LSTM layer of ``hidden`` units) and runs in PyTorch on the CPU. Its
weights are drawn from the strategy's NumPy generator (every parameter, biases included, uniform in
+-``init_range``: the initializer of ENAS's TensorFlow controller) and ops are sampled with that
generator too, so a run is reproducible without any torch global seed. The reward is the objective
as the table holds it (accuracy in percent), as for ``reinforce``.

This is not NAS-Bench-201's / NATS-Bench's ENAS controller, and does not claim its settings. The
differences, deliberate (a small multi-trial REINFORCE baseline on a 6-decision space), against
AutoDL-Projects' ``lib/models/cell_searchs/search_model_enas_utils.py`` ``Controller`` and the
controller training of ``exps/algos/ENAS.py`` (``scripts-search/algos/ENAS.sh``,
``configs/nas-benchmark/algos/ENAS.config``) and ``exps/NATS-algos/search-cell.py``:

* network: theirs is a 2-layer ``nn.LSTM`` of 32 with a learned start input and one output layer
  shared by all 6 edges; ours one ``LSTMCell`` of ``hidden`` (32) with a start-token embedding and a
  head (weights and bias) per edge. Theirs draws only the start input, the first LSTM layer's
  weight matrices, the embedding and the output weights in +-0.1 (PyTorch's defaults elsewhere);
  ours draws every parameter;
* logits: theirs are divided by a temperature of 5 and squashed to ``2.5 * tanh``, so no op on an
  edge is ever more than e**5 (about 148) times likelier than another; ours are not squashed, and the
  policy may become (nearly) deterministic and query the same cells again;
* reward: theirs is the supernet's top-1 accuracy as a fraction on one valid minibatch plus
  ``1e-4 * entropy`` (the entropy inside the reward); ours is the table's objective in percent with
  the entropy bonus in the loss. Our advantages are 100 times theirs for the same accuracies, so
  ``entropy_weight=1e-4`` weighs the entropy 100 times less against the policy gradient than their
  1e-4 does (``entropy_weight=1e-2`` is their balance);
* baseline: theirs is, for each sample, 0.99 times the previous epoch's baseline plus 0.01 times
  that sample's reward (the previous epoch's: ENAS.py its last such value, search-cell.py their
  mean), and the sample's accuracy itself throughout the first epoch (so only the entropy term moves
  the controller then); ours is the bias-corrected moving average (``momentum`` 0.9) updated with
  each reward before its advantage is taken;
* optimizer: theirs is Adam with lr 1e-3, eps 1e-3 and betas (0, 0.999) (search-cell.py:
  (0.5, 0.999)), the gradient norm clipped at 5; ours Adam with ``learning_rate`` (0.005), PyTorch's
  betas (0.9, 0.999) and eps 1e-8, no clipping;
* update: theirs averages the gradients of 20 sampled cells per step (50 steps an epoch); ours takes
  one step per ``tell``, averaged over the results told (one per step with one worker). Under
  asynchronous workers a cell may have been sampled under an older policy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nasbench_suite.settings_check import Bound
from nasbench_suite.space import NUM_EDGES, NUM_OPS, Arch
from nasbench_suite.strategy import Query, Result, SearchSpace, Strategy, register

from .common import require_full_space

from .reinforce import POLICY_BOUNDS, EMABaseline

if TYPE_CHECKING:
    import torch


def _controller(hidden: int) -> "torch.nn.Module":
    import torch

    class Controller(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(NUM_OPS + 1, hidden)  # the last row is the start token
            self.cell = torch.nn.LSTMCell(hidden, hidden)
            self.heads = torch.nn.Parameter(torch.zeros(NUM_EDGES, hidden, NUM_OPS))
            self.bias = torch.nn.Parameter(torch.zeros(NUM_EDGES, NUM_OPS))

        def logits(self, ops: "torch.Tensor") -> "torch.Tensor":
            """(batch, 6) ops -> (batch, 6, 5) logits of each edge given the previous edges' ops."""
            batch = ops.shape[0]
            prev = torch.full((batch,), NUM_OPS, dtype=torch.long)
            state = None
            out = []
            for e in range(NUM_EDGES):
                state = self.cell(self.embed(prev), state)
                out.append(state[0] @ self.heads[e] + self.bias[e])
                prev = ops[:, e]
            return torch.stack(out, dim=1)

    return Controller()


@register("reinforce-lstm")
@dataclass
class LSTMReinforce(Strategy):
    uses_torch = True

    hidden: int = 32
    learning_rate: float = 0.005
    momentum: float = 0.9
    entropy_weight: float = 1e-4
    init_range: float = 0.1
    epochs: int | None = None

    # hidden 0 ran an LSTM of no units, 10**9 filled the memory; a negative entropy_weight is an entropy penalty,
    # not a bonus; init_range 0 (zero LSTM and heads) gives only the biases a gradient, 1e308 overflowed numpy
    bounds = {"hidden": Bound(1, 1024, integer=True, why="LSTM units"), **POLICY_BOUNDS,
              "entropy_weight": Bound(0, 1000), "init_range": Bound(0, 10, lo_open=True)}

    def setup(self, space: SearchSpace, rng: np.random.Generator) -> None:
        import torch

        self.check_bounds()
        require_full_space(space, "the LSTM controller")
        self.space, self.rng, self._epochs = space, rng, space.epochs_or_max(self.epochs)
        self.net = _controller(self.hidden)
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.from_numpy(rng.uniform(-self.init_range, self.init_range, size=tuple(p.shape))))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.learning_rate)
        self.baseline = EMABaseline(self.momentum)

    def ask(self, n: int) -> list[Query]:
        import torch

        ops = np.zeros((n, NUM_EDGES), dtype=np.int64)
        with torch.no_grad():
            prev = torch.full((n,), NUM_OPS, dtype=torch.long)
            state = None
            for e in range(NUM_EDGES):
                state = self.net.cell(self.net.embed(prev), state)
                probs = torch.softmax(state[0] @ self.net.heads[e] + self.net.bias[e], dim=-1).double().numpy()
                cum = np.cumsum(probs, axis=1)
                ops[:, e] = np.minimum((cum < self.rng.random((n, 1))).sum(axis=1), NUM_OPS - 1)
                prev = torch.from_numpy(ops[:, e].copy())
        return [Query(Arch(tuple(row)), self._epochs) for row in ops.tolist()]

    def tell(self, results: Sequence[Result]) -> None:
        import torch

        advantages = [r.value - self.baseline.update(r.value) for r in results]
        ops = torch.tensor([r.arch.ops for r in results], dtype=torch.long)
        log_probs = torch.log_softmax(self.net.logits(ops), dim=-1)
        chosen = log_probs.gather(2, ops.unsqueeze(2)).squeeze(2).sum(dim=1)
        entropy = -(log_probs.exp() * log_probs).sum(dim=(1, 2))
        adv = torch.tensor(advantages, dtype=chosen.dtype)
        loss = -(chosen * adv).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
