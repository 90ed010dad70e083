"""Every write of safety data: adverse events, their confirmation, the sponsor's SAE e-mail.

Protocol, Safety: adverse events are recorded from consent to the end of follow-up
(those with an onset before the first dose are flagged pre-treatment), graded by CTCAE
(1 to 5), with seriousness, relationship to tacrolimus, action taken and outcome;
serious adverse events reach the sponsor within 24 hours of the site learning of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext

from ecrf.accounts.policy import may_confirm_adverse_events, may_record_adverse_events
from ecrf.audit.services import changed_values, record_update
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.notifications.services import on_commit_queue, outbox_requeue, outbox_send
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today, site_zone
from ecrf.participants.writes import participant_write
from ecrf.schedule.completion import participant_complete_if_done
from ecrf.schedule.selectors import first_dose_date

from .models import (
    FATAL_GRADE,
    ActionTaken,
    AdverseEvent,
    Outcome,
    SafetyNotification,
    SeriousnessCriterion,
)

if TYPE_CHECKING:
    from ecrf.accounts.models import User

logger = logging.getLogger(__name__)

#: A serious adverse event must reach the sponsor this long after the site learned of it.
SAE_REPORTING_WINDOW = dt.timedelta(hours=24)


def _normalized_criteria(criteria: Iterable[str]) -> list[str]:
    """The criteria without repeats, in the order of the form (so reordering is no change)."""
    given = set(criteria)
    return [code for code in SeriousnessCriterion.values if code in given] + sorted(
        given - set(SeriousnessCriterion.values)
    )


def _validated(participant: Participant, values: dict[str, Any]) -> dict[str, Any]:
    """Check one adverse event against the protocol's rules; answer the values to save.

    Refused before her consent (409). Refused, each with a message on its field: an
    onset before her consent date (adverse events are recorded from consent on) or in
    the future; an end before the onset or in the future; a grade outside 1 to 5; grade 5
    without a fatal outcome, a fatal outcome below grade 5, or a fatal event not marked
    serious; seriousness criteria on an event not marked serious; death as a criterion
    without a fatal outcome; the site learning of the event before its onset or in the
    future; unknown codes. The values answered mark an onset before her first dose
    (:func:`first_dose_date`) as ``pre_treatment``: it is not treatment-emergent.
    """
    consent = getattr(participant, "consent", None)
    if consent is None:
        raise StateConflict(
            _("%(subject)s has not consented; adverse events are recorded from her consent on.")
            % {"subject": participant.subject_id}
        )
    today = site_today(participant.site)
    term = (values["term"] or "").strip()
    onset: dt.date = values["onset_date"]
    end: dt.date | None = values["end_date"]
    errors = catalogue.form("adverse_event").errors(
        {"term": term, "onset_date": onset, "end_date": end},
        today=today,
        consent_date=consent.consent_date,
    )
    grade = values["ctcae_grade"]
    if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= FATAL_GRADE:
        errors["ctcae_grade"] = _("Expected a CTCAE grade from 1 to 5.")
    outcome = values["outcome"]
    if outcome not in Outcome.values:
        errors["outcome"] = _("Expected one of: %(codes)s.") % {"codes": ", ".join(Outcome.values)}
    action = values["action_taken"] or ""
    if action and action not in ActionTaken.values:
        errors["action_taken"] = _("Expected one of: %(codes)s.") % {
            "codes": ", ".join(ActionTaken.values)
        }
    criteria = _normalized_criteria(values["seriousness_criteria"] or [])
    serious = bool(values["serious"])
    unknown = [code for code in criteria if code not in SeriousnessCriterion.values]
    if unknown:
        errors["seriousness_criteria"] = _("Unknown criteria %(unknown)s; expected: %(codes)s.") % {
            "unknown": ", ".join(unknown),
            "codes": ", ".join(SeriousnessCriterion.values),
        }
    elif criteria and not serious:
        errors["seriousness_criteria"] = _(
            "Seriousness criteria are given only for a serious event: mark the event serious "
            "or clear the criteria."
        )
    elif SeriousnessCriterion.DEATH in criteria and outcome != Outcome.FATAL:
        errors["seriousness_criteria"] = _("Death is a criterion only when the outcome is fatal.")
    if "ctcae_grade" not in errors and "outcome" not in errors:
        if grade == FATAL_GRADE and outcome != Outcome.FATAL:
            errors["outcome"] = _("A grade 5 event is a death: the outcome must be fatal.")
        elif outcome == Outcome.FATAL and grade != FATAL_GRADE:
            errors["ctcae_grade"] = _("A fatal outcome is CTCAE grade 5.")
        elif grade == FATAL_GRADE and not serious:
            errors["serious"] = _("A fatal event (grade 5) is a serious adverse event.")
    learned_at: dt.datetime = values["learned_at"] or timezone.now()
    if timezone.is_naive(learned_at):
        errors["learned_at"] = _("Give the time with its time zone.")
    else:
        # Minutes are what a person writes down; they also make the form's round trip exact.
        learned_at = learned_at.replace(second=0, microsecond=0)
        if learned_at > timezone.now():
            errors["learned_at"] = _("The site cannot learn of an event in the future.")
        elif (
            "onset_date" not in errors
            and learned_at.astimezone(site_zone(participant.site)).date() < onset
        ):
            errors["learned_at"] = _(
                "The site cannot have learned of the event before its onset (%(date)s)."
            ) % {"date": onset.isoformat()}
    if errors:
        raise ValidationError(errors)
    return {
        "term": term,
        "onset_date": onset,
        "end_date": end,
        "ctcae_grade": grade,
        "serious": serious,
        "seriousness_criteria": criteria,
        "related": bool(values["related"]),
        "action_taken": action,
        "outcome": outcome,
        "learned_at": learned_at,
        "pre_treatment": before_first_dose(participant, onset),
    }


def before_first_dose(participant: Participant, onset: dt.date) -> bool:
    """Whether an onset on ``onset`` comes before her first dose (:func:`first_dose_date`):
    a pre-treatment event, not treatment-emergent. Before her first dose is known, yes."""
    first_dose = first_dose_date(participant)
    return first_dose is None or onset < first_dose


def _adverse_event_write(
    participant: Participant, performed_by: User, reason: str = ""
) -> AbstractContextManager[Participant]:
    """A write of her adverse events: site staff of her site, also after her withdrawal
    (safety follow-up continues), never under a lock."""
    return participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_record_adverse_events,
        record="adverse_event",
        reason=reason,
        allow_withdrawn=True,
        related=("allocation", "consent"),
    )


def adverse_event_record(
    *,
    participant: Participant,
    term: str,
    onset_date: dt.date,
    ctcae_grade: int,
    serious: bool,
    related: bool,
    outcome: str,
    end_date: dt.date | None = None,
    seriousness_criteria: Iterable[str] = (),
    action_taken: str = "",
    learned_at: dt.datetime | None = None,
    performed_by: User,
) -> AdverseEvent:
    """Record an adverse event of a participant who has consented (coordinator or
    investigator).

    The rules are those of :func:`_validated`. A participant who has withdrawn still gets
    her adverse events recorded: safety follow-up continues after withdrawal.

    A serious event gets its sponsor notification written in the same transaction and
    queued when it commits. A serious event may come without its seriousness criteria
    (the API contract's minimal body has none): the 24-hour clock must not wait for
    them. It is then flagged on the safety page as needing its criteria, and an
    investigator cannot confirm it until they are given.
    """
    with _adverse_event_write(participant, performed_by) as participant:
        values = _validated(
            participant,
            {
                "term": term,
                "onset_date": onset_date,
                "end_date": end_date,
                "ctcae_grade": ctcae_grade,
                "serious": serious,
                "seriousness_criteria": seriousness_criteria,
                "related": related,
                "action_taken": action_taken,
                "outcome": outcome,
                "learned_at": learned_at,
            },
        )
        adverse_event = AdverseEvent.objects.create(
            participant=participant, recorded_by=performed_by, **values
        )
        if adverse_event.serious:
            _notification_create(adverse_event)
        return adverse_event


def adverse_event_update(
    *,
    adverse_event: AdverseEvent,
    term: str,
    onset_date: dt.date,
    ctcae_grade: int,
    serious: bool,
    related: bool,
    outcome: str,
    end_date: dt.date | None = None,
    seriousness_criteria: Iterable[str] = (),
    action_taken: str = "",
    learned_at: dt.datetime | None = None,
    reason: str,
    performed_by: User,
) -> AdverseEvent:
    """Correct or complete an adverse event; a changed saved value needs a reason.

    Same rules as when it was recorded, withdrawn participants included. An event that
    becomes serious notifies the sponsor (as a new serious event would). A change to an
    event the investigator had confirmed withdraws the confirmation, in the same audited
    change: the investigator confirms the new assessment.
    """
    with _adverse_event_write(adverse_event.participant, performed_by, reason) as participant:
        adverse_event = AdverseEvent.objects.select_for_update().get(
            pk=adverse_event.pk, participant=participant
        )
        values = _validated(
            participant,
            {
                "term": term,
                "onset_date": onset_date,
                "end_date": end_date,
                "ctcae_grade": ctcae_grade,
                "serious": serious,
                "seriousness_criteria": seriousness_criteria,
                "related": related,
                "action_taken": action_taken,
                "outcome": outcome,
                "learned_at": learned_at or adverse_event.learned_at,
            },
        )
        was_serious = adverse_event.serious
        # Computed, not entered: it follows her doses without asking for a reason.
        pre_treatment = values.pop("pre_treatment")
        if changed_values(adverse_event, values) and adverse_event.confirmed_at is not None:
            values.update(confirmed_by=None, confirmed_at=None)
        record_update(
            instance=adverse_event,
            values=values,
            reason=reason,
            performed_by=performed_by,
            site=participant.site.code,
        )
        if adverse_event.pre_treatment != pre_treatment:
            adverse_event.pre_treatment = pre_treatment
            adverse_event.save(update_fields=["pre_treatment"])
        if adverse_event.serious and not was_serious:
            _notification_create(adverse_event)
        return adverse_event


def adverse_event_confirm(*, adverse_event: AdverseEvent, performed_by: User) -> AdverseEvent:
    """An investigator of her site confirms the adverse event as recorded.

    Refused when already confirmed, and for a serious event whose seriousness criteria
    are still missing. Confirmation stops the 24-hour clock shown on the pages, judges
    ``pre_treatment`` again against her doses as they now stand, and the last event
    confirmed can complete her (:func:`participant_complete_if_done`).
    """
    with participant_write(
        adverse_event.participant_id,
        performed_by=performed_by,
        action=may_confirm_adverse_events,
        record="adverse_event",
        reason=_("Confirmed by the investigator"),
        allow_withdrawn=True,
    ) as participant:
        adverse_event = AdverseEvent.objects.select_for_update().get(
            pk=adverse_event.pk, participant=participant
        )
        if adverse_event.confirmed_at is not None:
            raise StateConflict(_("This adverse event is already confirmed."))
        if adverse_event.criteria_missing:
            raise ValidationError(
                {
                    "seriousness_criteria": _(
                        "Give the seriousness criteria of this serious event before confirming it."
                    )
                }
            )
        adverse_event.confirmed_by = performed_by
        adverse_event.confirmed_at = timezone.now()
        # Her doses may have been recorded since the event was saved.
        adverse_event.pre_treatment = before_first_dose(participant, adverse_event.onset_date)
        adverse_event.save(update_fields=["confirmed_by", "confirmed_at", "pre_treatment"])
        participant_complete_if_done(participant, performed_by)
        return adverse_event


# -- the sponsor's notification of a serious adverse event -----------------------------


def sae_deadline(adverse_event: AdverseEvent) -> dt.datetime:
    """When the sponsor must have the report: 24 hours after the site learned of it."""
    return adverse_event.learned_at + SAE_REPORTING_WINDOW


def _local(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="minutes")


def sae_message(adverse_event: AdverseEvent) -> tuple[str, str]:
    """Subject and body of the sponsor's SAE e-mail, in the study's language."""
    participant = adverse_event.participant
    zone = site_zone(participant.site)
    with override(settings.LANGUAGE_CODE):
        yes, no = _("yes"), _("no")
        criteria = [
            str(SeriousnessCriterion(code).label) for code in adverse_event.seriousness_criteria
        ]
        # "SAE" stays in every language: the safety desk's mail filters look for it.
        serious = _("(serious adverse event)")
        subject = f"[{participant.site.study.code}] SAE {serious} " + _(
            "%(subject)s, %(term)s, CTCAE grade %(grade)s"
        ) % {
            "subject": participant.subject_id,
            "term": adverse_event.term,
            "grade": adverse_event.ctcae_grade,
        }
        rows = [
            (_("Study"), participant.site.study.code),
            (_("Site"), f"{participant.site.code} {participant.site.name}"),
            (_("Subject"), participant.subject_id),
            (_("Adverse event"), adverse_event.term),
            (_("Onset date"), adverse_event.onset_date.isoformat()),
            (_("End date"), adverse_event.end_date.isoformat() if adverse_event.end_date else "—"),
            (_("CTCAE grade"), str(adverse_event.ctcae_grade)),
            (_("Serious"), yes if adverse_event.serious else no),
            (
                _("Seriousness criteria"),
                ", ".join(criteria) if criteria else _("not given yet"),
            ),
            (_("Related to tacrolimus"), yes if adverse_event.related else no),
            (
                _("Action taken with tacrolimus"),
                str(ActionTaken(adverse_event.action_taken).label)
                if adverse_event.action_taken
                else "—",
            ),
            (pgettext("adverse event", "Outcome"), str(Outcome(adverse_event.outcome).label)),
            (_("Site learned of it at"), _local(adverse_event.learned_at, zone)),
            (_("Recorded by"), str(adverse_event.recorded_by)),
        ]
        body = "\n\n".join(
            [
                _("A serious adverse event was reported at %(site)s.")
                % {"site": participant.site.name},
                "\n".join(f"{label}: {value}" for label, value in rows),
                _(
                    "The sponsor must receive this report within 24 hours of the site "
                    "learning of the event: by %(deadline)s."
                )
                % {"deadline": _local(sae_deadline(adverse_event), zone)},
                _("This message was sent by the study's eCRF; please do not reply to it."),
            ]
        )
    return subject, body


def _notification_create(adverse_event: AdverseEvent) -> SafetyNotification:
    """Write the sponsor's notification now; queue its sending once the transaction commits."""
    subject, body = sae_message(adverse_event)
    notification = SafetyNotification.objects.create(
        adverse_event=adverse_event, subject=subject, body=body
    )
    on_commit_queue(safety_notification_queue, notification.pk)
    return notification


def safety_notification_queue(notification_id: int) -> None:
    """Hand one notification to a worker (queue ``SAFETY_NOTIFICATION_QUEUE``)."""
    from .tasks import send_safety_notification  # noqa: PLC0415  (a service queues its own task)

    send_safety_notification.apply_async(
        args=[notification_id], queue=settings.SAFETY_NOTIFICATION_QUEUE or None
    )


def safety_notification_send(*, notification_id: int) -> bool:
    """Send one notification to ``SAFETY_CONTACTS`` unless it was sent; answer if it was now.

    Sent once under a row lock, failures recorded and raised for the task to retry (see
    :func:`ecrf.notifications.services.outbox_send`); with no contacts configured the
    row stays unsent, the error logged and recorded, and the beat job tries again once
    they are.
    """
    return outbox_send(
        SafetyNotification.objects.all(),
        message_id=notification_id,
        recipients=lambda _notification: list(settings.SAFETY_CONTACTS),
        nobody="SAFETY_CONTACTS is empty: nobody to notify.",
    )


def safety_notifications_requeue(*, now: dt.datetime | None = None) -> int:
    """Queue again every unsent notification nobody tried lately; answer how many.

    The beat job runs this every five minutes, so a message lost with a worker, or
    never queued because the broker was down, still gets the notification out.
    """
    return outbox_requeue(
        SafetyNotification.objects.all(), queue=safety_notification_queue, now=now
    )
