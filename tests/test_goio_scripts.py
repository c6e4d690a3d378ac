"""gofutures.io.run against subprocess.run(capture_output=True) in scripts
users write, run on both implementations (the stdlib variant calls
subprocess, the gofutures one gofutures.io): Ctrl-C from a terminal, a
program that ignores SIGCHLD, an empty cwd, a false input. Each failed
before its fix (a review against subprocess)."""

from __future__ import annotations

from pathlib import Path

from ._scripts import assert_same_output

HEADER = """
import os, signal, subprocess, sys, threading, time
import __CF__ as cf
if cf.__name__ == "gofutures":
    from gofutures.io import run
else:
    def run(args, **kwargs):
        return subprocess.run(args, capture_output=True, **kwargs)
"""


def test_ctrl_c_gives_the_child_time_for_its_sigint_cleanup(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the child's own
    SIGINT handler finishes (subprocess waits 0.25 s before killing it),
    then the program gets its KeyboardInterrupt."""
    assert_same_output(tmp_path, HEADER + """
child = "trap 'sleep 0.1; touch cleaned; exit 130' INT; sleep 30 & wait"
threading.Timer(0.5, os.killpg, (0, signal.SIGINT)).start()
try:
    run(["sh", "-c", child])
except KeyboardInterrupt:
    print("KeyboardInterrupt")
time.sleep(0.5)
print("cleaned up:", os.path.exists("cleaned"))
""", timeout=60)


def test_a_program_that_ignores_sigchld_gets_returncode_0(tmp_path: Path) -> None:
    """The kernel reaps the child, its status is lost: subprocess reports
    0 (Go reported -1, and check=True blamed a SIGHUP)."""
    assert_same_output(tmp_path, HEADER + """
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
print(run(["sh", "-c", "exit 3"]).returncode)
print(run(["true"], check=True).returncode)
""", timeout=60)


def test_an_empty_cwd_and_a_false_input(tmp_path: Path) -> None:
    assert_same_output(tmp_path, HEADER + """
try:
    run(["pwd"], cwd="")
except OSError as exc:
    print(type(exc).__name__, exc.errno, repr(exc.filename))
print(run(["wc", "-c"], input="").stdout.split())
print(run(["wc", "-c"], input=b"").stdout.split())
""", timeout=60)


def test_program_lookup_and_working_directory_errors(tmp_path: Path) -> None:
    """As subprocess: the working directory is checked before the program
    (its errors name it), an empty PATH searches the working directory,
    and env may not hold both "PATH" and b"PATH"."""
    assert_same_output(tmp_path, HEADER + """
def outcome(args, **kwargs):
    try:
        return run(args, **kwargs).stdout
    except (OSError, ValueError) as exc:
        return type(exc).__name__, getattr(exc, "errno", None), getattr(exc, "filename", None), str(exc)

os.mkdir("bin")
with open("bin/hello", "w") as f:
    f.write("#!/bin/sh\\necho hello\\n")
os.chmod("bin/hello", 0o755)
os.mkdir("locked")
print(outcome(["hello"], cwd="bin", env={"PATH": ""}))
print(outcome(["no_such_program"], cwd="no/such/dir"))
print(outcome(["true"], env={"PATH": "/bin", b"PATH": b"/usr/bin"}))
print(outcome(["true"], env=os.environ))
if os.getuid() != 0:  # root may enter any directory
    os.chmod("locked", 0)
    print(outcome(["true"], cwd="locked"))
""", timeout=60)


FILES_HEADER = """
import hashlib, os, subprocess
import __CF__ as cf
if cf.__name__ == "gofutures":
    from gofutures.io import read_file, run, write_file
else:
    def read_file(path):
        with open(path, "rb") as f:
            return f.read()
    def write_file(path, data):
        with open(path, "wb") as f:
            return f.write(data)
    def run(args, **kwargs):
        return subprocess.run(args, capture_output=True, **kwargs)
"""


def test_large_files_and_inputs_made_on_the_fly(tmp_path: Path) -> None:
    """Data made in a generator and dropped by the caller once submitted
    (gofutures does not copy a write's data or a run's input: the future
    keeps it), files read back directly (straight into the bytes returned)
    and submitted, of sizes around 1 MiB and past it."""
    assert_same_output(tmp_path, FILES_HEADER + """
def blob(i):
    return hashlib.sha256(str(i).encode()).digest() * (20_000 * (i % 4 + 1) - i)
paths = [f"f{i}" for i in range(8)]
digest = lambda b: hashlib.sha256(b).hexdigest()[:16]
with cf.ThreadPoolExecutor(4) as ex:
    print(list(ex.map(write_file, paths, (blob(i) for i in range(8)))))
    print([digest(read_file(p)) for p in paths])
    print([digest(b) for b in ex.map(read_file, paths)])
    print([r.stdout.split()[0][:16] for r in ex.map(lambda i: run(["sha256sum"], input=blob(i)), range(8))])
    futures = [ex.submit(run, ["wc", "-c"], input=blob(i)) for i in range(8)]
    print([f.result().stdout.strip() for f in futures])
print(run(["sha256sum"], input=blob(3)).stdout.split()[0][:16])
""", timeout=120)


def test_large_reads_on_small_and_large_executors(tmp_path: Path) -> None:
    """Files and command outputs of 0 B to 9 MiB read through ex.map, on an
    executor of 4 workers (a read of 1 MiB or more runs on a worker
    thread) and of 64 (all Go tasks, their large outputs outside Go's heap
    past 4 MiB), mixed with small ones, in map's order."""
    assert_same_output(tmp_path, FILES_HEADER + """
sizes = [0, 1, 4 << 20, (1 << 20) - 1, 1 << 20, (4 << 20) + 1, 9 << 20, 123_457]
paths = []
for i, n in enumerate(sizes):
    with open(f"f{i}", "wb") as f:
        f.write(hashlib.sha256(str(i).encode()).digest() * (n // 32) + b"x" * (n % 32))
    paths.append(f"f{i}")
digest = lambda b: (len(b), hashlib.sha256(b).hexdigest()[:16])
for workers in (4, 64):
    with cf.ThreadPoolExecutor(workers) as ex:
        print(workers, [digest(b) for b in ex.map(read_file, paths)])
        print(workers, [digest(r.stdout) for r in ex.map(run, [["cat", p] for p in paths])])
        futures = [ex.submit(read_file, p) for p in reversed(paths)]
        print(workers, [digest(f.result()) for f in futures])
""", timeout=120)


def test_exit_waits_for_a_write_queued_on_a_pool_shut_down_without_waiting(tmp_path: Path) -> None:
    """The pool's Python worker has stopped (shut down with wait=False), its
    queued write has not run yet: the stdlib's exit waits for it, and so
    does gofutures' (it forgot the pool with its last worker and left the
    write unwritten, and, since writes borrow their data, would have freed
    it under the running task)."""
    assert_same_output(tmp_path, FILES_HEADER + """
import atexit, sys, time
if cf.__name__ == "gofutures":
    from gofutures.io import sleep
else:
    sleep = time.sleep
atexit.register(lambda: print("at exit the file holds", os.path.getsize("out")))
ex = cf.ThreadPoolExecutor(1)
ex.submit(time.sleep, 0.01).result()  # a Python worker ran
ex.submit(sleep, 0.3)
ex.submit(write_file, "out", bytes([1]) * (8 << 20))  # a temporary: the task holds the only reference
ex.shutdown(wait=False)
time.sleep(0.1)
sys.exit(0)
""", timeout=60)
