"""Every strategy runs under the harness, is reproducible, and beats random search on the generated
table (whose landscape rewards using what was learned: see fixture_tables)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite.simulator import Budget, Oracle, run_search
from nasbench_suite.space import Arch
from nasbench_suite.strategy import (Query, Result, Strategy, StrategyError, make_strategy, register,
                                     strategy_class, strategy_names)
from nasbench_suite.table import Benchmark


@pytest.fixture(scope="module")
def oracle(search_table: Benchmark) -> Oracle:
    return Oracle(search_table)


@pytest.fixture(scope="module")
def test_acc(search_table: Benchmark) -> np.ndarray:
    return search_table.array("test", "acc", epoch=search_table.max_epoch)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the search driver does: tiny ops, no thread hand-offs
    yield
    torch.set_num_threads(threads)


def final_test(name: str, settings: dict, budget: Budget, seeds: range, oracle: Oracle, test_acc: np.ndarray) -> np.ndarray:
    return np.array([test_acc[run_search(make_strategy(name, settings), oracle, budget, s).final_incumbent()]
                     for s in seeds])


def beats_random(name: str, settings: dict, budget: Budget, seeds: range, oracle: Oracle,
                 test_acc: np.ndarray) -> tuple[bool, float, float]:
    """Paired over run seeds (common random numbers): the mean gain in final test accuracy over random
    search must be > 1.5 points and > 3 standard errors."""
    diff = (final_test(name, settings, budget, seeds, oracle, test_acc)
            - final_test("random", {}, budget, seeds, oracle, test_acc))
    t = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)) + 1e-12)
    return bool(diff.mean() > 1.5 and t > 3.0), float(diff.mean()), float(t)


CASES = [
    ("rea", {}, Budget(queries=60), 24),
    ("reinforce", {}, Budget(queries=300), 24),
    ("local-search", {}, Budget(queries=60), 24),
    ("local-search", {"improvement": "best"}, Budget(queries=60), 24),
    ("hyperband", {}, Budget(seconds=5000), 24),
    ("bohb", {}, Budget(seconds=5000), 24),
    ("bananas", {}, Budget(queries=40), 12),
    ("xgb-evolution", {}, Budget(queries=40), 12),
    ("reinforce-lstm", {}, Budget(queries=150), 12),
]


@pytest.mark.parametrize("name, settings, budget, n", CASES, ids=[f"{c[0]}{c[1] or ''}" for c in CASES])
def test_strategy_beats_random_search(name: str, settings: dict, budget: Budget, n: int, oracle: Oracle,
                                      test_acc: np.ndarray) -> None:
    ok, gain, t = beats_random(name, settings, budget, range(n), oracle, test_acc)
    assert ok, f"{name} gains {gain:.2f} points over random search (t = {t:.1f})"


@pytest.mark.parametrize("name, settings, budget", [
    ("rea", {"population": 10**6}, Budget(queries=60)),  # never leaves its random initial population
    ("reinforce", {"learning_rate": 0.0}, Budget(queries=300)),  # a policy that never learns
])
def test_the_check_fails_for_strategies_that_do_not_learn(name: str, settings: dict, budget: Budget,
                                                          oracle: Oracle, test_acc: np.ndarray) -> None:
    ok, gain, t = beats_random(name, settings, budget, range(24), oracle, test_acc)
    assert not ok, (gain, t)


FAST = {"bananas": {"train_epochs": 50, "members": 3}, "bananas-warm": {"train_epochs": 50, "members": 3},
        "xgb-evolution": {"n_estimators": 20}}


@pytest.mark.parametrize("name", [n for n in strategy_names() if n != "optuna"])
def test_every_strategy_runs_async_and_is_reproducible(name: str, oracle: Oracle, search_table: Benchmark) -> None:
    if name == "nsga2":  # needs a latency objective
        from fixture_tables import synthetic_latency

        oracle = Oracle(search_table).with_latency(synthetic_latency(), "synthetic (test)")
    if name.endswith("-warm") or name == "rea-move":  # needs zero-cost proxies
        from fixture_tables import synthetic_proxies

        oracle = Oracle(search_table).with_proxies(synthetic_proxies())
    budget = Budget(seconds=1500, overrun="finish")
    a = run_search(make_strategy(name, FAST.get(name)), oracle, budget, seed=5, workers=3)
    b = run_search(make_strategy(name, FAST.get(name)), oracle, budget, seed=5, workers=3)
    assert len(a) >= 10 and a.stop_reason == "seconds"
    for col in a.columns:
        np.testing.assert_array_equal(a.columns[col], b.columns[col], err_msg=col)
    c = run_search(make_strategy(name, FAST.get(name)), oracle, budget, seed=6, workers=3)
    assert c.columns["arch_index"].tolist() != a.columns["arch_index"].tolist()


def test_hyperband_promotes_by_resuming(oracle: Oracle) -> None:
    tr = run_search(make_strategy("hyperband"), oracle, Budget(seconds=3000), seed=0)
    c = tr.columns
    assert c["resumed"].any() and set(c["epochs"][~c["resumed"]]) == {2, 4, 12}
    assert set(c["epochs"][c["resumed"]]) <= {4, 12}
    first = {t: e for t, e, r in zip(c["trial"], c["epochs"], c["resumed"]) if not r}
    assert all(first[t] < e for t, e, r in zip(c["trial"], c["epochs"], c["resumed"]) if r)


def test_reinforce_logits_start_as_nb201s_small_gaussian(oracle: Oracle) -> None:
    """NB201's and NATS-Bench's reinforce.py start the 6x5 logits at 1e-3 * randn; init_scale=0 is exactly
    uniform (the earlier version)."""
    strategy = make_strategy("reinforce")
    strategy.setup(oracle.space, np.random.default_rng(0))
    expected = 1e-3 * np.random.default_rng(0).standard_normal((6, 5))
    np.testing.assert_array_equal(strategy.logits, expected)
    uniform = make_strategy("reinforce", {"init_scale": 0.0})
    uniform.setup(oracle.space, np.random.default_rng(0))
    assert not uniform.logits.any()


def test_reinforce_samples_cells_from_its_policy(oracle: Oracle) -> None:
    """Each edge's op is drawn from the softmax of that edge's logits (set here to a known table)."""
    strategy = make_strategy("reinforce")
    strategy.setup(oracle.space, np.random.default_rng(0))
    strategy.logits = np.log(np.array([[0.1, 0.2, 0.3, 0.15, 0.25]] * 3 + [[0.6, 0.1, 0.1, 0.1, 0.1]] * 3))
    ops = np.array([q.arch.ops for q in strategy.ask(20000)])
    freq = np.stack([np.bincount(ops[:, e], minlength=5) for e in range(6)]) / 20000
    np.testing.assert_allclose(freq, np.exp(strategy.logits), atol=0.015)


def test_reinforce_update_is_nb201s_baseline_then_adam_by_hand(oracle: Oracle) -> None:
    """Rewards 50 then 60 from uniform logits. The EMA baseline (momentum 0.9, bias-corrected) is updated with a
    reward before its advantage is taken: 50 - 50 = 0 (no gradient), then 60 - (0.09 * 50 + 0.1 * 60) / 0.19.
    The gradient of -log p * advantage is (0.2 - onehot) * advantage, and Adam's second, bias-corrected step
    moves every logit by lr * (0.1 / 0.19) / sqrt(0.001 / 0.001999) against the gradient's sign."""
    strategy = make_strategy("reinforce", {"init_scale": 0.0, "learning_rate": 0.01})
    strategy.setup(oracle.space, np.random.default_rng(0))
    first, second = Arch((0, 1, 2, 3, 4, 0)), Arch((4, 4, 4, 4, 4, 4))
    strategy.tell([Result(Query(first, 12), 50.0, 1.0, 0, 1.0)])
    assert not strategy.logits.any()  # advantage 0 on the first reward
    strategy.tell([Result(Query(second, 12), 60.0, 1.0, 1, 2.0)])
    assert 60.0 - (0.09 * 50.0 + 0.1 * 60.0) / 0.19 > 0  # a better reward than the baseline: raise its ops
    step = 0.01 * (0.1 / 0.19) / np.sqrt(0.001 / 0.001999)
    expected = np.full((6, 5), -step)
    expected[:, 4] = step
    np.testing.assert_allclose(strategy.logits, expected, rtol=1e-6)


def test_hyperband_promotes_as_hpbandster_ties_to_the_first_sampled_run_in_sampling_order() -> None:
    """HpBandSter's SuccessiveHalving ranks the configs in sampling order (NumPy's argsort, stable at
    these sizes before NumPy 1.25), so a tie goes to the cell sampled first whatever order results came in, and its iteration
    runs the promoted cells in sampling order, not best first."""
    from algorithms.hyperband import Bracket

    cells = iter([Arch.parse(i) for i in (100, 200, 300, 400, 500, 600, 700, 800, 900)])
    bracket = Bracket(0, [(9, 2), (3, 4), (1, 12)], resume=False)
    asked = [bracket.next_query(lambda: next(cells)) for _ in range(9)]
    values = [50.0, 80.0, 60.0, 70.0, 90.0, 40.0, 80.0, 30.0, 20.0]  # best three: 500, then 200 and 700 tied
    for k, (q, v) in enumerate(zip(asked, values)):
        bracket.tell(Result(q, v, 1.0, k, float(k)))
    promoted = [bracket.next_query(lambda: None) for _ in range(3)]
    assert [q.arch.index for q in promoted] == [200, 500, 700] and {q.epochs for q in promoted} == {4}
    for k, (q, v) in enumerate(zip(reversed(promoted), (75.0, 75.0, 60.0))):  # told out of order: 700, 500, 200
        bracket.tell(Result(q, v, 1.0, 10 + k, 10.0 + k))
    last = bracket.next_query(lambda: None)
    assert last.arch.index == 500 and last.epochs == 12  # tied with 700, sampled before it


def test_hyperband_schedule_on_the_table_fidelities() -> None:
    from algorithms.hyperband import bracket_schedule

    assert bracket_schedule(list(range(1, 13)), 3, 1, 12) == [[(9, 2), (3, 4), (1, 12)], [(5, 4), (1, 12)], [(3, 12)]]
    assert bracket_schedule([12], 3, 12, 12) == [[(1, 12)]]  # one fidelity: random search
    # rungs rounded onto one fidelity: the earlier rung's cells are trained (successive halving's
    # promotion to the same epoch is free and only keeps the best), not the later rung's few
    assert bracket_schedule([2, 12], 3, 2, 12) == [[(3, 12)], [(2, 12)]]
    assert bracket_schedule([1, 12, 27], 3, 1, 27)[0] == [(27, 1), (9, 12), (1, 27)]
    # epochs 1..243, eta 3: s_max = log_3(243) = 5, six brackets (math.log(243, 3) is 4.999999999999999)
    many = bracket_schedule(list(range(1, 244)), 3, 1, 243)
    assert [len(b) for b in many] == [6, 5, 4, 3, 2, 1]
    assert many[0] == [(243, 1), (81, 3), (27, 9), (9, 27), (3, 81), (1, 243)]


def test_hyperband_opens_a_bracket_whenever_every_open_bracket_waits_for_results() -> None:
    """With several workers (module doc, as HpBandSter does) a new bracket opens whenever every open bracket
    is waiting for results, however many are open, so no idle worker goes without a query; and only then: a
    promotion an open bracket has ready is asked before any new bracket's cell."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("hyperband")
    strategy.setup(SearchSpace((4, 12), np.arange(15625)), np.random.default_rng(0))
    assert strategy.schedule == [[(3, 4), (1, 12)], [(2, 12)]]
    first = strategy.ask(3)  # bracket 0's three cells, then it waits for their results
    assert [(q.tag, q.epochs) for q in first] == [(0, 4)] * 3
    # four idle workers: bracket 1 (two cells), then, it waiting too, bracket 2 (the schedule again)
    assert [(q.tag, q.epochs) for q in strategy.ask(4)] == [(1, 12), (1, 12), (2, 4), (2, 4)]
    strategy.tell([Result(q, 50.0 + k, 1.0, k, float(k)) for k, q in enumerate(first)])
    # bracket 0's promotion is ready, bracket 2 has a cell left: neither opens a new bracket
    assert [(q.tag, q.epochs) for q in strategy.ask(2)] == [(0, 12), (2, 4)]
    assert [(q.tag, q.epochs) for q in strategy.ask(1)] == [(3, 12)]  # all three open brackets wait: a fourth


def full_cost(oracle: Oracle, arch: int, table_seed: int, epochs: int) -> float:
    """What a new trial of ``arch`` to ``epochs`` epochs costs under ``table_seed``: all its epochs of
    training plus one validation pass."""
    r, s = oracle.row_of[arch], oracle.seeds.index(table_seed)
    return float(oracle.cum_train[r, s, epochs] + oracle.valid_seconds[r, s, epochs - 1])


def check_new_trials_charged_in_full(oracle: Oracle, c: dict) -> None:
    assert not c["resumed"].any() and len(set(c["trial"].tolist())) == len(c["trial"])  # every query a new trial
    for a, seed, e, cost in zip(c["arch_index"], c["table_seed"], c["epochs"], c["cost"]):
        assert cost == pytest.approx(full_cost(oracle, int(a), int(seed), int(e)), rel=1e-12)


def test_hyperband_resume_false_promotes_as_new_trials_charged_in_full(oracle: Oracle) -> None:
    """resume=False (NB201's and NATS-Bench's BOHB workers query the benchmark afresh at each budget): a
    promotion is a new trial, charged all its epochs, not the extra ones."""
    c = run_search(make_strategy("hyperband", {"resume": False}), oracle, Budget(seconds=3000), seed=0).columns
    check_new_trials_charged_in_full(oracle, c)
    # the first bracket as with resume=True: 9 cells at 2 epochs, the best 3 at 4, the best one at 12
    assert c["epochs"][:13].tolist() == [2] * 9 + [4] * 3 + [12]
    first, second = c["value"][:9], c["arch_index"][9:12]
    assert sorted(second.tolist()) == sorted(c["arch_index"][np.argsort(-first, kind="stable")[:3]].tolist())
    assert c["arch_index"][12] == second[np.argmax(c["value"][9:12])]
    resumed = run_search(make_strategy("hyperband"), oracle, Budget(seconds=3000), seed=0).columns
    assert resumed["arch_index"][:13].tolist() == c["arch_index"][:13].tolist()
    assert resumed["cost"][12] < c["cost"][12]  # the default pays only epochs 5..12 for the same promotion


def test_hpbandster_schedule() -> None:
    from algorithms.hyperband import hpbandster_schedule

    # NATS-Bench's bohb.py: eta 3, budgets 1..12; NB201's BOHB.py: eta 3, budgets 12..200 (HpBandSter's
    # n0 = ceil(floor(m / (s + 1)) * eta**s), not Hyperband's ceil(m / (s + 1) * eta**s))
    assert hpbandster_schedule(3, 1, 12) == [[(9, 12 / 9), (3, 4.0), (1, 12.0)], [(3, 4.0), (1, 12.0)], [(3, 12.0)]]
    nb201 = hpbandster_schedule(3, 12, 200)
    assert [[n for n, _ in b] for b in nb201] == [[9, 3, 1], [3, 1], [3]]
    assert [round(b, 2) for _, b in nb201[0]] == [22.22, 66.67, 200.0]


def bohb_nb201(**extra) -> Strategy:
    return make_strategy("bohb", {"num_samples": 4, "random_fraction": 0.0, "min_bandwidth": 0.3, "min_budget": 12,
                                  "max_budget": 200, "query_epochs": 12, "resume": False, **extra})


def test_bohb_nb201_mode_queries_fixed_epochs_and_reevaluates_promotions(oracle: Oracle) -> None:
    """NB201's exps/algos/BOHB.py: HpBandSter brackets over budgets 12..200 whose worker ignores the budget;
    every query, promotions included, is a new 12-epoch trial charged in full, and BOHB's models are keyed
    on the (virtual) budgets, not on the epochs every query shares."""
    strategy = bohb_nb201()
    c = run_search(strategy, oracle, Budget(seconds=6000), seed=0).columns
    assert set(c["epochs"].tolist()) == {12}
    check_new_trials_charged_in_full(oracle, c)
    assert strategy.schedule == [[(9, 12), (3, 12), (1, 12)], [(3, 12), (1, 12)], [(3, 12)]]
    first, second = c["value"][:9], c["arch_index"][9:12]  # promoted cells are queried again
    assert sorted(second.tolist()) == sorted(c["arch_index"][np.argsort(-first, kind="stable")[:3]].tolist())
    assert c["arch_index"][12] == second[np.argmax(c["value"][9:12])]
    budgets = sorted(strategy.data)
    assert [round(b, 2) for b in budgets] == [22.22, 66.67, 200.0]
    assert strategy.data[budgets[0]][1][:9] == first.tolist() and strategy.data[budgets[2]][1][0] == c["value"][12]


def top_rung_rows(n: int) -> list[int]:
    """Rows (one worker) that are top-rung results in NB201's brackets: 13 + 4 + 3 queries a cycle."""
    return [k for k in range(n) if k % 20 in (12, 16, 17, 18, 19)]


