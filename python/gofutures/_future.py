"""The Future class the executors return: concurrent.futures.Future with a
cheaper condition.

``Future.__init__`` builds a ``threading.Condition``, which binds six lock
methods onto each instance: six more objects for the cyclic GC per future,
and the GC is the largest single cost of many pending futures (perf: about
40% of a no-op submit). ``_FutureCondition`` is a Condition whose lock
methods are class methods instead, so behaviour is unchanged (every
Condition method goes through them) and a future's life (create, run,
complete, result) costs about 40% less.

The executor-side transitions (set_running_or_notify_cancel, set_result,
set_exception) are the stdlib's, step for step, with the Python-level
overhead taken out: they hold the condition's lock directly (the stdlib goes
through Condition.__enter__/__exit__), notify only when a thread waits, and
call the callbacks only when there are some. About 1 us less a task.

Lists and deques are made when first used, not per future: a future that
nobody waits on with wait()/as_completed(), whose result() is not awaited
while pending, and that has no done-callbacks is four objects for the
cyclic GC while pending (the future, its condition, the condition's RLock,
the executor's work item) and three once done, instead of seven. That
halves the pause of a full collection with many futures held (80-100 ms
with 20,000 held at seven objects each, 40-56 ms at four) and cuts the
collections a burst of submits triggers.

The class keeps the stdlib name, so repr() reads ``<Future at ... state=...>``;
it is a subclass, so isinstance checks, the stdlib's wait() and
as_completed() (which use ``_condition`` and ``_waiters``) and asyncio accept
it.
"""

from __future__ import annotations

import collections
import threading
from _thread import RLock
from concurrent.futures import InvalidStateError, _base
from typing import Any, Generic, TypeVar

T = TypeVar("T")


# What a future's lists and its condition's deque read as until first used.
_UNUSED: tuple[()] = ()


class _FutureCondition(threading.Condition):
    # Condition.notify() and notify_all() read an empty tuple as no waiters;
    # wait() makes the deque.
    _waiters: Any = _UNUSED

    def __init__(self) -> None:
        self._lock = RLock()

    def wait(self, timeout: float | None = None) -> bool:
        if self._waiters is _UNUSED and self._is_owned():
            self._waiters = collections.deque()
        return super().wait(timeout)

    def acquire(self, *args: Any) -> bool:
        return self._lock.acquire(*args)

    def release(self) -> None:
        self._lock.release()

    def _release_save(self) -> Any:
        return self._lock._release_save()  # type: ignore[attr-defined]

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)  # type: ignore[attr-defined]

    def _is_owned(self) -> bool:
        return self._lock._is_owned()  # type: ignore[attr-defined,no-any-return]


class _WaiterList:
    """``future._waiters``, made on first use: the stdlib's wait() and
    as_completed() append to it and remove from it (under the future's
    condition). The executor side iterates ``_waiter_list``, the same list
    once made, an empty tuple before, so completing a future never makes one."""

    def __get__(self, future: Future[Any] | None, owner: type | None = None) -> Any:
        if future is None:
            return self
        waiters = future._waiter_list
        if waiters is _UNUSED:
            waiters = future._waiter_list = []
        future._waiters = waiters  # the instance's from now on
        return waiters


class Future(_base.Future, Generic[T]):  # type: ignore[type-arg]
    """concurrent.futures.Future, with the state the stdlib's __init__ sets;
    ``_waiters`` and ``_done_callbacks`` are made when first used."""

    _condition: _FutureCondition
    _waiters = _WaiterList()
    _waiter_list: Any = _UNUSED
    _done_callbacks: Any = _UNUSED

    def __init__(self) -> None:
        self._condition = _FutureCondition()
        self._state = _base.PENDING
        self._result = None
        self._exception = None

    def add_done_callback(self, fn: Any) -> None:
        with self._condition._lock:
            if self._state not in _DONE:
                if self._done_callbacks is _UNUSED:
                    self._done_callbacks = [fn]
                else:
                    self._done_callbacks.append(fn)
                return
        try:
            fn(self)
        except Exception:
            _base.LOGGER.exception("exception calling callback for %r", self)

    def set_running_or_notify_cancel(self) -> bool:
        with self._condition._lock:
            state = self._state
            if state == _PENDING:
                self._state = _RUNNING
                return True
            if state == _CANCELLED:
                self._state = _CANCELLED_AND_NOTIFIED
                for waiter in self._waiter_list:
                    waiter.add_cancelled(self)
                # cancel() already notified the condition, as in the stdlib.
                return False
            _base.LOGGER.critical("Future %s in unexpected state: %s", id(self), state)
            raise RuntimeError("Future in unexpected state")

    def set_result(self, result: Any) -> None:
        self._finish("_result", result, "add_result")

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish("_exception", exception, "add_exception")

    def _finish(self, field: str, value: Any, waiter_method: str) -> None:
        """set_result/set_exception: store value in field, wake everyone."""
        condition = self._condition
        with condition._lock:
            if self._state in _DONE:
                raise InvalidStateError(f"{self._state}: {self!r}")
            setattr(self, field, value)
            self._state = _FINISHED
            for waiter in self._waiter_list:
                getattr(waiter, waiter_method)(self)
            if condition._waiters:
                condition.notify_all()
        if self._done_callbacks:
            self._invoke_callbacks()  # type: ignore[attr-defined]

    add_done_callback.__doc__ = _base.Future.add_done_callback.__doc__
    set_running_or_notify_cancel.__doc__ = _base.Future.set_running_or_notify_cancel.__doc__
    set_result.__doc__ = _base.Future.set_result.__doc__
    set_exception.__doc__ = _base.Future.set_exception.__doc__


_PENDING = _base.PENDING
_RUNNING = _base.RUNNING
_CANCELLED = _base.CANCELLED
_CANCELLED_AND_NOTIFIED = _base.CANCELLED_AND_NOTIFIED
_FINISHED = _base.FINISHED
_DONE = frozenset((_base.CANCELLED, _base.CANCELLED_AND_NOTIFIED, _base.FINISHED))
