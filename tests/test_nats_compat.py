"""The NATS-Bench API adapter: values against the generated raw records and against the official
``nats_bench`` package on the same folder, the clock, indices, our own tables, and bad input."""
from __future__ import annotations

import copy
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasbench_suite import load_table
from nasbench_suite.errors import (ArchError, ArchNotInTableError, EpochNotInTableError, MissingResultError,
                                   NasBenchError, SeedNotInTableError, TableError, TableNotFoundError)
from nasbench_suite.nats_compat import NATSCompat, create
from nasbench_suite.nats_import import import_nats_tss
from nasbench_suite.space import NUM_ARCHS, Arch, nb201_order

from nats_generator import arch_record, generate_folder, write_meta, write_pbz2

NB201 = (0, 11, 284, 9000)  # NATS-Bench indices of the generated archs
SEED = 5
STRINGS = [Arch.from_index(int(i)).to_str() for i in nb201_order()]
REF = Path(os.environ.get("NASBENCH_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference"))
FIXTURE = REF / "nats_tss_fixture"  # three official arch files, in NATS-Bench's own index order
FIXTURE_ARCHS = (0, 11, 284)
F32 = 1e-7  # values are stored as float32: relative rounding up to 2**-24 (6e-8)
TEST_SET = {"cifar10-valid": "ori-test", "cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated NATS-Bench 'simple' folder in NATS-Bench's own index order, and its import."""
    root = tmp_path_factory.mktemp("nats_compat")
    src = root / "src"
    src.mkdir()
    write_meta(src, STRINGS)
    for i in NB201:
        write_pbz2(arch_record(i, STRINGS[i], SEED), src / f"{i:06d}.pickle.pbz2")
    import_nats_tss(src, root / "tables", progress=False)
    return src, root / "tables"


@pytest.fixture()
def api(folders: tuple[Path, Path]) -> NATSCompat:
    return create(str(folders[1]), "tss", fast_mode=True, verbose=False)


def _expected(res: dict[str, Any], name: str, i: int) -> dict[str, float] | None:
    """NATS-Bench's definition of one set's values after iepoch i, from one raw trial record."""
    if name == "train":
        loss, acc = res["train_losses"][i], res["train_acc1es"][i]
        spent = sum(res["train_times"][j] for j in range(i + 1))
    else:
        key = f"{name}@{i}"
        if name not in res["eval_names"] or key not in res["eval_acc1es"]:
            return None
        loss, acc = res["eval_losses"][key], res["eval_acc1es"][key]
        spent = sum(res["eval_times"][f"{name}@{j}"] for j in range(i + 1))
    return {"loss": float(np.float32(loss)), "accuracy": float(np.float32(acc)), "all-time": spent, "per-time": spent / (i + 1)}


def _sets(ds: str) -> dict[str, str]:
    out = {"train": "train", "test": TEST_SET[ds]} if ds == "cifar10" else {"train": "train", "valid": "x-valid", "test": TEST_SET[ds]}
    if ds in ("cifar100", "ImageNet16-120"):
        out["valtest"] = "ori-test"
    return out


def test_get_more_info_equals_the_raw_records(api: NATSCompat) -> None:
    checked = 0
    for idx in NB201:
        record = arch_record(idx, STRINGS[idx], SEED)
        for hp, archres in record.items():
            epochs = int(hp)
            for ds, seeds in archres["dataset_seed"].items():
                for iepoch in (None, 0, 4, epochs - 1):
                    i = epochs - 1 if iepoch is None else iepoch
                    per_seed = {s: {g: _expected(archres["all_results"][(ds, s)], n, i) for g, n in _sets(ds).items()}
                                for s in seeds}
                    for is_random in [False, *seeds]:
                        info = api.get_more_info(idx, ds, iepoch=iepoch, hp=hp, is_random=is_random)
                        use = seeds if is_random is False else [is_random]
                        for group in _sets(ds):
                            got = [per_seed[s][group] for s in use]
                            keys = [f"{group}-{k}" for k in ("loss", "accuracy", "per-time", "all-time")]
                            if any(g is None for g in got):  # not recorded: absent, and reading it says why
                                assert not any(k in info for k in keys)
                                with pytest.raises(MissingResultError, match="records no"):
                                    info[keys[1]]
                                continue
                            for k in ("loss", "accuracy", "per-time", "all-time"):
                                want = sum(g[k] for g in got) / len(got)
                                assert info[f"{group}-{k}"] == pytest.approx(want, rel=1e-6), (idx, hp, ds, i, group, k)
                                checked += 1
                        if ds == "cifar10":
                            assert "valid-accuracy" not in info and "valtest-accuracy" not in info
    assert checked > 3000


def test_get_cost_info_equals_the_raw_records(api: NATSCompat, tmp_path: Path) -> None:
    """T-<set>@epoch is the mean over the schedule's epochs: the generated trials' seconds are the same every
    epoch (as NATS-Bench's files), so a record whose seconds grow with the epoch is checked too."""
    idx = NB201[0]
    grown = arch_record(idx, STRINGS[idx], SEED)
    for archres in grown.values():
        for res in archres["all_results"].values():
            res["train_times"] = {i: t * (i + 1) for i, t in res["train_times"].items()}
            res["eval_times"] = {k: t * (int(k.split("@")[1]) + 1) for k, t in res["eval_times"].items()}
    (tmp_path / "src").mkdir()
    write_meta(tmp_path / "src", STRINGS)
    write_pbz2(grown, tmp_path / "src" / f"{idx:06d}.pickle.pbz2")
    import_nats_tss(tmp_path / "src", tmp_path / "tables", progress=False)
    cases = [(api, i, arch_record(i, STRINGS[i], SEED)) for i in NB201] + [(create(str(tmp_path / "tables")), idx, grown)]
    for adapter, idx, record in cases:
        for hp, archres in record.items():
            for ds, seeds in archres["dataset_seed"].items():
                results = [archres["all_results"][(ds, s)] for s in seeds]
                info = adapter.get_cost_info(idx, ds, hp=hp)
                times = [list(r["train_times"].values()) for r in results]
                assert info["T-train@total"] == pytest.approx(np.mean([sum(t) for t in times]), rel=1e-6)
                assert info["T-train@epoch"] == pytest.approx(np.mean([np.mean(t) for t in times]), rel=1e-6)
                for name in results[0]["eval_names"]:
                    total = np.mean([sum(r["eval_times"][f"{name}@{j}"] for j in range(int(hp))) for r in results])
                    assert info[f"T-{name}@total"] == pytest.approx(total, rel=1e-6)
                    assert info[f"T-{name}@epoch"] == pytest.approx(total / int(hp), rel=1e-6)
                lat = [float(np.mean(r["latency"])) for r in results]
                assert info["latency"] == pytest.approx(np.mean(lat), rel=1e-12)
                params = [float(r["params"]) for r in results]
                want = params[seeds.index(888)] if len({f"{p:.5f}" for p in params}) > 1 and 888 in seeds else np.mean(params)
                assert info["params"] == pytest.approx(want, rel=1e-12)


@pytest.fixture(scope="module")
def fixture_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (FIXTURE / "meta.pickle.pbz2").is_file():
        pytest.skip(f"NATS-Bench tss fixture not found at {FIXTURE} (../shared/reference)")
    out = tmp_path_factory.mktemp("nats_fixture")
    import_nats_tss(FIXTURE, out, progress=False)
    return out


def _close(got: Any, want: Any) -> bool:
    """``got == pytest.approx(want, rel=F32)``; for two Python floats, a finite ``want`` and a ``got`` that is
    not NaN, the arithmetic pytest does inline (equal, or ``|want - got| <= max(F32 |want|, 1e-12)``): the
    official API comparison makes over 80,000 of them, and each approx object cost more than the answers."""
    if type(got) is float and type(want) is float and math.isfinite(want) and got == got:
        return got == want or abs(want - got) <= max(F32 * abs(want), 1e-12)
    return got == pytest.approx(want, rel=F32)


@pytest.mark.parametrize("source", ["generated", "official fixture"])
def test_equals_the_official_api(source: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every get_more_info / get_cost_info / get_net_config / simulate_train_eval answer of the official
    package on the same files (its random trial choice replayed from the adapter's rng)."""
    nats_bench = pytest.importorskip("nats_bench", reason="the dev extra installs nats_bench")
    if source == "generated":
        (src, tables), archs = request.getfixturevalue("folders"), NB201
    else:
        src, tables, archs = FIXTURE, request.getfixturevalue("fixture_tables"), FIXTURE_ARCHS
    off = nats_bench.create(str(src), "tss", fast_mode=True, verbose=False)
    api = create(str(tables), "tss", fast_mode=True, verbose=False)
    assert len(api) == len(off) == NUM_ARCHS
    assert api.meta_archs == off.meta_archs
    compared = 0
    for idx in archs:
        assert api.query_index_by_arch(off.arch(idx)) == off.query_index_by_arch(api.arch(idx)) == idx
        for hp in ("12", "200"):
            meta = off.query_meta_info_by_index(idx, hp)  # a deep copy of the arch's records: once per hp
            for ds in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
                seeds = meta.get_dataset_seeds(ds)
                for iepoch in (None, *range(int(hp))):
                    for is_random in [False, *seeds]:
                        want = off.get_more_info(idx, ds, iepoch=iepoch, hp=hp, is_random=is_random)
                        want.pop("comment", None)  # a sentence, not a value
                        got = api.get_more_info(idx, ds, iepoch=iepoch, hp=hp, is_random=is_random)
                        assert set(got) == set(want), (idx, hp, ds, iepoch, is_random)
                        for k, v in want.items():
                            assert _close(got[k], v), (idx, hp, ds, iepoch, is_random, k, got[k], v)
                            compared += 1
                try:
                    cost = off.get_cost_info(idx, ds, hp=hp)
                except ValueError:  # generated params differ between seeds without a seed 888: NATS-Bench fails
                    cost = None
                if cost is not None:
                    got = api.get_cost_info(idx, ds, hp=hp)
                    assert set(got) == set(cost)
                    assert all(got[k] == pytest.approx(v, rel=F32) for k, v in cost.items())
                assert api.get_net_config(idx, ds) == off.get_net_config(idx, ds)
        for ds in ("cifar10", "cifar100", "ImageNet16-120"):  # the same trials drawn: same answers and clocks
            for hp, iepoch in (("12", None), ("12", 3), ("200", None), ("200", 20)):
                draws = copy.deepcopy(api.rng)
                monkeypatch.setattr(random, "choice", lambda seq: seq[int(draws.integers(len(seq)))])
                want = off.simulate_train_eval(STRINGS[idx], ds, iepoch=iepoch, hp=hp)
                got = api.simulate_train_eval(STRINGS[idx], ds, iepoch=iepoch, hp=hp)
                assert got == pytest.approx(want, rel=F32)
                compared += 4
    assert api.used_time == pytest.approx(off.used_time, rel=1e-6) and api.used_time > 0
    assert compared > 80000


def test_simulate_train_eval_charges_as_nats_bench_and_keeps_its_clock(api: NATSCompat) -> None:
    idx = NB201[1]
    archres = arch_record(idx, STRINGS[idx], SEED)
    r12 = archres["12"]["all_results"]
    acc, lat, cost, clock = api.simulate_train_eval(idx, "cifar10", iepoch=3, hp="12")
    trials = [r12[("cifar10-valid", s)] for s in archres["12"]["dataset_seed"]["cifar10-valid"]]
    options = [(_expected(r, "x-valid", 3)["accuracy"],
                _expected(r, "train", 3)["all-time"] + _expected(r, "x-valid", 3)["per-time"]) for r in trials]
    assert any(acc == pytest.approx(a) and cost == pytest.approx(c) for a, c in options)
    assert lat == pytest.approx(float(np.mean(r12[("cifar10", 111)]["latency"])))  # cifar10's latency, as NATS-Bench
    assert clock == api.used_time == pytest.approx(cost)
    _, _, cost2, clock2 = api.simulate_train_eval(STRINGS[idx], "cifar100", iepoch=None, hp="12")
    assert clock2 == pytest.approx(cost + cost2)
    assert api.simulate_train_eval(idx, "cifar100", account_time=False)[3] == clock2
    # cifar100 at hp=200 before the last epoch: no x-valid result, so the valtest accuracy, charged the
    # valid per-epoch seconds of the full schedule
    r200 = archres["200"]["all_results"]
    acc, _, cost, _ = api.simulate_train_eval(idx, "cifar100", iepoch=9, hp="200")
    trials = [r200[("cifar100", s)] for s in archres["200"]["dataset_seed"]["cifar100"]]
    assert any(acc == pytest.approx(_expected(r, "ori-test", 9)["accuracy"]) for r in trials)
    costs = [_expected(r, "train", 9)["all-time"] + _expected(q, "x-valid", 199)["per-time"] for r in trials for q in trials]
    assert any(cost == pytest.approx(c) for c in costs)
    api.reset_time()
    assert api.used_time == 0.0


def test_random_trials_come_from_the_adapters_rng(folders: tuple[Path, Path]) -> None:
    state = random.getstate()
    runs = []
    for _ in range(2):
        a = create(str(folders[1]), rng=np.random.default_rng(7))
        runs.append([a.get_more_info(NB201[0], "cifar10-valid", hp="200")["valid-accuracy"] for _ in range(30)])
    assert runs[0] == runs[1] and len(set(runs[0])) > 1  # reproducible, and more than one trial drawn
    assert random.getstate() == state  # Python's global random is not touched
    with pytest.raises(ArchError, match="np.random.Generator"):
        create(str(folders[1]), rng=random.Random(0))  # type: ignore[arg-type]


def test_indices_are_nats_benchs(api: NATSCompat) -> None:
    order = nb201_order()
    for i in (0, 9, 123, 15624):
        assert api.arch(i) == api[i] == Arch.from_index(int(order[i])).to_str()
        assert api.query_index_by_arch(api.arch(i)) == i
        assert api.query_index_by_arch(Arch.from_index(int(order[i]))) == i

    class Structure:  # what NATS-Bench's genotypes offer
        def tostr(self) -> str:
            return STRINGS[284]

    assert api.query_index_by_arch(Structure()) == 284
    assert api.query_index_by_arch(np.int64(11)) == 11
    with pytest.raises(ArchError, match="returns -1 here; this adapter raises"):
        api.query_index_by_arch("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ArchError, match="invalid NATS-Bench index"):
        api.arch(NUM_ARCHS)
    with pytest.raises(ArchNotInTableError):  # a cell of the space the generated tables do not hold
        api.get_more_info(5, "cifar10-valid")


def test_bad_input_is_one_clear_error(api: NATSCompat, folders: tuple[Path, Path]) -> None:
    cases = [
        (lambda: api.get_more_info(0, "cifar1000"), TableNotFoundError, "no table for dataset 'cifar1000'"),
        (lambda: api.get_more_info(0, "cifar10", hp="90"), TableNotFoundError, "hp='90'"),
        (lambda: api.get_more_info(0, "cifar10", iepoch=12), EpochNotInTableError, "iepoch must be an integer 0..11"),
        (lambda: api.get_more_info(0, "cifar10", iepoch=-1), EpochNotInTableError, "0..11"),
        (lambda: api.get_more_info(0, "cifar10", is_random=999), SeedNotInTableError, "seeds are"),
        (lambda: api.get_more_info(0, "cifar10", is_random="yes"), SeedNotInTableError, "True, False or a seed"),
        (lambda: api.get_more_info(0, "cifar10")["valtest-accuracy"], MissingResultError, "not a key"),
        (lambda: api.simulate_train_eval(0, "cifar10-valid"), TableNotFoundError, "cifar10 reads cifar10-valid"),
        (lambda: create(str(folders[1]), "sss"), TableNotFoundError, "size space"),
        (lambda: create({"meta_archs": []}), TableNotFoundError, "not dict"),
        (lambda: create(str(folders[1] / "nope")), TableNotFoundError, "no table"),
        (lambda: create(str(folders[1]), prefix="mine"), TableNotFoundError, "holds no mine-<dataset>-hp<12|200> tables"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message) as info:
            call()
        assert isinstance(info.value, NasBenchError) and "\n" not in str(info.value)


def test_one_nats_table_alone(folders: tuple[Path, Path], api: NATSCompat) -> None:
    single = create(str(folders[1] / "nats-tss-cifar100-hp200"))
    want = api.get_more_info(NB201[2], "cifar100", hp="200", is_random=False)
    assert single.get_more_info(NB201[2], "cifar100", hp=200, is_random=False) == want
    with pytest.raises(TableNotFoundError, match="no table for dataset 'cifar100' at hp='12'; this adapter has "
                                                 "'cifar100' hp='200'$"):  # no hint naming a dataset as a table
        single.get_more_info(NB201[2], "cifar100")


def test_tables_that_are_not_nats_benchs_are_refused(tmp_path: Path) -> None:
    src = generate_folder(tmp_path / "src", [3], seed=1)  # a synthetic meta order, not NATS-Bench's
    import_nats_tss(src, tmp_path / "t", progress=False)
    with pytest.raises(TableError, match="not NATS-Bench's meta_archs order"):
        create(str(tmp_path / "t")).get_more_info(3, "cifar10")
    write_meta(src, STRINGS)
    write_pbz2(arch_record(3, STRINGS[3], 1), src / "000003.pickle.pbz2")
    import_nats_tss(src, tmp_path / "v", valtest_as_valid=True, progress=False)
    api = create(str(tmp_path / "v"))
    assert api.get_more_info(3, "cifar10", hp="12")["test-accuracy"] > 0  # nothing substituted there
    with pytest.raises(TableError, match="--valtest-as-valid"):
        api.get_more_info(3, "cifar100", hp="200")
    # at hp=12 every x-valid epoch is recorded, nothing was filled: the table is NATS-Bench's (was refused)
    raw = arch_record(3, STRINGS[3], 1)["12"]["all_results"][("cifar100", 111)]["eval_acc1es"]["x-valid@11"]
    assert api.get_more_info(3, "cifar100", hp="12", is_random=False)["valid-accuracy"] == pytest.approx(raw, rel=F32)


def test_our_own_table() -> None:
    bench = load_table("digits")
    api = create("digits", "tss", rng=np.random.default_rng(1))
    assert create(bench).get_cost_info(0, "digits", hp="6") == api.get_cost_info(0, "digits", hp="6")
    with pytest.raises(TableNotFoundError, match="holds one protocol, 6 epochs: pass hp='6'"):
        api.get_more_info(0, "digits")  # NATS-Bench's default hp='12'
    for idx in (0, 2024, 15624):
        ours = int(nb201_order()[idx])
        assert api.query_index_by_arch(Arch.from_index(ours)) == idx
        info = api.get_more_info(idx, "digits", hp="6", is_random=False)
        assert set(info) == {f"{s}-{k}" for s in ("train", "valid", "test")
                             for k in ("loss", "accuracy", "per-time", "all-time")}
        assert info["valid-accuracy"] == pytest.approx(bench.metric(ours, "valid", "acc", epoch=6), rel=1e-9)
        assert info["train-all-time"] == pytest.approx(bench.train_cost(ours, epoch=6), rel=1e-6)
        one = api.get_more_info(idx, "digits", iepoch=1, hp=6, is_random=2)
        assert one["test-loss"] == pytest.approx(bench.metric(ours, "test", "loss", epoch=2, seed=2))
        cost = api.get_cost_info(idx, "digits", hp="6")
        assert cost["params"] == bench.scalar(ours, "params") / 1e6 and "latency" not in cost
        with pytest.raises(MissingResultError, match="records no latency"):
            cost["latency"]
        acc, lat, spent, clock = api.simulate_train_eval(idx, "digits", hp="6")
        assert lat is None and acc in {bench.metric(ours, "valid", "acc", epoch=6, seed=s) for s in bench.seeds}
        assert math.isclose(clock, api.used_time)
    config = api.get_net_config(0, "digits")
    assert (config["C"], config["N"], config["num_classes"], config["in_channels"]) == (8, 1, 10, 1)


def test_random_draws_every_index_of_the_space(api: NATSCompat) -> None:
    """NATS-Bench's random() is random.randint(0, len(meta_archs) - 1): both ends included."""
    api.rng = np.random.default_rng(0)
    drawn = [api.random() for _ in range(200_000)]
    assert min(drawn) == 0 and max(drawn) == NUM_ARCHS - 1 and all(isinstance(i, int) for i in drawn[:10])


def test_our_table_with_a_gap_and_a_latency(tmp_path: Path, results) -> None:
    """On our own tables: a latency scalar is seconds already (only params/flops are converted to millions);
    a trial without a train result at the asked epoch is an error, as NATS-Bench always has train-* keys."""
    from nasbench_suite.table import build_table

    arch, seed = 99, 22
    gap = (results["arch_index"] == arch) & (results["seed"] == seed) & (results["epoch"] == 2)
    bench = build_table(results.loc[~gap].assign(latency=0.0125), tmp_path / "gappy", name="gappy")
    api = create(bench)
    nats = int(np.argsort(nb201_order())[arch])  # NATS-Bench's index of our cell 99
    cost = api.get_cost_info(nats, "gappy", hp="4")
    assert cost["latency"] == 0.0125 and cost["params"] == (1000 + arch) / 1e6
    assert api.get_more_info(nats, "gappy", iepoch=0, hp="4", is_random=seed)["train-accuracy"] > 0
    assert api.get_more_info(nats, "gappy", iepoch=1, hp="4", is_random=11)["train-accuracy"] > 0
    for iepoch in (1, 2):  # its accuracy at epoch 2, or its seconds up to epoch 3
        with pytest.raises(MissingResultError, match=f"no train result recorded at epoch {iepoch + 1} for seed {seed}$"):
            api.get_more_info(nats, "gappy", iepoch=iepoch, hp="4", is_random=seed)
    with pytest.raises(MissingResultError, match=r"no train result recorded at epoch 2 for seeds 11, 22$"):
        api.get_more_info(nats, "gappy", iepoch=1, hp="4", is_random=False)  # the mean over both trials


def test_indices_and_arguments_of_the_wrong_type_are_refused(api: NATSCompat, folders: tuple[Path, Path]) -> None:
    """A boolean is not an index (else True is cell 1), nor an epoch (else iepoch=True is epoch 2); a negative index
    is not counted from the end; numpy's booleans choose the trial as Python's do; 'topology' names the tss
    space; get_unique_str is NATS-Bench's to_unique_str, not the arch string."""
    for bad in (True, np.bool_(False), 3.5, None):
        with pytest.raises(ArchError, match=rf"^cannot read an architecture from {bad!r}: give a NATS-Bench index or "
                                            "arch string$"):
            api.arch(bad)
    with pytest.raises(ArchError, match=rf"^invalid NATS-Bench index -1: indices are 0..{NUM_ARCHS - 1}$"):
        api.query_index_by_arch(-1)
    with pytest.raises(EpochNotInTableError, match=r"^iepoch must be an integer 0..11 or None, got True$"):
        api.get_more_info(NB201[1], "cifar10-valid", iepoch=True)
    mean = api.get_more_info(NB201[1], "cifar10-valid", is_random=False)
    assert api.get_more_info(NB201[1], "cifar10-valid", is_random=np.bool_(False)) == mean
    assert len(api.get_more_info(NB201[1], "cifar10-valid", is_random=np.bool_(True))) == len(mean)
    assert len(create(str(folders[1]), "topology")) == NUM_ARCHS
    ours = int(nb201_order()[NB201[2]])
    assert api.get_unique_str(NB201[2]) == Arch.from_index(ours).canonical_str() != api.arch(NB201[2])
    with pytest.raises(SeedNotInTableError, match=r"^NATS-Bench arch 11 on cifar10-valid hp=12: no trial with seed 5; "
                                                  r"its seeds are \[111, 777\]$"):
        api.get_more_info(11, "cifar10-valid", is_random=5)


def test_a_folder_with_a_table_folder_that_is_not_a_table(tmp_path: Path) -> None:
    """A folder named as an imported table but holding no manifest is not taken as one."""
    (tmp_path / "nats-tss-cifar10-hp12").mkdir()
    with pytest.raises(TableNotFoundError, match="holds no nats-tss-<dataset>-hp<12|200> tables"):
        create(str(tmp_path))


def test_our_table_with_missing_values_and_config(tmp_path: Path, results) -> None:
    """On one of our own tables (a 'benchmark' in its protocol that is not NATS-Bench's): no flops column, no
    valid accuracy (valid seconds only), test seconds missing at an epoch, a cell without any train value, and
    a manifest with channels and classes but no in_channels (3, RGB); a table without channels has no config."""
    import re

    from nasbench_suite.table import build_table

    bare = results.drop(columns=["flops", "valid_acc", "valid_loss"])
    bare.loc[bare["arch_index"] == 1000, ["train_acc", "train_loss", "train_seconds"]] = np.nan
    bare.loc[(bare["arch_index"] == 99) & (bare["epoch"] == 3), "test_seconds"] = np.nan
    bench = build_table(bare, tmp_path / "bare", name="bare", metadata={
        "dataset": {"name": "x", "sha256": "-", "num_classes": 10},
        "protocol": {"benchmark": "NAS-Bench-mine", "epochs": 4, "channels": 16, "cells": 5}})
    api = create(bench)
    nats = np.argsort(nb201_order())
    cost = api.get_cost_info(int(nats[99]), "bare", hp="4")
    assert sorted(cost) == ["T-train@epoch", "T-train@total", "T-valid@epoch", "T-valid@total", "params"]
    assert cost["T-valid@epoch"] == 0.25 and cost["T-valid@total"] == 1.0
    with pytest.raises(MissingResultError, match=rf"^get_cost_info of NATS-Bench arch {nats[99]} on bare hp=4 has no "
                                                 r"'flops': table 'bare' records no flops for this arch; it has params, "
                                                 r"T-train@epoch, T-train@total, T-valid@epoch, T-valid@total$"):
        cost["flops"]
    with pytest.raises(MissingResultError, match="has no 'T-test@total': no test_seconds at some epoch;"):
        cost["T-test@total"]
    info = api.get_more_info(int(nats[99]), "bare", iepoch=0, hp="4", is_random=False)
    assert sorted(info) == sorted(f"{s}-{k}" for s in ("train", "test") for k in ("loss", "accuracy", "per-time",
                                                                                  "all-time"))
    for call in (api.get_more_info, api.get_cost_info):
        with pytest.raises(MissingResultError, match=f"^table 'bare' holds no result for arch {re.escape(str(Arch.from_index(1000)))}$"):
            call(int(nats[1000]), "bare", hp="4")
    assert api.get_net_config(int(nats[99]), "bare") == {"name": "infer.tiny", "C": 16, "N": 5, "num_classes": 10,
                                                         "arch_str": str(Arch.from_index(99)), "in_channels": 3}
    with pytest.raises(TableNotFoundError, match=r"^no table for dataset 'digits'; this adapter has \['bare'\]$"):
        api.get_net_config(0, "digits")
    plain = create(build_table(results, tmp_path / "plain", name="plain"))
    with pytest.raises(TableError, match=r"^table 'plain' records no network config \(protocol channels/cells, "
                                         r"dataset classes\)$"):
        plain.get_net_config(int(nats[99]), "plain")
