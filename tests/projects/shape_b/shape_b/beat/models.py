from django.db import models


class PeriodicTask(models.Model):
    """A schedule entry read by celery beat (shape_b.beat.schedulers.DatabaseScheduler)."""

    name = models.CharField(max_length=200, unique=True)
    task = models.CharField(max_length=200)
    every_seconds = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    total_run_count = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Heartbeat(models.Model):
    """Written by the periodic heartbeat task: which database and worker ran it."""

    database = models.CharField(max_length=100)
    worker = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)
