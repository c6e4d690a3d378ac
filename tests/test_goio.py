"""gofutures.io: each call against its stdlib twin (subprocess.run with
capture_output, open(...).read()/write(), time.sleep), called directly and
submitted to a gofutures ThreadPoolExecutor; the GIL is released while Go
works, Ctrl-C interrupts a direct call, and a Go panic becomes GoPanicError."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import gofutures
from gofutures import _gotask, _native
from gofutures import io as gio

from ._heartbeat import heartbeat
from ._subproc import run_python, spawn_python


def _stdlib_run(args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, **kwargs)  # noqa: PLW1510 (check as given)


def _submitted(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with gofutures.ThreadPoolExecutor(2) as ex:
            return ex.submit(fn, *args, **kwargs).result(timeout=30)

    return call


# How the gofutures call is made: directly, or submitted to a thread pool.
WAYS = {"direct": lambda fn: fn, "submitted": _submitted}


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """A comparable picture of what a call returned or raised."""
    try:
        r = call()
    except subprocess.TimeoutExpired as e:
        return ("TimeoutExpired", (e.cmd, e.timeout, e.stdout, e.stderr, str(e)))
    except subprocess.CalledProcessError as e:
        return ("CalledProcessError", (e.returncode, e.cmd, e.stdout, e.stderr, str(e)))
    except OSError as e:
        return (type(e).__name__, (e.errno, e.strerror, e.filename, str(e)))
    except Exception as e:
        return (type(e).__name__, str(e))
    if isinstance(r, subprocess.CompletedProcess):
        return ("CompletedProcess", (r.args, r.returncode, r.stdout, r.stderr, repr(r)))
    return ("value", r)


RUN_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "echo": ((["echo", "hi"],), {}),
    "stderr and code": ((["sh", "-c", "echo out; echo err >&2; exit 3"],), {}),
    # Megabytes on both pipes: Go keeps each in pieces of up to 1 MiB and
    # Python gets each as one bytes object.
    "megabytes on both pipes": ((["sh", "-c", "seq 1 400000; seq 7 300000 >&2"],), {}),
    "megabytes on stderr only": ((["sh", "-c", "seq 1 400000 >&2"],), {}),
    "megabytes, check": ((["sh", "-c", "seq 1 400000; seq 7 300000 >&2; exit 4"],), {"check": True}),
    "megabytes, timeout": ((["sh", "-c", "seq 1 400000; seq 7 300000 >&2; exec sleep 10"],), {"timeout": 2.0}),
    "check": ((["sh", "-c", "echo out; exit 3"],), {"check": True}),
    "check ok": ((["true"],), {"check": True}),
    "killed by signal": ((["sh", "-c", "kill -TERM $$"],), {}),
    "input": ((["cat"],), {"input": b"abc" * 100_000}),
    "input ignored": ((["true"],), {"input": b"x" * 1_000_000}),
    "input strided memoryview": ((["cat"],), {"input": memoryview(b"abcdef")[::2]}),
    "input memoryview": ((["cat"],), {"input": memoryview(bytearray(b"abcdef"))[1:]}),
    "str program": (("true",), {}),
    "bytes argv": (([b"echo", b"\xff"],), {}),
    "path argv": (([Path("/bin/echo"), "p"],), {}),
    "env": ((["/usr/bin/env"],), {"env": {"A": "1", b"B": b"2"}}),
    "env bad name": ((["true"],), {"env": {"A=B": "1"}}),
    "env PATH used for lookup": ((["env"],), {"env": {"PATH": "/nonexistent"}}),
    "cwd": ((["pwd"],), {"cwd": "/"}),
    "cwd missing": ((["pwd"],), {"cwd": "/nonexistent-gofutures"}),
    "not found": ((["nonexistent-gofutures-program"],), {}),
    "empty program": (([""],), {}),
    "empty bytes program": (([b"", b"x"],), {}),
    "path program not found": (([Path("nonexistent-gofutures-program")],), {}),
    "not found path": ((["/nonexistent/prog"],), {}),
    "not executable": ((["/etc/passwd"],), {}),
    "a directory": ((["/"],), {}),
    "timeout": ((["sh", "-c", "echo early; exec sleep 10"],), {"timeout": 1.0}),
    "timeout no output": ((["sleep", "10"],), {"timeout": 0.2}),
    "timeout not reached": ((["echo", "x"],), {"timeout": 30}),
    "timeout int": ((["echo", "x"],), {"timeout": 30}),
    "timeout Fraction": ((["echo", "x"],), {"timeout": Fraction(30)}),
    "timeout -inf": ((["sleep", "10"],), {"timeout": float("-inf")}),
    "timeout past poll's int range": ((["true"],), {"timeout": 1e7}),
    "timeout past PyTime_t": ((["true"],), {"timeout": 1e10}),
    "timeout inf": ((["true"],), {"timeout": float("inf")}),
    "timeout NaN": ((["true"],), {"timeout": float("nan")}),
    "timeout str": ((["true"],), {"timeout": "5"}),
    "timeout Decimal": ((["true"],), {"timeout": Decimal(5)}),
    # The child exits at once; a grandchild keeps a pipe (stdout; stdin, not
    # reading the input) past the timeout.
    "timeout, grandchild holds stdout": ((["sh", "-c", "sleep 3 & echo started"],), {"timeout": 0.5}),
    "timeout, grandchild holds stdin": (
        (["sh", "-c", "exec 3<&0; sleep 3 <&3 >/dev/null 2>&1 & echo started"],),
        {"timeout": 0.5, "input": b"x" * (1 << 20)},
    ),
    "bad arg type": (([1],), {}),
    "NUL in an arg": ((["echo", "a\0b"],), {}),
    "NUL in the program": (("ech\0o",), {}),
    "NUL in cwd": ((["pwd"],), {"cwd": "/tmp\0x"}),
    "NUL in an env value": ((["env"],), {"env": {"A": "1\0"}}),
    "NUL in an env key": ((["env"],), {"env": {b"A\0": b"1"}}),
    "NUL and = in an env key": ((["env"],), {"env": {"A\0=": "1"}}),
    "empty args": (([],), {}),
    "input str": ((["cat"],), {"input": "text"}),
    "signal dispositions": ((["grep", "^Sig[IB]", "/proc/self/status"],), {}),
}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_run_matches_subprocess_run(case: str, way: str) -> None:
    args, kwargs = RUN_CASES[case]
    want = _outcome(lambda: _stdlib_run(*args, **kwargs))
    got = _outcome(lambda: WAYS[way](gio.run)(*args, **kwargs))
    assert got == want


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("script", ["head -c 100000000 /dev/zero", "head -c 50000000 /dev/zero; head -c 50000000 /dev/zero >&2"])
def test_run_holds_a_large_output_about_once(script: str, way: str) -> None:
    """100 MB of output peaks at about 1x its size, where subprocess.run's
    chunks and their join peak at 2.0x: Go keeps it in pieces that are
    never copied to grow, outside its heap, and each is copied straight into
    the bytes object the caller gets and unmapped at once. A growing
    buffer, joined, peaked at 3.7x (5.2x split over two pipes); pieces on
    Go's heap, 2.0x."""
    code = f"""
        import resource, gofutures, gofutures.io as gio
        gofutures.ThreadPoolExecutor(1).shutdown()  # Go started: part of the baseline
        ways = {{"direct": gio.run, "submitted": lambda a: gofutures.ThreadPoolExecutor(1).submit(gio.run, a).result()}}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        r = ways[{way!r}](["sh", "-c", {script!r}])
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(len(r.stdout) + len(r.stderr), r.stdout.count(0) + r.stderr.count(0), grown * 1024)
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    size, zeros, grown = map(int, out.stdout.split())
    assert size == zeros == 100_000_000
    assert grown < 1.3 * size, f"peak grew by {grown / size:.2f}x the output"


@pytest.mark.parametrize("way", sorted(WAYS))
def test_run_names_a_generators_program_in_its_error(way: str) -> None:
    """args may be any iterable: Popen lists it, and an error names its
    first item."""

    def args() -> Iterator[str]:
        yield "nonexistent-gofutures-program"
        yield "arg"

    want = _outcome(lambda: _stdlib_run(args()))
    assert want[0] == "FileNotFoundError"
    assert _outcome(lambda: WAYS[way](gio.run)(args())) == want


@pytest.mark.parametrize("way", sorted(WAYS))
def test_run_passes_the_current_environment(way: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """env=None: the child gets os.environ as it is now (Go's own copy is the
    one the process started with), and the program is searched in its PATH."""
    gio.sleep(0)  # Go has started: what follows changes os.environ only
    prog = tmp_path / "gofutures-env-probe"
    prog.write_text("#!/bin/sh\necho probe X=$GOFUTURES_X HOME=${HOME-unset}\n")
    prog.chmod(0o755)
    monkeypatch.setenv("GOFUTURES_X", "set after Go started")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    for args in (["gofutures-env-probe"], ["sh", "-c", "echo $PATH"]):
        want = _outcome(lambda: _stdlib_run(args))  # noqa: B023 (called at once)
        assert _outcome(lambda: WAYS[way](gio.run)(args)) == want  # noqa: B023
    assert b"set after Go started" in gio.run(["gofutures-env-probe"]).stdout


@pytest.mark.parametrize("way", sorted(WAYS))
def test_run_passes_the_environment_that_putenv_changed(way: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """env=None: subprocess gives the child the C library's environment,
    which os.putenv and os.unsetenv (and C code calling setenv) change
    without os.environ; run gave os.environ's."""
    gio.sleep(0)
    monkeypatch.setenv("GOFUTURES_UNSET", "in os.environ only")
    os.unsetenv("GOFUTURES_UNSET")
    os.putenv("GOFUTURES_PUT", "put")
    try:
        args = ["sh", "-c", "echo put=${GOFUTURES_PUT-unset} unset=${GOFUTURES_UNSET-unset}"]
        want = _outcome(lambda: _stdlib_run(args))
        assert _outcome(lambda: WAYS[way](gio.run)(args)) == want
        assert b"put=put unset=unset" in gio.run(args).stdout
    finally:
        os.unsetenv("GOFUTURES_PUT")


