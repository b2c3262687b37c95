"""The IDOR matrix, generated from the URL conf: for every route that takes a project or object id, every
member of project A (each role) and A's device asks for project B's object with every method the view
allows, and gets 404 (never 200 or 403: no leak of existence) while no row anywhere changes.

A route in the URL conf that is neither in ROUTES (how to get B's object) nor in NOT_OBJECT_SCOPED (why it
needs no entry) fails `test_every_route_with_an_id_has_an_entry`, so a new route cannot be forgotten.
A second matrix checks the site boundary inside one project: a manager or operator scoped to A's first site
asking for an object of A's second site gets 404 too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token

from activelearning.alerts.models import Alert, AlertRule
from activelearning.datasets.models import DatasetVersion, ExportJob, ExportStatus
from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.rollouts.models import ModelPin, Rollout
from activelearning.training.models import TrainingRun
from activelearning.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from annotations.auth import DeviceBearerIfPresent, DeviceTokenAuthentication
from annotations.models import Camera, Membership, Project, Role, Site
from reviewer.models import ReviewItem
from tests.factories import DeviceKit, jpeg_bytes, make_device_kit, make_items, prediction_event

# --- The routes --------------------------------------------------------------------------------------------


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def routes_with_ids() -> dict[str, tuple[str, URLPattern]]:
    """Every named route whose URL carries a parameter (an id, a hash, a path), by name."""
    found: dict[str, tuple[str, URLPattern]] = {}
    for route, pattern in _walk(get_resolver()):
        if not pattern.pattern.regex.groupindex and "<" not in route:
            continue
        key = pattern.name or route  # the admin's unnamed catch-alls are keyed by their pattern
        found[key] = (route, pattern)
    return found


# Routes with a parameter that are not object-scoped by membership, each with the reason.
NOT_OBJECT_SCOPED: dict[str, str] = {
    # The browser app's HTML shell: the same page for every client-side route; data comes from the API.
    "app-route": "SPA shell, public and the same for any path",
    # Authenticated by a signature over the export (no account): forgery, expiry and cross-export use are
    # tested with the signed links (tests/activelearning/test_training.py, finding 2's tests).
    "export-signed-file": "signed link, not membership",
    # Authenticated by the project's HMAC secret over the run (no account): finding 6's tests.
    "training-callback": "HMAC-signed callback, not membership",
    # The Label Studio link's inbound routes (no account): the webhook by the link's secret, the media by a
    # signature over link + asset + expiry; tests/labelstudio/test_link_input.py tries forged, altered, expired and
    # cross-link ones.
    "labelstudio-webhook": "per-link secret, not membership",
    "labelstudio-media": "signed link, not membership",
}


def _is_admin_site(route: str) -> bool:
    # Django's admin is for staff (the superuser), not project members: test_admin_site_refuses_members
    # checks a member of A (any role) is sent to the admin's login for B's objects.
    return route.startswith("admin/")


@dataclass
class Side:
    """One project and everything in it the API can name by id."""

    project: Project
    site: Site
    other_site: Site
    kit: DeviceKit  # the device at `site`
    camera: Camera
    other_camera: Camera  # at `other_site`
    users: dict[str, User]  # by role; manager and operator are scoped to `site`
    tokens: dict[str, str]
    item: ReviewItem
    other_site_item: ReviewItem
    asset_sha: str  # a real frame uploaded by the device at `site`
    other_site_asset_sha: str
    model: ModelVersion
    dataset: DatasetVersion
    export: ExportJob
    run: TrainingRun
    webhook: Webhook
    member: Membership  # the annotator's membership
    rollout: Rollout
    pin: ModelPin
    alert: Alert  # a device alert at `site`
    other_site_alert: Alert  # the same at `other_site`


@dataclass
class World:
    a: Side
    b: Side
    baseline: dict[str, str] = field(default_factory=dict)  # database_state() as built; every test starts here


Kwargs = Callable[[World], dict[str, Any]]


@dataclass
class Case:
    """How to name B's object in a route (`kwargs`), and, optionally, other ways that must also be refused
    (`also`: e.g. A's project with B's membership id) and the object of A's other site (`other_site`)."""

    kwargs: Kwargs
    also: list[Kwargs] = field(default_factory=list)
    other_site: Kwargs | None = None
    body: dict[str, Any] = field(default_factory=dict)  # a body that would be valid for B's own members


def _project(w: World) -> dict[str, Any]:
    return {"project_id": w.b.project.pk}


