"""The query forms of the participant's page: every check is the services' own."""

from __future__ import annotations

from django import forms


class QueryOpenForm(forms.Form):
    """The field asked about (``record.field``), the record of a multi-record form, the
    question; the service refuses an unknown field or an empty question."""

    target = forms.CharField(required=False, strip=False)
    record_id = forms.CharField(required=False)
    text = forms.CharField(required=False, strip=False)


class QueryStepForm(forms.Form):
    """An answer, a closing note or why the query is re-opened."""

    text = forms.CharField(required=False, strip=False)
