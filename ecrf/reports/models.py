"""What the reports count of each participant, kept by the database as her data change."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class ParticipantSummary(models.Model):
    """One row per participant: the facts the reports count (analysis sets, CONSORT flow,
    enrollment, efficacy). Only the database's triggers write it (:mod:`.summary`); it is
    a copy of rows audited in their own tables, not a record of its own."""

    participant = models.OneToOneField(
        "participants.Participant",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="summary",
    )
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=20)
    arm = models.CharField(_("arm"), max_length=16, null=True)  # noqa: DJ001  (not randomized)
    randomized_month = models.DateField(_("month of randomization"), null=True)
    eligible = models.BooleanField(_("eligible"), null=True)
    failed_criteria = ArrayField(models.CharField(max_length=60), default=list)
    consented = models.BooleanField(_("consented"))
    et_performed = models.BooleanField(_("embryo transfer performed"))
    dose_taken = models.BooleanField(_("at least one dose taken"))
    biochemical_result = models.CharField(  # noqa: DJ001  (none: not assessed)
        _("biochemical pregnancy"), max_length=10, null=True
    )
    clinical_sac_seen = models.BooleanField(_("gestational sac seen"), null=True)
    withdrawn = models.BooleanField(_("withdrawn"))
    withdrawal_reason = models.CharField(_("reason for withdrawal"), max_length=500)

    class Meta:
        verbose_name = _("participant summary")
        verbose_name_plural = _("participant summaries")

    def __str__(self) -> str:
        return f"summary of participant {self.participant_id}"


class SiteAdverseEventCount(models.Model):
    """Per site, the adverse events the safety report counts, already grouped: per arm,
    per arm and cell (grade, seriousness, relationship), per arm, term and grade; each
    group's events and the participants with at least one. Only the database's triggers
    write it (:mod:`.safety_counts`); a participant belongs to one site, so the sites'
    rows add up to the study's."""

    class Kind(models.IntegerChoices):
        TERM = 1, _("by term and grade")
        CELL = 2, _("by grade, seriousness and relationship")
        ARM = 3, _("by arm")

    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="+")
    kind = models.PositiveSmallIntegerField(_("grouping"), choices=Kind.choices)
    arm = models.CharField(_("arm"), max_length=16, null=True)  # noqa: DJ001  (not randomized)
    ctcae_grade = models.PositiveSmallIntegerField(_("CTCAE grade"), null=True)
    serious = models.BooleanField(_("serious"), null=True)
    related = models.BooleanField(_("related to tacrolimus"), null=True)
    term = models.CharField(  # noqa: DJ001  (none: a grouping without the term)
        _("adverse event term"), max_length=200, null=True
    )
    events = models.PositiveIntegerField(_("events"))
    participants = models.PositiveIntegerField(_("participants with events"))

    class Meta:
        verbose_name = _("adverse event count")
        verbose_name_plural = _("adverse event counts")
        indexes = [models.Index(fields=["site"], name="reports_ae_count_site")]

    def __str__(self) -> str:
        return f"adverse events of site {self.site_id}: {self.events}"
