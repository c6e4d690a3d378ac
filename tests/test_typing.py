"""Types that check: user code typed against gofutures passes mypy --strict
and pyright (strict), a wrong call is flagged on its line by both, the public
API is fully annotated, and the package itself passes mypy --strict.

The examples in tests/typing/ are checked against the installed gofutures,
as a user's code is (py.typed included), from a scratch directory so that
nothing in the checkout (python/, the Go sources in gofutures/) is picked
up instead. mypy and pyright come with the ``test`` extra; a missing checker
fails these tests, it does not skip them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._scripts import run_script

# The checkers start cold (no cache) and a loaded machine is slow.
pytestmark = pytest.mark.timeout(900)
CHECK_TIMEOUT = 600

HERE = Path(__file__).parent
EXAMPLES = HERE / "typing"
OK_FILES = sorted(EXAMPLES.glob("ok_*.py"))
FAIL_FILES = sorted(EXAMPLES.glob("fail_*.py"))
PACKAGE_SOURCE = HERE.parent / "python" / "gofutures"
MARKER = "# expect-error"


@dataclass(frozen=True)
class Diagnostic:
    path: Path
    line: int  # 1-based
    text: str


@dataclass
class CheckRun:
    returncode: int
    output: str
    diagnostics: list[Diagnostic]

    def at(self, path: Path) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.path == path]

    def lines(self, path: Path) -> set[int]:
        return {d.line for d in self.at(path)}


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(
            f"{module} is not installed in {sys.prefix}: the typing checks need it "
            "(it is in the test extra: pip install '.[test]')",
            pytrace=False,
        )


def _env(venv_bin_first: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    if venv_bin_first:
        # pyright --verifytypes finds packages through the `python` on PATH.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv[:4]} did not finish in {CHECK_TIMEOUT} s: {exc.output!r}")


_MYPY_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")


def _mypy(paths: list[Path], cwd: Path) -> CheckRun:
    _require("mypy")
    proc = _run(
        [
            sys.executable,
            "-P",
            "-m",
            "mypy",
            "--strict",
            "--no-color-output",
            "--no-pretty",
            "--cache-dir",
            str(cwd / ".mypy_cache"),
            *map(str, paths),
        ],
        cwd,
        _env(),
    )
    output = proc.stdout + proc.stderr
    diagnostics = []
    for line in output.splitlines():
        m = _MYPY_LINE.match(line)
        if m and m["kind"] == "error":
            diagnostics.append(Diagnostic(Path(m["path"]).resolve(), int(m["line"]), m["text"]))
    return CheckRun(proc.returncode, output, diagnostics)


def _pyright(args: list[str], cwd: Path, venv_bin_first: bool = False) -> tuple[int, str, dict]:
    _require("pyright")
    proc = _run(
        [sys.executable, "-P", "-m", "pyright", "--outputjson", *args],
        cwd,
        _env(venv_bin_first),
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"pyright gave no report (exit {proc.returncode}); it needs Node.js "
            f"(node on PATH, or pip install 'pyright[nodejs]'):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
    return proc.returncode, proc.stdout + proc.stderr, report


def _pyright_files(paths: list[Path], cwd: Path) -> CheckRun:
    code, output, report = _pyright(["--pythonpath", sys.executable, *map(str, paths)], cwd)
    diagnostics = [
        Diagnostic(
            Path(d["file"]).resolve(),
            d["range"]["start"]["line"] + 1,
            f"{d['message']} ({d.get('rule', '')})",
        )
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    return CheckRun(code, output, diagnostics)


def _expected_lines(path: Path) -> set[int]:
    lines = path.read_text().splitlines()
    return {number for number, text in enumerate(lines, 1) if text.rstrip().endswith(MARKER)}


def _describe(run: CheckRun, path: Path) -> str:
    return "\n".join(f"  {d.line}: {d.text}" for d in run.at(path)) or "  (none)"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with nothing in it to import: the checkers run from here."""
    return tmp_path_factory.mktemp("typing")


@pytest.fixture(scope="module")
def mypy_run(scratch: Path) -> Iterator[CheckRun]:
    yield _mypy([*OK_FILES, *FAIL_FILES], scratch)


@pytest.fixture(scope="module")
def pyright_run(scratch: Path) -> Iterator[CheckRun]:
    yield _pyright_files([*OK_FILES, *FAIL_FILES], scratch)


def test_examples_exist() -> None:
    assert [p.name for p in OK_FILES] == ["ok_process.py", "ok_thread.py"]
    assert [p.name for p in FAIL_FILES] == ["fail_calls.py"]
    for path in FAIL_FILES:
        assert len(_expected_lines(path)) >= 10, path
    for path in OK_FILES:
        assert not _expected_lines(path), path


