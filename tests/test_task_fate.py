"""Per-task fates in the process pool (issue 13): a deadline per task
(``task_timeout=``, ``schedule(..., timeout=)``), ``on_worker_death=
"fail_task"`` (``gofutures.WorkerDiedError``) and ``terminate_task(future)``.

The stdlib has none of these, so each case is a real script run with
gofutures only (tests/_scripts.py), checking what it prints. Every fault
script also checks that every future ended (a result, an exception or
cancelled) and that nothing is left once the pool has shut down: no worker
alive, no zombie child, no Python thread and no file descriptor more than
before the pool.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from ._scripts import run_script

CONTEXTS = ["fork", "forkserver", "spawn"]

# Leak checks shared by the scripts. A 'forkserver' zygote is shared by
# later pools and stays: a warm-up pool starts it before the baseline.
PRELUDE = """
import ctypes, math, os, signal, sys, threading, time
import gofutures as cf
from concurrent.futures.process import BrokenProcessPool
from tests._processes import alive, pool_pids, settled, stat, wait_for_workers, zombie_children


def square(x):
    return x * x


def nap(seconds):
    time.sleep(seconds)
    return seconds


def report_and_nap(path):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(3600)


def segfault():
    ctypes.string_at(0)


def baseline(ctx):
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:  # starts a shared zygote
        ex.submit(square, 1).result(60)
    return len(os.listdir("/proc/self/fd")), threading.active_count()


def check_clean(base, pids):
    fds, threads = base
    print("workers left:", sorted(settled(lambda: {p for p in pids if alive(p)})))
    print("zombies:", sorted(settled(zombie_children)))
    print("fds:", settled(lambda: len(os.listdir("/proc/self/fd")) - fds))
    print("threads:", settled(lambda: threading.active_count() - threads))
"""

CLEAN = "workers left: []\nzombies: []\nfds: 0\nthreads: 0\n"


def _run(tmp_path: Path, body: str, timeout: float = 300) -> str:
    proc = run_script(tmp_path, PRELUDE + body, "gofutures", timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


TIMEOUT_AMONG_1000 = """
ctx = {ctx!r}
base = baseline(ctx)
seen = set()
# A generous default deadline for every task, a tight one for one.
with cf.ProcessPoolExecutor(2, mp_context=ctx, task_timeout=600) as ex:
    futures = []
    for i in range(1000):
        if i == 500:
            futures.append(ex.schedule(nap, (3600,), timeout=1.5))
        else:
            futures.append(ex.submit(square, i))
        if i % 100 == 0:
            seen |= pool_pids(ex)
    good = 0
    for i, f in enumerate(futures):
        if i == 500:
            try:
                f.result(120)
            except TimeoutError as exc:
                print("timed out:", type(exc).__name__, exc.__class__ is cf.TimeoutError or sys.version_info < (3, 11))
                print("says its timeout:", "timeout of 1.5 seconds" in str(exc), "SIGKILL" in str(exc))
                killed = int(str(exc).split("(pid ")[1].split(")")[0])
                seen.add(killed)
        else:
            good += f.result(120) == i * i
    print("good:", good)
    print("broken:", bool(ex._broken))
    print("after:", ex.submit(square, 7).result(60))
    seen |= wait_for_workers(ex, 2)
    print("killed worker gone:", not alive(killed))
check_clean(base, seen)
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_a_task_past_its_deadline_among_1000(tmp_path: Path, ctx: str) -> None:
    """One task sleeping past its deadline among 1,000 good ones: only it
    fails, with TimeoutError naming the timeout; every good one returns; the
    pool goes on (never broken); nothing is left."""
    out = _run(tmp_path, TIMEOUT_AMONG_1000.format(ctx=ctx))
    assert out == (
        "timed out: TimeoutError True\n"
        "says its timeout: True True\n"
        "good: 999\n"
        "broken: False\n"
        "after: 49\n"
        "killed worker gone: True\n" + CLEAN
    )


DEADLINES = """
# The deadline runs from when a worker starts the task: the last task
# waits about 2.1 s for the single worker, then runs 0.3 s, within 2 s.
with cf.ProcessPoolExecutor(1, mp_context="forkserver", task_timeout=2.0) as ex:
    print("queued past the deadline:", [f.result(60) for f in [ex.submit(nap, 0.3) for _ in range(8)]])
    # schedule(timeout=) overrides the default; timeout=None keeps it.
    print("longer:", ex.schedule(nap, (2.5,), timeout=60).result(60))
    print("kwargs:", ex.schedule(nap, kwargs={"seconds": 0.01}).result(60))
    try:
        ex.schedule(nap, [30]).result(60)
    except TimeoutError as exc:
        print("default:", "timeout of 2 seconds" in str(exc))
    # A chunked map: one chunk is one task, so a timeout fails its chunk.
    values = [0.0] * 40
    values[25] = 30
    it = ex.map(nap, values, chunksize=10)
    got = []
    try:
        for v in it:
            got.append(v)
    except TimeoutError:
        print("map stopped at:", len(got))
for bad in ("1", [1]):
    try:
        cf.ProcessPoolExecutor(1, task_timeout=bad)
    except TypeError as exc:
        print("TypeError:", exc)
for bad in (-1, float("nan")):
    try:
        cf.ProcessPoolExecutor(1, task_timeout=bad)
    except ValueError as exc:
        print("ValueError:", exc)
ex = cf.ProcessPoolExecutor(1, mp_context="spawn")
for bad in (-0.5, "x"):
    try:
        ex.schedule(square, (2,), timeout=bad)
    except (TypeError, ValueError) as exc:
        print(type(exc).__name__ + ":", exc)
print("no timeout:", ex.schedule(square, (3,), timeout=None).result(60))
ex.shutdown()
"""