def test_incumbent_rules(oracle: Oracle) -> None:
    """'max-budget' (HpBandSter's get_incumbent_id): the best result of a top rung; 'best' (NATS-Bench's
    bohb.py): the best result at any epoch; the default leaves the simulator's rule. Under either rule a tie
    goes to the result told first, and under a latency limit only results within it count."""
    from nasbench_suite.strategy import SearchSpace

    for rule in ("max-budget", "best"):  # one rung at 12 epochs: each bracket is one top-rung cell
        strategy = make_strategy("hyperband", {"incumbent_rule": rule})
        strategy.setup(SearchSpace((12,), np.arange(15625)), np.random.default_rng(0))
        first, second = strategy.ask(2)
        assert first.arch != second.arch
        strategy.tell([Result(first, 50.0, 1.0, 0, 1.0), Result(second, 50.0, 1.0, 1, 2.0)])
        assert strategy.incumbent() == first.arch, rule
        # under a latency limit only feasible results count: a better cell over the limit is not the incumbent
        strategy = make_strategy("hyperband", {"incumbent_rule": rule})
        strategy.setup(SearchSpace((12,), np.arange(15625), latency_source="test", max_latency=3.0),
                       np.random.default_rng(0))
        fast, slow = strategy.ask(2)
        strategy.tell([Result(fast, 50.0, 1.0, 0, 1.0, latency=3.0), Result(slow, 90.0, 1.0, 1, 2.0, latency=3.5)])
        assert strategy.incumbent() == fast.arch, rule
    differs = 0
    for seed in range(4):
        c = run_search(bohb_nb201(incumbent_rule="max-budget"), oracle, Budget(seconds=6000), seed).columns
        top = top_rung_rows(len(c["value"]))
        for k in range(top[0]):  # no top-rung result yet: the simulator's rule (all results are at 12 epochs)
            assert c["incumbent_index"][k] == c["arch_index"][int(np.argmax(c["value"][:k + 1]))]
        for k in range(top[0], len(c["value"])):
            rows = [t for t in top if t <= k]
            best = rows[int(np.argmax(c["value"][rows]))]
            assert c["incumbent_index"][k] == c["arch_index"][best]
        default = run_search(bohb_nb201(), oracle, Budget(seconds=6000), seed).columns
        assert default["arch_index"].tolist() == c["arch_index"].tolist()  # the rule changes only the incumbent
        assert default["incumbent_index"][-1] == c["arch_index"][np.argmax(c["value"])]  # all at 12 epochs
        differs += int((default["incumbent_index"] != c["incumbent_index"]).sum())
    assert differs  # a cell seen only in a lower rung is not HpBandSter's incumbent
    c = run_search(make_strategy("bohb", {"min_budget": 1, "max_budget": 12, "resume": False, "incumbent_rule": "best"}),
                   oracle, Budget(seconds=3000), 0).columns
    assert set(c["epochs"].tolist()) == {1, 4, 12}
    check_new_trials_charged_in_full(oracle, c)
    for k in range(len(c["value"])):
        assert c["incumbent_index"][k] == c["arch_index"][int(np.argmax(c["value"][:k + 1]))]


def test_budgets_on_a_table_with_one_epoch_need_resume_false() -> None:
    """On a table that records epoch 12 only (the reference-built ones), NATS-Bench's budgets 1..12 put
    every rung at 12 epochs: promotions cannot resume, so only resume=False runs."""
    from nasbench_suite.strategy import SearchSpace

    space = SearchSpace((12,), np.arange(15625))
    with pytest.raises(StrategyError, match="resume=true needs more epochs at each rung"):
        make_strategy("bohb", {"min_budget": 1, "max_budget": 12}).setup(space, np.random.default_rng(0))
    strategy = make_strategy("bohb", {"min_budget": 1, "max_budget": 12, "resume": False})
    strategy.setup(space, np.random.default_rng(0))
    assert strategy.schedule == [[(9, 12), (3, 12), (1, 12)], [(3, 12), (1, 12)], [(3, 12)]]


def test_optuna_adapter(oracle: Oracle, test_acc: np.ndarray) -> None:
    pytest.importorskip("optuna")
    a = run_search(make_strategy("optuna"), oracle, Budget(queries=40), seed=1, workers=2)
    b = run_search(make_strategy("optuna"), oracle, Budget(queries=40), seed=1, workers=2)
    assert a.columns["arch_index"].tolist() == b.columns["arch_index"].tolist() and len(a) == 40
    with pytest.raises(StrategyError, match="no sampler"):
        run_search(make_strategy("optuna", {"sampler": "NoSuchSampler"}), oracle, Budget(queries=4), seed=1)


def _fake_optuna(asked: list[dict[str, str]]):
    """A stand-in for the optuna module (not installed here): its study hands out ``asked`` in turn and records
    what the adapter builds and tells it."""
    from types import SimpleNamespace

    class Sampler:
        def __init__(self, seed: int, **settings: object) -> None:
            self.seed, self.settings = seed, settings

    class Strict:  # takes only the arguments it names, as optuna's samplers do, and checks their values
        def __init__(self, seed: int, n_startup_trials: int = 10) -> None:
            if n_startup_trials < 0:
                raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
            self.seed = seed

    class Study:
        def __init__(self, direction: str, sampler: Sampler) -> None:
            self.direction, self.sampler, self.told, self.trials = direction, sampler, [], []

        def ask(self, dist: dict) -> SimpleNamespace:
            self.dist = dist
            trial = SimpleNamespace(number=len(self.trials), params=asked[len(self.trials)])
            self.trials.append(trial)
            return trial

        def tell(self, trial: SimpleNamespace, value: float) -> None:
            self.told.append((trial.number, value))

    return SimpleNamespace(samplers=SimpleNamespace(FakeSampler=Sampler, Strict=Strict, not_a_sampler=42),
                           logging=SimpleNamespace(WARNING=30, set_verbosity=lambda level: None),
                           create_study=lambda direction, sampler: Study(direction, sampler),
                           distributions=SimpleNamespace(CategoricalDistribution=lambda choices: tuple(choices)))


def test_optuna_adapter_maps_trial_params_to_cells_and_tells_each_trial_its_own_value(monkeypatch) -> None:
    """edge0..edge5 are the cell's edges in string order over the op names; the study maximizes; the sampler gets
    its seed from the run's generator and the sampler_settings; a result goes to the oldest trial waiting for its
    cell (two trials may ask for one cell); epochs is checked against the table's fidelities."""
    from algorithms import optuna_sampler
    from nasbench_suite.space import OPS
    from nasbench_suite.strategy import SearchSpace

    a = Arch.from_str("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|")
    b = Arch.from_index(1234)
    asked = [{f"edge{e}": name for e, name in enumerate(cell.names)} for cell in (a, b, a)]
    monkeypatch.setattr(optuna_sampler, "import_optuna", lambda: _fake_optuna(asked))
    space = SearchSpace((4, 12), np.arange(15625))
    strategy = make_strategy("optuna", {"sampler": "FakeSampler", "sampler_settings": {"n_startup_trials": 3},
                                        "epochs": 4})
    strategy.setup(space, np.random.default_rng(11))
    study = strategy.study
    assert study.direction == "maximize"
    assert (study.sampler.seed, study.sampler.settings) == (int(np.random.default_rng(11).integers(2**31)),
                                                            {"n_startup_trials": 3})
    queries = strategy.ask(3)
    assert study.dist == {f"edge{e}": OPS for e in range(6)}
    assert [q.arch for q in queries] == [a, b, a] and {q.epochs for q in queries} == {4}
    results = [Result(queries[i], value, 1.0, i, 1.0) for i, value in ((1, 70.0), (0, 80.0), (2, 90.0))]
    strategy.tell(results)
    assert study.told == [(1, 70.0), (0, 80.0), (2, 90.0)]
    for sampler in ("NoSuchSampler", "not_a_sampler"):
        with pytest.raises(StrategyError, match="no sampler"):
            make_strategy("optuna", {"sampler": sampler}).setup(space, np.random.default_rng(0))
    with pytest.raises(StrategyError, match=r"epochs=5 is not a fidelity of this table; use one of \[4, 12\]"):
        make_strategy("optuna", {"sampler": "FakeSampler", "epochs": 5}).setup(space, np.random.default_rng(0))
    with pytest.raises(StrategyError, match="15,625 cells"):
        make_strategy("optuna", {"sampler": "FakeSampler"}).setup(SearchSpace((12,), np.arange(100)),
                                                                 np.random.default_rng(0))


@pytest.mark.parametrize("settings, message", [
    # an argument it does not take: a TypeError traceback from inside the setup once
    ({"bogus": 1}, "strategy 'optuna': setting sampler_settings={'bogus': 1} is refused by optuna sampler Strict: "
                   "TypeError: "),
    # a value it refuses: a ValueError line naming neither the setting nor the sampler
    ({"n_startup_trials": -1}, "strategy 'optuna': setting sampler_settings={'n_startup_trials': -1} is refused by "
                               "optuna sampler Strict: ValueError: n_startup_trials must be >= 0, got -1"),
])
def test_optuna_sampler_settings_the_sampler_refuses_are_a_strategy_error_naming_them(monkeypatch, settings: dict,
                                                                                     message: str,
                                                                                     oracle: Oracle) -> None:
    """sampler_settings go to the sampler's constructor as keyword arguments."""
    from algorithms import optuna_sampler
    from nasbench_suite.strategy import SearchSpace

    monkeypatch.setattr(optuna_sampler, "import_optuna", lambda: _fake_optuna([]))
    space = SearchSpace((12,), np.arange(15625))
    make_strategy("optuna", {"sampler": "Strict", "sampler_settings": {"n_startup_trials": 3}}).setup(
        space, np.random.default_rng(0))
    with pytest.raises(StrategyError) as info:
        run_search(make_strategy("optuna", {"sampler": "Strict", "sampler_settings": settings}),
                   oracle, Budget(queries=3), 0)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("settings, message", [
    ([1], "setting sampler_settings=[1] must be a table of the sampler's keyword arguments (a JSON object)"),
    ("n_startup_trials=3", "setting sampler_settings='n_startup_trials=3' must be a table of the sampler's keyword"),
    # the Python API takes any key: ** refused it as "keywords must be strings", blamed on the sampler
    ({1: 2}, "setting sampler_settings={1: 2} must name its keyword arguments by strings; not 1"),
    # the adapter seeds the sampler: "got multiple values for keyword argument 'seed'", blamed on the sampler
    ({"seed": 1}, "setting sampler_settings={'seed': 1} may not hold seed: the adapter seeds the sampler from the "
                  "run's seed"),
])
def test_optuna_sampler_settings_are_checked_before_optuna_is_needed(settings: object, message: str) -> None:
    """Checked first, so without Optuna installed too (here it is not: the fake is not patched in)."""
    from nasbench_suite.strategy import SearchSpace

    with pytest.raises(StrategyError) as info:
        make_strategy("optuna", {"sampler_settings": settings}).setup(SearchSpace((12,), np.arange(15625)),
                                                                      np.random.default_rng(0))
    assert str(info.value).startswith(message), str(info.value)


def test_a_real_optuna_sampler_refusing_its_settings_is_a_strategy_error() -> None:
    pytest.importorskip("optuna")
    from nasbench_suite.strategy import SearchSpace

    with pytest.raises(StrategyError, match=r"setting sampler_settings=\{'bogus': 1\} is refused by optuna sampler "
                                            r"TPESampler: TypeError"):
        make_strategy("optuna", {"sampler_settings": {"bogus": 1}}).setup(SearchSpace((12,), np.arange(15625)),
                                                                          np.random.default_rng(0))


def _lstm_strategy(**settings):
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("reinforce-lstm", settings)
    strategy.setup(SearchSpace((4, 12), np.arange(15625)), np.random.default_rng(3))
    return strategy


def test_lstm_controller_samples_each_edge_from_its_softmax_given_the_ops_already_sampled() -> None:
    """ask draws edge e's op by inverse CDF of a uniform from the run's generator under the same conditional
    distribution that tell trains (the controller's ``logits`` of the cell's previous ops): each drawn uniform
    lies in its op's slice of the cumulative probabilities. Every parameter starts uniform in +-init_range."""
    import copy

    import torch

    strategy = _lstm_strategy(init_range=0.5, epochs=4)
    params = torch.cat([p.detach().reshape(-1) for p in strategy.net.parameters()])
    assert float(params.abs().max()) <= 0.5 and float(params.min()) < -0.4 and float(params.max()) > 0.4
    with torch.no_grad():  # a controller far from uniform, so the edges' distributions differ
        for p in strategy.net.parameters():
            p.mul_(4)
    rng = copy.deepcopy(strategy.rng)
    queries = strategy.ask(200)
    assert {q.epochs for q in queries} == {4}
    ops = torch.tensor([q.arch.ops for q in queries])
    with torch.no_grad():
        probs = torch.softmax(strategy.net.logits(ops), dim=-1).double().numpy()
    for e in range(6):
        u = rng.random((200, 1))[:, 0]
        cum = np.cumsum(probs[:, e], axis=1)
        chosen = ops[:, e].numpy()
        upper = cum[np.arange(200), chosen]
        assert np.all(upper - probs[np.arange(200), e, chosen] <= u + 1e-9) and np.all((u < upper + 1e-9) | (chosen == 4))
    assert len(set(ops[:, 1].tolist())) > 2 and len({q.arch for q in queries}) > 50


