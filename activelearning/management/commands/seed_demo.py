"""`manage.py seed_demo`: two demo projects (store counts, bus boarding) with users for every role, fed
with synthetic frames, clips, disputes and counts THROUGH THE REAL DEVICE API.

Every frame is uploaded and every event posted by an in-process HTTP client carrying a device token, so
the demo exercises the same middleware, authentication, validation, routing and queueing as a field
device; a refused upload or a rejected event stops the command with the server's error.

Why this file is long: it is the demo's whole script (projects, people, devices, frames, clips, disputes),
read top to bottom; splitting it would scatter one story.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from argparse import ArgumentParser
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, ProtectedError
from django.http.request import validate_host
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

import loupe_synthetic as synthetic
from activelearning.demo.model import install_demo_detector
from annotations.models import AssetHolding, Membership, Prediction, Project, Role, Site
from annotations.services import IssuedDevice, create_device
from reviewer.models import ReviewItem

DEMO_SEED = 20261121
MODEL = {"name": "people-det", "version": "3", "sha256": hashlib.sha256(b"loupe-demo people-det v3").hexdigest()}
STOPS = ("Main St", "Harbour Mall", "Central Station", "University", "Hospital", "Depot North")


@dataclass(frozen=True)
class SitePlan:
    name: str
    kind: str
    device: str
    cameras: tuple[str, ...]
    route: str = ""


@dataclass(frozen=True)
class ProjectPlan:
    slug: str
    name: str
    description: str
    scene: synthetic.SceneKind
    door_count: str  # what a door camera counts
    sites: tuple[SitePlan, ...]
    disputes: bool = False  # a second opinion (ticketing) exists to disagree with the camera

    def counter(self, camera: str) -> str:
        """What a camera's periodic count reports: aisle cameras count people present, doors count passers."""
        return "people" if "aisle" in camera else self.door_count


@dataclass(frozen=True)
class UserPlan:
    username: str
    role: Role
    projects: tuple[str, ...]
    superuser: bool = False


PROJECTS = (
    ProjectPlan(
        "store-counts", "Store people counts", "People entering and browsing, counted at store entrances.",
        "store", "entries",
        (SitePlan("Main St", "store", "main-st-edge-1", ("door-1", "aisle-3")),
         SitePlan("Harbour Mall", "store", "harbour-mall-edge-1", ("door-1", "aisle-2"))),
    ),
    ProjectPlan(
        "bus-boarding", "Bus boarding counts", "Passengers boarding, counted at the doors; ticketing disputes.",
        "bus", "boarding",
        (SitePlan("Route 42", "bus", "bus-4217", ("front-door", "rear-door"), route="42"),
         SitePlan("Depot North", "bus", "bus-0931", ("front-door", "rear-door"), route="17")),
        disputes=True,
    ),
)
_ALL = tuple(plan.slug for plan in PROJECTS)
USERS = (
    UserPlan("admin", Role.ADMIN, _ALL, superuser=True),
    UserPlan("annotator", Role.ANNOTATOR, _ALL),
    UserPlan("reviewer", Role.REVIEWER, _ALL),
    UserPlan("manager", Role.MANAGER, ("store-counts",)),  # limited to the store sites
    UserPlan("operator", Role.OPERATOR, ("bus-boarding",)),  # limited to the bus routes/depots
)
_SCOPED_ROLES = (Role.MANAGER, Role.OPERATOR)


class DeviceApi:
    """One edge device speaking the device API in process (django.test.Client: full middleware and views)."""

    def __init__(self, issued: IssuedDevice, host: str) -> None:
        self.issued = issued
        self.events: list[dict[str, Any]] = []
        self._client = Client(HTTP_AUTHORIZATION=f"Bearer {issued.token}", HTTP_HOST=host)

    def upload(self, body: bytes, content_type: str) -> str:
        """HEAD, then PUT if the server lacks it, as a device does; return the sha256."""
        sha256 = hashlib.sha256(body).hexdigest()
        url = f"/api/v1/media/{sha256}"
        response = self._client.head(url)
        if response.status_code == 200:
            return sha256
        _expect(response, {404}, f"HEAD {url}")
        _expect(self._client.put(url, data=body, content_type=content_type), {200, 201}, f"PUT {url}")
        return sha256

    def send_events(self) -> list[dict[str, Any]]:
        """POST the queued events in batches; any rejected event is an error."""
        results: list[dict[str, Any]] = []
        size = settings.LOUPE_MAX_BATCH_EVENTS
        for start in range(0, len(self.events), size):
            body = orjson.dumps({"events": self.events[start : start + size]})
            response = self._client.post("/api/v1/events", data=body, content_type="application/json")
            _expect(response, {200}, "POST /api/v1/events")
            for result in response.json()["results"]:
                if result["status"] == "rejected":
                    raise CommandError(f"{self.issued.device.name}: event {result['id']} was rejected: "
                                       f"{result.get('error')}")
                results.append(result)
        self.events.clear()
        return results

    def heartbeat(self, payload: dict[str, Any]) -> None:
        response = self._client.post("/api/v1/heartbeat", data=orjson.dumps(payload),
                                     content_type="application/json")
        _expect(response, {200}, "POST /api/v1/heartbeat")


