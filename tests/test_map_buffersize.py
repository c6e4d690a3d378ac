"""``map(..., buffersize=n)`` on both executors: Python 3.14's bounded, lazy map.

Only CPython 3.11-3.13 are on this machine and their ``Executor.map`` has no
``buffersize``, so these tests assert 3.14's behaviour directly (after
CPython 3.14's test_concurrent_futures/executor.py, test_map_buffersize_*)
instead of comparing with the stdlib. The process pool counts chunks, as
3.14's does.
"""

from __future__ import annotations

import gc
import itertools
import operator
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import gofutures

from . import _proc_tasks

EXECUTORS = ["thread", "process"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "thread":
        ex: Any = gofutures.ThreadPoolExecutor(2)
    else:
        ex = gofutures.ProcessPoolExecutor(2)
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("buffersize", ["foo", 2.0])
def test_type_validation(executor: Any, buffersize: Any) -> None:
    with pytest.raises(TypeError, match="^buffersize must be an integer or None$"):
        executor.map(str, range(4), buffersize=buffersize)


@pytest.mark.parametrize("buffersize", [0, -1])
def test_value_validation(executor: Any, buffersize: int) -> None:
    with pytest.raises(ValueError, match=r"^buffersize must be None or > 0$"):
        executor.map(str, range(4), buffersize=buffersize)


def test_process_chunksize_checked_first() -> None:
    # 3.14's ProcessPoolExecutor.map checks chunksize before buffersize.
    with (
        gofutures.ProcessPoolExecutor(1) as ex,
        pytest.raises(ValueError, match=r"^chunksize must be >= 1\.$"),
    ):
        ex.map(str, range(4), chunksize=0, buffersize="foo")


@pytest.mark.parametrize("buffersize", [1, 2, 4, 8])
def test_results(executor: Any, buffersize: int) -> None:
    assert list(executor.map(str, range(4), buffersize=buffersize)) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("buffersize", [1, 2, 4, 8])
def test_multiple_iterables(executor: Any, buffersize: int) -> None:
    ints = range(4)
    assert list(executor.map(_proc_tasks.add, ints, ints, buffersize=buffersize)) == [0, 2, 4, 6]


def test_infinite_iterable(executor: Any) -> None:
    res = executor.map(str, itertools.count(), buffersize=2)
    assert [next(res, None) for _ in range(3)] == ["0", "1", "2"]


def test_multiple_infinite_iterables(executor: Any) -> None:
    res = executor.map(_proc_tasks.add, itertools.count(), itertools.count(), buffersize=2)
    assert [next(res, None) for _ in range(3)] == [0, 2, 4]


def test_empty_iterable(executor: Any) -> None:
    assert next(executor.map(str, [], buffersize=2), None) is None


def test_without_iterable(executor: Any) -> None:
    assert next(executor.map(str, buffersize=2), None) is None


def test_when_buffer_is_full(executor: Any) -> None:
    ints = iter(range(4))
    executor.map(str, ints, buffersize=2)
    executor.shutdown(wait=True)
    assert next(ints) == 2, "should have read only buffersize items from the input"


def test_process_buffersize_counts_chunks() -> None:
    ints = iter(range(100))
    with gofutures.ProcessPoolExecutor(2) as ex:
        results = ex.map(str, ints, chunksize=3, buffersize=2)
        assert next(ints) == 6  # 2 chunks of 3 read at the call
        assert list(results) == [str(i) for i in range(6)] + [str(i) for i in range(7, 100)]


def test_submit_after_shutdown_raises_at_next(executor: Any) -> None:
    # 3.14: the iterator submits the next call before it yields; after
    # shutdown that submit raises, and the calls read before are cancelled
    # or finished.
    results = executor.map(str, range(10), buffersize=2)
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        next(results)


@pytest.mark.parametrize("chunksize", [1, 5])
def test_exception_at_its_position(executor: Any, chunksize: int) -> None:
    kwargs = {"chunksize": chunksize} if isinstance(executor, gofutures.ProcessPoolExecutor) else {}
    it = executor.map(operator.truediv, [1] * 10, [1, 1, 1, 0, 1, 1, 1, 1, 1, 1], buffersize=3, **kwargs)
    # A process chunk fails as a whole (as the stdlib's): the error comes
    # at the start of the chunk that holds call 3.
    before = 3 // chunksize * chunksize if kwargs else 3
    assert [next(it) for _ in range(before)] == [1.0] * before
    with pytest.raises(ZeroDivisionError):
        next(it)


def test_timeout() -> None:
    gate = threading.Event()
    with gofutures.ThreadPoolExecutor(1) as ex:
        it = ex.map(lambda x: gate.wait(30) and x, range(10), timeout=0.2, buffersize=2)
        with pytest.raises(TimeoutError):
            list(it)
        gate.set()


def _gated_pool_run(drop: str) -> tuple[list[int], int]:
    """A one-worker pool mapping over 0..99 with buffersize=4: task 0 returns,
    task 1 blocks until the map iterator has been closed (or dropped); which
    calls ran, and how many items the map read."""
    gate = threading.Event()
    ran: list[int] = []
    read = [0]

    def inputs() -> Iterator[int]:
        for i in range(100):
            read[0] += 1
            yield i

    def task(x: int) -> int:
        ran.append(x)
        if x == 1:
            gate.wait(30)
        return x

    ex = gofutures.ThreadPoolExecutor(1)
    it = ex.map(task, inputs(), buffersize=4)
    assert next(it) == 0
    if drop == "close":
        it.close()
    else:
        del it
        gc.collect()
    gate.set()
    ex.shutdown(wait=True)
    return sorted(ran), read[0]


@pytest.mark.parametrize("drop", ["close", "del"])
def test_closing_cancels_the_rest(drop: str) -> None:
    ran, read = _gated_pool_run(drop)
    # 4 read at the call, 1 more by the first next(); 2, 3 and 4 were
    # cancelled, and so was 1 unless the worker had taken it by then (the
    # worker ran 0 inside the submit that started it, as the stdlib's does,
    # and the program goes on holding the GIL: usually 1 is cancelled too).
    assert read == 5
    assert ran in ([0], [0, 1])


def test_process_closing_cancels_the_rest() -> None:
    read = [0]

    def inputs() -> Iterator[float]:
        for _ in range(100):
            read[0] += 1
            yield 0.5

    with gofutures.ProcessPoolExecutor(1) as ex:
        it = ex.map(_proc_tasks.sleep_then_return, inputs(), itertools.count(), buffersize=4)
        assert next(it) == 0
        it.close()
    assert read[0] == 5


def _consume_endless(ex: Any, n: int, buffersize: int, **kwargs: Any) -> list[int]:
    """Consume n results of an endless generator mapped with buffersize;
    after each result, how many items were read and not yet consumed."""
    produced = [0]

    def endless() -> Iterator[int]:
        for i in itertools.count():
            produced[0] += 1
            yield i

    ahead: list[int] = []
    it = ex.map(_proc_tasks.square, endless(), buffersize=buffersize, **kwargs)
    for consumed, value in enumerate(itertools.islice(it, n), 1):
        assert value == (consumed - 1) ** 2
        ahead.append(produced[0] - consumed)
    it.close()
    return ahead


@pytest.mark.parametrize("kind", EXECUTORS)
def test_endless_generator_flat_memory(kind: str) -> None:
    """An endless generator through map(buffersize=8): after every result,
    exactly 8 items were read ahead (3.14 submits one more before it waits
    for the oldest), and the traced memory does not grow with the count."""
    ex: Any = gofutures.ThreadPoolExecutor(2) if kind == "thread" else gofutures.ProcessPoolExecutor(2)
    with ex:
        _consume_endless(ex, 200, 8)  # warm up: workers, caches
        tracemalloc.start()
        try:
            ahead_short = _consume_endless(ex, 200, 8)
            gc.collect()
            short, _ = tracemalloc.get_traced_memory()
            ahead_long = _consume_endless(ex, 3000, 8)
            gc.collect()
            long, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert set(ahead_short) == {8}
    assert set(ahead_long) == {8}
    # Without the bound, 3,000 items, futures and results would stay.
    assert long - short < 64 * 1024, (short, long)


def test_process_endless_generator_in_chunks() -> None:
    with gofutures.ProcessPoolExecutor(2) as ex:
        ahead = _consume_endless(ex, 1000, 4, chunksize=10)
    # 4 chunks of 10 read at the call, then one chunk per chunk consumed.
    assert max(ahead) <= 50
    assert min(ahead) >= 30


def test_buffersize_none_keeps_eager_map(executor: Any) -> None:
    ints = iter(range(10))
    results = executor.map(str, ints, buffersize=None)
    assert next(ints, None) is None  # the whole input read at the call
    assert list(results) == [str(i) for i in range(10)]
