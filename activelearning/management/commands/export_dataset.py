"""`python manage.py export_dataset PROJECT --format coco --out FILE`: a dataset version written to an archive
on this machine, with progress, by the same writers as the API's exports (activelearning/datasets)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from activelearning.datasets.exports import file_sha256, write_archive
from activelearning.datasets.formats import WRITERS
from activelearning.datasets.models import DatasetVersion, ExportJob
from annotations.models import Project


class Command(BaseCommand):
    help = "Write a project's dataset version (default: its newest) to an archive: COCO, YOLO, VOC, Label Studio, CSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("project", help="the project's slug or id")
        parser.add_argument("--format", required=True, choices=sorted(WRITERS))
        parser.add_argument("--out", required=True, type=Path, help="the archive to write (refused if it exists)")
        parser.add_argument("--dataset-version", type=int, help="the dataset version's number (default: the newest)")
        parser.add_argument("--archive", choices=["zip", "tar"], default="zip")
        parser.add_argument("--no-images", action="store_true", help="labels only, no image files")
        parser.add_argument("--image-root", default="",
                            help="Label Studio: where it finds the images, e.g. s3://bucket/loupe/images")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        versions = DatasetVersion.objects.filter(project=project).order_by("-number")
        number = options["dataset_version"]
        version = (versions.filter(number=number) if number else versions).first()
        if version is None:
            raise CommandError(f"{project.slug} has no dataset version" + (f" {number}." if number else " yet."))
        out: Path = options["out"]
        if out.exists():
            raise CommandError(f"{out} exists; name a new file.")
        # An unsaved job: the same writers and rows as the API's export, without a row or a stored copy.
        job = ExportJob(dataset_version=version, format=options["format"], archive=options["archive"],
                        include_images=not options["no_images"], image_root=options["image_root"])

        def progress(done: int, total: int) -> None:
            self.stderr.write(f"  {done:,} / {total:,} entries")

        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("xb") as handle:
                images = write_archive(job=job, out=handle, on_progress=progress)
            partial.rename(out)
        finally:
            partial.unlink(missing_ok=True)
        digest = file_sha256(out)  # read in chunks: an archive with images can be larger than memory
        self.stdout.write(f"{project.slug} v{version.number}: {images:,} images as {options['format']} "
                          f"→ {out} ({out.stat().st_size:,} bytes, sha256 {digest})")


def find_project(key: str) -> Project:
    project = Project.objects.filter(slug=key).first() or (
        Project.objects.filter(pk=int(key)).first() if key.isdigit() else None)
    if project is None:
        raise CommandError(f"No project {key!r} (give its slug or id).")
    return project
