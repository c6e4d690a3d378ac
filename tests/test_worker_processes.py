"""Worker processes behave like the stdlib's: how they start (executable,
interpreter flags), what they inherit (threads' locks, signal dispositions,
descriptors), in every start method.

Each case is a real script run with ``python script.py`` against both
implementations (tests/_scripts.py), and both must print the same thing. A
pool process left behind keeps the script's stdout open, so the run does not
end and fails as ScriptHung: that is the orphan check of every case here.

Each test runs in every start method; some start methods never had the bug
(a 'spawn' worker forks from no zygote) and guard parity there: the docstring
of each section says which cases failed before the fix (issue 10).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._scripts import IMPLS, ScriptHung, assert_same_output, run_script, write_script
from ._subproc import child_env

ALL_CTX = [None, "fork", "forkserver", "spawn"]


def _source(template: str, **values: object) -> str:
    """template with each __NAME__ replaced by repr(value); __CTX__ by the
    expression for the context of that start method (the stdlib takes no
    name), with multiprocessing imported as mp."""
    ctx = values.pop("ctx", None)
    template = template.replace("__CTX__", f"mp.get_context({ctx!r})" if ctx else "None")
    for name, value in values.items():
        template = template.replace(f"__{name.upper()}__", repr(value))
    return "import multiprocessing as mp\n" + textwrap.dedent(template)


def _write_module(directory: Path, name: str, source: str) -> None:
    """Put a module next to the script of each implementation."""
    for impl in IMPLS:
        sub = directory / impl.replace(".", "_")
        sub.mkdir(exist_ok=True)
        (sub / name).write_text(source)


def _kill_listed(path: Path) -> None:
    """SIGKILL every pid listed (one a line) in path, if it exists."""
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line), signal.SIGKILL)


# --------------------------------------------------------------------------
# 10.4: a module that starts a thread at import never lives in a zygote that
# forks: its locks would be copied mid-state into every later worker.
# Failed before: None, 'fork', 'forkserver' (a zygote learned the module);
# the threaded program: None; the thread-after-probe zygote: both.
# --------------------------------------------------------------------------

THREADED_MODULE = """
import threading, time

lock = threading.Lock()

def _hold():
    while True:
        with lock:
            time.sleep(0.005)

threading.Thread(target=_hold, daemon=True).start()

def use(i):
    with lock:  # a fork taken while _hold held it waits forever
        return i * i
"""

THREADED_SCRIPT = """
import os
import __CF__ as cf

def task(i):
    import threaded_mod
    return threaded_mod.use(i)

if __name__ == "__main__":
    results = []
    for batch in range(3):
        ex = cf.ProcessPoolExecutor(2, mp_context=__CTX__, max_tasks_per_child=__QUOTA__)
        futures = [ex.submit(task, i) for i in range(6)]
        done, not_done = cf.wait(futures, timeout=30)
        if not_done:
            print(f"batch {batch}: {len(not_done)} of {len(futures)} tasks deadlocked", flush=True)
            os._exit(1)
        results.append(sum(f.result() for f in futures))
        ex.shutdown()
    print(results)
"""


@pytest.mark.parametrize(
    ("ctx", "quota"),
    [
        (None, None),
        ("fork", None),
        ("forkserver", None),
        ("spawn", None),
        (None, 1),
        ("forkserver", 1),
        ("spawn", 1),
    ],
)
def test_module_that_starts_a_thread_does_not_deadlock_later_workers(
    tmp_path: Path, ctx: str | None, quota: int | None
) -> None:
    _write_module(tmp_path, "threaded_mod.py", THREADED_MODULE)
    assert_same_output(tmp_path, _source(THREADED_SCRIPT, ctx=ctx, quota=quota), timeout=180)


# --------------------------------------------------------------------------
# 10.8: a task that forks a long-lived child does not hold up shutdown or
# the interpreter's exit; the child keeps none of the pool's descriptors.
# Failed before: None and 'fork' (the program's zygote turned worker: the
# daemon held the zygote's reply pipe, so its end was never seen).
# --------------------------------------------------------------------------

DAEMON_SCRIPT = """
import os, subprocess, sys, time
import __CF__ as cf

PIDS = os.path.abspath("daemons.txt")

def detach():
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)

def fork_daemon():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        detach()
        time.sleep(120)
        os._exit(0)
    with open(PIDS, "a") as f:
        f.write(f"{pid}\\n")
    return "forked"

