"""``python -m gofutures prog.py`` and ``gofutures.install()``: unmodified
programs, run as real files with plain ``python`` and with ``python -m
gofutures``, must print the same, except that the executors they reach are
gofutures' (each program reports which implementation it got: ``impl=...``
lines, see tests/_scripts.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._scripts import (
    assert_swapped_same_output,
    run_command,
    run_script,
    run_unmodified,
)
from ._subproc import child_env

GOFUTURES = [sys.executable, "-m", "gofutures"]

# --------------------------------------------------------------------------
# What the swap reaches
# --------------------------------------------------------------------------


def test_from_import_thread_pool(tmp_path: Path) -> None:
    assert_swapped_same_output(
        tmp_path,
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor, as_completed, wait

        def square(x):
            return x * x

        print(impl(ThreadPoolExecutor))
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="sq") as ex:
            print(impl(type(ex)))
            futures = [ex.submit(square, i) for i in range(20)]
            print(sorted(f.result() for f in as_completed(futures)))
            print(len(wait(futures).done))
            print(list(ex.map(square, range(10), timeout=60)))
            print(ex.submit(impl_running).result())
            print(ex.submit(lambda: threading.current_thread().name.startswith("sq_")).result())
        try:
            ex.submit(square, 1)
        except RuntimeError as exc:
            print("after shutdown:", exc)
        """,
    )


def test_star_import_and_module_attribute(tmp_path: Path) -> None:
    assert_swapped_same_output(
        tmp_path,
        """
        import concurrent.futures
        from concurrent.futures import *

        print(impl(ThreadPoolExecutor), impl(ProcessPoolExecutor))
        print(impl(concurrent.futures.ThreadPoolExecutor))
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            print(impl(type(ex)), ex.submit(impl_running).result())
            print(isinstance(ex, concurrent.futures.ThreadPoolExecutor))
            print(isinstance(ex, concurrent.futures.Executor))
        """,
    )


PROCESS_POOL_GUARDED = """
import concurrent.futures
import multiprocessing
import os

CONTEXT = {context!r}
OFFSET = 100


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({{self.x}}, {{self.y}})"


def shift(x):
    return x + OFFSET


def make_point(x):
    return Point(x, -x)


def fail(x):
    raise ValueError(f"bad {{x}}")


def pid(_):
    return os.getpid()


if __name__ == "__main__":
    context = None if CONTEXT is None else multiprocessing.get_context(CONTEXT)
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as ex:
        print(impl(type(ex)))
        print(ex.submit(impl_running).result())
        print(ex.submit(shift, 1).result())
        print(list(ex.map(shift, range(8), chunksize=3)))
        print(ex.submit(make_point, 3).result())
        try:
            ex.submit(fail, 7).result()
        except ValueError as exc:
            print("raised:", type(exc).__name__, exc)
        print(os.getpid() not in set(ex.map(pid, range(4))))
"""


@pytest.mark.parametrize("context", [None, "spawn", "forkserver", "fork"])
def test_process_pool_attribute(tmp_path: Path, context: str | None) -> None:
    # concurrent.futures.ProcessPoolExecutor(...), with functions and a class
    # of the script; the stdlib's 'spawn' and 'forkserver' workers re-run
    # the script as __mp_main__, gofutures' get them by value.
    assert_swapped_same_output(tmp_path, PROCESS_POOL_GUARDED.format(context=context))


# The stdlib runs a script without a main guard with 'fork' only (its
# default on Linux before 3.14): 'spawn' and 'forkserver' workers would
# re-run the pool's creation.
UNGUARDED_CONTEXTS = ["fork"] + ([None] if sys.version_info < (3, 14) else [])


