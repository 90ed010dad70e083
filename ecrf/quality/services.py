"""Locking, signing and verifying: the writes of the data-quality cycle."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pghistory.models import Events

from ecrf.accounts.policy import enforce, may_lock, may_sign, may_verify
from ecrf.audit.context import change_context
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.writes import participant_write

from .models import Lock, LockScope, Signature, Verification

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.studies.models import Study

#: The statement an investigator signs (21 CFR 11.50(a)(3)), unless she gives her own.
DEFAULT_MEANING = gettext_lazy(
    "I have reviewed the data in this casebook and confirm that they are complete and accurate."
)


def record_codes() -> list[str]:
    """The forms and records of a participant's data, by their catalogue codes."""
    return sorted(form.code for form in catalogue.participant_data())


@transaction.atomic
def lock_set(
    *,
    study: Study,
    participant: Participant | None = None,
    record: str = "",
    reason: str = "",
    performed_by: User,
) -> Lock:
    """Lock a form, a participant or the whole study (database lock); data managers only.

    While the lock stands the database refuses every write to the data under it.
    """
    enforce(may_lock(performed_by, participant))
    if record and record not in record_codes():
        raise ValidationError(
            {
                "record": _("Unknown form; expected one of %(codes)s.")
                % {"codes": ", ".join(record_codes())}
            }
        )
    scope = (
        LockScope.FORM if record else (LockScope.PARTICIPANT if participant else LockScope.STUDY)
    )
    if Lock.objects.filter(
        scope=scope, study=study, participant=participant, record=record, unlocked_at__isnull=True
    ).exists():
        raise StateConflict(_("This is already locked."))
    with change_context(
        performed_by=performed_by,
        reason=reason,
        site=participant.site.code if participant else None,
    ):
        return Lock.objects.create(
            scope=scope,
            study=study,
            participant=participant,
            record=record,
            reason=reason,
            locked_by=performed_by,
        )


@transaction.atomic
def lock_release(*, lock: Lock, reason: str, performed_by: User) -> Lock:
    """Unlock, with the reason; data managers only."""
    enforce(may_lock(performed_by, lock.participant))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for unlocking.")})
    lock = Lock.objects.select_for_update().get(pk=lock.pk)
    if lock.unlocked_at is not None:
        raise StateConflict(_("This lock was already released."))
    with change_context(performed_by=performed_by, reason=reason):
        lock.unlocked_at = timezone.now()
        lock.unlocked_by = performed_by
        lock.unlock_reason = reason.strip()
        lock.save(update_fields=["unlocked_at", "unlocked_by", "unlock_reason"])
    return lock


def casebook_fingerprint(participant: Participant) -> tuple[str, int]:
    """SHA-256 over every audit event of her records, and how many there are.

    The events hold each version of each value, so the hash names the exact data
    version signed.
    """
    events = (
        Events.objects.references(participant)
        .exclude(pgh_obj_model__in=["quality.Signature", "quality.Verification", "quality.Lock"])
        .order_by("pgh_model", "pgh_id")
        .values_list("pgh_model", "pgh_id", "pgh_data")
    )
    digest = hashlib.sha256()
    count = 0
    for model, pgh_id, data in events:
        digest.update(
            json.dumps([model, pgh_id, data], sort_keys=True, cls=DjangoJSONEncoder).encode()
        )
        count += 1
    return digest.hexdigest(), count


def signature_sign(
    *,
    participant: Participant,
    password: str,
    meaning: str = "",
    performed_by: User,
    request: HttpRequest | None = None,
) -> Signature:
    """An investigator of her site signs the casebook by re-entering her password.

    A wrong password is refused and counts toward the account lockout (django-axes):
    the password is checked before the transaction opens, so that refusing the
    signature does not roll back the record of the failed attempt.
    """
    enforce(may_sign(performed_by, participant))
    if not password:
        raise ValidationError({"password": _("Re-enter your password to sign.")})
    checked = authenticate(request, username=performed_by.get_username(), password=password)
    if checked is None or checked.pk != performed_by.pk:
        raise ValidationError({"password": _("The password is not correct; nothing was signed.")})
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_sign,
        allow_locked=True,
        allow_withdrawn=True,
    ) as participant:
        data_hash, events = casebook_fingerprint(participant)
        return Signature.objects.create(
            participant=participant,
            signed_by=performed_by,
            printed_name=performed_by.printed_name or performed_by.get_username(),
            meaning=(meaning or str(DEFAULT_MEANING)).strip(),
            data_hash=data_hash,
            data_events=events,
        )


def verification_mark(
    *,
    participant: Participant,
    record: str,
    record_id: int | None = None,
    field: str = "",
    performed_by: User,
) -> Verification:
    """A monitor (of her site) marks a form, or one field, as verified against source."""
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_verify,
        allow_locked=True,
        allow_withdrawn=True,
    ) as participant:
        if record not in record_codes():
            raise ValidationError(
                {
                    "record": _("Unknown form; expected one of %(codes)s.")
                    % {"codes": ", ".join(record_codes())}
                }
            )
        return Verification.objects.create(
            participant=participant,
            record=record,
            record_id=record_id,
            field=field,
            verified_by=performed_by,
        )
