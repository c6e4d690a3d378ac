"""multiprocessing objects in ``initargs`` for workers that are not forks of
the program ('spawn', 'forkserver').

multiprocessing lets a Lock, Queue, Value, Event or Manager proxy reach a
child only while that child is being started ("should only be shared
between processes through inheritance"): it pickles them with a *spawning
popen* set, whose ``duplicate_for_child`` collects the descriptors the child
needs (a Queue's pipes, a Value's shared memory) and hands them over. The
initializer and its arguments are pickled here the same way, for every
worker of a pool: the descriptors travel with the INIT frame (SCM_RIGHTS,
sent by Go to each worker), and the worker rebuilds the objects with the
copies it received. Named semaphores (a spawn or forkserver context's locks)
reopen by name, as in the stdlib.

A 'fork' pool's workers get the initializer by inheritance instead (see
_zygote.fork_program), as the stdlib's do.
"""

from __future__ import annotations

import copyreg
from collections import ChainMap
from typing import Any

# Descriptors this worker received with INIT, in the order the parent
# collected them (set by the worker before it unpickles the initializer).
received_fds: list[int] = []

# SCM_RIGHTS carries at most 253 descriptors; INIT also carries stdout, stderr
# and the resource tracker's pipe.
MAX_FDS = 250


class InheritedFd:
    """Stands for a descriptor the worker receives with INIT (multiprocessing's
    ``popen.DupFd``): ``detach()`` returns the worker's copy."""

    def __init__(self, index: int) -> None:
        self.index = index

    def detach(self) -> int:
        return received_fds[self.index]


class _SpawningPopen:
    """What multiprocessing asks of the process being started while it
    pickles objects for it."""

    DupFd = InheritedFd

    def __init__(self) -> None:
        self.fds: list[int] = []

    def duplicate_for_child(self, fd: int) -> int:
        self.fds.append(fd)
        return len(self.fds) - 1


def dumps_initializer(initializer: Any, initargs: Any) -> tuple[bytes | None, list[int]]:
    """Pickle ``(initializer, initargs)`` for workers started from scratch,
    with multiprocessing's reducers and a spawning popen set. Returns the
    pickle (None when there is no initializer) and the descriptors every
    worker must receive with it."""
    if initializer is None:
        return None, []
    from multiprocessing import context, reduction

    from gofutures import _pickling

    popen = _SpawningPopen()
    reducers = ChainMap(
        reduction.ForkingPickler._extra_reducers,  # type: ignore[attr-defined]
        copyreg.dispatch_table,
    )
    # (a stand-in for the Popen of a process being spawned, as typeshed does not expect)
    context.set_spawning_popen(popen)  # type: ignore[arg-type]
    try:
        data = _pickling.dumps_call((initializer, initargs), reducers=reducers)
    finally:
        context.set_spawning_popen(None)
    if len(popen.fds) > MAX_FDS:
        raise ValueError(
            f"initargs need {len(popen.fds)} file descriptors; at most {MAX_FDS} can be passed"
        )
    return data, popen.fds
