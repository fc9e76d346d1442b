# SPDX-License-Identifier: Apache-2.0
"""The package as installed: version, type stubs, docstrings, and (in scripts/check-python-
package.sh) that the tests run against the installed copy, not the source tree."""

import ast
import importlib.metadata
import os
import re

import pytest

import sparsegrad
from sparsegrad import _core

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(os.path.abspath(sparsegrad.__file__))


def test_imported_from_the_expected_place():
    expected = os.environ.get("SPARSEGRAD_EXPECT_PREFIX")
    if not expected:
        pytest.skip("SPARSEGRAD_EXPECT_PREFIX not set (scripts/check-python-package.sh sets it)")
    assert os.path.realpath(PACKAGE_DIR).startswith(os.path.realpath(expected) + os.sep)
    assert os.path.dirname(os.path.abspath(_core.__file__)) == PACKAGE_DIR


def test_version_is_the_cpp_version():
    header = os.path.join(HERE, "..", "..", "include", "sparsegrad", "version.hpp")
    with open(header) as f:
        text = f.read()
    string = re.search(r'#define SPARSEGRAD_VERSION_STRING "([0-9.]+)"', text).group(1)
    parts = [re.search(rf"#define SPARSEGRAD_VERSION_{p} (\d+)", text).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    assert string == ".".join(parts)
    assert sparsegrad.__version__ == string
    assert _core.__version__ == string


def test_installed_metadata_matches():
    try:
        dist = importlib.metadata.distribution("sparsegrad")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("not installed with pip (a build tree on PYTHONPATH)")
    located = os.path.realpath(str(dist.locate_file("sparsegrad/__init__.py")))
    if located != os.path.realpath(sparsegrad.__file__):
        pytest.skip("another sparsegrad is installed than the one imported")
    assert dist.version == sparsegrad.__version__


def stub_names(path):
    """Top-level classes, functions and annotated names of a .pyi file."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") or n.startswith("__")}


def test_type_stubs_ship_and_match_the_extension():
    assert os.path.isfile(os.path.join(PACKAGE_DIR, "py.typed"))
    stub = os.path.join(PACKAGE_DIR, "_core.pyi")
    assert os.path.isfile(stub)
    runtime = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert stub_names(stub) == runtime


def test_public_api_is_documented():
    for name in sparsegrad.__all__:
        if name.startswith("__"):
            continue
        assert getattr(sparsegrad, name).__doc__, name
    assert sparsegrad.__doc__
