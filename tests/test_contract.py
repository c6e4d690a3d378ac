"""The Python/C/Go boundary: every value that crosses it is defined in Go
(gofutures/boundary) and read by Python at load; what each side still names
on its own must match Go's tables."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from gofutures import _gotask, _native, process

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / "python" / "gofutures"
BRIDGE = ROOT / "gofutures" / "pybridge"

# Kinds Python handles in an else branch, by table: it never looks them up.
IMPLIED = {"event": {"ERROR"}, "fail": {"PANIC"}, "op_status": {"ERROR"}}


def _python_lookups() -> dict[str, set[str]]:
    """(table, name) of every _native.const("table", "NAME") in the package."""
    found: dict[str, set[str]] = {}
    for path in PYTHON.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "const"
                and len(node.args) == 2
                and all(isinstance(a, ast.Constant) for a in node.args)
            ):
                table, name = (a.value for a in node.args)  # type: ignore[union-attr]
                found.setdefault(table, set()).add(name)
    return found


def _spec_fields() -> set[str]:
    """The keywords process._start passes to _pool_spec."""
    tree = ast.parse((PYTHON / "process.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_pool_spec":
            return {kw.arg for kw in node.keywords if kw.arg}
    raise AssertionError("process.py does not call _pool_spec")


def _c_string_literals() -> set[str]:
    """Every string literal of the bridge's C sources."""
    found: set[str] = set()
    for path in BRIDGE.glob("*.[ch]"):
        found.update(re.findall(r'"([^"\\\n]*)"', path.read_text()))
    return found


def test_every_side_agrees_on_the_boundary() -> None:
    _native.ext()
    contract = _native.contract
    problems = []

    # Go: within a table, no two names share a value.
    for table in ("fail", "event", "cause", "start", "error", "outcome", "op", "op_status", "op_error"):
        values = list(contract[table].values())
        if len(set(values)) != len(values):
            problems.append(f"Go table {table!r} repeats a value: {contract[table]}")

    # Python: every name it looks up exists, and it handles every name Go has.
    lookups = _python_lookups()
    handled = {
        **{t: names | IMPLIED.get(t, set()) for t, names in lookups.items()},
        "start": set(process._START_MODES.values()),
        "cause": {"FAILURE", "INITIALIZER_RAISED", *process._DIED_PHASE},
        "error": set(_native.ERROR_FACTORIES),
        "op_error": set(_gotask.ERRORS),
    }
    for table, names in handled.items():
        if table not in contract or names != set(contract[table]):
            problems.append(f"table {table!r}: Python {sorted(names)}, Go {sorted(contract.get(table, {}))}")
    if _spec_fields() != set(contract["spec_fields"]):
        problems.append(f"spec: Python {sorted(_spec_fields())}, Go {sorted(contract['spec_fields'])}")
    for module, names in contract["hooks"].items():
        mod = importlib.import_module(module)
        problems += [f"{module}.{n} is not a function" for n in names if not callable(getattr(mod, n, None))]

    # C: it gets the hooks' names from Go (boundary.Thread, boundary.Pump),
    # so it must not name them itself; 0 is its "no error" (gf_raise is not
    # called), so no error kind may be 0.
    hook_names = {n for module, names in contract["hooks"].items() for n in (module, *names)}
    if named := hook_names & _c_string_literals():
        problems.append(f"C names hooks itself: {sorted(named)}")
    if 0 in contract["error"].values():
        problems.append("an error kind is 0, which C reads as no error")

    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("call", "want", "message"),
    [
        (lambda: _native.fast_thread_submit(10**9, 1), ValueError, "no thread pool 1000000000 (already shut down)"),
        (lambda: _native.fast_proc_submit(10**9, 1, b"x"), ValueError, "no process pool 1000000000 (already shut down)"),
        (lambda: _native.fast_thread_new(0), ValueError, "max_workers must be greater than 0"),
        (lambda: _native.fast_proc_new(b'{"workers": 1}'), ValueError, 'process pool spec: no field "max_tasks_per_child"'),
    ],
)
def test_go_errors_reach_python_as_their_kind(call: object, want: type, message: str) -> None:
    _native.ext()
    with pytest.raises(want) as info:
        call()  # type: ignore[operator]
    assert type(info.value) is want
    assert str(info.value) == message
