"""The reason-for-change field every form that corrects saved data carries."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.common.forms import FreeTextField


def reason_for_change_field() -> FreeTextField:
    """Optional on the form; the service requires it when a saved value changes."""
    return FreeTextField(
        label=_("Reason for change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when a saved value changes."),
    )
