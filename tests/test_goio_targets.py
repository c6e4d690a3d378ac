"""benchmarks/goio_targets.py: the verdicts a run of ``make bench`` prints
against issue 14's targets, from made-up rows (the benchmark itself is not
run here: its times are the machine's)."""

from __future__ import annotations

import os

import pytest

from benchmarks.goio_targets import Results, report


def _row(wall: float, cpu: float = 0.1, threads: int = 16, p99: float | None = 2.0) -> dict[str, float]:
    return {"wall": wall, "cpu_per_1000": cpu, "threads": threads, "p99_ms": p99}  # type: ignore[dict-item]


IDEALS = {1000: 4.0, 10000: 0.4}


def _run(**changes: dict[str, float] | str) -> Results:
    results: Results = {
        ("cf+urllib", 1000): _row(9.0, cpu=0.6),
        ("cf+urllib", 10000): _row(10.0, cpu=0.7),
        ("cf+requests", 1000): _row(17.0, cpu=1.0),
        ("cf+requests", 10000): _row(20.0, cpu=1.1),
        ("aiohttp", 1000): _row(5.0, cpu=0.2),
        ("aiohttp", 10000): _row(8.0, cpu=0.2),
        ("gf.http", 1000): _row(4.3),
        ("gf.http", 10000): _row(1.7),
        ("gf.http", 64): _row(0.2, cpu=0.05, p99=3.0),
        ("cf+requests", 64): _row(9.0, cpu=2.0),
        ("aiohttp", 64): _row(1.0, cpu=0.7),
        ("gf io.sleep", 500): _row(0.09),
    }
    for key, value in changes.items():
        client, level = key.rsplit("@", 1)
        results[client, int(level)] = value
    return results


def _verdicts(results: Results, sleep_ideal: float | None = 0.08) -> dict[str, str]:
    lines = report(results, IDEALS, sleep_ideal).splitlines()[2:]
    return {line.split(" | ")[0].lstrip("| "): line.rsplit(" | ", 1)[1].rstrip(" |") for line in lines}


def test_a_run_that_meets_every_target() -> None:
    verdicts = _verdicts(_run())
    assert list(verdicts.values()) == ["met"] * 7, verdicts
    table = report(_run(), IDEALS, 0.08)
    # The best thread-pool peer is the fastest at any level: cf+urllib at 1,000.
    assert "1.70 s against cf+urllib's 9.00 s at 1,000: 5.3x" in table


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"gf.http@1000": _row(6.5)}, "1,000 in flight within 1.5x of the ideal"),
        ({"gf.http@10000": _row(1.9)}, "10,000 in flight at least 5x faster than the best thread-pool peer"),
        # A faster peer at another level sets the bar.
        ({"cf+urllib@100": _row(8.0)}, "10,000 in flight at least 5x faster than the best thread-pool peer"),
        ({"gf.http@64": _row(0.2, cpu=0.6, p99=3.0)}, "client CPU per 1,000 requests at most 0.25x ThreadPoolExecutor + requests"),
        ({"gf.http@10000": _row(1.7, cpu=0.25)}, "... and below aiohttp's"),
        ({"gf.http@1000": _row(4.3, threads=2 * (os.cpu_count() or 1) + 17)}, "OS threads at every level"),
        ({"gf.http@64": _row(0.2, cpu=0.05, p99=5.0)}, "heartbeat p99 under 5 ms at every level"),
        ({"gf io.sleep@500": _row(0.11)}, "io.sleep x 2,000 within 1.25x of its ideal"),
    ],
)
def test_each_target_can_be_missed(change: dict[str, dict[str, float]], target: str) -> None:
    verdicts = _verdicts(_run(**change))
    missed = [name for name, verdict in verdicts.items() if verdict == "**missed**"]
    assert len(missed) == 1 and target in missed[0], verdicts


def test_a_target_without_its_rows_is_not_judged() -> None:
    results = _run(**{"gf.http@10000": "timed out after 200 s"})
    del results["gf io.sleep", 500]
    verdicts = _verdicts(results, sleep_ideal=None)
    assert verdicts["10,000 in flight at least 5x faster than the best thread-pool peer"] == ""
    assert verdicts["io.sleep x 2,000 within 1.25x of its ideal"] == ""
    assert "not measured" in report(results, IDEALS, None)
