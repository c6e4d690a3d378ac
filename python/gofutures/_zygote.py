"""The zygote: a warm interpreter that forks worker processes on request.

Two ways to get one:

- ``fork_program`` forks it from the program when a pool with the 'fork'
  start method starts: its workers start as forks of the program, as the
  stdlib's fork workers do, in about a millisecond each. It serves that pool
  only. It never calls Go, even when the program had loaded it.
- The Go supervisor executes ``python -m gofutures._zygote`` (``main``): a
  fresh interpreter, like the 'forkserver' start method, serving every pool
  that asks for one.

It talks over two pipes (stdout and stderr stay the user's, so workers print
where the parent prints):

    commands <- "fork <token> <socket path>" | "become <token> <socket path>"
    replies  -> "forked <token> <pid>" | "error <token> <message>" | "exit <pid> <wait status>"

"become" turns the zygote itself into the worker (``_Zygote.become``): the Go
side asks a pool's own zygote for the pool's last worker when it will never
need another (no max_tasks_per_child). A pool then runs no process besides
its workers, as with the stdlib's 'fork'.

It reaps its children (SIGCHLD) and reports how each ended. It exits when the
command pipe closes (so when its parent dies, however it dies), and its
children die with it (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import selectors
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from gofutures import _mainvalue, _pickling, _wire, _worker  # noqa: F401 - preloaded for the children

COMMANDS_FD = 3  # in an executed zygote
REPLIES_FD = 4
# How long the zygote waits for a fork request before it does its idle work.
_IDLE_S = 0.05


class _Zygote:
    def __init__(self, commands: int, replies: int) -> None:
        self.commands = commands
        self.replies = replies
        self.wake_r, self.wake_w = os.pipe()
        # Workers write here the modules their first task imported (learn).
        self.hints_r, self.hints_w = os.pipe()
        os.set_blocking(self.hints_r, False)
        os.set_blocking(self.hints_w, False)
        self.children: set[int] = set()  # forked and not reaped yet

    def reply(self, line: str) -> None:
        os.write(self.replies, (line + "\n").encode())

    def reap(self, block: bool = False) -> None:
        """Report every child that ended (with block, wait for each to end).
        Only pids it forked are waited for: once the zygote became a worker,
        its tasks may have children too."""
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.children.discard(pid)
                continue
            if done:
                self.children.discard(pid)
                self.reply(f"exit {pid} {status}")

    def fork_worker(self, token: int, socket_path: str) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            self.reply(f"error {token} {exc}")
            return
        if pid != 0:
            self.children.add(pid)
            self.reply(f"forked {token} {pid}")
            return

        # Child: become a worker.
        def prepare() -> None:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self.commands, self.replies, self.wake_r, self.wake_w, self.hints_r):
                os.close(fd)
            _worker.hints_fd = self.hints_w
            _worker._die_with_parent()
            if os.getppid() == 1:  # the zygote died between fork and prctl
                os._exit(1)

        _serve_then_exit(token, socket_path, prepare)

    def _reap_quietly(self, *_: object) -> None:
        # A signal handler: an error here would surface in the task running.
        with contextlib.suppress(OSError):
            self.reap()

    def become(self, token: int, socket_path: str) -> None:
        """Serve as the worker for token in this process, then exit.

        The workers forked before are its children and die with it
        (PR_SET_PDEATHSIG), so it waits for them before it exits and keeps
        reporting how they ended (SIGCHLD). No command comes any more: the
        end of the command pipe, which comes when the program dies however
        it dies, now kills this process (SIGKILL via F_SETSIG), even while a
        task runs.
        """
        self.reply(f"forked {token} {os.getpid()}")

        def prepare() -> None:
            for fd in (self.wake_r, self.wake_w, self.hints_r, self.hints_w):
                os.close(fd)
            _kill_on_hangup(self.commands)
            signal.signal(signal.SIGCHLD, self._reap_quietly)

        def finish() -> None:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.reap(block=True)

        _serve_then_exit(token, socket_path, prepare, finish)

    def learn(self) -> None:
        """Import the modules that workers reported their first task needed,
        so that the workers forked from now on start with them (a zygote that
        forks a worker per task, max_tasks_per_child, would otherwise have
        each of them import the task's module again). Like the 'fork' start
        method, this runs module code once here instead of in every worker.
        A module is imported only if the name finds the same file here as in
        the worker (pools may differ in sys.path); one that fails to import
        here is left to the workers."""
        data = b""
        try:
            while chunk := os.read(self.hints_r, 65536):
                data += chunk
        except BlockingIOError:
            pass
        for line in data.decode(errors="surrogateescape").splitlines():
            name, _, file = line.partition("\t")
            if not file or name in sys.modules:
                continue
            # A hint, not a requirement: whatever fails is the workers'.
            with contextlib.suppress(BaseException):
                spec = importlib.util.find_spec(name)
                if spec is not None and spec.origin == file:
                    importlib.import_module(name)

    def serve(self) -> int:
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        sel = selectors.DefaultSelector()
        sel.register(self.commands, selectors.EVENT_READ)
        sel.register(self.wake_r, selectors.EVENT_READ)
        sel.register(self.hints_r, selectors.EVENT_READ)
        pending = b""
        idle_work = [_worker.preload_when_idle]
        while True:
            ready = sel.select(_IDLE_S if idle_work else None)
            if not ready and idle_work:
                idle_work.pop()()
            for key, _ in ready:
                if key.fd == self.hints_r:
                    self.learn()
                    continue
                if key.fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                chunk = os.read(self.commands, 4096)
                if not chunk:
                    self.reap()
                    return 0
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    parts = line.split(b" ", 2)
                    if len(parts) == 3 and parts[0] == b"fork":
                        self.fork_worker(int(parts[1]), os.fsdecode(parts[2]))
                    elif len(parts) == 3 and parts[0] == b"become":
                        self.reap()
                        self.become(int(parts[1]), os.fsdecode(parts[2]))
            self.reap()


def _serve_then_exit(
    token: int,
    socket_path: str,
    prepare: Callable[[], None],
    finish: Callable[[], None] | None = None,
) -> NoReturn:
    """Turn this process into the worker for token: prepare(), serve the
    pool's connection, then finish() and exit with serve's code. Never
    returns, whatever raises: a zygote's fork (or the zygote itself) must not
    go back to the zygote's loop. An exception is printed and exits with 1."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        prepare()
        code = _worker.serve(socket_path, token)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            if finish is not None:
                finish()
        finally:
            _run_multiprocessing_exit()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)