@pytest.mark.parametrize("way", sorted(WAYS))
def test_run_timeout_does_not_wait_for_a_grandchild(way: str) -> None:
    """sh forks sleep, which holds the pipes after sh is killed: on POSIX
    subprocess.run raises TimeoutExpired at the timeout without reading on."""
    args, timeout = ["sh", "-c", "echo start; sleep 5"], 0.5
    want = _outcome(lambda: _stdlib_run(args, timeout=timeout))
    start = time.monotonic()
    got = _outcome(lambda: WAYS[way](gio.run)(args, timeout=timeout))
    assert time.monotonic() - start < timeout + 0.4
    assert got == want


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize(
    ("script", "input"),
    [
        ("echo out; echo err >&2; exec >&- 2>&-; sleep 5", None),
        ("cat >/dev/null; exec >&- 2>&-; sleep 5", b"in"),
        ("echo out; exec >&-; sleep 5", None),
        ("exec >&- 2>&-; sleep 5", b"x" * (1 << 20)),
    ],
    ids=["outputs closed", "input taken", "stderr open", "input not taken"],
)
def test_run_timeout_after_the_child_closed_its_pipes(way: str, script: str, input: bytes | None) -> None:
    """Once stdout and stderr have ended and the input was taken,
    subprocess.run only waits for the child's exit: its TimeoutExpired then
    holds no output, and what was left of the timeout as its timeout."""
    args, timeout = ["sh", "-c", script], 0.5

    def picture(call: Callable[[], Any]) -> tuple[str, Any]:
        kind, fields = _outcome(call)
        assert kind == "TimeoutExpired"
        cmd, left, stdout, stderr, _ = fields
        return kind, (cmd, left == timeout or 0 < left < timeout, stdout, stderr)

    want = picture(lambda: _stdlib_run(args, timeout=timeout, input=input))
    assert picture(lambda: WAYS[way](gio.run)(args, timeout=timeout, input=input)) == want


