"""Pre-label throughput: `Detector.detect` end to end against a bare `session.run`, and NMS against a loop.

On the same frames (synthetic store/bus scenes, JPEG quality 85, 640×360), for 1 and 2 intra-op threads:
- raw: `session.run` on tensors letterboxed beforehand, at the model's native input size (the floor);
- end to end: `Detector.detect_timed(jpeg)`, with its stages (JPEG decode, letterbox, inference,
  decode + NMS + back to pixels) timed apart;
- throughput: frames/s of one stream, and of two threads sharing one session (one intra-op thread each).
Then NMS alone on 8,400 candidates (the YOLOv8 head at 640: 80² + 40² + 20²), against a plain-Python
greedy loop on the same boxes (results must be identical).

Targets: end-to-end overhead over raw inference ≤ 15 %, NMS of 8,400 candidates ≤ 2 ms.
Rounds alternate the order of raw and end to end; figures are medians. Results: bench/results/prelabel-<UTC>.json.

    .venv/bin/python bench/prelabel.py [--model activelearning/demo/people-detector.onnx] [--frames 60]
    .venv/bin/python bench/prelabel.py --smoke   # tiny sizes, seconds: does the bench still run?
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activelearning.registry.detector import Detector, StageTimes  # noqa: E402
from bench.harness import ROOT, git, parse_args_with_smoke, results_path  # noqa: E402
from loupe_synthetic.scenes import encode_jpeg, render_scene  # noqa: E402
from loupe_vision.geometry import decode_yolo, letterbox, nms  # noqa: E402

OVERHEAD_TARGET = 0.15
NMS_TARGET_MS = 2.0
CANDIDATES = 8_400


def reference_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float,
                  max_det: int) -> list[int]:
    """The textbook greedy loop in plain Python (the baseline, and the answer `nms` must give)."""
    b = boxes.tolist()
    s = scores.tolist()
    c = classes.tolist()
    order = sorted(range(len(s)), key=lambda i: -s[i])
    area = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in b]
    suppressed = [False] * len(s)
    keep: list[int] = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_det:
            break
        x1, y1, x2, y2 = b[i]
        for j in order[rank + 1 :]:
            if suppressed[j] or c[j] != c[i]:
                continue
            bx1, by1, bx2, by2 = b[j]
            inter = max(0.0, min(x2, bx2) - max(x1, bx1)) * max(0.0, min(y2, by2) - max(y1, by1))
            union = area[i] + area[j] - inter
            if union > 0 and inter / union > iou_threshold:
                suppressed[j] = True
    return keep


def head_candidates(seed: int, objects: int = 25, classes: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8,400 candidates as a detector head gives them at a low threshold: around each object many cells
    predict jittered boxes whose score falls with their error; the rest is low-score background."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform([40, 100], [600, 330], (objects, 2))
    size = rng.uniform([20, 60], [80, 240], (objects, 2))
    truth = np.concatenate([centre - size / 2, centre + size / 2], 1)
    on_objects = int(CANDIDATES * 0.7)
    pick = rng.integers(0, objects, on_objects)
    error = rng.normal(0, 0.12, (on_objects, 4))
    near = truth[pick] + error * np.repeat(size[pick], 2, axis=1)
    near_scores = np.clip(0.95 - np.abs(error).mean(1) * 3 + rng.normal(0, 0.05, on_objects), 0.001, 1)
    rest = CANDIDATES - on_objects
    bg_centre = rng.uniform([0, 0], [640, 360], (rest, 2))
    bg_size = rng.uniform([8, 16], [120, 240], (rest, 2))
    background = np.concatenate([bg_centre - bg_size / 2, bg_centre + bg_size / 2], 1)
    boxes = np.concatenate([near, background]).astype(np.float32)
    scores = np.concatenate([near_scores, rng.uniform(0.001, 0.2, rest)]).astype(np.float32)
    labels = rng.integers(0, classes, CANDIDATES)
    return boxes, scores, labels


def time_ms(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def bench_nms(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, classes in (("one class", 1), ("80 classes", 80)):
        boxes, scores, labels = head_candidates(7, classes=classes)
        kept = nms(boxes, scores, labels, iou_threshold=args.iou, max_det=args.max_det)
        expected = reference_nms(boxes, scores, labels, args.iou, args.max_det)
        if kept.tolist() != expected:
            raise SystemExit(f"nms disagrees with the reference loop ({name})")
        ours = time_ms(lambda b=boxes, s=scores, c=labels: nms(b, s, c, iou_threshold=args.iou,
                                                                max_det=args.max_det), args.nms_repeat)
        loop = time_ms(lambda b=boxes, s=scores, c=labels: reference_nms(b, s, c, args.iou, args.max_det),
                       args.loop_repeat)
        results[name] = {"candidates": CANDIDATES, "kept": len(expected), "nms_ms_median": statistics.median(ours),
                         "nms_ms_p90": float(np.percentile(ours, 90)), "loop_ms_median": statistics.median(loop),
                         "speedup": statistics.median(loop) / statistics.median(ours)}
    # decode of a COCO-sized head (80 classes) at a low threshold, as in evaluation
    head = np.random.default_rng(3).random((1, 84, CANDIDATES), dtype=np.float32) * 0.02
    results["decode_80_classes_ms_median"] = statistics.median(
        time_ms(lambda: decode_yolo(head, conf_threshold=0.01, num_classes=80), args.nms_repeat))
    return results


def bench_real_nms(args: argparse.Namespace, jpegs: list[bytes]) -> dict[str, Any]:
    """NMS on the demo detector's own candidates for the bench frames, at the evaluation threshold (0.001)
    and at the operating one: what the pre-label task really feeds it."""
    detector = Detector(args.model)
    heads = [detector.run(letterbox(detector.decode_image(j), detector.imgsz)[0]) for j in jpegs]
    out: dict[str, Any] = {}
    for conf in (0.001, args.conf):
        decoded = [decode_yolo(h, conf_threshold=conf, num_classes=len(detector.class_names)) for h in heads]
        ms = []
        for boxes, scores, classes in decoded:
            ms += time_ms(lambda b=boxes, s=scores, c=classes: nms(b, s, c, iou_threshold=args.iou,
                                                                    max_det=args.max_det), 5)
        out[str(conf)] = {"candidates_mean": statistics.fmean(len(d[1]) for d in decoded),
                          "nms_ms_median": statistics.median(ms)}
    return out


def frames(count: int) -> list[bytes]:
    return [encode_jpeg(render_scene("store" if k % 2 else "bus", 5000 + k, layout=k % 8).image)
            for k in range(count)]


def raw_pass(detector: Detector, tensors: list[np.ndarray]) -> list[float]:
    return [time_ms(lambda t=t: detector.run(t), 1)[0] for t in tensors]


def e2e_pass(detector: Detector, jpegs: list[bytes]) -> tuple[list[float], list[StageTimes]]:
    walls, stages = [], []
    for jpeg in jpegs:
        t = time.perf_counter()
        _, times = detector.detect_timed(jpeg)
        walls.append((time.perf_counter() - t) * 1e3)
        stages.append(times)
    return walls, stages


def shared_session_fps(detector: Detector, jpegs: list[bytes], workers: int) -> float:
    """Frames/s with `workers` threads calling detect on one shared session (as a threaded worker would)."""
    chunks = [jpegs[i::workers] for i in range(workers)]

    def work(chunk: list[bytes]) -> None:
        for jpeg in chunk:
            detector.detect(jpeg)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(jpegs) / (time.perf_counter() - t)


def bench_detector(args: argparse.Namespace, jpegs: list[bytes], threads: int) -> dict[str, Any]:
    detector = Detector(args.model, intra_op_threads=threads, conf_threshold=args.conf, iou_threshold=args.iou,
                        max_det=args.max_det)
    tensors = [letterbox(detector.decode_image(j), detector.imgsz)[0] for j in jpegs]
    for _ in range(2):  # warm up: first runs allocate
        raw_pass(detector, tensors[:5])
        e2e_pass(detector, jpegs[:5])
    raw_all: list[float] = []
    e2e_all: list[float] = []
    stages_all: list[StageTimes] = []
    rounds = []
    for r in range(args.rounds):
        if r % 2 == 0:
            raw = raw_pass(detector, tensors)
            e2e, stages = e2e_pass(detector, jpegs)
        else:
            e2e, stages = e2e_pass(detector, jpegs)
            raw = raw_pass(detector, tensors)
        rounds.append({"raw_ms_median": statistics.median(raw), "e2e_ms_median": statistics.median(e2e)})
        raw_all += raw
        e2e_all += e2e
        stages_all += stages
    raw_med, e2e_med = statistics.median(raw_all), statistics.median(e2e_all)
    result: dict[str, Any] = {
        "intra_op_threads": threads,
        "raw_ms_median": raw_med,
        "raw_ms_mean": statistics.fmean(raw_all),
        "e2e_ms_median": e2e_med,
        "e2e_ms_mean": statistics.fmean(e2e_all),
        "overhead_median": e2e_med / raw_med - 1,
        "overhead_mean": statistics.fmean(e2e_all) / statistics.fmean(raw_all) - 1,
        # what detect() adds when handed BGR pixels instead of a JPEG (the JPEG decode taken out)
        "overhead_without_jpeg_median": statistics.median(w - s.decode_ms for w, s in zip(e2e_all, stages_all,
                                                                                          strict=True)) / raw_med - 1,
        "stages_ms_median": {name: statistics.median(getattr(s, name) for s in stages_all)
                             for name in ("decode_ms", "letterbox_ms", "inference_ms", "postprocess_ms")},
        "fps_one_stream": 1e3 / statistics.fmean(e2e_all),
        "raw_fps": 1e3 / statistics.fmean(raw_all),
        "rounds": rounds,
    }
    if threads == 1:
        result["fps_two_threads_shared_session"] = shared_session_fps(detector, jpegs * 2, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "activelearning" / "demo" / "people-detector.onnx")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.5)
    p.add_argument("--max-det", type=int, default=300)
    p.add_argument("--nms-repeat", type=int, default=200)
    p.add_argument("--loop-repeat", type=int, default=3, help="timed runs of the plain-Python NMS loop")
    args = parse_args_with_smoke(p, argv, lambda: {"frames": 4, "rounds": 2, "nms_repeat": 5, "loop_repeat": 1})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    env = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": git("rev-parse", "--short", "HEAD"),
           "python": platform.python_version(), "onnxruntime": ort.__version__, "numpy": np.__version__,
           "cpus": os.cpu_count(), "load_before": os.getloadavg(), "model": str(args.model),
           "model_bytes": args.model.stat().st_size}
    print(f"commit {env['commit']}, {env['cpus']} CPUs, load {env['load_before'][0]:.2f}; "
          f"model {args.model.name} ({env['model_bytes'] / 1e6:.2f} MB)")
    nms_results = bench_nms(args)
    for name in ("one class", "80 classes"):
        r = nms_results[name]
        verdict = "PASS" if r["nms_ms_median"] <= NMS_TARGET_MS else "MISS"
        print(f"NMS {CANDIDATES} candidates ({name}, {r['kept']} kept): {r['nms_ms_median']:.2f} ms median "
              f"(p90 {r['nms_ms_p90']:.2f}); Python loop {r['loop_ms_median']:.0f} ms; "
              f"×{r['speedup']:.0f}; target ≤ {NMS_TARGET_MS} ms: {verdict}")
    print(f"decode of a [1, 84, 8400] head: {nms_results['decode_80_classes_ms_median']:.2f} ms")
    jpegs = frames(args.frames)
    nms_results["demo_detector_candidates"] = real = bench_real_nms(args, jpegs)
    for conf, r in real.items():
        print(f"NMS on the demo detector's candidates at conf {conf}: {r['candidates_mean']:.0f} candidates, "
              f"{r['nms_ms_median']:.3f} ms median")
    detectors = []
    for threads in args.threads:
        r = bench_detector(args, jpegs, threads)
        detectors.append(r)
        s = r["stages_ms_median"]
        verdict = "PASS" if r["overhead_median"] <= OVERHEAD_TARGET else "MISS"
        print(f"intra-op {threads}: raw {r['raw_ms_median']:.2f} ms, end to end {r['e2e_ms_median']:.2f} ms "
              f"(decode {s['decode_ms']:.2f} + letterbox {s['letterbox_ms']:.2f} + inference "
              f"{s['inference_ms']:.2f} + decode/NMS {s['postprocess_ms']:.2f}); overhead "
              f"{r['overhead_median'] * 100:.1f} % (mean {r['overhead_mean'] * 100:.1f} %), target ≤ 15 %: {verdict} "
              f"(without the JPEG decode {r['overhead_without_jpeg_median'] * 100:.1f} %); "
              f"{r['fps_one_stream']:.1f} frames/s one stream")
        if "fps_two_threads_shared_session" in r:
            print(f"  two threads on one session (1 intra-op thread each): "
                  f"{r['fps_two_threads_shared_session']:.1f} frames/s")
    env["load_after"] = os.getloadavg()
    out = results_path("prelabel", stamp, args.smoke)
    out.write_text(json.dumps({"environment": env, "args": {k: str(v) for k, v in vars(args).items()},
                               "nms": nms_results, "detector": detectors}, indent=2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
