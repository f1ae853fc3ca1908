"""The Celery app: `celery -A config.celery_app worker`. Settings come from CELERY_* in Django's."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_postgres")

app = Celery("shape_a")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
