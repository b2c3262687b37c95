"""The live Label Studio link: linking a project, pushing items as tasks, taking annotations back (webhook or
poll), deletions there, and backing off a Label Studio that fails.

No database transaction is ever open across a call to Label Studio: each use case writes what it decided,
commits, calls out, then records the answer in a second transaction. A push leases its items to the link's
agent and writes their task rows (`pushing`) before the call, so a crash between the two is found by the next
sync (`_confirm_pushing`), which matches Label Studio's tasks to items by `data.loupe_item` instead of sending
them again.

Why this file is long: the link's use cases share their helpers (the agent, the payloads, the backoff);
split up, each part would import the others' privates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from activelearning.datasets.formats import label_config, ls_result, mean_score
from activelearning.datasets.imports import boxes_from_ls_result
from activelearning.labelstudio.client import connect, for_link
from activelearning.labelstudio.media import media_url
from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from activelearning.labelstudio.tokens import seal
from activelearning.outbound import check_outbound_url
from annotations import audit
from annotations.errors import Conflict, InvalidInput, LoupeError, NotFound, Unauthenticated
from annotations.models import Asset, AssetKind, AuditEvent, Membership, Prediction, Project, Role
from reviewer.models import ItemStatus, ReviewItem
from reviewer.services import Submission, add_outside_version, return_to_queue, submit_annotation

BATCH = 1000  # tasks per import request: Label Studio takes them in one transaction
MAX_PUSH = 20_000
WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "TASKS_DELETED"]
_POLL_OVERLAP = timedelta(seconds=10)  # re-read tasks this close to the cursor: a slow commit there is not missed
_NETWORK_ERRORS = (httpx.HTTPError, ApiError)


class LabelStudioUnavailable(LoupeError):
    """Label Studio did not answer, or answered with an error: recorded on the link, retried with backoff."""

    status, code = 502, "labelstudio_unavailable"


def _unavailable(exc: Exception) -> LabelStudioUnavailable:
    if isinstance(exc, ApiError):
        detail = exc.body if isinstance(exc.body, dict | str) else repr(exc.body)
        return LabelStudioUnavailable(f"Label Studio answered {exc.status_code}.",
                                      details={"status": exc.status_code, "body": str(detail)[:500]})
    return LabelStudioUnavailable(f"Label Studio could not be reached: {exc}", details={"error": type(exc).__name__})


# --- linking -------------------------------------------------------------------------------------------------

@dataclass
class LinkSettings:
    url: str
    token: str
    loupe_url: str
    ls_project_id: int | None = None
    auto_push: bool = False
    push_filter: dict[str, Any] = field(default_factory=dict)
    webhooks_enabled: bool = True


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_project(*, project: Project, user: User, wanted: LinkSettings) -> LabelStudioLink:
    """Link (or re-link) `project` to a Label Studio project: checks the token, makes the Label Studio project
    (boxes of the project's classes) unless one is named, and registers the webhook. Refuses (400) what Label
    Studio refuses, saying so; nothing is stored then."""
    check_outbound_url(wanted.url)
    if not wanted.loupe_url.startswith(("http://", "https://")):
        raise InvalidInput("loupe_url must be the http(s) address Label Studio reaches Loupe at.", code="invalid",
                           details={"loupe_url": ["Must be the http(s) address Label Studio reaches Loupe at."]})
    existing = LabelStudioLink.objects.filter(project=project).first()
    if existing and (existing.url.rstrip("/") != wanted.url.rstrip("/") or (
            wanted.ls_project_id not in (None, existing.ls_project_id))) and existing.tasks.exists():
        raise Conflict("This project already has tasks in another Label Studio project; unlink it first.",
                       code="already_linked", details={"url": existing.url, "ls_project_id": existing.ls_project_id})
    ls = connect(wanted.url, wanted.token)
    try:
        ls.users.whoami()
        ls_project_id = wanted.ls_project_id or (existing.ls_project_id if existing else None)
        if ls_project_id is None:
            ls_project_id = ls.projects.create(title=f"Loupe · {project.name}"[:50],
                                               label_config=label_config(project.label_classes)).id
        else:
            ls.projects.get(id=ls_project_id)
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise InvalidInput("Label Studio refused the token.", code="labelstudio_token_refused",
                               details={"status": exc.status_code}) from exc
        if exc.status_code == 404:
            raise InvalidInput("Label Studio has no such project.", code="labelstudio_project_not_found",
                               details={"ls_project_id": wanted.ls_project_id}) from exc
        raise _unavailable(exc) from exc
    except httpx.HTTPError as exc:
        raise _unavailable(exc) from exc
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = existing or LabelStudioLink(project=project, created_by=user, agent=_agent(project))
        old_webhook = link.ls_webhook_id
        link.url, link.token_encrypted, link.ls_project_id = wanted.url.rstrip("/"), seal(wanted.token), ls_project_id
        link.loupe_url, link.webhook_secret_hash = wanted.loupe_url.rstrip("/"), secret_hash(secret)
        link.auto_push, link.push_filter = wanted.auto_push, wanted.push_filter
        link.webhooks_enabled, link.ls_webhook_id = wanted.webhooks_enabled, None
        link.failures, link.next_attempt_at, link.last_error = 0, None, ""
        link.save()
        audit.record(action="labelstudio.linked", obj_type="labelstudio_link", obj_id=link.pk,
                     project_id=project.pk, actor=user,
                     after={"url": link.url, "ls_project_id": ls_project_id, "auto_push": link.auto_push,
                            "webhooks": link.webhooks_enabled})
    _replace_webhook(link, ls, old_webhook, secret)
    return link


def _agent(project: Project) -> User:
    """The link's own user: an annotator of the project, with no password, who holds pushed items' leases."""
    agent, _ = User.objects.get_or_create(username=f"labelstudio-p{project.pk}",
                                          defaults={"first_name": "Label Studio", "is_active": True})
    if agent.has_usable_password():
        agent.set_unusable_password()
        agent.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=agent, defaults={"role": Role.ANNOTATOR})
    return agent


def _replace_webhook(link: LabelStudioLink, ls: LabelStudio, old_webhook: int | None, secret: str) -> None:
    """Register Loupe's webhook with the new secret (and drop the old one); a failure is recorded on the link,
    whose polling then carries the annotations back until a re-link."""
    try:
        if old_webhook:
            try:
                ls.webhooks.delete(id=old_webhook)
            except ApiError as exc:
                if exc.status_code != 404:
                    raise
        if link.webhooks_enabled:
            hook = ls.webhooks.create(
                url=f"{link.loupe_url}/api/v1/labelstudio/links/{link.pk}/webhook", project=link.ls_project_id,
                send_payload=True, send_for_all_actions=False, actions=WEBHOOK_ACTIONS, is_active=True,
                headers={"X-Loupe-Link-Secret": secret})
            LabelStudioLink.objects.filter(pk=link.pk).update(ls_webhook_id=hook.id)
            link.ls_webhook_id = hook.id
    except _NETWORK_ERRORS as exc:
        _record_failure(link, _unavailable(exc))


def unlink(*, link: LabelStudioLink, user: User) -> int:
    """Remove the link: items still out in Label Studio come back to Loupe's queue (returned); the webhook is
    removed there when Label Studio answers. Returns how many items came back."""
    outstanding = list(ReviewItem.objects.filter(
        pk__in=LabelStudioTask.objects.filter(link=link, state__in=[TaskState.PUSHING, TaskState.PUSHED])
        .values("item_id"), status=ItemStatus.LEASED, lease_holder=link.agent))
    returned = sum(return_to_queue(item=item, holder=link.agent, note="The Label Studio link was removed; back "
                                   "in Loupe's queue.") for item in outstanding)
    with transaction.atomic():
        audit.record(action="labelstudio.unlinked", obj_type="labelstudio_link", obj_id=link.pk,
                     project_id=link.project_id, actor=user, after={"returned": returned})
        webhook_id = link.ls_webhook_id
        link.delete()  # the instance keeps its URL and token for the call below
    if webhook_id:
        try:
            for_link(link).webhooks.delete(id=webhook_id)
        except (*_NETWORK_ERRORS, Conflict):
            pass  # Label Studio keeps a dead webhook; its deliveries get 401 from Loupe
    return returned


# --- pushing -------------------------------------------------------------------------------------------------

@dataclass
class Selection:
    item_ids: list[int] | None = None
    reasons: list[str] | None = None
    min_priority: float | None = None
    site_ids: list[int] | None = None
    limit: int = 1000


def push(*, link: LabelStudioLink, selection: Selection, actor: User | None) -> dict[str, int]:
    """Push the selected pending still-image items as Label Studio tasks, their pre-labels as predictions.
    Idempotent: an item with a task there is never sent again. {pushed, already_pushed, skipped_clips}."""
    if not 1 <= selection.limit <= MAX_PUSH:
        raise InvalidInput(f"limit must be 1 … {MAX_PUSH}.", code="invalid", details={"limit": selection.limit})
    token = f"ls{link.pk}-{uuid.uuid4().hex[:16]}"
    already = skipped = 0
    if selection.item_ids is not None:
        mine = ReviewItem.objects.filter(project_id=link.project_id, pk__in=selection.item_ids)
        already = LabelStudioTask.objects.filter(link=link, item__in=mine).exclude(state=TaskState.DELETED).count()
        skipped = mine.filter(asset__kind=AssetKind.CLIP).count()
    with transaction.atomic():
        rows = _lease_for_push(link, selection, token, actor_id=actor.pk if actor else link.agent_id)
    _send(link, rows)
    return {"pushed": len(rows), "already_pushed": already, "skipped_clips": skipped}


def _candidates(link: LabelStudioLink, selection: Selection) -> Any:
    items = ReviewItem.objects.filter(project_id=link.project_id, status=ItemStatus.PENDING,
                                      asset__kind=AssetKind.FRAME, rework_author__isnull=True).exclude(
        pk__in=LabelStudioTask.objects.filter(link=link).exclude(state=TaskState.DELETED).values("item_id"))
    if selection.item_ids is not None:
        items = items.filter(pk__in=selection.item_ids)
    if selection.reasons:
        items = items.filter(reason__in=selection.reasons)
    if selection.min_priority is not None:
        items = items.filter(priority__gte=selection.min_priority)
    if selection.site_ids:
        items = items.filter(site_id__in=selection.site_ids)
    return items.order_by("-priority", "id")


def _lease_for_push(link: LabelStudioLink, selection: Selection, token: str, *,
                    actor_id: int) -> list[LabelStudioTask]:
    """Lease the chosen items to the link's agent and write their task rows, audited as `actor_id`'s (the admin
    who pushed; the agent for auto-push); inside a transaction."""
    ids = list(_candidates(link, selection).select_for_update(skip_locked=True, of=("self",))
               .values_list("pk", flat=True)[:selection.limit])
    if not ids:
        return []
    now = timezone.now()
    until = now + timedelta(days=settings.LOUPE_LABELSTUDIO_LEASE_DAYS)
    ReviewItem.objects.filter(pk__in=ids, status=ItemStatus.PENDING).update(
        status=ItemStatus.LEASED, lease_holder=link.agent, lease_token=token, lease_expires_at=until,
        lease_prefetch=False, updated_at=now)
    LabelStudioTask.objects.filter(link=link, item_id__in=ids, state=TaskState.DELETED).delete()
    rows = LabelStudioTask.objects.bulk_create([LabelStudioTask(link=link, item_id=i) for i in ids])
    AuditEvent.objects.bulk_create([AuditEvent(
        project_id=link.project_id, actor_id=actor_id, action="item.pushed_to_labelstudio",
        object_type="review_item", object_id=str(i), before={"status": "pending"},
        after={"status": "leased", "link": link.pk}, request_id="") for i in ids])
    return rows


def task_payloads(link: LabelStudioLink, rows: list[LabelStudioTask], expires: int) -> list[dict[str, Any]]:
    """The Label Studio tasks of `rows`: the signed image link, the item's id and why it is there, its
    pre-label as a prediction (result ids `pre-<i>`, so a box kept from it is known when it comes back)."""
    items = {i.pk: i for i in ReviewItem.objects.filter(pk__in=[r.item_id for r in rows]).only(
        "id", "asset_id", "prediction_id", "reason", "priority", "site_id")}
    assets = {a.pk: a for a in Asset.objects.filter(pk__in={i.asset_id for i in items.values()}).only(
        "id", "sha256", "width", "height")}
    predictions = {p.pk: p for p in Prediction.objects.filter(
        pk__in={i.prediction_id for i in items.values() if i.prediction_id}).only(
        "id", "model_name", "model_version", "detections")}
    payloads = []
    for row in rows:
        item = items[row.item_id]
        asset = assets[item.asset_id or 0]  # pushed items are still images: always an asset
        task: dict[str, Any] = {"data": {"image": media_url(link, asset.sha256, expires=expires),
                                         "sha256": asset.sha256, "loupe_item": item.pk, "reason": item.reason,
                                         "priority": round(item.priority, 4)}}
        prediction = predictions.get(item.prediction_id or 0)
        if prediction and prediction.detections and asset.width and asset.height:
            task["predictions"] = [{
                "model_version": f"{prediction.model_name} {prediction.model_version}".strip() or "loupe",
                "score": mean_score(prediction.detections),
                "result": ls_result(prediction.detections, asset.width, asset.height, prefix="pre-")}]
        payloads.append(task)
    return payloads


def _media_expiry() -> int:
    """When media links signed now run out (a Unix time): LOUPE_LABELSTUDIO_MEDIA_SECONDS from now."""
    return int(time.time()) + settings.LOUPE_LABELSTUDIO_MEDIA_SECONDS


def _send(link: LabelStudioLink, rows: list[LabelStudioTask]) -> None:
    """Import the rows' tasks, `BATCH` per request, and record each task's id. A failure leaves the rest
    `pushing` (the sync confirms or resends them) and backs the link off; the caller gets 502."""
    expires = _media_expiry()
    ls = for_link(link)
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        try:
            answer = ls.projects.import_tasks(id=_ls_project(link), request=cast(Any, task_payloads(
                link, batch, expires)), return_task_ids=True)
        except _NETWORK_ERRORS as exc:
            error = _unavailable(exc)
            _record_failure(link, error)
            raise error from exc
        task_ids = list(getattr(answer, "task_ids", None) or [])  # an extra field of the SDK's response model
        if len(task_ids) != len(batch):  # never guess which is which: the sync matches them by loupe_item
            continue
        _record_tasks(batch, task_ids, expires)
    _record_success(link)


def _ls_project(link: LabelStudioLink) -> int:
    if link.ls_project_id is None:
        raise Conflict("The link has no Label Studio project; link it again.", code="not_linked")
    return link.ls_project_id


def _record_tasks(rows: list[LabelStudioTask], task_ids: list[int], expires: int) -> None:
    """One UPDATE per batch from a VALUES list (Django's bulk_update writes a CASE per row and field: 0.6 s per
    1,000 rows, the largest part of a push that is Loupe's own)."""
    until = datetime.fromtimestamp(expires, tz=UTC)
    for row, task_id in zip(rows, task_ids, strict=True):
        row.ls_task_id, row.state, row.media_expires_at = task_id, TaskState.PUSHED, until
    table = LabelStudioTask._meta.db_table
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        values = ", ".join(["(%s, %s)"] * len(batch))
        with connection.cursor() as cursor:  # VALUES columns are column1, column2 in PostgreSQL and SQLite alike
            cursor.execute(
                f"UPDATE {table} SET ls_task_id = v.column2, state = %s, media_expires_at = %s "  # noqa: S608
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                [TaskState.PUSHED, until, *[x for r in batch for x in (r.pk, r.ls_task_id)]])


def push_auto(link: LabelStudioLink) -> int:
    """`auto_push`: every pending item matching the link's filter ("everything routed to Label Studio")."""
    wanted = link.push_filter or {}
    return push(link=link, actor=None, selection=Selection(
        reasons=wanted.get("reasons"), min_priority=wanted.get("min_priority"), site_ids=wanted.get("site_ids"),
        limit=MAX_PUSH))["pushed"]


# --- taking annotations back ---------------------------------------------------------------------------------

def check_webhook_secret(link: LabelStudioLink | None, presented: str | None) -> LabelStudioLink:
    """401 unless `presented` is the link's secret (compared in constant time); nothing is read before."""
    if link is None or not presented or not hmac.compare_digest(secret_hash(presented), link.webhook_secret_hash):
        raise Unauthenticated("Missing or wrong X-Loupe-Link-Secret.", code="bad_link_secret")
    return link


def receive_webhook(link: LabelStudioLink, payload: Any) -> dict[str, Any]:
    """One Label Studio webhook delivery: an annotation created or updated, or tasks deleted."""
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
        raise InvalidInput("Expected a Label Studio webhook body with an action.", code="invalid",
                           details={"field": "action"})
    action = payload["action"]
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        annotation = payload.get("annotation")
        if not isinstance(annotation, dict):
            raise InvalidInput("The delivery has no annotation.", code="invalid", details={"field": "annotation"})
        return {"action": action, "outcome": receive_annotation(link, annotation, via="webhook")}
    if action == "TASKS_DELETED":
        tasks = payload.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, dict) and _is_id(t.get("id")) for t in tasks):
            raise InvalidInput("Expected tasks: [{id}].", code="invalid", details={"field": "tasks"})
        return {"action": action, "returned": tasks_deleted(link, [t["id"] for t in tasks])}
    return {"action": action, "outcome": "ignored"}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def receive_annotation(link: LabelStudioLink, annotation: dict[str, Any], *, via: str) -> str:
    """A Label Studio annotation as a Loupe version: `created` (the item's submission, flowing on to QA and the
    retrain threshold like any), `updated` (a newer version), `duplicate` (this annotation as of this
    `updated_at` is stored already) or `cancelled` (skipped there: nothing to store)."""
    ann_id, task_id, updated = annotation.get("id"), annotation.get("task"), _instant(annotation.get("updated_at"))
    if isinstance(task_id, dict):
        task_id = task_id.get("id")
    if not _is_id(ann_id) or not _is_id(task_id) or updated is None:
        raise InvalidInput("The annotation needs an id, a task and updated_at.", code="invalid",
                           details={"fields": ["id", "task", "updated_at"]})
    ann_id, task_id = int(ann_id), int(task_id)  # type: ignore[arg-type]  # checked just above
    row = LabelStudioTask.objects.select_related("item", "item__asset").filter(link=link, ls_task_id=task_id).first()
    if row is None or row.item.asset is None:
        raise NotFound("No pushed item has this Label Studio task.", code="unknown_task", details={"task": task_id})
    if annotation.get("was_cancelled"):
        return "cancelled"
    if LabelStudioVersion.objects.filter(link=link, ls_annotation_id=ann_id, ls_updated_at=updated).exists():
        return "duplicate"
    result = annotation.get("result")
    if not isinstance(result, list):
        raise InvalidInput("The annotation has no result list.", code="invalid", details={"field": "result"})
    boxes = boxes_from_ls_result(result, asset=row.item.asset, labels=link.project.label_classes,
                                 where={"task": task_id, "annotation": ann_id}, prelabel_ids=True)
    boxes = [{k: v for k, v in box.items() if k != "score"} for box in boxes]  # a person's box has no score
    author, who = _author(link, annotation.get("completed_by"))
    lead = annotation.get("lead_time")
    started = timezone.now() - timedelta(seconds=float(lead)) if isinstance(lead, int | float) and 0 <= lead < 1e6 \
        else None
    note = f"Annotated in Label Studio (task {task_id}, annotation {ann_id}) by {who}."
    try:
        with transaction.atomic():
            received = LabelStudioVersion.objects.create(link=link, ls_annotation_id=ann_id, ls_updated_at=updated,
                                                         via=via)
            item = ReviewItem.objects.select_for_update().get(pk=row.item_id)
            if item.status == ItemStatus.LEASED and item.lease_holder_id == link.agent_id:
                version, _, _ = submit_annotation(
                    item=item, user=link.agent, lease_token=item.lease_token, author=author,
                    submission=Submission(boxes=boxes, note=note, started_at=started))
                outcome = "created"
            else:
                version = add_outside_version(item=item, author=author, boxes=boxes, note=note, started_at=started,
                                              actor=link.agent)
                outcome = "updated"
            received.annotation_id = version.pk
            received.save(update_fields=["annotation_id"])
            LabelStudioTask.objects.filter(pk=row.pk).update(state=TaskState.ANNOTATED, annotated_at=timezone.now())
    except IntegrityError:
        return "duplicate"  # the same delivery, committed by a concurrent webhook or poll a moment ago
    return outcome


