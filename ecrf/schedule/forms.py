from __future__ import annotations

from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecrf.audit.forms import reason_for_change_field

from .models import EmbryoStage, VisitOutcome

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _helper(form_id: str, label: Any) -> FormHelper:
    """The layout of one of the treatment page's forms; its button's id is its own, as the
    page holds five forms."""
    helper = FormHelper()
    helper.form_id = form_id
    helper.add_input(Submit("submit", label, css_id=f"{form_id}-submit"))
    return helper


class EmbryoTransferForm(forms.Form):
    et_date = forms.DateField(label=_("Embryo transfer date"), widget=DATE_WIDGET)
    performed = forms.BooleanField(label=_("Transfer performed"), required=False)
    embryos_transferred = forms.IntegerField(
        label=_("Embryos transferred"), required=False, min_value=1, max_value=5
    )
    embryo_stage = forms.ChoiceField(
        label=_("Embryo stage"), required=False, choices=[("", "—"), *EmbryoStage.choices]
    )
    embryo_grade = forms.CharField(label=_("Embryo grade"), required=False, max_length=40)
    reason = reason_for_change_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper("et-form", _("Save embryo transfer"))


class DoseForm(forms.Form):
    date = forms.ChoiceField(label=_("Dosing day"))
    taken = forms.TypedChoiceField(
        label=pgettext_lazy("dose diary", "Dose"),
        choices=[(True, _("Taken")), (False, pgettext_lazy("dose diary", "Missed"))],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )
    dose_mg = forms.DecimalField(
        label=_("Dose taken (mg)"), required=False, min_value=0, max_value=Decimal("100")
    )
    time_taken = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=500)
    deviation_reason = forms.CharField(
        label=_("Reason, if the dose differs from the arm's"), required=False, max_length=500
    )

    def __init__(self, *args: Any, days: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        date_field = self.fields["date"]
        assert isinstance(date_field, forms.ChoiceField)
        date_field.choices = [(d.isoformat(), d.isoformat()) for d in days]
        self.helper = _helper("dose-form", _("Record dose"))


class DispensingForm(forms.Form):
    dispensed_on = forms.DateField(label=_("Dispensed on"), widget=DATE_WIDGET)
    lot_number = forms.CharField(label=_("Lot number"), max_length=40)
    capsules = forms.IntegerField(label=_("Capsules dispensed"), min_value=1, max_value=10_000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper("dispensing-form", _("Record dispensing"))


class DrugReturnForm(forms.Form):
    returned_on = forms.DateField(label=_("Returned on"), widget=DATE_WIDGET)
    capsules = forms.IntegerField(label=_("Capsules returned"), min_value=0, max_value=10_000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Beside the dispensing form on one page: ids of its own, so that each label
        # leads to its own field.
        kwargs.setdefault("auto_id", "id_return_%s")
        super().__init__(*args, **kwargs)
        self.helper = _helper("return-form", _("Record return"))


class VisitRecordForm(forms.Form):
    visit_code = forms.ChoiceField(label=_("Visit"))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=VisitOutcome.choices)
    done_on = forms.DateField(label=_("Done on"), required=False, widget=DATE_WIDGET)
    reason = forms.CharField(
        label=_("Reason (out of window or missed)"), required=False, max_length=500
    )

    def __init__(self, *args: Any, visits: list[tuple[str, str]], **kwargs: Any) -> None:
        # Beside the embryo transfer form, which also asks for a reason: ids of its own.
        kwargs.setdefault("auto_id", "id_visit_%s")
        super().__init__(*args, **kwargs)
        code_field = self.fields["visit_code"]
        assert isinstance(code_field, forms.ChoiceField)
        code_field.choices = visits
        self.helper = _helper("visit-form", _("Record visit"))
