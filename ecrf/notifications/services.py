"""Writing, sending and re-queuing the outbox's e-mails; one way for every kind of message.

Each message is a row written in the transaction of the change it tells of, handed to a
worker once that transaction commits, and sent by :func:`outbox_send` under a row lock,
so it goes out once per successful attempt whatever crashes around it. Beat runs
:func:`outbox_requeue` every five minutes for what is still unsent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import override

from .models import OutboxMessage, StaffNotification

if TYPE_CHECKING:
    from ecrf.accounts.models import User

logger = logging.getLogger(__name__)

#: An unsent message with no attempt for this long is queued again by the beat job
#: (longer than the tasks' largest retry delay, so a live retry chain is left alone).
REQUEUE_AFTER = dt.timedelta(minutes=15)

Message = TypeVar("Message", bound=OutboxMessage)


def stable_message_id(row: Model, created_at: dt.datetime) -> str:
    """The ``Message-ID`` of the e-mail a row stands for: the same on every attempt to send it.

    Made only of what is fixed when the row is written (its table, its id, the instant
    it was created, to the microsecond) and the domain of ``DEFAULT_FROM_EMAIL``, not of
    the host or time of the attempt, so a copy sent again after a crash is recognisably
    the same message, and rows of two databases (a restored copy, another installation)
    do not share one.
    """
    created = created_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "localhost"
    return f"<{row._meta.label_lower}.{row.pk}.{created}@{domain}>"


def outbox_message_id(message: OutboxMessage) -> str:
    """The ``Message-ID`` of an outbox e-mail (:func:`stable_message_id`)."""
    return stable_message_id(message, message.created_at)


def mail_send(*, subject: str, body: str, to: list[str], message_id: str) -> None:
    """Hand one plain-text e-mail to the mail server, under the given ``Message-ID``."""
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": message_id},
    ).send()


def outbox_send(
    messages: QuerySet[Message],
    *,
    message_id: int,
    recipients: Callable[[Message], list[str]],
    nobody: str,
) -> bool:
    """Send one unsent message of ``messages`` unless it was sent; answer if it was now.

    In one transaction: lock the row (``SELECT ... FOR UPDATE SKIP LOCKED``), send, mark
    it sent, commit. A second run while the first holds the row skips it; a run after
    the commit finds it sent. A worker killed before the commit leaves the row unsent
    and unlocked, for a retry or the beat job. Delivery to the mail server is at least
    once: a crash after it accepted the message but before the commit sends it again,
    with the same ``Message-ID`` (:func:`outbox_message_id`), so a mail server or reader
    that drops a Message-ID it already has delivers it once.

    A failure to send is recorded (attempts, last error) and raised again for the task
    to retry. With no recipient (``nobody`` says why) the row stays unsent, the reason
    logged and recorded, for the beat job to try again.
    """
    failure: Exception | None = None
    with transaction.atomic():
        message = (
            messages.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=message_id, sent_at__isnull=True)
            .first()
        )
        if message is None:
            return False
        message.attempts += 1
        message.last_attempt_at = timezone.now()
        addresses = recipients(message)
        if not addresses:
            message.last_error = nobody
            logger.error("%s %s not sent: %s", message._meta.label, message.pk, nobody)
        else:
            try:
                mail_send(
                    subject=message.subject,
                    body=message.body,
                    to=addresses,
                    message_id=outbox_message_id(message),
                )
            except Exception as exc:
                failure = exc
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                message.sent_at = timezone.now()
                message.last_error = ""
        message.save(update_fields=["attempts", "last_attempt_at", "last_error", "sent_at"])
    if failure is not None:
        raise failure
    return message.sent_at is not None


def outbox_requeue(
    messages: QuerySet[Message], *, queue: Callable[[int], None], now: dt.datetime | None = None
) -> int:
    """Queue again every unsent message nobody tried lately; answer how many.

    Queuing one that is being sent does no harm: the task skips a locked or sent row.
    """
    stale = (now or timezone.now()) - REQUEUE_AFTER
    pending = list(
        messages.filter(sent_at__isnull=True)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=stale))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for message_id in pending:
        queue(message_id)
    return len(pending)


def on_commit_queue(queue: Callable[[int], None], message_id: int) -> None:
    """Hand the message to a worker once the transaction that wrote it commits.

    ``robust``: a broker that is down then does not turn the saved change into an error
    page; the beat job queues the message again. (A function, not a
    ``functools.partial``: Django names a failed callback in its log by
    ``__qualname__``, which a partial lacks.)
    """

    def queue_message() -> None:
        queue(message_id)

    transaction.on_commit(queue_message, robust=True)


def staff_notify(
    *,
    kind: str,
    recipients: Iterable[User],
    message: Callable[[], tuple[str, str]],
) -> list[StaffNotification]:
    """Write one e-mail per recipient, each in her own language, and queue them on commit.

    ``message`` answers (subject, body) in the active language; it is called once per
    recipient under her language. Recipients without an e-mail address are passed over.
    """
    notifications = []
    for user in recipients:
        if not user.email:
            continue
        with override(user.language or settings.LANGUAGE_CODE):
            subject, body = message()
        notification = StaffNotification.objects.create(
            kind=kind, recipient=user, subject=subject[:300], body=body
        )
        on_commit_queue(staff_notification_queue, notification.pk)
        notifications.append(notification)
    return notifications


def staff_notification_queue(notification_id: int) -> None:
    """Hand one staff notification to a worker (queue ``NOTIFICATION_QUEUE``)."""
    from .tasks import send_staff_notification  # noqa: PLC0415  (a service queues its own task)

    send_staff_notification.apply_async(
        args=[notification_id], queue=settings.NOTIFICATION_QUEUE or None
    )


def _staff_recipient(notification: StaffNotification) -> list[str]:
    user = notification.recipient
    return [user.email] if user.is_active and user.email else []


def staff_notification_send(*, notification_id: int) -> bool:
    """Send one staff notification to its recipient's current address, once."""
    return outbox_send(
        StaffNotification.objects.select_related("recipient"),
        message_id=notification_id,
        recipients=_staff_recipient,
        nobody="The recipient is inactive or has no e-mail address.",
    )


def staff_notifications_requeue(*, now: dt.datetime | None = None) -> int:
    """Queue again the unsent staff notifications of recipients who can still receive them."""
    return outbox_requeue(
        StaffNotification.objects.filter(recipient__is_active=True).exclude(recipient__email=""),
        queue=staff_notification_queue,
        now=now,
    )
