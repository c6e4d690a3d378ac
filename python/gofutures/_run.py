"""``python -m gofutures script.py [args...]``: run a program unmodified with
``concurrent.futures``' executors replaced by gofutures' (:func:`install`).

The program runs as ``python script.py`` / ``python -m module`` would run
it: ``sys.argv`` is the program's, ``sys.path[0]`` the script's directory
(nothing with ``-P``), ``__main__`` is a fresh module holding the script
(``__file__``, ``__loader__``, ``__spec__`` as CPython sets them), so ``if
__name__ == "__main__"`` runs, ``__main__`` functions pickle as in a script,
and multiprocessing's 'spawn' children find the script to re-run. An
uncaught exception is printed (through ``sys.excepthook``) with the
program's frames only, and the exit status is Python's: 1, ``sys.exit``'s
code, death by SIGINT after an uncaught ``KeyboardInterrupt``.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
import types
from collections.abc import Callable
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
from importlib.util import MAGIC_NUMBER
from typing import NoReturn

from gofutures._install import install

USAGE = """\
usage: python -m gofutures [-h] [--version] script.py [args ...]
       python -m gofutures [-h] [--version] -m module [args ...]
"""

HELP = (
    USAGE
    + """
Run a Python program with concurrent.futures' ThreadPoolExecutor and
ProcessPoolExecutor replaced by gofutures' (what gofutures.install() does),
as `python script.py` or `python -m module` would run it.

arguments:
  script.py      the program: a Python file, or a directory or zip file
                 with a __main__.py
  -m module      run a module as a program, as `python -m module` does
  args           the program's arguments (sys.argv[1:]), options included

options:
  -h, --help     show this help message and exit
  --version      show gofutures' version and exit
  --             end of options: the next argument is the script
"""
)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` is what follows ``python -m gofutures``
    (``sys.argv[1:]`` by default)."""
    args = sys.argv[1:] if argv is None else list(argv)
    target: Callable[[], None]
    if not args:
        _usage_error("a script or -m module is required")
    first = args[0]
    if first in ("-h", "--help"):
        sys.stdout.write(HELP)
        sys.exit(0)
    if first == "--version":
        from gofutures import __version__

        sys.stdout.write(f"gofutures {__version__}\n")
        sys.exit(0)
    if first.startswith("-m"):
        # As python's own -m: "-m module" or "-mmodule".
        if first == "-m":
            if len(args) < 2:
                _usage_error("argument -m: expected a module name")
            module, rest = args[1], args[2:]
        else:
            module, rest = first[2:], args[1:]
        target = _module_runner(module, rest)
    elif first == "--":
        if len(args) < 2:
            _usage_error("a script is required after --")
        target = _path_runner(args[1], args[2:])
    elif first.startswith("-") and first != "-":
        _usage_error(f"unrecognized option {first!r}")
    else:
        target = _path_runner(first, args[1:])
    install()
    _run(target)


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"{USAGE}python -m gofutures: error: {message}\n")
    sys.exit(2)


def _fresh_main(**attributes: object) -> types.ModuleType:
    """A new ``__main__`` module, made ``sys.modules["__main__"]``, holding
    what CPython puts in the ``__main__`` it creates (``__builtins__``, and
    ``__annotations__`` on the versions that add it) and ``attributes``."""
    module = types.ModuleType("__main__")
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    if "__annotations__" in vars(sys.modules["__main__"]):
        namespace["__annotations__"] = {}
    namespace.update(attributes)
    sys.modules["__main__"] = module
    return module


def _set_path0(directory: str, *, always: bool = False) -> None:
    """Make ``directory`` ``sys.path[0]``, as python does for its script:
    ``python -m gofutures`` put the current directory there (nothing with
    ``-P``), which ``python script.py`` does not."""
    if not sys.flags.safe_path:
        sys.path[0] = directory
    elif always:
        sys.path.insert(0, directory)


def _module_runner(module: str, args: list[str]) -> Callable[[], None]:
    def run() -> None:
        import runpy

        # As python -m: argv[0] is "-m" while the module is searched, then
        # its file; sys.path[0] stays the current directory. runpy's
        # _run_module_as_main is what CPython's own -m calls: it runs the
        # module in sys.modules["__main__"] (not a temporary module that
        # runpy.run_module would put back afterwards, when atexit handlers,
        # pools' workers and pickling may still need the program's
        # __main__), and prints "No module named ..." as python does.
        sys.argv = ["-m", *args]
        _fresh_main()
        runpy._run_module_as_main(module, alter_argv=True)  # type: ignore[attr-defined]

    return run


def _path_runner(path: str, args: list[str]) -> Callable[[], None]:
    # CPython makes the file name absolute without normalizing it.
    full = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)

    def run() -> None:
        import pkgutil

        sys.argv = [path, *args]
        if pkgutil.get_importer(full) is not None:
            # A directory or zip file: python runs its __main__ module,
            # found on sys.path[0] (set even with -P).
            import runpy

            _set_path0(full, always=True)
            _fresh_main()
            runpy._run_module_as_main("__main__", alter_argv=False)  # type: ignore[attr-defined]
            return
        try:
            with io.open_code(full) as file:
                data = file.read()
        except OSError as exc:
            program = sys.orig_argv[0] if sys.orig_argv else "python"
            sys.stderr.write(
                f"{program}: can't open file {full!r}: [Errno {exc.errno}] {exc.strerror}\n"
            )
            sys.exit(2)
        _set_path0(os.path.dirname(os.path.realpath(full)))
        loader: SourceFileLoader | SourcelessFileLoader
        if data[:4] == MAGIC_NUMBER:
            import marshal

            loader = SourcelessFileLoader("__main__", full)
            code = marshal.loads(data[16:])
        else:
            loader = SourceFileLoader("__main__", full)
            code = compile(data, full, "exec", dont_inherit=True)
        main = _fresh_main(__file__=full, __cached__=None, __loader__=loader)
        exec(code, main.__dict__)  # noqa: S102 (running the program is the point)

    return run


def _run(target: Callable[[], None]) -> None:
    """Run ``target``; an uncaught exception other than SystemExit goes on
    up to python (which then exits 1, or by SIGINT for KeyboardInterrupt, as
    for a script), but ``sys.excepthook`` gets it without this module's,
    runpy's and the launcher's frames: as python would print it for the
    script."""
    try:
        target()
    except SystemExit:
        raise
    except BaseException as exc:
        _print_without_launcher(exc)
        raise


def _print_without_launcher(exc: BaseException) -> None:
    # Here exc's traceback starts at _run's frame: drop it and this module's
    # frames below it (the runner); what is left is what python shows, from
    # the script's frame (or runpy's, for -m and directories, as python -m).
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    hook = sys.excepthook

    def once(
        kind: type[BaseException], value: BaseException, _: types.TracebackType | None
    ) -> None:
        sys.excepthook = hook
        value.__traceback__ = tb
        sys.last_traceback = tb
        hook(kind, value, tb)

    sys.excepthook = once
