"""Is the database reachable, and the broker?"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from kombu import Connection


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001  (any failure means unreachable)
        return False


def broker_reachable(timeout: float = 3.0) -> bool:
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=timeout,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            return True
    except Exception:  # noqa: BLE001
        return False
