"""A small JSON API; enough for tests to see which database, media and broker a worker uses."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from core import work
from core.models import Document, TaskRun


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"app": "shape-a", "api": "/api/"})


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "database": work.database_name(),
        "vendor": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "media_root": str(settings.MEDIA_ROOT),
        "media": work.media_files(),
        "broker": settings.CELERY_BROKER_URL,
        "hostname": socket.gethostname(),
        "users": sorted(get_user_model().objects.values_list("username", flat=True)),
        "csrf_trusted_origins": settings.CSRF_TRUSTED_ORIGINS,
    })


def documents(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"documents": [
        {"id": d.pk, "title": d.title, "url": d.file.url, "pages": d.pages}
        for d in Document.objects.all()
    ]})


def _enqueue(run: TaskRun) -> None:
    if settings.TASKS_INLINE:
        work.record_run(run.pk)
        return
    from core.tasks import record_run  # Celery is only needed where jobs are queued

    record_run.delay(run.pk)


def _run_json(run: TaskRun) -> dict[str, object]:
    result = None
    if run.result_file:
        path = Path(settings.MEDIA_ROOT) / run.result_file
        if path.is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
    return {
        "id": run.pk, "status": run.status, "database": run.database, "worker": run.worker,
        "broker": run.broker, "result_file": run.result_file, "result": result,
    }


@csrf_exempt
def tasks(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        run = TaskRun.objects.create(requested_by=socket.gethostname())
        _enqueue(run)
        run.refresh_from_db()
        return JsonResponse(_run_json(run), status=201)
    return JsonResponse({"tasks": [_run_json(r) for r in TaskRun.objects.all()]})


def task_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    try:
        run = TaskRun.objects.get(pk=run_id)
    except TaskRun.DoesNotExist as err:
        raise Http404("no such task") from err
    return JsonResponse(_run_json(run))


def media(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, document_root=settings.MEDIA_ROOT)
