"""gofutures-only ProcessPoolExecutor behaviour: __main__ code, orphans,
leaks, large payloads, parent-side unpickling, threads and signals, output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import gofutures
from gofutures import process as gprocess

from . import _proc_tasks as tasks
from ._processes import alive, children_of, pool_pids, stat
from ._subproc import child_env, run_python

TIMEOUT = 10.0
MB = 1024 * 1024


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _marked_processes(mark: str) -> set[int]:
    """Live processes whose environment holds GOFUTURES_TEST_MARK=mark."""
    needle = f"GOFUTURES_TEST_MARK={mark}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and alive(int(entry)):
            found.add(int(entry))
    return found


# --------------------------------------------------------------------------
# (a) __main__ code without a main guard
# --------------------------------------------------------------------------

MAIN_SCRIPT = """
import os
import gofutures

print("TOPLEVEL-MARKER", flush=True)


def main_square(x):
    return x * x


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


def make_point(x):
    return Point(x, -x)


def main_identity(obj):
    return obj


def make_adder(n):
    def adder(x):
        return x + n
    return adder


for ctx in (None, "spawn", "forkserver", "fork"):
    with gofutures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        assert list(ex.map(main_square, range(10))) == [i * i for i in range(10)]
        assert list(ex.map(main_square, range(10), chunksize=3)) == [i * i for i in range(10)]
        p = ex.submit(make_point, 3).result(timeout=10)
        assert type(p) is Point and p == Point(3, -3), p
        q = ex.submit(main_identity, Point(1, 2)).result(timeout=10)
        assert type(q) is Point and q == Point(1, 2), q
        assert ex.submit(lambda x: x + 1, 41).result(timeout=10) == 42
        # Calls that pickle to more than 64 KiB are checked for __main__
        # references another way (gofutures._pickling._MainDetector).
        assert ex.submit(lambda b: len(b), bytes(1 << 20)).result(timeout=10) == 1 << 20
        many = [Point(i, -i) for i in range(20000)]
        assert ex.submit(main_identity, many).result(timeout=10) == many
        assert ex.submit(len, [bytes(1 << 20), Point(0, 0)]).result(timeout=10) == 2
        assert ex.submit(make_adder(10), 5).result(timeout=10) == 15
        pid = ex.submit(os.getpid).result(timeout=10)
        assert pid != os.getpid()
    print("CONTEXT-OK", ctx, flush=True)
print("SCRIPT-DONE", flush=True)
"""


def test_main_module_functions_without_guard(tmp_path: Path) -> None:
    script = tmp_path / "no_guard_script.py"
    script.write_text(MAIN_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.count("TOPLEVEL-MARKER") == 1, proc.stdout
    assert [line for line in lines if line.startswith("CONTEXT-OK")] == [
        "CONTEXT-OK None",
        "CONTEXT-OK spawn",
        "CONTEXT-OK forkserver",
        "CONTEXT-OK fork",
    ]
    assert lines[-1] == "SCRIPT-DONE"


# --------------------------------------------------------------------------
# (b) no orphans when the parent is SIGKILLed
# --------------------------------------------------------------------------

ORPHAN_SCRIPT = """
import time
import gofutures
from tests._proc_tasks import sleep_then_return
from tests._processes import wait_for_workers

ex = gofutures.ProcessPoolExecutor(2, mp_context={ctx!r}, max_tasks_per_child={quota!r})
futures = [ex.submit(sleep_then_return, 60, i) for i in range(4)]
print(" ".join(map(str, wait_for_workers(ex, 2))), flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("ctx", "quota"), [(None, None), (None, 100), ("spawn", None), ("forkserver", None)]
)
def test_workers_die_with_killed_parent(ctx: str | None, quota: int | None) -> None:
    mark = uuid.uuid4().hex
    env = child_env()
    env["GOFUTURES_TEST_MARK"] = mark
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ORPHAN_SCRIPT.format(ctx=ctx, quota=quota))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        worker_pids = {int(p) for p in line.split()}
        assert len(worker_pids) == 2, (line, parent.stderr.read() if parent.poll() else "")
        # The workers are busy (the tasks sleep 60 s); every pool process
        # carries the mark.
        marked = _marked_processes(mark) - {parent.pid}
        assert worker_pids <= marked, (worker_pids, marked)
        if ctx is None and quota is None:
            # The program's first pool: its zygote (a fork of the program)
            # became the second worker, so no other process is left.
            assert marked == worker_pids, marked
        elif ctx is None:
            # A task quota needs the zygote for replacements: it stays.
            assert len(marked) >= 3, marked
    finally:
        parent.kill()
        parent.wait(timeout=TIMEOUT)
        parent.stdout.close()
        parent.stderr.close()
    deadline = time.monotonic() + 2.0
    survivors = _marked_processes(mark)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = _marked_processes(mark)
    for pid in survivors:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"pool processes outlived their SIGKILLed parent: {survivors}"


