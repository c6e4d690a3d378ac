"""What process-pool workers print reaches the program's stdout object as in
the stdlib: a worker forked from the program keeps the program's
``sys.stdout`` (a stream the program put there, its buffering, references
taken at import) and flushes it before it exits."""

from __future__ import annotations

from pathlib import Path

from ._scripts import run_both, run_script

# stdout is a pipe here, so block-buffered: a line written to a stream the
# worker never flushes is lost.
FORKED_WORKERS_WRITE_THROUGH_THE_PROGRAMS_STREAM = """
import multiprocessing as mp
import sys
import __CF__ as cf

OUT = sys.stdout  # a reference taken at import, as a module's default argument would

class Shout:
    \"\"\"A stream the program installs in place of sys.stdout (a tee, a
    logging adapter).\"\"\"

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(text.upper())

    def flush(self):
        self.stream.flush()

def via_reference(i):
    OUT.write(f"reference {i}\\n")

def via_print(i):
    sys.stdout.write(f"print {i}\\n")  # one write: two workers' lines cannot interleave

if __name__ == "__main__":
    fork = mp.get_context("fork")
    with cf.ProcessPoolExecutor(2, mp_context=fork) as ex:
        list(ex.map(via_reference, range(3)))
    sys.stdout = Shout(sys.stdout)
    with cf.ProcessPoolExecutor(2, mp_context=fork) as ex:
        list(ex.map(via_print, range(3)))
    sys.stdout = sys.__stdout__
    print("done")
"""


def test_forked_workers_write_through_the_programs_stream(tmp_path: Path) -> None:
    runs = run_both(tmp_path, FORKED_WORKERS_WRITE_THROUGH_THE_PROGRAMS_STREAM)
    expected = sorted(
        [f"reference {i}" for i in range(3)] + [f"PRINT {i}" for i in range(3)] + ["done"]
    )
    for impl, proc in runs.items():
        assert proc.returncode == 0, f"{impl}: {proc.stderr}"
        assert sorted(proc.stdout.splitlines()) == expected, f"{impl}:\n{proc.stdout}"


# The program's stream whose buffer lock another thread holds at the fork:
# its pre-fork flush (which multiprocessing and gofutures both do) starts a
# thread that then blocks inside a write, holding the lock.
LOCK_HELD_AT_THE_FORK = """
import io
import os
import multiprocessing as mp
import sys
import threading
import gofutures as cf

class StuckRaw(io.RawIOBase):
    entered = threading.Event()

    def writable(self):
        return True

    def write(self, data):
        StuckRaw.entered.set()
        threading.Event().wait()  # never returns: the lock stays held
        return len(data)

class ArmedStream(io.TextIOWrapper):
    armed = False

    def flush(self):
        super().flush()
        if ArmedStream.armed:
            ArmedStream.armed = False
            threading.Thread(target=lambda: (self.write("x"), super(ArmedStream, self).flush()), daemon=True).start()
            StuckRaw.entered.wait()

def task(i):
    print(f"worker {i}", flush=True)
    return i

if __name__ == "__main__":
    real = sys.stdout
    sys.stdout = ArmedStream(io.BufferedWriter(StuckRaw()), write_through=True)
    ArmedStream.armed = True
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as ex:
        results = list(ex.map(task, range(2), timeout=60))
    real.write(f"results {results}\\n")
    real.flush()
    os._exit(0)  # the program's own stream stays stuck: no interpreter exit (it would flush it)
"""


def test_a_stream_whose_lock_was_held_at_the_fork_is_replaced(tmp_path: Path) -> None:
    """Where the stdlib's worker would hang in its first print, gofutures'
    writes to the stream's descriptor (fd 1 for one without) instead."""
    proc = run_script(tmp_path, LOCK_HELD_AT_THE_FORK, "gofutures", timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["worker 0", "worker 1", "results [0, 1]"], proc.stdout
