"""The treatment period: embryo transfer, dose diary, drug accountability, visits, reminders."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common import messages
from ecrf.common.guard import guarded


class EmbryoStage(models.TextChoices):
    CLEAVAGE = "cleavage", _("Cleavage stage")
    BLASTOCYST = "blastocyst", _("Blastocyst")


@guarded
@audited()
class EmbryoTransfer(models.Model):
    """The planned embryo transfer date, then the transfer as performed."""

    participant = models.OneToOneField(
        "participants.Participant", on_delete=models.PROTECT, related_name="embryo_transfer"
    )
    et_date = models.DateField(_("embryo transfer date"))
    performed = models.BooleanField(_("transfer performed"), default=False)
    embryos_transferred = models.PositiveSmallIntegerField(
        _("embryos transferred"), null=True, blank=True
    )
    embryo_stage = models.CharField(
        _("embryo stage"), max_length=12, choices=EmbryoStage.choices, blank=True
    )
    embryo_grade = models.CharField(_("embryo grade"), max_length=40, blank=True)
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("embryo transfer")
        verbose_name_plural = _("embryo transfers")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(performed=True) | models.Q(embryos_transferred__isnull=True),
                name="embryos_counted_only_when_performed",
            ),
            models.CheckConstraint(
                condition=models.Q(embryos_transferred__isnull=True)
                | models.Q(embryos_transferred__gte=1, embryos_transferred__lte=5),
                name="embryos_transferred_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant}: ET {self.et_date}"


class Intake(models.TextChoices):
    """The protocol's two intakes a day: after breakfast and after dinner."""

    MORNING = "morning", _("Morning")
    EVENING = "evening", _("Evening")


@guarded
@audited()
class DoseEntry(models.Model):
    """One intake of the dose diary (morning or evening of a dosing day): taken, with its
    time and capsules, or missed, with the reason."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="doses"
    )
    date = models.DateField(_("date"))
    intake = models.CharField(_("intake"), max_length=7, choices=Intake.choices)
    taken = models.BooleanField(_("taken"))
    dose_mg = models.DecimalField(_("dose (mg)"), max_digits=6, decimal_places=2)
    capsules = models.PositiveSmallIntegerField(_("capsules"))
    time_taken = models.TimeField(_("time"), null=True, blank=True)
    missed_reason = models.CharField(_("reason missed"), max_length=500, blank=True)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    deviation = models.BooleanField(_("protocol deviation"), default=False)
    deviation_reason = models.CharField(_("reason for the deviation"), max_length=500, blank=True)
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("dose diary entry")
        verbose_name_plural = _("dose diary entries")
        ordering = ["participant", "date", "intake"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "date", "intake"], name="one_dose_entry_per_intake"
            ),
            models.CheckConstraint(condition=models.Q(dose_mg__gte=0), name="dose_not_negative"),
            models.CheckConstraint(
                condition=models.Q(deviation=False) | ~models.Q(deviation_reason=""),
                name="deviation_has_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(taken=True) | models.Q(dose_mg=0, capsules=0),
                name="missed_dose_is_zero",
            ),
            models.CheckConstraint(
                condition=models.Q(taken=False) | models.Q(missed_reason=""),
                name="taken_dose_has_no_missed_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.date} {self.intake}: {self.dose_mg} mg"


@guarded
@audited()
class Dispensing(models.Model):
    """Capsules handed to the participant, with their lot number."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="dispensings"
    )
    dispensed_on = models.DateField(_("dispensed on"))
    lot_number = models.CharField(_("lot number"), max_length=40)
    capsules = models.PositiveIntegerField(_("capsules dispensed"))
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("dispensing")
        verbose_name_plural = _("dispensings")
        ordering = ["participant", "dispensed_on"]
        constraints = [
            models.CheckConstraint(condition=models.Q(capsules__gte=1), name="dispensed_positive")
        ]

    def __str__(self) -> str:
        return f"{self.participant}: {self.capsules} capsules, lot {self.lot_number}"


@guarded
@audited()
class DrugReturn(models.Model):
    """Capsules brought back unused."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="drug_returns"
    )
    returned_on = models.DateField(_("returned on"))
    capsules = models.PositiveIntegerField(_("capsules returned"))
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("drug return")
        verbose_name_plural = _("drug returns")
        ordering = ["participant", "returned_on"]

    def __str__(self) -> str:
        return f"{self.participant}: {self.capsules} capsules returned"


class VisitOutcome(models.TextChoices):
    DONE = "done", _("Done")
    MISSED = "missed", _("Missed")


@guarded
@audited()
class VisitRecord(models.Model):
    """A visit as it happened: done on a date (out of window with a reason) or missed."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="visit_records"
    )
    visit_code = models.SlugField(_("visit"), max_length=40)
    outcome = models.CharField(_("outcome"), max_length=10, choices=VisitOutcome.choices)
    done_on = models.DateField(_("done on"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    reason_code = models.CharField(_("reason (system message)"), max_length=60, blank=True)
    reason_params = models.JSONField(_("parameters of the reason"), default=dict, blank=True)
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("visit record")
        verbose_name_plural = _("visit records")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "visit_code"], name="one_record_per_visit"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="done", done_on__isnull=False)
                | models.Q(outcome="missed", done_on__isnull=True) & ~models.Q(reason=""),
                name="visit_record_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.visit_code}: {self.outcome}"

    @property
    def reason_text(self) -> str:
        """Why, for the reader: a reason the system wrote (an edit check's, when the visit
        was done out of its window) in her language (``reason`` keeps it in English); a
        person's reason as typed."""
        if self.reason_code:
            return messages.render(self.reason_code, self.reason_params, fallback=self.reason)
        return self.reason


class ReminderKind(models.TextChoices):
    DOSING_START = "dosing_start", _("Dosing starts tomorrow")
    DIGEST = "digest", _("Daily digest")


class Reminder(models.Model):
    """An e-mail the daily job owes someone: written first, then sent, then marked sent.

    The unique key makes a second run of the job find the row instead of a new message.
    """

    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    recipient = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(
        "participants.Participant",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    for_date = models.DateField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: Times the mail server refused this recipient, and what it said the last time.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "recipient", "participant", "for_date"],
                name="one_reminder_per_kind_recipient_day",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return self.subject