# --------------------------------------------------------------------------
# (c) shutdown leaves nothing behind
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ctx", [None, "spawn", "forkserver"])
def test_shutdown_leaves_no_process_fd_or_registry_entry(ctx: str | None) -> None:
    me = os.getpid()

    def cycle() -> tuple[set[int], set[int]]:
        before = children_of(me)
        ex = gofutures.ProcessPoolExecutor(2, mp_context=ctx)
        assert list(ex.map(tasks.square, range(8))) == [i * i for i in range(8)]
        workers = pool_pids(ex)
        started = children_of(me) - before
        ex.shutdown(wait=True)
        return workers, started

    workers, started = cycle()
    assert workers
    # The process-wide zygotes (a fork of this process taken before the Go
    # runtime loaded, or a fresh interpreter running gofutures._zygote) are
    # shared by every pool and live as long as this process by design, like
    # multiprocessing's forkserver: they are not processes of the pool. The
    # forked one becomes the last worker of a first pool that uses it alone
    # (and must then be gone after shutdown like any worker); the next pool
    # starts the fresh one. Two cycles establish whichever this process has.
    w, s = cycle()
    workers |= w
    started |= s
    fds_after_warmup = len(os.listdir("/proc/self/fd"))
    for _ in range(8):
        w, s = cycle()
        workers |= w
        started |= s
    own_cmdline = Path("/proc/self/cmdline").read_bytes()
    shared_zygotes = {
        pid
        for pid in started - workers
        if _cmdline(pid) == own_cmdline or b"gofutures._zygote" in (_cmdline(pid) or b"")
    }
    assert len(shared_zygotes) <= 1, shared_zygotes
    started -= shared_zygotes
    # So is multiprocessing's resource tracker, which pools of fresh workers
    # start as the stdlib's 'spawn' and 'forkserver' pools do.
    from multiprocessing import resource_tracker

    started.discard(resource_tracker._resource_tracker._pid)  # type: ignore[attr-defined]
    leftover_children = {pid for pid in started if stat(pid) is not None}
    assert not leftover_children, f"pool children not reaped after shutdown: {leftover_children}"
    alive_workers = {pid for pid in workers if alive(pid)}
    assert not alive_workers, f"workers alive after shutdown: {alive_workers}"
    # A leak grows the table; descriptors that the warm-up's pools still
    # held (released once Go collected them) may shrink it.
    assert len(os.listdir("/proc/self/fd")) <= fds_after_warmup
    assert gprocess._pools == {}


def test_submit_after_go_saw_the_pool_break_fails_its_future() -> None:
    # Go learns of a dead worker before Python does (the pump must take the
    # GIL to say so). A submit in between is the stdlib's submit before its
    # manager thread noticed the death: it returns a future, and the break
    # fails it with the others (never lost, never left pending); later
    # submits raise.
    ex = gofutures.ProcessPoolExecutor(1)
    pid = ex.submit(tasks.getpid).result(timeout=TIMEOUT)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)  # keep the GIL: the pump cannot report the death
    try:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            pass
        assert not ex._state.broken, "the pump reported the death: the race was not set up"
        future = ex.submit(tasks.square, 2)
    finally:
        sys.setswitchinterval(interval)
    with pytest.raises(gprocess.BrokenProcessPool, match="SIGKILL"):
        future.result(timeout=TIMEOUT)
    with pytest.raises(gprocess.BrokenProcessPool, match="SIGKILL"):
        ex.submit(tasks.square, 2)
    ex.shutdown(wait=True)


# --------------------------------------------------------------------------
# (d) large payloads
# --------------------------------------------------------------------------


