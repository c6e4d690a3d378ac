"""The worker process: runs calls sent by the Go supervisor.

Started in one of three ways:

- forked by a zygote (``_zygote._Zygote.fork_worker``), which calls ``serve``
  in the child;
- as the zygote itself, which turns into a pool's last worker
  (``_zygote._Zygote.become``, also calling ``serve``);
- as a fresh interpreter running ``main`` (the pool's socket and token in
  ``GOFUTURES_SOCKET`` and ``GOFUTURES_TOKEN``): executed by the Go
  supervisor for the 'spawn' start method, or by a zygote that runs more
  than one thread and so must not fork (``_zygote._Zygote.spawn_worker``).
  Its command line is ``_command.argv("_worker", ...)``: multiprocessing's
  executable with the program's interpreter flags and ``-c`` with a
  bootstrap that puts the program's ``sys.path`` first, not ``-m``.

It connects to the pool's socket, says HELLO with its token, runs the
initializer from INIT, answers READY, then runs TASK frames in order until
EXIT or the end of the connection. It never imports the Go extension.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import sys
import traceback
from concurrent.futures import _base
from concurrent.futures.process import _RemoteTraceback
from typing import Any

from gofutures import _pickling, _wire


def _rebuild_exc(exc: BaseException, tb: str) -> BaseException:
    exc.__cause__ = _RemoteTraceback(tb)  # type: ignore[arg-type]  # typeshed: a traceback
    return exc


class _ExceptionWithTraceback:
    """An exception that unpickles with the worker's traceback as __cause__,
    as concurrent.futures.process does."""

    def __init__(self, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.exc = exc
        # Traceback objects do not pickle; drop the frames (and their locals).
        self.exc.__traceback__ = None
        self.tb = '\n"""\n%s"""' % tb

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_exc, (self.exc, self.tb)


def _dumps_exception(exc: BaseException) -> bytes:
    try:
        return _pickling.dumps_result(_ExceptionWithTraceback(exc))
    except BaseException as pickle_error:
        # As the stdlib: an exception that does not pickle is replaced by the
        # pickling error, with its own remote traceback.
        return _pickling.dumps_result(_ExceptionWithTraceback(pickle_error))


# A 'fork' pool's (initializer, initargs): set by the zygote forked from the
# program (see _zygote.fork_program), never pickled.
inherited_init: tuple[Any, Any] = (None, ())


def _apply_init(payload: bytes, fds: list[int]) -> None:
    """Apply the pool's INIT: sys.path, os.environ, sys.argv, the working
    directory, the resource tracker, the start method, the starting thread's
    affinity, nice value and signal mask, and the authkey first
    (a Manager proxy among initargs needs the authkey to unpickle), then the
    initializer: inherited, or unpickled with the descriptors received."""
    if not payload:
        return
    spec = _pickling.loads(payload)
    for path in reversed(spec.get("sys_path", ())):
        if path not in sys.path:
            sys.path.insert(0, path)
    environ = spec.get("environ")
    if environ is not None and environ != os.environ:
        os.environ.clear()
        os.environ.update(environ)
    argv = spec.get("sys_argv")
    if argv is not None:
        sys.argv = list(argv)
    cwd = spec.get("cwd")
    if cwd is not None:
        with contextlib.suppress(OSError):  # removed since: stay where the worker started
            os.chdir(cwd)
    tracker_index = spec.get("resource_tracker_fd")
    if tracker_index is not None and 0 <= tracker_index < len(fds):
        from multiprocessing import resource_tracker

        # As multiprocessing's spawned children: report to the program's
        # tracker (the initializer's descriptors keep their indexes).
        os.set_inheritable(fds[tracker_index], False)  # no pool descriptor leaks to a task's programs
        resource_tracker._resource_tracker._fd = fds[tracker_index]  # type: ignore[attr-defined]
        fds = fds[:tracker_index] + fds[tracker_index + 1 :]
    main = spec.get("main")
    if main is not None:
        from gofutures import _mainvalue

        _mainvalue.use_fresh_main(*main)
    start_method = spec.get("start_method")
    if start_method:
        import multiprocessing

        with contextlib.suppress(ValueError):  # a method this platform lacks
            multiprocessing.set_start_method(start_method, force=True)
    thread = spec.get("thread")
    if thread is not None:
        _take_thread_settings(*thread)
    authkey = spec.get("authkey")
    if authkey:
        from multiprocessing import process

        if bytes(process.current_process().authkey) != authkey:
            process.current_process().authkey = authkey
    pickled = spec.get("initializer")
    if pickled is not None:
        from gofutures import _mpshare

        _mpshare.received_fds[:] = fds
        initializer, initargs = _pickling.loads(pickled)
    else:
        for fd in fds:  # none are expected; do not leak any
            os.close(fd)
        initializer, initargs = inherited_init
    if initializer is not None:
        initializer(*initargs)


def thread_settings() -> tuple[list[int], int, list[int]]:
    """The calling thread's CPU affinity, nice value and blocked signals: what
    a process it started would inherit (each is per thread on Linux)."""
    import signal

    return (
        sorted(os.sched_getaffinity(0)),
        os.getpriority(os.PRIO_PROCESS, 0),
        sorted(int(sig) for sig in signal.pthread_sigmask(signal.SIG_BLOCK, ())),
    )


def _take_thread_settings(affinity: list[int], nice: int, blocked: list[int]) -> None:
    """Apply thread_settings() of the program's thread that started the pool:
    a fresh worker (or the fresh zygote it was forked from) was started by
    one of Go's threads, which kept the values of when Go started, where the
    stdlib's spawned worker inherits them from the thread that starts it.
    A value this process may not take (a CPU outside its cpuset, a higher
    priority without the privilege) is left as it is."""
    import signal

    with contextlib.suppress(OSError):
        if set(affinity) != os.sched_getaffinity(0):
            os.sched_setaffinity(0, affinity)
    with contextlib.suppress(OSError):
        if nice != os.getpriority(os.PRIO_PROCESS, 0):
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _run(sock: socket.socket, task_id: int, payload: bytearray) -> None:
    try:
        fn, args, kwargs = _pickling.loads(payload)
        del payload
        result = fn(*args, **kwargs)
    except BaseException as exc:
        _wire.send_frame(sock, _wire.ERROR, task_id, _dumps_exception(exc))
        return
    try:
        if _pickling.has_big_buffer((result,)):
            # A big buffer goes out by reference: no copy into a pickle.
            data = _pickling.dumps_result_pieces(result)
        else:
            data = _pickling.dumps_result(result)
    except BaseException as exc:
        # As the stdlib: a result that cannot be pickled fails its future.
        _wire.send_frame(sock, _wire.ERROR, task_id, _dumps_exception(exc))
        return
    del result  # pieces keep what they need of it
    if isinstance(data, list):
        _wire.send_pieces(sock, _wire.RESULT, task_id, data)
    else:
        _wire.send_frame(sock, _wire.RESULT, task_id, data)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_init(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """Read the INIT frame, whose header carries the parent's current stdout
    and stderr (SCM_RIGHTS), installed as fds 1 and 2, then the descriptors
    the initializer's arguments need and the resource tracker's pipe
    (returned with the payload)."""
    from gofutures._mpshare import MAX_FDS

    head, fds, _, _ = socket.recv_fds(sock, _wire.HEADER_SIZE, 3 + MAX_FDS)
    if not head:
        return None
    for target, fd in zip((1, 2), fds, strict=False):
        os.dup2(fd, target)
        os.close(fd)
    extra = fds[2:]
    rest = _recv_exactly(sock, _wire.HEADER_SIZE - len(head))
    if rest is None:
        return None
    size, kind, _ = _wire.HEADER.unpack(head + rest)
    if kind != _wire.INIT:
        return None
    payload = _recv_exactly(sock, size)
    return None if payload is None else (payload, extra)


# In a worker forked by a zygote: the pipe on which it tells the zygote which
# modules its first task (and the initializer) imported, so that the zygote
# imports them too and later forks start with them (see _Zygote.learn).
hints_fd: int | None = None

# A write of at most PIPE_BUF bytes to a pipe is never interleaved.
_HINT_LINE_MAX = 4000


def _imported_since(count: int) -> list[tuple[str, str]]:
    """(name, file) of the modules loaded from files since sys.modules held
    ``count`` entries (not __main__). New entries are the last ones: only they
    are visited, since touching an inherited object costs a copy-on-write
    page fault."""
    new = len(sys.modules) - count
    if new <= 0:
        return []
    try:
        found = [
            (name, getattr(module, "__file__", None))
            for name, module in itertools.islice(reversed(sys.modules.items()), new)
            if name not in ("__main__", "__mp_main__")
        ]
    except RuntimeError:  # a thread the task left behind is importing: skip the hint
        return []
    return [(name, file) for name, file in reversed(found) if isinstance(file, str)]


def _send_hints(fd: int, modules: list[tuple[str, str]]) -> None:
    """One "name<TAB>file" line per module, in as few writes as fit PIPE_BUF."""
    chunks: list[str] = []
    chunk = ""
    for name, file in modules:
        line = f"{name}\t{file}\n"
        if "\n" in file or len(line) > _HINT_LINE_MAX:
            continue
        if len(chunk) + len(line) > _HINT_LINE_MAX:
            chunks.append(chunk)
            chunk = ""
        chunk += line
    chunks.append(chunk)
    for chunk in chunks:
        if chunk:
            try:
                os.write(fd, chunk.encode(errors="surrogateescape"))
            except (OSError, UnicodeError):  # full (the zygote is busy) or gone: only a hint
                return


def _address(socket_path: str) -> str:
    """The pool's socket address: "@name" is Linux's abstract namespace (a
    leading NUL byte, as Go's net package writes it; no file, see
    procpool.listen), anything else a path."""
    if socket_path.startswith("@"):
        return "\0" + socket_path[1:]
    return socket_path


# Descriptors of the pool (the worker's socket, the zygote's pipes) that a
# process forked by a task must not keep: one that outlives the worker (a
# daemon) would hold the pool's ends open, and shutdown and the program's exit
# would wait for it. They are all close-on-exec, so a program a task executes
# never gets them; a fork gets /dev/null in their place (numbers stay taken, so
# that objects still naming them cannot close an unrelated descriptor).
_private_fds: list[int] = []


def keep_from_forks(*fds: int) -> None:
    """Replace fds by /dev/null in every process forked from this one."""
    if not _private_fds:
        os.register_at_fork(after_in_child=_release_private_fds)
    for fd in fds:
        os.set_inheritable(fd, False)
        _private_fds.append(fd)


def _release_private_fds() -> None:
    fds = list(_private_fds)
    _private_fds.clear()
    try:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        return
    for fd in fds:
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd, inheritable=False)
    os.close(devnull)


def serve(socket_path: str, token: int) -> int:
    """Serve one pool connection; returns the process exit code."""
    hints = hints_fd  # cleared once the first task's imports are reported
    modules_before = len(sys.modules)
    _tune_malloc()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    keep_from_forks(sock.fileno(), *(() if hints is None else (hints,)))
    # As the parent's end: big payloads cross in few wake-ups.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect(_address(socket_path))
    _wire.send_frame(sock, _wire.HELLO, token, str(os.getpid()).encode())
    init = _read_init(sock)
    if init is None:
        return 1
    reader = _wire.FrameReader(sock)
    try:
        _apply_init(*init)
    except BaseException:
        # As the stdlib's worker: log it; the pool is broken by the parent.
        _base.LOGGER.critical("Exception in initializer:", exc_info=True)
        _wire.send_frame(sock, _wire.INIT_FAILED, 0, traceback.format_exc().encode())
        return 0
    _wire.send_frame(sock, _wire.READY, 0)
    while True:
        frame = reader.read()
        if frame is None or frame[0] == _wire.EXIT:
            # Hang up before exiting: the supervisor sees the end at once,
            # not after the kernel has torn this process's memory down.
            sock.close()
            return 0
        kind, task_id, payload = frame
        if kind == _wire.TASK:
            _run(sock, task_id, payload)
            if hints is not None:
                _send_hints(hints, _imported_since(modules_before))
                hints = None
        del frame, payload


_libc_handle: Any = None


def _libc() -> Any:
    """This process's C library through ctypes, loaded once (a zygote loads it
    before forking, so workers do not pay for it)."""
    global _libc_handle
    if _libc_handle is None:
        import ctypes

        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def preload() -> None:
    """Import what every worker needs, so forks of a zygote start warm."""
    import multiprocessing.process  # noqa: F401 - the authkey of INIT

    import gofutures.process  # noqa: F401 - map's chunks call its _process_chunk

    with contextlib.suppress(Exception):
        _libc()


def preload_when_idle() -> None:
    """Import what some workers need (about 12 ms): a zygote does it once no
    fork is asked for, so that a pool's first workers do not wait for it.
    A worker forked before imports it when a call needs it."""
    with contextlib.suppress(ImportError):
        # __main__ code arrives pickled by it
        import cloudpickle  # type: ignore[import-untyped]  # noqa: F401


def _tune_malloc() -> None:
    """Keep freed payload-sized blocks (up to 64 MiB) in the heap instead of
    returning them to the OS: otherwise every 1 MiB message costs an mmap,
    256 page faults and an munmap in this process (glibc's default)."""
    m_trim_threshold, m_mmap_threshold = -1, -3
    with contextlib.suppress(Exception):
        libc = _libc()
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 128 << 20)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphans)."""
    # Outside Linux prctl is missing: EOF on the socket still ends the worker.
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        _libc().prctl(pr_set_pdeathsig, 9)  # SIGKILL


def close_inherited_fds() -> None:
    """Close what a fresh process (a 'spawn' worker, a fresh zygote) inherited
    beyond 0-2 and the descriptors it was handed: the ones without
    close-on-exec that the program made inheritable (a pipe's end, a
    jobserver's). Go's exec cannot close them in the child; the stdlib's
    spawn and forkserver start their processes with close_fds. Everything
    Python opened itself is close-on-exec (PEP 446)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            if fd > 2 and os.get_inheritable(fd):
                os.close(fd)


def main() -> int:
    _die_with_parent()
    close_inherited_fds()
    return serve(os.environ["GOFUTURES_SOCKET"], int(os.environ["GOFUTURES_TOKEN"]))


if __name__ == "__main__":
    sys.exit(main())
