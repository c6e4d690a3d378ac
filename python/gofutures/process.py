"""ProcessPoolExecutor on a Go-supervised pool of worker processes.

Data flow::

    submit(fn, *args)        Python: pickle the call (plain pickle, cloudpickle for
      |                      __main__ and dynamic code), make a Future, hand the
      |                      bytes to Go at once with fast_proc_submit (GIL held;
      v                      one copy, none for a big buffer's pickle pieces)
    procpool.Pool (Go)       FIFO; one slot goroutine per worker keeps `depth`
      |                      TASK frames in flight on the worker's Unix socket,
      |                      and sends the next task as soon as a result arrives
      v
    worker process           forked by the zygote (or exec'd for 'spawn'); runs
      |                      the call, sends RESULT or ERROR (with its traceback)
      v
    completion pump (Go)     one goroutine with a kept Python thread state takes
      |                      the GIL once per batch of completions
      v
    _deliver(batch)          Python: unpickles, completes the futures, marks
                             pending ones RUNNING in the freed places

Future states follow the stdlib: up to 2 x workers + 1 futures are RUNNING
(its call queue); the others stay PENDING and cancel() succeeds on them. Their
tasks already wait in Go's queue, so no worker waits for Python between
tasks: cancel() takes the task back from Go (procpool.Pool.Cancel), and
fails, marking the future RUNNING, if a worker already has it.

A worker that dies breaks the pool as in the stdlib: every pending and
running future fails with BrokenProcessPool (the message says how the worker
ended), later submits raise it. Opt-in per-task fates (task_timeout=,
schedule(timeout=), on_worker_death="fail_task", terminate_task) end one task
and replace its worker instead: see _task_fate. Workers die with the parent: each sets
PR_SET_PDEATHSIG, and a zygote exits at the end of its command pipe, which
comes when the program dies (one that became a worker gets SIGKILL then).
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import multiprocessing as mp
import operator
import os
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import _base as _stdlib_base
from concurrent.futures import process as _stdlib_process
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback
from functools import partial
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Literal, overload

from gofutures import (
    _buffmap,
    _command,
    _forcestop,
    _future,
    _mpshare,
    _native,
    _pickling,
    _procview,
    _stats,
    _task_fate,
    _thread_views,
    _timeout,
    _worker,
    _zygote,
)
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

__all__ = ("ProcessPoolExecutor", "BrokenProcessPool")

# Event kinds (procpool.EventKind), start modes (boundary.StartMode) and
# why a pool broke (procpool.Cause) are named here; their values come from
# Go (_native.contract).

# For a worker's death (by cause name), when it died.
_DIED_PHASE = {
    "DIED_STARTING": " before it was ready",
    "DIED_INITIALIZING": " during its initialization",
    "DIED_RUNNING": "",
}

# Tasks sent to a worker at a time. One, as in the stdlib where workers pull
# from a shared queue: a task never waits behind a busy worker while another
# is idle. Every other task waits in Go's shared queue, so a worker that
# finishes gets the next one without a round trip through Python.
_DEPTH = 1

_BROKEN_MESSAGE = "A child process terminated abruptly, the process pool is not usable anymore"
# What the stdlib tells the futures a broken pool fails (a worker died, or an
# initializer raised: its worker then exits), word for word.
_DIED_MESSAGE = (
    "A process in the process pool was terminated abruptly while the future was running or pending."
)


def _broken_messages(facts_json: str | bytes) -> tuple[str, str]:
    """The stdlib's sentences for a pool that broke, from the facts Go
    reported (procpool.BrokenFacts): what the pending and running futures
    fail with, and what later submits raise. Go's details go in parentheses.
    """
    facts = json.loads(facts_json)
    causes = {value: name for name, value in _native.contract["cause"].items()}
    cause = causes.get(facts["cause"], "FAILURE")
    pid = facts.get("pid", 0)
    if cause == "INITIALIZER_RAISED":
        detail = f"(the initializer failed in worker pid {pid}: {facts.get('detail', '')})"
        return f"{_DIED_MESSAGE} {detail}", f"{_BROKEN_MESSAGE} {detail}"
    if cause in _DIED_PHASE:
        detail = f"(worker pid {pid} {facts.get('status', '')}{_DIED_PHASE[cause]})"
        return f"{_DIED_MESSAGE} {detail}", f"{_BROKEN_MESSAGE} {detail}"
    detail = facts.get("detail", "")
    return detail, f"{_BROKEN_MESSAGE} ({detail})"


class _ProcFuture(_future.Future[Any]):
    """A process pool's future. While it is PENDING its task may already be
    in Go's queue: cancel() first takes it back from there."""

    _pool_id: int | None = None  # set while the task is PENDING in Go's queue
    _task_id = 0

    def cancel(self) -> bool:
        # Lock order: see _PoolState (this holds _condition across a Go call).
        # The done-callbacks run after _condition is released, as the
        # stdlib's cancel() runs them: a callback may submit to the pool,
        # which takes _PoolState.lock, taken before _condition elsewhere.
        interrupted: BaseException | None = None
        # The condition's own lock: Condition.__enter__ is Python code, and
        # an interrupt (Ctrl-C) inside it would leave the lock held for ever.
        with self._condition._lock:
            pool_id = self._pool_id
            if self._state == _stdlib_base.PENDING and pool_id is not None:
                answer: list[bool] = []
                try:
                    _native.fast_proc_cancel(pool_id, self._task_id, answer)
                except BaseException as exc:
                    if not answer:
                        raise  # Go was not asked: nothing changed
                    # Ctrl-C as Go answered: what Go did is ended first.
                    interrupted = exc
                self._pool_id = None
                if not answer[0]:
                    # A worker has it: it runs, as a RUNNING future does.
                    self.set_running_or_notify_cancel()
                    if interrupted is not None:
                        raise interrupted
                    return False
            if self._state in (_stdlib_base.RUNNING, _stdlib_base.FINISHED):
                return False
            if self._state in (_stdlib_base.CANCELLED, _stdlib_base.CANCELLED_AND_NOTIFIED):
                return True
            self._state = _stdlib_base.CANCELLED
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]
        if interrupted is not None:
            raise interrupted
        return True

    cancel.__doc__ = _stdlib_base.Future.cancel.__doc__