def _item(w: World) -> dict[str, Any]:
    return {"item_id": w.b.item.pk}


def _a_other_site_item(w: World) -> dict[str, Any]:
    return {"item_id": w.a.other_site_item.pk}


def _model(w: World) -> dict[str, Any]:
    return {"model_id": w.b.model.pk}


def _webhook(w: World) -> dict[str, Any]:
    return {"webhook_id": w.b.webhook.pk}


def _camera(w: World) -> dict[str, Any]:
    return {"camera_id": w.b.camera.pk}


def _a_other_camera(w: World) -> dict[str, Any]:
    return {"camera_id": w.a.other_camera.pk}


def _export(w: World) -> dict[str, Any]:
    return {"export_id": w.b.export.pk}


def _alert(w: World) -> dict[str, Any]:
    return {"project_id": w.b.project.pk, "alert_id": w.b.alert.pk}


def _a_other_site_alert(w: World) -> dict[str, Any]:
    return {"project_id": w.a.project.pk, "alert_id": w.a.other_site_alert.pk}


def _asset(w: World) -> dict[str, Any]:
    return {"sha256": w.b.asset_sha}


def _a_other_asset(w: World) -> dict[str, Any]:
    return {"sha256": w.a.other_site_asset_sha}


BOXES = [{"label": "person", "box": [10.0, 20.0, 30.0, 60.0]}]

ROUTES: dict[str, Case] = {
    # Projects and their settings
    "project": Case(_project),
    "project-audit": Case(_project),
    "project-items": Case(_project),
    "project-sites": Case(_project),
    "project-members": Case(_project),
    "project-member": Case(lambda w: {"project_id": w.b.project.pk, "membership_id": w.b.member.pk},
                           # A's admin passes A's own project but names B's membership
                           also=[lambda w: {"project_id": w.a.project.pk, "membership_id": w.b.member.pk}],
                           body={"role": "reviewer"}),
    "project-invite": Case(_project, body={"username": "newcomer", "email": "n@example.com", "role": "annotator"}),
    "project-review-settings": Case(_project, body={"consensus_overlap": 2, "qa_sample_rate": 0.5}),
    "project-devices": Case(_project, body={"name": "intruder-box", "site": "Main St", "cameras": ["door-9"]}),
    "device-revoke": Case(lambda w: {"device_id": w.b.kit.device.pk}),
    "device-telemetry": Case(lambda w: {"project_id": w.b.project.pk, "device_id": w.b.kit.device.pk},
                             # A's admin passes A's own project but names B's device
                             also=[lambda w: {"project_id": w.a.project.pk, "device_id": w.b.kit.device.pk}]),
    "devices-telemetry-summary": Case(_project),
    "project-cameras": Case(_project),
    "routing-policy": Case(_project, body={"policy": {}}),
    "routing-policy-preview": Case(_project, body={"policy": {}}),
    "project-webhooks": Case(_project, body={"url": "https://hooks.example.com/x", "secret": "s" * 32,
                                             "events": ["item.accepted"]}),
    "webhook": Case(_webhook, body={"active": False}),
    "project-labelstudio": Case(_project, body={"url": "http://127.0.0.1:9", "token": "t"}),
    "labelstudio-push": Case(_project, body={"limit": 5}),
    "labelstudio-sync": Case(_project),
    "webhook-deliveries": Case(_webhook),
    "webhook-test": Case(_webhook),
    "project-drift": Case(_project),
    "project-drift-compute": Case(_project),
    "project-drift-policy": Case(_project, body={"enabled": False}),
    "project-retention": Case(_project, body={"unreviewed_media_days": 30}),
    "project-retention-dry-run": Case(_project),
    "site-legal-hold": Case(lambda w: {"project_id": w.b.project.pk, "site_id": w.b.site.pk},
                            # A's admin passes A's own project but names B's site
                            also=[lambda w: {"project_id": w.a.project.pk, "site_id": w.b.site.pk}],
                            body={"reason": "case 42"}),
    "project-retrain": Case(_project),
    "project-datasets": Case(_project),
    "project-training-runs": Case(_project),
    "project-trainer": Case(_project, body={"backend": "reference"}),
    "project-imports": Case(_project),
    "project-models": Case(_project),
    "dataset-exports": Case(lambda w: {"dataset_id": w.b.dataset.pk}, body={"format": "coco"}),
    "export": Case(_export),
    "export-file": Case(_export),
    "model-file": Case(_model),
    "model-promote": Case(_model),
    "model-evaluation": Case(_model),
    "model-rollback": Case(_model),
    # Staged rollouts and pins
    "project-rollouts": Case(_project),
    "rollout": Case(lambda w: {"rollout_id": w.b.rollout.pk}),
    "rollout-action": Case(lambda w: {"rollout_id": w.b.rollout.pk, "action": "pause"}),
    "project-pins": Case(_project, body={"model": 1, "device": 1}),
    "project-pin": Case(lambda w: {"project_id": w.b.project.pk, "pin_id": w.b.pin.pk},
                        # A's admin passes A's own project but names B's pin
                        also=[lambda w: {"project_id": w.a.project.pk, "pin_id": w.b.pin.pk}]),
    # The review queue
    "queue-claim": Case(_project),
    "item-prelabels": Case(_item, other_site=_a_other_site_item),
    "item-heartbeat": Case(_item, other_site=_a_other_site_item),
    "item-release": Case(_item, other_site=_a_other_site_item),
    "item-skip": Case(_item, other_site=_a_other_site_item, body={"reason": "unclear"}),
    "item-submit": Case(_item, other_site=_a_other_site_item, body={"annotations": BOXES}),
    "item-review": Case(_item, other_site=_a_other_site_item, body={"verdict": "approve"}),
    "item-history": Case(_item, other_site=_a_other_site_item),
    # Count flags
    "camera-counts": Case(_camera, other_site=_a_other_camera),
    "camera-count-window": Case(_camera, other_site=_a_other_camera),
    "camera-count-flags": Case(_camera, other_site=_a_other_camera, body={"note": "miscount"}),
    # Business numbers (a scoped member asking for another site's rows: tests/activelearning/test_counts_api.py)
    "project-counts": Case(_project),
    "project-counts-summary": Case(_project),
    # Alerts (managers and operators see their sites' only)
    "project-alerts": Case(_project),
    "project-alert-summary": Case(_project),
    "project-alert-rules": Case(_project, body={"rules": [{"kind": "no_heartbeat", "enabled": False}]}),
    "alert-acknowledge": Case(_alert, also=[lambda w: {"project_id": w.a.project.pk, "alert_id": w.b.alert.pk}],
                              other_site=_a_other_site_alert, body={"note": "on it"}),
    "alert-silence": Case(_alert, also=[lambda w: {"project_id": w.a.project.pk, "alert_id": w.b.alert.pk}],
                          other_site=_a_other_site_alert, body={"minutes": 60, "reason": "refit"}),
    # Media, by content hash
    "asset": Case(_asset, other_site=_a_other_asset),
    "asset-frame": Case(lambda w: {"sha256": w.b.asset_sha, "n": "0"},
                        other_site=lambda w: {"sha256": w.a.other_site_asset_sha, "n": "0"}),
    "asset-thumb": Case(_asset, other_site=_a_other_asset),
    "media": Case(_asset),
}

