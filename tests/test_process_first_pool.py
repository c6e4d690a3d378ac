"""A 'fork' process pool's zygote, a fork of the program taken when the pool
starts, becomes the pool's last worker, so no other process is left. Each
test runs a fresh interpreter: its first pool forks before the Go runtime
loads, later pools after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._subproc import run_python

# Shared by the scripts: the program's descendants and children (zombies
# included), and its pools' workers.
PRELUDE = """
import json, os, signal, time
import gofutures
from tests import _proc_tasks as tasks
from tests._processes import children_of, descendants_of, wait_for_workers

ME = os.getpid()

def descendants():
    return descendants_of(ME)

def children():
    return children_of(ME)

def descendants_after(seconds):
    deadline = time.monotonic() + seconds
    while descendants() and time.monotonic() < deadline:
        time.sleep(0.02)
    return descendants()
"""


def _run(body: str) -> dict:
    proc = run_python(PRELUDE + body, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, (proc.stdout, proc.stderr)
    return json.loads(lines[-1])


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_first_pool_runs_no_process_besides_its_workers(workers: int) -> None:
    out = _run(
        f"""
ex = gofutures.ProcessPoolExecutor({workers})
squares = list(ex.map(tasks.square, range(50)))
pids = wait_for_workers(ex, {workers})
procs = descendants()
direct = children()
# Every worker busy when shutdown starts: the zygote-worker must wait for
# its children (the other workers), not take them down with it.
futures = [ex.submit(tasks.sleep_then_return, 0.3, i) for i in range(2 * {workers})]
time.sleep(0.1)
ex.shutdown(wait=True)
results = [f.result() for f in futures]
left = descendants()
# A later pool forks its zygote from the program, Go runtime loaded, and
# works as well.
with gofutures.ProcessPoolExecutor(2) as ex2:
    later = list(ex2.map(tasks.square, range(10)))
print(json.dumps(dict(squares=squares, pids=sorted(pids), procs=sorted(procs),
                      direct=sorted(direct), results=results, left=sorted(left), later=later)))
"""
    )
    assert out["squares"] == [i * i for i in range(50)]
    assert len(out["pids"]) == workers
    assert out["procs"] == out["pids"], "a process other than the workers exists"
    assert len(out["direct"]) == 1, "the zygote-worker is the program's one child"
    assert out["results"] == list(range(2 * workers))
    assert out["left"] == [], "processes (or zombies) left after shutdown"
    assert out["later"] == [i * i for i in range(10)]


@pytest.mark.parametrize("victim", ["zygote-worker", "forked-worker"])
def test_first_pool_breaks_when_a_worker_is_killed(victim: str) -> None:
    pick = "direct" if victim == "zygote-worker" else "pids - direct"
    out = _run(
        f"""
ex = gofutures.ProcessPoolExecutor(2)
assert list(ex.map(tasks.square, range(8))) == [i * i for i in range(8)]
pids = wait_for_workers(ex, 2)
direct = children()
victim = next(iter({pick}))
futures = [ex.submit(tasks.sleep_then_return, 30, i) for i in range(4)]
time.sleep(0.3)
os.kill(victim, signal.SIGKILL)
errors = []
for f in futures:
    try:
        f.result(timeout=20)
        errors.append(None)
    except Exception as exc:
        errors.append((type(exc).__name__, str(exc)))
ex.shutdown(wait=True)
print(json.dumps(dict(errors=errors, left=sorted(descendants_after(5)))))
"""
    )
    assert [e and e[0] for e in out["errors"]] == ["BrokenProcessPool"] * 4, out["errors"]
    assert any("SIGKILL" in e[1] for e in out["errors"]), out["errors"]
    assert out["left"] == [], "processes (or zombies) left after the pool broke"


def test_first_pool_with_task_quota_keeps_its_zygote() -> None:
    out = _run(
        """
with gofutures.ProcessPoolExecutor(2, max_tasks_per_child=1) as ex:
    got = [f.result() for f in [ex.submit(tasks.getpid) for _ in range(6)]]
    direct = children()
print(json.dumps(dict(got=got, direct=sorted(direct))))
"""
    )
    assert len(set(out["got"])) == 6  # a new worker for every task
    # The zygote, which forks the replacements, is the program's child and
    # ran no task.
    assert len(out["direct"]) == 1 and out["direct"][0] not in out["got"], out


def test_zygote_worker_leaves_its_tasks_children_alone() -> None:
    # The zygote-worker reaps the workers it forked; a task's own children
    # (subprocess) must keep their exit statuses. Tasks run on both workers,
    # with the other worker exiting meanwhile (its SIGCHLD arrives).
    out = _run(
        """
