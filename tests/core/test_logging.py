"""No personal data in the logs."""

from __future__ import annotations

import logging

from ecrf.common.logging import NoPersonalDataFilter


def _filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, args, None)
    NoPersonalDataFilter().filter(record)
    return record.getMessage()


def test_dates_of_birth_passwords_and_emails_are_redacted():
    line = _filtered("POST /x?birth_date=1990-05-17&password=s3cret by %s", "hanako@example.jp")
    assert "1990-05-17" not in line and "s3cret" not in line and "hanako@example.jp" not in line
    assert "birth_date=[redacted]" in line and "[email]" in line


def test_request_objects_are_dropped_from_records():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found", (), None
    )
    record.request = object()
    NoPersonalDataFilter().filter(record)
    assert record.request is None
