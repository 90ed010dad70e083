"""Celery tasks of safety: thin wrappers around the notification services."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from .services import safety_notification_send, safety_notifications_requeue


@shared_task(
    name="ecrf.safety.tasks.send_safety_notification",
    acks_late=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=200,
)
def send_safety_notification(notification_id: int) -> bool:
    """Send one SAE notification to the sponsor's safety contacts, once.

    Idempotent: a sent or locked notification is skipped. A mail server that is down
    makes the task retry with a growing delay (at most ten minutes apart, for well over
    a day); the beat job queues again whatever is still unsent after that.
    """
    return safety_notification_send(notification_id=notification_id)


@shared_task(name="ecrf.safety.tasks.requeue_safety_notifications")
def requeue_safety_notifications() -> int:
    """Every five minutes: queue again the SAE notifications still unsent."""
    return safety_notifications_requeue()
