"""ThreadPoolExecutor as a drop-in: what real code does with the stdlib's
executor beyond its documented API (private attributes read by programs and
by CPython's own tests, odd argument values, a patched ``submit``, a fork),
run against both implementations."""

from __future__ import annotations

import concurrent.futures
import decimal
import fractions
import importlib
import os
import re
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

from ._scripts import assert_same_output

TIMEOUT = 10.0


def current_name() -> str:
    return threading.current_thread().name


def _both() -> list[types.ModuleType]:
    return [concurrent.futures, importlib.import_module("gofutures")]


def _outcome(call: Any) -> tuple[str, str]:
    try:
        value = call()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "ok", repr(value)


# --------------------------------------------------------------------------
# executor._threads and executor._work_queue (CPython's test_shutdown and
# test_thread_pool read them)
# --------------------------------------------------------------------------


def test_threads_terminate(cf: types.ModuleType) -> None:
    # CPython's ThreadPoolShutdownTest.test_threads_terminate: on gofutures
    # without _threads it left the tasks blocked and the run hung.
    ex = cf.ThreadPoolExecutor(5)
    sem = threading.Semaphore(0)
    try:
        for _ in range(3):
            ex.submit(sem.acquire)
        assert len(ex._threads) == 3
    finally:
        for _ in range(3):
            sem.release()
    ex.shutdown()
    for t in ex._threads:
        t.join(TIMEOUT)
    assert [t.is_alive() for t in ex._threads] == [False] * 3


def test_saturation(cf: types.ModuleType) -> None:
    ex = cf.ThreadPoolExecutor(4)
    sem = threading.Semaphore(0)
    try:
        for _ in range(15 * 4):
            ex.submit(sem.acquire)
        assert len(ex._threads) == 4
    finally:
        for _ in range(15 * 4):
            sem.release()
    ex.shutdown(wait=True)


def test_threads_look_like_threads(cf: types.ModuleType) -> None:
    gate = threading.Event()
    ex = cf.ThreadPoolExecutor(2, thread_name_prefix="Special")
    try:
        idents = {ex.submit(threading.get_ident).result(TIMEOUT)}
        running = ex.submit(gate.wait, TIMEOUT)
        threads = list(ex._threads)
        assert all(t.is_alive() for t in threads)
        assert all(re.fullmatch(r"Special_[01]", t.name) for t in threads)
        assert all(isinstance(t.ident, int) and isinstance(t.native_id, int) for t in threads)
        assert idents <= {t.ident for t in threads}
        assert not any(t.daemon for t in threads)
        assert all(t in ex._threads for t in threads)
        t0 = threads[0]
        start = time.monotonic()
        t0.join(0.05)  # a live worker: join with a timeout returns, still alive
        assert time.monotonic() - start < TIMEOUT
        assert t0.is_alive()
    finally:
        gate.set()
    running.result(TIMEOUT)
    ex.shutdown(wait=False)
    for t in threads:
        t.join()
    assert not any(t.is_alive() for t in threads)


def test_worker_cannot_join_itself(cf: types.ModuleType) -> None:
    with cf.ThreadPoolExecutor(1) as ex:
        ex.submit(int).result(TIMEOUT)  # the stdlib adds a thread after starting it

        def join_me() -> str:
            me = threading.get_ident()
            (mine,) = [t for t in ex._threads if t.ident == me]
            try:
                mine.join()
            except RuntimeError as exc:
                return str(exc)
            return "joined"

        assert ex.submit(join_me).result(TIMEOUT) == "cannot join current thread"


def test_shutdown_no_wait_then_join_threads(cf: types.ModuleType) -> None:
    # CPython's test_shutdown_no_wait and test_context_manager_shutdown.
    ex = cf.ThreadPoolExecutor(5)
    res = ex.map(abs, range(-5, 5))
    threads = ex._threads
    ex.shutdown(wait=False)
    for t in threads:
        t.join()
    assert list(res) == [abs(v) for v in range(-5, 5)]
    assert 1 <= len(threads) <= 5


