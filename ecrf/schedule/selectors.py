"""Reads of the treatment period: diary, accountability, visit statuses, worklists."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
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
    Regimen,
    Schedule,
    ScheduleDefinition,
    VisitStatus,
    VisitWindow,
    compliance_percent,
    compute_schedule,
    visit_status,
)
from .definitions import regimen, schedule_definition, studies_of, study_visit_definitions
from .models import Dispensing, DoseEntry, DrugReturn, Intake, VisitOutcome, VisitRecord
from .services import participant_schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User


def intake_anchor(day: dt.date, intake: str) -> str:
    """The id of an intake's cell in the diary grid, where the page returns after a save."""
    return f"dose-{day.isoformat()}-{intake}"


@dataclass(frozen=True)
class DiaryIntake:
    """One intake of a dosing day in her diary: its entry once recorded."""

    date: dt.date
    intake: str
    label: str
    entry: DoseEntry | None
    due: bool

    @property
    def missing(self) -> bool:
        """Not recorded, though its day is past."""
        return self.due and self.entry is None

    @property
    def anchor(self) -> str:
        return intake_anchor(self.date, self.intake)


@dataclass(frozen=True)
class DiaryDay:
    date: dt.date
    planned_dose_mg: Decimal
    planned_capsules: int
    planned_capsules_per_intake: int
    intakes: list[DiaryIntake]
    past: bool

    @property
    def missing(self) -> bool:
        """Some intake of a past day is not recorded."""
        return any(i.missing for i in self.intakes)

    @property
    def recorded(self) -> bool:
        return all(i.entry is not None for i in self.intakes)


@dataclass(frozen=True)
class Accountability:
    """Capsules dispensed and taken; once she has brought the rest back, the reconciliation.

    Until the return visit the capsules not yet taken are with her: nothing is missing
    yet. After it, what was dispensed and neither taken (per the diary) nor returned is
    the discrepancy.
    """

    dispensed: int
    returned: int
    consumed_per_diary: int
    return_recorded: bool

    @property
    def with_participant(self) -> int:
        """Capsules she holds: dispensed, not taken per the diary, not returned."""
        return max(self.dispensed - self.returned - self.consumed_per_diary, 0)

    @property
    def discrepancy(self) -> int | None:
        """Capsules not accounted for, once the return is recorded; ``None`` before."""
        if not self.return_recorded:
            return None
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


def visit_states(
    schedule: Schedule,
    *,
    records: dict[str, VisitRecord],
    names: dict[str, str],
    today: dt.date,
) -> list[VisitState]:
    """Each visit of her schedule with its window and its status on ``today`` (upcoming,
    due, overdue, done in or out of its window, missed), from her visit records by code."""
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
    return visits


#: The statuses of a visit that still lies ahead of her: nothing recorded yet.
PENDING_VISIT_STATUSES = frozenset({VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE})


def next_visits(participants: Sequence[Participant]) -> dict[int, VisitState | None]:
    """Each participant's next visit (by participant id): the first visit of her schedule
    with nothing recorded, its window, and whether it is due or overdue; ``None`` before
    randomization and the ET date, after withdrawal, or once every visit is recorded.

    The schedule is the one of her treatment page (:func:`treatment_of`), computed for
    all of them at once: her ET date as loaded with her (``embryo_transfer``), the visit
    records of all of them in one query, each study's visits read once.
    """
    scheduled = [
        p
        for p in participants
        if p.status != ParticipantStatus.WITHDRAWN
        and getattr(p, "embryo_transfer", None) is not None
        and getattr(p, "allocation", None) is not None
    ]
    found: dict[int, VisitState | None] = {p.pk: None for p in participants}
    if not scheduled:
        return found
    records: dict[int, dict[str, VisitRecord]] = {}
    for record in VisitRecord.objects.filter(participant__in=scheduled):
        records.setdefault(record.participant_id, {})[record.visit_code] = record
    definitions: dict[int, tuple[ScheduleDefinition, dict[str, str]]] = {}
    for participant in scheduled:
        study = participant.site.study
        if study.pk not in definitions:
            names = {v.code: v.name for v in study.visit_definitions.all()}
            definitions[study.pk] = (schedule_definition(study), names)
        definition, names = definitions[study.pk]
        schedule = compute_schedule(participant.embryo_transfer.et_date, definition)
        states = visit_states(
            schedule,
            records=records.get(participant.pk, {}),
            names=names,
            today=site_today(participant.site),
        )
        found[participant.pk] = next(
            (v for v in states if v.status in PENDING_VISIT_STATUSES), None
        )
    return found


def in_treatment(user: User | AnonymousUser) -> list[Participant]:
    """The randomized participants at the user's sites whose ET date is set."""
    return list(
        participants_visible_to(user, status=ParticipantStatus.RANDOMIZED).filter(
            embryo_transfer__isnull=False
        )
    )


def treatment_of(participant: Participant) -> Treatment | None:
    """Her schedule with the diary, accountability and visits; ``None`` before the ET date."""
    return treatments_of([participant]).get(participant.pk)


