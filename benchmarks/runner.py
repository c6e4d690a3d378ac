"""Command line, run loop and the guard that keeps a hung run from hanging all."""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from benchmarks import impls as impls_mod
from benchmarks import report
from benchmarks.core import Context, Measurement, Section, VerificationError, Workload
from benchmarks.workloads_misc import SECTIONS
from benchmarks.workloads_process import WORKLOADS as PROCESS_WORKLOADS
from benchmarks.workloads_thread import WORKLOADS as THREAD_WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(ROOT, "benchmarks", "results", "latest.json")

FULL_SIZES: dict[str, Any] = {
    "submit_n": 50_000,
    "map_n": 100_000,
    "map_chunk": 10_000,
    "as_completed_n": 20_000,
    "sleep_n": 2_000,
    "sleep_workers": 500,
    "sleep_s": 0.02,
    "proc_submit_n": 5_000,
    "proc_map_n": 200_000,
    "proc_map_chunk": 2_000,
    "echo_n": 200,
    "cpu_tasks": 8,
    "cpu_task_s": 0.25,
    "max_tasks_n": 100,
    "overhead_n": 50_000,
    "overhead_roundtrip_n": 10_000,
}

QUICK_SIZES: dict[str, Any] = {
    **FULL_SIZES,
    "submit_n": 10_000,
    "map_n": 20_000,
    "map_chunk": 2_000,
    "as_completed_n": 5_000,
    "sleep_n": 1_000,
    "proc_submit_n": 1_000,
    "proc_map_n": 50_000,
    "echo_n": 50,
    "cpu_task_s": 0.05,
    "max_tasks_n": 20,
    "overhead_n": 10_000,
    "overhead_roundtrip_n": 2_000,
}

ALL_WORKLOADS: list[Workload | Section] = [*THREAD_WORKLOADS, *PROCESS_WORKLOADS, *SECTIONS]

_stuck = False  # a guarded run timed out; its thread (and maybe a pool) lives on


