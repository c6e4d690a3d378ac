"""Process readers shared by the process tests, in this interpreter and in
the scripts they run (``from tests._processes import ...``: a script's
PYTHONPATH is the test interpreter's sys.path): who is whose child, who is
alive and who is a zombie (Linux /proc), which processes a pool's workers
are, and settled() to wait for a leak check to come out empty. Importing it
does not load Go."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of pid, or None when it does not exist (any more)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses.
    fields = data.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _parents() -> dict[int, int]:
    """ppid of every process, zombies included; one pass over /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = stat(int(entry))
            if st is not None:
                found[int(entry)] = st[1]
    return found


def children_of(pid: int) -> set[int]:
    """Pids (zombies included) whose parent is pid."""
    return {child for child, parent in _parents().items() if parent == pid}


def descendants_of(pid: int) -> set[int]:
    """Pids (zombies included) below pid in the process tree."""
    kids: dict[int, set[int]] = {}
    for child, parent in _parents().items():
        kids.setdefault(parent, set()).add(child)
    out, todo = set(), [pid]
    while todo:
        for kid in kids.get(todo.pop(), ()):
            out.add(kid)
            todo.append(kid)
    return out


def alive(pid: int) -> bool:
    """Whether pid exists and is not a zombie."""
    st = stat(pid)
    return st is not None and st[0] != "Z"


def zombie_children() -> set[int]:
    """Pids of this process's children that are zombies (exited, not reaped),
    read from every thread's children list."""
    me = os.getpid()
    kids: set[int] = set()
    for task in os.listdir(f"/proc/{me}/task"):
        try:
            with open(f"/proc/{me}/task/{task}/children") as f:
                kids.update(int(pid) for pid in f.read().split())
        except OSError:
            pass
    return {pid for pid in kids if (stat(pid) or ("?",))[0] == "Z"}


def settled(check: Callable[[], T], seconds: float = 10.0) -> T:
    """What check() returns once it is false (an empty set, 0), or after
    seconds."""
    deadline = time.monotonic() + seconds
    found = check()
    while found and time.monotonic() < deadline:
        time.sleep(0.02)
        found = check()
    return found


def pool_pids(ex: Any) -> set[int]:
    """The pids of a gofutures ProcessPoolExecutor's current workers."""
    from gofutures import _native

    return {int(p) for p in str(_native.call("ProcPoolPids", ex._state.pool_id)).split()}


def wait_for_workers(ex: Any, n: int, timeout: float = 10.0) -> set[int]:
    """pool_pids(ex) once it holds n workers (what it holds after timeout)."""
    deadline = time.monotonic() + timeout
    pids = pool_pids(ex)
    while len(pids) < n and time.monotonic() < deadline:
        time.sleep(0.01)
        pids = pool_pids(ex)
    return pids
