"""Build glue: the Go extension is a real setuptools Extension built by gopy.

Metadata lives in pyproject.toml. The extension ``gofutures._ext._gonative``
has no C sources of its own: ``GoBuildExt`` runs the build driver
(pybuild/gobuild.py, which runs gopy for this interpreter in a temporary
directory) and writes the shared object where setuptools expects it. That path
serves ``pip install .`` (wheel), ``pip install -e .`` (PEP 660: setuptools
copies it into python/gofutures/_ext/) and ``python setup.py build_ext
--inplace``.

``GoVendorSdist`` puts the Go modules the build needs (gopy, goimports and
their dependencies included: they are ``tool`` dependencies in go.mod) into the
sdist's ``vendor/``, so that an sdist builds with Go and a C compiler but no
network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist
from setuptools.errors import ExecError

# An isolated build (pip's build env) runs this file with the source tree as
# cwd but not necessarily on sys.path: import the build driver from here.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pybuild import gobuild

EXT_NAME = "gofutures._ext._gonative"


class GoBuildExt(build_ext):
    """build_ext that builds Go extensions with gopy instead of a C compiler."""

    def build_extension(self, ext: Extension) -> None:
        if ext.name != EXT_NAME:
            super().build_extension(ext)
            return
        dest = Path(self.get_ext_fullpath(ext.name))
        try:
            gobuild.build_extension(dest, sys.executable)
        except gobuild.GoBuildError as exc:
            # setuptools prints an ExecError as one "error: ..." line.
            raise ExecError(str(exc)) from None


class GoVendorSdist(sdist):
    """sdist that ships vendor/ (``go mod vendor``) for offline builds."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        go = shutil.which("go")
        if go is None:
            raise ExecError(
                "making the gofutures sdist needs Go on PATH, to vendor the Go modules "
                "(https://go.dev/doc/install)"
            )
        vendor = os.path.abspath(os.path.join(base_dir, "vendor"))
        print(f"go mod vendor -o {vendor}", flush=True)
        proc = subprocess.run(
            [go, "mod", "vendor", "-o", vendor],
            check=False,
            cwd=HERE,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            raise ExecError("go mod vendor failed: the sdist needs Go's module proxy or cache")


setup(
    package_dir={"": "python"},
    packages=["gofutures", "gofutures._ext"],
    package_data={"gofutures": ["py.typed"]},
    ext_modules=[Extension(EXT_NAME, sources=[])],
    cmdclass={"build_ext": GoBuildExt, "sdist": GoVendorSdist},
    zip_safe=False,
)
