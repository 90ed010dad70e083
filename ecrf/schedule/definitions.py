"""A study's schedule and an arm's regimen as the pure arithmetic sees them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ecrf.common.compiled import CompiledRead
from ecrf.studies.models import Arm, Study
from ecrf.studies.models import VisitDefinition as StudyVisit

from .arithmetic import Regimen, ScheduleDefinition, VisitDefinition

if TYPE_CHECKING:
    from ecrf.participants.models import Participant


def studies_of(participants: Iterable[Participant]) -> dict[int, Study]:
    """One study instance per study of ``participants``, by id: their visit definitions
    (:func:`study_visit_definitions`) are then read once per study, not per participant."""
    studies: dict[int, Study] = {}
    for participant in participants:
        studies.setdefault(participant.site.study_id, participant.site.study)
    return studies


_VISITS: CompiledRead[StudyVisit] = CompiledRead(
    lambda study_id: StudyVisit.objects.filter(study_id=study_id), -1
)


def study_visit_definitions(study: Study) -> list[StudyVisit]:
    """The study's visit definitions, read once per study instance (a write that checks
    a visit window and then whether she has completed asks for them twice), by a
    statement compiled once: every treatment write reads them."""
    prefetched = getattr(study, "_prefetched_objects_cache", {}).get("visit_definitions")
    if prefetched is not None:
        return list(prefetched)
    if "_visit_definitions" not in study.__dict__:
        study.__dict__["_visit_definitions"] = _VISITS.all(study.pk)
    return list(study.__dict__["_visit_definitions"])


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
            for v in sorted(
                study_visit_definitions(study), key=lambda v: (v.order, v.target_offset)
            )
        ),
    )


def regimen(arm: Arm) -> Regimen:
    return Regimen(
        daily_dose_mg=arm.daily_dose_mg,
        capsule_mg=arm.capsule_mg,
        intakes_per_day=arm.intakes_per_day,
    )
