"""A query's form and field by their labels in the reader's language, for templates:
``{{ query|query_target }}`` reads "Consent: Consent date", never ``consent.consent_date``."""

from __future__ import annotations

from typing import Protocol

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from ecrf.common import catalogue
from ecrf.queries.models import Query
from ecrf.queries.selectors import field_label, form_label

register = template.Library()


class OnField(Protocol):
    """Something about one field of one form: a query, an edit check's finding."""

    record: str
    field: str


@register.filter
def query_target(query: OnField) -> str:
    """The form and field a query (or a finding) is on, by their labels (from the
    catalogue)."""
    return _("%(form)s: %(field)s") % {
        "form": form_label(query.record),
        "field": field_label(query.record, query.field),
    }


@register.filter
def query_url(query: Query) -> str:
    """Where the query shows on its form's page: beside its field, or under its row."""
    page = reverse("participants:form", kwargs={"pk": query.participant_id, "code": query.record})
    try:
        multi_record = catalogue.form(query.record).multi_record
    except KeyError:
        multi_record = False
    anchor = f"row-{query.record_id}" if multi_record else f"queries-{query.field}"
    return f"{page}#{anchor}"
