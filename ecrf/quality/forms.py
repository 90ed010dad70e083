from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.common.forms import FreeTextField

from .selectors import WORKLIST_AWAITING, WORKLIST_SORTS
from .services import DEFAULT_MEANING

if TYPE_CHECKING:
    from ecrf.studies.models import Site


class SignForm(forms.Form):
    """Signing on the web: the meaning, her password, and, shown while items are open in
    the casebook, her confirmation that she signs with them open (the service refuses
    the signature without it)."""

    meaning = FreeTextField(
        label=_("Meaning of the signature"), max_length=500, initial=DEFAULT_MEANING
    )
    password = forms.CharField(
        label=_("Your password"), widget=forms.PasswordInput, max_length=200, strip=False
    )
    sign_anyway = forms.BooleanField(
        label=_("I sign with these items open"),
        required=False,
        widget=forms.CheckboxInput(attrs={"id": "sign-anyway", "required": True}),
    )


class VerifyForm(forms.Form):
    """Values to mark as verified: a form, and within it one row or one field (or all)."""

    record = FreeTextField(label=_("Form"), max_length=40)
    record_id = forms.IntegerField(label=_("Record"), required=False, min_value=1)
    field = FreeTextField(label=_("Field"), max_length=60, required=False)


class LockForm(forms.Form):
    """Locking on the web says why: a blank reason is refused (the API's lock does not
    ask for one; its contract names none)."""

    reason = FreeTextField(
        multiline=True,
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Give the reason for locking.")},
    )


class UnlockForm(forms.Form):
    """Unlocking always says why (the service refuses a blank reason too)."""

    reason = FreeTextField(
        multiline=True,
        label=_("Reason for unlocking"),
        max_length=500,
        error_messages={"required": _("Give the reason for unlocking.")},
    )


#: The words of each narrowing and each order of the verification worklist.
WORKLIST_AWAITING_LABELS = {
    "verification": _("Values awaiting verification"),
    "signature": _("Casebooks awaiting signature"),
}
WORKLIST_SORT_LABELS = {
    "critical": _("Critical values least verified"),
    "overall": _("All values least verified"),
    "remaining": _("Most values left to verify"),
    "subject": _("Subject ID"),
}


class VerificationWorklistFilterForm(forms.Form):
    """The filters of the verification worklist: a site of the user's, what awaits, the order."""

    site = forms.ChoiceField(label=_("Site"), required=False)
    awaiting = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("All participants")),
            *[(code, WORKLIST_AWAITING_LABELS[code]) for code in WORKLIST_AWAITING],
        ],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[(code, WORKLIST_SORT_LABELS[code]) for code in WORKLIST_SORTS],
    )

    def __init__(self, *args: Any, sites: Iterable[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ChoiceField)
        site_field.choices = [("", _("All your sites"))] + [(s.code, str(s)) for s in sites]
