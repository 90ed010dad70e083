from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.audit.forms import reason_for_change_field

from .models import Result

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NULL_BOOLEAN = [("", "—"), (True, _("Yes")), (False, _("No"))]


def _optional_bool(value: Any) -> bool | None:
    return None if value in ("", None) else value in (True, "True")


def yes_no(label: Any) -> forms.TypedChoiceField:
    """A required yes/no question with neither answer chosen in advance."""
    return forms.TypedChoiceField(
        label=label,
        choices=[(True, _("Yes")), (False, _("No"))],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )


class _EndpointForm(forms.Form):
    reason = reason_for_change_field()
    confirm_warnings = forms.BooleanField(
        label=_("I have checked the warnings above and confirm these values"), required=False
    )

    def __init__(self, *args: Any, form_id: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = form_id
        self.helper.add_input(Submit("submit", _("Save")))


class BiochemicalPregnancyForm(_EndpointForm):
    assessed_on = forms.DateField(label=_("Date of assessment"), widget=DATE_WIDGET)
    # As many digits as the database column holds, whatever the edit checks' settings.
    serum_hcg_miu_ml = forms.DecimalField(
        label=_("Serum hCG (mIU/mL)"), max_digits=12, decimal_places=2
    )
    result = forms.ChoiceField(label=_("Result"), choices=Result.choices, widget=forms.RadioSelect)
    field_order = ["assessed_on", "serum_hcg_miu_ml", "result", "reason", "confirm_warnings"]


class ClinicalPregnancyForm(_EndpointForm):
    assessed_on = forms.DateField(label=_("Date of assessment"), widget=DATE_WIDGET)
    transvaginal_ultrasound = yes_no(_("Transvaginal ultrasound done"))
    gestational_sac_seen = yes_no(_("Gestational sac seen"))
    number_of_sacs = forms.IntegerField(
        label=_("Number of sacs"), required=False, min_value=0, max_value=5
    )
    fetal_heartbeat = forms.TypedChoiceField(
        label=_("Fetal heartbeat seen"),
        choices=NULL_BOOLEAN,
        coerce=_optional_bool,
        empty_value=None,
        required=False,
    )
    ectopic_pregnancy = yes_no(_("Ectopic pregnancy"))
    result = forms.ChoiceField(label=_("Result"), choices=Result.choices, widget=forms.RadioSelect)
    followup_study_consent = forms.TypedChoiceField(
        label=_("Consented to the follow-up study"),
        choices=NULL_BOOLEAN,
        coerce=_optional_bool,
        empty_value=None,
        required=False,
    )
    field_order = [
        "assessed_on",
        "transvaginal_ultrasound",
        "gestational_sac_seen",
        "number_of_sacs",
        "fetal_heartbeat",
        "ectopic_pregnancy",
        "result",
        "followup_study_consent",
        "reason",
        "confirm_warnings",
    ]