@pytest.mark.parametrize("example", OK_FILES, ids=lambda p: p.name)
def test_mypy_strict_accepts_typed_user_code(mypy_run: CheckRun, example: Path) -> None:
    assert not mypy_run.at(example), f"mypy --strict on {example.name}:\n" + _describe(
        mypy_run, example
    )


@pytest.mark.parametrize("example", OK_FILES, ids=lambda p: p.name)
def test_pyright_strict_accepts_typed_user_code(pyright_run: CheckRun, example: Path) -> None:
    assert not pyright_run.at(example), f"pyright on {example.name}:\n" + _describe(
        pyright_run, example
    )


@pytest.mark.parametrize("example", FAIL_FILES, ids=lambda p: p.name)
def test_mypy_flags_each_wrong_call_on_its_line(mypy_run: CheckRun, example: Path) -> None:
    assert mypy_run.returncode == 1, mypy_run.output
    assert mypy_run.lines(example) == _expected_lines(example), (
        f"mypy on {example.name}: errors expected on lines "
        f"{sorted(_expected_lines(example))}, got:\n" + _describe(mypy_run, example)
    )


@pytest.mark.parametrize("example", FAIL_FILES, ids=lambda p: p.name)
def test_pyright_flags_each_wrong_call_on_its_line(pyright_run: CheckRun, example: Path) -> None:
    assert pyright_run.returncode == 1, pyright_run.output
    assert pyright_run.lines(example) == _expected_lines(example), (
        f"pyright on {example.name}: errors expected on lines "
        f"{sorted(_expected_lines(example))}, got:\n" + _describe(pyright_run, example)
    )


def test_wrong_submit_argument_is_an_argument_type_error(
    mypy_run: CheckRun, pyright_run: CheckRun
) -> None:
    """The issue's own case: submit(square, "3") where square takes an int."""
    (example,) = FAIL_FILES
    line = next(
        n
        for n, text in enumerate(example.read_text().splitlines(), 1)
        if 'submit(square, "3")' in text
    )
    assert any(
        d.line == line and '"str"; expected "int"' in d.text and "[arg-type]" in d.text
        for d in mypy_run.at(example)
    ), _describe(mypy_run, example)
    assert any(
        d.line == line and "reportArgumentType" in d.text for d in pyright_run.at(example)
    ), _describe(pyright_run, example)


@pytest.mark.parametrize("example", OK_FILES, ids=lambda p: p.name)
def test_typed_examples_run(tmp_path: Path, example: Path) -> None:
    """The examples are real programs: they run and exit 0 with gofutures."""
    proc = run_script(tmp_path, example.read_text(), "gofutures", timeout=180, flags=("-P",))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), proc.stderr


def test_public_api_fully_typed(scratch: Path) -> None:
    """pyright --verifytypes: every public symbol of the installed package
    has a declared (not inferred) type."""
    _, output, report = _pyright(
        ["--verifytypes", "gofutures", "--ignoreexternal"], scratch, venv_bin_first=True
    )
    completeness = report["typeCompleteness"]
    assert completeness["packageRootDirectory"], f"pyright did not find gofutures:\n{output}"
    assert completeness["pyTypedPath"], "the installed gofutures has no py.typed"
    untyped = [
        (symbol["name"], [d["message"] for d in symbol["diagnostics"]])
        for symbol in completeness["symbols"]
        if not symbol["isTypeKnown"] or symbol["isTypeAmbiguous"]
    ]
    assert not untyped
    assert completeness["completenessScore"] == 1, output


def test_package_passes_mypy_strict(scratch: Path) -> None:
    run = _mypy([PACKAGE_SOURCE], scratch)
    assert run.returncode == 0, run.output
    assert "Success: no issues found" in run.output, run.output


def test_executors_stay_lazy_at_run_time() -> None:
    """What type checkers see is imported only under TYPE_CHECKING: importing
    gofutures still imports neither executor module, and the module
    attributes load them on first use."""
    code = """
        import sys
        import gofutures as cf

        def loaded():
            names = ("gofutures.thread", "gofutures.process", "multiprocessing")
            return sorted(m for m in sys.modules if m in names)

        print(loaded())
        print("ThreadPoolExecutor" in dir(cf), "ProcessPoolExecutor" in dir(cf))
        print(cf.ThreadPoolExecutor.__module__, loaded())
        print(cf.ProcessPoolExecutor.__module__)
        try:
            cf.ThreadPoolExecutr
        except AttributeError as exc:
            print(exc)
    """
    proc = subprocess.run(
        [sys.executable, "-P", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "[]",
        "True True",
        "gofutures.thread ['gofutures.thread']",
        "gofutures.process",
        "module 'gofutures' has no attribute 'ThreadPoolExecutr'",
    ]
