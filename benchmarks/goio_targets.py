"""Issue 14's targets for ``benchmarks.goio``, judged from one run's results.

Each target is a ratio between rows of the same run, never an absolute
time: the machine's speed cancels out. A target whose rows the run did not
measure (a level or a client left out) says so instead of a verdict.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

# A run's results: (client, in flight) -> its measurements, or why there are
# none (a failed or skipped client). The no-delay run is at 64 in flight, the
# sleep run under the client names of benchmarks.goio.SLEEPS.
Results = dict[tuple[str, int], "dict[str, float] | str"]

# Thread-pool clients (a Python thread per request in flight): the peers the
# 10,000-in-flight target compares with, at whatever level each did best.
THREAD_POOL_PEERS = ("cf+requests", "cf+urllib", "gf+requests")
NO_DELAY = 64
IO_SLEEP = "gf io.sleep"


def _measured(results: Results, client: str, inflight: int) -> dict[str, float] | None:
    r = results.get((client, inflight))
    return r if isinstance(r, dict) else None


def _gf_levels(results: Results) -> list[tuple[int, dict[str, float]]]:
    return sorted((n, r) for (c, n), r in results.items() if c == "gf.http" and isinstance(r, dict))


def _lines(results: Results, ideals: dict[int, float], sleep_ideal: float | None) -> Iterator[tuple[str, str, bool | None]]:
    at_1000 = _measured(results, "gf.http", 1000)
    if at_1000 and 1000 in ideals:
        ratio = at_1000["wall"] / ideals[1000]
        yield "1,000 in flight within 1.5x of the ideal", f"{at_1000['wall']:.2f} s, {ratio:.2f}x", ratio <= 1.5
    else:
        yield "1,000 in flight within 1.5x of the ideal", "not measured", None

    at_10k = _measured(results, "gf.http", 10000)
    peers = [(r["wall"], c, n) for (c, n), r in results.items()
             if c in THREAD_POOL_PEERS and n != NO_DELAY and isinstance(r, dict)]
    if at_10k and peers:
        wall, peer, level = min(peers)
        ratio = wall / at_10k["wall"]
        yield ("10,000 in flight at least 5x faster than the best thread-pool peer",
               f"{at_10k['wall']:.2f} s against {peer}'s {wall:.2f} s at {level:,}: {ratio:.1f}x", ratio >= 5)
    else:
        yield "10,000 in flight at least 5x faster than the best thread-pool peer", "not measured", None

    levels = _gf_levels(results)
    against = [(n, r["cpu_per_1000"], _measured(results, "cf+requests", n), _measured(results, "aiohttp", n))
               for n, r in levels]
    requests = [(cpu / other["cpu_per_1000"]) for _, cpu, other, _ in against if other]
    if requests:
        yield ("client CPU per 1,000 requests at most 0.25x ThreadPoolExecutor + requests",
               f"{min(requests):.2f}-{max(requests):.2f}x at {len(requests)} levels", max(requests) <= 0.25)
    else:
        yield "client CPU per 1,000 requests at most 0.25x ThreadPoolExecutor + requests", "not measured", None
    aio = [(cpu / other["cpu_per_1000"]) for _, cpu, _, other in against if other]
    if aio:
        yield ("... and below aiohttp's", f"{min(aio):.2f}-{max(aio):.2f}x at {len(aio)} levels", max(aio) < 1)
    else:
        yield "... and below aiohttp's", "not measured", None

    if levels:
        limit = 2 * (os.cpu_count() or 1) + 16
        threads = [int(r["threads"]) for _, r in levels]
        yield (f"at most 2 x cores + 16 = {limit} OS threads at every level",
               f"{min(threads)}-{max(threads)}", max(threads) <= limit)
        lags = [r["p99_ms"] for _, r in levels if r["p99_ms"] is not None]
        shown = " / ".join(f"{r['p99_ms']:.1f}" for _, r in levels if r["p99_ms"] is not None)
        yield ("heartbeat p99 under 5 ms at every level", f"{shown} ms (levels {', '.join(f'{n:,}' for n, _ in levels)})",
               bool(lags) and max(lags) < 5)

    sleep = _measured(results, IO_SLEEP, 500)
    if sleep and sleep_ideal:
        ratio = sleep["wall"] / sleep_ideal
        yield "io.sleep x 2,000 within 1.25x of its ideal", f"{sleep['wall']:.2f} s, {ratio:.2f}x", ratio <= 1.25
    else:
        yield "io.sleep x 2,000 within 1.25x of its ideal", "not measured", None


def report(results: Results, ideals: dict[int, float], sleep_ideal: float | None) -> str:
    """The targets table of one run, in Markdown."""
    rows = ["| target | measured | |", "|---|---|---|"]
    for target, measured, met in _lines(results, ideals, sleep_ideal):
        verdict = "" if met is None else ("met" if met else "**missed**")
        rows.append(f"| {target} | {measured} | {verdict} |")
    return "\n".join(rows)
