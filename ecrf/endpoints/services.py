"""Every write of the endpoint forms, with the study's edit checks run on each save."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.audit.context import change_context
from ecrf.common import catalogue, messages
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today
from ecrf.participants.writes import record_upsert
from ecrf.queries.services import query_open
from ecrf.schedule.models import VisitOutcome, VisitRecord
from ecrf.schedule.services import participant_schedule, treatment_write

from .checks import (
    BIOCHEMICAL,
    CLINICAL,
    HARD,
    CheckContext,
    CheckSetting,
    Finding,
    run_checks,
)
from .models import BiochemicalPregnancy, ClinicalPregnancy, EditCheckFinding, EditCheckSetting

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.studies.models import Study

ENDPOINT_MODELS: dict[str, type[models.Model]] = {
    BIOCHEMICAL: BiochemicalPregnancy,
    CLINICAL: ClinicalPregnancy,
}

#: The fields of each endpoint form that the site enters, as the API spells them.
ENDPOINT_FIELDS = {
    code: tuple(field.name for field in catalogue.form(code).entered_fields)
    for code in (BIOCHEMICAL, CLINICAL)
}


class UnconfirmedWarnings(Exception):
    """Soft edit checks fired and the user has not confirmed them yet."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class EndpointSaved:
    record: models.Model
    warnings: list[Finding]


def check_settings(study: Study) -> dict[str, CheckSetting]:
    """The study's edit-check settings by check code."""
    return {
        s.code: CheckSetting(s.enabled, s.severity, s.threshold)
        for s in EditCheckSetting.objects.filter(study=study)
    }


def _values_of(instance: models.Model | None, record: str) -> dict[str, Any] | None:
    if instance is None:
        return None
    return {name: getattr(instance, name) for name in ENDPOINT_FIELDS[record]}


def endpoint_record(
    *,
    participant: Participant,
    record: str,
    values: dict[str, Any],
    reason: str = "",
    confirm_warnings: bool = False,
    performed_by: User,
) -> EndpointSaved:
    """Record (or correct, with a reason) the biochemical or clinical pregnancy form.

    Hard edit checks refuse the save with the field named; soft checks must be
    confirmed (``confirm_warnings``), and are then kept as findings beside the data.
    The form's visit is marked done on its date; whether she has completed is judged
    once the write is done (:func:`ecrf.schedule.completion.participant_complete_if_done`).
    """
    with treatment_write(participant, performed_by, record, reason) as (participant, _slot):
        schedule = participant_schedule(participant)
        if schedule is None:
            raise StateConflict(_("Set the embryo transfer date first: the visits follow from it."))
        model = ENDPOINT_MODELS[record]
        values = {k: values.get(k) for k in ENDPOINT_FIELDS[record] if k in values}
        assessed_on: dt.date = values["assessed_on"]
        current = {
            BIOCHEMICAL: BiochemicalPregnancy.objects.filter(participant=participant).first(),
            CLINICAL: ClinicalPregnancy.objects.filter(participant=participant).first(),
        }
        others = {code: _values_of(instance, code) for code, instance in current.items()}
        saved = {**(others[record] or {}), **values}
        others[record] = saved
        # The form's rules judge the values as they will stand, answers kept from before included.
        catalogue.form(record).validate(saved, today=site_today(participant.site))
        if (
            record == CLINICAL
            and not saved.get("gestational_sac_seen")
            and saved.get("number_of_sacs")
        ):
            # The database holds the same rule (sacs_counted_only_when_seen).
            raise ValidationError(
                {"number_of_sacs": _("Sacs are counted only when a gestational sac is seen.")}
            )
        window = schedule.visit(record)
        findings = run_checks(
            CheckContext(
                record=record,
                values=values,
                et_date=schedule.et_date,
                window=(window.window_start, window.window_end),
                biochemical=others[BIOCHEMICAL],
                clinical=others[CLINICAL],
            ),
            check_settings(participant.site.study),
        )
        hard = [f for f in findings if f.severity == HARD]
        if hard:
            errors: dict[str, list[str]] = {}
            for finding in hard:
                errors.setdefault(finding.field, []).append(finding.message)
            raise ValidationError(errors)
        soft = [f for f in findings if f.severity != HARD]
        if soft and not confirm_warnings:
            raise UnconfirmedWarnings(soft)
        instance, _created = record_upsert(
            model,
            participant=participant,
            values=values,
            created_values={"recorded_by": performed_by},
            reason=reason,
            performed_by=performed_by,
            existing=current[record],
        )
        _keep_findings(participant, record, soft, performed_by)
        if not VisitRecord.objects.filter(participant=participant, visit_code=record).exists():
            outside = next((f for f in soft if f.code == "assessment_outside_window"), None)
            with change_context(performed_by=performed_by, site=participant.site.code):
                VisitRecord.objects.create(
                    participant=participant,
                    visit_code=record,
                    outcome=VisitOutcome.DONE,
                    done_on=assessed_on,
                    # The window's check says why, in each reader's language; stored in
                    # English for the audit trail and the exports.
                    reason=messages.english(outside.code, outside.params) if outside else "",
                    reason_code=outside.code if outside else "",
                    reason_params=outside.params if outside else {},
                    recorded_by=performed_by,
                )
        return EndpointSaved(record=instance, warnings=soft)


def _keep_findings(
    participant: Participant, record: str, soft: list[Finding], performed_by: User
) -> None:
    """Open a finding per confirmed soft check on this form and field; resolve this form's
    findings whose check no longer fires on their field.

    A finding and its query keep the check's code and parameters, read in each reader's
    language, and their words in English (the audit trail's and the exports' record).

    Findings are keyed by form, field and check, never merged across forms: the same
    check confirmed on the biochemical and on the clinical form is two findings (and
    two queries), and saving one form leaves the other form's findings alone.
    """
    firing = {(f.code, f.field) for f in soft}
    with change_context(performed_by=performed_by, site=participant.site.code):
        stale = [
            kept.pk
            for kept in EditCheckFinding.objects.filter(
                participant=participant, record=record, resolved_at__isnull=True
            )
            if (kept.code, kept.field) not in firing
        ]
        EditCheckFinding.objects.filter(pk__in=stale).update(resolved_at=timezone.now())
        for finding in soft:
            _kept, created = EditCheckFinding.objects.get_or_create(
                participant=participant,
                record=record,
                field=finding.field,
                code=finding.code,
                resolved_at=None,
                defaults={
                    "message": messages.english(finding.code, finding.params),
                    "params": finding.params,
                    "confirmed_by": performed_by,
                },
            )
            if created:
                # A confirmed warning still goes to the monitor, as a query on the field.
                query_open(
                    participant=participant,
                    record=record,
                    field=finding.field,
                    text=messages.english(finding.code, finding.params),
                    edit_check=finding.code,
                    edit_check_params=finding.params,
                    performed_by=None,
                )
