"""The rows of the audit-trail review table and the boxes of its filters and sign-off,
written in Python: a page holds fifty entries of nine cells each and fourteen boxes,
which the template language would spend more time on than the page's queries take."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import forms, template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

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


def _box(
    field: forms.BoundField, column: str, label: str, *, error_id: bool, note: str = ""
) -> str:
    """A field's column: its label, its box, its errors and a note under it."""
    target = escape(field.id_for_label)
    errors = ""
    if field.errors:
        named = f' id="{target}-error"' if error_id else ""
        said = escape(" ".join(map(str, field.errors)))
        errors = f'<div class="invalid-feedback d-block"{named}>{said}</div>'
    shown = f'<div class="form-text">{escape(note)}</div>' if note else ""
    return (
        f'<div class="{column}"><label class="{label}" for="{target}">{escape(str(field.label))}'
        f"</label>{field.as_widget()}{errors}{shown}</div>\n"
    )


@register.simple_tag
def filter_boxes(form: forms.Form) -> SafeString:
    """The filters, a column each."""
    return mark_safe(  # noqa: S308  (escaped in _box; widgets escape their own values)
        "".join(
            _box(field, "col-6 col-md-3 col-xl-2", "form-label small mb-0", error_id=True)
            for field in form
        )
    )


@register.simple_tag
def sign_off_boxes(form: forms.Form) -> SafeString:
    """The sign-off's site, time and comment (the whole width)."""
    boxes = []
    for field in form:
        note = _("A time with its offset, or a date for the whole of that day.")
        boxes.append(
            _box(
                field,
                "col-12" if field.name == "comment" else "col-6 col-md-3",
                "form-label",
                error_id=False,
                note=note if field.name == "through" else "",
            )
        )
    return mark_safe("".join(boxes))  # noqa: S308  (escaped in _box)
