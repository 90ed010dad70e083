"""Every step of a query: open, answer, close, re-open (one service each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import transaction
from django.utils.translation import gettext as _

from ecrf.accounts.roles import Role
from ecrf.accounts.selectors import user_sees_site
from ecrf.audit.context import change_context
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant

from .models import MessageKind, Query, QueryMessage, QueryStatus

if TYPE_CHECKING:
    from ecrf.accounts.models import User

RAISING_ROLES = (Role.MONITOR, Role.DATA_MANAGER)
#: The longest question or answer (as the API contract's serializers take it).
MAX_TEXT_LENGTH = 2000
ANSWERING_ROLES = (Role.COORDINATOR, Role.INVESTIGATOR)


def _ensure(user: User | None, roles: tuple[str, ...], participant: Participant) -> None:
    if user is None:
        return
    if user.role not in roles or not user_sees_site(user, participant.site):
        raise PermissionDenied(_("Your role may not do this for this participant."))


def _validate_target(
    participant: Participant, record: str, field: str, record_id: int | None
) -> int | None:
    """A query is raised on an entered field of a form of the catalogue, on a saved row."""
    forms = {form.code: form for form in catalogue.queryable_forms()}
    if record not in forms:
        raise ValidationError(
            {
                "record": _("Unknown form %(record)s; expected one of %(codes)s.")
                % {"record": record, "codes": ", ".join(forms)}
            }
        )
    form = forms[record]
    names = [entry.name for entry in form.entered_fields]
    if field not in names:
        raise ValidationError(
            {
                "field": _(
                    "The form %(record)s has no field %(field)s; expected one of %(fields)s."
                )
                % {"record": record, "field": field, "fields": ", ".join(names)}
            }
        )
    if not form.multi_record:
        instance = getattr(participant, form.participant_accessor, None)
        if instance is None:
            raise ValidationError({"record": _("This form has not been entered for her yet.")})
        return instance.pk
    related = getattr(participant, form.participant_accessor)
    if record_id is None or not related.filter(pk=record_id).exists():
        raise ValidationError(
            {"record_id": _("Give the id of one of her %(record)s records.") % {"record": record}}
        )
    return record_id


def _text(text: str) -> str:
    """The words of a step as stored: trimmed, no NUL characters, at most 2,000 characters."""
    try:
        ProhibitNullCharactersValidator()(text)
        MaxLengthValidator(MAX_TEXT_LENGTH)(text.strip())
    except ValidationError as exc:
        raise ValidationError({"text": exc.messages}) from exc
    return text.strip()


def _step(query: Query, kind: str, text: str, author: User | None) -> None:
    QueryMessage.objects.create(query=query, kind=kind, text=text, author=author)


@transaction.atomic
def query_open(
    *,
    participant: Participant,
    record: str,
    field: str,
    text: str,
    record_id: int | None = None,
    edit_check: str = "",
    performed_by: User | None,
) -> Query:
    """A monitor or data manager (or an edit check, with no user) asks about one field."""
    _ensure(performed_by, RAISING_ROLES, participant)
    text = _text(text)
    if not text:
        raise ValidationError({"text": _("Write the question.")})
    target_id = _validate_target(participant, record, field, record_id)
    with change_context(performed_by=performed_by, site=participant.site.code):
        query = Query.objects.create(
            participant=participant,
            record=record,
            record_id=target_id,
            field=field,
            opened_by=performed_by,
            edit_check=edit_check,
        )
        _step(query, MessageKind.OPENED, text, performed_by)
    return query


def _locked_query(query: Query) -> Query:
    return Query.objects.select_for_update().select_related("participant__site").get(pk=query.pk)


@transaction.atomic
def query_respond(*, query: Query, text: str, performed_by: User) -> Query:
    """The site answers (a correction of the value goes through the form, with its reason)."""
    query = _locked_query(query)
    _ensure(performed_by, ANSWERING_ROLES, query.participant)
    text = _text(text)
    if not text:
        raise ValidationError({"text": _("Write the answer.")})
    if query.status == QueryStatus.CLOSED:
        raise StateConflict(_("This query is closed; it cannot be answered."))
    with change_context(performed_by=performed_by, site=query.participant.site.code):
        query.status = QueryStatus.ANSWERED
        query.save(update_fields=["status"])
        _step(query, MessageKind.ANSWERED, text, performed_by)
    return query


@transaction.atomic
def query_close(*, query: Query, text: str = "", performed_by: User) -> Query:
    """The monitor or data manager closes the query (optionally saying why)."""
    query = _locked_query(query)
    _ensure(performed_by, RAISING_ROLES, query.participant)
    if query.status == QueryStatus.CLOSED:
        raise StateConflict(_("This query is already closed."))
    text = _text(text)
    with change_context(performed_by=performed_by, site=query.participant.site.code):
        query.status = QueryStatus.CLOSED
        query.save(update_fields=["status"])
        _step(query, MessageKind.CLOSED, text, performed_by)
    return query


@transaction.atomic
def query_reopen(*, query: Query, text: str, performed_by: User) -> Query:
    """The monitor or data manager re-opens a query whose answer did not settle it."""
    query = _locked_query(query)
    _ensure(performed_by, RAISING_ROLES, query.participant)
    if query.status == QueryStatus.OPEN:
        raise StateConflict(_("This query is already open."))
    text = _text(text)
    if not text:
        raise ValidationError({"text": _("Say why the query is re-opened.")})
    with change_context(performed_by=performed_by, site=query.participant.site.code):
        query.status = QueryStatus.OPEN
        query.save(update_fields=["status"])
        _step(query, MessageKind.REOPENED, text, performed_by)
    return query