def test_deadlines(tmp_path: Path) -> None:
    """task_timeout= is every task's default, schedule(timeout=) overrides
    it, the deadline runs from the task's start, a chunked map's chunk is
    one task, and bad timeouts raise TypeError / ValueError."""
    out = _run(tmp_path, DEADLINES)
    assert out == (
        "queued past the deadline: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]\n"
        "longer: 2.5\n"
        "kwargs: 0.01\n"
        "default: True\n"
        "map stopped at: 20\n"
        "TypeError: '<' not supported between instances of 'str' and 'int'\n"
        "TypeError: '<' not supported between instances of 'list' and 'int'\n"
        "ValueError: 'timeout' must be a non-negative number\n"
        "ValueError: Invalid value NaN (not a number)\n"
        "ValueError: 'timeout' must be a non-negative number\n"
        "TypeError: '<' not supported between instances of 'str' and 'int'\n"
        "no timeout: 9\n"
    )


FAIL_TASK_AMONG_1000 = """
ctx = {ctx!r}
base = baseline(ctx)
seen = set()
with cf.ProcessPoolExecutor(2, mp_context=ctx, on_worker_death="fail_task") as ex:
    futures = []
    for i in range(1000):
        if i == 300:
            futures.append(ex.submit(segfault))
        elif i == 600:
            futures.append(ex.submit(os._exit, 3))
        else:
            futures.append(ex.submit(square, i))
        if i % 100 == 0:
            seen |= pool_pids(ex)
    good = 0
    for i, f in enumerate(futures):
        if i in (300, 600):
            exc = f.exception(120)
            print(type(exc).__name__, isinstance(exc, BrokenProcessPool), exc.exitcode, exc.signal,
                  exc.pid > 0, f"worker pid {{exc.pid}}" in str(exc))
            print(str(exc).split(" (worker pid")[0])
            print(str(exc).split(f"{{exc.pid}} ")[1])
            seen.add(exc.pid)
        else:
            good += f.result(120) == i * i
    print("good:", good)
    print("broken:", bool(ex._broken))
    # A worker killed from outside while it runs a task.
    f = ex.submit(report_and_nap, "running.pid")
    while not os.path.exists("running.pid") or not open("running.pid").read():
        time.sleep(0.01)
    victim = int(open("running.pid").read())
    os.kill(victim, signal.SIGKILL)
    exc = f.exception(120)
    print(type(exc).__name__, exc.exitcode, exc.signal)
    print("after:", [ex.submit(square, n).result(60) for n in range(3)])
    seen |= set([victim]) | wait_for_workers(ex, 2)
check_clean(base, seen)
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_fail_task_segfault_and_exit_among_1000(tmp_path: Path, ctx: str) -> None:
    """Under on_worker_death="fail_task", a segfaulting task and an
    os._exit(3) among 1,000 good ones: only they fail, with WorkerDiedError
    (a BrokenProcessPool) carrying pid, exitcode, signal and the pool's
    readable reason; so does a task whose worker is SIGKILLed from outside.
    Workers are replaced and nothing is left."""
    out = _run(tmp_path, FAIL_TASK_AMONG_1000.format(ctx=ctx))
    died = "A process in the process pool was terminated abruptly while the future was running or pending."
    assert out == (
        "WorkerDiedError True None 11 True True\n"
        f"{died}\n"
        "terminated by signal 11 (SIGSEGV: a segmentation fault, typically a crash in C code))\n"
        "WorkerDiedError True 3 None True True\n"
        f"{died}\n"
        "exited with code 3)\n"
        "good: 998\n"
        "broken: False\n"
        "WorkerDiedError None 9\n"
        "after: [0, 1, 4]\n" + CLEAN
    )


TERMINATE = """
ctx = {ctx!r}
base = baseline(ctx)
seen = set()
with cf.ProcessPoolExecutor(1, mp_context=ctx, task_timeout=math.inf) as ex:
    running = ex.submit(nap, 3600)
    pending = ex.submit(square, 5)
    calls = []
    running.add_done_callback(lambda f: calls.append(f.cancelled()))
    while not running.running():
        time.sleep(0.01)
    time.sleep(0.5)  # the worker has it
    seen |= pool_pids(ex)
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(len(cf.wait([running], timeout=60).done)))
    waiter.start()
    completed = []
    lister = threading.Thread(target=lambda: completed.extend(cf.as_completed([running], timeout=60)))
    lister.start()
    time.sleep(0.2)
    print("running:", ex.terminate_task(running), running.cancelled(), running.done())
    waiter.join(60)
    lister.join(60)
    print("woke:", woke, len(completed), "callbacks:", calls)
    try:
        running.result(1)
    except cf.CancelledError:
        print("result: CancelledError")
    print("again:", ex.terminate_task(running))
    print("pending runs:", pending.result(60))
    print("done:", ex.terminate_task(pending))
    other = cf.Future()
    print("foreign:", ex.terminate_task(other))
    # A queued one: pending behind a long task.
    first = ex.submit(nap, 3600)
    queued = [ex.submit(square, n) for n in range(5)]
    print("queued:", ex.terminate_task(queued[-1]), queued[-1].cancelled())
    print("first:", ex.terminate_task(first), first.cancelled())
    print("rest:", [f.result(60) for f in queued[:-1]])
    print("broken:", bool(ex._broken))
    seen |= wait_for_workers(ex, 1)
