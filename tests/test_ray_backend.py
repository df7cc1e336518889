"""The Ray backend as a cluster user meets it: a task runs on a node with its own working folder,
environment and files; a wrong --ray-address fails in seconds; a task's failure is one line.

Most tests run Ray's tasks through :class:`FakeNode`, a stand-in for ``ray`` that runs each task in
this process as another machine would (other working folder, no ``$NASBENCH_DATA_DIR``, its own file
behind the data path), so they need no cluster; the one with a real Ray is in test_pre_evaluate.py."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from nasbench_suite import backends, search
from nasbench_suite.data import DATA_DIR_ENV
from nasbench_suite.pre_evaluate import RunSpec, build_from_store, run_pre_evaluation
from nasbench_suite.train import Protocol
from test_data import _fake_cifar, _write_npz
from test_pre_evaluate import FakeTrainer, _assert_one_line_error, _cli

ray = pytest.importorskip("ray")

NODE_IP = "10.0.0.9"
CIFAR = Protocol(dataset="cifar10-16px", channels=2, cells=1, epochs=1, batch_size=32, train_subset=40)
CIFAR_FLAGS = ["--dataset", "cifar10-16px", "--channels", "2", "--cells", "1", "--epochs", "1", "--batch-size", "32",
               "--train-subset", "40"]


class _Ref:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error


class FakeNode:
    """``ray`` for one remote node: ``task.remote(...)`` runs the task here, in ``cwd``, without
    ``$NASBENCH_DATA_DIR``, after ``on_node()`` (which may swap the node's files); a task's exception
    comes back from ``get`` as Ray's ``RayTaskError(cause)``."""

    exceptions = ray.exceptions

    def __init__(self, cwd: Path, on_node: Callable[[], Callable[[], None]] | None = None) -> None:
        self.cwd, self.on_node, self.up = cwd, on_node, False
        self.util = SimpleNamespace(get_node_ip_address=lambda: NODE_IP)

    def is_initialized(self) -> bool:
        return self.up

    def init(self, **_: Any) -> None:
        self.up = True

    def shutdown(self) -> None:
        self.up = False

    def put(self, value: Any) -> Any:
        return value

    def remote(self, **_: Any) -> Callable[[Callable[..., Any]], SimpleNamespace]:
        return lambda fn: SimpleNamespace(remote=lambda *args: self._run(fn, args))

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> _Ref:
        here, env = Path.cwd(), os.environ.pop(DATA_DIR_ENV, None)
        restore = self.on_node() if self.on_node else (lambda: None)
        backends._WORKER_DATA.clear()  # a fresh worker process on that node: nothing loaded yet
        search._compiled_oracle.cache_clear()
        search._latency_of.cache_clear()
        os.chdir(self.cwd)
        try:
            return _Ref(fn(*args))
        except Exception as exc:  # noqa: BLE001 - what Ray does with a task's exception
            return _Ref(error=ray.exceptions.RayTaskError(fn.__name__, f"ray::{fn.__name__}() (pid={os.getpid()}, ip={NODE_IP})\n  ...", exc,
                                                          proctitle="ray::task", pid=os.getpid(),
                                                          ip=NODE_IP).as_instanceof_cause())
        finally:
            os.chdir(here)
            restore()
            backends._WORKER_DATA.clear()
            if env is not None:
                os.environ[DATA_DIR_ENV] = env

    def wait(self, refs: list[_Ref], num_returns: int = 1) -> tuple[list[_Ref], list[_Ref]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: _Ref) -> Any:
        if ref.error is not None:
            raise ref.error
        return ref.value

    def cancel(self, ref: _Ref, force: bool = False) -> None:
        pass


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The driver's working folder, with the dataset under ./data; the node works in another folder."""
    folder = tmp_path / "driver"
    _write_npz(folder / "data", _fake_cifar(n_train=200, n_test=40))
    (tmp_path / "node").mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setattr(backends, "train_shard_results", FakeTrainer())
    backends._WORKER_DATA.clear()
    return folder


def _use(monkeypatch: pytest.MonkeyPatch, node: FakeNode) -> None:
    monkeypatch.setitem(sys.modules, "ray", node)


def test_a_relative_data_dir_or_the_drivers_environment_reaches_a_node_working_elsewhere(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _use(monkeypatch, FakeNode(tmp_path / "node"))
    spec = RunSpec("0-3", (0,), CIFAR, shard_size=2)
    status = run_pre_evaluation(spec, tmp_path / "rel", data_dir="data", backend="ray", progress=False)
    assert status.complete
    monkeypatch.setenv(DATA_DIR_ENV, "data")  # set only in the driver's shell, relative too
    assert run_pre_evaluation(spec, tmp_path / "env", backend="ray", progress=False).complete
    session = json.loads(next((tmp_path / "rel" / "sessions").glob("*.json")).read_text())
    nodes = session["hardware"]["ray_nodes"]  # where the units were trained, not only the driver
    assert [n["node"] for n in nodes] == [NODE_IP] and {"cpu", "torch", "nasbench_suite", "engine_revision"} <= set(nodes[0])
    build_from_store(tmp_path / "rel", tmp_path / "table")
    rc, out, _ = _cli(capsys, "info", tmp_path / "table")
    assert rc == 0 and f"ray node   node={NODE_IP}, cpu=" in out, out


def test_a_node_with_another_file_behind_the_data_path_is_refused_in_one_line(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    other = tmp_path / "node-data"
    _write_npz(other, _fake_cifar(n_train=200, n_test=40, seed=1))  # same shape, other images
    link = driver / "data-link"
    link.symlink_to(driver / "data")

    def node_files() -> Callable[[], None]:  # on the node, the same path holds another file
        link.unlink()
        link.symlink_to(other)
        return lambda: (link.unlink(), link.symlink_to(driver / "data"))

    _use(monkeypatch, FakeNode(tmp_path / "node", node_files))
    result = _cli(capsys, "pre-evaluate", *CIFAR_FLAGS, "--archs", "0-3", "--seeds", "0", "--shard-size", "2",
                  "--data-dir", link, "--backend", "ray", "--out", tmp_path / "run")
    _assert_one_line_error(result, f"a Ray task on node {NODE_IP} failed: the dataset 'cifar10-16px' read from")
    assert "the run's is" in result[2] and not list((tmp_path / "run" / "shards").rglob("*.csv"))


@pytest.mark.parametrize("differs, says", [({"nasbench_suite": "0.0.1"}, "this node has nasbench_suite 0.0.1"),
                                           ({"trainer_sha256": "0" * 64}, "trainer source 000000000000")])
def test_a_node_with_other_training_code_is_refused_in_one_line(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, differs: dict[str, str],
        says: str) -> None:
    """Another version, or the same version with edited training code (a checkout not yet released)."""
    _use(monkeypatch, FakeNode(tmp_path / "node"))
    facts = backends.node_facts

    monkeypatch.setattr(backends, "node_facts", lambda: {**facts(), **differs})
    result = _cli(capsys, "pre-evaluate", *CIFAR_FLAGS, "--archs", "0-1", "--seeds", "0", "--data-dir", "data",
                  "--backend", "ray", "--out", tmp_path / "run")
    _assert_one_line_error(result, says)


def _search_here_and_on_a_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, link: str, target: Path,
                               *args: str) -> None:
    """``nasbench search ARGS`` from a driver folder holding ``link`` -> ``target`` gives the same runs
    (and manifest) in this process as in Ray tasks on a node working in another folder."""
    (tmp_path / "driver").mkdir()
    (tmp_path / "node").mkdir()
    (tmp_path / "driver" / link).symlink_to(target)
    monkeypatch.chdir(tmp_path / "driver")
    args = ("search", "--strategy", "random", "--seeds", "0-1", "--max-queries", "5", "--workers", "1", *args)
    assert _cli(capsys, *args, "--out", tmp_path / "local")[0] == 0
    _use(monkeypatch, FakeNode(tmp_path / "node"))
    rc, _, err = _cli(capsys, *args, "--backend", "ray", "--out", tmp_path / "ray")
    assert rc == 0, err
    import pandas as pd

    a, b = (pd.read_parquet(tmp_path / d / "trajectories.parquet") for d in ("local", "ray"))
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "local" / "manifest.json").read_bytes() == (tmp_path / "ray" / "manifest.json").read_bytes()


def test_search_tasks_find_a_table_given_by_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys) -> None:
    from nasbench_suite.table import resolve_table

    _search_here_and_on_a_node(tmp_path, monkeypatch, capsys, "tables", resolve_table("digits-sample").parent,
                               "--table", "tables/digits-sample")


