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
    in the same transaction as the event.
    Each digest is the ``prev_digest`` of at most one link, so the chain cannot fork.
    """

    seq = models.BigAutoField(primary_key=True)
    event_table = models.CharField(max_length=63)
    event_id = models.BigIntegerField()
    prev_digest = models.CharField(max_length=64, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    chained_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "audit_chain_link"
        verbose_name = _("audit chain link")
        verbose_name_plural = _("audit chain links")
        constraints = [
            models.UniqueConstraint(
                fields=["event_table", "event_id"], name="chain_link_one_per_event"
            )
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
