"""Every write of the treatment period: ET date, dose diary, drug accountability, visits."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ecrf.accounts.policy import may_enter_data
from ecrf.audit.services import record_update
from ecrf.common import catalogue
from ecrf.common.compiled import CompiledRead
from ecrf.common.exceptions import StateConflict
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today, site_zone
from ecrf.participants.writes import participant_write, record_upsert

from .arithmetic import Schedule, compute_schedule
from .completion import participant_complete_if_done
from .definitions import regimen, schedule_definition
from .models import (
    Dispensing,
    DoseEntry,
    DrugReturn,
    EmbryoStage,
    EmbryoTransfer,
    Intake,
    VisitOutcome,
    VisitRecord,
)

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from randomization.models import Slot


@contextlib.contextmanager
def treatment_write(
    participant: Participant, performed_by: User, record: str, reason: str = ""
) -> Iterator[tuple[Participant, Slot]]:
    """A treatment-period write (:func:`participant_write`): coordinators of her site, a
    randomized participant who has not withdrawn, nothing under a lock. Once the write
    is done she has completed if nothing of completion is left open
    (:func:`~ecrf.schedule.completion.participant_complete_if_done`)."""
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record=record,
        reason=reason,
        related=("allocation__arm", "embryo_transfer"),
    ) as locked:
        slot = getattr(locked, "allocation", None)
        if slot is None:
            raise StateConflict(
                _("%(subject)s is not randomized yet; the treatment schedule starts after it.")
                % {"subject": locked.subject_id}
            )
        yield locked, slot
        participant_complete_if_done(locked, performed_by)


def randomization_date(participant: Participant, slot: Slot) -> dt.date:
    """The site's local date of randomization."""
    assert slot.allocated_at is not None
    return slot.allocated_at.astimezone(site_zone(participant.site)).date()


def et_date_anchors(participant: Participant, slot: Slot) -> dict[str, Any]:
    """What her embryo transfer date is judged against: her randomization date and the
    study's earliest and latest days from it (the catalogue's rule on ``et_date``)."""
    study = participant.site.study
    return {
        "randomization_date": randomization_date(participant, slot),
        "min_days_randomization_to_et": study.min_days_randomization_to_et,
        "max_days_randomization_to_et": study.max_days_randomization_to_et,
    }


def participant_schedule(participant: Participant) -> Schedule | None:
    """Her schedule from the current ET date; ``None`` before the ET date is set. Her
    transfer is the one read with her where it was (``select_related``), else read now."""
    if Participant.embryo_transfer.is_cached(participant):  # type: ignore[attr-defined]
        transfer = getattr(participant, "embryo_transfer", None)
    else:
        transfer = EmbryoTransfer.objects.filter(participant=participant).first()
    if transfer is None:
        return None
    return compute_schedule(transfer.et_date, schedule_definition(participant.site.study))


def embryo_transfer_set(
    *,
    participant: Participant,
    et_date: dt.date,
    performed: bool,
    embryos_transferred: int | None = None,
    embryo_stage: str = "",
    embryo_grade: str = "",
    reason: str = "",
    performed_by: User,
) -> tuple[EmbryoTransfer, Schedule]:
    """Set the planned ET date, then record the transfer as performed.

    The date lies from the study's earliest to its latest day after randomization (the
    catalogue's rule on ``et_date``): dosing starts two days before the transfer and
    cannot come before allocation. Moving the date needs a reason and recomputes the
    dosing window and the visits; doses already recorded keep their dates (they are what
    happened).
    """
    with treatment_write(participant, performed_by, "embryo_transfer", reason) as (
        participant,
        slot,
    ):
        study = participant.site.study
        errors = catalogue.form("embryo_transfer").errors(
            {"et_date": et_date}, **et_date_anchors(participant, slot)
        )
        if not errors and performed and et_date > site_today(participant.site):
            errors["performed"] = _(
                "A transfer dated in the future cannot be recorded as performed."
            )
        if not performed and embryos_transferred is not None:
            errors["embryos_transferred"] = _("Embryos are counted once the transfer is performed.")
        if embryos_transferred is not None and not 1 <= embryos_transferred <= 5:
            errors["embryos_transferred"] = _("Expected 1 to 5 embryos.")
        if embryo_stage and embryo_stage not in EmbryoStage.values:
            errors["embryo_stage"] = _("Expected one of: %(stages)s.") % {
                "stages": ", ".join(EmbryoStage.values)
            }
        if errors:
            raise ValidationError(errors)
        values: dict[str, Any] = {
            "et_date": et_date,
            "performed": performed,
            "embryos_transferred": embryos_transferred,
            "embryo_stage": embryo_stage,
            "embryo_grade": embryo_grade,
        }
        transfer, _created = record_upsert(
            EmbryoTransfer,
            participant=participant,
            values=values,
            created_values={"recorded_by": performed_by},
            reason=reason,
            performed_by=performed_by,
        )
        return transfer, compute_schedule(transfer.et_date, schedule_definition(study))


