"""Every write to participant data: registration at screening and its corrections."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.permissions import ensure_can_enter_data
from ecrf.audit.context import change_context
from ecrf.audit.services import record_update
from ecrf.studies.models import Site

from .models import Participant

if TYPE_CHECKING:
    from ecrf.accounts.models import User

#: Ages at screening outside these bounds are typing errors, not candidates.
PLAUSIBLE_AGE_AT_SCREENING = (15, 60)


def site_today(site: Site) -> dt.date:
    """Today's date where the site is: the date a coordinator there would write down."""
    return timezone.localdate(timezone=_zone(site))


def _zone(site: Site) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(site.time_zone)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _validate_screening_dates(site: Site, screening_date: dt.date, birth_date: dt.date) -> None:
    errors: dict[str, str] = {}
    if screening_date > site_today(site):
        errors["screening_date"] = _("The screening date cannot be in the future.")
    if birth_date >= screening_date:
        errors["birth_date"] = _("The date of birth must be before the screening date.")
    else:
        age = age_on(birth_date, screening_date)
        low, high = PLAUSIBLE_AGE_AT_SCREENING
        if not low <= age <= high:
            errors["birth_date"] = _(
                "This date of birth makes her %(age)s at screening; expected an age "
                "from %(low)s to %(high)s."
            ) % {"age": age, "low": low, "high": high}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def participant_enroll(
    *, site: Site, screening_date: dt.date, birth_date: dt.date, performed_by: User
) -> Participant:
    """Register a screened person in the site's screening log.

    The subject id is the site code and the next number of the site's sequence,
    taken under a row lock so two coordinators never get the same one, and never
    reused, not even after a failed screen.
    """
    ensure_can_enter_data(performed_by, site)
    _validate_screening_dates(site, screening_date, birth_date)
    with change_context(performed_by=performed_by, site=site.code):
        locked_site = Site.objects.select_for_update().get(pk=site.pk)
        locked_site.last_subject_number += 1
        locked_site.save(update_fields=["last_subject_number"])
        number = locked_site.last_subject_number
        return Participant.objects.create(
            site=locked_site,
            subject_number=number,
            subject_id=f"{locked_site.code}-{number:03d}",
            screening_date=screening_date,
            birth_date=birth_date,
            registered_by=performed_by,
        )


@transaction.atomic
def participant_update_screening(
    *,
    participant: Participant,
    screening_date: dt.date,
    birth_date: dt.date,
    reason: str,
    performed_by: User,
) -> Participant:
    """Correct the screening log entry; a changed value needs a reason for change."""
    ensure_can_enter_data(performed_by, participant.site)
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    _validate_screening_dates(participant.site, screening_date, birth_date)
    record_update(
        instance=participant,
        values={"screening_date": screening_date, "birth_date": birth_date},
        reason=reason,
        performed_by=performed_by,
        site=participant.site.code,
    )
    return participant
