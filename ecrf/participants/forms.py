from __future__ import annotations

from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.audit.forms import reason_for_change_field
from ecrf.common.forms import FreeTextField
from ecrf.studies.models import Site

from .models import ParticipantStatus, WithdrawalDecidedBy

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
    reason = reason_for_change_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "correction-form"
        self.helper.add_input(Submit("submit", _("Save")))


class ParticipantFilterForm(forms.Form):
    """The screening log's filters (GET): her site, her status, and a subject id to search."""

    site = forms.ChoiceField(label=_("Site"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All"))] + list(ParticipantStatus.choices),
    )
    q = FreeTextField(label=_("Subject ID"), required=False, max_length=16)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ChoiceField)
        site_field.choices = [("", _("All"))] + [(s.code, str(s)) for s in sites]
        for field in self.fields.values():
            is_choice = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_choice else "form-control")


YES_NO = [(True, _("Yes")), (False, _("No"))]


def yes_no(label: str | Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda value: value in (True, "True", "true", "1"),
        widget=forms.RadioSelect,
    )


class EligibilityForm(forms.Form):
    """Every criterion as its own field, with the numbers behind it."""

    prior_good_quality_transfers = forms.IntegerField(
        label=_("Prior embryo transfers with good-quality embryos"), min_value=0, max_value=100
    )
    prior_embryos_transferred = forms.IntegerField(
        label=_("Good-quality embryos transferred in total"), min_value=0, max_value=200
    )
    prior_biochemical_pregnancy = yes_no(_("Biochemical pregnancy after any prior transfer"))
    other_infertility_factor = yes_no(_("Identified cause of infertility after work-up"))
    th1_th2_ratio = forms.DecimalField(
        label=_("Th1/Th2 ratio"), min_value=0, max_value=Decimal("9999.99"), decimal_places=2
    )
    th1_th2_sample_date = forms.DateField(
        label=_("Th1/Th2 sample date"), required=False, widget=DATE_WIDGET
    )
    th1_th2_laboratory = FreeTextField(label=_("Laboratory"), required=False, max_length=200)
    frozen_embryos_available = yes_no(_("Frozen embryos available for transfer"))
    able_to_attend_visits = yes_no(_("Able to attend all study visits"))
    antiphospholipid_syndrome = yes_no(_("Antiphospholipid syndrome"))
    coagulation_abnormality = yes_no(_("Coagulation abnormality"))
    thyroid_dysfunction = yes_no(_("Thyroid dysfunction"))
    other_pregnancy_loss_factor = yes_no(_("Other recurrent pregnancy loss factor"))
    tacrolimus_contraindication = yes_no(
        _("Contraindication to tacrolimus (hypersensitivity, contraindicated drugs)")
    )
    pregnant = yes_no(_("Pregnant"))
    investigator_judges_unsuitable = yes_no(
        _("The investigator judges participation inappropriate")
    )
    reason = reason_for_change_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "eligibility-form"
        self.helper.add_input(Submit("submit", _("Save eligibility")))


class ConsentForm(forms.Form):
    consent_date = forms.DateField(label=_("Consent date"), widget=DATE_WIDGET)
    consent_version = forms.ChoiceField(label=_("Consent form version"))
    reason = reason_for_change_field()

    def __init__(self, *args: Any, versions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version_field = self.fields["consent_version"]
        assert isinstance(version_field, forms.ChoiceField)
        version_field.choices = [("", "—"), *((v, v) for v in versions)]
        self.helper = FormHelper()
        self.helper.form_id = "consent-form"
        self.helper.add_input(Submit("submit", _("Save consent")))


class RandomizeForm(forms.Form):
    """The confirmation step; its one-time token makes a double click allocate once."""

    token = FreeTextField(widget=forms.HiddenInput, max_length=64)


class UnblindForm(forms.Form):
    reason = FreeTextField(
        label=_("Reason for unblinding"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class WithdrawalForm(forms.Form):
    date = forms.DateField(label=_("Date of withdrawal"), widget=DATE_WIDGET)
    decided_by = forms.ChoiceField(label=_("Decided by"), choices=[])
    reason = FreeTextField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        decided = self.fields["decided_by"]
        assert isinstance(decided, forms.ChoiceField)
        decided.choices = [("", "—"), *WithdrawalDecidedBy.choices]
        self.helper = FormHelper()
        self.helper.form_id = "withdrawal-form"
        self.helper.add_input(Submit("submit", _("Withdraw"), css_class="btn-danger"))