def _dose_values(
    participant: Participant,
    slot: Slot,
    *,
    date: dt.date,
    taken: bool,
    dose_mg: Decimal | None,
    capsules: int | None,
    intakes: int,
    deviation_reason: str,
    time_taken: dt.time | None,
    missed_reason: str,
    comment: str,
    performed_by: User,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The checked values of ``intakes`` intakes of one day (one intake, or the whole
    day), as an entry stores them, and the errors by field.

    Refused: a day outside the dosing window or in the future; a taken dose of 0 mg, a
    missed one above 0 mg; a dose that is not whole capsules; a dose other than the arm's
    without the reason for the deviation (it is then flagged as a protocol deviation);
    capsules that do not match the dose; a time for a missed intake, a reason for missing
    a taken one.
    """
    schedule = participant_schedule(participant)
    if schedule is None:
        raise StateConflict(
            _("Set the embryo transfer date first: the dosing days follow from it.")
        )
    arm_regimen = regimen(slot.arm)
    planned_mg = arm_regimen.dose_per_intake_mg * intakes
    errors = _intake_errors(taken, time_taken, missed_reason)
    if not schedule.in_dosing_window(date):
        errors["date"] = _("%(date)s is outside the dosing window (%(start)s to %(end)s).") % {
            "date": date.isoformat(),
            "start": schedule.dosing_start.isoformat(),
            "end": schedule.dosing_end.isoformat(),
        }
    elif date > site_today(participant.site):
        errors["date"] = _("A dose cannot be recorded for a day in the future.")
    if dose_mg is None:
        dose_mg = planned_mg if taken else Decimal(0)
    deviation = False
    if not taken:
        if dose_mg != 0:
            errors["dose_mg"] = _("A missed dose is 0 mg.")
    elif dose_mg <= 0:
        errors["dose_mg"] = _("A dose taken is more than 0 mg; record a missed dose instead.")
    elif dose_mg % arm_regimen.capsule_mg:
        errors["dose_mg"] = _("%(dose)s mg is not a whole number of %(capsule)s mg capsules.") % {
            "dose": dose_mg.normalize(),
            "capsule": arm_regimen.capsule_mg.normalize(),
        }
    elif dose_mg != planned_mg:
        if not deviation_reason.strip() and not arm_visible_to(performed_by, participant):
            # A blinded reader is not told the arm's dose, only that this one differs.
            errors["dose_mg"] = _(
                "This dose differs from the arm's; another dose is a protocol deviation and "
                "needs its reason."
            )
        elif not deviation_reason.strip():
            errors["dose_mg"] = (
                _(
                    "The arm's dose is %(expected)s mg an intake; another dose is a protocol "
                    "deviation and needs its reason."
                )
                if intakes == 1
                else _(
                    "The arm's dose is %(expected)s mg a day; another dose is a protocol "
                    "deviation and needs its reason."
                )
            ) % {"expected": planned_mg.normalize()}
        deviation = True
    expected_capsules = int(dose_mg / arm_regimen.capsule_mg) if "dose_mg" not in errors else 0
    if capsules is not None and "dose_mg" not in errors and capsules != expected_capsules:
        errors["capsules"] = _("%(dose)s mg is %(n)s capsules of %(capsule)s mg.") % {
            "dose": dose_mg.normalize(),
            "n": expected_capsules,
            "capsule": arm_regimen.capsule_mg.normalize(),
        }
    values = {
        "taken": taken,
        "dose_mg": dose_mg,
        "capsules": expected_capsules,
        "time_taken": time_taken,
        "missed_reason": missed_reason.strip(),
        "comment": comment.strip(),
        "deviation": deviation,
        "deviation_reason": deviation_reason.strip() if deviation else "",
    }
    return values, errors


def _intake_errors(taken: bool, time_taken: dt.time | None, missed_reason: str) -> dict[str, str]:
    """A missed intake has no time; a taken one has no reason for missing it."""
    errors: dict[str, str] = {}
    if not taken and time_taken is not None:
        errors["time_taken"] = _("A missed dose has no time taken; clear the time.")
    if taken and missed_reason.strip():
        errors["missed_reason"] = _("A dose taken has no reason for missing it; clear it.")
    return errors


#: Whether an intake of a day is in her diary already: asked at every dose entry.
_RECORDED_INTAKE: CompiledRead[DoseEntry] = CompiledRead(
    lambda participant_id, date, intake: DoseEntry.objects.filter(
        participant_id=participant_id, date=date, intake=intake
    ).values_list("pk")[:1],
    -1,
    dt.date(1900, 1, 1),
    "\x00intake",
)


def dose_record(
    *,
    participant: Participant,
    date: dt.date,
    intake: str,
    taken: bool,
    dose_mg: Decimal | None = None,
    capsules: int | None = None,
    time_taken: dt.time | None = None,
    missed_reason: str = "",
    comment: str = "",
    deviation_reason: str = "",
    performed_by: User,
) -> DoseEntry:
    """Record one intake of the dose diary (morning or evening): taken, with its time and
    dose (the arm's dose for one intake unless given), or missed, with the reason.

    Refused, besides the dose rules of :func:`_dose_values`: an unknown intake, and an
    intake already recorded (it is corrected instead, with a reason: :func:`dose_correct`).
    """
    with treatment_write(participant, performed_by, "dose") as (participant, slot):
        values, errors = _dose_values(
            participant,
            slot,
            date=date,
            taken=taken,
            dose_mg=dose_mg,
            capsules=capsules,
            intakes=1,
            deviation_reason=deviation_reason,
            time_taken=time_taken,
            missed_reason=missed_reason,
            comment=comment,
            performed_by=performed_by,
        )
        if intake not in Intake.values:
            errors["intake"] = _("Expected one of: %(codes)s.") % {
                "codes": ", ".join(Intake.values)
            }
        elif "date" not in errors and _RECORDED_INTAKE.rows(participant.pk, date, intake):
            errors["intake"] = _(
                "The diary already has the %(intake)s intake of %(date)s; correct that entry "
                "instead."
            ) % {"intake": Intake(intake).label.lower(), "date": date.isoformat()}
        if errors:
            raise ValidationError(errors)
        return DoseEntry.objects.create(
            participant=participant, date=date, intake=intake, recorded_by=performed_by, **values
        )


def dose_day_record(
    *,
    participant: Participant,
    date: dt.date,
    taken: bool,
    dose_mg: Decimal | None = None,
    capsules: int | None = None,
    time_taken: dt.time | None = None,
    missed_reason: str = "",
    comment: str = "",
    deviation_reason: str = "",
    performed_by: User,
) -> list[DoseEntry]:
    """Record a whole dosing day at once, as the API's one entry per date: each of the
    arm's intakes with an equal share of the day's dose (taken), or all missed.

    Refused, besides the dose rules of :func:`_dose_values`: a day with an intake already
    recorded, and a day's dose that does not split into equal intakes of whole capsules
    (each intake is then recorded on its own).
    """
    with treatment_write(participant, performed_by, "dose") as (participant, slot):
        arm_regimen = regimen(slot.arm)
        intakes = list(Intake.values)[: arm_regimen.intakes_per_day]
        values, errors = _dose_values(
            participant,
            slot,
            date=date,
            taken=taken,
            dose_mg=dose_mg,
            capsules=capsules,
            intakes=len(intakes),
            deviation_reason=deviation_reason,
            time_taken=time_taken,
            missed_reason=missed_reason,
            comment=comment,
            performed_by=performed_by,
        )
        if "dose_mg" not in errors and values["capsules"] % len(intakes):
            errors["dose_mg"] = _(
                "%(dose)s mg a day does not split into %(n)s equal intakes of whole capsules; "
                "record each intake on its own."
            ) % {"dose": values["dose_mg"].normalize(), "n": len(intakes)}
        if (
            "date" not in errors
            and DoseEntry.objects.filter(participant=participant, date=date).exists()
        ):
            errors["date"] = _(
                "The diary already has an entry for %(date)s; correct that entry instead."
            ) % {"date": date.isoformat()}
        if errors:
            raise ValidationError(errors)
        share = {
            **values,
            "dose_mg": values["dose_mg"] / len(intakes),
            "capsules": values["capsules"] // len(intakes),
        }
        # The day's time of intake, if given, is the first intake's.
        return [
            DoseEntry.objects.create(
                participant=participant,
                date=date,
                intake=intake,
                recorded_by=performed_by,
                **{**share, "time_taken": time_taken if index == 0 else None},
            )
            for index, intake in enumerate(intakes)
        ]


def dose_correct(
    *,
    entry: DoseEntry,
    taken: bool,
    dose_mg: Decimal | None = None,
    capsules: int | None = None,
    time_taken: dt.time | None = None,
    missed_reason: str = "",
    comment: str = "",
    deviation_reason: str = "",
    reason: str,
    performed_by: User,
) -> DoseEntry:
    """Correct a saved intake of the dose diary, with the reason for the change (audited:
    who, when, the old and the new value, why). The same dose rules as when recorded."""
    with treatment_write(entry.participant, performed_by, "dose", reason) as (participant, slot):
        entry = DoseEntry.objects.select_for_update().get(pk=entry.pk, participant=participant)
        values, errors = _dose_values(
            participant,
            slot,
            date=entry.date,
            taken=taken,
            dose_mg=dose_mg,
            capsules=capsules,
            intakes=1,
            deviation_reason=deviation_reason,
            time_taken=time_taken,
            missed_reason=missed_reason,
            comment=comment,
            performed_by=performed_by,
        )
        if errors:
            raise ValidationError(errors)
        record_update(
            instance=entry,
            values=values,
            reason=reason,
            performed_by=performed_by,
            site=participant.site.code,
        )
        return entry


def dispensing_record(
    *,
    participant: Participant,
    dispensed_on: dt.date,
    lot_number: str,
    capsules: int,
    performed_by: User,
) -> Dispensing:
    """Capsules dispensed to her, with the lot number (drug accountability)."""
    with treatment_write(participant, performed_by, "dispensing") as (participant, _slot):
        catalogue.form("dispensing").validate(
            {"dispensed_on": dispensed_on, "lot_number": lot_number, "capsules": capsules},
            today=site_today(participant.site),
        )
        return Dispensing.objects.create(
            participant=participant,
            dispensed_on=dispensed_on,
            lot_number=lot_number.strip(),
            capsules=capsules,
            recorded_by=performed_by,
        )


def drug_return_record(
    *, participant: Participant, returned_on: dt.date, capsules: int, performed_by: User
) -> DrugReturn:
    """Capsules she brought back unused (drug accountability)."""
    with treatment_write(participant, performed_by, "drug_return") as (participant, _slot):
        catalogue.form("drug_return").validate(
            {"returned_on": returned_on, "capsules": capsules}, today=site_today(participant.site)
        )
        return DrugReturn.objects.create(
            participant=participant,
            returned_on=returned_on,
            capsules=capsules,
            recorded_by=performed_by,
        )


def visit_record(
    *,
    participant: Participant,
    visit_code: str,
    outcome: str,
    done_on: dt.date | None = None,
    reason: str = "",
    performed_by: User,
) -> VisitRecord:
    """A visit done (outside its window only with a reason: a deviation) or missed (with why)."""
    with treatment_write(participant, performed_by, "visit", reason) as (participant, _slot):
        schedule = participant_schedule(participant)
        if schedule is None:
            raise StateConflict(_("Set the embryo transfer date first: the visits follow from it."))
        codes = [v.code for v in schedule.visits]
        if visit_code not in codes:
            raise ValidationError(
                {
                    "visit_code": _("Unknown visit; expected one of %(codes)s.")
                    % {"codes": ", ".join(codes)}
                }
            )
        window = schedule.visit(visit_code)
        errors: dict[str, str] = {}
        if outcome == VisitOutcome.DONE:
            if done_on is None:
                errors["done_on"] = _("The date of the visit is required.")
            else:
                errors = catalogue.form("visit").errors(
                    {"done_on": done_on}, today=site_today(participant.site)
                )
            if (
                done_on is not None
                and not errors
                and not window.contains(done_on)
                and not reason.strip()
            ):
                errors["reason"] = _(
                    "%(date)s is outside the window (%(start)s to %(end)s): give the reason "
                    "for this deviation."
                ) % {
                    "date": done_on.isoformat(),
                    "start": window.window_start.isoformat(),
                    "end": window.window_end.isoformat(),
                }
        elif outcome == VisitOutcome.MISSED:
            done_on = None
            if not reason.strip():
                errors["reason"] = _("Say why the visit was missed.")
        else:
            errors["outcome"] = _("Expected one of: %(choices)s.") % {
                "choices": ", ".join(str(label) for label in VisitOutcome.labels)
            }
        if errors:
            raise ValidationError(errors)
        if VisitRecord.objects.filter(participant=participant, visit_code=visit_code).exists():
            raise StateConflict(_("This visit is already recorded."))
        return VisitRecord.objects.create(
            participant=participant,
            visit_code=visit_code,
            outcome=outcome,
            done_on=done_on,
            reason=reason.strip(),
            recorded_by=performed_by,
        )
