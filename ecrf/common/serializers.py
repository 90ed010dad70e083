"""The text field every API body types free text into."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from .text import clean_free_text


class FreeTextField(serializers.CharField):
    """Text sent to the API, held to the study's rule for free text (see
    :mod:`ecrf.common.text`): NFC, and no control characters, refused on its field
    (400). ``multiline`` lets it hold tabs and line breaks."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return clean_free_text(text, multiline=self.multiline)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="control_character") from exc