def test_del_executor_then_join_threads(cf: types.ModuleType) -> None:
    # CPython's test_del_shutdown and test_thread_names_assigned.
    ex = cf.ThreadPoolExecutor(5, thread_name_prefix="SpecialPool")
    res = ex.map(abs, range(-5, 5))
    threads = ex._threads
    del ex
    for t in threads:
        assert re.fullmatch(r"SpecialPool_[0-4]", t.name)
        t.join()
    assert list(res) == [abs(v) for v in range(-5, 5)]


def test_every_worker_joinable_after_shutdown(cf: types.ModuleType) -> None:
    # A pool's workers stop concurrently; each one's join() must return
    # (the last one to stop is not always the last to run its stop hook).
    for _ in range(100):
        ex = cf.ThreadPoolExecutor(5)
        res = ex.map(abs, range(-5, 5))
        threads = list(ex._threads)
        ex.shutdown(wait=False)
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads)
        assert list(res) == [abs(v) for v in range(-5, 5)]


def test_idle_thread_reused(cf: types.ModuleType) -> None:
    with cf.ThreadPoolExecutor() as ex:
        for _ in range(3):
            ex.submit(pow, 2, 5).result(TIMEOUT)
            time.sleep(0.05)  # the worker goes idle (the stdlib's test is racy too)
        assert len(ex._threads) == 1


def test_work_queue_counts_waiting_tasks(cf: types.ModuleType) -> None:
    gate = threading.Event()
    started = threading.Event()
    ex = cf.ThreadPoolExecutor(1)
    try:
        assert ex._work_queue.qsize() == 0
        assert ex._work_queue.empty()
        ex.submit(lambda: (started.set(), gate.wait(TIMEOUT)))
        assert started.wait(TIMEOUT)
        assert ex._work_queue.qsize() == 0
        futures = [ex.submit(int) for _ in range(5)]
        assert ex._work_queue.qsize() == 5
        assert not ex._work_queue.empty()
        futures[0].cancel()  # stays queued until a worker drops it, as in the stdlib
        assert ex._work_queue.qsize() == 5
    finally:
        gate.set()
    ex.shutdown()


def test_broken_and_shutdown_flags(cf: types.ModuleType) -> None:
    # CPython's test_init polls executor._broken.
    def fail() -> None:
        raise ValueError("init")

    ex = cf.ThreadPoolExecutor(1, initializer=fail)
    assert ex._broken is False and ex._shutdown is False
    with pytest.raises(cf.BrokenExecutor):
        ex.submit(int).result(TIMEOUT)
    assert ex._broken == "A thread initializer failed, the thread pool is not usable anymore"
    ex.shutdown()
    assert ex._shutdown is True


# --------------------------------------------------------------------------
# arguments: what the stdlib accepts and how it refuses the rest
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "max_workers",
    [1, True, 2.5, 0.5, 10**30, float("inf"), decimal.Decimal("1.5"), fractions.Fraction(5, 2)],
    ids=repr,
)
def test_max_workers_numbers_the_stdlib_takes(cf: types.ModuleType, max_workers: Any) -> None:
    ex = cf.ThreadPoolExecutor(max_workers=max_workers)
    try:
        assert ex._max_workers == max_workers
        assert ex.submit(pow, 2, 5).result(TIMEOUT) == 32
        assert list(ex.map(abs, range(-3, 3), chunksize=2)) == [3, 2, 1, 0, 1, 2]
    finally:
        ex.shutdown()


@pytest.mark.parametrize(("max_workers", "threads"), [(2.5, 3), (0.5, 1), (True, 1)], ids=repr)
def test_fractional_max_workers_rounds_up(
    cf: types.ModuleType, max_workers: Any, threads: int
) -> None:
    # The stdlib starts a thread while len(threads) < max_workers.
    ex = cf.ThreadPoolExecutor(max_workers=max_workers)
    sem = threading.Semaphore(0)
    try:
        for _ in range(6):
            ex.submit(sem.acquire)
        assert len(ex._threads) == threads
    finally:
        for _ in range(6):
            sem.release()
        ex.shutdown()