def test_lstm_controller_update_is_reinforce_with_the_bias_corrected_baseline_and_the_entropy_bonus() -> None:
    """The gradient of tell's loss, rebuilt here: advantages are value minus the bias-corrected EMA of the values
    so far (momentum 0.5), updated with each value first; loss = -mean(adv * log p(cell)) - w * mean entropy of
    the 6 edges' distributions; Adam's first step moves each parameter by learning_rate * g / |g|."""
    import copy

    import torch

    strategy = _lstm_strategy(momentum=0.5, entropy_weight=0.2, learning_rate=0.02)
    before = copy.deepcopy(strategy.net)
    cells = [Arch.from_index(i) for i in (5, 9000, 5, 14000)]
    values = [60.0, 75.0, 70.0, 90.0]
    results = [Result(Query(c, 12), v, 1.0, i, 1.0) for i, (c, v) in enumerate(zip(cells, values))]
    strategy.tell(results)

    num = den = 0.0
    advantages = []
    for v in values:
        num, den = 0.5 * num + 0.5 * v, 0.5 * den + 0.5
        advantages.append(v - num / den)
    ops = torch.tensor([c.ops for c in cells])
    log_probs = torch.log_softmax(before.logits(ops), dim=-1)
    loss = 0.0
    for i in range(4):
        chosen = sum(log_probs[i, e, ops[i, e]] for e in range(6))
        entropy = -(log_probs[i].exp() * log_probs[i]).sum()
        loss = loss - advantages[i] * chosen / 4 - 0.2 * entropy / 4
    loss.backward()
    for (name, p), q in zip(strategy.net.named_parameters(), before.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
        torch.testing.assert_close(p.detach(), (q - 0.02 * q.grad / (q.grad.abs() + 1e-8)).detach(), msg=name)


def test_registry_and_settings_errors(oracle: Oracle) -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'nope'"):
        make_strategy("nope")
    with pytest.raises(StrategyError, match="has no setting"):
        make_strategy("rea", {"populaton": 3})
    assert make_strategy("rea", {"population": 20}).settings()["population"] == 20
    with pytest.raises(StrategyError, match="not a fidelity"):
        run_search(make_strategy("random", {"epochs": 13}), oracle, Budget(queries=1), 0)
    for name in ("bananas", "xgb-evolution", "bananas-warm"):  # n_init 0/1 used to end the run early, exit 0
        with pytest.raises(StrategyError, match=r"setting n_init=1 must be an integer >= 2 \(a model needs two"):
            run_search(make_strategy(name, {"n_init": 1}), oracle, Budget(queries=20), 0)
        # loops over candidates and edits: 10**24 of either ran with no end (bananas, xgb-evolution)
        for bad, message in (({"candidates": 10**24}, r"candidates=10{24} must be an integer in \[1, 15625\] \(the cells"),
                             ({"candidates": 15_626}, r"candidates=15626 must be an integer in \[1, 15625\]"),
                             ({"max_edits": 10**24}, r"max_edits=10{24} must be an integer in \[1, 6\] \(the edges"),
                             ({"max_edits": 7}, r"max_edits=7 must be an integer in \[1, 6\]")):
            with pytest.raises(StrategyError, match=message):
                run_search(make_strategy(name, bad), oracle, Budget(queries=20), 0)
        if name != "bananas-warm":  # it needs stored proxies to run at all
            assert len(run_search(make_strategy(name, {"max_edits": 6}), oracle, Budget(queries=12), 0)) == 12


def test_rea_sample_size_may_exceed_population(oracle: Oracle) -> None:
    """The tournament is drawn with replacement, as NB201's R_EA.py: a sample larger than the population
    is a valid setting (documented), not an error."""
    run = run_search(make_strategy("rea", {"population": 2, "sample_size": 5}), oracle, Budget(queries=30), 0)
    assert len(run) == 30

def _rea_with_members(seed: int, values: list[float], latencies: list[float] | None = None,
                      max_latency: float | None = None, **settings) -> tuple[Strategy, list[Arch]]:
    """REA after its random initial population (one ask per cell) was told ``values``."""
    from nasbench_suite.strategy import SearchSpace

    space = SearchSpace((12,), np.arange(15625), latency_source=None if max_latency is None else "test",
                        max_latency=max_latency)
    rea = make_strategy("rea", {"population": len(values), **settings})
    rea.setup(space, np.random.default_rng(seed))
    initial = []
    for k, value in enumerate(values):
        (q,) = rea.ask(1)
        rea.tell([Result(q, value, 1.0, k, float(k), None if latencies is None else latencies[k])])
        initial.append(q.arch)
    return rea, initial


def test_rea_breeds_from_the_best_of_the_living_population() -> None:
    """Population 3, tournaments of 30 (the best member is drawn but for (2/3)^30): the first three cells are
    random, the 4th a child of the best (90); once told, it replaces the oldest (the 90), so the 5th is a
    child of the best left (20)."""
    for seed in range(10):
        rea, (a0, a1, a2) = _rea_with_members(seed, [90.0, 10.0, 20.0], sample_size=30)
        assert a2 not in a0.neighbours() + a1.neighbours()  # a random initial cell, not a child
        (c1,) = rea.ask(1)
        assert c1.arch in a0.neighbours()
        rea.tell([Result(c1, 5.0, 1.0, 3, 3.0)])
        (c2,) = rea.ask(1)
        assert c2.arch in a2.neighbours() and c2.arch not in a0.neighbours(), seed


def test_rea_draws_its_tournament_with_replacement() -> None:
    """NB201's R_EA.py draws each of the sample_size places uniformly from the population, with replacement: the
    best of 3 members is in a sample of 2 with probability 1 - (2/3)^2 = 5/9 (2/3 without replacement)."""
    best = 0
    for seed in range(2000):
        rea, (a0, _, _) = _rea_with_members(seed, [90.0, 10.0, 20.0], sample_size=2)
        (child,) = rea.ask(1)
        best += child.arch in a0.neighbours()
    assert best / 2000 == pytest.approx(5 / 9, abs=0.04)


def test_rea_ranks_infeasible_cells_below_feasible_ones() -> None:
    """Under a 3 ms latency limit the 90% cell at 5 ms ranks below the feasible 50% one, which is the parent."""
    for seed in range(5):
        rea, (a0, a1, _) = _rea_with_members(seed, [90.0, 50.0, 40.0], [5.0, 2.0, 1.0], max_latency=3.0,
                                             sample_size=30)
        (child,) = rea.ask(1)
        assert child.arch in a1.neighbours() and child.arch not in a0.neighbours(), seed


def test_readme_example_strategy_runs_and_registers(oracle: Oracle, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import dataclass

    from nasbench_suite import strategy as strategy_module

    # the registration is undone after the test: other tests enumerate the registered strategies
    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))

    @register("greedy-mutation-test")
    @dataclass
    class GreedyMutation(Strategy):
        explore: float = 0.2

        def setup(self, space, rng):
            self.space, self.rng, self.best = space, rng, None

        def ask(self, n):
            out = []
            for _ in range(n):
                if self.best is None or self.rng.random() < self.explore:
                    arch = self.space.random_arch(self.rng)
                else:
                    arch = self.space.mutate(self.best[1], self.rng)
                out.append(Query(arch, self.space.max_epoch))
            return out

        def tell(self, results):
            for r in results:
                if self.best is None or r.value > self.best[0]:
                    self.best = (r.value, r.arch)

    assert strategy_class("greedy-mutation-test") is GreedyMutation
    tr = run_search(make_strategy("greedy-mutation-test"), oracle, Budget(queries=50), seed=0)
    assert len(tr) == 50 and tr.columns["incumbent_value"][-1] == tr.columns["value"].max()


def test_a_registered_name_is_not_taken_over_by_another_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two classes under one name used to replace each other silently (the last import won)."""
    from nasbench_suite import strategy as strategy_module

    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))

    def define() -> type[Strategy]:
        class Mine(Strategy):
            def setup(self, space, rng): ...
            def ask(self, n): return []
            def tell(self, results): ...
        return Mine

    first = register("mine-test")(define())
    again = register("mine-test")(define())  # the same class defined again (a re-run cell) takes the name back
    assert strategy_class("mine-test") is again is not first

    class Other(first):  # type: ignore[misc, valid-type]
        pass

    with pytest.raises(StrategyError, match="'mine-test'.*taken by .*Mine; register Other under another name"):
        register("mine-test")(Other)
    with pytest.raises(StrategyError, match="'random' is a shipped strategy"):
        register("random")(Other)
    assert strategy_class("mine-test") is again


@pytest.mark.parametrize("settings, message", [
    ({"population": "abc"}, "population='abc' must be an integer"),
    ({"population": 20.5}, "population=20.5 must be an integer"),
    ({"population": True}, "population=True must be an integer"),
])
def test_settings_of_the_wrong_kind_are_refused_before_the_run(settings: dict, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        make_strategy("rea", settings)


def test_a_setting_whose_default_is_an_empty_list_takes_a_list_of_any_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty default list used to accept only another empty list ('must be a list of 0 values')."""
    from dataclasses import dataclass, field

    from nasbench_suite import strategy as strategy_module

    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))

    @register("listed-test")
    @dataclass
    class Listed(Strategy):
        start: list = field(default_factory=list)
        pair: tuple = (1, 2)

        def setup(self, space, rng): ...
        def ask(self, n): return []
        def tell(self, results): ...

    assert make_strategy("listed-test", {"start": [5, 7, 9]}).settings()["start"] == [5, 7, 9]
    with pytest.raises(StrategyError, match="start=3 must be a list"):
        make_strategy("listed-test", {"start": 3})
    with pytest.raises(StrategyError, match="pair=\\[1\\] must be a list of 2 values"):
        make_strategy("listed-test", {"pair": [1]})


def test_settings_are_checked_against_every_kind_of_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """A falsy default (False, 0, 0.0, "") is checked like any other, a bool is no number, a field the constructor
    does not take is no setting, and a constructor's ValueError is a StrategyError naming the strategy."""
    from dataclasses import dataclass, field
    from typing import Any

    from nasbench_suite import strategy as strategy_module

    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))

    @register("kinds-test")
    @dataclass
    class Kinds(Strategy):
        flag: bool = False
        count: int = 0
        rate: float = 0.0
        label: str = ""
        anything: Any = None
        state: int = field(default=0, init=False)

        def __post_init__(self) -> None:
            if self.count < 0:
                raise ValueError("count must be >= 0")

        def setup(self, space, rng): ...
        def ask(self, n): return []
        def tell(self, results): ...

    for settings, message in (({"flag": 0}, "flag=0 must be true or false"), ({"count": "3"}, "count='3' must be an integer"),
                              ({"count": True}, "count=True must be an integer"), ({"rate": True}, "rate=True must be a number"),
                              ({"label": 3}, "label=3 must be a string"), ({"state": 1}, "has no setting.* state"),
                              ({"count": -1}, "cannot make strategy 'kinds-test'.*count must be >= 0")):
        with pytest.raises(StrategyError, match=message):
            make_strategy("kinds-test", settings)
    made = make_strategy("kinds-test", {"rate": 2, "anything": [1, "x"], "flag": True})
    assert made.settings() == {"flag": True, "count": 0, "rate": 2, "label": "", "anything": [1, "x"]}
    assert "kinds-test" in strategy_module.strategy_names()
    with pytest.raises(StrategyError, match="needs a Strategy subclass"):
        register("not-a-strategy-test")(int)  # type: ignore[arg-type]
    assert "not-a-strategy-test" not in strategy_module.strategy_names()


def test_a_partial_tables_space_keeps_mutations_inside_it_and_checks_epochs_and_latency() -> None:
    """Cells 0-3 and 7 of a table: cell 0's in-table neighbours are 1, 2 and 3 (7 is two edits away), and a
    mutation of cell 0 is each of them in turn, never a cell the table lacks. Epochs: 1 and 12."""
    from nasbench_suite.strategy import SearchSpace

    cells = np.array([0, 1, 2, 3, 7])
    space = SearchSpace((1, 12), cells, max_latency=3.0)
    cells[0] = 9  # the space holds its own copy, which no strategy may change (the runs of a process share it)
    with pytest.raises(ValueError, match="read-only"):
        space.arch_indices[0] = 9
    assert space.arch_indices.tolist() == [0, 1, 2, 3, 7]
    assert not space.full and (space.min_epoch, space.max_epoch) == (1, 12)
    assert [a.index for a in space.neighbours(Arch.from_index(0))] == [1, 2, 3]
    children = {space.mutate(Arch.from_index(0), np.random.default_rng(seed)).index for seed in range(40)}
    assert children == {1, 2, 3}
    assert {space.random_arch(np.random.default_rng(seed)).index for seed in range(60)} == {0, 1, 2, 3, 7}
    with pytest.raises(StrategyError, match="at least one fidelity"):
        SearchSpace((), [0, 1])
    assert space.epochs_or_max(None) == 12 and space.epochs_or_max(1) == 1
    for bad in (True, 5):  # True == 1 to Python, a fidelity here
        with pytest.raises(StrategyError, match="not a fidelity"):
            space.epochs_or_max(bad)
    q = Query(Arch.from_index(0), 12)
    at_limit, over, unknown = (Result(q, 80.0, 1.0, 0, 1.0, latency) for latency in (3.0, 6.0, None))
    assert space.feasible(at_limit) and not space.feasible(over) and not space.feasible(unknown)
    assert space.constrained_value(at_limit) == 80.0 and space.constrained_value(over) == -2.0


def test_a_strategy_file_is_imported_once_recorded_by_its_path_and_forgotten_when_it_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Imported again, the same file is the same module (its @register is not run twice); another file of the same
    name is refused; a file that fails leaves no half-imported module behind to be taken as imported next time."""
    import sys

    from nasbench_suite import strategy as strategy_module

    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))
    source = ("from nasbench_suite.strategy import Strategy, register\n\n@register('once-test')\n"
              "class Once(Strategy):\n    def setup(self, space, rng): ...\n    def ask(self, n): return []\n"
              "    def tell(self, results): ...\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, other = tmp_path / "a" / "once_strategy_test.py", tmp_path / "b" / "once_strategy_test.py"
    first.write_text(source)
    other.write_text(source)
    broken = tmp_path / "broken_once_test.py"
    broken.write_text("raise RuntimeError('half way')\n")
    for stem in (first.stem, broken.stem):
        assert stem not in sys.modules
        request.addfinalizer(lambda stem=stem: sys.modules.pop(stem, None))
    strategy_module.import_strategies([str(first)])
    module = sys.modules[first.stem]
    strategy_module.import_strategies([str(first)])
    assert sys.modules[first.stem] is module and strategy_class("once-test") is module.Once
    assert strategy_module.strategy_source("once-test") == str(first.resolve())
    with pytest.raises(StrategyError, match="a module of that name is already imported.*rename the file"):
        strategy_module.import_strategies([str(other)])
    for _ in range(2):
        with pytest.raises(StrategyError, match="RuntimeError: half way"):
            strategy_module.import_strategies([str(broken)])
        assert broken.stem not in sys.modules
    with pytest.raises(StrategyError, match="a path but not a .py file"):
        strategy_module.import_strategies(["mylab\\strategies"])


def test_a_strategy_in_a_main_script_is_found_by_worker_processes_but_not_by_ray(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned processes run the main script again (its file exists), Ray tasks never do; either way nothing is
    imported for it (strategy_source None)."""
    import sys
    import types

    from nasbench_suite import strategy as strategy_module

    monkeypatch.setattr(strategy_module, "_REGISTERED", dict(strategy_module._REGISTERED))
    script = tmp_path / "main_script.py"
    script.write_text("")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    cls = type("InMain", (Strategy,), {"__module__": "__main__", "setup": lambda self, space, rng: None,
                                       "ask": lambda self, n: [], "tell": lambda self, results: None})
    register("in-main-test")(cls)
    strategy_module.check_found_elsewhere("in-main-test", "local")
    with pytest.raises(StrategyError, match="defined in __main__, which Ray tasks cannot import"):
        strategy_module.check_found_elsewhere("in-main-test", "ray")
    assert strategy_module.strategy_source("in-main-test") is None


def test_setting_type_error_takes_each_defaults_kind_and_no_other() -> None:
    """The kinds setting_type_error admits, one case per branch: a bool is no number (lr=True trained at lr 1.0),
    an int is a number, a string default takes only a string, a list default a list of its own length."""
    from nasbench_suite.settings_check import setting_type_error

    defaults = {"flag": False, "n": 3, "lr": 0.1, "name": "shared", "pair": (1, 2), "start": [], "free": None}
    for key, value in [("flag", True), ("n", 4), ("lr", 1), ("lr", 0.5), ("name", "fixed"), ("pair", [3, 4]),
                       ("start", (1, 2, 3)), ("free", "anything"), ("unknown", object())]:
        assert setting_type_error(defaults, {key: value}) is None, (key, value)
    for key, value, kind in [("flag", 1, "true or false"), ("n", True, "an integer"), ("lr", True, "a number"),
                             ("lr", "0.1", "a number"), ("name", 1, "a string"), ("pair", [1, 2, 3], "a list of 2 values"),
                             ("pair", "ab", "a list of 2 values"), ("start", "abc", "a list")]:
        assert setting_type_error(defaults, {"n": 5, key: value}) == (
            f"setting {key}={value!r} must be {kind} (default {defaults[key]!r})"), (key, value)


