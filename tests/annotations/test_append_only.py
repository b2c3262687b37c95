"""History is never rewritten: audit events and annotation versions are append-only."""

import pytest


def test_audit_events_and_annotation_versions_are_append_only(db):
    from annotations.models import AppendOnlyError, AuditEvent

    event = AuditEvent.objects.create(action="x", object_type="t", object_id="1")
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "x"
