"""``stats()`` of both executors: the counters Go keeps for each pool
(gofutures/internal/taskstats), read as one JSON record."""

from __future__ import annotations

import json
import weakref

from gofutures import _native

FALLBACK_MESSAGE = (
    "stats() is not available where gofutures cannot run Go (a process forked "
    "after gofutures started, or an address-space limit too tight for Go's "
    "runtime): this executor runs the stdlib's implementation here"
)

# The keys of stats(), in order; all zero for a pool that has run nothing.
KEYS = (
    "submitted", "queued", "running", "completed", "failed", "cancelled",
    "workers", "worker_restarts", "p50", "p99",
)


def empty() -> dict[str, int | float | None]:
    """The stats of a pool that has not started."""
    return {key: None if key in ("p50", "p99") else 0 for key in KEYS}


def read(function: str, pool_id: int) -> dict[str, int | float | None]:
    """A pool's stats from Go's ``function(pool_id)``."""
    if _native.forked:
        raise RuntimeError(_native.FORK_MESSAGE)
    record = _native.call(function, pool_id)
    assert isinstance(record, str)
    if not record:  # released: cannot happen while the executor lives
        return empty()
    values = json.loads(record)
    return {key: values[key] for key in KEYS}


def _release(function: str, pool_id: int) -> None:
    if not _native.forked:
        _native.call(function, pool_id)


def release_when_dropped(executor: object, function: str, pool_id: int) -> None:
    """Have Go forget the pool's stats once ``executor`` is collected."""
    weakref.finalize(executor, _release, function, pool_id).atexit = False
