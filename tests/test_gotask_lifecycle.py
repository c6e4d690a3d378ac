"""Go tasks (gofutures.io, gofutures.http submitted to a thread pool) in
the lifecycles users write, as real scripts run on both implementations:
the stdlib runs ``time.sleep`` / ``subprocess.run`` on its thread workers,
gofutures the Go equivalents on goroutines, and both must print the same.

Each case failed before its fix: waiters of a cancelled queued task never
woke, a callback's SystemExit lost the rest of the pump's batch, a forked
child hung asking Go about an inherited future, and a submitted task's bad
arguments named a private preparer."""

from __future__ import annotations

from pathlib import Path

from ._scripts import assert_same_output, run_script

# Go's sleep and run on gofutures, the Python functions on the stdlib.
HEADER = """
import os, subprocess, sys, time
import __CF__ as cf
if cf.__name__ == "gofutures":
    from gofutures.io import run, sleep
else:
    sleep = time.sleep
    def run(args, **kwargs):
        return subprocess.run(args, capture_output=True, **kwargs)
"""


def test_cancelling_queued_tasks_wakes_wait_and_as_completed(tmp_path: Path) -> None:
    """The first-error-cancel-the-rest pattern: the cancelled tasks count
    as done for wait() and as_completed(), as a stdlib worker reports them
    when it reaches them (gofutures: Go took them back, no worker comes)."""
    assert_same_output(tmp_path, HEADER + """
ex = cf.ThreadPoolExecutor(max_workers=2)
fs = [ex.submit(run, ["sh", "-c", "exit 1"], check=True)] + [ex.submit(sleep, 0.5) for _ in range(4)]
done, pending = cf.wait(fs, return_when=cf.FIRST_EXCEPTION)
print("first error:", type(next(iter(done)).exception()).__name__)
# The worker the error freed may or may not have started the next sleep by
# now, on either implementation (the stdlib: 3 in 2 runs of 15 here).
print("cancelled 2 or 3:", sum(f.cancel() for f in pending) in (2, 3))
print("not done after wait:", len(cf.wait(pending, timeout=20).not_done))
print("as_completed:", len(list(cf.as_completed(fs, timeout=20))))
ex.shutdown()
""", timeout=120)


def test_a_callback_raising_systemexit_loses_no_other_future(tmp_path: Path) -> None:
    """A done-callback that raises SystemExit: logged as the stdlib's worker
    logs it, and every other future still completes."""
    gof = assert_same_output(tmp_path, HEADER + """
import logging
logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
ex = cf.ThreadPoolExecutor(max_workers=100)
fs = [ex.submit(sleep, 0.3) for _ in range(50)]
raised = []
def callback(f):
    if not raised:
        raised.append(f)
        raise SystemExit(4)
for f in fs:
    f.add_done_callback(callback)
print("not done:", len(cf.wait(fs, timeout=20).not_done))
ex.shutdown()
print("end")
""", timeout=120)
    assert "CRITICAL concurrent.futures Exception in worker" in gof.stderr


def test_a_forked_child_reads_inherited_futures_without_hanging(tmp_path: Path) -> None:
    """In a child forked while Go tasks are queued, done(), repr() and
    cancel() answer from the child's copy (Go is not there to ask)."""
    assert_same_output(tmp_path, HEADER + """
import faulthandler, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
ex = cf.ThreadPoolExecutor(max_workers=1)
fs = [ex.submit(sleep, 0.3) for _ in range(3)]
if os.fork() == 0:
    faulthandler.dump_traceback_later(20, exit=True)
    print("child:", [f.done() for f in fs], repr(fs[2]).startswith("<Future"), fs[2].cancel(), flush=True)
    os._exit(0)
_, status = os.waitpid(-1, 0)
print("child exit:", os.waitstatus_to_exitcode(status))
print([f.result() for f in fs])
ex.shutdown()
""", timeout=120)


def test_a_submitted_task_with_bad_arguments_fails_as_a_call_would(tmp_path: Path) -> None:
    """The message names the function, as a direct call's does (the stdlib
    has no Go tasks to compare with)."""
    proc = run_script(tmp_path, """
import gofutures as cf
from gofutures import http, io
calls = [(io.sleep, (), {}), (io.run, (["true"],), {"bogus": 1}), (http.Client().get, (), {})]
with cf.ThreadPoolExecutor(2) as ex:
    for fn, args, kwargs in calls:
        try:
            fn(*args, **kwargs)
        except TypeError as exc:
            direct = str(exc)
        print(str(ex.submit(fn, *args, **kwargs).exception()) == direct, direct)
""", "gofutures", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "True sleep() missing 1 required positional argument: 'seconds'\n"
        "True run() got an unexpected keyword argument 'bogus'\n"
        "True Client.get() missing 1 required positional argument: 'url'\n"
    )


