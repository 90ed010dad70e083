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
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today, site_zone
from ecrf.participants.writes import participant_write, record_upsert

from .arithmetic import Schedule, compute_schedule
from .definitions import regimen, schedule_definition
from .models import (
    Dispensing,
    DoseEntry,
    DrugReturn,
    EmbryoStage,
    EmbryoTransfer,
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
    randomized participant who has not withdrawn, nothing under a lock."""
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record=record,
        reason=reason,
        related=("allocation__arm",),
    ) as locked:
        slot = getattr(locked, "allocation", None)
        if slot is None:
            raise StateConflict(
                _("%(subject)s is not randomized yet; the treatment schedule starts after it.")
                % {"subject": locked.subject_id}
            )
        yield locked, slot


def randomization_date(participant: Participant, slot: Slot) -> dt.date:
    """The site's local date of randomization."""
    assert slot.allocated_at is not None
    return slot.allocated_at.astimezone(site_zone(participant.site)).date()


def participant_schedule(participant: Participant) -> Schedule | None:
    """Her schedule from the current ET date; ``None`` before the ET date is set."""
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

    Moving the date needs a reason and recomputes the dosing window and the visits;
    doses already recorded keep their dates (they are what happened).
    """
    with treatment_write(participant, performed_by, "embryo_transfer", reason) as (
        participant,
        slot,
    ):
        study = participant.site.study
        errors: dict[str, str] = {}
        randomized_on = randomization_date(participant, slot)
        latest = randomized_on + dt.timedelta(days=study.max_days_randomization_to_et)
        if et_date < randomized_on:
            errors["et_date"] = _(
                "The embryo transfer cannot be before randomization (%(date)s)."
            ) % {"date": randomized_on.isoformat()}
        elif et_date > latest:
            errors["et_date"] = _(
                "The embryo transfer must be within %(days)s days of randomization (by %(date)s)."
            ) % {"days": study.max_days_randomization_to_et, "date": latest.isoformat()}
        elif performed and et_date > site_today(participant.site):
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


def dose_record(
    *,
    participant: Participant,
    date: dt.date,
    taken: bool,
    dose_mg: Decimal | None = None,
    capsules: int | None = None,
    time_taken: dt.time | None = None,
    comment: str = "",
    deviation_reason: str = "",
    performed_by: User,
) -> DoseEntry:
    """Record one day of the dose diary.

    Refused: a day outside the dosing window, a day in the future, a second entry for
    one day. A dose other than the arm's is refused unless it comes with the reason
    for the deviation, and is then flagged as a protocol deviation.
    """
    with treatment_write(participant, performed_by, "dose") as (participant, slot):
        schedule = participant_schedule(participant)
        if schedule is None:
            raise StateConflict(
                _("Set the embryo transfer date first: the dosing days follow from it.")
            )
        arm_regimen = regimen(slot.arm)
        errors: dict[str, str] = {}
        if not schedule.in_dosing_window(date):
            errors["date"] = _("%(date)s is outside the dosing window (%(start)s to %(end)s).") % {
                "date": date.isoformat(),
                "start": schedule.dosing_start.isoformat(),
                "end": schedule.dosing_end.isoformat(),
            }
        elif date > site_today(participant.site):
            errors["date"] = _("A dose cannot be recorded for a day in the future.")
        elif DoseEntry.objects.filter(participant=participant, date=date).exists():
            errors["date"] = _(
                "The diary already has an entry for %(date)s; correct that entry instead."
            ) % {"date": date.isoformat()}
        if dose_mg is None:
            dose_mg = arm_regimen.daily_dose_mg if taken else Decimal(0)
        deviation = False
        if not taken:
            if dose_mg != 0:
                errors["dose_mg"] = _("A missed day has a dose of 0 mg.")
        elif dose_mg <= 0:
            errors["dose_mg"] = _("A dose taken is more than 0 mg; record a missed day instead.")
        elif dose_mg % arm_regimen.capsule_mg:
            errors["dose_mg"] = _(
                "%(dose)s mg is not a whole number of %(capsule)s mg capsules."
            ) % {
                "dose": dose_mg,
                "capsule": arm_regimen.capsule_mg,
            }
        elif dose_mg != arm_regimen.daily_dose_mg:
            if not deviation_reason.strip():
                errors["dose_mg"] = _(
                    "The arm's dose is %(expected)s mg a day; another dose is a protocol "
                    "deviation and needs its reason."
                ) % {"expected": arm_regimen.daily_dose_mg.normalize()}
            deviation = True
        expected_capsules = int(dose_mg / arm_regimen.capsule_mg) if "dose_mg" not in errors else 0
        if capsules is not None and "dose_mg" not in errors and capsules != expected_capsules:
            errors["capsules"] = _("%(dose)s mg is %(n)s capsules of %(capsule)s mg.") % {
                "dose": dose_mg.normalize(),
                "n": expected_capsules,
                "capsule": arm_regimen.capsule_mg.normalize(),
            }
        if errors:
            raise ValidationError(errors)
        return DoseEntry.objects.create(
            participant=participant,
            date=date,
            taken=taken,
            dose_mg=dose_mg,
            capsules=expected_capsules,
            time_taken=time_taken,
            comment=comment,
            deviation=deviation,
            deviation_reason=deviation_reason.strip() if deviation else "",
            recorded_by=performed_by,
        )


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
