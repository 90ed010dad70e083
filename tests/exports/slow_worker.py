"""Imported by the test's Celery workers only (``CELERY_INCLUDE``): in that process, the
audit-trail CSV export is written by the slow writer of :mod:`.slow_format`."""

from __future__ import annotations

from ecrf.exports import formats
from ecrf.exports.formats import ExportFormat

from .slow_format import write_slowly

formats.FORMATS[("audit_trail", "csv")] = ExportFormat(
    kind="audit_trail",
    format="csv",
    media_type="text/csv",
    extension=".csv",
    write=write_slowly,
)
