"""Go tasks: calls of gofutures.io and gofutures.http whose work runs in Go.

Every such function is ``prepare`` (Python, GIL held: check the arguments,
write a record of them) plus an operation in Go (gofutures/gotask) plus
``finish`` (Python: turn Go's result record into the return value, or raise
the standard exception). Two ways to run one::

    direct call                         ex.submit(fn, *args) on a gofutures
      |                                 ThreadPoolExecutor
      v                                   |
    fast_go_call (C): starts it in Go,    v
    waits with the GIL released, in     fast_go_submit (C, GIL held):
    slices; Ctrl-C cancels it           queued in C, no call into Go; a
      |                                 goroutine hands it to the pool's
      v                                 gotask.Sched, which runs it on a
    finish(status, meta, body)          goroutine, at most max_workers of
                                        the pool's Go tasks at once
                                          |
                                          v
                                        the completion pump (one per
                                        process, and one more for each
                                        done-callback that holds one up:
                                        pybridge/gotask_pump.go): takes
                                        finished tasks in batches, one GIL
                                        acquisition each -> _deliver below:
                                        finish(...), then set_result /
                                        set_exception

A submitted Go task is a work item of gofutures.thread like any other (same
``_work_items`` table and task ids), so ``shutdown(cancel_futures=True)``
and the pool's join treat it as they treat Python tasks. Its future is a
``_GoFuture``, whose ``cancel()`` asks Go to take the task back (it fails
once the task has started, as for a task a thread worker took).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import ssl
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import _base as _stdlib_base
from types import MethodType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from gofutures import _future, _native, _thread_views

if TYPE_CHECKING:
    from gofutures.thread import _PoolState

T = TypeVar("T")

# A finisher: (status, meta, body) -> the call's return value, or raises.
# The body is bytes, or for a run whose stdout and stderr both hold bytes a
# tuple of the two (each made straight from the pieces Go read, never
# sliced out of one: see gotask.Result).
Finish = Callable[[int, bytes, Any], T]


# One compact encoder: json.dumps(separators=...) builds a new one per call,
# about 5 us of GIL time a task.
encode = json.JSONEncoder(separators=(",", ":")).encode


class GoCall(Generic[T]):
    """A prepared Go task: the operation, its record and body, and how its
    result becomes the call's return value."""

    __slots__ = ("kind", "meta", "body", "finish")

    def __init__(self, kind: str, meta: dict[str, Any] | str, body: bytes, finish: Finish[T]) -> None:
        """meta: the operation's record, or its JSON text."""
        self.kind = kind
        self.meta = (meta if isinstance(meta, str) else encode(meta)).encode()
        self.body = body
        self.finish = finish


# Kinds whose body Go reads only while the task runs: submitted, it is not
# copied but borrowed, and _bodies holds it by task id from the moment it is
# queued (fast_go_submit makes the entry) until the task's completion is
# delivered or the task is taken back (release_body). Not an HTTP request's
# body: net/http may still send it after the response came.
_BORROWED = frozenset({"WRITE", "RUN"})
_bodies: dict[int, bytes] = {}


def release_body(task_id: int) -> None:
    """Forget a borrowed body: its task was taken back before it started
    (cancel(), shutdown(cancel_futures=True)), so Go never reads it."""
    _bodies.pop(task_id, None)

# Functions that are Go tasks, by id: (function, prepare, on_worker). Keyed by
# id so that looking up any callable (unhashable ones, mocks) is safe and cheap.
_registry: dict[
    int, tuple[Callable[..., Any], Callable[..., GoCall[Any]], Callable[..., bool] | None]
] = {}