def test_nan_max_workers_gets_one_worker() -> None:
    # gofutures only, deliberately: the stdlib accepts NaN (NaN <= 0 is
    # False) but then never starts a thread (0 < NaN is False either), so
    # every task waits forever. gofutures starts one worker.
    import gofutures

    ex = gofutures.ThreadPoolExecutor(max_workers=float("nan"))
    try:
        assert ex.submit(pow, 2, 5).result(TIMEOUT) == 32
        assert len(ex._threads) == 1
    finally:
        ex.shutdown()


def test_half_the_cpus(cf: types.ModuleType) -> None:
    with cf.ThreadPoolExecutor((os.cpu_count() or 2) / 2) as ex:
        assert ex.submit(pow, 3, 2).result(TIMEOUT) == 9


def test_default_max_workers_follows_the_stdlib(cf: types.ModuleType) -> None:
    cpus = getattr(os, "process_cpu_count", os.cpu_count)()
    with cf.ThreadPoolExecutor() as ex:
        assert ex._max_workers == min(32, (cpus or 1) + 4)


@pytest.mark.parametrize(
    "max_workers",
    [0, -1, 0.0, -0.5, "3", complex(1, 1), [], object(), False],
    ids=repr,
)
def test_bad_max_workers_same_error(max_workers: Any) -> None:
    std, gof = (_outcome(lambda m=m: m.ThreadPoolExecutor(max_workers).shutdown()) for m in _both())
    assert gof == std
    assert std[0] != "ok"


@pytest.mark.parametrize("initializer", [1, "print", object()], ids=repr)
def test_bad_initializer_same_error(initializer: Any) -> None:
    std, gof = (_outcome(lambda m=m: m.ThreadPoolExecutor(1, initializer=initializer)) for m in _both())
    assert gof == std == ("TypeError", "initializer must be a callable")


@pytest.mark.parametrize("initargs", [5, None, "ab"], ids=repr)
def test_odd_initargs(cf: types.ModuleType, initargs: Any) -> None:
    seen: list[Any] = []
    ex = cf.ThreadPoolExecutor(1, initializer=lambda *a: seen.append(a), initargs=initargs)
    outcome = _outcome(lambda: ex.submit(int).result(TIMEOUT))
    ex.shutdown()
    if initargs == "ab":
        assert outcome == ("ok", "0") and seen == [("a", "b")]
    else:  # the call fails in the worker: the pool is broken, as by a failing initializer
        assert outcome[0] == "BrokenThreadPool"


@pytest.mark.parametrize("prefix", [123, b"x", None, "", 0], ids=repr)
def test_odd_thread_name_prefix(cf: types.ModuleType, prefix: Any) -> None:
    with cf.ThreadPoolExecutor(1, thread_name_prefix=prefix) as ex:
        name = ex.submit(current_name).result(TIMEOUT)
    if prefix:
        assert name == "%s_0" % (prefix,)
    else:
        assert re.fullmatch(r"ThreadPoolExecutor-\d+_0", name)


@pytest.mark.parametrize(
    "chunksize",
    [None, "2", 2.5, 2.0, 0, -1, True, False, 1, 2, 7, 10**30, object()],
    ids=repr,
)
def test_map_chunksize_any_value(cf: types.ModuleType, chunksize: Any) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        assert list(ex.map(pow, range(20), [2] * 20, chunksize=chunksize)) == [
            i**2 for i in range(20)
        ]