def spawn_daemon():
    # os.posix_spawn passes on every descriptor not marked close-on-exec.
    pid = os.posix_spawn(
        sys.executable, [sys.executable, "-c", "import time; time.sleep(120)"], os.environ,
        file_actions=[(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)],
        setsid=True,
    )
    with open(PIDS, "a") as f:
        f.write(f"{pid}\\n")
    return "spawned"

if __name__ == "__main__":
    # One worker: with None and 'fork' it is the program's zygote turned
    # worker, which also holds the zygote's pipes.
    ex = cf.ProcessPoolExecutor(1, mp_context=__CTX__)
    print(ex.submit(fork_daemon).result(timeout=30), flush=True)
    print(ex.submit(spawn_daemon).result(timeout=30), flush=True)
    if __SHUTDOWN__:
        start = time.monotonic()
        ex.shutdown(wait=True)
        print("shutdown returned within 20 s:", time.monotonic() - start < 20, flush=True)
    print("exiting", flush=True)
"""


def _run_until_exit(directory: Path, source: str, impl: str, timeout: float) -> tuple[int, str]:
    """Run the script with its output in a file and wait for the script's own
    process to exit (not for the end of its output: with the stdlib, a daemon
    that a task started keeps multiprocessing's resource tracker, and with it
    the script's stdout, alive). Returns (exit code, stdout)."""
    sub = directory / impl.replace(".", "_")
    sub.mkdir(exist_ok=True)
    path = write_script(sub, source, impl)
    out = sub / "stdout.txt"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(path)],
            cwd=sub,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env(),
            start_new_session=True,
        )
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ScriptHung(f"{impl}: script did not exit in {timeout} s\n{out.read_text()}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return code, out.read_text()


@pytest.mark.parametrize("shutdown", [True, False], ids=["shutdown", "exit"])
@pytest.mark.parametrize("ctx", ALL_CTX)
def test_task_that_forks_a_daemon_does_not_hold_up_shutdown(
    tmp_path: Path, ctx: str | None, shutdown: bool
) -> None:
    source = _source(DAEMON_SCRIPT, ctx=ctx, shutdown=shutdown)
    outputs = {}
    try:
        for impl in IMPLS:
            code, outputs[impl] = _run_until_exit(tmp_path, source, impl, timeout=60)
            assert code == 0, (impl, outputs[impl])
    finally:
        for impl in IMPLS:
            _kill_listed(tmp_path / impl.replace(".", "_") / "daemons.txt")
    assert outputs["gofutures"] == outputs["concurrent.futures"]


INHERITED_SCRIPT = """
import os
import __CF__ as cf

def inheritable():
    found = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if fd > 2 and os.get_inheritable(fd):
                found.append(fd)
        except OSError:  # listdir's own descriptor, closed since
            pass
    return found

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2, mp_context=__CTX__) as ex:
        print(ex.submit(inheritable).result(timeout=30))
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_a_task_can_hand_on_no_pool_descriptor(tmp_path: Path, ctx: str | None) -> None:
    # Better than the stdlib, whose workers hold inheritable pipes: a program
    # a task starts (os.posix_spawn, os.system, subprocess with close_fds
    # false) gets none of the pool's descriptors.
    proc = run_script(tmp_path, _source(INHERITED_SCRIPT, ctx=ctx), "gofutures")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n", proc.stderr


# --------------------------------------------------------------------------
# 10.11: workers run with the program's interpreter flags.
# Failed before: every start method (a later pool's fresh zygote, 'spawn').
# --------------------------------------------------------------------------

FLAGS_SCRIPT = """
import os, sys
import __CF__ as cf

def flags():
    f = sys.flags
    return (f.isolated, f.ignore_environment, f.no_user_site, f.safe_path, f.optimize,
            __debug__, "sitecustomize" in sys.modules)

if __name__ == "__main__":
    print("program:", flags())
    with cf.ProcessPoolExecutor(2, mp_context=__CTX__) as ex:
        print("worker:", ex.submit(flags).result(timeout=30))
    # A later pool starts its workers another way (a fresh zygote).
    with cf.ProcessPoolExecutor(2, mp_context=__CTX__, max_tasks_per_child=__QUOTA__) as ex:
        print("worker:", ex.submit(flags).result(timeout=30))
    marker = os.environ["SITECUSTOMIZE_MARKER"]
    print("sitecustomize ran:", os.path.exists(marker))
"""

SITECUSTOMIZE = """
import os
open(os.environ["SITECUSTOMIZE_MARKER"], "a").close()
"""


@pytest.mark.parametrize("flags", [("-I",), ("-E", "-s", "-P", "-O")], ids=["I", "EsPO"])
@pytest.mark.parametrize("ctx", ALL_CTX)
def test_workers_run_with_the_programs_interpreter_flags(
    tmp_path: Path, ctx: str | None, flags: tuple[str, ...]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    quota = None if ctx == "fork" else 1
    runs = {}
    for impl in IMPLS:
        marker = tmp_path / f"{impl}.sitecustomize-ran"
        env = {"PYTHONPATH": str(site), "SITECUSTOMIZE_MARKER": str(marker)}
        runs[impl] = run_script(
            tmp_path, _source(FLAGS_SCRIPT, ctx=ctx, quota=quota), impl, flags=flags, env=env
        )
        assert runs[impl].returncode == 0, runs[impl].stderr
    assert "sitecustomize ran: False" in runs["concurrent.futures"].stdout
    assert runs["gofutures"].stdout == runs["concurrent.futures"].stdout, runs["gofutures"].stderr


# --------------------------------------------------------------------------
# 10.12: workers start with multiprocessing's executable.
# Failed before: all of them.
# --------------------------------------------------------------------------

EXECUTABLE_SCRIPT = """
import os, sys
import __CF__ as cf

def pids():
    return os.getpid(), os.getppid()

def started_by_wrapper(pool):
    # The wrapper logs its pid, which the interpreter it executes keeps: the
    # worker's own (spawned) or its parent's (a forkserver, a zygote).
    with open(__LOG__) as f:
        logged = {int(line) for line in f}
    return bool(logged & set(pool.submit(pids).result(timeout=30)))

if __name__ == "__main__":
    ctx = __CTX__
    if __VIA_CONTEXT__:
        ctx.set_executable(__WRAPPER__)
    else:
        mp.set_executable(__WRAPPER__)
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        print(sorted(ex.map(abs, range(-3, 3))))
        print("started by the wrapper:", started_by_wrapper(ex))
"""

WRAPPER = """#!/bin/sh
echo "$$" >> {log}
exec {python} "$@"
"""


@pytest.mark.parametrize("via_context", [False, True], ids=["mp", "context"])
@pytest.mark.parametrize("ctx", ["forkserver", "spawn"])
def test_workers_start_with_multiprocessings_executable(
    tmp_path: Path, ctx: str, via_context: bool
) -> None:
    log = tmp_path / "wrapper.log"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(WRAPPER.format(log=log, python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    for impl in IMPLS:
        log.unlink(missing_ok=True)
        source = _source(
            EXECUTABLE_SCRIPT, ctx=ctx, via_context=via_context, wrapper=str(wrapper), log=str(log)
        )
        proc = run_script(tmp_path, source, impl)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == ["[0, 1, 1, 2, 2, 3]", "started by the wrapper: True"], (
            impl,
            proc.stdout,
            proc.stderr,
        )


def test_a_fresh_zygote_starts_with_multiprocessings_executable(tmp_path: Path) -> None:
    # mp_context None with max_tasks_per_child in a program that runs other
    # threads (a thread pool's) forks from a fresh zygote interpreter (where
    # the stdlib spawns), which must be multiprocessing's executable.
    log = tmp_path / "wrapper.log"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(WRAPPER.format(log=log, python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    source = EXECUTABLE_SCRIPT.replace(
        "    with cf.ProcessPoolExecutor(2, mp_context=ctx)",
        "    tp = cf.ThreadPoolExecutor(1)  # its worker thread stays\n"
        "    tp.submit(abs, 1).result()\n"
        "    with cf.ProcessPoolExecutor(2, mp_context=ctx, max_tasks_per_child=2)",
    )
    assert "max_tasks_per_child=2" in source
    source = _source(source, ctx=None, via_context=False, wrapper=str(wrapper), log=str(log))
    proc = run_script(tmp_path, source, "gofutures")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[0, 1, 1, 2, 2, 3]", "started by the wrapper: True"], (
        proc.stderr
    )


# --------------------------------------------------------------------------
# 10.14: signal dispositions in workers and in what they start, and a
# terminal's Ctrl-C. Failed before: None, 'fork', 'forkserver'.
# --------------------------------------------------------------------------

SIGNALS_SCRIPT = """
import os, signal, subprocess, sys, time
import __CF__ as cf

def masks():
    # Signals 1-31: glibc catches two real-time signals of its own (32, 33)
    # in a process once it started a thread, which Python never sees.
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("SigBlk", "SigIgn", "SigCgt"):
                fields[key] = hex(int(value, 16) & 0xFFFFFFFF)
    return fields

def dispositions():
    child = subprocess.run(
        [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    program = subprocess.run(["grep", "-E", "Sig(Blk|Ign)", "/proc/self/status"],
                             capture_output=True, text=True, check=True).stdout.split()
    return (masks(), str(signal.getsignal(signal.SIGINT)), str(signal.getsignal(signal.SIGCHLD)),
            str(signal.getsignal(signal.SIGPIPE)), child, program)

def interrupted():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(10)
    return "not interrupted"

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:
        for line in ex.submit(dispositions).result(timeout=30):
            print(line)
        exc = ex.submit(interrupted).exception(timeout=30)
        print("task:", type(exc).__name__)
        # The worker goes on.
        print(ex.submit(abs, -4).result(timeout=30))
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_workers_have_default_signal_dispositions(tmp_path: Path, ctx: str | None) -> None:
    assert_same_output(tmp_path, _source(SIGNALS_SCRIPT, ctx=ctx))


IDLE_SIGINT_SCRIPT = """
import os, signal, time
import __CF__ as cf

if __name__ == "__main__":
    ex = cf.ProcessPoolExecutor(1, mp_context=__CTX__)
    pid = ex.submit(os.getpid).result(timeout=30)
    time.sleep(1)  # the worker sent the result back (the stdlib's ignores a SIGINT then)
    os.kill(pid, signal.SIGINT)  # the worker waits for a task: it ends
    time.sleep(1)
    try:
        outcome = type(ex.submit(abs, -1).exception(timeout=30)).__name__
    except Exception as exc:
        outcome = type(exc).__name__
    print("after SIGINT to an idle worker:", outcome)
    ex.shutdown()
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_sigint_ends_an_idle_worker_as_in_the_stdlib(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, _source(IDLE_SIGINT_SCRIPT, ctx=ctx))
    assert "BrokenProcessPool" in gof.stdout


CTRL_C_SCRIPT = """
import os, time
import __CF__ as cf

STARTED = os.path.abspath("started.txt")

def long_task(i):
    with open(STARTED, "a") as f:
        f.write(f"{i}\\n")
    time.sleep(30)
    return "not interrupted"

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2, mp_context=__CTX__) as ex:
        futures = [ex.submit(long_task, i) for i in range(2)]
        try:
            while not os.path.exists(STARTED) or len(open(STARTED).read().split()) < 2:
                time.sleep(0.01)
            print("ready", flush=True)
            # Not cf.wait(): a KeyboardInterrupt there can leave a future's
            # lock held (the stdlib's as well as gofutures').
            time.sleep(60)
            print("main: not interrupted", flush=True)
        except KeyboardInterrupt:
            print("main: KeyboardInterrupt", flush=True)
        print("tasks:", [type(f.exception(timeout=30)).__name__ for f in futures], flush=True)
        print("pool goes on:", ex.submit(abs, -5).result(timeout=30), flush=True)
"""


def _ctrl_c(directory: Path, source: str, impl: str) -> str:
    """Run the script in its own process group, send SIGINT to the group
    (what a terminal's Ctrl-C does) once it prints "ready", and return its
    output."""
    sub = directory / impl.replace(".", "_")
    sub.mkdir(exist_ok=True)
    path = write_script(sub, source, impl)
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=sub,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first == "ready\n":
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        raise ScriptHung(f"{impl}: the script did not end after Ctrl-C") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 0, (impl, first + out, err)
    return first + out


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_ctrl_c_in_a_terminal_interrupts_the_tasks_as_the_stdlibs(
    tmp_path: Path, ctx: str | None
) -> None:
    source = _source(CTRL_C_SCRIPT, ctx=ctx)
    outputs = {impl: _ctrl_c(tmp_path, source, impl) for impl in IMPLS}
    assert "main: KeyboardInterrupt" in outputs["concurrent.futures"]
    assert outputs["gofutures"] == outputs["concurrent.futures"]


# --------------------------------------------------------------------------
# 10.4, continued: threads in the program, and a zygote that runs a thread
# anyway.
# --------------------------------------------------------------------------

# A program that runs a thread when its first pool starts: a zygote forked
# from it then holds that thread's lock forever. The stdlib's default with
# max_tasks_per_child spawns its workers; gofutures must not fork them from
# such a zygote.
THREADED_PROGRAM_SCRIPT = """
import os
import __CF__ as cf
import threaded_mod

def task(i):
    return threaded_mod.use(i)

if __name__ == "__main__":
    threaded_mod.start()
    with cf.ProcessPoolExecutor(2, mp_context=__CTX__, max_tasks_per_child=1) as ex:
        futures = [ex.submit(task, i) for i in range(6)]
        done, not_done = cf.wait(futures, timeout=30)
        if not_done:
            print(f"{len(not_done)} of {len(futures)} tasks deadlocked", flush=True)
            os._exit(1)
        print(sum(f.result() for f in futures))
"""

THREADED_LIBRARY = THREADED_MODULE.replace(
    "threading.Thread(target=_hold, daemon=True).start()",
    "def start():\n    threading.Thread(target=_hold, daemon=True).start()",
)


@pytest.mark.parametrize("ctx", [None, "forkserver", "spawn"])
def test_a_threaded_program_does_not_fork_workers_with_held_locks(
    tmp_path: Path, ctx: str | None
) -> None:
    _write_module(tmp_path, "threaded_mod.py", THREADED_LIBRARY)
    assert_same_output(tmp_path, _source(THREADED_PROGRAM_SCRIPT, ctx=ctx), timeout=120)


# A module that starts its thread only the third time it is imported: in a
# gofutures zygote, that is when the zygote itself imports it, after a worker
# (first) and the zygote's forked probe (second) found it starts none. The
# zygote then runs two threads and must not fork any more. (Not that modules
# do this: any nondeterminism would do it.)
THIRD_IMPORT_MODULE = (
    """
import os
_count_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.txt")
with open(_count_file, "a+") as _f:
    _f.write("x")
    _f.seek(0)
    IMPORTS = len(_f.read())
"""
    + THREADED_LIBRARY
    + """
if IMPORTS == 3:
    start()
"""
)

THIRD_IMPORT_SCRIPT = """
import os, time
import __CF__ as cf

def task(i):
    import threaded_mod
    return threaded_mod.use(i)

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__, max_tasks_per_child=1) as ex:
        print(ex.submit(task, 1).result(timeout=30))
        time.sleep(1)  # the zygote learns the worker's imports meanwhile
        futures = [ex.submit(task, i) for i in range(5)]
        done, not_done = cf.wait(futures, timeout=30)
        if not_done:
            print(f"{len(not_done)} of {len(futures)} tasks deadlocked", flush=True)
            os._exit(1)
        print(sum(f.result() for f in futures))
"""


@pytest.mark.parametrize("ctx", [None, "forkserver"])
def test_a_zygote_that_runs_a_thread_starts_fresh_workers(tmp_path: Path, ctx: str | None) -> None:
    _write_module(tmp_path, "threaded_mod.py", THIRD_IMPORT_MODULE)
    assert_same_output(tmp_path, _source(THIRD_IMPORT_SCRIPT, ctx=ctx), timeout=120)


PROBE_SCRIPT = """
import json, sys
from gofutures import _zygote

_zygote._PROBE_TIMEOUT_S = 3.0
sys.path.insert(0, ".")
out = {
    "threads": _zygote.thread_count(),
    "threaded": _zygote._probe_imports(["plain_a", "failing", "threaded_mod", "plain_b"]),
    "hangs": _zygote._probe_imports(["plain_a", "hanging", "plain_b"]),
    "imported here": sorted(n for n in ("plain_a", "plain_b", "threaded_mod") if n in sys.modules),
    "threads after": _zygote.thread_count(),
}
print(json.dumps(out))
"""


def test_the_zygotes_probe_tells_imports_that_start_a_thread(tmp_path: Path) -> None:
    # In a fresh interpreter, as a zygote runs: the probe imports in a forked
    # child, never here; it stops at a module that starts a thread (what
    # follows is tried again by the zygote) and at one that hangs (nothing
    # more is tried).
    (tmp_path / "plain_a.py").write_text("")
    (tmp_path / "plain_b.py").write_text("")
    (tmp_path / "failing.py").write_text("raise ImportError('no')\n")
    (tmp_path / "hanging.py").write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "threaded_mod.py").write_text(THREADED_MODULE)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "threads": 1,
        "threaded": [["plain_a"], ["plain_b"]],
        "hangs": [["plain_a"], []],
        "imported here": [],
        "threads after": 1,
    }


# --------------------------------------------------------------------------
# Workers do not read the program's stdin: multiprocessing's child bootstrap
# points sys.stdin at /dev/null (util._close_stdin).
# Failed before: None and 'fork' (a fork of the program read its input away).
# --------------------------------------------------------------------------

STDIN_SCRIPT = """
import sys
import __CF__ as cf

def read_stdin():
    return sys.stdin.read()

def ask():
    try:
        return input()
    except EOFError as e:
        return f"EOFError: {e}"

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:
        print("worker read:", repr(ex.submit(read_stdin).result(timeout=30)))
        print("worker input:", ex.submit(ask).result(timeout=30))
    print("program read:", repr(sys.stdin.read()))
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_workers_do_not_read_the_programs_stdin(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, _source(STDIN_SCRIPT, ctx=ctx), stdin="hello input\n")
    assert "program read: 'hello input\\n'" in gof.stdout


# --------------------------------------------------------------------------
# A multiprocessing Connection or a socket among a task's arguments reaches
# the worker as the stdlib sends it (ForkingPickler: the descriptor through
# multiprocessing's resource sharer).
# Failed before: every start method (a socket did not pickle; a Connection
# went as its descriptor's number, another file or none in the worker).
# --------------------------------------------------------------------------

PIPE_ARG_SCRIPT = """
import socket
import __CF__ as cf

def send_through(conn, msg):
    conn.send(msg.upper())
    conn.close()
    return "sent"

def send_on_socket(sock, msg):
    sock.sendall(msg.encode())
    sock.close()
    return "sent"

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:
        print(ex.submit(pow, 2, 2).result(timeout=30))  # workers run before the pipes exist
        for _ in range(3):
            mine, theirs = mp.Pipe()
            print(ex.submit(send_through, theirs, "hello").result(timeout=30),
                  mine.recv() if mine.poll(10) else "nothing")
            theirs.close()
        mine, theirs = socket.socketpair()
        print(ex.submit(send_on_socket, theirs, "hi").result(timeout=30), mine.recv(10))
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_connection_and_socket_arguments(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, _source(PIPE_ARG_SCRIPT, ctx=ctx))
    assert gof.stdout.splitlines() == ["4", "sent HELLO", "sent HELLO", "sent HELLO", "sent b'hi'"]


# --------------------------------------------------------------------------
# A forked worker writes where the program's sys.stdout/sys.stderr write (a
# redirect to a file goes on working), with their encoding and errors.
# Failed before: None and 'fork' (the worker wrote to fd 1 and 2, UTF-8
# strict, whatever the program had set).
# --------------------------------------------------------------------------

STREAMS_SCRIPT = """
import sys
import __CF__ as cf

def task(i):
    print("worker says", i, "caf\\u00e9 \\u2603")
    print("worker warns", i, file=sys.stderr)
    return sys.stdout.encoding, sys.stdout.errors

if __name__ == "__main__":
    real = sys.stdout
    sys.stdout = open("out.log", "w", encoding="ascii", errors="backslashreplace")
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:
        got = ex.submit(task, 1).result(timeout=30)
    sys.stdout.close()
    sys.stdout = real
    print("worker's stdout:", got)
    print("the log holds:", open("out.log").read().splitlines())
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_workers_write_where_the_programs_streams_write(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, _source(STREAMS_SCRIPT, ctx=ctx))
    if ctx in (None, "fork"):
        assert "caf\\\\xe9" in gof.stdout


def test_worker_waits_for_the_threads_a_task_started(tmp_path: Path) -> None:
    # multiprocessing's Process._bootstrap runs threading._shutdown() before
    # the worker exits, so a non-daemon thread a task started finishes its
    # work. gofutures' forked workers ('fork', 'forkserver') left with
    # os._exit at once: the thread's write was lost.
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import os
        import threading
        import time
        import __CF__ as cf

        def later(path):
            time.sleep(0.5)
            with open(path, "w") as f:
                f.write("done")
            print("background write finished", flush=True)

        def task(path):
            threading.Thread(target=later, args=(path,)).start()
            return "started"

        if __name__ == "__main__":
            for method in ("fork", "forkserver", "spawn"):
                path = os.path.join(os.getcwd(), "bg-" + method)
                with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method)) as ex:
                    print(method, ex.submit(task, path).result(), flush=True)
                print("shutdown returned, written:", os.path.exists(path), flush=True)
                os.remove(path) if os.path.exists(path) else None
        """,
    )


def test_workers_start_processes_the_pools_way(tmp_path: Path) -> None:
    # multiprocessing used inside a task starts its processes with the
    # pool's start method in the stdlib's workers (spawn and forkserver set
    # it in the child; a fork child inherits the program's, which the
    # default pool fixed). gofutures' workers had none set: a Pool made in a
    # task of a 'spawn' pool forked.
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf

        def task():
            return mp.get_start_method(allow_none=True), type(mp.get_context()).__name__

        if __name__ == "__main__":
            for method in ("fork", "forkserver", "spawn", None):
                ctx = mp.get_context(method) if method else None
                with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                    print(method, ex.submit(task).result())
            try:
                mp.set_start_method("spawn")  # the default pool fixed it
            except RuntimeError as e:
                print("RuntimeError:", e)
        """,
    )