def go_function(
    prepare: Callable[..., GoCall[Any]], on_worker: Callable[..., bool] | None = None
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Register the decorated (module-level, never collected) function as a
    Go task whose call ``prepare(*args, **kwargs)`` prepares. A submitted
    call for which ``on_worker(*args, **kwargs)`` is true (it must not
    raise) runs as an ordinary task on a worker thread instead, calling the
    function directly, while the executor has a WorkerSlots slot for it."""

    def register(fn: Callable[..., T]) -> Callable[..., T]:
        _registry[id(fn)] = (fn, prepare, on_worker)
        # Bad arguments to a submitted task fail as a direct call fails:
        # "sleep() missing 1 required positional argument", not the
        # preparer's private name.
        prepare.__name__, prepare.__qualname__ = fn.__name__, fn.__qualname__
        return fn

    return register


# An executor of more workers than this lets at most this many calls routed
# to worker threads (go_function's on_worker) be queued or running at once;
# past them a call stays a Go task, so routing never starts a thread per
# call where Go tasks hold none. The stdlib's default max_workers is at most
# this, and so is an executor that never counts.
WORKER_SLOTS = 32


class WorkerSlots:
    """One executor's slots for calls routed to worker threads. Cost: a lock
    taken twice per routed call, on executors of more than WORKER_SLOTS
    workers only."""

    __slots__ = ("_free", "_lock")

    def __init__(self, max_workers: int) -> None:
        self._free = WORKER_SLOTS if max_workers > WORKER_SLOTS else -1  # -1: not counted
        self._lock = threading.Lock()

    def take(self) -> bool | None:
        """A slot for one routed call: None when this executor does not
        count them, True when one was taken (to give back once the call's
        future is done), False when none is free."""
        if self._free < 0:
            return None
        with self._lock:
            if self._free == 0:
                return False
            self._free -= 1
            return True

    def give_back(self, _future: object = None) -> None:
        """Returns a slot taken by take() (a done-callback)."""
        with self._lock:
            self._free += 1


def lookup(
    fn: object, slots: WorkerSlots, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Callable[..., GoCall[Any]] | None, bool]:
    """The prepare function of a Go task (a registered function, or a method
    of a registered one bound to its object), or None: not a Go task, or a
    call of one routed to a worker thread (see go_function); and whether
    that call took a slot of ``slots``, which the caller gives back."""
    entry = _registry.get(id(fn))
    if entry is not None and entry[0] is fn:
        on_worker = entry[2]
        try:
            to_worker = on_worker is not None and on_worker(*args, **kwargs)
        except Exception:  # (it must not raise) a bug: the Go task reports the call's own error
            to_worker = False
        slot = slots.take() if to_worker else False
        return (entry[1], False) if slot is False else (None, bool(slot))
    if type(fn) is MethodType:
        entry = _registry.get(id(fn.__func__))
        if entry is not None and entry[0] is fn.__func__:
            prepare, obj = entry[1], fn.__self__
            return lambda *args, **kwargs: prepare(obj, *args, **kwargs), False
    return None, False


@functools.cache  # the boundary table is read once per kind
def kind(name: str) -> int:
    """The Go operation kind of a GoCall (boundary table "op")."""
    return _kind_lookups[name]()


_kind_lookups: dict[str, Callable[[], int]] = {
    "SLEEP": lambda: _native.const("op", "SLEEP"),
    "RUN": lambda: _native.const("op", "RUN"),
    "READ": lambda: _native.const("op", "READ"),
    "WRITE": lambda: _native.const("op", "WRITE"),
    "HTTP": lambda: _native.const("op", "HTTP"),
}


def call(go: GoCall[T], into: int = -1, inline: bool = False) -> T:
    """Run a prepared call on this thread: the GIL is released while Go
    works, and Ctrl-C interrupts it. ``into`` >= 0 (a file read): Go reads
    the body straight into a bytes object sized for that many bytes.
    ``inline`` (a file read or write): Go does it on this thread, not on a
    goroutine, if it is on a regular file (nothing there waits for long)."""
    _native.ext()
    if into >= 0 and go.kind != "READ":
        raise ValueError(f"into= is for a file read, not {go.kind}")
    status, meta, body = _native.fast_go_call(kind(go.kind), go.meta, go.body, into, inline)
    return go.finish(status, meta, body)


def ok(status: int) -> bool:
    return status == _native.const("op_status", "OK")


# ---- errors ----


def _os_error(rec: dict[str, Any]) -> OSError:
    errno = rec.get("errno", 0)
    if errno:
        if "filename" in rec:
            return OSError(errno, rec["msg"], rec["filename"])
        return OSError(errno, rec["msg"])
    return OSError(rec["msg"])


def _panic(rec: dict[str, Any]) -> BaseException:
    return _native.GoPanicError(rec["msg"])


def _gaierror(rec: dict[str, Any]) -> BaseException:
    import socket

    return socket.gaierror(rec["errno"], rec["msg"])


def _too_many_redirects(rec: dict[str, Any]) -> BaseException:
    from gofutures.http import TooManyRedirects

    return TooManyRedirects(rec["msg"])


# Python's exception for each Go error class (boundary table "op_error");
# "expired" and "canceled" are raised by the callers that expect them.
ERRORS: dict[str, Callable[[dict[str, Any]], BaseException]] = {
    "os": _os_error,
    "timeout": lambda rec: TimeoutError(rec["msg"]),
    "value": lambda rec: ValueError(rec["msg"]),
    "gaierror": _gaierror,
    "ssl": lambda rec: ssl.SSLError(rec["msg"]),
    "ssl_cert": lambda rec: ssl.SSLCertVerificationError(1, rec["msg"]),
    "redirect": _too_many_redirects,
    "panic": _panic,
    "runtime": lambda rec: RuntimeError(rec["msg"]),
    "expired": lambda rec: RuntimeError("timed out: " + rec["msg"]),
    "canceled": lambda rec: KeyboardInterrupt(),
    "memory": lambda rec: MemoryError(rec["msg"]),
}


# What an error without a record raises: Go failed even to report the call's
# result (gotask_op.go: gfOpWait panicked twice, or the op was gone).
_LOST = {"class": "panic", "msg": "go panic: Go lost this call's result"}


def raise_error(meta: bytes) -> NoReturn:
    """Raise the exception of a StatusError record."""
    rec = json.loads(meta) if meta else _LOST
    raise ERRORS[rec["class"]](rec)


# ---- thread pool tasks ----


class _GoFuture(_future.Future[T]):
    """The future of a Go task submitted to a thread pool.

    Go does not report a task leaving the queue (that would cost a trip
    through the pump per task): ``running()``, ``cancel()`` and ``repr()``
    ask Go while the future still reads PENDING."""

    _go_pool: int
    _go_task: int
    _go_finish: Finish[T]

    def _refresh(self) -> None:
        """PENDING -> RUNNING if Go has started the task. In a forked child
        Go is not there to ask (the call would wait for ever): the state
        stays as the child's copy has it."""
        if (
            self._state == _stdlib_base.PENDING
            and not _native.forked
            and _native.fast_go_started(self._go_pool, self._go_task)
        ):
            self._mark_running()

    def _mark_running(self) -> None:
        self._under_lock(_pending_to_running)

    def running(self) -> bool:
        self._refresh()
        return super().running()

    def __repr__(self) -> str:
        self._refresh()
        return super().__repr__()

    def cancel(self) -> bool:
        # Go refuses once the task has started: it runs, as a task a thread
        # worker took does. (A task Go no longer knows was taken back by
        # shutdown, or delivered: the stdlib's cancel() decides.)
        if self._state != _stdlib_base.PENDING or _native.forked:  # a forked child's copy: no Go to ask
            return self._cancel_as_go_answered(True)
        answer: list[bool] = []
        try:
            _native.fast_go_cancel(self._go_pool, self._go_task, answer)
        finally:
            # Also when Ctrl-C's exception comes as Go answers, or meanwhile:
            # a task Go let go must be ended here.
            ended = _native.fast_for_each(answer, self._cancel_as_go_answered)
        return bool(ended[0])

    def _cancel_as_go_answered(self, let_go: bool) -> bool:
        """The rest of cancel() once Go answered whether it let the task go
        (idempotent)."""
        if not let_go:
            self._mark_running()
            return False
        if super().cancel():
            from gofutures.thread import _work_items

            self.__dict__.pop("_go_finish", None)
            release_body(self._go_task)
            if _work_items.get(self._go_task) is self:
                # Go took it back from its queue: no worker will come to it
                # and, as the stdlib's worker does on reaching a cancelled
                # item, tell wait() and as_completed() it is done; then it
                # is dropped (in that order: a step tried again after an
                # interrupt still tells them). (shutdown(cancel_futures=True)
                # uses cancel_taken_back.)
                if self._state == _stdlib_base.CANCELLED:
                    self.set_running_or_notify_cancel()
                _work_items.pop(self._go_task, None)
            return True
        return False

    running.__doc__ = _stdlib_base.Future.running.__doc__
    cancel.__doc__ = _stdlib_base.Future.cancel.__doc__


# repr() and type(f).__name__ read "Future", as for a thread pool's other
# futures; the class keeps its private name in this module.
_GoFuture.__name__ = _GoFuture.__qualname__ = "Future"


def cancel_taken_back(future: _stdlib_base.Future[Any]) -> None:
    """Cancels the future of a task that Go took back and forgot (shutdown's
    cancel_futures), without asking Go; its waiters are not told, as the
    stdlib's shutdown tells no waiter of a queued item it cancels. The
    caller pops its work item."""
    future.__dict__.pop("_go_finish", None)
    _future.Future.cancel(future)  # type: ignore[arg-type]  # a _GoFuture


def _pending_to_running(future: _GoFuture[Any]) -> None:
    if future._state == _stdlib_base.PENDING:
        future._state = _stdlib_base.RUNNING


def submit(
    state: _PoolState,
    prepare: Callable[..., GoCall[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    work_items: dict[int, Any],
    task_id: int,
) -> _future.Future[T]:
    """Queue a Go task on a thread pool (gofutures.thread's submit, with the
    pool's shutdown lock held)."""
    future: _GoFuture[T] = _GoFuture()
    try:
        go = prepare(*args, **kwargs)
    except Exception as exc:
        # Bad arguments fail the task, as they would on a worker thread.
        future.set_running_or_notify_cancel()
        future.set_exception(exc)
        return future
    future._go_pool = state.pool_id
    future._go_task = task_id
    future._go_finish = go.finish
    # The work item of a Go task is its future, not a tuple: one object less
    # for the cyclic GC per pending task, and no pool state in it (the pool's
    # views of waiting work count what thread workers will take).
    work_items[task_id] = future
    try:
        # Queued for Go without calling into it (gf_gotask.h); running()
        # asks Go whether it has started.
        keep = _bodies if go.body and go.kind in _BORROWED else None
        _native.fast_go_submit(state.pool_id, task_id, kind(go.kind), go.meta, go.body, keep)
    except BaseException:
        work_items.pop(task_id, None)  # (the pump may have delivered it meanwhile)
        raise
    return future


# Marks a pump's thread (done-callbacks run there) and records the pool of
# the task whose callbacks it runs: they cannot wait for that pool to finish
# (gofutures.thread's shutdown refuses, as the stdlib refuses on a worker of
# the pool), since the task is settled in Go only once they return. A
# thread-local, not an ident: Go starts pumps again after they stopped, and
# any later thread (a pump, or a Thread of the program) can get an ended
# pump's ident.
_pump_thread = threading.local()


def on_pump_thread() -> bool:
    """Whether the calling thread is a Go-task pump."""
    return getattr(_pump_thread, "is_pump", False)


def pump_delivers_for(pool_id: int) -> bool:
    """Whether the calling thread is a pump running the done-callbacks of a
    task of the pool: then it cannot wait for that pool. (Other tasks are
    delivered by the pump Go starts when this one stays in a callback, and
    those this one delivered before are settled by Go meanwhile.)"""
    return on_pump_thread() and getattr(_pump_thread, "pool", None) == pool_id


def _show_pump() -> threading.Thread | None:
    """The pump's Thread, listed by ``threading`` while it delivers (None if
    it could not be adopted: the batch is delivered anyway).

    Done-callbacks run on it, as on a (non-daemon) worker thread for the
    stdlib, so ``current_thread()`` is a real Thread there. Between batches
    it is not listed (_hide_pump): the stdlib has no such thread, and a
    program counting its threads after a pool's shutdown must find none. Its
    name takes no number from threading's counter ("Thread-N")."""
    if not on_pump_thread():
        _pump_thread.is_pump = True
        _pump_thread.thread = _thread_views.adopt_pump_thread("gofutures-go-pump")
    thread: threading.Thread | None = _pump_thread.thread
    if thread is not None:
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            threading._active[threading.get_ident()] = thread  # type: ignore[attr-defined]
    return thread


def _hide_pump() -> None:
    ident = threading.get_ident()
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        if threading._active.get(ident) is getattr(_pump_thread, "thread", None):  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]


# Completions handed to Python and not yet taken by a pump, oldest first,
# shared by the pumps: Go starts another pump when a done-callback keeps one
# here (gotask_pump.go), and it goes on with the rest of that one's batch.
_undelivered: collections.deque[tuple[int, int, bytes, bytes]] = collections.deque()


def _deliver(batch: list[tuple[int, int, bytes, bytes]]) -> None:
    """Complete a batch of Go tasks, and any left queued by a pump held in a
    done-callback (called by a pump, GIL held). Each task delivered is
    recorded for Go (fast_pump_delivered), which settles it."""
    _undelivered.extend(batch)
    delivered = _native.fast_pump_delivered
    try:
        pump = _show_pump()
        while True:
            try:
                item = _undelivered.popleft()
            except IndexError:
                return
            try:
                _deliver_one(item, pump)
            except BaseException:
                # Only the error path itself can fail here (a logging
                # handler that raises, no memory): the task must still be
                # settled, and the rest delivered.
                with contextlib.suppress(BaseException):
                    traceback.print_exc()
            delivered(item[0])
    finally:
        _hide_pump()


def _deliver_one(item: tuple[int, int, bytes, bytes], pump: threading.Thread | None) -> None:
    from gofutures.thread import _pools, _work_items

    task_id, status, meta, body = item
    _bodies.pop(task_id, None)  # Go is done with it
    future = _work_items.pop(task_id, None)
    if type(future) is not _GoFuture:
        return  # taken back (None), or not a Go task's
    callbacks = bool(future._done_callbacks)
    try:
        try:
            try:  # anything failing before the outcome fails the task: never left pending
                if callbacks:
                    # Go replaces a pump that one task's callbacks hold for
                    # long: the clock starts now (a task with none is done in
                    # microseconds).
                    _native.fast_pump_progress()
                    _pump_thread.pool = future._go_pool
                    # Its callbacks see a name with the executor's prefix, as
                    # on the stdlib's worker ("<prefix>_<n>", any prefix).
                    pool = _pools.get(future._go_pool)
                    if pool is not None and pump is not None:
                        pump.name = "%s_go" % (pool.name_prefix,)
                finish = future._go_finish
                del future._go_finish  # what it holds goes with the task, not the future
                result = finish(status, meta, body)
            except BaseException as exc:
                _future.set_outcome(future, exc, failed=True)
                del exc
            else:
                _future.set_outcome(future, result, failed=False)
        except BaseException as exc:
            # A done-callback raised what Future does not catch (SystemExit,
            # KeyboardInterrupt): logged as the stdlib's worker logs it, and
            # the rest of the batch is still delivered.
            _stdlib_base.LOGGER.critical("Exception in worker", exc_info=exc)
            del exc
    finally:
        if callbacks:
            _pump_thread.pool = None


def _stop_pump() -> None:
    """At exit, after gofutures.thread's hook has joined every pool (this
    hook is registered before it, and threading runs them last first): the
    pump delivers what it holds and exits before the interpreter finalizes."""
    if _native.loaded() and not _native.forked:
        while not _native.fast_go_pump_stop(_native.JOIN_SLICE_MS):
            pass


threading._register_atexit(_stop_pump)  # type: ignore[attr-defined]
