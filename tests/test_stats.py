"""``stats()`` on both executors (gofutures only: concurrent.futures has
none): counts after mixed runs of results, exceptions and cancels, workers,
worker restarts and latency percentiles, read from Go's counters."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from concurrent.futures import CancelledError
from typing import Any

import pytest

import gofutures
from gofutures import _native

from . import _proc_tasks

KEYS = [
    "submitted", "queued", "running", "completed", "failed", "cancelled",
    "workers", "worker_restarts", "p50", "p99",
]


def _outcomes(futures: list[Any]) -> tuple[int, int, int]:
    """(results, exceptions, cancelled) of finished futures."""
    results = exceptions = cancelled = 0
    for f in futures:
        if f.cancelled():
            cancelled += 1
        elif f.exception() is not None:
            exceptions += 1
        else:
            results += 1
    return results, exceptions, cancelled


def _wait_until(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_fresh_executor(kind: str) -> None:
    ex: Any = gofutures.ThreadPoolExecutor(2) if kind == "thread" else gofutures.ProcessPoolExecutor(2)
    with ex:
        stats = ex.stats()
    assert list(stats) == KEYS
    assert stats == dict.fromkeys(KEYS[:-2], 0) | {"p50": None, "p99": None}


def test_thread_mixed_run() -> None:
    gate = threading.Event()
    started = threading.Event()

    def blocker() -> str:
        started.set()
        gate.wait(30)
        return "first"

    ex = gofutures.ThreadPoolExecutor(1)
    futures = [ex.submit(blocker)]
    assert started.wait(30)
    futures += [ex.submit(pow, 2, i) for i in range(5)]
    futures += [ex.submit(divmod, 1, 0) for _ in range(3)]
    late = [ex.submit(time.sleep, 0) for _ in range(4)]
    futures += late
    assert late[0].cancel() and late[1].cancel()  # cancelled while queued
    stats = ex.stats()
    assert stats["submitted"] == 13
    assert stats["running"] == 1
    assert stats["queued"] == 12  # cancelled futures leave when a worker reaches them
    assert stats["workers"] == 1
    gate.set()
    ex.shutdown(wait=True)
    assert _outcomes(futures) == (8, 3, 2)
    stats = ex.stats()
    assert {k: stats[k] for k in KEYS[:-2]} == {
        "submitted": 13, "queued": 0, "running": 0, "completed": 8, "failed": 3,
        "cancelled": 2, "workers": 0, "worker_restarts": 0,
    }
    assert stats["p50"] is not None and stats["p99"] is not None
    # The blocked task is the slowest of 9 run: it sets the 99th percentile.
    assert 0 <= stats["p50"] <= stats["p99"]


def test_thread_shutdown_cancel_futures_counts_cancelled() -> None:
    gate = threading.Event()
    started = threading.Event()
    ex = gofutures.ThreadPoolExecutor(1)
    futures = [ex.submit(lambda: started.set() or gate.wait(30))]
    assert started.wait(30)
    futures += [ex.submit(int, "x") for _ in range(5)]
    ex.shutdown(wait=False, cancel_futures=True)
    gate.set()
    ex.shutdown(wait=True)
    assert _outcomes(futures) == (1, 0, 5)
    stats = ex.stats()
    assert (stats["submitted"], stats["completed"], stats["cancelled"]) == (6, 1, 5)


def test_thread_counts_go_tasks(tmp_path: Any) -> None:
    """gofutures.io calls submitted to a thread pool run on goroutines, not
    its workers, and count in its stats like any task."""
    from gofutures import io

    ex = gofutures.ThreadPoolExecutor(1)
    failing = ex.submit(io.read_file, tmp_path / "missing")
    assert isinstance(failing.exception(30), FileNotFoundError)
    running = ex.submit(io.sleep, 0.5)
    cancelled = ex.submit(io.sleep, 0)
    taken_back = ex.submit(io.sleep, 0)
    assert cancelled.cancel()
    stats = ex.stats()
    assert {k: stats[k] for k in ("submitted", "queued", "running", "failed", "cancelled")} == {
        "submitted": 4, "queued": 1, "running": 1, "failed": 1, "cancelled": 1,
    }
    ex.shutdown(wait=True, cancel_futures=True)
    assert running.result() is None and taken_back.cancelled()
    stats = ex.stats()
    assert stats | {"p50": None, "p99": None} == {
        "submitted": 4, "queued": 0, "running": 0, "completed": 1, "failed": 1, "cancelled": 2,
        "workers": 0, "worker_restarts": 0, "p50": None, "p99": None,
    }
    assert 0.5 * (1 - 1 / 16) <= stats["p99"] < 30


def test_thread_workers_are_live_threads() -> None:
    barrier = threading.Barrier(4)
    with gofutures.ThreadPoolExecutor(3) as ex:
        futures = [ex.submit(barrier.wait, 30) for _ in range(3)]
        _wait_until(lambda: ex.stats()["running"] == 3)
        assert ex.stats()["workers"] == 3
        barrier.wait(30)
        for f in futures:
            f.result(30)
        _wait_until(lambda: ex.stats()["completed"] == 3)
    assert ex.stats()["workers"] == 0


def test_thread_latency_is_run_time() -> None:
    with gofutures.ThreadPoolExecutor(2) as ex:
        list(ex.map(time.sleep, [0.05] * 10))
    stats = ex.stats()
    # Start-to-done: 50 ms each (a loaded machine may add, never remove).
    assert 0.05 * (1 - 1 / 16) <= stats["p50"] < 5
    assert stats["p50"] <= stats["p99"]


def test_process_mixed_run() -> None:
    gate = _proc_tasks.Gate()
    try:
        ex = gofutures.ProcessPoolExecutor(1)
        futures = [ex.submit(_proc_tasks.gate_wait, gate.address, "first")]
        gate.wait_started(30)
        futures += [ex.submit(_proc_tasks.square, i) for i in range(5)]
        futures += [ex.submit(_proc_tasks.raise_value_error, "boom") for _ in range(3)]
        late = [ex.submit(_proc_tasks.square, 0) for _ in range(6)]
        futures += late
        # The stdlib keeps 2 x workers + 1 futures RUNNING; the last ones
        # stay PENDING and cancellable.
        assert late[-1].cancel() and late[-2].cancel()
        stats = ex.stats()
        assert stats["submitted"] == 15
        assert stats["running"] == 1
        assert stats["queued"] == 12
        assert stats["cancelled"] == 2
        gate.release()
        ex.shutdown(wait=True)
    finally:
        gate.close()
    assert _outcomes(futures) == (10, 3, 2)
    stats = ex.stats()
    assert {k: stats[k] for k in KEYS[:-2]} == {
        "submitted": 15, "queued": 0, "running": 0, "completed": 10, "failed": 3,
        "cancelled": 2, "workers": 0, "worker_restarts": 0,
    }
    assert 0 <= stats["p50"] <= stats["p99"]


def test_process_shutdown_cancel_futures_counts_cancelled() -> None:
    gate = _proc_tasks.Gate()
    try:
        ex = gofutures.ProcessPoolExecutor(1)
        futures = [ex.submit(_proc_tasks.gate_wait, gate.address, "first")]
        gate.wait_started(30)
        futures += [ex.submit(_proc_tasks.square, i) for i in range(8)]
        ex.shutdown(wait=False, cancel_futures=True)
        gate.release()
        ex.shutdown(wait=True)
    finally:
        gate.close()
    # The stdlib keeps 2 x workers + 1 futures RUNNING: those run; the
    # other 6 are cancelled.
    assert _outcomes(futures) == (3, 0, 6)
    stats = ex.stats()
    assert (stats["submitted"], stats["completed"], stats["cancelled"]) == (9, 3, 6)


def test_process_worker_restarts_count_max_tasks_per_child() -> None:
    with gofutures.ProcessPoolExecutor(1, max_tasks_per_child=2) as ex:
        for i in range(7):  # one at a time: 4 workers in turn
            assert ex.submit(_proc_tasks.square, i).result(60) == i * i
        _wait_until(lambda: ex.stats()["workers"] == 1)
        stats = ex.stats()
    assert stats["completed"] == 7
    assert stats["worker_restarts"] == 3


def test_process_broken_pool_counts_failed() -> None:
    gate = _proc_tasks.Gate()
    try:
        ex = gofutures.ProcessPoolExecutor(1)
        futures = [ex.submit(_proc_tasks.gate_wait, gate.address, "x")]
        pid = gate.wait_started(30)
        futures += [ex.submit(_proc_tasks.square, i) for i in range(4)]
        os.kill(pid, signal.SIGKILL)
        for f in futures:
            with pytest.raises(gofutures.process.BrokenProcessPool):
                f.result(60)
        ex.shutdown(wait=True)
    finally:
        gate.close()
    stats = ex.stats()
    assert (stats["submitted"], stats["failed"], stats["completed"]) == (5, 5, 0)
    assert (stats["queued"], stats["running"], stats["workers"]) == (0, 0, 0)


def test_cancelled_future_raises_and_is_counted_once() -> None:
    gate = threading.Event()
    with gofutures.ThreadPoolExecutor(1) as ex:
        first = ex.submit(gate.wait, 30)
        second = ex.submit(int, "1")
        assert second.cancel()
        assert second.cancel()
        gate.set()
        first.result(30)
    with pytest.raises(CancelledError):
        second.result()
    assert ex.stats()["cancelled"] == 1


def test_go_panic_in_a_worker_counts_failed() -> None:
    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(int).result(timeout=30)
        _native.call("ThreadPoolPanicNextTask", ex._state.pool_id)
        with pytest.raises(gofutures.GoPanicError):
            ex.submit(pow, 2, 3).result(timeout=30)
        ex.submit(int).result(timeout=30)
    stats = ex.stats()
    assert (stats["submitted"], stats["completed"], stats["failed"], stats["running"]) == (3, 2, 1, 0)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_stats_are_released_with_the_executor(kind: str) -> None:
    """Go keeps a finished pool's stats for stats() after shutdown, and
    forgets them when the executor is collected (no leak per pool)."""
    function = "ThreadPoolStats" if kind == "thread" else "ProcPoolStats"
    ex: Any = gofutures.ThreadPoolExecutor(1) if kind == "thread" else gofutures.ProcessPoolExecutor(1)
    with ex:
        ex.submit(_proc_tasks.square, 3).result(timeout=60)
    pool_id = ex._state.pool_id
    assert _native.call(function, pool_id) != ""
    assert ex.stats()["completed"] == 1
    del ex
    gc.collect()
    assert _native.call(function, pool_id) == ""
