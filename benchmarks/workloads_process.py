"""Process-pool workloads.

Every run creates its own pool and shuts it down (waiting) before the next
run of any implementation starts. process.cold_start and
process.max_tasks_per_child time pool creation too; the others warm the pool
first (every worker has run a task) and time only the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from time import perf_counter
from typing import Any

from benchmarks.core import Contender, Context, Measurement, Workload, check
from benchmarks.impls import GOFUTURES, LOKY, PEBBLE, STDLIB, Impl
from benchmarks.tasks import cpu_work, echo, noop, pid_task, value_and_pid

CPU_COUNT = os.cpu_count() or 1


def _warm(pool: Any, workers: int) -> None:
    """Make every worker start (and import the task module) before timing."""
    futures = [pool.submit(pid_task, 0.05) for _ in range(2 * workers)]
    for f in futures:
        f.result()


def _warm_run(impl: Impl, workers: int, body) -> Measurement:
    pool = impl.process_pool(workers)
    try:
        _warm(pool, workers)
        return body(pool)
    finally:
        pool.shutdown()


# -- process.cold_start --------------------------------------------------------

_COLD_START_PROGRAM = """
import sys, time
from benchmarks.impls import load
from benchmarks.tasks import noop
impl = load([sys.argv[1]])[sys.argv[1]]
context = sys.argv[2] or None
# Resolve the executor class now: concurrent.futures and gofutures import
# their process module on first access, which is an import, not start-up.
getattr(impl.module, "ProcessPoolExecutor", None)
t0 = time.perf_counter()
pool = impl.process_pool(2, context=context)
try:
    value = pool.submit(noop, 42).result()
finally:
    pool.shutdown()
print(time.perf_counter() - t0, value)
"""


def _cold_start(impl: Impl, context: str | None) -> Measurement:
    """A program's first pool: measured in a fresh interpreter (imports done
    before the clock starts), from creating the pool to its shutdown after
    one result. In the benchmark's own process the runtimes of earlier
    workloads would already be loaded, which no program starting its first
    pool has."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-c", _COLD_START_PROGRAM, impl.name, context or ""],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    check(proc.returncode == 0, f"cold-start program failed: {proc.stderr[-500:]}")
    elapsed, value = proc.stdout.split()
    check(value == "42", f"result {value!r} != 42")
    return Measurement(float(elapsed), 1)


def _build_cold_start(ctx: Context) -> list[Contender]:
    out = []
    for impl in ctx.available():
        if impl.name == LOKY:
            out.append(Contender(impl.name, impl.name, lambda impl=impl: _cold_start(impl, None),
                                 notes=["loky's own context (fork+exec)"]))
            continue
        out.append(Contender(impl.name, impl.name, lambda impl=impl: _cold_start(impl, None),
                             notes=["default context"]))
        if impl.name in (STDLIB, GOFUTURES):
            out.append(Contender(f"{impl.name}[spawn]", impl.name,
                                 lambda impl=impl: _cold_start(impl, "spawn"),
                                 baseline="stdlib[spawn]", notes=["mp_context=spawn"]))
    return out


# -- process.submit ------------------------------------------------------------