def test_100mb_argument_and_result_round_trip() -> None:
    size = 100 * MB
    data = os.urandom(1024) * (size // 1024)
    with gofutures.ProcessPoolExecutor(1) as ex:
        assert ex.submit(tasks.byte_len, data).result(timeout=30) == size
        result = ex.submit(tasks.make_bytes, size).result(timeout=30)
        assert len(result) == size and result[:4] == b"\xab" * 4 and result[-1:] == b"\xab"
        del result
        echoed = ex.submit(tasks.echo_bytes, data).result(timeout=30)
        assert echoed == data
        del echoed
        assert ex.submit(tasks.square, 9).result(timeout=TIMEOUT) == 81


# --------------------------------------------------------------------------
# (e) a result that fails to unpickle in the parent
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ctx", [None, "spawn"])
def test_result_unpickling_error_fails_only_that_future(ctx: str | None) -> None:
    with gofutures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
        before = ex.submit(tasks.square, 2)
        bad = ex.submit(tasks.return_unpickles_badly)
        after = [ex.submit(tasks.square, i) for i in range(5)]
        assert before.result(timeout=TIMEOUT) == 4
        exc = bad.exception(timeout=TIMEOUT)
        assert type(exc) is RuntimeError and str(exc) == "cannot unpickle me", repr(exc)
        assert [f.result(timeout=TIMEOUT) for f in after] == [0, 1, 4, 9, 16]
        assert ex.submit(tasks.square, 6).result(timeout=TIMEOUT) == 36


def test_big_results_and_errors_arrive_whole() -> None:
    """Results of 64 KiB and more are unpickled from pooled C memory that is
    reused for the next ones: each must arrive intact, errors included."""
    big = 1 << 18
    with gofutures.ProcessPoolExecutor(2) as ex:
        blobs = [ex.submit(tasks.make_bytes, big + i) for i in range(20)]
        errors = [ex.submit(tasks.raise_value_error, "e" * big + str(i)) for i in range(5)]
        for i, f in enumerate(blobs):
            data = f.result(timeout=TIMEOUT)
            assert type(data) is bytes and data == b"\xab" * (big + i)
        for i, f in enumerate(errors):
            exc = f.exception(timeout=TIMEOUT)
            assert type(exc) is ValueError and str(exc) == "e" * big + str(i)
        # A result kept by the caller stays valid after later deliveries.
        first = blobs[0].result()
        more = [ex.submit(tasks.make_bytes, big).result(timeout=TIMEOUT) for _ in range(5)]
        assert first == b"\xab" * big
        assert all(m == b"\xab" * big for m in more)


def test_big_arguments_are_given_back_when_sent_cancelled_or_dropped() -> None:
    """A big argument is written to the worker from the caller's own buffer
    (no copy); the reference gofutures takes on it ends in every case."""
    big = {name: bytes([i]) * (1 << 20) for i, name in enumerate(("sent", "cancelled", "dropped"))}
    base = {name: sys.getrefcount(big[name]) for name in big}

    def released(name: str, nudge: Any) -> bool:
        # Lent buffers are given back on the next submit or completion batch.
        deadline = time.monotonic() + TIMEOUT
        while sys.getrefcount(big[name]) > base[name] and time.monotonic() < deadline:
            nudge()
            time.sleep(0.01)
        return sys.getrefcount(big[name]) == base[name]

    with gofutures.ProcessPoolExecutor(1) as ex:

        def nudge() -> None:
            ex.submit(tasks.square, 1).result(timeout=TIMEOUT)

        assert ex.submit(tasks.byte_len, big["sent"]).result(timeout=TIMEOUT) == 1 << 20
        assert released("sent", nudge)
        blocker = ex.submit(tasks.sleep_then_return, 0.3, "done")
        queued = [ex.submit(tasks.square, 2) for _ in range(5)]  # fill the RUNNING window
        doomed = ex.submit(tasks.byte_len, big["cancelled"])
        assert doomed.cancel()
        assert blocker.result(timeout=TIMEOUT) == "done"
        assert [f.result(timeout=TIMEOUT) for f in queued] == [4] * 5
        assert released("cancelled", nudge)
    broken = gofutures.ProcessPoolExecutor(1)
    try:
        killer = broken.submit(tasks.kill_self, signal.SIGKILL)
        lost = broken.submit(tasks.byte_len, big["dropped"])
        with pytest.raises(gprocess.BrokenProcessPool):
            killer.result(timeout=TIMEOUT)
        with pytest.raises(gprocess.BrokenProcessPool):
            lost.result(timeout=TIMEOUT)
    finally:
        broken.shutdown(wait=True)
    assert released("dropped", lambda: None)


# --------------------------------------------------------------------------
# (f) threads and Ctrl-C
# --------------------------------------------------------------------------


def test_pool_usable_from_another_thread() -> None:
    results: dict[str, object] = {}

    def body() -> None:
        try:
            with gofutures.ProcessPoolExecutor(2) as ex:
                results["map"] = list(ex.map(tasks.square, range(20), chunksize=4))
                results["submit"] = ex.submit(tasks.add, 1, 2).result(timeout=TIMEOUT)
                results["error"] = type(
                    ex.submit(tasks.raise_value_error, "x").exception(timeout=TIMEOUT)
                )
        except BaseException as exc:
            results["failure"] = exc

    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert "failure" not in results, results.get("failure")
    assert results == {
        "map": [i * i for i in range(20)],
        "submit": 3,
        "error": ValueError,
    }


SIGINT_SCRIPT = """
import os, sys, threading, time
import gofutures
from tests._proc_tasks import sleep_then_return, square

holder = {}

def make_pool():
    ex = gofutures.ProcessPoolExecutor(1)
    assert ex.submit(square, 3).result(timeout=10) == 9
    holder["ex"] = ex

t = threading.Thread(target=make_pool)
t.start()
t.join()
ex = holder["ex"]
fut = ex.submit(sleep_then_return, 30, "late")
print("READY", flush=True)
try:
    fut.result()
except KeyboardInterrupt:
    print("INTERRUPTED", time.monotonic(), flush=True)
    os._exit(0)
print("NOT-INTERRUPTED", flush=True)
os._exit(1)
"""


def test_sigint_interrupts_result_within_a_second() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SIGINT_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.2)  # let the main thread block inside result()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    fields = out.split()
    assert fields[:1] == ["INTERRUPTED"], (out, err)
    assert float(fields[1]) - sent < 1.0
    assert proc.returncode == 0


