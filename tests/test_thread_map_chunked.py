"""Thread-pool map with chunksize > 1: the stdlib ignores chunksize, gofutures
runs chunks; both must give the same observable results."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

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


# The input is read at the call, on the caller's thread, as the stdlib reads
# it. gofutures read it a window at a time, later chunks from a worker
# thread: these broke (found by a review script).


def test_input_is_read_before_map_returns(cf: types.ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(5000)))
    data = list(range(3000))
    with cf.ThreadPoolExecutor(4) as ex:
        with open(path) as lines:
            lengths = ex.map(len, lines, chunksize=100)
        # The file is closed: gofutures raised "I/O operation on closed file".
        assert sum(lengths) == sum(len(f"line {i}\n") for i in range(5000))
        mapped = ex.map(abs, iter(data), chunksize=10)
        data.clear()  # gofutures returned 1,030 results
        assert len(list(mapped)) == 3000


def test_unread_map_over_a_thread_bound_input_runs_every_call(cf: types.ModuleType) -> None:
    # A sqlite cursor may only be read on its own thread. gofutures read the
    # rest of a map never consumed from a worker thread, where the read
    # failed and the failure was dropped: 1,300-1,600 of 5,000 calls ran.
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("create table t(x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(5000)])
    handled: list[int] = []
    with cf.ThreadPoolExecutor(4) as ex:
        ex.map(handled.append, (row[0] for row in db.execute("select x from t")), chunksize=50)
    assert sorted(handled) == list(range(5000))


@pytest.mark.parametrize("chunksize", CHUNKS)
def test_input_error_raised_by_the_call_after_earlier_calls_run(
    cf: types.ModuleType, chunksize: int
) -> None:
    ran: list[int] = []

    def inputs() -> Iterator[int]:
        yield from range(2500)
        raise LookupError("input broke")

    with cf.ThreadPoolExecutor(2) as ex, pytest.raises(LookupError, match="input broke"):
        ex.map(ran.append, inputs(), chunksize=chunksize)
    assert sorted(ran) == list(range(2500))
