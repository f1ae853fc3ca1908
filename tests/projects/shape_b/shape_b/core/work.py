from __future__ import annotations

import json
import socket
from pathlib import Path

from django.conf import settings
from django.db import connection


def database_name() -> str:
    """The database this process really talks to."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            return cursor.fetchone()[0]
    return str(connection.settings_dict["NAME"])


def media_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def record_run(run_id: int) -> dict[str, str]:
    from shape_b.core.models import TaskRun

    run = TaskRun.objects.get(pk=run_id)
    facts = {"run": str(run.pk), "database": database_name(), "worker": socket.gethostname(),
             "broker": settings.CELERY_BROKER_URL}
    target = Path(settings.MEDIA_ROOT) / "runs" / f"{run.pk}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(facts), encoding="utf-8")
    TaskRun.objects.filter(pk=run.pk).update(
        status="done", database=facts["database"], worker=facts["worker"],
        broker=facts["broker"], result_file=f"runs/{run.pk}.json")
    return facts
