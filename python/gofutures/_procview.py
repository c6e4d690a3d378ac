"""``ProcessPoolExecutor._processes``: what real code reads of the stdlib's
private state, as a read-only view of the Go pool's workers.

Programs and CPython's own tests read ``executor._processes`` (pid to a
``multiprocessing.Process``) to count workers, kill one, or join them after
``shutdown(wait=False)``. The view gives each live worker a handle with the
parts of ``Process`` those uses need. It is made anew on each read (one Go
call), so it lists the workers alive at that moment; after ``shutdown()`` it
is ``None``, as in the stdlib.
"""

from __future__ import annotations

import os
import signal
import time


class WorkerHandle:
    """A worker process, as far as ``multiprocessing.Process`` users need:
    ``pid``, ``name``, ``is_alive()``, ``join(timeout)``, ``terminate()``,
    ``kill()`` and ``exitcode``.

    The worker is not this process's child (the zygote or Go reaps it), so
    ``join`` polls for its end (every 10 ms) and ``exitcode`` is ``-N`` after
    this handle ended it with signal N, ``None`` while it runs or when it
    ended some other way (the pool's BrokenProcessPool message says how).
    """

    __slots__ = ("pid", "name", "_signal")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.name = f"gofutures-worker-{pid}"
        self._signal = 0

    def __repr__(self) -> str:
        state = "started" if self.is_alive() else "stopped"
        return f"<WorkerHandle name={self.name!r} pid={self.pid} {state}>"

    def is_alive(self) -> bool:
        return _running(self.pid)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while _running(self.pid):
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def terminate(self) -> None:
        self._send(signal.SIGTERM)

    def kill(self) -> None:
        self._send(signal.SIGKILL)

    @property
    def exitcode(self) -> int | None:
        if self._signal and not _running(self.pid):
            return -self._signal
        return None

    def _send(self, sig: int) -> None:
        if _running(self.pid):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return
            self._signal = sig


def _running(pid: int) -> bool:
    """Whether pid exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses.
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


def workers(pids: str) -> dict[int, WorkerHandle]:
    """The view for Go's space-separated list of live worker pids."""
    return {int(pid): WorkerHandle(int(pid)) for pid in pids.split()}
