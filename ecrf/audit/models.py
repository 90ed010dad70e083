"""The audit trail's own bookkeeping: the hash chain over every event and its checks."""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class ChainLink(models.Model):
    """One audit event's place in the hash chain (21 CFR 11.10(e): changes cannot be hidden).

    ``digest`` is SHA-256 over the previous link's digest, the event's table and the
    event's content (its columns of the table's shape at the time), written by a trigger
    in the same transaction as the event, under one lock, so that links are appended one
    after another; verification checks each ``prev_digest`` against the link before it.
    """

    seq = models.BigAutoField(primary_key=True)
    event_table = models.CharField(max_length=63)
    event_id = models.BigIntegerField()
    prev_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    chained_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "audit_chain_link"
        verbose_name = _("audit chain link")
        verbose_name_plural = _("audit chain links")
        constraints = [
            models.UniqueConstraint(
                fields=["event_table", "event_id"], name="chain_link_one_per_event"
            ),
            # A head that an export or a checkpoint states is looked up by its digest.
            models.UniqueConstraint(fields=["digest"], name="chain_link_digest_unique"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="chain_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.seq}: {self.event_table}#{self.event_id}"


class ChainShape(models.Model):
    """The columns of one event table that the chain hashes, from link ``from_seq`` on.

    A migration that adds a column to an audited model fills that column in the events
    already written (its default); hashing only the columns an event table had when
    each link was made keeps those events verifiable, while a change to any column
    hashed is still found. A shape is recorded after every ``migrate`` that changed a
    table's columns, and is itself chained like an event, so it cannot be edited unseen.
    """

    event_table = models.CharField(max_length=63)
    columns = ArrayField(models.CharField(max_length=63))
    from_seq = models.BigIntegerField()
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "audit_chain_shape"
        verbose_name = _("audit chain shape")
        verbose_name_plural = _("audit chain shapes")
        constraints = [
            models.UniqueConstraint(
                fields=["event_table", "from_seq"], name="chain_shape_one_per_table_and_link"
            )
        ]
        triggers = [
            pgtrigger.Protect(
                name="shape_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_table} from link {self.from_seq}"


class ChainVerification(models.Model):
    """The outcome of one check of the whole chain, kept as an anchor for the next check.

    A later check confirms that every head recorded here is still in the chain at the
    same place, so cutting events off the end of the trail is detected too.
    """

    checked_at = models.DateTimeField(_("checked at"), db_default=Now())
    intact = models.BooleanField(_("intact"))
    links_checked = models.BigIntegerField(_("links checked"))
    head_seq = models.BigIntegerField(_("head link"), null=True)
    head_digest = models.CharField(_("head digest"), max_length=64, blank=True)
    problem = models.TextField(_("first problem found"), blank=True)
    checked_by = models.CharField(_("checked by"), max_length=40)

    class Meta:
        db_table = "audit_chain_verification"
        verbose_name = _("audit trail verification")
        verbose_name_plural = _("audit trail verifications")
        ordering = ["-checked_at"]
        triggers = [
            pgtrigger.Protect(
                name="verification_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'intact' if self.intact else 'BROKEN'}"


class CheckpointReason(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    EXPORT = "export", _("Export")
    LOCK = "lock", _("Lock")


class ChainCheckpoint(models.Model):
    """A head of the chain, signed by the installation's key outside the database.

    ``statement`` is the signed text (canonical JSON of the head's link, digest and
    time); its signature and public key are kept beside it. Whoever rewrites the events,
    links and shapes together cannot sign a new statement, nor have it stamped at the
    old time: a checkpoint whose link no longer holds its digest shows the rewrite.
    """

    seq = models.BigIntegerField(_("head link"))
    digest = models.CharField(_("head digest"), max_length=64)
    taken_at = models.DateTimeField(_("taken at"))
    reason = models.CharField(_("taken for"), max_length=20, choices=CheckpointReason.choices)
    statement = models.TextField(_("signed statement"))
    signature = models.CharField(_("signature (Ed25519, base64)"), max_length=200)
    public_key = models.TextField(_("public key (PEM)"))

    class Meta:
        db_table = "audit_chain_checkpoint"
        verbose_name = _("audit trail checkpoint")
        verbose_name_plural = _("audit trail checkpoints")
        ordering = ["taken_at", "pk"]
        triggers = [
            pgtrigger.Protect(
                name="checkpoint_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M} link {self.seq}"


class CheckpointStamp(models.Model):
    """A time-stamping authority's token (RFC 3161) over a checkpoint's statement."""

    checkpoint = models.OneToOneField(
        ChainCheckpoint, on_delete=models.PROTECT, related_name="stamp"
    )
    token = models.BinaryField(_("time-stamp token (DER)"))
    stamped_at = models.DateTimeField(_("time stamped by the authority"))
    recorded_at = models.DateTimeField(_("recorded at"), db_default=Now())

    class Meta:
        db_table = "audit_chain_checkpoint_stamp"
        verbose_name = _("checkpoint time stamp")
        verbose_name_plural = _("checkpoint time stamps")
        triggers = [
            pgtrigger.Protect(
                name="checkpoint_stamp_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint}: stamped {self.stamped_at:%Y-%m-%d %H:%M}"


class CheckpointAttempt(models.Model):
    """A failed request for a checkpoint's stamp, or the alarm raised for it."""

    checkpoint = models.ForeignKey(
        ChainCheckpoint, on_delete=models.PROTECT, related_name="attempts"
    )
    tried_at = models.DateTimeField(_("tried at"), db_default=Now())
    error = models.TextField(_("what went wrong"), blank=True)
    alarm_sent = models.BooleanField(_("alarm sent"), default=False)

    class Meta:
        db_table = "audit_chain_checkpoint_attempt"
        verbose_name = _("checkpoint stamp attempt")
        verbose_name_plural = _("checkpoint stamp attempts")
        ordering = ["tried_at", "pk"]
        triggers = [
            pgtrigger.Protect(
                name="checkpoint_attempt_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint}: {'alarm' if self.alarm_sent else 'attempt'}"
