import pytest

pytestmark = pytest.mark.unit


def test_default_settings_use_sqlite():
    from config import settings as defaults

    assert defaults.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


def test_csrf_origins_name_the_frontend(settings):
    assert "http://localhost:8088" in settings.CSRF_TRUSTED_ORIGINS


def test_postgres_settings_parse_database_url(monkeypatch):
    import importlib
    import sys

    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p%40ss@db:5433/name")
    sys.modules.pop("config.settings_postgres", None)
    module = importlib.import_module("config.settings_postgres")
    db = module.DATABASES["default"]
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "name", "u", "p@ss", "db", 5433)
