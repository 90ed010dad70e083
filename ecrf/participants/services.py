"""Every write to participant data: screening, eligibility, consent and status."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.models import User
from ecrf.accounts.policy import (
    enforce,
    may_enter_data,
    may_register,
    may_unblind,
    may_withdraw,
    told_of_unblinding,
)
from ecrf.audit.context import change_context
from ecrf.audit.services import record_update
from ecrf.common import catalogue, messages
from ecrf.common.exceptions import StateConflict
from ecrf.notifications.models import StaffNotificationKind
from ecrf.notifications.services import staff_notify
from ecrf.studies.models import Site, Study

from .eligibility import EligibilityAnswers, EligibilityRules, age_on, evaluate
from .models import (
    Consent,
    Eligibility,
    Participant,
    ParticipantStatus,
    Unblinding,
    Withdrawal,
    WithdrawalDecidedBy,
)
from .status import derive_status
from .writes import participant_write, record_upsert

#: The answers of the eligibility form (API contract), in protocol order.
ELIGIBILITY_ANSWER_FIELDS = catalogue.form("eligibility").required_answers


def site_zone(site: Site) -> zoneinfo.ZoneInfo:
    """The site's time zone: study dates are the site's local dates."""
    return zoneinfo.ZoneInfo(site.time_zone)


def site_today(site: Site) -> dt.date:
    """Today's date where the site is: the date a coordinator there would write down."""
    return timezone.localdate(timezone=site_zone(site))


def eligibility_rules(study: Study) -> EligibilityRules:
    """The eligibility thresholds of the study's settings."""
    return EligibilityRules(
        age_min=study.eligibility_age_min,
        age_max_exclusive=study.eligibility_age_max,
        min_prior_transfers=study.min_prior_transfers,
        min_prior_embryos=study.min_prior_embryos,
        th1_th2_min=Decimal(study.th1_th2_threshold),
    )


def _validate_screening_dates(site: Site, screening_date: dt.date, birth_date: dt.date) -> None:
    errors = catalogue.form("participant").errors(
        {"screening_date": screening_date}, today=site_today(site)
    )
    if birth_date >= screening_date:
        errors["birth_date"] = _("The date of birth must be before the screening date.")
    else:
        age = age_on(birth_date, screening_date)
        study = site.study
        low, high = study.screening_age_min, study.screening_age_max
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
    reused, not even after a failed screen. A date of birth giving an age at screening
    outside the study's plausible range is refused as a typing error.
    """
    enforce(may_register(performed_by, site))
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


def participant_update_screening(
    *,
    participant: Participant,
    screening_date: dt.date,
    birth_date: dt.date,
    reason: str,
    performed_by: User,
) -> Participant:
    """Correct the screening log entry; a changed value needs a reason for change.

    Age depends on the date of birth, so the eligibility assessment is re-run.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record="participant",
        reason=reason,
    ) as participant:
        _validate_screening_dates(participant.site, screening_date, birth_date)
        changes = record_update(
            instance=participant,
            values={"screening_date": screening_date, "birth_date": birth_date},
            reason=reason,
            performed_by=performed_by,
            site=participant.site.code,
        )
        if changes:
            _reassess(participant, performed_by=performed_by, reason=reason)
        return participant


def assessment_age(participant: Participant, consent_date: dt.date | None = None) -> int:
    """Age at consent, or at screening before consent (API contract, eligibility)."""
    if consent_date is None:
        consent = Consent.objects.filter(participant=participant).first()
        consent_date = consent.consent_date if consent else None
    return age_on(participant.birth_date, consent_date or participant.screening_date)


