"""Run CPython's own test_concurrent_futures against gofutures and the stdlib.

CPython's code is never part of this repository: the harness takes it, at run
time, from wherever it is on the machine. SOURCE is one of

* a directory holding CPython's ``Lib/test`` (a checkout or an unpacked
  release), or that ``Lib/test`` directory itself;
* a git directory of CPython (``--ref`` picks the commit, tag or branch;
  default HEAD): the files are read with ``git archive``;
* a release tarball (``Python-3.11.7.tar.xz``, any tar format) or a Debian
  ``libpython3.X-testsuite`` .deb (``apt-get download
  libpython3.11-testsuite``).

It copies ``Lib/test/__init__.py``, ``Lib/test/support/`` and
``Lib/test/test_concurrent_futures.py`` (3.11.0-3.11.5: one file) or
``Lib/test/test_concurrent_futures/`` (3.11.6 on, 3.12+: a package) into a
scratch ``test`` package that shadows the interpreter's own. Where the source
has no ``support/`` (the Debian .deb ships it elsewhere), the interpreter's
own ``test/support`` is copied instead.

For the gofutures run it rewrites ONLY the imports of concurrent.futures, in
every file of the module or package, code and subprocess scripts (source text
inside strings) alike, keeping every line number:

* ``from concurrent import futures`` -> ``import gofutures as futures``
* ``from concurrent.futures import NAMES`` -> ``from gofutures import NAMES``
  (the subprocess scripts' ``from concurrent.futures import {executor_type}``
  and ``... import ThreadPoolExecutor``)
* ``from concurrent.futures._base import NAMES`` -> the names gofutures
  exports come ``from gofutures``; the others (``PENDING``, ``RUNNING``,
  ``CANCELLED``, ``CANCELLED_AND_NOTIFIED``, ``FINISHED``: gofutures has no
  ``_base``, it uses the stdlib's states) stay ``from concurrent.futures._base``
* ``from concurrent.futures.process import NAMES`` -> the names
  ``gofutures.process`` has come from it (``BrokenProcessPool``, which is the
  stdlib's class); the others (``_check_system_limits``, ``_ThreadWakeup``)
  stay ``from concurrent.futures.process``
* ``from concurrent.futures.thread import NAMES`` -> likewise with
  ``gofutures.thread``

Every rewritten line is printed. Anything else that names concurrent.futures
is left alone, as in the test: logger names (``'concurrent.futures'``) and
``unittest.mock.patch('concurrent.futures.process._ThreadWakeup', ...)``
targets. Another import form (``import concurrent.futures``) stops the run
rather than silently measuring the stdlib. The stdlib control run uses the
same files unmodified.

How it runs: a scratch virtual environment of the project interpreter's base
Python whose ``.pth`` puts the scratch ``test`` package first on ``sys.path``
and adds the project environment's site-packages (where gofutures is
installed). That way the subprocesses the tests start with ``python -I``
(``assert_python_ok``), which ignore PYTHONPATH, and 'spawn' and gofutures
workers see the same ``test`` package and the same gofutures. The tests of
each class run in a fresh ``python -X faulthandler`` process, in order, under
unittest (as ``python -m test`` would run them, without regrtest's extras).
Before each test faulthandler is armed to dump every thread's stack and exit
after ``--timeout`` seconds (default 120): the test counts as hung, the stack
says where, and the class's remaining tests run in a new process. A process
that dies otherwise (a signal, a crash) marks its current test as crashed;
one still running 30 s after its last test is killed and reported ("exit
hang"). Each test that did not pass is then rerun alone (``--rerun``).
Each class process runs in its own process group, killed when it ends, so
nothing outlives it; ``--total-timeout`` (default 2400 s) bounds the run.

Usage, from the repository root, after ``make install``::

    .venv/bin/python benchmarks/cpython_suite.py SOURCE [--ref REF]
        [--impl gofutures,stdlib] [--only SUBSTRING,...] [--timeout 120]
        [--total-timeout 2400] [--rerun 1] [--json PATH] [--python PATH] [--keep]

``--python`` is the project interpreter (default: the one running this
script); ``--json`` (default ``benchmarks/results/cpython-suite.json``,
git-ignored) gets every test's outcome, reason and traceback. Outcomes:
pass, fail, error, skip, xfail (expected failure), xpass (unexpected
success), hung, crashed, not-run; ``env changed`` marks a test after which
threads or processes were left behind (regrtest's "env changed").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_cpython_suite_child.py"
MODULE = "test.test_concurrent_futures"
NAME = "test_concurrent_futures"
LIB_ENV = "GOFUTURES_CPYTHON_SUITE_LIB"
OUTCOMES = ("pass", "fail", "error", "skip", "xfail", "xpass", "hung", "crashed", "not-run")
BAD = ("fail", "error", "xpass", "hung", "crashed", "not-run")


class HarnessError(Exception):
    pass


# ---------------------------------------------------------------- source


def _sh(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def _is_git_dir(p: Path) -> bool:
    return (p / "HEAD").is_file() and (p / "objects").is_dir()


def _from_git(git_dir: Path, ref: str, dest: Path) -> str:
    listing = _sh(["git", "--git-dir", str(git_dir), "ls-tree", "--name-only", ref, "Lib/test/"])
    present = set(listing.stdout.decode().split())
    wanted = [
        p
        for p in (
            "Lib/test/__init__.py",
            "Lib/test/support",
            f"Lib/test/{NAME}.py",
            f"Lib/test/{NAME}",
        )
        if p in present
    ]
    if not any(NAME in p for p in wanted):
        raise HarnessError(f"{git_dir} at {ref} has no Lib/test/{NAME}[.py]")
    archive = _sh(["git", "--git-dir", str(git_dir), "archive", "--format=tar", ref, *wanted])
    raw = dest.parent / "git"
    raw.mkdir(parents=True)
    tmp_tar = dest.parent / "src.tar"
    tmp_tar.write_bytes(archive.stdout)
    with tarfile.open(tmp_tar) as tf:
        tf.extractall(raw, filter="data")
    tmp_tar.unlink()
    _copy_test_dir(raw / "Lib" / "test", dest)
    commit = _sh(["git", "--git-dir", str(git_dir), "rev-parse", ref]).stdout.decode().strip()
    version = ""
    try:
        ph = _sh(["git", "--git-dir", str(git_dir), "show", f"{commit}:Include/patchlevel.h"])
        version = _py_version(ph.stdout.decode())
    except subprocess.CalledProcessError:
        pass
    return f"git {git_dir} {ref} = {commit}" + (f" (PY_VERSION {version})" if version else "")


def _py_version(patchlevel: str) -> str:
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', patchlevel)
    return m.group(1) if m else ""


def _find_test_dir(root: Path) -> Path:
    """The directory under root that holds test_concurrent_futures[.py]."""
    hits = sorted(
        p.parent
        for p in root.rglob(f"{NAME}*")
        if p.name in (NAME, f"{NAME}.py") and p.parent.name == "test"
    )
    if not hits:
        raise HarnessError(f"no test/{NAME}[.py] under {root}")
    return min(hits, key=lambda p: len(p.parts))


def _from_archive(archive: Path, dest: Path) -> str:
    raw = dest.parent / "archive"
    raw.mkdir(parents=True)
    if archive.suffix == ".deb":
        _sh(["dpkg-deb", "-x", str(archive), str(raw)])
    elif tarfile.is_tarfile(archive):
        pat = re.compile(rf"(^|/)(Include/patchlevel\.h|Lib/test/(__init__\.py|support/|{NAME}(\.py|/)))")
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if pat.search(m.name)]
            tf.extractall(raw, members=members, filter="data")
    else:
        raise HarnessError(f"{archive}: neither a tar archive nor a .deb")
    test_dir = _find_test_dir(raw)
    _copy_test_dir(test_dir, dest)
    version = ""
    patchlevel = test_dir.parent.parent / "Include" / "patchlevel.h"
    if patchlevel.is_file():
        version = _py_version(patchlevel.read_text())
    return f"archive {archive}" + (f" (PY_VERSION {version})" if version else "")


def _copy_test_dir(test_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("__init__.py", f"{NAME}.py"):
        if (test_dir / name).is_file():
            shutil.copy2(test_dir / name, dest / name)
    for name in ("support", NAME):
        if (test_dir / name).is_dir():
            shutil.copytree(test_dir / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))


def fetch_source(source: Path, ref: str | None, dest: Path) -> str:
    """Copy CPython's test pieces into dest (a 'test' directory); describe where from."""
    if source.is_file():
        return _from_archive(source, dest)
    if not source.is_dir():
        raise HarnessError(f"{source}: no such file or directory")
    if _is_git_dir(source) or (ref and (source / ".git").exists()):
        git_dir = source if _is_git_dir(source) else source / ".git"
        return _from_git(git_dir, ref or "HEAD", dest)
    for cand in (source / "Lib" / "test", source):
        if (cand / f"{NAME}.py").is_file() or (cand / NAME).is_dir():
            _copy_test_dir(cand, dest)
            version = ""
            patchlevel = cand.parent.parent / "Include" / "patchlevel.h"
            if patchlevel.is_file():
                version = _py_version(patchlevel.read_text())
            return f"directory {cand}" + (f" (PY_VERSION {version})" if version else "")
    raise HarnessError(f"{source}: no Lib/test/{NAME}[.py] there (for a git directory pass it)")