def test_search_tasks_find_a_latency_folder_given_by_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys) -> None:
    from nasbench_suite.latency import shipped_latency_folders

    shipped = next(p for p in shipped_latency_folders() if p.name.startswith("digits-cpu-"))
    _search_here_and_on_a_node(tmp_path, monkeypatch, capsys, "lat", shipped,
                               "--table", "digits-sample", "--latency", "lat")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_ray_address_fails_in_seconds_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys) -> None:
    def init(**_: Any) -> None:  # Ray itself retries an unreachable address for minutes
        raise AssertionError("ray.init was called for an address nothing listens on")

    monkeypatch.setattr(ray, "init", init)
    address = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    _assert_one_line_error(_cli(capsys, "pre-evaluate", *CIFAR_FLAGS, "--archs", "0-1", "--seeds", "0",
                                "--backend", "ray", "--ray-address", address, "--out", tmp_path / "run"),
                           f"cannot reach the Ray cluster at {address}")
    assert not (tmp_path / "run").exists()  # checked before the run folder is made
    _assert_one_line_error(_cli(capsys, "search", "--table", "digits-sample", "--strategy", "random", "--seeds", "0",
                                "--max-queries", "3", "--backend", "ray", "--ray-address", address,
                                "--out", tmp_path / "s"), f"cannot reach the Ray cluster at {address}")
    _assert_one_line_error(_cli(capsys, "pre-evaluate", *CIFAR_FLAGS, "--backend", "ray", "--ray-address", "headnode",
                                "--out", tmp_path / "run"), "--ray-address expects HOST:PORT")
    assert time.monotonic() - started < 30