def eligibility_record(
    *,
    participant: Participant,
    answers: dict[str, Any],
    reason: str = "",
    performed_by: User,
) -> Eligibility:
    """Record (or correct, with a reason) the eligibility form and its result.

    Every inclusion and exclusion criterion is evaluated with the study's thresholds;
    the result and the codes of the failed criteria are stored with the answers.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record="eligibility",
        reason=reason,
    ) as participant:
        known = tuple(field.name for field in catalogue.form("eligibility").entered_fields)
        values: dict[str, Any] = {k: answers.get(k) for k in known}
        values["th1_th2_laboratory"] = values["th1_th2_laboratory"] or ""
        catalogue.form("eligibility").validate(
            values, today=site_today(participant.site), birth_date=participant.birth_date
        )
        age = assessment_age(participant)
        failures = evaluate(
            EligibilityAnswers(**{k: values[k] for k in ELIGIBILITY_ANSWER_FIELDS}),
            age,
            eligibility_rules(participant.site.study),
        )
        values.update(
            age_at_assessment=age,
            eligible=not failures,
            failed_criteria=[f.code for f in failures],
            assessed_by=performed_by,
        )
        eligibility, _created = record_upsert(
            Eligibility,
            participant=participant,
            values=values,
            reason=reason,
            performed_by=performed_by,
        )
        _refresh_status(participant, performed_by=performed_by, reason_code="eligibility_assessed")
        return eligibility


def _reassess(
    participant: Participant, *, performed_by: User, reason: str = "", reason_code: str = ""
) -> None:
    """Re-run the eligibility criteria after a change of the age behind them, for the
    reason a person gave (``reason``) or the system's (``reason_code``); her status
    follows, for that reason, only when her eligibility changed with her age (otherwise
    the caller's own step says why her status moves)."""
    eligibility = Eligibility.objects.filter(participant=participant).first()
    if eligibility is None:
        return
    age = assessment_age(participant)
    answers = EligibilityAnswers(**{k: getattr(eligibility, k) for k in ELIGIBILITY_ANSWER_FIELDS})
    failures = evaluate(answers, age, eligibility_rules(participant.site.study))
    changes = record_update(
        instance=eligibility,
        values={
            "age_at_assessment": age,
            "eligible": not failures,
            "failed_criteria": [f.code for f in failures],
        },
        reason=reason or messages.english(reason_code or "age_recomputed"),
        performed_by=performed_by,
        site=participant.site.code,
    )
    if "eligible" in changes:
        _refresh_status(
            participant, performed_by=performed_by, reason=reason, reason_code=reason_code
        )


def consent_record(
    *,
    participant: Participant,
    consent_date: dt.date,
    consent_version: str,
    reason: str = "",
    performed_by: User,
) -> Consent:
    """Record informed consent: not before screening, not in the future, a known form version.

    Age is counted at consent, so the eligibility assessment is re-run.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_enter_data,
        record="consent",
        reason=reason,
    ) as participant:
        study = participant.site.study
        errors = catalogue.form("consent").errors(
            {"consent_date": consent_date},
            today=site_today(participant.site),
            screening_date=participant.screening_date,
        )
        if consent_version not in study.consent_versions:
            errors["consent_version"] = _(
                "Unknown consent form version %(version)s; expected one of %(versions)s."
            ) % {"version": consent_version, "versions": ", ".join(study.consent_versions) or "-"}
        if errors:
            raise ValidationError(errors)
        if participant.status == ParticipantStatus.RANDOMIZED and not hasattr(
            participant, "consent"
        ):
            raise StateConflict(_("Consent must be recorded before randomization."))
        consent, _created = record_upsert(
            Consent,
            participant=participant,
            values={"consent_date": consent_date, "consent_version": consent_version},
            created_values={"recorded_by": performed_by},
            reason=reason,
            performed_by=performed_by,
        )
        _reassess(participant, performed_by=performed_by, reason_code="age_counted_at_consent")
        _refresh_status(participant, performed_by=performed_by, reason_code="consent_recorded")
        return consent


def _refresh_status(
    participant: Participant, *, performed_by: User | None, reason: str = "", reason_code: str = ""
) -> None:
    eligibility = Eligibility.objects.filter(participant=participant).first()
    status = derive_status(
        current=participant.status,
        eligible=eligibility.eligible if eligibility else None,
        consented=Consent.objects.filter(participant=participant).exists(),
        randomized=_is_allocated(participant),
    )
    participant_set_status(
        participant=participant,
        status=status,
        reason=reason,
        reason_code=reason_code,
        performed_by=performed_by,
    )


def _is_allocated(participant: Participant) -> bool:
    # Through the reverse relation of her slot: the slots belong to the layer above.
    return Participant.objects.filter(pk=participant.pk, allocation__isnull=False).exists()


def participant_set_status(
    *,
    participant: Participant,
    status: str,
    reason: str = "",
    reason_code: str = "",
    reason_params: Mapping[str, Any] | None = None,
    performed_by: User | None,
) -> None:
    """Move a participant to ``status``, recording who, when and why (inside a service).

    Why is either a person's words (``reason``, kept as typed) or the system's: a code
    of :data:`ecrf.common.messages.MESSAGES` and its parameters (see
    :func:`ecrf.common.messages.freeze`), stored as such for each reader to read in her
    language, and in English as the reason of the record and of the audit trail.
    """
    if participant.status == status:
        return
    params = messages.freeze(reason_params) if reason_code else {}
    if reason_code:
        reason = messages.english(reason_code, params)
    with (
        change_context(performed_by=performed_by, reason=reason, site=participant.site.code),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            _STATUS_CHANGE_SQL,
            {
                "participant": participant.pk,
                "from": participant.status,
                "to": status,
                "reason": reason,
                "code": reason_code,
                "params": json.dumps(params),
                "user": performed_by.pk if performed_by is not None else None,
                "now": timezone.now(),
            },
        )
    participant.status = status


#: Her status change and its record, in one statement.
_STATUS_CHANGE_SQL = """
WITH change AS (
    INSERT INTO participants_statuschange (participant_id, from_status, to_status, reason,
                                           reason_code, reason_params, changed_by_id,
                                           changed_at)
    VALUES (%(participant)s, %(from)s, %(to)s, %(reason)s, %(code)s, %(params)s::jsonb, %(user)s,
            %(now)s)
)
UPDATE participants_participant SET status = %(to)s WHERE id = %(participant)s
"""


def participant_unblind(*, participant: Participant, reason: str, performed_by: User) -> Unblinding:
    """An investigator reveals one participant's arm in a blinded study, saying why.

    The data managers are told at once, each in her language, by e-mails written to the
    outbox in the same transaction, and the unblinding stays in the audit trail. A broker
    that is down delays those e-mails; it loses neither them nor the unblinding.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_unblind,
        record="unblinding",
        reason=reason,
        allow_withdrawn=True,
        related=("allocation",),
    ) as participant:
        if not reason.strip():
            raise ValidationError({"reason": _("Give the reason for unblinding.")})
        unblinding = Unblinding.objects.create(
            participant=participant, reason=reason.strip(), unblinded_by=performed_by
        )
        staff_notify(
            kind=StaffNotificationKind.UNBLINDING,
            recipients=told_of_unblinding(),
            message=lambda: _unblinding_message(unblinding),
        )
        return unblinding


