"""``gofutures.install()``: ``concurrent.futures``' executors become gofutures'.

What is swapped is the two names of the ``concurrent.futures`` package,
``ThreadPoolExecutor`` and ``ProcessPoolExecutor``, which is where code looks
them up when it runs ``from concurrent.futures import ThreadPoolExecutor``
(tqdm's ``thread_map`` and ``process_map`` do, when called),
``concurrent.futures.ProcessPoolExecutor(...)`` or
``concurrent.futures.ThreadPoolExecutor(...)`` (asyncio does, when a loop
creates its default executor for ``run_in_executor(None, ...)`` and
``asyncio.to_thread``).

The submodules keep the stdlib's classes: ``concurrent.futures.thread`` and
``concurrent.futures.process`` are the implementation that gofutures'
executors subclass, and that they run themselves in a child forked after
gofutures started Go, so they must stay what they are.
"""

from __future__ import annotations

import threading

NAMES = ("ThreadPoolExecutor", "ProcessPoolExecutor")

_lock = threading.Lock()
# What concurrent.futures' namespace held under each name before install()
# (_ABSENT: nothing yet, the package's lazy __getattr__ resolves it); None
# while not installed.
_saved: dict[str, object] | None = None
_ABSENT = object()


def install() -> None:
    """Make ``concurrent.futures.ThreadPoolExecutor`` and
    ``concurrent.futures.ProcessPoolExecutor`` gofutures' executors, for code
    that looks them up from now on (``from concurrent.futures import
    ThreadPoolExecutor`` run after this call, ``concurrent.futures.
    ProcessPoolExecutor(...)``, asyncio's default executor when a loop first
    needs it). What ``python -m gofutures script.py`` does before it runs the
    script. Calling it again does nothing more; :func:`uninstall` undoes it.

    Not reached: a class imported before the call (``from concurrent.futures
    import ThreadPoolExecutor`` at the top of a module imported earlier), the
    submodules (``concurrent.futures.thread.ThreadPoolExecutor`` stays the
    stdlib's), executors already created, other processes."""
    global _saved
    ours = _ours()
    namespace = _namespace()
    with _lock:
        if _saved is None:
            _saved = {name: namespace.get(name, _ABSENT) for name in NAMES}
        namespace.update(ours)


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
        ours = _ours()
        for name in NAMES:
            if namespace.get(name) is not ours[name]:
                continue
            before = _saved[name]
            if before is _ABSENT:
                del namespace[name]  # the package's __getattr__ imports it again
            else:
                namespace[name] = before
        _saved = None


def _namespace() -> dict[str, object]:
    import concurrent.futures

    return concurrent.futures.__dict__


def _ours() -> dict[str, object]:
    from gofutures.process import ProcessPoolExecutor
    from gofutures.thread import ThreadPoolExecutor

    return {"ThreadPoolExecutor": ThreadPoolExecutor, "ProcessPoolExecutor": ProcessPoolExecutor}
