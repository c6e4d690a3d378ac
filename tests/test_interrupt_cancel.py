"""Ctrl-C while futures are being cancelled leaves none of them pending.

Go takes tasks back in one call (``shutdown(cancel_futures=True)``, a Go
task's or a process task's ``cancel()``) and Python then ends their
futures; a KeyboardInterrupt raised by a signal handler in between (as the
call returns, or during the loop that follows) used to leave the rest
PENDING for ever, and a process pool's shutdown then waited for ever too.
A SIGALRM handler that raises KeyboardInterrupt plays Ctrl-C, at a point
that moves from trial to trial, in real script files.

The stdlib's shutdown drains its queue one item at a time: interrupted, it
can leave the one future it held pending, and its process pool can hang
(README, differences); here every future ends.
"""

from __future__ import annotations

from concurrent.futures import wait as stdlib_wait
from pathlib import Path
from typing import Any

import pytest

import gofutures

from ._scripts import run_script

PRELUDE = """
import signal, threading, time
import __CF__ as cf

def ctrl_c(*_):
    raise KeyboardInterrupt

signal.signal(signal.SIGALRM, ctrl_c)

def interrupt_after(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)

def cancel_until_interrupted(fs):
    try:
        for f in fs:
            f.cancel()
    except KeyboardInterrupt:
        pass
    interrupt_after(0)
"""

THREAD_SHUTDOWN = (
    PRELUDE
    + """
gate = threading.Event()
pending_after = []
for trial in range(3):
    ex = cf.ThreadPoolExecutor(1)
    ex.submit(gate.wait)
    fs = [ex.submit(int) for _ in range(100_000)]
    interrupt_after(0.002 + 0.004 * trial)
    try:
        ex.shutdown(wait=False, cancel_futures=True)
    except KeyboardInterrupt:
        pass
    interrupt_after(0)
    gate.set()
    ex.shutdown(wait=True)
    gate.clear()
    pending_after.append(sum(not f.done() for f in fs))  # (shutdown's cancel tells no waiter: the stdlib's)
print("not done after shutdown:", pending_after)
"""
)

GO_TASK_CANCEL = (
    PRELUDE
    + """
import gofutures.io as gio
not_done = 0
for trial in range(12):
    ex = cf.ThreadPoolExecutor(1)
    ex.submit(gio.sleep, 0.3)  # holds the only Go slot: the rest stay queued
    fs = [ex.submit(gio.sleep, 0) for _ in range(10_000)]
    interrupt_after(0.005 + 0.002 * trial)
    cancel_until_interrupted(fs)
    ex.shutdown(wait=True)
    # Done, and wait() told: a cancelled future that never reached
    # CANCELLED_AND_NOTIFIED is done() but wait() waits for it for ever.
    not_done += len(cf.wait(fs, timeout=5).not_done)
print("not done after shutdown:", not_done)
"""
)

PROCESS_CANCEL = (
    PRELUDE
    + """
if __name__ == "__main__":
    not_done = 0
    for trial in range(6):
        ex = cf.ProcessPoolExecutor(1)
        ex.submit(time.sleep, 0).result()
        fs = [ex.submit(time.sleep, 0) for _ in range(3_000)]
        interrupt_after(0.003 + 0.003 * trial)
        cancel_until_interrupted(fs)
        ex.shutdown(wait=True)  # never returned once a cancel was lost
        not_done += len(cf.wait(fs, timeout=5).not_done)
    print("not done after shutdown:", not_done)
"""
)


def test_ctrl_c_during_shutdown_cancel_futures_ends_every_future(tmp_path: Path) -> None:
    out = run_script(tmp_path, THREAD_SHUTDOWN, "gofutures", timeout=120).stdout
    assert out.strip() == "not done after shutdown: [0, 0, 0]"


def test_ctrl_c_while_cancelling_go_tasks_ends_every_future(tmp_path: Path) -> None:
    out = run_script(tmp_path, GO_TASK_CANCEL, "gofutures", timeout=120).stdout
    assert out.strip() == "not done after shutdown: 0"


def test_ctrl_c_while_cancelling_process_tasks_ends_every_future(tmp_path: Path) -> None:
    # (The stdlib's own run of this script hung in 2 of 16 runs here.)
    out = run_script(tmp_path, PROCESS_CANCEL, "gofutures", timeout=180).stdout
    assert out.strip() == "not done after shutdown: 0"


def test_for_each_ends_every_item_and_raises_the_first_interruption() -> None:
    from gofutures import _native

    with gofutures.ThreadPoolExecutor(1):  # loads the extension
        pass
    ended: list[int] = []
    interruptions = iter([KeyboardInterrupt("first"), SystemExit(2)])

    def step(item: int) -> int:
        if item in (3, 7) and item not in ended:
            ended.append(item)  # half done when interrupted: tried again
            raise next(interruptions)
        if item not in ended:
            ended.append(item)
        return item * 10

    with pytest.raises(KeyboardInterrupt, match="first"):
        _native.fast_for_each(list(range(10)), step)
    assert ended == list(range(10))
    assert _native.fast_for_each([1, 2], step) == [10, 20]

    tried: list[int] = []

    def broken(item: int) -> int:
        tried.append(item)
        if item == 1:
            raise ValueError("a bug, not an interruption")
        return item

    with pytest.raises(ValueError):  # given up on after its tries; the rest still run
        _native.fast_for_each([0, 1, 2], broken)
    assert tried == [0] + [1] * 10 + [2]


def test_an_interrupt_as_a_go_task_is_cancelled_still_tells_its_waiters() -> None:
    """Ctrl-C at the moment a cancelled Go task's waiters are to be told
    (fault injected there): cancel() raises it, and the step is tried again,
    so wait() still sees the future done, as the stdlib's worker tells
    waiters of every cancelled queued item."""
    import gofutures.io as gio

    from gofutures import _gotask

    real = _gotask._GoFuture.set_running_or_notify_cancel
    fired: list[int] = []

    def interrupted_once(self: Any) -> bool:
        if not fired:
            fired.append(1)
            raise KeyboardInterrupt
        return real(self)

    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(gio.sleep, 0.3)  # holds the only Go slot
        future = ex.submit(gio.sleep, 0)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_gotask._GoFuture, "set_running_or_notify_cancel", interrupted_once)
            with pytest.raises(KeyboardInterrupt):
                future.cancel()
    assert fired
    assert future._state == "CANCELLED_AND_NOTIFIED"
    assert not stdlib_wait([future], timeout=5).not_done
