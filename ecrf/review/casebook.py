"""A participant's casebook as a certified copy: one PDF, printed from the form catalogue.

The cover names the study, the site, the subject, her arm (unless the reader may not
see it), her status, and the audit chain's head and time of the database snapshot the
copy was printed from. Every case report form follows as its reader sees it on the
form's page (:mod:`.reading`): each value labelled in the reader's language with its
unit, who entered it and when, its verification mark, and the queries on it with their
threads. Then her audit trail (values by their labels, the reason and the actor of each
change) and the signatures on the casebook, with name, time and meaning. Every page
carries the subject ID and "Page N of M".

Printed by WeasyPrint in the reader's language (Japanese text set in Noto Sans CJK),
from an export job: the export runner gives the snapshot and the chain head.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from django.template.loader import render_to_string
from django.utils import timezone, translation

from ecrf.accounts.models import User
from ecrf.accounts.policy import concealed_from
from ecrf.audit.selectors import history_of
from ecrf.common import catalogue
from ecrf.exports.exceptions import ExportRefused
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant
from ecrf.quality.selectors import signatures_of

from .reading import FormReading, form_reading, readable_forms
from .selectors import ACTIONS, Labels

if TYPE_CHECKING:
    from ecrf.exports.formats.base import ExportScope, Progress


@dataclass(frozen=True)
class TrailLine:
    """One changed field of the participant's audit trail, in words."""

    time: str
    actor: str
    role: str
    record: str
    record_id: str
    action: str
    field: str
    old_value: str
    new_value: str
    reason: str


@dataclass(frozen=True)
class SignatureLine:
    """One signature of the casebook: the printed name, the account, when, what it
    means, and when and why it was voided (empty while it stands)."""

    name: str
    username: str
    time: str
    meaning: str
    voided: str


@dataclass(frozen=True)
class Casebook:
    """Everything one printed casebook holds, in the reader's language."""

    participant: Participant
    study_title: str
    study_code: str
    registry_id: str
    site: str
    arm: str
    status: str
    chain_head: str
    printed_at: str
    printed_by: str
    forms: tuple[FormReading, ...]
    trail: tuple[TrailLine, ...]
    signatures: tuple[SignatureLine, ...]


def _moment(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{local.isoformat()[-6:]})"


def _as_export_text(value: Any) -> str:
    """A value of the trail as the exports write it, which :class:`Labels` reads."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _trail(user: User, participant: Participant, zone: zoneinfo.ZoneInfo) -> list[TrailLine]:
    labels = Labels([participant.site])
    roles = dict(labels.roles)
    lines = []
    for entry in history_of(participant, concealed=concealed_from(user, participant.site.study)):
        for change in entry.changes:
            lines.append(
                TrailLine(
                    time=_moment(entry.timestamp, zone),
                    actor=entry.user or "",
                    role=str(roles.get(entry.role or "", entry.role or "")),
                    record=labels.record(entry.record) if entry.record else entry.record_label,
                    record_id=entry.record_id,
                    action=str(ACTIONS.get(entry.action, entry.action)),
                    field=labels.field(entry.record, change.field) or change.label,
                    old_value=labels.value(
                        entry.record, change.field, _as_export_text(change.old_value)
                    ),
                    new_value=labels.value(
                        entry.record, change.field, _as_export_text(change.new_value)
                    ),
                    reason=entry.reason or "",
                )
            )
    return lines


def casebook_of(
    user: User, participant: Participant, *, chain_head: str, printed_at: dt.datetime
) -> Casebook:
    """Her casebook as ``user`` may read it, in the active language."""
    study = participant.site.study
    zone = zoneinfo.ZoneInfo(participant.site.time_zone)
    japanese = (translation.get_language() or "en").startswith("ja")
    forms = tuple(
        form_reading(user, participant, definition.name)
        for definition in readable_forms(user, participant)
        if catalogue.form(definition.name).is_crf
    )
    allocation = getattr(participant, "allocation", None)
    arm = ""
    if allocation is not None and arm_visible_to(user, participant):
        arm = allocation.arm.name_ja if japanese else allocation.arm.name_en
    signatures = tuple(
        SignatureLine(
            name=signature.printed_name,
            username=signature.signed_by.get_username(),
            time=_moment(signature.signed_at, zone),
            meaning=signature.meaning,
            voided=(
                f"{_moment(signature.voided_at, zone)} {signature.void_reason}"
                if signature.voided_at
                else ""
            ),
        )
        for signature in signatures_of(participant).order_by("signed_at", "pk")
    )
    return Casebook(
        participant=participant,
        study_title=study.title,
        study_code=study.code,
        registry_id=study.registry_id,
        site=str(participant.site),
        arm=arm,
        status=str(participant.get_status_display()),
        chain_head=chain_head,
        printed_at=_moment(printed_at, zone),
        printed_by=user.get_username(),
        forms=forms,
        trail=tuple(_trail(user, participant, zone)),
        signatures=signatures,
    )


def casebook_pdf(casebook: Casebook) -> bytes:
    """The casebook printed as PDF (A4) in the active language."""
    import weasyprint  # noqa: PLC0415  (heavy: loaded only to print)

    language = translation.get_language() or "en"
    html = render_to_string(
        "review/casebook_pdf.html", {"casebook": casebook, "language": language}
    )
    document: bytes = weasyprint.HTML(string=html).write_pdf()
    return document


def write_casebook_pdf(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """The export of one participant's casebook (``subject_id`` names her), for whoever
    asked for it, in her language."""
    progress(0, 2)
    participant = (
        Participant.objects.select_related("site__study")
        .filter(subject_id=scope.subject_id or "", site_id__in=scope.site_ids)
        .first()
    )
    reader = (
        User.objects.filter(pk=scope.requested_by_id).first()
        if scope.requested_by_id is not None
        else None
    )
    if participant is None or reader is None:
        raise ExportRefused(translation.gettext("A casebook is printed for one participant."))
    casebook = casebook_of(reader, participant, chain_head=chain_head, printed_at=timezone.now())
    progress(1, 2)
    out.write(casebook_pdf(casebook))
    progress(2, 2)
