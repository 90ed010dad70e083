"""A study, its settings, and the sites that run it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common.guard import design_guarded, settings_guarded


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a time zone name such as Asia/Tokyo."), params={"value": value}
        )


@settings_guarded
@audited()
class Study(models.Model):
    """A trial hosted by the platform; its settings are data, changed only with audit.

    What each setting governs is declared in the catalogue
    (:data:`ecrf.common.catalogue.STUDY_SETTINGS`); the design and analysis settings do
    not change while the study database is locked.
    """

    code = models.SlugField(_("study code"), max_length=32, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=300)
    title_ja = models.CharField(_("title (Japanese)"), max_length=300)
    registry_id = models.CharField(_("registry identifier"), max_length=64, blank=True)
    target_enrollment = models.PositiveIntegerField(_("target enrollment"), default=26)
    mfa_required = models.BooleanField(
        _("two-factor authentication required"),
        default=True,
        help_text=_("May be switched off for a demonstration installation only."),
    )
    eligibility_age_min = models.PositiveSmallIntegerField(_("minimum age at consent"), default=18)
    eligibility_age_max = models.PositiveSmallIntegerField(
        _("age limit at consent (exclusive)"), default=40
    )
    screening_age_min = models.PositiveSmallIntegerField(
        _("youngest plausible age at screening"),
        default=15,
        help_text=_("A date of birth giving a younger age is refused as a typing error."),
    )
    screening_age_max = models.PositiveSmallIntegerField(
        _("oldest plausible age at screening"),
        default=60,
        help_text=_("A date of birth giving an older age is refused as a typing error."),
    )
    min_prior_transfers = models.PositiveSmallIntegerField(
        _("minimum prior embryo transfers"), default=3
    )
    min_prior_embryos = models.PositiveSmallIntegerField(
        _("minimum good-quality embryos transferred"), default=4
    )
    th1_th2_threshold = models.DecimalField(
        _("minimum Th1/Th2 ratio"), max_digits=6, decimal_places=2, default=Decimal("10.30")
    )
    consent_versions = ArrayField(
        models.CharField(max_length=20),
        verbose_name=_("consent form versions in use"),
        default=list,
        blank=True,
    )
    stratify_by_site = models.BooleanField(_("randomization stratified by site"), default=True)
    randomization_block_sizes = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("randomization block sizes"),
        default=list,
        blank=True,
    )
    dosing_start_offset = models.SmallIntegerField(
        _("first dosing day, counted from the embryo transfer"), default=-2
    )
    dosing_days = models.PositiveSmallIntegerField(_("dosing days"), default=16)
    min_days_randomization_to_et = models.PositiveSmallIntegerField(
        _("earliest embryo transfer, in days after randomization"),
        default=2,
        validators=[MinValueValidator(0)],
        help_text=_(
            "Dosing starts two days before the transfer and cannot come before randomization."
        ),
    )
    max_days_randomization_to_et = models.PositiveSmallIntegerField(
        _("latest embryo transfer, in days after randomization"), default=180
    )
    blinded = models.BooleanField(_("blinded study"), default=False)
    blinded_roles = ArrayField(
        models.CharField(max_length=20),
        verbose_name=_("roles that must not see the arm"),
        default=list,
        blank=True,
    )
    efficacy_null_rate = models.DecimalField(
        _("threshold (null) rate of the efficacy test"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.05"),
        help_text=_("Each arm is tested alone against this rate (one-sided exact binomial test)."),
    )
    efficacy_alpha = models.DecimalField(
        _("significance level per arm"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.0125"),
    )
    efficacy_visible_before_lock = models.BooleanField(
        _("efficacy results shown to other sponsor roles before the database lock"),
        default=False,
        help_text=_(
            "Statisticians and administrators always see them; data managers otherwise "
            "only once the study database is locked."
        ),
    )

    audit_late_entry_days = models.PositiveSmallIntegerField(
        _("days after which an entry counts as late"),
        default=7,
        help_text=_(
            "Audit review flags a record entered more than this many days after the date "
            "it records."
        ),
    )
    audit_working_hours_start = models.TimeField(
        _("working hours start"),
        default=dt.time(7, 0),
        help_text=_("Audit review flags changes made outside the site's working hours."),
    )
    audit_working_hours_end = models.TimeField(_("working hours end"), default=dt.time(21, 0))
    audit_bulk_records = models.PositiveIntegerField(
        _("records changed within 10 minutes that make a bulk change"),
        default=50,
        help_text=_(
            "Audit review flags a user's changes once she has changed more than this many "
            "records within 10 minutes."
        ),
    )

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(eligibility_age_min__lt=models.F("eligibility_age_max")),
                name="study_age_bounds_ordered",
                violation_error_message=_("The minimum age must be below the age limit."),
            ),
            models.CheckConstraint(
                condition=models.Q(screening_age_min__lte=models.F("screening_age_max")),
                name="study_screening_ages_ordered",
                violation_error_message=_(
                    "The youngest plausible age at screening cannot be above the oldest."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(
                    min_days_randomization_to_et__lte=models.F("max_days_randomization_to_et")
                ),
                name="study_randomization_to_et_days_ordered",
                violation_error_message=_(
                    "The earliest embryo transfer cannot come after the latest."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(th1_th2_threshold__gte=0),
                name="study_th1_th2_threshold_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    audit_working_hours_start__lt=models.F("audit_working_hours_end")
                ),
                name="study_working_hours_ordered",
                violation_error_message=_("Working hours must start before they end."),
            ),
            models.CheckConstraint(
                condition=models.Q(efficacy_null_rate__gt=0, efficacy_null_rate__lt=1),
                name="study_efficacy_null_rate_a_proportion",
                violation_error_message=_("The null rate is a proportion between 0 and 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(efficacy_alpha__gt=0, efficacy_alpha__lt=1),
                name="study_efficacy_alpha_a_proportion",
                violation_error_message=_("The significance level lies between 0 and 1."),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def title(self) -> str:
        return self.title_ja if (get_language() or "").startswith("ja") else self.title_en


@design_guarded
@audited()
class Arm(models.Model):
    """A treatment arm: its dose and its weight in the allocation ratio (2:1 low:high)."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="arms")
    code = models.SlugField(_("arm code"), max_length=16)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    daily_dose_mg = models.DecimalField(_("daily dose (mg)"), max_digits=6, decimal_places=2)
    capsule_mg = models.DecimalField(
        _("capsule strength (mg)"), max_digits=6, decimal_places=2, default=Decimal("1")
    )
    intakes_per_day = models.PositiveSmallIntegerField(_("intakes a day"), default=2)
    allocation_weight = models.PositiveSmallIntegerField(_("weight in the allocation ratio"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("arm")
        verbose_name_plural = _("arms")
        ordering = ["study", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="arm_code_unique_per_study"),
            models.CheckConstraint(
                condition=models.Q(allocation_weight__gte=1), name="arm_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_ja if (get_language() or "").startswith("ja") else self.name_en


@design_guarded
@audited()
class VisitDefinition(models.Model):
    """A scheduled visit: target day and window, counted from the embryo transfer (day 0)."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="visit_definitions")
    code = models.SlugField(_("visit code"), max_length=40)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    target_offset = models.SmallIntegerField(_("target day"))
    window_start_offset = models.SmallIntegerField(_("window opens on day"))
    window_end_offset = models.SmallIntegerField(_("window closes on day"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["study", "order", "target_offset"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="visit_code_unique_per_study"),
            models.CheckConstraint(
                condition=models.Q(window_start_offset__lte=models.F("target_offset"))
                & models.Q(target_offset__lte=models.F("window_end_offset")),
                name="visit_target_inside_window",
                violation_error_message=_(
                    "The window must open on or before the target day and close on or after it "
                    "(a window cannot end before it starts)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_ja if (get_language() or "").startswith("ja") else self.name_en


@audited()
class Site(models.Model):
    """A hospital or clinic that screens and enrolls participants (a stratum)."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(
        _("site code"),
        max_length=8,
        validators=[
            RegexValidator(
                r"^[A-Z][0-9]{2}$", _("A site code is a letter and two digits, e.g. S01.")
            )
        ],
    )
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Tokyo", validators=[validate_time_zone]
    )
    last_subject_number = models.PositiveIntegerField(
        _("last subject number issued"),
        default=0,
        help_text=_("Subject numbers are issued in sequence and never reused."),
    )

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="site_code_unique_per_study"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        if (get_language() or "").startswith("ja") and self.name_ja:
            return self.name_ja
        return self.name_en
