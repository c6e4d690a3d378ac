"""benchmarks/goio_large.py runs end to end at small sizes: every case's
two implementations read the same number of bytes (it reports VERIFICATION
FAILED otherwise), and it prints a row per case. Speed is not judged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_large_data_benchmark_runs_and_checks_its_sizes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the benchmarks package; gofutures as installed
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.goio_large", "--mb", "6", "--files", "3", "--file-mb", "2", "--repeat", "1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "VERIFICATION FAILED" not in out.stdout
    rows = [line for line in out.stdout.splitlines() if "worker" in line]
    assert [row.split(",")[0] for row in rows] == [
        "read direct", "read submitted", "run direct", "run submitted",
        "get direct", "get submitted", "read map", "read map",
    ], out.stdout
