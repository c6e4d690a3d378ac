"""Loading of the Go extension, and the rules that keep it safe.

- Lazy: the extension (and with it the Go runtime, which starts threads) is
  loaded by the first executor, not by ``import gofutures``.
- Fork: a child forked after the Go runtime started cannot use it (Go's
  scheduler threads do not survive fork(); calls hang). Such a child gets a
  RuntimeError from every gofutures entry point instead of a hang.
- Contract: every value Python shares with Go and C (fail, event, cause,
  start and error kinds, hook names, the fields of a process pool's spec) is
  defined in Go (gofutures/boundary) and read here once, when the
  extension loads (``contract``).
- Errors: a Go error crosses as a kind and a message; the C fast path raises
  the exception that ``_error_factories`` gives for the kind (handed to C at
  load). The gopy facade returns no error but a recovered Go panic, which
  becomes GoPanicError carrying the Go stack.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures.thread import BrokenThreadPool
from types import ModuleType
from typing import Any

FORK_MESSAGE = (
    "gofutures cannot be used in a process forked after its Go runtime started "
    "(the Go scheduler does not survive fork). Create executors in the child "
    "only, or use the 'spawn' or 'forkserver' multiprocessing start method."
)


class GoPanicError(RuntimeError):
    """A Go panic recovered inside gofutures.

    ``go_stack`` holds the stack of the goroutine that panicked; the message
    holds the panic value followed by that stack.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        head, _, stack = message.partition("\n\n")
        self.panic_value: str = head.removeprefix("go panic: ")
        self.go_stack: str = stack


# Builtins from pybridge/fastpath.c, set by the extension when it loads.
fast_thread_new: Callable[[int], int]
fast_thread_submit: Callable[[int, int], None]
fast_proc_submit: Callable[[int, int, bytes | list[Any]], None]
fast_proc_new: Callable[[bytes], int]
fast_contract: Callable[[], str]
fast_set_error_factories: Callable[[tuple[Callable[[str], BaseException] | None, ...]], None]
fork_program: Callable[[], int]
fast_go_call: Callable[..., tuple[int, bytes, bytes | tuple[bytes, bytes]]]  # (kind, meta, body[, into[, inline]])
fast_go_submit: Callable[..., None]  # (pool, task, kind, meta, body[, keep: dict | None])
# An "answer" list gets Go's answer appended before the call returns, so that
# a signal handler's exception (Ctrl-C) raised as it returns cannot lose it;
# fast_for_each then ends what Go took back, all of it, even past an
# interrupt (see fastpath.c).
fast_for_each: Callable[[list[Any], Callable[[Any], Any]], list[Any]]
fast_go_cancel: Callable[[int, int, list[bool]], None]
fast_proc_cancel: Callable[[int, int, list[bool]], None]
fast_go_started: Callable[[int, int], bool]
fast_thread_shutdown: Callable[[int, bool, list[int]], None]
fast_thread_join: Callable[[int, int], bool]
fast_go_pump_stop: Callable[[int], bool]
fast_keep_forever: Callable[[object], None]
fast_pump_progress: Callable[[], None]
fast_pump_delivered: Callable[[int], None]
fast_give_back_thread_number: Callable[[int], bool]
fast_environ: Callable[[], list[bytes]]

# boundary.Table, read when the extension loads: table name -> (value name
# -> value), "hooks" (module -> function names C calls) and "spec_fields".
contract: dict[str, Any] = {}

_load_lock = threading.Lock()
_ext: ModuleType | None = None
forked = False


# The address space Go's runtime needs beyond what the process already uses:
# loading it took VmSize from 12 MiB to 2.2 GiB here (Go's heap metadata
# reservations, and glibc's 64 MiB malloc arena for each of its threads), and
# a limit of 2.2 GiB made Go abort the process (pthread_create failed) at the
# first thread pool. 3 GiB leaves room for Go to start more threads.
GO_ADDRESS_SPACE = 3 << 30

_fallback_warned = False