class ClusterNode(FakeNode):
    """``ray`` on a machine where a Ray cluster already runs (``ray start --head``): ``init`` resolves
    its address as Ray 2.60 does (``None``/``auto`` -> ``$RAY_ADDRESS``, else the cluster ``ray start``
    last started here; ``local`` -> a new instance) and, joining a cluster, refuses ``num_cpus``."""

    def __init__(self, cwd: Path, started_here: str | None = None) -> None:
        super().__init__(cwd)
        self.started_here, self.inits = started_here, []

    def init(self, address: str | None = None, num_cpus: int | None = None, **kwargs: Any) -> None:
        if address in (None, "auto"):
            address = os.environ.get("RAY_ADDRESS") or self.started_here
        joins = address not in (None, "local")
        self.inits.append({"joins": address if joins else None, "num_cpus": num_cpus})
        if joins and num_cpus is not None:
            raise ValueError("When connecting to an existing cluster, num_cpus and num_gpus must not be provided.")
        super().init()


def _listening() -> tuple[socket.socket, str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server, f"127.0.0.1:{server.getsockname()[1]}"


def _both_commands(capsys, tmp_path: Path, name: str, *flags: str) -> list[tuple[int, str, str]]:
    return [_cli(capsys, "pre-evaluate", "--dataset", "digits", "--archs", "0-3", "--seeds", "0", "--epochs", "1",
                 "--workers", "2", "--backend", "ray", *flags, "--out", tmp_path / f"pe-{name}"),
            _cli(capsys, "search", "--table", "digits-sample", "--strategy", "random", "--seeds", "0-1",
                 "--max-queries", "5", "--workers", "2", "--backend", "ray", *flags, "--out", tmp_path / f"s-{name}")]


def test_without_ray_address_a_cluster_already_running_here_is_joined_only_when_ray_address_names_it(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """With `ray start --head` run on this machine, a bare ray.init() joins that cluster, where Ray
    refuses num_cpus=--workers: the command failed. Without --ray-address it now starts its own local
    instance of --workers CPUs; $RAY_ADDRESS (Ray's variable, set by `ray job submit`) names the cluster
    as --ray-address does, joined without num_cpus and checked for reachability first."""
    server, address = _listening()
    with server:
        node = ClusterNode(tmp_path / "node", started_here=address)
        _use(monkeypatch, node)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        for rc, _, err in _both_commands(capsys, tmp_path, "here"):
            assert rc == 0, err
        assert node.inits == [{"joins": None, "num_cpus": 2}] * 2

        node.inits.clear()
        monkeypatch.setenv("RAY_ADDRESS", address)
        for rc, _, err in _both_commands(capsys, tmp_path, "env"):
            assert rc == 0, err
        assert node.inits == [{"joins": address, "num_cpus": None}] * 2
    assert (tmp_path / "pe-env" / "run.json").exists() and (tmp_path / "s-env" / "trajectories.parquet").exists()

    closed = f"127.0.0.1:{_closed_port()}"  # $RAY_ADDRESS unreachable: in seconds, before the run folder
    monkeypatch.setenv("RAY_ADDRESS", closed)
    for result in _both_commands(capsys, tmp_path, "closed"):
        _assert_one_line_error(result, f"cannot reach the Ray cluster at {closed} (from $RAY_ADDRESS)")
    assert not (tmp_path / "pe-closed").exists()
    monkeypatch.setenv("RAY_ADDRESS", "headnode")
    _assert_one_line_error(_both_commands(capsys, tmp_path, "bad")[0], "RAY_ADDRESS expects HOST:PORT")


_AUTH_ERROR = getattr(ray.exceptions, "AuthenticationError", None)
"""Ray's token-authentication error; older Rays (2.9, the extra's lower bound) have none, and a module-level
reference to it would stop this whole file from being collected."""


@pytest.mark.parametrize("error", [
    pytest.param(_AUTH_ERROR and _AUTH_ERROR("Token authentication is enabled but no authentication token was found"),
                 marks=pytest.mark.skipif(_AUTH_ERROR is None, reason="this Ray has no AuthenticationError")),
    ConnectionError("Failed to connect to Ray cluster at HOST.")])
def test_a_cluster_wanting_a_token_is_refused_in_one_line_that_says_what_to_set(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, error: Exception) -> None:
    """Ray 2.60: RAY_AUTH_MODE=token without a token raises AuthenticationError (a RayError: it was a
    traceback); without RAY_AUTH_MODE=token a token cluster only says 'Failed to connect'."""
    server, address = _listening()

    def init(**_: Any) -> None:
        raise error

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with server:
        for result in _both_commands(capsys, tmp_path, "token", "--ray-address", address):
            _assert_one_line_error(result, f"cannot connect to the Ray cluster at {address}: ")
            assert "needs RAY_AUTH_MODE=token here and the cluster's token in ~/.ray/auth_token" in result[2]
            assert "For more information" not in result[2]  # Ray's paragraph of help is left out


def test_the_ray_address_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which cluster each --ray-address / $RAY_ADDRESS names, and what check_ray_address refuses or leaves to
    Ray: 'local' (either way) is a new instance, 'auto' is Ray's to resolve, a port must be 1-65535 (65536
    made socket raise an OverflowError traceback), an IPv6 host loses its brackets before connecting."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert backends.cluster_address(None) == (None, "") == backends.cluster_address("local")
    assert backends.cluster_address("h:1") == ("h:1", "--ray-address")
    for env, expected in (("local", (None, "")), (" local ", (None, "")), (" ", (None, "")),
                          ("h:2", ("h:2", "RAY_ADDRESS"))):
        monkeypatch.setenv("RAY_ADDRESS", env)
        assert backends.cluster_address(None) == expected, env
    assert backends.cluster_address("h:1") == ("h:1", "--ray-address")  # the flag before the variable
    monkeypatch.delenv("RAY_ADDRESS")
    tried: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], timeout: float) -> Any:
        tried.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(backends.socket, "create_connection", connect)
    backends.check_ray_address("auto")
    backends.check_ray_address("local")
    assert tried == []
    for bad in ("10.0.0.5:65536", "10.0.0.5:0", "10.0.0.5:", ":6379", "10.0.0.5"):
        with pytest.raises(backends.BackendUnavailableError, match=rf"--ray-address expects HOST:PORT .* got '{bad}'"):
            backends.check_ray_address(bad)
    assert tried == []
    with pytest.raises(backends.BackendUnavailableError) as refused:
        backends.check_ray_address("ray://[::1]:65535")
    assert tried == [("::1", 65535)]
    assert str(refused.value).startswith("cannot reach the Ray cluster at ray://[::1]:65535 (Connection refused): ")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    with pytest.raises(backends.BackendUnavailableError, match=r"at 10\.0\.0\.5:6379 \(from \$RAY_ADDRESS\) \(Conn"):
        backends.check_ray_address(None)