def _fingerprint(test_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(test_dir.rglob("*.py")):
        if NAME in p.relative_to(test_dir).parts[0]:
            h.update(p.relative_to(test_dir).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- rewrite

_FROM_PACKAGE = re.compile(r"^([ \t]*)from concurrent import futures[ \t]*$", re.MULTILINE)
_FROM_MODULE = re.compile(
    r"^([ \t]*)from concurrent\.futures(\.\w+)? import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE
)
_UNSUPPORTED = re.compile(
    r"^[ \t]*(import[ \t]+concurrent\b|from[ \t]+concurrent[ \t]+import[ \t]+(?!futures[ \t]*$))",
    re.MULTILINE,
)
_GOF_MODULE = {None: "gofutures", "._base": "gofutures", ".process": "gofutures.process",
               ".thread": "gofutures.thread"}  # fmt: skip


@dataclass
class Rewrite:
    file: str
    line: int
    old: str
    new: str


def _names(text: str) -> list[str]:
    text = re.sub(r"#[^\n]*", "", text).strip()
    if text.startswith("("):
        text = text[1:-1]
    return [n.strip() for n in text.replace("\n", " ").split(",") if n.strip()]


def rewrite_imports(
    source: str, filename: str, exported: dict[str, set[str]]
) -> tuple[str, list[Rewrite]]:
    """source with its concurrent.futures imports pointed at gofutures (see the docstring)."""
    bad = _UNSUPPORTED.search(source)
    if bad:
        line = source.count("\n", 0, bad.start()) + 1
        raise HarnessError(f"{filename}:{line}: unsupported import form {bad.group(0).strip()!r}")
    rewrites: list[Rewrite] = []

    def line_of(m: re.Match[str]) -> int:
        return source.count("\n", 0, m.start()) + 1

    def package(m: re.Match[str]) -> str:
        new = f"{m.group(1)}import gofutures as futures"
        rewrites.append(Rewrite(filename, line_of(m), m.group(0).strip(), new.strip()))
        return new

    def module(m: re.Match[str]) -> str:
        indent, sub, names_text = m.group(1), m.group(2), m.group(3)
        target = _GOF_MODULE.get(sub)
        if target is None:
            target = f"gofutures{sub}" if f"gofutures{sub}" in exported else None
        names = _names(names_text)
        ours, kept = [], []
        for n in names:
            base = n.split(" as ")[0].strip()
            # A non-identifier is a str.format placeholder in a subprocess
            # script ({executor_type}): always an executor class.
            if target and (not base.isidentifier() or base in exported.get(target, set())):
                ours.append(n)
            else:
                kept.append(n)
        if not ours:
            return m.group(0)  # nothing gofutures has: the import stays as it is
        parts = []
        if ours:
            parts.append(f"from {target} import {', '.join(ours)}")
        if kept:
            parts.append(f"from concurrent.futures{sub or ''} import {', '.join(kept)}")
        one_line = indent + "; ".join(parts)
        rewrites.append(Rewrite(filename, line_of(m), " ".join(m.group(0).split()), one_line.strip()))
        return one_line + "\n" * m.group(0).count("\n")

    out = _FROM_PACKAGE.sub(package, source)
    source = out  # line numbers are unchanged by the first pass
    out = _FROM_MODULE.sub(module, out)
    return out, sorted(rewrites, key=lambda r: (r.file, r.line))


# ---------------------------------------------------------------- environment


@dataclass
class Env:
    root: Path
    python: Path  # the scratch venv's interpreter
    gofutures_file: str
    exported: dict[str, set[str]]
    libs: dict[str, Path] = field(default_factory=dict)


_PROBE = """
import importlib, json, sysconfig
out = {"paths": sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})}
try:
    mods = {}
    for name in ("gofutures", "gofutures.process", "gofutures.thread"):
        mods[name] = sorted(dir(importlib.import_module(name)))
    out["exported"] = mods
    out["gofutures"] = importlib.import_module("gofutures").__file__
except ImportError as e:
    out["error"] = repr(e)
try:
    import test.support, os
    out["own_test"] = os.path.dirname(test.__file__)
except ImportError:
    pass
print(json.dumps(out))
"""


def make_env(project_python: Path, root: Path) -> tuple[Env, dict[str, Any]]:
    probe = json.loads(_sh([str(project_python), "-P", "-c", _PROBE], cwd=root).stdout)
    venv = root / "venv"
    _sh([str(project_python), "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site = _sh([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site_dir = Path(site.stdout.decode().strip())
    lines = [
        f"import os, sys; p = os.environ.get({LIB_ENV!r}); p and sys.path.insert(0, p)",
        *(f"import site; site.addsitedir({p!r})" for p in probe["paths"]),
    ]
    (site_dir / "_gofutures_cpython_suite.pth").write_text("\n".join(lines) + "\n")
    exported = {k: set(v) for k, v in probe.get("exported", {}).items()}
    env = Env(root, py, probe.get("gofutures", ""), exported)
    return env, probe


# ---------------------------------------------------------------- running


@dataclass
class Record:
    id: str
    outcome: str
    reason: str = ""
    where: str = ""
    detail: str = ""
    seconds: float = 0.0
    env_changed: bool = False
    alone: list[str] = field(default_factory=list)  # outcomes when rerun alone


@dataclass
class ClassStats:
    """Seconds spent starting the class's processes (until its tests were
    loaded), running them (tests and fixtures) and exiting (after unittest
    returned), and what went wrong outside any test."""

    start: float = 0.0
    run: float = 0.0
    exit: float = 0.0
    exit_hang: bool = False
    notes: list[str] = field(default_factory=list)


EXIT_GRACE = 30.0  # seconds a class's process may take to exit after its tests


def _class_of(test_id: str) -> str:
    return test_id.rsplit(".", 1)[0]


def _hang_reason(dump: str) -> str:
    """Where the hung test was: the innermost frame of the thread in the test module."""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", dump)
    # The main thread (the one running the child runner) first.
    blocks.sort(key=lambda b: CHILD.name not in b)
    for block in blocks:
        frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block)
        test_frames = [f for f in frames if NAME in f[0]]
        if test_frames and frames:
            inner = frames[0]
            tf = test_frames[0]
            return (
                f"hung in {os.path.basename(inner[0])}:{inner[1]} {inner[2]}, "
                f"called from {os.path.basename(tf[0])}:{tf[1]} {tf[2]}"
            )
    return "hung (no stack in the test module)"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _watch(proc: subprocess.Popen[bytes], results: Path, timeout: float, deadline: float) -> str:
    """Wait for proc; kill its group if it stalls. Returns why it was killed, or ""."""
    last_size, last_progress = -1, time.monotonic()
    done_at = 0.0
    while proc.poll() is None:
        time.sleep(0.2)
        size = results.stat().st_size if results.exists() else 0
        now = time.monotonic()
        if size != last_size:
            last_size, last_progress = size, now
            if size and results.read_bytes()[-64:].find(b'"done": true') >= 0:
                done_at = now
        # faulthandler exits a hung test after `timeout`; this is the
        # backstop for a process that cannot even do that.
        killed = ""
        if done_at and now - done_at > EXIT_GRACE:
            killed = f"the process did not exit {EXIT_GRACE:.0f} s after its tests, killed"
        elif now - last_progress > timeout + 60:
            killed = f"no progress for {timeout + 60:.0f} s, killed"
        elif now > deadline:
            killed = "the run's --total-timeout expired, killed"
        if killed:
            _kill_group(proc.pid)
            proc.wait()
            return killed
    return ""


def run_ids(
    env: Env,
    impl: str,
    ids: list[str],
    timeout: float,
    deadline: float,
    log: Path,
    stats: ClassStats,
) -> list[Record]:
    """Run ids (one class) in fresh processes until each has an outcome."""
    work = env.root / impl
    work.mkdir(exist_ok=True)
    cwd = work / "cwd"
    cwd.mkdir(exist_ok=True)
    done: dict[str, Record] = {}
    fixture_errors: list[str] = []
    remaining = list(ids)
    attempt = 0
    while remaining:
        attempt += 1
        if time.monotonic() > deadline:
            for tid in remaining:
                done[tid] = Record(tid, "not-run", "the run's --total-timeout expired")
            break
        ids_file = work / "ids.txt"
        results = work / f"results-{attempt}.jsonl"
        hang_file = work / f"hang-{attempt}.txt"
        for p in (results, hang_file):
            p.unlink(missing_ok=True)
        ids_file.write_text("\n".join(remaining) + "\n")
        cmd = [
            str(env.python), "-P", "-X", "faulthandler", str(CHILD), "--run", str(ids_file),
            "--results", str(results), "--hang-file", str(hang_file), "--timeout", str(timeout),
        ]  # fmt: skip
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        child_env[LIB_ENV] = str(env.libs[impl])
        t_launch = time.time()
        t_loaded = t_done = 0.0
        with open(log, "a") as logf:
            logf.write(f"\n===== {impl} {_class_of(remaining[0])} (attempt {attempt})\n")
            logf.flush()
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=child_env, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                killed = _watch(proc, results, timeout, deadline)
            finally:
                _kill_group(proc.pid)  # whatever the tests left in the group
        t_end = time.time()
        started: str | None = None
        finished = False
        for line in results.read_text().splitlines() if results.exists() else []:
            rec = json.loads(line)
            if "start" in rec:
                started = rec["start"]
            elif rec.get("loaded"):
                t_loaded = rec["t"]
            elif rec.get("done"):
                finished = True
                t_done = rec["t"]
            elif rec.get("fixture"):
                fixture_errors.append(f"{rec['id']}: {rec.get('reason', '')}")
                stats.notes.append(f"{rec['outcome']} in {fixture_errors[-1]}")
            elif rec["id"] not in done:
                done[rec["id"]] = Record(
                    rec["id"], rec["outcome"], rec.get("reason", ""), rec.get("where", ""),
                    rec.get("detail", ""), rec.get("seconds", 0.0), rec.get("env_changed", False),
                )  # fmt: skip
        if t_loaded:
            stats.start += t_loaded - t_launch
            stats.run += (t_done or t_end) - t_loaded
        if t_done:
            stats.exit += t_end - t_done
        if finished and killed:
            stats.exit_hang = True
            stats.notes.append(
                f"exit hang: {killed}; it ran {', '.join(_short(t) for t in ids)}"
                if len(ids) <= 3
                else f"exit hang: {killed}; it ran the {len(ids)} tests of {_short(_class_of(ids[0]))}"
                " (the reruns alone say which test left work behind)"
            )
        if finished:
            for tid in remaining:
                if tid not in done:
                    why = "; ".join(fixture_errors) or "no outcome reported"
                    done[tid] = Record(tid, "error", f"not run: {why}"[:600])
            break
        # The process ended before the end: a hang, a crash or a kill.
        dump = hang_file.read_text(errors="replace") if hang_file.exists() else ""
        rc = proc.returncode
        hang = _hang_reason(dump) if "Timeout (" in dump else (killed or f"status {rc}")
        if started is not None and started in done:
            # The test had its outcome, then its tearDown, cleanups or a class
            # or module fixture hung or crashed.
            done[started].reason += f" [then, after its outcome: {hang}]"
            stats.notes.append(f"hang after the outcome of {_short(started)}: {hang}")
        if started is not None and started not in done:
            if "Timeout (" in dump:
                done[started] = Record(started, "hung", _hang_reason(dump), detail=dump[-6000:])
            elif killed:
                done[started] = Record(started, "hung", killed)
            else:
                how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
                tail = log.read_text(errors="replace")[-3000:]
                done[started] = Record(started, "crashed", f"test process ended: {how}", detail=tail)
        elif started is None:
            tail = log.read_text(errors="replace")[-3000:]
            reason = killed or f"process ended (status {rc}) before its first test"
            for tid in remaining:
                done[tid] = Record(tid, "error", reason, detail=tail)
            break
        remaining = [t for t in remaining if t not in done]
    return [done[t] for t in ids]


def list_tests(env: Env, impl: str) -> tuple[list[str], list[str]]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    child_env[LIB_ENV] = str(env.libs[impl])
    cwd = env.root / impl / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(env.python), "-P", str(CHILD), "--list", MODULE],
        check=False, cwd=cwd, env=child_env, capture_output=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        raise HarnessError(f"listing {MODULE} for {impl} failed:\n{proc.stderr.decode()[-3000:]}")
    out = json.loads(proc.stdout)
    return out["ids"], out["errors"]


# ---------------------------------------------------------------- report


def _category(r: Record) -> str:
    if r.outcome in ("hung", "crashed", "not-run"):
        return r.outcome
    m = re.search(r"AttributeError: '(\w+)' object has no attribute '(\w+)'", r.reason)
    if m and m.group(1).endswith("Executor"):
        return f"missing attribute {m.group(2)}"
    return "behaviour difference"


def _short(test_id: str) -> str:
    return test_id.removeprefix(MODULE + ".")


def summarize(impl: str, records: list[Record], seconds: float) -> str:
    c = Counter(r.outcome for r in records)
    env_changed = sum(r.env_changed for r in records)
    parts = [f"{o} {c.get(o, 0)}" for o in OUTCOMES]
    return (
        f"{impl:10s} {len(records)} tests: " + ", ".join(parts)
        + f"; env changed {env_changed}; {seconds:.0f} s"
    )  # fmt: skip


def failure_report(impl: str, records: list[Record], control: dict[str, Record] | None) -> str:
    bad = [r for r in records if r.outcome in BAD]
    if not bad:
        return f"{impl}: no failing test\n"
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in bad:
        groups[_category(r)].append(r)
    lines = [f"{impl}: {len(bad)} tests not passing, by cause"]
    for cat in sorted(groups, key=lambda k: (-len(groups[k]), k)):
        lines.append(f"\n  [{cat}] {len(groups[cat])}")
        for r in groups[cat]:
            also = ""
            if control is not None and r.id in control and control[r.id].outcome in BAD:
                also = f"  (stdlib too: {control[r.id].outcome})"
            where = f" @ {r.where}" if r.where else ""
            if r.alone:
                also += f"  (rerun alone: {', '.join(r.alone)})"
            lines.append(f"    {r.outcome:7s} {_short(r.id)}{where}{also}")
            lines.append(f"            {r.reason}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run CPython's test_concurrent_futures against gofutures and the stdlib.",
        epilog="See the module docstring for the rewrite rules.",
    )
    ap.add_argument("source", type=Path, help="CPython dir, Lib/test dir, git dir, tarball or .deb")
    ap.add_argument("--ref", help="git ref when SOURCE is a git directory (default HEAD)")
    ap.add_argument("--impl", default="gofutures,stdlib", help="comma-separated: gofutures,stdlib")
    ap.add_argument("--python", type=Path, default=Path(sys.executable),
                    help="the project interpreter, with gofutures installed")  # fmt: skip
    ap.add_argument("--only", help="run only the test ids containing one of these "
                    "comma-separated substrings")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a test may take")
    ap.add_argument("--total-timeout", type=float, default=2400.0, help="seconds for the run")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "cpython-suite.json")
    ap.add_argument("--rerun", type=int, default=1, metavar="N",
                    help="rerun each test that did not pass N times alone (default 1)")  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args(argv)
    impls = [i.strip() for i in a.impl.split(",") if i.strip()]
    for i in impls:
        if i not in ("gofutures", "stdlib"):
            ap.error(f"unknown --impl {i!r}")
    deadline = time.monotonic() + a.total_timeout
    root = Path(tempfile.mkdtemp(prefix="cpython-suite-"))
    try:
        return _main(a, impls, root, deadline)
    except HarnessError as e:
        print(f"cpython_suite: {e}", file=sys.stderr)
        return 2
    finally:
        if a.keep:
            print(f"scratch directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _main(a: argparse.Namespace, impls: list[str], root: Path, deadline: float) -> int:
    src = root / "src" / "test"
    origin = fetch_source(a.source.resolve(), a.ref, src)
    env, probe = make_env(a.python.absolute(), root)
    if "gofutures" in impls and not env.gofutures_file:
        raise HarnessError(f"gofutures is not importable by {a.python}: {probe.get('error')}")
    support_from = "the source"
    if not (src / "support").is_dir():
        own = probe.get("own_test")
        if not own or not (Path(own) / "support").is_dir():
            raise HarnessError("the source has no Lib/test/support and the interpreter none either")
        shutil.copytree(Path(own) / "support", src / "support",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        if not (src / "__init__.py").exists():
            shutil.copy2(Path(own) / "__init__.py", src / "__init__.py")
        support_from = f"the interpreter ({own})"
    layout = "package" if (src / NAME).is_dir() else "single file"
    print(f"CPython tests: {origin}")
    print(f"  {NAME} ({layout}), sha256 {_fingerprint(src)}; test.support from {support_from}")
    interp = _sh([str(env.python), "-c", "import sys; print(sys.version.split()[0])"])
    print(f"interpreter: {a.python} (Python {interp.stdout.decode().strip()})")

    rewrites: list[Rewrite] = []
    for impl in impls:
        lib = root / impl / "lib"
        shutil.copytree(src, lib / "test")
        env.libs[impl] = lib
        if impl != "gofutures":
            continue
        print(f"gofutures: {env.gofutures_file}")
        targets = [lib / "test" / f"{NAME}.py"] if layout == "single file" else sorted(
            (lib / "test" / NAME).rglob("*.py"))  # fmt: skip
        for path in targets:
            rel = path.relative_to(lib).as_posix()
            text, rw = rewrite_imports(path.read_text(), rel, env.exported)
            path.write_text(text)
            rewrites += rw
        print("import rewrites for gofutures:")
        for r in rewrites:
            print(f"  {r.file}:{r.line}: {r.old}\n      -> {r.new}")

    results: dict[str, list[Record]] = {}
    notes: dict[str, list[str]] = defaultdict(list)
    timings: dict[str, float] = {}
    log_dir = a.json.parent
    log_dir.mkdir(parents=True, exist_ok=True)
    for impl in impls:
        ids, load_errors = list_tests(env, impl)
        if a.only:
            wanted = [w for w in a.only.split(",") if w]
            ids = [t for t in ids if any(w in t for w in wanted)]
        log = log_dir / f"cpython-suite-{impl}.log"
        log.write_text("")
        print(f"\n{impl}: {len(ids)} tests, log {log}", flush=True)
        for err in load_errors:
            print(f"  load error: {err.splitlines()[-1] if err else err}")
        by_class: dict[str, list[str]] = defaultdict(list)
        for tid in ids:
            by_class[_class_of(tid)].append(tid)
        t0 = time.monotonic()
        recs: list[Record] = []
        for cls, cls_ids in by_class.items():
            t_cls = time.monotonic()
            stats = ClassStats()
            got = run_ids(env, impl, cls_ids, a.timeout, deadline, log, stats)
            notes[impl] += stats.notes
            recs += got
            c = Counter(r.outcome for r in got)
            tally = " ".join(f"{o}={n}" for o, n in sorted(c.items()))
            wall = time.monotonic() - t_cls
            in_tests = sum(r.seconds for r in got)
            print(
                f"  {_short(cls):45s} {tally:26s} {wall:5.1f} s: tests {in_tests:.1f}, "
                f"fixtures {stats.run - in_tests:.1f}, start {stats.start:.1f}, "
                f"exit {stats.exit:.1f}",
                flush=True,
            )
        bad = [r for r in recs if r.outcome in BAD]
        if a.rerun and bad:
            print(f"  rerunning {len(bad)} tests alone, {a.rerun} time(s) each", flush=True)
        for r in bad:
            for _ in range(a.rerun):
                alone = ClassStats()
                again = run_ids(env, impl, [r.id], a.timeout, deadline, log, alone)
                r.alone.append(again[0].outcome + (" then exit hang" if alone.exit_hang else ""))
        timings[impl] = time.monotonic() - t0
        results[impl] = recs

    print("\n" + "=" * 78)
    for impl in impls:
        print(summarize(impl, results[impl], timings[impl]))
    control = {r.id: r for r in results.get("stdlib", [])} if "stdlib" in results else None
    for impl in impls:
        print()
        print(failure_report(impl, results[impl], control if impl != "stdlib" else None), end="")
        envc = [_short(r.id) for r in results[impl] if r.env_changed]
        if envc:
            print(f"\n  [env changed: threads or processes left behind] {len(envc)}")
            print("".join(f"    {t}\n" for t in envc), end="")
        if notes[impl]:
            print(f"\n  [outside the tests] {len(notes[impl])}")
            print("".join(f"    {n}\n" for n in notes[impl]), end="")
    a.json.write_text(
        json.dumps(
            {
                "source": origin,
                "fingerprint": _fingerprint(src),
                "layout": layout,
                "rewrites": [r.__dict__ for r in rewrites],
                "results": {i: [r.__dict__ for r in rs] for i, rs in results.items()},
                "notes": notes,
            },
            indent=1,
        )
    )
    print(f"\nper-test outcomes and tracebacks: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
