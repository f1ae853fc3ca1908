from __future__ import annotations

import json
import socket
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from shape_b.beat.models import Heartbeat, PeriodicTask
from shape_b.core import work
from shape_b.core.models import Document, TaskRun
from shape_b.core.tasks import record_run


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"app": "shape-b"})


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "database": work.database_name(),
        "media_root": str(settings.MEDIA_ROOT),
        "media": work.media_files(),
        "broker": settings.CELERY_BROKER_URL,
        "hostname": socket.gethostname(),
        "users": sorted(get_user_model().objects.values_list("username", flat=True)),
    })


def documents(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"documents": [
        {"id": d.pk, "title": d.title, "url": d.file.url} for d in Document.objects.all()]})


def _run_json(run: TaskRun) -> dict[str, object]:
    result = None
    if run.result_file:
        path = Path(settings.MEDIA_ROOT) / run.result_file
        if path.is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
    return {"id": run.pk, "status": run.status, "database": run.database, "worker": run.worker,
            "broker": run.broker, "result_file": run.result_file, "result": result}


@csrf_exempt
def tasks(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        run = TaskRun.objects.create()
        # After the commit: the worker must find the row (ATOMIC_REQUESTS is on).
        from django.db import transaction

        transaction.on_commit(lambda: record_run.delay(run.pk))
        return JsonResponse({"id": run.pk, "status": run.status}, status=201)
    return JsonResponse({"tasks": [_run_json(r) for r in TaskRun.objects.all()]})


def task_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    try:
        return JsonResponse(_run_json(TaskRun.objects.get(pk=run_id)))
    except TaskRun.DoesNotExist as err:
        raise Http404("no such task") from err


def beat(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "schedule": [{"name": p.name, "total_run_count": p.total_run_count,
                      "last_synced_at": p.last_synced_at and p.last_synced_at.isoformat()}
                     for p in PeriodicTask.objects.order_by("name")],
        "heartbeats": Heartbeat.objects.count(),
    })


def media(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, document_root=settings.MEDIA_ROOT)
