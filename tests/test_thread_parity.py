"""ThreadPoolExecutor parity tests: stdlib concurrent.futures vs gofutures."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._scripts import assert_same_output

if TYPE_CHECKING:
    from conftest import Harness

TIMEOUT = 5.0
SHORT = 0.2
INIT_FAILED_MSG = (
    "A thread initializer failed, the thread pool is not usable anymore"
)


def mul(x: int, y: int) -> int:
    return x * y


def capture(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def current_name() -> str:
    return threading.current_thread().name


# --------------------------------------------------------------------------
# construction
# --------------------------------------------------------------------------


def test_default_max_workers(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor()
    assert ex._max_workers == min(32, (os.cpu_count() or 1) + 4)


@pytest.mark.parametrize("n", [1, 3, 64])
def test_explicit_max_workers(cf: types.ModuleType, harness: Harness, n: int) -> None:
    ex = harness.executor(max_workers=n)
    assert ex._max_workers == n


@pytest.mark.parametrize("n", [0, -1])
def test_non_positive_max_workers_rejected(cf: types.ModuleType, n: int) -> None:
    with pytest.raises(ValueError) as info:
        cf.ThreadPoolExecutor(max_workers=n)
    assert str(info.value) == "max_workers must be greater than 0"


def test_non_callable_initializer_rejected(cf: types.ModuleType) -> None:
    with pytest.raises(TypeError) as info:
        cf.ThreadPoolExecutor(max_workers=1, initializer=42)
    assert str(info.value) == "initializer must be a callable"


def test_max_workers_checked_before_initializer(cf: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        cf.ThreadPoolExecutor(max_workers=0, initializer=42)


def test_positional_constructor_arguments(
    cf: types.ModuleType, harness: Harness
) -> None:
    seen: list[tuple[Any, ...]] = []
    ex = harness.executor(2, "PosPrefix", lambda *a: seen.append(a), ("x", 1))
    assert ex._max_workers == 2
    assert ex.submit(current_name).result(TIMEOUT).startswith("PosPrefix")
    assert seen == [("x", 1)]


def test_is_executor_subclass(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    assert isinstance(ex, cf.Executor)
    assert isinstance(ex, cf.ThreadPoolExecutor)


def test_thread_submodule_exports(
    cf: types.ModuleType, cf_thread: types.ModuleType
) -> None:
    assert cf_thread.ThreadPoolExecutor is cf.ThreadPoolExecutor
    assert cf_thread.BrokenThreadPool is concurrent.futures.thread.BrokenThreadPool
    assert issubclass(cf_thread.BrokenThreadPool, cf.BrokenExecutor)


# --------------------------------------------------------------------------
# submit
# --------------------------------------------------------------------------


def test_submit_returns_result(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    fut = ex.submit(pow, 2, 8)
    assert fut.result(timeout=TIMEOUT) == 256


def test_submit_returns_stdlib_future(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    fut = ex.submit(mul, 2, 3)
    assert isinstance(fut, concurrent.futures.Future)
    assert isinstance(fut, cf.Future)
    assert fut.result(TIMEOUT) == 6


def test_submit_keyword_arguments(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    assert ex.submit(mul, 2, y=8).result(TIMEOUT) == 16
    # ``fn`` and ``self`` are positional-only in submit, so they can be
    # forwarded as keyword arguments to the callable.
    fut = ex.submit(capture, 1, self=2, fn=3)
    assert fut.result(TIMEOUT) == ((1,), {"self": 2, "fn": 3})


def test_submit_fn_keyword_is_not_the_callable(cf: types.ModuleType) -> None:
    ex = cf.ThreadPoolExecutor(max_workers=1)
    try:
        with pytest.raises(TypeError):
            ex.submit(fn=capture)
    finally:
        ex.shutdown(wait=True)


def test_exception_is_propagated_as_is(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    err = ValueError("bad value", 42)

    def boom() -> None:
        raise err

    fut = ex.submit(boom)
    assert fut.exception(timeout=TIMEOUT) is err
    with pytest.raises(ValueError) as info:
        fut.result(timeout=TIMEOUT)
    assert info.value is err
    assert info.value.args == ("bad value", 42)


def test_exception_traceback_includes_task_frame(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)

    def failing_task_function() -> None:
        raise KeyError("missing")

    exc = ex.submit(failing_task_function).exception(TIMEOUT)
    assert isinstance(exc, KeyError)
    names = [frame.name for frame in traceback.extract_tb(exc.__traceback__)]
    assert "failing_task_function" in names


def test_base_exception_is_captured_and_worker_survives(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)

    def exit_task() -> None:
        raise SystemExit(3)

    fut = ex.submit(exit_task)
    exc = fut.exception(TIMEOUT)
    assert isinstance(exc, SystemExit)
    assert exc.code == 3
    with pytest.raises(SystemExit):
        fut.result(TIMEOUT)
    # The pool is still usable afterwards.
    assert ex.submit(mul, 6, 7).result(TIMEOUT) == 42


def test_submit_non_callable_fails_inside_future(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    fut = ex.submit(None)  # type: ignore[arg-type]
    assert isinstance(fut.exception(TIMEOUT), TypeError)
    assert ex.submit(mul, 1, 1).result(TIMEOUT) == 1


def test_nested_submit(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)

    def outer() -> int:
        return ex.submit(mul, 5, 5).result(TIMEOUT) + 1

    assert ex.submit(outer).result(TIMEOUT) == 26


def test_future_states_through_execution(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()

    def task() -> str:
        started.set()
        release.wait(TIMEOUT)
        return "done"

    running = ex.submit(task)
    assert started.wait(TIMEOUT)
    queued = ex.submit(mul, 2, 2)

    assert running.running() and not running.done()
    assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=running>", repr(running))
    assert not queued.running() and not queued.done()
    assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=pending>", repr(queued))

    release.set()
    assert running.result(TIMEOUT) == "done"
    assert queued.result(TIMEOUT) == 4
    assert running.done() and not running.running()
    assert re.fullmatch(
        r"<Future at 0x[0-9a-f]+ state=finished returned str>", repr(running)
    )


def test_cancel_queued_future(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()
    ran: list[int] = []

    def blocker() -> None:
        started.set()
        release.wait(TIMEOUT)

    first = ex.submit(blocker)
    assert started.wait(TIMEOUT)
    queued = ex.submit(ran.append, 1)
    after = ex.submit(ran.append, 2)

    assert queued.cancel() is True
    assert queued.cancelled() and queued.done()
    release.set()
    first.result(TIMEOUT)
    after.result(TIMEOUT)
    assert ran == [2]
    with pytest.raises(cf.CancelledError):
        queued.result(TIMEOUT)


def test_cancel_running_future_returns_false(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()

    def task() -> int:
        started.set()
        release.wait(TIMEOUT)
        return 7

    fut = ex.submit(task)
    assert started.wait(TIMEOUT)
    assert fut.cancel() is False
    assert not fut.cancelled()
    assert fut.running()
    release.set()
    assert fut.result(TIMEOUT) == 7
    assert fut.cancel() is False


def test_result_timeout_while_running(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    release = harness.event()
    fut = ex.submit(release.wait, TIMEOUT)
    with pytest.raises(cf.TimeoutError):
        fut.result(timeout=SHORT)
    with pytest.raises(TimeoutError):
        fut.exception(timeout=SHORT)
    release.set()
    assert fut.result(TIMEOUT) is True


def test_done_callback_runs_in_worker_thread(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1, thread_name_prefix="CbPool")
    started, release = harness.event(), harness.event()
    seen: list[tuple[Any, str]] = []
    called = threading.Event()

    def task() -> int:
        started.set()
        release.wait(TIMEOUT)
        return 1

    def callback(f: Any) -> None:
        seen.append((f, current_name()))
        called.set()

    fut = ex.submit(task)
    assert started.wait(TIMEOUT)
    fut.add_done_callback(callback)
    assert seen == []
    release.set()
    assert called.wait(TIMEOUT)
    assert seen[0][0] is fut
    assert seen[0][1].startswith("CbPool")

    # Added after completion: runs immediately in the calling thread.
    fut.add_done_callback(callback)
    assert seen[1] == (fut, current_name())


# --------------------------------------------------------------------------
# threads, names, initializer, thread locals
# --------------------------------------------------------------------------


def test_thread_name_prefix(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=3, thread_name_prefix="SpecialPool")
    names = [ex.submit(current_name).result(TIMEOUT) for _ in range(5)]
    for name in names:
        assert name.startswith("SpecialPool")
        assert re.fullmatch(r"SpecialPool_[0-2]", name), name


def test_default_thread_names(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    name = ex.submit(current_name).result(TIMEOUT)
    assert re.fullmatch(r"ThreadPoolExecutor-\d+_[01]", name), name


def test_tasks_run_concurrently_up_to_max_workers(
    cf: types.ModuleType, harness: Harness
) -> None:
    n = 3
    ex = harness.executor(max_workers=n)
    barrier = threading.Barrier(n, timeout=TIMEOUT)

    def task() -> int:
        barrier.wait()
        return threading.get_ident()

    # If fewer than n tasks could run at once the barrier would break.
    idents = {f.result(TIMEOUT) for f in [ex.submit(task) for _ in range(n)]}
    assert len(idents) == n


def test_never_more_threads_than_max_workers(
    cf: types.ModuleType, harness: Harness
) -> None:
    n = 3
    ex = harness.executor(max_workers=n)
    release = harness.event()
    idents: set[int] = set()
    lock = threading.Lock()

    def task() -> None:
        with lock:
            idents.add(threading.get_ident())
        release.wait(TIMEOUT)

    futures = [ex.submit(task) for _ in range(5 * n)]
    release.set()
    for f in futures:
        f.result(TIMEOUT)
    assert 1 <= len(idents) <= n


def test_initializer_and_initargs(cf: types.ModuleType, harness: Harness) -> None:
    local = threading.local()
    init_threads: list[str] = []

    def init(a: int, b: str) -> None:
        local.value = (a, b)
        init_threads.append(current_name())

    ex = harness.executor(
        max_workers=1, thread_name_prefix="InitPool", initializer=init, initargs=(1, "b")
    )
    assert ex.submit(lambda: local.value).result(TIMEOUT) == (1, "b")
    assert len(init_threads) == 1
    assert init_threads[0].startswith("InitPool")


def test_initializer_runs_once_per_worker(
    cf: types.ModuleType, harness: Harness
) -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def init() -> None:
        with lock:
            calls.append(threading.get_ident())

    n = 2
    ex = harness.executor(max_workers=n, initializer=init)
    barrier = threading.Barrier(n, timeout=TIMEOUT)

    def task() -> int:
        barrier.wait()
        return threading.get_ident()

    for _ in range(3):
        idents = {f.result(TIMEOUT) for f in [ex.submit(task) for _ in range(n)]}
        assert len(idents) == n
    ex.shutdown(wait=True)
    assert len(calls) == n
    assert len(set(calls)) == n


def test_thread_local_state_persists_between_tasks(
    cf: types.ModuleType, harness: Harness
) -> None:
    local = threading.local()

    def bump() -> tuple[int, int]:
        local.count = getattr(local, "count", 0) + 1
        return local.count, threading.get_ident()

    ex = harness.executor(max_workers=1)
    results = [ex.submit(bump).result(TIMEOUT) for _ in range(4)]
    assert [count for count, _ in results] == [1, 2, 3, 4]
    assert len({ident for _, ident in results}) == 1


def test_initializer_failure_breaks_pool(
    cf: types.ModuleType, cf_thread: types.ModuleType, harness: Harness
) -> None:
    gate = harness.event()

    def init() -> None:
        gate.wait(TIMEOUT)
        raise RuntimeError("initializer exploded")

    ex = harness.executor(max_workers=2, initializer=init)
    # Submitted while the initializers are still blocked: all stay pending.
    pending = [ex.submit(mul, i, i) for i in range(4)]
    gate.set()
    for fut in pending:
        exc = fut.exception(TIMEOUT)
        assert type(exc) is cf_thread.BrokenThreadPool
        assert isinstance(exc, cf.BrokenExecutor)
        assert str(exc) == INIT_FAILED_MSG
        with pytest.raises(cf.BrokenExecutor):
            fut.result(TIMEOUT)

    # Once a pending future has been failed the pool is broken for good.
    with pytest.raises(cf_thread.BrokenThreadPool) as info:
        ex.submit(mul, 1, 1)
    assert str(info.value) == INIT_FAILED_MSG
    with pytest.raises(cf_thread.BrokenThreadPool):
        ex.map(abs, [1, 2])


def test_broken_pool_reports_broken_even_after_shutdown(
    cf: types.ModuleType, cf_thread: types.ModuleType, harness: Harness
) -> None:
    def init() -> None:
        raise OSError("nope")

    ex = harness.executor(max_workers=1, initializer=init)
    assert type(ex.submit(abs, 1).exception(TIMEOUT)) is cf_thread.BrokenThreadPool
    ex.shutdown(wait=True)
    with pytest.raises(cf_thread.BrokenThreadPool):
        ex.submit(abs, 1)


def test_initializer_failure_is_logged(
    cf: types.ModuleType, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    class InitError(Exception):
        pass

    def init() -> None:
        raise InitError("broken init")

    with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
        ex = harness.executor(max_workers=1, initializer=init)
        assert isinstance(ex.submit(abs, 1).exception(TIMEOUT), cf.BrokenExecutor)
        ex.shutdown(wait=True)
    records = [
        r
        for r in caplog.records
        if r.name == "concurrent.futures" and r.levelno == logging.CRITICAL
    ]
    assert records
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is InitError


# --------------------------------------------------------------------------
# shutdown and context manager
# --------------------------------------------------------------------------


def test_submit_after_shutdown(cf: types.ModuleType) -> None:
    ex = cf.ThreadPoolExecutor(max_workers=1)
    ex.shutdown(wait=True)
    with pytest.raises(RuntimeError) as info:
        ex.submit(abs, 1)
    assert str(info.value) == "cannot schedule new futures after shutdown"
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        ex.map(abs, [1])


def test_shutdown_twice_is_harmless(cf: types.ModuleType) -> None:
    ex = cf.ThreadPoolExecutor(max_workers=2)
    assert ex.submit(abs, -1).result(TIMEOUT) == 1
    assert ex.shutdown() is None
    assert ex.shutdown(wait=False) is None
    assert ex.shutdown(wait=True, cancel_futures=True) is None


def test_shutdown_unused_executor(cf: types.ModuleType) -> None:
    ex = cf.ThreadPoolExecutor()
    ex.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        ex.submit(abs, 1)


def test_shutdown_wait_blocks_until_tasks_finish(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=2)
    started, release = harness.event(), harness.event()
    ran: list[int] = []

    def task() -> str:
        started.set()
        release.wait(TIMEOUT)
        return "finished"

    running = ex.submit(task)
    assert started.wait(TIMEOUT)
    queued = [ex.submit(ran.append, i) for i in range(3)]
    timer = threading.Timer(0.05, release.set)
    timer.start()
    ex.shutdown(wait=True)
    timer.join()
    assert running.done() and running.result(0) == "finished"
    assert all(f.done() for f in queued)
    assert sorted(ran) == [0, 1, 2]


def test_shutdown_no_wait_returns_while_tasks_run(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()

    def task() -> str:
        started.set()
        release.wait(TIMEOUT)
        return "late"

    running = ex.submit(task)
    assert started.wait(TIMEOUT)
    queued = ex.submit(mul, 3, 3)
    ex.shutdown(wait=False)
    # shutdown(wait=False) must not have waited for the blocked task.
    assert not running.done()
    assert not queued.done() and not queued.cancelled()
    with pytest.raises(RuntimeError):
        ex.submit(abs, 1)
    release.set()
    # Already queued work still runs after a non-waiting shutdown.
    assert running.result(TIMEOUT) == "late"
    assert queued.result(TIMEOUT) == 9


def test_shutdown_cancel_futures(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()
    ran: list[int] = []

    def task() -> str:
        started.set()
        release.wait(TIMEOUT)
        return "kept"

    running = ex.submit(task)
    assert started.wait(TIMEOUT)
    queued = [ex.submit(ran.append, i) for i in range(5)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    assert not running.cancelled()
    release.set()
    assert running.result(TIMEOUT) == "kept"
    for f in queued:
        with pytest.raises(cf.CancelledError):
            f.result(TIMEOUT)
    ex.shutdown(wait=True)
    assert ran == []


def test_shutdown_cancel_futures_with_wait(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()

    def task() -> int:
        started.set()
        release.wait(TIMEOUT)
        return 5

    running = ex.submit(task)
    assert started.wait(TIMEOUT)
    queued = [ex.submit(abs, -i) for i in range(3)]
    timer = threading.Timer(0.05, release.set)
    timer.start()
    ex.shutdown(wait=True, cancel_futures=True)
    timer.join()
    assert running.result(0) == 5
    assert [f.cancelled() for f in queued] == [True, True, True]


def test_context_manager(cf: types.ModuleType) -> None:
    ran: list[int] = []
    release = threading.Event()

    def task(i: int) -> int:
        release.wait(TIMEOUT)
        ran.append(i)
        return i

    ex = cf.ThreadPoolExecutor(max_workers=2)
    with ex as entered:
        assert entered is ex
        futures = [ex.submit(task, i) for i in range(4)]
        release.set()
    # __exit__ waits for everything submitted.
    assert all(f.done() for f in futures)
    assert sorted(ran) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(task, 9)


def test_context_manager_does_not_swallow_exceptions(cf: types.ModuleType) -> None:
    with pytest.raises(KeyError), cf.ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(mul, 4, 4)
        raise KeyError("inside with")
    assert fut.result(TIMEOUT) == 16
    with pytest.raises(RuntimeError):
        ex.submit(abs, 1)


# --------------------------------------------------------------------------
# map
# --------------------------------------------------------------------------


def test_map_preserves_order(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=4)
    assert list(ex.map(pow, range(10), range(10))) == list(map(pow, range(10), range(10)))


def test_map_order_independent_of_completion_order(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=3)
    gates = [harness.event() for _ in range(3)]

    def task(i: int) -> int:
        # Task i can only finish after task i+1 has finished.
        assert gates[i].wait(TIMEOUT)
        if i > 0:
            gates[i - 1].set()
        return i * 10

    it = ex.map(task, range(3))
    gates[2].set()
    assert list(it) == [0, 10, 20]


def test_map_stops_at_shortest_iterable(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    assert list(ex.map(mul, [1, 2, 3, 4], [10, 20])) == [10, 40]


def test_map_empty(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    assert list(ex.map(abs, [])) == []


def test_map_chunksize_is_accepted(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    assert list(ex.map(abs, range(-5, 5), chunksize=3)) == [abs(i) for i in range(-5, 5)]


def test_map_returns_lazy_iterator(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    it = ex.map(abs, [-1, -2])
    assert iter(it) is it
    assert next(it) == 1
    assert next(it) == 2
    with pytest.raises(StopIteration):
        next(it)


def test_map_submits_without_iteration(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    ran: list[int] = []
    lock = threading.Lock()

    def record(i: int) -> None:
        with lock:
            ran.append(i)

    it = ex.map(record, range(6))
    ex.shutdown(wait=True)
    assert sorted(ran) == list(range(6))
    assert list(it) == [None] * 6


def test_map_exception_raised_at_its_position(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=2)
    it = ex.map(divmod, [1, 5, 1, 1], [2, 3, 0, 5])
    assert next(it) == (0, 1)
    assert next(it) == (1, 2)
    with pytest.raises(ZeroDivisionError) as info:
        next(it)
    assert str(info.value) == "integer division or modulo by zero"
    # The generator is finished after the exception.
    with pytest.raises(StopIteration):
        next(it)


def test_map_exception_cancels_remaining(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    hold = harness.event()
    ran: list[int] = []

    def task(i: int) -> int:
        ran.append(i)
        if i == 0:
            raise ValueError("bad 0")
        if i == 1:
            hold.wait(TIMEOUT)
        return i

    it = ex.map(task, range(5))
    with pytest.raises(ValueError, match="bad 0"):
        next(it)
    hold.set()
    ex.shutdown(wait=True)
    # Item 1 may already have been picked up; 2..4 were queued behind it and
    # must have been cancelled.
    assert ran in ([0], [0, 1])


def test_map_timeout(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=2)
    hold = harness.event()

    def task(i: int) -> int:
        if i == 2:
            hold.wait(TIMEOUT)
        return i

    it = ex.map(task, [0, 1, 2], timeout=0.5)
    assert next(it) == 0
    assert next(it) == 1
    with pytest.raises(cf.TimeoutError) as info:
        next(it)
    assert type(info.value) is TimeoutError


def test_map_timeout_measured_from_map_call(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    hold = harness.event()
    it = ex.map(hold.wait, [TIMEOUT], timeout=0.3)
    time.sleep(0.5)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        next(it)
    # The deadline had already passed, so this must not wait another 0.3 s.
    assert time.monotonic() - start < 0.25


def test_map_timeout_cancels_pending_calls(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    hold = harness.event()
    blocker = ex.submit(hold.wait, TIMEOUT)
    ran: list[int] = []
    it = ex.map(ran.append, [1, 2, 3], timeout=SHORT)
    with pytest.raises(TimeoutError):
        next(it)
    hold.set()
    assert blocker.result(TIMEOUT) is True
    ex.shutdown(wait=True)
    # Both the call that timed out and the ones after it were cancelled.
    assert ran == []


def test_closing_map_iterator_cancels_remaining(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=1)
    hold = harness.event()
    ran: list[int] = []

    def task(i: int) -> int:
        ran.append(i)
        if i == 1:
            hold.wait(TIMEOUT)
        return i

    it = ex.map(task, range(5))
    assert next(it) == 0
    it.close()
    hold.set()
    ex.shutdown(wait=True)
    assert ran in ([0], [0, 1])
    with pytest.raises(StopIteration):
        next(it)


# --------------------------------------------------------------------------
# interpreter exit (subprocesses)
# --------------------------------------------------------------------------


def _run_script(cf: types.ModuleType, body: str) -> subprocess.CompletedProcess[str]:
    code = f"import {cf.__name__} as cf\n" + textwrap.dedent(body)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


@pytest.mark.parametrize("ending", ["", "t.shutdown(wait=False)"], ids=["no-shutdown", "shutdown-nowait"])
def test_interpreter_exit_waits_for_running_task(cf: types.ModuleType, ending: str) -> None:
    proc = _run_script(
        cf,
        f"""
        import time
        def task():
            time.sleep(0.2)
            print("apple", flush=True)
        t = cf.ThreadPoolExecutor(5)
        t.submit(task)
        {ending}
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "apple"


