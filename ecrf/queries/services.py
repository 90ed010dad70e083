"""Every step of a query: open, answer, close, re-open (one service each)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.utils.translation import gettext as _

from ecrf.accounts.policy import Policy, may_answer_query, may_close_query, may_raise_query
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.writes import participant_write

from .models import MessageKind, Query, QueryMessage, QueryStatus
from .selectors import field_label, form_label

if TYPE_CHECKING:
    from ecrf.accounts.models import User

#: The longest question or answer (as the API contract's serializers take it).
MAX_TEXT_LENGTH = 2000


def _query_write(
    participant_id: int, performed_by: User | None, action: Policy
) -> AbstractContextManager[Participant]:
    """A step of a query: a discussion beside the data, so it goes on under a lock and
    after her withdrawal (:func:`participant_write`)."""
    return participant_write(
        participant_id,
        performed_by=performed_by,
        action=action,
        allow_locked=True,
        allow_withdrawn=True,
    )


def _validate_target(
    participant: Participant, record: str, field: str, record_id: int | None
) -> int | None:
    """A query is raised on an entered field of a form of the catalogue, on a saved row."""
    forms = {form.code: form for form in catalogue.queryable_forms()}
    if record not in forms:
        raise ValidationError(
            {
                "record": _("Unknown form %(record)s; expected one of %(forms)s.")
                % {"record": record, "forms": "; ".join(form_label(code) for code in forms)}
            }
        )
    form = forms[record]
    names = [entry.name for entry in form.entered_fields]
    if field not in names:
        raise ValidationError(
            {
                "field": _(
                    "%(field)s of the form %(form)s takes no queries; expected one of %(fields)s."
                )
                % {
                    "field": field_label(record, field),
                    "form": form_label(record),
                    "fields": "; ".join(field_label(record, name) for name in names),
                }
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
            {
                "record_id": _("Give the id of the row of %(form)s the query is on.")
                % {"form": form_label(record)}
            }
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


def query_open(
    *,
    participant: Participant,
    record: str,
    field: str,
    text: str,
    record_id: int | None = None,
    edit_check: str = "",
    edit_check_params: dict[str, Any] | None = None,
    performed_by: User | None,
) -> Query:
    """A monitor or data manager (or an edit check, with no user) asks about one field.

    An edit check's query keeps its finding's code (``edit_check``) and parameters
    (``edit_check_params``), so that its question is read in each reader's language;
    ``text`` is the question as stored (in English for an edit check's).
    """
    with _query_write(participant.pk, performed_by, may_raise_query) as participant:
        text = _text(text)
        if not text:
            raise ValidationError({"text": _("Write the question.")})
        target_id = _validate_target(participant, record, field, record_id)
        query = Query.objects.create(
            participant=participant,
            record=record,
            record_id=target_id,
            field=field,
            opened_by=performed_by,
            edit_check=edit_check,
            edit_check_params=edit_check_params or {},
        )
        _step(query, MessageKind.OPENED, text, performed_by)
        return query


def _locked_query(query: Query) -> Query:
    return Query.objects.select_for_update().select_related("participant__site").get(pk=query.pk)


def query_respond(*, query: Query, text: str, performed_by: User) -> Query:
    """The site answers (a correction of the value goes through the form, with its reason)."""
    with _query_write(query.participant_id, performed_by, may_answer_query):
        query = _locked_query(query)
        text = _text(text)
        if not text:
            raise ValidationError({"text": _("Write the answer.")})
        if query.status == QueryStatus.CLOSED:
            raise StateConflict(_("This query is closed; it cannot be answered."))
        query.status = QueryStatus.ANSWERED
        query.save(update_fields=["status"])
        _step(query, MessageKind.ANSWERED, text, performed_by)
        return query


def query_close(*, query: Query, text: str = "", performed_by: User) -> Query:
    """The monitor or data manager closes the query (optionally saying why)."""
    with _query_write(query.participant_id, performed_by, may_close_query):
        query = _locked_query(query)
        if query.status == QueryStatus.CLOSED:
            raise StateConflict(_("This query is already closed."))
        text = _text(text)
        query.status = QueryStatus.CLOSED
        query.save(update_fields=["status"])
        _step(query, MessageKind.CLOSED, text, performed_by)
        return query


def query_reopen(*, query: Query, text: str, performed_by: User) -> Query:
    """The monitor or data manager re-opens a query whose answer did not settle it."""
    with _query_write(query.participant_id, performed_by, may_close_query):
        query = _locked_query(query)
        if query.status == QueryStatus.OPEN:
            raise StateConflict(_("This query is already open."))
        text = _text(text)
        if not text:
            raise ValidationError({"text": _("Say why the query is re-opened.")})
        query.status = QueryStatus.OPEN
        query.save(update_fields=["status"])
        _step(query, MessageKind.REOPENED, text, performed_by)
        return query
