"""The detector runs in a child process under a watchdog: a hung inference's process is killed (really: its pid
is gone) and replaced within the timeout, a dead one is replaced, both are counted, and nothing queued in the
outbox is lost. A real ONNX model, real processes, real frames through a camera; waits are deadline-bound."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from edge.camera import Camera
from edge.capture import capture
from edge.device import DeviceState
from edge.heartbeat import CRASHES, FRAMES_DROPPED, WATCHDOG_RESTARTS, Health
from edge.models import file_sha256
from edge.pipeline import Pipeline, ReviewPolicy
from edge.watchdog import KILL_WAIT, DetectorUnavailable, InferenceCrashed, InferenceHung, WatchedDetector
from tests.edge.camera_kit import DIE, HANG, Feeder, frame, hangs_on_marker, wait_until, write_model
from tests.factories import jpeg_bytes, prediction_event

TIMEOUT = 1.0
START = 60.0  # a spawned child imports numpy, OpenCV and onnxruntime: slow on a busy two-core box, unbounded by TIMEOUT


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def state(tmp_path):
    state = DeviceState.open(tmp_path / "device", budget_bytes=10**8)
    yield state
    state.close()


@pytest.fixture
def detector(tmp_path, state):
    detector = WatchedDetector(write_model(tmp_path), timeout=TIMEOUT, start_timeout=START,
                               make_detector=hangs_on_marker, count=state.outbox.bump)
    yield detector
    detector.close()


def test_a_hung_inference_is_killed_and_the_detector_restarted_within_its_timeout(detector, state):
    detector.start()
    # The model's box (centre 32,32, 20×40 in its 64×64 input) back in the 64×48 frame: 8 px of letterbox off y.
    assert detector.infer(frame()) == [{"label": "person", "score": 0.3, "box": [22.0, 4.0, 20.0, 40.0]}]
    hung_pid = detector.pid

    started = time.monotonic()
    with pytest.raises(InferenceHung, match=f"pid {hung_pid} killed"):
        detector.infer(frame(HANG))
    took = time.monotonic() - started
    assert TIMEOUT <= took < TIMEOUT + KILL_WAIT  # the deadline, then a SIGKILL and a reap: no waiting it out
    assert gone(hung_pid)  # killed and reaped, not left behind
    assert detector.pid is not None and detector.pid != hung_pid  # the replacement is already starting

    assert detector.infer(frame(seed=1))[0]["label"] == "person"  # the new child answers
    assert detector.restarts == 1 and detector.crashes == 1
    assert state.outbox.counter(WATCHDOG_RESTARTS) == 1 and state.outbox.counter(CRASHES) == 1
    figures = detector.health()
    assert figures["inference_ms_p50"] > 0 and figures["inference_ms_p95"] >= figures["inference_ms_p50"]
    assert figures["inference_ms_p95"] < TIMEOUT * 1000  # the hung frame is no latency sample: it had no answer
    assert figures["inference_fps"] > 0 and figures["runtime"]["onnxruntime"]


def test_a_detector_process_that_dies_is_replaced_and_counted_as_a_crash(detector, state):
    detector.start()
    died_pid = detector.pid
    with pytest.raises(InferenceCrashed, match="exit code 7"):
        detector.infer(frame(DIE))
    assert gone(died_pid) and detector.pid != died_pid
    assert detector.infer(frame())[0]["score"] == 0.3
    assert (detector.restarts, detector.crashes) == (0, 1)
    assert state.outbox.counter(CRASHES) == 1 and state.outbox.counter(WATCHDOG_RESTARTS) == 0


def test_a_model_the_child_cannot_load_is_reported_not_hung_on(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    detector = WatchedDetector(bad, timeout=TIMEOUT, start_timeout=START)
    try:
        with pytest.raises(DetectorUnavailable, match="cannot load"):
            detector.start()
        assert detector.pid is None
    finally:
        detector.close()


def install_model(state: DeviceState, path: Path) -> str:
    sha256 = file_sha256(path)
    (state.models.root / f"{sha256}.onnx").write_bytes(path.read_bytes())
    state.models.activate(sha256)
    return sha256


def test_nothing_queued_is_lost_across_a_hang_and_the_hung_frame_makes_no_event(tmp_path, state):
    for i in range(3):  # events already waiting for the link, as the pipeline or `enqueue` queued them
        event = prediction_event(f"queued-{i}", "")
        del event["asset"]
        capture(outbox=state.outbox, spool=state.spool, event=event, media=jpeg_bytes(64, 48, seed=i))
    before = {f"queued-{i}": state.outbox.get(f"queued-{i}") for i in range(3)}
    assets_before = state.outbox.pending_assets()
    sha256 = install_model(state, write_model(tmp_path))

    feeder = Feeder()
    camera = Camera("door-1", feeder.open, offline_after=30).start()
    detector = WatchedDetector(state.models.active_link, timeout=TIMEOUT, start_timeout=START,
                               make_detector=hangs_on_marker, count=state.outbox.bump)
    pipeline = Pipeline([camera], detector, outbox=state.outbox, spool=state.spool, models=state.models,
                        policy=ReviewPolicy(below=0.5, audit_rate=0.0), run_id="t")
    health = Health(state.data_dir, telemetry=pipeline.health)
    try:
        feeder.feed(seed=1)
        wait_until(lambda: pipeline.step() == 1, within=START, what="the first frame inferred")
        feeder.feed(HANG)
        wait_until(lambda: pipeline.step() == 0 and pipeline.failures == 1, within=START, what="the hang noticed")
        feeder.feed(seed=2)
        wait_until(lambda: pipeline.step() == 1, within=START, what="a frame inferred by the new child")
    finally:
        pipeline.stop()

    assert {i: state.outbox.get(i) for i in before} == before  # untouched: same payload, status, attempts
    assert assets_before <= state.outbox.pending_assets() and all(state.spool.path(a).exists() for a in assets_before)
    captured = [f"cam-t-{i:09d}-door-1" for i in (0, 2)]  # the frames before and after; none for the hung one
    assert state.outbox.depth() == 3 + 2 and pipeline.captured == 2
    assert state.outbox.get("cam-t-000000001-door-1") is None
    for event_id in captured:
        payload = state.outbox.get(event_id)["payload"]
        assert '"reason":"low_confidence"' in payload and sha256 in payload
    assert camera.dropped_frames == 1  # the hung frame, counted

    body = health.build(outbox=state.outbox, models=state.models)
    assert body["watchdog_restarts"] == 1 and body["crashes"] == 1
    assert body["dropped_frames"] == 1 == state.outbox.counter(FRAMES_DROPPED)
    assert body["inference_ms_p50"] > 0 and body["inference_fps"] > 0
    (entry,) = body["cameras"]
    assert entry["name"] == "door-1" and entry["dropped_frames"] == 1 and entry["inference_fps"] > 0


def test_closing_abandons_a_hung_frame_at_once_and_counts_no_crash(detector, state):
    """Stopping `loupe-edge` while a frame is stuck must not wait out the timeout nor count a crash."""
    detector.timeout = 600.0
    detector.start()
    pid = detector.pid
    failures: list[Exception] = []

    def infer_hung() -> None:
        try:
            detector.infer(frame(HANG))
        except Exception as exc:  # noqa: BLE001 - what the inferring thread was told, checked below
            failures.append(exc)

    worker = threading.Thread(target=infer_hung)
    worker.start()
    wait_until(lambda: detector._lock.locked(), within=10, what="the frame in flight")
    detector.close()
    worker.join(KILL_WAIT + 5)
    assert not worker.is_alive() and gone(pid)
    assert len(failures) == 1 and "closed" in str(failures[0])
    assert detector.crashes == detector.restarts == 0 and state.outbox.counter(CRASHES) == 0
    assert detector.pid is None