def test_workers_see_the_programs_argv_and_working_directory(tmp_path: Path) -> None:
    # The stdlib's 'spawn' and 'forkserver' workers take sys.argv and the
    # working directory from the program when they start (multiprocessing's
    # preparation data). gofutures' fresh interpreters had their own argv
    # (['-c']), and a forkserver zygote's workers stayed in the directory the
    # zygote started in after the program had changed directory.
    (tmp_path / "elsewhere").mkdir()
    assert_same_output(
        tmp_path,
        """
        import os, sys
        import multiprocessing as mp
        import __CF__ as cf

        def where(program_cwd):
            return sys.argv[1:], os.getcwd() == program_cwd

        if __name__ == "__main__":
            sys.argv[1:] = ["--flag", "value"]
            for directory in (".", "../elsewhere"):
                os.chdir(directory)
                for method in ("fork", "forkserver", "spawn", None):
                    ctx = mp.get_context(method) if method else None
                    with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                        print(method, directory, ex.submit(where, os.getcwd()).result())
        """,
    )


def test_shared_memory_a_task_attaches_to_outlives_its_worker(tmp_path: Path) -> None:
    # The stdlib's spawned and forkserver workers report shared memory to the
    # program's resource tracker. gofutures' fresh workers started one of
    # their own, which unlinked a segment the task had only attached to when
    # the worker exited: the next pool's task found it gone.
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        from multiprocessing import shared_memory
        import __CF__ as cf

        def bump(name):
            shm = shared_memory.SharedMemory(name=name)
            shm.buf[0] += 1
            shm.close()

        if __name__ == "__main__":
            shm = shared_memory.SharedMemory(create=True, size=1)
            shm.buf[0] = 0
            for method, per_child in (("spawn", None), ("forkserver", None), ("fork", None), (None, 1)):
                ctx = mp.get_context(method) if method else None
                for _ in range(2):
                    with cf.ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=per_child) as ex:
                        ex.submit(bump, shm.name).result()
                print(method, per_child, shm.buf[0])
            shm.close()
            shm.unlink()
        """,
    )


def test_an_exception_that_does_not_pickle_stays_in_the_remote_traceback(tmp_path: Path) -> None:
    # The stdlib sends the pickling error in its place, with a remote
    # traceback that shows the task's exception first ("During handling of
    # the above exception ..."). gofutures dropped that context: the
    # original error was nowhere.
    assert_same_output(
        tmp_path,
        """
        import threading
        import __CF__ as cf

        class DbError(Exception):
            def __init__(self, msg):
                super().__init__(msg)
                self.conn_lock = threading.Lock()

        def task():
            raise DbError("row 42 violates constraint")

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:
                try:
                    ex.submit(task).result()
                except TypeError as e:
                    print(type(e).__name__, e)
                    remote = str(e.__cause__)
                    print("DbError: row 42 violates constraint" in remote)
                    print("During handling of the above exception" in remote)
        """,
    )


def test_files_and_memoryviews_refused_as_arguments(tmp_path: Path) -> None:
    # The stdlib's pickle refuses them. gofutures fell back to cloudpickle
    # (it does for code), which sent an open file as a StringIO copy of its
    # contents (writes went nowhere) and a memoryview as bytes.
    assert_same_output(
        tmp_path,
        """
        import os
        import sys
        import __CF__ as cf

        def kind(x):
            return type(x).__name__

        def global_kind():  # __main__ code, sent by value in gofutures
            return kind(memoryview(b"x"))

        if __name__ == "__main__":
            makers = [
                ("read", lambda: open(__file__)),
                ("write", lambda: open(os.path.join(os.getcwd(), "w.txt"), "w")),
                ("binary", lambda: open(__file__, "rb")),
                ("memoryview", lambda: memoryview(b"ab")),
                ("stdout", lambda: sys.stdout),
            ]
            with cf.ProcessPoolExecutor(1) as ex:
                for name, make in makers:
                    try:
                        print(name, ex.submit(kind, make()).result())
                    except TypeError as e:
                        print(name, "TypeError:", e)
                print(ex.submit(global_kind).result())
        """,
    )


def test_remote_traceback_names_the_script_and_its_lines(tmp_path: Path) -> None:
    # The stdlib's 'spawn' and 'forkserver' workers import the main module,
    # so a remote traceback names the script and shows its source lines.
    # gofutures sends __main__ functions by value with cloudpickle, which
    # renames their file "<dynamic-code>": no file, no source line.
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import os
        import __CF__ as cf

        def boom(x):
            y = x + 1
            raise ValueError("boom %d" % y)

        if __name__ == "__main__":
            for method in ("spawn", "forkserver", "fork"):
                with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method)) as ex:
                    try:
                        ex.submit(boom, 1).result()
                    except ValueError as e:
                        remote = str(e.__cause__).replace(os.path.dirname(os.path.abspath(__file__)), "DIR")
                        print(method, [line.strip() for line in remote.splitlines() if "script.py" in line or "boom" in line])
        """,
    )


