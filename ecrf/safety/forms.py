from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecrf.common.forms import FreeTextField

from .models import CTCAE_GRADES, ActionTaken, Outcome, SeriousnessCriterion

if TYPE_CHECKING:
    from ecrf.studies.models import Site

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AdverseEventForm(forms.Form):
    """An adverse event as the site reports it; the services check the protocol's rules."""

    term = FreeTextField(label=_("Adverse event term"), max_length=200)
    onset_date = forms.DateField(label=_("Onset date"), widget=DATE_WIDGET)
    end_date = forms.DateField(label=_("End date"), required=False, widget=DATE_WIDGET)
    ctcae_grade = forms.TypedChoiceField(
        label=_("CTCAE grade"), choices=CTCAE_GRADES, coerce=int, widget=forms.RadioSelect
    )
    # A yes/no question, not a checkbox: an unticked box would answer "not serious" unasked.
    serious = forms.TypedChoiceField(
        label=_("Serious adverse event"),
        choices=[(True, _("Yes")), (False, _("No"))],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )
    seriousness_criteria = forms.MultipleChoiceField(
        label=_("Seriousness criteria"),
        required=False,
        choices=SeriousnessCriterion.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    related = forms.TypedChoiceField(
        label=_("Related to tacrolimus"),
        choices=[(True, _("Related")), (False, _("Not related"))],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )
    action_taken = forms.ChoiceField(
        label=_("Action taken with tacrolimus"),
        required=False,
        choices=[("", "—"), *ActionTaken.choices],
    )
    outcome = forms.ChoiceField(
        label=pgettext_lazy("adverse event", "Outcome"), choices=[("", "—"), *Outcome.choices]
    )
    learned_at = forms.DateTimeField(
        label=_("Site learned of it at"),
        required=False,
        widget=DATETIME_WIDGET,
        help_text=_("Empty: now. The sponsor must have a serious event 24 hours after this."),
    )

    def __init__(self, *args: Any, submit_label: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "adverse-event-form"
        self.helper.add_input(Submit("submit", submit_label or _("Record adverse event")))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # On the page the person reporting has the criteria at hand: ask for them at once.
        # (The API accepts them later; see adverse_event_record.)
        if cleaned.get("serious") and not cleaned.get("seriousness_criteria"):
            self.add_error(
                "seriousness_criteria", _("Tick at least one criterion for a serious event.")
            )
        return cleaned


class AdverseEventEditForm(AdverseEventForm):
    reason = FreeTextField(
        label=_("Reason for change"),
        required=False,
        max_length=500,
        help_text=_("Required when a saved value changes."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, submit_label=_("Save changes"), **kwargs)


class ConfirmForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "confirm-form"
        self.helper.add_input(Submit("confirm", _("Confirm as investigator")))


class AwaitingConfirmationFilterForm(forms.Form):
    """The filter of the adverse events awaiting confirmation: a site of the user's."""

    site = forms.ChoiceField(label=_("Site"), required=False)

    def __init__(self, *args: Any, sites: Iterable[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ChoiceField)
        site_field.choices = [("", _("All your sites"))] + [(s.code, str(s)) for s in sites]
