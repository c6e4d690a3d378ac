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
print("cancelled:", sum(f.cancel() for f in pending))
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
    """A Go task's done-callback runs a Python-only executor in a with
    block (its shutdown(wait=True) joins that executor's workers)."""
    assert_same_output(tmp_path, HEADER + """
ex = cf.ThreadPoolExecutor(2)
def callback(f):
    with cf.ThreadPoolExecutor(2) as inner:
        print(list(inner.map(len, ["ab", "cde"])))
    print("inner executor shut down")
f = ex.submit(sleep, 0.1)
f.add_done_callback(callback)
f.result()
time.sleep(0.5)
ex.shutdown()
""", timeout=60)