ex = gofutures.ProcessPoolExecutor(2)
ex.submit(tasks.square, 1).result(timeout=30)  # the pool starts on first submit
pids = wait_for_workers(ex, 2)
direct = children()
results = [f.result(timeout=30) for f in
           [ex.submit(tasks.run_exit_codes, [0, 3, 1, 7], 0.05) for _ in range(8)]]
ex.shutdown(wait=True)
print(json.dumps(dict(direct=sorted(direct), results=results, left=sorted(descendants()))))
"""
    )
    zygote_worker = out["direct"][0]
    ran_on = {pid for pid, _ in out["results"]}
    assert zygote_worker in ran_on, "no task ran on the zygote-worker"
    assert all(codes == [0, 3, 1, 7] for _, codes in out["results"]), out["results"]
    assert out["left"] == []


def test_first_pool_with_failing_initializer_breaks_and_leaves_nothing() -> None:
    out = _run(
        """
from concurrent.futures.process import BrokenProcessPool
ex = gofutures.ProcessPoolExecutor(2, initializer=tasks.init_raise)
try:
    ex.submit(tasks.square, 3).result(timeout=30)
    outcome = "result"
except BrokenProcessPool:
    outcome = "broken"
ex.shutdown(wait=True)
print(json.dumps(dict(outcome=outcome, left=sorted(descendants_after(5)))))
"""
    )
    assert out["outcome"] == "broken"
    assert out["left"] == []


def test_a_fresh_zygote_learns_the_modules_its_workers_import() -> None:
    # A 'forkserver' pool forks from a fresh zygote interpreter, which has
    # not imported the task's module. The first worker imports it and tells
    # the zygote, which imports it too: workers forked after that start with
    # it (max_tasks_per_child=1: one worker per task), as they would from a
    # fork of the program.
    out = _run(
        """
from tests import _learned_module
with gofutures.ThreadPoolExecutor(1) as t:
    t.submit(int).result()
with gofutures.ProcessPoolExecutor(1, max_tasks_per_child=1, mp_context="forkserver") as ex:
    got = [ex.submit(_learned_module.where).result(timeout=30) for _ in range(12)]
print(json.dumps(dict(got=got)))
"""
    )
    got = out["got"]
    assert len({pid for pid, _ in got}) == 12  # a new worker for every task
    first_pid, first_importer = got[0]
    assert first_importer == first_pid, "the first worker had to import the module itself"
    late_importers = {importer for pid, importer in got[6:]}
    assert len(late_importers) == 1, got
    zygote = late_importers.pop()
    assert all(importer != pid for pid, importer in got[6:]), got
    assert zygote != first_pid


def test_import_hints_skip_a_module_table_that_changes_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thread that a task left behind may import while the worker lists
    # what the task imported: the hint is dropped, the worker goes on.
    import types

    from gofutures import _worker

    def module(name: str, file: str | None) -> types.ModuleType:
        m = types.ModuleType(name)
        if file is not None:
            m.__file__ = file
        return m

    table: dict[str, object] = {"inherited": module("inherited", "/lib/inherited.py")}
    monkeypatch.setattr(_worker, "sys", types.SimpleNamespace(modules=table))
    table["plain"] = module("plain", "/lib/plain.py")
    table["builtin"] = module("builtin", None)
    table["__main__"] = module("__main__", "/lib/script.py")
    assert _worker._imported_since(1) == [("plain", "/lib/plain.py")]

    class Importing:
        @property
        def __file__(self) -> str:
            table["imported.meanwhile"] = module("imported.meanwhile", "/lib/m.py")
            return "/lib/importing.py"

    table["importing"] = Importing()
    assert _worker._imported_since(1) == []


def test_a_zygote_learns_a_module_only_where_its_name_finds_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pools may differ in sys.path: a name that finds another file in the
    # zygote than in the worker that reported it must not be imported there
    # (its forks would run the wrong module).
    import os
    import sys
    import uuid

    from gofutures import _zygote

    name = f"learned_{uuid.uuid4().hex}"
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    for directory in (here, elsewhere):
        directory.mkdir()
        (directory / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(here))
    # This process runs threads (Go's, pytest's): a zygote that does imports
    # nothing (it would fork with them); a real zygote runs one.
    monkeypatch.setattr(_zygote, "thread_count", lambda: 1)
    commands, replies = os.pipe()
    zygote = _zygote._Zygote(commands, replies)
    try:
        os.write(zygote.hints_w, f"{name}\t{elsewhere / (name + '.py')}\n".encode())
        zygote.learn()
        assert name not in sys.modules, "imported under a name that finds another file"
        os.write(zygote.hints_w, f"{name}\t{here / (name + '.py')}\n".encode())
        zygote.learn()
        assert sys.modules[name].__file__ == str(here / f"{name}.py")
    finally:
        sys.modules.pop(name, None)
        for fd in (commands, replies, zygote.wake_r, zygote.wake_w, zygote.hints_r, zygote.hints_w):
            os.close(fd)