def _instant(value: Any) -> str | None:
    """`updated_at` in one spelling whether it came as JSON (webhook) or as the SDK's datetime (poll), so the
    same annotation is recognised either way."""
    moment = value if isinstance(value, datetime) else parse_datetime(value) if isinstance(value, str) and len(
        value) <= 40 else None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _author(link: LabelStudioLink, completed_by: Any) -> tuple[User, str]:
    """Whose annotation it is: the project member with the Label Studio user's e-mail, else the link's agent
    (the note keeps who it was). The e-mail is asked of Label Studio once per user and kept on the link."""
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        completed_by = completed_by.get("id")
    else:
        email = None
    if not _is_id(completed_by):
        return link.agent, "an unknown Label Studio user"
    email = email or link.annotators.get(str(completed_by))
    if not email:
        try:
            email = for_link(link).users.get(id=completed_by).email or ""
        except (*_NETWORK_ERRORS, Conflict):
            email = ""
        if email:
            link.annotators = {**link.annotators, str(completed_by): email}
            LabelStudioLink.objects.filter(pk=link.pk).update(annotators=link.annotators)
    who = email or f"Label Studio user #{completed_by}"
    if email:
        member = User.objects.filter(email__iexact=email, is_active=True,
                                     memberships__project_id=link.project_id).first()
        if member is not None:
            return member, who
    return link.agent, who


