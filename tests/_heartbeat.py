"""A Python thread that ticks every millisecond: it only runs while no
other thread holds the GIL, so the ticks counted across a call show whether
the call released it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Heartbeat:
    def __init__(self) -> None:
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat)

    def _beat(self) -> None:
        while not self._stop.is_set():
            self.ticks += 1
            time.sleep(0.001)


@contextmanager
def heartbeat() -> Iterator[Heartbeat]:
    """Run a Heartbeat for the block (after 50 ms to get going)."""
    beat = Heartbeat()
    beat._thread.start()
    try:
        time.sleep(0.05)
        yield beat
    finally:
        beat._stop.set()
        beat._thread.join()