def _submit(impl: Impl, n: int) -> Measurement:
    def body(pool: Any) -> Measurement:
        t0 = perf_counter()
        submit = pool.submit
        futures = [submit(noop, i) for i in range(n)]
        total = sum(f.result() for f in futures)
        elapsed = perf_counter() - t0
        check(total == n * (n - 1) // 2, "sum of results wrong")
        return Measurement(elapsed, n)

    return _warm_run(impl, 2, body)


# -- process.map_chunked -------------------------------------------------------

def _map_chunked(impl: Impl, n: int, chunksize: int) -> Measurement:
    def body(pool: Any) -> Measurement:
        t0 = perf_counter()
        results = list(pool.map(noop, range(n), chunksize=chunksize))
        elapsed = perf_counter() - t0
        check(results == list(range(n)), "map results wrong or out of order")
        return Measurement(elapsed, n)

    return _warm_run(impl, 2, body)


# -- process.echo_1mib ---------------------------------------------------------

_PAYLOAD: bytes | None = None


def _echo(impl: Impl, n: int, size: int) -> Measurement:
    global _PAYLOAD
    if _PAYLOAD is None or len(_PAYLOAD) != size:
        _PAYLOAD = os.urandom(size)
    payload = _PAYLOAD

    def body(pool: Any) -> Measurement:
        ok = 0
        t0 = perf_counter()
        for _ in range(n):
            if pool.submit(echo, payload).result() == payload:
                ok += 1
        elapsed = perf_counter() - t0
        check(ok == n, f"{n - ok} of {n} echoes differ from the payload")
        mib = 2 * n * size / (1 << 20) / elapsed
        return Measurement(elapsed, n, extra={"mib_per_s": mib})

    return _warm_run(impl, 2, body)


# -- process.cpu ---------------------------------------------------------------

class _CpuPlan:
    iterations = 0
    expected = 0
    single_s = 0.0


_cpu = _CpuPlan()


def _calibrate(target_s: float) -> None:
    probe = 300_000
    best = min(_timed(cpu_work, probe) for _ in range(5))  # best: least disturbed
    _cpu.iterations = max(10_000, int(probe * target_s / best))
    _cpu.single_s = _timed(cpu_work, _cpu.iterations)
    _cpu.expected = cpu_work(_cpu.iterations)


def _timed(fn, *args) -> float:
    t0 = perf_counter()
    fn(*args)
    return perf_counter() - t0


def _cpu_serial(n_tasks: int) -> Measurement:
    t0 = perf_counter()
    results = [cpu_work(_cpu.iterations) for _ in range(n_tasks)]
    elapsed = perf_counter() - t0
    check(results == [_cpu.expected] * n_tasks, "serial results wrong")
    return Measurement(elapsed, n_tasks)


def _cpu_pool(impl: Impl, n_tasks: int) -> Measurement:
    def body(pool: Any) -> Measurement:
        t0 = perf_counter()
        futures = [pool.submit(cpu_work, _cpu.iterations) for _ in range(n_tasks)]
        results = [f.result() for f in futures]
        elapsed = perf_counter() - t0
        check(results == [_cpu.expected] * n_tasks, "results wrong")
        return Measurement(elapsed, n_tasks)

    return _warm_run(impl, CPU_COUNT, body)


def _build_cpu(ctx: Context) -> list[Contender]:
    _calibrate(ctx.sizes["cpu_task_s"])
    n = ctx.sizes["cpu_tasks"]
    out = [Contender("serial (in-process)", "serial", lambda: _cpu_serial(n), baseline=None,
                     notes=[f"{_cpu.iterations:,} iterations/task, ~{_cpu.single_s:.3f}s each"])]
    out += [Contender(impl.name, impl.name, lambda impl=impl: _cpu_pool(impl, n),
                      notes=[f"{CPU_COUNT} workers"])
            for impl in ctx.available()]
    return out


def _cpu_finalize(rows: list[dict], ctx: Context) -> None:
    serial = next((r for r in rows if r["impl"] == "serial"), None)
    if not serial or not serial["seconds"]:
        return
    for row in rows:
        row["extra"]["ideal_speedup"] = CPU_COUNT
        if row is serial or not row["seconds"]:
            continue
        speedup = serial["seconds"] / row["seconds"]
        row["extra"]["speedup_vs_serial"] = speedup
        row["notes"].append(f"speedup {speedup:.2f}x vs serial (ideal {CPU_COUNT})")


# -- process.max_tasks_per_child -----------------------------------------------

def _max_tasks(impl: Impl, n: int) -> Measurement:
    t0 = perf_counter()
    # mp_context None: the stdlib (3.11+) then picks 'spawn' by itself.
    pool = impl.process_pool(2, max_tasks_per_child=1)
    try:
        submit = pool.submit
        futures = [submit(value_and_pid, i) for i in range(n)]
        results = [f.result() for f in futures]
        elapsed = perf_counter() - t0
    finally:
        pool.shutdown()
    check(sum(v for v, _ in results) == n * (n - 1) // 2, "sum of results wrong")
    pids = len({pid for _, pid in results})
    m = Measurement(elapsed, n, extra={"distinct_worker_pids": pids})
    if pids < n:
        m.warnings.append(f"only {pids} distinct worker pids for {n} tasks")
    return m


def _build_max_tasks(ctx: Context) -> list[Contender]:
    out = []
    for impl in ctx.available():
        if impl.name == LOKY:
            ctx.note("loky: no max_tasks_per_child (only reuse/timeout-based worker "
                     "recycling); skipped in process.max_tasks_per_child")
            continue
        notes = {STDLIB: ["stdlib picks spawn itself"],
                 GOFUTURES: ["default (zygote fork)"],
                 PEBBLE: ["max_tasks=1, fork context"]}.get(impl.name, [])
        out.append(Contender(impl.name, impl.name,
                             lambda impl=impl: _max_tasks(impl, ctx.sizes["max_tasks_n"]),
                             notes=notes))
    return out


def _simple(ctx: Context, fn, *args) -> list[Contender]:
    return [Contender(impl.name, impl.name, lambda impl=impl: fn(impl, *args))
            for impl in ctx.available()]


WORKLOADS = [
    Workload(
        "process.cold_start", "process",
        "create pool (2 workers), one task, result, shutdown",
        _build_cold_start,
    ),
    Workload(
        "process.submit", "process",
        "N unchunked no-op submits on 2 warm workers, then results",
        lambda ctx: _simple(ctx, _submit, ctx.sizes["proc_submit_n"]),
    ),
    Workload(
        "process.map_chunked", "process",
        "map(no-op) over N items with a chunksize, 2 warm workers",
        lambda ctx: _simple(ctx, _map_chunked, ctx.sizes["proc_map_n"],
                            ctx.sizes["proc_map_chunk"]),
    ),
    Workload(
        "process.echo_1mib", "process",
        "sequential round trips of a 1 MiB bytes payload, 2 warm workers",
        lambda ctx: _simple(ctx, _echo, ctx.sizes["echo_n"], 1 << 20),
    ),
    Workload(
        "process.cpu", "process",
        "CPU-bound pure-Python tasks on cpu_count workers vs serial",
        _build_cpu, _cpu_finalize,
    ),
    Workload(
        "process.max_tasks_per_child", "process",
        "max_tasks_per_child=1, N tasks on 2 workers (a new worker per task)",
        _build_max_tasks,
    ),
]
