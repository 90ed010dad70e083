"""Writes of audit-trail review: copying the trail into its index, and review sign-offs.

The index (:class:`~.models.AuditEntry`) follows the hash chain: each update copies the
rows of the events whose links came after the last link copied, as the audit-trail
export writes them, then gives each new row its risk signals. Links are made at commit,
under the chain's lock, so their order is the order of commits and no event is passed
over. One update runs at a time (an advisory lock); a second caller finds it running
and leaves it to finish.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.models import User
from ecrf.accounts.policy import enforce, may_sign_off_audit_review
from ecrf.audit.context import change_context
from ecrf.audit.models import ChainLink
from ecrf.common import catalogue
from ecrf.exports.formats.audit import audit_query, audited_models, export_transaction
from ecrf.exports.formats.base import ExportScope
from ecrf.studies.models import Arm, Site, Study
from ecrf.studies.services import current_study

from .models import AuditEntry, AuditIndexState, AuditReview

#: The advisory lock of the index's update.
INDEX_LOCK = 0x41554458

#: Links copied per transaction: each batch is one query over the events they name.
BATCH_LINKS = 20_000

#: How long a bulk change lasts: more than the study's number of record changes by one
#: user within this time (the contract).
BULK_WINDOW = dt.timedelta(minutes=10)

#: Updates of one field of one record from which each further one is flagged.
REPEATED_CHANGES = 3


def _arm_fields() -> list[str]:
    """``model:field`` of every audited field that holds the allocated arm."""
    return [
        f"{audited.model._meta.label_lower}:{field.name}"
        for audited in audited_models()
        for field in audited.fields
        if getattr(field, "related_model", None) is Arm
    ]


def _form_dates() -> list[tuple[str, str, str]]:
    """(event table, model label, date column) of every form with a date of its own."""
    tables = {a.model._meta.label: a for a in audited_models()}
    found = []
    for form in catalogue.FORMS:
        audited = tables.get(form.model)
        if audited is None or not form.date_field:
            continue
        field = audited.model._meta.get_field(form.date_field)
        if field.get_internal_type() != "DateField":
            continue
        found.append((audited.table, audited.model._meta.label_lower, str(field.column)))  # type: ignore[union-attr]
    return found


def _copy(study: Study, after: int, upto: int) -> None:
    """Copy the rows of the events linked in (after, upto] of one study."""
    site_ids = tuple(Site.objects.filter(study=study).values_list("pk", flat=True))
    scope = ExportScope(study_id=study.pk, site_ids=site_ids)
    rows, params = audit_query(scope, links=(after, upto))
    params = {**params, "arm_fields": _arm_fields(), "study_id": study.pk}
    with export_transaction() as raw, raw.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO review_auditentry
                (seq, event_table, event_id, field, at, actor, role, site_id, participant_id,
                 subject_id, record, record_id, model, old_value, new_value, reason, action,
                 source, reveals_arm, signals)
            SELECT l.seq, l.event_table, l.event_id, q.field, q.timestamp::timestamptz,
                   q.user, coalesce(q.role, ''), st.id, p.id, coalesce(q.subject_id, ''),
                   q.record, q.record_id, q.model, coalesce(q.old_value, ''),
                   coalesce(q.new_value, ''), coalesce(q.reason, ''), q.action,
                   coalesce(q.source, ''), (q.model || ':' || q.field) = ANY(%(arm_fields)s),
                   '{{}}'
              FROM ({rows}) q
              JOIN audit_chain_link l
                ON l.event_table = split_part(q.event, ':', 1)
               AND l.event_id = split_part(q.event, ':', 2)::bigint
              LEFT JOIN participants_participant p ON p.subject_id = q.subject_id
              LEFT JOIN studies_site st ON st.code = q.site AND st.study_id = %(study_id)s
             ORDER BY l.seq, q.field
            ON CONFLICT (event_table, event_id, field) DO NOTHING
            """,  # noqa: S608  (the export's query; values are parameters)
            params,
        )


def _signal(since_id: int, code: str, condition: str, params: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE review_auditentry e SET signals = array_append(e.signals, %(code)s) "  # noqa: S608
            f"WHERE e.id > %(since_id)s AND NOT %(code)s = ANY(e.signals) AND ({condition})",
            {**params, "code": code, "since_id": since_id},
        )


