"""The endpoint forms, the edit-check settings of a study and the findings they raise."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common import messages
from ecrf.common.guard import design_guarded, guarded


class Result(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")


@guarded
@audited()
class BiochemicalPregnancy(models.Model):
    """Secondary endpoint: serum hCG at ET+14 (window a study setting)."""

    participant = models.OneToOneField(
        "participants.Participant", on_delete=models.PROTECT, related_name="biochemical_pregnancy"
    )
    assessed_on = models.DateField(_("date of assessment"))
    serum_hcg_miu_ml = models.DecimalField(_("serum hCG (mIU/mL)"), max_digits=12, decimal_places=2)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("biochemical pregnancy")
        verbose_name_plural = _("biochemical pregnancies")

    def __str__(self) -> str:
        return f"{self.participant}: hCG {self.serum_hcg_miu_ml} ({self.result})"


@guarded
@audited()
class ClinicalPregnancy(models.Model):
    """Primary endpoint: a gestational sac on transvaginal ultrasound at ET+21."""

    participant = models.OneToOneField(
        "participants.Participant", on_delete=models.PROTECT, related_name="clinical_pregnancy"
    )
    assessed_on = models.DateField(_("date of assessment"))
    transvaginal_ultrasound = models.BooleanField(_("transvaginal ultrasound done"), default=True)
    gestational_sac_seen = models.BooleanField(_("gestational sac seen"))
    number_of_sacs = models.PositiveSmallIntegerField(_("number of sacs"), null=True, blank=True)
    fetal_heartbeat = models.BooleanField(_("fetal heartbeat seen"), null=True, blank=True)
    ectopic_pregnancy = models.BooleanField(_("ectopic pregnancy"), default=False)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    followup_study_consent = models.BooleanField(
        _("consented to the follow-up study"), null=True, blank=True
    )
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("clinical pregnancy")
        verbose_name_plural = _("clinical pregnancies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gestational_sac_seen=True)
                | models.Q(number_of_sacs__isnull=True)
                | models.Q(number_of_sacs=0),
                name="sacs_counted_only_when_seen",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant}: {self.result}"


class Severity(models.TextChoices):
    HARD = "hard", _("Hard (refuses the save)")
    SOFT = "soft", _("Soft (warns, asks for confirmation)")


@design_guarded
@audited()
class EditCheckSetting(models.Model):
    """A study's setting of one edit check: on or off, hard or soft, its threshold."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("check"), max_length=60)
    enabled = models.BooleanField(_("enabled"), default=True)
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices)
    threshold = models.DecimalField(
        _("threshold"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("edit check setting")
        verbose_name_plural = _("edit check settings")
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="one_setting_per_check"),
        ]

    def __str__(self) -> str:
        return f"{self.study}: {self.code}"


@guarded
@audited()
class EditCheckFinding(models.Model):
    """A soft check that fired on a participant's data, confirmed by who saved it."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="check_findings"
    )
    record = models.CharField(_("form"), max_length=40)
    field = models.CharField(_("field"), max_length=60)
    code = models.SlugField(_("check"), max_length=60)
    message = models.CharField(_("message"), max_length=500)
    params = models.JSONField(_("parameters of the message"), default=dict, blank=True)
    confirmed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("edit check finding")
        verbose_name_plural = _("edit check findings")
        ordering = ["participant", "raised_at"]
        constraints = [
            # Kept per form and field: the same check firing on two forms is two findings.
            models.UniqueConstraint(
                fields=["participant", "code", "record", "field"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_finding_per_check",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def message_text(self) -> str:
        """The finding in the reader's language (``message`` keeps it in English)."""
        return messages.render(self.code, self.params, fallback=self.message)