check_clean(base, seen)
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_terminate_task(tmp_path: Path, ctx: str) -> None:
    """terminate_task on a running future kills its worker: the future ends
    cancelled, waiters in wait/as_completed wake, its callback runs once, the
    pool goes on; a pending one is cancelled; a done or foreign future
    gives False."""
    out = _run(tmp_path, TERMINATE.format(ctx=ctx))
    assert out == (
        "running: True True True\n"
        "woke: [1] 1 callbacks: [True]\n"
        "result: CancelledError\n"
        "again: False\n"
        "pending runs: 25\n"
        "done: False\n"
        "foreign: False\n"
        "queued: True True\n"
        "first: True True\n"
        "rest: [0, 1, 4, 9]\n"
        "broken: False\n" + CLEAN
    )


INTERPLAY = """
# A deadline under on_worker_death="break" is no death: the pool never
# breaks. With max_tasks_per_child, workers retire and are replaced too.
for ctx in ("fork", "forkserver", "spawn"):
    kwargs = {} if ctx == "fork" else {"max_tasks_per_child": 3}
    with cf.ProcessPoolExecutor(2, mp_context=ctx, task_timeout=5, **kwargs) as ex:
        fs = [ex.submit(square, i) for i in range(20)]
        slow = ex.submit(nap, 3600)
        fs += [ex.submit(square, i) for i in range(20, 40)]
        print(ctx, sum(f.result(120) == i * i for i, f in enumerate(fs)), type(slow.exception(120)).__name__,
              bool(ex._broken))
# A 'fork' pool without any of the options: its zygote became its last
# worker, so no worker can be replaced.
with cf.ProcessPoolExecutor(2, mp_context="fork") as ex:
    f = ex.submit(nap, 3600)
    while not f.running():
        time.sleep(0.01)
    time.sleep(0.5)
    try:
        ex.terminate_task(f)
    except RuntimeError as exc:
        print("RuntimeError:", "task_timeout=" in str(exc))
    try:
        ex.schedule(nap, (1,), timeout=5)
    except RuntimeError as exc:
        print("RuntimeError:", "task_timeout=" in str(exc))
    for pid in pool_pids(ex):
        os.kill(pid, signal.SIGKILL)
    print(type(f.exception(60)).__name__)
# The same pool asked for a timeout before it started keeps its zygote.
with cf.ProcessPoolExecutor(2, mp_context="fork") as ex:
    print("schedule first:", type(ex.schedule(nap, (3600,), timeout=1).exception(60)).__name__,
          ex.submit(square, 3).result(60))
"""


def test_interplay(tmp_path: Path) -> None:
    """Deadlines with max_tasks_per_child and every start method never break
    the pool; a 'fork' pool that cannot replace workers says so."""
    out = _run(tmp_path, INTERPLAY)
    assert out == (
        "fork 40 TimeoutError False\n"
        "forkserver 40 TimeoutError False\n"
        "spawn 40 TimeoutError False\n"
        "RuntimeError: True\n"
        "RuntimeError: True\n"
        "BrokenProcessPool\n"
        "schedule first: TimeoutError 9\n"
    )


def test_on_worker_death_is_checked() -> None:
    import gofutures

    for bad in ("Break", "fail", None, 1):
        with pytest.raises(ValueError, match="on_worker_death must be 'break' or 'fail_task'"):
            gofutures.ProcessPoolExecutor(1, on_worker_death=bad)  # type: ignore[arg-type]


def test_worker_died_error_is_exported_lazily() -> None:
    """gofutures.WorkerDiedError is a BrokenProcessPool in __all__, keeps
    its attributes through pickle, and importing gofutures still does not
    import multiprocessing (the class is made on first use)."""
    import concurrent.futures.process

    import gofutures

    assert "WorkerDiedError" in gofutures.__all__
    cls = gofutures.WorkerDiedError
    assert issubclass(cls, concurrent.futures.process.BrokenProcessPool)
    exc = pickle.loads(pickle.dumps(cls("it died", pid=12, exitcode=None, signal=11)))
    assert (str(exc), exc.pid, exc.exitcode, exc.signal) == ("it died", 12, None, 11)
    code = "import sys, gofutures; print('multiprocessing' in sys.modules)"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
