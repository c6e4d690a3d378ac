"""``DaskExecutor``: the executor API on a Dask cluster, as a drop-in.

``distributed.Client.get_executor()`` is Dask's own ``concurrent.futures``
adapter; this one differs where that one is not a drop-in (see
README.md, "Scale out"): every call runs (impure keys), every keyword argument reaches
``fn`` (the call travels as one cloudpickled payload, so ``Client.submit``
never sees it), futures go through RUNNING when the task starts on a worker
(the task logs an event that the client subscribes to), ``map`` is the
stdlib's (iterators, ``timeout``, ``chunksize``, ``buffersize``, cancel on
close), ``shutdown`` takes ``cancel_futures``, and a task's exception
arrives with the remote traceback as ``__cause__``, as from a process pool.

dask and distributed are imported by the constructor, never by ``import
gofutures``. The tasks run ``_run_call`` below, so the workers need
gofutures installed (as they need the user's own modules).
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import importlib
import io
import itertools
import pickle
import threading
import time
import traceback
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import _base as _stdlib_base
from typing import Any

from gofutures import _buffmap
from gofutures._executor import P, T

__all__ = ["DaskExecutor"]

# What a task sends back: a tag byte, then a pickle.
_OK = b"\x00"
_ERROR = b"\x01"


# ---- what runs on a worker (stdlib and cloudpickle only) ----


def _run_call(topic: str, key: str, payload: bytes) -> bytes:
    """Run one call sent as ``cloudpickle.dumps((fn, args, kwargs))``.

    Logs ``key`` under ``topic`` first (the client marks the future RUNNING),
    and never raises: the result, or the exception with its formatted
    traceback, goes back pickled, so the task always finishes (no Dask
    "Compute Failed" log line, no retry) and what cannot be pickled fails
    the call's future, as in a process pool."""
    try:
        from distributed import get_worker

        get_worker().log_event(topic, key)
    except (ImportError, ValueError):  # not on a worker (no event: fine)
        pass
    try:
        fn, args, kwargs = pickle.loads(payload)
        value = fn(*args, **kwargs)
    except BaseException as exc:
        return _dump_error(exc)
    try:
        return _OK + _dumps(value)
    except BaseException as exc:
        return _dump_error(exc)


