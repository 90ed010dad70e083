"""A study, its settings, and the sites that run it."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a time zone name such as Asia/Tokyo."), params={"value": value}
        )


@audited()
class Study(models.Model):
    """A trial hosted by the platform; its settings are data, changed only with audit."""

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

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")

    def __str__(self) -> str:
        return self.code

    @property
    def title(self) -> str:
        return self.title_ja if (get_language() or "").startswith("ja") else self.title_en


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
