"""A non-editable install (the image: `pip install .` in deploy/Dockerfile) carries only modules and the data
files pyproject.toml names. Every other file the packages hold must be named there, or the image lacks it."""

from __future__ import annotations

import glob
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Read by no running server: the device distribution's own build file.
NOT_RUNTIME = {"edge/pyproject.toml"}


def test_every_tracked_data_file_of_the_packages_is_in_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    tracked = subprocess.run(  # noqa: S603 (fixed argv)
        ["git", "ls-files", *packages], cwd=ROOT, capture_output=True, text=True, check=True,  # noqa: S607
    ).stdout.split()
    data_files = {f for f in tracked if not f.endswith(".py")} - NOT_RUNTIME
    assert data_files, "git ls-files found the packages' files"
    included = set()
    for package, patterns in project["tool"]["setuptools"]["package-data"].items():
        for pattern in patterns:
            included |= {f"{package}/{name}" for name in glob.glob(pattern, root_dir=ROOT / package, recursive=True)}
    assert data_files <= included, sorted(data_files - included)