def tasks_deleted(link: LabelStudioLink, task_ids: list[int]) -> int:
    """Tasks deleted in Label Studio: items still out there come back to Loupe's queue with a note saying so.
    Returns how many came back."""
    rows = list(LabelStudioTask.objects.select_related("item").filter(link=link, ls_task_id__in=task_ids))
    returned = 0
    for row in rows:
        returned += return_to_queue(item=row.item, holder=link.agent, note=(
            f"Deleted in Label Studio (task {row.ls_task_id}); back in Loupe's queue."))
    LabelStudioTask.objects.filter(pk__in=[r.pk for r in rows]).update(state=TaskState.DELETED)
    return returned


# --- the sync: polling, confirming pushes, renewing media links, auto-push; backoff ----------------------------

def sync(link: LabelStudioLink, *, force: bool = False) -> dict[str, Any]:
    """One round with Label Studio for `link`; skipped while backing off unless `force`. Raises
    LabelStudioUnavailable (recorded on the link) when Label Studio fails."""
    now = timezone.now()
    if not force and link.next_attempt_at and link.next_attempt_at > now:
        return {"skipped": "backing off", "until": link.next_attempt_at.isoformat()}
    try:
        ls = for_link(link)
        confirmed = _confirm_pushing(link, ls)
        received = _poll(link, ls)
        returned = 0 if link.ls_webhook_id else _find_deleted(link, ls)
        renewed = _renew_media(link, ls)
    except _NETWORK_ERRORS as exc:
        error = _unavailable(exc)
        _record_failure(link, error)
        raise error from exc
    _record_success(link)
    pushed = push_auto(link) if link.auto_push else 0
    return {"confirmed": confirmed, "received": received, "returned": returned, "renewed": renewed,
            "pushed": pushed}


