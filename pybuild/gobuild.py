"""Build the gofutures extension with gopy, outside the source tree.

Steps (each one measured on this toolchain):

1. Copy the Go module (go.mod, go.sum, gofutures/) into a temporary directory
   and link its ``vendor/`` there if the tree has one (an sdist does): gopy
   writes its output inside the module it binds, and the source tree must stay
   clean. Every Go command runs with ``-trimpath``, so the Go build cache hits
   whatever the temporary directory is called, and no build path lands in the
   extension.
2. Build gopy and goimports from the versions pinned in go.mod (Go's ``tool``
   directive) into ``<work>/bin`` and put that first on PATH: gopy runs a bare
   ``goimports``.
3. ``gopy gen`` the facade package for the interpreter that will import the
   result, then the steps of ``gopy build`` done here: ``goimports``, a first
   ``go build -buildmode=c-shared`` for the cgo header, pybindgen's
   ``build.py`` for the C half, and the final ``go build`` of
   ``_gonative<EXT_SUFFIX>``. Doing them here (gopy v0.4.10 hard-codes
   ``-mod=mod`` in its own ``go build``) lets the build use ``vendor/``
   offline, pass ``-trimpath``, and link without the ``#cgo LDFLAGS`` line
   that gopy copies from the interpreter's LDSHARED: that line only adds
   ``-L``/``-Wl,-rpath`` to the build interpreter's lib directory, a RUNPATH
   the extension does not need (it links no libpython; CPython's symbols
   resolve from the interpreter that loads it, as manylinux requires).
4. Copy only the extension to its destination; the Python wrappers that gopy
   writes are not used (gofutures calls the extension directly and its
   wrappers chdir at import).

Modules: with ``vendor/`` present (the sdist ships it) the build runs with
``-mod=vendor`` and needs no network; without it (a git checkout) with
``-mod=mod`` from the module cache or GOPROXY.

Environment: ``GOFUTURES_SYMBOLS=1`` keeps symbols (for perf/pprof);
``CC`` picks the C compiler as for any cgo build.

Usage: ``python -m pybuild.gobuild DEST_DIR`` builds for this interpreter and
copies the extension into DEST_DIR.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACADE = "./gofutures/native"
EXT_NAME = "gonative"  # gopy writes _gonative<EXT_SUFFIX>
GOPY_OUT = "_gopy"  # a leading "_" keeps `go build ./...` out of it

# What the go command prints when a module is neither vendored nor in the
# module cache and cannot be downloaded.
_MISSING_MODULE = (
    "GOPROXY=off",
    "module lookup disabled",
    "cannot find module providing package",
    "no required module provides package",
    "missing go.sum entry",
    "inconsistent vendoring",
    "is not in your go.mod file",
    "dial tcp",
    "no such host",
    "i/o timeout",
    "connection refused",
    "network is unreachable",
)


class GoBuildError(Exception):
    """A build that cannot go on; the message is one sentence for the user."""


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise GoBuildError(
            "building gofutures from source needs Go 1.26 or later on PATH "
            "(https://go.dev/doc/install), or install a gofutures wheel, which needs no Go"
        )
    return go


def _check_c_compiler(go: str, env: dict[str, str]) -> None:
    out = subprocess.run(
        [go, "env", "CC"], env=env, capture_output=True, text=True, check=False
    ).stdout.strip()
    cc = shlex.split(out)[0] if out else "gcc"
    if shutil.which(cc, path=env.get("PATH")) is None:
        raise GoBuildError(
            f"building gofutures from source needs a C compiler ({cc!r}, from `go env CC`) "
            "on PATH for cgo: install gcc (e.g. apt-get install gcc) or set CC"
        )


def _target_config(python: str) -> tuple[str, str]:
    """Include directory and EXT_SUFFIX of the interpreter ``python``.

    Also checks that it can import pybindgen, which gopy's build.py needs.
    """
    code = (
        "import importlib.util as u, sysconfig as s; print(s.get_paths()['include']); "
        "print(s.get_config_var('EXT_SUFFIX') or '.so'); print(u.find_spec('pybindgen') is not None)"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    include, suffix, has_pybindgen = out.stdout.splitlines()[:3]
    if has_pybindgen != "True":
        raise GoBuildError(
            f"building gofutures needs pybindgen importable by {python}: "
            "pip install pybindgen==0.22.1 (pip install . brings it itself)"
        )
    return include, suffix


def _module_copy(root: Path, work: Path) -> Path:
    """The Go module, copied under ``work`` (vendor/ linked, not copied)."""
    mod = work / "module"
    mod.mkdir()
    for name in ("go.mod", "go.sum"):
        shutil.copy2(root / name, mod / name)
    shutil.copytree(
        root / "gofutures",
        mod / "gofutures",
        ignore=shutil.ignore_patterns("__pycache__", "*.so"),
    )
    if (root / "vendor" / "modules.txt").is_file():
        (mod / "vendor").symlink_to(root / "vendor", target_is_directory=True)
    return mod


def _goflags(user: str, vendored: bool) -> str:
    flags = user.split()
    if not any(f.startswith("-mod=") for f in flags):
        flags.append("-mod=vendor" if vendored else "-mod=mod")
    if "-trimpath" not in flags:
        flags.append("-trimpath")
    return " ".join(flags)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], verbose: bool) -> None:
    shown = " ".join(shlex.quote(c) for c in cmd)
    if verbose:
        print("+", shown, flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if verbose:
        print(f"  ({time.monotonic() - t0:.1f} s)", flush=True)
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        if verbose and output.strip():
            print(output, end="" if output.endswith("\n") else "\n", flush=True)
        return
    if not verbose:
        print("+", shown, file=sys.stderr)
    print(output, file=sys.stderr, flush=True)
    if any(marker in output for marker in _MISSING_MODULE):
        raise GoBuildError(
            "a Go module that the build needs is neither in vendor/ nor in the Go module "
            "cache and cannot be downloaded: build from the gofutures sdist (it ships the "
            "modules in vendor/) or let Go reach its module proxy (GOPROXY)"
        )
    raise GoBuildError(f"the Go build of gofutures failed ({cmd[0]} exited {proc.returncode})")


def _drop_ldflags(gofile: Path) -> None:
    """Remove gopy's ``#cgo LDFLAGS:`` line (the interpreter's LDSHARED)."""
    lines = gofile.read_text().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("#cgo LDFLAGS:")]
    if len(hits) != 1:
        raise GoBuildError(f"gopy wrote {len(hits)} '#cgo LDFLAGS:' lines in {gofile.name}, not 1")
    del lines[hits[0]]
    gofile.write_text("".join(lines))


def build_extension(
    dest: Path, python: str = sys.executable, *, root: Path = ROOT, verbose: bool = True
) -> Path:
    """Build the extension for ``python`` and copy it to ``dest``.

    ``dest`` is the extension's file path, or a directory to copy it into.
    Returns the path written.
    """
    go = _go()
    include, suffix = _target_config(python)
    symbols = os.environ.get("GOFUTURES_SYMBOLS") == "1"
    vendored = (root / "vendor" / "modules.txt").is_file()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gofutures-build-") as tmp:
        work = Path(tmp)
        mod = _module_copy(root, work)
        bindir = work / "bin"
        out = mod / GOPY_OUT
        env = dict(os.environ)
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        env["GOBIN"] = str(bindir)
        env["GOFLAGS"] = _goflags(env.get("GOFLAGS", ""), vendored)
        env["CGO_ENABLED"] = "1"
        # The prefix map keeps the interpreter's include path (in the asserts
        # of CPython's inline functions) out of the extension.
        pyflags = f'"-I{include}" "-ffile-prefix-map={include}=python-include"'
        env["CGO_CFLAGS"] = f"{pyflags} {env.get('CGO_CFLAGS', '')}".strip()
        _check_c_compiler(go, env)

        _run([go, "install", "tool"], mod, env, verbose)
        _run(
            [
                str(bindir / "gopy"),
                "gen",
                f"-output={GOPY_OUT}",
                f"-name={EXT_NAME}",
                f"-vm={python}",
                "-no-make=true",
                "-dynamic-link=true",
                FACADE,
            ],
            mod,
            env,
            verbose,
        )
        gofile = out / f"{EXT_NAME}.go"
        _drop_ldflags(gofile)
        _run([str(bindir / "goimports"), "-w", gofile.name], out, env, verbose)
        strip = [] if symbols else ["-ldflags=-s -w"]
        # A first build only writes the header (gonative_go.h) that pybindgen's
        # C code includes: c-archive writes the same one as gopy's c-shared
        # build and needs no link.
        _run(
            [go, "build", "-buildmode=c-archive", "-o", f"{EXT_NAME}_go.a", "."],
            out,
            env,
            verbose,
        )
        (out / f"{EXT_NAME}_go.a").unlink()
        _run([python, "build.py"], out, env, verbose)
        # The final build with gopy's own flags for its generated C: -Ofast
        # (gofutures' cgo files turn fast math off again in #cgo CFLAGS).
        final = dict(env)
        final["CGO_CFLAGS"] = f"{pyflags} -fPIC -Ofast"
        final["CGO_LDFLAGS"] = "" if symbols else "-s"
        built = out / f"_{EXT_NAME}{suffix}"
        _run(
            [go, "build", "-buildmode=c-shared", *strip, "-o", built.name, "."],
            out,
            final,
            verbose,
        )
        if not built.is_file():
            raise GoBuildError(f"the Go build did not produce {built.name}")
        target = dest / built.name if dest.is_dir() else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
    if verbose:
        print(f"built {target.name} in {time.monotonic() - start:.1f} s", flush=True)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    try:
        target = build_extension(dest)
    except GoBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"copied {target.name} to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
