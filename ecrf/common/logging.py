"""Keeps personal data out of the logs."""

from __future__ import annotations

import logging
import re

# Dates of birth and e-mail addresses are the personal data a request could carry.
_REDACTIONS = [
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(birth_date|password|token)=[^&\s\"']*"), r"\1=[redacted]"),
]


class NoPersonalDataFilter(logging.Filter):
    """Drops request objects and query strings' sensitive values from log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "request"):
            record.request = None
        message = record.getMessage()
        for pattern, replacement in _REDACTIONS:
            message = pattern.sub(replacement, message)
        record.msg = message
        record.args = ()
        return True
