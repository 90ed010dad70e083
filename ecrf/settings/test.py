"""Settings of ``make test``: the embedded PostgreSQL unless ``DATABASE_URL`` names another."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import broker_transport_options, database_from_url, sqlalchemy_broker_url
from .embedded import embedded_postgres_url

SECRET_KEY = "test-only-not-a-secret-91c4e7a2b5d8"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

DATABASE_URL = os.environ.get("DATABASE_URL") or embedded_postgres_url("ecrf")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or sqlalchemy_broker_url(DATABASE_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

# Fast hashing keeps the suite quick; production uses Django's default PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Mail stays in memory, unless a test's worker process is given a backend (and a folder)
# that another process can watch.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or "django.core.mail.backends.locmem.EmailBackend"
if os.environ.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
# A test's worker may send through a real SMTP server the test runs on the loopback.
if os.environ.get("EMAIL_PORT"):
    EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
    EMAIL_PORT = int(os.environ["EMAIL_PORT"])
    EMAIL_TIMEOUT = 60
ECRF_ALLOW_MFA_RELAXATION = True
# The suite and the schemathesis run send thousands of requests a minute from one address;
# the throttle itself is tested with low rates set by the test.
API_THROTTLE_RATES = {"anon": "100000/minute", "user": "100000/minute"}
ECRF_ALLOW_DEMO_USERS = True
LANGUAGE_CODE = "en"

# Static files straight from the source folders; collectstatic is for production.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Every signed-in request renews the session, so that the statements a page sends do not
# depend on how long ago the test's previous request was (the query counts are pinned).
SESSION_RENEWAL_SECONDS = 0
