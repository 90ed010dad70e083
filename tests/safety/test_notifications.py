"""The sponsor's SAE e-mail: written with the event, sent once, retried until sent."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import signal
from pathlib import Path
from smtplib import SMTPException
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from ecrf.notifications import services as outbox
from ecrf.notifications.services import REQUEUE_AFTER
from ecrf.safety import services
from ecrf.safety.models import SafetyNotification
from ecrf.safety.services import safety_notification_send, safety_notifications_requeue
from ecrf.safety.tasks import send_safety_notification

from ..conftest import wait_for
from .conftest import SAE_VALUES, SAFETY_DESK, record

VERY_SLOW_MAIL = "tests.safety.mail_backends.VerySlowFileBackend"


@pytest.mark.requirement("PROT-SAE-24H")
def test_the_beat_requeues_unsent_notifications_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-safety-notifications"]
    assert entry["task"] == "ecrf.safety.tasks.requeue_safety_notifications"
    assert entry["schedule"] == dt.timedelta(minutes=5)


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
@pytest.mark.django_db
def test_a_serious_event_mails_the_safety_desk_exactly_once(
    participant, coordinator_a, safety_desk, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ae = record(participant, coordinator_a, **SAE_VALUES)
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [SAFETY_DESK]
    for part in ["TAC-RI", participant.subject_id, "Pneumonia", "grade 3", "SAE"]:
        assert part in message.subject
    deadline = (ae.learned_at + dt.timedelta(hours=24)).astimezone(
        dt.timezone(dt.timedelta(hours=9))
    )
    for part in [
        "Pneumonia",
        ae.onset_date.isoformat(),
        "CTCAE grade: 3",
        "Requires hospitalisation or its prolongation",
        "Related to tacrolimus: no",
        "Drug interrupted",
        "Recovering",
        "within 24 hours",
        deadline.isoformat(timespec="minutes"),
    ]:
        assert part in message.body, part
    notification = SafetyNotification.objects.get(adverse_event=ae)
    assert notification.sent_at is not None and notification.attempts == 1

    # The task running again, and the beat job, send nothing more.
    assert send_safety_notification.delay(notification.pk).get() is False
    assert safety_notifications_requeue() == 0
    assert len(mail.outbox) == 1


@pytest.mark.requirement("PROT-SAE-24H")
@pytest.mark.django_db
def test_an_event_not_serious_mails_nobody(
    participant, coordinator_a, safety_desk, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(participant, coordinator_a)
    assert mail.outbox == []
    assert not SafetyNotification.objects.exists()


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_nothing_is_queued_when_the_recording_rolls_back(
    participant, coordinator_a, safety_desk, celery_eager, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        record(participant, coordinator_a, **SAE_VALUES)
        raise RuntimeError("the request failed after the service")
    assert callbacks == []
    assert mail.outbox == []
    assert not SafetyNotification.objects.exists()


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_a_mail_server_failure_is_recorded_and_retried_until_sent(
    participant, coordinator_a, safety_desk
):
    ae = record(participant, coordinator_a, **SAE_VALUES)
    notification = SafetyNotification.objects.get(adverse_event=ae)
    with (
        mock.patch.object(outbox.EmailMessage, "send", side_effect=SMTPException("451 try later")),
        pytest.raises(SMTPException),
    ):
        safety_notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.sent_at is None
    assert notification.attempts == 1
    assert "451 try later" in notification.last_error

    assert safety_notification_send(notification_id=notification.pk) is True
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert (notification.attempts, notification.last_error) == (2, "")
    assert len(mail.outbox) == 1


@pytest.mark.requirement("PROT-SAE-24H")
def test_the_task_retries_mail_errors_with_backoff_many_times():
    assert set(send_safety_notification.autoretry_for) == {OSError, SMTPException}
    assert send_safety_notification.retry_backoff
    assert send_safety_notification.max_retries >= 100
    assert send_safety_notification.acks_late


@pytest.mark.requirement("PROT-SAE-24H")
@pytest.mark.django_db
def test_without_safety_contacts_the_notification_waits(participant, coordinator_a, settings):
    settings.SAFETY_CONTACTS = []
    ae = record(participant, coordinator_a, **SAE_VALUES)
    notification = SafetyNotification.objects.get(adverse_event=ae)
    assert safety_notification_send(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.sent_at is None
    assert "SAFETY_CONTACTS" in notification.last_error
    assert mail.outbox == []


@pytest.mark.requirement("PROT-SAE-24H")
@pytest.mark.django_db
def test_the_beat_job_requeues_unsent_notifications_nobody_tried_lately(
    participant, coordinator_a, safety_desk, celery_eager
):
    never_tried = SafetyNotification.objects.get(
        adverse_event=record(participant, coordinator_a, **SAE_VALUES)
    )
    tried_lately = SafetyNotification.objects.get(
        adverse_event=record(participant, coordinator_a, **SAE_VALUES)
    )
    SafetyNotification.objects.filter(pk=tried_lately.pk).update(
        attempts=1, last_attempt_at=timezone.now()
    )
    assert safety_notifications_requeue() == 1
    never_tried.refresh_from_db()
    tried_lately.refresh_from_db()
    assert never_tried.sent_at is not None
    assert tried_lately.sent_at is None
    later = timezone.now() + REQUEUE_AFTER + dt.timedelta(minutes=1)
    assert safety_notifications_requeue(now=later) == 1
    tried_lately.refresh_from_db()
    assert tried_lately.sent_at is not None
    assert len(mail.outbox) == 2


# -- a real broker and real workers ----------------------------------------------------


def sae_messages(folder: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in folder.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "SAE" in str(message["Subject"]):
            found.append(message)
    return found


def row_is_locked(notification_id: int) -> bool:
    """Whether another transaction (a worker sending it) holds the notification's row.

    Read without taking a lock: the row's ``xmax`` names the transaction that locked it,
    still open while a session runs it. (Trying the lock would itself hold the row for a
    moment, and a worker whose ``SKIP LOCKED`` came at that moment would skip the row.)
    """
    table = connection.ops.quote_name(SafetyNotification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} n "  # noqa: S608  (the model's own table)
            "JOIN pg_stat_activity a ON a.backend_xid = n.xmax "
            "WHERE n.id = %s AND a.pid <> pg_backend_pid())",
            [notification_id],
        )
        return bool(cursor.fetchone()[0])


@pytest.fixture
def worker_env(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    return outbox, {
        "EMAIL_BACKEND": VERY_SLOW_MAIL,
        "EMAIL_FILE_PATH": str(outbox),
        "SAFETY_CONTACTS": SAFETY_DESK,
    }


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.needs_broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_sending_leaves_the_sae_to_be_sent_once(
    participant, coordinator_a, start_worker, queue_name, worker_env, settings
):
    outbox, env = worker_env
    settings.SAFETY_NOTIFICATION_QUEUE = queue_name
    first = start_worker(queue=queue_name, **env)

    ae = record(participant, coordinator_a, **SAE_VALUES)  # queued on commit
    notification = SafetyNotification.objects.get(adverse_event=ae)
    # Killed mid-task: the row is locked (its transaction open) and the slow mail
    # backend has not written the message yet.
    wait_for(lambda: row_is_locked(notification.pk), what="the task to start", workers=[first])
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    assert sae_messages(outbox) == []
    notification.refresh_from_db()
    assert notification.sent_at is None

    # The killed message waits for the broker's visibility timeout; the beat job
    # (called here directly) queues the notification again for a new worker.
    second = start_worker(queue=queue_name, **env)
    assert safety_notifications_requeue() == 1
    wait_for(lambda: second.tasks_succeeded() >= 1, what="the second run", workers=[second])
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.attempts == 1  # the killed attempt was rolled back with its lock

    # A later beat run finds nothing to send.
    assert safety_notifications_requeue() == 0
    messages = sae_messages(outbox)
    assert len(messages) == 1
    assert str(messages[0]["To"]) == SAFETY_DESK
    assert participant.subject_id in str(messages[0]["Subject"])


@pytest.mark.requirement("PROT-SAE-24H")
@pytest.mark.needs_broker
@pytest.mark.django_db(transaction=True)
def test_the_task_run_twice_on_two_workers_sends_the_sae_once(
    participant, coordinator_a, start_worker, queue_name, worker_env, settings
):
    outbox, env = worker_env
    settings.SAFETY_NOTIFICATION_QUEUE = queue_name
    workers = [start_worker(queue=queue_name, SLOW_MAIL_SECONDS="1", **env) for _ in range(2)]

    ae = record(participant, coordinator_a, **SAE_VALUES)  # queued on commit
    notification = SafetyNotification.objects.get(adverse_event=ae)
    send_safety_notification.apply_async(args=[notification.pk], queue=queue_name)
    wait_for(
        lambda: sum(w.tasks_succeeded() for w in workers) >= 2,
        what="both runs to finish",
        workers=workers,
    )
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert len(sae_messages(outbox)) == 1


@pytest.mark.requirement("PROT-SAE-24H", "PROT-LANGUAGE")
@pytest.mark.django_db
def test_the_sae_mail_is_in_the_studys_language_and_still_says_sae(
    participant, coordinator_a, settings
):
    settings.LANGUAGE_CODE = "ja"
    ae = record(participant, coordinator_a, **SAE_VALUES)
    subject, body = services.sae_message(ae)
    assert "SAE" in subject and participant.subject_id in subject and "Pneumonia" in subject
    assert "重篤な有害事象" in subject
    assert "24時間以内" in body
    # The outcome of an adverse event is 転帰, not the 結果 of a test.
    assert "転帰:" in body and "結果" not in body
