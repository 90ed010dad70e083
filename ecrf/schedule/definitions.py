"""A study's schedule and an arm's regimen as the pure arithmetic sees them."""

from __future__ import annotations

from ecrf.studies.models import Arm, Study

from .arithmetic import Regimen, ScheduleDefinition, VisitDefinition


def schedule_definition(study: Study) -> ScheduleDefinition:
    """The study's dosing window and visits (study settings)."""
    return ScheduleDefinition(
        dosing_start_offset=study.dosing_start_offset,
        dosing_days=study.dosing_days,
        visits=tuple(
            VisitDefinition(
                code=v.code,
                target_offset=v.target_offset,
                window_start_offset=v.window_start_offset,
                window_end_offset=v.window_end_offset,
            )
            for v in study.visit_definitions.order_by("order", "target_offset")
        ),
    )


def regimen(arm: Arm) -> Regimen:
    return Regimen(
        daily_dose_mg=arm.daily_dose_mg,
        capsule_mg=arm.capsule_mg,
        intakes_per_day=arm.intakes_per_day,
    )