def test_setting_range_error_names_the_first_setting_out_of_its_bound_and_the_range() -> None:
    """Each kind of Bound: a finite number (NaN, inf and a bool are none), an integer (not a float or bool), ends
    included or excluded, no upper end, null, a list of them, a choice; settings without a bound pass."""
    from nasbench_suite.settings_check import Bound, setting_range_error

    bounds = {"lr": Bound(0, 10, lo_open=True), "p": Bound(0, 1, hi_open=True), "n": Bound(1, 100, integer=True),
              "k": Bound(7, integer=True, null=True, why="why"), "betas": Bound(0, 1, hi_open=True, each=True),
              "mode": Bound(choices=("a", "b")), "tau": Bound(1e-6, 1e6)}
    for key, value in [("lr", 10), ("lr", 1e-300), ("p", 0.0), ("n", 1), ("n", 100), ("k", None), ("k", 10**40),
                       ("betas", (0.5, 0.999)), ("betas", []), ("mode", "b"), ("tau", 1e-6), ("other", "x")]:
        assert setting_range_error(bounds, {key: value}) is None, (key, value)
    for key, value, must in [
            ("lr", 0, "a finite number in (0, 10]"), ("lr", 1e308, "a finite number in (0, 10]"),
            ("lr", math.nan, "a finite number in (0, 10]"), ("lr", math.inf, "a finite number in (0, 10]"),
            ("lr", True, "a finite number in (0, 10]"), ("lr", "1", "a finite number in (0, 10]"),
            ("p", 1.0, "a finite number in [0, 1)"), ("n", 0, "an integer in [1, 100]"),
            ("n", 10**30, "an integer in [1, 100]"), ("n", 5.0, "an integer in [1, 100]"),
            ("k", 6, "an integer >= 7 or null (why)"), ("k", math.nan, "an integer >= 7 or null (why)"),
            ("k", "x", "an integer >= 7 or null (why)"), ("betas", ["a", "b"], "a list of finite numbers in [0, 1)"),
            ("betas", [0.5, 1.0], "a list of finite numbers in [0, 1)"),
            ("betas", 0.5, "a list of finite numbers in [0, 1)"),
            ("mode", "c", "one of 'a', 'b'"), ("mode", ["a"], "one of 'a', 'b'"),
            ("tau", 1e-7, "a finite number in [1e-06, 1e+06]")]:
        assert setting_range_error(bounds, {"n": 5, key: value}) == f"setting {key}={value!r} must be {must}", \
            (key, value)
    # the first of bounds' order
    assert setting_range_error(bounds, {"n": 0, "lr": 0}) == "setting lr=0 must be a finite number in (0, 10]"


@pytest.mark.parametrize("name, settings", [
    ("rea", {"population": 1_000_000, "sample_size": 1_000_000, "mutation": "uniform_edge"}),
    ("reinforce", {"learning_rate": 10.0, "momentum": 0.999, "init_scale": 100.0}),
    ("reinforce", {"learning_rate": 0.0, "init_scale": 0.0}),  # a policy that never learns, exactly uniform
    ("reinforce-lstm", {"hidden": 1024, "learning_rate": 10.0, "entropy_weight": 1000.0, "init_range": 10.0}),
    # members, layers and width together are bounded by the ensemble's weights (at most 100,000,000)
    ("bananas", {"members": 100, "train_epochs": 10_000, "layers": 1, "width": 1024, "batch_size": 10**9,
                 "lr": 10.0}),
    ("bananas", {"members": 1, "layers": 100, "width": 1000}),  # 99,131,001 weights
    ("bananas", {"layers": 100}), ("bananas", {"width": 1024}), ("bananas", {"members": 100}),  # each alone
    ("bananas", {"members": 100, "layers": 1, "width": 1024, "encoding": "path", "candidate_scheme": "edits"}),
    ("bananas", {"n_init": 2, "batch": 10**9, "candidates": 15_625, "mutate_top": 10**9, "max_edits": 6}),
    ("xgb-evolution", {"n_estimators": 100_000, "learning_rate": 10.0, "subsample": 1e-9}),
    ("xgb-evolution", {"candidate_scheme": "edits", "candidates": 1, "max_edits": 1}),
    ("hyperband", {"eta": 1000, "min_epoch": 4, "max_epoch": 108}),
    ("bohb", {"eta": 2, "num_samples": 10_000, "min_points_in_model": 10**6}),
    ("local-search", {"improvement": "best", "n_init": 10**9}),
    ("rea-move", {"random_move": 0.0}), ("rea-move", {"random_move": 1.0}),
    ("nsga2", {"crossover": 0.0, "mutation": 1.0}), ("nsga2", {"crossover": 1.0, "mutation": 0.0}),
    ("bohb", {"top_n_percent": 1, "random_fraction": 0.0, "bandwidth_factor": 1e300, "min_bandwidth": 1.0}),
    ("bohb", {"top_n_percent": 99, "random_fraction": 1.0, "bandwidth_factor": 1e-300, "min_bandwidth": 1e-300}),
    ("hyperband", {"incumbent_rule": "best", "min_budget": 1, "max_budget": 108.99, "resume": False}),
    ("hyperband", {"incumbent_rule": "max-budget", "min_budget": 1, "max_budget": 1e300, "query_epochs": 12,
                   "resume": False}),  # the budgets only name the rungs
])
def test_settings_at_the_ends_of_their_bounds_are_accepted(name: str, settings: dict) -> None:
    """The bounds are generous: their ends pass setup (the strategies need only the space to set up; rea-move
    needs stored proxies past its bounds, nsga2 a latency)."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy(name, settings)
    strategy.check_bounds()
    if name not in ("rea-move", "nsga2"):
        strategy.setup(SearchSpace((4, 12, 36, 108), np.arange(15625)), np.random.default_rng(0))


def test_every_strategy_accepts_its_own_defaults() -> None:
    from dataclasses import is_dataclass

    from nasbench_suite.settings_check import dataclass_defaults
    from nasbench_suite.strategy import strategy_class, strategy_names

    for name in strategy_names():
        cls = strategy_class(name)
        if is_dataclass(cls):
            make_strategy(name, dataclass_defaults(cls))


def test_every_shipped_strategys_setup_checks_its_bounds_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain of setups (bananas -> BatchedModelSearch, bohb -> hyperband, a warm start -> the strategy it
    warm-starts, rea-move -> rea) checks the bounds once, in its base-most setup (twice before for bananas, bohb
    and rea-warm, three times for bananas-warm; never for random and optuna), and before anything reads a
    setting: a check_bounds that raises is the error setup raises, on settings and a space it would refuse
    otherwise. The first space has the proxies the warm starts and rea-move read and the latency nsga2 needs."""
    from fixture_tables import synthetic_proxies

    from nasbench_suite.errors import BackendUnavailableError
    from nasbench_suite.settings_check import dataclass_defaults
    from nasbench_suite.strategy import _BUILTIN, SearchSpace

    space = SearchSpace((4, 12), np.arange(15625), latency_source="test", proxies=synthetic_proxies())
    check_bounds, calls = Strategy.check_bounds, []

    def counted(self: Strategy) -> None:
        calls.append(type(self).__name__)
        check_bounds(self)

    monkeypatch.setattr(Strategy, "check_bounds", counted)
    for name in _BUILTIN:
        calls.clear()
        strategy = make_strategy(name, {"pool": 100} if name.endswith("-warm") else {})
        try:
            strategy.setup(space, np.random.default_rng(0))
        except BackendUnavailableError:  # optuna not installed: its setup checked the bounds before it needed it
            assert name == "optuna"
        assert calls == [type(strategy).__name__], name

    def refused(self: Strategy) -> None:
        raise StrategyError(f"{type(self).__name__}: out of bounds")

    # settings and a space that setup refuses past the bounds check (an epoch that is not a fidelity, too big an
    # ensemble, budgets the wrong way round; a partial table without proxies or latency): the bounds come first
    monkeypatch.setattr(Strategy, "check_bounds", refused)
    partial = SearchSpace((4, 12), np.arange(100))
    for name in _BUILTIN:
        settings = {"epochs": 5} if "epochs" in dataclass_defaults(strategy_class(name)) else {}
        if name.startswith("bananas"):
            settings.update(members=100, layers=100, width=1024)
        if name in ("hyperband", "bohb"):
            settings.update(min_budget=12, max_budget=4)
        strategy = make_strategy(name, settings)
        with pytest.raises(StrategyError, match=f"^{type(strategy).__name__}: out of bounds$"):
            strategy.setup(partial, np.random.default_rng(0))


def test_warm_start_without_proxies_says_how_to_attach_the_stored_ones(search_table: Benchmark) -> None:
    with pytest.raises(StrategyError, match=r"this run has none: .*Oracle\(bench\)\.with_stored_proxies\(bench\)"):
        run_search(make_strategy("rea-warm", {"pool": 100}), Oracle(search_table), Budget(seconds=30), seed=0)
    with pytest.raises(StrategyError, match="no zero-cost proxies are stored for table 'generated-search'"):
        Oracle(search_table).with_stored_proxies(search_table)


def test_the_proxies_stored_beside_a_table_attach_as_the_search_harness_does() -> None:
    from nasbench_suite import load_table
    from nasbench_suite.search import _oracle

    bench = load_table("digits")
    oracle = Oracle(bench).with_stored_proxies(bench)
    harness = _oracle(str(bench.path), bench.content_hash, "valid_acc", None)
    assert sorted(oracle.space.proxies) == sorted(harness.space.proxies)
    a = run_search(make_strategy("rea-warm", {"pool": 100}), oracle, Budget(seconds=30), seed=0)
    b = run_search(make_strategy("rea-warm", {"pool": 100}), harness, Budget(seconds=30), seed=0)
    assert len(a) > 0
    for col in a.columns:
        np.testing.assert_array_equal(a.columns[col], b.columns[col], err_msg=col)
    with pytest.raises(StrategyError, match="searches table 'digits', not"):
        oracle.with_stored_proxies(load_table("digits-sample"))


