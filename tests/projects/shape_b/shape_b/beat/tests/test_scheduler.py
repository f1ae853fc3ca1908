import pytest

from config.celery_app import app
from shape_b.beat.models import PeriodicTask
from shape_b.beat.schedulers import DatabaseScheduler

pytestmark = pytest.mark.django_db


def test_scheduler_reads_and_writes_the_table():
    scheduler = DatabaseScheduler(app=app, lazy=True)
    scheduler.setup_schedule()
    assert "heartbeat" in scheduler.schedule
    PeriodicTask.objects.filter(name="heartbeat").update(enabled=False)
    scheduler.sync()
    assert "heartbeat" not in scheduler.schedule
