from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ecrf.common.forms import FreeTextField
from ecrf.studies.models import Site

from .models import ExportFileFormat, ExportKind

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ExportRequestForm(forms.Form):
    """What to export and which part of it; the service checks the combination."""

    kind = forms.ChoiceField(label=_("What"), choices=ExportKind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=ExportFileFormat.choices)
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.none(),
        required=False,
        empty_label=_("All my sites"),
    )
    subject_id = FreeTextField(
        label=_("Subject ID"),
        required=False,
        max_length=16,
        help_text=_("Empty: every participant."),
    )
    since = forms.DateField(label=_("From"), required=False, widget=DATE_WIDGET)
    until = forms.DateField(
        label=_("To"),
        required=False,
        widget=DATE_WIDGET,
        help_text=_(
            "Inclusive. Audit trail: when a change was made; clinical data: its date. "
            "SDTM datasets: leave both dates empty."
        ),
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites.order_by("code")
        self.helper = FormHelper()
        self.helper.form_id = "export-form"
        self.helper.layout = Layout(
            Row(Column("kind", css_class="col-md-6"), Column("format", css_class="col-md-6")),
            Row(Column("site", css_class="col-md-6"), Column("subject_id", css_class="col-md-6")),
            Row(Column("since", css_class="col-md-6"), Column("until", css_class="col-md-6")),
        )
        self.helper.add_input(Submit("submit", _("Start export")))