@pytest.mark.parametrize("name, settings, message", [
    ("bananas", {"members": 0}, r"setting members=0 must be an integer in \[1, 100\]"),  # ran on NaN predictions
    ("bananas", {"train_epochs": 0}, r"setting train_epochs=0 must be an integer in \[1, 10000\]"),
    ("bananas", {"layers": 0}, r"setting layers=0 must be an integer in \[1, 100\]"),  # refused only at the first fit
    ("bananas", {"lr": 0.0}, r"setting lr=0.0 must be a finite number in \(0, 10\]"),
    ("bananas", {"loss": "huber"}, "setting loss='huber' must be one of 'mae', 'mse'"),
    # used to fail at the first model fit, mid-run
    ("xgb-evolution", {"n_estimators": 0}, r"setting n_estimators=0 must be an integer in \[1, 100000\]"),
    ("xgb-evolution", {"candidates": 0}, r"setting candidates=0 must be an integer in \[1, 15625\]"),
    ("xgb-evolution", {"mutate_top": 0}, "setting mutate_top=0 must be an integer >= 1"),  # no parents to mutate
    ("xgb-evolution", {"learning_rate": 0.0}, r"learning_rate=0.0 must be a finite number in \(0, 10\]"),
    ("xgb-evolution", {"subsample": 1.5}, r"setting subsample=1.5 must be a finite number in \(0, 1\]"),
    ("xgb-evolution", {"candidate_scheme": "naszilla"}, "setting candidate_scheme='naszilla' must be one of 'naslib', "
                                                        "'edits'"),
    # used to fail mid-run: "argmax of an empty sequence"
    ("bohb", {"num_samples": 0}, r"setting num_samples=0 must be an integer in \[1, 10000\]"),
    ("bohb", {"random_fraction": 2.0}, r"setting random_fraction=2.0 must be a finite number in \[0, 1\]"),
    ("bohb", {"top_n_percent": 0}, r"setting top_n_percent=0 must be an integer in \[1, 99\]"),
    ("bohb", {"bandwidth_factor": 0.0}, "setting bandwidth_factor=0.0 must be a finite number > 0"),
    ("bohb", {"min_bandwidth": 0.0}, r"setting min_bandwidth=0.0 must be a finite number in \(0, 1\]"),
    ("bohb", {"min_points_in_model": 0}, "setting min_points_in_model=0 must be an integer >= 7 or null"),
    # HpBandSter raises it to 7; taken as given, 3 built the first model after 47 results, not 14
    ("bohb", {"min_points_in_model": 3}, "min_points_in_model=3 must be an integer >= 7 or null"),
    ("bohb", {"eta": 1}, r"setting eta=1 must be an integer in \[2, 1000\]"),
    ("reinforce", {"learning_rate": -1.0}, r"learning_rate=-1.0 must be a finite number in \[0, 10\]"),
    ("reinforce", {"learning_rate": float("nan")}, r"learning_rate=nan must be a finite number in \[0, 10\]"),
    ("reinforce", {"momentum": 2.0}, r"momentum=2.0 must be a finite number in \[0, 1\)"),
    ("reinforce", {"momentum": 1.0}, r"momentum=1.0 must be a finite number in \[0, 1\)"),
    ("reinforce", {"init_scale": -1e-3}, r"init_scale=-0.001 must be a finite number in \[0, 100\]"),
    ("rea", {"population": 0}, r"setting population=0 must be an integer in \[1, 1000000\]"),  # named neither value
    ("rea", {"sample_size": -2}, r"setting sample_size=-2 must be an integer in \[1, 1000000\]"),
    ("reinforce-lstm", {"hidden": 0}, r"hidden=0 must be an integer in \[1, 1024\]"),  # ran an LSTM of no units
    ("reinforce-lstm", {"hidden": -4}, r"hidden=-4 must be an integer in \[1, 1024\]"),
    ("reinforce-lstm", {"learning_rate": -0.1}, r"learning_rate=-0.1 must be a finite number in \[0, 10\]"),
    ("reinforce-lstm", {"learning_rate": float("inf")}, r"learning_rate=inf must be a finite number in \[0, 10\]"),
    ("reinforce-lstm", {"momentum": 1.0}, r"momentum=1.0 must be a finite number in \[0, 1\)"),
    ("reinforce-lstm", {"entropy_weight": -1.0}, r"entropy_weight=-1.0 must be a finite number in \[0, 1000\]"),
    ("reinforce-lstm", {"init_range": 0.0}, r"init_range=0.0 must be a finite number in \(0, 10\]"),
    ("hyperband", {"min_epoch": 0}, "setting min_epoch=0 must be an integer >= 1 or null"),  # 0 meant the default
    ("hyperband", {"min_epoch": -3}, "setting min_epoch=-3 must be an integer >= 1 or null"),
    ("hyperband", {"max_epoch": 0}, "setting max_epoch=0 must be an integer >= 1 or null"),
    ("hyperband", {"eta": 1}, r"setting eta=1 must be an integer in \[2, 1000\]"),
    ("hyperband", {"incumbent_rule": "last"}, "setting incumbent_rule='last' must be one of 'highest-epoch', "
                                              "'max-budget', 'best'"),
    ("bohb", {"query_epochs": 12, "resume": False}, "query_epochs needs min_budget and max_budget"),
    ("hyperband", {"min_budget": 1}, "min_budget needs max_budget too"),
    ("hyperband", {"max_budget": 12}, "max_budget needs min_budget too"),
    ("hyperband", {"min_budget": 0, "max_budget": 12}, "setting min_budget=0 must be a finite number > 0 or null"),
    ("hyperband", {"min_budget": 12, "max_budget": float("inf")}, "setting max_budget=inf must be a finite number > 0 "
                                                                  "or null"),
    ("hyperband", {"min_budget": 12, "max_budget": 4}, "min_budget 12 is above max_budget 4"),
    ("hyperband", {"min_budget": 1, "max_budget": 12, "max_epoch": 12}, "min_epoch/max_epoch do not apply"),
    ("hyperband", {"min_budget": 0.1, "max_budget": 1}, "min_budget 0.1 gives a rung of budget 0.1111, under one"),
    ("hyperband", {"min_budget": 2, "max_budget": 24}, "max_budget 24 asks for more epochs than the table records"),
    ("bohb", {"min_budget": 12, "max_budget": 200, "query_epochs": 12}, "query_epochs needs resume=false"),
    ("bohb", {"min_budget": 12, "max_budget": 200, "query_epochs": 13, "resume": False},
     "query_epochs=13 is not a fidelity"),
    ("rea", {"epochs": True}, "epochs=True is not a fidelity"),  # ran at 1 epoch (True == 1)
    ("nsga2", {"crossover": 1.5}, r"setting crossover=1.5 must be a finite number in \[0, 1\] \(a probability\)"),
    # no upper bound: these overflowed (OverflowError, XGBoostError, NaN logits), or filled the memory or ran for
    # ever (a huge ensemble, LSTM, tree count, tournament or population)
    ("reinforce", {"init_scale": 1e308}, r"setting init_scale=1e\+308 must be a finite number in \[0, 100\]"),
    ("reinforce", {"learning_rate": 1e308}, r"setting learning_rate=1e\+308 must be a finite number in \[0, 10\]"),
    ("reinforce-lstm", {"init_range": 1e308}, r"setting init_range=1e\+308 must be a finite number in \(0, 10\]"),
    ("reinforce-lstm", {"entropy_weight": 1e308}, r"entropy_weight=1e\+308 must be a finite number in \[0, 1000\]"),
    ("reinforce-lstm", {"hidden": 10**9}, r"setting hidden=1000000000 must be an integer in \[1, 1024\]"),
    ("bananas", {"lr": 1e308}, r"setting lr=1e\+308 must be a finite number in \(0, 10\]"),
    ("bananas", {"members": 101}, r"setting members=101 must be an integer in \[1, 100\]"),
    ("bananas", {"train_epochs": 10**12}, r"setting train_epochs=1000000000000 must be an integer in \[1, 10000\]"),
    ("bananas", {"width": 1025}, r"setting width=1025 must be an integer in \[1, 1024\]"),
    ("bananas", {"batch_size": 0}, r"setting batch_size=0 must be an integer >= 1"),
    ("xgb-evolution", {"learning_rate": 1e308}, r"setting learning_rate=1e\+308 must be a finite number in \(0, 10\]"),
    ("xgb-evolution", {"n_estimators": 10**12}, r"n_estimators=1000000000000 must be an integer in \[1, 100000\]"),
    ("xgb-evolution", {"subsample": float("nan")}, r"setting subsample=nan must be a finite number in \(0, 1\]"),
    ("rea", {"sample_size": 10**11}, r"setting sample_size=100000000000 must be an integer in \[1, 1000000\]"),
    ("rea", {"population": 10**30}, r"must be an integer in \[1, 1000000\]"),  # deque's OverflowError
    ("rea", {"mutation": "bogus"}, "setting mutation='bogus' must be one of 'node_then_edge', 'uniform_edge'"),
    ("nsga2", {"population": 10**12}, r"setting population=1000000000000 must be an integer in \[2, 100000\]"),
    ("bohb", {"num_samples": 10**12}, r"setting num_samples=1000000000000 must be an integer in \[1, 10000\]"),
    ("bohb", {"min_points_in_model": float("nan")}, "setting min_points_in_model=nan must be an integer >= 7 or null"),
    ("bohb", {"min_points_in_model": "7"}, "setting min_points_in_model='7' must be an integer >= 7 or null"),
    ("hyperband", {"min_epoch": "x"}, "setting min_epoch='x' must be an integer >= 1 or null"),
    ("hyperband", {"max_epoch": 12.0}, "setting max_epoch=12.0 must be an integer >= 1 or null"),
    ("hyperband", {"eta": 10**30, "min_budget": 1, "max_budget": 12}, r"must be an integer in \[2, 1000\]"),
    # hand-written checks of their own wording before: now the shared one
    ("bananas", {"encoding": "adjacency"}, "setting encoding='adjacency' must be one of 'onehot', 'path', 'trunc_path'"),
    ("bananas", {"candidate_scheme": "naslib"}, "setting candidate_scheme='naslib' must be one of 'naszilla', 'edits'"),
    ("bananas", {"batch": 0}, "setting batch=0 must be an integer >= 1"),
    ("bananas-warm", {"loss": "huber"}, "setting loss='huber' must be one of 'mae', 'mse'"),
    ("bananas-warm", {"pool": 0}, r"setting pool=0 must be an integer >= 1 \(the cells drawn for the proxy to rank\)"),
    ("rea-warm", {"pool": -1}, r"setting pool=-1 must be an integer >= 1"),
    ("rea-warm", {"sample_size": 0}, r"setting sample_size=0 must be an integer in \[1, 1000000\]"),  # REA's, kept
    ("random-warm", {"pool": 0}, r"setting pool=0 must be an integer >= 1"),
    ("local-search", {"improvement": "steepest"}, "setting improvement='steepest' must be one of 'first', 'best'"),
    ("rea-move", {"random_move": 1.5}, r"setting random_move=1.5 must be a finite number in \[0, 1\] \(a probability\)"),
    ("rea-move", {"random_move": float("nan")}, r"setting random_move=nan must be a finite number in \[0, 1\]"),
    ("nsga2", {"mutation": -0.5}, r"setting mutation=-0.5 must be a finite number in \[0, 1\] \(a probability\)"),
    ("bohb", {"bandwidth_factor": float("inf")}, "setting bandwidth_factor=inf must be a finite number > 0"),
    ("bohb", {"incumbent_rule": "last"}, "setting incumbent_rule='last' must be one of"),
    ("bohb", {"min_budget": "1", "max_budget": 12}, "setting min_budget='1' must be a finite number > 0 or null"),
    # each bounded alone, together ~1e10 weights: the memory filled at the first fit
    ("bananas", {"members": 100, "layers": 100, "width": 1024},
     r"settings members=100, layers=100, width=1024 give an ensemble of 10,394,316,900 weights on the trunc_path "
     r"encoding \(30 inputs\); at most 100,000,000"),
    ("bananas-warm", {"members": 10, "layers": 20, "width": 1000, "encoding": "path"},
     r"settings members=10, layers=20, width=1000 give an ensemble of 191,760,010 weights on the path encoding "
     r"\(155 inputs\)"),
    # the first rung past the table was named ("max_budget 1e+300 asks for 20 epochs"), not max_budget's problem
    ("hyperband", {"min_budget": 1, "max_budget": 1e300},
     r"max_budget 1e\+300 asks for more epochs than the table records: a rung trains its budget's whole number of "
     r"epochs \(or the next fidelity up\) and the table records the objective up to epoch 12; use max_budget < 13 "
     r"\(or query_epochs\)$"),
    ("bohb", {"min_budget": 1, "max_budget": 30}, "max_budget 30 asks for more epochs than the table records"),
    ("hyperband", {"min_budget": 1, "max_budget": 10**400, "query_epochs": 12, "resume": False},
     "max_budget 1(0)+ are too far apart for eta 3"),  # an OverflowError line
    # an OverflowError line from numpy's schedule
    ("hyperband", {"min_budget": 1e-308, "max_budget": 4, "eta": 2},
     r"min_budget 1e-308 and max_budget 4 are too far apart for eta 2: HpBandSter's brackets would go past the "
     r"floats \(1e308 cells or budget\)"),
])
def test_out_of_range_settings_are_refused_before_the_run(name: str, settings: dict, message: str,
                                                          oracle: Oracle) -> None:
    strategy = make_strategy(name, settings)
    with pytest.raises(StrategyError, match=message):
        strategy.setup(oracle.space, np.random.default_rng(0))
    with pytest.raises(StrategyError, match=message):
        run_search(make_strategy(name, settings), oracle, Budget(queries=20), 0)


@pytest.mark.parametrize("name, settings, message", [
    ("hyperband", {"eta": 1}, "strategy 'hyperband': setting eta=1 must be an integer in [2, 1000]"),  # named none
    ("bohb", {"eta": 1}, "strategy 'bohb': setting eta=1 must be an integer in [2, 1000]"),
    ("local-search", {"n_init": 0}, "strategy 'local-search': setting n_init=0 must be an integer >= 1"),
    ("reinforce-lstm", {"hidden": 0}, "strategy 'reinforce-lstm': setting hidden=0 must be an integer in [1, 1024] "
                                      "(LSTM units)"),
])
def test_a_setting_refused_in_a_run_names_the_strategy_once(name: str, settings: dict, message: str,
                                                            oracle: Oracle) -> None:
    with pytest.raises(StrategyError) as info:
        run_search(make_strategy(name, settings), oracle, Budget(queries=5), 0)
    assert str(info.value) == message

@pytest.mark.parametrize("name", ["rea-warm", "bananas-warm"])
def test_warm_start_cells_do_not_train_before_the_pool_is_scored(name: str, search_table: Benchmark) -> None:
    """The pool's proxy seconds are split over the first ask's queries (one per idle worker): with
    4 simulated workers, no proxy-chosen cell may finish before the scoring that chose it (it used to
    ride on the first query alone, so 3 workers trained the best-scored cells from t=0), and the whole
    pool is still charged exactly once; with 1 worker the first query carries all of it."""
    from fixture_tables import synthetic_proxies

    oracle = Oracle(search_table).with_proxies(synthetic_proxies())
    settings = {"pool": 3000, **FAST.get(name, {})}

    def charges(workers: int) -> tuple[np.ndarray, np.ndarray]:
        c = run_search(make_strategy(name, settings), oracle, Budget(queries=8), seed=0, workers=workers).columns
        rows, slots = oracle.row_of[c["arch_index"]], [oracle.seeds.index(s) for s in c["table_seed"]]
        training = oracle.cum_train[rows, slots, c["epochs"]] + oracle.valid_seconds[rows, slots, c["epochs"] - 1]
        return c["cost"] - training, c["start_time"]

    one, _ = charges(1)
    pool = one[0]
    assert pool == pytest.approx(3.0) and not one[1:].any()  # 3000 cells x 1 ms, all on the first query
    four, start = charges(4)
    np.testing.assert_allclose(four[start == 0], pool / 4)  # each idle worker scores a quarter of the pool
    assert (start == 0).sum() == 4 and not four[start > 0].any()
    assert four.sum() == pytest.approx(pool)


def test_a_message_that_names_its_strategy_is_not_prefixed_again() -> None:
    from nasbench_suite.simulator import _named

    message = "BOHB's KDE model samples any cell; it needs a table that covers all 15,625 cells"
    assert str(_named(make_strategy("bohb"), StrategyError(message))) == message
    assert str(_named(make_strategy("bohb"), StrategyError("setting eta=1 must be ..."))) == \
        "strategy 'bohb': setting eta=1 must be ..."


def test_bohb_density_is_statsmodels_aitchison_aitken_as_hpbandster_evaluates_it() -> None:
    """KDEMultivariate(var_type='u', bw='normal_reference') with HpBandSter's floor: the bandwidth is
    1.06 std n^(-1/10) of the op indices, not capped; the kernel is 1 - h on the datum's op and
    h / (levels - 1) elsewhere, levels = distinct ops of the data on the edge (h / 0 = inf for one)."""
    import math

    from algorithms.bohb import _bandwidths, _density, _kernel_table

    rng = np.random.default_rng(0)
    data = rng.integers(0, 5, size=(9, 6))
    data[:, 4] = rng.integers(0, 2, size=9)  # two levels
    data[:, 5] = 2  # one level: bandwidth 0, floored
    bw = _bandwidths(data, 0.3)
    assert bw[5] == 0.3 and bw.max() > 1.0  # op-index std makes wide bandwidths; statsmodels does not cap them
    np.testing.assert_allclose(bw, np.maximum(1.06 * data.std(axis=0) * 9 ** -0.1, 0.3))

    def pdf(x: np.ndarray) -> float:  # statsmodels' formula, literally
        total = 0.0
        for datum in data:
            prod = 1.0
            for e in range(6):
                levels = len(set(data[:, e].tolist()))
                prod *= (1 - bw[e]) if datum[e] == x[e] else (bw[e] / (levels - 1) if levels > 1 else math.inf)
            total += prod
        return total / len(data)

    cands = rng.integers(0, 5, size=(30, 6))
    cands[:20, 5], cands[20:, 5] = 2, 0
    got = _density(cands, _kernel_table(data, bw))
    np.testing.assert_allclose(got[:20], [pdf(c) for c in cands[:20]], rtol=1e-12)
    assert (got[:20] < 0).any()  # h > 1: negative kernel values, as there
    assert not np.isfinite(got[20:]).any()  # another op on the one-level edge


def test_bohb_picks_candidates_as_hpbandsters_loop_does() -> None:
    from algorithms.bohb import _pick

    good, bad = np.array([1.0, 2.0, np.nan, -5.0]), np.array([1.0, 1.0, 1.0, 1.0])
    assert _pick(good, bad) == 1  # min of bad/good; NaN good skipped; negative good floored at 1e-32 (huge ratio)
    assert _pick(np.append(good, 3.0), np.append(bad, np.inf)) == 4  # infinite ratio, finite good: taken at once
    assert _pick(np.array([np.nan, np.inf]), np.array([1.0, np.inf])) is None  # nothing qualifies: random cell
    assert _pick(np.array([2.0, 2.0]), np.array([1.0, 1.0])) == 0  # first on ties
    assert _pick(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.inf, np.inf])) == 1  # the first infinite ratio


def test_bohb_bandwidth_factor_leaves_categorical_edges_alone(oracle: Oracle) -> None:
    """HpBandSter widens only continuous parameters by bandwidth_factor; every edge is categorical."""
    runs = [run_search(make_strategy("bohb", {"bandwidth_factor": f}), oracle, Budget(seconds=5000), seed=1)
            .columns["arch_index"].tolist() for f in (1.0, 3.0)]
    assert runs[0] == runs[1] and len(runs[0]) > 30


def test_bohb_is_refused_on_a_table_of_some_cells(tiny_table: Benchmark) -> None:
    """BOHB's candidates redraw edges over all ops, so on a table of some cells it used to fall back to a
    uniform cell every time and ran as Hyperband under BOHB's name; it is refused, as REINFORCE is."""
    with pytest.raises(StrategyError, match="^BOHB's KDE model samples any cell; it needs a table "
                                            "that covers all 15,625 cells"):
        run_search(make_strategy("bohb"), Oracle(tiny_table), Budget(queries=40), seed=0)
    assert len(run_search(make_strategy("hyperband"), Oracle(tiny_table), Budget(queries=40), seed=0)) == 40

# ----- BANANAS against naszilla's bananas (nas_algorithms.py, nas_benchmarks.py, cell_201.py) -----
def _told_model_search(oracle: Oracle, name: str, values: dict[int, float], **settings) -> Strategy:
    """A model-guided strategy ``name`` whose told results are ``values`` (arch index -> objective), in that order."""
    strategy = make_strategy(name, settings)
    strategy.setup(oracle.space, np.random.default_rng(0))
    results = [Result(strategy.query(Arch.from_index(i)), v, 1.0, t, 1.0) for t, (i, v) in enumerate(values.items())]
    strategy.asked.update(values)
    strategy.tell(results)
    return strategy