# Prints the fds open in a Python child (not the one that lists them).
_FD_PROBE = """
import json, os
def is_open(fd):
    try:
        return bool(os.fstat(fd))
    except OSError:
        return False
print(json.dumps([fd for fd in map(int, os.listdir("/proc/self/fd")) if is_open(fd)]))
"""


@pytest.mark.parametrize("way", sorted(WAYS))
def test_run_passes_on_only_the_fds_the_process_made_inheritable(way: str) -> None:
    """A documented difference (README): subprocess.run closes every fd
    but 0-2 in the child; Go's exec passes on the inheritable ones. None of
    gofutures' own is: a pool with Go and Python tasks has run here."""
    with gofutures.ThreadPoolExecutor(2) as ex:
        ex.submit(gio.sleep, 0).result(timeout=30)
        ex.submit(time.sleep, 0).result(timeout=30)
    probe = [sys.executable, "-c", _FD_PROBE]
    private_r, private_w = os.pipe()  # close-on-exec, as Python makes every fd
    shared_r, shared_w = os.pipe()
    os.set_inheritable(shared_w, True)
    try:
        inheritable = {fd for fd in map(int, os.listdir("/proc/self/fd")) if fd > 2 and _inheritable(fd)}
        child = set(json.loads(WAYS[way](gio.run)(probe).stdout))
        stdlib = set(json.loads(_stdlib_run(probe).stdout))
    finally:
        for fd in (private_r, private_w, shared_r, shared_w):
            os.close(fd)
    assert shared_w in inheritable
    assert stdlib == {0, 1, 2}
    assert child == {0, 1, 2} | inheritable


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:  # the fd that listed /proc/self/fd, closed since
        return False


def test_run_inherits_stdin_without_input(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"from stdin\n")
    script = (
        "import subprocess, sys\n"
        "from gofutures import io\n"
        "print(io.run(['cat']).stdout, subprocess.run(['cat'], capture_output=True).stdout)\n"
    )
    with src.open("rb") as stdin:
        out = subprocess.run([sys.executable, "-c", script], stdin=stdin, capture_output=True, check=True)
    # The first reader consumes the file; the second sees its end, as with two subprocess.run.
    assert out.stdout.decode().strip() == "b'from stdin\\n' b''"