def _expect(response: Any, statuses: set[int], what: str) -> None:
    if response.status_code not in statuses:
        body = response.content[:500].decode(errors="replace")
        raise CommandError(f"{what} answered {response.status_code}: {body}")


def _api_host() -> str:
    """A Host header the server accepts: 127.0.0.1 unless this deployment's ALLOWED_HOSTS rules it out."""
    for host in ("127.0.0.1", *settings.ALLOWED_HOSTS):
        candidate = "127.0.0.1" if host == "*" else host.lstrip(".")
        if validate_host(candidate, settings.ALLOWED_HOSTS):
            return candidate
    raise CommandError("No host in ALLOWED_HOSTS to address the API with.")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _expected_count(scene: str, counter: str, hour: float) -> float:
    """People per quarter hour by time of day: shop hours with lunch and evening peaks, bus rush hours."""
    def peak(centre: float, width: float) -> float:
        return math.exp(-(((hour - centre) / width) ** 2))

    if scene == "store":
        if not 8 <= hour < 21:
            return 0.0
        busy = 3 + 6 * peak(12.5, 2.0) + 5 * peak(17.5, 1.5)
        return busy if counter == "entries" else 0.6 * busy
    if hour < 5:
        return 0.3
    return 1.5 + 8 * peak(8.0, 1.2) + 7 * peak(17.0, 1.5)


@dataclass
class _Camera:
    site: SitePlan
    name: str
    api: DeviceApi
    layout: int  # which synthetic furnishing this camera sees


@dataclass
class ProjectReport:
    project: Project
    devices: list[IssuedDevice] = field(default_factory=list)
    queued: int = 0
    events: int = 0


class Command(BaseCommand):
    help = ("Create the demo projects, users for every role, and synthetic frames, clips, disputes and counts, "
            "ingested through the device API. Prints the logins. Re-running prints the logins again.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--frames", type=int, default=60, help="still frames per project (default 60)")
        parser.add_argument("--clips", type=int, default=6, help="entrance clips per project (default 6)")
        parser.add_argument("--reset", action="store_true",
                            help="delete the demo projects and seed again (demo users get new passwords)")

    def handle(self, *args: Any, **options: Any) -> None:
        frames, clips = options["frames"], options["clips"]
        if frames < 0 or clips < 0:
            raise CommandError("--frames and --clips must not be negative.")
        existing = set(Project.objects.filter(slug__in=_ALL).values_list("slug", flat=True))
        if existing and not options["reset"]:
            if len(existing) < len(PROJECTS):
                raise CommandError(f"Only {', '.join(sorted(existing))} of the demo projects exists; "
                                   "run `seed_demo --reset` to seed again.")
            self.stdout.write("The demo is already seeded (use --reset to start over).\n")
            self._print_summary(passwords=None, devices=[])
            return

        started = time.monotonic()
        try:
            # One transaction: a failure (a rejected event, a refused upload) leaves no half-seeded demo.
            with transaction.atomic():
                if options["reset"]:
                    Project.objects.filter(slug__in=_ALL).delete()
                passwords = _ensure_users()
                host = _api_host()
                now = timezone.now()
                reports = [
                    _seed_project(plan, frames=frames, clips=clips, now=now, host=host,
                                  rng=np.random.default_rng([DEMO_SEED, index]))
                    for index, plan in enumerate(PROJECTS)
                ]
                _grant_memberships()
        except ProtectedError as exc:
            raise CommandError(f"The demo projects cannot be deleted: {exc}") from exc
        seconds = time.monotonic() - started
        events, queued = sum(r.events for r in reports), sum(r.queued for r in reports)
        self.stdout.write(f"Seeded the demo in {seconds:.1f} s: {events} events through the device API, "
                          f"{queued} of them queued for review.\n\n")
        self._print_summary(passwords=passwords, devices=[d for r in reports for d in r.devices])

    def _print_summary(self, *, passwords: dict[str, str] | None, devices: list[IssuedDevice]) -> None:
        write = self.stdout.write
        write("Projects")
        for project in Project.objects.filter(slug__in=_ALL).order_by("pk"):
            assets = AssetHolding.objects.filter(project=project).count()
            predictions = Prediction.objects.filter(project=project).count()
            sites = ", ".join(Site.objects.filter(project=project).order_by("pk").values_list("name", flat=True))
            write(f"  {project.slug:<14} {assets:>4} assets  {predictions:>5} events  sites: {sites}")
        write("\nReview items by reason")
        rows = (ReviewItem.objects.filter(project__slug__in=_ALL).values_list("project__slug", "reason")
                .annotate(n=Count("id")).order_by("project__slug", "reason"))
        for slug, reason, n in rows:
            write(f"  {slug:<14} {reason:<16} {n:>4}")
        if passwords:
            write("\nLogins (the passwords are shown only now)")
        else:
            write("\nLogins (passwords were shown when seeded; `manage.py changepassword <user>` sets a new one)")
        write(f"  {'username':<10} {'role':<10} {'projects':<27} {'password' if passwords else ''}")
        for plan in USERS:
            secret = passwords[plan.username] if passwords else ""
            write(f"  {plan.username:<10} {plan.role.value:<10} {', '.join(plan.projects):<27} {secret}".rstrip())
        token = Token.objects.filter(user__username="admin").values_list("key", flat=True).first()
        write(f"\nAPI token of admin (`Authorization: Token <key>`): {token}")
        if devices:
            write("\nDevice tokens (shown only now; for `loupe-edge simulate`)")
            for issued in devices:
                write(f"  {issued.device.project.slug:<14} {issued.device.name:<20} {issued.token}")


