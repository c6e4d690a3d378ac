"""Pool-level force for the process pool: Python 3.14's terminate_workers()
and kill_workers() on every Python, shutdown(timeout=...) (its timeout
checked by _timeout), and the max_worker_memory argument's checks.

terminate_workers() / kill_workers() follow CPython 3.14's
ProcessPoolExecutor._force_shutdown: shut the pool down without waiting,
cancelling the futures still pending, then send SIGTERM / SIGKILL to every
live worker. A worker that dies with a task (or while tasks wait for a
worker) breaks the pool: those futures fail with BrokenProcessPool, saying
which signal ended the worker. Neither waits; calling either on a pool that
has no workers, or twice, does nothing more.

shutdown(wait=True, timeout=t): as shutdown(wait=True), but once t seconds
have passed with tasks still running, their workers are killed and their
futures (and any still waiting for a worker) fail with BrokenProcessPool,
whose message says the shutdown timeout passed; shutdown then returns once
the killed workers are reaped.
"""

from __future__ import annotations

import operator
import signal
import time
from typing import TYPE_CHECKING, Any, Literal

from gofutures import _native

if TYPE_CHECKING:
    from gofutures.process import ProcessPoolExecutor

Operation = Literal["terminate", "kill"]

_SIGNALS = {"terminate": signal.SIGTERM, "kill": signal.SIGKILL}


def check_max_worker_memory(limit: object) -> int:
    """max_worker_memory in bytes (0: no limit), checked as the constructor
    checks max_tasks_per_child."""
    if limit is None:
        return 0
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("max_worker_memory must be an integer")
    if limit < 1:
        raise ValueError("max_worker_memory must be >= 1")
    return min(operator.index(limit), 2**63 - 1)


def timeout_detail(timeout: float) -> str:
    """What the futures still running when shutdown's timeout passed fail
    with (BrokenProcessPool's message)."""
    return (
        f"shutdown(timeout={timeout:g}) passed with tasks still running: "
        "their worker processes were killed"
    )


def force_stop(pool_id: int | None, operation: Operation) -> None:
    """Signal every live worker of Go pool pool_id (the caller has shut it
    down already); nothing if it never started or has finished."""
    if pool_id is not None:
        _native.call("ProcPoolForceStop", pool_id, int(_SIGNALS[operation]))


def join_until(pool_id: int, deadline: float) -> bool:
    """Wait for Go pool pool_id to finish until time.monotonic() reaches
    deadline, in short slices (Ctrl-C stays responsive); report whether it
    finished."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ms = max(1, min(_native.JOIN_SLICE_MS, int(left * 1000)))
        # ProcPoolJoin may wait up to twice ms: halve the slice.
        if _native.call("ProcPoolJoin", pool_id, max(1, ms // 2)):
            return True


def break_pool(pool_id: int, detail: str) -> None:
    """Kill every worker of Go pool pool_id; each future not yet done fails
    with BrokenProcessPool(detail)."""
    _native.call("ProcPoolBreak", pool_id, detail)


def stdlib_force_shutdown(executor: ProcessPoolExecutor, operation: Operation) -> None:
    """terminate_workers()/kill_workers() for a pool that runs the stdlib's
    implementation (a forked child): 3.14's steps, on its attributes."""
    processes: dict[int, Any] = dict(executor.__dict__.get("_processes") or {})
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in processes.values():
        try:
            if not proc.is_alive():
                continue
            if operation == "terminate":
                proc.terminate()
            else:
                proc.kill()
        except (ValueError, ProcessLookupError):
            continue  # closed, or ended meanwhile


def stdlib_shutdown_timeout(
    executor: ProcessPoolExecutor, cancel_futures: bool, timeout: float
) -> None:
    """shutdown(wait=True, timeout=...) for a pool that runs the stdlib's
    implementation: the stdlib's manager thread fails the futures of the
    killed workers with its own BrokenProcessPool message."""
    processes: dict[int, Any] = dict(executor.__dict__.get("_processes") or {})
    manager = executor.__dict__.get("_executor_manager_thread")
    executor.shutdown(wait=False, cancel_futures=cancel_futures)
    if manager is not None:
        manager.join(timeout)
        if manager.is_alive():
            for proc in processes.values():
                try:
                    proc.kill()
                except (ValueError, ProcessLookupError):
                    continue
            manager.join()
    for proc in processes.values():
        try:
            proc.join()
        except (ValueError, AssertionError):
            continue
