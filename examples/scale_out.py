"""The same work on a thread pool, a process pool or a Dask cluster.

Change the one line marked EXECUTOR below and run ``python scale_out.py``:

- ``gofutures.ThreadPoolExecutor``: threads in this process (I/O, or code
  that releases the GIL);
- ``gofutures.ProcessPoolExecutor``: worker processes on this machine
  (pure-Python CPU work);
- ``gofutures.DaskExecutor``: a Dask cluster. With no argument it starts a
  local one (``pip install 'gofutures[dask]'``); ``DaskExecutor("tcp://
  scheduler:8786")`` runs the same code on a cluster of many machines.

Nothing else changes: submit, map, as_completed, exceptions and shutdown
are those of ``concurrent.futures``.
"""

import time

import gofutures

EXECUTOR = gofutures.ProcessPoolExecutor  # the one line to change


def count_primes(lo: int, hi: int) -> int:
    """Pure-Python CPU work: the primes in [lo, hi)."""
    count = 0
    for n in range(max(lo, 2), hi):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            count += 1
    return count


def check(n: int) -> int:
    if n < 0:
        raise ValueError(f"negative input: {n}")
    return n * n


def main() -> None:
    start = time.perf_counter()
    with EXECUTOR() as ex:
        # submit + as_completed: results in completion order, summed.
        step = 25_000
        futures = {ex.submit(count_primes, lo, lo + step): lo for lo in range(0, 200_000, step)}
        total = sum(f.result() for f in gofutures.as_completed(futures))
        print("primes below 200,000:", total)

        # map over a generator, in chunks of 100 calls per task.
        squares = ex.map(check, (n for n in range(10_000)), chunksize=100)
        print("sum of squares:", sum(squares))

        # A task's exception is raised where its result is read.
        try:
            ex.submit(check, -1).result()
        except ValueError as exc:
            print("error:", exc)
    print(f"{EXECUTOR.__name__}: {time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
