"""Loading of the Go extension, and the rules that keep it safe.

- Lazy: the extension (and with it the Go runtime, which starts threads) is
  loaded by the first executor, not by ``import gofutures``.
- Fork: a child forked after the Go runtime started cannot use it (Go's
  scheduler threads do not survive fork(); calls hang). Such a child gets a
  RuntimeError from every gofutures entry point instead of a hang.
- Errors: Go returns errors whose message starts with a kind; ``translate``
  maps them onto the stdlib exception classes. A Go panic becomes
  GoPanicError carrying the Go stack.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn

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
fast_thread_submit: Callable[[int, int], None]
# (pool, task, payload: bytes, or a list of buffers to write one after another)
fast_proc_submit: Callable[[int, int, bytes | list[Any]], None]
# (workers, max_tasks, depth, start, zygote pid, zygote cmd fd, zygote reply fd,
#  zygote argv, worker argv, init payload, init fds) -> pool id
fast_proc_new: Callable[[int, int, int, int, int, int, int, bytes, bytes, bytes, bytes], int]
fork_program: Callable[[], int]

_load_lock = threading.Lock()
_ext: ModuleType | None = None
forked = False


def _after_fork_in_child() -> None:
    global forked
    forked = True


def loaded() -> bool:
    """Whether the Go runtime has been started in this process."""
    return _ext is not None


def ext() -> ModuleType:
    """The extension module, loaded on first use. Raises in a forked child."""
    if forked:
        raise RuntimeError(FORK_MESSAGE)
    mod = _ext
    if mod is None:
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
            # Publishes fast_thread_submit, fast_proc_submit and fast_proc_new here.
            _gonative.native_InstallFastPath()
            _ext = _gonative
        return _ext


def translate(exc: RuntimeError, broken: type[Exception] = RuntimeError) -> Exception:
    """Map an error raised by a Go call onto the exception Python code expects;
    ``broken`` is the executor's BrokenExecutor class (Go may know that a pool
    broke before Python has heard of it)."""
    msg = str(exc)
    kind, sep, rest = msg.partition(": ")
    if msg.startswith("go panic:"):
        return GoPanicError(msg)
    if sep and kind == "shutdown":
        return RuntimeError(rest)
    if sep and kind == "invalid":
        return ValueError(rest)
    if sep and kind == "broken":
        return broken(rest)
    if sep and kind == "nothread":
        return RuntimeError(rest)  # as threading.Thread.start()
    return exc


def call(name: str, *args: object) -> object:
    """Call Go function ``name`` of the facade, translating its errors."""
    fn = getattr(ext(), "native_" + name)
    try:
        return fn(*args)
    except RuntimeError as exc:
        raise translate(exc) from None


# How long one Go wait lasts before Python gets a chance to handle signals.
JOIN_SLICE_MS = 50


def join(function: str, pool_id: int) -> None:
    """Wait for a pool to finish by calling Go's ``function(pool_id, ms)``
    (which reports whether it did) in short slices, so that Ctrl-C is seen
    while the main thread waits (a blocked Go call would hide it)."""
    while not call(function, pool_id, JOIN_SLICE_MS):
        pass


def raise_translated(exc: RuntimeError, broken: type[Exception] = RuntimeError) -> NoReturn:
    raise translate(exc, broken) from None