def _run_multiprocessing_exit() -> None:
    """What a process forked by multiprocessing runs before os._exit: this
    process's own finalizers, among them the flush of a Queue's buffered
    items (a task's q.put would otherwise be lost)."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        with contextlib.suppress(BaseException):
            util._exit_function()


def _become_multiprocessing_child() -> None:
    """What multiprocessing does in a process it forks (Process._bootstrap):
    forget the program's children and finalizers, and run the after-fork
    hooks of its objects (a Queue inherited from the program drops its
    feeder thread, which did not survive the fork)."""
    process = sys.modules.get("multiprocessing.process")
    if process is not None:
        process._children = set()  # type: ignore[attr-defined]
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util._finalizer_registry.clear()
        util._run_after_forkers()


# fcntl's F_SETSIG (Linux): the signal sent when a descriptor in O_ASYNC mode
# becomes ready.
_F_SETSIG = 10


def _kill_on_hangup(fd: int) -> None:
    """Have Linux SIGKILL this process when the write end of pipe fd closes.
    Nothing may be written to the pipe any more (that would kill it too)."""
    import fcntl
    import select

    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(fd, _F_SETSIG, signal.SIGKILL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    # The program may have gone before the request was armed.
    if select.select([fd], [], [], 0)[0] and not os.read(fd, 1):
        os._exit(1)


# The program's ends of the pipes of every zygote it forked, by fd, with the
# pipe's identity (a number may be reused once Go has closed it).
_zygote_pipes: dict[int, tuple[int, int]] = {}


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _remember_pipes(*fds: int) -> None:
    for fd in list(_zygote_pipes):
        if _identity(fd) != _zygote_pipes[fd]:
            del _zygote_pipes[fd]  # closed since (by Go, with its pool)
    for fd in fds:
        ident = _identity(fd)
        if ident is not None:
            _zygote_pipes[fd] = ident


def _close_other_zygotes_pipes() -> None:
    """In a new zygote: close the program's ends of the other zygotes'
    pipes, so that each still sees the end of its command pipe when its own
    pool closes it. Every other descriptor stays open, as in the stdlib's
    fork workers (a log file or a Queue's pipe the initializer uses)."""
    for fd, ident in _zygote_pipes.items():
        if _identity(fd) == ident:
            try:
                os.close(fd)
            except OSError:
                pass
    _zygote_pipes.clear()


def _rebind_std_streams() -> None:
    """Point sys.stdout/sys.stderr at fds 1 and 2: the program's may have
    wrapped a descriptor that was just closed (a redirect, pytest's capture)."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            os.fstat(fd)
        except OSError:
            continue
        setattr(sys, name, open(fd, "w", buffering=1, closefd=False))  # noqa: SIM115


def fork_program(inherited_init: tuple[Any, Any]) -> tuple[int, int, int]:
    """Fork a zygote from this program for one pool (the 'fork' start
    method). Its workers see the program as it is now, and get the pool's
    ``(initializer, initargs)`` by inheritance, never pickled. Returns (pid,
    command fd, reply fd) for the Go supervisor.

    Once the Go runtime is loaded the program has Go's threads; the zygote
    never calls Go (the fork handlers mark the child, see _native), so it is
    forked by _native.fork_program, which does what os.fork does without
    warning about those threads."""
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = _fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()  # leave the terminal's process group: Ctrl-C is the parent's
            _close_other_zygotes_pipes()
            os.close(cmd_w)
            os.close(rep_r)
            _become_multiprocessing_child()
            _rebind_std_streams()
            _worker.inherited_init = inherited_init
            _mainvalue.use_program_main()
            _worker.preload()
            code = _Zygote(cmd_r, rep_w).serve()
        finally:
            os._exit(code)
    os.close(cmd_r)
    os.close(rep_w)
    os.set_inheritable(cmd_w, False)
    os.set_inheritable(rep_r, False)
    _remember_pipes(cmd_w, rep_r)
    return pid, cmd_w, rep_r


def _fork() -> int:
    from gofutures import _native

    if _native.loaded():
        return _native.fork_program()
    return os.fork()


def main() -> int:
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started this
    # process exits, and this zygote outlives the pool whose thread started
    # it. The end of the command pipe (this process's parent dying, however)
    # ends it instead.
    _worker.preload()
    return _Zygote(COMMANDS_FD, REPLIES_FD).serve()


if __name__ == "__main__":
    sys.exit(main())