@pytest.mark.parametrize("context", UNGUARDED_CONTEXTS)
def test_process_pool_without_main_guard(tmp_path: Path, context: str | None) -> None:
    assert_swapped_same_output(
        tmp_path,
        f"""
        import concurrent.futures
        import multiprocessing

        CONTEXT = {context!r}
        FACTOR = 3

        def triple(x):
            return x * FACTOR

        context = None if CONTEXT is None else multiprocessing.get_context(CONTEXT)
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as ex:
            print(impl(type(ex)), ex.submit(impl_running).result())
            print(list(ex.map(triple, range(6))))
        """,
    )


def test_asyncio_default_executor(tmp_path: Path) -> None:
    # asyncio creates its default executor as
    # concurrent.futures.ThreadPoolExecutor(...) when a loop first needs it.
    assert_swapped_same_output(
        tmp_path,
        """
        import asyncio
        import concurrent.futures

        def work(x):
            return x * 2, impl_running()

        async def main():
            loop = asyncio.get_running_loop()
            print(await loop.run_in_executor(None, work, 1))
            print(await asyncio.to_thread(work, 2))
            print(impl(type(loop._default_executor)))
            print(await asyncio.gather(*(asyncio.to_thread(work, i) for i in range(5))))

        asyncio.run(main())

        async def own_default():
            loop = asyncio.get_running_loop()
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(2))
            print(await loop.run_in_executor(None, work, 3))

        asyncio.run(own_default())
        """,
    )


def test_tqdm_thread_map_and_process_map(tmp_path: Path) -> None:
    # tqdm.contrib.concurrent imports concurrent.futures' executors when
    # thread_map / process_map are called. (tqdm is in the test extra.)
    assert_swapped_same_output(
        tmp_path,
        """
        from tqdm.contrib.concurrent import process_map, thread_map

        def work(x):
            return x * x, impl_running()

        if __name__ == "__main__":
            print(thread_map(work, range(6), max_workers=3))
            print(thread_map(work, range(40), max_workers=3, chunksize=7))
            print(process_map(work, range(6), max_workers=2))
            print(process_map(work, range(40), max_workers=2, chunksize=7))
        """,
    )


def test_module_form(tmp_path: Path) -> None:
    # python -m gofutures -m prog args: as python -m prog args.
    runs = assert_swapped_same_output(
        tmp_path,
        """
        import concurrent.futures
        import multiprocessing
        import os
        import sys

        def double(x):
            return 2 * x

        if __name__ == "__main__":
            print(sys.argv[1:], os.path.basename(sys.argv[0]), __name__, __spec__.name)
            print(os.path.basename(__file__), sys.path[0] == os.getcwd())
            print(sys.modules["__main__"] is sys.modules[__name__])
            print(impl(concurrent.futures.ThreadPoolExecutor))
            spawn = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as ex:
                print(impl(type(ex)), list(ex.map(double, range(5))))
        """,
        module=True,
        args=("a", "--help", "-m", "x"),
    )
    assert "['a', '--help', '-m', 'x'] prog.py __main__ prog" in runs["gofutures"].stdout


# --------------------------------------------------------------------------
# Running the program as python does
# --------------------------------------------------------------------------

MAIN_STATE = """
import os
import sys

print(sys.argv)
print(__name__, __file__ == os.path.abspath(sys.argv[0]), os.path.isabs(__file__))
print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)), os.getcwd() in sys.path)
print(__spec__, __package__, __cached__, __doc__, type(__loader__).__name__)
print(__loader__.name, __loader__.path == __file__)
print(sorted(k for k in globals() if k.startswith("__")))
print(sys.modules["__main__"] is sys.modules[__name__])
print(impl(__import__("concurrent.futures").futures.ThreadPoolExecutor))
sys.stdout.flush()
sys.exit(3)
"""


def test_argv_main_module_and_exit_code(tmp_path: Path) -> None:
    runs = run_unmodified(tmp_path, MAIN_STATE, args=("a b", "--help", "-m", "--", "x"))
    plain, swapped = runs["python"], runs["gofutures"]
    assert (plain.returncode, swapped.returncode) == (3, 3), swapped.stderr
    assert swapped.stderr == plain.stderr == ""
    assert "impl=concurrent" in plain.stdout
    assert swapped.stdout == plain.stdout.replace("impl=concurrent", "impl=gofutures")
    assert "['prog/prog.py', 'a b', '--help', '-m', '--', 'x']" in swapped.stdout
    assert "True True\nTrue False\n" in swapped.stdout  # sys.path[0]: the script's, not cwd


