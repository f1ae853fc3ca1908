from django.db import migrations


def add_heartbeat(apps, schema_editor):
    PeriodicTask = apps.get_model("beat", "PeriodicTask")
    PeriodicTask.objects.get_or_create(
        name="heartbeat", defaults={"task": "shape_b.beat.tasks.heartbeat", "every_seconds": 5})


def remove_heartbeat(apps, schema_editor):
    apps.get_model("beat", "PeriodicTask").objects.filter(name="heartbeat").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("beat", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_heartbeat, remove_heartbeat),
    ]
