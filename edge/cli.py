"""`loupe-edge`: run a device's uploader, queue an event by hand, look at the outbox, or simulate a field.

    loupe-edge run --server URL --token-file F --data-dir D [--camera door-1=rtsp://…] [--once]
    loupe-edge enqueue --data-dir D --event event.json [--media frame.jpg]
    loupe-edge status --data-dir D
    loupe-edge simulate --server URL --token T --frames N --kind store|bus

Exit codes: 0 done, 1 bad usage or input, 3 the server refused the token (events stay queued).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import edge
from edge.capture import capture
from edge.client import DEFAULT_BATCH, HEAD_MIN_BYTES, AuthError, TransientError, Uploader
from edge.device import DEFAULT_BUDGET, DeviceState, http_client
from edge.heartbeat import Health, send_heartbeat
from edge.models import ModelCorrupt
from edge.spool import SpoolFull

log = logging.getLogger("loupe-edge")
EXIT_AUTH = 3


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="outbox, media spool and models live here")
    p.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET / 1024**2, help="media spool disk budget")


def _uploading(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", required=True, help="e.g. https://loupe.example.com")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="events per POST (server's limit)")
    p.add_argument("--head-min-bytes", type=int, default=HEAD_MIN_BYTES,
                   help="PUT media smaller than this without a HEAD first (0: always HEAD)")
    p.add_argument("--upload-workers", type=int, default=4, help="concurrent media uploads")
    p.add_argument("--timeout", type=float, default=30.0)


DEFAULT_OFFLINE_AFTER = 5.0  # edge.camera's; repeated so `--help` needs no OpenCV
DEFAULT_DETECTOR_TIMEOUT = 10.0  # edge.watchdog's
CAMERA_NAME_MAX = 120  # the server's camera name length


def camera_spec(text: str) -> tuple[str, str | None]:
    """`NAME` or `NAME=SOURCE` → (name, source or None); argparse turns a ValueError into a usage error."""
    name, sep, source = text.partition("=")
    name, source = name.strip(), source.strip()
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: a camera needs a name (NAME or NAME=SOURCE)")
    if len(name) > CAMERA_NAME_MAX:
        raise argparse.ArgumentTypeError(f"{name[:20]!r}…: a camera name has at most {CAMERA_NAME_MAX} characters")
    if sep and not source:
        raise argparse.ArgumentTypeError(f"{text!r}: no source after '=' (a file, an rtsp:// URL or a device "
                                         "index such as 0)")
    return name, source if sep else None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be between 0 and 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="loupe-edge", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"loupe-edge {edge.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="drain the outbox, send heartbeats and keep the model current")
    _common(run)
    _uploading(run)
    run.add_argument("--token-file", type=Path, required=True, help="file holding the device token")
    run.add_argument("--camera", action="append", default=[], type=camera_spec, metavar="NAME[=SOURCE]",
                     help="a camera (repeatable). NAME=SOURCE reads it (a video file, an RTSP/HTTP URL or a device "
                          "index such as 0; needs the `camera` extra) and runs the active model on its frames; a "
                          "bare NAME is only reported in the heartbeat")
    run.add_argument("--camera-offline-after", type=_positive, default=DEFAULT_OFFLINE_AFTER, metavar="S",
                     help="seconds without a frame before a camera is reported offline and reopened")
    run.add_argument("--detector-timeout", type=_positive, default=DEFAULT_DETECTOR_TIMEOUT, metavar="S",
                     help="seconds one frame's inference may take before the watchdog kills and restarts the "
                          "detector")
    run.add_argument("--review-below", type=_fraction, default=0.5, metavar="SCORE",
                     help="capture a frame for review when a detection scores under this (low_confidence)")
    run.add_argument("--audit-rate", type=_fraction, default=0.01, metavar="SHARE",
                     help="share of the other inferred frames captured anyway (audit_sample)")
    run.add_argument("--heartbeat-every", type=float, default=60.0, help="seconds")
    run.add_argument("--model-every", type=float, default=300.0, help="seconds between model checks")
    run.add_argument("--keep-days", type=float, default=7.0, help="days to keep sent/rejected events")
    run.add_argument("--once", action="store_true",
                     help="one heartbeat and model check, then drain until the outbox is empty, and exit")

    enqueue = sub.add_parser("enqueue", help="queue one event (JSON), with its media file if it has one")
    _common(enqueue)
    enqueue.add_argument("--event", type=Path, required=True, help="event JSON file, or - for stdin")
    enqueue.add_argument("--media", type=Path, help="the frame or clip; its sha256 becomes the event's asset")

    status = sub.add_parser("status", help="print the outbox's counts and the active model as JSON")
    _common(status)

    sim = sub.add_parser("simulate", help="render synthetic frames, queue prediction events and drain them")
    _uploading(sim)
    sim.add_argument("--data-dir", type=Path, help="default: a temporary folder")
    sim.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET / 1024**2)
    sim.add_argument("--token", required=True, help="the device token")
    sim.add_argument("--frames", type=int, default=100)
    sim.add_argument("--kind", choices=["store", "bus"], default="store")
    sim.add_argument("--camera", default="door-1", help="one of the device's cameras")
    sim.add_argument("--width", type=int, default=320)
    sim.add_argument("--height", type=int, default=240)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--run-id", default=None, help="event id prefix (default: the start time); the same "
                     "run id and data dir replay as duplicates")
    args = parser.parse_args(argv)
    if args.command == "run":
        names = [name for name, _ in args.camera]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            run.error(f"--camera: {', '.join(repeated)} given more than once")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s loupe-edge %(levelname)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "run":
            return run(args)
        if args.command == "enqueue":
            return enqueue(args)
        if args.command == "status":
            return status(args)
        return simulate(args)
    except AuthError as exc:
        print(f"loupe-edge: stopped: {exc}", file=sys.stderr)
        return EXIT_AUTH
    except KeyboardInterrupt:  # Ctrl-C (or SIGINT from a supervisor): the cameras and detector were stopped
        log.info("stopped")
        return 0


def _open(args: argparse.Namespace) -> DeviceState:
    return DeviceState.open(args.data_dir, budget_bytes=int(args.budget_mb * 1024**2))


def run(args: argparse.Namespace) -> int:
    """The device loop: heartbeat and model check when due, drain the outbox in between."""
    token = args.token_file.read_text().strip()
    sources = {name: source for name, source in args.camera if source is not None}
    if sources and not _camera_extra_installed():
        print("loupe-edge: --camera NAME=SOURCE needs the camera extra: pip install 'loupe-edge[camera]'",
              file=sys.stderr)
        return 1
    state = _open(args)
    health = Health(state.data_dir, cameras=[{"name": n, "status": "ok"} for n, s in args.camera if s is None])
    pipeline = _start_pipeline(args, state, sources) if sources and not args.once else None
    if pipeline is not None:
        health.telemetry = pipeline.health
    try:
        return _serve(args, token, state, health)
    finally:
        if pipeline is not None:
            pipeline.stop()
        state.close()


def _camera_extra_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("numpy", "cv2", "onnxruntime"))


def _start_pipeline(args: argparse.Namespace, state: DeviceState, sources: dict[str, str]) -> Any:
    """The camera loop beside the uploader (its own threads; the detector in a child process)."""
    from edge.camera import Camera, opencv_factory, parse_source  # lazy: the `camera` extra
    from edge.pipeline import Pipeline, ReviewPolicy
    from edge.watchdog import WatchedDetector

    cameras = [Camera(name, opencv_factory(parse_source(source)), offline_after=args.camera_offline_after)
               for name, source in sources.items()]
    detector = WatchedDetector(state.models.active_link, timeout=args.detector_timeout, count=state.outbox.bump)
    log.info("reading %d camera(s): %s", len(cameras), ", ".join(sources))
    return Pipeline(cameras, detector, outbox=state.outbox, spool=state.spool, models=state.models,
                    policy=ReviewPolicy(below=args.review_below, audit_rate=args.audit_rate)).start()


def _serve(args: argparse.Namespace, token: str, state: DeviceState, health: Health) -> int:
    with http_client(args.server, token, timeout=args.timeout) as http:
        uploader = Uploader(http=http, outbox=state.outbox, spool=state.spool, batch_size=args.batch_size,
                            head_min_bytes=args.head_min_bytes, upload_workers=args.upload_workers)
        next_heartbeat = next_model_check = 0.0
        while True:
            now = time.time()
            if now >= next_heartbeat:
                next_heartbeat = now + args.heartbeat_every
                state.outbox.forget_finished(before=now - args.keep_days * 86400)
                desired = _heartbeat(http, health, state)
                if desired is not None and desired != state.models.active_sha256:
                    next_model_check = now
            if now >= next_model_check:
                next_model_check = now + args.model_every
                _check_model(http, state)
            report = uploader.drain(deadline=None if args.once else min(next_heartbeat, next_model_check))
            if report.sent or report.rejected or report.failures or report.probes:
                log.info("sent %d, rejected %d, transient failures %d, probes %d, pending %d%s", report.sent,
                         report.rejected, report.failures, report.probes, state.outbox.depth(),
                         "" if uploader.link.up else " (the server is unreachable: probing)")
            if args.once:
                return 0
            wait = min(next_heartbeat, next_model_check) - time.time()
            if wait > 0 and state.outbox.depth() == 0:
                time.sleep(min(wait, 1.0))  # new events are picked up within a second


def _heartbeat(http: Any, health: Health, state: DeviceState) -> str | None:
    try:
        answer = send_heartbeat(http, health.build(outbox=state.outbox, models=state.models))
    except TransientError as exc:
        log.warning("heartbeat failed: %s", exc)
        return None
    return answer.desired_model["sha256"] if answer.desired_model else None


def _check_model(http: Any, state: DeviceState) -> None:
    try:
        result = state.models.check_for_update(http)
    except (TransientError, ModelCorrupt) as exc:
        log.warning("model update failed (the active model stays): %s", exc)
        return
    if result.status == "updated":
        log.info("model %s is now active", result.sha256)


def enqueue(args: argparse.Namespace) -> int:
    raw = sys.stdin.read() if str(args.event) == "-" else args.event.read_text()
    event = json.loads(raw)
    state = _open(args)
    try:
        media = args.media.read_bytes() if args.media else None
        new = capture(outbox=state.outbox, spool=state.spool, event=event, media=media)
    except SpoolFull as exc:
        print(f"loupe-edge: {exc}", file=sys.stderr)
        return 1
    finally:
        state.close()
    print("queued" if new else "already queued")
    return 0


def status(args: argparse.Namespace) -> int:
    state = _open(args)
    try:
        print(json.dumps({**state.outbox.counts(), "spool_bytes": state.spool.used_bytes,
                          "active_model": state.models.active_sha256}))
    finally:
        state.close()
    return 0


def simulated_events(*, kind: str, frames: int, camera: str, width: int, height: int, seed: int,
                     run_id: str) -> Any:
    """Yield (event, jpeg) for `frames` synthetic scenes with what a jittered field detector would report."""
    # Lazy: numpy/OpenCV and the scene generator are only needed to simulate, never on a device.
    from loupe_synthetic.field_model import field_reason, simulate_detections
    from loupe_synthetic.scenes import encode_jpeg, render_scene

    model = {"name": "field-sim", "version": "1", "sha256": "0" * 64}
    for i in range(frames):
        base = (seed * 1_000_000 + i) * 3  # three independent draws per frame: scene, detector, reason
        frame = render_scene(kind, base, width=width, height=height)  # type: ignore[arg-type]
        detections = simulate_detections(frame.boxes, frame.meta, base + 1)
        event: dict[str, Any] = {
            "id": f"sim-{kind}-{run_id}-{i:06d}", "type": "prediction",
            "captured_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "camera": camera, "frame_index": 0, "model": model, "detections": detections,
            "context": {"simulated": kind, "lighting": frame.meta.lighting, "crowd": frame.meta.crowd},
        }
        reason = field_reason(detections, frame.meta, base + 2)
        if reason is not None:
            event["reason"] = reason
        yield event, encode_jpeg(frame.image)


def simulate(args: argparse.Namespace) -> int:
    """Render, queue and drain; print what was sent and how fast."""
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="loupe-edge-sim-"))
    state = DeviceState.open(data_dir, budget_bytes=int(args.budget_mb * 1024**2))
    run_id = args.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        started = time.perf_counter()
        queued = 0
        for event, jpeg in simulated_events(kind=args.kind, frames=args.frames, camera=args.camera,
                                            width=args.width, height=args.height, seed=args.seed, run_id=run_id):
            queued += capture(outbox=state.outbox, spool=state.spool, event=event, media=jpeg)
        rendered = time.perf_counter()
        with http_client(args.server, args.token, timeout=args.timeout) as http:
            uploader = Uploader(http=http, outbox=state.outbox, spool=state.spool, batch_size=args.batch_size,
                                head_min_bytes=args.head_min_bytes, upload_workers=args.upload_workers)
            report = uploader.drain()
        drained = time.perf_counter()
        summary = {"data_dir": str(data_dir), "queued": queued, "sent": report.sent, "rejected": report.rejected,
                   "transient_failures": report.failures, "probes": report.probes,
                   "media_uploaded": report.media_uploaded,
                   "pending": state.outbox.depth(), "render_s": round(rendered - started, 3),
                   "drain_s": round(drained - rendered, 3),
                   "events_per_s": round(report.sent / max(drained - rendered, 1e-9), 1)}
        print(json.dumps(summary))
    finally:
        state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
