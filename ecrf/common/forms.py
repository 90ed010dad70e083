"""The text field every form types free text into, a decimal field that takes numbers
only, and turning service errors into form errors, the same way on every page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from .text import clean_free_text


class FreeTextField(forms.CharField):
    """Text typed by a person, held to the study's rule for free text (see
    :mod:`ecrf.common.text`): NFC, and no control characters. It may span lines when
    it is shown as a text area, or when ``multiline`` says so."""

    def __init__(self, *, multiline: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = isinstance(self.widget, forms.Textarea) if multiline is None else multiline

    def to_python(self, value: Any) -> str:
        text = str(super().to_python(value))
        return clean_free_text(text, multiline=self.multiline) if text else text


class FiniteDecimalField(forms.DecimalField):
    """A decimal number: "NaN", "sNaN" and "Infinity", which Python reads as decimals but
    no measurement is, are refused as any other text that is not a number."""

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        number = super().to_python(value)
        if number is not None and not number.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form fields it names."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            if field == NON_FIELD_ERRORS:
                target = None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)