def test_ray_is_started_and_shut_down_only_by_the_run_that_started_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray the caller initialized (a notebook, a script calling the API) is used and left running; one the
    run started is shut down when it ends."""
    node = ClusterNode(tmp_path)
    _use(monkeypatch, node)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    node.up = True
    assert backends.connect_ray(node, None, 2) is False and node.inits == []
    list(backends._run_ray([], CIFAR, None, 2, None, 1, {}, None))
    assert node.up and node.inits == []
    node.up = False
    list(backends._run_ray([], CIFAR, None, 2, None, 1, {}, None))
    assert not node.up and node.inits == [{"joins": None, "num_cpus": 2}]


def test_ray_completed_yields_each_task_once_and_empties_pending(tmp_path: Path) -> None:
    import itertools

    node = FakeNode(tmp_path)
    pending = {_Ref(1): "a", _Ref(2): "b"}
    assert list(itertools.islice(backends.ray_completed(node, pending), 5)) == [("a", 1), ("b", 2)]
    assert pending == {}


def test_a_task_that_ray_could_not_even_import_is_named_by_its_own_error() -> None:
    """Ray nests a task's failure to import its function (nasbench_suite missing on a node) in a second
    RayTaskError: the line names the ImportError, not the wrapper."""
    rte = ray.exceptions.RayTaskError
    inner = rte("g", "ray::g() (pid=1, ip=10.0.0.7)", ImportError("No module named 'nasbench_suite'"),
                proctitle="ray::g", pid=1, ip="10.0.0.7")
    error = backends.ray_failure(ray, rte("f", "ray::f() (pid=2, ip=10.0.0.7)", inner, proctitle="ray::f", pid=2,
                                          ip="10.0.0.7").as_instanceof_cause())
    assert str(error).startswith("a Ray task on node 10.0.0.7 failed: ImportError: No module named 'nasbench_suite' "
                                 "(every node needs nasbench_suite of the same version"), error


def test_a_reachable_cluster_is_tried_once_within_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check connects with a timeout of seconds (Ray's own retries take minutes), the one given or
    RAY_CONNECT_TIMEOUT; an address that accepts passes."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    tried: list[tuple[tuple[str, int], float | None]] = []
    real = socket.create_connection

    def connect(address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        tried.append((address, timeout))
        return real(address, timeout=timeout)

    monkeypatch.setattr(backends.socket, "create_connection", connect)
    server, address = _listening()
    port = int(address.rsplit(":", 1)[1])
    with server:
        backends.check_ray_address(address)
        backends.check_ray_address(f"ray://{address}", timeout=2.5)
    assert tried == [(("127.0.0.1", port), backends.RAY_CONNECT_TIMEOUT), (("127.0.0.1", port), 2.5)]
    assert backends.RAY_CONNECT_TIMEOUT <= 30


@pytest.mark.parametrize("address, mode, error, says", [
    # RAY_AUTH_MODE=token already set: a refusal is not the missing token, so no hint
    ("10.0.0.5:6379", "token", ConnectionError("Failed to connect to Ray cluster at HOST."),
     "cannot connect to the Ray cluster at 10.0.0.5:6379: Failed to connect to Ray cluster at HOST"),
    pytest.param("10.0.0.5:6379", "token", _AUTH_ERROR and _AUTH_ERROR("Token authentication is enabled but no "
                                                                       "authentication token was found"),
                 "cannot connect to the Ray cluster at 10.0.0.5:6379: Token authentication is enabled but no "
                 f"authentication token was found; {backends.RAY_TOKEN_HINT}",
                 marks=pytest.mark.skipif(_AUTH_ERROR is None, reason="this Ray has no AuthenticationError")),
    (None, "", RuntimeError("Maybe you called ray.init twice by accident?\nmore"),
     "cannot connect to the Ray cluster at a new local instance: Maybe you called ray.init twice by accident?"),
])
def test_the_token_hint_is_given_only_where_a_missing_token_may_be_the_cause(
        monkeypatch: pytest.MonkeyPatch, address: str | None, mode: str, error: Exception, says: str) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", mode)
    monkeypatch.setattr(backends, "check_ray_address", lambda address: None)

    def init(**_: Any) -> None:
        raise error

    stand_in = SimpleNamespace(is_initialized=lambda: False, init=init, exceptions=ray.exceptions)
    with pytest.raises(backends.BackendUnavailableError) as refused:
        backends.connect_ray(stand_in, address, 2)
    assert str(refused.value) == says


def test_a_long_failure_is_cut_and_a_task_that_died_says_how_to_resume() -> None:
    """Ray's 'failed to import' lists the whole sys.path: the line keeps its first 300 characters (a
    node's own dataset or version message is kept whole); a task that died is not a task that failed."""
    rte = ray.exceptions.RayTaskError
    long = ImportError("x" * 400)
    error = backends.ray_failure(ray, rte("f", "ray::f() (pid=2, ip=10.0.0.7)", long, proctitle="ray::f", pid=2,
                                          ip="10.0.0.7").as_instanceof_cause())
    assert str(error) == (f"a Ray task on node 10.0.0.7 failed: ImportError: {'x' * 287}... (every node needs "
                          "nasbench_suite of the same version as this machine's, and the data where --data-dir names it)")
    own = backends.DatasetError("d" * 400)
    error = backends.ray_failure(ray, rte("f", "ray::f()", own, proctitle="ray::f", pid=2, ip="10.0.0.7"))
    assert str(error).startswith(f"a Ray task on node 10.0.0.7 failed: {'d' * 400} (every node")
    died = backends.ray_failure(ray, ray.exceptions.WorkerCrashedError())
    assert isinstance(died, backends.WorkerDiedError)
    crashed = str(ray.exceptions.WorkerCrashedError()).strip().splitlines()[0]  # Ray's words differ by version
    assert str(died) == (f"a Ray task died (WorkerCrashedError: {crashed}); every finished result is stored: run the "
                         "same command again to resume")