def _address_space_short() -> str | None:
    """Why RLIMIT_AS (ulimit -v) is too tight for Go's runtime, or None. Go
    cannot fail softly there: it aborts the whole process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmSize:"):
                used = int(line.split()[1]) << 10
    if soft - used >= GO_ADDRESS_SPACE:
        return None
    return (
        f"gofutures' Go runtime needs about {GO_ADDRESS_SPACE >> 20} MiB of address space, "
        f"and the address-space limit (RLIMIT_AS, ulimit -v) of {soft >> 20} MiB leaves "
        f"{max(soft - used, 0) >> 20} MiB"
    )


def unavailable() -> str | None:
    """Why this process cannot run Go (it was forked after its Go runtime
    started, or its address-space limit is too tight to start one), or None."""
    if forked:
        return FORK_MESSAGE
    if _ext is not None:
        return None
    return _address_space_short()


def stdlib_fallback() -> bool:
    """Whether a new executor (or a gofutures.io call) must run the stdlib's
    implementation (Python's) because this process cannot run Go. The first
    time for a reason other than a fork, a RuntimeWarning says why."""
    global _fallback_warned
    reason = unavailable()
    if reason is None:
        return False
    if not forked and not _fallback_warned:
        _fallback_warned = True
        # The executor must run as the stdlib's would: an error filter
        # (-W error, pytest's filterwarnings) silences the warning rather
        # than failing the constructor, as for os.fork()'s warning.
        with contextlib.suppress(Warning):
            warnings.warn(
                f"{reason}: gofutures runs concurrent.futures' executors (and Python's "
                "gofutures.io) instead",
                RuntimeWarning,
                stacklevel=3,
            )
    return True


def _after_fork_in_child() -> None:
    global forked
    forked = True


def loaded() -> bool:
    """Whether the Go runtime has been started in this process."""
    return _ext is not None


def ext() -> ModuleType:
    """The extension module, loaded on first use. Raises in a forked child,
    and OSError(ENOMEM) where the address-space limit leaves Go's runtime too
    little (it would abort the process)."""
    if forked:
        raise RuntimeError(FORK_MESSAGE)
    mod = _ext
    if mod is None:
        short = _address_space_short()
        if short is not None:
            raise OSError(errno.ENOMEM, short)
        mod = _load()
    return mod


def _load() -> ModuleType:
    global _ext
    with _load_lock:
        if _ext is None:
            try:
                from gofutures._ext import _gonative  # type: ignore[attr-defined]
            except ImportError as exc:
                raise ImportError(
                    "the gofutures Go extension is missing: reinstall gofutures "
                    "(pip install .) so that it is built"
                ) from exc
            os.register_at_fork(after_in_child=_after_fork_in_child)
            # Publishes the fast_* builtins and fork_program here.
            _gonative.native_InstallFastPath()
            this = sys.modules[__name__]  # where the builtins were just set
            contract.update(json.loads(this.fast_contract()))
            this.fast_set_error_factories(_error_factories(contract["error"]))
            _ext = _gonative
        return _ext


def _broken_process_pool(facts: str) -> BaseException:
    """A submit to a process pool that Go knows broke (before the pump has
    told Python): the facts worded as for any later submit. Imported here:
    concurrent.futures.process imports multiprocessing, which a program
    that uses only thread pools never needs."""
    from gofutures import process  # the pool exists: process is imported

    return process.BrokenProcessPool(process._broken_messages(facts)[1])


# The exception of each Go error kind (boundary.ErrKind), by name.
ERROR_FACTORIES: dict[str, Callable[[str], BaseException]] = {
    "OTHER": RuntimeError,
    "SHUTDOWN": RuntimeError,
    "INVALID": ValueError,
    "NO_THREAD": RuntimeError,  # as threading.Thread.start()
    "BROKEN_THREAD_POOL": BrokenThreadPool,
    "BROKEN_PROCESS_POOL": _broken_process_pool,
    "PANIC": GoPanicError,
}


def _error_factories(kinds: dict[str, int]) -> tuple[Callable[[str], BaseException] | None, ...]:
    """The exception factory of each Go error kind (boundary.ErrKind), by
    kind value, for C's gf_raise."""
    by_name = ERROR_FACTORIES
    if set(by_name) != set(kinds):
        raise ImportError(f"gofutures: Go error kinds {sorted(kinds)}, Python's {sorted(by_name)}")
    factories: list[Callable[[str], BaseException] | None] = [None] * (max(kinds.values()) + 1)
    for name, value in kinds.items():
        factories[value] = by_name[name]
    return tuple(factories)


def const(table: str, name: str) -> int:
    """Value ``name`` of contract table ``table`` (the extension is loaded)."""
    value: int = contract[table][name]
    return value


def call(name: str, *args: object) -> object:
    """Call Go function ``name`` of the facade. Its only error is a recovered
    Go panic (native/doc.go)."""
    fn = getattr(ext(), "native_" + name)
    try:
        return fn(*args)
    except RuntimeError as exc:
        raise GoPanicError(str(exc)) from None


# How long one Go wait lasts before Python gets a chance to handle signals.
JOIN_SLICE_MS = 50


def join(function: str, pool_id: int) -> None:
    """Wait for a pool to finish by calling Go's ``function(pool_id, ms)``
    (which reports whether it did) in short slices, so that Ctrl-C is seen
    while the main thread waits (a blocked Go call would hide it)."""
    while not call(function, pool_id, JOIN_SLICE_MS):
        pass
