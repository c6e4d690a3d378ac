"""The Future subclass the executors return (gofutures._future.Future)
against concurrent.futures.Future: the transitions it re-implements must
behave the same, state for state."""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

import pytest

from gofutures import _future

TIMEOUT = 5.0


@pytest.fixture(params=["stdlib", "gofutures"])
def future_class(request: pytest.FixtureRequest) -> Any:
    return concurrent.futures.Future if request.param == "stdlib" else _future.Future


def _outcome(call: Any) -> tuple[str, str]:
    try:
        return ("ok", repr(call()))
    except Exception as exc:  # the class and the message are compared
        return (type(exc).__name__, str(exc).split(" ")[0])


@pytest.mark.parametrize(
    "steps",
    [
        ("running", "result"),
        ("running", "exception"),
        ("result",),
        ("exception",),
        ("cancel", "running"),
        ("cancel", "running", "running"),
        ("running", "running"),
        ("result", "result"),
        ("result", "exception"),
        ("exception", "result"),
        ("cancel", "result"),
        ("cancel", "running", "exception"),
        ("running", "cancel", "result"),
    ],
)
def test_transitions_match_the_stdlib(steps: tuple[str, ...], caplog: Any) -> None:
    seen = []
    for cls in (concurrent.futures.Future, _future.Future):
        f = cls()
        calls = {
            "running": f.set_running_or_notify_cancel,
            "result": lambda f=f: f.set_result(1),
            "exception": lambda f=f: f.set_exception(ValueError("x")),
            "cancel": f.cancel,
        }
        with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
            outcomes = [_outcome(calls[step]) for step in steps]
        seen.append((outcomes, f._state, f.done(), f.running(), f.cancelled()))
    assert seen[0] == seen[1]


def test_waiters_and_threads_are_woken(future_class: Any) -> None:
    done = future_class()
    failed = future_class()
    cancelled = future_class()
    results: list[Any] = []

    def waiter() -> None:
        finished, _ = concurrent.futures.wait([done, failed, cancelled], timeout=TIMEOUT)
        results.append(len(finished))
        results.append(done.result(timeout=TIMEOUT))

    t = threading.Thread(target=waiter)
    t.start()
    assert cancelled.cancel()
    assert cancelled.set_running_or_notify_cancel() is False
    failed.set_exception(OSError("io"))
    done.set_result("value")
    t.join(TIMEOUT)
    assert results == [3, "value"]
    order = [f for f in concurrent.futures.as_completed([done, failed], timeout=TIMEOUT)]
    assert set(order) == {done, failed}


