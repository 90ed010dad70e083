"""The daily reminder e-mails of the treatment period: written first, then sent one by one.

Two steps, both safe to run again at any moment:

- :func:`reminders_prepare` writes each e-mail the day owes as a :class:`Reminder` row,
  keyed by (kind, recipient, participant, date), so a second run finds the rows it
  would have made;
- :func:`reminders_send_pending` sends the rows not yet sent, each in its own
  transaction, and marks them sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from smtplib import SMTPRecipientsRefused
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from ecrf.accounts.models import User
from ecrf.accounts.policy import reminded_of_visits
from ecrf.notifications.services import mail_send, stable_message_id
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today
from ecrf.studies.models import Site

from .arithmetic import Schedule
from .models import Reminder, ReminderKind
from .selectors import WorkItem, coordinator_agenda, in_treatment, treatments_of

if TYPE_CHECKING:
    from django.db.models import QuerySet

logger = logging.getLogger(__name__)

#: How many days ahead the digest looks (the coordinator's agenda horizon).
DIGEST_HORIZON_DAYS = 7

#: A recipient the mail server refused this many times is not tried again.
MAX_REFUSALS = 3

#: How many days before today a reminder's date may lie and it is still sent: a digest
#: until the day after its own (a day of grace for sites in other zones than the
#: server's), a "dosing starts tomorrow" until the first dosing day itself, not after.
STILL_NEWS_DAYS = {ReminderKind.DIGEST: 1, ReminderKind.DOSING_START: 0}


def _coordinators_to_remind() -> QuerySet[User]:
    """Active coordinators who can receive e-mail."""
    return reminded_of_visits().exclude(email="").order_by("pk")


def _dosing_start_message(participant: Participant, schedule: Schedule) -> tuple[str, str]:
    """Subject and body of 'dosing starts tomorrow', in the active language."""
    values = {
        "study": participant.site.study.code,
        "subject": participant.subject_id,
        "site": participant.site.name,
        "start": schedule.dosing_start.isoformat(),
        "end": schedule.dosing_end.isoformat(),
        "days": len(schedule.dosing_dates),
        "et": schedule.et_date.isoformat(),
    }
    subject = _("[%(study)s] Dosing starts tomorrow: %(subject)s (%(start)s)") % values
    body = "\n\n".join(
        [
            _(
                "Dosing of the study drug for %(subject)s (%(site)s) starts tomorrow, "
                "%(start)s, and continues through %(end)s (%(days)s days)."
            )
            % values,
            _("The embryo transfer is planned for %(et)s.") % values,
            _("Please make sure she has her capsules and her dose diary before the first dose."),
            _("This message was sent by the study's eCRF; please do not reply to it."),
        ]
    )
    return subject, body


def _digest_message(*, study_code: str, day: dt.date, items: list[WorkItem]) -> tuple[str, str]:
    """Subject and body of a coordinator's daily digest, in the active language."""
    labels = {
        "dosing_start": _("Due"),
        "visit_due": _("Due"),
        "overdue": _("Overdue"),
    }
    subject = ngettext(
        "[%(study)s] Your agenda for %(date)s: %(count)s item",
        "[%(study)s] Your agenda for %(date)s: %(count)s items",
        len(items),
    ) % {
        "study": study_code,
        "date": day.isoformat(),
        "count": len(items),
    }
    lines = [
        f"- {item.day.isoformat()}  {item.participant.subject_id}  "
        f"[{labels.get(item.kind, item.kind)}] {item.detail}"
        for item in items
    ]
    body = "\n\n".join(
        [
            _(
                "What is due at your sites today (%(date)s) and in the next %(days)s days, "
                "and what is overdue:"
            )
            % {"date": day.isoformat(), "days": DIGEST_HORIZON_DAYS},
            "\n".join(lines),
            _("Your home page in the eCRF lists the same items, with a link to each participant."),
            _("This message was sent by the study's eCRF; please do not reply to it."),
        ]
    )
    return subject, body


