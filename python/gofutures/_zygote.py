"""The zygote: a warm interpreter that forks worker processes on request.

The Go supervisor starts it (never a fork of the parent, which holds the Go
runtime) with two pipes: commands on fd 3, replies on fd 4 (stdout and
stderr stay the user's, so workers print where the parent prints). Forking
it costs about a millisecond where starting an interpreter costs 40-450 ms.

    fd 3 <- "fork <token>"
    fd 4 -> "forked <token> <pid>" | "error <token> <message>" | "exit <pid> <wait status>"

It reaps its children (SIGCHLD) and reports how each ended. It exits when
fd 3 closes, and dies with its parent (PR_SET_PDEATHSIG); so do its
children.
"""

from __future__ import annotations

import os
import selectors
import signal
import sys

from gofutures import _pickling, _wire, _worker  # noqa: F401 - preloaded for the children

COMMANDS_FD = 3
REPLIES_FD = 4


def _reply(line: str) -> None:
    os.write(REPLIES_FD, (line + "\n").encode())


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _reply(f"exit {pid} {status}")


def _fork_worker(token: int, wake_r: int, wake_w: int) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        _reply(f"error {token} {exc}")
        return
    if pid != 0:
        _reply(f"forked {token} {pid}")
        return
    # Child: become a worker.
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (COMMANDS_FD, REPLIES_FD, wake_r, wake_w):
            os.close(fd)
        _worker._die_with_parent()
        if os.getppid() == 1:  # the zygote died between fork and prctl
            os._exit(1)
        code = _worker.serve(os.environ["GOFUTURES_SOCKET"], token)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> int:
    _worker._die_with_parent()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    commands = os.fdopen(COMMANDS_FD, "rb", buffering=0)
    sel = selectors.DefaultSelector()
    sel.register(COMMANDS_FD, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    pending = b""
    while True:
        for key, _ in sel.select():
            if key.fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                _reap()
                continue
            chunk = os.read(COMMANDS_FD, 4096)
            if not chunk:
                _reap()
                commands.close()
                return 0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                parts = line.split()
                if len(parts) == 2 and parts[0] == b"fork":
                    _fork_worker(int(parts[1]), wake_r, wake_w)
        _reap()


if __name__ == "__main__":
    sys.exit(main())
