"""The package runs on a device without the server's stack, and the CLI queues events idempotently."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.server import ROOT


def test_the_edge_package_imports_no_django():
    code = ("import sys, edge.cli, edge.client, edge.outbox, edge.spool, edge.models, edge.heartbeat; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'numpy', 'cv2', 'activelearning'}); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,  # noqa: S603
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_enqueue_then_status_from_the_command_line(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"id": "cli-1", "type": "prediction", "captured_at": "2026-12-01T10:00:00Z",
                                 "camera": "door-1", "detections": []}))
    media = tmp_path / "frame.jpg"
    media.write_bytes(b"\xff\xd8\xff not really a jpeg")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge.cli", *args, "--data-dir", str(tmp_path / "d")],  # noqa: S603
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert cli("enqueue", "--event", str(event), "--media", str(media)).stdout.strip() == "queued"
    assert cli("enqueue", "--event", str(event), "--media", str(media)).stdout.strip() == "already queued"
    status = json.loads(cli("status").stdout)
    assert status["pending"] == 1 and status["spool_bytes"] == media.stat().st_size
