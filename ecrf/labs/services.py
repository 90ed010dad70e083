"""Writes of safety labs and vital signs, and of the sites' normal ranges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ecrf.accounts.policy import may_enter_data
from ecrf.audit.context import change_context
from ecrf.audit.services import record_update
from ecrf.common import catalogue
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today
from ecrf.participants.writes import participant_write
from ecrf.studies.models import Site

from .defaults import DEFAULT_RANGES
from .models import Analyte, LabResult, LabVisit, NormalRange

if TYPE_CHECKING:
    from ecrf.accounts.models import User


def normal_ranges_setup(*, site: Site, performed_by: User | None) -> int:
    """Give a site the default range of each analyte it lacks; returns how many were added."""
    added = 0
    with change_context(performed_by=performed_by, site=site.code, reason="setup_trial"):
        for analyte, (unit, low, high) in DEFAULT_RANGES.items():
            _range, created = NormalRange.objects.get_or_create(
                site=site, analyte=analyte, defaults={"unit": unit, "low": low, "high": high}
            )
            added += created
    return added


def lab_result_record(
    *,
    participant: Participant,
    visit: str,
    analyte: str,
    measured_on: dt.date,
    value: Decimal,
    reason: str = "",
    performed_by: User,
) -> LabResult:
    """Record (or correct, with a reason) one safety lab or vital sign.

    The unit and normal range are the site's, copied beside the value so a later change
    of the range does not rewrite how the value was judged.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record="safety_lab",
        reason=reason,
        allow_withdrawn=True,
    ) as participant:
        errors: dict[str, str] = {}
        if visit not in LabVisit.values:
            errors["visit"] = _("Expected one of: %(values)s.") % {
                "values": ", ".join(LabVisit.values)
            }
        if analyte not in Analyte.values:
            errors["analyte"] = _("Expected one of: %(values)s.") % {
                "values": ", ".join(Analyte.values)
            }
        errors.update(
            catalogue.form("safety_lab").errors(
                {"measured_on": measured_on, "value": value},
                today=site_today(participant.site),
                screening_date=participant.screening_date,
            )
        )
        normal = NormalRange.objects.filter(site=participant.site, analyte=analyte).first()
        if normal is None and "analyte" not in errors:
            errors["analyte"] = _("The site has no normal range for this analyte yet.")
        if errors:
            raise ValidationError(errors)
        assert normal is not None
        values = {
            "measured_on": measured_on,
            "value": value,
            "unit": normal.unit,
            "normal_low": normal.low,
            "normal_high": normal.high,
            "out_of_range": not normal.low <= value <= normal.high,
        }
        existing = LabResult.objects.filter(
            participant=participant, visit=visit, analyte=analyte
        ).first()
        if existing is None:
            return LabResult.objects.create(
                participant=participant,
                visit=visit,
                analyte=analyte,
                recorded_by=performed_by,
                **values,
            )
        record_update(
            instance=existing,
            values=values,
            reason=reason,
            performed_by=performed_by,
            site=participant.site.code,
        )
        return existing