FILE_CASES: dict[str, Callable[[Path], tuple[Callable[[], Any], Callable[[], Any]]]] = {
    "read": lambda d: (lambda: gio.read_file(d / "f"), lambda: (d / "f").open("rb").read()),
    "read str path": (
        lambda d: (lambda: gio.read_file(str(d / "f")), lambda: open(str(d / "f"), "rb").read())  # noqa: SIM115
    ),
    "read missing": lambda d: (lambda: gio.read_file(str(d / "x")), lambda: open(str(d / "x"), "rb")),  # noqa: SIM115
    "read bytes path missing": (
        lambda d: (lambda: gio.read_file(os.fsencode(d / "x")), lambda: open(os.fsencode(d / "x"), "rb"))  # noqa: SIM115
    ),
    "read a directory": lambda d: (lambda: gio.read_file(str(d)), lambda: open(str(d), "rb").read()),  # noqa: SIM115
    "read bad type": lambda d: (lambda: gio.read_file(1.5), lambda: open(1.5, "rb")),  # type: ignore[arg-type,call-overload]  # noqa: SIM115
    "read NUL in path": lambda d: (lambda: gio.read_file(f"{d}/f\0"), lambda: open(f"{d}/f\0", "rb")),  # noqa: SIM115
    "read NUL in bytes path": (
        lambda d: (lambda: gio.read_file(os.fsencode(d) + b"/\0"), lambda: open(os.fsencode(d) + b"/\0", "rb"))  # noqa: SIM115
    ),
    "write": lambda d: (lambda: gio.write_file(d / "w", b"data"), lambda: (d / "w").write_bytes(b"data")),
    "write NUL in path": lambda d: (lambda: gio.write_file(f"{d}/w\0", b""), lambda: open(f"{d}/w\0", "wb")),  # noqa: SIM115
    "read empty path": lambda d: (lambda: gio.read_file(""), lambda: open("", "rb")),  # noqa: SIM115
    "write empty path": lambda d: (lambda: gio.write_file("", b"x"), lambda: open("", "wb")),  # noqa: SIM115
    "write str": lambda d: (lambda: gio.write_file(d / "w", "abc"), lambda: open(d / "w", "wb").write("abc")),  # type: ignore[arg-type]  # noqa: SIM115
    "write strided memoryview": lambda d: (
        lambda: gio.write_file(d / "w", memoryview(b"abcdef")[::2]),  # type: ignore[arg-type]
        lambda: open(d / "w", "wb").write(memoryview(b"abcdef")[::2]),  # noqa: SIM115
    ),
    # A failed write, unlike a failed open, names no file.
    "write to a full device": lambda d: (
        lambda: gio.write_file("/dev/full", b"x"),
        lambda: Path("/dev/full").write_bytes(b"x"),
    ),
    "write missing dir": (
        lambda d: (lambda: gio.write_file(str(d / "a" / "b"), b""), lambda: open(str(d / "a" / "b"), "wb"))  # noqa: SIM115
    ),
}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_files_match_the_stdlib(case: str, way: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"content" * 10_000)
    ours, stdlib = FILE_CASES[case](tmp_path)
    want = _outcome(stdlib)
    got = _outcome(lambda: WAYS[way](lambda: ours())())
    assert got == want


def test_write_file_replaces_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert gio.write_file(path, memoryview(b"new")) == 3
    assert gio.read_file(path) == b"new"
    assert (path.stat().st_mode & 0o777) == 0o644 or True  # mode follows the umask, as open()


READ_SIZES = [0, 1, gio._READ_INTO_MIN - 1, gio._READ_INTO_MIN, gio._READ_INTO_MIN + 1, 3_000_001]


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("size", READ_SIZES)
def test_read_file_reads_every_size_as_open_does(size: int, way: str, tmp_path: Path) -> None:
    """Around the size from which a direct read goes straight into the bytes
    it returns, and past it."""
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    assert WAYS[way](gio.read_file)(path) == path.read_bytes()


@pytest.mark.parametrize("claimed", [0, 1, 2_999_999, 3_000_000, 3_000_001, 6_000_000])
def test_a_read_into_a_wrongly_sized_buffer_still_reads_the_file(claimed: int, tmp_path: Path) -> None:
    """The size a direct read allocates for is a stat taken before Go opens
    the file, which may have grown or shrunk since: what was read is what
    comes back (a file that grew past the buffer comes back in pieces)."""
    path = tmp_path / "f"
    data = os.urandom(3_000_000)
    path.write_bytes(data)
    got = _gotask.call(gio._prepare_read(path), into=claimed)
    assert type(got) is bytes
    assert got == data


def test_a_read_into_a_buffer_reports_errors_as_open_does(tmp_path: Path) -> None:
    want = _outcome(lambda: open(tmp_path / "gone", "rb"))  # noqa: SIM115
    assert _outcome(lambda: _gotask.call(gio._prepare_read(tmp_path / "gone"), into=1 << 20)) == want


SUBMIT = "with gofutures.ThreadPoolExecutor(1) as ex: r = ex.submit({}).result()"


