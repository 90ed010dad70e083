"""Locking, signing and verifying: the writes of the data-quality cycle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
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
from ecrf.audit.checkpoints import checkpoint_request
from ecrf.audit.context import change_context
from ecrf.audit.models import CheckpointReason
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.writes import participant_write

from .models import Lock, LockScope, Signature, Verification
from .selectors import OpenItems, signature_open_items

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

    While the lock stands the database refuses every write to the data under it. Once it
    commits, the audit trail's chain is checkpointed (signed and time-stamped).
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
        lock = Lock.objects.create(
            scope=scope,
            study=study,
            participant=participant,
            record=record,
            reason=reason,
            locked_by=performed_by,
        )
    # What was locked is anchored outside the database once the lock commits.
    checkpoint_request(CheckpointReason.LOCK)
    return lock


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


def open_items_text(items: OpenItems) -> str:
    """The open items of a casebook in words, as a refused signature names them."""
    return _(
        "open queries: %(queries)d, unconfirmed adverse events: %(events)d, "
        "forms not fully verified: %(forms)d"
    ) % {
        "queries": items.open_queries,
        "events": items.unconfirmed_adverse_events,
        "forms": items.unverified_forms,
    }


def signature_sign(
    *,
    participant: Participant,
    password: str,
    meaning: str = "",
    performed_by: User,
    request: HttpRequest | None = None,
    open_items_confirmed: bool | None = None,
) -> Signature:
    """An investigator of her site signs the casebook by re-entering her password.

    A wrong password is refused and counts toward the account lockout (django-axes):
    the password is checked before the transaction opens, so that refusing the
    signature does not roll back the record of the failed attempt.

    The signature records what was open in the casebook when she signed (queries not
    closed, unconfirmed adverse events, forms not fully verified), counted under her
    row lock. A caller that asks her to confirm signing with items open passes her
    answer as ``open_items_confirmed``: while items are open, ``False`` refuses the
    signature, naming the ``sign_anyway`` confirmation. ``None`` means nothing was asked
    (the API, whose contract names no confirmation): she signs, and the counts are
    recorded all the same.
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
        items = signature_open_items(participant)
        if items.any and open_items_confirmed is False:
            raise ValidationError(
                {
                    "sign_anyway": _(
                        "Items are still open in this casebook (%(items)s); confirm that "
                        "you sign with these items open, or close them first."
                    )
                    % {"items": open_items_text(items)}
                }
            )
        data_hash, events = casebook_fingerprint(participant)
        return Signature.objects.create(
            participant=participant,
            signed_by=performed_by,
            printed_name=performed_by.printed_name or performed_by.get_username(),
            meaning=(meaning or str(DEFAULT_MEANING)).strip(),
            data_hash=data_hash,
            data_events=events,
            open_queries=items.open_queries,
            unconfirmed_adverse_events=items.unconfirmed_adverse_events,
            unverified_forms=items.unverified_forms,
        )


def verification_mark(
    *,
    participant: Participant,
    record: str,
    record_id: int | None = None,
    fields: Sequence[str] = (),
    performed_by: User,
) -> list[Verification]:
    """A monitor (of her site) marks values as verified against source: one mark per
    value, so that a later change of a value clears its own mark only.

    ``fields`` names entered fields of the form (none: all of them); ``record_id`` one of
    her rows of a multi-record form (none: every row). Values already verified keep
    their mark; the new marks are returned.
    """
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_verify,
        allow_locked=True,
        allow_withdrawn=True,
    ) as participant:
        form = _verifiable_form(record)
        names = [entry.name for entry in form.entered_fields]
        unknown = [name for name in fields if name not in names]
        if unknown:
            raise ValidationError(
                {
                    "fields": _("The form %(record)s has no field %(field)s; expected %(fields)s.")
                    % {"record": record, "field": ", ".join(unknown), "fields": ", ".join(names)}
                }
            )
        rows = list(form.records_of(participant).values_list("pk", flat=True))
        if record_id is not None:
            if record_id not in rows:
                raise ValidationError(
                    {
                        "record_id": _("Give the id of one of her %(record)s records.")
                        % {"record": record}
                    }
                )
            rows = [record_id]
        if not rows:
            raise StateConflict(_("This form has not been entered for her yet."))
        standing = set(
            Verification.objects.filter(
                participant=participant, record=record, cleared_at__isnull=True
            ).values_list("record_id", "field")
        )
        return Verification.objects.bulk_create(
            [
                Verification(
                    participant=participant,
                    record=record,
                    record_id=row,
                    field=name,
                    verified_by=performed_by,
                )
                for row in rows
                for name in (fields or names)
                if (row, name) not in standing
            ]
        )


def _verifiable_form(record: str) -> catalogue.Form:
    forms = {form.code: form for form in catalogue.queryable_forms()}
    if record not in forms:
        raise ValidationError(
            {
                "record": _("Unknown form %(record)s; expected one of %(codes)s.")
                % {"record": record, "codes": ", ".join(forms)}
            }
        )
    return forms[record]
