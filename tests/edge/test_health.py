"""The heartbeat body carries the device's health: disk, memory, temperature where readable, the outbox's oldest
undelivered event, the counters since install and the camera loop's live figures; the server's serializer
takes all of it."""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import pytest
from onnx import TensorProto, helper

from activelearning.ingest.serializers import HeartbeatSerializer
from edge.capture import MEDIA_REFUSED
from edge.heartbeat import CRASHES, FRAMES_DROPPED, WATCHDOG_RESTARTS, Health
from edge.models import ModelStore
from edge.outbox import Outbox
from edge.rates import Latencies, RateMeter, percentile
from edge.system import memory, temperature_c
from edge.watchdog import _runtime
from tests.edge.fakes import FakeClock

MEMINFO = "MemTotal:        8000000 kB\nMemFree:          500000 kB\nMemAvailable:    6000000 kB\nBuffers: 1 kB\n"


def thermal_tree(root: Path, readings: dict[str, str]) -> Path:
    for zone, text in readings.items():
        (root / zone).mkdir(parents=True)
        (root / zone / "temp").write_text(text)
    return root


def test_the_heartbeat_has_every_health_field_and_the_server_accepts_it(tmp_path):
    clock = FakeClock()
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=clock)
    models = ModelStore(tmp_path / "models")
    (tmp_path / "meminfo").write_text(MEMINFO)
    thermal = thermal_tree(tmp_path / "thermal", {"thermal_zone0": "45500\n", "thermal_zone1": "61250\n",
                                                  "thermal_zone2": "not a number", "cooling_device0": "1"})
    live = {"fps": 24.5, "inference_fps": 7.5, "inference_ms_p50": 80.0, "inference_ms_p95": 130.0,
            "runtime": {"onnxruntime": "1.20.1", "opset": 21},
            "cameras": [{"name": "door-1", "status": "offline", "fps": 0.0, "inference_fps": 0.0, "dropped_frames": 3,
                         "last_frame_age_seconds": 12.5, "message": "no frame for 12.5 s; reopening"}]}
    health = Health(tmp_path, cameras=[{"name": "tills", "status": "ok"}], telemetry=lambda: dict(live),
                    thermal=thermal, meminfo=tmp_path / "meminfo")
    outbox.enqueue({"id": "e1", "type": "count", "captured_at": "2026-12-01T10:00:00Z", "camera": "door-1"})
    clock.now += 42.0
    outbox.enqueue({"id": "e2", "type": "count", "captured_at": "2026-12-01T10:00:00Z", "camera": "door-1"})
    for name, by in ((WATCHDOG_RESTARTS, 2), (CRASHES, 3), (MEDIA_REFUSED, 1), (FRAMES_DROPPED, 4)):
        outbox.bump(name, by)

    body = health.build(outbox=outbox, models=models)

    assert body["outbox_depth"] == 2 and body["outbox_oldest_age_seconds"] == 42.0
    assert body["memory_total_bytes"] == 8_000_000 * 1024 and body["memory_used_bytes"] == 2_000_000 * 1024
    assert body["temperature_c"] == 61.2  # the hottest readable zone (61.25 °C, rounded to one place)
    assert body["disk_total_bytes"] >= body["disk_free_bytes"] > 0
    assert (body["watchdog_restarts"], body["crashes"], body["dropped_frames"]) == (2, 3, 1 + 4)
    assert {k: body[k] for k in ("fps", "inference_fps", "inference_ms_p50", "inference_ms_p95", "runtime")} == {
        k: live[k] for k in ("fps", "inference_fps", "inference_ms_p50", "inference_ms_p95", "runtime")}
    assert [c["name"] for c in body["cameras"]] == ["tills", "door-1"]
    serializer = HeartbeatSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert set(body) <= set(serializer.validated_data)  # nothing the server would drop unread
    outbox.close()


def relu_model(opset: int) -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def test_the_reported_opset_is_the_newest_this_runtime_loads():
    """The server offers a device no model stamped with a newer opset than it reports: the report must be exactly
    the runtime's limit, so a model at that opset loads here and one a step newer is refused."""
    runtime = _runtime()
    assert runtime["onnxruntime"] == onnxruntime.__version__
    opset = runtime["opset"]
    assert isinstance(opset, int) and opset >= 17  # the reference trainer exports opset 17
    onnxruntime.InferenceSession(relu_model(opset))
    with pytest.raises(Exception, match="opset|Opset"):
        onnxruntime.InferenceSession(relu_model(opset + 1))


def test_what_cannot_be_read_is_left_out_not_reported_as_zero(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    health = Health(tmp_path, thermal=tmp_path / "no-thermal", meminfo=tmp_path / "no-meminfo")
    body = health.build(outbox=outbox, models=ModelStore(tmp_path / "models"))
    for absent in ("temperature_c", "memory_used_bytes", "memory_total_bytes", "outbox_oldest_age_seconds",
                   "inference_ms_p50", "fps"):
        assert absent not in body
    assert body["cameras"] == [] and body["watchdog_restarts"] == 0 and body["dropped_frames"] == 0
    assert HeartbeatSerializer(data=body).is_valid()
    outbox.close()


def test_this_machine_s_memory_is_read_from_proc():
    figures = memory()
    assert 0 < figures["memory_used_bytes"] < figures["memory_total_bytes"]
    reading = temperature_c()  # a container usually has no thermal zones: None, never an error
    assert reading is None or -100 <= reading <= 200


def test_rolling_rates_and_percentiles():
    clock = FakeClock(start=0.0)
    meter = RateMeter(window=10.0, clock=clock)
    clock.now = 2.0
    for _ in range(10):
        meter.tick()
    assert meter.rate() == 5.0  # younger than its window: 10 frames in its 2 s of life
    clock.now = 13.0
    assert meter.rate() == 0.0  # they have all left the window
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0 and percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95) == 5.0
    latencies = Latencies(size=3)
    assert latencies.summary() == {}
    for ms in (100.0, 1.0, 2.0, 3.0):  # the oldest falls out
        latencies.add(ms)
    assert latencies.summary() == {"inference_ms_p50": 2.0, "inference_ms_p95": 3.0}