# --- Building the two projects ----------------------------------------------------------------------------

SCOPED = (Role.MANAGER, Role.OPERATOR)


def _real_asset(kit: DeviceKit, seed: int, camera: str) -> str:
    body = jpeg_bytes(seed=seed)
    assert kit.put_media(body).status_code == 201
    sha = hashlib.sha256(body).hexdigest()
    sent = kit.post_events([prediction_event(f"ev-{kit.project.slug}-{seed}", sha, camera=camera)])
    assert sent.status_code == 200, sent.content
    return sha


def _side(slug: str, seed: int) -> Side:
    project = Project.objects.create(slug=slug, name=slug.title(), label_classes=["person"])
    kit = make_device_kit(project, site="Main St", camera="door-1")
    far_kit = make_device_kit(project, site="Depot", camera="gate-1")
    site, other_site = kit.device.site, far_kit.device.site
    users, tokens = {}, {}
    for role in Role.values:
        user = User.objects.create_user(f"{slug}-{role}", password="pw-123456")
        membership = Membership.objects.create(project=project, user=user, role=role)
        if role in SCOPED:
            membership.sites.set([site])
        users[role] = user
        tokens[role] = Token.objects.create(user=user).key
    asset_sha = _real_asset(kit, seed, "door-1")
    other_site_asset_sha = _real_asset(far_kit, seed + 1, "gate-1")
    [item] = make_items(project, 1, site=site)
    [other_site_item] = make_items(project, 1, site=other_site)
    model_sha = hashlib.sha256(slug.encode()).hexdigest()
    model_file = default_storage.save(f"models/{model_sha}.onnx", ContentFile(b"onnx-" + slug.encode()))
    model = ModelVersion.objects.create(
        project=project, name="people-det", version=1, file=model_file, sha256=model_sha, size_bytes=9,
        input_width=64, input_height=64, classes=["person"], status=ModelStatus.CANDIDATE)
    dataset = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    export_file = default_storage.save(f"exports/{slug}.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18))
    export = ExportJob.objects.create(dataset_version=dataset, format="coco", status=ExportStatus.DONE,
                                      progress=1.0, file=export_file, size_bytes=22, sha256="1" * 64)
    run = TrainingRun.objects.create(project=project, dataset_version=dataset)
    webhook = Webhook.objects.create(project=project, url="https://hooks.example.com/in", secret="s" * 32,
                                     events=["item.accepted"])
    WebhookDelivery.objects.create(webhook=webhook, event="item.accepted", event_id=hashlib.md5(  # noqa: S324
        slug.encode()).hexdigest(), status=DeliveryStatus.DELIVERED, next_attempt_at=timezone.now())
    rollout = Rollout.objects.create(project=project, model=model, stages=[{"percent": 10}], gates=[],
                                     stage_started_at=timezone.now())
    pin = ModelPin.objects.create(project=project, device=far_kit.device, model=model)
    rule = AlertRule.objects.create(project=project, kind="no_heartbeat", params={"minutes": 10})
    alert, other_site_alert = (
        Alert.objects.create(project=project, rule=rule, kind="no_heartbeat", severity="critical",
                             subject_type="device", subject_id=k.device.pk, subject_label=k.device.name,
                             site=k.device.site, opened_at=timezone.now())
        for k in (kit, far_kit))
    return Side(project=project, site=site, other_site=other_site, kit=kit, rollout=rollout, pin=pin,
                camera=Camera.objects.get(site=site), other_camera=Camera.objects.get(site=other_site),
                users=users, tokens=tokens, item=item, other_site_item=other_site_item, asset_sha=asset_sha,
                other_site_asset_sha=other_site_asset_sha, model=model, dataset=dataset, export=export, run=run,
                webhook=webhook, member=Membership.objects.get(project=project, role=Role.ANNOTATOR),
                alert=alert, other_site_alert=other_site_alert)


@pytest.fixture(scope="module")
def world_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idor-media")


@pytest.fixture(autouse=True)
def _media_root(world_media: Path, settings: Any) -> Path:
    """Overrides the per-test media folder: every test reads the files of the one world built below."""
    settings.MEDIA_ROOT = str(world_media)
    settings.LOUPE_UPLOAD_TMP_DIR = world_media / ".upload-tmp"
    return world_media


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, world_media: Path) -> Iterator[World]:
    """Both projects, built once for the module inside a transaction rolled back at its end; each test runs
    in a savepoint of it (pytest-django's `db`), so what a test's control request changes is undone."""
    media = override_settings(MEDIA_ROOT=str(world_media), LOUPE_UPLOAD_TMP_DIR=world_media / ".upload-tmp")
    with django_db_blocker.unblock(), media, transaction.atomic():
        built = World(a=_side("alpha", 1), b=_side("bravo", 11))
        built.baseline = database_state()
        yield built
        transaction.set_rollback(True)


