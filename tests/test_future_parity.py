"""Future parity tests: stdlib concurrent.futures vs gofutures.

Futures come both from ``cf.Future()`` directly and from
``ThreadPoolExecutor.submit``.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import logging
import re
import threading
import types
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

TIMEOUT = 5.0
SHORT = 0.1
REPR_PREFIX = r"<Future at 0x[0-9a-f]+ "


def make_future(cf: types.ModuleType, state: str) -> Any:
    """Build a cf.Future in one of the states the stdlib tests exercise."""
    f = cf.Future()
    if state == "pending":
        pass
    elif state == "running":
        assert f.set_running_or_notify_cancel() is True
    elif state == "cancelled":
        assert f.cancel() is True
    elif state == "cancelled_and_notified":
        assert f.cancel() is True
        assert f.set_running_or_notify_cancel() is False
    elif state == "exception":
        f.set_exception(OSError("io failed"))
    elif state == "successful":
        f.set_result(42)
    else:  # pragma: no cover - test bug
        raise AssertionError(state)
    return f


def later(delay: float, fn: Any, *args: Any) -> threading.Timer:
    timer = threading.Timer(delay, fn, args)
    timer.start()
    return timer


# --------------------------------------------------------------------------
# exported names
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Future",
        "Executor",
        "CancelledError",
        "TimeoutError",
        "InvalidStateError",
        "BrokenExecutor",
    ],
)
def test_exported_name_matches_stdlib(cf: types.ModuleType, name: str) -> None:
    ours = getattr(cf, name)
    theirs = getattr(concurrent.futures, name)
    if name in ("Future", "Executor"):
        assert issubclass(ours, theirs) or ours is theirs
    else:
        assert ours is theirs


def test_timeout_error_is_builtin(cf: types.ModuleType) -> None:
    assert cf.TimeoutError is builtins.TimeoutError


def test_exception_hierarchy(cf: types.ModuleType) -> None:
    assert issubclass(cf.CancelledError, Exception)
    assert issubclass(cf.InvalidStateError, Exception)
    assert issubclass(cf.BrokenExecutor, RuntimeError)


def test_future_generic_alias(cf: types.ModuleType) -> None:
    alias = cf.Future[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is cf.Future
    assert alias.__args__ == (int,)


def test_base_executor_submit_not_implemented(cf: types.ModuleType) -> None:
    with pytest.raises(NotImplementedError):
        cf.Executor().submit(abs, 1)


def test_executor_subclass_gets_map_and_context_manager(cf: types.ModuleType) -> None:
    class InlineExecutor(cf.Executor):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.shut: list[tuple[bool, bool]] = []

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            f = concurrent.futures.Future()
            f.set_running_or_notify_cancel()
            try:
                f.set_result(fn(*args, **kwargs))
            except Exception as exc:
                f.set_exception(exc)
            return f

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            self.shut.append((wait, cancel_futures))

    with InlineExecutor() as ex:
        assert list(ex.map(pow, [2, 3], [3, 2])) == [8, 9]
        assert list(ex.map(abs, [-1, -2], timeout=TIMEOUT)) == [1, 2]
    assert ex.shut == [(True, False)]


# --------------------------------------------------------------------------
# states and repr
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "cancelled", "running", "done"),
    [
        ("pending", False, False, False),
        ("running", False, True, False),
        ("cancelled", True, False, True),
        ("cancelled_and_notified", True, False, True),
        ("exception", False, False, True),
        ("successful", False, False, True),
    ],
)
def test_state_predicates(
    cf: types.ModuleType, state: str, cancelled: bool, running: bool, done: bool
) -> None:
    f = make_future(cf, state)
    assert (f.cancelled(), f.running(), f.done()) == (cancelled, running, done)


@pytest.mark.parametrize(
    ("state", "suffix"),
    [
        ("pending", "state=pending>"),
        ("running", "state=running>"),
        ("cancelled", "state=cancelled>"),
        ("cancelled_and_notified", "state=cancelled>"),
        ("exception", "state=finished raised OSError>"),
        ("successful", "state=finished returned int>"),
    ],
)
def test_repr(cf: types.ModuleType, state: str, suffix: str) -> None:
    f = make_future(cf, state)
    text = repr(f)
    assert text.startswith("<Future at ")
    assert re.fullmatch(REPR_PREFIX + re.escape(suffix), text), text


def test_new_future_is_stdlib_future(cf: types.ModuleType) -> None:
    assert isinstance(cf.Future(), concurrent.futures.Future)


# --------------------------------------------------------------------------
# results and exceptions
# --------------------------------------------------------------------------


def test_set_result(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_result("value")
    assert f.result() == "value"
    assert f.result(timeout=0) == "value"
    assert f.exception() is None
    assert f.done() and not f.cancelled()


def test_set_result_none(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_result(None)
    assert f.result(0) is None
    assert f.exception(0) is None
    assert re.fullmatch(REPR_PREFIX + r"state=finished returned NoneType>", repr(f))


def test_set_exception(cf: types.ModuleType) -> None:
    f = cf.Future()
    err = OSError("io failed")
    f.set_exception(err)
    assert f.exception(timeout=0) is err
    with pytest.raises(OSError) as info:
        f.result(timeout=0)
    assert info.value is err
    assert f.done() and not f.cancelled()


def test_set_base_exception(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_exception(KeyboardInterrupt("stop"))
    with pytest.raises(KeyboardInterrupt, match="stop"):
        f.result(0)


def test_set_result_twice(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_result(1)
    with pytest.raises(cf.InvalidStateError) as info:
        f.set_result(2)
    assert re.fullmatch(
        r"FINISHED: " + REPR_PREFIX + r"state=finished returned int>", str(info.value)
    )
    assert f.result(0) == 1


def test_set_exception_twice(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_exception(ValueError("first"))
    with pytest.raises(cf.InvalidStateError) as info:
        f.set_exception(ValueError("second"))
    assert re.fullmatch(
        r"FINISHED: " + REPR_PREFIX + r"state=finished raised ValueError>",
        str(info.value),
    )
    with pytest.raises(cf.InvalidStateError):
        f.set_result(3)
    assert str(f.exception(0)) == "first"


def test_set_result_after_cancel(cf: types.ModuleType) -> None:
    f = cf.Future()
    assert f.cancel()
    with pytest.raises(cf.InvalidStateError) as info:
        f.set_result(1)
    assert re.fullmatch(
        r"CANCELLED: " + REPR_PREFIX + r"state=cancelled>", str(info.value)
    )
    with pytest.raises(cf.InvalidStateError):
        f.set_exception(ValueError())
    assert f.cancelled()


def test_result_timeout(cf: types.ModuleType) -> None:
    f = cf.Future()
    with pytest.raises(cf.TimeoutError) as info:
        f.result(timeout=SHORT)
    assert info.value.args == ()
    with pytest.raises(TimeoutError):
        f.exception(timeout=SHORT)
    with pytest.raises(TimeoutError):
        f.result(timeout=0)
    assert not f.done()


def test_result_timeout_while_running(cf: types.ModuleType) -> None:
    f = cf.Future()
    f.set_running_or_notify_cancel()
    with pytest.raises(TimeoutError):
        f.result(timeout=SHORT)


def test_result_waits_for_other_thread(cf: types.ModuleType) -> None:
    f = cf.Future()
    timer = later(0.05, f.set_result, 42)
    assert f.result(timeout=TIMEOUT) == 42
    timer.join()


def test_exception_waits_for_other_thread(cf: types.ModuleType) -> None:
    f = cf.Future()
    err = OSError("later")
    timer = later(0.05, f.set_exception, err)
    assert f.exception(timeout=TIMEOUT) is err
    timer.join()


def test_result_wakes_on_cancel_from_other_thread(cf: types.ModuleType) -> None:
    f = cf.Future()
    timer = later(0.05, f.cancel)
    with pytest.raises(cf.CancelledError) as info:
        f.result(timeout=TIMEOUT)
    assert info.value.args == ()
    timer.join()


def test_exception_wakes_on_cancel_from_other_thread(cf: types.ModuleType) -> None:
    f = cf.Future()
    timer = later(0.05, f.cancel)
    with pytest.raises(cf.CancelledError):
        f.exception(timeout=TIMEOUT)
    timer.join()


# --------------------------------------------------------------------------
# cancel / set_running_or_notify_cancel
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", True),
        ("running", False),
        ("cancelled", True),
        ("cancelled_and_notified", True),
        ("exception", False),
        ("successful", False),
    ],
)
def test_cancel(cf: types.ModuleType, state: str, expected: bool) -> None:
    f = make_future(cf, state)
    assert f.cancel() is expected
    assert f.cancelled() is expected


def test_cancelled_future_raises(cf: types.ModuleType) -> None:
    f = cf.Future()
    assert f.cancel()
    with pytest.raises(cf.CancelledError):
        f.result(timeout=0)
    with pytest.raises(cf.CancelledError):
        f.exception(timeout=0)


def test_set_running_or_notify_cancel(cf: types.ModuleType) -> None:
    f = cf.Future()
    assert f.set_running_or_notify_cancel() is True
    assert f.running()
    assert f.cancel() is False
    f.set_result(5)
    assert f.result(0) == 5

    g = cf.Future()
    g.cancel()
    assert g.set_running_or_notify_cancel() is False
    assert g.cancelled()


@pytest.mark.parametrize(
    "state", ["running", "successful", "exception", "cancelled_and_notified"]
)
def test_set_running_in_unexpected_state(
    cf: types.ModuleType, state: str, caplog: pytest.LogCaptureFixture
) -> None:
    f = make_future(cf, state)
    with (
        caplog.at_level(logging.CRITICAL, logger="concurrent.futures"),
        pytest.raises(RuntimeError) as info,
    ):
        f.set_running_or_notify_cancel()
    assert str(info.value) == "Future in unexpected state"


# --------------------------------------------------------------------------
# done callbacks
# --------------------------------------------------------------------------


def test_callbacks_on_result_in_order(cf: types.ModuleType) -> None:
    f = cf.Future()
    calls: list[tuple[str, Any]] = []
    for tag in ("a", "b", "c"):
        f.add_done_callback(lambda fut, tag=tag: calls.append((tag, fut)))
    assert calls == []
    f.set_result(1)
    assert calls == [("a", f), ("b", f), ("c", f)]


def test_callback_on_exception(cf: types.ModuleType) -> None:
    f = cf.Future()
    seen: list[BaseException | None] = []
    f.add_done_callback(lambda fut: seen.append(fut.exception()))
    err = ValueError("boom")
    f.set_exception(err)
    assert seen == [err]


def test_callback_on_cancel(cf: types.ModuleType) -> None:
    f = cf.Future()
    seen: list[bool] = []
    f.add_done_callback(lambda fut: seen.append(fut.cancelled()))
    assert f.cancel()
    assert seen == [True]
    # Neither a second cancel nor the notify step runs callbacks again.
    assert f.cancel()
    assert f.set_running_or_notify_cancel() is False
    assert seen == [True]


def test_callback_not_called_when_running(cf: types.ModuleType) -> None:
    f = cf.Future()
    seen: list[Any] = []
    f.add_done_callback(seen.append)
    assert f.set_running_or_notify_cancel()
    assert seen == []
    f.set_result(0)
    assert seen == [f]


def test_same_callback_added_twice_runs_twice(cf: types.ModuleType) -> None:
    f = cf.Future()
    seen: list[Any] = []
    f.add_done_callback(seen.append)
    f.add_done_callback(seen.append)
    f.set_result(None)
    assert seen == [f, f]


@pytest.mark.parametrize(
    "state", ["successful", "exception", "cancelled", "cancelled_and_notified"]
)
def test_callback_added_after_done_runs_immediately(
    cf: types.ModuleType, state: str
) -> None:
    f = make_future(cf, state)
    seen: list[tuple[Any, str]] = []
    f.add_done_callback(lambda fut: seen.append((fut, threading.current_thread().name)))
    assert seen == [(f, threading.current_thread().name)]


def test_callback_exception_is_logged_not_raised(
    cf: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    f = cf.Future()
    seen: list[str] = []

    def bad(fut: Any) -> None:
        seen.append("bad")
        raise ZeroDivisionError("callback failed")

    f.add_done_callback(bad)
    f.add_done_callback(lambda fut: seen.append("good"))
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        f.set_result(5)
    assert seen == ["bad", "good"]
    assert f.result(0) == 5
    records = [r for r in caplog.records if r.name == "concurrent.futures"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].getMessage().startswith("exception calling callback for <Future")
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is ZeroDivisionError


def test_callback_exception_after_done_is_logged(
    cf: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    f = cf.Future()
    f.set_result(5)

    def bad(fut: Any) -> None:
        raise KeyError("late")

    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        f.add_done_callback(bad)  # must not raise
    records = [r for r in caplog.records if r.name == "concurrent.futures"]
    assert len(records) == 1
    assert "exception calling callback for" in records[0].getMessage()


# --------------------------------------------------------------------------
# futures produced by the executor
# --------------------------------------------------------------------------


def test_executor_future_success(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    f = ex.submit(sum, [1, 2, 3])
    assert f.result(TIMEOUT) == 6
    assert f.exception(TIMEOUT) is None
    assert f.done() and not f.running() and not f.cancelled()
    assert f.cancel() is False
    with pytest.raises(cf.InvalidStateError):
        f.set_result(7)


def test_executor_future_failure(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    f = ex.submit(int, "not a number")
    exc = f.exception(TIMEOUT)
    assert type(exc) is ValueError
    assert str(exc) == "invalid literal for int() with base 10: 'not a number'"
    assert re.fullmatch(REPR_PREFIX + r"state=finished raised ValueError>", repr(f))


def test_executor_future_callbacks_order(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    release = harness.event()
    f = ex.submit(release.wait, TIMEOUT)
    calls: list[int] = []
    all_done = threading.Event()
    f.add_done_callback(lambda fut: calls.append(1))
    f.add_done_callback(lambda fut: calls.append(2))
    f.add_done_callback(lambda fut: all_done.set())
    release.set()
    assert all_done.wait(TIMEOUT)
    assert calls == [1, 2]


def test_executor_future_cancel_callback(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    started, release = harness.event(), harness.event()

    def blocker() -> None:
        started.set()
        release.wait(TIMEOUT)

    ex.submit(blocker)
    assert started.wait(TIMEOUT)
    queued = ex.submit(abs, -1)
    seen: list[bool] = []
    queued.add_done_callback(lambda fut: seen.append(fut.cancelled()))
    assert queued.cancel()
    assert seen == [True]
    release.set()
    ex.shutdown(wait=True)
    assert seen == [True]


def test_executor_future_result_timeout(cf: types.ModuleType, harness: Harness) -> None:
    ex = harness.executor(max_workers=1)
    release = harness.event()
    f = ex.submit(release.wait, TIMEOUT)
    with pytest.raises(cf.TimeoutError):
        f.result(timeout=SHORT)
    assert not f.done()
    release.set()
    assert f.result(TIMEOUT) is True


def test_executor_future_result_many_waiters(
    cf: types.ModuleType, harness: Harness
) -> None:
    ex = harness.executor(max_workers=4)
    release = harness.event()
    target = ex.submit(lambda: release.wait(TIMEOUT) and "ready")
    waiters = [ex.submit(target.result, TIMEOUT) for _ in range(3)]
    release.set()
    assert [w.result(TIMEOUT) for w in waiters] == ["ready"] * 3


@pytest.mark.parametrize("kind", ["thread", "process", "go"])
@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_executor_future_cannot_be_pickled_or_deep_copied(
    cf: types.ModuleType, kind: str, copier: str
) -> None:
    # The stdlib's future holds an RLock in its condition from the start, so
    # pickle and deepcopy refuse it. gofutures' future makes its condition
    # on first use, so it pickled: a pending future passed to a process
    # task arrived as a copy that never completed, and result() there hung.
    import copy
    import pickle
    import time

    copy_it = pickle.dumps if copier == "pickle" else copy.deepcopy
    if kind == "process":
        with cf.ProcessPoolExecutor(1) as ex:
            futures = [ex.submit(time.sleep, 0.3), ex.submit(abs, -1)]
            futures[1].result(timeout=TIMEOUT)
    else:
        fn: Any = time.sleep
        if kind == "go":
            if cf is concurrent.futures:
                fn = time.sleep  # the stdlib runs any callable on a thread
            else:
                from gofutures import io

                fn = io.sleep
        with cf.ThreadPoolExecutor(1) as ex:
            futures = [ex.submit(fn, 0.3), ex.submit(fn, 0)]
            futures[1].result(timeout=TIMEOUT)
    for future in futures:  # pending or running, then finished
        with pytest.raises(TypeError, match=re.escape("cannot pickle '_thread.RLock' object")):
            copy_it(future)


def test_executor_future_shallow_copy_shares_its_condition(cf: types.ModuleType) -> None:
    import copy

    with cf.ThreadPoolExecutor(1) as ex:
        f = ex.submit(abs, -4)
        assert f.result(timeout=TIMEOUT) == 4
    c = copy.copy(f)
    assert c.result(timeout=TIMEOUT) == 4
    assert c._condition is f._condition


@pytest.mark.parametrize(
    ("kind", "what"), [("thread", "_queue.SimpleQueue"), ("process", "_thread.lock")]
)
def test_executors_refuse_pickle_with_the_stdlibs_error(
    cf: types.ModuleType, kind: str, what: str
) -> None:
    # An object holding an executor sent to a worker: the stdlib raises
    # TypeError; gofutures raised AttributeError (its WeakSet's callback).
    import copy
    import pickle

    ex = cf.ThreadPoolExecutor(1) if kind == "thread" else cf.ProcessPoolExecutor(1)
    try:
        for refuse in (pickle.dumps, copy.deepcopy):
            with pytest.raises(TypeError, match=re.escape(f"cannot pickle '{what}' object")):
                refuse(ex)
        assert type(copy.copy(ex)) is type(ex)
    finally:
        ex.shutdown()
