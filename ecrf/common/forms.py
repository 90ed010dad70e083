"""The text field every form types free text into, a decimal field that takes numbers
only, a drop-down list, a text box and a text area written without templates, and
turning service errors into form errors, the same way on every page."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.safestring import SafeData, SafeString, mark_safe

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


def _attributes(attrs: dict[str, Any]) -> str:
    """The attributes as :func:`django.forms.utils.flatatt` writes them (a true boolean
    as its name alone, false and ``None`` left out, values escaped unless already safe),
    without the template machinery of ``format_html``."""
    return "".join(
        f" {escape(name)}" if value is True else f' {escape(name)}="{_escaped(value)}"'
        for name, value in attrs.items()
        if value is not False and value is not None
    )


def _escaped(value: Any) -> str:
    return str(value.__html__()) if isinstance(value, SafeData) else escape(str(value))


class PlainSelect(forms.Select):
    """A drop-down list with the markup of Django's select template, written in Python:
    for the filters of pages a reviewer reloads all day, where a template per option
    would cost more than the page's queries."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = {str(v) for v in self.format_value(value)}
        found = False
        parts = [
            f'<select name="{escape(name)}"{_attributes(self.build_attrs(self.attrs, attrs))}>'
        ]
        for option_value, option_label in self.choices:
            grouped = isinstance(option_label, list | tuple)
            labelled = grouped and bool(option_value)  # as the template: a named group
            if labelled:
                parts.append(f'<optgroup label="{escape(str(option_value))}">')
            for sub_value, sub_label in option_label if grouped else [(option_value, option_label)]:
                text = "" if sub_value is None else str(sub_value)
                selected = (not found or self.allow_multiple_selected) and text in chosen
                found |= selected
                parts.append(
                    f'<option value="{escape(text)}"{" selected" if selected else ""}>'
                    f"{escape(str(sub_label))}</option>"
                )
            if labelled:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308  (every value above is escaped)


class PlainTextInput(forms.TextInput):
    """A text box with the markup of Django's template, written in Python (see
    :class:`PlainSelect`)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        text = self.format_value(value)
        shown = "" if text is None else f' value="{escape(str(text))}"'
        attributes = _attributes(self.build_attrs(self.attrs, attrs))
        return mark_safe(  # noqa: S308  (every value is escaped)
            f'<input type="{self.input_type}" name="{escape(name)}"{shown}{attributes}>'
        )


class PlainTextarea(forms.Textarea):
    """A text area with the markup of Django's template, written in Python (see
    :class:`PlainSelect`)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        text = self.format_value(value)
        shown = escape(text) if text else ""
        attributes = _attributes(self.build_attrs(self.attrs, attrs))
        return mark_safe(  # noqa: S308  (every value is escaped)
            f'<textarea name="{escape(name)}"{attributes}>\n{shown}</textarea>'
        )


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
