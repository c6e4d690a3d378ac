"""ThreadPoolExecutor on worker threads run by Go.

Data flow::

    submit(fn, *args)            Python: a stdlib Future + a work item kept in
      |                          _work_items under a fresh task id
      v
    fast_thread_submit           C builtin (pybridge/fastpath.c), GIL held (but
      |                          released while a worker it started begins, as
      |                          Thread.start() waits): only the pool id and
      |                          task id cross
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
import operator
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import Executor, Future, InvalidStateError
from concurrent.futures import _base as _stdlib_base
from concurrent.futures import thread as _stdlib_thread
from concurrent.futures.thread import BrokenThreadPool
from typing import TYPE_CHECKING, Any, cast, overload

from gofutures import _buffmap, _chunked_map, _future, _gotask, _native, _stats
from gofutures._executor import (
    P,
    RefusesPickle,
    T,
    Ts,
    TypedMap,
    default_cpu_count,
    refuse_submit,
    shutdown_dropped,
)
from gofutures._thread_views import (
    ThreadsView,
    WorkerThread,
    WorkQueueView,
    adopt_current_thread,
    register_fork_handler,
)

__all__ = ("ThreadPoolExecutor", "BrokenThreadPool")

# The most workers a pool starts, whatever max_workers says: the stdlib
# accepts any number (10**30, float('inf')) and starts threads on demand.
_WORKER_CAP = 2**31 - 1


def _worker_limit(max_workers: Any) -> int:
    """How many threads the stdlib would start at most for ``max_workers``
    (already checked to be > 0): it starts one while ``len(threads) <
    max_workers``, so any number it can compare with ints works (2.5 -> 3).
    NaN, with which the stdlib starts no thread and never runs a task, gets
    one worker."""
    try:
        n = operator.index(max_workers)
    except TypeError:
        pass
    else:
        return max(1, min(n, _WORKER_CAP))
    if not 1 < max_workers:
        return 1
    lo, hi = 1, 2  # invariant: lo < max_workers
    while hi < max_workers:
        if hi >= _WORKER_CAP:
            return _WORKER_CAP
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # the smallest n with not n < max_workers
        mid = (lo + hi) // 2
        if mid < max_workers:
            lo = mid
        else:
            hi = mid
    return min(hi, _WORKER_CAP)


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
        "max_workers",
        "worker_idents",
        "threads",
        "workers_started",
        "worker_slots",
    )

    def __init__(
        self,
        pool_id: int,
        name_prefix: str,
        max_workers: int,
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
        self.max_workers = max_workers
        self.worker_idents: set[int] = set()
        # Every worker ever started (the stdlib's executor._threads keeps
        # ended ones too).
        self.threads: list[WorkerThread] = []
        self.workers_started = 0
        self.worker_slots = _gotask.WorkerSlots(max_workers)

    def waiting(self) -> int:
        """Tasks of this pool no worker has taken yet."""
        # list() copies the values without running Python code: atomic
        # under the GIL while workers pop items.
        return sum(1 for item in list(_work_items.values()) if type(item) is tuple and item[0] is self)

    def settled(self) -> bool:
        """Whether no more workers will start (so none is worth waiting for)."""
        return bool(self.shutdown or self.broken or _native.forked)


# A work item is a plain tuple (state, future, fn, args, kwargs or None): the
# cheapest container for the cyclic GC, which dominates the cost of many
# pending futures (a no-op submit spends about 40% of its time in GC). A Go
# task's item is its future alone (gofutures._gotask): no worker takes it.
_WorkItem = tuple[_PoolState, Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]


# Work waiting for (or running on) a worker, by task id. Ids are unique across
# pools, so a worker needs nothing but the id to find its work.
_work_items: dict[int, _WorkItem | Future[Any]] = {}
_task_ids = itertools.count(1)
# Pools that may still have workers, by pool id.
_pools: dict[int, _PoolState] = {}
# Every live worker, by thread ident. Not reached through _pools: a pool's
# last worker may leave _pools before another worker's stop hook has run.
_live_workers: dict[int, WorkerThread] = {}

_global_shutdown = False
_global_shutdown_lock = threading.Lock()


class ThreadPoolExecutor(TypedMap, RefusesPickle, _stdlib_thread.ThreadPoolExecutor):  # type: ignore[misc]
    """An Executor that runs calls on a pool of Go-managed threads.

    Same signature and behaviour as concurrent.futures.ThreadPoolExecutor. It
    subclasses the stdlib class only so that isinstance checks accept it
    (asyncio's set_default_executor requires one); it shares none of its
    state and overrides every method that touches the pool.
    """

    _pickle_refusal = "_queue.SimpleQueue"

    # _counter (the default thread name prefix's number) is the stdlib's own:
    # names stay unique when a library's stdlib executor runs alongside.

    # The constructor's types are typeshed's for the stdlib class: initargs
    # must fit the initializer's parameters.
    @overload
    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[[], object] | None = None,
        initargs: tuple[()] = (),
    ) -> None: ...
    @overload
    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        *,
        initializer: Callable[[*Ts], object],
        initargs: tuple[*Ts],
    ) -> None: ...
    @overload
    def __init__(
        self,
        max_workers: int | None,
        thread_name_prefix: str,
        initializer: Callable[[*Ts], object],
        initargs: tuple[*Ts],
    ) -> None: ...
    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is None:
            # As the stdlib: at least 5 for I/O-bound work, at most 32.
            max_workers = min(32, (default_cpu_count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix or (
            "ThreadPoolExecutor-%d" % self._counter()  # type: ignore[attr-defined]
        )
        # typeshed declares Callable[..., None] here, narrower than it types
        # the constructor's initializer.
        self._initializer = initializer  # type: ignore[assignment]
        self._initargs = initargs
        # Open lazy maps (chunksize > 1): shutdown submits what they still owe.
        self._lazy_maps: weakref.WeakSet[_chunked_map.LazyChunkedMap] = weakref.WeakSet()
        self._fallback: _stdlib_thread.ThreadPoolExecutor | None = None
        if _native.stdlib_fallback():
            # A process forked after its Go runtime started cannot use Go,
            # nor can one whose address-space limit is too tight for it: run
            # the stdlib's executor instead, as a program using the stdlib
            # would. (Executors from before a fork still raise.)
            self._fallback = _stdlib_thread.ThreadPoolExecutor(
                max_workers, self._thread_name_prefix, initializer, initargs
            )
            return
        workers = _worker_limit(max_workers)
        _native.ext()
        _load_outcomes()
        pool_id = _native.fast_thread_new(workers)
        self._state = _PoolState(
            pool_id, self._thread_name_prefix, workers, initializer, initargs
        )
        _pools[pool_id] = self._state
        # Dropped without shutdown(): let the workers finish and exit, as the
        # stdlib's weakref callback does. The exit hook handles exit itself.
        self._finalizer = weakref.finalize(self, _shutdown_nowait, pool_id)
        self._finalizer.atexit = False
        _stats.release_when_dropped(self, "ThreadPoolStatsRelease", pool_id)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._fallback is not None:
            return self._fallback.submit(fn, *args, **kwargs)
        if _native.forked:
            # Before the lock: a thread of the parent may have held it.
            raise RuntimeError(_native.FORK_MESSAGE)
        state = self._state
        # Outside the lock: it may stat a file (gofutures.io.read_file).
        go, slot = _gotask.lookup(fn, state.worker_slots, args, kwargs)
        try:
            # The stdlib also takes its global shutdown lock here; reading the
            # flag is enough: a submit that races the exit hook is refused by Go.
            with state.shutdown_lock:
                refuse_submit(state.broken, BrokenThreadPool, state.shutdown, _global_shutdown)
                if go is not None:
                    # gofutures.io / gofutures.http: runs on a goroutine, no worker.
                    return _gotask.submit(state, go, args, kwargs, _work_items, next(_task_ids))
                future: Future[T] = _future.Future()
                if slot:
                    # Before the task is queued: given back once it ends
                    # (a future whose submit fails never ends: see below).
                    future.add_done_callback(state.worker_slots.give_back)
                task_id = next(_task_ids)
                _work_items[task_id] = (state, future, fn, args, kwargs or None)
                try:
                    # Raises what the stdlib would (Go's error kind decides).
                    _native.fast_thread_submit(state.pool_id, task_id)
                except BaseException:
                    del _work_items[task_id]
                    raise
                return future
        except BaseException:
            if slot:
                state.worker_slots.give_back()
            raise

    submit.__doc__ = Executor.submit.__doc__

    def _map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[T]:
        """Returns an iterator equivalent to map(fn, iter), as
        concurrent.futures.Executor.map.

        ``buffersize`` is Python 3.14's (on every Python): an int ``n`` reads
        the input lazily and keeps at most ``n`` results ahead of the
        consumer, one task per call (``chunksize`` is then ignored, as 3.14's
        thread pool ignores it); see gofutures._buffmap.

        The stdlib's thread pool ignores ``chunksize``; here an int
        ``chunksize > 1`` runs the calls in chunks of that size, one task per
        chunk, which removes the per-call executor overhead. Results, their
        order, the first exception raised at its position, ``timeout``
        (measured from this call) and cancelling the rest when the iterator
        is closed behave as without chunks; calls of a chunk run one after
        another on one worker. Chunks are read from the input and submitted
        lazily, ``2 * max_workers`` of them (or enough for 1,024 calls) ahead
        of the consumer, so an endless input works; shutdown submits what is
        left.

        Any other ``chunksize`` is ignored, as by the stdlib, and so is a
        ``submit`` overridden on the class or the executor (code that counts
        calls through ``submit``, as tqdm's ``thread_map`` does, sees each).
        """
        if buffersize is not None:
            _buffmap.check_buffersize(buffersize)
            return _buffmap.buffered_map(self, fn, iterables, timeout, buffersize)
        size = _chunk_size(chunksize)
        if size <= 1 or self._fallback is not None or _submit_overridden(self):
            return super().map(fn, *iterables, timeout=timeout)
        return _chunked_map.chunked_map(
            self.submit,
            fn,
            iterables,
            timeout,
            size,
            self._state.max_workers,
            self._lazy_maps,
        )

    # Typed by TypedMap's overloads. The stdlib's ThreadPoolExecutor.map is
    # Executor.map: same name in introspection and in argument errors
    # ("Executor.map() missing ...").
    _map.__name__ = "map"
    _map.__qualname__ = Executor.map.__qualname__
    if not TYPE_CHECKING:
        map = _map
    del _map

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._fallback is not None:
            self._fallback.shutdown(wait, cancel_futures=cancel_futures)
            return
        state = self._state
        # Lazy maps first: they submit, which takes the shutdown lock. (Not
        # in a forked child: their locks may have been held at the fork.)
        for lazy in list(self._lazy_maps) if not _native.forked else ():
            if cancel_futures:
                lazy.cancel_rest()
            else:
                lazy.flush()
        with state.shutdown_lock:
            state.shutdown = True
            if _native.forked:
                return
            taken_back: list[int] = []
            try:
                _native.fast_thread_shutdown(state.pool_id, bool(cancel_futures), taken_back)
            finally:
                # Even when Ctrl-C's exception comes as Go answers: no worker
                # will ever come to these.
                _native.fast_for_each(taken_back, _cancel_taken_back)
        if wait:
            me = threading.get_ident()
            if me in state.worker_idents or _gotask.pump_delivers_for(state.pool_id):
                raise RuntimeError("cannot join current thread")
            _join(state.pool_id)

    shutdown.__doc__ = Executor.shutdown.__doc__

    def stats(self) -> dict[str, int | float | None]:
        """Counts of this pool's tasks and workers, read from Go (not in
        concurrent.futures): ``submitted``, ``queued`` (waiting for a
        worker), ``running``, ``completed`` (returned), ``failed`` (raised,
        or failed by a broken pool), ``cancelled`` (cancelled before they
        ran: counted when ``shutdown(cancel_futures=True)`` takes them back,
        or when a worker reaches a future cancelled while queued),
        ``workers`` (live worker threads), ``worker_restarts`` (always 0:
        a thread worker is never replaced) and ``p50``/``p99``: the median
        and 99th percentile of task latency in seconds, from the moment a
        worker starts the call to its end (time spent queued excluded; within
        6.25%), None before a task has ended. Once every task has ended,
        ``submitted == completed + failed + cancelled``. Valid after
        shutdown, too.
        """
        if self._fallback is not None:
            raise RuntimeError(_stats.FALLBACK_MESSAGE)
        return _stats.read("ThreadPoolStats", self._state.pool_id)

    # ---- read-only views of the stdlib's private attributes ----
    # (typeshed declares them as writable attributes: hence the ignores)

    @property
    def _threads(self) -> AbstractSet[Any]:  # type: ignore[override]
        """The worker threads started (see gofutures._thread_views)."""
        if self._fallback is not None:
            return self._fallback._threads
        state = self._state
        return ThreadsView(state.threads, state.waiting, state.max_workers, state.settled)

    @property
    def _work_queue(self) -> Any:  # type: ignore[override]
        """``qsize()`` and ``empty()``: tasks waiting for a worker."""
        if self._fallback is not None:
            return self._fallback._work_queue
        return WorkQueueView(self._state.waiting)

    @property
    def _broken(self) -> str | bool:  # type: ignore[override]
        if self._fallback is not None:
            return self._fallback._broken
        return self._state.broken

    @property
    def _shutdown(self) -> bool:  # type: ignore[override]
        if self._fallback is not None:
            return self._fallback._shutdown
        return self._state.shutdown


def _chunk_size(chunksize: Any) -> int:
    """The stdlib's thread map ignores chunksize, whatever it is: only an
    int (or an object with __index__) above 1 chunks."""
    try:
        return min(operator.index(chunksize), sys.maxsize)
    except TypeError:
        return 1


def _submit_overridden(executor: ThreadPoolExecutor) -> bool:
    return (
        type(executor).submit is not ThreadPoolExecutor.submit
        or "submit" in executor.__dict__
    )


def _join(pool_id: int) -> None:
    """Wait for a shut down pool's workers, in short slices so that Ctrl-C
    is seen (a blocked Go call would hide it)."""
    while not _native.fast_thread_join(pool_id, _native.JOIN_SLICE_MS):
        pass
    _pools.pop(pool_id, None)


def _cancel_taken_back(task_id: int) -> None:
    """Cancels the future of a task shutdown(cancel_futures=True) took back
    from Go, as the stdlib's shutdown cancels a queued item: its waiters
    (wait(), as_completed()) are not told. Idempotent."""
    _gotask.release_body(task_id)  # Go never reads it
    item = _work_items.get(task_id)
    if item is not None:
        if isinstance(item, tuple):
            item[1].cancel()
        else:
            _gotask.cancel_taken_back(item)
        _work_items.pop(task_id, None)


def _shutdown_nowait(pool_id: int) -> None:
    shutdown_dropped(
        lambda: _native.fast_thread_shutdown(pool_id, False, []),
        _native.forked,
        _global_shutdown,
    )


def _python_exit() -> None:
    """Before interpreter finalization: refuse new work, let queued work finish
    and stop every worker, so no worker touches a finalizing interpreter."""
    global _global_shutdown
    if not _native.forked:
        # Work that open lazy maps still owe was submitted at the call in the
        # stdlib, and interpreter exit waits for it there.
        for lazy in _chunked_map.open_maps():
            lazy.flush()
    with _global_shutdown_lock:
        _global_shutdown = True
    if _native.forked or not _native.loaded():
        return
    # Go tasks read borrowed bodies (a write's data) from where they are:
    # should this wait be cut short (a second Ctrl-C), finalization must not
    # free them under a task that still runs until the process ends.
    _native.fast_keep_forever(_gotask._bodies)
    pool_ids = list(_pools)
    # A pool whose Python workers have all stopped (it was shut down without
    # waiting) has left _pools, but its Go tasks may still run: a write to
    # finish, a body they read.
    go_ids = str(_native.call("ThreadPoolsWithGoTasks")).split()
    pool_ids += [int(i) for i in go_ids if int(i) not in _pools]
    for pool_id in pool_ids:
        _native.fast_thread_shutdown(pool_id, False, [])
    for pool_id in pool_ids:
        _join(pool_id)


# Runs before threading joins non-daemon threads, like the stdlib's own hook.
threading._register_atexit(_python_exit)  # type: ignore[attr-defined]


# ---- hooks called from C on worker threads (see gf_bridge.h) ----


def _worker_start(pool_id: int, index: int) -> bool:
    """First call on a new worker thread: name it, run the initializer.
    Returns False when the initializer failed (the pool is then broken)."""
    state = _pools[pool_id]
    adopt_current_thread().name = "%s_%d" % (state.name_prefix, index)
    thread = WorkerThread()
    state.worker_idents.add(threading.get_ident())
    _live_workers[threading.get_ident()] = thread
    state.threads.append(thread)
    state.workers_started += 1
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


def _run_task(task_id: int) -> int:
    """Run a task; return how it ended (an outcome of Go's contract, which
    Go counts for stats())."""
    item = _work_items.pop(task_id, None)
    if item is None:
        return _CANCELLED
    _, future, fn, args, kwargs = cast(_WorkItem, item)  # a worker's task: a tuple
    del item
    if not future.set_running_or_notify_cancel():
        return _CANCELLED
    try:
        result = fn(*args, **kwargs) if kwargs else fn(*args)
    except BaseException as exc:
        _future.set_outcome(future, exc, failed=True)
        # Break the cycle exc -> traceback -> this frame -> future -> exc.
        del future, exc
        return _FAILED
    _future.set_outcome(future, result, failed=False)
    return _COMPLETED


# What _run_task returns (taskstats.Outcome), from Go's contract once the
# extension is loaded (_load_outcomes).
_COMPLETED = _FAILED = _CANCELLED = 0


def _load_outcomes() -> None:
    global _COMPLETED, _FAILED, _CANCELLED
    _COMPLETED = _native.const("outcome", "COMPLETED")
    _FAILED = _native.const("outcome", "FAILED")
    _CANCELLED = _native.const("outcome", "CANCELLED")


def _fail_task(task_id: int, kind: int, message: str) -> None:
    item = _work_items.pop(task_id, None)
    if not isinstance(item, tuple):
        return  # gone, or a Go task's (the pump fails those)
    state, future = item[0], item[1]
    exc: BaseException
    if kind == _native.const("fail", "BROKEN"):
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
        if _global_shutdown:
            # As the stdlib's worker that leaves at interpreter exit flags its
            # executor: a later submit says "after shutdown"; one made while
            # the queued work still runs, "after interpreter shutdown".
            state.shutdown = True
    thread = _live_workers.pop(ident, None)
    # CPython 3.11 never forgets the _DummyThread that current_thread() made
    # for this foreign thread; without this, threading.enumerate() would list
    # every worker that ever lived.
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        if isinstance(threading._active.get(ident), threading._DummyThread):  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]
    if last:
        _pools.pop(pool_id, None)
    if thread is not None:
        thread._stop()  # last: join() on it returns once this worker is gone


register_fork_handler(lambda: list(_live_workers.values()))
