import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres need the Postgres settings (DATABASE_URL); skip them on SQLite."""
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (DJANGO_SETTINGS_MODULE=config.settings_postgres)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes its media into its own directory: safe under xdist."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS_INLINE = True
    return settings.MEDIA_ROOT
