"""The one way into a write on a participant's data.

Every service that writes her data enters through :func:`participant_write`: one
transaction, her row locked, then the checks every write needs in the same order
(who may do it, the data manager's locks, her withdrawal) and the audit context opened
once. The database guard still refuses a write to locked data whatever path it takes;
the early check here only lets the service say so before it answers about a field.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django.db import models, transaction
from django.utils.translation import gettext as _

from ecrf.accounts.policy import Policy, enforce
from ecrf.audit.context import change_context
from ecrf.audit.services import record_update
from ecrf.common.compiled import CompiledRead
from ecrf.common.exceptions import StateConflict
from ecrf.common.locks import ensure_unlocked, expect_lock_questions

from .models import Participant, ParticipantStatus

if TYPE_CHECKING:
    from ecrf.accounts.models import User

M = TypeVar("M", bound=models.Model)


def ensure_open(participant: Participant) -> None:
    """Refuse (409) new data for a participant who has withdrawn."""
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise StateConflict(
            _("%(subject)s has withdrawn; no new data can be entered.")
            % {"subject": participant.subject_id}
        )


@functools.cache
def _locked_read(related: tuple[str, ...]) -> CompiledRead[Participant]:
    """Her row locked (``FOR UPDATE OF`` her row alone), with her site and study and the
    ``related`` records: a statement that differs from one participant to the next only
    in her id, so compiled once (:class:`~ecrf.common.compiled.CompiledRead`). Compiled
    anew at every write, it took about a quarter of a randomization's time in the client.
    """
    return CompiledRead(
        lambda pk: (
            Participant.objects.select_for_update(of=("self",))
            .select_related("site__study", *related)
            .filter(pk=pk)
            .order_by()
        ),
        -1,
        for_write=True,
    )


@contextlib.contextmanager
def participant_write(
    participant_id: int,
    *,
    performed_by: User | None,
    action: Policy,
    record: str = "",
    reason: str = "",
    allow_withdrawn: bool = False,
    allow_locked: bool = False,
    related: tuple[str, ...] = (),
    durable: bool = False,
) -> Iterator[Participant]:
    """Open a write on her data: ``with participant_write(pk, ...) as participant:``.

    In one transaction (``durable`` for a service that must commit on its own): her row
    is locked (``select_for_update``) so concurrent writes to her data queue; ``action``,
    a policy of :mod:`ecrf.accounts.policy`, decides whether the user may do this to
    her (403, or 409 for a refusal due to her state); a standing study, participant or
    ``record`` form lock refuses with 409; so does her withdrawal, unless the write is
    one that continues after it (``allow_withdrawn``: safety follow-up, the withdrawal
    itself). Writes beside her data rather than to it (queries, verification, the
    signature, the locks themselves) go on under a lock (``allow_locked``). A write of
    the system itself (an edit check's query) has no user and no policy to ask. The
    audit context names the user, her role, the site and ``reason``.
    """
    with transaction.atomic(durable=durable):
        participant = _locked_read(related).get(participant_id)
        expect_lock_questions(participant, record)
        if performed_by is not None:
            enforce(action(performed_by, participant))
        if not allow_locked:
            ensure_unlocked(participant, record)
        if not allow_withdrawn:
            ensure_open(participant)
        with change_context(performed_by=performed_by, reason=reason, site=participant.site.code):
            yield participant


class Unread(enum.Enum):
    """Her record not read yet (:func:`record_upsert` reads it)."""

    UNREAD = enum.auto()


def record_upsert(
    model: type[M],
    *,
    participant: Participant,
    values: dict[str, Any],
    reason: str,
    performed_by: User | None,
    created_values: dict[str, Any] | None = None,
    existing: M | None | Literal[Unread.UNREAD] = Unread.UNREAD,
) -> tuple[M, bool]:
    """Create her single record of ``model``, or update it with a reason for change.

    The first entry needs no reason; a later change of a saved value does (the audit
    rule of :func:`ecrf.audit.services.record_update`). ``created_values`` are set only
    when the record is created (who first recorded it, say). ``existing`` is her record
    when the service has read it already under her lock (``None``: she has none). Answers
    the record and whether it was created.
    """
    if existing is Unread.UNREAD:
        existing = model._default_manager.filter(participant=participant).first()
    if existing is None:
        with change_context(performed_by=performed_by, site=participant.site.code):
            created = model._default_manager.create(
                participant=participant, **values, **(created_values or {})
            )
        return created, True
    record_update(
        instance=existing,
        values=values,
        reason=reason,
        performed_by=performed_by,
        site=participant.site.code,
    )
    return existing, False
