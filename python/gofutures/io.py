"""Go-scheduled I/O: subprocesses, whole-file reads and writes, and sleeps
whose waiting happens in Go.

Each function works two ways:

- called directly, from any thread, it blocks that thread with the GIL
  released while Go works (other Python threads keep running) and returns
  what the stdlib equivalent returns; Ctrl-C interrupts it (a subprocess is
  then killed, as ``subprocess.run`` kills it);
- submitted to a gofutures ``ThreadPoolExecutor`` (``ex.submit(io.run,
  ["ls"])``, ``ex.map(io.read_file, paths)``), it runs on a goroutine and
  takes no Python worker thread; ``max_workers`` still bounds how many of the
  executor's tasks run at once. One exception: a ``read_file`` of a regular
  file of 1 MiB or more runs on a worker thread, as on the stdlib's, reading
  straight into the bytes object (``_read_on_worker``; a submitted
  ``read_file`` costs a stat for that), up to 32 such reads at once on an
  executor of more workers (``_gotask.WorkerSlots``).

Results and exceptions are the stdlib's: ``run`` returns a
``subprocess.CompletedProcess`` and raises ``subprocess.TimeoutExpired``,
``subprocess.CalledProcessError`` and ``FileNotFoundError`` (or another
``OSError``) as ``subprocess.run(..., capture_output=True)`` does.
"""

from __future__ import annotations

import base64
import errno
import json
import math
import operator
import os
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from gofutures import _gotask, _native

__all__ = ("run", "read_file", "write_file", "sleep")

StrOrBytesPath: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"
_CMD: TypeAlias = "StrOrBytesPath | Sequence[StrOrBytesPath]"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


# ---- sleep ----


# CPython keeps a timeout in nanoseconds in an int64 (PyTime_t): time.sleep
# and poll() refuse one past it with these OverflowErrors.
_NS_LIMIT = 2**63
_TOO_LARGE = "timestamp too large to convert to C " + ("PyTime_t" if sys.version_info >= (3, 13) else "_PyTime_t")
_OUT_OF_RANGE = "timestamp out of range for platform time_t"


def _sleep_seconds(seconds: float) -> float:
    """``seconds`` as a float, checked as ``time.sleep`` checks it (its
    exception classes and messages): a float must be a number whose
    nanoseconds fit in int64; anything else must be an int, or have
    ``__index__``, and fit too; neither may be negative."""
    if isinstance(seconds, float):
        if math.isnan(seconds):
            raise ValueError("Invalid value NaN (not a number)")
        if not -_NS_LIMIT <= seconds * 1e9 < _NS_LIMIT:  # False for infinities
            raise OverflowError(_OUT_OF_RANGE)
        value = float(seconds)
    else:
        n = operator.index(seconds)  # TypeError: '...' object cannot be interpreted as an integer
        if not -_NS_LIMIT <= n * 10**9 < _NS_LIMIT:
            raise OverflowError(_TOO_LARGE)
        value = float(n)
    if value < 0:
        raise ValueError("sleep length must be non-negative")
    return value


def _finish_none(status: int, meta: bytes, body: bytes) -> None:
    if not _gotask.ok(status):
        _gotask.raise_error(meta)


def _prepare_sleep(seconds: float) -> _gotask.GoCall[None]:
    # A finite float's repr is its JSON (2 us less than an encoder).
    return _gotask.GoCall("SLEEP", f'{{"seconds":{_sleep_seconds(seconds)!r}}}', b"", _finish_none)


@_gotask.go_function(_prepare_sleep)
def sleep(seconds: float) -> None:
    """Sleep ``seconds``, as ``time.sleep`` (same errors for bad values)."""
    if _native.stdlib_fallback():
        return time.sleep(seconds)
    return _gotask.call(_prepare_sleep(seconds))


# ---- files ----


