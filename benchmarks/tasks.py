"""Task functions, importable by worker processes (plain pickle by reference)."""

from __future__ import annotations

import os
import threading
import time


def noop(x: object = None) -> object:
    """The no-op task: returns its argument, so results can be checked."""
    return x


def echo(payload: bytes) -> bytes:
    return payload


def cpu_work(n: int) -> int:
    """Pure-Python CPU-bound loop with a deterministic result."""
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def sleep_task(seconds: float, value: object = None) -> object:
    time.sleep(seconds)
    return value


def pid_task(delay: float = 0.0) -> int:
    if delay:
        time.sleep(delay)
    return os.getpid()


def value_and_pid(i: int) -> tuple[int, int]:
    return i, os.getpid()


def barrier_task(barrier: threading.Barrier, timeout: float) -> int:
    """Blocks until `barrier.parties` tasks run at once (thread pools only)."""
    barrier.wait(timeout)
    return threading.get_ident()
