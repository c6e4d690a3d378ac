"""Text tables and the JSON document."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from typing import Any

_COLS = (("workload", 28, "<"), ("implementation", 20, "<"), ("seconds", 9, ">"),
         ("tasks/s", 11, ">"), ("vs stdlib", 9, ">"), ("notes", 0, "<"))


def _git(root: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info(root: str) -> dict[str, Any]:
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git(root, "rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def new_document(ctx: Any, args: Any, root: str) -> dict[str, Any]:
    return {
        "machine": machine_info(root),
        "implementations": {
            name: ({"version": i.version, "module": getattr(i.module, "__file__", None)}
                   if i.available else {"error": i.error})
            for name, i in ctx.impls.items()
        },
        "config": {"quick": ctx.quick, "repeat": ctx.repeat, "timeout_s": ctx.timeout,
                   "only": args.only, "sizes": ctx.sizes},
        "results": [],
        "memory": [],
        "overhead": [],
        "notes": [],
        "workload_seconds": {},
        "total_seconds": 0.0,
    }


def header(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    versions = ", ".join(
        f"{name} {v.get('version', 'unavailable')}" for name, v in doc["implementations"].items()
    )
    commit = (m["git_commit"] or "?")[:12] + (" (dirty)" if m["git_dirty"] else "")
    c = doc["config"]
    return (
        f"gofutures benchmarks  {m['date']}  commit {commit}\n"
        f"{m['platform']}, {m['cpu_model']}, {m['cpu_count']} CPUs, Python {m['python']}\n"
        f"{versions}\n"
        f"best of {c['repeat']} run(s){'  [--quick sizes]' if c['quick'] else ''}; "
        f"vs stdlib = stdlib seconds / implementation seconds (>1 = faster)\n"
    )


def _fmt_row(values: list[str]) -> str:
    parts = []
    for (_, width, align), v in zip(_COLS, values, strict=True):
        parts.append(f"{v:{align}{width}}" if width else v)
    return "  ".join(parts).rstrip()


def table_head() -> str:
    names = [c[0] for c in _COLS]
    line = _fmt_row(names)
    return line + "\n" + "-" * max(len(line), 100)


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table_rows(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        notes = list(r["notes"])
        if r["baseline"] and r["baseline"] != "stdlib" and r["ratio_vs_stdlib"] is not None:
            notes.insert(0, f"ratio vs {r['baseline']}")
        if r["extra"].get("mib_per_s"):
            notes.append(f"{r['extra']['mib_per_s']:.0f} MiB/s")
        if r["error"]:
            notes.insert(0, r["error"])
        ratio = r["ratio_vs_stdlib"]
        out.append(_fmt_row([
            r["workload"], r["label"],
            _num(r["seconds"], ".4f"),
            _num(r["tasks_per_s"], ",.0f"),
            "-" if ratio is None else f"{ratio:.2f}x",
            "; ".join(notes),
        ]))
    return "\n".join(out)


def _memory_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'pool':18}  {'implementation':14}  {'total MB':>9}  {'pool MB':>8}  "
            f"{'self MB':>8}  {'children MB':>11}  {'child PSS':>9}  {'procs':>5}  "
            f"{'threads':>7}  {'vs stdlib':>10}")
    out = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            out.append(f"{r['pool']:18}  {r['impl']:14}  ERROR: {r['error']}")
            continue
        delta = r.get("delta_vs_stdlib_mb")
        out.append(
            f"{r['pool']:18}  {r['impl']:14}  {r['total_mb']:9.1f}  {r['pool_mb']:8.1f}  "
            f"{r['self_mb']:8.1f}  {r['children_mb']:11.1f}  {r['children_pss_mb']:9.1f}  "
            f"{r['children']:5d}  {r['threads']:7d}  "
            f"{'-' if delta is None else f'{delta:+.1f} MB':>10}"
        )
    return "\n".join(out)


def _overhead_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'implementation':14}  {'submit+result us/task':>21}  {'executor us':>11}  "
            f"{'round trip us':>13}  {'direct call us':>14}")
    out = [head, "-" * len(head)]
    for r in rows:
        if "error" in r and "per_task_us" not in r:
            out.append(f"{r['impl']:14}  ERROR: {r['error']}")
            continue
        out.append(
            f"{r['impl']:14}  {r['per_task_us']:21.2f}  {r['executor_us']:11.2f}  "
            f"{r['roundtrip_us']:13.2f}  {r['direct_call_us']:14.3f}"
        )
    return "\n".join(out)


def footer(doc: dict[str, Any]) -> str:
    parts = []
    if doc["memory"]:
        parts.append("\nmemory: idle pools, fresh interpreter each; total = this process "
                     "VmRSS + all descendants' VmRSS;\npool = total minus the same "
                     "measured after imports, before the pool; child PSS counts shared "
                     "pages once\n")
        parts.append(_memory_table(doc["memory"]))
    if doc["overhead"]:
        o = doc["overhead"][0]
        parts.append(f"\noverhead: thread pools, default workers; {o['tasks']:,} submits "
                     f"then results (us/task), and {o['roundtrips']:,} sequential "
                     "submit().result() round trips;\nexecutor us = us/task - direct call\n")
        parts.append(_overhead_table(doc["overhead"]))
    if doc["notes"]:
        parts.append("\nnotes:")
        parts.extend(f"  - {n}" for n in doc["notes"])
    return "\n".join(parts)


def write_json(doc: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)
