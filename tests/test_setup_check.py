"""A broken test setup fails the run with a clear message; it never skips.

The suite runs every parity test against the stdlib and gofutures (the ``cf``
fixture in conftest.py). When ``gofutures`` is missing from the interpreter,
or resolves to the repository's Go source directory ``gofutures/`` (a
namespace package: pytest run without ``-P`` and without the package
installed), the gofutures half must fail, not turn into skips that leave the
run green.

Each case runs pytest in a subprocess on a copy of conftest.py and one test
that takes ``cf``, with a plugin loaded first that breaks the setup that way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

# Plugins (loaded before conftest.py) that make ``import gofutures`` find
# what a broken setup finds.
BROKEN_SETUPS = {
    # The Go source directory (no __init__.py) found instead of the package.
    "namespace": """
import importlib.machinery, importlib.util, pathlib, sys
_go_sources = pathlib.Path.cwd() / "go_sources"
(_go_sources / "gofutures").mkdir(parents=True, exist_ok=True)
_spec = importlib.machinery.PathFinder.find_spec("gofutures", [str(_go_sources)])
sys.modules["gofutures"] = importlib.util.module_from_spec(_spec)
""",
    # gofutures not installed in the interpreter that runs the tests.
    "missing": """
import sys
sys.modules["gofutures"] = None
""",
}

PROBE = """
def test_probe(cf):
    assert cf.Future is not None
"""


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("namespace", "not the installed package"),
        ("missing", "gofutures is not installed"),
    ],
)
def test_broken_setup_fails_the_run(tmp_path: Path, setup: str, message: str) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST.read_text())
    (suite / "test_probe.py").write_text(PROBE)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken_setup.py").write_text(BROKEN_SETUPS[setup])
    command = [sys.executable, "-P", "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*command, "-p", "broken_setup", str(suite)],
        cwd=tmp_path,
        check=False,
        env={**os.environ, "PYTHONPATH": str(plugins)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # tests failed (not 0, nor a usage error)
    assert "skipped" not in out, out
    # The stdlib half still runs; the gofutures half fails, saying why.
    assert "1 passed, 1 error" in out, out
    assert message in out, out
