"""Report (and with --apply re-queue) items whose stored version lost pre-label boxes nobody deleted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotations.models import Project
from reviewer.repair import find_dropped_prelabel_versions, requeue_dropped


class Command(BaseCommand):
    help = ("List items whose newest version is a 'correct'/'confirm' verdict that stored fewer boxes than the "
            "model's pre-label (the wave-1 editor dropped untouched pre-labels); --apply puts them back in the queue.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", help="a project slug (default: every project)")
        parser.add_argument("--apply", action="store_true", help="re-queue them (audited); without it, report only")

    def handle(self, *args: Any, **options: Any) -> None:
        project_id = None
        if options["project"]:
            project = Project.objects.filter(slug=options["project"]).first()
            if project is None:
                raise CommandError(f"no project {options['project']!r}")
            project_id = project.pk
        found = find_dropped_prelabel_versions(project_id=project_id)
        for f in found:
            self.stdout.write(f"item {f.item_id} (project {f.project_id}, {f.item_status}): version {f.version} "
                              f"'{f.verdict}' stored {f.stored} of {f.prelabels} pre-label boxes")
        if options["apply"]:
            done = requeue_dropped(found)
            self.stdout.write(self.style.SUCCESS(f"re-queued {done} of {len(found)} items"))
        else:
            self.stdout.write(f"{len(found)} items found; run with --apply to re-queue them")
