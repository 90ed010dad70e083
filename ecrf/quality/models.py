"""Locks, investigator signatures and source data verification marks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited

from .tally import mark_tally_trigger, totals_trigger


class LockScope(models.TextChoices):
    STUDY = "study", _("Whole study (database lock)")
    PARTICIPANT = "participant", _("Participant")
    FORM = "form", _("Form")


@audited()
class Lock(models.Model):
    """A data manager's lock: nothing under it changes until it is released with a reason."""

    scope = models.CharField(_("scope"), max_length=12, choices=LockScope.choices)
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(
        "participants.Participant",
        on_delete=models.PROTECT,
        related_name="locks",
        null=True,
        blank=True,
    )
    record = models.CharField(_("form"), max_length=40, blank=True)
    reason = models.CharField(_("reason for locking"), max_length=500, blank=True)
    locked_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    locked_at = models.DateTimeField(_("locked at"), auto_now_add=True)
    unlocked_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    unlocked_at = models.DateTimeField(_("unlocked at"), null=True, blank=True)
    unlock_reason = models.CharField(_("reason for unlocking"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("lock")
        verbose_name_plural = _("locks")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope="study", participant__isnull=True, record="")
                | models.Q(scope="participant", participant__isnull=False, record="")
                | models.Q(scope="form", participant__isnull=False) & ~models.Q(record=""),
                name="lock_scope_consistent",
            ),
            models.UniqueConstraint(
                fields=["scope", "study", "participant", "record"],
                condition=models.Q(unlocked_at__isnull=True),
                name="one_open_lock_per_target",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} lock"


@audited()
class Signature(models.Model):
    """An investigator's electronic signature of a casebook (21 CFR 11.50, 11.70, 11.200).

    It carries her printed name, the time and the meaning, and the hash of the exact
    data signed; any later change to that data voids it (the database guard). It also
    records what was still open when she signed (queries not closed, adverse events not
    confirmed, forms not fully verified), which she confirmed on the page before signing.
    """

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="signatures"
    )
    signed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(_("printed name"), max_length=150)
    meaning = models.CharField(_("meaning"), max_length=500)
    signed_at = models.DateTimeField(_("signed at"), auto_now_add=True)
    data_hash = models.CharField(_("hash of the data signed"), max_length=64)
    data_events = models.PositiveIntegerField(_("audit events covered"))
    open_queries = models.PositiveIntegerField(_("queries open at signing"), default=0)
    unconfirmed_adverse_events = models.PositiveIntegerField(
        _("adverse events unconfirmed at signing"), default=0
    )
    unverified_forms = models.PositiveIntegerField(_("forms unverified at signing"), default=0)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("why it was voided"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["participant", "-signed_at"]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.signed_at:%Y-%m-%d %H:%M}"


@audited()
class Verification(models.Model):
    """A monitor's mark that a form (or one field of it) matches the source documents."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="verifications"
    )
    record = models.CharField(_("form"), max_length=40)
    record_id = models.BigIntegerField(_("record"), null=True, blank=True)
    field = models.CharField(_("field"), max_length=60, blank=True)
    verified_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(_("verified at"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_reason = models.CharField(_("why it was cleared"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("source data verification")
        verbose_name_plural = _("source data verifications")
        triggers = [mark_tally_trigger()]

    def __str__(self) -> str:
        return f"{self.record}.{self.field or '*'} verified"


class FormTally(models.Model):
    """Per participant and verifiable form: her records and the standing verification
    marks on their values, critical ones apart. Only the database's triggers write it
    (:mod:`ecrf.quality.tally`); it is a count of rows audited elsewhere, not a record."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="tallies"
    )
    form = models.CharField(_("form"), max_length=40)
    records = models.IntegerField(_("records"))
    verified = models.IntegerField(_("values verified"))
    critical_verified = models.IntegerField(_("critical values verified"))

    class Meta:
        verbose_name = _("verification tally")
        verbose_name_plural = _("verification tallies")
        constraints = [
            models.UniqueConstraint(fields=["participant", "form"], name="one_tally_per_form"),
        ]
        triggers = [totals_trigger()]

    def __str__(self) -> str:
        return f"{self.form}: {self.verified} verified"


class ParticipantVerification(models.Model):
    """One participant's verification added up from her tally rows: values verified and
    to verify, critical ones apart, and her forms with values left to verify. Only the
    database's trigger on the tally writes it (:mod:`ecrf.quality.tally`)."""

    participant = models.OneToOneField(
        "participants.Participant",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="verification_totals",
    )
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="+")
    verified = models.IntegerField(_("values verified"))
    verifiable = models.IntegerField(_("values to verify"))
    critical_verified = models.IntegerField(_("critical values verified"))
    critical_verifiable = models.IntegerField(_("critical values to verify"))
    forms_awaiting = models.IntegerField(_("forms with values to verify"))

    class Meta:
        verbose_name = _("participant's verification")
        verbose_name_plural = _("participants' verification")

    def __str__(self) -> str:
        return f"{self.verified} of {self.verifiable} verified"