def _event_details(since_id: int) -> None:
    """Each new entry's audit context id (shared by every event of one operation) and,
    for a form with a date of its own, that date, read from its event."""
    dates = {table: column for table, _model, column in _form_dates()}
    with connection.cursor() as cursor:
        for audited in audited_models():
            table = audited.table
            date = (
                f", record_date = ev.{connection.ops.quote_name(dates[table])}"
                if table in dates
                else ""
            )
            cursor.execute(
                f"UPDATE review_auditentry a SET context_id = ev.pgh_context_id{date} "  # noqa: S608
                f"FROM {connection.ops.quote_name(table)} ev "
                "WHERE a.id > %s AND a.event_table = %s AND ev.pgh_id = a.event_id",
                [since_id, table],
            )


def _give_signals(since_id: int) -> None:
    """The risk signals of the entries copied after ``since_id`` (see the contract).

    A change "after verification" or "after signature" is one that cleared a standing
    verification mark of the value or voided a signature of the casebook: the database
    guard does both within the change's own operation, so its events share the change's
    audit context. A change "after an unlock" comes, in the chain, after a lock over it
    was lifted.
    """
    study = current_study()
    if study is None:
        return
    _event_details(since_id)
    params: dict[str, Any] = {
        "forms": [form.code for form in catalogue.FORMS],
        "late_days": study.audit_late_entry_days,
        "start": study.audit_working_hours_start,
        "end": study.audit_working_hours_end,
        "bulk": study.audit_bulk_records,
        "window": BULK_WINDOW,
        "repeated": REPEATED_CHANGES,
        "zone": study.sites.values_list("time_zone", flat=True).first() or "UTC",
    }
    local = (
        "(e.at AT TIME ZONE coalesce((SELECT s.time_zone FROM studies_site s "
        "WHERE s.id = e.site_id), %(zone)s))"
    )
    _signal(since_id, "system", "e.actor LIKE 'system:%%'", params)
    _signal(
        since_id,
        "off_hours",
        f"{local}::time < %(start)s OR {local}::time >= %(end)s",
        params,
    )
    _signal(
        since_id,
        "late_entry",
        f"e.action <> 'delete' AND e.record_date IS NOT NULL "
        f"AND {local}::date - e.record_date > %(late_days)s",
        params,
    )
    _signal(
        since_id,
        "after_verification",
        "e.action IN ('update', 'delete') AND e.record = ANY(%(forms)s) AND EXISTS ("
        "SELECT 1 FROM quality_verificationevent v WHERE v.pgh_context_id = e.context_id "
        "AND v.pgh_label = 'update' AND v.cleared_at IS NOT NULL "
        "AND v.participant_id = e.participant_id AND v.record = e.record "
        "AND (v.record_id IS NULL OR v.record_id::text = e.record_id) "
        "AND (v.field = '' OR v.field = e.field OR v.field || '_id' = e.field))",
        params,
    )
    _signal(
        since_id,
        "after_signature",
        "e.record = ANY(%(forms)s) AND EXISTS (SELECT 1 FROM quality_signatureevent g "
        "WHERE g.pgh_context_id = e.context_id AND g.pgh_label = 'update' "
        "AND g.voided_at IS NOT NULL AND g.participant_id = e.participant_id)",
        params,
    )
    _signal(
        since_id,
        "after_unlock",
        "e.record = ANY(%(forms)s) AND EXISTS (SELECT 1 FROM quality_lockevent k "
        "JOIN audit_chain_link l ON l.event_table = 'quality_lockevent' "
        "AND l.event_id = k.pgh_id WHERE k.pgh_label = 'update' "
        "AND k.unlocked_at IS NOT NULL AND l.seq < e.seq "
        "AND (k.scope = 'study' OR (k.participant_id = e.participant_id "
        "AND (k.scope = 'participant' OR k.record = e.record))))",
        params,
    )
    _signal(
        since_id,
        "repeated_change",
        "e.action = 'update' AND (SELECT count(*) FROM review_auditentry r "
        "WHERE r.model = e.model AND r.record_id = e.record_id AND r.field = e.field "
        "AND r.action = 'update' AND r.id <= e.id) >= %(repeated)s",
        params,
    )
    # A user's changes (events) in the 10 minutes up to each new one, at most one count
    # per event; the peers of one transaction share its time and are counted together.
    _signal(
        since_id,
        "bulk",
        "(e.event_table, e.event_id) IN (SELECT c.event_table, c.event_id FROM ("
        "SELECT ev.event_table, ev.event_id, count(*) OVER (PARTITION BY ev.actor "
        "ORDER BY ev.at RANGE BETWEEN %(window)s PRECEDING AND CURRENT ROW) AS n "
        "FROM (SELECT DISTINCT r.actor, r.at, r.event_table, r.event_id "
        "FROM review_auditentry r WHERE r.actor IN (SELECT DISTINCT n.actor "
        "FROM review_auditentry n WHERE n.id > %(since_id)s) "
        "AND r.at > (SELECT min(n.at) FROM review_auditentry n WHERE n.id > %(since_id)s) "
        "- %(window)s) ev) c WHERE c.n > %(bulk)s)",
        params,
    )


