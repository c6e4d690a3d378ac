"""Process pools whatever TMPDIR is: too long for a socket path, missing,
read-only; and nothing of gofutures left in it after a SIGKILL. Pools need
no file (their socket is in Linux's abstract namespace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._scripts import run_both, write_script
from ._subproc import child_env

POOLS = """
import ctypes
import multiprocessing as mp
import os

import __CF__ as cf


def plus_one(x):
    return x + 1


def read_only_mount(path):
    # A private mount namespace in which path is a read-only bind mount:
    # unwritable even by root, for this process and its children only.
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, ms_rdonly, ms_remount, ms_bind, ms_rec, ms_private = (
        0x20000, 1, 32, 4096, 16384, 1 << 18
    )
    for args in (
        (clone_newns,),
        (b"none", b"/", None, ms_rec | ms_private, None),
        (path.encode(), path.encode(), None, ms_bind, None),
        (b"none", path.encode(), None, ms_remount | ms_bind | ms_rdonly, None),
    ):
        call = libc.unshare if len(args) == 1 else libc.mount
        if call(*args) != 0:
            raise OSError(ctypes.get_errno(), "cannot make TMPDIR read-only")


if __name__ == "__main__":
    if os.environ.get("TEST_READ_ONLY_TMPDIR"):
        read_only_mount(os.environ["TMPDIR"])
    for ctx in ("fork", "forkserver", "spawn"):
        try:
            with cf.ProcessPoolExecutor(2, mp_context=mp.get_context(ctx)) as ex:
                print(ctx, list(ex.map(plus_one, range(4))))
        except Exception as exc:
            print(ctx, type(exc).__name__, exc)
"""

WORKS = [f"{ctx} [1, 2, 3, 4]" for ctx in ("fork", "forkserver", "spawn")]


def _check(runs: dict[str, subprocess.CompletedProcess[str]], stdlib_may_fail: str = "") -> None:
    for impl, proc in runs.items():
        assert proc.returncode == 0, f"{impl} exited {proc.returncode}\n{proc.stderr}"
    gof = runs["gofutures"].stdout.splitlines()
    assert gof == WORKS, runs["gofutures"].stdout + runs["gofutures"].stderr
    std = runs["concurrent.futures"].stdout.splitlines()
    if stdlib_may_fail:
        std = [line if stdlib_may_fail not in line else WORKS[i] for i, line in enumerate(std)]
    assert std == WORKS, runs["concurrent.futures"].stdout


def test_tmpdir_too_long_for_a_socket_path(tmp_path: Path) -> None:
    # Before: "listen unix .../pool.sock: bind: invalid argument" for every
    # pool (a socket path has at most 108 bytes).
    long_dir = tmp_path / ("d" * (200 - len(str(tmp_path)) - 1))
    long_dir.mkdir()
    assert len(str(long_dir)) == 200
    runs = run_both(tmp_path, POOLS, env={"TMPDIR": str(long_dir)}, timeout=120)
    # CPython 3.11-3.12's forkserver puts its socket there too and fails
    # (CPython gh-132124, fixed in later releases); gofutures must not.
    _check(runs, stdlib_may_fail="forkserver OSError AF_UNIX path too long")
    assert list(long_dir.iterdir()) == []


def test_tmpdir_missing(tmp_path: Path) -> None:
    # Before: "stat .../missing: no such file or directory".
    runs = run_both(tmp_path, POOLS, env={"TMPDIR": str(tmp_path / "missing")}, timeout=120)
    _check(runs)


def _cannot_mount_read_only() -> str:
    """Why this machine's root cannot make a read-only directory, or ''."""
    probe = subprocess.run(
        [sys.executable, "-c", "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x20000))"],
        check=False,
    )
    if probe.returncode != 0:
        return "running as root without the right to unshare a mount namespace: no read-only TMPDIR"
    return ""


def test_tmpdir_unwritable(tmp_path: Path) -> None:
    # Before: "mkdir .../gofutures-123: read-only file system" (or
    # permission denied) for every pool.
    unwritable = tmp_path / "unwritable"
    unwritable.mkdir()
    env = {"TMPDIR": str(unwritable)}
    if os.geteuid() == 0:
        # Root writes through permissions: make it a read-only mount.
        why = _cannot_mount_read_only()
        if why:
            pytest.skip(why)
        env["TEST_READ_ONLY_TMPDIR"] = "1"
    else:
        unwritable.chmod(0o555)
    runs = run_both(tmp_path, POOLS, env=env, timeout=120)
    _check(runs)


KILLED = """
import multiprocessing as mp
import sys
import time

import __CF__ as cf


def plus_one(x):
    return x + 1


if __name__ == "__main__":
    pools = []
    for ctx in ("fork", "forkserver", "spawn"):
        ex = cf.ProcessPoolExecutor(2, mp_context=mp.get_context(ctx))
        assert list(ex.map(plus_one, range(4))) == [1, 2, 3, 4]
        pools.append(ex)
    print("ready", flush=True)
    time.sleep(60)
"""


def test_nothing_left_in_tmpdir_after_sigkill(tmp_path: Path) -> None:
    # Before: each pool's gofutures-NNN directory (with its socket) stayed.
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    script = write_script(tmp_path, KILLED, "gofutures")
    env = child_env()
    env["TMPDIR"] = str(tmpdir)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", (line, proc.stderr.read() if proc.poll() is not None else "")
        proc.kill()
        proc.wait(timeout=10)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
    # The workers and zygotes die with the program; none may have written
    # anything meanwhile either.
    deadline = time.monotonic() + 5
    while list(tmpdir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmpdir.iterdir()) == []


def test_a_pool_still_works_in_the_script_runner(tmp_path: Path) -> None:
    # The scripts above only mean something if POOLS runs with an ordinary
    # TMPDIR for both implementations.
    _check(run_both(tmp_path, POOLS, timeout=120))
