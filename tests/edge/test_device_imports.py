"""The device packages import nothing of the server, so `loupe-edge` installs and runs without it
(test_standalone_install.py proves the install; this names the offending import when one creeps in)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVICE_PACKAGES = ("edge", "loupe_wire", "loupe_synthetic", "loupe_vision")
SERVER = {"django", "rest_framework", "drf_spectacular", "channels", "celery", "config", "annotations", "reviewer",
          "activelearning"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):  # function-level imports included
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", DEVICE_PACKAGES)
def test_device_packages_import_nothing_of_the_server(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = {str(f.relative_to(ROOT)): sorted(_imported_roots(f) & SERVER) for f in files}
    assert {f: names for f, names in offenders.items() if names} == {}