# repr() (and so the "exception calling callback for" log line) and
# type(f).__name__ read "Future", as for the stdlib's futures; the class
# keeps its private name in this module.
_ProcFuture.__name__ = _ProcFuture.__qualname__ = "Future"


class _Item:
    __slots__ = ("future", "counted")

    def __init__(self, future: _ProcFuture) -> None:
        self.future = future
        self.counted = False  # counted in _PoolState.running


class _PoolState:
    """What an executor shares with the pump; never references the executor.

    Locks, in the order they are taken (never the reverse):

    1. ``lock`` (this object's): items, pending, running, broken, shutdown.
       Held by submit, _deliver, _promote, _break and shutdown.
    2. a future's ``_condition``: taken under ``lock`` by _promote, and alone
       by the future's own methods. _ProcFuture.cancel holds it while it
       calls Go (fast_proc_cancel, which releases the GIL): Go's
       pool mutex is then taken under ``_condition``, and Go never calls
       Python while it holds that mutex, so no cycle forms.

    The pump calls _deliver with the GIL and no Go lock held.
    """

    def __init__(self, workers: int) -> None:
        self.pool_id: int | None = None
        self.lock = threading.Lock()
        # Tasks handed to Go and not reported yet; pending: the ids of those
        # whose future is still PENDING, in submit order.
        self.items: dict[int, _Item] = {}
        self.pending: collections.deque[int] = collections.deque()
        self.running = 0  # futures this pool marked RUNNING, not yet done
        # The stdlib marks up to this many futures RUNNING: one per worker plus
        # its call queue of max_workers + 1; the rest stay cancellable.
        self.capacity = 2 * workers + 1
        self.broken: str | None = None
        self.shutdown = False
        self.close_sent = False
        # For a 'fork' pool: the __main__ functions and classes its workers
        # inherited (weakly, by name: _pickling.inherited_main).
        self.inherited_main: _pickling.InheritedMain | None = None
        self.workers_seen = False  # _processes once found every worker running
        # Whether Go may replace a worker at any time (a task killed: see
        # _task_fate); asked for before the pool starts, known once it has.
        self.replaceable = False


_pools: dict[int, _PoolState] = {}
_task_ids = itertools.count(1)
_global_shutdown = False

# What mp_context may name: multiprocessing's start methods on POSIX.
StartMethod = Literal["fork", "forkserver", "spawn"]


