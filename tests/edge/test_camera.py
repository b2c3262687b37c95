"""A camera that stops yielding frames is reported offline, retried, and ok again when frames come back; the
heartbeat body says so. Real threads, a real OpenCV capture of a real video file; waits are deadline-bound."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.backoff import Backoff
from edge.camera import OFFLINE, OK, Camera, opencv_factory
from edge.device import DeviceState
from edge.heartbeat import Health
from tests.edge.camera_kit import Tap, wait_until

OFFLINE_AFTER = 0.3
QUICK = Backoff(base=0.05, cap=0.1)  # reopen within a tenth of a second


def heartbeat_camera(health: Health, state: DeviceState) -> dict:
    (entry,) = health.build(outbox=state.outbox, models=state.models)["cameras"]
    return entry


def test_a_camera_that_stops_yielding_frames_is_reported_offline_retried_and_resumes(tmp_path):
    tap = Tap()
    camera = Camera("door-1", tap.open, offline_after=OFFLINE_AFTER, backoff=QUICK).start()
    state = DeviceState.open(tmp_path / "device")
    health = Health(state.data_dir, telemetry=lambda: {"cameras": [camera.snapshot()]})
    try:
        wait_until(lambda: camera.status() == OK, within=10, what="the first frames")
        entry = heartbeat_camera(health, state)
        assert entry["name"] == "door-1" and entry["status"] == OK and "message" not in entry
        assert entry["fps"] > 0 and entry["last_frame_age_seconds"] < OFFLINE_AFTER

        tap.flowing.clear()  # the camera stops giving frames
        took = wait_until(lambda: camera.status() == OFFLINE, within=OFFLINE_AFTER + 5, what="reported offline")
        assert took >= OFFLINE_AFTER * 0.5  # not before its time (the last frame may be a little older)
        entry = heartbeat_camera(health, state)
        assert entry["status"] == OFFLINE
        assert entry["last_frame_age_seconds"] >= OFFLINE_AFTER
        assert "no frame for" in entry["message"]
        opens = tap.opens
        wait_until(lambda: tap.opens > opens, within=5, what="the camera reopened while offline")

        tap.flowing.set()  # it comes back: nobody restarts anything
        wait_until(lambda: camera.status() == OK, within=5, what="ok again")
        entry = heartbeat_camera(health, state)
        assert entry["status"] == OK and "message" not in entry
        assert camera.history[:3] == [OK, OFFLINE, OK]
    finally:
        camera.stop()
        state.close()


def test_a_camera_that_cannot_be_opened_is_offline_with_the_reason(tmp_path):
    tap = Tap()
    tap.refuse.set()
    camera = Camera("door-1", tap.open, offline_after=OFFLINE_AFTER, backoff=QUICK).start()
    try:
        assert camera.snapshot()["status"] == "degraded"  # waiting for its first frame, not yet given up on
        wait_until(lambda: camera.status() == OFFLINE, within=5, what="offline")
        wait_until(lambda: "cannot open" in camera.snapshot()["message"], within=5, what="the reason")
        assert "the tap is closed" in camera.snapshot()["message"]
        tap.refuse.clear()
        wait_until(lambda: camera.status() == OK, within=5, what="ok once it opens")
    finally:
        camera.stop()


def write_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path


def test_a_real_video_file_read_through_opencv_ends_goes_offline_and_plays_again(tmp_path):
    """cv2.VideoCapture on a real file: at its end no frame comes, the camera goes offline, reopens it and
    reads it again (a file source loops), on its own."""
    frames = 12
    video = write_video(tmp_path / "door.avi", frames)
    camera = Camera("door-1", opencv_factory(str(video)), offline_after=OFFLINE_AFTER, backoff=QUICK).start()
    try:
        wait_until(lambda: camera.opens >= 2 and camera.frames_read > frames, within=15,
                   what="the file read, then reopened and read again")
        assert camera.history[:3] == [OK, OFFLINE, OK]
        assert camera.take(timeout=5) is not None  # the pipeline gets the newest frame
    finally:
        camera.stop()


def test_a_missing_video_file_is_reported_offline_by_opencv(tmp_path):
    camera = Camera("door-1", opencv_factory(str(tmp_path / "missing.avi")), offline_after=OFFLINE_AFTER,
                    backoff=QUICK).start()
    try:
        wait_until(lambda: camera.status() == OFFLINE and "cannot open" in camera.message, within=5,
                   what="offline, OpenCV cannot open it")
    finally:
        camera.stop()
