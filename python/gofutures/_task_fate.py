"""Per-task fates in the process pool: a deadline (``task_timeout=``,
``schedule(..., timeout=)``), ``on_worker_death="fail_task"`` and
``terminate_task(future)``.

Go does the work (gofutures/procpool/fate.go): it kills the worker running
the one task (SIGKILL), reports that task alone (an event of its own kind)
and starts a replacement worker through the pool's usual path; the pool goes
on. Here: validating the arguments (a deadline's, in _timeout), the
exceptions the futures get, and ending a future cancelled for
terminate_task.

This module imports concurrent.futures.process (and so multiprocessing):
``import gofutures`` imports it only when ``gofutures.WorkerDiedError`` is
first used (its module ``__getattr__``), and gofutures.process imports it.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import _base as _stdlib_base
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Literal

from gofutures import _native

if TYPE_CHECKING:
    from concurrent.futures import Future

    from gofutures.process import _PoolState

__all__ = ("WorkerDiedError",)

OnWorkerDeath = Literal["break", "fail_task"]


class WorkerDiedError(BrokenProcessPool):
    """The worker process running this future's task died (a segfault,
    ``os._exit``, a SIGKILL from outside), with
    ``ProcessPoolExecutor(on_worker_death="fail_task")``: only this future
    failed, the worker was replaced and the pool goes on.

    ``pid`` is the worker's pid; ``exitcode`` its exit code if it exited,
    else None; ``signal`` the signal that ended it, else None. The message
    says how it ended, as a broken pool's does.
    """

    def __init__(
        self, message: str, *, pid: int = 0, exitcode: int | None = None, signal: int | None = None
    ) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode
        self.signal = signal

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the attributes through pickle (the keyword-only arguments
        # are not in self.args).
        return (_rebuild, (str(self), self.pid, self.exitcode, self.signal))


def _rebuild(message: str, pid: int, exitcode: int | None, signal: int | None) -> WorkerDiedError:
    return WorkerDiedError(message, pid=pid, exitcode=exitcode, signal=signal)


def check_on_worker_death(value: object) -> bool:
    """Whether on_worker_death asks for "fail_task" (else "break")."""
    if value == "break" and isinstance(value, str):
        return False
    if value == "fail_task" and isinstance(value, str):
        return True
    raise ValueError(f"on_worker_death must be 'break' or 'fail_task', not {value!r}")


def to_ns(seconds: float | None) -> int:
    """A deadline for Go: nanoseconds, 0 for none (at least 1 for a deadline)."""
    if seconds is None:
        return 0
    return max(1, min(round(seconds * 1e9), 2**63 - 1))


# The deadline schedule() gives the task that submit() on this thread is
# about to hand to Go (submit's signature has no room for it).
_next = threading.local()


def set_next_timeout(ns: int | None) -> None:
    _next.ns = ns


def take_next_timeout() -> int | None:
    """The deadline schedule() set for the task being submitted, once."""
    ns: int | None = getattr(_next, "ns", None)
    if ns is not None:
        _next.ns = None
    return ns


# Why a worker the pool cannot replace cannot have a task killed.
NOT_REPLACEABLE = (
    "{what} needs a pool that can replace its workers, and this 'fork' pool's "
    "zygote became its last worker: create the pool with task_timeout= (math.inf "
    "for no default deadline), on_worker_death='fail_task' or max_tasks_per_child=, "
    "or use the 'spawn' or 'forkserver' start method"
)


def kinds() -> dict[int, str]:
    """The event kinds of per-task fates, by value."""
    return {
        _native.const("event", "TIMEOUT"): "TIMEOUT",
        _native.const("event", "TERMINATED"): "TERMINATED",
        _native.const("event", "DIED"): "DIED",
    }


def complete(future: Future[Any], kind: str, data: bytes) -> None:
    """End a future whose task Go ended on its own (kind from kinds())."""
    if kind == "TIMEOUT":
        facts = json.loads(bytes(data))
        future.set_exception(
            TimeoutError(
                f"the task did not finish within its timeout of {facts['timeout']:g} seconds: "
                f"its worker (pid {facts['pid']}) was killed with SIGKILL and replaced"
            )
        )
    elif kind == "DIED":
        future.set_exception(worker_died(data))
    # TERMINATED: terminate_task ended the future already.


def worker_died(facts_json: bytes) -> WorkerDiedError:
    from gofutures.process import _broken_messages

    facts = json.loads(bytes(facts_json))
    message, _ = _broken_messages(facts_json)
    signal = facts.get("signal") or None
    unknown = "unknown" in facts.get("status", "")
    exitcode = None if signal or unknown else facts.get("code", 0)
    return WorkerDiedError(message, pid=facts.get("pid", 0), exitcode=exitcode, signal=signal)


def terminate_task(st: _PoolState, future: Future[Any]) -> bool:
    """ProcessPoolExecutor.terminate_task: see its docstring."""
    from gofutures.process import _ProcFuture, _promote

    if not isinstance(future, _ProcFuture) or st.pool_id is None:
        return False
    task_id = future._task_id
    with st.lock:
        item = st.items.get(task_id)
        if item is None or item.future is not future:
            return False  # done, or another pool's
    if future.cancel():
        return True  # pending: cancelled as cancel() does
    with st.lock:
        item = st.items.get(task_id)
        if item is None or item.future is not future:
            return False  # it finished meanwhile
        if not st.replaceable:
            raise RuntimeError(NOT_REPLACEABLE.format(what="terminate_task()"))
        # Under st.lock: the pump cannot complete the future meanwhile; an
        # event Go still reports for the task finds no item and is dropped.
        if not _native.call("ProcPoolTerminate", st.pool_id, task_id):
            return False  # reported already: the pump will complete it
        del st.items[task_id]
        st.running -= item.counted
        _promote(st)
        with future._condition._lock:  # not Condition.__enter__: see _ProcFuture.cancel()
            # RUNNING -> cancelled, as cancel() does for a pending future,
            # and what set_running_or_notify_cancel() then does for waiters.
            future._state = _stdlib_base.CANCELLED_AND_NOTIFIED
            for waiter in future._waiter_list:
                waiter.add_cancelled(future)
            future._condition.notify_all()
    future._invoke_callbacks()  # type: ignore[attr-defined]
    return True
