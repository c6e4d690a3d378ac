"""gofutures: concurrent.futures with Go underneath.

A drop-in replacement: ``import gofutures as cf`` gives the names of
``concurrent.futures``. Futures and exceptions are the stdlib's own classes,
so ``except`` clauses, ``concurrent.futures.wait``/``as_completed`` and
asyncio work on gofutures futures unchanged, and gofutures' ``wait`` and
``as_completed`` accept stdlib futures.

Importing gofutures does not start the Go runtime; the first executor does.
"""

import sys
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    InvalidStateError,
    TimeoutError,
    as_completed,
    wait,
)
from typing import TYPE_CHECKING

# Re-exported (the "as" form, for type checkers) but not in __all__: a star
# import gives concurrent.futures' names (as the running Python's has them)
# and gofutures' own exception and executor classes.
from gofutures._install import install as install
from gofutures._install import uninstall as uninstall
from gofutures._native import GoPanicError

if TYPE_CHECKING:
    # What type checkers see; at run time __getattr__ imports these on first
    # use, so that importing gofutures does not import the executors.
    from gofutures._dask import DaskExecutor
    from gofutures._task_fate import WorkerDiedError
    from gofutures.process import ProcessPoolExecutor
    from gofutures.thread import ThreadPoolExecutor

__all__ = (
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "ALL_COMPLETED",
    "CancelledError",
    "TimeoutError",
    "BrokenExecutor",
    "Future",
    "Executor",
    "wait",
    "as_completed",
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",
    "GoPanicError",
    "DaskExecutor",
    "WorkerDiedError",
)
if sys.version_info >= (3, 13):
    # concurrent.futures exports it from 3.13 on (a star import of it before
    # then leaves asyncio's InvalidStateError alone).
    __all__ += ("InvalidStateError",)

__version__ = "0.1.0"


def __dir__() -> list[str]:
    return [*globals(), "ThreadPoolExecutor", "ProcessPoolExecutor", "DaskExecutor", "WorkerDiedError"]


if not TYPE_CHECKING:
    # Hidden from type checkers, which then flag a misspelt attribute of the
    # module instead of typing it as whatever __getattr__ returns.

    def __getattr__(name: str) -> object:
        # Lazy, as in concurrent.futures: worker processes import gofutures
        # submodules without paying for multiprocessing and the executors.
        if name == "ThreadPoolExecutor":
            from gofutures.thread import ThreadPoolExecutor

            return ThreadPoolExecutor
        if name == "ProcessPoolExecutor":
            from gofutures.process import ProcessPoolExecutor

            return ProcessPoolExecutor
        if name == "DaskExecutor":
            # dask and distributed are imported by its constructor, not here.
            from gofutures._dask import DaskExecutor

            return DaskExecutor
        if name == "WorkerDiedError":
            # A BrokenProcessPool: defined where importing multiprocessing
            # is already paid for.
            from gofutures._task_fate import WorkerDiedError

            return WorkerDiedError
        if name in ("io", "http"):
            # gofutures.io and gofutures.http (Go-scheduled I/O), on first use.
            import importlib

            return importlib.import_module(f"gofutures.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