def _unblinding_message(unblinding: Unblinding) -> tuple[str, str]:
    """Subject and body of the data managers' e-mail about an unblinding, in the active
    language; the time in the site's zone."""
    participant = unblinding.participant
    values = {
        "study": participant.site.study.code,
        "subject": participant.subject_id,
        "site": participant.site.code,
        "investigator": str(unblinding.unblinded_by),
        "time": unblinding.unblinded_at.astimezone(site_zone(participant.site)).isoformat(
            timespec="minutes"
        ),
        "reason": unblinding.reason,
    }
    subject = _("[%(study)s] Unblinding of %(subject)s") % values
    body = (
        _("%(investigator)s unblinded %(subject)s (site %(site)s) at %(time)s.\nReason: %(reason)s")
        % values
    )
    return subject, body


def participant_withdraw(
    *,
    participant: Participant,
    date: dt.date,
    reason: str,
    decided_by: str = "participant",
    performed_by: User,
) -> Withdrawal:
    """Withdraw her from the study (coordinator or investigator of her site), with why.

    After it, no new study data can be entered for her.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_withdraw,
        record="withdrawal",
        reason=reason,
        allow_withdrawn=True,
    ) as participant:
        errors = catalogue.form("withdrawal").errors(
            {"reason": reason, "date": date},
            today=site_today(participant.site),
            screening_date=participant.screening_date,
        )
        if decided_by not in WithdrawalDecidedBy.values:
            errors["decided_by"] = _("Expected one of: %(values)s.") % {
                "values": ", ".join(WithdrawalDecidedBy.values)
            }
        if errors:
            raise ValidationError(errors)
        withdrawal = Withdrawal.objects.create(
            participant=participant,
            date=date,
            reason=reason.strip(),
            decided_by=decided_by,
            recorded_by=performed_by,
        )
        participant_set_status(
            participant=participant,
            status=ParticipantStatus.WITHDRAWN,
            reason=reason.strip(),
            performed_by=performed_by,
        )
        return withdrawal
