"""Packaging: pyproject.toml's metadata, and what the source distribution carries.

* the license is an SPDX expression with its file (PEP 639), without the deprecated
  table form and license classifier, and the build requires a setuptools that reads
  it; every Python version from ``requires-python`` up to 3.13 has its classifier;
* ``[project.urls]`` names the addresses of ``sklearn_ckn/_urls.py``, the package's one
  copy of them;
* an sdist built from this tree (``python -m build --sdist --no-isolation``, skipped
  without the ``build`` package or setuptools>=77) holds the whole test suite, the documentation
  sources, the examples, the benchmark scripts, LICENSE, CHANGELOG.md and
  CITATION.cff, and not what a build or a run generates; the build prints no
  setuptools deprecation warning.

These tests read the source tree: they are skipped where the package is installed
without it.
"""

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

import sklearn_ckn
from sklearn_ckn._urls import DOCUMENTATION_URL, REPOSITORY_URL

ROOT = Path(sklearn_ckn.__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

pytestmark = pytest.mark.skipif(
    not (PYPROJECT.is_file() and (ROOT / "tests").is_dir()),
    reason="the package is installed without its source tree",
)

# What the sdist carries besides the package: (folder, file patterns), recursively.
SDIST_CONTENT = [
    ("tests", ["*"]),
    ("docs", ["*"]),
    ("examples", ["*"]),
    ("benchmarks", ["*.py", "*.sh"]),
]
SDIST_FILES = ["LICENSE", "CHANGELOG.md", "CITATION.cff", "README.md", "pyproject.toml"]
# Generated or recorded, not sources (see .gitignore): never in the sdist.
NOT_IN_SDIST = [
    "docs/_build/", "docs/generated/", "docs/auto_examples/", "docs/api.rst",
    "docs/sg_execution_times.rst",
    "benchmarks/results/", "__pycache__/", ".hypothesis/", ".pyc",
]


@pytest.fixture(scope="module")
def project():
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)


def test_license_is_an_spdx_expression(project):
    meta = project["project"]
    assert meta["license"] == "BSD-3-Clause"
    assert meta["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert not [c for c in meta["classifiers"] if c.startswith("License ::")]
    # setuptools reads the SPDX form from version 77 (older ones reject it).
    setuptools = [r for r in project["build-system"]["requires"]
                  if re.match(r"setuptools\b", r)]
    assert setuptools == ["setuptools>=77"]


def test_python_classifiers_match_requires_python(project):
    meta = project["project"]
    oldest = re.fullmatch(r">=3\.(\d+)", meta["requires-python"])
    assert oldest, meta["requires-python"]
    versions = {c.rpartition(" :: ")[2] for c in meta["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert versions == {f"3.{minor}" for minor in range(int(oldest.group(1)), 14)}


def test_project_urls_are_the_package_constants(project):
    urls = project["project"]["urls"]
    assert urls["Documentation"] == DOCUMENTATION_URL
    assert urls["Homepage"] == urls["Source"] == REPOSITORY_URL
    for name in ("Issues", "Changelog"):
        assert urls[name].startswith(REPOSITORY_URL + "/"), name


def _source_files(folder, patterns):
    """Files under ``ROOT/folder`` matching ``patterns``, relative to ROOT, without
    what NOT_IN_SDIST excludes."""
    found = set()
    for pattern in patterns:
        for path in (ROOT / folder).rglob(pattern):
            name = path.relative_to(ROOT).as_posix()
            if path.is_file() and not any(part in name for part in NOT_IN_SDIST):
                found.add(name)
    return found


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """``(file names relative to the sdist's root, build output)`` of an sdist built
    from a copy of the tree (the build writes an .egg-info next to pyproject.toml)."""
    pytest.importorskip("build", reason="python -m pip install build")
    try:  # --no-isolation builds with the installed setuptools
        setuptools = tuple(int(p) for p in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        setuptools = (0,)
    if setuptools < (77,):
        pytest.skip("the build needs setuptools>=77: python -m pip install -U setuptools")
    tmp = tmp_path_factory.mktemp("sdist")
    src = tmp / "src"
    # Copied as they are, generated files included (the sdist must leave them out),
    # except the documentation's build, which may be large.
    ignore = shutil.ignore_patterns(".git", "*.egg-info", "_build")
    for name in ["sklearn_ckn", "tests", "docs", "examples", "benchmarks"]:
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ["MANIFEST.in", *SDIST_FILES]:
        shutil.copy2(ROOT / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
         str(tmp / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (archive,) = (tmp / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {m.name.partition("/")[2] for m in tar.getmembers() if m.isfile()}
    return names, proc.stdout + proc.stderr


def test_sdist_holds_tests_docs_examples_and_benchmark_scripts(sdist):
    names, _ = sdist
    for folder, patterns in SDIST_CONTENT:
        expected = _source_files(folder, patterns)
        assert expected, folder
        missing = sorted(expected - names)
        assert not missing, f"not in the sdist: {missing}"
    assert {"tests/conftest.py", "tests/compare/test_comparison.py", "docs/conf.py",
            "docs/index.rst", "examples/plot_digits_comparison.py"} <= names
    assert set(SDIST_FILES) <= names
    generated = sorted(n for n in names if any(part in n for part in NOT_IN_SDIST))
    assert not generated, generated


def test_sdist_build_prints_no_deprecation_warning(sdist):
    _, output = sdist
    assert "Deprecat" not in output and "deprecated" not in output, output
