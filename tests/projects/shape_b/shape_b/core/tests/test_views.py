import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_index(client):
    assert client.get(reverse("home")).json() == {"app": "shape-b"}


def test_whoami(client, user):
    body = client.get(reverse("whoami")).json()
    assert body["users"] == [user.username]
    assert body["database"].startswith("test_")
    assert body["media"] == []
