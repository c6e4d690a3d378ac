"""Thread-pool workloads.

Each run creates its pool inside the timed region (thread pools start their
workers lazily or at creation depending on the implementation, so creation
is part of the cost) and stops the clock once every result is collected and
checked; shutdown (waiting for the workers) follows, untimed.
"""

from __future__ import annotations

import threading
from time import perf_counter

from benchmarks.core import Contender, Context, Measurement, Workload, check
from benchmarks.impls import Impl
from benchmarks.tasks import noop, sleep_task


def _submit(impl: Impl, n: int) -> Measurement:
    t0 = perf_counter()
    pool = impl.thread_pool()
    try:
        submit = pool.submit
        futures = [submit(noop, i) for i in range(n)]
        total = 0
        for f in futures:
            total += f.result()
        elapsed = perf_counter() - t0
    finally:
        pool.shutdown()
    check(total == n * (n - 1) // 2, f"sum of results {total} != {n * (n - 1) // 2}")
    return Measurement(elapsed, n)


def _map(impl: Impl, n: int, chunksize: int | None) -> Measurement:
    t0 = perf_counter()
    pool = impl.thread_pool()
    try:
        if chunksize is None:
            results = list(pool.map(noop, range(n)))
        else:
            results = list(pool.map(noop, range(n), chunksize=chunksize))
        elapsed = perf_counter() - t0
    finally:
        pool.shutdown()
    check(results == list(range(n)), "map results wrong or out of order")
    return Measurement(elapsed, n)


def _as_completed(impl: Impl, n: int) -> Measurement:
    t0 = perf_counter()
    pool = impl.thread_pool()
    try:
        submit = pool.submit
        futures = [submit(noop, i) for i in range(n)]
        total = count = 0
        for f in impl.as_completed(futures):
            total += f.result()
            count += 1
        elapsed = perf_counter() - t0
    finally:
        pool.shutdown()
    check(count == n, f"as_completed yielded {count} futures, expected {n}")
    check(total == n * (n - 1) // 2, "sum of results wrong")
    return Measurement(elapsed, n)


def _sleep(impl: Impl, n: int, workers: int, seconds: float, warm: bool = False) -> Measurement:
    """n sleeps on a new pool, its creation timed; with warm, an untimed round
    first starts every worker (the steady state of a long-lived pool): one
    task per worker, all waiting at a barrier, so no worker can take two.
    (A round of n sleeps left 300-420 of 500 workers started, different
    numbers for each implementation: pools start a thread only when no
    worker is idle.)"""
    t0 = perf_counter()
    pool = impl.thread_pool(workers)
    try:
        submit = pool.submit
        if warm:
            everyone = threading.Barrier(workers)
            for f in [submit(everyone.wait, 60) for _ in range(workers)]:
                f.result()
            t0 = perf_counter()
        futures = [submit(sleep_task, seconds, i) for i in range(n)]
        total = sum(f.result() for f in futures)
        elapsed = perf_counter() - t0
    finally:
        pool.shutdown()
    check(total == n * (n - 1) // 2, "sum of results wrong")
    return Measurement(elapsed, n)


def _sleep_plain_threads(n: int, workers: int, seconds: float) -> Measurement:
    """No executor: `workers` threads started in the clock, each running its
    share of the sleeps in turn. The floor the GIL hand-offs of this machine
    leave for any thread pool."""
    share = [range(i, n, workers) for i in range(workers)]
    totals = [0] * workers

    def body(k: int) -> None:
        for i in share[k]:
            totals[k] += sleep_task(seconds, i)

    t0 = perf_counter()
    threads = [threading.Thread(target=body, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = perf_counter() - t0
    check(sum(totals) == n * (n - 1) // 2, "sum of results wrong")
    return Measurement(elapsed, n)


def _sleep_args(ctx: Context) -> tuple[int, int, float]:
    """(sleeps, workers, seconds each) of the sleep workloads."""
    s = ctx.sizes
    return s["sleep_n"], s["sleep_workers"], s["sleep_s"]


def _sleep_contenders(ctx: Context) -> list[Contender]:
    args = _sleep_args(ctx)
    plain = Contender("plain threads", "plain", lambda: _sleep_plain_threads(*args), baseline=None,
                      notes=["no executor: the workers as plain threads, started in the clock"])
    return [plain, *_contenders(ctx, _sleep, *args)]


def _contenders(ctx: Context, fn, *args) -> list[Contender]:
    return [
        Contender(impl.name, impl.name, lambda impl=impl: fn(impl, *args))
        for impl in ctx.available(threads=True)
    ]


def _sleep_finalize(rows: list[dict], ctx: Context) -> None:
    s = ctx.sizes
    ideal = s["sleep_n"] / s["sleep_workers"] * s["sleep_s"]
    for row in rows:
        if row["seconds"]:
            row["notes"].append(f"ideal {ideal:.3f}s ({row['seconds'] / ideal:.1f}x ideal)")


WORKLOADS = [
    Workload(
        "thread.submit", "thread",
        "submit N no-ops on default workers, then result() of each",
        lambda ctx: _contenders(ctx, _submit, ctx.sizes["submit_n"]),
    ),
    Workload(
        "thread.map", "thread",
        "map(no-op) over N items, default chunksize",
        lambda ctx: _contenders(ctx, _map, ctx.sizes["map_n"], None),
    ),
    Workload(
        "thread.map_chunked", "thread",
        "map(no-op) over N items, chunksize given (stdlib ignores it for threads)",
        lambda ctx: _contenders(ctx, _map, ctx.sizes["map_n"], ctx.sizes["map_chunk"]),
    ),
    Workload(
        "thread.as_completed", "thread",
        "submit N no-ops, iterate as_completed over the futures",
        lambda ctx: _contenders(ctx, _as_completed, ctx.sizes["as_completed_n"]),
    ),
    Workload(
        "thread.sleep", "thread",
        "N time.sleep tasks on many workers (latency-bound)",
        _sleep_contenders,
        _sleep_finalize,
    ),
    Workload(
        "thread.sleep_warm", "thread",
        "as thread.sleep, on a pool whose workers were started by an untimed round",
        lambda ctx: _contenders(ctx, _sleep, *_sleep_args(ctx), True),
        _sleep_finalize,
    ),
]
