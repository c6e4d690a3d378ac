"""multiprocessing objects in ``initializer``/``initargs``, as real scripts.

multiprocessing's docs share a Lock or a counter with pool workers this way,
the logging cookbook passes a Queue, and tqdm's process_map passes an RLock:
the stdlib accepts each of them with every start method (objects of that
method's context). Both implementations must print the same thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._scripts import assert_same_output

SCRIPT = """
import multiprocessing as mp
import __CF__ as cf

def init(kind, obj):
    global OBJ, KIND
    OBJ, KIND = obj, kind

def use(i):
    if KIND in ("Lock", "RLock"):
        with OBJ:
            return "locked"
    if KIND == "Value":
        with OBJ.get_lock():
            OBJ.value += 1
        return "counted"
    if KIND == "Queue":
        OBJ.put(i)
        return "put"
    if KIND == "Event":
        OBJ.set()
        return "set"
    if KIND == "Manager":
        OBJ.append(i)
        return "appended"

def report(kind, obj):
    if kind == "Value":
        return obj.value
    if kind == "Queue":
        return sorted(obj.get(timeout=30) for _ in range(6))
    if kind == "Event":
        return obj.is_set()
    if kind == "Manager":
        return sorted(obj)
    return ""

if __name__ == "__main__":
    method = {method!r}
    ctx = mp.get_context(method)
    manager = ctx.Manager()
    for kind in ["Lock", "RLock", "Value", "Queue", "Event", "Manager"]:
        if kind == "Value":
            obj = ctx.Value("i", 0)
        elif kind == "Manager":
            obj = manager.list()
        else:
            obj = getattr(ctx, kind)()
        with cf.ProcessPoolExecutor(
            2, mp_context=method and ctx, initializer=init, initargs=(kind, obj)
        ) as ex:
            out = sorted(set(ex.map(use, range(6))))
        print(method, kind, out, report(kind, obj), flush=True)
    manager.shutdown()
"""


@pytest.mark.parametrize("method", [None, "fork", "forkserver", "spawn"])
def test_multiprocessing_objects_in_initargs(tmp_path: Path, method: str | None) -> None:
    gof = assert_same_output(tmp_path, SCRIPT.replace("{method!r}", repr(method)), timeout=180)
    assert gof.stdout.count("\n") == 6


def test_fork_context_lock_refused_by_a_spawn_pool_as_in_the_stdlib(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf

        def init(lock):
            pass

        if __name__ == "__main__":
            lock = mp.get_context("fork").Lock()
            ex = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                        initializer=init, initargs=(lock,))
            try:
                ex.submit(abs, -1).result(timeout=60)
            except RuntimeError as exc:
                print(type(exc).__name__, "fork context" in str(exc))
            ex.shutdown()
        """,
        timeout=120,
    )


def test_fork_pool_workers_see_the_program_as_it_is_when_the_pool_starts(tmp_path: Path) -> None:
    # Issue 10 item 15: after a thread pool loaded the Go runtime, a 'fork'
    # pool's workers must still see the program's state (module globals set
    # at run time, a file opened at run time), not the modules' import-time.
    gof = assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import os
        import sys
        import __CF__ as cf

        STATE = {"phase": "import"}

        def look(_):
            log.write(f"{os.getpid()}\\n")
            log.flush()
            return STATE["phase"], sorted(sys.modules).count("json")

        if __name__ == "__main__":
            with cf.ThreadPoolExecutor(2) as t:
                t.submit(abs, -1).result()
            import json  # noqa: F401 - imported by the program at run time
            log = open("workers.log", "w")
            for phase in ("first", "second"):
                STATE["phase"] = phase
                for ctx in (None, mp.get_context("fork")):
                    with cf.ProcessPoolExecutor(2, mp_context=ctx) as ex:
                        print(sorted(set(ex.map(look, range(8)))))
            log.close()
            with open("workers.log") as f:
                print(len(f.read().split()))
        """,
        timeout=120,
    )
    assert "('second', 1)" in gof.stdout


@pytest.mark.parametrize("method", [None, "spawn"])
def test_tqdm_process_map(tmp_path: Path, method: str | None) -> None:
    # tqdm's process_map passes its multiprocessing RLock as initargs on
    # every call; it imports concurrent.futures' ProcessPoolExecutor, so a
    # program makes it use gofutures by replacing that. Its bar counts
    # submits (one per chunk), with either implementation.
    gof = assert_same_output(
        tmp_path,
        """
        import concurrent.futures
        import io
        import multiprocessing as mp
        import re
        import __CF__ as cf
        from tqdm.contrib.concurrent import process_map

        def square(x):
            return x * x

        if __name__ == "__main__":
            method = {method!r}
            if method:
                mp.set_start_method(method)
            concurrent.futures.ProcessPoolExecutor = cf.ProcessPoolExecutor
            for _ in range(2):  # the second call reuses tqdm's lock
                bar = io.StringIO()
                out = process_map(square, range(300), chunksize=30, max_workers=2, file=bar)
                print(sum(out), re.findall(r"(\\d+)/300", bar.getvalue())[-1])
        """.replace("{method!r}", repr(method)),
        timeout=180,
    )
    assert gof.stdout.split()[::2] == ["8955050", "8955050"]
