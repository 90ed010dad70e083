from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.audit.forms import reason_for_change_field

from .models import Analyte, LabVisit


class LabResultForm(forms.Form):
    visit = forms.ChoiceField(label=_("Visit"), choices=[("", "—"), *LabVisit.choices])
    analyte = forms.ChoiceField(label=_("Analyte"), choices=[("", "—"), *Analyte.choices])
    measured_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    value = forms.DecimalField(label=_("Value"), min_value=0, max_digits=8, decimal_places=2)
    reason = reason_for_change_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "lab-form"
        self.helper.add_input(Submit("submit", _("Save")))
