"""``gofutures.install()``: ``concurrent.futures``' executors become gofutures'.

What is swapped is the two names of the ``concurrent.futures`` package,
``ThreadPoolExecutor`` and ``ProcessPoolExecutor``, which is where code looks
them up when it runs ``from concurrent.futures import ThreadPoolExecutor``
(tqdm's ``thread_map`` and ``process_map`` do, when called),
``concurrent.futures.ProcessPoolExecutor(...)`` or
``concurrent.futures.ThreadPoolExecutor(...)`` (asyncio does, when a loop
creates its default executor for ``run_in_executor(None, ...)`` and
``asyncio.to_thread``).

The package resolves both names lazily, through a module ``__getattr__``
(as the stdlib does): install() puts in its own, which imports gofutures'
class on first use and binds it in the package.

The submodules keep the stdlib's classes: ``concurrent.futures.thread`` and
``concurrent.futures.process`` are the implementation that gofutures'
executors subclass, and that they run themselves in a child forked after
gofutures started Go, so they must stay what they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

NAMES = ("ThreadPoolExecutor", "ProcessPoolExecutor")

_lock = threading.Lock()
# What concurrent.futures' namespace held under each of NAMES and
# "__getattr__" before install() (_ABSENT: nothing); None while not
# installed.
_saved: dict[str, object] | None = None
_ABSENT = object()


def install() -> None:
    """Make ``concurrent.futures.ThreadPoolExecutor`` and
    ``concurrent.futures.ProcessPoolExecutor`` gofutures' executors, for code
    that looks them up from now on (``from concurrent.futures import
    ThreadPoolExecutor`` run after this call, ``concurrent.futures.
    ProcessPoolExecutor(...)``, asyncio's default executor when a loop first
    needs it). What ``python -m gofutures script.py`` does before it runs the
    script. Calling it again is harmless; :func:`uninstall` undoes it.

    As in the stdlib, each executor's module is imported when the name is
    first looked up (a program that uses threads only does not import
    multiprocessing).

    Not reached: a class imported before the call (``from concurrent.futures
    import ThreadPoolExecutor`` at the top of a module imported earlier), the
    submodules (``concurrent.futures.thread.ThreadPoolExecutor`` stays the
    stdlib's), executors already created, other processes."""
    global _saved
    namespace = _namespace()
    with _lock:
        if _saved is None:
            _saved = {name: namespace.get(name, _ABSENT) for name in (*NAMES, "__getattr__")}
            original = namespace.get("__getattr__")
            namespace["__getattr__"] = _lazy_getattr(namespace, original)
        for name in NAMES:
            if name in namespace and namespace[name] is not _ours(name, imported_only=True):
                # Resolved before (the stdlib's), or another replacement: our
                # __getattr__ resolves it now.
                del namespace[name]


def uninstall() -> None:
    """Undo :func:`install`: ``concurrent.futures`` gives the stdlib's
    executors again (to later lookups; executors already created stay what
    they are). A name that something else replaced after ``install()`` is
    left as it is. Does nothing if gofutures is not installed."""
    global _saved
    namespace = _namespace()
    with _lock:
        if _saved is None:
            return
        for name in NAMES:
            current = namespace.get(name, _ABSENT)
            if current is _ABSENT or current is _ours(name, imported_only=True):
                _restore(namespace, name, _saved[name])
        if getattr(namespace.get("__getattr__"), "_gofutures", False):
            _restore(namespace, "__getattr__", _saved["__getattr__"])
        _saved = None


def _restore(namespace: dict[str, object], name: str, value: object) -> None:
    if value is _ABSENT:
        namespace.pop(name, None)  # the package's __getattr__ imports it again
    else:
        namespace[name] = value


def _lazy_getattr(
    namespace: dict[str, object], original: Any
) -> Callable[[str], object]:
    """A module ``__getattr__`` for concurrent.futures that gives gofutures'
    executors (imported on first use, then bound in the module as the
    stdlib's own ``__getattr__`` binds its classes) and leaves other names
    (3.14's InterpreterPoolExecutor) to the stdlib's."""

    def __getattr__(name: str) -> object:
        if name in NAMES:
            value = _ours(name)
            namespace[name] = value
            return value
        if original is not None:
            return original(name)
        raise AttributeError(f"module 'concurrent.futures' has no attribute {name!r}")

    __getattr__._gofutures = True  # type: ignore[attr-defined]
    return __getattr__


def _namespace() -> dict[str, object]:
    import concurrent.futures

    return concurrent.futures.__dict__


def _ours(name: str, *, imported_only: bool = False) -> object:
    """gofutures' class for ``name``; with ``imported_only``, None if its
    module is not imported yet (then no name can hold it)."""
    import sys

    module_name = "gofutures.thread" if name == "ThreadPoolExecutor" else "gofutures.process"
    if imported_only and module_name not in sys.modules:
        return None
    import importlib

    return getattr(importlib.import_module(module_name), name)
