"""Celery tasks of the treatment period: thin wrappers around the reminder service."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from .reminders import reminders_prepare, reminders_send_pending


@shared_task(
    name="ecrf.schedule.tasks.send_daily_reminders",
    acks_late=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=8,
)
def send_daily_reminders() -> dict[str, int]:
    """Write today's reminders, then send every reminder not sent yet (daily, 07:00 Tokyo).

    Safe to run twice, in parallel, or again after a worker died: the rows written
    first make preparing idempotent, and sending takes one locked unsent row at a time
    (see :func:`ecrf.schedule.reminders.reminders_send_pending`). A mail server that
    is down makes the task retry with a growing delay; what was sent before stays sent.
    """
    created = reminders_prepare()
    sent = reminders_send_pending()
    return {"created": created, "sent": sent}
