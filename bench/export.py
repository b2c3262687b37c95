"""Export benchmark: Loupe's streamed COCO and YOLO exports against label-studio-sdk's converter.

A dataset version of 100,000 images × 10 boxes (1,000,000 boxes) is seeded straight into the bench database
with INSERT … SELECT generate_series (once; later runs reuse it). Placeholder images are hard links to one
small 640×480 JPEG, so the archive carries real files without filling the disk.

Each measurement runs in a child process that reports its own wall time and peak RSS (`ru_maxrss`):
- Loupe COCO and YOLO exports, with images and without (`include_images=False`);
- Loupe's Label Studio JSON export (the converter's input), then `label_studio_sdk.converter.Converter`
  converting that JSON to COCO and to YOLO (images are on disk beside the JSON, as the converter expects).

Targets (docs/benchmarks.md): peak RSS ≤ 300 MB for Loupe, and Loupe ≥ 5× faster than the converter doing the
same work: the converter writes annotation files and copies no image (`download_resources=False`), so it is
compared with Loupe's export without images; the with-images ratio is printed beside it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loupe_bench_export .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --smoke   # tiny sizes, seconds: does the bench still run?
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ROOT,
    ensure_database,
    git,
    parse_args_with_smoke,
    results_path,
    smoke_database_url,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/loupe_bench_export"
SLUG = "bench-export"
RSS_TARGET_MB = 300
# A throwaway key per run (settings refuse a short or missing one outside local development).
BENCH_SECRET_KEY = "bench-" + secrets.token_hex(32)
SPEEDUP_TARGET = 5.0


def django_setup(url: str, media: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["MEDIA_STORAGE"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOUPE_SECRET_KEY", BENCH_SECRET_KEY)
    import django

    django.setup()
    from django.conf import settings

    settings.MEDIA_ROOT = str(media)


def seed(url: str, media: Path, images: int, boxes: int, reseed: bool) -> int:
    """The dataset version's id; seeds it the first time (or when its size differs, or when asked)."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from activelearning.datasets.models import DatasetVersion
    from annotations.models import Project

    project = Project.objects.filter(slug=SLUG).first()
    version = DatasetVersion.objects.filter(project=project).first() if project else None
    if not reseed and version and version.stats.get("items") == images and version.stats.get("boxes") == images * boxes:
        _placeholders(media, version.pk)
        return version.pk
    started = time.perf_counter()
    with transaction.atomic():
        project = project or Project.objects.create(slug=SLUG, name="Bench export", label_classes=["person", "bag"],
                                                    retrain_threshold=0)
        user = User.objects.get_or_create(username="bench-annotator")[0]
        with connection.cursor() as cur:
            cur.execute("DELETE FROM activelearning_datasetentry WHERE dataset_version_id IN "
                        "(SELECT id FROM activelearning_datasetversion WHERE project_id = %s)", [project.pk])
            cur.execute("DELETE FROM activelearning_datasetversion WHERE project_id = %s", [project.pk])
            cur.execute("DELETE FROM annotations_annotation WHERE project_id = %s", [project.pk])
            cur.execute("DELETE FROM reviewer_reviewitem WHERE project_id = %s", [project.pk])
            cur.execute("DELETE FROM annotations_asset WHERE file LIKE 'bench-export/%%'")
            cur.execute(
                "INSERT INTO annotations_asset (sha256, kind, content_type, file, size_bytes, width, height, "
                "created_at) SELECT h, 'frame', 'image/jpeg', 'bench-export/' || h || '.jpg', 1000, 640, 480, now() "
                "FROM (SELECT encode(sha256(('bench-' || i)::bytea), 'hex') AS h FROM generate_series(1, %s) i) s",
                [images])
            cur.execute(
                "INSERT INTO reviewer_reviewitem (project_id, asset_id, reason, priority, score_parts, status, "
                "required_overlap, lease_token, created_at, updated_at, annotations_count, last_comment) "
                "SELECT %s, id, 'low_confidence', 0.5, '{}', 'accepted', 1, '', now(), now(), 1, '' "
                "FROM annotations_asset WHERE file LIKE 'bench-export/%%'", [project.pk])
            cur.execute(
                "INSERT INTO annotations_annotation (project_id, asset_id, review_item_id, version, author_id, origin, "
                "boxes, verdict, note, diff, lease_token, submitted_at) "
                "SELECT r.project_id, r.asset_id, r.id, 1, %s, 'person', (SELECT jsonb_agg(jsonb_build_object("
                "'label', CASE WHEN b %% 4 = 0 THEN 'bag' ELSE 'person' END, "
                "'box', jsonb_build_array(10 + b * 50, 20 + (r.id %% 7) * 30, 40.5, 120.25))) "
                "FROM generate_series(0, %s - 1) b), 'correct', '', '{}', '', now() "
                "FROM reviewer_reviewitem r WHERE r.project_id = %s", [user.pk, boxes, project.pk])
            version = DatasetVersion.objects.create(project=project, number=1, content_hash="bench",
                                                    stats={"items": images, "boxes": images * boxes})
            cur.execute(
                "INSERT INTO activelearning_datasetentry (dataset_version_id, asset_id, annotation_id, "
                "review_item_id, split, slices) SELECT %s, a.asset_id, a.id, a.review_item_id, "
                "(ARRAY['train','train','train','train','train','train','train','val','test','test'])"
                "[1 + a.review_item_id %% 10], "
                "jsonb_build_object('site', 'site-' || (a.review_item_id %% 20), 'camera', "
                "'cam-' || (a.review_item_id %% 200)) FROM annotations_annotation a WHERE a.project_id = %s",
                [version.pk, project.pk])
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"seeded {images} images × {boxes} boxes in {time.perf_counter() - started:.1f} s")
    _placeholders(media, version.pk)
    return version.pk