# --------------------------------------------------------------------------
# What a fresh worker ('spawn', or a fork of the 'forkserver' zygote) gets
# from the program: the stdlib starts them from the thread that submits,
# with close_fds; gofutures from one of Go's threads, which kept what the
# program's thread had when Go started, and with every inheritable
# descriptor.
# --------------------------------------------------------------------------

FRESH_WORKER_INHERITANCE = """
import multiprocessing as mp
import os
import signal
import __CF__ as cf

def state(pipe):
    holds = sum(1 for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}") and os.readlink(f"/proc/self/fd/{fd}") == pipe)
    blocked = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, ()))
    return holds, sorted(os.sched_getaffinity(0)), os.getpriority(os.PRIO_PROCESS, 0), blocked

if __name__ == "__main__":
    with cf.ThreadPoolExecutor(1) as ex:  # gofutures starts its Go runtime here
        ex.submit(abs, -1).result()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    os.nice(3)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    r, w = os.pipe()
    os.set_inheritable(w, True)
    pipe = os.readlink(f"/proc/self/fd/{w}")
    for ctx in ("spawn", "forkserver"):
        with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(ctx)) as ex:
            print(ctx, ex.submit(state, pipe).result(timeout=60))
"""


def test_fresh_workers_inherit_what_the_stdlibs_do(tmp_path: Path) -> None:
    out = assert_same_output(tmp_path, FRESH_WORKER_INHERITANCE).stdout
    assert out.count(", 3, [10])") == 2 and out.count("(0, [") == 2, out