class ProcessPoolExecutor(TypedMap, RefusesPickle, _stdlib_process.ProcessPoolExecutor):  # type: ignore[misc]
    """An Executor that runs calls in a pool of Go-supervised worker processes.

    Same signature and behaviour as concurrent.futures.ProcessPoolExecutor.
    ``mp_context`` selects how workers start: 'spawn' executes a fresh
    interpreter per worker; 'fork', 'forkserver' and None fork workers from a
    zygote, a warm interpreter without the Go runtime (for the program's first
    pool, a fork of the program that becomes the pool's last worker). It
    subclasses the stdlib class only for isinstance checks.
    """

    _pickle_refusal = "_thread.lock"

    # The constructor's types are typeshed's for the stdlib class (initargs
    # must fit the initializer's parameters), except that mp_context may also
    # name a start method, as multiprocessing.get_context takes it.
    @overload
    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: BaseContext | StartMethod | None = None,
        initializer: Callable[[], object] | None = None,
        initargs: tuple[()] = (),
        *,
        max_tasks_per_child: int | None = None,
        task_timeout: float | None = None,
        on_worker_death: _task_fate.OnWorkerDeath = "break",
        max_worker_memory: int | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: BaseContext | StartMethod | None = None,
        *,
        initializer: Callable[[*Ts], object],
        initargs: tuple[*Ts],
        max_tasks_per_child: int | None = None,
        task_timeout: float | None = None,
        on_worker_death: _task_fate.OnWorkerDeath = "break",
        max_worker_memory: int | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self,
        max_workers: int | None,
        mp_context: BaseContext | StartMethod | None,
        initializer: Callable[[*Ts], object],
        initargs: tuple[*Ts],
        *,
        max_tasks_per_child: int | None = None,
        task_timeout: float | None = None,
        on_worker_death: _task_fate.OnWorkerDeath = "break",
        max_worker_memory: int | None = None,
    ) -> None: ...
    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: BaseContext | StartMethod | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        task_timeout: float | None = None,
        on_worker_death: _task_fate.OnWorkerDeath = "break",
        max_worker_memory: int | None = None,
    ) -> None:
        # gofutures' own options (see _task_fate), checked first.
        self._task_timeout = _timeout.check(task_timeout)
        self._fail_task = _task_fate.check_on_worker_death(on_worker_death)
        # Bytes of resident memory above which a worker is replaced between
        # tasks (_forcestop; 0: no limit). A stdlib fallback pool ignores it.
        self._max_worker_memory = _forcestop.check_max_worker_memory(max_worker_memory)
        self._stdlib_fallback = _native.stdlib_fallback()
        if self._stdlib_fallback:
            # This process cannot use Go (it was forked after its Go runtime
            # started, or its address-space limit is too tight): run the
            # stdlib's pool here, as the stdlib would.
            if isinstance(mp_context, str):
                mp_context = mp.get_context(mp_context)
            super().__init__(
                max_workers, mp_context, initializer, initargs,
                max_tasks_per_child=max_tasks_per_child,
            )
            return
        if max_workers is None:
            max_workers = default_cpu_count() or 1
        elif max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if isinstance(mp_context, str):
            mp_context = mp.get_context(mp_context)
        method = mp_context.get_start_method() if mp_context is not None else None
        # What multiprocessing reports in a worker, as in the stdlib's: with
        # max_tasks_per_child and no context, the stdlib spawns its workers
        # (the program's start method is fixed once one starts: see _start);
        # otherwise the pool's method, or the program's, which the stdlib's
        # default fixes now.
        worker_method = method
        if mp_context is None:
            if max_tasks_per_child is not None:
                worker_method = "spawn"
            else:
                worker_method = mp.get_context().get_start_method()
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
            if method == "fork":
                raise ValueError(
                    "max_tasks_per_child is incompatible with the 'fork' multiprocessing "
                    "start method; supply a different mp_context."
                )
        _check_worker_count(max_workers)  # last, where the stdlib fails on it
        self._max_workers = max_workers
        self._mp_context = mp_context
        # typeshed declares Callable[..., None] here, narrower than it types
        # the constructor's initializer.
        self._initializer = initializer  # type: ignore[assignment]
        self._initargs = initargs
        self._max_tasks_per_child = max_tasks_per_child
        self._start_method = method
        self._worker_start_method = worker_method
        self._state = _PoolState(max_workers)
        self._state.replaceable = task_timeout is not None or self._fail_task
        self._finalizer = weakref.finalize(self, _shutdown_nowait, self._state)
        self._finalizer.atexit = False

    def _start(self) -> None:
        """Start the Go pool (and with it the zygote and workers); lock held."""
        st = self._state
        if st.pool_id is not None:
            return
        initializer = (self._initializer, self._initargs)
        if self._worker_start_method in ("spawn", "forkserver"):
            # The stdlib's spawn and forkserver workers get the program's
            # start method in their preparation data, which fixes it.
            mp.get_start_method()
        start, zygote_fds = _start_mode(self._start_method, initializer, self._max_tasks_per_child)
        # Until fast_proc_new takes it, the zygote is ours to end.
        owned_zygote = zygote_fds
        try:
            _native.ext()  # loads the Go runtime; raises in a forked child
            if start == "FORKED_ZYGOTE":
                # Its workers are forks of the program taken now: the
                # initializer and its arguments reach them by inheritance, as
                # with the stdlib's 'fork' (locks, queues, anything), and so
                # does __main__ code defined by now, the resource tracker and
                # __main__ itself.
                init_payload: bytes | None = None
                init_fds: list[int] = []
                tracker_index: int | None = None
                fresh_main: tuple[str | None, str | None] | None = None
                thread: tuple[list[int], int, list[int]] | None = None
                main = sys.modules.get("__main__")
                st.inherited_main = _pickling.inherited_main(main.__dict__) if main is not None else None
            else:
                init_payload, init_fds = _mpshare.dumps_initializer(*initializer)
                # Fresh interpreters and forks of a fresh zygote report shared
                # memory to the program's resource tracker, as the stdlib's
                # spawned and forkserver workers do; with a tracker of their
                # own, a segment a task only attached to was unlinked when
                # the worker exited. They also get the program's __main__
                # file and name, as the stdlib's load the script.
                tracker_fd = _resource_tracker_fd()
                tracker_index = None
                if tracker_fd is not None:
                    tracker_index, init_fds = len(init_fds), [*init_fds, tracker_fd]
                fresh_main = _main_identity()
                # And this thread's affinity, nice value and signal mask,
                # which the stdlib's would inherit from it: Go's thread that
                # starts them kept those of when Go started.
                thread = _worker.thread_settings()
            init = _pickling.dumps_call(
                {
                    "sys_path": list(sys.path),
                    # Workers see the environment and the authkey (Manager
                    # proxies) of the moment the pool starts, as forked stdlib
                    # workers do; they apply them before the initializer.
                    "environ": dict(os.environ),
                    "authkey": bytes(mp.current_process().authkey),
                    # multiprocessing used by a task starts its processes the
                    # pool's way, as in the stdlib's workers.
                    "start_method": self._worker_start_method,
                    # Fresh interpreters and forkserver children see the
                    # program's sys.argv and working directory, as the
                    # stdlib's see them (multiprocessing's preparation data).
                    "sys_argv": list(sys.argv),
                    "cwd": _working_directory(),
                    "resource_tracker_fd": tracker_index,
                    "main": fresh_main,
                    "thread": thread,
                    "initializer": init_payload,
                }
            )
            # Fresh interpreters run multiprocessing's executable with this one's flags.
            zygote = _command.argv("_zygote", sys.path)
            worker = _command.argv("_worker", sys.path)
            spec = _pool_spec(
                workers=self._max_workers,
                max_tasks_per_child=self._max_tasks_per_child or 0,
                depth=_DEPTH,
                start=_native.const("start", start),
                zygote_pid=zygote_fds[0],
                zygote_cmd_fd=zygote_fds[1],
                zygote_rep_fd=zygote_fds[2],
                zygote_argv=_command.encode(zygote),
                worker_argv=_command.encode(worker),
                init_payload=init,
                init_fds=list(init_fds),
                task_timeout_ns=_task_fate.to_ns(self._task_timeout),
                fail_task_on_death=self._fail_task,
                replaceable=st.replaceable,
                max_worker_memory=self._max_worker_memory,
                # Fresh interpreters read PYTHONHASHSEED and the like at start.
                worker_env=[base64.b64encode(entry).decode() for entry in _native.fast_environ()],
            )
            owned_zygote = (0, -1, -1)  # Go owns it now, even if the call fails
            pool_id = _native.fast_proc_new(spec)
        except BaseException:
            _close_zygote(owned_zygote)
            raise
        st.pool_id = pool_id
        # Only an adopted zygote without a task quota becomes the last worker.
        st.replaceable = (
            st.replaceable
            or start != "FORKED_ZYGOTE"
            or bool(self._max_tasks_per_child)
            or bool(self._max_worker_memory)
        )
        _pools[pool_id] = st
        _stats.release_when_dropped(self, "ProcPoolStatsRelease", pool_id)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._stdlib_fallback:
            return super().submit(fn, *args, **kwargs)
        if _native.forked:
            # Before the lock: a fork may have copied it held by the pump.
            raise RuntimeError(_native.FORK_MESSAGE)
        st = self._state
        with st.lock:
            refuse_submit(st.broken, BrokenProcessPool, st.shutdown, _global_shutdown)
            future = _ProcFuture()
            self._start()  # first: a 'fork' pool's zygote decides how __main__ travels
            try:
                if _pickling.has_big_buffer(args):
                    payload = _pickling.dumps_call_pieces((fn, args, kwargs))
                else:
                    payload = _pickling.dumps_call((fn, args, kwargs), st.inherited_main)
            except BaseException as exc:
                # As the stdlib's queue feeder: the call fails, the pool goes on.
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                # (typeshed types _RemoteTraceback's argument as a traceback)
                exc.__cause__ = _RemoteTraceback('\n"""\n%s"""' % text)  # type: ignore[arg-type]
                future.set_exception(exc)
                return future
            task_id = next(_task_ids)
            future._task_id = task_id
            timeout_ns = _task_fate.take_next_timeout()  # from schedule()
            if timeout_ns is not None:
                _native.call("ProcPoolSetTimeout", st.pool_id, task_id, timeout_ns)
            try:
                _native.fast_proc_submit(st.pool_id, task_id, payload)  # type: ignore[arg-type]
            except BrokenProcessPool:
                # Go knows the pool broke (a worker _start() just forked died
                # at once, in its initializer), the pump has not told us yet.
                # The stdlib's submit had queued the item by then, and the
                # break fails it with the others: so does the pump's _break,
                # which waits for st.lock.
                st.items[task_id] = _Item(future)
                return future
            del payload
            item = _Item(future)
            st.items[task_id] = item
            if st.running < st.capacity and not st.pending:
                future.set_running_or_notify_cancel()
                item.counted = True
                st.running += 1
            else:
                future._pool_id = st.pool_id
                st.pending.append(task_id)
            return future

    submit.__doc__ = _stdlib_base.Executor.submit.__doc__

    def schedule(
        self,
        fn: Callable[..., T],
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[T]:
        """Submit ``fn(*args, **kwargs)`` (pebble's form, which leaves every
        keyword to ``fn``) with a deadline: ``timeout`` seconds from when a
        worker starts the task (None: the pool's ``task_timeout``). Past it
        the worker is killed (SIGKILL) and replaced, and only this future
        fails, with TimeoutError; the pool goes on."""
        seconds = _timeout.check(timeout)
        args = tuple(args)
        kwargs = {} if kwargs is None else kwargs
        if seconds is None or self._stdlib_fallback:
            return self.submit(fn, *args, **kwargs)
        st = self._state
        with st.lock:
            if st.pool_id is None:
                st.replaceable = True  # asked for before the pool starts
            elif not st.replaceable:
                raise RuntimeError(_task_fate.NOT_REPLACEABLE.format(what="a task timeout"))
        _task_fate.set_next_timeout(_task_fate.to_ns(seconds))
        try:
            return self.submit(fn, *args, **kwargs)
        finally:
            _task_fate.set_next_timeout(None)

    def terminate_task(self, future: Future[Any]) -> bool:
        """End one task: a running one has its worker killed (SIGKILL) and
        replaced, a pending one is cancelled; the future ends cancelled and
        True is returned. False for a future that is done or not this
        pool's. The pool goes on."""
        if self._stdlib_fallback:
            return future.cancel()
        return _task_fate.terminate_task(self._state, future)

    def _map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[T]:
        """As concurrent.futures.ProcessPoolExecutor.map: with chunksize > 1,
        each chunk of calls travels as one message. ``buffersize`` is Python
        3.14's (on every Python): an int ``n`` reads the input lazily and
        keeps at most ``n`` chunks ahead of the consumer (see
        gofutures._buffmap)."""
        if buffersize is not None:
            if chunksize < 1:
                raise ValueError("chunksize must be >= 1.")
            _buffmap.check_buffersize(buffersize)
            chunks = _buffmap.buffered_map(
                self, partial(_process_chunk, fn), (_chunks(iterables, chunksize),),
                timeout, buffersize,
            )
            return _chain(chunks)
        if self._stdlib_fallback:
            return super().map(fn, *iterables, timeout=timeout, chunksize=chunksize)
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        results = super(_stdlib_process.ProcessPoolExecutor, self).map(
            partial(_process_chunk, fn),
            _chunks(iterables, chunksize),
            timeout=timeout,
        )
        return _chain(results)

    # Typed by TypedMap's overloads.
    _map.__name__ = "map"
    _map.__qualname__ = "ProcessPoolExecutor.map"
    if not TYPE_CHECKING:
        map = _map
    del _map

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, timeout: float | None = None
    ) -> None:
        limit = _timeout.check(timeout)
        if timeout is not None and not wait:
            raise ValueError("shutdown(timeout=...) needs wait=True: shutdown(wait=False) does not wait")
        if self._stdlib_fallback:
            if limit is None:
                super().shutdown(wait, cancel_futures=cancel_futures)
            else:
                _forcestop.stdlib_shutdown_timeout(self, cancel_futures, limit)
            return
        _shutdown_state(self._state, wait, cancel_futures, limit)

    shutdown.__doc__ = (_stdlib_base.Executor.shutdown.__doc__ or "") + """
        gofutures adds:
            timeout: with wait=True, the seconds to wait for the running
                tasks. Once they have passed, the workers still running
                tasks are killed, and those futures (and any still waiting
                for a worker) fail with BrokenProcessPool; shutdown returns
                once the killed workers are reaped. None (the default): wait
                as long as the tasks take.
        """

    def terminate_workers(self) -> None:
        """Shut the pool down without waiting, cancelling the futures still
        pending, and send SIGTERM to every live worker (Python 3.14's
        ProcessPoolExecutor.terminate_workers, on every Python). The futures
        of tasks running then fail with BrokenProcessPool once their worker
        dies; later submits raise RuntimeError."""
        self._force_shutdown("terminate")

    def kill_workers(self) -> None:
        """As terminate_workers(), with SIGKILL (Python 3.14's
        ProcessPoolExecutor.kill_workers, on every Python)."""
        self._force_shutdown("kill")

    def _force_shutdown(self, operation: _forcestop.Operation) -> None:
        if self._stdlib_fallback:
            _forcestop.stdlib_force_shutdown(self, operation)
            return
        _shutdown_state(self._state, False, True)
        if not _native.forked:
            _forcestop.force_stop(self._state.pool_id, operation)

    def stats(self) -> dict[str, int | float | None]:
        """Counts of this pool's tasks and workers, read from Go (not in
        concurrent.futures): ``submitted`` (tasks handed to the pool; a call
        that fails to pickle never is), ``queued`` (waiting for a worker),
        ``running`` (sent to a worker, result not yet back), ``completed``
        (the worker returned), ``failed`` (the worker raised, or the pool
        broke while the task was queued or running), ``cancelled`` (taken
        back before a worker got it), ``workers`` (live worker processes),
        ``worker_restarts`` (workers started to replace another, whatever
        the reason: ``max_tasks_per_child`` or any other) and ``p50``/``p99``:
        the median and 99th percentile of task latency in seconds, from the
        moment the task is handed to its worker to the moment its result is
        read (time spent queued excluded; within 6.25%), None before a task
        has ended. Once every task has ended, ``submitted == completed +
        failed + cancelled``. Valid after shutdown, too.
        """
        if self._stdlib_fallback:
            raise RuntimeError(_stats.FALLBACK_MESSAGE)
        pool_id = self._state.pool_id
        if pool_id is None:  # nothing submitted yet: no worker started
            return _stats.empty()
        return _stats.read("ProcPoolStats", pool_id)

    # Views of the stdlib's private attributes, which typeshed declares as
    # attributes of other types: hence the ignores.
    @property  # type: ignore[override]
    def _processes(self) -> dict[int, _procview.WorkerHandle] | None:
        """The live workers by pid, as the stdlib's private attribute that
        real code reads (see _procview); None after shutdown."""
        if self._stdlib_fallback:
            return self.__dict__.get("_processes")
        st = self._state
        if st.shutdown:
            return None
        if st.pool_id is None or _native.forked:
            return {}
        # The stdlib starts its processes inside submit: a read right after
        # one finds them. Here Go starts them meanwhile, so the first read
        # of a pool waits (up to 5 s) until all of them run.
        deadline = time.monotonic() + (0 if st.workers_seen else 5.0)
        while True:
            pids = _native.call("ProcPoolPids", st.pool_id)
            assert isinstance(pids, str)
            workers = _procview.workers(pids)
            if len(workers) >= self._max_workers or st.broken or time.monotonic() >= deadline:
                st.workers_seen = True
                return workers
            time.sleep(0.005)

    @_processes.setter
    def _processes(self, value: object) -> None:
        # Only the stdlib's own code (a fallback pool) assigns it.
        self.__dict__["_processes"] = value

    @property  # type: ignore[override]
    def _broken(self) -> str | bool:
        """Why the pool broke, or False: the stdlib's private flag, which
        real code (and CPython's tests) poll."""
        if self._stdlib_fallback:
            broken: str | bool = self.__dict__.get("_broken", False)
            return broken
        return self._state.broken or False

    @_broken.setter
    def _broken(self, value: object) -> None:
        # Only the stdlib's own code (a fallback pool) assigns it.
        self.__dict__["_broken"] = value


