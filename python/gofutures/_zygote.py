"""The zygote: a warm interpreter that forks worker processes on request.

Two ways to get one:

- ``fork_program`` forks it from the program when a pool with the 'fork'
  start method starts: its workers start as forks of the program, as the
  stdlib's fork workers do, in about a millisecond each. It serves that pool
  only. It never calls Go, even when the program had loaded it.
- The Go supervisor executes a fresh interpreter that runs ``main``
  (``_command.argv("_zygote", ...)``: multiprocessing's executable with the
  program's interpreter flags and ``-c`` with a bootstrap that puts the
  program's ``sys.path`` first; its pipes are fds 3 and 4), like the
  'forkserver' start method, serving every pool that asks for one.

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
children die with it (PR_SET_PDEATHSIG, which each worker sets for itself).
The zygote does not set PR_SET_PDEATHSIG: that follows the thread that started
a process, and a zygote outlives it (a fresh zygote, the Go thread of the pool
that started it; a fork of the program, the thread that started its pool).
One that became a worker reads no more commands: the end of the command pipe
kills it instead (SIGKILL through F_SETSIG, ``_kill_on_hangup``).

It never forks while it runs more than one thread: a fork copies the other
threads' locks in whatever state they are, and a worker that needs one waits
forever. It imports a module its workers used only once a forked child showed
that the import starts no thread (``_probe_imports``), and should it run a
thread anyway, it starts fresh worker interpreters instead of forking
(``spawn_worker``).

Workers get back the signal dispositions the zygote found (the program's, for
a fork of the program), as the stdlib's forkserver gives them back: SIGINT
raises KeyboardInterrupt in a task. The zygote ignores SIGINT itself and stays
in the program's process group, as the stdlib's workers and forkserver do, so
a terminal's Ctrl-C reaches the program and the workers but not the zygote.
"""

from __future__ import annotations

import _thread
import contextlib
import importlib
import importlib.util
import os
import select
import selectors
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from gofutures import _command, _mainvalue, _pickling, _wire, _worker  # noqa: F401 - preloaded for the children

COMMANDS_FD = 3  # in an executed zygote
REPLIES_FD = 4
# How long the zygote waits for a fork request before it does its idle work.
_IDLE_S = 0.05
# How long a forked child may take to try the imports the zygote learned of
# (see _probe_imports) before it is killed and the rest left to the workers.
_PROBE_TIMEOUT_S = 10.0
# At most this many probes per batch of learned imports (each one after a
# module that started a thread).
_PROBE_ROUNDS = 4

# The signals whose disposition the zygote changes for itself; its workers get
# back what it found (the program's for a fork of the program, a fresh
# interpreter's otherwise), as the stdlib's forkserver restores them.
_OWN_SIGNALS = (signal.SIGINT, signal.SIGCHLD)


def _dispositions() -> dict[int, Any]:
    """This process's handlers of _OWN_SIGNALS (None: not set from Python)."""
    return {sig: signal.getsignal(sig) for sig in _OWN_SIGNALS}


def _restore(dispositions: dict[int, Any], *signals: int) -> None:
    for sig in signals or dispositions:
        handler = dispositions.get(sig)
        if handler is not None:
            signal.signal(sig, handler)


