"""Task functions for the ProcessPoolExecutor tests.

They live in an importable module (not in a test file, not in ``__main__``)
because stdlib 'spawn' and 'forkserver' workers import them by reference.

``Gate`` lets a test hold a task inside a worker and know that it started,
without sleeping for ordering: the parent listens on an abstract Unix socket,
the task connects, says its pid and blocks until the parent releases it (or
closes the gate).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

# How long a task blocked on a gate waits before giving up on its own, so that
# a test that forgets to release it cannot leave a worker behind forever.
GATE_TASK_TIMEOUT = 30.0


# --------------------------------------------------------------------------
# plain tasks
# --------------------------------------------------------------------------


def square(x: int) -> int:
    return x * x


def record(path: str, value: int) -> int:
    """Append value to the file at path (one line), then return it."""
    with open(path, "a") as f:
        f.write(f"{value}\n")
    return value


def add(x: int, y: int) -> int:
    return x + y


def identity(x: Any) -> Any:
    return x


def echo_bytes(data: bytes) -> bytes:
    return data


def make_bytes(n: int) -> bytes:
    return b"\xab" * n


def byte_len(data: bytes) -> int:
    return len(data)


def raise_value_error(msg: str) -> None:
    raise ValueError(msg)


def raise_in_nested_call(msg: str) -> None:
    _nested_raiser(msg)


def _nested_raiser(msg: str) -> None:
    raise KeyError(msg)


def sleep_then_return(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


def getpid() -> int:
    return os.getpid()


def run_exit_codes(codes: list[int], pause: float = 0.0) -> tuple[int, list[int | None]]:
    """(pid, return codes of shell children exiting with codes): a task whose
    own children's exit statuses must reach it intact."""
    import subprocess

    time.sleep(pause)
    children = [subprocess.Popen(["sh", "-c", f"exit {c}"]) for c in codes]
    time.sleep(0.05)  # they exit meanwhile: SIGCHLD arrives before wait()
    return os.getpid(), [child.wait() for child in children]


def pid_after(seconds: float) -> int:
    """The worker's pid, after keeping the worker busy for a while."""
    time.sleep(seconds)
    return os.getpid()


def print_marker(marker: str) -> str:
    print(marker, flush=True)
    print(marker + "-stderr", file=sys.stderr, flush=True)
    return marker


# --------------------------------------------------------------------------
# tasks that kill their worker
# --------------------------------------------------------------------------


def os_exit(code: int) -> None:
    os._exit(code)


def kill_self(sig: int) -> None:
    os.kill(os.getpid(), sig)
    # SIGKILL is delivered before kill() returns; other signals may need a
    # moment. Never return normally.
    time.sleep(GATE_TASK_TIMEOUT)


def segfault() -> None:
    # Run the faulting read with faulthandler off so that only the signal,
    # not a Python traceback dump, reaches the test output.
    import faulthandler

    faulthandler.disable()
    ctypes.string_at(0)


# --------------------------------------------------------------------------
# pickling failures
# --------------------------------------------------------------------------


def return_lock() -> threading.Lock:
    """A result that cannot be pickled (TypeError)."""
    return threading.Lock()


def return_lambda() -> Any:
    """A result that cannot be pickled by reference (PicklingError)."""
    return lambda: None


def _raise_on_unpickle(msg: str) -> Any:
    raise RuntimeError(msg)


class UnpicklesBadly:
    """Pickles fine; unpickling it raises RuntimeError('cannot unpickle me')."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _raise_on_unpickle, ("cannot unpickle me",)


def return_unpickles_badly() -> UnpicklesBadly:
    return UnpicklesBadly()


# --------------------------------------------------------------------------
# initializers
# --------------------------------------------------------------------------

INIT_VALUE: Any = None
INIT_CALLS = 0


def init_set_global(value: Any) -> None:
    global INIT_VALUE, INIT_CALLS
    INIT_VALUE = value
    INIT_CALLS += 1


def init_raise() -> None:
    # Not at once: the stdlib's pool breaks as soon as a worker exits, and a
    # test's submits made after that raise (the stdlib's 'fork' pool lost
    # that race in a CI run).
    time.sleep(0.3)
    raise ValueError("initializer failed on purpose")


def get_global() -> tuple[int, Any, int]:
    """(pid, the value the initializer set, how often it ran in this worker)."""
    return os.getpid(), INIT_VALUE, INIT_CALLS


def get_global_after(seconds: float) -> tuple[int, Any, int]:
    time.sleep(seconds)
    return get_global()


# --------------------------------------------------------------------------
# gate: hold a task in its worker until the test releases it
# --------------------------------------------------------------------------


def gate_wait(address: str, value: Any = None) -> Any:
    """Connect to the gate, report this pid, block until released; return value."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(GATE_TASK_TIMEOUT)
    with contextlib.closing(sock):
        sock.connect(address)
        sock.sendall(b"%d\n" % os.getpid())
        with contextlib.suppress(OSError):
            sock.recv(1)  # b"" (closed) or b"g" (released): both release
    return value


class Gate:
    """Parent side of ``gate_wait``: an abstract-namespace Unix socket."""

    def __init__(self) -> None:
        self.address = "\0gofutures-test-gate-" + uuid.uuid4().hex
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(64)
        self._conns: list[socket.socket] = []

    def wait_started(self, timeout: float = 10.0) -> int:
        """Block until one more task reached the gate; return its worker pid."""
        self._listener.settimeout(timeout)
        conn, _ = self._listener.accept()
        conn.settimeout(timeout)
        self._conns.append(conn)
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(64)
            if not chunk:
                break
            line += chunk
        return int(line)

    def release(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.sendall(b"g")
            conn.close()
        self._conns.clear()

    def close(self) -> None:
        # Also release tasks that connected but were never accepted.
        self._listener.setblocking(False)
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                break
            self._conns.append(conn)
        self.release()
        self._listener.close()


def inverse(x: float) -> float:
    return 1 / x


def raise_system_exit(code: int) -> None:
    sys.exit(code)


def raise_unpicklable_exception() -> None:
    """Raises an exception that cannot be pickled (its argument is a lock)."""
    raise ValueError(threading.Lock())


def getenv(name: str) -> str | None:
    return os.environ.get(name)


def gate_then_global(address: str) -> tuple[int, Any, int]:
    gate_wait(address)
    return get_global()


def proxy_set(event: Any, queue: Any, value: Any) -> Any:
    """Use multiprocessing.Manager proxies passed as arguments."""
    queue.put(value)
    event.set()
    return value
