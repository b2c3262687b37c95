"""`python manage.py import_labels PROJECT FILE --user NAME`: labels from any format the import reads (README,
"Interchange") queued for review as pre-labels, exactly as `POST /projects/{id}/imports` does: the validation report first, then the
import (or only the report, with --dry-run)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from activelearning.datasets.imports import import_labels
from activelearning.management.commands.export_dataset import find_project
from annotations.errors import LoupeError
from annotations.models import Membership, Role


class Command(BaseCommand):
    help = ("Import labels made elsewhere (Label Studio JSON, JSON-MIN or CSV; COCO; YOLO or VOC archives; a CSV of "
            "boxes) as pre-labels of new review items.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("project", help="the project's slug or id")
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="the admin the import is recorded as (audit)")
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        user = User.objects.filter(username=options["user"]).first()
        if user is None or not Membership.objects.filter(project=project, user=user, role=Role.ADMIN).exists():
            raise CommandError(f"{options['user']!r} is not an admin of {project.slug}.")
        body = options["file"].read_bytes()
        try:
            report = import_labels(project=project, user=user, body=body, dry_run=True)
            self.stderr.write(f"  validated: {report['items']:,} images to queue with {report['boxes']:,} boxes, "
                              f"{report['already_present']:,} already present")
            if not options["dry_run"] and report["items"]:
                report = import_labels(project=project, user=user, body=body)
            report["dry_run"] = options["dry_run"]  # nothing new to write is not a dry run
        except LoupeError as exc:
            raise CommandError(f"{exc.message} {json.dumps(exc.details)}") from exc
        self.stdout.write(json.dumps({k: v for k, v in report.items() if k != "item_ids"}, sort_keys=True))