def test_the_pump_is_no_thread_of_the_program(tmp_path: Path) -> None:
    """After a pool's shutdown the program's thread count is back where it
    was (the stdlib has no thread for Go tasks), the program's own threads
    are numbered as with the stdlib, and a callback's thread name carries
    the executor's prefix, as a stdlib worker's does."""
    assert_same_output(tmp_path, HEADER + """
import threading, logging
before = threading.active_count()
with cf.ThreadPoolExecutor(2, thread_name_prefix="dl") as ex:
    f = ex.submit(sleep, 0.1)
    f.add_done_callback(lambda f: print("callback on:", threading.current_thread().name[:3]))
    f.result()
time.sleep(0.3)
print("threads left:", threading.active_count() - before, [t.name for t in threading.enumerate()])
t = threading.Thread(target=lambda: None)
t.start()
t.join()
print(t.name)
""", timeout=60)


def test_a_callback_can_use_another_executor(tmp_path: Path) -> None:
    """A Go task's done-callback runs another executor in a with block, with
    Python tasks or Go tasks (its shutdown(wait=True) waits for them, which
    another pump delivers); shutting down its own executor with wait=True
    there raises, as on a stdlib worker."""
    assert_same_output(tmp_path, HEADER + """
import threading
ex = cf.ThreadPoolExecutor(2)
finished = threading.Event()
def callback(f):
    with cf.ThreadPoolExecutor(2) as inner:
        print(list(inner.map(len, ["ab", "cde"])))
    with cf.ThreadPoolExecutor(4) as inner:
        print(list(inner.map(sleep, [0.05, 0.1, 0.02])))
        print(inner.submit(run, ["echo", "inner"]).result().stdout)
    print("inner executors shut down")
    try:
        ex.shutdown(wait=True)
    except RuntimeError as e:
        print("own executor:", e)
    finished.set()
f = ex.submit(sleep, 0.1)
f.add_done_callback(callback)
f.result()
print("callback finished:", finished.wait(30))
ex.shutdown()
""", timeout=60)


def test_a_blocked_callback_holds_back_no_other_future(tmp_path: Path) -> None:
    """A done-callback that blocks (here until the other futures are done)
    keeps only its own worker busy on the stdlib; on gofutures another pump
    takes over the completions its pump was to deliver, and their
    callbacks."""
    assert_same_output(tmp_path, HEADER + """
import threading
ex = cf.ThreadPoolExecutor(max_workers=8)
release = threading.Event()
first = ex.submit(sleep, 0.05)
first.add_done_callback(lambda f: release.wait(60))
others = [ex.submit(sleep, 0.3) for _ in range(6)]
called = []
for f in others:
    f.add_done_callback(called.append)
done, not_done = cf.wait(others, timeout=30)
print("done while a callback blocks:", len(done), "not done:", len(not_done))
release.set()
ex.shutdown()
print("callbacks of the others:", len(called))
""", timeout=120)


def test_a_callback_can_wait_for_another_tasks_result(tmp_path: Path) -> None:
    """A done-callback that waits for a later Go task of the same executor
    gets its result (it timed out: the one pump was held by the waiter)."""
    assert_same_output(tmp_path, HEADER + """
ex = cf.ThreadPoolExecutor(max_workers=4)
def callback(f):
    print("the later task printed:", later.result(timeout=30).stdout)
ex.submit(sleep, 0.01).add_done_callback(callback)
later = ex.submit(run, ["sh", "-c", "sleep 0.3; echo later"])
ex.shutdown()
print("end")
""", timeout=120)


def test_callbacks_that_wait_for_each_other_all_run(tmp_path: Path) -> None:
    """Ten callbacks that meet at a barrier: ten workers block in them at
    once on the stdlib, ten pumps on gofutures. The script then ends with a
    slow callback still running: interpreter exit waits for it, and the
    pump threads are gone at the end."""
    assert_same_output(tmp_path, HEADER + """
import threading
parties = 10
barrier = threading.Barrier(parties, timeout=60)
met = []
def meet(f):
    barrier.wait()
    met.append(f)
ex = cf.ThreadPoolExecutor(max_workers=parties)
fs = [ex.submit(sleep, 0.1) for _ in range(parties)]
for f in fs:
    f.add_done_callback(meet)
print("not done:", len(cf.wait(fs, timeout=60).not_done))
ex.shutdown()
print("met at the barrier:", len(met), "broken:", barrier.broken)
print("threads left:", threading.active_count())
def slow(f):
    time.sleep(0.5)
    print("a slow callback at exit ran", flush=True)
ex2 = cf.ThreadPoolExecutor(max_workers=2)
ex2.submit(sleep, 0.05).add_done_callback(slow)
""", timeout=180)


