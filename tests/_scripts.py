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
from typing import Any

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
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as ``python [flags] name`` from ``directory`` with ``impl``
    as the module under test; raise ScriptHung if it outlives ``timeout``.
    A ``launcher`` command, if given, is run with that command line appended
    (it prepares the process, then execs it). ``stdin``, if given, is piped
    to the script (``echo ... | python name``); else stdin is /dev/null."""
    sub = directory / impl.replace(".", "_")
    sub.mkdir(exist_ok=True)
    path = write_script(sub, source, impl, name)
    return run_command(
        [*launcher, sys.executable, *flags, str(path)],
        cwd=sub,
        timeout=timeout,
        env=env,
        label=f"{impl}: {name}",
        stdin=stdin,
    )


def run_command(
    command: list[str],
    *,
    cwd: Path,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    label: str = "",
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` from ``cwd`` in its own session, with the test
    interpreter's ``sys.path`` as ``PYTHONPATH`` plus ``env``; raise
    ScriptHung (after killing its process group) if it outlives ``timeout``.
    Whatever it leaves running in its process group is killed. ``stdin``,
    if given, is written to a pipe that is then closed; else stdin is
    /dev/null."""
    full_env = child_env()
    if env:
        full_env.update(env)
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise ScriptHung(
            f"{label or command} hung for {timeout} s\n--- stdout\n{out}\n--- stderr\n{err}"
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


# --------------------------------------------------------------------------
# Unmodified programs: `python prog.py` against `python -m gofutures prog.py`
# --------------------------------------------------------------------------

# Put before each unmodified program: it reports which implementation a class
# is, or which one's worker runs the calling task, as "impl=concurrent" or
# "impl=gofutures" (the top-level package).
PRELUDE = """\
import sys as _sys


def impl(cls):
    return "impl=" + cls.__module__.split(".")[0]


def impl_running():
    frame = _sys._getframe(1)
    while frame is not None:
        package = (frame.f_globals.get("__name__") or "").split(".")[0]
        if package in ("concurrent", "gofutures"):
            return "impl=" + package
        frame = frame.f_back
    return "impl=?"


"""


def run_unmodified(
    directory: Path,
    source: str,
    *,
    args: tuple[str, ...] = (),
    module: bool = False,
    timeout: float = 120,
    flags: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Write the program ``source`` (dedented, after PRELUDE; it imports
    ``concurrent.futures`` itself) once to ``directory/prog/prog.py`` and
    run it as users do, plain and with gofutures swapped in:

    - ``python [flags] prog/prog.py args`` and ``python [flags] -m gofutures
      prog/prog.py args`` from ``directory`` (the script's directory is not
      the current one), or with ``module``,
    - ``python [flags] -m prog args`` and ``python [flags] -m gofutures -m
      prog args`` from ``directory/prog``.

    Returns both runs, by name: ``"python"`` and ``"gofutures"``."""
    prog = directory / "prog"
    prog.mkdir(exist_ok=True)
    (prog / "prog.py").write_text(PRELUDE + textwrap.dedent(source))
    if module:
        cwd, target = prog, ["-m", "prog"]
    else:
        cwd, target = directory, [os.path.join("prog", "prog.py")]
    commands = {
        "python": [sys.executable, *flags, *target, *args],
        "gofutures": [sys.executable, *flags, "-m", "gofutures", *target, *args],
    }
    return {
        name: run_command(command, cwd=cwd, timeout=timeout, env=env, label=name)
        for name, command in commands.items()
    }


def assert_swapped_same_output(
    directory: Path, source: str, **kwargs: Any
) -> dict[str, subprocess.CompletedProcess[str]]:
    """run_unmodified; both runs must exit 0, every "impl=" line the program
    prints must name the stdlib in the plain run and gofutures under
    ``python -m gofutures`` (the swap happened), and the output be the same
    otherwise."""
    runs = run_unmodified(directory, source, **kwargs)
    for name, proc in runs.items():
        assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stderr}"
    plain, swapped = runs["python"].stdout, runs["gofutures"].stdout
    assert "impl=concurrent" in plain, f"the program reported no implementation:\n{plain}"
    assert "impl=gofutures" not in plain, plain
    assert "impl=concurrent" not in swapped and "impl=?" not in swapped, (
        f"python -m gofutures left the stdlib in place:\n{swapped}\n{runs['gofutures'].stderr}"
    )
    assert swapped.replace("impl=gofutures", "impl=concurrent") == plain, (
        f"python printed\n{plain}\npython -m gofutures printed\n{swapped}"
        f"\n{runs['gofutures'].stderr}"
    )
    return runs


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