def guarded(fn: Callable[[], Any], timeout: float) -> tuple[Any, str | None]:
    """Run fn in a daemon thread; (value, None) or (None, error text).

    A run that does not finish within `timeout` is abandoned, so one hung
    implementation costs one timeout instead of the whole benchmark."""
    global _stuck
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except VerificationError as exc:
            box["error"] = f"VERIFICATION FAILED: {exc}"
        except BaseException as exc:
            box["error"] = f"{type(exc).__name__}: {exc}".strip()
            box["traceback"] = traceback.format_exc()

    thread = threading.Thread(target=target, name="benchmark-run", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _stuck = True
        return None, f"TIMEOUT after {timeout:.0f}s (run abandoned)"
    if "error" in box:
        if "traceback" in box:
            sys.stderr.write(box["traceback"])
        return None, box["error"]
    return box["value"], None


def run_workload(w: Workload, ctx: Context) -> list[dict[str, Any]]:
    contenders = w.build(ctx)
    runs: dict[str, list[Measurement]] = {c.label: [] for c in contenders}
    errors: dict[str, str] = {}
    for _ in range(ctx.repeat):
        for c in contenders:  # interleaved, so drift hits everyone alike
            if c.label in errors:
                continue
            value, error = guarded(c.run, ctx.timeout)
            if error:
                errors[c.label] = error
            else:
                runs[c.label].append(value)
    rows = []
    for c in contenders:
        ms = runs[c.label]
        best = min(ms, key=lambda m: m.seconds) if ms else None
        warnings = sorted({w_ for m in ms for w_ in m.warnings})
        row: dict[str, Any] = {
            "workload": w.name,
            "impl": c.impl,
            "label": c.label,
            "baseline": c.baseline,
            "seconds": best.seconds if best else None,
            "runs": [m.seconds for m in ms],
            "tasks": best.tasks if best else None,
            "tasks_per_s": best.tasks / best.seconds if best and best.seconds else None,
            "ratio_vs_stdlib": None,
            "error": errors.get(c.label),
            "notes": [*c.notes, *warnings],
            "extra": dict(best.extra) if best else {},
        }
        rows.append(row)
    by_label = {r["label"]: r for r in rows}
    for row in rows:
        base = by_label.get(row["baseline"] or "")
        if base and base["seconds"] and row["seconds"]:
            row["ratio_vs_stdlib"] = base["seconds"] / row["seconds"]
    if w.finalize:
        w.finalize(rows, ctx)
    return rows


def _selected(name: str, patterns: list[str]) -> bool:
    if not patterns:
        return True
    for p in patterns:
        if any(ch in p for ch in "*?[") and fnmatch.fnmatchcase(name, p):
            return True
        if p in name:
            return True
    return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="gofutures vs concurrent.futures (and loky, pebble when installed)",
    )
    ap.add_argument("--quick", action="store_true",
                    help="1 run per workload and smaller sizes (under ~2 minutes)")
    ap.add_argument("--only", action="append", default=[], metavar="PATTERN",
                    help="run workloads whose name contains PATTERN or matches it as a "
                         "glob (comma-separated or repeated)")
    ap.add_argument("--repeat", type=int, default=None, metavar="N",
                    help="runs per implementation, best kept (default 3; --quick: 1)")
    ap.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                    help="where to write the results (default benchmarks/results/latest.json)")
    ap.add_argument("--impl", default=",".join(impls_mod.ALL), metavar="LIST",
                    help="comma-separated implementations (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="abandon a single run after S seconds (default 120; --quick 60)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)
    args.only = [p.strip() for arg in args.only for p in arg.split(",") if p.strip()]
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.timeout is None:
        args.timeout = 60.0 if args.quick else 120.0
    names = [n.strip() for n in args.impl.split(",") if n.strip()]
    unknown = [n for n in names if n not in impls_mod.ALL]
    if unknown:
        ap.error(f"unknown implementation(s) {unknown}; choose from {impls_mod.ALL}")
    if impls_mod.STDLIB not in names:
        names.insert(0, impls_mod.STDLIB)  # the baseline of every ratio
    args.impl_names = names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for w in ALL_WORKLOADS:
            print(f"{w.name:30} {w.description}")
        return 0
    selected = [w for w in ALL_WORKLOADS if _selected(w.name, args.only)]
    if not selected:
        print(f"no workload matches {args.only}", file=sys.stderr)
        return 2

    ctx = Context(
        quick=args.quick, repeat=args.repeat, timeout=args.timeout,
        impls=impls_mod.load(args.impl_names),
        sizes=QUICK_SIZES if args.quick else FULL_SIZES,
    )
    ctx.available()  # notes for peers that are not installed
    started = time.perf_counter()
    doc = report.new_document(ctx, args, ROOT)
    print(report.header(doc))
    print(report.table_head())
    sys.stdout.flush()

    interrupted = False
    try:
        for w in selected:
            t0 = time.perf_counter()
            print(f"# {w.name}: {w.description}", file=sys.stderr, flush=True)
            if isinstance(w, Section):
                doc[w.name] = w.run(ctx)
            else:
                rows = run_workload(w, ctx)
                doc["results"].extend(rows)
                print(report.table_rows(rows), flush=True)
            doc["workload_seconds"][w.name] = time.perf_counter() - t0
            doc["notes"] = list(ctx.notes)
            doc["total_seconds"] = time.perf_counter() - started
            report.write_json(doc, args.json)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: writing what ran so far", file=sys.stderr)

    doc["notes"] = list(ctx.notes)
    doc["total_seconds"] = time.perf_counter() - started
    print(report.footer(doc))
    report.write_json(doc, args.json)
    shown = os.path.relpath(args.json)
    if shown.startswith(".."):
        shown = os.path.abspath(args.json)
    print(f"\nJSON written to {shown}; "
          f"total {doc['total_seconds']:.1f}s")
    sys.stdout.flush()
    sys.stderr.flush()
    if _stuck:
        # An abandoned run may hold a pool whose exit hook would wait forever.
        os._exit(3)
    return 130 if interrupted else 0