def audit_index_update(*, batches: int | None = None) -> int:
    """Copy into the review index the audit rows of every event chained since the last
    update, with their risk signals; the number of links copied.

    ``batches`` bounds the work (each batch :data:`BATCH_LINKS` links, one transaction);
    ``None`` goes to the head of the chain. Returns 0 at once when another update runs.
    """
    copied = 0
    done = 0
    while batches is None or done < batches:
        if not audit_index_pending():
            return copied  # nothing new: no lock taken, no transaction written
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [INDEX_LOCK])
                if not cursor.fetchone()[0]:
                    return copied
            state, _created = AuditIndexState.objects.select_for_update().get_or_create(pk=1)
            head = ChainLink.objects.aggregate(head=Max("seq"))["head"] or 0
            if head <= state.last_seq:
                return copied
            upto = min(head, state.last_seq + BATCH_LINKS)
            since_id = AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0
            for study in Study.objects.order_by("pk"):
                _copy(study, state.last_seq, upto)
            _give_signals(since_id)
            copied += upto - state.last_seq
            state.last_seq = upto
            state.updated_at = timezone.now()
            state.save(update_fields=["last_seq", "updated_at"])
        done += 1
    return copied


def audit_index_pending() -> int:
    """Links chained and not yet copied into the review index (one statement, as every
    review page asks it)."""
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_SQL)
        (pending,) = cursor.fetchone()
    return int(pending)


_PENDING_SQL = f"""
    SELECT greatest(coalesce((SELECT max(seq) FROM {ChainLink._meta.db_table}), 0)
                    - coalesce((SELECT last_seq FROM {AuditIndexState._meta.db_table}
                                 WHERE id = 1), 0), 0)
"""  # noqa: S608  (table names from the models)


@transaction.atomic
def audit_review_record(
    *, site: Site, through: dt.datetime, comment: str, performed_by: User
) -> AuditReview:
    """Record that ``performed_by`` reviewed the site's audit trail up to ``through``.

    A review covers the time after the site's previous one, so ``through`` must come
    after it; it cannot lie in the future. The comment says what was found.
    """
    enforce(may_sign_off_audit_review(performed_by, site))
    errors: dict[str, list[str]] = {}
    comment = (comment or "").strip()
    if not comment:
        errors["comment"] = [_("Say what the review found (the comment is required).")]
    if timezone.is_naive(through):
        errors["through"] = [_("Give the time with its offset, e.g. 2026-03-15T18:00+09:00.")]
    elif through > timezone.now():
        errors["through"] = [_("A review cannot cover time that has not come yet.")]
    else:
        previous = (
            AuditReview.objects.filter(site=site).order_by("-through").select_for_update().first()
        )
        if previous is not None and through <= previous.through:
            errors["through"] = [
                _("The previous review of this site already covers the trail up to %(time)s.")
                % {"time": timezone.localtime(previous.through).isoformat()}
            ]
    if errors:
        raise ValidationError(errors)
    with change_context(performed_by=performed_by, site=site.code):
        return AuditReview.objects.create(
            site=site, through=through, comment=comment, reviewed_by=performed_by
        )
