"""Schedule arithmetic from the embryo transfer date: dosing days, doses, visit windows.

Pure functions on dates (no database, no clock): every day is a dosing day (Japan's
calendar of holidays is irrelevant), and every date is the site's local date, which
the caller supplies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True)
class VisitDefinition:
    """A visit: its target day and window, counted from the embryo transfer (ET = day 0)."""

    code: str
    target_offset: int
    window_start_offset: int
    window_end_offset: int


@dataclass(frozen=True)
class ScheduleDefinition:
    """The dosing window and the visits of a study (study settings)."""

    dosing_start_offset: int
    dosing_days: int
    visits: tuple[VisitDefinition, ...]


#: The intakes a day the dose diary records: morning and evening.
MAX_INTAKES_PER_DAY = 2


@dataclass(frozen=True)
class Regimen:
    """An arm's daily dose and how it is taken (1 mg capsules twice a day, say)."""

    daily_dose_mg: Decimal
    capsule_mg: Decimal
    intakes_per_day: int

    @property
    def capsules_per_day(self) -> int:
        return int(self.daily_dose_mg / self.capsule_mg)

    @property
    def capsules_per_intake(self) -> int:
        return self.capsules_per_day // self.intakes_per_day

    @property
    def dose_per_intake_mg(self) -> Decimal:
        return self.daily_dose_mg / self.intakes_per_day


@dataclass(frozen=True)
class VisitWindow:
    code: str
    target_date: dt.date
    window_start: dt.date
    window_end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.window_start <= day <= self.window_end


@dataclass(frozen=True)
class Schedule:
    et_date: dt.date
    dosing_start: dt.date
    dosing_end: dt.date
    visits: tuple[VisitWindow, ...]

    @property
    def dosing_dates(self) -> list[dt.date]:
        days = (self.dosing_end - self.dosing_start).days + 1
        return [self.dosing_start + dt.timedelta(days=n) for n in range(days)]

    def in_dosing_window(self, day: dt.date) -> bool:
        return self.dosing_start <= day <= self.dosing_end

    def visit(self, code: str) -> VisitWindow:
        return next(v for v in self.visits if v.code == code)


def definition_errors(definition: ScheduleDefinition) -> list[str]:
    """What is inconsistent in a schedule definition, in words; empty when it is sound."""
    errors = []
    if definition.dosing_days < 1:
        errors.append(f"dosing lasts {definition.dosing_days} days; expected at least 1")
    codes = [v.code for v in definition.visits]
    if len(set(codes)) != len(codes):
        errors.append(f"visit codes repeat: {', '.join(codes)}")
    for visit in definition.visits:
        if visit.window_end_offset < visit.window_start_offset:
            errors.append(
                f"visit {visit.code}: the window ends (day {visit.window_end_offset:+d}) "
                f"before it starts (day {visit.window_start_offset:+d})"
            )
        elif not visit.window_start_offset <= visit.target_offset <= visit.window_end_offset:
            errors.append(
                f"visit {visit.code}: the target day {visit.target_offset:+d} lies outside its "
                f"window {visit.window_start_offset:+d}..{visit.window_end_offset:+d}"
            )
    return errors


def regimen_errors(regimen: Regimen) -> list[str]:
    """What is inconsistent in an arm's regimen, in words."""
    errors = []
    if regimen.capsule_mg <= 0 or regimen.intakes_per_day < 1:
        return [f"capsule {regimen.capsule_mg} mg, {regimen.intakes_per_day} intakes a day"]
    if regimen.intakes_per_day > MAX_INTAKES_PER_DAY:
        return [
            f"{regimen.intakes_per_day} intakes a day: the dose diary records at most "
            f"{MAX_INTAKES_PER_DAY} (morning and evening)"
        ]
    capsules = regimen.daily_dose_mg / regimen.capsule_mg
    if capsules != capsules.to_integral_value():
        errors.append(
            f"{regimen.daily_dose_mg} mg a day is not a whole number of "
            f"{regimen.capsule_mg} mg capsules"
        )
    elif int(capsules) % regimen.intakes_per_day:
        errors.append(
            f"{int(capsules)} capsules a day cannot be split into "
            f"{regimen.intakes_per_day} equal intakes"
        )
    return errors


def compute_schedule(et_date: dt.date, definition: ScheduleDefinition) -> Schedule:
    """Dosing from ET+start offset for the set number of days, and each visit's window."""

    def day(offset: int) -> dt.date:
        return et_date + dt.timedelta(days=offset)

    start = day(definition.dosing_start_offset)
    return Schedule(
        et_date=et_date,
        dosing_start=start,
        dosing_end=start + dt.timedelta(days=definition.dosing_days - 1),
        visits=tuple(
            VisitWindow(
                code=v.code,
                target_date=day(v.target_offset),
                window_start=day(v.window_start_offset),
                window_end=day(v.window_end_offset),
            )
            for v in definition.visits
        ),
    )


class VisitStatus(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    DONE_OUT_OF_WINDOW = "done_out_of_window"
    MISSED = "missed"


def visit_status(
    window: VisitWindow, *, today: dt.date, done_on: dt.date | None, missed: bool
) -> VisitStatus:
    """Upcoming before the window opens, due while it is open, overdue once it has passed
    with no data; done (in or out of the window) or missed once recorded."""
    if done_on is not None:
        return VisitStatus.DONE if window.contains(done_on) else VisitStatus.DONE_OUT_OF_WINDOW
    if missed:
        return VisitStatus.MISSED
    if today < window.window_start:
        return VisitStatus.UPCOMING
    if today <= window.window_end:
        return VisitStatus.DUE
    return VisitStatus.OVERDUE


def compliance_percent(
    schedule: Schedule,
    *,
    taken_intakes: Collection[tuple[dt.date, str]],
    intakes: Sequence[str],
    until: dt.date,
) -> Decimal | None:
    """Intakes taken at the planned dose (``taken_intakes``, by date and intake), over the
    intakes due on the dosing days up to ``until`` (inclusive): every day has ``intakes``.

    ``None`` before the first dosing day: there is nothing to comply with yet.
    """
    due = [(d, intake) for d in schedule.dosing_dates if d <= until for intake in intakes]
    if not due:
        return None
    taken = sum(1 for due_intake in due if due_intake in taken_intakes)
    return (Decimal(100) * taken / len(due)).quantize(Decimal("0.1"))
