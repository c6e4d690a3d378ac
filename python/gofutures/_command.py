"""The command line that starts a fresh worker or zygote interpreter.

As multiprocessing starts its 'spawn' children and its forkserver: the
executable is multiprocessing's (``multiprocessing.set_executable``, or the
context's ``set_executable``, which set the same; by default
``sys.executable``), and the program's interpreter flags (``-I``, ``-E``,
``-s``, ``-P``, ``-O``, ``-W``, ``-X``...) are passed on, so that a program
run as ``python -I`` does not have its workers read ``PYTHONPATH`` or run a
``sitecustomize``. The bootstrap puts the program's ``sys.path`` first
explicitly, so gofutures is found whatever the flags hide.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

_BOOTSTRAP = (
    "import sys; sys.path[:0] = [p for p in {paths!r} if p not in sys.path]; "
    "from gofutures.{module} import main; sys.exit(main())"
)


def executable() -> str:
    """multiprocessing's executable for new interpreters (what its 'spawn'
    start method and its forkserver execute)."""
    from multiprocessing import spawn

    exe = spawn.get_executable()
    return os.fsdecode(exe) if exe else sys.executable


def interpreter_flags() -> list[str]:
    """This interpreter's flags, as the stdlib passes them to its children."""
    import subprocess

    flags: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    return flags


def argv(module: str, paths: Iterable[str]) -> list[str]:
    """The command that runs ``gofutures.<module>.main`` in a fresh
    interpreter that finds packages on ``paths`` first."""
    bootstrap = _BOOTSTRAP.format(paths=[p for p in paths if p], module=module)
    return [executable(), *interpreter_flags(), "-c", bootstrap]


def encode(command: list[str]) -> bytes:
    """NUL-separated, as the Go supervisor takes a command line."""
    return b"\0".join(os.fsencode(part) for part in command)
