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

The condition, its lock, the lists and the deque are made when first
used, not per future: a future that nobody waits on with wait() or
as_completed(), whose result() is not awaited while pending, and that has
no done-callbacks is two objects for the cyclic GC while pending (the
future and the executor's work item) and one once done, instead of seven
(the stdlib's: eight once done). Until its condition exists, the future's
state changes under a lock of the module (``_state_lock``, one of 61 by
the future's id), under which no condition is made either; afterwards,
under the condition's lock, as in the stdlib. Either is taken with
``with`` (Future._under_lock), so an interrupt cannot leave it held. Fewer
objects mean fewer collections during a burst of submits (20,000 HTTP
submits: 65 instead of 122) and shorter pauses in a full one (20,000
pending Go-task futures: 10-12 ms instead of 30-36).

The class keeps the stdlib name, so repr() reads ``<Future at ... state=...>``;
it is a subclass, so isinstance checks, the stdlib's wait() and
as_completed() (which use ``_condition`` and ``_waiters``) and asyncio accept
it.
"""

from __future__ import annotations

import collections
import os
import threading
from _thread import RLock
from collections.abc import Callable
from concurrent.futures import InvalidStateError, _base
from typing import Any, Generic, TypeVar

from gofutures._executor import shallow_copy

T = TypeVar("T")
R = TypeVar("R")


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

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()  # type: ignore[attr-defined]
        self._waiters = _UNUSED

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


# Guard the state of the futures that have no condition yet, and the making
# of their conditions (see the module's docstring): a future's is
# _state_lock(future). Held for a few bytecodes at a time; reentrant, so a
# repr() made while one is held can make a condition. One lock for all
# futures made threads queue on it whenever the GIL switched inside one of
# those few bytecodes: 20,000 no-op submits and results took 1.5x as long.
_STATE_LOCK_COUNT = 61  # a prime: ids step by the object's size
_STATE_LOCKS = tuple(RLock() for _ in range(_STATE_LOCK_COUNT))


def _state_lock(future: object) -> Any:
    return _STATE_LOCKS[id(future) % _STATE_LOCK_COUNT]


def _reinit_state_locks() -> None:
    # A thread of the parent may have held one: in the child it never ends.
    for lock in _STATE_LOCKS:
        lock._at_fork_reinit()  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_state_locks)


class Future(_base.Future, Generic[T]):  # type: ignore[type-arg]
    """concurrent.futures.Future, with the state the stdlib's __init__ sets;
    ``_condition``, ``_waiters`` and ``_done_callbacks`` are made when first
    used."""

    _cond: _FutureCondition | None = None
    _waiters = _WaiterList()
    _waiter_list: Any = _UNUSED
    _done_callbacks: Any = _UNUSED

    def __init__(self) -> None:
        self._state = _base.PENDING
        self._result = None
        self._exception = None

    @property  # type: ignore[override]
    def _condition(self) -> _FutureCondition:
        """The stdlib's condition (wait(), as_completed() and a result() that
        waits use it), made on first use."""
        cond = self._cond
        if cond is None:
            with _state_lock(self):
                cond = self._cond
                if cond is None:
                    cond = self._cond = _FutureCondition()
        return cond

    @_condition.setter
    def _condition(self, cond: Any) -> None:
        self._cond = cond

    def __reduce_ex__(self, protocol: Any) -> Any:
        """The stdlib's future holds an RLock (in its condition) from the
        start, so pickle and deepcopy refuse it: so they refuse this one (a
        pending future passed to a process task would never complete)."""
        raise TypeError("cannot pickle '_thread.RLock' object")

    def __copy__(self) -> Future[T]:
        """copy.copy: a future sharing this one's state and condition, as a
        shallow copy of the stdlib's."""
        clone = shallow_copy(self)
        clone._cond = self._condition
        return clone

    def _under_lock(self, step: Callable[..., R], *args: Any) -> R:
        """step(self, *args), run holding the lock that guards this future's
        state: its condition's once made, before that ``_state_lock(self)``
        (no condition can be made while it is held). Taken with ``with``, so
        that an interrupt cannot leave it held."""
        while True:
            cond = self._cond
            lock = _state_lock(self) if cond is None else cond._lock
            with lock:
                if cond is None and self._cond is not None:
                    continue  # made meanwhile: its lock guards from now on
                return step(self, *args)

    def _notify(self) -> None:
        """Wakes the threads waiting on the condition (lock held)."""
        cond = self._cond
        if cond is not None and cond._waiters:
            cond.notify_all()

    # Reads of one field: the stdlib takes the lock for them; under the GIL a
    # read is atomic, and taking it would make the condition.

    def cancelled(self) -> bool:
        return self._state in _CANCELLED_STATES

    def running(self) -> bool:
        return self._state == _RUNNING

    def done(self) -> bool:
        return self._state in _DONE

    def result(self, timeout: float | None = None) -> T:
        if self._state == _FINISHED:  # final: the outcome was set before it
            exc = self._exception
            if not exc:  # the stdlib's test
                return self._result  # type: ignore[return-value]
            try:
                raise exc
            finally:
                del exc, self  # the traceback holds this frame: no cycle
        return super().result(timeout)  # type: ignore[no-any-return]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._state == _FINISHED:
            return self._exception
        return super().exception(timeout)

    def cancel(self) -> bool:
        state = self._under_lock(_cancel)
        if state in (_RUNNING, _FINISHED):
            return False
        if state == _PENDING:
            self._invoke_callbacks()  # type: ignore[attr-defined]
        return True

    def add_done_callback(self, fn: Any) -> None:
        if self._under_lock(_add_callback, fn):
            return
        try:
            fn(self)
        except Exception:
            _base.LOGGER.exception("exception calling callback for %r", self)

    def set_running_or_notify_cancel(self) -> bool:
        state = self._under_lock(_start)
        if state == _PENDING:
            return True
        if state == _CANCELLED:
            return False
        _base.LOGGER.critical("Future %s in unexpected state: %s", id(self), state)
        raise RuntimeError("Future in unexpected state")

    def set_result(self, result: Any) -> None:
        self._finish("_result", result, "add_result")

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish("_exception", exception, "add_exception")

    def _finish(self, field: str, value: Any, waiter_method: str) -> None:
        """set_result/set_exception: store value in field, wake everyone."""
        # _under_lock(_complete, ...) inlined: the hot path of every task.
        while True:
            cond = self._cond
            lock = _STATE_LOCKS[id(self) % _STATE_LOCK_COUNT] if cond is None else cond._lock
            with lock:
                if cond is None and self._cond is not None:
                    continue  # made meanwhile: its lock guards from now on
                state = self._state
                if state not in _DONE:
                    setattr(self, field, value)
                    self._state = _FINISHED
                    for waiter in self._waiter_list:
                        getattr(waiter, waiter_method)(self)
                    self._notify()
                break
        if state in _DONE:
            raise InvalidStateError(f"{state}: {self!r}")
        if self._done_callbacks:
            self._invoke_callbacks()  # type: ignore[attr-defined]

    cancelled.__doc__ = _base.Future.cancelled.__doc__
    running.__doc__ = _base.Future.running.__doc__
    done.__doc__ = _base.Future.done.__doc__
    result.__doc__ = _base.Future.result.__doc__
    exception.__doc__ = _base.Future.exception.__doc__
    cancel.__doc__ = _base.Future.cancel.__doc__
    add_done_callback.__doc__ = _base.Future.add_done_callback.__doc__
    set_running_or_notify_cancel.__doc__ = _base.Future.set_running_or_notify_cancel.__doc__
    set_result.__doc__ = _base.Future.set_result.__doc__
    set_exception.__doc__ = _base.Future.set_exception.__doc__


_PENDING = _base.PENDING
_RUNNING = _base.RUNNING
_CANCELLED = _base.CANCELLED
_CANCELLED_AND_NOTIFIED = _base.CANCELLED_AND_NOTIFIED
_FINISHED = _base.FINISHED
_CANCELLED_STATES = frozenset((_base.CANCELLED, _base.CANCELLED_AND_NOTIFIED))
_DONE = frozenset((_base.CANCELLED, _base.CANCELLED_AND_NOTIFIED, _base.FINISHED))


# The state changes, run by Future._under_lock; each returns the state it found.


def _cancel(f: Future[Any]) -> str:
    state = f._state
    if state == _PENDING:
        f._state = _CANCELLED
        f._notify()
    return state


def _add_callback(f: Future[Any], fn: Any) -> bool:
    """Whether fn was added (False: the future is done, call it now)."""
    if f._state in _DONE:
        return False
    if f._done_callbacks is _UNUSED:
        f._done_callbacks = [fn]
    else:
        f._done_callbacks.append(fn)
    return True


def _start(f: Future[Any]) -> str:
    state = f._state
    if state == _PENDING:
        f._state = _RUNNING
    elif state == _CANCELLED:
        f._state = _CANCELLED_AND_NOTIFIED
        for waiter in f._waiter_list:
            waiter.add_cancelled(f)
        # cancel() already notified the condition, as in the stdlib.
    return state


def set_outcome(future: _base.Future[Any], value: Any, *, failed: bool, message: str = "Exception in worker") -> None:
    """A worker's ``set_exception(value)`` (failed) or ``set_result(value)``.

    A future the program completed itself first (its own ``set_result()``)
    refuses with ``InvalidStateError``: logged at CRITICAL on the stdlib's
    logger with ``message``, as the stdlib's thread worker logs it, and the
    caller goes on, where the stdlib's worker (or its process pool's manager
    thread) exits and later tasks may never run. A cancelled future refuses
    quietly: it has ended already."""
    try:
        if failed:
            future.set_exception(value)
        else:
            future.set_result(value)
    except InvalidStateError:
        if not future.cancelled():
            _base.LOGGER.critical(message, exc_info=True)
