"""The process pool's timeout arguments, checked in one place:
shutdown(timeout=), task_timeout= and schedule(..., timeout=)."""

from __future__ import annotations

import math


def check(timeout: object) -> float | None:
    """A timeout in seconds (None, or infinity: no limit), refused as
    queue.Queue.get refuses it, in its order: a value that does not compare
    with 0 raises the comparison's TypeError, a negative one ValueError, one
    that does not add to a float (Decimal) the sum's TypeError. NaN, which
    queue.Queue.get takes (and then waits for ever), raises
    threading.Lock.acquire's ValueError."""
    if timeout is None:
        return None
    if timeout < 0:  # type: ignore[operator]
        raise ValueError("'timeout' must be a non-negative number")
    seconds = float(0.0 + timeout)  # type: ignore[operator]
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    return None if math.isinf(seconds) else seconds