def _finish_read(status: int, meta: bytes, body: bytes) -> bytes:
    if not _gotask.ok(status):
        _gotask.raise_error(meta)
    return body


def _prepare_read(path: StrOrBytesPath) -> _gotask.GoCall[bytes]:
    return _gotask.GoCall("READ", {"path": _b64(os.fsencode(path))}, b"", _with_path(_finish_read, path))


# A direct read of a regular file at least this large goes straight into the
# bytes object it returns (held once, as open().read() holds it), where the
# copy it saves is worth a buffer of its own.
_READ_INTO_MIN = 1 << 20


def _regular_size(path: StrOrBytesPath) -> int:
    """The size of the regular file at ``path``, or -1 for anything else
    (Go reports any error, as it would)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1


def _read_on_worker(*args: Any, **kwargs: Any) -> bool:
    """Whether a submitted read runs on a worker thread (while its executor
    has a _gotask.WorkerSlots slot for it): a regular file of
    _READ_INTO_MIN bytes or more, which a direct call reads straight into
    the bytes object it returns. On a goroutine, Go reads it into its own
    memory and the pump copies it, one body after another: 16 reads of
    50 MB took 0.62-0.67 s, against 0.21 s on worker threads (the stdlib's:
    0.24). A disk read holds a thread in Go too."""
    if kwargs:
        if args or len(kwargs) != 1 or "path" not in kwargs:
            return False  # bad arguments: the Go task fails as a call would
        args = (kwargs["path"],)
    elif len(args) != 1:
        return False
    try:
        return _regular_size(args[0]) >= _READ_INTO_MIN
    except Exception:  # not a path (os.stat's TypeError)
        return False


@_gotask.go_function(_prepare_read, on_worker=_read_on_worker)
def read_file(path: StrOrBytesPath) -> bytes:
    """The contents of the file at ``path``, as ``open(path, 'rb').read()``."""
    if _native.stdlib_fallback():
        with open(path, "rb") as f:
            return f.read()
    go = _prepare_read(path)
    size = _regular_size(path)
    # A disk file's read waits on nothing Ctrl-C could stop: Go does it on
    # this thread (inline). Not an empty one: /proc, /sys and tracefs files
    # say they hold 0 bytes, and some of their reads wait.
    return _gotask.call(go, into=size if size >= _READ_INTO_MIN else -1, inline=size > 0)


def _finish_write(status: int, meta: bytes, body: bytes) -> int:
    if not _gotask.ok(status):
        _gotask.raise_error(meta)
    n: int = json.loads(meta)["n"]
    return n


def _contiguous_bytes(data: Any) -> bytes:
    """A bytes-like object's bytes: ``data`` itself when it is ``bytes``
    (immutable: nothing to copy), else a copy; BufferError, as os.write and
    file writes raise, for one whose memory is not C-contiguous (a strided
    memoryview, a Fortran-ordered array)."""
    if type(data) is bytes:
        return data
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return bytes(view)


def _prepare_write(path: StrOrBytesPath, data: bytes) -> _gotask.GoCall[int]:
    try:
        payload = _contiguous_bytes(data)
    except TypeError:  # open(path, "wb").write's message
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") from None
    return _gotask.GoCall(
        "WRITE", {"path": _b64(os.fsencode(path))}, payload, _with_path(_finish_write, path)
    )


@_gotask.go_function(_prepare_write)
def write_file(path: StrOrBytesPath, data: bytes) -> int:
    """Replace the contents of the file at ``path`` with ``data`` (creating
    it), as ``open(path, 'wb').write(data)``; returns the number of bytes
    written, as ``pathlib.Path.write_bytes``."""
    if _native.stdlib_fallback():
        with open(path, "wb") as f:
            return f.write(data)
    # On a regular file (or a new one) Go writes on this thread (inline);
    # elsewhere (a FIFO) on a goroutine, where Ctrl-C can stop it.
    return _gotask.call(_prepare_write(path, data), inline=True)


def _with_path(finish: Any, path: StrOrBytesPath) -> Any:
    """finish, with an OSError's file name as the caller spelled it (open()
    reports the path it was given, str or bytes)."""

    def finish_with_path(status: int, meta: bytes, body: bytes) -> Any:
        try:
            return finish(status, meta, body)
        except OSError as exc:
            # An empty path: Go reports no file name, open() reports ''.
            if exc.filename is not None or os.fspath(path) in ("", b""):
                exc.filename = path if not isinstance(path, os.PathLike) else os.fspath(path)
            raise

    return finish_with_path


# ---- subprocesses ----


def _argv(args: _CMD) -> tuple[list[bytes], Any]:
    """The program's argv as file system bytes, and the program as Popen
    names it in an error (its orig_executable), as Popen takes ``args``
    with shell=False: a str, bytes or path-like is the program alone; any
    other iterable (a generator too) is listed once."""
    if isinstance(args, str | bytes | os.PathLike):
        return [os.fsencode(args)], args
    listed = list(args)
    return [os.fsencode(a) for a in listed], listed[0] if listed else None


# env=None: the child gets the process environment as it is now, as
# subprocess gives it: os.environ's changes and also those made with
# os.putenv or os.unsetenv, or by C code calling setenv (Go's os.Environ is a
# copy made when Go started, which misses every later change). Its JSON,
# base64 "KEY=value" strings, is cached against the entries last seen. Cost
# with 37 variables: about 5 us of GIL time a call while the environment is
# unchanged (60 us after a change), and 40 us of Go CPU to decode them,
# against about 300 us of CPU for running /bin/true.
_environ_json: tuple[list[bytes] | None, str] = (None, "[]")


def _current_env_json() -> str:
    global _environ_json
    _native.ext()  # its builtins, fast_environ among them, come with it
    entries = _native.fast_environ()
    cached, text = _environ_json
    if entries != cached:
        text = _gotask.encode([_b64(entry) for entry in entries])
        _environ_json = (entries, text)
    return text


def _run_timeout(timeout: float) -> float:
    """The seconds ``run`` gives Go for ``timeout`` (0 for one already
    passed), checked as ``subprocess.run`` checks it on POSIX: its deadline
    ``time() + timeout`` raises TypeError for a non-number, and its poll()
    of the pipes (``selectors.PollSelector``) ValueError for NaN and
    OverflowError for infinity, a timeout whose nanoseconds do not fit in
    int64 and one whose milliseconds do not fit in a C int (24.8 days)."""
    remaining = time.monotonic() + timeout - time.monotonic()
    if remaining <= 0:  # False for NaN
        return 0.0
    ms = math.ceil(remaining * 1e3)
    if ms * 10**6 >= _NS_LIMIT:
        raise OverflowError(_TOO_LARGE)
    if ms > 2**31 - 1:
        raise OverflowError("timeout is too large")
    return float(remaining)


def _check_exec_path(env: Mapping[Any, Any]) -> None:
    """os.get_exec_path's refusal, which subprocess meets looking up the
    program: both "PATH" and b"PATH" in env."""
    try:
        has_str = env.get("PATH") is not None
    except TypeError:
        has_str = False
    try:
        env[b"PATH"]
    except (KeyError, TypeError):
        return
    if has_str:
        raise ValueError("env cannot contain 'PATH' and b'PATH' keys")


def _prepare_run(
    args: _CMD,
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    cwd: StrOrBytesPath | None = None,
    env: Mapping[Any, Any] | None = None,
    check: bool = False,
) -> _gotask.GoCall[subprocess.CompletedProcess[bytes]]:
    argv, program = _argv(args)
    if not argv:
        raise IndexError("list index out of range")  # as Popen([]) on POSIX
    if cwd is not None and not os.fsencode(cwd):
        # The child's chdir("") fails: Go's exec would take "" for no cwd.
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
    record: dict[str, Any] = {
        "argv": [_b64(a) for a in argv],
        "has_env": True,  # env=None: the current environment (_current_env_json)
        "cwd": _b64(os.fsencode(cwd)) if cwd is not None else "",
        "input": input is not None,
        "timeout": 0.0,
        "has_timeout": timeout is not None,
    }
    if env is not None:
        _check_exec_path(env)
        pairs = []
        for k, v in env.items():
            key = os.fsencode(k)
            if b"=" in key:
                raise ValueError("illegal environment variable name")
            pairs.append(_b64(key + b"=" + os.fsencode(v)))
        record["env"] = pairs
    if timeout is not None:
        record["timeout"] = _run_timeout(timeout)
    # As communicate(): a false input (b"", "") writes nothing; stdin is
    # still a pipe, closed at once.
    body = _contiguous_bytes(input) if input else b""
    meta: dict[str, Any] | str = record
    if env is None:
        meta = _gotask.encode(record)[:-1] + ',"env":' + _current_env_json() + "}"

    def finish(status: int, meta: bytes, out: bytes | tuple[bytes, bytes]) -> subprocess.CompletedProcess[bytes]:
        rec = json.loads(meta)
        # Two bytes objects, or one when an output is empty: then slicing
        # at stdout_len (0 or its length) gives it and b"", no copy.
        n = rec.get("stdout_len", 0)
        stdout, stderr = out if isinstance(out, tuple) else (out[:n], out[n:])
        if not _gotask.ok(status):
            if rec.get("class") == "expired":
                if rec["pipes_ended"]:
                    # As subprocess.run: the child closed its outputs and
                    # took its input, so only the wait for its exit timed
                    # out, with what was left of the timeout.
                    raise subprocess.TimeoutExpired(args, rec["remaining"])
                # As subprocess: an output is None if nothing was read from
                # its pipe (not even its end) before the timeout.
                raise subprocess.TimeoutExpired(
                    args,
                    timeout,  # type: ignore[arg-type]
                    output=stdout if stdout or rec["stdout_ended"] else None,
                    stderr=stderr if stderr or rec["stderr_ended"] else None,
                )
            if rec.get("class") == "os" and ("filename" in rec or argv[0] == b""):
                # The name as the caller gave it, as subprocess reports it
                # (Go leaves out an empty one: an empty program's lookup).
                if cwd is not None and rec.get("filename") == os.fsdecode(os.fsencode(cwd)):
                    rec["filename"] = cwd
                else:
                    rec["filename"] = program
            raise _gotask.ERRORS[rec["class"]](rec)
        code = rec["code"]
        if check and code:
            raise subprocess.CalledProcessError(code, args, output=stdout, stderr=stderr)
        return subprocess.CompletedProcess(args, code, stdout, stderr)

    return _gotask.GoCall("RUN", meta, body, finish)


@_gotask.go_function(_prepare_run)
def run(
    args: _CMD,
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    cwd: StrOrBytesPath | None = None,
    env: Mapping[Any, Any] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command and capture its output, as ``subprocess.run(args,
    input=input, timeout=timeout, cwd=cwd, env=env, check=check,
    capture_output=True)``: stdout and stderr are bytes; stdin is ``input``
    if given, else inherited. On a timeout or Ctrl-C the child is killed.
    With ``env=None`` the child gets the process environment as it is at
    the call (a submitted call: at ``submit``), as ``subprocess`` gives it,
    and the program is searched in its ``PATH``. Unlike ``subprocess.run``
    (``close_fds=True``), the child also gets the file descriptors the
    process has made inheritable."""
    if _native.stdlib_fallback():
        return subprocess.run(
            args, input=input, timeout=timeout, cwd=cwd, env=env, check=check, capture_output=True
        )
    return _gotask.call(
        _prepare_run(args, input=input, timeout=timeout, cwd=cwd, env=env, check=check)
    )