def _find_deleted(link: LabelStudioLink, ls: LabelStudio) -> int:
    """Without a webhook no TASKS_DELETED arrives: tasks still waiting that Label Studio no longer lists were
    deleted there, and their items come back to the queue as the webhook would have brought them."""
    waiting: set[int] = {i for i in LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED)
                         .values_list("ls_task_id", flat=True) if i is not None}
    if not waiting:
        return 0
    tasks: Any = ls.tasks.list(project=_ls_project(link), fields="task_only", page_size=1000)
    gone = sorted(waiting - {int(task.id) for task in tasks})
    return tasks_deleted(link, gone) if gone else 0


def _confirm_pushing(link: LabelStudioLink, ls: LabelStudio) -> int:
    """Rows left `pushing` by a push that failed or crashed midway: a task that reached Label Studio is matched
    by `data.loupe_item` and recorded; the rest is sent again."""
    pending = {r.item_id: r for r in LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHING)}
    if not pending:
        return 0
    since = min(r.pushed_at for r in pending.values()) - timedelta(minutes=5)
    expires = _media_expiry()
    found: list[tuple[LabelStudioTask, int]] = []
    for task in _tasks_since(ls, link, "created_at", since, fields="task_only"):
        row = pending.pop(_loupe_item(task) or 0, None)
        if row is not None:
            found.append((row, int(task.id)))
    if found:
        # Their links were signed when they were sent; renewal refreshes them before they run out.
        _record_tasks([r for r, _ in found], [t for _, t in found], expires - 3600)
    if pending:
        _send(link, list(pending.values()))
    return len(found) + len(pending)


