"""The package runs on a device without the server's stack, and the CLI queues events idempotently."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edge.camera import parse_source
from edge.cli import camera_spec, main
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


@pytest.mark.parametrize(("spec", "message"), [
    (["=rtsp://cam/1"], "a camera needs a name"),
    (["door-1="], "no source after '='"),
    (["door-1=0", "door-1=1"], "door-1 given more than once"),
    (["x" * 121 + "=0"], "at most 120 characters"),
])
def test_a_bad_camera_spec_is_a_clear_usage_error(tmp_path, capsys, spec, message):
    cameras = [arg for s in spec for arg in ("--camera", s)]
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--server", "http://127.0.0.1:9", "--token-file", str(tmp_path / "t"), "--data-dir",
              str(tmp_path / "d"), *cameras])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--camera" in err and message in err
    assert not (tmp_path / "d").exists()  # refused before anything was opened


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--detector-timeout", "0", "must be more than 0"), ("--camera-offline-after", "soon", "is not a number"),
    ("--audit-rate", "1.5", "between 0 and 1")])
def test_bad_camera_loop_settings_are_usage_errors(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--server", "http://127.0.0.1:9", "--token-file", str(tmp_path / "t"), "--data-dir",
              str(tmp_path / "d"), "--camera", "door-1=0", option, value])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_camera_specs_name_a_file_a_url_a_device_index_or_only_a_name():
    assert camera_spec("door-1=/var/video/door.mp4") == ("door-1", "/var/video/door.mp4")
    assert camera_spec("door-1=rtsp://user:pw@10.0.0.5:554/stream?x=1") == ("door-1", "rtsp://user:pw@10.0.0.5:554/stream?x=1")
    assert camera_spec("tills") == ("tills", None)  # reported in the heartbeat only, as before
    assert parse_source("0") == 0 and parse_source("/dev/video2") == "/dev/video2"
