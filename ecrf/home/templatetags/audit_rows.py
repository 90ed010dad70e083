"""The rows of the audit-trail review table, written in Python: a page holds fifty
entries of nine cells each, which the template language would spend more time on than
the page's queries take."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from ecrf.review.selectors import AuditLine

register = template.Library()

_NONE = "—"


def _row(line: AuditLine) -> str:
    entry = line.entry
    role = f'<br><span class="text-muted">{escape(line.role)}</span>' if line.role else ""
    subject = (
        f'<a class="subject-id" href="{escape(line.participant_url)}">'
        f"{escape(entry.subject_id)}</a>"
        if line.participant_url
        else escape(entry.subject_id or _NONE)
    )
    signals = "".join(
        f'<span class="badge text-bg-warning text-wrap me-1">{escape(signal)}</span>'
        for signal in line.signals
    )
    return (
        f'<tr data-entry="{entry.id:d}" data-field="{escape(entry.field)}">'
        f'<td class="text-nowrap small">{escape(line.time)}</td>'
        f'<td class="small">{escape(entry.actor)}{role}</td>'
        f'<td class="small">{subject}</td>'
        f'<td class="small">{escape(line.record)}<br>'
        f'<span class="text-muted">{escape(line.action)}</span></td>'
        f'<td class="small">{escape(line.field)}</td>'
        f'<td class="small text-break audit-old">{escape(line.old_value or _NONE)}</td>'
        f'<td class="small text-break audit-new">{escape(line.new_value or _NONE)}</td>'
        f'<td class="small text-break">{escape(entry.reason or _NONE)}</td>'
        f'<td class="small">{signals}</td></tr>\n'
    )


@register.simple_tag
def audit_rows(lines: Iterable[AuditLine]) -> SafeString:
    """One table row per entry, every value escaped."""
    return mark_safe("".join(_row(line) for line in lines))  # noqa: S308  (escaped above)
