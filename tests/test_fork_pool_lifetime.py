"""'fork' process pools (the default context on Linux) as scripts make them:
bound to a global of ``__main__`` and dropped, and made by several threads
at once. Both implementations must print the same thing."""

from __future__ import annotations

from pathlib import Path

from ._scripts import assert_same_output

# A pool bound to a global and dropped without shutdown() is collected, and
# its workers end; a big global the program rebinds is freed. gofutures
# kept a copy of __main__'s namespace for as long as the pool's state lived,
# which kept the executor (and every global) alive: its finalizer never ran.
GLOBAL_POOLS_ARE_COLLECTED = """
import gc, os, time, weakref
import __CF__ as cf

def square(x):
    return x * x

def children():
    me, n = str(os.getpid()), 0
    for pid in os.listdir("/proc"):
        try:
            n += pid.isdigit() and open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()[1] == me
        except OSError:
            pass
    return n

class Big:
    freed = 0
    def __del__(self):
        Big.freed += 1

if __name__ == "__main__":
    for i in range(3):
        data = Big()
        ex = cf.ProcessPoolExecutor(2)
        ex.submit(square, 3).result()
        dropped = weakref.ref(ex)
        del ex
    del data
    gc.collect()
    deadline = time.monotonic() + 20
    while children() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("collected:", dropped() is None, "children:", children(), "freed:", Big.freed)
"""


def test_a_pool_bound_to_a_global_is_collected_with_what_it_saw(tmp_path: Path) -> None:
    gof = assert_same_output(tmp_path, GLOBAL_POOLS_ARE_COLLECTED)
    assert gof.stdout == "collected: True children: 0 freed: 3\n"


# Thread pool tasks that each run a small 'fork' process pool: zygotes forked
# by two threads at once kept each other's pipes open (one pool's shutdown
# then never returned) and submit raised KeyError.
FORK_POOLS_FROM_THREADS = """
import __CF__ as cf

def square(x):
    return x * x

def job(i):
    with cf.ProcessPoolExecutor(2) as pool:
        return pool.submit(square, i).result()

if __name__ == "__main__":
    with cf.ThreadPoolExecutor(4) as threads:
        futures = [threads.submit(job, i) for i in range(40)]
        done, not_done = cf.wait(futures, timeout=60)
    print(sorted(f.result() for f in done), len(not_done))
"""


def test_fork_pools_made_by_several_threads_at_once(tmp_path: Path) -> None:
    gof = assert_same_output(tmp_path, FORK_POOLS_FROM_THREADS, timeout=120)
    assert gof.stdout == f"{sorted(i * i for i in range(40))} 0\n"