def test_safe_path_flag(tmp_path: Path) -> None:
    # python -P: neither the script's directory nor the current one on sys.path.
    runs = run_unmodified(
        tmp_path,
        """
        import os, sys
        here = os.path.dirname(os.path.abspath(__file__))
        print(here in sys.path, os.getcwd() in sys.path, "" in sys.path)
        """,
        flags=("-P",),
    )
    assert runs["python"].stdout == "False False False\n", runs["python"].stderr
    assert runs["gofutures"].stdout == runs["python"].stdout, runs["gofutures"].stderr


RAISES = """
import concurrent.futures


class ConfigError(Exception):
    pass


def load(name):
    try:
        return {}[name]
    except KeyError as exc:
        raise ConfigError(f"no setting {name!r}") from exc


def main():
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        print(ex.submit(sum, [1, 2]).result(), flush=True)
    load("workers")


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("module", [False, True], ids=["script", "module"])
def test_uncaught_exception(tmp_path: Path, module: bool) -> None:
    # The same traceback (the program's frames only: runpy's two for -m, as
    # python -m prints them), on stderr, and exit status 1.
    runs = run_unmodified(tmp_path, RAISES, module=module)
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == 1
    assert swapped.stdout == plain.stdout == "3\n"
    assert swapped.stderr == plain.stderr
    assert "The above exception was the direct cause" in swapped.stderr
    assert swapped.stderr.endswith("\nConfigError: no setting 'workers'\n")
    assert "gofutures" not in swapped.stderr
    assert ("<frozen runpy>" in swapped.stderr) == module


def test_excepthook_gets_the_programs_traceback(tmp_path: Path) -> None:
    runs = run_unmodified(
        tmp_path,
        """
        import sys
        import traceback

        def hook(kind, value, tb):
            names = [frame.name for frame in traceback.extract_tb(tb)]
            print("hook:", kind.__name__, names, value.__traceback__ is tb)
            print("last:", sys.last_traceback is tb)

        def inner():
            1 / 0

        sys.excepthook = hook
        inner()
        """,
    )
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == 1
    assert plain.stdout == "hook: ZeroDivisionError ['<module>', 'inner'] True\nlast: True\n"
    assert swapped.stdout == plain.stdout
    assert swapped.stderr == plain.stderr == ""


def test_keyboard_interrupt_exits_by_sigint(tmp_path: Path) -> None:
    runs = run_unmodified(
        tmp_path,
        """
        import atexit
        atexit.register(print, "at exit")
        raise KeyboardInterrupt
        """,
    )
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == -signal.SIGINT
    assert swapped.stdout == plain.stdout == "at exit\n"
    assert swapped.stderr == plain.stderr
    assert swapped.stderr.endswith("KeyboardInterrupt\n")


def test_sys_exit_message(tmp_path: Path) -> None:
    runs = run_unmodified(tmp_path, "import sys\nsys.exit('giving up')\n")
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == 1
    assert swapped.stderr == plain.stderr == "giving up\n"


def test_syntax_error(tmp_path: Path) -> None:
    runs = run_unmodified(tmp_path, "print('never')\ndef broken(:\n    pass\n")
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == 1
    assert swapped.stdout == plain.stdout == ""
    assert swapped.stderr == plain.stderr
    assert "SyntaxError" in swapped.stderr and "Traceback" not in swapped.stderr


def test_directory_with_main(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text(
        textwrap.dedent(
            """
            import concurrent.futures, os, sys
            print(sys.argv, __name__, __spec__.name, os.path.basename(__file__))
            print(sys.path[0] == os.path.join(os.getcwd(), "app"))
            print(concurrent.futures.ThreadPoolExecutor.__module__)
            """
        )
    )
    plain = run_command([sys.executable, "app", "x"], cwd=tmp_path)
    swapped = run_command([*GOFUTURES, "app", "x"], cwd=tmp_path)
    assert plain.returncode == swapped.returncode == 0, swapped.stderr
    assert plain.stdout.endswith("concurrent.futures.thread\n")
    assert swapped.stdout == plain.stdout.replace("concurrent.futures.thread", "gofutures.thread")


def test_missing_script_and_module(tmp_path: Path) -> None:
    for target in (["nosuch.py"], ["-m", "nosuch_module_xyz"]):
        plain = run_command([sys.executable, *target], cwd=tmp_path)
        swapped = run_command([*GOFUTURES, *target], cwd=tmp_path)
        assert (swapped.returncode, swapped.stderr) == (plain.returncode, plain.stderr)
        assert swapped.stdout == ""
    assert "can't open file" in swapped.stderr or "No module named" in swapped.stderr


# --------------------------------------------------------------------------
# The command line itself
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "returncode", "stream", "text"),
    [
        (["--help"], 0, "stdout", "usage: python -m gofutures"),
        (["-h"], 0, "stdout", "-m module"),
        (["--version"], 0, "stdout", "gofutures "),
        ([], 2, "stderr", "error: a script or -m module is required"),
        (["-m"], 2, "stderr", "error: argument -m: expected a module name"),
        (["--frobnicate", "x.py"], 2, "stderr", "error: unrecognized option '--frobnicate'"),
        (["--"], 2, "stderr", "error: a script is required after --"),
    ],
)
def test_command_line(
    tmp_path: Path, args: list[str], returncode: int, stream: str, text: str
) -> None:
    proc = run_command([*GOFUTURES, *args], cwd=tmp_path)
    assert proc.returncode == returncode, proc.stderr
    assert text in getattr(proc, stream)
    if returncode == 2:
        assert proc.stderr.startswith("usage: python -m gofutures")


def test_script_after_double_dash_and_mmodule(tmp_path: Path) -> None:
    (tmp_path / "-odd.py").write_text("import sys; print(sys.argv)\n")
    (tmp_path / "mod.py").write_text("import sys; print(__name__, sys.argv[1:])\n")
    odd = run_command([*GOFUTURES, "--", "-odd.py", "-x"], cwd=tmp_path)
    assert (odd.returncode, odd.stdout) == (0, "['-odd.py', '-x']\n"), odd.stderr
    mod = run_command([*GOFUTURES, "-mmod", "y"], cwd=tmp_path)
    assert (mod.returncode, mod.stdout) == (0, "__main__ ['y']\n"), mod.stderr


# --------------------------------------------------------------------------
# install() / uninstall() from code
# --------------------------------------------------------------------------


def test_install_and_uninstall(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import asyncio
        import concurrent.futures
        import concurrent.futures.process
        import concurrent.futures.thread
        import os
        import sys
        from concurrent.futures import ThreadPoolExecutor as Before
        import gofutures

        def names():
            return (
                concurrent.futures.ThreadPoolExecutor.__module__,
                concurrent.futures.ProcessPoolExecutor.__module__,
                concurrent.futures.thread.ThreadPoolExecutor.__module__,
                concurrent.futures.process.ProcessPoolExecutor.__module__,
            )

        async def default_executor():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, int)
            return type(loop._default_executor).__module__

        print("before:", names())
        gofutures.install()
        gofutures.install()
        # as the stdlib's, imported when first looked up
        print("lazy:", "gofutures.process" in sys.modules)
        from concurrent.futures import ThreadPoolExecutor as After
        print("installed:", names(), Before.__module__, After.__module__)
        print("asyncio:", asyncio.run(default_executor()))

        # gofutures' thread pool in a child forked after Go started runs the
        # stdlib's implementation: concurrent.futures.thread's, still the
        # real one.
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            ex.submit(int).result()
        pid = os.fork()
        if pid == 0:
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                print("forked child:", type(ex).__module__, ex.submit(sum, [1, 2]).result())
            os._exit(0)
        print("child exit:", os.waitpid(pid, 0)[1])

        gofutures.uninstall()
        print("uninstalled:", names(), asyncio.run(default_executor()))
        gofutures.uninstall()
        print("again:", names(), concurrent.futures.__getattr__.__module__)

        # A name replaced by someone else after install() is theirs to keep.
        gofutures.install()
        class Mine(concurrent.futures.process.ProcessPoolExecutor):
            pass
        concurrent.futures.ProcessPoolExecutor = Mine
        gofutures.uninstall()
        print("replaced:", names()[:2], concurrent.futures.ProcessPoolExecutor is Mine)
        """,
        "gofutures",
    )
    assert proc.returncode == 0, proc.stderr
    stdlib = "'concurrent.futures.thread', 'concurrent.futures.process'"
    assert proc.stdout.splitlines() == [
        f"before: ({stdlib}, {stdlib})",
        "lazy: False",
        (
            f"installed: ('gofutures.thread', 'gofutures.process', {stdlib}) "
            "concurrent.futures.thread gofutures.thread"
        ),
        "asyncio: gofutures.thread",
        "forked child: gofutures.thread 3",
        "child exit: 0",
        f"uninstalled: ({stdlib}, {stdlib}) concurrent.futures.thread",
        f"again: ({stdlib}, {stdlib}) concurrent.futures",
        "replaced: ('concurrent.futures.thread', '__main__') True",
    ]


