"""gofutures-only behaviour: lazy Go runtime, fork safety, Go panics, leaks."""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref

import pytest

import gofutures
from gofutures import _native
from gofutures import thread as gthread

from ._subproc import run_python


def _threads_of_this_process() -> int:
    return len(os.listdir("/proc/self/task"))


def test_import_starts_no_go_runtime() -> None:
    proc = run_python(
        """
        import os
        import gofutures, gofutures.thread
        from gofutures import _native
        before = len(os.listdir("/proc/self/task"))
        print(_native.loaded(), before)
        with gofutures.ThreadPoolExecutor(2) as ex:
            ex.submit(int).result()
        print(_native.loaded(), len(os.listdir("/proc/self/task")) > before)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "1", "True", "True"]


def test_forked_child_gets_clear_error_not_hang() -> None:
    # An executor from before the fork cannot work in the child: it says so.
    # One created in the child works (it runs the stdlib's implementation).
    proc = run_python(
        """
        import os, signal
        import gofutures
        ex = gofutures.ThreadPoolExecutor(2)
        ex.submit(int).result()
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)  # a hang kills the child: the parent sees a signal
            errors = []
            for attempt in (lambda: ex.submit(int), lambda: ex.map(int, "1", chunksize=2)):
                try:
                    attempt()
                except RuntimeError as exc:
                    errors.append("forked" in str(exc))
            with gofutures.ThreadPoolExecutor(1) as fresh:
                works = fresh.submit(pow, 2, 5).result(timeout=5) == 32
            os._exit(0 if errors == [True, True] and works else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        ex.shutdown()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


def test_multiprocessing_fork_child_gets_clear_error() -> None:
    proc = run_python(
        """
        import multiprocessing as mp, signal
        import gofutures

        def child(ex, q):
            signal.alarm(10)
            try:
                ex.submit(int)
            except RuntimeError as exc:
                q.put(str(exc))
            else:
                q.put("no error")
            with gofutures.ThreadPoolExecutor(1) as fresh:
                q.put(fresh.submit(pow, 2, 5).result(timeout=5))

        if __name__ == "__main__":
            with gofutures.ThreadPoolExecutor(1) as ex:
                ex.submit(int).result()
                ctx = mp.get_context("fork")
                q = ctx.Queue()
                p = ctx.Process(target=child, args=(ex, q))
                p.start()
                print(q.get(timeout=20))
                print(q.get(timeout=20))
                p.join(20)
                print(p.exitcode)
        """
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "forked after its Go runtime started" in lines[0]
    assert lines[1:] == ["32", "0"]


def test_fork_before_go_runtime_is_fine() -> None:
    proc = run_python(
        """
        import os
        import gofutures
        pid = os.fork()
        if pid == 0:
            with gofutures.ThreadPoolExecutor(2) as ex:
                ok = ex.submit(pow, 2, 5).result(timeout=10) == 32
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


def test_go_panic_in_call_becomes_exception() -> None:
    gofutures.ThreadPoolExecutor(1).shutdown()  # loads the extension
    with pytest.raises(gofutures.GoPanicError) as info:
        _native.call("DebugPanic", "deliberate")
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.panic_value == "deliberate"
    assert "goroutine" in err.go_stack
    assert "native.DebugPanic" in err.go_stack
    # The interpreter survived and the runtime still works.
    with gofutures.ThreadPoolExecutor(1) as ex:
        assert ex.submit(pow, 3, 2).result(timeout=5) == 9


def test_go_panic_in_worker_fails_only_that_task() -> None:
    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(int).result(timeout=5)
        _native.call("ThreadPoolPanicNextTask", ex._state.pool_id)
        doomed = ex.submit(pow, 2, 3)
        with pytest.raises(gofutures.GoPanicError) as info:
            doomed.result(timeout=5)
        assert "injected fault" in info.value.panic_value
        assert "pool.(*Pool)" in info.value.go_stack
        assert ex.submit(pow, 2, 4).result(timeout=5) == 16


def test_worker_waiting_in_go_after_a_long_task_leaves_the_gil() -> None:
    # A worker back in Go after a long task may wait there for Go's scheduler
    # (a P) before it takes the next task. It used to hold the GIL meanwhile,
    # and every Python thread waited with it (1 ms to 0.16 s at a time, with
    # 2,000 time.sleep tasks on 500 new workers). The injected wait stands
    # for the scheduler's; the main thread must run through it.
    stall = 2.0
    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(int).result(timeout=5)  # the worker exists, idle
        first = ex.submit(time.sleep, 0.1)  # a long task ...
        second = ex.submit(int)  # ... with the next one queued: a burst
        _native.call("ThreadPoolStallBetweenTasks", ex._state.pool_id, int(stall * 1000))
        longest = 0.0
        began = last = time.perf_counter()
        while not second.done():  # needs the GIL all along
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now
        assert first.result(timeout=5) is None
        assert second.result(timeout=5) == 0
    assert last - began >= stall, "the worker did not wait between the tasks"
    assert longest < stall / 2, f"the main thread waited {longest:.2f} s for the GIL"


def test_bad_facade_input_is_value_error() -> None:
    gofutures.ThreadPoolExecutor(1).shutdown()
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        _native.fast_thread_new(0)


def _settle(pred, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    ev = threading.Event()
    deadline = timeout
    while deadline > 0:
        if pred():
            return True
        ev.wait(0.01)
        deadline -= 0.01
    return bool(pred())


def _goroutines() -> int:
    n = _native.call("Goroutines")
    assert isinstance(n, int)
    return n


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_no_leaks_after_many_executors() -> None:
    # Warm up: load the runtime and let Go start its background threads.
    for _ in range(3):
        with gofutures.ThreadPoolExecutor(4) as ex:
            list(ex.map(abs, range(100)))
    gc.collect()
    base_goroutines = _goroutines()
    base_threads = _threads_of_this_process()
    base_fds = _open_fds()
    base_enumerate = len(threading.enumerate())

    for _ in range(30):
        with gofutures.ThreadPoolExecutor(8, initializer=int) as ex:
            list(ex.map(abs, range(200)))
        ex = gofutures.ThreadPoolExecutor(2)
        ex.submit(int)
        ex.shutdown(wait=True, cancel_futures=True)

    assert _settle(lambda: _goroutines() <= base_goroutines), (_goroutines(), base_goroutines)
    # Worker threads exit with their goroutine; Go may keep a few idle
    # runtime threads, never one per worker ever started (that would be 300).
    assert _settle(lambda: _threads_of_this_process() <= base_threads + 4)
    assert len(threading.enumerate()) == base_enumerate
    assert _open_fds() <= base_fds
    assert gthread._work_items == {}
    assert gthread._pools == {}


def test_task_arguments_and_results_are_released() -> None:
    class Payload:
        pass

    payload = Payload()
    ref = weakref.ref(payload)
    with gofutures.ThreadPoolExecutor(2) as ex:
        fut = ex.submit(lambda p: [p], payload)
        fut.result(timeout=5)
    del payload, fut
    gc.collect()
    assert ref() is None


def test_executor_dropped_without_shutdown_lets_workers_exit() -> None:
    gofutures.ThreadPoolExecutor(1).shutdown()
    base = _goroutines()
    ex = gofutures.ThreadPoolExecutor(4)
    futs = [ex.submit(pow, 2, i) for i in range(20)]
    pool_id = ex._state.pool_id
    del ex
    gc.collect()
    assert [f.result(timeout=5) for f in futs] == [2**i for i in range(20)]
    assert _settle(lambda: pool_id not in gthread._pools)
    assert _settle(lambda: _goroutines() <= base)


def test_many_dropped_executors_are_all_forgotten() -> None:
    # Workers that never ran a task (woken after the queue drained) may be
    # the last to stop; the pool must still be forgotten (a race once seen).
    pool_ids = []
    futures = []
    for _ in range(30):
        ex = gofutures.ThreadPoolExecutor(4)
        futures += [ex.submit(pow, 2, i) for i in range(8)]
        pool_ids.append(ex._state.pool_id)
        del ex
    gc.collect()
    assert all(f.result(timeout=5) == 2 ** (i % 8) for i, f in enumerate(futures))
    assert _settle(lambda: not set(pool_ids) & set(gthread._pools)), set(pool_ids) & set(
        gthread._pools
    )


def test_thread_local_survives_between_tasks_on_same_worker() -> None:
    local = threading.local()

    def remember(i: int) -> tuple[int, list[int]]:
        seen = getattr(local, "seen", None)
        if seen is None:
            seen = local.seen = []
        seen.append(i)
        return threading.get_ident(), list(seen)

    with gofutures.ThreadPoolExecutor(1) as ex:
        results = [ex.submit(remember, i).result(timeout=5) for i in range(5)]
    idents = {ident for ident, _ in results}
    assert len(idents) == 1
    assert results[-1][1] == [0, 1, 2, 3, 4]


def test_shutdown_from_worker_raises_like_stdlib() -> None:
    ex = gofutures.ThreadPoolExecutor(1)
    fut = ex.submit(lambda: ex.shutdown(wait=True))
    with pytest.raises(RuntimeError, match="cannot join current thread"):
        fut.result(timeout=5)
    ex.shutdown()


_PROCS_SCRIPT = """
import time, gofutures
from gofutures import _native, io as gio
def procs():
    return _native.call("GoMaxProcs")
base = procs()
with gofutures.ThreadPoolExecutor(4) as ex:
    ex.submit(gio.sleep, 0.01).result()
    go_tasks_only = procs()
    ex.submit(time.sleep, 0.01).result()
    with_workers = procs()
deadline = time.monotonic() + 10
while procs() != base and time.monotonic() < deadline:
    time.sleep(0.05)
print(base, go_tasks_only, with_workers, procs())
"""


@pytest.mark.parametrize("user_setting", [None, "3"])
def test_go_runs_with_more_ps_only_while_workers_live(user_setting: str | None) -> None:
    """Thread pool workers (Python threads) want more Ps than cores; Go tasks
    want no more than the cores. A GOMAXPROCS the user set is left alone."""
    done = run_python(_PROCS_SCRIPT, env={"GOMAXPROCS": user_setting})
    assert done.returncode == 0, done.stderr
    base, go_tasks_only, with_workers, after = map(int, done.stdout.split())
    if user_setting is not None:
        assert (base, go_tasks_only, with_workers, after) == (3, 3, 3, 3)
    else:
        assert go_tasks_only == base, "Go tasks alone do not raise the Ps"
        assert with_workers == max(4, base), "workers raise them to at least 4"
        assert after == base, "back to the default once no worker lives"
