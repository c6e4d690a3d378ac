"""The thread pool's ``map`` with ``chunksize > 1``: one task per chunk of
calls, submitted lazily.

The stdlib's thread ``map`` ignores ``chunksize``, reads the whole input and
submits every call at the call. Here the whole input is read at the call
too, on the caller's thread (a file closed, a list changed or a sqlite
cursor used after ``map()`` returns is not read again, as with the stdlib;
an endless iterator needs ``buffersize=``, as there), but the chunks are
submitted lazily: a window of them (``2 * max_workers``, or enough for
1,024 calls if that is more) at the call, and one more each time the
consumer takes a chunk's results, so a consumer that stops early leaves
little work behind.

What the lazy submitting would otherwise change, and how it is kept as the
stdlib has it (everything submitted at the call):

- ``shutdown()`` (and interpreter exit) first submits what open maps still
  owe, so ``with pool: it = pool.map(...)`` consumed after the block, and a
  map never consumed, still run every call; ``shutdown(cancel_futures=True)``
  cancels it instead (CancelledError at its position).
- A map iterator dropped before its first result (``pool.map(f, xs,
  chunksize=n)`` for the calls' side effects) keeps submitting its chunks in
  the background, one as each earlier one finishes.
- An error reading the input is raised by the call, after the calls read
  before it were submitted (they run, as the stdlib's do). A submit refused
  later (after shutdown from another thread) is raised at its position,
  after the results of the calls before it.

Results, their order, the first exception raised at its position, ``timeout``
(measured from the call) and cancelling the rest when the iterator is closed
are those of the unchunked map.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from itertools import islice
from typing import Any

# Chunks in flight ahead of the consumer: 2 x max_workers, but at least
# enough for AHEAD_CALLS calls (a window of a few small chunks makes the
# consumer wait on each: 3x slower over 100,000 no-op calls in chunks of
# 10), and never more than MAX_WINDOW (max_workers may be 10**30, as in the
# stdlib).
AHEAD_CALLS = 1024
MAX_WINDOW = 1024


def window(max_workers: int, chunksize: int) -> int:
    """How many chunks a map keeps submitted ahead of its consumer."""
    return min(max(2 * max_workers, -(-AHEAD_CALLS // chunksize)), MAX_WINDOW)

# Open maps of every executor: interpreter exit submits what they owe.
_open: weakref.WeakSet[LazyChunkedMap] = weakref.WeakSet()


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


class LazyChunkedMap:
    """One ``map`` call's chunks. Lock rule: ``_lock`` guards every field
    below it; it is taken before the executor's own locks (a submit made with
    it held takes the executor's shutdown lock), never after them."""

    def __init__(
        self,
        submit: Callable[..., Future[Any]],
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        chunksize: int,
        window: int,
    ) -> None:
        self._submit = submit
        self._fn = fn
        self._chunksize = chunksize
        self._lock = threading.RLock()  # RLock: cancel() may run callbacks that take it
        # Read at the call, on this thread, as the stdlib reads it: chunks
        # submitted later (on a worker, from a done-callback) run no user code.
        calls: list[tuple[Any, ...]] = []
        read_error: Exception | None = None
        try:
            calls.extend(zip(*iterables, strict=False))
        except Exception as exc:
            read_error = exc
        self._calls: Iterator[tuple[Any, ...]] | None = iter(calls)
        self._futures: deque[Future[Any]] = deque()
        self._error: BaseException | None = None  # raised after the futures
        self._closed = [False]  # shared with the chunks: stop running calls
        self._done = False  # nothing more will be submitted
        self._started = False
        with self._lock:
            for _ in range(len(calls) if read_error is not None else window):
                future = self._submit_next_locked()
                if future is None:
                    break
                self._futures.append(future)
            if read_error is not None and self._error is None:
                self._error = read_error
            if self._error is not None:
                # As the stdlib, which reads all input and submits at the call.
                error, self._error = self._error, None
                self._finish_locked(cancel=False)
                raise error

    def _submit_next_locked(self) -> Future[Any] | None:
        """Submit the next chunk of the input read at the call; None when
        there is none (a refused submit is kept in _error)."""
        if self._done or self._calls is None:
            return None
        chunk = list(islice(self._calls, self._chunksize))  # read already: cannot fail
        if not chunk:
            self._calls = None
            return None
        try:
            return self._submit(_run_chunk, self._fn, chunk, self._closed)
        except Exception as exc:
            self._error = exc
            self._calls = None
            return None

    def _finish_locked(self, cancel: bool) -> None:
        self._done = True
        self._calls = None
        if cancel:
            self._closed[0] = True
            for future in self._futures:
                future.cancel()
        self._futures.clear()
        _open.discard(self)

    def results(self, end_time: float | None) -> Iterator[Any]:
        """The map's result iterator (a generator: closing it cancels the rest)."""
        self._started = True
        futures = self._futures
        try:
            while True:
                with self._lock:
                    if not futures:
                        break
                    future = futures.popleft()
                    following = self._submit_next_locked()
                    if following is not None:
                        futures.append(following)
                if end_time is None:
                    outcome = future.result()
                else:
                    outcome = future.result(end_time - time.monotonic())
                del future
                yield from outcome.results
                if outcome.error is not None:
                    error = outcome.error
                    outcome = None
                    raise error
            with self._lock:
                error = self._error
                self._error = None
            if error is not None:
                raise error
        finally:
            with self._lock:
                self._finish_locked(cancel=True)

    # ---- what the laziness must not change (see the module docstring) ----

    def flush(self) -> None:
        """Submit everything still owed (before shutdown or exit)."""
        with self._lock:
            while (future := self._submit_next_locked()) is not None:
                self._futures.append(future)

    def cancel_rest(self) -> None:
        """shutdown(cancel_futures=True): what was not submitted is cancelled."""
        with self._lock:
            if self._calls is not None and self._error is None:
                self._error = CancelledError()
            self._calls = None

    def drain(self) -> None:
        """The iterator was dropped unread: run the rest in the background,
        one more chunk each time one finishes."""
        with self._lock:
            if self._started or self._done:
                return
            pending = list(self._futures)
            self._futures.clear()
        for future in pending:
            future.add_done_callback(self._chunk_done)

    def _chunk_done(self, future: Future[Any]) -> None:
        while True:
            # Checked before the lock: shutdown(cancel_futures=True) cancels
            # with the executor's lock held (see the lock rule).
            if future.cancelled():
                return
            with self._lock:
                if self._done:
                    return
                future = self._submit_next_locked()  # type: ignore[assignment]
                if future is None:
                    self._finish_locked(cancel=False)
                    return
            if not future.done():
                future.add_done_callback(self._chunk_done)
                return
            # Already finished: loop instead of recursing through the callback.


def chunked_map(
    submit: Callable[..., Future[Any]],
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    timeout: float | None,
    chunksize: int,
    max_workers: int,
    owner: weakref.WeakSet[LazyChunkedMap],
) -> Iterator[Any]:
    """Map ``fn`` over ``iterables`` in chunks submitted with ``submit``;
    ``owner`` is the executor's set of open maps, flushed by its shutdown."""
    end_time = None if timeout is None else timeout + time.monotonic()
    lazy = LazyChunkedMap(submit, fn, iterables, chunksize, window(max_workers, chunksize))
    iterator = lazy.results(end_time)
    with lazy._lock:
        if lazy._calls is not None:  # input is left: the laziness shows
            owner.add(lazy)
            _open.add(lazy)
            weakref.finalize(iterator, lazy.drain).atexit = False
    return iterator


def open_maps() -> list[LazyChunkedMap]:
    return list(_open)
