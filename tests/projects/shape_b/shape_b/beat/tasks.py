import socket

from celery import shared_task
from django.db import connection

from shape_b.beat.models import Heartbeat


@shared_task
def heartbeat() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()" if connection.vendor == "postgresql"
                       else "SELECT 'sqlite'")
        database = cursor.fetchone()[0]
    return Heartbeat.objects.create(database=database, worker=socket.gethostname()).pk
