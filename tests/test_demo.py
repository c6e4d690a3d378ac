"""``python -m gofutures.demo``: the main job's entry point, as a user runs it."""

from __future__ import annotations

import os
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


def test_url_loads_run_against_a_server_that_ends_with_the_demo() -> None:
    """The URL loads (urllib on the stdlib, gofutures.http on gofutures)
    fetch the same bodies from the demo's loopback server, a process that
    is gone when the demo ends: stopped, and it would also end with the
    demo's stdin pipe."""
    out = _demo("--runs", "1", "--only", "URL loads")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert next(line for line in lines if "URL loads" in line).endswith("x")
    assert lines[-1] == "results identical on both implementations"
    assert out.stderr == ""
    assert not _processes_running("gofutures._demo_server"), "the demo's server outlived it"


def _processes_running(text: str) -> list[str]:
    """Command lines (from /proc) of the processes whose command line holds text."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if text in cmdline:
            found.append(cmdline)
    return found


def test_the_demo_server_ends_when_its_stdin_closes() -> None:
    """Killed, the demo cannot stop its server: the server sees its stdin
    close and exits on its own."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gofutures._demo_server", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline())
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/item/7", timeout=10) as r:
        assert r.read().startswith(b"/item/7\n")
    server.stdin.close()
    assert server.wait(timeout=10) == 0
