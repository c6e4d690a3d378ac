"""A program that completes an executor's future itself (``set_result()``)
while its task runs: the worker's own ``set_result`` then fails with
``InvalidStateError``. The stdlib logs it at CRITICAL on the
``concurrent.futures`` logger ("Exception in worker") and the thread worker
exits, so with one worker no later task runs; its process pool's manager
thread dies. gofutures logs it the same way and goes on (README differences
table)."""

from __future__ import annotations

from pathlib import Path

from ._scripts import run_both, run_script

SHOW_LOG = """
import logging, sys, threading, time

class Show(logging.Handler):
    def emit(self, record):
        print("log:", record.levelname, record.name, record.getMessage(),
              record.exc_info[0].__name__, flush=True)

logging.getLogger("concurrent.futures").addHandler(Show())
"""

THREAD_TASK_FORCED = SHOW_LOG + """
import __CF__ as cf

def main():
    ex = cf.ThreadPoolExecutor(1)
    started, release = threading.Event(), threading.Event()
    def task():
        started.set()
        release.wait(10)
        return "task"
    f = ex.submit(task)
    started.wait(10)
    f.set_result("forced")
    print("forced:", f.result(), flush=True)
    release.set()
    g = ex.submit(str, "next")
    try:
        print("next:", g.result(timeout=2))
    except cf.TimeoutError:
        print("next: never ran")
    ex.shutdown(wait=False, cancel_futures=True)

main()
"""

LOGGED = "log: CRITICAL concurrent.futures Exception in worker InvalidStateError"


def test_a_forced_thread_task_is_logged_and_the_worker_goes_on(tmp_path: Path) -> None:
    runs = run_both(tmp_path, THREAD_TASK_FORCED)
    for impl, proc in runs.items():
        assert proc.returncode == 0, f"{impl}: {proc.stderr}"
    assert runs["concurrent.futures"].stdout.splitlines() == ["forced: forced", LOGGED, "next: never ran"]
    assert runs["gofutures"].stdout.splitlines() == ["forced: forced", LOGGED, "next: next"]


GO_AND_PROCESS_TASKS_FORCED = SHOW_LOG + """
import gofutures as cf
from gofutures import io

def main():
    with cf.ThreadPoolExecutor(1) as ex:
        f = ex.submit(io.sleep, 0.3)
        f.set_result("forced")
        print("go task:", f.result(), flush=True)
        print("next go task:", ex.submit(io.sleep, 0).result(timeout=10), flush=True)
    with cf.ProcessPoolExecutor(1) as ex:
        f = ex.submit(time.sleep, 0.3)
        f.set_result("forced")
        print("process task:", f.result(), flush=True)
        print("next process task:", ex.submit(abs, -5).result(timeout=10), flush=True)

if __name__ == "__main__":
    main()
"""


def test_forced_go_and_process_tasks_are_logged_and_their_pools_go_on(tmp_path: Path) -> None:
    proc = run_script(tmp_path, GO_AND_PROCESS_TASKS_FORCED, "gofutures")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "go task: forced",
        LOGGED,
        "next go task: None",
        "process task: forced",
        (
            "log: CRITICAL concurrent.futures A task's outcome is dropped: the program completed its"
            " future first InvalidStateError"
        ),
        "next process task: 5",
    ]
