"""Pool-level force on the process pool: terminate_workers() and
kill_workers() (Python 3.14), shutdown(timeout=...) and max_worker_memory=.

terminate_workers() and kill_workers() are Python 3.14's; only CPython
3.11-3.13 are on this machine, so these tests assert 3.14's behaviour
directly (there is no stdlib to compare with), following CPython 3.14's
test_force_shutdown_workers* (Lib/test/test_concurrent_futures/
test_process_pool.py): pending futures end cancelled, running ones fail with
BrokenProcessPool, nothing hangs, a later submit raises RuntimeError, a pool
without workers or with dead ones takes either call, twice. shutdown(timeout=)
and max_worker_memory= are gofutures' own. Every case is a real script,
run in every start mode of the pool (see process.py's _start_mode): 'fork'
(a zygote forked from the program, which becomes the last worker),
'forkserver' (the shared fresh zygote), 'spawn' (an interpreter per worker)
and None with max_tasks_per_child (a forked zygote that stays a zygote).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ._scripts import run_script
from .test_process_supervisor import CHECKS

MODES = ["fork", "forkserver", "spawn", "zygote"]

PRELUDE = """
import os
import sys
import time

import __CF__ as cf
from __CF__.process import BrokenProcessPool
{checks}

MODE = sys.argv[1] if len(sys.argv) > 1 else "{mode}"


def make(**kwargs):
    if MODE == "zygote":  # a forked zygote kept for replacements
        return cf.ProcessPoolExecutor(mp_context=None, max_tasks_per_child=1000, **kwargs)
    return cf.ProcessPoolExecutor(mp_context=MODE, **kwargs)


def ended(futures, seconds=60.0):
    # Whether every future ends (result, exception or cancelled) in time;
    # done() counts a cancelled future, which wait() does not.
    deadline = time.monotonic() + seconds
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.02)
    return all(f.done() for f in futures)


def gone(pids):
    return not settled(lambda: {{p for p in pids if alive(p)}}, 30.0)
"""

FORCE = PRELUDE + """

def started_then_sleep(directory):
    open(os.path.join(directory, str(os.getpid())), "w").close()
    time.sleep(3600)


def fate(f):
    if f.cancelled():
        return "cancelled"
    exc = f.exception()
    return type(exc).__name__ if exc is not None else "result"


