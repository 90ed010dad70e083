"""The daily reminders: who gets which e-mail, in which language, and each exactly once."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import signal
import smtplib
import threading
import zoneinfo
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils.translation import override

from ecrf.participants.services import site_today
from ecrf.schedule import reminders
from ecrf.schedule.models import Reminder, ReminderKind
from ecrf.schedule.reminders import reminders_prepare, reminders_send_pending
from ecrf.schedule.selectors import coordinator_agenda
from ecrf.schedule.services import embryo_transfer_set
from ecrf.schedule.tasks import send_daily_reminders
from randomization.services import participant_randomize

from ..conftest import wait_for

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
#: Randomized on 2026-02-20, ET on 2026-02-24: dosing from 2026-02-22 (ET-2).
RANDOMIZED_ON = "2026-02-20"
ET_DATE = dt.date(2026, 2, 24)
FIRST_DOSING_DAY = dt.date(2026, 2, 22)
SLOW_MAIL = "tests.mail_backends.SlowFileBackend"


def at(day: str, hour: int = 7) -> time_machine.travel:
    return time_machine.travel(
        dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=TOKYO), tick=False
    )


@pytest.fixture
def crc(make_user):
    """A coordinator of site S01 with an e-mail address, reading English."""
    return make_user("coordinator", ["S01"], email="crc@example.org", language="en")


@pytest.fixture
def randomize_with_et(ready_participant, coordinator_a):
    """A participant of S01 randomized by coordinator A, with her ET date set."""

    def make(et_date, site=None, coordinator=None):
        coordinator = coordinator or coordinator_a
        participant = ready_participant(site=site, coordinator=coordinator)
        participant_randomize(
            participant=participant,
            idempotency_key=f"r-{participant.pk}",
            performed_by=coordinator,
        )
        participant.refresh_from_db()
        embryo_transfer_set(
            participant=participant, et_date=et_date, performed=False, performed_by=coordinator
        )
        return participant

    return make


@pytest.fixture
def dosing_from_22_february(randomize_with_et):
    with at(RANDOMIZED_ON, hour=10):
        return randomize_with_et(ET_DATE)


def run_job(day: str) -> tuple[int, int]:
    with at(day):
        return reminders_prepare(), reminders_send_pending()


def mails_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def dosing_start_mails(messages):
    return [m for m in messages if "Dosing starts tomorrow" in m.subject]


# -- who gets what ---------------------------------------------------------------------


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_dosing_start_tomorrow_mails_her_coordinator_once(crc, dosing_from_22_february):
    created, sent = run_job("2026-02-21")
    assert (created, sent) == (2, 2)
    dosing = dosing_start_mails(mails_to("crc@example.org"))
    assert len(dosing) == 1
    subject_id = dosing_from_22_february.subject_id
    assert dosing[0].subject == f"[TAC-RI] Dosing starts tomorrow: {subject_id} (2026-02-22)"
    assert "2026-02-22" in dosing[0].body and "2026-03-09" in dosing[0].body
    assert "2026-02-24" in dosing[0].body
    reminder = Reminder.objects.get(kind=ReminderKind.DOSING_START)
    assert reminder.participant == dosing_from_22_february
    assert reminder.for_date == FIRST_DOSING_DAY
    assert reminder.sent_at is not None


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_a_second_run_the_same_day_sends_nothing_more(crc, dosing_from_22_february):
    run_job("2026-02-21")
    outbox_after_first_run = len(mail.outbox)
    assert run_job("2026-02-21") == (0, 0)
    assert len(mail.outbox) == outbox_after_first_run
    assert Reminder.objects.count() == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_no_dosing_reminder_two_days_before_nor_on_the_first_dosing_day(
    crc, dosing_from_22_february
):
    run_job("2026-02-20")
    run_job("2026-02-22")
    assert dosing_start_mails(mail.outbox) == []
    assert not Reminder.objects.filter(kind=ReminderKind.DOSING_START).exists()


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "PROT-TIMEZONE")
@pytest.mark.django_db
def test_the_clock_of_the_job_decides_which_dosing_start_is_tomorrow(crc, dosing_from_22_february):
    with at("2026-02-20"):
        created = reminders_prepare(today_for_site=lambda site: dt.date(2026, 2, 21))
    assert Reminder.objects.filter(kind=ReminderKind.DOSING_START).count() == 1
    assert created == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "PROT-ET-MOVE")
@pytest.mark.django_db
def test_a_moved_et_date_earns_a_new_dosing_reminder(crc, coordinator_a, dosing_from_22_february):
    run_job("2026-02-21")
    with at("2026-02-21", hour=12):
        embryo_transfer_set(
            participant=dosing_from_22_february,
            et_date=ET_DATE + dt.timedelta(days=3),
            performed=False,
            reason="Cycle postponed",
            performed_by=coordinator_a,
        )
    run_job("2026-02-24")
    dates = sorted(
        Reminder.objects.filter(kind=ReminderKind.DOSING_START).values_list("for_date", flat=True)
    )
    assert dates == [FIRST_DOSING_DAY, FIRST_DOSING_DAY + dt.timedelta(days=3)]
    assert len(dosing_start_mails(mail.outbox)) == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "ICH-E6R3-CONFIDENTIALITY")
@pytest.mark.django_db
def test_a_coordinator_of_another_site_gets_nothing(crc, make_user, dosing_from_22_february):
    make_user("coordinator", ["S02"], email="crc-s02@example.org", language="en")
    run_job("2026-02-21")
    assert mails_to("crc-s02@example.org") == []
    assert not Reminder.objects.filter(recipient__email="crc-s02@example.org").exists()
    assert len(mails_to("crc@example.org")) == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_a_coordinator_without_email_gets_nothing(crc, coordinator_a, dosing_from_22_february):
    assert coordinator_a.email == ""
    run_job("2026-02-21")
    assert not Reminder.objects.filter(recipient=coordinator_a).exists()
    assert {tuple(m.to) for m in mail.outbox} == {("crc@example.org",)}


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_inactive_coordinators_and_other_roles_get_nothing(crc, make_user, dosing_from_22_february):
    make_user("investigator", ["S01"], email="pi@example.org")
    make_user("data_manager", email="dm@example.org")
    gone = make_user("coordinator", ["S01"], email="gone@example.org")
    gone.is_active = False
    gone.save()
    run_job("2026-02-21")
    assert {tuple(m.to) for m in mail.outbox} == {("crc@example.org",)}


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_the_digest_lists_due_and_overdue_items(crc, dosing_from_22_february):
    # 2026-03-11 is ET+15: the biochemical pregnancy visit is due, the clinical one opens
    # within the week, and no dosing day has a diary entry.
    run_job("2026-03-11")
    (digest,) = mails_to("crc@example.org")
    assert digest.subject == "[TAC-RI] Your agenda for 2026-03-11: 3 items"
    with at("2026-03-11"), override("en"):
        items = coordinator_agenda(crc, days=7)
    assert len(items) == 3
    for item in items:
        assert f"{item.day.isoformat()}  {item.participant.subject_id}" in digest.body
        assert item.detail in digest.body
    assert "[Due] Biochemical pregnancy (serum hCG)" in digest.body
    assert "[Due] Clinical pregnancy (ultrasound)" in digest.body
    assert "[Overdue] Dose diary: 32 intakes not recorded" in digest.body
    assert Reminder.objects.get().kind == ReminderKind.DIGEST


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_no_digest_when_the_agenda_is_empty(crc, study):
    assert run_job("2026-02-21") == (0, 0)
    assert mail.outbox == []


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "PROT-LANGUAGE")
@pytest.mark.django_db
def test_each_coordinator_reads_her_own_language(crc, make_user, dosing_from_22_february):
    make_user("coordinator", ["S01"], email="crc-ja@example.org", language="ja")
    run_job("2026-02-21")
    subject_id = dosing_from_22_february.subject_id

    english = {m.subject: m.body for m in mails_to("crc@example.org")}
    assert f"[TAC-RI] Dosing starts tomorrow: {subject_id} (2026-02-22)" in english
    assert "[TAC-RI] Your agenda for 2026-02-21: 1 item" in english
    assert "Dosing of the study drug" in "".join(english.values())
    assert "Dosing starts" in "".join(english.values())

    japanese = {m.subject: m.body for m in mails_to("crc-ja@example.org")}
    assert f"[TAC-RI] 明日から投与開始: {subject_id}（2026-02-22）" in japanese
    assert "[TAC-RI] 2026-02-21 の予定: 1件" in japanese
    bodies = "".join(japanese.values())
    assert "服薬日誌" in bodies and "胚移植" in bodies and "国立成育医療研究センター" in bodies
    assert "[予定] 投与開始" in bodies
    assert "Dosing" not in bodies and "Due" not in bodies


# -- sending: one locked row at a time -----------------------------------------------


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_a_failure_mid_way_keeps_what_was_sent_and_the_next_run_sends_the_rest(
    crc, make_user, dosing_from_22_february, monkeypatch
):
    make_user("coordinator", ["S01"], email="crc-2@example.org", language="en")
    with at("2026-02-21"):
        assert reminders_prepare() == 4
    real_mail_send = reminders.mail_send
    calls = []

    def mail_send_failing_on_the_third(**kwargs):
        calls.append(kwargs["subject"])
        if len(calls) == 3:
            raise ConnectionRefusedError("mail server went away")
        return real_mail_send(**kwargs)

    monkeypatch.setattr(reminders, "mail_send", mail_send_failing_on_the_third)
    with at("2026-02-21"), pytest.raises(ConnectionRefusedError):
        reminders_send_pending()
    assert len(mail.outbox) == 2
    assert Reminder.objects.filter(sent_at__isnull=False).count() == 2
    monkeypatch.setattr(reminders, "mail_send", real_mail_send)
    with at("2026-02-21"):
        assert reminders_send_pending() == 2
    sent = Counter((tuple(m.to), m.subject) for m in mail.outbox)
    assert len(sent) == 4 and set(sent.values()) == {1}


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_a_copy_sent_again_after_a_crash_carries_the_same_message_id(
    crc, dosing_from_22_february, monkeypatch
):
    with at("2026-02-21"):
        assert reminders_prepare() == 2
    real_mail_send = reminders.mail_send
    accepted = []

    def accepted_then_died(**kwargs):
        real_mail_send(**kwargs)
        accepted.append(kwargs["message_id"])
        if len(accepted) == 1:
            raise ConnectionResetError("worker lost the database after the server accepted")

    monkeypatch.setattr(reminders, "mail_send", accepted_then_died)
    with at("2026-02-21"), pytest.raises(ConnectionResetError):
        reminders_send_pending()
    assert Reminder.objects.filter(sent_at__isnull=False).count() == 0
    with at("2026-02-21"):
        assert reminders_send_pending() == 2

    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert len(mail.outbox) == 3 and len(set(ids)) == 2
    assert ids[0] == ids[1] == accepted[0]
    first = Reminder.objects.order_by("pk").first()
    assert (
        accepted[0]
        == f"<schedule.reminder.{first.pk}."
        + first.created_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
        + "@"
        + settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >")
        + ">"
    )
    assert [m.message()["Message-ID"] for m in mail.outbox] == ids


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_a_refused_recipient_holds_up_nobody_else_and_is_given_up_after_three_refusals(
    make_user, dosing_from_22_february, monkeypatch
):
    # The refused coordinator's rows come first: they would block the rest if they raised.
    make_user("coordinator", ["S01"], email="gone@example.org", language="en")
    make_user("coordinator", ["S01"], email="crc@example.org", language="en")
    with at("2026-02-21"):
        assert reminders_prepare() == 4
    real_mail_send = reminders.mail_send
    tried = []

    def refuse_one_address(**kwargs):
        tried.append(kwargs["to"][0])
        if kwargs["to"] == ["gone@example.org"]:
            raise smtplib.SMTPRecipientsRefused({"gone@example.org": (550, b"No such user")})
        return real_mail_send(**kwargs)

    monkeypatch.setattr(reminders, "mail_send", refuse_one_address)
    with at("2026-02-21"):
        assert reminders_send_pending() == 2
    assert [m.to for m in mail.outbox] == [["crc@example.org"]] * 2
    refused = Reminder.objects.filter(recipient__email="gone@example.org")
    assert {(r.attempts, r.sent_at) for r in refused} == {(1, None)}
    assert all("No such user" in r.last_error for r in refused)
    assert tried.count("gone@example.org") == 2

    with at("2026-02-21", hour=8):
        assert reminders_send_pending() == 0
        assert reminders_send_pending() == 0
        assert reminders_send_pending() == 0
    assert {r.attempts for r in refused.all()} == {3}
    assert tried.count("gone@example.org") == 6
    assert len(mail.outbox) == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_a_reminder_whose_news_is_past_is_not_sent(crc, dosing_from_22_february):
    with at("2026-02-21"):
        assert reminders_prepare() == 2
    # The day after the first dose (22 February) neither the dosing reminder nor the
    # digest of 21 February is news any more.
    with at("2026-02-23"):
        assert reminders_send_pending() == 0
    assert mail.outbox == []
    assert Reminder.objects.filter(sent_at__isnull=False).count() == 0
    # On the first dosing day itself both still were.
    with at("2026-02-22"):
        assert reminders_send_pending() == 2
    assert len(mail.outbox) == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_the_limit_bounds_one_call(crc, dosing_from_22_february):
    with at("2026-02-21"):
        reminders_prepare()
        assert reminders_send_pending(limit=1) == 1
        assert reminders_send_pending(limit=1) == 1
        assert reminders_send_pending(limit=1) == 0
    assert len(mail.outbox) == 2


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_transaction_is_skipped(crc, dosing_from_22_february):
    with at("2026-02-21"):
        assert reminders_prepare() == 2
    held = Reminder.objects.get(kind=ReminderKind.DOSING_START)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Reminder.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with at("2026-02-21"):
            assert reminders_send_pending() == 1
        assert [m.subject for m in mail.outbox] == [
            Reminder.objects.get(kind=ReminderKind.DIGEST).subject
        ]
        held.refresh_from_db()
        assert held.sent_at is None
    finally:
        release.set()
        holder.join(timeout=30)
    with at("2026-02-21"):
        assert reminders_send_pending() == 1
    assert sorted(m.subject for m in mail.outbox) == sorted(
        Reminder.objects.values_list("subject", flat=True)
    )


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db(transaction=True)
def test_parallel_senders_send_each_reminder_once(make_user, randomize_with_et):
    for n in range(3):
        make_user("coordinator", ["S01"], email=f"crc-{n}@example.org", language="en")
    with at(RANDOMIZED_ON, hour=10):
        for _ in range(4):
            randomize_with_et(ET_DATE)
    with at("2026-02-21"):
        assert reminders_prepare() == 15
    barrier = threading.Barrier(6)

    def send(_):
        try:
            barrier.wait(timeout=10)
            with at("2026-02-21"):
                return reminders_send_pending()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(pool.map(send, range(6)))
    assert sum(counts) == 15
    sent = Counter((tuple(m.to), m.subject) for m in mail.outbox)
    assert len(sent) == 15 and set(sent.values()) == {1}
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()


# -- the daily task --------------------------------------------------------------------


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "PROT-TIMEZONE")
def test_the_job_runs_every_day_at_seven_tokyo_time():
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "ecrf.schedule.tasks.send_daily_reminders"
    )
    assert entry["schedule"] == crontab(hour=7, minute=0)
    assert settings.CELERY_TIMEZONE == "Asia/Tokyo"
    assert send_daily_reminders.name == entry["task"]
    assert send_daily_reminders.acks_late is True
    assert OSError in send_daily_reminders.autoretry_for


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.django_db
def test_the_task_prepares_then_sends(crc, dosing_from_22_february):
    with at("2026-02-21"):
        assert send_daily_reminders.apply().get() == {"created": 2, "sent": 2}
        assert send_daily_reminders.apply().get() == {"created": 0, "sent": 0}
    assert len(mail.outbox) == 2


# -- a real broker, real workers -------------------------------------------------------


def sent_messages(folder: Path) -> Counter[tuple[str, str]]:
    """(recipient, subject) of every whole message file the workers wrote."""
    found: Counter[tuple[str, str]] = Counter()
    for path in folder.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[(str(message["To"]), str(message["Subject"]))] += 1
    return found


@pytest.fixture
def six_reminders_due(crc, randomize_with_et, site_a):
    """Five participants whose dosing starts tomorrow: five reminders and a digest."""
    et_date = site_today(site_a) + dt.timedelta(days=3)
    return [randomize_with_et(et_date) for _ in range(5)]


@pytest.mark.requirement("PROT-VISIT-REMINDERS")
@pytest.mark.needs_broker
@pytest.mark.django_db(transaction=True)
def test_two_runs_on_two_real_workers_send_each_reminder_once(
    six_reminders_due, start_worker, queue_name, tmp_path
):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    mail_env = {"EMAIL_BACKEND": SLOW_MAIL, "EMAIL_FILE_PATH": str(outbox)}
    workers = [start_worker(queue=queue_name, **mail_env) for _ in range(2)]

    send_daily_reminders.apply_async(queue=queue_name)
    send_daily_reminders.apply_async(queue=queue_name)
    wait_for(
        lambda: sum(w.tasks_succeeded() for w in workers) >= 2,
        what="both runs to finish",
        workers=workers,
    )
    send_daily_reminders.apply_async(queue=queue_name)
    wait_for(
        lambda: sum(w.tasks_succeeded() for w in workers) >= 3,
        what="the third run to finish",
        workers=workers,
    )

    expected = Counter(
        (r.recipient.email, r.subject) for r in Reminder.objects.select_related("recipient")
    )
    assert len(expected) == 6
    assert sent_messages(outbox) == expected
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.requirement("PROT-VISIT-REMINDERS", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.needs_broker
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_way_is_finished_by_the_next_run_without_repeats(
    six_reminders_due, start_worker, queue_name, tmp_path
):
    assert reminders_prepare() == 6
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    mail_env = {"EMAIL_BACKEND": SLOW_MAIL, "EMAIL_FILE_PATH": str(outbox)}
    first = start_worker(queue=queue_name, **mail_env)

    send_daily_reminders.apply_async(queue=queue_name)
    # Killed once its first message is written and recorded as sent: the worker is then
    # pausing before its second message (the SMTP exchange of the test backend).
    wait_for(
        lambda: (
            bool(list(outbox.glob("*.eml")))
            and Reminder.objects.filter(sent_at__isnull=False).exists()
        ),
        what="the first message",
        workers=[first],
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    interrupted = sent_messages(outbox)
    assert 1 <= sum(interrupted.values()) < 6
    assert Reminder.objects.filter(sent_at__isnull=True).exists()

    second = start_worker(queue=queue_name, **mail_env)
    send_daily_reminders.apply_async(queue=queue_name)
    wait_for(lambda: second.tasks_succeeded() >= 1, what="the second run", workers=[second])

    expected = Counter(
        (r.recipient.email, r.subject) for r in Reminder.objects.select_related("recipient")
    )
    assert len(expected) == 6
    assert sent_messages(outbox) == expected
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()
