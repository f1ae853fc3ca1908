import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_advisory_lock_round_trip():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(4242)")
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT pg_advisory_unlock(4242)")
        assert cursor.fetchone()[0] is True
