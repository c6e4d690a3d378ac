"""A demo on real work: gofutures and concurrent.futures side by side.

Run with ``python -m gofutures.demo`` (``make demo`` does it in a fresh
virtual environment). Each workload runs on both implementations in the same
process, best of a few runs, and the table shows seconds and the ratio
(stdlib time / gofutures time: above 1 means gofutures is faster).

Workloads:
- I/O-like: 400 calls that each wait 20 ms (a socket or disk wait) on 100
  threads; the ideal is 0.08 s.
- URL loads: 2,000 GETs from a loopback server (another process) that
  answers after 50 ms, on 500 workers (ideal 0.2 s): the stdlib with the
  ``load_url`` of its documentation (urllib), gofutures with
  ``ex.map(gofutures.http.get, urls)``, which waits in Go, not on a thread
  per request.
- CPU-like: SHA-256 and zlib over 64 x 1 MiB blocks on 4 threads; hashlib and
  zlib release the GIL, so threads use both cores.
- Overhead: 20,000 no-op submits, then a 100,000-item map of a no-op.
- Processes, CPU-bound: counting primes in pure Python (the GIL serializes
  threads; processes use every core), 8 chunks on all cores.
- Processes, many small tasks: 2,000 submits, and a 100,000-item map with
  chunksize 1,000.
"""

from __future__ import annotations

import argparse
import concurrent.futures as stdlib
import hashlib
import os
import platform
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable
from types import ModuleType

import gofutures
import gofutures.http

BLOCKS = [os.urandom(1 << 20) for _ in range(64)]


def _digest(block: bytes) -> tuple[str, int]:
    return hashlib.sha256(block).hexdigest(), len(zlib.compress(block, 1))


def io_like(cf: ModuleType) -> object:
    with cf.ThreadPoolExecutor(100) as ex:
        return sum(1 for _ in ex.map(time.sleep, [0.02] * 400))


URL_LOADS, URL_DELAY, URL_WORKERS = 2_000, 0.05, 500


class _LoopbackServer:
    """gofutures._demo_server, started on first use; stop() ends it (and so
    does the end of this process: it serves until its stdin closes)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._url = ""

    def url(self) -> str:
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gofutures._demo_server", str(URL_DELAY)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            assert self._proc.stdout is not None
            self._url = f"http://127.0.0.1:{int(self._proc.stdout.readline())}/"
        return self._url

    def stop(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


SERVER = _LoopbackServer()


def load_url(url: str, timeout: float) -> bytes:
    """The stdlib documentation's ThreadPoolExecutor example."""
    with urllib.request.urlopen(url, timeout=timeout) as conn:
        body: bytes = conn.read()
        return body


def url_loads(cf: ModuleType) -> object:
    urls = [f"{SERVER.url()}item/{i}" for i in range(URL_LOADS)]
    with cf.ThreadPoolExecutor(URL_WORKERS) as ex:
        if cf is gofutures:
            return [r.content for r in ex.map(gofutures.http.get, urls)]
        return list(ex.map(load_url, urls, [60] * len(urls)))


def cpu_like(cf: ModuleType) -> object:
    with cf.ThreadPoolExecutor(4) as ex:
        return sorted(ex.map(_digest, BLOCKS))


def submit_overhead(cf: ModuleType) -> object:
    with cf.ThreadPoolExecutor() as ex:
        futures = [ex.submit(int) for _ in range(20_000)]
        return sum(f.result() for f in futures)


def map_overhead(cf: ModuleType) -> object:
    with cf.ThreadPoolExecutor() as ex:
        return sum(ex.map(abs, range(100_000)))


def count_primes(bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    return sum(1 for n in range(max(lo, 2), hi) if all(n % d for d in range(2, int(n**0.5) + 1)))


PRIME_CHUNKS = [(i * 25_000, (i + 1) * 25_000) for i in range(8)]


def cpu_processes(cf: ModuleType) -> object:
    with cf.ProcessPoolExecutor() as ex:
        return sum(ex.map(count_primes, PRIME_CHUNKS))


def process_submits(cf: ModuleType) -> object:
    with cf.ProcessPoolExecutor(2) as ex:
        futures = [ex.submit(abs, -i) for i in range(2_000)]
        return sum(f.result() for f in futures)


def process_map(cf: ModuleType) -> object:
    with cf.ProcessPoolExecutor(2) as ex:
        return sum(ex.map(abs, range(100_000), chunksize=1_000))


WORKLOADS: list[tuple[str, Callable[[ModuleType], object]]] = [
    ("thread: 400 x 20 ms waits, 100 workers", io_like),
    ("thread: 2,000 URL loads (50 ms), 500 workers", url_loads),
    ("thread: sha256+zlib 64 MiB, 4 workers", cpu_like),
    ("thread: 20,000 no-op submits", submit_overhead),
    ("thread: map no-op over 100,000", map_overhead),
    ("process: primes below 200,000, all cores", cpu_processes),
    ("process: 2,000 small submits, 2 workers", process_submits),
    ("process: map 100,000, chunksize 1,000", process_map),
]


def best_of(n: int, fn: Callable[[ModuleType], object], cf: ModuleType) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(n):
        start = time.perf_counter()
        result = fn(cf)
        best = min(best, time.perf_counter() - start)
    return best, result


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gofutures.demo",
        description="Run the same real work on concurrent.futures and on gofutures, in this "
        "process, and print seconds and ratios (stdlib time / gofutures time: above 1 means "
        "gofutures is faster). Exits 1 if any result differs between the two.",
    )
    parser.add_argument("--runs", type=int, default=3, metavar="N",
                        help="time each workload N times per implementation, keep the best "
                        "(default: 3)")
    parser.add_argument("--only", default="", metavar="TEXT",
                        help="run only the workloads whose name contains TEXT "
                        "(e.g. 'thread' or 'process')")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    workloads = [(name, fn) for name, fn in WORKLOADS if args.only in name]
    if args.list or not workloads:
        if not workloads:
            print(f"no workload name contains {args.only!r}; the workloads are:", file=sys.stderr)
        for name, _ in WORKLOADS:
            print(name, file=sys.stdout if args.list else sys.stderr)
        return 0 if args.list else 2
    print(f"gofutures {gofutures.__version__} demo on {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    serial = time.perf_counter()
    count_primes((0, 200_000))
    serial = time.perf_counter() - serial
    print(f"serial primes below 200,000: {serial:.3f} s (the process rows use every core)")
    print(f"{'workload':44} {'stdlib s':>9} {'gofutures s':>12} {'ratio':>7}")
    ok = True
    try:
        for name, fn in workloads:
            std_t, std_r = best_of(args.runs, fn, stdlib)
            go_t, go_r = best_of(args.runs, fn, gofutures)
            same = std_r == go_r
            ok &= same
            print(f"{name:44} {std_t:9.3f} {go_t:12.3f} {std_t / go_t:6.2f}x"
                  + ("" if same else "  RESULTS DIFFER"))
    finally:
        SERVER.stop()
    print("results identical on both implementations" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