def treatments_of(participants: Iterable[Participant]) -> dict[int, Treatment]:
    """The treatment of each participant who has an ET date and an allocation, by primary
    key, read as it stands now: each kind of record in one statement for all of them."""
    people = list(participants)
    ids = [p.pk for p in people]
    if not ids:
        return {}
    # Her ET date and her arm, for those who have both.
    begun = {
        p.pk: (p.embryo_transfer.et_date, p.allocation.arm)
        for p in Participant.objects.filter(
            pk__in=ids, embryo_transfer__isnull=False, allocation__isnull=False
        ).select_related("embryo_transfer", "allocation__arm")
    }
    started = [p for p in people if p.pk in begun]
    if not started:
        return {}
    started_ids = [p.pk for p in started]
    entries: dict[int, list[DoseEntry]] = defaultdict(list)
    for entry in DoseEntry.objects.filter(participant_id__in=started_ids):
        entries[entry.participant_id].append(entry)
    records: dict[int, list[VisitRecord]] = defaultdict(list)
    for record in VisitRecord.objects.filter(participant_id__in=started_ids):
        records[record.participant_id].append(record)
    dispensed = dict(
        Dispensing.objects.filter(participant_id__in=started_ids)
        .values("participant_id")
        .annotate(n=Sum("capsules"))
        .values_list("participant_id", "n")
    )
    returned = dict(
        DrugReturn.objects.filter(participant_id__in=started_ids)
        .values("participant_id")
        .annotate(n=Sum("capsules"))
        .values_list("participant_id", "n")
    )
    visits_of = {
        pk: (schedule_definition(study), {v.code: v.name for v in study_visit_definitions(study)})
        for pk, study in studies_of(started).items()
    }
    treatments = {}
    for participant in started:
        definition, names = visits_of[participant.site.study_id]
        et_date, arm = begun[participant.pk]
        treatments[participant.pk] = _treatment(
            participant,
            compute_schedule(et_date, definition),
            regimen(arm),
            {(e.date, e.intake): e for e in entries[participant.pk]},
            {r.visit_code: r for r in records[participant.pk]},
            names,
            Accountability(
                dispensed=dispensed.get(participant.pk) or 0,
                returned=returned.get(participant.pk) or 0,
                consumed_per_diary=sum(e.capsules for e in entries[participant.pk]),
                return_recorded=participant.pk in returned,
            ),
        )
    return treatments


def _treatment(
    participant: Participant,
    schedule: Schedule,
    arm_regimen: Regimen,
    entries: dict[tuple[dt.date, str], DoseEntry],
    records: dict[str, VisitRecord],
    names: dict[str, str],
    accountability: Accountability,
) -> Treatment:
    today = site_today(participant.site)
    intakes = list(Intake)[: arm_regimen.intakes_per_day]
    diary = [
        DiaryDay(
            date=day,
            planned_dose_mg=arm_regimen.daily_dose_mg,
            planned_capsules=arm_regimen.capsules_per_day,
            planned_capsules_per_intake=arm_regimen.capsules_per_intake,
            intakes=[
                DiaryIntake(
                    date=day,
                    intake=intake.value,
                    label=str(intake.label),
                    entry=entries.get((day, intake.value)),
                    due=day < today,
                )
                for intake in intakes
            ],
            past=day < today,
        )
        for day in schedule.dosing_dates
    ]
    stray = [e for (day, _i), e in sorted(entries.items()) if not schedule.in_dosing_window(day)]
    taken = {
        key for key, e in entries.items() if e.taken and e.dose_mg == arm_regimen.dose_per_intake_mg
    }
    return Treatment(
        schedule=schedule,
        diary=diary,
        stray_entries=stray,
        compliance=compliance_percent(
            schedule, taken_intakes=taken, intakes=[i.value for i in intakes], until=today
        ),
        accountability=accountability,
        visits=visit_states(schedule, records=records, names=names, today=today),
    )


def first_dose_date(participant: Participant) -> dt.date | None:
    """Her first dose: the earliest day of the diary with a dose taken; with none yet,
    the planned first dosing day of her schedule; ``None`` before either is known."""
    taken = (
        DoseEntry.objects.filter(participant=participant, taken=True)
        .order_by("date")
        .values_list("date", flat=True)
        .first()
    )
    if taken is not None:
        return taken
    schedule = participant_schedule(participant)
    return schedule.dosing_start if schedule is not None else None


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
    randomized = in_treatment(user)
    treatments = treatments_of(randomized)
    for participant in randomized:
        treatment = treatments.get(participant.pk)
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
        missing = [i for d in treatment.diary for i in d.intakes if i.missing]
        if missing:
            items.append(
                WorkItem(
                    participant,
                    "overdue",
                    missing[0].date,
                    ngettext(
                        "Dose diary: %(n)s intake not recorded",
                        "Dose diary: %(n)s intakes not recorded",
                        len(missing),
                    )
                    % {"n": len(missing)},
                )
            )
    return sorted(items, key=lambda item: (item.day, item.participant.subject_id))