# The start mode (boundary.StartMode, by name) of each start method.
_START_MODES = {"fork": "FORKED_ZYGOTE", "forkserver": "FRESH_ZYGOTE", "spawn": "EXEC"}


def _main_identity() -> tuple[str | None, str | None]:
    """The program's ``__main__``: its file (absolute, as multiprocessing
    gives it to spawned children) and its ``__spec__`` name (``python -m``)."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if isinstance(file, str) and not os.path.isabs(file):
        from multiprocessing import process as mp_process

        file = os.path.normpath(os.path.join(mp_process.ORIGINAL_DIR or "", file))  # type: ignore[attr-defined]
    name = getattr(getattr(main, "__spec__", None), "name", None)
    return (file if isinstance(file, str) else None, name if isinstance(name, str) else None)


def _resource_tracker_fd() -> int | None:
    """The program's multiprocessing resource tracker, started if need be
    (as the stdlib's spawning and forkserver pools start it): its pipe's
    write end, or None if it cannot run."""
    try:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        return resource_tracker.getfd()
    except Exception:
        return None


def _working_directory() -> str | None:
    """os.getcwd(), or None when the directory was removed."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _pool_spec(**fields: Any) -> bytes:
    """The record fast_proc_new takes (boundary.ProcPoolSpec, JSON): bytes
    fields in base64, as Go's encoding/json reads []byte. Go refuses a record
    whose fields differ from its own."""
    record = {
        name: base64.b64encode(value).decode() if isinstance(value, bytes) else value
        for name, value in fields.items()
    }
    return json.dumps(record).encode()


def _start_mode(
    method: str | None, initializer: tuple[Any, Any], max_tasks_per_child: int | None = None
) -> tuple[str, tuple[int, int, int]]:
    """How a new pool starts workers, by start method (None: the one set with
    multiprocessing.set_start_method, else 'fork'):

    - 'fork': fork a zygote from the program now, for this pool only; its
      workers are its forks (about a millisecond each) and see the program as
      it is now, as the stdlib's fork workers do (initializer included, by
      inheritance). Go may turn the zygote into the pool's last worker.
    - 'forkserver': fork from a fresh zygote interpreter, shared by pools.
    - 'spawn': execute a fresh interpreter per worker.

    Whatever the mode, a worker applies the pool's sys.path, os.environ and
    authkey from when the pool started before it runs the initializer.

    A fork of a program that runs other threads copies their locks in
    whatever state they are. The stdlib's 'fork' takes that risk, so None
    does too, except with max_tasks_per_child, where the stdlib spawns: such
    a pool then forks from a fresh zygote instead (Go's threads count: they
    run thread pools' Python tasks).
    """
    explicit = method
    if method is None:
        method = mp.get_start_method(allow_none=True) or "fork"
    mode = _START_MODES.get(method, "FORKED_ZYGOTE")
    if mode != "FORKED_ZYGOTE":
        return mode, (0, -1, -1)
    if explicit is None and max_tasks_per_child is not None and _zygote.thread_count() > 1:
        return "FRESH_ZYGOTE", (0, -1, -1)
    return mode, _zygote.fork_program(initializer)


def _close_zygote(zygote_fds: tuple[int, int, int]) -> None:
    """A zygote forked for a pool that failed to start: hang up (it exits on
    the end of its command pipe) and reap it."""
    pid, cmd, rep = zygote_fds
    for fd in (cmd, rep):
        if fd >= 0:
            os.close(fd)
    if pid > 0:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


# The stdlib sizes a semaphore by max_workers + 1 (its call queue), so a
# count that is not an index, or does not fit a C int, fails at construction.
_C_INT_MAX = 2**31 - 1


def _check_worker_count(max_workers: int) -> None:
    """Raise what the stdlib's constructor raises for this max_workers."""
    count = operator.index(max_workers)
    if count + 1 > _C_INT_MAX:
        raise OverflowError("Python int too large to convert to C int")


def _process_chunk(fn: Callable[..., Any], chunk: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """Runs in a worker: one call per argument tuple of the chunk."""
    return [fn(*args) for args in chunk]


def _chunks(iterables: tuple[Iterable[Any], ...], chunksize: int) -> Iterator[tuple[Any, ...]]:
    """The calls of map in chunks, as the running Python's stdlib makes them
    (3.13's itertools.batched raises its own errors for a chunksize that is
    no int)."""
    if sys.version_info >= (3, 13):
        return itertools.batched(zip(*iterables, strict=False), chunksize)
    return _islice_chunks(zip(*iterables, strict=False), chunksize)


def _islice_chunks(it: Iterator[tuple[Any, ...]], chunksize: int) -> Iterator[tuple[Any, ...]]:
    while chunk := tuple(itertools.islice(it, chunksize)):
        yield chunk


def _chain(results: Iterator[list[Any]]) -> Iterator[Any]:
    for chunk in results:
        chunk.reverse()
        while chunk:
            yield chunk.pop()


def _promote(st: _PoolState) -> None:
    """Mark pending futures RUNNING while fewer than `capacity` are; lock held."""
    while st.pending and st.running < st.capacity:
        task_id = st.pending.popleft()
        item = st.items.get(task_id)
        if item is None:
            continue  # done before its turn (a worker took it early)
        future = item.future
        with future._condition._lock:  # not Condition.__enter__: see cancel()
            future._pool_id = None
            if future._state == _stdlib_base.CANCELLED:
                # cancel() took the task back from Go; it will not be reported.
                del st.items[task_id]
                future.set_running_or_notify_cancel()
                continue
            if future._state == _stdlib_base.PENDING:
                future.set_running_or_notify_cancel()
        item.counted = True
        st.running += 1


# On a pool's pump thread (it runs _deliver, so the futures' callbacks), the
# pool's state: that thread cannot wait for the pool to finish. A thread-local,
# not an ident: a later thread can get an ended pump's ident.
_pump_thread = threading.local()


def _on_pump_of(st: _PoolState) -> bool:
    """Whether the calling thread is the pump of the pool with state st."""
    return getattr(_pump_thread, "state", None) is st


# The facts of a pool that broke, when the pump found no memory for Go's.
_NO_MEMORY_FACTS = '{"cause": -1, "detail": "no memory for the reason"}'


def _deliver(pool_id: int, events: list[tuple[int, int, bytes | int]]) -> int:
    """Called by the Go pump with a batch of completions, GIL held. Returns
    contract["pump_close"] when the pool has no work left after shutdown (Go
    then closes it), else 0."""
    st = _pools.get(pool_id)
    if st is None:
        return 0
    if not _on_pump_of(st):
        # The pump's first batch: callbacks run on this thread, where the
        # stdlib runs them on its (non-daemon) manager thread, "Thread-N".
        _thread_views.adopt_pump_thread()
        _pump_thread.state = st
    done: list[tuple[Future[Any], int, bytes | int]] = []
    broken: str | None = None
    event_broken = _native.const("event", "BROKEN")
    event_result = _native.const("event", "RESULT")
    fates = _task_fate.kinds()
    with st.lock:
        for kind, task_id, data in events:
            if kind == event_broken:
                # An int: the pump found no memory for the facts.
                broken = _NO_MEMORY_FACTS if isinstance(data, int) else bytes(data).decode("utf-8", "replace")
                continue
            item = st.items.pop(task_id, None)
            if item is not None:
                done.append((item.future, kind, data))
                st.running -= item.counted
        _promote(st)
        close = st.shutdown and not st.items and not st.close_sent
        if close:
            st.close_sent = True
    for future, kind, data in done:
        try:
            # The pump found no memory for the payload: MemoryError, whatever
            # the event (a timeout or a death then reads as MemoryError too).
            if isinstance(data, int):
                _future.set_outcome(
                    future, MemoryError(f"no memory for a task's result of {data} bytes"), failed=True
                )
            elif kind in fates:
                _task_fate.complete(future, fates[kind], data)
            else:
                _complete(future, kind == event_result, data)
        except BaseException as exc:
            _log_callback_error(future, exc)
    if broken is not None:
        _break(st, broken)
    return int(_native.contract["pump_close"]) if close else 0


def _complete(future: Future[Any], is_result: bool, data: bytes) -> None:
    try:
        value = _pickling.loads(data)
    except BaseException as exc:
        # A result that cannot be unpickled here fails its own future only.
        _future.set_outcome(future, exc, failed=True, message=_OUTCOME_DROPPED)
        return
    _future.set_outcome(future, value, failed=not is_result, message=_OUTCOME_DROPPED)


_OUTCOME_DROPPED = "A task's outcome is dropped: the program completed its future first"


def _break(st: _PoolState, facts: str) -> None:
    """The pool broke for the reasons in ``facts`` (procpool.BrokenFacts):
    fail every pending and running future."""
    reason, st_broken = _broken_messages(facts)
    with st.lock:
        st.broken = st_broken
        items = list(st.items.values())
        st.items.clear()
        st.pending.clear()
        st.running = 0
    for item in items:
        try:
            item.future.set_exception(BrokenProcessPool(reason))
        except InvalidStateError:
            pass  # cancelled while pending: it already ended
        except BaseException as exc:
            _log_callback_error(item.future, exc)


def _log_callback_error(future: Future[Any], exc: BaseException) -> None:
    """A done-callback run by the pump raised what Future does not catch
    (KeyboardInterrupt, SystemExit): log it and go on, so that every other
    future of the batch still completes (as in the thread pool)."""
    _stdlib_base.LOGGER.critical("exception calling callback for %r", future, exc_info=exc)


def _shutdown_state(
    st: _PoolState, wait: bool, cancel_futures: bool, timeout: float | None = None
) -> None:
    with st.lock:
        st.shutdown = True
        pending = [st.items.get(task_id) for task_id in st.pending] if cancel_futures else []

    def cancel_queued(item: _Item | None) -> None:
        # Outside st.lock: cancel() runs the done-callbacks, and one may
        # submit (the stdlib's raises "cannot schedule new futures after
        # shutdown" there) or cancel another future. Each one cancelled is
        # dropped at once: Ctrl-C during the loop must not leave the pool
        # waiting for a task Go gave back.
        if item is not None and item.future.cancel():
            with st.lock:
                st.items.pop(item.future._task_id, None)

    if pending:  # (then the extension is loaded)
        _native.fast_for_each(pending, cancel_queued)
    with st.lock:
        if cancel_futures:
            _promote(st)
        pool_id = st.pool_id
        close_now = pool_id is not None and not st.items and not st.close_sent
        if close_now:
            st.close_sent = True
    if pool_id is None or _native.forked:
        return
    if close_now or st.broken:
        _native.call("ProcPoolClose", pool_id)
    if wait:
        if _on_pump_of(st):
            # A done-callback: the pool cannot finish while this thread
            # waits for it (the stdlib raises the same from its manager).
            raise RuntimeError("cannot join current thread")
        if timeout is not None and not _forcestop.join_until(pool_id, time.monotonic() + timeout):
            _forcestop.break_pool(pool_id, _forcestop.timeout_detail(timeout))
        _native.join("ProcPoolJoin", pool_id)
        _pools.pop(pool_id, None)


def _shutdown_nowait(st: _PoolState) -> None:
    shutdown_dropped(lambda: _shutdown_state(st, False, False), _native.forked, _global_shutdown)


def _python_exit() -> None:
    global _global_shutdown
    _global_shutdown = True
    if _native.forked or not _native.loaded():
        return
    for st in list(_pools.values()):
        _shutdown_state(st, True, False)


threading._register_atexit(_python_exit)  # type: ignore[attr-defined]
