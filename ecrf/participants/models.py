"""Participants: everyone screened at a site, from the screening log onwards."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited


class ParticipantStatus(models.TextChoices):
    SCREENING = "screening", _("Screening")
    SCREEN_FAILED = "screen_failed", _("Screen failed")
    ELIGIBLE = "eligible", _("Eligible")
    CONSENTED = "consented", _("Consented")
    RANDOMIZED = "randomized", _("Randomized")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    COMPLETED = "completed", _("Completed")


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
