"""Participants: everyone screened at a site, from the screening log onwards."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common import messages
from ecrf.common.guard import guarded

from .eligibility import criterion_statements


class ParticipantStatus(models.TextChoices):
    SCREENING = "screening", _("Screening")
    SCREEN_FAILED = "screen_failed", _("Screen failed")
    ELIGIBLE = "eligible", _("Eligible")
    CONSENTED = "consented", _("Consented")
    RANDOMIZED = "randomized", _("Randomized")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    COMPLETED = "completed", _("Completed")


@guarded
@audited()
class Participant(models.Model):
    """A person screened at a site, known by a site-prefixed subject id (``S01-001``)."""

    site = models.ForeignKey(
        "studies.Site",
        on_delete=models.PROTECT,
        related_name="participants",
        verbose_name=_("site"),
    )
    subject_number = models.PositiveIntegerField(_("subject number"))
    subject_id = models.CharField(_("subject ID"), max_length=16, unique=True)
    screening_date = models.DateField(_("screening date"))
    birth_date = models.DateField(_("date of birth"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ParticipantStatus.choices,
        default=ParticipantStatus.SCREENING,
    )
    registered_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    registered_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("registered by")
    )

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["site__code", "subject_number"]
        # The homes list the latest registrations first.
        indexes = [models.Index(fields=["-registered_at"], name="participant_latest_first")]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "subject_number"], name="subject_number_unique_per_site"
            ),
            models.CheckConstraint(
                condition=models.Q(birth_date__lt=models.F("screening_date")),
                name="participant_born_before_screening",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in ParticipantStatus]),
                name="participant_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.subject_id


@guarded
@audited()
class StatusChange(models.Model):
    """One change of a participant's status: from, to, who, when and why."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(_("from"), max_length=20, choices=ParticipantStatus.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=ParticipantStatus.choices)
    reason = models.CharField(_("reason"), max_length=500)
    reason_code = models.CharField(_("reason (system message)"), max_length=60, blank=True)
    reason_params = models.JSONField(_("parameters of the reason"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.participant}: {self.from_status} -> {self.to_status}"

    @property
    def reason_text(self) -> str:
        """Why, for the reader: the system's reason in her language (``reason`` keeps it
        in English), a person's reason as typed."""
        if self.reason_code:
            return messages.render(self.reason_code, self.reason_params, fallback=self.reason)
        return self.reason


@guarded
@audited()
class Eligibility(models.Model):
    """The eligibility form: every criterion with the numbers behind it, and the result."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="eligibility"
    )
    prior_good_quality_transfers = models.PositiveSmallIntegerField(
        _("prior embryo transfers with good-quality embryos")
    )
    prior_embryos_transferred = models.PositiveSmallIntegerField(
        _("good-quality embryos transferred in total")
    )
    prior_biochemical_pregnancy = models.BooleanField(_("biochemical pregnancy ever"))
    other_infertility_factor = models.BooleanField(_("identified cause of infertility"))
    th1_th2_ratio = models.DecimalField(_("Th1/Th2 ratio"), max_digits=6, decimal_places=2)
    th1_th2_sample_date = models.DateField(_("Th1/Th2 sample date"), null=True, blank=True)
    th1_th2_laboratory = models.CharField(_("Th1/Th2 laboratory"), max_length=200, blank=True)
    frozen_embryos_available = models.BooleanField(_("frozen embryos available"))
    able_to_attend_visits = models.BooleanField(_("able to attend all visits"))
    antiphospholipid_syndrome = models.BooleanField(_("antiphospholipid syndrome"))
    coagulation_abnormality = models.BooleanField(_("coagulation abnormality"))
    thyroid_dysfunction = models.BooleanField(_("thyroid dysfunction"))
    other_pregnancy_loss_factor = models.BooleanField(_("other recurrent pregnancy loss factor"))
    tacrolimus_contraindication = models.BooleanField(_("contraindication to tacrolimus"))
    pregnant = models.BooleanField(_("pregnant"))
    investigator_judges_unsuitable = models.BooleanField(
        _("investigator judges participation inappropriate")
    )
    age_at_assessment = models.PositiveSmallIntegerField(_("age (at consent, or at screening)"))
    eligible = models.BooleanField(_("eligible"))
    failed_criteria = ArrayField(
        models.CharField(max_length=40), verbose_name=_("failed criteria"), default=list, blank=True
    )
    assessed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("assessed by")
    )
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("eligibility")
        verbose_name_plural = _("eligibility assessments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(th1_th2_ratio__gte=0), name="eligibility_ratio_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(eligible=True, failed_criteria=[])
                | models.Q(eligible=False) & ~models.Q(failed_criteria=[]),
                name="eligibility_result_matches_failures",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant}: {'eligible' if self.eligible else 'not eligible'}"

    @property
    def failed_criteria_text(self) -> str:
        """The criteria she failed, in words in the reader's language."""
        return "; ".join(criterion_statements(self.failed_criteria))


@guarded
@audited()
class Consent(models.Model):
    """Informed consent: its date and the version of the consent form signed."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="consent"
    )
    consent_date = models.DateField(_("consent date"))
    consent_version = models.CharField(_("consent form version"), max_length=20)
    recorded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

    def __str__(self) -> str:
        return f"{self.participant}: {self.consent_date} v{self.consent_version}"


@guarded
@audited()
class Unblinding(models.Model):
    """An investigator's unblinding of one participant in a blinded study, with the reason."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="unblindings"
    )
    reason = models.CharField(_("reason"), max_length=500)
    unblinded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("unblinded by")
    )
    unblinded_at = models.DateTimeField(_("unblinded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("unblinding")
        verbose_name_plural = _("unblindings")

    def __str__(self) -> str:
        return f"{self.participant} unblinded"


class WithdrawalDecidedBy(models.TextChoices):
    PARTICIPANT = "participant", _("The participant")
    INVESTIGATOR = "investigator", _("The investigator")
    SPONSOR = "sponsor", _("The sponsor")


@guarded
@audited()
class Withdrawal(models.Model):
    """Her withdrawal from the study: after it, no new data can be entered."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="withdrawal"
    )
    date = models.DateField(_("date of withdrawal"))
    reason = models.CharField(_("reason"), max_length=500)
    decided_by = models.CharField(
        _("decided by"), max_length=20, choices=WithdrawalDecidedBy.choices
    )
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")

    def __str__(self) -> str:
        return f"{self.participant} withdrawn {self.date}"