@pytest.mark.parametrize(
    ("call", "most"),
    [
        # open().read() grows RSS by 1.0x the file; a read by Go, then copied: 2.0x.
        ("r = gio.read_file(path)", 1.3),
        # On a worker thread, read straight into the bytes object: 1.0x.
        (SUBMIT.format("gio.read_file, path"), 1.3),
        # By Go, on an executor of more than 32 workers: past 4 MiB outside
        # Go's heap, each piece unmapped once copied: 1.05x.
        (SUBMIT.format("gio.read_file, path").replace("Executor(1)", "Executor(64)"), 1.3),
        # write() grows it by nothing; copies in Python and in Go: 2.0x.
        ("gio.write_file(path, data)", 0.3),
        (SUBMIT.format("gio.write_file, path, data"), 0.3),
        # subprocess.run(input=) grows it by nothing; copies: 2.0x.
        ("r = gio.run(['wc', '-c'], input=data)", 0.3),
        (SUBMIT.format("gio.run, ['wc', '-c'], input=data"), 0.3),
    ],
)
def test_a_large_file_or_input_is_not_copied(call: str, most: float, tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(bytes(1 << 20) * 100)
    code = f"""
        import resource, gofutures, gofutures.io as gio
        gofutures.ThreadPoolExecutor(1).submit(gio.sleep, 0).result()  # Go and its pump started: the baseline
        path, data = {str(path)!r}, bytes(1 << 20) * 100
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        {call}
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        size = int(r.stdout) if "run" in {call!r} else len(gio.read_file(path)) if "write" in {call!r} else len(r)
        print(size, grown * 1024)
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    size, grown = map(int, out.stdout.split())
    assert size == 100 << 20
    assert grown < most * size, f"peak grew by {grown / size:.2f}x the file"


@pytest.mark.parametrize(
    ("way", "workers"),
    [("read_file", 64), ("read_file", 4), ("run", 64), ("run in a task", 4), ("open().read()", 4)],
)
def test_memory_read_for_python_is_given_back(way: str, workers: int, tmp_path: Path) -> None:
    """Once the results of ex.map over 4 large outputs (files of 40 MB, or
    commands printing as much) are dropped, the process's RSS is back near
    where it was, as with the stdlib: Go read them, past their first 4 MiB,
    outside its heap, and unmapped each piece once it was copied (Go tasks:
    read_file on 64 workers, run; a direct call: run in a task), or read
    them straight into Python's bytes (read_file on 4 workers runs on
    worker threads). Read onto Go's heap they stayed until the scavenger
    gave them back (16 files of 50 MB: 600-800 MB after)."""
    for i in range(4):
        (tmp_path / f"f{i}").write_bytes(os.urandom(1 << 20) * 40)
    code = f"""
        import gofutures, gofutures.io as gio
        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        import os
        paths = [os.path.join({str(tmp_path)!r}, f"f{{i}}") for i in range(4)]
        ways = {{
            "read_file": lambda ex: ex.map(gio.read_file, paths),
            "run": lambda ex: (f.result().stdout for f in [ex.submit(gio.run, ["cat", p]) for p in paths]),
            "run in a task": lambda ex: ex.map(lambda p: gio.run(["cat", p]).stdout, paths),
            "open().read()": lambda ex: ex.map(lambda p: open(p, "rb").read(), paths),
        }}
        with gofutures.ThreadPoolExecutor({workers}) as ex:
            ex.submit(gio.sleep, 0).result()  # Go and its pump started: the baseline
            before = rss()
            sizes = [len(b) for b in ways[{way!r}](ex)]
        print(sum(sizes), rss() - before)
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    size, kept = map(int, out.stdout.split())
    assert size == 160 << 20
    assert kept < 40 << 20, f"{kept / 2**20:.0f} MB kept after {size / 2**20:.0f} MB read"


def test_a_submitted_write_keeps_its_data_until_done_and_no_longer(tmp_path: Path) -> None:
    """A submitted write_file's data is not copied: its future keeps the
    caller's bytes alive while the task is queued or runs (the caller may
    drop them at once), and lets go once it is done or taken back."""
    data = os.urandom(1 << 20)
    base = sys.getrefcount(data)
    with gofutures.ThreadPoolExecutor(1) as ex, gofutures.ThreadPoolExecutor(1) as other:
        blocker = ex.submit(gio.sleep, 0.3)  # holds the pool's one Go slot
        queued = ex.submit(gio.write_file, tmp_path / "a", data)
        cancelled = ex.submit(gio.write_file, tmp_path / "b", data)
        temporary = ex.submit(gio.write_file, tmp_path / "c", bytes(bytearray(data)))  # nothing else holds it
        other.submit(gio.sleep, 0.3)
        taken_back = other.submit(gio.write_file, tmp_path / "d", data)
        held = sys.getrefcount(data)  # (pytest's rewritten assert would hold one more)
        assert held == base + 3
        assert cancelled.cancel()
        other.shutdown(wait=False, cancel_futures=True)
        assert taken_back.cancelled()
        held = sys.getrefcount(data)
        assert held == base + 1
        blocker.result()
        assert queued.result() == temporary.result() == len(data)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "c").read_bytes() == data
    assert not (tmp_path / "b").exists()
    assert not (tmp_path / "d").exists()
    held = sys.getrefcount(data)
    assert held == base, "the futures, still held, hold no body"


def test_a_submit_interrupted_once_its_task_is_queued_still_writes_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C raises as soon as the call that queued the task returns, so
    submit raises though the task is queued (it runs, as the stdlib's queued
    work item does). Its borrowed data must outlive the future submit lets
    go of: it wrote freed memory when the future alone held it."""
    real = _native.fast_go_submit

    def interrupted_after_queuing(*args: Any) -> None:
        real(*args)
        raise KeyboardInterrupt

    with gofutures.ThreadPoolExecutor(1) as ex:
        blocker = ex.submit(gio.sleep, 0.3)  # the pool's one Go slot
        monkeypatch.setattr(_native, "fast_go_submit", interrupted_after_queuing)
        with pytest.raises(KeyboardInterrupt):
            ex.submit(gio.write_file, tmp_path / "f", bytes([1]) * 100_000)  # nothing else holds it
        monkeypatch.undo()
        junk = [bytes([0xEE]) * 100_000 for _ in range(100)]  # reuses freed memory
        blocker.result()
    del junk
    assert (tmp_path / "f").read_bytes() == bytes([1]) * 100_000
    assert not _gotask._bodies, "the borrowed body is let go once the task is delivered"


def test_a_direct_read_or_write_of_a_regular_file_runs_on_the_calling_thread(tmp_path: Path) -> None:
    """Nothing Ctrl-C must stop waits there, so Go does it inline (no
    goroutine to start and wait for: 50 us a small read became 15); a
    device is read on a goroutine, where Ctrl-C can stop it. Seen in the Go
    stack of an injected panic."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    calls = {
        "read": (lambda: gio.read_file(path), True),
        "write": (lambda: gio.write_file(path, b"y"), True),
        "read a device": (lambda: gio.read_file("/dev/null"), False),
    }
    for name, (call, inline) in calls.items():
        _native.call("GoTaskPanicNext")
        with pytest.raises(gofutures.GoPanicError) as info:
            call()
        assert ("gfOpInline" in info.value.go_stack) == inline, name


