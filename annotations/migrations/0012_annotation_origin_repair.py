"""A version may be Loupe's own repair (origin `repair`, no author): 0013 uses it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0011_prediction_model_time'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='annotation',
            name='annotation_author_unless_consensus',
        ),
        migrations.AlterField(
            model_name='annotation',
            name='author',
            field=models.ForeignKey(blank=True, help_text='Null only for a consensus or repair version.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='annotations', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='origin',
            field=models.CharField(choices=[('person', 'Person'), ('consensus', 'Consensus'), ('review', 'Review'), ('repair', 'Repair')], default='person', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='annotation',
            constraint=models.CheckConstraint(condition=models.Q(('author__isnull', False), ('origin__in', ['consensus', 'repair']), _connector='OR'), name='annotation_author_unless_consensus'),
        ),
    ]
