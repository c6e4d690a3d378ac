"""Adapters giving every implementation the same small interface.

A pool object has ``submit(fn, *args) -> Future``, ``map(fn, iterable,
chunksize=...) -> iterator`` and ``shutdown()`` (waits). stdlib, gofutures and
loky executors already have it; pebble's pools are wrapped (pebble schedules
with ``schedule(fn, args=...)``, its ``map`` returns a future of an iterator,
and it shuts down with ``close()`` + ``join()``).
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

STDLIB = "stdlib"
GOFUTURES = "gofutures"
LOKY = "loky"
PEBBLE = "pebble"
ALL = (STDLIB, GOFUTURES, LOKY, PEBBLE)

# concurrent.futures.ThreadPoolExecutor's default, given explicitly to pebble
# (whose default is 2) so that "default workers" means the same everywhere.
DEFAULT_THREAD_WORKERS = min(32, (os.cpu_count() or 1) + 4)


class _PebblePool:
    """What pebble's thread and process pools share; subclasses set _pool."""

    _pool: Any

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        return self._pool.schedule(fn, args=args)

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1
            ) -> Iterator[Any]:
        return self._pool.map(fn, iterable, chunksize=chunksize).result()

    def shutdown(self) -> None:
        self._pool.close()
        self._pool.join()


class _PebbleThreadPool(_PebblePool):
    def __init__(self, max_workers: int | None) -> None:
        import pebble

        self._pool = pebble.ThreadPool(max_workers=max_workers or DEFAULT_THREAD_WORKERS)
        # pebble >= 5.1 has submit(fn, /, *args): no adapter call per task.
        native_submit = getattr(self._pool, "submit", None)
        if native_submit is not None:
            self.submit = native_submit  # type: ignore[method-assign]


class _PebbleProcessPool(_PebblePool):
    def __init__(self, max_workers: int, context: str | None = None,
                 max_tasks_per_child: int | None = None) -> None:
        import pebble

        kwargs: dict[str, Any] = {"max_workers": max_workers,
                                  "max_tasks": max_tasks_per_child or 0}
        if context is not None:
            kwargs["context"] = mp.get_context(context)
        self._pool = pebble.ProcessPool(**kwargs)


class _ExecutorPool:
    """A concurrent.futures-style executor; shutdown() always waits."""

    def __init__(self, executor: cf.Executor) -> None:
        self.executor = executor
        self.submit = executor.submit

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1
            ) -> Iterator[Any]:
        return self.executor.map(fn, iterable, chunksize=chunksize)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


@dataclass
class Impl:
    name: str
    module: Any = None
    version: str = ""
    error: str = ""  # why it is unavailable
    notes: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.module is not None

    # -- thread pools --------------------------------------------------------
    @property
    def has_threads(self) -> bool:
        return self.name != LOKY

    def thread_pool(self, max_workers: int | None = None) -> Any:
        if self.name == PEBBLE:
            return _PebbleThreadPool(max_workers)
        return _ExecutorPool(self.module.ThreadPoolExecutor(max_workers=max_workers))

    # -- process pools -------------------------------------------------------
    def process_pool(self, max_workers: int, context: str | None = None,
                     max_tasks_per_child: int | None = None) -> Any:
        if self.name == PEBBLE:
            return _PebbleProcessPool(max_workers, context, max_tasks_per_child)
        kwargs: dict[str, Any] = {"max_workers": max_workers}
        if self.name == LOKY:
            if max_tasks_per_child is not None:
                raise NotImplementedError("loky has no max_tasks_per_child")
            if context is not None:
                kwargs["context"] = context
            return _ExecutorPool(self.module.ProcessPoolExecutor(**kwargs))
        if context is not None:
            kwargs["mp_context"] = mp.get_context(context)
        if max_tasks_per_child is not None:
            kwargs["max_tasks_per_child"] = max_tasks_per_child
        return _ExecutorPool(self.module.ProcessPoolExecutor(**kwargs))

    def as_completed(self, futures: Iterable[cf.Future[Any]]) -> Iterator[cf.Future[Any]]:
        # gofutures' as_completed is the stdlib's; pebble's and loky's futures
        # subclass concurrent.futures.Future, so the stdlib one works for all.
        fn = getattr(self.module, "as_completed", cf.as_completed)
        return fn(futures)


_MODULES = {STDLIB: "concurrent.futures", GOFUTURES: "gofutures", LOKY: "loky",
            PEBBLE: "pebble"}


def load(names: Iterable[str] = ALL) -> dict[str, Impl]:
    """Import each implementation; an unimportable peer is kept with an error."""
    impls: dict[str, Impl] = {}
    for name in names:
        impl = Impl(name)
        try:
            impl.module = importlib.import_module(_MODULES[name])
        except Exception as exc:  # ImportError, or a broken build
            impl.error = f"{type(exc).__name__}: {exc}"
        else:
            if name == STDLIB:
                import platform

                impl.version = platform.python_version()
            else:
                impl.version = getattr(impl.module, "__version__", "?")
        impls[name] = impl
    return impls
