"""Overhead per task: gofutures.DaskExecutor against Dask's own
``Client.get_executor()`` (a ClientExecutor), on the same local cluster.

    python -m benchmarks.dask_overhead [--tasks N] [--repeat R] [--processes]

Starts one LocalCluster on 127.0.0.1 (2 workers of 1 thread, no dashboard;
in-process workers unless ``--processes``), then for each executor, runs
interleaved, best of R: ``submit`` of N no-op calls, then every result;
and ``map`` of a no-op over N items. Prints microseconds per task and the
ratio (DaskExecutor time / ClientExecutor time: above 1 means DaskExecutor
costs more per task). Needs ``pip install 'gofutures[dask]'``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any


def _submit_all(ex: Any, n: int) -> None:
    futures = [ex.submit(abs, -i) for i in range(n)]
    for f in futures:
        f.result()


def _map_all(ex: Any, n: int) -> None:
    for _ in ex.map(abs, list(range(n))):
        pass


def _best(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dask_overhead")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", action="store_true", help="worker processes")
    args = parser.parse_args(argv)

    import distributed

    import gofutures

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=args.processes,
            host="127.0.0.1",
            protocol="tcp://",
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        ours = gofutures.DaskExecutor(client=client)
        theirs = client.get_executor()
        n = args.tasks
        print(f"{n} tasks, best of {args.repeat}, "
              f"{'worker processes' if args.processes else 'in-process workers'}")
        print(f"{'workload':<10} {'ClientExecutor':>16} {'DaskExecutor':>14} {'ratio':>7}")
        for name, work in (("submit", _submit_all), ("map", _map_all)):
            work(ours, 50)  # warm up both
            work(theirs, 50)
            t_theirs = t_ours = float("inf")
            for _ in range(args.repeat):  # interleaved
                t_theirs = min(t_theirs, _best(lambda w=work: w(theirs, n), 1))
                t_ours = min(t_ours, _best(lambda w=work: w(ours, n), 1))
            print(f"{name:<10} {t_theirs / n * 1e6:>13.0f} us {t_ours / n * 1e6:>11.0f} us "
                  f"{t_ours / t_theirs:>6.2f}x")
        ours.shutdown()
        theirs.shutdown()


if __name__ == "__main__":
    main()
