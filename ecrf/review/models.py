"""Audit-trail review: the trail indexed for filtering, its risk signals, and sign-offs.

The audit trail itself is the pghistory event tables (append-only, hash-chained). What
a reviewer filters and pages through is :class:`AuditEntry`: the same rows as the
audit-trail export (one per changed field), copied from the events in the order of the
hash chain, with the site, subject, actor and risk signals of each row in indexed
columns. It is derived data: the events stay the record, and the export reads them.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited


class Signal(models.TextChoices):
    """Risk signals of an audit row (EMA guideline on computerised systems, 2023, 6.2.2;
    ICH E6(R3)); codes as the API contract names them."""

    AFTER_VERIFICATION = "after_verification", _("Changed after verification")
    AFTER_SIGNATURE = "after_signature", _("Changed after signature")
    AFTER_UNLOCK = "after_unlock", _("Changed after an unlock")
    LATE_ENTRY = "late_entry", _("Late entry")
    OFF_HOURS = "off_hours", _("Outside working hours")
    BULK = "bulk", _("Bulk change")
    REPEATED_CHANGE = "repeated_change", _("Changed repeatedly")
    SYSTEM = "system", _("Made by the system")


class AuditEntry(models.Model):
    """One row of the audit trail (one changed field of one event), indexed for review.

    ``seq`` is the event's link in the hash chain; entries are read in the order of
    their time (``at``, the event's own), then of their copying. Values are as the
    audit-trail export writes them.
    """

    seq = models.BigIntegerField(_("chain link"))
    event_table = models.CharField(max_length=63)
    event_id = models.BigIntegerField()
    field = models.CharField(_("field"), max_length=63)
    at = models.DateTimeField(_("time"))
    actor = models.CharField(_("user"), max_length=200)
    role = models.CharField(_("role"), max_length=20, blank=True)
    site = models.ForeignKey(
        "studies.Site",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )
    participant = models.ForeignKey(
        "participants.Participant",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )
    subject_id = models.CharField(_("subject"), max_length=20, blank=True)
    record = models.CharField(_("form"), max_length=63)
    record_id = models.CharField(_("record"), max_length=40, blank=True)
    model = models.CharField(max_length=100)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)
    reason = models.TextField(_("reason"), blank=True)
    action = models.CharField(_("action"), max_length=10)
    source = models.CharField(_("source"), max_length=20, blank=True)
    #: the audit context of its operation (shared by every event the operation wrote)
    context_id = models.UUIDField(null=True)
    #: the form's own date (a dose's day, an AE's onset), for late entries
    record_date = models.DateField(null=True)
    #: the row shows the allocated arm (left out for the roles a blinded study names)
    reveals_arm = models.BooleanField(default=False)
    signals = ArrayField(models.CharField(max_length=20), default=list)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        constraints = [
            models.UniqueConstraint(
                fields=["event_table", "event_id", "field"], name="audit_entry_one_per_field"
            )
        ]
        indexes = [
            models.Index(fields=["at", "id"], name="audit_entry_order"),
            models.Index(fields=["site", "at", "id"], name="audit_entry_site"),
            models.Index(fields=["site", "actor", "at", "id"], name="audit_entry_site_actor"),
            models.Index(fields=["actor", "at", "id"], name="audit_entry_actor"),
            models.Index(fields=["participant", "at", "id"], name="audit_entry_participant"),
            models.Index(fields=["subject_id", "at", "id"], name="audit_entry_subject"),
            models.Index(fields=["model", "record_id", "field"], name="audit_entry_record"),
            models.Index(fields=["seq"], name="audit_entry_seq"),
            GinIndex(fields=["signals"], name="audit_entry_signals"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.record}.{self.field}"


class AuditIndexState(models.Model):
    """How far along the hash chain the entries go: the last link copied."""

    last_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("audit index state")
        verbose_name_plural = _("audit index states")

    def __str__(self) -> str:
        return f"up to link {self.last_seq}"


@audited()
class AuditReview(models.Model):
    """A reviewer's sign-off: she reviewed a site's audit trail up to ``through``.

    The next review of the site starts where this one ended.
    """

    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="audit_reviews")
    through = models.DateTimeField(_("reviewed through"))
    comment = models.TextField(_("comment"))
    reviewed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("reviewer")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit-trail review")
        verbose_name_plural = _("audit-trail reviews")
        ordering = ["-through", "-pk"]

    def __str__(self) -> str:
        return f"{self.site} {self.through:%Y-%m-%d %H:%M}"
