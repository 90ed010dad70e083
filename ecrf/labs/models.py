"""Safety labs and vital signs suited to tacrolimus, with each site's normal ranges."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common.guard import design_guarded, guarded


class Analyte(models.TextChoices):
    SYSTOLIC_BP = "systolic_bp", _("Systolic blood pressure")
    DIASTOLIC_BP = "diastolic_bp", _("Diastolic blood pressure")
    CREATININE = "creatinine", _("Serum creatinine")
    POTASSIUM = "potassium", _("Potassium")
    GLUCOSE = "glucose", _("Glucose")
    MAGNESIUM = "magnesium", _("Magnesium")


class LabVisit(models.TextChoices):
    SCREENING = "screening", _("Screening")
    ET_PLUS_14 = "et_plus_14", _("ET+14")


@design_guarded
@audited()
class NormalRange(models.Model):
    """A site's laboratory normal range of one analyte, with its unit."""

    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="normal_ranges")
    analyte = models.CharField(_("analyte"), max_length=20, choices=Analyte.choices)
    unit = models.CharField(_("unit"), max_length=20)
    low = models.DecimalField(_("lower limit"), max_digits=8, decimal_places=2)
    high = models.DecimalField(_("upper limit"), max_digits=8, decimal_places=2)

    class Meta:
        verbose_name = _("normal range")
        verbose_name_plural = _("normal ranges")
        constraints = [
            models.UniqueConstraint(fields=["site", "analyte"], name="one_range_per_site_analyte"),
            models.CheckConstraint(
                condition=models.Q(low__lt=models.F("high")),
                name="normal_range_ordered",
                violation_error_message=_("The lower limit must be below the upper limit."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.analyte}: {self.low}-{self.high} {self.unit}"


@guarded
@audited()
class LabResult(models.Model):
    """One measurement at screening or ET+14, flagged against the site's normal range."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="lab_results"
    )
    visit = models.CharField(_("visit"), max_length=12, choices=LabVisit.choices)
    analyte = models.CharField(_("analyte"), max_length=20, choices=Analyte.choices)
    measured_on = models.DateField(_("date"))
    value = models.DecimalField(_("value"), max_digits=8, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=20)
    normal_low = models.DecimalField(_("lower limit"), max_digits=8, decimal_places=2)
    normal_high = models.DecimalField(_("upper limit"), max_digits=8, decimal_places=2)
    out_of_range = models.BooleanField(_("out of range"))
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)

    class Meta:
        verbose_name = _("safety lab result")
        verbose_name_plural = _("safety lab results")
        ordering = ["participant", "visit", "analyte"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "visit", "analyte"], name="one_result_per_visit_analyte"
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="lab_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.visit} {self.analyte}: {self.value} {self.unit}"
