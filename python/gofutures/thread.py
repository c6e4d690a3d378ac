"""ThreadPoolExecutor on worker threads run by Go.

Data flow::

    submit(fn, *args)            Python: a stdlib Future + a work item kept in
      |                          _work_items under a fresh task id
      v
    fast_thread_submit           C builtin (pybridge/fastpath.c), GIL held: only
      |                          the pool id and task id cross
      v
    pool.Pool (Go)               FIFO of task ids; idle workers reused first,
      |                          new workers started lazily up to max_workers,
      |                          each with the task that made it start
      v
    pybridge worker (Go + C)     a thread made with pthread_create (stack:
      |                          threading.stack_size()) running the Go worker
      |                          loop, with a kept Python thread state: takes
      v                          the GIL, calls _run_task(id), releases the GIL
    _run_task(id)                Python: runs fn, completes the Future

The hooks at the bottom of this module (_worker_start, _run_task, _fail_task,
_worker_stop) are called from C on worker threads; their names are part of
the contract with gofutures/pybridge/gf_bridge.h.

Semantics follow concurrent.futures.thread: same defaults, messages,
initializer failure (BrokenThreadPool), shutdown and cancel behaviour, and
interpreter exit waits for queued work.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError
from concurrent.futures import _base as _stdlib_base
from concurrent.futures import thread as _stdlib_thread
from concurrent.futures.thread import BrokenThreadPool
from typing import Any

from gofutures import _future, _native
from gofutures._executor import refuse_submit

__all__ = ("ThreadPoolExecutor", "BrokenThreadPool")

# Failure kinds passed to _fail_task; kept in step with gf_bridge.h.
_FAIL_BROKEN = 1
_FAIL_PANIC = 2



class _PoolState:
    """What an executor shares with its workers; never references the executor,
    so an executor dropped without shutdown() can be collected."""

    __slots__ = (
        "pool_id",
        "shutdown_lock",
        "broken",
        "shutdown",
        "initializer",
        "initargs",
        "name_prefix",
        "worker_idents",
        "workers_started",
    )

    def __init__(
        self,
        pool_id: int,
        name_prefix: str,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
    ) -> None:
        self.pool_id = pool_id
        self.shutdown_lock = threading.Lock()
        self.broken: str | bool = False
        self.shutdown = False
        self.initializer = initializer
        self.initargs = initargs
        self.name_prefix = name_prefix
        self.worker_idents: set[int] = set()
        self.workers_started = 0


# A work item is a plain tuple (state, future, fn, args, kwargs or None): the
# cheapest container for the cyclic GC, which dominates the cost of many
# pending futures (a no-op submit spends about 40% of its time in GC).
_WorkItem = tuple[_PoolState, Future, Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]


# Work waiting for (or running on) a worker, by task id. Ids are unique across
# pools, so a worker needs nothing but the id to find its work.
_work_items: dict[int, _WorkItem] = {}
_task_ids = itertools.count(1)
# Pools that may still have workers, by pool id.
_pools: dict[int, _PoolState] = {}

_global_shutdown = False
_global_shutdown_lock = threading.Lock()


class ThreadPoolExecutor(_stdlib_thread.ThreadPoolExecutor):
    """An Executor that runs calls on a pool of Go-managed threads.

    Same signature and behaviour as concurrent.futures.ThreadPoolExecutor. It
    subclasses the stdlib class only so that isinstance checks accept it
    (asyncio's set_default_executor requires one); it shares none of its
    state and overrides every method that touches the pool.
    """

    # Used to give each executor a unique default thread name prefix.
    _counter = itertools.count().__next__

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is None:
            # As the stdlib: at least 5 for I/O-bound work, at most 32.
            max_workers = min(32, (os.cpu_count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix or (
            "ThreadPoolExecutor-%d" % self._counter()
        )
        self._initializer = initializer
        self._initargs = initargs
        pool_id = _native.call("ThreadPoolNew", max_workers)
        assert isinstance(pool_id, int)
        self._state = _PoolState(
            pool_id, self._thread_name_prefix, initializer, initargs
        )
        _pools[pool_id] = self._state
        # Dropped without shutdown(): let the workers finish and exit, as the
        # stdlib's weakref callback does. The exit hook handles exit itself.
        self._finalizer = weakref.finalize(self, _shutdown_nowait, pool_id)
        self._finalizer.atexit = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        state = self._state
        # The stdlib also takes its global shutdown lock here; reading the flag
        # is enough: a submit that races the exit hook is refused by Go.
        with state.shutdown_lock:
            refuse_submit(state.broken, BrokenThreadPool, state.shutdown, _global_shutdown)
            if _native.forked:
                raise RuntimeError(_native.FORK_MESSAGE)
            future: Future[Any] = _future.Future()
            task_id = next(_task_ids)
            _work_items[task_id] = (state, future, fn, args, kwargs or None)
            try:
                _native.fast_thread_submit(state.pool_id, task_id)
            except RuntimeError as exc:
                del _work_items[task_id]
                _native.raise_translated(exc, BrokenThreadPool)
            except BaseException:
                del _work_items[task_id]
                raise
            return future

    submit.__doc__ = Executor.submit.__doc__

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[Any]:
        """Returns an iterator equivalent to map(fn, iter), as
        concurrent.futures.Executor.map.

        The stdlib's thread pool ignores ``chunksize``; here ``chunksize > 1``
        runs the calls in chunks of that size, one task per chunk, which
        removes the per-call executor overhead. Results, their order, the
        first exception raised at its position, ``timeout`` (measured from
        this call) and cancelling the rest when the iterator is closed behave
        as without chunks; calls of a chunk run one after another on one
        worker.
        """
        if chunksize <= 1:
            return super().map(fn, *iterables, timeout=timeout)
        return _chunked_map(self, fn, iterables, timeout, chunksize)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        state = self._state
        with state.shutdown_lock:
            state.shutdown = True
            if _native.forked:
                return
            cancelled = _native.call("ThreadPoolShutdown", state.pool_id, cancel_futures)
            assert isinstance(cancelled, str)
            for task_id in cancelled.split():
                item = _work_items.pop(int(task_id), None)
                if item is not None:
                    item[1].cancel()
        if wait:
            if threading.get_ident() in state.worker_idents:
                raise RuntimeError("cannot join current thread")
            _join(state.pool_id)

    shutdown.__doc__ = Executor.shutdown.__doc__


class _ChunkOutcome:
    """What a chunk of map calls produced: results up to the first exception."""

    __slots__ = ("results", "error")

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.error: BaseException | None = None


def _run_chunk(
    fn: Callable[..., Any], chunk: list[tuple[Any, ...]], closed: list[bool]
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    for args in chunk:
        if closed[0]:  # the map iterator was closed: the rest is cancelled
            break
        try:
            value = fn(*args)
        except BaseException as exc:
            if outcome.error is None:
                outcome.error = exc
            continue  # later calls still run, as they would without chunks
        if outcome.error is None:
            outcome.results.append(value)
    return outcome


def _chunked_map(
    executor: ThreadPoolExecutor,
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    timeout: float | None,
    chunksize: int,
) -> Iterator[Any]:
    end_time = None if timeout is None else timeout + time.monotonic()
    calls = list(zip(*iterables, strict=False))
    closed = [False]
    futures = [
        executor.submit(_run_chunk, fn, calls[i : i + chunksize], closed)
        for i in range(0, len(calls), chunksize)
    ]
    del calls

    def results() -> Iterator[Any]:
        try:
            futures.reverse()
            while futures:
                future = futures.pop()
                if end_time is None:
                    outcome = future.result()
                else:
                    outcome = future.result(end_time - time.monotonic())
                yield from outcome.results
                if outcome.error is not None:
                    error = outcome.error
                    outcome = None  # type: ignore[assignment]
                    raise error
        finally:
            closed[0] = True
            for future in futures:
                future.cancel()

    return results()


def _join(pool_id: int) -> None:
    """Wait for a shut down pool's workers."""
    _native.join("ThreadPoolJoin", pool_id)
    _pools.pop(pool_id, None)


def _shutdown_nowait(pool_id: int) -> None:
    if _native.forked or _global_shutdown:
        return
    try:
        _native.call("ThreadPoolShutdown", pool_id, False)
    except Exception:  # a finalizer must not raise
        _stdlib_base.LOGGER.exception("gofutures: could not shut down pool %d", pool_id)


def _python_exit() -> None:
    """Before interpreter finalization: refuse new work, let queued work finish
    and stop every worker, so no worker touches a finalizing interpreter."""
    global _global_shutdown
    with _global_shutdown_lock:
        _global_shutdown = True
    if _native.forked or not _native.loaded():
        return
    pool_ids = list(_pools)
    for pool_id in pool_ids:
        state = _pools.get(pool_id)
        if state is not None and state.workers_started:
            # As the stdlib's exiting workers do to their executor: a later
            # submit says "after shutdown", not "after interpreter shutdown".
            state.shutdown = True
        _native.call("ThreadPoolShutdown", pool_id, False)
    for pool_id in pool_ids:
        _join(pool_id)


# Runs before threading joins non-daemon threads, like the stdlib's own hook.
threading._register_atexit(_python_exit)


# ---- hooks called from C on worker threads (see gf_bridge.h) ----


def _worker_start(pool_id: int, index: int) -> bool:
    """First call on a new worker thread: name it, run the initializer.
    Returns False when the initializer failed (the pool is then broken)."""
    state = _pools[pool_id]
    state.worker_idents.add(threading.get_ident())
    state.workers_started += 1
    threading.current_thread().name = "%s_%d" % (state.name_prefix, index)
    if state.initializer is not None:
        try:
            state.initializer(*state.initargs)
        except BaseException:
            _stdlib_base.LOGGER.critical("Exception in initializer:", exc_info=True)
            with state.shutdown_lock:
                state.broken = (
                    "A thread initializer failed, the thread pool is not usable anymore"
                )
            return False
    return True


def _run_task(task_id: int) -> None:
    item = _work_items.pop(task_id, None)
    if item is None:
        return
    _, future, fn, args, kwargs = item
    del item
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs) if kwargs else fn(*args)
    except BaseException as exc:
        future.set_exception(exc)
        # Break the cycle exc -> traceback -> this frame -> future -> exc.
        del future, exc
    else:
        future.set_result(result)


def _fail_task(task_id: int, kind: int, message: str) -> None:
    item = _work_items.pop(task_id, None)
    if item is None:
        return
    state, future = item[0], item[1]
    exc: BaseException
    if kind == _FAIL_BROKEN:
        exc = BrokenThreadPool(state.broken or message)
    else:
        exc = _native.GoPanicError(message)
    try:
        future.set_exception(exc)
    except InvalidStateError:
        pass  # cancelled meanwhile: it already ended


def _worker_stop(pool_id: int, last: bool) -> None:
    ident = threading.get_ident()
    state = _pools.get(pool_id)
    if state is not None:
        state.worker_idents.discard(ident)
    # CPython 3.11 never forgets the _DummyThread that current_thread() made
    # for this foreign thread; without this, threading.enumerate() would list
    # every worker that ever lived.
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        if isinstance(threading._active.get(ident), threading._DummyThread):  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]
    if last:
        _pools.pop(pool_id, None)