# The environment a fresh interpreter starts with (it reads PYTHONHASHSEED
# and the like then): the program's when the pool starts, changed after Go
# started (Go's own copy of the environment is from its start).
FRESH_WORKER_ENVIRONMENT = """
import multiprocessing as mp
import os
import sys
import __CF__ as cf

def started_with():
    with open("/proc/self/environ", "rb") as f:
        entries = f.read().split(b"\\0")
    return b"GF_LATE=1" in entries, sys.flags.hash_randomization

if __name__ == "__main__":
    with cf.ThreadPoolExecutor(1) as ex:  # gofutures starts its Go runtime here
        ex.submit(abs, -1).result()
    os.environ["GF_LATE"] = "1"
    os.environ["PYTHONHASHSEED"] = "0"
    for ctx in ("spawn", "forkserver"):
        with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(ctx)) as ex:
            print(ctx, ex.submit(started_with).result(timeout=60))
"""


def test_fresh_workers_start_with_the_programs_current_environment(tmp_path: Path) -> None:
    out = assert_same_output(tmp_path, FRESH_WORKER_ENVIRONMENT).stdout
    assert out == "spawn (True, 0)\nforkserver (True, 0)\n"


# --------------------------------------------------------------------------
# shutdown(wait=True) returns with every descriptor of the pool closed.
# Failed before: a goroutine closed the pool's copy of the resource
# tracker's pipe just after shutdown returned ('spawn', 'forkserver'), so a
# program counting its descriptors saw one too many about once in 30 pools.
# --------------------------------------------------------------------------

SHUTDOWN_FDS_SCRIPT = """
import os
import __CF__ as cf

def square(x):
    return x * x

def open_fds():
    found = 0
    for fd in range(1024):  # not listdir: its own descriptor would count
        try:
            os.fstat(fd)
        except OSError:
            continue
        found += 1
    return found

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:  # the tracker, a shared zygote
        ex.submit(square, 1).result(timeout=60)
    base = open_fds()
    extra = []
    for _ in range(60):
        with cf.ProcessPoolExecutor(1, mp_context=__CTX__) as ex:
            ex.submit(square, 2).result(timeout=60)
        extra.append(open_fds() - base)
    print("descriptors left after each shutdown:", sorted(set(extra)))
"""


@pytest.mark.parametrize("ctx", ALL_CTX)
def test_shutdown_returns_with_the_pools_descriptors_closed(tmp_path: Path, ctx: str | None) -> None:
    assert_same_output(tmp_path, _source(SHUTDOWN_FDS_SCRIPT, ctx=ctx), timeout=240)