class _Index:
    """An integer only through __index__ (time.sleep takes it)."""

    def __index__(self) -> int:
        return 0


SLEEP_CASES = {
    "float": 0.05, "zero": 0, "-0.0": -0.0, "True": True, "__index__": _Index(),
    "negative": -1, "negative float": -1e-300, "str": "1", "None": None, "NaN": float("nan"),
    "Decimal": Decimal("0.01"), "Fraction": Fraction(1, 100),
    "float past PyTime_t": 1e10, "int past PyTime_t": 10**10, "int past int64": 2**63,
    "negative int past int64": -(2**63), "inf": float("inf"), "-inf": float("-inf"),
}  # fmt: skip


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("case", sorted(SLEEP_CASES))
def test_sleep_matches_time_sleep(case: str, way: str) -> None:
    seconds = SLEEP_CASES[case]
    want = _outcome(lambda: time.sleep(seconds))
    start = time.monotonic()
    got = _outcome(lambda: WAYS[way](gio.sleep)(seconds))
    assert got == want
    if seconds == 0.05:
        assert time.monotonic() - start >= 0.05


def test_heartbeat_keeps_ticking_during_a_direct_call() -> None:
    """The GIL is released while Go waits: a Python thread runs meanwhile."""
    with heartbeat() as beat:
        before = beat.ticks
        gio.sleep(0.5)
        during_sleep = beat.ticks - before
        before = beat.ticks
        gio.run(["sleep", "0.5"])
        during_run = beat.ticks - before
    # A held GIL gives 0-1 ticks; a free one about 400 (loaded machines fewer).
    assert during_sleep > 20
    assert during_run > 20


CTRL_C_CALLS = {
    "sleep": "io.sleep(30)",
    "run": "io.run(['sleep', '30'])",
    # The child has exited: run() waits for the pipes.
    "run, grandchild holds stdout": "io.run(['sh', '-c', 'sleep 10 & echo started'])",
    # open() waits for the FIFO's other end, as the stdlib's does (EINTR
    # interrupts that one).
    "read_file, a FIFO with no writer": "io.read_file(fifo)",
    "write_file, a FIFO with no reader": "io.write_file(fifo, b'x')",
    # The other end is open; the read or the write waits.
    "read_file, a FIFO whose writer writes nothing": "held = os.open(fifo, os.O_RDWR); io.read_file(fifo)",
    "write_file past a FIFO's buffer, nothing read": "held = os.open(fifo, os.O_RDWR); io.write_file(fifo, bytes(1 << 20))",
    # A read into a buffer made for it (a regular file's size, here claimed
    # for a FIFO) frees it once Go has stopped.
    "read_file into a buffer, a FIFO whose writer writes nothing": (
        "held = os.open(fifo, os.O_RDWR); from gofutures import _gotask; _gotask.call(io._prepare_read(fifo), into=1 << 20)"
    ),
}