if __name__ == "__main__":
    for op, signame in (("terminate_workers", "SIGTERM"), ("kill_workers", "SIGKILL")):
        # Running and pending tasks.
        marks = os.path.abspath(op)
        os.mkdir(marks)
        ex = make(max_workers=2)
        futures = [ex.submit(started_then_sleep, marks) for _ in range(12)]
        deadline = time.monotonic() + 60
        while len(os.listdir(marks)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        workers = worker_pids(ex)
        print(op, "workers running:", len(os.listdir(marks)), len(workers))
        t0 = time.monotonic()
        getattr(ex, op)()
        print(op, "returned at once:", time.monotonic() - t0 < 10)
        print(op, "every future ended:", ended(futures))
        fates = [fate(f) for f in futures]
        print(op, "fates:", sorted(set(fates)))
        print(op, "first two broken:", fates[:2] == ["BrokenProcessPool"] * 2)
        print(op, "last one cancelled:", fates[-1] == "cancelled")
        print(op, "signal named:", signame in str(futures[0].exception()))
        try:
            ex.submit(abs, 1)
        except RuntimeError:
            print(op, "submit after: RuntimeError")
        getattr(ex, op)()  # twice: nothing more
        print(op, "workers gone:", gone(workers))
        ex.shutdown()

        # An idle pool: stopped, not broken.
        ex = make(max_workers=2)
        print(op, "idle result:", ex.submit(time.sleep, 0).result(timeout=60))
        workers = worker_pids(ex)
        getattr(ex, op)()
        try:
            ex.submit(time.sleep, 0)
        except RuntimeError as exc:
            print(op, "idle submit after:", type(exc).__name__, exc)
        print(op, "idle workers gone:", gone(workers))

        # No worker started yet; a context manager around it.
        with make(max_workers=2) as ex:
            getattr(ex, op)()
            getattr(ex, op)()
        print(op, "no workers: fine")

        # Dead workers: the pool broke already.
        with make(max_workers=1) as ex:
            try:
                ex.submit(os._exit, 1).result(timeout=60)
            except BrokenProcessPool:
                print(op, "dead workers: broken")
            getattr(ex, op)()
        print(op, "dead workers: fine")
    print("zombies:", sorted(settled(zombie_children)))
"""


def force_expected(op: str, signame: str) -> list[str]:
    return [
        f"{op} workers running: 2 2",
        f"{op} returned at once: True",
        f"{op} every future ended: True",
        f"{op} fates: ['BrokenProcessPool', 'cancelled']",
        f"{op} first two broken: True",
        f"{op} last one cancelled: True",
        f"{op} signal named: True",
        f"{op} submit after: RuntimeError",
        f"{op} workers gone: True",
        f"{op} idle result: None",
        f"{op} idle submit after: RuntimeError cannot schedule new futures after shutdown",
        f"{op} idle workers gone: True",
        f"{op} no workers: fine",
        f"{op} dead workers: broken",
        f"{op} dead workers: fine",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_terminate_and_kill_workers(tmp_path: Path, mode: str) -> None:
    # Before: AttributeError: no terminate_workers on 3.11-3.13.
    run = run_script(tmp_path, FORCE.format(mode=mode, checks=CHECKS), "gofutures", timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        *force_expected("terminate_workers", "SIGTERM"),
        *force_expected("kill_workers", "SIGKILL"),
        "zombies: []",
    ], run.stderr


TIMEOUT = PRELUDE + """

def double(x):
    return 2 * x


if __name__ == "__main__":
    ex = make(max_workers=2)
    hung = ex.submit(time.sleep, 3600)
    print("warm:", ex.submit(double, 4).result(timeout=60))
    queued = [ex.submit(time.sleep, 3600) for _ in range(6)]
    workers = worker_pids(ex)
    t0 = time.monotonic()
    ex.shutdown(timeout=1)
    took = time.monotonic() - t0
    print("returned promptly:", 0.9 < took < 30, )
    exc = hung.exception(timeout=0)
    print("hung:", type(exc).__name__, "shutdown(timeout=1) passed" in str(exc))
    print("queued:", sorted({{type(f.exception(timeout=0)).__name__ for f in queued}}))
    print("workers gone:", gone(workers))

    # Tasks that finish in time: shutdown(timeout=) is plain shutdown.
    ex = make(max_workers=2)
    futures = [ex.submit(double, i) for i in range(20)]
    workers = worker_pids(ex)
    ex.shutdown(True, timeout=60)
    print("in time:", [f.result(timeout=0) for f in futures] == [2 * i for i in range(20)])
    print("workers gone:", gone(workers))

    # Positional use as the stdlib's, and a pool never started.
    ex = make(max_workers=1)
    ex.shutdown(False)
    make(max_workers=1).shutdown(timeout=0)
    print("zombies:", sorted(settled(zombie_children)))
"""


@pytest.mark.parametrize("mode", MODES)
def test_shutdown_timeout_kills_hung_tasks(tmp_path: Path, mode: str) -> None:
    # Before: TypeError: shutdown() got an unexpected keyword argument 'timeout'.
    run = run_script(tmp_path, TIMEOUT.format(mode=mode, checks=CHECKS), "gofutures", timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "warm: 8",
        "returned promptly: True",
        "hung: BrokenProcessPool True",
        "queued: ['BrokenProcessPool']",
        "workers gone: True",
        "in time: True",
        "workers gone: True",
        "zombies: []",
    ], run.stderr


# Every timeout argument of the process pool: shutdown(timeout=),
# task_timeout= and schedule(timeout=).
TIMEOUT_ARGUMENTS: dict[str, Callable[[Any, object], object]] = {
    "shutdown": lambda cf, t: _then_shut_down(cf.ProcessPoolExecutor(1), "shutdown", timeout=t),
    "task_timeout": lambda cf, t: cf.ProcessPoolExecutor(1, task_timeout=t),
    "schedule": lambda cf, t: _then_shut_down(cf.ProcessPoolExecutor(1), "schedule", abs, (1,), timeout=t),
}


def _then_shut_down(ex: Any, method: str, *args: object, **kwargs: object) -> None:
    try:
        getattr(ex, method)(*args, **kwargs)
    finally:
        ex.shutdown()


def _raised(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(Exception) as info:
        call()
    return type(info.value).__name__, str(info.value)


@pytest.mark.parametrize("argument", TIMEOUT_ARGUMENTS)
@pytest.mark.parametrize("timeout", ["1", [1], 1j, -1, -0.5, Decimal(1), Decimal(-1)], ids=repr)
def test_a_bad_timeout_is_refused_as_queue_get_refuses_it(argument: str, timeout: object) -> None:
    # Before: task_timeout= and schedule(timeout=) said "timeout must be a
    # real number or None, not str" / "timeout must be non-negative" where
    # shutdown(timeout=) said what queue.Queue.get says.
    import gofutures

    expected = _raised(lambda: queue.Queue().get(True, timeout))  # type: ignore[arg-type]
    assert _raised(lambda: TIMEOUT_ARGUMENTS[argument](gofutures, timeout)) == expected


@pytest.mark.parametrize("argument", TIMEOUT_ARGUMENTS)
def test_a_nan_timeout_is_refused_as_lock_acquire_refuses_it(argument: str) -> None:
    # queue.Queue.get spins forever on NaN; threading.Lock.acquire refuses it.
    import gofutures

    nan = float("nan")
    expected = _raised(lambda: threading.Lock().acquire(timeout=nan))
    assert expected == ("ValueError", "Invalid value NaN (not a number)")
    assert _raised(lambda: TIMEOUT_ARGUMENTS[argument](gofutures, nan)) == expected


def test_shutdown_timeout_needs_wait() -> None:
    import gofutures

    ex = gofutures.ProcessPoolExecutor(1)
    with pytest.raises(ValueError, match="needs wait=True"):
        ex.shutdown(wait=False, timeout=1)
    ex.shutdown()


MEMORY = PRELUDE + """

HELD = []


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def grow(i):
    block = bytearray(8 << 20)
    block[::4096] = b"x" * len(block[::4096])  # touched: resident
    HELD.append(block)
    return os.getpid(), i * i


if __name__ == "__main__":
    with make(max_workers=1) as ex:
        base = ex.submit(rss).result(timeout=60)
    for limit in (base + (40 << 20), None):
        with make(max_workers=1, max_worker_memory=limit) as ex:
            results = list(ex.map(grow, range(24)))
            workers = {{pid for pid, _ in results}}
        print("limit" if limit else "no limit", "results:", [r for _, r in results] == [i * i for i in range(24)])
        print("limit" if limit else "no limit", "workers:", len(workers) >= 3 if limit else len(workers))
        print("gone:", gone(workers))
    for bad in ("1", 1.5, True):
        try:
            make(max_worker_memory=bad)
        except TypeError as exc:
            print("bad:", exc)
    for bad in (0, -1):
        try:
            make(max_worker_memory=bad)
        except ValueError as exc:
            print("bad:", exc)
    print("zombies:", sorted(settled(zombie_children)))
"""


@pytest.mark.parametrize("mode", MODES)
def test_max_worker_memory_recycles_workers(tmp_path: Path, mode: str) -> None:
    # Before: TypeError: unexpected keyword argument 'max_worker_memory'.
    run = run_script(tmp_path, MEMORY.format(mode=mode, checks=CHECKS), "gofutures", timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "limit results: True",
        "limit workers: True",
        "gone: True",
        "no limit results: True",
        "no limit workers: 1",
        "gone: True",
        *["bad: max_worker_memory must be an integer"] * 3,
        *["bad: max_worker_memory must be >= 1"] * 2,
        "zombies: []",
    ], run.stderr