def thread_count() -> int:
    """The threads this process runs (C threads included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


class _Zygote:
    def __init__(
        self,
        commands: int,
        replies: int,
        dispositions: dict[int, Any] | None = None,
        learns: bool = True,
    ) -> None:
        self.commands = commands
        self.replies = replies
        # Whether it imports what its workers' first tasks imported (learn).
        # A fork of the program does not: its workers must stay forks of it
        # (they get the initializer and __main__ by inheritance), and an
        # import that started a thread would force fresh workers instead.
        self.learns = learns
        # What workers restore (taken before serve changes it).
        self.dispositions = _dispositions() if dispositions is None else dispositions
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
        if thread_count() > 1:
            # A fork would copy the other threads' locks in whatever state
            # they are: start a fresh worker interpreter instead.
            self.spawn_worker(token, socket_path)
            return
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
            _restore(self.dispositions)
            for fd in (self.commands, self.replies, self.wake_r, self.wake_w, self.hints_r):
                os.close(fd)
            if self.learns:
                _worker.hints_fd = self.hints_w
            else:
                os.close(self.hints_w)
            _worker._die_with_parent()
            if os.getppid() == 1:  # the zygote died between fork and prctl
                os._exit(1)

        _serve_then_exit(token, socket_path, prepare)

    def spawn_worker(self, token: int, socket_path: str) -> None:
        """Start the worker for token as a fresh interpreter (the zygote runs
        more than one thread, so it must not fork). Every descriptor of the
        zygote is close-on-exec; the worker gets the dispositions a fork
        would have, and dies with the zygote like a fork (PR_SET_PDEATHSIG)."""
        command = _command.argv("_worker", sys.path)
        env = dict(os.environ, GOFUTURES_SOCKET=socket_path, GOFUTURES_TOKEN=str(token))
        # Ignored signals stay ignored across exec: give back the defaults.
        reset = [sig for sig, handler in self.dispositions.items() if handler is not signal.SIG_IGN]
        try:
            pid = os.posix_spawnp(command[0], command, env, setsigdef=reset)
        except OSError as exc:
            self.reply(f"error {token} {exc}")
            return
        self.children.add(pid)
        self.reply(f"forked {token} {pid}")

    def _reap_quietly(self, *_: object) -> None:
        # A signal handler: an error here would surface in the task running.
        with contextlib.suppress(OSError):
            self.reap()

    def become(self, token: int, socket_path: str) -> None:
        """Serve as the worker for token in this process, then exit.

        The workers forked before are its children and die with it
        (PR_SET_PDEATHSIG), so it waits for them before it exits and keeps
        reporting how they ended, from a thread waiting on their pidfds (a
        SIGCHLD handler would show in the tasks' signal dispositions). No
        command comes any more: the end of the command pipe, which comes when
        the program dies however it dies, now kills this process (SIGKILL via
        F_SETSIG), even while a task runs.
        """
        self.reply(f"forked {token} {os.getpid()}")
        reaped: Callable[[], None] | None = None

        def prepare() -> None:
            nonlocal reaped
            for fd in (self.wake_r, self.wake_w, self.hints_r, self.hints_w):
                os.close(fd)
            _kill_on_hangup(self.commands)
            # A process a task forks must not hold the program's pipes.
            _worker.keep_from_forks(self.commands, self.replies)
            _restore(self.dispositions, signal.SIGINT)
            reaped = self._reap_in_background()
            if reaped is None:
                signal.signal(signal.SIGCHLD, self._reap_quietly)
            else:
                _restore(self.dispositions, signal.SIGCHLD)

        def finish() -> None:
            if reaped is not None:
                reaped()
            else:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.reap(block=True)

        _serve_then_exit(token, socket_path, prepare, finish)

    def _reap_in_background(self) -> Callable[[], None] | None:
        """Reap and report the children from a thread, each as it ends.
        Returns a function that waits for the last of them, or None when
        pidfds are missing (Linux < 5.3). Without children (a pool of one
        worker) no thread starts: Python 3.12+ warns a task that forks in a
        process that runs threads."""
        if not self.children:
            return lambda: None
        if not hasattr(os, "pidfd_open"):
            return None
        fds: dict[int, int] = {}
        try:
            for pid in list(self.children):
                fds[os.pidfd_open(pid)] = pid
        except OSError:
            for fd in fds:
                os.close(fd)
            return None
        done = _thread.allocate_lock()
        done.acquire()

        def wait_for_children() -> None:
            # A thread must not die with an error; finish reaps what is left.
            with contextlib.suppress(BaseException):
                poller = select.poll()
                for fd in fds:
                    poller.register(fd, select.POLLIN)
                while fds:
                    for fd, _ in poller.poll():
                        poller.unregister(fd)
                        os.close(fd)
                        pid = fds.pop(fd)
                        with contextlib.suppress(ChildProcessError):
                            _, status = os.waitpid(pid, 0)
                            self.children.discard(pid)
                            self.reply(f"exit {pid} {status}")
            done.release()

        # A bare thread: the tasks' threading.enumerate() does not list it.
        _thread.start_new_thread(wait_for_children, ())

        def wait() -> None:
            done.acquire()

        return wait

    def learn(self) -> None:
        """Import the modules that workers reported their first task needed,
        so that the workers forked from now on start with them (a zygote that
        forks a worker per task, max_tasks_per_child, would otherwise have
        each of them import the task's module again). Like the 'fork' start
        method, this runs module code once here instead of in every worker.
        A module is imported only if the name finds the same file here as in
        the worker (pools may differ in sys.path), and only if importing it
        in a forked child left that child with a single thread: a module that
        starts a thread at import would have this zygote fork with that
        thread's locks in whatever state they were (see _probe_imports).
        One that fails to import is left to the workers."""
        data = b""
        try:
            while chunk := os.read(self.hints_r, 65536):
                data += chunk
        except BlockingIOError:
            pass
        names = []
        for line in data.decode(errors="surrogateescape").splitlines():
            name, _, file = line.partition("\t")
            if not file or name in sys.modules or name in names:
                continue
            # A hint, not a requirement: whatever fails is the workers'.
            with contextlib.suppress(BaseException):
                spec = importlib.util.find_spec(name)
                if spec is not None and spec.origin == file:
                    names.append(name)
        for _ in range(_PROBE_ROUNDS):
            if not names or thread_count() > 1:
                return
            try:
                safe, rest = _probe_imports(names)
            except OSError:  # no fork, no pipe: the imports stay the workers'
                return
            for name in safe:
                with contextlib.suppress(BaseException):
                    importlib.import_module(name)
            names = [name for name in rest if name not in sys.modules]

    def serve(self) -> int:
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the program and the workers
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
                        if self.dispositions.get(signal.SIGCHLD) is signal.SIG_IGN:
                            # A worker restores SIGCHLD ignored, and then
                            # could not learn how the workers it forked
                            # (its children) end: fork this one too.
                            self.fork_worker(int(parts[1]), os.fsdecode(parts[2]))
                            continue
                        self.reap()
                        self.become(int(parts[1]), os.fsdecode(parts[2]))
            self.reap()


def _probe_imports(names: list[str]) -> tuple[list[str], list[str]]:
    """Import names one after the other in a forked child (this process has
    one thread, so the fork is safe) and watch its thread count. Returns the
    names imported while the child kept one thread, and those never tried:
    the ones after the first that started a thread (none once the child took
    longer than _PROBE_TIMEOUT_S: it is killed then, and what it had not
    reported is left to the workers). Names whose import failed are in
    neither. The child prints nothing (its output goes
    to /dev/null: the zygote prints what the module prints when it imports
    it) and dies with the zygote."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        try:
            os.close(r)
            signal.set_wakeup_fd(-1)
            _worker._die_with_parent()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            for name in names:
                try:
                    importlib.import_module(name)
                    verdict = "ok"
                except BaseException:
                    verdict = "failed"
                if thread_count() > 1:
                    verdict = "threaded"
                os.write(w, f"{verdict} {name}\n".encode(errors="surrogateescape"))
                if verdict == "threaded":
                    break
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    deadline = time.monotonic() + _PROBE_TIMEOUT_S
    timed_out = False
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([r], [], [], left)[0]:
                continue
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        else:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(r)
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break
    safe: list[str] = []
    tried: set[str] = set()
    for line in data.decode(errors="surrogateescape").splitlines():
        verdict, _, name = line.partition(" ")
        tried.add(name)
        if verdict == "ok":
            safe.append(name)
    if timed_out:  # one of them hangs: try none of the rest again
        return safe, []
    return safe, [name for name in names if name not in tried]


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
            # As multiprocessing's Process._bootstrap: wait for the threads a
            # task started (a non-daemon thread's work must not be lost).
            threading = sys.modules.get("threading")  # no threading, no threads to wait for
            if threading is not None:
                with contextlib.suppress(BaseException):
                    threading._shutdown()
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
    point sys.stdin at /dev/null, forget the program's children and
    finalizers, and run the after-fork hooks of its objects (a Queue
    inherited from the program drops its feeder thread, which did not
    survive the fork)."""
    from multiprocessing import util as mp_util

    # The program's input stays the program's: a task reading sys.stdin sees
    # its end, not what the program had not read yet. fd 0 stays open, as
    # there (sys.stdin does not own it).
    mp_util._close_stdin()  # type: ignore[attr-defined]
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

# Held by fork_program from its pipes to their entry in _zygote_pipes: a
# zygote forked by another thread meanwhile would miss them, keep the other
# pool's command pipe open, and that zygote would never see its end (its
# pool's shutdown then waited for ever).
_fork_lock = _thread.allocate_lock()


def _new_fork_lock() -> None:
    """After any fork (os.fork and _native.fork_program both run the at-fork
    handlers): the child's copy may be held by a thread it lacks."""
    global _fork_lock
    _fork_lock = _thread.allocate_lock()


os.register_at_fork(after_in_child=_new_fork_lock)


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


# The program's sys.stdout and sys.stderr where a zygote forked from the
# program replaced them, kept (never written, closed or flushed): released, a
# stream the program opened would close its descriptor, which a later socket
# of the worker could then reuse.
_program_streams: list[Any] = []

# How long a flush of the program's stream may take in a fresh fork before
# its buffer's lock counts as held by a thread the fork did not copy.
_LOCK_PROBE_S = 0.2


def _usable_after_fork(stream: Any) -> bool:
    """Whether this fork can write through the program's stream object: its
    buffer's lock is free (the program flushed the stream just before the
    fork, so a flush only takes the lock). Another thread of the program may
    have held it at the fork, and held it stays: a print would hang. The
    flush runs on a thread of its own, given _LOCK_PROBE_S; a probe that
    flushed is waited for until its OS thread has gone too (a zygote with a
    second thread starts fresh workers, not forks)."""
    import threading

    flushed: list[bool] = []
    probe = threading.Thread(target=_probe_flush, args=(stream, flushed), daemon=True)
    probe.start()
    probe.join(_LOCK_PROBE_S)
    if not (flushed and flushed[0]):
        return False
    deadline = time.monotonic() + _LOCK_PROBE_S
    while thread_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.0001)
    return True


def _probe_flush(stream: Any, flushed: list[bool]) -> None:
    """Flush stream; flushed gets False if the buffer reports a reentrant
    call: the probe thread reuses the stack, and so the thread id, of the
    program's thread that held the lock (the fork freed it), and the
    buffer takes that for its owner. Other errors are the stream's own: a
    worker would meet them too."""
    try:
        stream.flush()
    except RuntimeError:
        flushed.append(False)
        return
    except Exception:  # noqa: S110 - a closed or broken stream is still the program's
        pass
    flushed.append(True)


def _keep_std_streams(others_ran: bool) -> None:
    """Keep the program's sys.stdout/sys.stderr objects, as a worker forked by
    the stdlib does: writes through references taken at import, a custom
    stream (a tee, a logger adapter, redirect_stdout's StringIO) and the
    stream's buffering (-u, block buffering to a file) all behave as in the
    program; workers flush them before they exit. Only a stream whose lock
    this fork cannot take (see _usable_after_fork) is replaced, by a new
    line-buffered stream on its descriptor (fd 1 or 2 if it has none open
    here), with its encoding and errors. With no other Python thread in the
    program at the fork (others_ran false) no lock can be held: nothing is
    probed."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None or not others_ran or _usable_after_fork(stream):
            continue
        try:
            target = stream.fileno()
            os.fstat(target)
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            target = fd
            try:
                os.fstat(fd)
            except OSError:
                continue
        encoding, errors = getattr(stream, "encoding", None), getattr(stream, "errors", None)
        _program_streams.append(stream)
        replacement = open(target, "w", buffering=1, closefd=False, encoding=encoding, errors=errors)  # noqa: SIM115
        setattr(sys, name, replacement)


def fork_program(inherited_init: tuple[Any, Any]) -> tuple[int, int, int]:
    """Fork a zygote from this program for one pool (the 'fork' start
    method). Its workers see the program as it is now, and get the pool's
    ``(initializer, initargs)`` by inheritance, never pickled. Returns (pid,
    command fd, reply fd) for the Go supervisor.

    Once the Go runtime is loaded the program has Go's threads; the zygote
    never calls Go (the fork handlers mark the child, see _native), so it is
    forked by _native.fork_program, which does what os.fork does without
    warning about those threads."""
    # Here, not in the zygote: a zygote made for each pool imported ctypes
    # again (3-5 ms before its first worker); the program pays once.
    _worker.preload()
    with _fork_lock:
        return _fork_zygote(inherited_init)


def _fork_zygote(inherited_init: tuple[Any, Any]) -> tuple[int, int, int]:
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # as multiprocessing before a fork:
        with contextlib.suppress(Exception):  # the child must not write it again
            stream.flush()
    import threading

    others_ran = threading.active_count() > 1  # one may hold a stream's lock at the fork
    pid = _fork()
    if pid == 0:
        code = 1
        try:
            # The program's handlers, for the workers. The zygote stays in
            # the program's process group, as the stdlib's workers and
            # forkserver do (Ctrl-C in a terminal reaches the workers), but
            # ignores Ctrl-C itself.
            dispositions = _dispositions()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _close_other_zygotes_pipes()
            os.close(cmd_w)
            os.close(rep_r)
            _become_multiprocessing_child()
            _keep_std_streams(others_ran)
            _worker.inherited_init = inherited_init
            _mainvalue.use_program_main()
            code = _Zygote(cmd_r, rep_w, dispositions, learns=False).serve()
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
        _warn_about_program_threads()
        return _native.fork_program()
    return os.fork()


def _warn_about_program_threads() -> None:
    """Python 3.12's os.fork() warning for a process with threads, counting the
    program's threads only: os.fork() would count Go's too (the process always
    has them once the Go runtime is loaded; the zygote never uses them), and
    fork_program() does not warn. A pool's pump does not count either: the
    stdlib forks its workers before it starts its manager thread. Once per
    pool, where the stdlib warns for each worker; as with os.fork(), an
    error filter (-W error) silences it rather than failing the fork."""
    if sys.version_info < (3, 12):
        return
    import threading
    import warnings

    if sum(1 for t in threading.enumerate() if not getattr(t, "_gf_pump", False)) <= 1:
        return
    with contextlib.suppress(Warning):
        warnings.warn(
            f"This process (pid={os.getpid()}) is multi-threaded, use of fork() may lead to "
            "deadlocks in the child.",
            DeprecationWarning,
            stacklevel=3,
        )


def main() -> int:
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started this
    # process exits, and this zygote outlives the pool whose thread started
    # it. The end of the command pipe (this process's parent dying, however)
    # ends it instead.
    # Programs that workers start must not hold the pipes (os.pipe's are
    # close-on-exec already).
    os.set_inheritable(COMMANDS_FD, False)
    os.set_inheritable(REPLIES_FD, False)
    _worker.close_inherited_fds()
    _worker.preload()
    return _Zygote(COMMANDS_FD, REPLIES_FD).serve()


if __name__ == "__main__":
    sys.exit(main())