@pytest.mark.parametrize("chunksize", [1, 3])
@pytest.mark.parametrize(
    "call",
    [
        lambda ex, cs: ex.map(abs, [1], timeout="1", chunksize=cs),
        lambda ex, cs: ex.map(abs, 5, chunksize=cs),
        lambda ex, cs: ex.map(abs, [1], [2], 3, chunksize=cs),
        lambda ex, cs: list(ex.map(5, [1, 2], chunksize=cs)),
        lambda ex, cs: list(ex.map(abs, ["x"], chunksize=cs)),
        lambda ex, cs: list(ex.map(abs, chunksize=cs)),
        lambda ex, cs: ex.map(chunksize=cs),
        lambda ex, cs: ex.submit(),
        lambda ex, cs: ex.submit(fn=abs),
        lambda ex, cs: ex.submit(5).result(TIMEOUT),
        lambda ex, cs: ex.shutdown(True, True),
        lambda ex, cs: ex.shutdown(wait=0, cancel_futures="yes"),
        lambda ex, cs: ex.shutdown(bogus=1),
    ],
    ids=[
        "timeout-str",
        "not-iterable",
        "third-not-iterable",
        "fn-not-callable",
        "fn-fails",
        "no-iterables",
        "no-fn",
        "submit-nothing",
        "submit-fn-keyword",
        "submit-not-callable",
        "shutdown-positional-cancel",
        "shutdown-truthy",
        "shutdown-unknown-keyword",
    ],
)
def test_odd_calls_same_outcome(call: Any, chunksize: int) -> None:
    outcomes = []
    for m in _both():
        ex = m.ThreadPoolExecutor(2)
        try:
            outcomes.append(_outcome(lambda ex=ex: call(ex, chunksize)))
        finally:
            ex.shutdown()
    std, gof = outcomes
    if std[0] == "ok":  # a map iterator or None: its repr differs, not what it does
        assert gof[0] == "ok"
    else:
        assert gof == std


def test_map_negative_timeout(cf: types.ModuleType) -> None:
    gate = threading.Event()
    with cf.ThreadPoolExecutor(1) as ex:
        try:
            for chunksize in (1, 2):
                it = ex.map(gate.wait, [TIMEOUT] * 4, timeout=-1, chunksize=chunksize)
                with pytest.raises(TimeoutError):
                    next(it)
        finally:
            gate.set()


# --------------------------------------------------------------------------
# map with chunks: counted through submit, lazy over its input
# --------------------------------------------------------------------------


class CountingPool:
    """What tqdm's thread_map does: count through an instance's submit."""

    def __init__(self, ex: Any) -> None:
        self.count = 0
        self.lock = threading.Lock()
        original = ex.submit

        def counting_submit(*args: Any, **kwargs: Any) -> Any:
            future = original(*args, **kwargs)
            future.add_done_callback(self.done)
            return future

        ex.submit = counting_submit

    def done(self, _: Any) -> None:
        with self.lock:
            self.count += 1


def test_map_counted_through_patched_submit(cf: types.ModuleType) -> None:
    with cf.ThreadPoolExecutor(4) as ex:
        counter = CountingPool(ex)
        assert list(ex.map(abs, range(-150, 150), chunksize=30)) == [
            abs(i) for i in range(-150, 150)
        ]
    assert counter.count == 300


def test_map_counted_through_subclass_submit(cf: types.ModuleType) -> None:
    calls = []

    class Counting(cf.ThreadPoolExecutor):  # type: ignore[name-defined,misc]
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return super().submit(fn, *args, **kwargs)

    with Counting(4) as ex:
        assert list(ex.map(abs, range(-15, 15), chunksize=10)) == [abs(i) for i in range(-15, 15)]
    assert len(calls) == 30


def test_tqdm_thread_map_counts_every_call(tmp_path: Path) -> None:
    # tqdm.contrib.concurrent.thread_map imports concurrent.futures'
    # ThreadPoolExecutor: a program makes it use gofutures by replacing it.
    # (tqdm is in the test extra: a missing one fails the script.)
    assert_same_output(
        tmp_path,
        """
        import concurrent.futures
        import threading
        import __CF__ as cf
        from tqdm import tqdm
        from tqdm.contrib.concurrent import thread_map

        concurrent.futures.ThreadPoolExecutor = cf.ThreadPoolExecutor
        lock = threading.Lock()

        class Counted(tqdm):
            updates = 0
            def update(self, n=1):
                with lock:
                    Counted.updates += n
                return super().update(n)

        out = thread_map(lambda x: x * x, range(300), chunksize=30, max_workers=4,
                         tqdm_class=Counted)
        print(out == [x * x for x in range(300)], Counted.updates)
        """,
    )


def _record(log: list[int], lock: threading.Lock, x: int) -> int:
    with lock:
        log.append(x)
    return x


