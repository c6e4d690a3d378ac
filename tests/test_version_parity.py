"""What changed between CPython 3.11, 3.12 and 3.13 in concurrent.futures (and
in what it uses), checked against the running version's stdlib: gofutures
follows each one. Runs on every supported version (the wheel job runs it on
3.12 and 3.13)."""

from __future__ import annotations

import concurrent.futures
import fractions
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import gofutures

from . import _proc_tasks as tasks
from ._scripts import assert_same_output, run_both


def test_star_import_gives_the_running_versions_names() -> None:
    """3.13 added InvalidStateError to concurrent.futures.__all__; before,
    a star import leaves asyncio's alone."""
    own = {"GoPanicError", "DaskExecutor", "WorkerDiedError"}
    assert set(gofutures.__all__) - own == set(concurrent.futures.__all__)


DEFAULT_WORKERS = """
import os
import __CF__ as cf

if __name__ == "__main__":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with cf.ThreadPoolExecutor() as ex:
        print("threads", ex._max_workers)
    with cf.ProcessPoolExecutor() as ex:
        print("processes", ex._max_workers, ex.submit(abs, -3).result())
"""


def test_default_max_workers_follow_the_cpus_the_process_may_use(tmp_path: Path) -> None:
    """3.13 counts the CPUs of the affinity mask (os.process_cpu_count) for
    both executors; 3.11 and 3.12 all of the machine's."""
    out = assert_same_output(tmp_path, DEFAULT_WORKERS).stdout
    if sys.version_info >= (3, 13):
        assert out == "threads 5\nprocesses 1 3\n", out


@pytest.mark.parametrize("chunksize", [2.0, fractions.Fraction(5, 2)], ids=["float", "Fraction"])
def test_map_chunksize_that_is_no_int(cf: types.ModuleType, chunksize: Any) -> None:
    """3.13 makes map's chunks with itertools.batched, which raises TypeError
    for a chunksize that is no int; 3.11 and 3.12 use islice (ValueError)."""
    expected = TypeError if sys.version_info >= (3, 13) else ValueError
    with cf.ProcessPoolExecutor(1) as ex, pytest.raises(expected) as info:
        ex.map(tasks.square, range(3), chunksize=chunksize)
    with concurrent.futures.ProcessPoolExecutor(1) as ex, pytest.raises(expected) as stdlib_info:
        ex.map(tasks.square, range(3), chunksize=chunksize)
    assert str(info.value) == str(stdlib_info.value)


START_METHOD = """
import multiprocessing as mp
import __CF__ as cf

def method():
    return mp.get_start_method()

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as ex:
        print("in a fork worker", ex.submit(method).result())
    print("in the program", mp.get_start_method(allow_none=True))
    with cf.ProcessPoolExecutor(1, max_tasks_per_child=2) as ex:
        print("in a worker", ex.submit(method).result())
    print("in the program", mp.get_start_method(allow_none=True))
"""


def test_start_method_in_workers_and_program(tmp_path: Path) -> None:
    """With max_tasks_per_child and no context the stdlib's pool spawns: its
    workers report 'spawn', and the program's start method is fixed (to the
    default) only once a worker starts, as a spawn worker's preparation data
    reads it; a 'fork' context fixes nothing in the program."""
    out = assert_same_output(tmp_path, START_METHOD).stdout
    assert out == (
        "in a fork worker fork\nin the program None\nin a worker spawn\nin the program fork\n"
    ), out


FORK_WITH_THREADS = """
import threading
import __CF__ as cf

if __name__ == "__main__":
    with cf.ThreadPoolExecutor(2) as threads:
        threads.submit(abs, -1).result()
    # No thread of the program's own is left: no warning.
    with cf.ProcessPoolExecutor(1, mp_context=__import__("multiprocessing").get_context("fork")) as ex:
        print(ex.submit(abs, -2).result())
    # One is running: Python 3.12 warns about the fork.
    release = threading.Event()
    runner = threading.Thread(target=release.wait)
    runner.start()
    with cf.ProcessPoolExecutor(1, mp_context=__import__("multiprocessing").get_context("fork")) as ex:
        print(ex.submit(abs, -3).result())
    release.set()
    runner.join()
"""


def test_fork_warns_about_the_programs_threads_only(tmp_path: Path) -> None:
    """3.12 warns (DeprecationWarning) when a process with threads forks. A
    'fork' pool warns when the program runs a thread of its own, not for Go's
    (the one-worker pools make the stdlib's once per worker equal to once)."""
    runs = run_both(tmp_path, FORK_WITH_THREADS, flags=("-W", "always::DeprecationWarning"))
    counts = {}
    for impl, proc in runs.items():
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "2\n3\n", proc.stdout
        counts[impl] = proc.stderr.count("is multi-threaded, use of fork()")
    expected = 1 if sys.version_info >= (3, 12) else 0
    assert counts == {"concurrent.futures": expected, "gofutures": expected}, runs["gofutures"].stderr
