"""``python -m gofutures.demo``: the main job's entry point, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from ._subproc import child_env


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "gofutures.demo", *args],
        check=False, capture_output=True, text=True, timeout=300, env=child_env(),
    )


def test_help_describes_the_options() -> None:
    out = _demo("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m gofutures.demo")
    for option in ("--runs", "--only", "--list"):
        assert option in out.stdout


def test_one_workload_runs_on_both_and_compares_results() -> None:
    out = _demo("--runs", "1", "--only", "no-op submits")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert next(line for line in lines if "no-op submits" in line).endswith("x")
    assert lines[-1] == "results identical on both implementations"
    assert "map no-op" not in out.stdout


def test_unknown_workload_is_a_usage_error() -> None:
    out = _demo("--only", "no such workload")
    assert out.returncode == 2
    assert "no workload name contains 'no such workload'" in out.stderr
