from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecrf.audit.forms import reason_for_change_field
from ecrf.common import catalogue
from ecrf.common.forms import FreeTextField

from .models import EmbryoStage, Intake, VisitOutcome

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _helper(form_id: str, label: Any) -> FormHelper:
    """The layout of one of the treatment page's forms; its button's id is its own, as the
    page holds five forms."""
    helper = FormHelper()
    helper.form_id = form_id
    helper.add_input(Submit("submit", label, css_id=f"{form_id}-submit"))
    return helper


class EmbryoTransferForm(forms.Form):
    et_date = forms.DateField(
        label=_("Embryo transfer date"),
        widget=DATE_WIDGET,
        help_text=cast(str, lazy(catalogue.EMBRYO_TRANSFER_AFTER_RANDOMIZATION.describe, str)()),
    )
    performed = forms.BooleanField(label=_("Transfer performed"), required=False)
    embryos_transferred = forms.IntegerField(
        label=_("Embryos transferred"), required=False, min_value=1, max_value=5
    )
    embryo_stage = forms.ChoiceField(
        label=_("Embryo stage"), required=False, choices=[("", "—"), *EmbryoStage.choices]
    )
    embryo_grade = FreeTextField(label=_("Embryo grade"), required=False, max_length=40)
    reason = reason_for_change_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper("et-form", _("Save embryo transfer"))


class DoseIntakeForm(forms.Form):
    """One intake of the dose diary: taken (time, dose) or missed (why). No answer is
    given in advance: she says whether it was taken."""

    taken = forms.TypedChoiceField(
        label=pgettext_lazy("dose diary", "Dose"),
        choices=[(True, _("Taken")), (False, pgettext_lazy("dose diary", "Missed"))],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )
    time_taken = forms.TimeField(
        label=_("Time taken"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    dose_mg = forms.DecimalField(
        label=_("Dose taken (mg)"),
        required=False,
        min_value=0,
        max_value=Decimal("100"),
        help_text=_("Leave empty for the arm's dose of one intake."),
    )
    missed_reason = FreeTextField(label=_("Reason missed"), required=False, max_length=500)
    comment = FreeTextField(label=_("Comment"), required=False, max_length=500)
    deviation_reason = FreeTextField(
        label=_("Reason, if the dose differs from the arm's"), required=False, max_length=500
    )

    def __init__(self, *args: Any, form_id: str = "dose-form", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(form_id, self.submit_label)

    submit_label = _("Record intake")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("taken") is False and not (data.get("missed_reason") or "").strip():
            self.add_error("missed_reason", _("Say why the dose was missed."))
        return data


class DoseForm(DoseIntakeForm):
    """An intake recorded from the diary grid, which names its day and intake."""

    date = forms.DateField(label=_("Dosing day"), widget=forms.HiddenInput)
    intake = forms.ChoiceField(label=_("Intake"), choices=Intake.choices, widget=forms.HiddenInput)


class DoseCorrectionForm(DoseIntakeForm):
    """A saved intake corrected, with the reason for the change."""

    submit_label = _("Save correction")
    reason = reason_for_change_field()


class DispensingForm(forms.Form):
    dispensed_on = forms.DateField(label=_("Dispensed on"), widget=DATE_WIDGET)
    lot_number = FreeTextField(label=_("Lot number"), max_length=40)
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
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[("", "—"), *VisitOutcome.choices])
    done_on = forms.DateField(label=_("Done on"), required=False, widget=DATE_WIDGET)
    reason = FreeTextField(
        label=_("Reason (out of window or missed)"), required=False, max_length=500
    )

    def __init__(self, *args: Any, visits: list[tuple[str, str]], **kwargs: Any) -> None:
        # Beside the embryo transfer form, which also asks for a reason: ids of its own.
        kwargs.setdefault("auto_id", "id_visit_%s")
        super().__init__(*args, **kwargs)
        code_field = self.fields["visit_code"]
        assert isinstance(code_field, forms.ChoiceField)
        code_field.choices = [("", "—"), *visits]
        self.helper = _helper("visit-form", _("Record visit"))
