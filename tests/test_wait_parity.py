"""wait / as_completed / asyncio interop parity tests.

Covers stdlib concurrent.futures vs gofutures, including futures that mix
both implementations.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

TIMEOUT = 5.0
SHORT = 0.1


def done_future(cf: types.ModuleType, value: Any = None) -> Any:
    f = cf.Future()
    f.set_result(value)
    return f


def failed_future(cf: types.ModuleType, exc: BaseException) -> Any:
    f = cf.Future()
    f.set_exception(exc)
    return f


def cancelled_notified_future(cf: types.ModuleType) -> Any:
    f = cf.Future()
    assert f.cancel()
    assert f.set_running_or_notify_cancel() is False
    return f


def later(delay: float, fn: Any, *args: Any) -> threading.Timer:
    timer = threading.Timer(delay, fn, args)
    timer.start()
    return timer


@pytest.fixture
def stdlib_executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"])
def test_return_when_constants(cf: types.ModuleType, name: str) -> None:
    assert getattr(cf, name) == name == getattr(concurrent.futures, name)


# --------------------------------------------------------------------------
# wait
# --------------------------------------------------------------------------


def test_wait_empty(cf: types.ModuleType) -> None:
    result = cf.wait([], timeout=0)
    assert result == (set(), set())
    assert result.done == set() and result.not_done == set()
    assert type(result).__name__ == "DoneAndNotDoneFutures"


def test_wait_all_already_done(cf: types.ModuleType) -> None:
    fs = [done_future(cf, 1), failed_future(cf, ValueError()), cancelled_notified_future(cf)]
    done, not_done = cf.wait(fs, timeout=TIMEOUT)
    assert done == set(fs)
    assert not_done == set()


def test_wait_all_completed_waits_for_other_thread(cf: types.ModuleType) -> None:
    a, b = cf.Future(), cf.Future()
    timers = [later(0.02, a.set_result, 1), later(0.05, b.set_exception, OSError())]
    done, not_done = cf.wait([a, b], timeout=TIMEOUT, return_when=cf.ALL_COMPLETED)
    assert done == {a, b} and not_done == set()
    for t in timers:
        t.join()


def test_wait_timeout_returns_partial(cf: types.ModuleType) -> None:
    a, b = done_future(cf, 1), cf.Future()
    done, not_done = cf.wait([a, b], timeout=SHORT)
    assert done == {a}
    assert not_done == {b}


def test_wait_zero_timeout(cf: types.ModuleType) -> None:
    a, b = done_future(cf), cf.Future()
    result = cf.wait([a, b], timeout=0)
    assert result.done == {a} and result.not_done == {b}


def test_wait_deduplicates(cf: types.ModuleType) -> None:
    f = done_future(cf, 1)
    done, not_done = cf.wait([f, f, f], timeout=TIMEOUT)
    assert done == {f} and not_done == set()


def test_wait_accepts_any_iterable(cf: types.ModuleType) -> None:
    fs = [done_future(cf, i) for i in range(3)]
    done, _ = cf.wait((f for f in fs), timeout=TIMEOUT)
    assert done == set(fs)


def test_wait_first_completed_already_done(cf: types.ModuleType) -> None:
    a, b = done_future(cf), cf.Future()
    done, not_done = cf.wait([a, b], timeout=TIMEOUT, return_when=cf.FIRST_COMPLETED)
    assert done == {a} and not_done == {b}


def test_wait_first_completed_wakes(cf: types.ModuleType) -> None:
    a, b, c = cf.Future(), cf.Future(), cf.Future()
    timer = later(0.05, b.set_result, "b")
    done, not_done = cf.wait([a, b, c], timeout=TIMEOUT, return_when=cf.FIRST_COMPLETED)
    timer.join()
    assert done == {b}
    assert not_done == {a, c}


def test_wait_first_completed_counts_notified_cancel(cf: types.ModuleType) -> None:
    a = cf.Future()
    c = cancelled_notified_future(cf)
    done, not_done = cf.wait([a, c], timeout=TIMEOUT, return_when=cf.FIRST_COMPLETED)
    assert done == {c} and not_done == {a}


def test_wait_first_completed_wakes_on_notified_cancel(cf: types.ModuleType) -> None:
    a, b = cf.Future(), cf.Future()

    def cancel_and_notify() -> None:
        b.cancel()
        b.set_running_or_notify_cancel()

    timer = later(0.05, cancel_and_notify)
    done, not_done = cf.wait([a, b], timeout=TIMEOUT, return_when=cf.FIRST_COMPLETED)
    timer.join()
    assert done == {b} and not_done == {a}


def test_wait_first_exception_already_failed(cf: types.ModuleType) -> None:
    ok, bad, pending = done_future(cf), failed_future(cf, OSError()), cf.Future()
    done, not_done = cf.wait(
        [ok, bad, pending], timeout=TIMEOUT, return_when=cf.FIRST_EXCEPTION
    )
    assert done == {ok, bad}
    assert not_done == {pending}


def test_wait_first_exception_wakes_on_exception(cf: types.ModuleType) -> None:
    a, b, c = cf.Future(), cf.Future(), cf.Future()

    def finish() -> None:
        a.set_result(1)
        b.set_exception(ValueError("stop"))

    timer = later(0.05, finish)
    done, not_done = cf.wait([a, b, c], timeout=TIMEOUT, return_when=cf.FIRST_EXCEPTION)
    timer.join()
    assert done == {a, b}
    assert not_done == {c}


def test_wait_first_exception_ignores_successes(cf: types.ModuleType) -> None:
    ok, pending = done_future(cf), cf.Future()
    done, not_done = cf.wait([ok, pending], timeout=SHORT, return_when=cf.FIRST_EXCEPTION)
    # No exception and not everything finished: waits for the whole timeout.
    assert done == {ok} and not_done == {pending}


def test_wait_first_exception_all_succeed(cf: types.ModuleType) -> None:
    a, b = cf.Future(), cf.Future()
    timers = [later(0.02, a.set_result, 1), later(0.05, b.set_result, 2)]
    done, not_done = cf.wait([a, b], timeout=TIMEOUT, return_when=cf.FIRST_EXCEPTION)
    for t in timers:
        t.join()
    assert done == {a, b} and not_done == set()


def test_wait_treats_unnotified_cancel_as_not_done(cf: types.ModuleType) -> None:
    # A future that was only cancel()ed (never passed through
    # set_running_or_notify_cancel) is reported in not_done by wait(), even
    # though its done() is True.
    f = cf.Future()
    assert f.cancel() and f.done()
    done, not_done = cf.wait([f], timeout=SHORT)
    assert done == set() and not_done == {f}


def test_wait_with_executor_futures(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    release = harness.event()
    slow = ex.submit(release.wait, TIMEOUT)
    fast = ex.submit(pow, 2, 5)
    done, not_done = cf.wait([slow, fast], timeout=TIMEOUT, return_when=cf.FIRST_COMPLETED)
    assert done == {fast} and not_done == {slow}
    release.set()
    done, not_done = cf.wait([slow, fast], timeout=TIMEOUT)
    assert done == {slow, fast} and not_done == set()
    assert slow.result(0) is True and fast.result(0) == 32


def test_wait_first_exception_with_executor(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    release = harness.event()
    slow = ex.submit(release.wait, TIMEOUT)
    bad = ex.submit(divmod, 1, 0)
    done, not_done = cf.wait([slow, bad], timeout=TIMEOUT, return_when=cf.FIRST_EXCEPTION)
    assert done == {bad} and not_done == {slow}
    assert isinstance(bad.exception(0), ZeroDivisionError)


# --------------------------------------------------------------------------
# as_completed
# --------------------------------------------------------------------------


def test_as_completed_empty(cf: types.ModuleType) -> None:
    assert list(cf.as_completed([], timeout=0)) == []


def test_as_completed_already_done(cf: types.ModuleType) -> None:
    fs = [done_future(cf, 1), failed_future(cf, OSError()), cancelled_notified_future(cf)]
    got = list(cf.as_completed(fs, timeout=TIMEOUT))
    assert len(got) == 3
    assert set(got) == set(fs)


def test_as_completed_done_first_then_completion_order(cf: types.ModuleType) -> None:
    pre = done_future(cf, "pre")
    a, b = cf.Future(), cf.Future()
    it = cf.as_completed([a, pre, b], timeout=TIMEOUT)
    assert next(it) is pre
    b.set_result("b")
    assert next(it) is b
    a.set_exception(ValueError("a"))
    assert next(it) is a
    with pytest.raises(StopIteration):
        next(it)


def test_as_completed_wakes_from_other_thread(cf: types.ModuleType) -> None:
    a, b = cf.Future(), cf.Future()
    timers = [later(0.02, b.set_result, 2), later(0.06, a.set_result, 1)]
    got = list(cf.as_completed([a, b], timeout=TIMEOUT))
    for t in timers:
        t.join()
    assert got == [b, a]


def test_as_completed_duplicates(cf: types.ModuleType) -> None:
    f, g = done_future(cf), cf.Future()
    it = cf.as_completed([f, f, g, g], timeout=TIMEOUT)
    assert next(it) is f
    g.set_result(None)
    assert next(it) is g
    assert list(it) == []


def test_as_completed_accepts_iterator(cf: types.ModuleType) -> None:
    fs = [done_future(cf, i) for i in range(4)]
    assert set(cf.as_completed(iter(fs), timeout=TIMEOUT)) == set(fs)


def test_as_completed_timeout(cf: types.ModuleType) -> None:
    done, pending = done_future(cf, 1), cf.Future()
    it = cf.as_completed([done, pending], timeout=SHORT)
    assert next(it) is done
    with pytest.raises(cf.TimeoutError) as info:
        next(it)
    assert type(info.value) is TimeoutError
    assert str(info.value) == "1 (of 2) futures unfinished"


def test_as_completed_timeout_message_counts_unique(cf: types.ModuleType) -> None:
    pending = [cf.Future() for _ in range(3)]
    with pytest.raises(TimeoutError) as info:
        list(cf.as_completed(pending + pending, timeout=0))
    assert str(info.value) == "3 (of 3) futures unfinished"


def test_as_completed_zero_timeout_all_done(cf: types.ModuleType) -> None:
    fs = [done_future(cf, i) for i in range(3)]
    assert set(cf.as_completed(fs, timeout=0)) == set(fs)


def test_as_completed_yields_notified_cancel(cf: types.ModuleType) -> None:
    a = cf.Future()
    it = cf.as_completed([a], timeout=TIMEOUT)
    timer = later(0.02, lambda: (a.cancel(), a.set_running_or_notify_cancel()))
    assert next(it) is a
    timer.join()
    assert a.cancelled()


def test_as_completed_executor_futures(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=3)
    gates = [harness.event() for _ in range(3)]
    fs = [ex.submit(g.wait, TIMEOUT) for g in gates]
    it = cf.as_completed(fs, timeout=TIMEOUT)
    order: list[Any] = []
    for idx in (2, 0, 1):
        gates[idx].set()
        order.append(next(it))
    assert order == [fs[2], fs[0], fs[1]]
    assert list(it) == []


# --------------------------------------------------------------------------
# mixing stdlib and module-under-test futures
# --------------------------------------------------------------------------


def test_wait_mixed_executors(
    cf: types.ModuleType,
    harness: Harness,
    stdlib_executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    ex = harness.executor(max_workers=2)
    release = harness.event()
    ours = ex.submit(release.wait, TIMEOUT)
    theirs = stdlib_executor.submit(pow, 3, 3)
    plain = concurrent.futures.Future()
    done, not_done = cf.wait([ours, theirs, plain], timeout=TIMEOUT,
                             return_when=cf.FIRST_COMPLETED)
    assert done == {theirs} and not_done == {ours, plain}
    release.set()
    plain.set_result("plain")
    for waiter in (cf.wait, concurrent.futures.wait):
        done, not_done = waiter([ours, theirs, plain], timeout=TIMEOUT)
        assert done == {ours, theirs, plain} and not_done == set()


def test_stdlib_wait_on_module_futures(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    release = harness.event()
    slow = ex.submit(release.wait, TIMEOUT)
    bad = ex.submit(int, "x")
    done, not_done = concurrent.futures.wait(
        [slow, bad], timeout=TIMEOUT, return_when=concurrent.futures.FIRST_EXCEPTION
    )
    assert done == {bad} and not_done == {slow}
    release.set()


def test_as_completed_mixed(
    cf: types.ModuleType,
    harness: Harness,
    stdlib_executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    ex = harness.executor(max_workers=1)
    g1, g2 = harness.event(), threading.Event()
    ours = ex.submit(g1.wait, TIMEOUT)
    theirs = stdlib_executor.submit(g2.wait, TIMEOUT)
    it = cf.as_completed([ours, theirs], timeout=TIMEOUT)
    g2.set()
    assert next(it) is theirs
    g1.set()
    assert next(it) is ours
    assert list(it) == []
    got = list(concurrent.futures.as_completed([ours, theirs], timeout=TIMEOUT))
    assert set(got) == {ours, theirs} and len(got) == 2


def test_mixed_plain_futures(cf: types.ModuleType) -> None:
    ours, theirs = cf.Future(), concurrent.futures.Future()
    theirs.set_result(1)
    done, not_done = cf.wait([ours, theirs], timeout=0)
    assert done == {theirs} and not_done == {ours}
    ours.set_exception(KeyError())
    assert set(concurrent.futures.as_completed([ours, theirs], timeout=TIMEOUT)) == {
        ours,
        theirs,
    }


# --------------------------------------------------------------------------
# asyncio interop
# --------------------------------------------------------------------------


def test_asyncio_wrap_future(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)

    async def main() -> tuple[Any, BaseException]:
        ok = await asyncio.wait_for(asyncio.wrap_future(ex.submit(pow, 2, 10)), TIMEOUT)
        try:
            await asyncio.wait_for(asyncio.wrap_future(ex.submit(divmod, 1, 0)), TIMEOUT)
        except ZeroDivisionError as exc:
            return ok, exc
        raise AssertionError("expected ZeroDivisionError")

    ok, exc = asyncio.run(main())
    assert ok == 1024
    assert type(exc) is ZeroDivisionError


def test_asyncio_wrap_plain_future(cf: types.ModuleType) -> None:
    f = cf.Future()

    async def main() -> Any:
        wrapped = asyncio.wrap_future(f)
        timer = later(0.02, f.set_result, "from thread")
        try:
            return await asyncio.wait_for(wrapped, TIMEOUT)
        finally:
            timer.join()

    assert asyncio.run(main()) == "from thread"


def test_run_in_executor(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2, thread_name_prefix="AioPool")

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        name = loop.run_in_executor(ex, lambda: threading.current_thread().name)
        values = [loop.run_in_executor(ex, pow, i, 2) for i in range(5)]
        return await asyncio.wait_for(asyncio.gather(name, *values), TIMEOUT)

    name, *values = asyncio.run(main())
    assert name.startswith("AioPool")
    assert values == [0, 1, 4, 9, 16]


def test_run_in_executor_exception(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)

    def fail() -> None:
        raise LookupError("not here")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(ex, fail), TIMEOUT)

    with pytest.raises(LookupError, match="not here"):
        asyncio.run(main())


def test_run_in_executor_cancel_propagates(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()
    ran: list[str] = []

    def blocker() -> str:
        started.set()
        release.wait(TIMEOUT)
        return "blocker"

    async def main() -> str:
        loop = asyncio.get_running_loop()
        first = loop.run_in_executor(ex, blocker)
        queued = loop.run_in_executor(ex, ran.append, "queued")
        await loop.run_in_executor(None, started.wait, TIMEOUT)
        queued.cancel()
        # Let the cancellation propagate to the concurrent future.
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        return await asyncio.wait_for(first, TIMEOUT)

    assert asyncio.run(main()) == "blocker"
    ex.shutdown(wait=True)
    assert ran == []


def test_set_default_executor(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2, thread_name_prefix="DefaultPool")

    async def main() -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ex)
        a = await asyncio.wait_for(
            loop.run_in_executor(None, lambda: threading.current_thread().name), TIMEOUT
        )
        b = await asyncio.wait_for(
            asyncio.to_thread(lambda: threading.current_thread().name), TIMEOUT
        )
        return a, b

    a, b = asyncio.run(main())
    assert a.startswith("DefaultPool") and b.startswith("DefaultPool")
    # asyncio.run() shut the default executor down on exit.
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        ex.submit(abs, 1)
