# SPDX-License-Identifier: Apache-2.0
"""Builds sparsegrad._core with CMake for the running interpreter (see pyproject.toml).

CMake configures the repository's top level with only the Python module on (the suitesparse
component too when SuiteSparse is found: solver="spqr" and "cholmod") and builds the one target
sparsegrad_core; setuptools packages it with python/sparsegrad. The build directory is
_build/python/ in the source tree, reused by the next install. Environment:
  CMAKE_ARGS                    extra arguments for the CMake configure step
  CMAKE_BUILD_PARALLEL_LEVEL    parallel compile jobs (default: the number of CPUs)
  SPARSEGRAD_WITH_SUITESPARSE   OFF leaves SPQR and Cholmod out (default ON: used when found)
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def version():
    """The C++ library's version, the one source of it."""
    header = (ROOT / "include" / "sparsegrad" / "version.hpp").read_text()
    return re.search(r'#define SPARSEGRAD_VERSION_STRING "([0-9.]+)"', header).group(1)


class CMakeExtension(Extension):
    """An extension whose sources CMake knows."""

    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DSPARSEGRAD_PYTHON={sys.executable}",
            "-DSPARSEGRAD_BUILD_PYTHON=ON",
            "-DSPARSEGRAD_BUILD_TESTS=OFF",
            "-DSPARSEGRAD_BUILD_EXAMPLES=OFF",
            "-DSPARSEGRAD_INSTALL=OFF",
            "-DSPARSEGRAD_WITH_SUITESPARSE=" + os.environ.get("SPARSEGRAD_WITH_SUITESPARSE", "ON"),
            "-DSPARSEGRAD_WITH_PETSC=OFF",
            "-DSPARSEGRAD_WITH_TORCH=OFF",
            *shlex.split(os.environ.get("CMAKE_ARGS", "")),
        ]
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(configure, check=True)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "sparsegrad_core", "-j", jobs], check=True
        )
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build / "python" / "sparsegrad" / ("_core" + suffix)
        if not built.exists():
            raise RuntimeError(f"sparsegrad: CMake built no {built}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    version=version(),
    ext_modules=[CMakeExtension("sparsegrad._core")],
    cmdclass={"build_ext": CMakeBuild},
    # Out of the way of the CMake build directories (build/, build-*/) the scripts use.
    options={"build": {"build_base": "_build/python"}},
)