# --- Requests and the database's state ---------------------------------------------------------------------

# Columns a refused request may still write: the device's own "last seen" (any authenticated device call).
IGNORED_COLUMNS = {("annotations", "device", "last_seen_at")}


def database_state() -> dict[str, str]:
    """A checksum of every row of every table, by table (a few dozen rows each here: cheap)."""
    state = {}
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            columns = ", ".join(connection.ops.quote_name(f.column) for f in meta.concrete_fields
                                if (meta.app_label, meta.model_name, f.attname) not in IGNORED_COLUMNS)
            table = connection.ops.quote_name(meta.db_table)
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY {connection.ops.quote_name(meta.pk.column)}")  # noqa: S608
            state[meta.db_table] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return state


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


def view_methods(pattern: URLPattern) -> list[str]:
    view = pattern.callback.view_class  # type: ignore[attr-defined]
    methods = [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
    if "GET" in methods or hasattr(view, "head"):
        methods.append("HEAD")  # Django answers HEAD with the GET handler
    return methods + ["OPTIONS"]


def accepts_devices(pattern: URLPattern) -> bool:
    view = pattern.callback.view_class  # type: ignore[attr-defined]
    return any(issubclass(c, DeviceTokenAuthentication | DeviceBearerIfPresent)
               for c in view.authentication_classes)


def answer(response: Any, name: str, method: str) -> tuple[int, object]:
    """What a response tells the caller; an upload's refusal repeats the hash of its own URL, so there the
    error code is what must match."""
    if (name, method) == ("media", "PUT"):
        return response.status_code, response.json()["error"]["code"]
    return response.status_code, response.content


def only_devices(pattern: URLPattern) -> bool:
    view = pattern.callback.view_class  # type: ignore[attr-defined]
    return all(issubclass(c, DeviceTokenAuthentication) for c in view.authentication_classes)


def url_for(route: str, kwargs: dict[str, Any]) -> str:
    """The path for `route` (its pattern as written in the URL conf) with `kwargs` filled in."""
    path = route.replace("^", "").replace("$", "")
    for name, value in kwargs.items():
        path = re.sub(rf"\(\?P<{name}>[^)]*\)", str(value), path)
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    path = path.replace("\\.", ".")
    assert "<" not in path and "(" not in path, f"unfilled parameter in {path}"
    return "/" + path


def send(method: str, path: str, auth: str, body: dict[str, Any]) -> Any:
    client = Client()
    extra = {"HTTP_AUTHORIZATION": auth}
    if method in ("GET", "HEAD", "OPTIONS"):
        return getattr(client, method.lower())(path, **extra)
    if method == "PUT" and path.startswith("/api/v1/media/"):
        # A real upload: bytes of their own (not the named hash's), so an unread body is visible.
        return client.put(path, data=jpeg_bytes(seed=99), content_type="image/jpeg", **extra)
    return client.generic(method, path, data=json.dumps(body), content_type="application/json",
                          **extra)


def actors(side: Side, pattern: URLPattern) -> list[tuple[str, str]]:
    """(who, Authorization header) for each member of `side` by role, and its device where devices may call."""
    found = [(f"{role} of {side.project.slug}", f"Token {token}") for role, token in side.tokens.items()]
    if accepts_devices(pattern):
        found.append((f"device of {side.project.slug}", f"Bearer {side.kit.token}"))
    return found


def refusal_problem(response: Any, method: str) -> str | None:
    """Why `response` is not an object-hiding refusal (None when it is one)."""
    if response.status_code != 404:
        return f"answered {response.status_code} instead of 404"
    if (method != "HEAD" and response.get("Content-Type", "").startswith("application/json")
            and response.json().get("error", {}).get("code") != "not_found"):
        return f"404 without the not_found error code: {response.content[:200]!r}"
    return None


# --- The matrix ---------------------------------------------------------------------------------------------


def _route_method_params() -> list[Any]:
    params = []
    for name, (route, pattern) in sorted(routes_with_ids().items()):
        if name in NOT_OBJECT_SCOPED or _is_admin_site(route):
            continue
        methods = view_methods(pattern) if hasattr(pattern.callback, "view_class") else ["GET"]
        params.extend(pytest.param(name, method, id=f"{name}-{method}") for method in methods)
    return params


def test_every_route_with_an_id_has_an_entry() -> None:
    missing = [f"{name} ({route})" for name, (route, _) in sorted(routes_with_ids().items())
               if name not in ROUTES and name not in NOT_OBJECT_SCOPED and not _is_admin_site(route)]
    assert not missing, (
        "These routes take an id but the IDOR matrix does not know how to name another project's object in "
        f"them: {missing}. Add each to ROUTES in {__file__} (or, with the reason, to NOT_OBJECT_SCOPED).")
    stale = sorted(set(ROUTES) - set(routes_with_ids()))
    assert not stale, f"ROUTES names routes the URL conf no longer has: {stale}"


@pytest.mark.parametrize(("name", "method"), _route_method_params())
def test_another_projects_object_is_not_found_for_every_role(db: None, world: World, name: str, method: str) -> None:
    route, pattern = routes_with_ids()[name]
    case = ROUTES.get(name)
    assert case is not None, f"{name} ({route}) is missing from ROUTES in {__file__}: add how to name B's object"
    before = world.baseline
    problems = []
    for kwargs in [case.kwargs, *case.also]:
        path = url_for(route, kwargs(world))
        in_own_project = kwargs is not case.kwargs  # an `also` variant: A's project, B's object
        for who, auth in actors(world.a, pattern):
            response = send(method, path, auth, case.body)
            # An upload names a hash and brings bytes: bytes that do not hash to it are refused alike whether
            # another project holds the hash or nobody does (409), which is what the comparison checks.
            if method == "OPTIONS" or in_own_project or (name, method) == ("media", "PUT"):
                # Whatever A's member may do in A (OPTIONS describes the view; a role may be refused with 403
                # in its own project), B's object must answer exactly as an object that does not exist.
                missing_path = url_for(route, {k: v if in_own_project and k == "project_id" else _missing(v)
                                               for k, v in kwargs(world).items()})
                missing = send(method, missing_path, auth, case.body)
                if answer(response, name, method) != answer(missing, name, method):
                    problems.append(f"{who}: {method} {path} answers {response.status_code} but "
                                    f"{missing.status_code} for a missing object")
                if (in_own_project and who.startswith(f"{Role.ADMIN} ") and method != "OPTIONS"
                        and (problem := refusal_problem(response, method))):
                    problems.append(f"{who}: {method} {path} {problem}")
                continue
            if response.status_code == 401 and not accepts_devices(pattern) and who.startswith("device"):
                continue  # a device token is no credential on a people's route
            if response.status_code == 401 and only_devices(pattern) and not who.startswith("device"):
                continue  # and a person's token none on a devices' route
            if problem := refusal_problem(response, method):
                problems.append(f"{who}: {method} {path} {problem}")
    after = database_state()
    assert not problems, "\n".join(problems)
    assert not changed_tables(before, after), f"{method} {route} changed {changed_tables(before, after)}"
    # The control: B's own admin (or device) reaches the same object, so the ids above were the right ones.
    own = f"Bearer {world.b.kit.token}" if name in ("media", "model-file") and method != "OPTIONS" else \
        f"Token {world.b.tokens[Role.ADMIN]}"
    control = send("GET" if method == "HEAD" else method, url_for(route, case.kwargs(world)), own, case.body)
    assert control.status_code != 404 or control.json()["error"]["code"] != "not_found", (
        f"control: B's own {method} {route} is not found: {control.content[:300]!r}")


def _missing(value: Any) -> Any:
    return "f" * 64 if isinstance(value, str) and len(value) == 64 else 10**9 if isinstance(value, int) else value


def _other_site_params() -> list[Any]:
    params = []
    for name, (_, pattern) in sorted(routes_with_ids().items()):
        case = ROUTES.get(name)
        if case is None or case.other_site is None:
            continue
        for method in view_methods(pattern):
            if method == "OPTIONS":
                continue
            params.append(pytest.param(name, method, id=f"{name}-{method}"))
    return params


@pytest.mark.parametrize(("name", "method"), _other_site_params())
def test_a_scoped_member_does_not_find_another_sites_object(db: None, world: World, name: str, method: str) -> None:
    route, pattern = routes_with_ids()[name]
    case = ROUTES[name]
    assert case.other_site is not None
    path = url_for(route, case.other_site(world))
    before = world.baseline
    problems = []
    for role in SCOPED:
        response = send(method, path, f"Token {world.a.tokens[role]}", case.body)
        if problem := refusal_problem(response, method):
            problems.append(f"{role} scoped to {world.a.site.name}: {method} {path} {problem}")
    after = database_state()
    assert not problems, "\n".join(problems)
    assert not changed_tables(before, after), f"{method} {route} changed {changed_tables(before, after)}"


def test_admin_site_refuses_members(db: None, world: World) -> None:
    """Django's admin is for staff only: a project member of any role is sent to its login for B's project."""
    for role, user in world.a.users.items():
        client = Client()
        client.force_login(user)
        response = client.get(f"/admin/annotations/project/{world.b.project.pk}/change/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], role


def test_a_device_cannot_reference_another_projects_asset(db: None, world: World) -> None:
    """Not a route parameter but the same boundary: an event naming a hash only B uploaded is refused as if
    the asset were missing, and A's members then still cannot fetch it."""
    sent = world.a.kit.post_events([prediction_event("ev-steal", world.b.asset_sha)])
    assert sent.status_code == 200
    [result] = sent.json()["results"]
    assert result["status"] == "rejected" and result["error"]["code"] == "asset_missing", result
    fetched = send("GET", f"/api/v1/assets/{world.b.asset_sha}", f"Token {world.a.tokens[Role.ADMIN]}", {})
    assert fetched.status_code == 404
