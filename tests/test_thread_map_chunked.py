"""Thread-pool map with chunksize > 1: the stdlib ignores chunksize, gofutures
runs chunks; both must give the same observable results."""

from __future__ import annotations

import threading
import time
import types

import pytest

CHUNKS = [2, 3, 1000]


@pytest.mark.parametrize("chunksize", CHUNKS)
def test_results_in_order(cf: types.ModuleType, chunksize: int) -> None:
    with cf.ThreadPoolExecutor(4) as ex:
        assert list(ex.map(pow, range(50), [2] * 50, chunksize=chunksize)) == [
            i**2 for i in range(50)
        ]


@pytest.mark.parametrize("chunksize", CHUNKS)
def test_empty_and_uneven_iterables(cf: types.ModuleType, chunksize: int) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        assert list(ex.map(abs, [], chunksize=chunksize)) == []
        assert list(ex.map(pow, [1, 2, 3], [2, 2], chunksize=chunksize)) == [1, 4]


@pytest.mark.parametrize("chunksize", CHUNKS)
def test_first_exception_raised_at_its_position(cf: types.ModuleType, chunksize: int) -> None:
    ran: list[int] = []
    lock = threading.Lock()

    def inverse(x: int) -> float:
        with lock:
            ran.append(x)
        return 1 / (x - 5)

    with cf.ThreadPoolExecutor(2) as ex:
        it = ex.map(inverse, range(10), chunksize=chunksize)
        got = [next(it) for _ in range(5)]
        assert got == [1 / (x - 5) for x in range(5)]
        with pytest.raises(ZeroDivisionError):
            next(it)
    # The calls before the failing one ran, and so did those after it in its
    # own chunk (a chunk runs its calls one after another, whatever they
    # raise, as per-item futures would run them). Later chunks ran or were
    # cancelled, as pending futures are when map's iterator stops at an
    # exception: which, depends on the workers' timing.
    assert len(set(ran)) == len(ran), "no call ran twice"
    chunk_end = (5 // chunksize + 1) * chunksize if cf.__name__ == "gofutures" else 6
    assert set(range(min(chunk_end, 10))) <= set(ran)


@pytest.mark.parametrize("chunksize", CHUNKS)
def test_timeout_measured_from_the_call(cf: types.ModuleType, chunksize: int) -> None:
    gate = threading.Event()
    with cf.ThreadPoolExecutor(2) as ex:
        it = ex.map(lambda _: gate.wait(5), range(4), timeout=0.2, chunksize=chunksize)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            list(it)
        assert time.monotonic() - start < 2
        gate.set()


@pytest.mark.parametrize("chunksize", [2, 3])
def test_abandoned_iterator_cancels_the_rest(cf: types.ModuleType, chunksize: int) -> None:
    gate = threading.Event()
    calls: list[int] = []

    def work(x: int) -> int:
        calls.append(x)
        gate.wait(5)
        return x

    with cf.ThreadPoolExecutor(1) as ex:
        it = ex.map(work, range(30), timeout=0.2, chunksize=chunksize)
        with pytest.raises(TimeoutError):
            next(it)
        gate.set()
    # Only the call running when the iterator gave up ever ran.
    assert calls == [0]
