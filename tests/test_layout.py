"""The house rules a newcomer relies on (docs/architecture.md), checked so they stay true: no private name is
imported across modules, and no product file passes ~400 lines without saying why at its top. The layers and
the absence of import cycles are import-linter's contracts (pyproject.toml, run by `make lint`)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRODUCT = ("config", "annotations", "reviewer", "activelearning", "edge", "loupe_wire", "loupe_synthetic")
FIRST_PARTY = PRODUCT
MAX_LINES = 400


def product_files() -> list[pathlib.Path]:
    return sorted(path for package in PRODUCT for path in (ROOT / package).rglob("*.py")
                  if "migrations" not in path.parts)


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in [*product_files(), *sorted((ROOT / "bench").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.split(".")[0] in FIRST_PARTY):
                found += [f"{path.relative_to(ROOT)}: {node.module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert found == []


def test_a_product_file_over_400_lines_says_why_at_its_top():
    unexplained = []
    for path in product_files():
        text = path.read_text()
        if text.count("\n") > MAX_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "Why this file is long:" not in docstring:
                unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