@pytest.mark.parametrize("call", sorted(CTRL_C_CALLS))
def test_ctrl_c_interrupts_a_direct_call(call: str) -> None:
    stmt = CTRL_C_CALLS[call]
    proc = spawn_python(
        f"""
        import os, tempfile, time
        from gofutures import io
        fifo = os.path.join(tempfile.mkdtemp(), "fifo")
        os.mkfifo(fifo)
        io.sleep(0)  # load Go
        print("ready", flush=True)
        try:
            {stmt}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        time.sleep(0.2)
        print(os.popen("pgrep -P %d -x sleep" % os.getpid()).read().strip() or "no child", flush=True)
        """
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        reaction = time.monotonic() - sent
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert line == "interrupted", err
    assert reaction < 2.0
    assert rest.strip() == "no child", "the subprocess was killed and reaped"
    assert proc.returncode == 0, err


@pytest.mark.parametrize("way", sorted(WAYS))
def test_go_panic_becomes_go_panic_error(way: str) -> None:
    gio.sleep(0)
    _native.call("GoTaskPanicNext")
    with pytest.raises(gofutures.GoPanicError) as info:
        WAYS[way](gio.sleep)(0)
    assert "injected panic" in info.value.panic_value
    assert "gotask.do(" in info.value.go_stack
    gio.sleep(0)  # the next call works


@pytest.mark.parametrize("stage", ["start", "inline", "wait", "copy"])
def test_go_panic_in_a_direct_calls_plumbing_becomes_go_panic_error(stage: str, tmp_path: Path) -> None:
    """A panic in the Go functions a direct call goes through (not in the
    task's own work) is recovered too: GoPanicError with the Go stack, and
    the interpreter lives on."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 3_000_000)
    calls = {
        "start": lambda: gio.read_file("/dev/null"),  # a device: on a goroutine
        "inline": lambda: gio.read_file(path),  # a regular file: on this thread
        "wait": lambda: gio.sleep(0),
        "copy": lambda: gio.read_file(path),
    }
    call = calls[stage]
    _native.call("GoOpPanicNext", stage)
    with pytest.raises(gofutures.GoPanicError) as info:
        call()
    assert f"injected panic in gfOp {stage}" in info.value.panic_value
    assert "pybridge." in info.value.go_stack
    assert gio.read_file(path) == b"x" * 3_000_000  # the next call works


def test_a_batch_that_fails_on_its_way_to_python_still_ends_every_task(tmp_path: Path) -> None:
    """A Go panic while the pump hands a batch over fails its tasks with
    GoPanicError; a body Python finds no memory for fails its task with
    MemoryError, as reading it into Python's memory would. No future is left
    pending, and the next tasks are delivered as usual."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    with gofutures.ThreadPoolExecutor(4) as ex:
        assert ex.submit(gio.read_file, path).result(timeout=30) == b"x" * 1000  # the pump runs
        _native.call("GoPumpFailNext", "describe")
        futures = [ex.submit(gio.read_file, path) for _ in range(8)]
        assert not wait(futures, timeout=60).not_done
        failed = [f.exception() for f in futures if f.exception() is not None]
        assert failed, "the batch the panic hit"
        for exc in failed:
            assert isinstance(exc, gofutures.GoPanicError)
            assert "injected panic delivering a batch" in exc.panic_value
            assert "pybridge.deliverGoBatch" in exc.go_stack
        assert all(f.result() == b"x" * 1000 for f in futures if f.exception() is None)

        _native.call("GoPumpFailNext", "memory")
        future = ex.submit(gio.read_file, path)
        with pytest.raises(MemoryError, match="no memory for a result of 1000 bytes"):
            future.result(timeout=30)
        assert ex.submit(gio.read_file, path).result(timeout=30) == b"x" * 1000


def test_a_go_task_completes_under_any_thread_name_prefix() -> None:
    """The stdlib takes any thread_name_prefix (its threads are named
    "%s_%d" % (prefix, n)); a done-callback of a Go task sees the pump named
    after it. A prefix that is not a str made the delivery fail before the
    outcome, and the future stayed pending for ever."""
    seen: list[str] = []
    with gofutures.ThreadPoolExecutor(2, thread_name_prefix=7) as ex:  # type: ignore[arg-type]
        future = ex.submit(gio.sleep, 0.3)  # callback added before it ends
        future.add_done_callback(lambda _: seen.append(threading.current_thread().name))
        assert future.result(timeout=30) is None
    assert seen == ["7_go"]


def test_an_error_go_could_not_describe_is_a_go_panic_error() -> None:
    with pytest.raises(gofutures.GoPanicError, match="lost this call's result"):
        _gotask.raise_error(b"")


def test_a_submitted_read_of_a_large_regular_file_runs_on_a_worker_thread(tmp_path: Path) -> None:
    """Read on a worker thread, a large regular file goes straight into the
    bytes object, as a direct call reads it (on a goroutine, Go read it into
    its memory and the pump copied it: 2.7x the stdlib's time for 16 files
    of 50 MB). Smaller files, anything else and bad arguments keep Go
    tasks."""
    big, small = tmp_path / "big", tmp_path / "small"
    big.write_bytes(b"b" * gio._READ_INTO_MIN)
    small.write_bytes(b"s" * (gio._READ_INTO_MIN - 1))
    calls = [
        ((small,), {}, 0),
        ((str(small),), {}, 0),
        (("/dev/null",), {}, 0),
        ((tmp_path / "missing",), {}, 0),
        ((big, 1), {}, 0),  # TypeError, as from a direct call
        ((), {"path": big, "x": 1}, 0),
        ((), {"max_workers": 1}, 0),  # not the routing's own argument
        ((), {"path": big, "max_workers": 1}, 0),
        ((), {"path": big}, 1),
        ((big,), {}, 1),
        ((os.fsencode(big),), {}, 1),
    ]
    for args, kwargs, threads in calls:
        want = _outcome(functools.partial(gio.read_file, *args, **kwargs))
        for workers in (32, 33):
            with gofutures.ThreadPoolExecutor(workers) as ex:
                got = _outcome(ex.submit(gio.read_file, *args, **kwargs).result)
                assert len(ex._threads) == threads, (workers, args, kwargs)
            assert got == want, (workers, args, kwargs)


@pytest.mark.parametrize("workers", [8, 100])
def test_at_most_32_large_reads_at_once_take_worker_threads(workers: int, tmp_path: Path) -> None:
    """On an executor of more than 32 workers, 32 large reads queued or
    running at once take worker threads; the rest stay Go tasks (a thread
    per read in flight could outnumber the reads Go runs at once), until a
    routed read is done or cancelled and gives its slot back. A smaller
    executor routes them all: its threads are few anyway."""
    big = tmp_path / "big"
    data = b"b" * gio._READ_INTO_MIN
    big.write_bytes(data)

    def on_threads(futures: list[Future[bytes]]) -> int:
        return sum(not isinstance(f, _gotask._GoFuture) for f in futures)

    routed = 32 if workers > 32 else 40
    with gofutures.ThreadPoolExecutor(workers) as ex:
        gate = threading.Event()
        # Python tasks hold every worker: the routed reads queue behind them.
        held = [ex.submit(gate.wait) for _ in range(workers)]
        reads = [ex.submit(gio.read_file, big) for _ in range(40)]
        assert on_threads(reads) == routed
        cancelled = [f for f in reads if not isinstance(f, _gotask._GoFuture)][:2]
        assert all(f.cancel() for f in cancelled)
        more = [ex.submit(gio.read_file, big) for _ in range(3)]
        assert on_threads(more) == (2 if workers > 32 else 3)
        gate.set()
        assert all(f.result(timeout=60) is True for f in held)
        assert all(f.result(timeout=60) == data for f in reads + more if f not in cancelled)
        # Every slot came back once its read was done.
        gate.clear()
        held = [ex.submit(gate.wait) for _ in range(workers)]
        again = [ex.submit(gio.read_file, big) for _ in range(40)]
        gate.set()
        assert on_threads(again) == routed
        assert all(f.result(timeout=60) == data for f in again)


def test_submitted_tasks_run_on_no_worker_thread() -> None:
    before = threading.active_count()  # earlier tests' servers may have some
    with gofutures.ThreadPoolExecutor(5) as ex:
        futures = [ex.submit(gio.sleep, 0.2) for _ in range(20)]
        time.sleep(0.05)
        assert len(ex._threads) == 0
        start = time.monotonic()
        for f in futures:
            f.result(timeout=30)
    # 20 sleeps of 0.2 s, 5 at a time: 4 rounds (0.8 s), not fewer.
    assert time.monotonic() - start >= 0.55
    assert threading.active_count() - before < 3  # the pump, at most


def test_a_go_future_lets_go_of_its_task_when_done_or_cancelled() -> None:
    # The finisher may hold the call's arguments: it goes with the task.
    with gofutures.ThreadPoolExecutor(1) as ex:
        done = ex.submit(gio.sleep, 0)
        blocker = ex.submit(gio.sleep, 0.5)
        queued = ex.submit(gio.sleep, 0)
        assert queued.cancel()
        assert done.result(timeout=30) is None
        assert blocker.result(timeout=30) is None
    for f in (done, blocker, queued):
        assert "_go_finish" not in vars(f)


def test_a_task_queued_for_a_pool_go_no_longer_has_fails() -> None:
    """fast_go_submit queues tasks without calling into Go; one whose pool
    Go no longer has (Python refuses such submits first: this is the
    backstop) fails with the stdlib's RuntimeError, through the pump."""
    from gofutures.thread import _task_ids, _work_items

    with gofutures.ThreadPoolExecutor(1) as ex:  # a pool: the drainer and pump run
        assert ex.submit(gio.sleep, 0).result(timeout=30) is None
    future: _gotask._GoFuture[None] = _gotask._GoFuture()
    task_id = next(_task_ids)
    go = gio._prepare_sleep(0)
    future._go_pool, future._go_task, future._go_finish = 10**9, task_id, go.finish
    _work_items[task_id] = future  # as _gotask.submit does
    _native.fast_go_submit(10**9, task_id, _gotask.kind("SLEEP"), go.meta, go.body)
    with pytest.raises(RuntimeError, match="^cannot schedule new futures after shutdown$"):
        future.result(timeout=30)


def test_a_burst_of_go_submits_leaves_the_gil_to_other_threads() -> None:
    """A Go task needs no Python thread to start, so a loop of submits holds
    the GIL throughout; fast_go_submit lets a waiting thread take it about
    once a millisecond. With CPython's own forced switch pushed out of
    reach (a switch interval of 100 s), a thread that wants the GIL runs
    during such a loop only because of that."""
    ticks: list[int] = [0]
    ready, stop = threading.Event(), threading.Event()

    def ticker() -> None:
        ready.set()
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)  # releases the GIL; wants it back at once

    interval = sys.getswitchinterval()
    with gofutures.ThreadPoolExecutor(1) as ex:
        ex.submit(gio.sleep, 0).result(timeout=30)  # the drainer and pump run
        t = threading.Thread(target=ticker)
        t.start()
        ready.wait()
        sys.setswitchinterval(100.0)
        try:
            before = ticks[0]
            start = time.monotonic()
            futures = [ex.submit(gio.sleep, 0) for _ in range(3000)]
            elapsed = time.monotonic() - start
            during = ticks[0] - before
        finally:
            sys.setswitchinterval(interval)
            stop.set()
            t.join()
        for f in futures:
            f.result(timeout=60)
    assert elapsed > 0.005, "the loop must outlast a few slices to show them"
    assert during > 0, f"the ticker never ran during {elapsed * 1000:.0f} ms of submits"


def test_run_while_another_thread_changes_os_environ() -> None:
    # env=None reads os.environ: iterated while another thread changed it,
    # it raised "dictionary changed size during iteration" (233 of 300 runs
    # here before the copy).
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            os.environ[f"GOFUTURES_TEST_CHURN_{i % 50}"] = str(i)
            if i % 7 == 0:
                os.environ.pop(f"GOFUTURES_TEST_CHURN_{i * 3 % 50}", None)
            i += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(200):
            assert gio.run(["true"]).returncode == 0
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
        for key in [k for k in os.environ if k.startswith("GOFUTURES_TEST_CHURN_")]:
            del os.environ[key]
