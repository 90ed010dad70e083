"""Settings shared by every environment. Secrets and endpoints come from the environment."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS: list[str] = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "ecrf.audit",
    "ecrf.accounts",
    "ecrf.studies",
    "ecrf.participants",
    "ecrf.schedule",
    "ecrf.safety",
    "ecrf.endpoints",
    "ecrf.quality",
    "ecrf.queries",
    "ecrf.labs",
    "ecrf.notifications",
    "ecrf.exports",
    "ecrf.reports",
    "ecrf.review",
    "ecrf.home",
    "randomization",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ecrf.accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ecrf.accounts.middleware.OTPMiddleware",
    "ecrf.accounts.middleware.UserLanguageMiddleware",
    "ecrf.accounts.middleware.MFARequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ecrf.audit.middleware.AuditContextMiddleware",
    "ecrf.quality.middleware.LockedDataMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ecrf.urls"
WSGI_APPLICATION = "ecrf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ecrf.home.context_processors.navigation",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, Any]:
    """A Django DATABASES entry for a PostgreSQL URL; anything else is refused."""
    scheme = urlsplit(url).scheme
    if not scheme.startswith("postgres"):
        raise ValueError(f"DATABASE_URL must point at PostgreSQL, got scheme {scheme!r}")
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    )
    config["ENGINE"] = "django.db.backends.postgresql"
    options = config.setdefault("OPTIONS", {})
    options["connect_timeout"] = 5
    options.setdefault("application_name", program_name(sys.argv))
    # The pages ask short queries over many rows; compiling them just in time costs more
    # than it saves (tens of milliseconds on a report at 10,000 participants).
    options.setdefault("options", "-c jit=off")
    return config


def program_name(argv: list[str]) -> str:
    """What this process is, as PostgreSQL shows it (``pg_stat_activity``) and as the audit
    trail names a change made outside any request, command context or task:
    ``manage.py migrate`` is ``migrate``, ``python -m celery`` is ``celery``."""
    path = Path(argv[0]) if argv and argv[0] else Path("python")
    program = path.parent.name if path.name == "__main__.py" else path.name  # python -m
    if program in {"manage.py", "django-admin", "django"} and len(argv) > 1:
        program = argv[1]
    return program[:63]


AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "ecrf.accounts.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "ecrf.accounts.passwords.GuessablePasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Idle timeout: a signed-in request renews the session, once a minute at most (see
# IdleTimeoutMiddleware); 30 minutes without one ends it.
SESSION_ENGINE = "ecrf.accounts.sessions"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60))
SESSION_RENEWAL_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# django-axes: five wrong passwords for one username lock that account for an hour
# (21 CFR 11.300(d)); many more from one network address lock the address, against
# password spraying (one guess at each of many accounts). The address limit is higher so
# that one person's typing errors never shut out a whole hospital behind one NAT address.
AXES_FAILURE_LIMIT = "ecrf.accounts.lockout.failure_limit"
ECRF_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("ACCOUNT_FAILURE_LIMIT", "5"))
ECRF_ADDRESS_FAILURE_LIMIT = int(os.environ.get("ADDRESS_FAILURE_LIMIT", "30"))
AXES_COOLOFF_TIME = timedelta(hours=1)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "ecrf.accounts.lockout.AccountLockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ecrf.accounts.views.lockout_response"
AXES_USERNAME_CALLABLE = "ecrf.accounts.views.sign_in_username"
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

OTP_TOTP_ISSUER = "Tacrolimus eCRF"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / "var" / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Audit trail: one event table per tracked model, filled by triggers, protected
# against UPDATE and DELETE, each row carrying its own copy of the audit context.
PGHISTORY_APPEND_ONLY = True
PGHISTORY_MIDDLEWARE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ecrf.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ecrf.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["ecrf.api.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": [
        "ecrf.api.throttling.AnonymousRateThrottle",
        "ecrf.api.throttling.UserRateThrottle",
    ],
}
# API request rates (DRF's "number/period"): generous for a signed-in user or key, tighter
# for requests without credentials; past them the API answers 429 with Retry-After.
API_THROTTLE_RATES = {
    "anon": os.environ.get("API_THROTTLE_ANON", "120/minute"),
    "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
}
# API keys (django-rest-knox): only a SHA-512 digest is stored; a key expires after this
# many days, and a new one is issued for the integration.
API_KEY_TTL = timedelta(days=int(os.environ.get("API_KEY_TTL_DAYS", "90")))

# Anchors outside the database (ecrf.audit.anchor): the installation's Ed25519 key, as a
# PEM file (ARCHIVE_KEY_FILE) or PEM text (ARCHIVE_KEY), never stored in the database;
# and the RFC 3161 time-stamping authority that stamps archives and chain checkpoints.
ARCHIVE_KEY_FILE = os.environ.get("ARCHIVE_KEY_FILE", "")
ARCHIVE_KEY = os.environ.get("ARCHIVE_KEY", "")
TSA_URL = os.environ.get("TSA_URL", "")
#: The authority's root certificates (PEM), against which its stamps are verified.
TSA_ROOT_CERTS = os.environ.get("TSA_ROOT_CERTS", "")
#: Hours a checkpoint may wait for its stamp before the administrators are told.
TSA_ALARM_HOURS = int(os.environ.get("TSA_ALARM_HOURS", "24"))
#: Minutes between scheduled checkpoints of the audit trail's chain.
CHECKPOINT_INTERVAL_MINUTES = int(os.environ.get("CHECKPOINT_INTERVAL_MINUTES", "60"))
REST_KNOX = {
    "TOKEN_TTL": API_KEY_TTL,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tacrolimus trial eCRF API",
    "DESCRIPTION": "API contract, version 1, for the oral tacrolimus trial (jRCTs031220235).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Content-Security-Policy: everything is served by the app itself.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Celery: acknowledged after the task ran, one message at a time, so a worker that
# dies mid-task leaves its message to be delivered again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "ecrf.core.tasks.sessions_clear_expired",
        "schedule": timedelta(hours=6),
    },
    # Before the sites' working day: "dosing starts tomorrow" and each coordinator's digest.
    "send-daily-reminders": {
        "task": "ecrf.schedule.tasks.send_daily_reminders",
        "schedule": crontab(hour=7, minute=0),
    },
    # The whole audit trail's hash chain, checked every night; a break is mailed to admins.
    "verify-audit-trail": {
        "task": "ecrf.audit.tasks.audit_trail_verify",
        "schedule": crontab(hour=2, minute=30),
    },
    # The chain's head signed and stamped outside the database; stamps still owed are
    # asked for again, and an authority down for TSA_ALARM_HOURS is reported.
    "audit-checkpoint": {
        "task": "ecrf.audit.tasks.audit_checkpoint_scheduled",
        "schedule": timedelta(minutes=CHECKPOINT_INTERVAL_MINUTES),
    },
    # Audit-trail review reads an index of the trail: copy each minute's new changes.
    "update-audit-review-index": {
        "task": "ecrf.review.tasks.audit_index_update",
        "schedule": timedelta(minutes=1),
    },
    # Serious adverse events: queue again any sponsor notification still unsent (a lost
    # message, a broker that was down), so the 24-hour deadline is not missed silently.
    "requeue-safety-notifications": {
        "task": "ecrf.safety.tasks.requeue_safety_notifications",
        "schedule": timedelta(minutes=5),
    },
    # Staff notifications (unblinding, a list run out): the same, for the outbox of staff.
    "requeue-staff-notifications": {
        "task": "ecrf.notifications.tasks.requeue_staff_notifications",
        "schedule": timedelta(minutes=5),
    },
    # API keys past their expiry (refused already) are removed, audited as revoked.
    "remove-expired-api-keys": {
        "task": "ecrf.accounts.tasks.api_keys_remove_expired",
        "schedule": timedelta(hours=1),
    },
    # Exports: queue again a job whose worker died; delete files past their expiry.
    "sweep-exports": {
        "task": "ecrf.exports.tasks.sweep_exports",
        "schedule": timedelta(minutes=2),
    },
}


def sqlalchemy_broker_url(database_url: str) -> str:
    """The Celery broker on the app's own PostgreSQL (kombu's SQLAlchemy transport).

    Used where no broker server is configured, so that ``make run`` needs nothing
    installed beside the embedded database.
    """
    parts = urlsplit(database_url)
    return "sqla+" + parts._replace(scheme="postgresql+psycopg").geturl()


def broker_transport_options(broker_url: str) -> dict[str, Any]:
    """Redis redelivers a message unacknowledged for an hour (a worker that died mid-task).

    A Redis that does not answer is given up after a few seconds: without a connect
    timeout a request queuing a message after its commit waits minutes for the system's
    own (the data is saved; the outbox and the beat job deliver the message later).
    """
    if broker_url.startswith(("redis://", "rediss://")):
        return {"visibility_timeout": 3600, "socket_connect_timeout": 5}
    return {}


ECRF_STUDY_CODE = "TAC-RI"
# May a study setting switch off MFA? Only outside production.
ECRF_ALLOW_MFA_RELAXATION = False
# May demo users with published passwords be created?
ECRF_ALLOW_DEMO_USERS = False

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ecrf@localhost")
# The sponsor's safety desk: who receives serious adverse events (comma-separated e-mails).
SAFETY_CONTACTS: list[str] = [
    address.strip()
    for address in os.environ.get("SAFETY_CONTACTS", "").split(",")
    if address.strip()
]
# The Celery queue of the SAE notifications (None: Celery's default queue).
SAFETY_NOTIFICATION_QUEUE: str | None = os.environ.get("SAFETY_NOTIFICATION_QUEUE") or None
# The Celery queue of the staff notifications: unblinding, a randomization list run out.
NOTIFICATION_QUEUE: str | None = os.environ.get("NOTIFICATION_QUEUE") or None
# Exports: how long a finished file is kept for its owner, and the Celery queue of the
# export jobs (None: Celery's default queue).
EXPORT_RETENTION = timedelta(days=int(os.environ.get("EXPORT_RETENTION_DAYS", "7")))
EXPORT_QUEUE: str | None = os.environ.get("EXPORT_QUEUE") or None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_personal_data": {"()": "ecrf.common.logging.NoPersonalDataFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
