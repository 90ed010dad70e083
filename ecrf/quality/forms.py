from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import DEFAULT_MEANING


class SignForm(forms.Form):
    meaning = forms.CharField(
        label=_("Meaning of the signature"), max_length=500, initial=DEFAULT_MEANING
    )
    password = forms.CharField(
        label=_("Your password"), widget=forms.PasswordInput, max_length=200, strip=False
    )


class VerifyForm(forms.Form):
    """Values to mark as verified: a form, and within it one row or one field (or all)."""

    record = forms.CharField(label=_("Form"), max_length=40)
    record_id = forms.IntegerField(label=_("Record"), required=False, min_value=1)
    field = forms.CharField(label=_("Field"), max_length=60, required=False)


class LockForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
