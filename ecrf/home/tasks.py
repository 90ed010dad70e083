from __future__ import annotations

from celery import shared_task
from django.core.management import call_command

# The registered names are those the tasks had in ecrf.core, so that beat entries and
# messages queued by an existing installation still find their task.


@shared_task(name="ecrf.core.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Delete expired sessions, so a stolen old session id is worth nothing."""
    call_command("clearsessions")


@shared_task(name="ecrf.core.tasks.ping")
def ping() -> str:
    """A task that does nothing but answer: proves a worker consumes the broker."""
    return "pong"