def _loupe_item(task: Any) -> int | None:
    data = task.data if isinstance(task.data, dict) else {}
    value = data.get("loupe_item")
    return value if _is_id(value) else None


def _tasks_since(ls: LabelStudio, link: LabelStudioLink, column: str, since: datetime, *, fields: str,
                 annotated: bool = False) -> Any:
    """The link's Label Studio tasks with `column` after `since`, in that order; with `annotated`, only those
    with an annotation (a push marks every task it makes as updated: the poll after it need not read them)."""
    items: list[dict[str, Any]] = [{"filter": f"filter:tasks:{column}", "operator": "greater", "type": "Datetime",
                                    "value": since.astimezone(UTC).isoformat().replace("+00:00", "Z")}]
    if annotated:
        items.append({"filter": "filter:tasks:total_annotations", "operator": "greater", "type": "Number",
                      "value": 0})
    query = {"filters": {"conjunction": "and", "items": items}, "ordering": [f"tasks:{column}"]}
    return ls.tasks.list(project=link.ls_project_id, query=json.dumps(query), fields=fields, page_size=500)


def _poll(link: LabelStudioLink, ls: LabelStudio) -> int:
    """Annotations of tasks updated since the cursor, each received as a webhook would have been (a version
    already stored is a duplicate, so the overlap costs nothing)."""
    since = (link.poll_cursor - _POLL_OVERLAP) if link.poll_cursor else link.created_at - _POLL_OVERLAP
    cursor, received = link.poll_cursor, 0
    for page in _pages(_tasks_since(ls, link, "updated_at", since, fields="all", annotated=True), 200):
        found: list[dict[str, Any]] = []
        mapped = set(LabelStudioTask.objects.filter(link=link, ls_task_id__in=[int(t.id) for t in page])
                     .values_list("ls_task_id", flat=True))
        for task in page:
            updated = task.updated_at if isinstance(task.updated_at, datetime) else parse_datetime(
                str(task.updated_at))
            if updated and (cursor is None or updated > cursor):
                cursor = updated
            if int(task.id) in mapped:
                found += [{**(a if isinstance(a, dict) else a.dict()), "task": int(task.id)}
                          for a in task.annotations or []]
        # The overlap re-reads what the last round received: known (annotation, updated_at) pairs are skipped
        # with one query per page instead of two per annotation.
        known = set(LabelStudioVersion.objects.filter(
            link=link, ls_annotation_id__in=[a["id"] for a in found if _is_id(a.get("id"))])
            .values_list("ls_annotation_id", "ls_updated_at"))
        for data in found:
            if (data.get("id"), _instant(data.get("updated_at"))) in known:
                continue
            try:
                outcome = receive_annotation(link, data, via="poll")
            except (InvalidInput, NotFound) as exc:
                _record_failure(link, exc, backoff=False)
                continue
            received += outcome in ("created", "updated")
    if cursor != link.poll_cursor:
        LabelStudioLink.objects.filter(pk=link.pk).update(poll_cursor=cursor)
        link.poll_cursor = cursor
    return received