def test_a_pump_held_before_its_batch_is_queued_holds_nothing_back(tmp_path: Path) -> None:
    """A pump held in Python before its batch reached the pumps' shared
    queue (here by a slow profile hook; a garbage collection with slow
    finalizers does the same) is replaced while its batch is not yet there:
    once it queues the batch and blocks in a callback, the new pump is still
    asked to deliver the rest (a callback waiting for a task of the same
    batch timed out)."""
    assert_same_output(tmp_path, HEADER + """
import threading
armed = [False]
def prof(frame, event, arg):
    if event == "call" and armed[0] and frame.f_code.co_name == "_deliver":
        armed[0] = False
        time.sleep(0.05)
threading.setprofile(prof)  # before the pumps and workers start
ex = cf.ThreadPoolExecutor(8)
ex.submit(sleep, 0.01).result()
time.sleep(0.1)
got = []
def waits_for_y(f):
    try:
        got.append(Y.result(timeout=5))
    except cf.TimeoutError:
        got.append("timed out")
def arm(f):
    time.sleep(0.01)  # X and Y complete meanwhile: one batch
    armed[0] = True
t0 = time.monotonic()
ex.submit(sleep, 0.05).add_done_callback(arm)
X = ex.submit(sleep, 0.052)
Y = ex.submit(sleep, 0.054)
X.add_done_callback(waits_for_y)
cf.wait([X, Y], timeout=10)
print("X, Y done:", X.done(), Y.done(), "within 3 s:", time.monotonic() - t0 < 3)
ex.shutdown()
print("X's callback got:", got)
""", timeout=120)


def test_a_failing_error_report_leaves_no_task_unsettled(tmp_path: Path) -> None:
    """A logging filter that raises while a pump reports a callback's
    SystemExit, on a pump delivering another pump's batch: every future
    completes, and the pool's shutdown(wait=True) still returns (the ids
    that pump took were lost, and the join waited for ever)."""
    assert_same_output(tmp_path, HEADER + """
import logging, threading
class Boom(logging.Filter):
    def filter(self, record):
        raise RuntimeError("filter raised")
logging.getLogger("concurrent.futures").addFilter(Boom())
sys.unraisablehook = lambda u: None
threading.excepthook = lambda a: None
C = cf.ThreadPoolExecutor(2)
A = cf.ThreadPoolExecutor(4)
C.submit(sleep, 0.05).add_done_callback(lambda f: time.sleep(0.01))  # the next three: one batch
X = A.submit(sleep, 0.052)
X.add_done_callback(lambda f: time.sleep(0.3))  # blocks: its pump is replaced
Y0 = A.submit(sleep, 0.053)
Y1 = A.submit(sleep, 0.054)
def raise_exit(f):
    raise SystemExit(3)
Y1.add_done_callback(raise_exit)
Z = A.submit(sleep, 0.055)
print("done:", [f.done() for f in cf.wait((X, Y0, Y1, Z), timeout=10).done] and
      sorted(f.done() for f in (X, Y0, Y1, Z)))
th = threading.Thread(target=A.shutdown)
th.start()
th.join(10)
print("A.shutdown(wait=True) returned:", not th.is_alive())
sys.stdout.flush()
os._exit(0)
""", timeout=120)


def test_a_pools_join_does_not_wait_for_another_pools_blocked_callback(tmp_path: Path) -> None:
    """Pool A's task is delivered just before pool B's, whose callback
    blocks until A is shut down: A's shutdown(wait=True) returns (it waited
    for the pump to come back from B's callback, which never came)."""
    assert_same_output(tmp_path, HEADER + """
import threading
release = threading.Event()
C, A, B = cf.ThreadPoolExecutor(2), cf.ThreadPoolExecutor(2), cf.ThreadPoolExecutor(2)
C.submit(sleep, 0.05).add_done_callback(lambda f: time.sleep(0.01))  # the next two: one batch
fa = A.submit(sleep, 0.052)
fb = B.submit(sleep, 0.054)
fb.add_done_callback(lambda f: release.wait(30))
print("A's future done:", fa.result(timeout=10) is None)
th = threading.Thread(target=A.shutdown)
th.start()
th.join(10)
print("A.shutdown(wait=True) returned:", not th.is_alive())
release.set()
th.join()
B.shutdown()
C.shutdown()
""", timeout=120)


def test_a_callback_can_shut_down_another_pool_delivered_before_it(tmp_path: Path) -> None:
    """Pool B's task is delivered just before pool A's, whose callback shuts
    B down with wait=True: allowed, as on the stdlib for another executor
    (it was refused: the pump had delivered a B task in that batch)."""
    assert_same_output(tmp_path, HEADER + """
C, A, B = cf.ThreadPoolExecutor(2), cf.ThreadPoolExecutor(2), cf.ThreadPoolExecutor(2)
C.submit(sleep, 0.05).add_done_callback(lambda f: time.sleep(0.01))  # the next two: one batch
fb = B.submit(sleep, 0.052)
fa = A.submit(sleep, 0.054)
out = []
def shut_b(f):
    try:
        B.shutdown(wait=True)
        out.append("B shut down")
    except RuntimeError as e:
        out.append(f"B.shutdown raised {e}")
fa.add_done_callback(shut_b)
A.shutdown()
C.shutdown()
print(out, fb.done())
""", timeout=120)
