# Assets become per project: a holding row says a project has an asset (issue 14, finding 1).

import django.db.models.deletion
from django.db import migrations, models

_BATCH = 2000


def backfill_holdings(apps, schema_editor):
    """Every project already referring to an asset holds it: through its predictions (device events, imports,
    server pre-labels; every review item's asset is one of its project's predictions'), and through the
    upload of one of its devices (bytes uploaded but not yet named by an event)."""
    Asset = apps.get_model("annotations", "Asset")
    AssetHolding = apps.get_model("annotations", "AssetHolding")
    Prediction = apps.get_model("annotations", "Prediction")
    pairs = (Prediction.objects.filter(asset__isnull=False).values_list("project_id", "asset_id")
             .distinct().order_by())
    uploads = (Asset.objects.filter(uploaded_by__isnull=False)
               .values_list("uploaded_by__project_id", "id").order_by())
    for source in (pairs, uploads):
        batch = []
        for project_id, asset_id in source.iterator(chunk_size=_BATCH):
            batch.append(AssetHolding(project_id=project_id, asset_id=asset_id))
            if len(batch) == _BATCH:
                AssetHolding.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        AssetHolding.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0006_annotation_origin_review'),
    ]

    operations = [
        migrations.CreateModel(
            name='AssetHolding',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('asset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='holdings', to='annotations.asset')),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='asset_holdings', to='annotations.project')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('project', 'asset'), name='asset_held_once_per_project')],
            },
        ),
        migrations.RunPython(backfill_holdings, migrations.RunPython.noop),
    ]