def _placeholders(media: Path, version_id: int) -> None:
    """Every asset file is a hard link to one small JPEG (created if missing)."""
    import cv2
    import numpy as np

    from activelearning.datasets.models import DatasetEntry

    folder = media / "bench-export"
    folder.mkdir(parents=True, exist_ok=True)
    source = media / "placeholder.jpg"
    if not source.exists():
        image = np.full((480, 640, 3), 90, dtype=np.uint8)
        cv2.imwrite(str(source), image, [cv2.IMWRITE_JPEG_QUALITY, 50])
    made = 0
    for n, name in enumerate(DatasetEntry.objects.filter(dataset_version_id=version_id).values_list(
            "asset__file", flat=True).iterator(chunk_size=5000)):
        path = media / name
        if not path.exists():
            # ext4 allows 65,000 links to one inode: one copy of the placeholder per 50,000 files.
            copy = media / f"placeholder-{n // 50_000}.jpg"
            if not copy.exists():
                shutil.copyfile(source, copy)
            os.link(copy, path)
            made += 1
    if made:
        print(f"linked {made} placeholder images")


def child(args: argparse.Namespace) -> None:
    """One measurement, alone in this process; prints {"seconds", "peak_rss_mb", …} as JSON."""
    extra: dict[str, Any] = {}
    if args.child == "loupe":
        django_setup(args.db, Path(args.media))
        from activelearning.datasets.exports import write_archive
        from activelearning.datasets.models import DatasetVersion, ExportJob

        started = time.perf_counter()  # the work only: not the interpreter's and Django's start
        job = ExportJob(dataset_version=DatasetVersion.objects.select_related("project").get(pk=args.version),
                        format=args.format, archive="zip", include_images=args.include_images)
        job.pk = 0
        with open(args.out, "wb") as out:
            extra["images"] = write_archive(job=job, out=out, spool_dir=Path(args.out).parent)
        extra["bytes"] = Path(args.out).stat().st_size
    else:
        from label_studio_sdk.converter import Converter

        started = time.perf_counter()
        workdir = Path(args.workdir)
        os.chdir(workdir)  # the task list names images relative to it, as the converter resolves them
        converter = Converter(config=str(workdir / "label_config.xml"), project_dir=str(workdir),
                              download_resources=False)
        output = workdir / f"out-{args.format}"
        if args.format == "coco":
            converter.convert_to_coco(str(workdir / "tasks.json"), str(workdir), output_image_dir=str(output),
                                      is_dir=False)
            result = json.loads((workdir / "result.json").read_bytes())
            extra["images"], extra["boxes"] = len(result["images"]), len(result["annotations"])
        else:
            converter.convert_to_yolo(str(workdir / "tasks.json"), str(output), output_image_dir=str(output / "img"),
                                      is_dir=False)
            labels = list((output / "labels").glob("*.txt"))
            extra["images"] = len(labels)
            extra["boxes"] = sum(len(p.read_text().splitlines()) for p in labels)
    extra["seconds"] = time.perf_counter() - started
    extra["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(extra))


def measure(argv: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"child {argv} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--boxes-per-image", type=int, default=10)
    parser.add_argument("--db", default=os.environ.get("BENCH_EXPORT_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--media", default=str(ROOT / "var" / "bench-export-media"))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--skip-converter", action="store_true")
    parser.add_argument("--reseed", action="store_true", help="seed again even when the dataset is there")
    parser.add_argument("--child", choices=["loupe", "converter"])
    parser.add_argument("--format")
    parser.add_argument("--version", type=int)
    parser.add_argument("--out")
    parser.add_argument("--workdir")
    parser.add_argument("--images-included", dest="include_images", action="store_true")
    args = parse_args_with_smoke(parser, argv, lambda: {
        # Seeded again every time: the seed's hand-written SQL must meet the current schema on every run.
        "images": 200, "boxes_per_image": 3, "reseed": True, "db": smoke_database_url("export"),
        "media": str(ROOT / "var" / "bench-export-smoke-media"), "timeout": 120})
    if args.child:
        child(args)
        return

    ensure_database(args.db)
    media = Path(args.media)
    media.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": args.db, "LOUPE_SECRET_KEY": BENCH_SECRET_KEY})
    django_setup(args.db, media)
    version_id = seed(args.db, media, args.images, args.boxes_per_image, args.reseed)
    base = ["--db", args.db, "--media", str(media), "--version", str(version_id)]
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        scratch = Path(tmp)
        for fmt in ("coco", "yolo"):
            for with_images in (False, True):
                key = f"loupe {fmt} {'with' if with_images else 'without'} images"
                out = scratch / f"{fmt}-{with_images}.zip"
                rows[key] = measure(["--child", "loupe", "--format", fmt, "--out", str(out), *base,
                                     *(["--images-included"] if with_images else [])], args.timeout)
                print(f"{key}: {rows[key]['seconds']:.1f} s, {rows[key]['peak_rss_mb']:.0f} MB")
                out.unlink()
        if not args.skip_converter:
            ls_zip = scratch / "ls.zip"
            rows["loupe label-studio json with images"] = measure(
                ["--child", "loupe", "--format", "label-studio", "--out", str(ls_zip), "--images-included", *base],
                args.timeout)
            workdir = scratch / "ls"
            with zipfile.ZipFile(ls_zip) as zf:
                zf.extractall(workdir)
            ls_zip.unlink()
            for fmt in ("coco", "yolo"):
                key = f"converter {fmt} from label-studio json"
                rows[key] = measure(["--child", "converter", "--format", fmt, "--workdir", str(workdir)],
                                    args.timeout)
                print(f"{key}: {rows[key]['seconds']:.1f} s, {rows[key]['peak_rss_mb']:.0f} MB")
                shutil.rmtree(workdir / f"out-{fmt}", ignore_errors=True)
    report(rows, args)


def report(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{'measurement':45} {'seconds':>9} {'peak RSS MB':>12} {'converter/loupe':>16}")
    checks: dict[str, bool] = {}
    for key, row in rows.items():
        ratio = ""
        if key.startswith("loupe coco") or key.startswith("loupe yolo"):
            fmt = key.split()[1]
            conv = rows.get(f"converter {fmt} from label-studio json")
            if conv:
                speedup = conv["seconds"] / row["seconds"]
                ratio = f"{speedup:.1f}×"
                # The target compares the same work: the converter writes annotation files and copies no
                # image (download_resources=False), as Loupe's export without images. With images is shown too.
                if key.endswith("without images"):
                    checks[f"{fmt}: ≥ {SPEEDUP_TARGET:.0f}× faster than the converter (same work: annotations, "
                           "no images)"] = speedup >= SPEEDUP_TARGET
            checks[f"{key}: peak RSS ≤ {RSS_TARGET_MB} MB"] = row["peak_rss_mb"] <= RSS_TARGET_MB
        print(f"{key:45} {row['seconds']:9.1f} {row['peak_rss_mb']:12.0f} {ratio:>16}")
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results_path("export", stamp, args.smoke)
    out.write_text(json.dumps({"bench": "export", "utc": stamp, "commit": git("rev-parse", "--short", "HEAD"),
                               "images": args.images, "boxes": args.images * args.boxes_per_image,
                               "cpus": os.cpu_count(), "results": rows, "checks": checks,
                               "targets": {"peak_rss_mb": RSS_TARGET_MB, "speedup": SPEEDUP_TARGET}}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
