import pytest
from core import work
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_current_database_is_the_test_database(settings):
    assert work.database_name() == connection.settings_dict["NAME"]


def test_server_is_postgres_15_or_later():
    assert connection.pg_version >= 150000