def _ensure_users() -> dict[str, str]:
    """Create or refresh the demo users with new random passwords; return them to print once."""
    user_model = get_user_model()
    passwords = {}
    for plan in USERS:
        user, _ = user_model.objects.get_or_create(username=plan.username)
        user.email = f"{plan.username}@demo.loupe.invalid"
        user.is_staff = user.is_superuser = plan.superuser
        user.is_active = True
        passwords[plan.username] = secrets.token_urlsafe(12)
        user.set_password(passwords[plan.username])
        user.save()
        if plan.superuser:
            Token.objects.get_or_create(user=user)
    return passwords


def _grant_memberships() -> None:
    """Give each demo user their role; managers and operators only over their project's sites."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[p.username for p in USERS])}
    projects = {p.slug: p for p in Project.objects.filter(slug__in=_ALL)}
    for plan in USERS:
        for slug in plan.projects:
            membership = Membership.objects.create(project=projects[slug], user=users[plan.username],
                                                   role=plan.role)
            if plan.role in _SCOPED_ROLES:
                membership.sites.set(Site.objects.filter(project=projects[slug]))


def _seed_project(plan: ProjectPlan, *, frames: int, clips: int, now: datetime, host: str,
                  rng: np.random.Generator) -> ProjectReport:
    """Register the project's devices, then let them upload frames and clips and report events."""
    project = Project.objects.create(slug=plan.slug, name=plan.name, description=plan.description,
                                     label_classes=["person"])
    report = ProjectReport(project)
    install_demo_detector(project)  # real server pre-labels for every queued item
    cameras: list[_Camera] = []
    apis: list[DeviceApi] = []
    for site in plan.sites:
        issued = create_device(project=project, site_name=site.name, camera_names=list(site.cameras),
                               device_name=site.device, site_kind=site.kind)
        report.devices.append(issued)
        apis.append(DeviceApi(issued, host))
        cameras.extend(_Camera(site, name, apis[-1], len(cameras) + i) for i, name in enumerate(site.cameras))

    def captured() -> str:  # somewhere in the last day, never in the future
        return _iso(now - timedelta(seconds=float(rng.uniform(120, 24 * 3600))))

    for i in range(frames):
        camera = cameras[i % len(cameras)]
        frame = synthetic.render_scene(plan.scene, rng, layout=camera.layout)
        sha256 = camera.api.upload(synthetic.encode_jpeg(frame.image), "image/jpeg")
        detections = synthetic.simulate_detections(frame.boxes, frame.meta, rng)
        camera.api.events.append(_prediction(
            f"frame-{i:04d}", camera, sha256, captured(), detections,
            reason=synthetic.field_reason(detections, frame.meta, rng), context=_context(camera, rng),
        ))
    doors = [c for c in cameras if "door" in c.name]
    for j in range(clips if doors else 0):
        camera = doors[j % len(doors)]
        clip = synthetic.render_clip(plan.scene, rng, layout=camera.layout)
        sha256 = camera.api.upload(synthetic.encode_mp4(clip.frames, clip.fps), "video/mp4")
        key = len(clip.frames) // 2
        detections = synthetic.simulate_detections(clip.boxes[key], clip.meta, rng)
        camera_count = synthetic.simulate_count(clip.crossings, clip.meta, rng)
        at, context = captured(), _context(camera, rng)
        camera.api.events.append(_prediction(
            f"clip-{j:03d}", camera, sha256, at, detections, frame_index=key,
            count={"name": plan.door_count, "value": camera_count},
            reason=synthetic.field_reason(detections, clip.meta, rng), context=context,
        ))
        if plan.disputes and j % 2 == 0:
            ticketing = _disagreeing_count(camera_count, rng)
            camera.api.events.append({
                "id": f"dispute-{j:03d}", "type": "dispute", "captured_at": at, "camera": camera.name,
                "asset": sha256, "count": {"name": plan.door_count, "value": ticketing}, "reason": "disputed",
                "context": {**context, "source": "ticketing", "camera_count": camera_count,
                            "ticketing_count": ticketing},
            })
    for camera in cameras:
        camera.api.events.extend(_count_events(plan, camera, now, rng))
    for api in apis:
        results = api.send_events()
        report.events += len(results)
        report.queued += sum(1 for r in results if r.get("review_item"))
        api.heartbeat(_health(api, plan, rng))
    return report


