"""System checks: every study's schedule and every arm's regimen must be consistent.

They run at start-up of the database-aware commands (``migrate``, which ``make run``
and deployments run first, and ``check --database default``), and the trial's
built-in definition is checked by every ``manage.py`` command.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from ecrf.studies import trial
from ecrf.studies.models import Arm, Study

from .arithmetic import (
    Regimen,
    ScheduleDefinition,
    VisitDefinition,
    definition_errors,
    regimen_errors,
)
from .definitions import regimen, schedule_definition


def trial_definition() -> ScheduleDefinition:
    return ScheduleDefinition(
        dosing_start_offset=trial.DOSING_START_OFFSET,
        dosing_days=trial.DOSING_DAYS,
        visits=tuple(VisitDefinition(code, t, s, e) for code, _en, _ja, t, s, e in trial.VISITS),
    )


@register()
def check_trial_schedule(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The tacrolimus trial's built-in schedule and regimens (used by setup_trial)."""
    errors = [
        Error(f"Trial schedule: {message}", id="schedule.E001")
        for message in definition_errors(trial_definition())
    ]
    for code, *_names, dose, _weight in trial.ARMS:
        regimen = Regimen(Decimal(dose), Decimal(trial.CAPSULE_MG), trial.INTAKES_PER_DAY)
        errors += [
            Error(f"Trial arm {code}: {message}", id="schedule.E002")
            for message in regimen_errors(regimen)
        ]
    return errors


@register(Tags.database)
def check_stored_schedules(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Each study's schedule and each arm's regimen as stored in the database."""
    errors: list[Error] = []
    try:
        for study in Study.objects.prefetch_related("visit_definitions"):
            errors += [
                Error(f"Study {study.code}: {message}", id="schedule.E003")
                for message in definition_errors(schedule_definition(study))
            ]
        for arm in Arm.objects.select_related("study"):
            errors += [
                Error(f"Study {arm.study.code}, arm {arm.code}: {message}", id="schedule.E004")
                for message in regimen_errors(regimen(arm))
            ]
    except DatabaseError:
        return []  # tables not migrated yet: nothing stored to check
    return errors
