"""Using gofutures leaves the process's own settings as they were.

Go's runtime raises the soft open-file limit to the hard one when it starts,
and installs a handler for SIGPIPE (and for SIGXFSZ, once asked), which
Python ignores. A program that uses gofutures must see the limit and the
signal dispositions it had, and so must every process it starts
(subprocess, os.system, workers, gofutures.io.run), as with the stdlib.
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest

from ._scripts import assert_same_output

SOFT = 512

# Every pool kind and gofutures.io.run start the Go runtime and use what it
# changes; then the program, its workers and their children report.
SCRIPT = """
import multiprocessing as mp
import os
import resource
import subprocess
import __CF__ as cf

def soft_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

def captured(args):
    return subprocess.run(args, capture_output=True)

def child_soft_limit(run=captured):
    return run(["sh", "-c", "ulimit -Sn"]).stdout.decode().strip()

def ignored():
    # Signals 1-31: glibc's own real-time signals (32, 33) vary with threads.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return hex(int(line.split()[1], 16) & 0x7FFFFFFF)

SHOW_IGNORED = "grep SigIgn: /proc/$$/status | cut -c17-"

def child_ignored(run=captured):
    return run(["sh", "-c", SHOW_IGNORED]).stdout.decode().strip()

if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, hard))
    with cf.ThreadPoolExecutor(2) as ex:
        print("thread task", ex.submit(soft_limit).result(), ex.submit(ignored).result())
    for ctx in (None, "forkserver", "spawn"):
        with cf.ProcessPoolExecutor(2, mp_context=ctx and mp.get_context(ctx)) as ex:
            print(ctx, "worker", ex.submit(soft_limit).result(), ex.submit(ignored).result())
            print(ctx, "worker's child", ex.submit(child_soft_limit).result())
    run = captured
    if cf.__name__ == "gofutures":
        from gofutures.io import run
    print("io.run child", child_soft_limit(run), child_ignored(run))
    print("program", soft_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[1] == hard, ignored())
    print("subprocess child", child_soft_limit(), child_ignored())
    os.system("echo os.system child $(ulimit -Sn) $(" + SHOW_IGNORED + ")")
"""


def test_limits_and_ignored_signals_are_left_as_the_program_set_them(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= SOFT + 1:
        pytest.skip(f"the hard limit ({hard}) leaves Go nothing to raise")
    out = assert_same_output(tmp_path, SCRIPT.format(soft=SOFT)).stdout
    assert out.count(str(SOFT)) == 11, out
    # The program ignores SIGPIPE and SIGXFSZ, as Python set them, and so does
    # os.system's child; subprocess resets them.
    both = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))
    shown = dict(line.rsplit(" ", 1) for line in out.splitlines())
    assert int(shown["program 512 True"], 16) & both == both, out
    assert int(shown["os.system child 512"], 16) & both == both, out
    assert int(shown["subprocess child 512"], 16) & both == 0, out


XFSZ_HANDLER = """
import os
import resource
import signal
import tempfile
import __CF__ as cf

calls = []
signal.signal(signal.SIGXFSZ, lambda signum, frame: calls.append(signum))

if __name__ == "__main__":
    with cf.ThreadPoolExecutor(1) as ex:
        ex.submit(abs, -1).result()
    if cf.__name__ == "gofutures":
        from gofutures.io import run
        run(["true"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    with tempfile.TemporaryFile() as f:
        try:
            os.write(f.fileno(), b"x" * 4096)
            os.write(f.fileno(), b"x" * 4096)
        except OSError as e:
            print("OSError", e.errno)
    print("handler calls", len(calls))
"""


def test_a_sigxfsz_handler_of_the_programs_own_is_kept(tmp_path: Path) -> None:
    """Only an ignored SIGXFSZ (Python's default) becomes Go's: a handler the
    program installed is still called for a write past the file size limit."""
    out = assert_same_output(tmp_path, XFSZ_HANDLER).stdout
    assert out == "OSError 27\nhandler calls 1\n", out
