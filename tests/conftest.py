"""Shared fixtures for the concurrent.futures / gofutures parity suite.

Every parity test takes the ``cf`` fixture, which is parametrized over the
stdlib ``concurrent.futures`` package and the ``gofutures`` drop-in
replacement, so each test asserts the same observable outcome for both.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

# Generous bound for waits that are expected to succeed; nothing in the suite
# should ever come close to it.
TIMEOUT = 5.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "portable: a process-pool parity case that does not depend on one machine; "
        "it runs against gofutures.DaskExecutor too (the cf fixture's third "
        "implementation, 'dask')",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``cf``: stdlib and gofutures; and gofutures.DaskExecutor (on a local
    cluster of worker processes, one per test module) for ``portable`` cases."""
    if "cf" in metafunc.fixturenames:
        impls = ["stdlib", "gofutures"]
        if metafunc.definition.get_closest_marker("portable") is not None:
            impls.append("dask")
        metafunc.parametrize("cf", impls, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A portable case runs once against DaskExecutor, not once per
    multiprocessing context (``pp_ctx``): its workers are the cluster's."""
    dropped = [
        item for item in items
        if (params := getattr(getattr(item, "callspec", None), "params", {})).get("cf") == "dask"
        and params.get("pp_ctx", "spawn") != "spawn"
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in set(dropped)]


@pytest.fixture
def cf(request: pytest.FixtureRequest) -> types.ModuleType:
    """The module under test: ``concurrent.futures`` or ``gofutures``; or,
    for ``dask``, gofutures whose ProcessPoolExecutor is a DaskExecutor."""
    if request.param == "stdlib":
        return importlib.import_module("concurrent.futures")
    if request.param == "dask":
        return request.getfixturevalue("dask_cf")
    return _installed_gofutures()


@pytest.fixture(scope="module")
def dask_cf() -> Iterator[types.ModuleType]:
    """gofutures, but ``ProcessPoolExecutor(...)`` makes a DaskExecutor on a
    local cluster of 2 worker processes of 1 thread each (started once per
    test module; the pool's arguments are ignored: the cluster is the pool)."""
    distributed = pytest.importorskip("distributed", reason="dask not installed")
    gofutures = _installed_gofutures()
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
    )
    client = distributed.Client(cluster, set_as_default=False)
    module = types.ModuleType("gofutures[dask]")
    module.__dict__.update(
        {name: getattr(gofutures, name) for name in gofutures.__all__ if name != "DaskExecutor"}
    )

    def ProcessPoolExecutor(*args: Any, **kwargs: Any) -> Any:
        return gofutures.DaskExecutor(client=client)

    module.ProcessPoolExecutor = ProcessPoolExecutor  # type: ignore[attr-defined]
    try:
        yield module
    finally:
        client.close()
        cluster.close()


# How the suite is meant to run: the package installed into the venv, and
# pytest started with -P so that the repository root (where ``gofutures/``
# holds the Go sources) is not on sys.path.
_HOW_TO_RUN = "run `make install`, then `.venv/bin/python -P -m pytest` (or `make test`)"


def _installed_gofutures() -> types.ModuleType:
    """The installed gofutures package. A setup where it is missing, or
    where ``gofutures`` is the Go source directory, fails the test with a
    message that says so: never a skip, which would leave the run green
    with half of the suite not run. Any other import error (a submodule or
    the extension failing) propagates as it is."""
    module: types.ModuleType | None = None
    try:
        module = importlib.import_module("gofutures")
    except ImportError as exc:
        if exc.name != "gofutures":
            raise
    if module is None:
        pytest.fail(f"gofutures is not installed in {sys.executable}: {_HOW_TO_RUN}", pytrace=False)
    if getattr(module, "__file__", None) is None:
        where = ", ".join(getattr(module, "__path__", []))
        pytest.fail(
            f"gofutures resolves to {where}, a directory without __init__.py (the Go "
            f"sources?), not the installed package: {_HOW_TO_RUN}",
            pytrace=False,
        )
    return module


@pytest.fixture
def cf_thread(cf: types.ModuleType) -> types.ModuleType:
    """The ``thread`` submodule of the module under test."""
    return importlib.import_module(cf.__name__ + ".thread")


class Harness:
    """Creates executors and events and cleans them up after the test.

    At teardown every event handed out is set first (so no task stays blocked)
    and then every executor is shut down, waiting for its workers.
    """

    def __init__(self, cf: types.ModuleType) -> None:
        self.cf = cf
        self._executors: list[Any] = []
        self._events: list[threading.Event] = []

    def executor(self, *args: Any, **kwargs: Any) -> Any:
        ex = self.cf.ThreadPoolExecutor(*args, **kwargs)
        self._executors.append(ex)
        return ex

    def track(self, executor: Any) -> Any:
        """Register an executor created elsewhere for cleanup."""
        self._executors.append(executor)
        return executor

    def event(self) -> threading.Event:
        ev = threading.Event()
        self._events.append(ev)
        return ev

    def close(self) -> None:
        for ev in self._events:
            ev.set()
        for ex in self._executors:
            ex.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def harness(cf: types.ModuleType) -> Iterator[Harness]:
    h = Harness(cf)
    try:
        yield h
    finally:
        h.close()


def _tblib_free(table: dict[Any, Any]) -> dict[Any, Any]:
    return {cls: reduce for cls, reduce in table.items()
            if getattr(reduce, "__module__", "") != "tblib.pickling_support"}


@pytest.fixture(autouse=True)
def _stdlib_exception_pickling(request: pytest.FixtureRequest) -> Iterator[None]:
    """Importing distributed (the Dask tests) registers tblib's reducers for
    every exception class in copyreg, for the whole process: exceptions then
    pickle differently in every pool, the stdlib's too (SystemExit.code is
    lost). Tests that do not use Dask run with the table as Python has it, as
    a user's program without distributed does; the Dask ones keep it."""
    import copyreg

    if "dask" in request.node.nodeid:
        yield
        return
    saved = dict(copyreg.dispatch_table)
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(_tblib_free(saved))
    try:
        yield
    finally:
        copyreg.dispatch_table.clear()
        copyreg.dispatch_table.update(saved)
