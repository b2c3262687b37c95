"""The embedded default (`make run`: SQLite) runs the review flows too.

CI's test process runs on PostgreSQL (REQUIRE_POSTGRES=1); the claim statement and several writes take a
different path on SQLite (no data-modifying CTEs, no SKIP LOCKED). This test runs the modules whose behaviour
could differ a second time, in a child pytest on a SQLite database, and fails if any of them fails or skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ON_BOTH = [
    "tests/reviewer/test_work_comes_back.py",
    "tests/reviewer/test_repair_dropped_prelabels.py",
    "tests/security/test_asset_isolation.py",
    "tests/activelearning/test_webhook_outbox.py",
    "tests/activelearning/test_alerts.py",  # the sweep writes with hand-written INSERT/UPDATE … RETURNING
    "tests/activelearning/test_training_callback.py",
    "tests/security/test_idor_matrix.py",  # the access checks are hand-written SQL (annotations.rows)
    "tests/security/test_import_input.py",
    "tests/security/test_fuzz_findings.py",
    "tests/security/test_schemathesis.py",
    "tests/activelearning/test_rollout_gates.py",
    "tests/activelearning/test_heartbeat.py",
    "tests/labelstudio/test_link_input.py",  # the link's writes: hand-written UPDATE … RETURNING (return_to_queue)
    "tests/activelearning/test_imports.py",  # was a 500 on SQLite (DISTINCT ON); re-imports match stored boxes  # the cameras' UPDATE is hand-written (a jsonb cast on PostgreSQL)
    "tests/activelearning/test_imports_roundtrip.py",  # every export re-imports; archives read in memory
    "tests/activelearning/test_counts_api.py",  # bucketing is the database's own date truncation
    "tests/activelearning/test_device_health_api.py",  # hour buckets: Trunc differs per database
]


def test_review_flows_pass_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUIRE_POSTGRES", "CI", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'loupe.sqlite3'}", LOUPE_VAR_DIR=str(tmp_path))
    env.pop("REDIS_URL", None)  # the embedded mode: in-memory channel layer, eager tasks
    result = subprocess.run(  # noqa: S603  (our own test runner, fixed argv)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *ON_BOTH],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "skipped" not in result.stdout, tail
