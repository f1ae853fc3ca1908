import pytest

from shape_b.beat.models import Heartbeat, PeriodicTask
from shape_b.beat.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_migration_installs_the_heartbeat_schedule():
    entry = PeriodicTask.objects.get(name="heartbeat")
    assert entry.task == "shape_b.beat.tasks.heartbeat"
    assert entry.enabled


def test_heartbeat_records_the_database():
    pk = heartbeat.delay().get()
    assert Heartbeat.objects.get(pk=pk).database.startswith("test_")
