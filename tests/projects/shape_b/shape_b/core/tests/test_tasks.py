import pytest
from django.urls import reverse

from shape_b.core.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_post_task_runs_it_after_commit(client, settings):
    run_id = client.post(reverse("tasks")).json()["id"]
    body = client.get(reverse("task-detail", args=[run_id])).json()
    assert body["status"] == "done"
    assert body["result"]["database"] == body["database"]
    assert TaskRun.objects.count() == 1


def test_unknown_task(client):
    assert client.get(reverse("task-detail", args=[424242])).status_code == 404