def test_bananas_candidates_mutate_the_best_cell_first_as_naszilla_does(oracle: Oracle,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """get_candidates(num=100, num_arches_to_mutate=1, max_mutation_rate=1, patience_factor=5): the best
    cell is mutated 100 times; the next best only while fewer than 100 new cells were found; never a
    cell outside the best 5. (Ours used to draw 100 from uniformly chosen parents among the top 10.)"""
    import algorithms.bananas as bananas

    values = {i: float(v) for i, v in zip(range(100, 1100, 100), [50, 90, 40, 80, 30, 20, 10, 70, 60, 85])}
    strategy = _told_model_search(oracle, "bananas", values)
    calls: list[tuple[int, int]] = []
    mutate = bananas.naszilla_mutation

    def recording(arch, rng, rate):
        calls.append((arch.index, rate))
        return mutate(arch, rng, rate)

    monkeypatch.setattr(bananas, "naszilla_mutation", recording)
    cands = strategy.candidate_cells()
    ranked = sorted(values, key=values.get, reverse=True)  # 200 (90), 1000 (85), 400 (80), ...
    parents = [p for p, _ in calls]
    assert parents[:100] == [ranked[0]] * 100 and {r for _, r in calls} == {1}
    assert len(parents) % 100 == 0 and set(parents) <= set(ranked[:5])
    assert parents == [p for p in ranked[:len(parents) // 100] for _ in range(100)]
    assert len(cands) >= 100 and len({c.index for c in cands}) == len(cands)
    assert not {c.index for c in cands} & set(values)


def test_bananas_candidates_try_no_parent_outside_the_best_5_when_mutations_run_dry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """naszilla's patience_factor 5: on a table of only the 10 told cells every mutation is dropped, so each
    parent is tried in turn; the best 5 are mutated 100 times each and the other 5 never (the test above
    finds 100 candidates within its first parents, so it cannot see this bound)."""
    import algorithms.bananas as bananas
    from nasbench_suite.strategy import SearchSpace

    values = {i: float(v) for i, v in zip(range(100, 1100, 100), [50, 90, 40, 80, 30, 20, 10, 70, 60, 85])}
    strategy = make_strategy("bananas")
    strategy.setup(SearchSpace((12,), np.array(sorted(values))), np.random.default_rng(0))
    strategy.tell([Result(strategy.query(Arch.from_index(i)), v, 1.0, t, 1.0)
                   for t, (i, v) in enumerate(values.items())])
    strategy.asked.update(values)
    calls: list[int] = []
    mutate = bananas.naszilla_mutation
    monkeypatch.setattr(bananas, "naszilla_mutation",
                        lambda arch, rng, rate: calls.append(arch.index) or mutate(arch, rng, rate))
    assert strategy.candidate_cells() == []  # no cell of the table is left unasked
    ranked = sorted(values, key=values.get, reverse=True)
    assert calls == [p for p in ranked[:5] for _ in range(100)]


def test_naszilla_mutation_changes_each_edge_with_probability_rate_over_4() -> None:
    """Cell201.mutate(mutate_encoding='adj'): each of the 6 edges independently with p = rate / 4, to a
    different op; so 0 edits (the parent itself) with p = 0.75**6 and up to 6 edits."""
    from algorithms.bananas import naszilla_mutation

    rng = np.random.default_rng(0)
    parent = Arch((0, 1, 2, 3, 4, 0))
    edits = np.array([sum(a != b for a, b in zip(naszilla_mutation(parent, rng, 1).ops, parent.ops))
                      for _ in range(20000)])
    assert abs(np.mean(edits == 0) - 0.75**6) < 0.01 and abs(edits.mean() - 1.5) < 0.03 and edits.max() >= 4
    assert all(sum(a != b for a, b in zip(naszilla_mutation(parent, rng, 4).ops, parent.ops)) == 6 for _ in range(50))


def test_naszilla_mutation_draws_each_new_op_uniformly_among_the_other_four() -> None:
    """At rate 4 every edge changes; its new op is uniform over the 4 ops it does not hold (about 500 each of
    2,000 draws on every edge, none of them the old op)."""
    from algorithms.bananas import naszilla_mutation

    rng = np.random.default_rng(0)
    parent = Arch((0, 1, 2, 3, 4, 0))
    ops = np.array([naszilla_mutation(parent, rng, 4).ops for _ in range(2000)])
    for edge, old in enumerate(parent.ops):
        counts = np.bincount(ops[:, edge], minlength=5)
        assert counts[old] == 0 and all(420 < counts[op] < 580 for op in range(5) if op != old), (edge, counts)


def test_bananas_predictor_is_naszillas_ensemble_on_the_truncated_path_encoding() -> None:
    """meta_neuralnet_params('standard'): 5 x (10 Dense(20, relu) layers), MAE, Adam(lr=0.01, beta_2=0.99),
    batch 32, 150 epochs, no regularization; bananas(predictor_encoding='trunc_path'), cutoff 30."""
    from nasbench_suite.encodings import encode

    model = make_strategy("bananas")
    model.rng = np.random.default_rng(0)
    p = model.predictor()
    assert (p.members, p.hidden, p.epochs, p.lr, p.weight_decay, p.loss, p.batch_size, p.beta2, p.init, p.encoding) == \
        (5, (20,) * 10, 150, 0.01, 0.0, "mae", 32, 0.99, "glorot", "trunc_path")
    a, b = Arch((1, 2, 3, 4, 0, 2)), Arch((1, 2, 0, 4, 0, 2))  # differ only on edge 2, on the three-edge path alone
    full, trunc = encode([a, b], "path"), encode([a, b], "trunc_path")
    assert trunc.shape == (2, 30) and (trunc == full[:, :30]).all() and (trunc[0] == trunc[1]).all()
    assert trunc[0].sum() == 3  # the paths 3<-0, 1<-0,3<-1 and 2<-0,3<-2; the length-3 path is cut
    rng = np.random.default_rng(1)
    cells = rng.choice(15625, 60, replace=False)
    y = encode(cells, "path") @ rng.normal(size=155)
    fitted = p.__class__(**{**{f: getattr(p, f) for f in ("members", "hidden", "lr", "loss", "batch_size", "beta2",
                                                         "init", "encoding", "weight_decay")}, "epochs": 30}).fit(cells, y)
    mean, spread = fitted.predict_dist([a, b])
    assert mean[0] == mean[1] and np.isfinite(mean).all() and (spread > 0).all()


def test_bananas_settings_reach_its_ensemble_and_its_queries() -> None:
    """Every ensemble setting of BANANAS is passed on (none is fixed to naszilla's value), and ``epochs`` is the
    fidelity of its queries."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("bananas", {"members": 3, "train_epochs": 7, "layers": 2, "width": 8, "loss": "mse",
                                         "batch_size": 16, "lr": 0.05, "encoding": "path", "epochs": 4})
    strategy.setup(SearchSpace((4, 12), np.arange(15625)), np.random.default_rng(0))
    p = strategy.predictor()
    assert (p.members, p.epochs, p.hidden, p.loss, p.batch_size, p.lr, p.encoding) == \
        (3, 7, (8, 8), "mse", 16, 0.05, "path")
    assert {q.epochs for q in strategy.ask(3)} == {4}


def _told(query: Query, value: float) -> "Result":
    from nasbench_suite.strategy import Result

    return Result(query, value, cost=1.0, trial=0, time=0.0)


def test_local_search_waits_for_a_neighbour_in_flight_before_calling_a_local_optimum() -> None:
    """With several workers a new current cell may have neighbours still running (asked as neighbours of
    the cell before it). Their results decide whether it is a local optimum: it used to be declared one at
    once (and the search restarted, dropping the better neighbour when it came back)."""
    from nasbench_suite.strategy import SearchSpace

    cells = [Arch((op, 0, 0, 0, 0, 0)) for op in range(3)]  # three cells, each one edit from the others
    space = SearchSpace((12,), np.array(sorted(a.index for a in cells)))
    ls = make_strategy("local-search", {"n_init": 1})
    ls.setup(space, np.random.default_rng(0))
    moves = []
    move = ls._move
    ls._move = lambda value, arch: (moves.append(arch), move(value, arch))  # type: ignore[method-assign]
    (start,) = ls.ask(2)  # one start cell; its neighbours wait for its value
    ls.tell([_told(start, 50.0)])
    first, second = ls.ask(2)
    ls.tell([_told(first, 60.0)])  # better: move to it; `second` (one edit from it too) is still running
    assert ls.current is not None and ls.current[1] == first.arch
    ls.tell([_told(second, 70.0)])  # better again: the climb goes on from it
    assert moves == [start.arch, first.arch, second.arch]


def _local_search_from(cells: list[Arch], start: Arch, **settings) -> tuple[Strategy, list[Arch]]:
    """Local search on a table of ``cells`` whose random start is ``start`` (the first seed that draws it),
    and the list of cells it moves to."""
    from nasbench_suite.strategy import SearchSpace

    space = SearchSpace((12,), np.array(sorted(a.index for a in cells)))
    for seed in range(100):
        ls = make_strategy("local-search", {"n_init": 1, **settings})
        ls.setup(space, np.random.default_rng(seed))
        (q,) = ls.ask(1)
        if q.arch == start:
            break
    moves: list[Arch] = []
    move = ls._move
    ls._move = lambda value, arch: (moves.append(arch), move(value, arch))  # type: ignore[method-assign]
    ls.tell([_told(q, 50.0)])
    return ls, moves


# cells on a square A-B-C-D-A (each one edit from its two neighbours), and E one edit from C alone
_A, _B, _C, _D, _E = (Arch(ops + (0,) * 3) for ops in ((0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (1, 1, 1)))


def test_local_search_first_improvement_moves_only_to_a_strictly_better_cell() -> None:
    ls, moves = _local_search_from([_A, _B, _C, _D, _E], _A)
    told = {q.arch: q for q in ls.ask(2)}
    assert set(told) == {_B, _D}
    ls.tell([_told(told[_D], 60.0)])  # better: move to D, whose unasked neighbour is C
    ls.tell([_told(told[_B], 70.0)])  # not a neighbour of D: no move
    (c,) = ls.ask(2)
    assert c.arch == _C
    ls.tell([_told(c, 70.0)])  # better than D: move to C; B, as good as C and known, is no better: C stays
    (e,) = ls.ask(2)
    assert ls.current == (70.0, _C) and (e.arch, e.tag) == (_E, "neighbour")
    ls.tell([_told(e, 70.0)])  # a tie with C: no move; C's neighbourhood is done, a local optimum
    assert moves == [_A, _D, _C] and ls.current is None
    assert ls.ask(2) == []  # every cell was queried: none to restart from


def test_local_search_first_improvement_moves_on_to_a_better_neighbour_already_told() -> None:
    """First improvement: a neighbour already told and better than the new cell is moved to before any new
    query. B (80) is told while the search is at D; once the climb reaches C (70), B is its better neighbour,
    so the search goes on from B (asking F, B's one unasked neighbour), not from C (asking E)."""
    f = Arch((1, 0, 0, 1, 0, 0))  # one edit from B alone
    ls, moves = _local_search_from([_A, _B, _C, _D, _E, f], _A)
    told = {q.arch: q for q in ls.ask(2)}
    assert set(told) == {_B, _D}
    ls.tell([_told(told[_D], 60.0)])  # better: move to D, whose unasked neighbour is C
    ls.tell([_told(told[_B], 80.0)])  # not a neighbour of D: no move yet
    (c,) = ls.ask(2)
    assert c.arch == _C
    ls.tell([_told(c, 70.0)])  # better than D: move to C, and on to B at once
    assert moves == [_A, _D, _C] and ls.current == (80.0, _B)
    (nxt,) = ls.ask(2)
    assert (nxt.arch, nxt.tag) == (f, "neighbour")


def test_local_search_best_improvement_does_not_move_to_a_tie() -> None:
    ls, moves = _local_search_from([_A, _B, _C, _D, _E], _A, improvement="best")
    ls.tell([_told(q, 50.0 if q.arch == _B else 40.0) for q in ls.ask(2)])  # B ties with A, D is worse
    assert moves == [_A] and ls.current is None  # a local optimum: the search restarts


def test_local_search_best_improvement_moves_to_the_best_neighbour() -> None:
    """improvement="best" waits for the whole neighbourhood and moves to its best cell: D (70), not B (60),
    though B is better than A too and is told first."""
    ls, moves = _local_search_from([_A, _B, _C, _D, _E], _A, improvement="best")
    told = {q.arch: q for q in ls.ask(2)}
    assert set(told) == {_B, _D}
    ls.tell([_told(told[_B], 60.0), _told(told[_D], 70.0)])
    assert moves == [_A, _D] and ls.current == (70.0, _D)


def test_local_search_best_improvement_counts_neighbours_already_told() -> None:
    """improvement="best": a neighbour told before counts with its value at no cost. A (50) is a local optimum
    (B 40, D 30); the restart C (20) has only told neighbours, so the search moves to the best of them, B, and
    on to A, asking nothing (it must not stop at C as if it had no neighbours, nor take the worst, D)."""
    ls, moves = _local_search_from([_A, _B, _C, _D], _A, improvement="best")
    ls.tell([_told(q, 40.0 if q.arch == _B else 30.0) for q in ls.ask(2)])
    assert moves == [_A] and ls.current is None
    (restart,) = ls.ask(2)
    assert (restart.arch, restart.tag) == (_C, "start")
    ls.tell([_told(restart, 20.0)])
    assert moves == [_A, _C, _B, _A] and ls.current is None and ls.ask(2) == []


def test_local_search_restarts_from_one_random_cell(oracle: Oracle) -> None:
    """It starts from the best of n_init = 3 random cells; at a local optimum (24 worse neighbours) it restarts
    from one new random cell, not n_init, and climbs from that cell even when it is worse than the first
    start (not from the incumbent or the best start so far)."""
    ls = make_strategy("local-search", {"n_init": 3})
    ls.setup(oracle.space, np.random.default_rng(0))
    starts = ls.ask(5)
    assert [q.tag for q in starts] == ["start"] * 3
    ls.tell([_told(q, v) for q, v in zip(starts, (50.0, 40.0, 30.0))])
    neighbours = ls.ask(30)
    assert {q.arch for q in neighbours} == set(starts[0].arch.neighbours())
    ls.tell([_told(q, 10.0) for q in neighbours])
    (restart,) = ls.ask(5)
    assert restart.tag == "start" and restart.arch.index not in {q.arch.index for q in starts + neighbours}
    ls.tell([_told(restart, 20.0)])
    assert ls.current == (20.0, restart.arch)
    climb = ls.ask(30)
    assert climb and {q.tag for q in climb} == {"neighbour"}
    assert {q.arch for q in climb} <= set(restart.arch.neighbours())


def test_local_search_asks_a_neighbourhood_in_a_random_order(oracle: Oracle) -> None:
    orders = []
    for seed in range(3):
        ls = make_strategy("local-search", {"n_init": 1})
        ls.setup(oracle.space, np.random.default_rng(seed))
        (q,) = ls.ask(1)
        ls.tell([_told(q, 50.0)])
        asked = [n.arch for n in ls.ask(24)]
        assert sorted(a.index for a in asked) == sorted(a.index for a in q.arch.neighbours())
        edge_major = q.arch.neighbours()
        orders.append(asked not in (edge_major, edge_major[::-1]))  # neither edge-major nor its reverse
    assert all(orders)


def test_naszilla_candidates_mutate_each_parent_n_over_top_over_rate_times_at_each_rate(
        oracle: Oracle, monkeypatch: pytest.MonkeyPatch) -> None:
    """naszilla's get_candidates: int(100 / 10 / 2) = 5 mutations of a parent at each rate 1 and 2, parents in
    ranked order while fewer than 100 candidates were collected."""
    import algorithms.bananas as bananas

    calls: list[tuple[int, int]] = []
    real = bananas.naszilla_mutation

    def recording(arch: Arch, rng: np.random.Generator, rate: int) -> Arch:
        calls.append((arch.index, rate))
        return real(arch, rng, rate)

    monkeypatch.setattr(bananas, "naszilla_mutation", recording)
    ranked = [Arch.from_index(i) for i in range(1000, 1020)]
    out = bananas.naszilla_candidates(oracle.space, np.random.default_rng(0), ranked, 100, set(), 10, 2)
    parents = len(calls) // 10
    assert calls == [(p.index, rate) for p in ranked[:parents] for _ in range(5) for rate in (1, 2)]
    assert len(out) >= 100 and parents >= 10


def test_naszilla_candidates_on_a_table_of_some_cells_are_cells_of_the_table() -> None:
    """A table of the parent, 4 of its 24 neighbours and 100 other cells: 1,000 rate-1 mutations give cells of
    the table only (mutations outside it are dropped), the 4 neighbours among them, each once, and never the
    excluded parent."""
    import algorithms.bananas as bananas
    from nasbench_suite.strategy import SearchSpace

    parent = Arch.from_index(7777)
    near = [a.index for a in parent.neighbours()][::6]
    held = np.array(sorted({parent.index, *near} | set(range(0, 15625, 157))))
    out = [a.index for a in bananas.naszilla_candidates(SearchSpace((12,), held), np.random.default_rng(0), [parent],
                                                        1000, {parent.index}, 1, 1)]
    assert len(out) == len(set(out)) and set(out) <= set(held.tolist()) - {parent.index} and set(near) <= set(out)


def test_naszilla_candidates_take_no_new_parent_once_n_are_collected(oracle: Oracle) -> None:
    """n=4, max_rate=2: the best cell's 2 x 2 mutations give 4 distinct cells here, exactly n, so the next
    parent is never mutated (naszilla's ``while len(candidates) < num``)."""
    import algorithms.bananas as bananas

    ranked = [Arch.from_index(100), Arch.from_index(9000)]
    out = bananas.naszilla_candidates(oracle.space, np.random.default_rng(0), ranked, 4, set(), 1, 2)
    assert len(out) == 4


def test_bananas_acquisition_is_one_thompson_draw_per_candidate(oracle: Oracle) -> None:
    """naszilla's 'its' acquisition: a draw from N(mean, spread) for each candidate, not the mean."""
    strategy = make_strategy("bananas")
    strategy.setup(oracle.space, np.random.default_rng(0))

    class Model:
        def predict_dist(self, cands: list[Arch]) -> tuple[np.ndarray, np.ndarray]:
            return np.full(len(cands), 70.0), np.full(len(cands), 2.0)

    draws = strategy.acquisition(Model(), [Arch.from_index(i) for i in range(5000)])
    assert draws.mean() == pytest.approx(70.0, abs=0.1) and draws.std() == pytest.approx(2.0, rel=0.05)


def test_mutation_candidates_are_1_to_max_edits_edits_away(oracle: Oracle) -> None:
    from algorithms.common import mutation_candidates

    parent = Arch.from_index(7777)
    cands = mutation_candidates(oracle.space, np.random.default_rng(0), [parent], 200, set(), max_edits=2)
    edits = {sum(x != y for x, y in zip(parent.ops, c.ops)) for c in cands}
    assert len(cands) == 200 and 2 in edits and edits <= {0, 1, 2}  # two edits may undo each other


def test_mutation_candidates_draw_each_from_a_uniform_parent_and_skip_excluded_cells(oracle: Oracle) -> None:
    """Two parents 6 edits apart, one edit each: every candidate is a neighbour of exactly one of them, both
    parents are used (a uniform choice, not the first always), and none is in ``exclude`` (half of the first
    parent's neighbours) or drawn twice."""
    from algorithms.common import mutation_candidates

    a, b = Arch((0,) * 6), Arch((4,) * 6)
    near_a, near_b = {c.index for c in a.neighbours()}, {c.index for c in b.neighbours()}
    exclude = set(sorted(near_a)[::2])
    cands = [c.index for c in mutation_candidates(oracle.space, np.random.default_rng(0), [a, b], 30, exclude)]
    assert len(cands) == len(set(cands)) == 30 and not set(cands) & exclude
    assert set(cands) <= near_a | near_b and set(cands) & near_a and set(cands) & near_b


def test_mutation_candidates_are_topped_up_with_random_cells_when_mutations_run_dry(oracle: Oracle) -> None:
    """Every one-edit mutation of the parent is excluded: the 20 candidates are distinct random cells, none
    excluded."""
    from algorithms.common import mutation_candidates

    parent = Arch.from_index(7777)
    exclude = {parent.index} | {a.index for a in parent.neighbours()}
    cands = [c.index for c in mutation_candidates(oracle.space, np.random.default_rng(0), [parent], 20, exclude)]
    assert len(set(cands)) == 20 and not set(cands) & exclude


def test_random_top_up_adds_distinct_unseen_cells_until_the_table_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table of 5 cells, one of them seen: asked for 10, the top-up adds the other 4, once each, and stops
    (it must not draw forever once every cell is seen)."""
    from algorithms.common import random_top_up
    from nasbench_suite.strategy import SearchSpace

    held = [3, 70, 900, 4000, 15000]
    space = SearchSpace((12,), np.array(held))
    draw, draws = SearchSpace.random_arch, []

    def counted(self: SearchSpace, rng: np.random.Generator) -> Arch:
        draws.append(1)
        assert len(draws) <= 1000, "still drawing after 1,000 draws"
        return draw(self, rng)

    monkeypatch.setattr(SearchSpace, "random_arch", counted)
    first = Arch.from_index(900)
    seen = {900}
    out = random_top_up(space, np.random.default_rng(0), [first], seen, 10)
    assert out[0] == first and sorted(a.index for a in out[1:]) == [3, 70, 4000, 15000]
    assert seen == set(held)
    two = [a.index for a in random_top_up(space, np.random.default_rng(1), [], {3}, 2)]
    assert len(set(two)) == 2 and 3 not in two  # stops at n while cells are left


def test_observed_top_breaks_ties_by_the_order_told() -> None:
    from algorithms.common import Observed

    rng = np.random.default_rng(0)
    values = rng.integers(0, 3, 300).astype(float)  # many ties
    observed = Observed()
    for i, v in enumerate(values):
        observed.add(Result(Query(Arch.from_index(i), 12), v, 1.0, i, float(i)))
    expected = sorted(range(300), key=lambda i: (-values[i], i))[:150]
    assert [a.index for a in observed.top(150)] == expected


def test_a_model_guided_search_waits_for_two_results_before_its_first_model(oracle: Oracle) -> None:
    strategy = make_strategy("xgb-evolution", {"n_estimators": 5})
    strategy.setup(oracle.space, np.random.default_rng(0))
    first = strategy.ask(20)  # 20 idle workers: the 10 initial cells, then nothing until two results are in
    assert len(first) == 10 and strategy.ask(5) == []
    strategy.tell([Result(first[0], 50.0, 1.0, 0, 1.0)])
    assert strategy.ask(5) == []
    strategy.tell([Result(first[1], 60.0, 1.0, 1, 2.0)])
    assert len(strategy.ask(5)) == 5


def test_a_model_guided_search_asks_each_round_best_first_and_replans_from_a_refitted_model(oracle: Oracle) -> None:
    """Rounds of ``batch`` cells in the acquisition's order, best first; a new round is planned (from the model
    refitted on every result told) only once the last round's cells were all asked. Here the acquisition ranks
    the unasked cells 100..129 by index while fewer than 15 results are told, and by -index after."""
    strategy = make_strategy("xgb-evolution", {"n_estimators": 2})
    strategy.setup(oracle.space, np.random.default_rng(0))
    strategy.candidate_cells = lambda: [Arch.from_index(i) for i in range(100, 130) if i not in strategy.asked]
    strategy.acquisition = lambda model, cands: np.array([float(c.index) for c in cands]) * (
        1 if len(strategy.observed) < 15 else -1)
    first = strategy.ask(10)
    strategy.tell([Result(q, float(k), 1.0, k, 1.0) for k, q in enumerate(first)])
    second = strategy.ask(10)
    assert [q.arch.index for q in second] == list(range(129, 119, -1))
    strategy.tell([Result(q, 50.0, 1.0, 10 + k, 1.0) for k, q in enumerate(second)])
    assert [q.arch.index for q in strategy.ask(10)] == list(range(100, 110))


def test_a_model_guided_search_never_repeats_an_initial_cell_on_a_small_table() -> None:
    """12 cells, n_init=10: the 10 initial cells are distinct (a uniform draw repeats one almost surely)."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("xgb-evolution", {"n_estimators": 2})
    strategy.setup(SearchSpace((12,), np.arange(0, 1200, 100)), np.random.default_rng(0))
    cells = [q.arch.index for q in strategy.ask(10)]
    assert len(set(cells)) == 10 and set(cells) <= set(range(0, 1200, 100))


def test_a_model_guided_search_ranks_cells_over_the_latency_limit_by_their_constrained_value() -> None:
    """Under a latency limit the model and the parents see the constrained value (``-latency / limit`` over
    the limit), not the accuracy: a 90 % cell at 30 ms with a 20 ms limit is told as -1.5, below a 60 % one."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("xgb-evolution", {"n_estimators": 2})
    strategy.setup(SearchSpace((12,), np.arange(15625), latency_source="synthetic (test)", max_latency=20.0),
                   np.random.default_rng(0))
    fast, slow = Query(Arch.from_index(5), 12), Query(Arch.from_index(6), 12)
    strategy.tell([Result(fast, 60.0, 1.0, 0, 1.0, latency=20.0), Result(slow, 90.0, 1.0, 1, 1.0, latency=30.0)])
    assert strategy.observed.values == [60.0, -1.5] and strategy.observed.top(1) == [fast.arch]


def test_edits_candidates_mutate_each_of_the_mutate_top_best_cells() -> None:
    """candidate_scheme="edits": 1 edit from a uniformly chosen one of the ``mutate_top`` (3) best told cells;
    on a table of 3 far-apart parents and their neighbours, every one of the 3 is mutated and no other cell."""
    from nasbench_suite.strategy import SearchSpace

    parents = [Arch((p,) * 6) for p in range(5)]  # told 50, 90, 40, 80, 30: the best 3 are parents 1, 3, 0
    near = {p.index: {a.index for a in p.neighbours()} for p in parents}
    space = SearchSpace((12,), np.array(sorted(set().union(*near.values()) | {p.index for p in parents})))
    strategy = make_strategy("xgb-evolution", {"candidate_scheme": "edits", "mutate_top": 3, "max_edits": 1,
                                               "candidates": 40, "n_init": 5})
    strategy.setup(space, np.random.default_rng(0))
    values = [50.0, 90.0, 40.0, 80.0, 30.0]
    strategy.tell([Result(strategy.query(p), v, 1.0, t, 1.0) for t, (p, v) in enumerate(zip(parents, values))])
    strategy.asked.update(p.index for p in parents)
    cands = {c.index for c in strategy.candidate_cells()}
    assert len(cands) == 40 and cands <= near[parents[1].index] | near[parents[3].index] | near[parents[0].index]
    assert all(cands & near[parents[i].index] for i in (1, 3, 0))


def test_topped_up_candidates_add_only_cells_neither_asked_nor_already_candidates() -> None:
    """A table of 12 cells, 1 asked, 8 candidates: a round of batch 10 is topped up with 2 of the other 3 cells."""
    from nasbench_suite.strategy import SearchSpace

    cells = list(range(0, 1200, 100))
    strategy = make_strategy("bananas", {"batch": 10})
    strategy.setup(SearchSpace((12,), np.array(cells)), np.random.default_rng(0))
    strategy.asked.add(0)
    cands = [Arch.from_index(i) for i in cells[1:9]]
    out = [a.index for a in strategy.topped_up(list(cands))]
    assert out[:8] == cells[1:9] and len(out) == 10 and set(out[8:]) < set(cells[9:])


@pytest.mark.parametrize("name", ["xgb-evolution", "bananas"])
def test_a_model_guided_search_on_a_table_of_fewer_cells_than_n_init_asks_each_once_and_stops(name: str) -> None:
    """4 cells, n_init=10: the 4 cells are asked once each, then nothing (the run ends, 'exhausted'). It used
    to draw initial cells forever looking for a fifth unasked one (`nasbench search` hung)."""
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy(name, {"n_estimators": 2} if name == "xgb-evolution" else {"train_epochs": 2})
    strategy.setup(SearchSpace((12,), np.array([3, 70, 900, 4000])), np.random.default_rng(0))
    draw, draws = strategy.initial_arch, []

    def counted() -> Arch:
        draws.append(1)
        assert len(draws) <= 1000, "still drawing initial cells after 1,000 draws"
        return draw()

    strategy.initial_arch = counted
    first = strategy.ask(10)
    assert sorted(q.arch.index for q in first) == [3, 70, 900, 4000] and strategy.ask(10) == []
    strategy.tell([Result(q, float(k), 1.0, k, 1.0) for k, q in enumerate(first)])
    assert strategy.ask(10) == []


# ----- xgb-evolution against NASLib's Npenas (npenas/optimizer.py, predictors/trees/xgb.py) -----
def _recording_mutations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(parent, child) index of every ``SearchSpace.mutate`` call from now on."""
    from nasbench_suite.strategy import SearchSpace

    calls: list[tuple[int, int]] = []
    mutate = SearchSpace.mutate

    def recording(self, arch, rng, scheme="node_then_edge"):
        child = mutate(self, arch, rng, scheme)
        calls.append((arch.index, child.index))
        return child

    monkeypatch.setattr(SearchSpace, "mutate", recording)
    return calls


@pytest.mark.parametrize("max_edits", [1, 2])
def test_xgb_evolution_mutates_each_of_the_best_5_as_naslibs_npenas(oracle: Oracle, monkeypatch: pytest.MonkeyPatch,
                                                                    max_edits: int) -> None:
    """Npenas._get_new_candidates (num_candidates=200, num_arches_to_mutate=5): each of the 5 best cells
    is mutated int(200 / 5 / max_mutations) times, each child exactly max_mutations edits from it. (Ours
    used to draw parents uniformly among the top 10, each child 1 or 2 edits away.)"""
    values = {i: float(v) for i, v in zip(range(100, 1100, 100), [50, 90, 40, 80, 30, 20, 10, 70, 60, 85])}
    strategy = _told_model_search(oracle, "xgb-evolution", values, max_edits=max_edits)
    calls = _recording_mutations(monkeypatch)
    cands = strategy.candidate_cells()
    best5 = sorted(values, key=values.get, reverse=True)[:5]
    per_parent = 200 // 5 // max_edits
    firsts = [parent for parent, _ in calls[::max_edits]]  # the first edit of each child starts at its parent
    assert len(calls) == 5 * per_parent * max_edits
    assert sorted(firsts) == sorted(p for p in best5 for _ in range(per_parent))
    for i in range(0, len(calls), max_edits):  # later edits continue the same child
        assert all(calls[j][0] == calls[j - 1][1] for j in range(i + 1, i + max_edits))
    children = {calls[i + max_edits - 1][1] for i in range(0, len(calls), max_edits)}
    assert {c.index for c in cands} == children - set(values)
    assert len({c.index for c in cands}) == len(cands) >= strategy.batch


def test_xgb_evolution_mutates_its_mutate_top_best_cells(oracle: Oracle, monkeypatch: pytest.MonkeyPatch) -> None:
    """mutate_top=2, candidates=20: the best 2 told cells are mutated int(20 / 2 / 1) = 10 times each."""
    values = {i: float(v) for i, v in zip(range(100, 1100, 100), [50, 90, 40, 80, 30, 20, 10, 70, 60, 85])}
    strategy = _told_model_search(oracle, "xgb-evolution", values, mutate_top=2, candidates=20)
    calls = _recording_mutations(monkeypatch)
    strategy.candidate_cells()
    assert [parent for parent, _ in calls] == [200] * 10 + [1000] * 10


def test_xgb_evolution_predictor_is_naslibs_xgboost() -> None:
    """naslib/predictors/trees/xgb.py: XGBoost default_hyperparams (max_depth 6, learning_rate 0.3, no
    row subsampling) trained for num_boost_round=500 on the adjacency one-hot (30 dims on NB201)."""
    strategy = make_strategy("xgb-evolution")
    strategy.rng = np.random.default_rng(0)
    p = strategy.predictor()
    assert (p.n_estimators, p.learning_rate, p.max_depth, p.subsample, p.encoding) == (500, 0.3, 6, 1.0, "onehot")


def test_xgb_evolution_acquisition_is_naslibs_exploit_only_the_predicted_value() -> None:
    """NASLib's ``exploit_only``: candidates ranked by the prediction itself (higher is better), not by a
    spread, a negated value or a draw; the spread the model gives is ignored."""
    strategy = make_strategy("xgb-evolution")
    cands = [Arch.from_index(i) for i in (5, 900, 15000)]

    class Model:
        def predict(self, archs: list[Arch]) -> np.ndarray:
            return np.array([float(a.index % 7) for a in archs])

        def predict_dist(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray]:
            return self.predict(archs), np.full(len(archs), 100.0)

    assert strategy.acquisition(Model(), cands).tolist() == [5.0, 4.0, 6.0]


def test_model_predictors_take_the_strategys_settings_and_a_seed_from_its_generator() -> None:
    """Each round's model is seeded by a fresh draw from the run's generator (so rounds and runs differ), and
    xgb-evolution's settings reach its XGBoost; BANANAS draws below 2**32, xgb-evolution below 2**31."""
    xgb = make_strategy("xgb-evolution", {"n_estimators": 7, "learning_rate": 0.05, "subsample": 0.5})
    xgb.rng = np.random.default_rng(3)
    p, q = xgb.predictor(), xgb.predictor()
    draws = np.random.default_rng(3).integers(2**31, size=2)
    assert (p.n_estimators, p.learning_rate, p.subsample, p.seed, q.seed) == (7, 0.05, 0.5, draws[0], draws[1])
    bananas = make_strategy("bananas")
    bananas.rng = np.random.default_rng(3)
    draws = np.random.default_rng(3).integers(2**32, size=2)
    assert [bananas.predictor().seed, bananas.predictor().seed] == draws.tolist()


def test_candidates_mutate_every_parent_at_least_once_when_candidates_are_fewer_than_parents(
        oracle: Oracle) -> None:
    """int(candidates / parents / edits) is 0 for 5 candidates from 10 parents: naslib's and naszilla's
    generators would then give none; ours mutate each parent once (naszilla's: while fewer than 5 were found)."""
    import algorithms.bananas as bananas
    from algorithms.predictor_evolution import naslib_candidates

    parents = [Arch.from_index(i) for i in range(1000, 11000, 1000)]
    assert len(naslib_candidates(oracle.space, np.random.default_rng(0), parents, 5, set(), 1)) == 10
    out = bananas.naszilla_candidates(oracle.space, np.random.default_rng(0), parents, 5, set(), 10, 1)
    assert len(out) == 5


def test_xgb_evolution_tops_up_a_round_whose_neighbourhoods_are_used_up(oracle: Oracle) -> None:
    values = {i: float(i) for i in range(0, 1000, 100)}
    strategy = _told_model_search(oracle, "xgb-evolution", values)
    for arch in strategy.observed.top(5):
        strategy.asked.update(a.index for a in oracle.space.neighbours(arch))
    cands = strategy.candidate_cells()
    assert len(cands) == strategy.batch and not {c.index for c in cands} & strategy.asked


def _bohb(**settings: float):
    from nasbench_suite.strategy import SearchSpace

    strategy = make_strategy("bohb", settings)
    strategy.setup(SearchSpace((4, 12, 36, 108), np.arange(15625)), np.random.default_rng(0))
    return strategy


def _tell_bohb(strategy, budget: float, cells: list[Arch], values: list[float]) -> None:
    for arch, value in zip(cells, values):
        strategy.observe(Result(Query(arch, 12), value, 1.0, 0, 1.0), budget)


def test_bohb_model_splits_the_largest_budget_with_enough_results_into_good_and_bad() -> None:
    """HpBandSter's split with min_points_in_model 7 (edges + 1): 13 results give no model (the bad set would
    hold 6 <= 6 rows); 14 give the best 7 (by value, ties in the order told) and the next 7, each with its own
    bandwidths; top_n_percent=50 of 20 gives 10 and 10. A budget without enough results leaves the model to a
    smaller budget that has them; the model is rebuilt when a result is added."""
    from algorithms.bohb import _bandwidths, _kernel_table

    cells = [Arch.from_index(int(i)) for i in np.random.default_rng(1).choice(15625, 40, replace=False)]
    values = [float(v) for v in np.random.default_rng(2).permutation(40)]
    strategy = _bohb()
    _tell_bohb(strategy, 36.0, cells[:13], values[:13])
    assert strategy._fit() is None
    _tell_bohb(strategy, 12.0, cells[:14], values[:14])
    model = strategy._fit()
    order = np.argsort(-np.array(values[:14]), kind="stable")
    x = np.array([c.ops for c in cells[:14]])
    assert model.budget == 12.0 and model.n == 14
    np.testing.assert_array_equal(model.good, x[order[:7]])
    np.testing.assert_array_equal(model.bw_good, _bandwidths(x[order[:7]], 1e-3))
    np.testing.assert_array_equal(model.kernel_bad, _kernel_table(x[order[7:]], _bandwidths(x[order[7:]], 1e-3)))
    _tell_bohb(strategy, 36.0, cells[13:14], values[13:14])  # 14 results at the larger budget now
    assert strategy._fit().budget == 36.0
    half = _bohb(top_n_percent=50)
    _tell_bohb(half, 12.0, cells[:20], values[:20])
    assert len(half._fit().good) == 10
    np.testing.assert_array_equal(half._fit().good, np.array([c.ops for c in cells[:20]])[np.argsort(-np.array(values[:20]), kind="stable")[:10]])


def test_bohb_candidates_redraw_each_edge_with_probability_the_good_bandwidth() -> None:
    """The good set is 7 copies of one cell (bandwidth floored at min_bandwidth 0.2), the bad set 7 varied
    cells: each candidate copies the cell and redraws each edge uniformly with probability 0.2, so an edge
    differs from it with probability 0.2 * 4/5 = 0.16 (the good density of such a candidate is infinite, the
    statsmodels quirk, so with num_samples=1 the candidate itself is the sample). random_fraction=1 never
    consults the model."""
    best = Arch((1, 2, 3, 0, 4, 1))
    varied = [Arch(tuple((i + e) % 5 for e in range(6))) for i in range(7)]
    strategy = _bohb(min_bandwidth=0.2, num_samples=1, random_fraction=0.0)
    _tell_bohb(strategy, 12.0, [best] * 7 + varied, [90.0] * 7 + [10.0] * 7)
    differ = np.mean([[x != y for x, y in zip(strategy.sample().ops, best.ops)] for _ in range(300)])
    assert 0.13 < differ < 0.19
    never = _bohb(random_fraction=1.0)
    _tell_bohb(never, 12.0, [best] * 7 + varied, [90.0] * 7 + [10.0] * 7)
    never._fit = None  # calling it would raise
    never.sample()


def test_bohb_samples_cells_like_the_good_set_and_unlike_the_bad_one() -> None:
    """Good cells hold ops 0 and 1 only, bad ones 3 and 4: minimizing bad / good density keeps (almost)
    every sampled edge on 0 or 1, although a candidate redraws each edge with probability ~0.4."""
    rng = np.random.default_rng(5)
    good = [Arch(tuple(rng.integers(0, 2, 6).tolist())) for _ in range(7)]
    bad = [Arch(tuple(rng.integers(3, 5, 6).tolist())) for _ in range(7)]
    strategy = _bohb(random_fraction=0.0)
    _tell_bohb(strategy, 12.0, good + bad, [90.0] * 7 + [10.0] * 7)
    ops = np.array([strategy.sample().ops for _ in range(100)])
    assert np.isin(ops, [3, 4]).mean() < 0.05 and np.isin(ops, [0, 1]).mean() > 0.9


def test_bohb_split_keeps_ties_in_the_order_told_and_drops_rows_past_the_bad_set() -> None:
    """20 results valued 0, 1 or 2 (many ties), top_n_percent=50: good is the 10 best with ties in the order
    told (NumPy's default argsort orders ties otherwise at this size); 15 results: good and bad take
    max(7, 50% of 15 = 7) rows each, so the worst result is in neither set, as HpBandSter's
    ``idx[n_good:n_good + n_bad]``."""
    from algorithms.bohb import _bandwidths, _kernel_table

    cells = [Arch.from_index(i * 61) for i in range(20)]
    x = np.array([c.ops for c in cells])
    values = [float(v) for v in np.random.default_rng(3).integers(0, 3, 20)]
    strategy = _bohb(top_n_percent=50)
    _tell_bohb(strategy, 12.0, cells, values)
    best = sorted(range(20), key=lambda i: (-values[i], i))
    np.testing.assert_array_equal(strategy._fit().good, x[best[:10]])
    strategy = _bohb(top_n_percent=50)
    _tell_bohb(strategy, 12.0, cells[:15], [float(v) for v in range(15, 0, -1)])  # told best first
    model = strategy._fit()
    np.testing.assert_array_equal(model.good, x[:7])
    np.testing.assert_array_equal(model.kernel_bad, _kernel_table(x[7:14], _bandwidths(x[7:14], 1e-3)))


def test_bohb_min_points_in_model_sizes_the_good_set_and_a_new_result_rebuilds_the_model() -> None:
    """min_points_in_model=10: 20 results give a good set of the best 10 (not 7); a 21st result at the same
    budget rebuilds the model (the cache is keyed on the budget and the count)."""
    cells = [Arch.from_index(i * 59) for i in range(21)]
    strategy = _bohb(min_points_in_model=10)
    _tell_bohb(strategy, 12.0, cells[:20], [float(v) for v in range(20)])
    model = strategy._fit()
    assert (model.n, len(model.good)) == (20, 10)
    np.testing.assert_array_equal(model.good, np.array([c.ops for c in cells[19:9:-1]]))
    _tell_bohb(strategy, 12.0, cells[20:], [100.0])
    rebuilt = strategy._fit()
    assert rebuilt.n == 21 and tuple(rebuilt.good[0]) == cells[20].ops


def test_bohb_settings_at_their_bounds_are_accepted_and_just_past_them_refused() -> None:
    """top_n_percent 1..99 (100 left no bad set, so no model: a Hyperband run), min_bandwidth up to 1,
    min_points_in_model from 7, random_fraction 0..1."""
    _bohb(top_n_percent=1, min_bandwidth=1.0, min_points_in_model=7, random_fraction=0.0)
    _bohb(top_n_percent=99, random_fraction=1.0)
    for bad, message in [({"top_n_percent": 100}, r"setting top_n_percent=100 must be an integer in \[1, 99\]"),
                         ({"min_bandwidth": 1.01}, r"setting min_bandwidth=1.01 must be a finite number in \(0, 1\]"),
                         ({"min_points_in_model": 6}, "min_points_in_model=6 must be an integer >= 7")]:
        with pytest.raises(StrategyError, match=message):
            _bohb(**bad)


def _bohb_with_model(good: np.ndarray, bw: float, **settings: float):
    """A BOHB whose model is given: ``good`` rows, every edge's good bandwidth ``bw``, and flat densities
    (every candidate's ratio is 1, so the first candidate is the sample)."""
    from algorithms.bohb import _Model

    strategy = _bohb(**settings)
    flat = np.ones((6, 5, len(good)))
    model = _Model(12.0, 2 * len(good), good, np.full(6, bw), flat, flat)
    strategy._fit = lambda: model
    return strategy


def test_bohb_candidates_copy_a_uniform_good_row_and_redraw_edges_over_all_five_ops() -> None:
    """With a bandwidth of 1e-6 a candidate is (almost always) a copy of a good row, drawn uniformly: each of
    7 rows about 100 times in 700 samples; with a bandwidth of 1 every edge is redrawn uniformly over the 5
    ops."""
    good = np.array([[row] * 6 for row in range(5)] + [[0, 1, 2, 3, 4, 0], [4, 3, 2, 1, 0, 4]])
    copies = _bohb_with_model(good, 1e-6, num_samples=1, random_fraction=0.0)
    index = {tuple(r): i for i, r in enumerate(good.tolist())}
    counts = np.bincount([index.get(copies.sample().ops, -1) + 1 for _ in range(700)], minlength=8)
    assert counts[0] == 0 and counts[1:].min() > 70, counts
    redrawn = _bohb_with_model(good, 1.0, num_samples=1, random_fraction=0.0)
    ops = np.bincount(np.array([redrawn.sample().ops for _ in range(500)]).ravel(), minlength=5)
    assert ops.min() > 500 and ops.max() < 700, ops  # 3,000 edges, 600 per op


def test_bohb_samples_a_random_fraction_of_its_cells_without_the_model() -> None:
    """random_fraction=1/3: the model is consulted for about 2 in 3 new cells (2,000 of 3,000)."""
    strategy = _bohb(random_fraction=1 / 3)
    consulted = []
    strategy._fit = lambda: consulted.append(1)  # no model yet: a uniform cell
    for _ in range(3000):
        strategy.sample()
    assert 1900 < len(consulted) < 2100


def test_bohb_bad_set_takes_at_least_min_points_in_model_rows() -> None:
    """top_n_percent=60 of 17 results: the best 10 are good and the bad set is max(7, 40% of 17 = 6) = 7,
    exactly the rest, so a model exists."""
    cells = [Arch.from_index(i * 37) for i in range(17)]
    strategy = _bohb(top_n_percent=60)
    _tell_bohb(strategy, 12.0, cells, [float(i) for i in range(17)])
    model = strategy._fit()
    assert model is not None and len(model.good) == 10


def test_constrained_value_is_the_value_when_feasible_else_minus_latency_over_the_limit() -> None:
    from nasbench_suite.strategy import SearchSpace

    space = SearchSpace((12,), np.arange(15625), latency_source="synthetic (test)", max_latency=20.0)
    query = Query(Arch.from_index(3), 12)
    assert space.constrained_value(Result(query, 70.0, 1.0, 0, 1.0, latency=20.0)) == 70.0  # at the limit
    assert space.constrained_value(Result(query, 70.0, 1.0, 0, 1.0, latency=30.0)) == -1.5
    assert not space.feasible(Result(query, 70.0, 1.0, 0, 1.0))  # no latency: not known to be feasible
    done = Result(query, 70.0, 1.0, 7, 1.0)
    assert done.resume(36, tag="r") == Query(query.arch, 36, 7, "r")
    with pytest.raises(StrategyError, match="not a fidelity"):
        SearchSpace((1, 12), np.arange(15625)).epochs_or_max(True)


def test_mutate_on_a_partial_table_stays_in_the_table() -> None:
    """On a table of some cells a mutation is a uniform in-table neighbour, or a random in-table cell when
    the cell has none."""
    from nasbench_suite.strategy import SearchSpace

    start = Arch.from_index(0)
    near = start.neighbours()
    held = np.array(sorted({0, near[3].index, near[20].index, 15624}))
    space, rng = SearchSpace((12,), held), np.random.default_rng(0)
    assert {space.mutate(start, rng, "uniform_edge").index for _ in range(50)} == {near[3].index, near[20].index}
    lone = Arch.from_index(15624)  # none of its neighbours is held
    drawn = {space.mutate(lone, rng).index for _ in range(50)}
    assert drawn <= set(held.tolist()) and len(drawn) > 1  # random cells, not the lone cell returned unchanged
