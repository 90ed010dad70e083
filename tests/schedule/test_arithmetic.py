"""Schedule arithmetic, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrf.schedule.arithmetic import (
    Regimen,
    ScheduleDefinition,
    VisitDefinition,
    VisitStatus,
    compliance_percent,
    compute_schedule,
    definition_errors,
    regimen_errors,
    visit_status,
)
from ecrf.schedule.checks import trial_definition

D = dt.date.fromisoformat
PROTOCOL = trial_definition()


@pytest.mark.requirement("PROT-DOSE-WINDOW", "PROT-VISIT-WINDOWS")
def test_schedule_for_an_et_of_1_march_2026():
    schedule = compute_schedule(D("2026-03-01"), PROTOCOL)
    assert (schedule.dosing_start, schedule.dosing_end) == (D("2026-02-27"), D("2026-03-14"))
    assert len(schedule.dosing_dates) == 16
    biochemical = schedule.visit("biochemical_pregnancy")
    clinical = schedule.visit("clinical_pregnancy")
    assert (biochemical.target_date, biochemical.window_start, biochemical.window_end) == (
        D("2026-03-15"),
        D("2026-03-15"),
        D("2026-03-17"),
    )
    assert (clinical.target_date, clinical.window_start, clinical.window_end) == (
        D("2026-03-22"),
        D("2026-03-22"),
        D("2026-03-29"),
    )


@pytest.mark.requirement("PROT-DOSE-WINDOW")
def test_no_dose_on_the_biochemical_pregnancy_test_day():
    schedule = compute_schedule(D("2026-03-01"), PROTOCOL)
    assert not schedule.in_dosing_window(schedule.visit("biochemical_pregnancy").target_date)


@pytest.mark.requirement("PROT-DOSE-WINDOW")
def test_every_day_is_a_dosing_day_across_month_and_year_ends():
    schedule = compute_schedule(D("2026-12-25"), PROTOCOL)
    dates = schedule.dosing_dates
    assert dates[0] == D("2026-12-23") and dates[-1] == D("2027-01-07")
    assert all((b - a).days == 1 for a, b in zip(dates, dates[1:], strict=False))


@pytest.mark.requirement("PROT-DOSE-WINDOW")
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_dosing_runs_from_et_minus_2_to_et_plus_13(et):
    schedule = compute_schedule(et, PROTOCOL)
    assert schedule.dosing_start == et - dt.timedelta(days=2)
    assert schedule.dosing_end == et + dt.timedelta(days=13)
    assert len(schedule.dosing_dates) == 16


@pytest.mark.requirement("PROT-SETTINGS")
def test_the_protocol_definition_is_consistent():
    assert definition_errors(PROTOCOL) == []


@pytest.mark.requirement("PROT-SETTINGS")
def test_a_window_that_ends_before_it_starts_is_reported():
    broken = ScheduleDefinition(-2, 16, (VisitDefinition("x", 14, 16, 14),))
    assert definition_errors(broken) == [
        "visit x: the window ends (day +14) before it starts (day +16)"
    ]


@pytest.mark.requirement("PROT-SETTINGS")
def test_a_target_outside_its_window_and_zero_dosing_days_are_reported():
    broken = ScheduleDefinition(
        -2, 0, (VisitDefinition("x", 20, 14, 16), VisitDefinition("x", 1, 1, 1))
    )
    errors = definition_errors(broken)
    assert any("at least 1" in e for e in errors)
    assert any("repeat" in e for e in errors)
    assert any("outside its window" in e for e in errors)


@pytest.mark.requirement("PROT-DOSE-ARMS")
@pytest.mark.parametrize(
    ("dose", "capsule", "intakes", "capsules_per_intake", "errors"),
    [
        ("2", "1", 2, 1, 0),
        ("4", "1", 2, 2, 0),
        ("3", "1", 2, None, 1),
        ("2.5", "1", 2, None, 1),
        ("3", "1", 3, None, 1),
    ],
)
def test_regimens(dose, capsule, intakes, capsules_per_intake, errors):
    regimen = Regimen(Decimal(dose), Decimal(capsule), intakes)
    assert len(regimen_errors(regimen)) == errors
    if capsules_per_intake is not None:
        assert regimen.capsules_per_intake == capsules_per_intake


@pytest.mark.requirement("PROT-VISIT-STATUS")
@pytest.mark.parametrize(
    ("today", "done_on", "missed", "status"),
    [
        ("2026-03-14", None, False, VisitStatus.UPCOMING),
        ("2026-03-15", None, False, VisitStatus.DUE),
        ("2026-03-17", None, False, VisitStatus.DUE),
        ("2026-03-18", None, False, VisitStatus.OVERDUE),
        ("2026-03-18", "2026-03-16", False, VisitStatus.DONE),
        ("2026-03-20", "2026-03-18", False, VisitStatus.DONE_OUT_OF_WINDOW),
        ("2026-03-20", None, True, VisitStatus.MISSED),
    ],
)
def test_visit_status_flips_at_the_window_edges(today, done_on, missed, status):
    window = compute_schedule(D("2026-03-01"), PROTOCOL).visit("biochemical_pregnancy")
    done = D(done_on) if done_on else None
    assert visit_status(window, today=D(today), done_on=done, missed=missed) == status


@pytest.mark.requirement("PROT-DRUG-ACCOUNTABILITY")
def test_compliance_counts_only_intakes_due_so_far():
    schedule = compute_schedule(D("2026-03-01"), PROTOCOL)
    both = ("morning", "evening")
    taken = {(D(day), intake) for day in ("2026-02-27", "2026-02-28") for intake in both}
    taken |= {(D("2026-03-01"), "morning")}

    def percent(until: str) -> Decimal | None:
        return compliance_percent(schedule, taken_intakes=taken, intakes=both, until=D(until))

    assert percent("2026-02-26") is None
    # 5 of the 8 intakes of 27 February to 2 March; 5 of the 32 of the whole period.
    assert percent("2026-03-02") == Decimal("62.5")
    assert percent("2026-04-01") == Decimal("15.6")


@pytest.mark.requirement("PROT-SETTINGS")
def test_the_builtin_trial_passes_the_system_check():
    from ecrf.schedule.checks import check_trial_schedule

    assert check_trial_schedule() == []