def _pages(items: Any, size: int) -> Any:
    page: list[Any] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _renew_media(link: LabelStudioLink, ls: LabelStudio) -> int:
    """Tasks still waiting whose image link is past half its life get a fresh one."""
    half = timedelta(seconds=settings.LOUPE_LABELSTUDIO_MEDIA_SECONDS / 2)
    rows = list(LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED,
                                               media_expires_at__lt=timezone.now() + half)[:BATCH])
    if not rows:
        return 0
    expires = _media_expiry()
    until = datetime.fromtimestamp(expires, tz=UTC)
    for row, payload in zip(rows, task_payloads(link, rows, expires), strict=True):
        ls.tasks.update(id=str(row.ls_task_id), data=payload["data"])
        LabelStudioTask.objects.filter(pk=row.pk).update(media_expires_at=until)
    return len(rows)


def sync_due() -> dict[str, int]:
    """Beat's round over every link not backing off; one failing Label Studio never stops the others."""
    done = failed = 0
    for link in LabelStudioLink.objects.select_related("project", "agent").filter(
            ls_project_id__isnull=False):
        try:
            outcome = sync(link)
        except (LabelStudioUnavailable, Conflict):
            failed += 1
            continue
        done += "skipped" not in outcome
    return {"synced": done, "failed": failed}


def _record_failure(link: LabelStudioLink, error: Exception, *, backoff: bool = True) -> None:
    now = timezone.now()
    message = str(error)
    details = getattr(error, "details", None)
    if details:
        message = f"{message} {json.dumps(details, default=str)[:400]}"
    if backoff:
        link.failures += 1
        delay = min(settings.LOUPE_LABELSTUDIO_BACKOFF_SECONDS * 2 ** (link.failures - 1), 3600.0)
        link.next_attempt_at = now + timedelta(seconds=delay)
    link.last_error, link.last_error_at = message[:1000], now
    LabelStudioLink.objects.filter(pk=link.pk).update(
        failures=link.failures, next_attempt_at=link.next_attempt_at, last_error=link.last_error,
        last_error_at=now)


def _record_success(link: LabelStudioLink) -> None:
    now = timezone.now()
    link.failures, link.next_attempt_at, link.last_sync_at = 0, None, now
    LabelStudioLink.objects.filter(pk=link.pk).update(failures=0, next_attempt_at=None, last_sync_at=now)
