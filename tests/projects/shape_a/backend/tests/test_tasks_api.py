import pytest
from core.models import TaskRun

pytestmark = [pytest.mark.api, pytest.mark.django_db]


def test_post_runs_the_task(client, settings):
    body = client.post("/api/tasks").json()
    assert body["status"] == "done"
    assert body["result"]["run"] == str(body["id"])
    assert body["database"] == str(settings.DATABASES["default"]["NAME"])


def test_task_detail(client):
    run_id = client.post("/api/tasks").json()["id"]
    assert client.get(f"/api/tasks/{run_id}").json()["id"] == run_id


def test_unknown_task_is_404(client):
    assert client.get("/api/tasks/999999").status_code == 404


def test_list_tasks(client):
    client.post("/api/tasks")
    client.post("/api/tasks")
    assert len(client.get("/api/tasks").json()["tasks"]) == TaskRun.objects.count() == 2
