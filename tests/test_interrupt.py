"""Ctrl-C reaches a main thread blocked on futures, for both implementations."""

from __future__ import annotations

import signal
import time

import pytest

from ._subproc import spawn_python

BLOCKING_CALLS = {
    "result": "fut.result()",
    "wait": "cf.wait([fut])",
    "as_completed": "list(cf.as_completed([fut]))",
    "map": "list(ex.map(time.sleep, [2]))",
    "shutdown": "ex.shutdown(wait=True)",
}


@pytest.mark.parametrize("module", ["concurrent.futures", "gofutures"])
@pytest.mark.parametrize("call", sorted(BLOCKING_CALLS))
def test_ctrl_c_interrupts_blocked_main_thread(module: str, call: str) -> None:
    proc = spawn_python(
        f"""
        import sys, time
        import {module} as cf
        ex = cf.ThreadPoolExecutor(2)
        fut = ex.submit(time.sleep, 2)
        print("ready", flush=True)
        try:
            {BLOCKING_CALLS[call]}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # let the main thread block
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        reaction = time.monotonic() - sent
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert line == "interrupted", err
    assert reaction < 1.0
    assert proc.returncode == 0, err