def reminders_prepare(*, today_for_site: Callable[[Site], dt.date] | None = None) -> int:
    """Write today's reminder e-mails as unsent rows; return how many rows are new.

    For every active coordinator with an e-mail address:

    - one "dosing starts tomorrow" reminder per randomized participant of her sites
      whose first dosing day (ET-2, a study setting) is tomorrow, site-local date;
      its ``for_date`` is that first dosing day, so a moved ET date earns a new reminder;
    - one digest per day of her agenda (what is due in the coming week and what is
      overdue), only when the agenda has at least one item; its ``for_date`` is today
      at her sites (the earliest, should her sites lie in different time zones).

    Subjects and bodies are rendered in her language. Each row is written with
    ``get_or_create`` on the unique key (kind, recipient, participant, date), which the
    database enforces, so a second run, even in parallel, creates nothing new.
    ``today_for_site`` replaces the site's clock when deciding which dates the
    reminders are for (the agenda itself reads the site's clock).
    """
    today_of = today_for_site or site_today
    schedules: dict[int, Schedule | None] = {}
    created_count = 0
    for coordinator in _coordinators_to_remind():
        sites = list(
            Site.objects.filter(memberships__user=coordinator)
            .select_related("study")
            .order_by("code")
        )
        if not sites:
            continue
        with override(coordinator.language):
            randomized = in_treatment(coordinator)
            unread = [p for p in randomized if p.pk not in schedules]
            treatments = treatments_of(unread)
            for participant in unread:
                treatment = treatments.get(participant.pk)
                schedules[participant.pk] = treatment.schedule if treatment else None
            for participant in randomized:
                schedule = schedules[participant.pk]
                tomorrow = today_of(participant.site) + dt.timedelta(days=1)
                if schedule is None or schedule.dosing_start != tomorrow:
                    continue
                subject, body = _dosing_start_message(participant, schedule)
                _reminder, created = Reminder.objects.get_or_create(
                    kind=ReminderKind.DOSING_START,
                    recipient=coordinator,
                    participant=participant,
                    for_date=schedule.dosing_start,
                    defaults={"subject": subject, "body": body},
                )
                created_count += created
            items = coordinator_agenda(coordinator, days=DIGEST_HORIZON_DAYS)
            if not items:
                continue
            today = min(today_of(site) for site in sites)
            subject, body = _digest_message(study_code=sites[0].study.code, day=today, items=items)
            _reminder, created = Reminder.objects.get_or_create(
                kind=ReminderKind.DIGEST,
                recipient=coordinator,
                participant=None,
                for_date=today,
                defaults={"subject": subject, "body": body},
            )
            created_count += created
    logger.info("reminders prepared: %s new", created_count)
    return created_count


def reminders_send_pending(*, limit: int = 500) -> int:
    """Send the unsent reminders, one message per transaction; return how many were sent.

    For each message: in a transaction, lock one unsent row with
    ``SELECT ... FOR UPDATE SKIP LOCKED``, send it to the recipient's current e-mail
    address, set ``sent_at``, commit. So:

    - two workers running this at once never send the same row: each skips the rows
      the other holds;
    - rows are committed one by one, not in one transaction for the whole batch,
      so that every message already handed to the mail server is recorded as sent at
      once: a worker that dies between two messages leaves only unsent rows, which the
      next run sends, and an error on message 40 does not undo the record of the 39
      messages before it (which a single transaction would, sending them again);
    - delivery is at least once per message, not exactly once: if the worker dies, or
      the connection to the database or the mail server breaks, after the mail server
      accepted a message but before the commit, that one row stays unsent and its
      message is sent again by the next run. No more than one message per crash can
      be sent twice, and the copy carries the same ``Message-ID``
      (:func:`~ecrf.notifications.services.stable_message_id`), so a mail server or
      reader that drops a Message-ID it already has delivers it once; the SMTP
      exchange and the database commit cannot be made one atomic step.

    Rows whose recipient has since been deactivated or has no e-mail address are left
    unsent, and so are rows whose news is past (``STILL_NEWS_DAYS``). A recipient the
    mail server refuses is recorded on the row (``attempts``, ``last_error``) and the
    run goes on with the next one, so one bad address holds up nobody else; after
    ``MAX_REFUSALS`` refusals the row is no longer tried. Any other failure to send
    (``OSError``, ``SMTPException``: the server itself is away) rolls back that row and
    propagates, for the task to retry later; at most ``limit`` messages per call.
    """
    sent = 0
    refused: list[int] = []
    today = timezone.localdate()
    still_news = Q()
    for kind, days in STILL_NEWS_DAYS.items():
        still_news |= Q(kind=kind, for_date__gte=today - dt.timedelta(days=days))
    while sent < limit:
        with transaction.atomic():
            reminder = (
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient")
                .filter(
                    still_news,
                    sent_at__isnull=True,
                    recipient__is_active=True,
                    attempts__lt=MAX_REFUSALS,
                )
                .exclude(recipient__email="")
                .exclude(pk__in=refused)
                .order_by("pk")
                .first()
            )
            if reminder is None:
                break
            try:
                mail_send(
                    subject=reminder.subject,
                    body=reminder.body,
                    to=[reminder.recipient.email],
                    message_id=stable_message_id(reminder, reminder.created_at),
                )
            except SMTPRecipientsRefused as exc:
                refused.append(reminder.pk)
                reminder.attempts += 1
                reminder.last_error = str(exc.recipients)[:1000]
                reminder.save(update_fields=["attempts", "last_error"])
                logger.warning(
                    "reminder %s refused by the mail server (%s of %s)",
                    reminder.pk,
                    reminder.attempts,
                    MAX_REFUSALS,
                )
                continue
            reminder.sent_at = timezone.now()
            reminder.save(update_fields=["sent_at"])
        sent += 1
    logger.info("reminders sent: %s, refused: %s", sent, len(refused))
    return sent
