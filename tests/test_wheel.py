"""The wheel and the sdist carry every shipped file: models, musicnn weights, licences, the page.

Builds both from a copy of this checkout (``python -m build --no-isolation``), unless
``MER_WHEEL`` / ``MER_SDIST`` name ones already built (``.ci/wheel-check`` passes its own,
then installs the wheel into a fresh virtual environment and uses it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import mer

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIRS = ("mer/resources", "mer/apps/web/static")

pytestmark = pytest.mark.slow


def _shipped_files() -> list[str]:
    """Paths, relative to src/, of every file under the shipped folders (caches aside)."""
    found = [p.relative_to(ROOT / "src").as_posix() for d in SHIPPED_DIRS for p in (ROOT / "src" / d).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    assert len(found) >= 10, found  # the models, the weights, the licence and the page's files
    return sorted(found)


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    if os.environ.get("MER_WHEEL") and os.environ.get("MER_SDIST"):
        return Path(os.environ["MER_WHEEL"]), Path(os.environ["MER_SDIST"])
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "checkout"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
                   check=True, capture_output=True)
    (wheel,), (sdist,) = (tmp / "dist").glob("*.whl"), (tmp / "dist").glob("*.tar.gz")
    return wheel, sdist


def test_wheel_carries_every_shipped_file_and_the_plugin(dists):
    wheel, _ = dists
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in _shipped_files() if f not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert "beetsplug/mer.py" in names and "beetsplug/__init__.py" not in names  # a namespace package
    assert wheel.name.startswith(f"mer_emotion-{mer.__version__}-")
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "mer = mer.apps.cli:app" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_sdist_carries_every_shipped_file(dists):
    _, sdist = dists
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [f for f in _shipped_files() if f"src/{f}" not in names]
    assert not missing, f"not in {sdist.name}: {missing}"
    assert {"pyproject.toml", "README.md", "src/beetsplug/mer.py"} <= names
