"""Input fields the API's serializers share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class InputDateTimeField(serializers.DateTimeField):
    """A date and time sent to the API. A value at the very edge of the calendar (year 1
    or 9999) that cannot be moved to another zone is refused on its field (400), where
    DRF would raise ``OverflowError`` and answer 500."""

    default_error_messages = {
        "overflow": _("Expected a date and time between the years 1 and 9999 in any time zone.")
    }

    def to_internal_value(self, value: Any) -> dt.datetime:
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("overflow")
