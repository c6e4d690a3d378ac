"""Shared fixtures for the concurrent.futures / gofutures parity suite.

Every parity test takes the ``cf`` fixture, which is parametrized over the
stdlib ``concurrent.futures`` package and the ``gofutures`` drop-in
replacement, so each test asserts the same observable outcome for both.
"""

from __future__ import annotations

import importlib
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

# Generous bound for waits that are expected to succeed; nothing in the suite
# should ever come close to it.
TIMEOUT = 5.0


@pytest.fixture(params=["stdlib", "gofutures"])
def cf(request: pytest.FixtureRequest) -> types.ModuleType:
    """The module under test: ``concurrent.futures`` or ``gofutures``."""
    if request.param == "stdlib":
        return importlib.import_module("concurrent.futures")
    try:
        module = importlib.import_module("gofutures")
    except ImportError as exc:
        # Skip only when gofutures itself is missing; a broken gofutures (for
        # example a failing import of one of its own submodules or of its
        # native extension) must fail loudly instead.
        if exc.name != "gofutures":
            raise
        pytest.skip("gofutures is not importable yet")
    if getattr(module, "__file__", None) is None:
        # Only a namespace package was found (e.g. the Go source directory
        # ``gofutures/`` without an ``__init__.py``): the Python package
        # itself does not exist yet.
        pytest.skip("gofutures is not importable yet (namespace package only)")
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