# --------------------------------------------------------------------------
# (g) worker output
# --------------------------------------------------------------------------


def test_worker_prints_reach_parent_stdout() -> None:
    proc = run_python(
        """
        import gofutures
        from tests._proc_tasks import print_marker
        for ctx in (None, "spawn", "fork"):
            with gofutures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                assert ex.submit(print_marker, f"WORKER-SAYS-{ctx}").result(timeout=10)
        print("PARENT-DONE", flush=True)
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for ctx in (None, "spawn", "fork"):
        assert f"WORKER-SAYS-{ctx}\n" in proc.stdout, proc.stdout
        assert f"WORKER-SAYS-{ctx}-stderr\n" in proc.stderr, proc.stderr
    assert proc.stdout.rstrip().endswith("PARENT-DONE")


def test_worker_prints_captured_by_capfd(capfd: pytest.CaptureFixture[str]) -> None:
    with gofutures.ProcessPoolExecutor(1) as ex:
        assert ex.submit(tasks.print_marker, "CAPFD-MARK").result(timeout=TIMEOUT)
    out, err = capfd.readouterr()
    assert "CAPFD-MARK\n" in out
    assert "CAPFD-MARK-stderr\n" in err


def test_broken_pool_message_names_the_death_once() -> None:
    # Futures get the stdlib's "terminated abruptly while the future was
    # running" sentence; later submits its "not usable anymore" one, each
    # with the details in parentheses, never one sentence inside the other.
    ex = gofutures.ProcessPoolExecutor(1)
    try:
        future = ex.submit(tasks.os_exit, 3)
        with pytest.raises(gprocess.BrokenProcessPool) as first:
            future.result(timeout=30)
        with pytest.raises(gprocess.BrokenProcessPool) as later:
            ex.submit(abs, -1).result(timeout=30)
    finally:
        ex.shutdown()
    assert str(first.value).startswith(gprocess._DIED_MESSAGE)
    text = str(later.value)
    assert text.startswith(gprocess._BROKEN_MESSAGE + " (worker pid ")
    assert "exited with code 3" in text
    assert gprocess._DIED_MESSAGE not in text
