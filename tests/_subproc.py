"""Run a Python snippet in a fresh interpreter (for exit, fork and signal tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_python(
    code: str, timeout: float = 60, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) with this interpreter and return the finished
    process; ``env`` changes the child's environment (None: unset)."""
    child = child_env()
    for name, value in (env or {}).items():
        if value is None:
            child.pop(name, None)
        else:
            child[name] = value
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child,
        timeout=timeout,
        check=False,
    )


def spawn_python(code: str) -> subprocess.Popen[str]:
    """Start ``code`` (dedented) with this interpreter, stdout/stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