def test_callbacks_run_once_and_errors_are_logged(future_class: Any, caplog: Any) -> None:
    f = future_class()
    calls: list[Any] = []
    f.add_done_callback(calls.append)
    f.add_done_callback(lambda _: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        f.set_result(7)
    assert calls == [f]
    assert "exception calling callback" in caplog.text
    f.add_done_callback(calls.append)  # after completion: called at once
    assert calls == [f, f]


def test_no_callbacks_no_waiters(future_class: Any) -> None:
    f = future_class()
    assert f.set_running_or_notify_cancel() is True
    f.set_exception(KeyError("k"))
    assert isinstance(f.exception(timeout=0), KeyError)


@pytest.mark.parametrize("outcome", ["result", "exception"])
def test_a_thread_blocked_in_result_wakes_at_once(future_class: Any, outcome: str) -> None:
    f = future_class()
    got: list[Any] = []

    def blocked() -> None:
        try:
            got.append(f.result(timeout=TIMEOUT))
        except ValueError as exc:
            got.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    deadline = time.monotonic() + TIMEOUT
    while not f._condition._waiters and time.monotonic() < deadline:
        time.sleep(0.001)
    assert f._condition._waiters, "the thread waits on the future's condition"
    started = time.monotonic()
    if outcome == "result":
        f.set_result("v")
    else:
        f.set_exception(ValueError("e"))
    t.join(TIMEOUT)
    assert time.monotonic() - started < TIMEOUT / 2, "woken by the notification, not the timeout"
    assert len(got) == 1


def test_waiting_without_the_lock_raises_as_in_the_stdlib(future_class: Any) -> None:
    f = future_class()
    with pytest.raises(RuntimeError, match="un-acquired"):
        f._condition.wait(0)
    with f._condition:
        assert f._condition.wait(0) is False
    f.set_result(1)
    assert f.result(timeout=0) == 1


def test_the_condition_reinitializes_after_fork(future_class: Any) -> None:
    # threading's after-fork code calls _at_fork_reinit on conditions.
    f = future_class()
    for _ in range(2):  # before and after the deque is made
        f._condition._at_fork_reinit()
        with f._condition:
            assert f._condition.wait(0) is False
    f.set_result(1)
    assert f.result(timeout=0) == 1


FORK_WHILE_A_STATE_LOCK_IS_HELD = r"""
import concurrent.futures, os, sys, threading
from gofutures import _future
futures = [_future.Future() for _ in range(200)]
held = _future._state_lock(futures[0])
taken, release = threading.Event(), threading.Event()
def hold():
    with held:
        taken.set()
        release.wait()
threading.Thread(target=hold, daemon=True).start()
taken.wait()
pid = os.fork()
if pid == 0:
    import signal
    signal.alarm(10)  # a lock that stayed held: killed, not hung
    f = futures[0]
    f.set_result(1)
    done, _ = concurrent.futures.wait([f], timeout=5)
    f.add_done_callback(lambda f: None)
    os._exit(0 if done == {f} and f.result() == 1 else 1)
release.set()
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_state_lock_held_at_fork_is_free_in_the_child() -> None:
    out = subprocess.run([sys.executable, "-c", FORK_WHILE_A_STATE_LOCK_IS_HELD], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.stdout.strip() == "0", out.stderr


def test_wait_and_callbacks_again_after_the_lists_exist(future_class: Any) -> None:
    fs = [future_class() for _ in range(3)]
    calls: list[Any] = []
    for _ in range(2):  # the second round finds the lists made by the first
        done, not_done = concurrent.futures.wait(fs, timeout=0)
        assert (len(done), len(not_done)) == (0, 3)
        fs[0].add_done_callback(calls.append)
    fs[0].set_result("a")
    fs[1].set_exception(KeyError("b"))
    assert fs[2].cancel()
    assert fs[2].set_running_or_notify_cancel() is False
    assert calls == [fs[0], fs[0]]
    assert set(concurrent.futures.as_completed(fs, timeout=TIMEOUT)) == set(fs)
    assert all(not f._waiters for f in fs), "wait() and as_completed() removed their waiters"


def _gc_tracked_referents(obj: Any) -> list[str]:
    """The GC-tracked objects obj holds, with those its condition holds."""
    held = []
    for ref in gc.get_referents(obj):
        if gc.is_tracked(ref) and not isinstance(ref, type):
            held.append(type(ref).__name__)
            if isinstance(ref, threading.Condition):
                held += [type(r).__name__ for r in gc.get_referents(ref) if gc.is_tracked(r) and not isinstance(r, type)]
    return sorted(held)


def test_a_future_nobody_waits_on_holds_no_lists() -> None:
    # Each GC-tracked object per held future costs collections during a
    # burst of submits and pause time in a full collection; the stdlib's
    # Future holds seven.
    f = _future.Future()
    assert f.set_running_or_notify_cancel()
    f.set_result(1)
    assert f.result() == 1 and f.done()
    assert _gc_tracked_referents(f) == []
    assert len(_gc_tracked_referents(concurrent.futures.Future())) > 2
    concurrent.futures.wait([f], timeout=0)  # the stdlib's wait() makes the condition
    assert _gc_tracked_referents(f) == ["RLock", "_FutureCondition"]


def test_a_waiter_racing_the_first_completion_is_woken(future_class: Any) -> None:
    # result() makes the condition while the completing thread may be
    # setting the state without one: the waiter must see the result or be
    # notified, never wait out its timeout.
    fs = [future_class() for _ in range(2000)]
    got: list[Any] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        t = threading.Thread(target=lambda: got.extend(f.result(timeout=TIMEOUT) for f in fs))
        t.start()
        for i, f in enumerate(fs):
            f.set_result(i)
        t.join(2 * TIMEOUT)
    finally:
        sys.setswitchinterval(interval)
    assert got == list(range(len(fs)))


def test_cancel_racing_set_result_has_one_winner(future_class: Any) -> None:
    # Without a condition a future's state changes under a shared lock of
    # the module: cancel() and set_result() on each pending future must still
    # exclude each other (it ends with a result or cancelled, never both).
    fs = [future_class() for _ in range(10000)]
    finished: list[bool] = []

    def complete() -> None:
        for f in fs:
            try:
                f.set_result(1)
                finished.append(True)
            except concurrent.futures.InvalidStateError:
                finished.append(False)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        t = threading.Thread(target=complete)
        t.start()
        cancelled = [f.cancel() for f in fs]
        t.join(2 * TIMEOUT)
    finally:
        sys.setswitchinterval(interval)
    assert len(finished) == len(fs)
    assert [f.cancelled() for f in fs] == cancelled
    assert all(won != c for won, c in zip(finished, cancelled, strict=True))


@pytest.mark.parametrize("read", ["result", "exception"])
def test_reading_a_failed_future_leaves_no_cycle(future_class: Any, read: str) -> None:
    # The stdlib drops `self` from the frames the raised traceback holds.
    f = future_class()
    f.set_exception(ValueError("v"))
    ref = weakref.ref(f)
    gc.disable()
    try:
        try:
            got = getattr(f, read)()
            raise got
        except ValueError as exc:
            caught = exc
        del f
        assert ref() is None, "freed by reference counting"
    finally:
        gc.enable()
    assert str(caught) == "v"
