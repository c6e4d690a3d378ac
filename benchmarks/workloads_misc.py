"""The memory and overhead sections (reported in their own tables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import timeit
from time import perf_counter
from typing import Any

from benchmarks.core import Context, Section, check
from benchmarks.impls import STDLIB, Impl
from benchmarks.tasks import noop

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MB = 1024.0  # kB per MB (MiB)


# -- memory ----------------------------------------------------------------------

def _probe(impl: str, kind: str, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_ROOT, env.get("PYTHONPATH", "")) if p
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory_probe", impl, kind],
            cwd=_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"probe timed out after {timeout:.0f}s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"probe exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def _memory(ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, label in (("thread", "32 thread workers"), ("process", "2 process workers")):
        impls = ctx.available(threads=kind == "thread")
        group: list[dict[str, Any]] = []
        for impl in impls:
            data = _probe(impl.name, kind, min(ctx.timeout, 120.0))
            row: dict[str, Any] = {"kind": kind, "pool": label, "impl": impl.name}
            if "error" in data:
                row["error"] = data["error"]
            else:
                before, idle = data["before"], data["idle"]
                row.update(
                    self_mb=idle["self_rss_kb"] / _MB,
                    children_mb=idle["children_rss_kb"] / _MB,
                    children_pss_mb=idle["children_pss_kb"] / _MB,
                    children=idle["children"],
                    threads=idle["threads"],
                    total_mb=(idle["self_rss_kb"] + idle["children_rss_kb"]) / _MB,
                    pool_mb=(idle["self_rss_kb"] - before["self_rss_kb"]
                             + idle["children_rss_kb"] - before["children_rss_kb"]) / _MB,
                    after_import_mb=before["self_rss_kb"] / _MB,
                    raw=data,
                )
                workers = data.get("distinct_worker_threads", data.get("distinct_worker_pids"))
                row["distinct_workers"] = workers
            group.append(row)
        base = next((r for r in group if r["impl"] == STDLIB and "total_mb" in r), None)
        for row in group:
            if base and "total_mb" in row:
                row["delta_vs_stdlib_mb"] = row["total_mb"] - base["total_mb"]
        rows += group
    return rows


# -- overhead --------------------------------------------------------------------

def _direct_us() -> float:
    timer = timeit.Timer("noop(1)", globals={"noop": noop})
    number = 200_000
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def _overhead_one(impl: Impl, n: int, m: int) -> tuple[float, float]:
    pool = impl.thread_pool()
    try:
        submit = pool.submit
        warm = [submit(noop, i) for i in range(200)]
        for f in warm:
            f.result()
        t0 = perf_counter()
        futures = [submit(noop, i) for i in range(n)]
        total = 0
        for f in futures:
            total += f.result()
        batch = perf_counter() - t0
        check(total == n * (n - 1) // 2, "sum of results wrong")
        t0 = perf_counter()
        total = 0
        for i in range(m):
            total += submit(noop, i).result()
        roundtrip = perf_counter() - t0
        check(total == m * (m - 1) // 2, "sum of results wrong")
    finally:
        pool.shutdown()
    return batch / n * 1e6, roundtrip / m * 1e6


def _overhead(ctx: Context) -> list[dict[str, Any]]:
    from benchmarks.runner import guarded

    n, m = ctx.sizes["overhead_n"], ctx.sizes["overhead_roundtrip_n"]
    direct = _direct_us()
    rows = []
    for impl in ctx.available(threads=True):
        row: dict[str, Any] = {"impl": impl.name, "direct_call_us": direct,
                               "tasks": n, "roundtrips": m}
        best: tuple[float, float] | None = None
        for _ in range(ctx.repeat):
            value, error = guarded(lambda impl=impl: _overhead_one(impl, n, m), ctx.timeout)
            if error:
                row["error"] = error
                break
            best = value if best is None else (min(best[0], value[0]), min(best[1], value[1]))
        if best is not None:
            row["per_task_us"] = best[0]
            row["roundtrip_us"] = best[1]
            row["executor_us"] = best[0] - direct
        rows.append(row)
    return rows


SECTIONS = [
    Section("memory", "RSS of idle pools, one fresh interpreter per implementation", _memory),
    Section("overhead", "executor cost per no-op task (threads) vs calling it directly",
            _overhead),
]