def _run_chunk(fn: Callable[..., Any], chunk: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """One task for ``chunksize`` calls of ``map``, as the stdlib process pool."""
    return [fn(*args) for args in chunk]


def _dumps(value: object) -> bytes:
    # Plain pickle, as a process pool sends results back (a lambda or a
    # lock as a result fails its future in both).
    return pickle.dumps(value)


def _dump_exception(value: object) -> bytes:
    """Pickle as the stdlib does, not as tblib: distributed installs tblib's
    reducers for every exception class (copyreg), which drop attributes
    such as SystemExit.code and pickle the traceback and context too."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.dispatch_table = {
        cls: reduce
        for cls, reduce in copyreg.dispatch_table.items()
        if not (isinstance(cls, type) and issubclass(cls, BaseException))
    }
    pickler.dump(value)
    return buffer.getvalue()


def _dump_error(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(exc))
    try:
        return _ERROR + _dump_exception((exc, text))
    except BaseException as dump_exc:  # the exception cannot be pickled: as a
        # process pool, the pickling error is sent instead
        text = "".join(traceback.format_exception(dump_exc))
        try:
            return _ERROR + _dump_exception((dump_exc, text))
        except BaseException:
            plain = RuntimeError(f"{type(dump_exc).__name__}: {dump_exc}")
            return _ERROR + _dump_exception((plain, text))


def _load_outcome(data: bytes) -> tuple[bool, Any]:
    """(True, value) or (False, exception with the remote traceback as cause)."""
    if data[:1] == _OK:
        return True, pickle.loads(data[1:])
    exc, text = pickle.loads(data[1:])
    _set_remote_cause(exc, text)
    return False, exc


def _set_remote_cause(exc: BaseException, text: str) -> None:
    from concurrent.futures.process import _RemoteTraceback

    # The stdlib process pool's form (typeshed types the argument as a traceback).
    exc.__cause__ = _RemoteTraceback('\n"""\n%s"""' % text)  # type: ignore[arg-type]


# ---- the client side ----

_live: weakref.WeakSet[DaskExecutor] = weakref.WeakSet()
_exiting = False


def _python_exit() -> None:
    """Interpreter exit waits for what was submitted, as the stdlib's pools."""
    global _exiting
    _exiting = True
    for executor in list(_live):
        executor.shutdown(wait=True)


threading._register_atexit(_python_exit)  # type: ignore[attr-defined]


class _Task:
    """A call's local future and its task's ``distributed.Future`` (Any:
    distributed is untyped, and may not be installed where this is checked)."""

    __slots__ = ("future", "remote")

    def __init__(self, future: Future[Any]) -> None:
        self.future = future
        self.remote: Any = None


class DaskExecutor(Executor):
    """An executor whose calls run on a Dask cluster.

    ``DaskExecutor()`` starts a local cluster on 127.0.0.1 with no dashboard
    (``cluster_kwargs`` go to ``distributed.LocalCluster``: ``n_workers``,
    ``threads_per_worker``, ``processes``...) and closes it on shutdown.
    ``DaskExecutor("tcp://host:8786")`` connects to a running scheduler.
    ``DaskExecutor(client=client)`` uses that client and leaves it open.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        **cluster_kwargs: Any,
    ) -> None:
        try:
            distributed: Any = importlib.import_module("distributed")
        except ImportError as exc:
            raise ImportError(
                "DaskExecutor needs dask.distributed: pip install 'gofutures[dask]'",
                name=exc.name,
            ) from exc
        if address is not None and client is not None:
            raise TypeError("DaskExecutor() takes an address or a client, not both")
        if cluster_kwargs and (address is not None or client is not None):
            raise TypeError(
                "DaskExecutor(): cluster keyword arguments "
                f"({', '.join(sorted(cluster_kwargs))}) are for the local cluster it "
                "starts, not with an address or a client"
            )
        self._cluster: Any = None
        self._client: Any
        self._owns_client = client is None
        if client is not None:
            self._client = client
        elif address is not None:
            self._client = distributed.Client(address, set_as_default=False)
        else:
            kwargs: dict[str, Any] = {}
            if "dashboard_address" not in cluster_kwargs:
                # No dashboard, and the scheduler's HTTP server (health and
                # metrics) on a free loopback port: with dashboard_address=None
                # it takes 8787, and warns if that port is taken.
                kwargs["dashboard_address"] = "127.0.0.1:0"
                kwargs["scheduler_kwargs"] = {
                    "dashboard": False,
                    **cluster_kwargs.pop("scheduler_kwargs", {}),
                }
            if "protocol" not in cluster_kwargs and "interface" not in cluster_kwargs:
                # tcp on loopback even for processes=False (whose default,
                # inproc, looks up a public address and warns with no network).
                kwargs["protocol"] = "tcp://"
                kwargs["host"] = "127.0.0.1"
            kwargs.update(cluster_kwargs)
            self._cluster = distributed.LocalCluster(**kwargs)
            try:
                self._client = distributed.Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
        self._lock = threading.Lock()  # guards the fields below and state changes
        self._idle = threading.Condition(self._lock)
        self._tasks: dict[str, _Task] = {}
        self._shutdown = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._cancelling_all = False
        self._done: deque[str] = deque()
        self._wake = threading.Event()
        self._topic = f"gofutures-running-{uuid.uuid4().hex}"
        self._client.subscribe_topic(self._topic, self._on_running)
        self._collector = threading.Thread(
            target=self._collect, name="gofutures-dask-results", daemon=True
        )
        self._collector.start()
        _live.add(self)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` the calls are submitted with."""
        return self._client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._client.scheduler.address}>"

    # ---- submit ----

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._submit_many(fn, [(args, kwargs)])[0]

    def _submit_many(
        self, fn: Callable[..., Any], calls: list[tuple[tuple[Any, ...], dict[str, Any]]]
    ) -> list[Future[Any]]:
        import cloudpickle  # type: ignore[import-untyped]

        # Pickled before the lock is taken: the client's event loop takes it.
        pickled: list[bytes | Exception] = []
        for args, kwargs in calls:
            try:
                pickled.append(cloudpickle.dumps((fn, args, kwargs)))
            except Exception as exc:  # as a process pool: the future fails
                _set_remote_cause(exc, "".join(traceback.format_exception(exc)))
                pickled.append(exc)
        futures: list[Future[Any]] = []
        payloads: list[bytes] = []
        keys: list[str] = []
        pending: list[Future[Any]] = []
        name = getattr(fn, "__name__", "call")
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            for payload in pickled:
                future: Future[Any] = Future()
                futures.append(future)
                if isinstance(payload, Exception):
                    future.set_running_or_notify_cancel()
                    future.set_exception(payload)
                    continue
                key = f"{name}-{uuid.uuid4().hex}"
                payloads.append(payload)
                keys.append(key)
                pending.append(future)
                # Registered before the lock is let go: shutdown waits for it.
                self._tasks[key] = _Task(future)
        del pickled
        if not keys:
            return futures
        # Not under the lock: the client's event loop takes it (_on_running).
        try:
            n = len(keys)
            remotes = self._client.map(
                _run_call, [self._topic] * n, keys, payloads, key=keys, pure=False
            )
        except BaseException:
            with self._lock:
                for key in keys:
                    del self._tasks[key]
                if not self._tasks:
                    self._idle.notify_all()
            raise
        with self._lock:
            for key, remote in zip(keys, remotes, strict=True):
                self._tasks[key].remote = remote
        for key, future, remote in zip(keys, pending, remotes, strict=True):
            future.add_done_callback(functools.partial(self._on_local_done, key))
            remote.add_done_callback(self._on_remote_done)
        return futures

    # ---- from the cluster ----

    def _on_running(self, event: tuple[float, str]) -> None:
        """The task started on a worker (runs on the client's event loop)."""
        with self._lock:
            task = self._tasks.get(event[1])
            if task is not None and not task.future.running() and not task.future.done():
                task.future.set_running_or_notify_cancel()

    def _on_remote_done(self, remote: Any) -> None:
        self._done.append(remote.key)
        self._wake.set()

    def _collect(self) -> None:
        """Resolve the local futures of finished tasks, in batches."""
        while True:
            self._wake.wait()
            self._wake.clear()
            batch: list[_Task] = []
            while self._done:
                key = self._done.popleft()
                with self._lock:
                    task = self._tasks.get(key)
                if task is not None:
                    batch.append(task)
            if batch:
                self._resolve(batch)
            with self._lock:
                if self._closed and not self._tasks:
                    return

    def _resolve(self, batch: list[_Task]) -> None:
        finished = [t for t in batch if t.remote is not None and t.remote.status == "finished"]
        outcomes: dict[str, bytes] = {}
        if finished:
            try:
                data = self._client.gather([t.remote for t in finished])
                outcomes = {t.remote.key: d for t, d in zip(finished, data, strict=True)}
            except BaseException:  # one at a time below
                outcomes = {}
        for task in batch:
            remote = task.remote
            assert remote is not None
            ok: bool
            value: Any
            try:
                if remote.key in outcomes:
                    ok, value = _load_outcome(outcomes[remote.key])
                elif remote.status == "cancelled":
                    ok, value = False, CancelledError()
                else:
                    try:
                        ok, value = _load_outcome(remote.result())
                    except BaseException as exc:  # the cluster's error (KilledWorker...)
                        ok, value = False, exc
            except BaseException as exc:  # the result does not unpickle here
                ok, value = False, exc
            self._settle(remote.key, task.future, ok, value)
            del task, remote, value

    def _settle(self, key: str, future: Future[Any], ok: bool, value: Any) -> None:
        try:
            self._complete(future, ok, value)
        except BaseException as exc:
            # A done-callback raised what Future does not catch (SystemExit,
            # KeyboardInterrupt), or the program completed the future itself
            # (InvalidStateError): logged as the thread pool logs it, and the
            # collector goes on, or every later future would stay pending.
            _stdlib_base.LOGGER.critical("Exception in worker", exc_info=exc)
            del exc
        finally:
            with self._lock:
                del self._tasks[key]
                if not self._tasks:
                    self._idle.notify_all()

    def _complete(self, future: Future[Any], ok: bool, value: Any) -> None:
        if isinstance(value, CancelledError):
            future.cancel()  # no lock held: it runs done-callbacks
        with self._lock:
            started = future.cancelled() or future.running() or future.done()
            if not started:
                future.set_running_or_notify_cancel()
        if not future.cancelled() and not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _on_local_done(self, key: str, future: Future[Any]) -> None:
        """A local future cancelled by its user: cancel its task."""
        if not future.cancelled() or self._cancelling_all:
            return
        with self._lock:
            task = self._tasks.get(key)
            remote = None if task is None else task.remote
        if remote is not None and not remote.done():
            self._client.cancel([remote])

    # ---- map ----

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[T]:
        """The stdlib's ``Executor.map`` (3.14, with ``buffersize``), with the
        process pool's ``chunksize``: one task per ``chunksize`` calls, and
        ``buffersize`` counts tasks."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        _buffmap.check_buffersize(buffersize)
        end_time = None if timeout is None else timeout + time.monotonic()
        calls: Iterator[tuple[Any, ...]] = zip(*iterables, strict=False)
        task_fn: Callable[..., Any] = fn
        if chunksize > 1:
            calls = ((fn, chunk) for chunk in _batched(calls, chunksize))
            task_fn = _run_chunk
        if buffersize:
            fs = deque(
                self._submit_many(
                    task_fn, [(args, {}) for args in itertools.islice(calls, buffersize)]
                )
            )
        else:
            fs = deque(self._submit_many(task_fn, [(args, {}) for args in calls]))
        executor_ref = weakref.ref(self)

        def result_iterator() -> Iterator[Any]:
            try:
                while fs:
                    if (
                        buffersize
                        and (executor := executor_ref()) is not None
                        and (args := next(calls, None))
                    ):
                        fs.extend(executor._submit_many(task_fn, [(args, {})]))
                        del executor
                    if end_time is None:
                        yield _buffmap.result_or_cancel(fs.popleft())
                    else:
                        yield _buffmap.result_or_cancel(fs.popleft(), end_time - time.monotonic())
            finally:
                for future in fs:
                    future.cancel()

        if chunksize > 1:
            return _chained(result_iterator())
        return result_iterator()

    # ---- shutdown ----

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            pending = list(self._tasks.values()) if cancel_futures else []
        if pending:
            # One cancel message for all of them, not one per future.
            self._cancelling_all = True
            try:
                cancelled = [t.remote for t in pending if t.future.cancel()]
            finally:
                self._cancelling_all = False
            remotes = [r for r in cancelled if r is not None]
            if remotes:
                self._client.cancel(remotes)
        if wait:
            self._close()
        else:
            threading.Thread(target=self._close, name="gofutures-dask-shutdown").start()

    def _close(self) -> None:
        """Wait for every task, then stop the collector and close what this
        executor opened (once, whoever calls)."""
        with self._close_lock:
            if self._closed:
                return
            with self._lock:
                while self._tasks:
                    self._idle.wait()
                self._closed = True
            self._wake.set()
            self._collector.join()
            _live.discard(self)
            with contextlib.suppress(Exception):  # the client was closed already
                self._client.unsubscribe_topic(self._topic)
            if self._owns_client:
                self._client.close()
                if self._cluster is not None:
                    self._cluster.close()


def _batched(calls: Iterator[tuple[Any, ...]], n: int) -> Iterator[tuple[tuple[Any, ...], ...]]:
    """itertools.batched (3.12+)."""
    while chunk := tuple(itertools.islice(calls, n)):
        yield chunk


def _chained(results: Iterator[list[Any]]) -> Iterator[Any]:
    """The chunks' results one by one; closing this closes ``results``
    (which cancels the chunks not yet done)."""
    try:
        for chunk in results:
            yield from chunk
    finally:
        results.close()  # type: ignore[attr-defined]