@pytest.mark.parametrize(
    ("used", "message"),
    [
        # Workers that exit at interpreter shutdown mark their executor as
        # shut down, so a used pool reports the plain "after shutdown"...
        (True, "cannot schedule new futures after shutdown"),
        # ...while a pool that never started a worker reports the global flag.
        (False, "cannot schedule new futures after interpreter shutdown"),
    ],
    ids=["used-pool", "unused-pool"],
)
def test_submit_after_interpreter_shutdown(
    cf: types.ModuleType, used: bool, message: str
) -> None:
    proc = _run_script(
        cf,
        f"""
        import atexit
        @atexit.register
        def run_last():
            try:
                t.submit(id, None)
            except RuntimeError as exc:
                print("runtime-error:", exc)
        t = cf.ThreadPoolExecutor(5)
        other = cf.ThreadPoolExecutor(5)
        (t if {used!r} else other).submit(id, 42).result(5)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "runtime-error: " + message


def test_default_thread_names_count_with_the_stdlibs_executors(cf: types.ModuleType) -> None:
    # A library's stdlib executor next to the program's: the stdlib numbers
    # every ThreadPoolExecutor from one counter, so default thread names never
    # repeat. gofutures kept a counter of its own, and the two pools of each
    # pair were both "ThreadPoolExecutor-0".
    import concurrent.futures.thread as stdlib_thread

    executors = [
        stdlib_thread.ThreadPoolExecutor(1),
        cf.ThreadPoolExecutor(1),
        stdlib_thread.ThreadPoolExecutor(1),
        cf.ThreadPoolExecutor(1),
    ]
    try:
        names = [ex.submit(lambda: threading.current_thread().name).result(timeout=10) for ex in executors]
    finally:
        for ex in executors:
            ex.shutdown()
    numbers = [int(name.removeprefix("ThreadPoolExecutor-").split("_")[0]) for name in names]
    assert numbers == list(range(numbers[0], numbers[0] + 4)), names


def test_submit_from_a_task_still_running_at_interpreter_exit(tmp_path: Path) -> None:
    # A crawler's task submits the next page while the interpreter exits:
    # its worker has not yet left, so the stdlib's executor is not flagged
    # shut down and the submit says "after interpreter shutdown". gofutures
    # flagged every used pool at exit and said "after shutdown".
    assert_same_output(
        tmp_path,
        """
        import time
        import __CF__ as cf

        ex = cf.ThreadPoolExecutor(2)

        def crawl(depth):
            time.sleep(0.1)
            try:
                ex.submit(crawl, depth + 1)
            except RuntimeError as e:
                print("submit failed:", e, flush=True)

        ex.submit(crawl, 0)
        """,
    )
