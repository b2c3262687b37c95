from django.db import migrations, models


class Migration(migrations.Migration):
    """A project names an operator-allowed trainer command instead of holding an argv: only the operator
    decides what runs on the server (LOUPE_TRAINER_COMMANDS)."""

    dependencies = [
        ('activelearning', '0009_webhooks'),
    ]

    operations = [
        migrations.RemoveField(model_name='trainerconfig', name='command'),
        migrations.AddField(
            model_name='trainerconfig',
            name='command',
            field=models.CharField(blank=True, help_text='The name of a trainer command the operator allowed (LOUPE_TRAINER_COMMANDS).', max_length=64),
        ),
    ]
