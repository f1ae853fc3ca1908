"""Celery beat reading its schedule from the database, as django-celery-beat does."""

from __future__ import annotations

from datetime import timedelta

from celery.beat import Scheduler
from celery.utils.log import get_logger

logger = get_logger(__name__)


class DatabaseScheduler(Scheduler):
    #: seconds between two reads of the schedule table (and writes of the run counts)
    sync_every = 5

    def setup_schedule(self) -> None:
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()
        self._read()

    def _read(self) -> None:
        from django.db import ProgrammingError

        from shape_b.beat.models import PeriodicTask

        try:
            wanted = {
                entry.name: {"task": entry.task,
                             "schedule": timedelta(seconds=entry.every_seconds)}
                for entry in PeriodicTask.objects.filter(enabled=True)
            }
        except ProgrammingError as err:
            # Beat starts with the server, which may still be migrating: read again at the
            # next sync. (Authentication and connection errors are not caught: beat stops.)
            logger.warning("schedule table not readable yet: %s", str(err).splitlines()[0])
            return
        self.merge_inplace(wanted)

    def sync(self) -> None:
        from django.utils import timezone

        from shape_b.beat.models import PeriodicTask

        for name, entry in self.schedule.items():
            PeriodicTask.objects.filter(name=name).update(
                total_run_count=entry.total_run_count, last_run_at=entry.last_run_at,
                last_synced_at=timezone.now())
        self._read()
