"""The Future class the executors return: concurrent.futures.Future with a
cheaper condition.

``Future.__init__`` builds a ``threading.Condition``, which binds six lock
methods onto each instance: six more objects for the cyclic GC per future,
and the GC is the largest single cost of many pending futures (perf: about
40% of a no-op submit). ``_FutureCondition`` is a Condition whose lock
methods are class methods instead, so behaviour is unchanged (every
Condition method goes through them) and a future's life (create, run,
complete, result) costs about 40% less.

The class keeps the stdlib name, so repr() reads ``<Future at ... state=...>``;
it is a subclass, so isinstance checks, the stdlib's wait() and
as_completed() (which use ``_condition`` and ``_waiters``) and asyncio accept
it.
"""

from __future__ import annotations

import collections
import threading
from _thread import RLock
from concurrent.futures import _base
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _FutureCondition(threading.Condition):
    def __init__(self) -> None:
        self._lock = RLock()
        self._waiters: collections.deque[Any] = collections.deque()

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


class Future(_base.Future, Generic[T]):  # type: ignore[type-arg]
    """concurrent.futures.Future, with the state the stdlib's __init__ sets."""

    def __init__(self) -> None:
        self._condition = _FutureCondition()
        self._state = _base.PENDING
        self._result = None
        self._exception = None
        self._waiters: list[Any] = []
        self._done_callbacks: list[Any] = []