def test_a_node_with_another_engine_revision_is_refused_and_the_tasks_left_are_cancelled(
        driver: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each task takes one CPU (a local instance of --workers CPUs runs --workers at once); the first failure
    ends the run and cancels every task not yet finished."""

    class Recording(FakeNode):
        def __init__(self, cwd: Path) -> None:
            super().__init__(cwd)
            self.options: list[dict[str, Any]] = []
            self.cancelled: list[tuple[_Ref, bool]] = []

        def remote(self, **options: Any) -> Callable[[Callable[..., Any]], SimpleNamespace]:
            self.options.append(options)
            return super().remote(**options)

        def cancel(self, ref: _Ref, force: bool = False) -> None:
            self.cancelled.append((ref, force))

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    node = Recording(tmp_path / "node")
    _use(monkeypatch, node)
    facts = backends.node_facts
    monkeypatch.setattr(backends, "node_facts", lambda: {**facts(), "engine_revision": -1})
    shards = RunSpec("0-5", (0,), CIFAR, shard_size=2).shards()
    with pytest.raises(backends.RemoteTaskError, match=r"failed: this node has nasbench_suite \S+ \(engine revision -1, "):
        list(backends.run_shards(shards, CIFAR, None, batch_cells=1, backend="ray", expect=backends.trainer_identity()))
    assert node.options == [{"num_cpus": 1}]
    assert len(node.cancelled) == 2 and all(force for _, force in node.cancelled)
