"""The query forms of the participant's and the form's pages (every check is the
services' own), and the filters of the query list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.common import catalogue
from ecrf.common.forms import FreeTextField

from .models import QueryStatus
from .selectors import AGE_BANDS, LARGEST_ID, SORT_COLUMNS, form_label

if TYPE_CHECKING:
    from ecrf.studies.models import Site


class QueryOpenForm(forms.Form):
    """The field asked about (``record.field``), the record of a multi-record form, the
    question; the service refuses an unknown field or an empty question."""

    target = FreeTextField(required=False, strip=False)
    record_id = FreeTextField(required=False)
    text = FreeTextField(required=False, strip=False, multiline=True)


class QueryStepForm(forms.Form):
    """An answer, a closing note or why the query is re-opened."""

    text = FreeTextField(required=False, strip=False, multiline=True)


#: The age bands as the filter shows them.
AGE_LABELS: dict[str, Any] = {
    "0-7": _("0 to 7 days"),
    "8-30": _("8 to 30 days"),
    "31-": _("Over 30 days"),
}


class QueryFilterForm(forms.Form):
    """The query list's filters (GET): each one refused by name when it holds a value
    the list does not know, so a mistyped link says what was wrong."""

    site = forms.ChoiceField(label=_("Site"), required=False)
    participant = forms.IntegerField(
        label=_("Participant id"), required=False, min_value=1, max_value=LARGEST_ID
    )
    form = forms.ChoiceField(label=_("Form"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *QueryStatus.choices]
    )
    age = forms.ChoiceField(label=_("Age"), required=False)
    raised_by = FreeTextField(label=_("Raised by"), required=False, max_length=150)
    sort = forms.ChoiceField(label=_("Sort by"), required=False)
    page = forms.IntegerField(label=_("Page"), required=False, min_value=1)

    def __init__(self, *args: Any, sites: Iterable[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choices("site", [(s.code, str(s)) for s in sites])
        self._choices("form", [(f.code, form_label(f.code)) for f in catalogue.queryable_forms()])
        self._choices("age", [(band, AGE_LABELS[band]) for band in AGE_BANDS])
        sorts = [(c, c) for c in SORT_COLUMNS] + [(f"-{c}", f"-{c}") for c in SORT_COLUMNS]
        sort_field = self.fields["sort"]
        assert isinstance(sort_field, forms.ChoiceField)
        sort_field.choices = sorts
        sort_field.widget = forms.HiddenInput()
        self.fields["page"].widget = forms.HiddenInput()
        for field in self.fields.values():
            is_choice = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_choice else "form-control")

    def _choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("All")), *choices]
