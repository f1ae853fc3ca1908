"""A small Django project with many migrations and a pytest-django suite, written on demand.

Used by the plugin's Django tests and by benchmarks/bench_pytest_template.py: a backend suite
shaped like the real projects in docs (DATABASES from $DATABASE_URL, an autouse fixture that
gives every test its own MEDIA_ROOT, --strict-markers with the project's own markers), next
to a compose-gen config whose stack is only a PostgreSQL service (no image to build).

Each test writes a line about itself (worker, database, the `applied` time of the project's
last migration, MEDIA_ROOT) to $SHOP_REPORT_DIR/<worker>.jsonl when that is set.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

COMPOSE = """\
services:
  db:
    image: ${DEMO_POSTGRES_IMAGE:-postgres:16-alpine}
    ports: ["5432"]
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: shop
      POSTGRES_DB: shop
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U shop -d shop"]
      interval: 1s
      timeout: 3s
      retries: 60
"""

CONFIG = """\
compose_files = ["docker-compose.yml"]
project_prefix = "shop"

[ports]
names = { db = "POSTGRES_PORT" }

[database]
service = "db"
user = "shop"
name = "shop"
"""

PYTEST_INI = """\
[pytest]
DJANGO_SETTINGS_MODULE = config.settings
testpaths = tests
pythonpath = .
addopts = --strict-markers -ra
markers =
    api: through the database
    files: writes media
filterwarnings =
    error
"""

SETTINGS = """\
import os
from urllib.parse import unquote, urlsplit

_url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://shop:shop@127.0.0.1:5435/shop"))
SECRET_KEY = "not-a-secret"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": _url.path.lstrip("/"),
    "USER": unquote(_url.username or ""), "PASSWORD": unquote(_url.password or ""),
    "HOST": _url.hostname, "PORT": _url.port or 5432,
}}
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", "/tmp/shop-media-shared")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

CONFTEST = '''\
import json
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes its media into its own directory: safe under xdist.

    $SHOP_SHARED_MEDIA (the tests' way to play a project that is not media-safe): one fixed
    directory for every test of every worker instead.
    """
    settings.MEDIA_ROOT = os.environ.get("SHOP_SHARED_MEDIA") or str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _report(request):
    yield
    out = os.environ.get("SHOP_REPORT_DIR")
    if not out or request.node.get_closest_marker("django_db") is None:
        return
    from django.conf import settings
    from django.db import connection

    applied = None
    if "django_migrations" in connection.introspection.table_names():  # not with --nomigrations
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(applied)::text FROM django_migrations WHERE app = 'shop'")
            applied = cursor.fetchone()[0]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
    line = {"test": request.node.nodeid, "worker": worker,
            "database": connection.settings_dict["NAME"],
            "port": str(connection.settings_dict["PORT"]), "applied": applied,
            "media_root": str(settings.MEDIA_ROOT)}
    with Path(out, f"{worker}.jsonl").open("a") as fh:
        fh.write(json.dumps(line) + "\\n")
'''

TESTS = '''\
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from shop.models import Item


@pytest.mark.api
@pytest.mark.django_db
@pytest.mark.parametrize("n", range(12))
def test_each_test_starts_from_an_empty_table(n):
    assert Item.objects.count() == 0
    Item.objects.bulk_create([Item(name=f"item-{n}-{i}") for i in range(n)])
    assert Item.objects.count() == n


@pytest.mark.api
@pytest.mark.django_db
def test_every_migration_is_applied():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.files
@pytest.mark.django_db
@pytest.mark.parametrize("n", range(6))
def test_uploads_land_in_this_tests_media_root(n, settings):
    name = default_storage.save(f"uploads/{n}.txt", ContentFile(b"x" * n))
    assert Path(settings.MEDIA_ROOT, name).read_bytes() == b"x" * n
    assert os.environ.get("SHOP_SHARED_MEDIA") or \
        default_storage.listdir("uploads")[1] == [f"{n}.txt"]
'''


def write_django_project(root: Path, *, migrations: int = 65) -> Path:
    """Write the project into `root` (created); returns its backend folder."""
    backend = root / "backend"
    app = backend / "shop"
    (app / "migrations").mkdir(parents=True)
    (backend / "config").mkdir()
    (backend / "tests").mkdir()
    (root / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    (root / "compose-gen.toml").write_text(CONFIG, encoding="utf-8")
    (backend / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (backend / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (backend / "config" / "__init__.py").write_text("", encoding="utf-8")
    (backend / "config" / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (backend / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (backend / "tests" / "test_shop.py").write_text(TESTS, encoding="utf-8")
    (app / "__init__.py").write_text("", encoding="utf-8")
    (app / "migrations" / "__init__.py").write_text("", encoding="utf-8")
    models = ["from django.db import models\n\n",
              "class Item(models.Model):\n    name = models.CharField(max_length=40)\n",
              *(f"    f{i} = models.IntegerField(default=0)\n" for i in range(2, migrations + 1)),
              ]
    for i in range(1, migrations + 1):
        models.append(f"\n\nclass Thing{i}(models.Model):\n"
                      f"    item = models.ForeignKey(Item, on_delete=models.CASCADE)\n"
                      f"    label = models.CharField(max_length=20, db_index=True)\n")
        (app / "migrations" / f"{i:04d}_thing{i}.py").write_text(
            _migration(i), encoding="utf-8")
    (app / "models.py").write_text("".join(models), encoding="utf-8")
    return backend


def _migration(i: int) -> str:
    operations = [f"""
        migrations.CreateModel(
            name="Thing{i}",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("item", models.ForeignKey(on_delete=models.deletion.CASCADE,
                                           to="shop.item")),
                ("label", models.CharField(db_index=True, max_length=20)),
            ],
        ),"""]
    if i == 1:
        operations.insert(0, """
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=40)),
            ],
        ),""")
    else:
        # Like a real project's history: the models change as well as grow.
        operations.append(f"""
        migrations.AddField(
            model_name="item", name="f{i}", field=models.IntegerField(default=0),
        ),""")
    depends = "[]" if i == 1 else f'[("shop", "{i - 1:04d}_thing{i - 1}")]'
    return textwrap.dedent(f"""\
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = {i == 1}
            dependencies = {depends}
            operations = [{"".join(operations)}
            ]
        """)
