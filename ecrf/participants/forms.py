from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.studies.models import Site

from .models import ParticipantStatus

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ScreeningForm(forms.Form):
    """The screening log entry: who was screened, where and when."""

    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), empty_label=None)
    screening_date = forms.DateField(label=_("Screening date"), widget=DATE_WIDGET)
    birth_date = forms.DateField(label=_("Date of birth"), widget=DATE_WIDGET)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites
        self.helper = FormHelper()
        self.helper.form_id = "screening-form"
        self.helper.add_input(Submit("submit", _("Register")))


class ScreeningCorrectionForm(forms.Form):
    """A correction of the screening log entry; a changed value needs a reason."""

    screening_date = forms.DateField(label=_("Screening date"), widget=DATE_WIDGET)
    birth_date = forms.DateField(label=_("Date of birth"), widget=DATE_WIDGET)
    reason = forms.CharField(
        label=_("Reason for change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when a saved value changes."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "correction-form"
        self.helper.add_input(Submit("submit", _("Save")))


class ParticipantFilterForm(forms.Form):
    site = forms.ChoiceField(label=_("Site"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All"))] + list(ParticipantStatus.choices),
    )
    q = forms.CharField(label=_("Subject ID"), required=False, max_length=16)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ChoiceField)
        site_field.choices = [("", _("All"))] + [(s.code, str(s)) for s in sites]
