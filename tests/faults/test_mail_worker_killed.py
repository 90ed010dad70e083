"""A worker killed after the mail server accepted an e-mail, before it recorded the sending.

The serious adverse event's notification goes through a real SMTP server on the
loopback. The server accepts the message (250) and then holds the connection, so the
worker sits between the server's acceptance and its own commit; the test kills it there
(SIGKILL). PostgreSQL rolls its transaction back: the outbox row is unsent again. The
beat job queues it for a new worker, which sends it a second time, with the same
Message-ID, which the server (as a mail server or mailbox that removes duplicates does)
drops: two transmissions, one message delivered.
"""

from __future__ import annotations

import os
import signal

import pytest

from ecrf.notifications.services import outbox_message_id
from ecrf.safety.models import SafetyNotification
from ecrf.safety.services import safety_notifications_requeue

from ..conftest import wait_for
from ..safety.conftest import SAE_VALUES, SAFETY_DESK, record
from ..safety.test_notifications import row_is_locked
from ..smtp_server import smtp_server

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement(
        "ICH-E6R3-4.3.6-CRASH-CONSISTENCY", "ICH-E6R3-4.3.6-SYSTEM-FAILURE", "PROT-SAE-24H"
    ),
    pytest.mark.needs_broker,
    pytest.mark.django_db(transaction=True),
]


def test_a_worker_killed_after_the_mail_server_accepted_the_sae_leaves_one_delivered(
    participant, coordinator_a, start_worker, notification_queue, settings
):
    settings.SAFETY_NOTIFICATION_QUEUE = notification_queue
    settings.SAFETY_CONTACTS = [SAFETY_DESK]
    with smtp_server(hold_after_accept=True) as smtp:
        env = {
            **smtp.settings(),
            "SAFETY_CONTACTS": SAFETY_DESK,
            "SAFETY_NOTIFICATION_QUEUE": notification_queue,
        }
        first = start_worker(queue=notification_queue, **env)
        ae = record(participant, coordinator_a, **SAE_VALUES)  # queued on commit
        notification = SafetyNotification.objects.get(adverse_event=ae)

        # The server has told the worker 250; the worker's transaction is still open.
        wait_for(
            smtp.mailbox.accepted.is_set,
            what="the mail server to accept the notification",
            workers=[first],
            timeout=60,
        )
        assert row_is_locked(notification.pk), first.log_text()
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        smtp.mailbox.hold_after_accept = False
        smtp.mailbox.released.set()

        # PostgreSQL rolls the killed worker's transaction back: the row is unsent and
        # free, though the recipient's mail server already holds the message.
        wait_for(
            lambda: not row_is_locked(notification.pk),
            what="the killed worker's transaction to be rolled back",
            timeout=30,
        )
        notification.refresh_from_db()
        assert (notification.sent_at, notification.attempts) == (None, 0)
        assert len(smtp.mailbox.transmissions) == 1

        # Beat (called here directly) queues it again; a new worker sends it again.
        second = start_worker(queue=notification_queue, **env)
        assert safety_notifications_requeue() == 1
        wait_for(
            lambda: second.tasks_succeeded() >= 1,
            what="the second worker to send the notification",
            workers=[second],
            timeout=60,
        )
        notification.refresh_from_db()
        assert notification.sent_at is not None
        assert notification.attempts == 1  # the killed attempt was rolled back

        # Sent twice, with one Message-ID that is the row's own: delivered once.
        expected_id = outbox_message_id(notification)
        sent = smtp.mailbox.transmissions
        assert [t.message_id for t in sent] == [expected_id, expected_id]
        assert [t.recipients for t in sent] == [[SAFETY_DESK], [SAFETY_DESK]]
        (delivered,) = smtp.mailbox.kept
        assert str(delivered.message["Subject"]) == notification.subject
        assert participant.subject_id in str(delivered.message["Subject"])

        # A later beat run finds nothing owed.
        assert safety_notifications_requeue() == 0
