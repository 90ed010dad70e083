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
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django.db import connections, models, router, transaction
from django.db.models.query import get_related_populators
from django.utils.translation import gettext as _

from ecrf.accounts.policy import Policy, enforce
from ecrf.audit.context import change_context
from ecrf.audit.services import record_update
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


class _CompiledReads(threading.local):
    """The locked reads compiled by this thread, by database and ``related``."""

    def __init__(self) -> None:
        self.reads: dict[tuple[str, tuple[str, ...]], _LockedRead] = {}


class _LockedRead:
    """Her row locked (``FOR UPDATE OF`` her row alone), with her site and study and the
    ``related`` records, as the ORM reads it.

    Every write reads her this way, and the statement differs from one participant to the
    next only in her id. So the ORM compiles it once per process, thread and database,
    and each read sends that statement and builds the objects with the ORM's own
    populators. Compiled anew at every write, it took about a quarter of a
    randomization's time in the client.
    """

    _PROBE = -1
    _compiled = _CompiledReads()

    def __init__(self, alias: str, related: tuple[str, ...]) -> None:
        queryset = (
            Participant.objects.using(alias)
            .select_for_update(of=("self",))
            .select_related("site__study", *related)
            .filter(pk=self._PROBE)
            .order_by()
        )
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        if tuple(params) != (self._PROBE,):
            raise AssertionError(f"her locked read takes more than her id: {params!r}")
        self.alias = alias
        self.compiler = compiler
        fields = compiler.klass_info["select_fields"]
        self.own = slice(fields[0], fields[-1] + 1)
        self.init_list = [column[0].target.attname for column in compiler.select[self.own]]
        # Django 5.2's signature; the django-stubs installed describe 6.1's (fetch_mode).
        self.populators = get_related_populators(  # type: ignore[call-arg]
            compiler.klass_info, compiler.select, alias
        )

    @classmethod
    def of(cls, related: tuple[str, ...]) -> _LockedRead:
        alias = router.db_for_write(Participant)
        reads = cls._compiled.reads
        key = (alias, related)
        if key not in reads:
            reads[key] = cls(alias, related)
        return reads[key]

    def get(self, participant_id: int) -> Participant:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, [participant_id])
            row = cursor.fetchone()
        if row is None:
            raise Participant.DoesNotExist(f"No participant with id {participant_id}.")
        (values,) = self.compiler.results_iter([[row]])
        participant = Participant.from_db(self.alias, self.init_list, values[self.own])
        for populator in self.populators:
            populator.populate(values, participant)
        return participant


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
        participant = _LockedRead.of(related).get(participant_id)
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
