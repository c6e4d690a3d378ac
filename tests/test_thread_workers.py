"""Thread-pool workers behave like the threads of the threading module: as
many as the stdlib can start, a failed start raised by submit, the stack size
of threading.stack_size(), and a task whose submit started a worker is that
worker's. Each case is a user's script, run against both implementations."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from ._scripts import assert_same_output, run_script

# prctl(2) and capability(7) numbers (linux/prctl.h, linux/capability.h).
_PR_CAPBSET_DROP = 24
_CAP_SYS_ADMIN = 21
_CAP_SYS_RESOURCE = 24
_NOBODY = 65534


# Run as ``python -c _DROP_ROOT python script.py``: keeps effective uid 0, so
# the interpreter and the tests' files stay readable, but takes real uid 65534
# (which RLIMIT_NPROC counts) and drops CAP_SYS_ADMIN and CAP_SYS_RESOURCE
# from the bounding set, so the exec does not give them back.
_DROP_ROOT = f"""
import ctypes, os, sys
prctl = ctypes.CDLL(None, use_errno=True).prctl
for cap in ({_CAP_SYS_ADMIN}, {_CAP_SYS_RESOURCE}):
    if prctl({_PR_CAPBSET_DROP}, cap, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
os.setresuid({_NOBODY}, 0, 0)
os.execv(sys.argv[1], sys.argv[1:])
"""


def _rlimit_nproc_applies() -> tuple[str, ...]:
    """A launcher under which RLIMIT_NPROC limits the script's threads: the
    kernel ignores RLIMIT_NPROC for the root user and for holders of
    CAP_SYS_ADMIN or CAP_SYS_RESOURCE."""
    if os.geteuid() != 0:
        return ()
    return (sys.executable, "-c", _DROP_ROOT)


# The stdlib starts 10,500 threads one after another, each start waiting for
# the thread to run: 20-100 s on this 2-core machine when it is loaded.
@pytest.mark.timeout(660)
def test_more_than_10000_blocked_workers(tmp_path: Path) -> None:
    # Go aborted the process at its 10,000-thread limit ("fatal error: thread
    # exhaustion"); the stdlib runs one thread per blocked task.
    assert_same_output(
        tmp_path,
        """
        import threading
        import __CF__ as cf

        tasks = 10_500
        all_running = threading.Barrier(tasks + 1)
        release = threading.Event()
        idents = set()

        def blocked(i):
            idents.add(threading.get_ident())
            all_running.wait(300)
            return release.wait(300) and i

        with cf.ThreadPoolExecutor(max_workers=11_000) as ex:
            futures = [ex.submit(blocked, i) for i in range(tasks)]
            all_running.wait(300)  # every task blocked on a thread of its own
            release.set()
            print("sum", sum(f.result() for f in futures))
        print("threads", len(idents))
        """,
        timeout=300,
    )


def test_submit_raises_when_no_thread_can_start(tmp_path: Path) -> None:
    # A failed pthread_create aborted the process here; the stdlib's submit
    # raises RuntimeError and the program goes on.
    proc = assert_same_output(
        tmp_path,
        """
        import resource, threading
        import __CF__ as cf

        release = threading.Event()
        ex = cf.ThreadPoolExecutor(max_workers=50)
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        futures = []
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))  # no new thread
        try:
            for i in range(50):
                futures.append(ex.submit(release.wait, 60))
        except RuntimeError as exc:
            print("submit", len(futures), "failed:", exc)
        finally:
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
        release.set()
        print("after:", ex.submit(pow, 2, 10).result())
        ex.shutdown()
        print("done")
        """,
        launcher=_rlimit_nproc_applies(),
        timeout=120,
    )
    assert proc.stdout.startswith("submit 0 failed: can't start new thread\n"), proc.stdout


def test_refused_task_never_runs(tmp_path: Path) -> None:
    # Deliberate difference: the stdlib leaves a task whose submit raised in
    # its queue, and a later worker runs it although its submit failed and
    # no one holds its future; gofutures takes it back.
    source = """
        import resource
        import __CF__ as cf

        ex = cf.ThreadPoolExecutor(max_workers=4)
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))
        try:
            ex.submit(print, "refused task ran")
        except RuntimeError as exc:
            print("refused:", exc)
        finally:
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
        ex.submit(print, "later task ran").result()
        ex.shutdown()
        """
    proc = run_script(
        tmp_path, source, "gofutures", launcher=_rlimit_nproc_applies(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "refused: can't start new thread\nlater task ran\n"


def test_task_waits_for_a_live_worker_when_no_thread_can_start(tmp_path: Path) -> None:
    # Deliberate difference: the stdlib's submit raises whenever it tries to
    # start a thread and cannot, even with workers alive to run the task;
    # gofutures queues the task for them.
    source = """
        import resource, threading
        import __CF__ as cf

        release = threading.Event()
        running = threading.Event()

        def first():
            running.set()
            release.wait(60)
            return "first"

        ex = cf.ThreadPoolExecutor(max_workers=8)
        futures = [ex.submit(first)]
        running.wait(60)
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))
        try:
            futures += [ex.submit(pow, 2, i) for i in range(5)]
            threading.Thread(target=int).start()
        except RuntimeError as exc:
            print("threading:", exc)
        finally:
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
        print("queued", [f.done() for f in futures])
        release.set()
        print([f.result() for f in futures])
        ex.shutdown()
        """
    proc = run_script(
        tmp_path, source, "gofutures", launcher=_rlimit_nproc_applies(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "threading: can't start new thread\n"
        "queued [False, False, False, False, False, False]\n"
        "['first', 1, 2, 4, 8, 16]\n"
    )


def test_worker_stack_is_threading_stack_size(tmp_path: Path) -> None:
    # Worker threads were Go's, whose stack size ignores threading.stack_size():
    # deep recursion through C (a __call__ method) crashed them. (CPython 3.12
    # and 3.13 stop such recursion at a fixed C recursion limit, in both.)
    assert_same_output(
        tmp_path,
        """
        import sys, threading
        import __CF__ as cf

        class Countdown:
            def __call__(self, n):
                return 0 if n == 0 else 1 + self(n - 1)

        def deep(n):
            try:
                return Countdown()(n)
            except RecursionError:
                return "RecursionError"

        sys.setrecursionlimit(1_000_000)
        ex = cf.ThreadPoolExecutor(1)
        threading.stack_size(512 * 1024 * 1024)  # read when the worker starts
        print(ex.submit(deep, 200_000).result())
        ex.shutdown()
        threading.stack_size(0)
        """,
        timeout=120,
    )


@pytest.mark.parametrize("fault", ["NULL pointer", "division by zero"])
def test_a_crash_in_c_code_kills_the_program_as_in_the_stdlib(tmp_path: Path, fault: str) -> None:
    # Go handles SIGSEGV/SIGFPE itself unless the program had a handler: a
    # C extension's fault in a task ended the program with SIGQUIT and a
    # 200-line goroutine dump, where the stdlib's worker thread dies by the
    # signal, silently.
    source = f"""
        import ctypes
        import __CF__ as cf

        def crash():
            if {fault!r} == "NULL pointer":
                ctypes.string_at(0)
            else:
                ctypes.CDLL(None).div(1, 0)

        with cf.ThreadPoolExecutor(1) as ex:
            print(ex.submit(abs, -1).result(), flush=True)
            ex.submit(crash).result()
        print("not reached")
        """
    runs = {impl: run_script(tmp_path, source, impl) for impl in ("concurrent.futures", "gofutures")}
    std, gof = runs["concurrent.futures"], runs["gofutures"]
    assert std.returncode in (-signal.SIGSEGV, -signal.SIGFPE), std
    assert (gof.returncode, gof.stdout, gof.stderr) == (std.returncode, std.stdout, std.stderr)


def test_one_worker_serves_tasks_submitted_one_after_another(tmp_path: Path) -> None:
    # The stdlib's worker counts itself idle (its idle semaphore) before it
    # lets the GIL go after a task, so a program that submits the next task
    # as soon as a result arrives finds it. gofutures' worker counted itself
    # idle only back in Go, after the GIL: for blocking tasks the program's
    # submit came first and started a second worker, which ran the
    # initializer again (a second database connection, say).
    assert_same_output(
        tmp_path,
        """
        import threading, time
        import __CF__ as cf

        initialized = []

        def connect():
            initialized.append(threading.current_thread().name)

        def query(seconds):
            time.sleep(seconds)
            return threading.current_thread().name

        for seconds in (0, 0.001, 0.01):
            with cf.ThreadPoolExecutor(8, initializer=connect) as ex:
                names = {ex.submit(query, seconds).result() for _ in range(30)}
            print(seconds, len(names), len(initialized))
            initialized.clear()
        """,
    )


def test_the_programs_threads_are_numbered_as_with_the_stdlib(tmp_path: Path) -> None:
    # A thread made in C gets a "Dummy-N" Thread when it first runs Python,
    # and N comes from the counter that numbers unnamed threads. The stdlib's
    # workers are named and take no number, its process pool's manager thread
    # takes one: the program's own threads were named "Thread-3" where the
    # stdlib's were "Thread-2" (logging's threadName showed it).
    assert_same_output(
        tmp_path,
        """
        import threading
        import __CF__ as cf

        def double(x):
            return 2 * x

        def unnamed_thread():
            t = threading.Thread(target=print, args=("ran",))
            t.start()
            t.join()
            return t.name

        if __name__ == "__main__":
            with cf.ThreadPoolExecutor(4) as ex:
                print(list(ex.map(double, range(8))))
            print(unnamed_thread())
            with cf.ProcessPoolExecutor(2) as ex:
                print(list(ex.map(double, range(4))))
            print(unnamed_thread())
            with cf.ThreadPoolExecutor(2) as ex:
                print(ex.submit(unnamed_thread).result())
            print(threading.Thread().name)
        """,
    )


def test_cancel_futures_wait_false_keeps_the_started_task(tmp_path: Path) -> None:
    # CPython's test_cancel_futures_wait_false: the submit started a worker,
    # which has the task by the time shutdown cancels what is queued.
    for _ in range(3):
        assert_same_output(
            tmp_path,
            """
            import time
            import __CF__ as cf

            def sleep_and_print(t, msg):
                time.sleep(t)
                print(msg, flush=True)

            t = cf.ThreadPoolExecutor()
            t.submit(sleep_and_print, .1, "apple")
            t.shutdown(wait=False, cancel_futures=True)
            """,
            timeout=60,
        )


@pytest.mark.parametrize("size_mib", [0, 1, 64])
def test_worker_thread_has_the_stack_size_asked(tmp_path: Path, size_mib: int) -> None:
    # The stack the worker's thread really has, as glibc reports it: the
    # stdlib's and gofutures' threads agree for each threading.stack_size().
    assert_same_output(
        tmp_path,
        f"""
        import ctypes, threading
        import __CF__ as cf

        libc = ctypes.CDLL(None)

        def stack_size():
            attr = ctypes.create_string_buffer(256)  # pthread_attr_t, 56 bytes on x86-64
            size = ctypes.c_size_t()
            assert libc.pthread_getattr_np(ctypes.c_ulong(threading.get_ident()), attr) == 0
            libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
            libc.pthread_attr_destroy(attr)
            return size.value

        threading.stack_size({size_mib} * 1024 * 1024)
        with cf.ThreadPoolExecutor(1) as ex:
            print(ex.submit(stack_size).result() // 1024, "KiB")
        """,
        timeout=60,
    )


def test_a_submit_that_starts_a_worker_lets_it_run_first(tmp_path: Path) -> None:
    # The stdlib's submit waits until the thread it starts runs (Thread.start),
    # and that thread keeps the GIL until it blocks: with forced switches out
    # of reach, the task has run when submit returns. A pool growing one
    # thread per submit, not hundreds at once, is what keeps a program's
    # other threads from waiting in a herd of new workers for the GIL.
    assert_same_output(
        tmp_path,
        """
        import sys
        import __CF__ as cf

        sys.setswitchinterval(100)
        seen = []
        for i in range(3):
            ex = cf.ThreadPoolExecutor(1)
            ex.submit(seen.append, i)
            print(i, list(seen))
            ex.shutdown()
        print("done", seen)
        """,
    )


def test_thread_started_by_a_task_outlives_the_program_main(tmp_path: Path) -> None:
    # The stdlib's workers are non-daemon Threads, so a Thread a task starts
    # is one too and interpreter exit waits for it. gofutures' workers are
    # C threads: threading saw them as daemon _DummyThreads, the new thread
    # inherited daemon=True, and its print was lost at exit. So was one
    # started by a done-callback of a Go task (run on the Go-task pump).
    assert_same_output(
        tmp_path,
        """
        import threading
        import time
        import __CF__ as cf
        from gofutures import io

        def later(what, delay):
            time.sleep(delay)
            print("later:", what, flush=True)

        def task(i):
            threading.Thread(target=later, args=(f"task {i}", 0.2)).start()
            return threading.current_thread().daemon

        def callback(_):
            threading.Thread(target=later, args=("callback", 0.6)).start()

        with cf.ThreadPoolExecutor(1) as ex:
            print("worker daemon:", ex.submit(task, 0).result())
            ex.submit(io.sleep, 0).add_done_callback(callback)
        print("main done", flush=True)
        """,
    )


def test_worker_threads_can_be_joined_like_the_stdlibs(tmp_path: Path) -> None:
    # Programs join every thread of threading.enumerate() before they exit.
    # gofutures' workers were threading._DummyThread objects, whose join()
    # raises AssertionError ("cannot join a dummy thread"), and whose repr
    # said _DummyThread.
    assert_same_output(
        tmp_path,
        """
        import re
        import threading
        import time
        import __CF__ as cf

        def show(thread):
            return re.sub(r" [0-9]+\\)>$", ")>", repr(thread))

        # One worker: how many a second submit starts is a race in both.
        ex = cf.ThreadPoolExecutor(1, thread_name_prefix="w")
        print(ex.submit(lambda: show(threading.current_thread())).result())
        ex.submit(time.sleep, 0.3)
        time.sleep(0.1)
        others = [t for t in threading.enumerate() if t is not threading.main_thread()]
        for t in sorted(others, key=lambda t: t.name):
            t.join(timeout=0.2)
            print("joined with a timeout:", t.name, t.is_alive(), t.daemon)
        ex.shutdown()
        for t in sorted(others, key=lambda t: t.name):
            t.join()
            print("joined:", t.name, t.is_alive(), show(t))

        def join_self():
            try:
                threading.current_thread().join()
            except RuntimeError as e:
                return f"RuntimeError: {e}"

        with cf.ThreadPoolExecutor(1) as ex:
            print(ex.submit(join_self).result())
        """,
    )


def test_go_task_callbacks_run_on_a_non_daemon_thread_after_pump_restarts() -> None:
    # Go starts the Go-task pump again after one stopped (at exit, when an
    # atexit handler submits more), and the new thread can get the ended
    # one's ident. The pump used to recognise its own thread by ident, so a
    # restarted pump on a reused ident was never adopted: its done-callbacks
    # ran on a daemon _DummyThread (3 times in 60 restarts here).
    import threading

    import gofutures
    from gofutures import _native, io

    seen: list[tuple[int, bool]] = []

    def callback(_: object) -> None:
        seen.append((threading.get_ident(), threading.current_thread().daemon))

    for _ in range(60):
        with gofutures.ThreadPoolExecutor(1) as ex:
            ex.submit(io.sleep, 0).add_done_callback(callback)
        while not _native.fast_go_pump_stop(_native.JOIN_SLICE_MS):
            pass
    assert len(seen) == 60
    assert [s for s in seen if s[1]] == []
    assert len({ident for ident, _ in seen}) < 60, "no ident was reused: the case did not happen"


def test_a_thread_with_an_ended_pumps_ident_can_wait_for_a_pool() -> None:
    # shutdown(wait=True) refuses to run on the Go-task pump (it would wait
    # for itself). It recognised the pump by its ident, and a later thread
    # that got an ended pump's ident was refused too: asyncio's
    # shutdown_default_executor thread raised "cannot join current thread"
    # in a CI run, after a test had stopped the pump.
    import threading

    import gofutures
    from gofutures import _native, io

    pump: list[int] = []
    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(io.sleep, 0).add_done_callback(lambda _: pump.append(threading.get_ident()))
    while not _native.fast_go_pump_stop(_native.JOIN_SLICE_MS):
        pass
    outcomes: list[tuple[int, str]] = []

    def wait_for_a_pool() -> None:
        pool = gofutures.ThreadPoolExecutor(1)
        pool.submit(abs, -1).result()
        try:
            pool.shutdown(wait=True)
        except RuntimeError as e:
            outcomes.append((threading.get_ident(), str(e)))
        else:
            outcomes.append((threading.get_ident(), "ok"))

    # glibc gives a new thread an ended one's ident when it reuses its cached
    # stack: here within a few threads, though not on every machine or test
    # order (then this checks only that no other thread is refused).
    for _ in range(200):
        t = threading.Thread(target=wait_for_a_pool)
        t.start()
        t.join()
        if outcomes[-1][0] == pump[0]:
            break
    assert [o for o in outcomes if o[1] != "ok"] == []


def test_workers_get_threading_settrace_and_setprofile_hooks(tmp_path: Path) -> None:
    # Thread._bootstrap_inner installs threading.settrace()'s and
    # threading.setprofile()'s hooks before run(); gofutures' C-started
    # workers ran tasks with neither (coverage, debuggers and profilers
    # missed every task).
    assert_same_output(
        tmp_path,
        """
        import sys
        import threading
        import __CF__ as cf

        traced = []

        def tracer(frame, event, arg):
            if event == "call" and frame.f_code.co_name == "work":
                traced.append(frame.f_locals["i"])

        def profiler(frame, event, arg):
            pass

        threading.settrace(tracer)
        threading.setprofile(profiler)

        def work(i):
            return sys.gettrace() is tracer, sys.getprofile() is profiler

        with cf.ThreadPoolExecutor(2) as ex:
            print("hooks in tasks:", set(ex.map(work, range(4))))
        print("traced calls:", sorted(traced))
        """,
    )
