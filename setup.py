"""Build glue: the Go extension is a real setuptools Extension built by gopy.

Metadata lives in pyproject.toml. The extension ``gofutures._ext._gonative``
has no C sources of its own: ``GoBuildExt`` runs the build driver
(pybuild/gobuild.py, which runs gopy for this interpreter) and copies the
resulting shared object to where setuptools expects it. That path serves
``pip install .`` (wheel), ``pip install -e .`` (PEP 660: setuptools copies
it into python/gofutures/_ext/) and ``python setup.py build_ext --inplace``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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
        built = gobuild.build_extension(sys.executable)
        # gopy names the file after the -vm interpreter's EXT_SUFFIX; setuptools
        # after the running one. They are the same interpreter: check it.
        if built.name != dest.name:
            raise RuntimeError(f"gopy built {built.name} but setuptools expects {dest.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(os.fspath(built), os.fspath(dest))


setup(
    package_dir={"": "python"},
    packages=["gofutures", "gofutures._ext"],
    package_data={"gofutures": ["py.typed"]},
    ext_modules=[Extension(EXT_NAME, sources=[])],
    cmdclass={"build_ext": GoBuildExt},
    zip_safe=False,
)
