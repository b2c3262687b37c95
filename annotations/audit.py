"""Writing the audit trail: one call per state change, inside the change's transaction."""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from annotations.models import AuditEvent
from annotations.request_context import current_request_id


def record(*, action: str, obj_type: str, obj_id: object, project_id: int | None,
           actor: AbstractBaseUser | AnonymousUser | None = None, before: Any = None, after: Any = None,
           request_id: str = "", actor_id: int | None = None) -> AuditEvent:
    """Append an AuditEvent. Call inside the transaction of the change it describes."""
    if actor is not None and actor.is_authenticated:
        actor_id = actor.pk
    return AuditEvent.objects.create(
        project_id=project_id, actor_id=actor_id,
        action=action, object_type=obj_type, object_id=str(obj_id), before=before, after=after,
        request_id=(request_id or current_request_id.get())[:64],
    )


def insert_sql(*, source: str, action: str, obj_type: str, actor_id: int | None, before_sql: str = "NULL",
               after_sql: str = "NULL") -> tuple[str, list[Any]]:
    """`INSERT … SELECT … FROM <source>`: the audit events of rows a statement changed, as part of it.

    PostgreSQL only, for data-modifying CTEs on hot paths (`WITH changed AS (UPDATE … RETURNING *), logged
    AS (<this>) …`): the change and its audit event commit in one statement. `source` must have `id` and
    `project_id`; `before_sql`/`after_sql` are JSON expressions over its columns (our code, never input)
    and take no parameters.
    """
    table = AuditEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (project_id, actor_id, actor_device_id, action, object_type, object_id, "  # noqa: S608
        f"before, after, request_id, created_at) SELECT project_id, %s, NULL, %s, %s, id::text, "
        f"{before_sql}, {after_sql}, %s, now() FROM {source}"
    )
    return sql, [actor_id, action, obj_type, current_request_id.get()[:64]]


def update_logged(update_sql: str, params: list[Any], *, action: str, obj_type: str, obj_id: object,
                  project_id: int | None, actor_id: int | None, before: Any = None, after: Any = None) -> int:
    """Run `update_sql` (an `UPDATE … RETURNING id, project_id`) and append its audit event; the rows changed.

    On PostgreSQL the event is written by the same statement (one round trip on hot paths); elsewhere by a
    second one. Either way inside the caller's transaction.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(update_sql, params)
            changed = len(cursor.fetchall())
        if changed:
            record(action=action, obj_type=obj_type, obj_id=obj_id, project_id=project_id,
                   before=before, after=after, actor=None, request_id="", actor_id=actor_id)
        return changed
    audit_sql, audit_params = insert_sql(source="changed", action=action, obj_type=obj_type, actor_id=actor_id,
                                         before_sql="%s::jsonb", after_sql="%s::jsonb")
    audit_params[3:3] = [None if v is None else orjson.dumps(v).decode() for v in (before, after)]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH changed AS ({update_sql}), logged AS ({audit_sql}) "  # noqa: S608
                       "SELECT count(*) FROM changed", [*params, *audit_params])
        return int(cursor.fetchone()[0])  # type: ignore[index]
