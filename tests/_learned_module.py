"""A task module for the test of a zygote learning its workers' imports."""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()  # the process that ran this module's code


def where() -> tuple[int, int]:
    """(this process, the process that imported this module)."""
    return os.getpid(), IMPORTED_IN
