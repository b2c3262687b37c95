"""Start Django's settings in a real child process with exactly the environment given (nothing inherited but
PATH), as a server, a worker or `manage.py` would: start-up refusals happen at import, so only a fresh
process shows them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_django(var_dir: Path, env: dict[str, str], *, script: str = "import django; django.setup()",
               argv: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `script` (or `manage.py <argv>`) with settings read from `env`, the var folder in `var_dir` and an
    embedded SQLite database there unless `env` names another."""
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "LOUPE_VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'loupe.sqlite3'}", "MEDIA_STORAGE": str(var_dir / "media")}
    command = [sys.executable, "manage.py", *argv] if argv is not None else [sys.executable, "-c", script]
    return subprocess.run(command, cwd=ROOT, env={**base, **env},  # noqa: S603  (our own interpreter, fixed argv)
                          capture_output=True, text=True, timeout=120, check=False)
