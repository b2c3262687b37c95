"""Items that settle a dispute but were rerouted to `model_disagreement` by the server pre-label go back to
`disputed` (issue 13, defect 4), so the "disputed" filter finds them.

Reversible: the rerouting wrote `score_parts.field_reason = "disputed"` on exactly those items and nothing
writes it any more, so the reverse puts back `model_disagreement` on the items that carry it.
"""

from django.db import migrations
from django.db.models import Q

REROUTED_DISPUTE = Q(score_parts__field_reason="disputed")


def forward(apps, schema_editor):
    ReviewItem = apps.get_model("reviewer", "ReviewItem")
    ReviewItem.objects.filter(REROUTED_DISPUTE | Q(prediction__event_type="dispute"),
                              reason="model_disagreement").update(reason="disputed")


def backward(apps, schema_editor):
    ReviewItem = apps.get_model("reviewer", "ReviewItem")
    ReviewItem.objects.filter(REROUTED_DISPUTE, reason="disputed").update(reason="model_disagreement")


class Migration(migrations.Migration):

    dependencies = [
        ("reviewer", "0007_count_flag_outcome"),
        ("annotations", "0004_annotation_consensus"),
    ]

    operations = [migrations.RunPython(forward, backward)]