def test_chunked_map_consumed_after_shutdown(cf: types.ModuleType) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        it = ex.map(abs, range(-500, 500), chunksize=4)
    assert list(it) == [abs(i) for i in range(-500, 500)]


def test_chunked_map_never_consumed_runs_every_call(cf: types.ModuleType) -> None:
    log: list[int] = []
    lock = threading.Lock()
    with cf.ThreadPoolExecutor(2) as ex:
        ex.map(_record, [log] * 1000, [lock] * 1000, range(1000), chunksize=7)
    assert sorted(log) == list(range(1000))


def test_chunked_map_dropped_unread_runs_before_shutdown(cf: types.ModuleType) -> None:
    log: list[int] = []
    lock = threading.Lock()
    ex = cf.ThreadPoolExecutor(2)
    try:
        ex.map(_record, [log] * 1000, [lock] * 1000, range(1000), chunksize=7)
        deadline = time.monotonic() + TIMEOUT
        while len(log) < 1000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(log) == list(range(1000))
    finally:
        ex.shutdown()


def test_chunked_map_kept_open_at_exit_runs_every_call(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import atexit, threading
        import __CF__ as cf

        log = []
        # Runs after the pools' exit hooks, which wait for their work.
        atexit.register(lambda: print(sorted(log) == list(range(300)), len(log)))
        ex = cf.ThreadPoolExecutor(2)
        results = ex.map(log.append, range(300), chunksize=10)
        """,
    )


def test_chunked_map_shutdown_cancel_futures(cf: types.ModuleType) -> None:
    gate = threading.Event()
    started = threading.Event()

    def work(x: int) -> int:
        started.set()
        gate.wait(TIMEOUT)
        return x + 1

    ex = cf.ThreadPoolExecutor(1)
    try:
        it = ex.map(work, range(100), chunksize=2)
        assert started.wait(TIMEOUT)
        ex.shutdown(wait=False, cancel_futures=True)
    finally:
        gate.set()
    got = []
    with pytest.raises(cf.CancelledError):
        got.extend(it)  # keeps what came before the exception
    assert got and all(got)  # the running calls finished, the rest was cancelled
    ex.shutdown()


def test_chunked_map_input_error_at_the_call(cf: types.ModuleType) -> None:
    # Both read the whole input at the call: an input error is raised by it
    # (tests/test_thread_map_chunked.py: after the calls before it ran).
    def source() -> Any:
        yield from range(3)
        raise ValueError("bad input")

    with cf.ThreadPoolExecutor(2) as ex, pytest.raises(ValueError, match="bad input"):
        ex.map(abs, source(), chunksize=2)


# --------------------------------------------------------------------------
# a process forked after the Go runtime started
# --------------------------------------------------------------------------


def test_executor_created_in_forked_child_works(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import os, signal, threading
        import __CF__ as cf

        with cf.ThreadPoolExecutor(2) as ex:
            print("parent", ex.submit(pow, 2, 3).result(), flush=True)
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)
            sem = threading.Semaphore(0)
            with cf.ThreadPoolExecutor(3, thread_name_prefix="kid") as ex:
                print("child", ex.submit(pow, 2, 5).result())
                print(list(ex.map(abs, range(-3, 3))), list(ex.map(abs, range(-3, 3), chunksize=2)))
                for _ in range(3):
                    ex.submit(sem.acquire)
                print(len(ex._threads), sorted(t.name for t in ex._threads))
                for _ in range(3):
                    sem.release()
            print(all(not t.is_alive() for t in ex._threads), flush=True)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("exit", os.waitstatus_to_exitcode(status))
        """,
        timeout=60,
    )


def test_executor_created_in_multiprocessing_fork_child_works(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf

        def child(q):
            with cf.ThreadPoolExecutor(2) as ex:
                q.put(list(ex.map(pow, range(5), [2] * 5, chunksize=2)))

        if __name__ == "__main__":
            with cf.ThreadPoolExecutor(2) as ex:
                ex.submit(int).result()
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get(timeout=30))
            p.join(30)
            print(p.exitcode)
        """,
        timeout=90,
    )
