#!/usr/bin/env python3
"""Frontend benchmark: the browser app in Debian's Chromium (Playwright) against the real server.

  switch   time from pressing submit (`s`) on an item to the next item's image drawn on the canvas, over
           --items items of 1280×720 synthetic store scenes (OpenCV): submit, claim, fetch + decode, mount,
           fit, draw. Measured inside the page from the app's marks (`window.__loupePerf`, src/perf.ts):
           "drawn" is the base layer's drawImage of the new image, "presented" the animation frame after it
           (the paint that shows it). Target: presented p50 and p95 ≤ 150 ms.
  drag     one box dragged across an image with --boxes model boxes (a real mouse drag, Playwright's
           page.mouse). Per pointer move, the main-thread work it causes (pointer handler + reducer + Preact
           render + canvas redraw), from a capture-phase listener to a MessageChannel message queued behind
           it; also the app's own redraw time and the animation-frame intervals. Target: p95 ≤ 16 ms.
  bundle   gzipped size of frontend/dist's JavaScript (level 9). Target: ≤ 300 kB.

    make frontend && .venv/bin/python bench/frontend.py
    .venv/bin/python bench/frontend.py --items 60 --boxes 500
    .venv/bin/python bench/frontend.py --smoke   # tiny sizes, seconds: does the bench still run?

Starts its own uvicorn on a dedicated database whose name must contain "bench" (default
loupe_bench_frontend; created if missing, migrated, a fresh project per run). Results go to
bench/results/frontend-<ts>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import httpx  # noqa: E402
import orjson  # noqa: E402
from harness import (  # noqa: E402  (bench/ is on sys.path when a bench runs as a script)
    BenchFailure,
    Server,
    ensure_database,
    free_ports,
    git,
    parse_args_with_smoke,
    results_path,
    smoke_database_url,
    start_server,
    stop_servers,
    uvicorn_argv,
    wait_healthy,
)

TARGET_SWITCH_MS = 150.0  # submit → next image drawn, p50, localhost
TARGET_DRAG_MS = 16.0  # main-thread work per pointer move while dragging one of 500 boxes, p95
TARGET_BUNDLE_KB = 300.0  # gzipped JS
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}
IMAGE_W, IMAGE_H = 1280, 720
PASSWORD = "bench-" + secrets.token_hex(8)
PARTS = (("submit_ms", "POST submit"), ("claim_ms", "POST claim"), ("image_ms", "GET image"),
         ("decode_and_mount_ms", "image received → drawn"))

# Per pointer move on the canvas: the work it causes, up to a message queued behind it (after the handler,
# Preact's microtask render and the layout effect that redraws the canvas). Also the animation frames.
DRAG_PROBE_JS = """() => {
  const canvas = document.querySelector('[data-testid=editor-canvas]');
  const probe = { work: [], frames: [], running: true };
  const channel = new MessageChannel();
  const pending = [];
  channel.port1.onmessage = () => { const t0 = pending.shift(); if (t0 !== undefined) probe.work.push(performance.now() - t0); };
  canvas.addEventListener('pointermove', () => { pending.push(performance.now()); channel.port2.postMessage(0); },
                          { capture: true });
  const tick = (t) => { probe.frames.push(t); if (probe.running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.__dragProbe = probe;
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/loupe_bench_frontend",
                   help="PostgreSQL URL of a dedicated bench database (name must contain 'bench')")
    p.add_argument("--items", type=int, default=40, help="items for the submit → next image timing (≥ 30)")
    p.add_argument("--warmup", type=int, default=3, help="first switches left out of the figures (default 3)")
    p.add_argument("--boxes", type=int, default=500, help="boxes on the drag image (default 500)")
    p.add_argument("--drag-steps", type=int, default=150, help="pointer moves per drag (two drags)")
    p.add_argument("--port", type=int, default=8790, help="server port (default 8790)")
    p.add_argument("--chromium", default=os.environ.get("LOUPE_CHROMIUM", "/usr/bin/chromium"))
    args = parse_args_with_smoke(p, argv, lambda: {
        "database_url": smoke_database_url("frontend"), "items": 4, "warmup": 1, "boxes": 50, "drag_steps": 10,
        "port": free_ports(1)})
    if "bench" not in urlsplit(args.database_url).path:
        p.error("refusing a database whose name does not contain 'bench'")
    if not args.smoke and args.items < args.warmup + 30:
        p.error(f"--items must be at least {args.warmup + 30} (30 measured switches after the warm-up)")
    return args


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(pct(values, 50), 2), "p95": round(pct(values, 95), 2),
            "max": round(max(values), 2) if values else float("nan"),
            "mean": round(statistics.fmean(values), 2) if values else float("nan")}


# --- data ------------------------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A throwaway key per run (settings refuse a missing one outside local development).
    os.environ.setdefault("LOUPE_SECRET_KEY", "bench-" + secrets.token_hex(32))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def make_project(run: str, name: str, username: str) -> tuple[int, str]:
    """A fresh project (no QA sampling) with a device and an annotator who signs in with PASSWORD."""
    from django.contrib.auth.models import User

    from annotations.models import Membership, Project, Role
    from annotations.services import create_device

    project = Project.objects.create(slug=f"bench-frontend-{name}-{run}", name=f"Frontend bench ({name})",
                                     label_classes=["person", "bag"], qa_sample_rate=0.0)
    issued = create_device(project=project, site_name="Bench St", camera_names=["door-1"])
    user = User.objects.filter(username=username).first() or User.objects.create_user(username)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    return project.pk, issued.token


def seed_items(base_url: str, token: str, scenes: list[tuple[bytes, list[list[float]]]], run: str) -> int:
    """Upload each image and send its prediction event through the device API, as a device would; returns how
    many the routing policy queued for review (a scene whose model boxes look certain may not be)."""
    import hashlib

    headers = {"Authorization": f"Bearer {token}"}
    events = []
    queued = 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for i, (body, boxes) in enumerate(scenes):
            sha = hashlib.sha256(body).hexdigest()
            client.put(f"/api/v1/media/{sha}", content=body,
                       headers={**headers, "Content-Type": "image/jpeg"}).raise_for_status()
            events.append({
                "id": f"{run}-{i}", "type": "prediction", "captured_at": datetime.now(UTC).isoformat(),
                "camera": "door-1", "asset": sha, "frame_index": 0, "reason": "low_confidence",
                "model": {"name": "people-det", "version": "3", "sha256": "0" * 64},
                "detections": [{"label": "person", "score": 0.41, "box": b, "track_id": j} for j, b in enumerate(boxes)],
            })
        for start in range(0, len(events), 100):
            results = client.post("/api/v1/events", json={"events": events[start:start + 100]},
                                  headers=headers).json()["results"]
            bad = [r for r in results if r["status"] != "created"]
            if bad:
                raise BenchFailure(f"events refused: {bad[:3]}")
            queued += sum(1 for r in results if r.get("review_item"))
    return queued


def store_scenes(n: int, run_seed: int) -> list[tuple[bytes, list[list[float]]]]:
    from loupe_synthetic.scenes import encode_jpeg, render_scene

    out = []
    for i in range(n):
        frame = render_scene("store", run_seed + i, width=IMAGE_W, height=IMAGE_H, crowd=3 + i % 5)
        out.append((encode_jpeg(frame.image), [list(b.box) for b in frame.boxes]))
    return out


def crowded_scene(boxes: int, run_seed: int) -> tuple[bytes, list[list[float]]]:
    """One image with `boxes` boxes on a grid (the first one apart, on the left, to be dragged)."""
    from loupe_synthetic.scenes import encode_jpeg, render_scene

    frame = render_scene("store", run_seed, width=IMAGE_W, height=IMAGE_H, crowd=6)
    grid = [[40.0, 300.0, 60.0, 140.0]]
    cols = 25
    for k in range(boxes - 1):
        r, c = divmod(k, cols)
        grid.append([200.0 + c * 42.0, 20.0 + r * 34.0, 36.0, 30.0])
    return encode_jpeg(frame.image), grid


# --- browser ---------------------------------------------------------------------------------------


def sign_in(page: Any, username: str) -> None:
    page.goto("/#/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("project-list").wait_for()


def claim_first(page: Any, project: int) -> None:
    page.goto(f"/#/projects/{project}/work")
    page.get_by_test_id("claim-button").click()
    page.wait_for_function("() => (window.__loupePerf?.baseDraws || []).some(d => d.frameAt !== undefined)")


def measure_switches(page: Any, project: int, items: int) -> list[dict[str, float]]:
    """Submit item after item; per switch: ms from submit to the next image drawn and presented."""
    claim_first(page, project)
    for _ in range(items - 1):
        page.keyboard.press("s")
        page.wait_for_function("""() => { const p = window.__loupePerf; const s = p.submits[p.submits.length - 1];
            return s && p.baseDraws.some(d => d.at > s.at && d.src !== s.src && d.frameAt !== undefined); }""")
    page.get_by_test_id("box-list").wait_for()
    log = page.evaluate("() => window.__loupePerf")
    resources = page.evaluate("""() => performance.getEntriesByType('resource').map(
        r => ({ name: r.name, start: r.startTime, end: r.responseEnd }))""")
    switches = []
    for s in log["submits"]:
        nxt = next((d for d in log["baseDraws"] if d["at"] > s["at"] and d["src"] != s["src"]), None)
        if nxt is None or "frameAt" not in nxt:
            raise BenchFailure(f"no draw of a new image after the submit at {s['at']:.1f} ms")
        row = {"drawn_ms": nxt["at"] - s["at"], "presented_ms": nxt["frameAt"] - s["at"]}
        # Where the time goes: the three requests of a switch (Resource Timing), in order.
        during = [r for r in resources if s["at"] <= r["start"] <= nxt["at"]]
        for key, needle in (("submit_ms", "/submit"), ("claim_ms", "/queue/claim"), ("image_ms", "/api/v1/assets/")):
            hit = next((r for r in during if needle in r["name"]), None)
            if hit is not None:
                row[key] = hit["end"] - hit["start"]
        image = next((r for r in during if "/api/v1/assets/" in r["name"]), None)
        if image is not None:
            row["decode_and_mount_ms"] = nxt["at"] - image["end"]  # decode, the submit if slower, mount, fit, draw
        switches.append(row)
    return switches


def measure_drag(page: Any, project: int, steps: int) -> dict[str, Any]:
    """Drag the lone box on the left across the image and back; per-move work, redraws and frame intervals."""
    page.evaluate("() => { if (window.__loupePerf) window.__loupePerf.baseDraws.length = 0; }")
    claim_first(page, project)
    canvas = page.get_by_test_id("editor-canvas")
    page.wait_for_function("""() => { const c = document.querySelector('[data-testid=editor-canvas]');
        return c.width === Math.round(c.getBoundingClientRect().width * (window.devicePixelRatio || 1)); }""")
    box = canvas.bounding_box()
    scale = min(box["width"] / IMAGE_W, box["height"] / IMAGE_H) * 0.98
    left = box["x"] + (box["width"] - IMAGE_W * scale) / 2
    top = box["y"] + (box["height"] - IMAGE_H * scale) / 2
    start = (left + 70 * scale, top + 370 * scale)  # the middle of the lone box [40, 300, 60, 140]
    end = (left + 1150 * scale, top + 600 * scale)
    page.evaluate(DRAG_PROBE_JS)
    redraws_before = page.evaluate("() => window.__loupePerf.redraws.length")
    t0 = time.perf_counter()
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.move(*start, steps=steps)
    page.mouse.up()
    wall = time.perf_counter() - t0
    if not page.get_by_test_id("undo").is_enabled():
        raise BenchFailure("the drag did not move the box (nothing to undo)")
    probe = page.evaluate("""(n) => { const p = window.__dragProbe; p.running = false;
        return { work: p.work, frames: p.frames, redraws: window.__loupePerf.redraws.slice(n) }; }""",
                          redraws_before)
    listed = page.get_by_test_id("box-list").locator("li").count()
    intervals = [b - a for a, b in zip(probe["frames"], probe["frames"][1:], strict=False)]
    return {"work": probe["work"], "redraws": probe["redraws"], "frame_intervals": intervals,
            "wall_s": wall, "list_rows": listed}


def bundle_size() -> dict[str, Any]:
    assets = ROOT / "frontend" / "dist" / "assets"
    js = sorted(assets.glob("*.js"))
    if not js:
        raise BenchFailure("frontend/dist has no JavaScript: run `make frontend` first")
    files = {p.name: {"bytes": p.stat().st_size, "gzip": len(gzip.compress(p.read_bytes(), 9))} for p in js}
    css = sum(len(gzip.compress(p.read_bytes(), 9)) for p in assets.glob("*.css"))
    return {"files": files, "js_gzip_kb": round(sum(f["gzip"] for f in files.values()) / 1000, 2),
            "css_gzip_kb": round(css / 1000, 2)}


def environment(chromium_version: str) -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain")),
            "python": platform.python_version(), "cpu": cpu, "cpus": os.cpu_count(),
            "chromium": chromium_version, "headless": True, "gpu": False, "viewport": VIEWPORT,
            "redis": bool(os.environ.get("REDIS_URL"))}


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else f"MISS (+{value - target:.1f})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.access(args.chromium, os.X_OK):
        raise BenchFailure(f"no Chromium at {args.chromium}: apt-get install -y chromium")
    bundle = bundle_size()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_seed = int(time.time()) % 100_000 * 100
    switch_project, switch_token = make_project(run, "switch", "bench-frontend-annotator")
    drag_project, drag_token = make_project(run, "drag", "bench-frontend-annotator")
    from django.db import connections

    connections.close_all()

    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="loupe-bench-frontend-") as tmp:
        media = Path(tmp) / "media"
        env = {"DATABASE_URL": args.database_url, "MEDIA_STORAGE": str(media),
               "LOUPE_UPLOAD_TMP_DIR": str(media / ".upload-tmp"), "LOUPE_STATIC_FINDERS": "true",
               "REQUIRE_POSTGRES": "1"}
        try:
            start_server(uvicorn_argv(args.port), args.port, env, Path(tmp) / "server.log", servers)
            wait_healthy(servers[0])
            base_url = f"http://127.0.0.1:{args.port}"
            print(f"seeding {args.items} scenes of {IMAGE_W}×{IMAGE_H} and one with {args.boxes} boxes …", flush=True)
            queued = 0
            while queued < args.items:  # the policy skips a scene now and then: add scenes until enough queue
                scenes = store_scenes(args.items - queued, run_seed + 1000 * queued)
                queued += seed_items(base_url, switch_token, scenes, f"{run}-s{queued}")
            if seed_items(base_url, drag_token, [crowded_scene(args.boxes, run_seed + 99_999)], run + "-d") != 1:
                raise BenchFailure("the drag image was not queued")

            from playwright.sync_api import sync_playwright

            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
                try:
                    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
                    context.set_default_timeout(30_000)
                    page = context.new_page()
                    sign_in(page, "bench-frontend-annotator")
                    print("measuring submit → next image …", flush=True)
                    switches = measure_switches(page, switch_project, args.items)[args.warmup:]
                    print("measuring a drag among boxes …", flush=True)
                    drag = measure_drag(page, drag_project, args.drag_steps)
                    chromium_version = browser.version
                finally:
                    browser.close()
        finally:
            stop_servers(servers)

    drawn = summary([s["drawn_ms"] for s in switches])
    presented = summary([s["presented_ms"] for s in switches])
    parts = {key: summary([s[key] for s in switches if key in s]) for key, _ in PARTS}
    work = summary(drag["work"])
    redraws = summary(drag["redraws"])
    frames = summary(drag["frame_intervals"])
    rows = [
        ("submit → next image presented, p50 (ms)", TARGET_SWITCH_MS, presented["p50"]),
        ("  same, p95 (ms)", TARGET_SWITCH_MS, presented["p95"]),
        ("  submit → drawImage of it, p50 / p95 (ms)", None, f"{drawn['p50']} / {drawn['p95']}"),
        *[(f"    of which {name}, p50 (ms)", None, parts[key]["p50"]) for key, name in PARTS if parts[key]["n"]],
        (f"drag among {args.boxes} boxes: work per move, p95 (ms)", TARGET_DRAG_MS, work["p95"]),
        ("  same, p50 (ms)", None, work["p50"]),
        ("  canvas redraw per move, p50 / p95 (ms)", None, f"{redraws['p50']} / {redraws['p95']}"),
        ("  animation frame interval, p50 / p95 (ms)", None, f"{frames['p50']} / {frames['p95']}"),
        ("bundle: gzipped JS (kB)", TARGET_BUNDLE_KB, bundle["js_gzip_kb"]),
    ]
    print()
    print(f"{'measure':<52} {'target':>8} {'figure':>14}  result")
    for name, target, value in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        result = verdict(float(value), target) if target is not None else ""
        print(f"{name:<52} {'≤ ' + format(target, 'g') if target else '':>8} {shown:>14}  {result}")
    print(f"({len(switches)} switches after {args.warmup} warm-up; {work['n']} pointer moves, "
          f"{drag['list_rows']} box rows listed)")

    out = results_path("frontend", run, args.smoke)
    out.write_bytes(orjson.dumps({
        "bench": "frontend", "at": run, "environment": environment(chromium_version),
        "args": {k: v for k, v in vars(args).items() if k != "database_url"},
        "targets": {"switch_presented_p50_and_p95_ms": TARGET_SWITCH_MS, "drag_work_p95_ms": TARGET_DRAG_MS,
                    "bundle_js_gzip_kb": TARGET_BUNDLE_KB},
        "switch": {"drawn_ms": drawn, "presented_ms": presented, "parts_ms": parts, "samples": switches},
        "drag": {"work_ms": work, "redraw_ms": redraws, "frame_interval_ms": frames, "wall_s": round(drag["wall_s"], 2),
                 "samples": drag["work"]},
        "bundle": bundle,
        "pass": {"switch": presented["p95"] <= TARGET_SWITCH_MS, "drag": work["p95"] <= TARGET_DRAG_MS,
                 "bundle": bundle["js_gzip_kb"] <= TARGET_BUNDLE_KB},
    }, option=orjson.OPT_INDENT_2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
