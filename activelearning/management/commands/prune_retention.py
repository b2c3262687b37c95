"""`python manage.py prune_retention [--project N] [--dry-run]`: the retention prune (docs/retention.md) by
hand, printing each project's report."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from activelearning.retention.models import RetentionPolicy
from activelearning.retention.services import dry_run, prune_project
from annotations.models import Project


class Command(BaseCommand):
    help = ("Delete what each project's retention policy says is past keeping (or, with --dry-run, list it): "
            "media by sha256 with bytes, predictions and audit events. Referenced media are never deleted.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", type=int, help="Only this project (id); default: every project with a "
                                                        "policy.")
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["project"] is not None:
            projects = list(Project.objects.filter(pk=options["project"]))
            if not projects:
                raise CommandError(f"No project {options['project']}.")
        else:
            projects = list(Project.objects.filter(pk__in=RetentionPolicy.objects.values("project_id"))
                            .order_by("pk"))
        for project in projects:
            run = dry_run(project=project) if options["dry_run"] else prune_project(project=project)
            self.stdout.write(json.dumps({"project": project.pk, "dry_run": run.dry_run, **run.report},
                                         indent=2, sort_keys=True))
