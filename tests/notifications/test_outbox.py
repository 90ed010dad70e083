"""The staff outbox: one row per recipient in her language, sent once, re-queued while owed."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from ecrf.accounts.models import User
from ecrf.notifications import services
from ecrf.notifications.models import StaffNotification
from ecrf.notifications.services import (
    REQUEUE_AFTER,
    staff_notification_send,
    staff_notifications_requeue,
    staff_notify,
)

pytestmark = pytest.mark.django_db


def _message() -> tuple[str, str]:
    from django.utils.translation import gettext as _

    return _("Unblinding"), _("Reason")


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE", "PROT-LANGUAGE")
def test_each_recipient_gets_her_own_row_in_her_language_and_one_mail(make_user):
    english = make_user("data_manager", email="dm@example.org", language="en")
    japanese = make_user("data_manager", email="dm-ja@example.org", language="ja")
    without_address = make_user("data_manager", email="")
    rows = staff_notify(
        kind="unblinding",
        recipients=User.objects.filter(pk__in=[english.pk, japanese.pk, without_address.pk]),
        message=_message,
    )
    assert {(r.recipient.email, r.subject) for r in rows} == {
        ("dm@example.org", "Unblinding"),
        ("dm-ja@example.org", "盲検解除"),
    }
    for row in rows:
        assert staff_notification_send(notification_id=row.pk) is True
        assert staff_notification_send(notification_id=row.pk) is False
    assert sorted(m.to[0] for m in mail.outbox) == ["dm-ja@example.org", "dm@example.org"]


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_a_failed_send_is_recorded_and_requeued_until_sent(make_user):
    user = make_user("statistician", email="stats@example.org")
    (row,) = staff_notify(
        kind="list_exhausted", recipients=User.objects.filter(pk=user.pk), message=_message
    )
    with (
        mock.patch.object(
            services.EmailMessage, "send", side_effect=ConnectionRefusedError("down")
        ),
        pytest.raises(ConnectionRefusedError),
    ):
        staff_notification_send(notification_id=row.pk)
    row.refresh_from_db()
    assert (row.sent_at, row.attempts) == (None, 1)
    assert "ConnectionRefusedError: down" in row.last_error

    queued: list[int] = []
    with mock.patch.object(services, "staff_notification_queue", side_effect=queued.append):
        # Just tried: its retry chain is alive, so beat leaves it alone.
        assert staff_notifications_requeue() == 0
        later = timezone.now() + REQUEUE_AFTER + dt.timedelta(minutes=1)
        assert staff_notifications_requeue(now=later) == 1
    assert queued == [row.pk]
    assert staff_notification_send(notification_id=row.pk) is True
    row.refresh_from_db()
    assert (row.attempts, row.last_error) == (2, "")


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_a_recipient_deactivated_since_is_not_mailed_nor_requeued(make_user):
    user = make_user("data_manager", email="dm@example.org")
    (row,) = staff_notify(
        kind="unblinding", recipients=User.objects.filter(pk=user.pk), message=_message
    )
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert staff_notification_send(notification_id=row.pk) is False
    row.refresh_from_db()
    assert row.sent_at is None and "inactive" in row.last_error
    assert mail.outbox == []
    later = timezone.now() + REQUEUE_AFTER + dt.timedelta(minutes=1)
    with mock.patch.object(services, "staff_notification_queue") as queue:
        assert staff_notifications_requeue(now=later) == 0
    queue.assert_not_called()
    assert StaffNotification.objects.filter(sent_at__isnull=True).count() == 1


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_each_message_carries_its_own_message_id_the_same_on_every_attempt(make_user, settings):
    settings.DEFAULT_FROM_EMAIL = "eCRF <ecrf@trial.example>"
    user = make_user("data_manager", email="dm@example.org")
    first, second = (
        staff_notify(
            kind="unblinding", recipients=User.objects.filter(pk=user.pk), message=_message
        )[0]
        for _ in range(2)
    )
    identity = services.outbox_message_id(first)
    assert identity.startswith(f"<notifications.staffnotification.{first.pk}.")
    assert identity.endswith("@trial.example>")
    # Read back from the database, as a retry in another worker would: the same id.
    assert services.outbox_message_id(StaffNotification.objects.get(pk=first.pk)) == identity
    assert services.outbox_message_id(second) != identity
    assert staff_notification_send(notification_id=first.pk) is True
    assert mail.outbox[0].message()["Message-ID"] == identity
