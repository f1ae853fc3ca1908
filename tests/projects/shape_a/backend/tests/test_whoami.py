import pytest

pytestmark = [pytest.mark.api, pytest.mark.django_db]


def test_whoami_names_the_database_and_broker(client, settings):
    body = client.get("/api/whoami").json()
    assert body["database"] == str(settings.DATABASES["default"]["NAME"])
    assert body["broker"] == settings.CELERY_BROKER_URL
    assert body["hostname"]


def test_whoami_lists_users(client, django_user_model):
    django_user_model.objects.create_user("alice", password="x")
    assert client.get("/api/whoami").json()["users"] == ["alice"]


def test_whoami_media_empty_at_first(client):
    assert client.get("/api/whoami").json()["media"] == []
