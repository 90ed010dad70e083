"""Celery tasks of the outbox: thin wrappers around the notification services."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from .services import staff_notification_send, staff_notifications_requeue


@shared_task(
    name="ecrf.notifications.tasks.send_staff_notification",
    acks_late=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=50,
)
def send_staff_notification(notification_id: int) -> bool:
    """Send one staff notification, once (a sent or locked one is skipped)."""
    return staff_notification_send(notification_id=notification_id)


@shared_task(name="ecrf.notifications.tasks.requeue_staff_notifications")
def requeue_staff_notifications() -> int:
    """Every five minutes: queue again the staff notifications still unsent."""
    return staff_notifications_requeue()