def _prediction(event_id: str, camera: _Camera, sha256: str, captured_at: str, detections: list[dict[str, Any]],
                *, reason: str | None, context: dict[str, Any], frame_index: int = 0,
                count: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id, "type": "prediction", "captured_at": captured_at, "camera": camera.name, "asset": sha256,
        "frame_index": frame_index, "model": MODEL, "detections": detections, "context": context,
    }
    if reason is not None:
        event["reason"] = reason
    if count is not None:
        event["count"] = count
    return event


def _context(camera: _Camera, rng: np.random.Generator) -> dict[str, Any]:
    if camera.site.route:
        return {"route": camera.site.route, "stop": str(rng.choice(STOPS))}
    return {"store": camera.site.name, "zone": camera.name}


def _disagreeing_count(camera_count: int, rng: np.random.Generator) -> int:
    """A ticketing count that differs from the camera's, as a real dispute does."""
    delta = int(rng.choice([-2, -1, 1, 2, 3]))
    return camera_count + delta if camera_count + delta >= 0 else camera_count + abs(delta)


def _count_events(plan: ProjectPlan, camera: _Camera, now: datetime, rng: np.random.Generator) -> list[dict[str, Any]]:
    """A count every quarter hour over the last day, so the counts-over-time view has a day of data."""
    name = plan.counter(camera.name)
    quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    events = []
    for k in range(96):
        at = quarter - timedelta(minutes=15 * k)
        value = int(rng.poisson(_expected_count(plan.scene, name, at.hour + at.minute / 60)))
        events.append({"id": f"count-{camera.name}-{at:%Y%m%dT%H%M}", "type": "count", "captured_at": _iso(at),
                       "camera": camera.name, "model": MODEL, "count": {"name": name, "value": value}})
    return events


def _health(api: DeviceApi, plan: ProjectPlan, rng: np.random.Generator) -> dict[str, Any]:
    site = next(s for s in plan.sites if s.device == api.issued.device.name)
    return {
        "software_version": "loupe-edge 0.1.0", "model_sha256": MODEL["sha256"],
        "uptime_seconds": int(rng.integers(3600, 30 * 86400)), "disk_free_bytes": int(rng.integers(2, 60)) * 2**30,
        "temperature_c": round(float(rng.uniform(38, 71)), 1), "fps": 12.0,
        "dropped_frames": int(rng.integers(0, 400)), "outbox_depth": 0,
        "cameras": [{"name": name, "status": "ok" if rng.random() > 0.2 else "degraded", "fps": 12.0,
                     "dropped_frames": int(rng.integers(0, 200))} for name in site.cameras],
    }
