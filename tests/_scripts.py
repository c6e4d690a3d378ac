"""Run a user's script as a real file (``python script.py``) against both
implementations and compare what they print.

A function in a test module is not a function in a user's script: ``__main__``
code, main guards, initializers that set globals and signal handlers behave
differently there. Scripts name the module under test ``__CF__``::

    import __CF__ as cf

which becomes ``concurrent.futures`` or ``gofutures``. A script that does not
finish within its timeout is killed with its whole process group, and the
test fails: a hang is a failure, never a stalled suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from ._subproc import child_env

IMPLS = ("concurrent.futures", "gofutures")


class ScriptHung(AssertionError):
    """The script did not finish in time (it was killed, with its children)."""


def write_script(directory: Path, source: str, impl: str, name: str = "script.py") -> Path:
    """Write ``source`` (dedented, ``__CF__`` replaced by ``impl``) to a file."""
    path = directory / name
    path.write_text(textwrap.dedent(source).replace("__CF__", impl))
    return path


def run_script(
    directory: Path,
    source: str,
    impl: str,
    *,
    timeout: float = 60,
    flags: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    name: str = "script.py",
    launcher: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as ``python [flags] name`` from ``directory`` with ``impl``
    as the module under test; raise ScriptHung if it outlives ``timeout``.
    A ``launcher`` command, if given, is run with that command line appended
    (it prepares the process, then execs it)."""
    sub = directory / impl.replace(".", "_")
    sub.mkdir(exist_ok=True)
    path = write_script(sub, source, impl, name)
    full_env = child_env()
    if env:
        full_env.update(env)
    proc = subprocess.Popen(
        [*launcher, sys.executable, *flags, str(path)],
        cwd=sub,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise ScriptHung(
            f"{impl}: {name} hung for {timeout} s\n--- stdout\n{out}\n--- stderr\n{err}"
        ) from None
    finally:
        _kill_group(proc.pid)  # what the script left behind must not outlive it
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_both(
    directory: Path, source: str, **kwargs: object
) -> dict[str, subprocess.CompletedProcess[str]]:
    """run_script for each implementation, by implementation name."""
    return {impl: run_script(directory, source, impl, **kwargs) for impl in IMPLS}  # type: ignore[arg-type]


def assert_same_output(
    directory: Path, source: str, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run the script with both implementations; both must exit 0 and print
    the same stdout. Returns gofutures' run."""
    runs = run_both(directory, source, **kwargs)
    for impl, proc in runs.items():
        assert proc.returncode == 0, f"{impl} exited {proc.returncode}\n{proc.stderr}"
    std, gof = runs["concurrent.futures"], runs["gofutures"]
    assert gof.stdout == std.stdout, f"stdlib printed\n{std.stdout}\ngofutures printed\n{gof.stdout}\n{gof.stderr}"
    return gof


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
