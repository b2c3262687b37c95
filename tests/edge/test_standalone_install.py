"""`pip install ./edge` gives a device the `loupe-edge` command without Django or anything else of the server.

The test builds the distribution as a device would, into a fresh venv, from the configured package index (this
machine's is local, so it runs offline). It copies the three packages and edge/pyproject.toml to a temporary
folder first, so the in-tree build leaves no build/ or *.egg-info in the checkout and parallel runs do not share
one. About 10 s: venv creation, then a build of pure-Python packages and a handful of small wheels.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603  (fixed argv)


def test_the_edge_distribution_installs_and_runs_without_the_server(tmp_path):
    source = tmp_path / "src"
    for package in ("edge", "loupe_wire", "loupe_synthetic", "loupe_vision"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "build"))
    venv = tmp_path / "venv"
    created = _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python, loupe_edge = venv / "bin" / "python", venv / "bin" / "loupe-edge"

    installed = _run(python, "-m", "pip", "install", "--quiet", source / "edge", cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    helped = _run(loupe_edge, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "simulate" in helped.stdout and "enqueue" in helped.stdout
    # A real command, past argument parsing: the outbox (and the wire format it compares with) works.
    status = _run(loupe_edge, "status", "--data-dir", tmp_path / "device", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert '"pending": 0' in status.stdout

    for server_module in ("django", "activelearning", "annotations"):
        probe = _run(python, "-c", f"import {server_module}", cwd=tmp_path)
        assert probe.returncode == 1 and "ModuleNotFoundError" in probe.stderr, (server_module, probe.stderr)
