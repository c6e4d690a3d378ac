"""gofutures: concurrent.futures with Go underneath.

A drop-in replacement: ``import gofutures as cf`` gives the names of
``concurrent.futures``. Futures and exceptions are the stdlib's own classes,
so ``except`` clauses, ``concurrent.futures.wait``/``as_completed`` and
asyncio work on gofutures futures unchanged, and gofutures' ``wait`` and
``as_completed`` accept stdlib futures.

Importing gofutures does not start the Go runtime; the first executor does.
"""

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

from gofutures._native import GoPanicError
from gofutures.process import ProcessPoolExecutor
from gofutures.thread import ThreadPoolExecutor

__all__ = (
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "ALL_COMPLETED",
    "CancelledError",
    "TimeoutError",
    "InvalidStateError",
    "BrokenExecutor",
    "Future",
    "Executor",
    "wait",
    "as_completed",
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",
    "GoPanicError",
)

__version__ = "0.1.0"
