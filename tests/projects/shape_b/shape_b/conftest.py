import pytest

from shape_b.users.models import User
from shape_b.users.tests.factories import make_user


@pytest.fixture(autouse=True)
def _media_storage(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def user(db) -> User:
    return make_user()
