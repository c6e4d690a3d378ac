"""Measures one idle pool's memory; run in a fresh interpreter per pool.

    python -m benchmarks.memory_probe IMPL KIND

KIND is "thread" (32 workers, warmed up by 32 tasks that run at once) or
"process" (2 workers, each has run a task). Prints one JSON object. RSS comes
from /proc/<pid>/status (VmRSS); for process pools every descendant process
(workers, zygotes, resource trackers) is counted, with its PSS
(/proc/<pid>/smaps_rollup) too since forked workers share pages.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

THREAD_WORKERS = 32
PROCESS_WORKERS = 2


def _status_kb(pid: int | str, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _pss_kb(pid: int | str) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _snapshot() -> dict[str, object]:
    gc.collect()
    me = os.getpid()
    kids = _descendants(me)
    kid_rss = [_status_kb(k, "VmRSS") or 0 for k in kids]
    kid_pss = [_pss_kb(k) or 0 for k in kids]
    return {
        "self_rss_kb": _status_kb(me, "VmRSS"),
        "self_pss_kb": _pss_kb(me),
        "threads": _status_kb(me, "Threads"),
        "children": len(kids),
        "children_rss_kb": sum(kid_rss),
        "children_pss_kb": sum(kid_pss),
    }


def main(argv: list[str]) -> int:
    impl_name, kind = argv
    from benchmarks import impls
    from benchmarks.tasks import barrier_task, pid_task

    impl = impls.load([impl_name])[impl_name]
    if not impl.available:
        print(json.dumps({"error": impl.error}))
        return 0
    before = _snapshot()
    result: dict[str, object] = {"impl": impl_name, "kind": kind, "before": before}
    if kind == "thread":
        pool = impl.thread_pool(THREAD_WORKERS)
        barrier = threading.Barrier(THREAD_WORKERS)
        futures = [pool.submit(barrier_task, barrier, 20.0) for _ in range(THREAD_WORKERS)]
        idents = {f.result() for f in futures}
        result["distinct_worker_threads"] = len(idents)
    else:
        pool = impl.process_pool(PROCESS_WORKERS)
        futures = [pool.submit(pid_task, 0.2) for _ in range(2 * PROCESS_WORKERS)]
        result["distinct_worker_pids"] = len({f.result() for f in futures})
    time.sleep(0.5)  # idle
    result["idle"] = _snapshot()
    pool.shutdown()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
