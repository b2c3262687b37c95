from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotations.models import Project
from annotations.services import create_device


class Command(BaseCommand):
    help = "Register an edge device for a camera at a site and print its token (shown only once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--site", required=True, help="site name (created if new)")
        parser.add_argument("--camera", required=True, action="append", help="camera name; repeat for more")
        parser.add_argument("--name", help="device name (default: SITE-CAMERA)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project = Project.objects.get(slug=options["project"])
        except Project.DoesNotExist as exc:
            raise CommandError(f"No project with slug {options['project']!r}.") from exc
        issued = create_device(project=project, site_name=options["site"], camera_names=options["camera"],
                               device_name=options["name"])
        self.stdout.write(f"device {issued.device.name} (id {issued.device.pk}) created")
        self.stdout.write(f"token: {issued.token}")
        self.stdout.write("Store it now: only its hash is kept.")
