"""Build the gofutures extension with gopy.

Steps (each one measured on this toolchain):

1. Build gopy and goimports from the versions pinned in go.mod (Go's ``tool``
   directive) into ``<work>/bin`` and put that first on PATH: gopy runs a bare
   ``goimports``.
2. Run ``gopy build`` on the facade package into ``<module>/_build/...`` (the
   output must be inside the module, and a leading ``_`` keeps ``go build
   ./...`` out of it), for the interpreter that will import the result.
3. Copy only the extension (``_gonative*.so``) to its destination; the Python
   wrappers that gopy writes are not used (gofutures calls the extension
   directly and its wrappers chdir at import).

Usage: ``python -m pybuild.gobuild DEST_DIR`` builds for this interpreter and
copies the extension into DEST_DIR.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACADE = "./gofutures/native"
EXT_NAME = "gonative"  # gopy writes _gonative<EXT_SUFFIX>


def _run(cmd: list[str], env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "building gofutures from source needs Go 1.26 or later on PATH "
            "(https://go.dev/doc/install)"
        )
    return go


def _target_config(python: str) -> tuple[str, str, str]:
    """SOABI, include directory and EXT_SUFFIX of the interpreter ``python``."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        cfg = [
            sysconfig.get_config_var("SOABI") or "py",
            sysconfig.get_paths()["include"],
            sysconfig.get_config_var("EXT_SUFFIX") or ".so",
        ]
    else:
        code = (
            "import sysconfig as s; print(s.get_config_var('SOABI') or 'py'); "
            "print(s.get_paths()['include']); print(s.get_config_var('EXT_SUFFIX') or '.so')"
        )
        out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
        cfg = out.stdout.splitlines()
    return cfg[0], cfg[1], cfg[2]


def build_extension(python: str = sys.executable) -> Path:
    """Build the extension for ``python`` and return the path of the .so."""
    go = _go()
    tag, include, suffix = _target_config(python)
    work = ROOT / "_build" / tag
    out = work / "gopy"
    bindir = work / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    if out.exists():
        shutil.rmtree(out)

    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["GOBIN"] = str(bindir)
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    env["CGO_CFLAGS"] = f"-I{include} {env.get('CGO_CFLAGS', '')}".strip()
    env["CGO_LDFLAGS_ALLOW"] = ".*"
    env["CGO_ENABLED"] = "1"

    _run([go, "install", "tool"], env)
    _run(
        [
            str(bindir / "gopy"),
            "build",
            f"-output={out.relative_to(ROOT)}",
            f"-name={EXT_NAME}",
            f"-vm={python}",
            "-no-make=true",
            "-dynamic-link=true",
            # GOFUTURES_SYMBOLS=1 keeps symbols (for perf/pprof); default: strip.
            "-symbols=" + ("true" if os.environ.get("GOFUTURES_SYMBOLS") == "1" else "false"),
            FACADE,
        ],
        env,
    )
    built = out / f"_{EXT_NAME}{suffix}"
    if not built.exists():
        found = glob.glob(str(out / f"_{EXT_NAME}*.so"))
        if len(found) != 1:
            raise RuntimeError(f"gopy did not produce _{EXT_NAME}{suffix} in {out}")
        built = Path(found[0])
    return built


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    built = build_extension()
    dest = Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, dest / built.name)
    print(f"copied {built.name} to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
