"""Boxes stored past their image's edge (the submit API accepted them before issue 19) are clipped, as device
ingest and the editor clip them, so every export agrees. History is append-only: the newest version of each
asset that has such a box gets a next version of origin `repair` (no author) with the boxes clipped and any box
wholly outside the image removed; the counts are printed. Older versions stay as they were stored."""

from django.db import migrations
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from annotations.geometry import clip_boxes


def clip_newest_versions(apps, schema_editor):
    Annotation = apps.get_model("annotations", "Annotation")
    newest = Annotation.objects.filter(asset_id=OuterRef("asset_id")).order_by("-version").values("id")[:1]
    repaired = clipped = removed = 0
    now = timezone.now()
    for version in (Annotation.objects.filter(id=Subquery(newest)).select_related("asset")
                    .order_by("id").iterator(chunk_size=500)):
        boxes = version.boxes or []
        kept, outside = clip_boxes(boxes, version.asset.width, version.asset.height)
        inside = [b for i, b in enumerate(boxes) if i not in set(outside)]
        moved = sum(1 for before, after in zip(inside, kept, strict=True) if [float(v) for v in before["box"]] != after["box"])
        if not moved and not outside:
            continue
        Annotation.objects.create(
            project_id=version.project_id, asset_id=version.asset_id, review_item_id=version.review_item_id,
            version=version.version + 1, author=None, origin="repair", source_prediction_id=version.source_prediction_id,
            boxes=kept, count=version.count, verdict=version.verdict,
            note=f"Loupe clipped {moved} box(es) to the {version.asset.width}×{version.asset.height} image"
                 + (f" and removed {len(outside)} lying outside it" if outside else "") + f" (from v{version.version}).",
            diff={"base_version": version.version, "clipped": moved, "removed_outside": len(outside)},
            submitted_at=now)
        repaired, clipped, removed = repaired + 1, clipped + moved, removed + len(outside)
    if repaired:
        print(f"\n  Boxes past an image edge: {clipped} clipped and {removed} outside removed, "
              f"in {repaired} new repair version(s).")


def drop_repair_versions(apps, schema_editor):
    """Backwards: the repair versions go (the old constraint refuses a version without an author)."""
    apps.get_model("annotations", "Annotation").objects.filter(origin="repair").delete()


class Migration(migrations.Migration):
    """Its own migration: PostgreSQL refuses 0012's ALTER TABLE in a transaction that has just written rows."""

    dependencies = [("annotations", "0012_annotation_origin_repair")]

    operations = [migrations.RunPython(clip_newest_versions, drop_repair_versions)]