def test_what_the_swap_does_not_reach(tmp_path: Path) -> None:
    # The submodules' classes stay the stdlib's (and its 'spawn' workers
    # still find the script to re-run as __mp_main__), and so does
    # multiprocessing's own Pool and a Python the program starts.
    runs = run_unmodified(
        tmp_path,
        """
        import concurrent.futures.process
        import concurrent.futures.thread
        import multiprocessing
        import subprocess
        import sys

        def cube(x):
            return x ** 3

        if __name__ == "__main__":
            spawn = multiprocessing.get_context("spawn")
            with concurrent.futures.process.ProcessPoolExecutor(2, mp_context=spawn) as ex:
                print(impl(type(ex)), ex.submit(impl_running).result())
                print(list(ex.map(cube, range(5))))
            with concurrent.futures.thread.ThreadPoolExecutor(2) as ex:
                print(impl(type(ex)), ex.submit(impl_running).result())
            with spawn.Pool(2) as pool:
                print(pool.map(cube, range(5)))
            code = "import concurrent.futures as cf; print(cf.ThreadPoolExecutor.__module__)"
            print(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                 text=True, check=True).stdout.strip())
        """,
    )
    plain, swapped = runs["python"], runs["gofutures"]
    assert plain.returncode == swapped.returncode == 0, swapped.stderr
    assert swapped.stdout == plain.stdout
    assert swapped.stdout.splitlines() == [
        "impl=concurrent impl=concurrent",
        "[0, 1, 8, 27, 64]",
        "impl=concurrent impl=concurrent",
        "[0, 1, 8, 27, 64]",
        "concurrent.futures.thread",
    ]


def test_buffered_output_comes_before_the_traceback(tmp_path: Path) -> None:
    """python flushes stdout before it prints a script's uncaught exception:
    in one file, the program's buffered output comes first."""
    script = tmp_path / "fails.py"
    script.write_text('print("output before the error")\nraise ValueError("uncaught")\n')
    merged = {
        name: subprocess.run(
            [sys.executable, *launcher, str(script)],
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env(),
            timeout=60,
        ).stdout
        for name, launcher in (("python", ()), ("gofutures", ("-m", "gofutures")))
    }
    assert merged["python"].startswith("output before the error\nTraceback"), merged["python"]
    assert merged["gofutures"] == merged["python"]
