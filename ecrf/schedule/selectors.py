"""Reads of the treatment period: diary, accountability, visit statuses, worklists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.selectors import participants_visible_to
from ecrf.participants.services import site_today

from .arithmetic import (
    Schedule,
    VisitStatus,
    VisitWindow,
    compliance_percent,
    visit_status,
)
from .definitions import regimen
from .models import Dispensing, DoseEntry, DrugReturn, VisitOutcome, VisitRecord
from .services import participant_schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User


@dataclass(frozen=True)
class DiaryDay:
    date: dt.date
    planned_dose_mg: Decimal
    planned_capsules: int
    entry: DoseEntry | None
    past: bool

    @property
    def missing(self) -> bool:
        return self.past and self.entry is None


@dataclass(frozen=True)
class Accountability:
    dispensed: int
    returned: int
    consumed_per_diary: int

    @property
    def discrepancy(self) -> int:
        """Capsules not accounted for: dispensed minus returned minus taken per the diary."""
        return self.dispensed - self.returned - self.consumed_per_diary


VISIT_STATUS_LABELS = {
    VisitStatus.UPCOMING: _("Upcoming"),
    VisitStatus.DUE: _("Due (window open)"),
    VisitStatus.OVERDUE: _("Overdue"),
    VisitStatus.DONE: _("Done"),
    VisitStatus.DONE_OUT_OF_WINDOW: _("Done out of window (deviation)"),
    VisitStatus.MISSED: _("Missed"),
}


@dataclass(frozen=True)
class VisitState:
    window: VisitWindow
    name: str
    status: VisitStatus
    record: VisitRecord | None

    @property
    def status_label(self) -> str:
        return str(VISIT_STATUS_LABELS[self.status])


@dataclass(frozen=True)
class Treatment:
    """Everything of her treatment period, for her page and the API."""

    schedule: Schedule
    diary: list[DiaryDay]
    stray_entries: list[DoseEntry]
    compliance: Decimal | None
    accountability: Accountability
    visits: list[VisitState]


def treatment_of(participant: Participant) -> Treatment | None:
    """Her schedule with the diary, accountability and visits; ``None`` before the ET date."""
    schedule = participant_schedule(participant)
    slot = getattr(participant, "allocation", None)
    if schedule is None or slot is None:
        return None
    today = site_today(participant.site)
    arm_regimen = regimen(slot.arm)
    entries = {e.date: e for e in DoseEntry.objects.filter(participant=participant)}
    diary = [
        DiaryDay(
            date=day,
            planned_dose_mg=arm_regimen.daily_dose_mg,
            planned_capsules=arm_regimen.capsules_per_day,
            entry=entries.get(day),
            past=day < today,
        )
        for day in schedule.dosing_dates
    ]
    stray = [e for day, e in sorted(entries.items()) if not schedule.in_dosing_window(day)]
    taken = {
        day for day, e in entries.items() if e.taken and e.dose_mg == arm_regimen.daily_dose_mg
    }
    names = {v.code: v.name for v in participant.site.study.visit_definitions.all()}
    records = {r.visit_code: r for r in VisitRecord.objects.filter(participant=participant)}
    visits = []
    for window in schedule.visits:
        record = records.get(window.code)
        visits.append(
            VisitState(
                window=window,
                name=names.get(window.code, window.code),
                status=visit_status(
                    window,
                    today=today,
                    done_on=record.done_on if record else None,
                    missed=bool(record and record.outcome == VisitOutcome.MISSED),
                ),
                record=record,
            )
        )
    return Treatment(
        schedule=schedule,
        diary=diary,
        stray_entries=stray,
        compliance=compliance_percent(schedule, taken_dates=taken, until=today),
        accountability=Accountability(
            dispensed=Dispensing.objects.filter(participant=participant).aggregate(
                n=Sum("capsules")
            )["n"]
            or 0,
            returned=DrugReturn.objects.filter(participant=participant).aggregate(
                n=Sum("capsules")
            )["n"]
            or 0,
            consumed_per_diary=sum(e.capsules for e in entries.values()),
        ),
        visits=visits,
    )


@dataclass(frozen=True)
class WorkItem:
    participant: Participant
    kind: str
    day: dt.date
    detail: str


def coordinator_agenda(user: User | AnonymousUser, *, days: int = 7) -> list[WorkItem]:
    """What is due at her sites today and in the coming days, and what is overdue.

    Starts of dosing, visits whose window is open or opens this week, overdue visits,
    and past dosing days with no diary entry.
    """
    items: list[WorkItem] = []
    randomized = participants_visible_to(user, status=ParticipantStatus.RANDOMIZED).filter(
        embryo_transfer__isnull=False
    )
    for participant in randomized:
        treatment = treatment_of(participant)
        if treatment is None:
            continue
        today = site_today(participant.site)
        horizon = today + dt.timedelta(days=days)
        schedule = treatment.schedule
        if today <= schedule.dosing_start <= horizon:
            items.append(
                WorkItem(
                    participant, "dosing_start", schedule.dosing_start, str(_("Dosing starts"))
                )
            )
        for visit in treatment.visits:
            if visit.status == VisitStatus.DUE or (
                visit.status == VisitStatus.UPCOMING and visit.window.window_start <= horizon
            ):
                items.append(
                    WorkItem(participant, "visit_due", visit.window.target_date, visit.name)
                )
            elif visit.status == VisitStatus.OVERDUE:
                items.append(WorkItem(participant, "overdue", visit.window.window_end, visit.name))
        missing = [d.date for d in treatment.diary if d.missing]
        if missing:
            items.append(
                WorkItem(
                    participant,
                    "overdue",
                    missing[0],
                    ngettext(
                        "Dose diary: %(n)s day not recorded",
                        "Dose diary: %(n)s days not recorded",
                        len(missing),
                    )
                    % {"n": len(missing)},
                )
            )
    return sorted(items, key=lambda item: (item.day, item.participant.subject_id))
