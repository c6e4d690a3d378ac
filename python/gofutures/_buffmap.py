"""``map(..., buffersize=n)``: Python 3.14's bounded, lazy ``Executor.map``
on every Python gofutures supports.

With ``buffersize=None`` each executor keeps its own ``map`` (and its fast
paths). With an int ``n``, the call reads ``n`` argument tuples from the
input and submits them; each later ``next()`` on the result iterator first
reads and submits one more (while the input and the executor last), then
waits for the oldest task and yields its result. So the input is read
lazily (an endless iterator works) and at most ``n`` results wait
unconsumed; closing the iterator, or dropping it, cancels what is left. As
in 3.14, the process pool counts chunks: ``n`` chunks of ``chunksize``
calls each.

Written after CPython 3.14's ``concurrent.futures._base.Executor.map``
(same checks, messages and order of reads and submits).
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from itertools import islice
from typing import Any, Protocol


class _Submitter(Protocol):
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]: ...


def check_buffersize(buffersize: object) -> None:
    """Raise what Python 3.14's Executor.map raises for this buffersize."""
    if buffersize is None:
        return
    if not isinstance(buffersize, int):
        raise TypeError("buffersize must be an integer or None")
    if buffersize < 1:
        raise ValueError("buffersize must be None or > 0")


def result_or_cancel(future: Future[Any], timeout: float | None = None) -> Any:
    # As the stdlib's helper: a timed-out wait cancels the future, and the
    # frame drops the future before the result is handed on.
    try:
        try:
            return future.result(timeout)
        finally:
            future.cancel()
    finally:
        del future


def buffered_map(
    executor: _Submitter,
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    timeout: float | None,
    buffersize: int,
) -> Iterator[Any]:
    """Map ``fn`` over ``iterables`` with at most ``buffersize`` results
    ahead of the consumer (``buffersize`` already checked)."""
    end_time = None if timeout is None else timeout + time.monotonic()
    args_iter = zip(*iterables, strict=False)
    futures: deque[Future[Any]] = deque(
        executor.submit(fn, *args) for args in islice(args_iter, buffersize)
    )
    # Weak: the iterator must not keep a dropped executor alive (3.14 stops
    # submitting once it is gone, and yields what was submitted).
    executor_ref = weakref.ref(executor)
    return _results(futures, args_iter, executor_ref, fn, end_time)


def _results(
    futures: deque[Future[Any]],
    args_iter: Iterator[tuple[Any, ...]],
    executor_ref: weakref.ReferenceType[_Submitter],
    fn: Callable[..., Any],
    end_time: float | None,
) -> Iterator[Any]:
    try:
        while futures:
            executor = executor_ref()
            if executor is not None:
                args = next(args_iter, None)
                if args is not None:
                    futures.append(executor.submit(fn, *args))
                del executor
            # Popped inside the call: no reference to the future stays here.
            if end_time is None:
                yield result_or_cancel(futures.popleft())
            else:
                yield result_or_cancel(futures.popleft(), end_time - time.monotonic())
    finally:
        for future in futures:
            future.cancel()
