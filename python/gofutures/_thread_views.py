"""What code reads from a stdlib ThreadPoolExecutor's private attributes,
served from gofutures' own records.

Real programs and CPython's own test_concurrent_futures read
``executor._threads`` (``len()`` of it, ``join()`` each thread after
shutdown) and ``executor._work_queue.qsize()``. The stdlib keeps a set of
``threading.Thread`` objects and a ``queue.SimpleQueue``; gofutures' workers
are Go-started OS threads and its queue lives in Go, so these are read-only
views built from what Python sees anyway: the start and stop hooks of every
worker (gofutures.thread._worker_start/_worker_stop) and the work items
waiting in gofutures.thread._work_items.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from . import _native


class _ForgetOnThreadEnd:
    """Takes a ``_DummyThread`` out of ``threading._active`` when its thread's
    Python state is cleared, as 3.13's threading does (its
    ``_DeleteDummyThreadOnDel``): held only by a thread-local, it is freed
    then. Before 3.13 a dummy stayed listed by ``threading.enumerate()`` and
    counted by ``active_count()`` after its thread (a pool's pump) ended."""

    __slots__ = ("_thread", "_ident")

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread
        self._ident = thread.ident
        _thread_local.forget_on_end = self  # the only reference

    def __del__(self) -> None:
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            if threading._active.get(self._ident) is self._thread:  # type: ignore[attr-defined]
                del threading._active[self._ident]  # type: ignore[attr-defined]


_thread_local = threading.local()


class _ThreadEnd:
    """Marks its thread ended (``ended[0]``) and releases ``lock`` when the
    thread's Python state is cleared: held only by a thread-local, it is freed
    then. AdoptedThread.join waits on the lock."""

    __slots__ = ("lock", "ended")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.ended = [False]
        _thread_local.end = self  # the only reference

    def __del__(self) -> None:
        self.ended[0] = True
        self.lock.release()


class AdoptedThread(threading._DummyThread):
    """The Thread object of a thread gofutures created in C, as
    adopt_current_thread() leaves it: it reads as a started ``Thread``
    (``<Thread(name, started ident)>``), and ``join()`` waits for the thread
    to end, as for the stdlib's worker or manager thread in its place (a
    ``_DummyThread`` refuses to be joined: programs that join every thread
    of ``threading.enumerate()`` failed). Only its class and these methods
    differ from the dummy ``threading.current_thread()`` made."""

    _gf_end_lock: Any
    _gf_ended: list[bool]

    def is_alive(self) -> bool:
        return not self._gf_ended[0]

    def join(self, timeout: float | None = None) -> None:
        if self is threading.current_thread():
            raise RuntimeError("cannot join current thread")
        if self._gf_ended[0]:
            return
        lock = self._gf_end_lock
        if timeout is None:
            acquired = lock.acquire()
        else:
            acquired = lock.acquire(timeout=max(timeout, 0))
        if acquired:
            lock.release()

    def __repr__(self) -> str:
        status = "stopped" if self._gf_ended[0] else "started"
        if self.daemon:
            status += " daemon"
        if self.ident is not None:
            status += " %s" % self.ident
        return "<Thread(%s, %s)>" % (self.name, status)


# type(thread).__name__ reads as the stdlib's worker's class.
AdoptedThread.__name__ = AdoptedThread.__qualname__ = "Thread"


def adopt_current_thread() -> threading.Thread:
    """Make the calling thread, one gofutures created in C (a thread pool's
    worker, a pump that runs done-callbacks), read to ``threading`` as the
    stdlib's thread in its place (a non-daemon ``threading.Thread``) does;
    return its Thread object.

    ``threading.current_thread()`` makes a daemon ``_DummyThread`` for a
    foreign thread, and a Thread started there inherits the flag, so its
    work would be lost at exit. Only the flag changes: interpreter exit still
    never waits for this thread (``threading`` joins only the threads it
    started, by their tstate locks or handles); gofutures' exit hooks stop it.
    The dummy is made now, not by user code later, so it is also forgotten
    when the thread ends (_ForgetOnThreadEnd), and it becomes an
    AdoptedThread, which ``join()`` waits for.

    The hooks of ``threading.settrace()`` and ``threading.setprofile()`` are
    installed, as ``Thread._bootstrap_inner`` installs them before ``run()``.
    (3.12's ``threading.settrace_all_threads()`` reaches this thread anyway:
    it has a Python thread state for its whole life.)

    Call it first on the thread: a few attribute reads and one object; later
    calls on the same thread return its Thread and change nothing (a
    thread-local records it, not the ident: a thread Go starts later can get
    an ended one's ident)."""
    adopted_thread: threading.Thread | None = getattr(_thread_local, "adopted", None)
    if adopted_thread is not None:
        return adopted_thread
    made_now = threading.get_ident() not in threading._active  # type: ignore[attr-defined]
    thread = threading.current_thread()
    if type(thread) is threading._DummyThread:
        if made_now:
            _give_back_number(thread)
        thread._daemonic = False  # type: ignore[attr-defined]
        end = _ThreadEnd()
        thread.__class__ = AdoptedThread
        thread._gf_end_lock, thread._gf_ended = end.lock, end.ended  # type: ignore[attr-defined]
        if not hasattr(threading, "_DeleteDummyThreadOnDel"):  # before 3.13
            _ForgetOnThreadEnd(thread)
    trace = threading._trace_hook  # type: ignore[attr-defined]
    if trace is not None:
        sys.settrace(trace)
    profile = threading._profile_hook
    if profile is not None:
        sys.setprofile(profile)
    _thread_local.adopted = thread
    return thread


def _give_back_number(dummy: threading.Thread) -> None:
    """The number a dummy just took for its name ("Dummy-N") goes back to
    threading's counter, unless another thread took one since: the stdlib's
    thread in a gofutures thread's place is named (a pool's worker) or takes
    the number itself (a process pool's manager thread, as a pump does), so
    the program's own threads are numbered as with the stdlib."""
    prefix, _, number = dummy.name.rpartition("-")
    if prefix == "Dummy" and number.isdigit():
        _native.fast_give_back_thread_number(int(number))


def adopt_pump_thread(name: str | None = None) -> threading.Thread | None:
    """adopt_current_thread() for a pump (the thread that runs done-callbacks),
    named ``name``, else "Thread-N" as the stdlib's manager thread is; its
    Thread, or None if that failed. It never raises: the batch it comes
    before must be delivered whatever happens here."""
    try:
        thread = adopt_current_thread()
        thread.name = name or threading._newname("Thread-%d")  # type: ignore[attr-defined]
        thread._gf_pump = True  # type: ignore[attr-defined]  # no fork warning (gofutures._zygote)
    except Exception:
        logging.getLogger("concurrent.futures").exception("gofutures: could not adopt a pump thread")
        return None
    return thread


class WorkerThread:
    """A gofutures worker thread, as the stdlib's ``_threads`` holds them.

    Reads like a ``threading.Thread`` that was started: ``name``, ``ident``,
    ``native_id``, ``daemon``, ``is_alive()`` and ``join(timeout=None)``, which
    returns once the worker has stopped (after shutdown, when the queue is
    empty), as ``Thread.join`` does.
    """

    __slots__ = ("_thread", "ident", "native_id", "_ended", "_running")

    def __init__(self) -> None:
        """Made on the worker thread itself, by its start hook."""
        self._thread = threading.current_thread()
        self.ident: int | None = threading.get_ident()
        self.native_id: int | None = threading.get_native_id()
        self._ended = False
        # Held for the worker's life: join() waits by acquiring it, as a
        # Thread waits on its tstate lock.
        self._running = threading.Lock()
        self._running.acquire()

    @property
    def name(self) -> str:
        return self._thread.name

    @name.setter
    def name(self, name: str) -> None:
        self._thread.name = name

    @property
    def daemon(self) -> bool:
        return False  # the stdlib's workers are not daemon threads either

    def is_alive(self) -> bool:
        return not self._ended

    def join(self, timeout: float | None = None) -> None:
        if self.ident == threading.get_ident():
            raise RuntimeError("cannot join current thread")
        if self._ended:
            return
        if timeout is None:
            acquired = self._running.acquire()
        else:
            acquired = self._running.acquire(timeout=max(timeout, 0))
        if acquired:
            self._running.release()

    def _stop(self) -> None:
        """Called by the worker's stop hook, its last Python code."""
        self._ended = True
        self._running.release()

    def _after_fork(self) -> None:
        """In a forked child the worker does not exist: like threading does
        to the parent's other threads, mark it stopped."""
        self._ended = True
        self._running = threading.Lock()

    def __repr__(self) -> str:
        status = "stopped" if self._ended else "started"
        return "<%s(%s, %s %s)>" % (type(self).__name__, self.name, status, self.ident)


class ThreadsView(AbstractSet[WorkerThread]):
    """``executor._threads``: the workers this executor started (alive or
    ended, as the stdlib's set keeps them), read-only.

    The stdlib starts a thread inside ``submit``; gofutures starts workers in
    Go, and one appears here when it takes its first task. So that ``len()``
    right after a few submits counts the workers those submits started, a
    read first waits (up to ``settle_timeout``) while tasks of this pool are
    still waiting for a worker and fewer than ``max_workers`` workers exist:
    Go is starting more.
    """

    __slots__ = ("_threads", "_waiting", "_max_workers", "_settled")

    settle_timeout = 5.0

    def __init__(
        self,
        threads: list[WorkerThread],
        waiting: Callable[[], int],
        max_workers: int,
        settled: Callable[[], bool],
    ) -> None:
        self._threads = threads
        self._waiting = waiting
        self._max_workers = max_workers
        self._settled = settled

    def _snapshot(self) -> list[WorkerThread]:
        deadline = time.monotonic() + self.settle_timeout
        delay = 0.0005
        while (
            len(self._threads) < self._max_workers
            and not self._settled()
            and self._waiting()
            and time.monotonic() < deadline
        ):
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        return list(self._threads)

    def __iter__(self) -> Iterator[WorkerThread]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._snapshot())

    def __contains__(self, thread: object) -> bool:
        return any(thread is t for t in self._snapshot())

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> set[Any]:
        return set(it)  # results of set operations are plain sets

    def __repr__(self) -> str:
        return "{%s}" % ", ".join(map(repr, self._snapshot()))


class WorkQueueView:
    """``executor._work_queue``: ``qsize()`` and ``empty()`` count the tasks
    submitted to this executor that no worker has taken yet (cancelled ones
    included until a worker or shutdown drops them, as in the stdlib)."""

    __slots__ = ("_waiting",)

    def __init__(self, waiting: Callable[[], int]) -> None:
        self._waiting = waiting

    def qsize(self) -> int:
        return self._waiting()

    def empty(self) -> bool:
        return self._waiting() == 0


def _forget_in_child(live: Callable[[], Iterable[WorkerThread]]) -> None:
    for thread in live():
        thread._after_fork()


def register_fork_handler(live: Callable[[], Iterable[WorkerThread]]) -> None:
    """Mark every worker returned by ``live()`` stopped in a forked child."""
    os.register_at_fork(after_in_child=lambda: _forget_in_child(live))
