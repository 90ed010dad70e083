"""Settings of ``make run``: a developer's or a demo machine, on the embedded PostgreSQL."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, broker_transport_options, database_from_url, sqlalchemy_broker_url
from .embedded import embedded_postgres_url

# Off unless asked for (DEBUG=1): the app shows its own error pages, as in production.
DEBUG = os.environ.get("DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("SECRET_KEY") or "local-only-not-a-secret-7f3b2c9e4d1a"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

DATABASE_URL = os.environ.get("DATABASE_URL") or embedded_postgres_url("ecrf")
DATABASES = {"default": database_from_url(DATABASE_URL)}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or sqlalchemy_broker_url(DATABASE_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
CELERY_RESULT_BACKEND = None
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")

ECRF_ALLOW_MFA_RELAXATION = True
ECRF_ALLOW_DEMO_USERS = True

# Static files straight from the source folders; collectstatic is for production.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
