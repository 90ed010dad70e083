"""Randomization lists (permuted blocks, per site) and the allocations taken from them.

A list is generated from a recorded seed or imported from the statistician's
allocation table, then activated. An active list can be extended, never edited.
Allocation takes the next free slot under a row lock; the database holds the
backstop: one slot per participant and one participant per slot.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common.guard import guarded


class ListStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class ListSource(models.TextChoices):
    GENERATED = "generated", _("Generated from a seed")
    IMPORTED = "imported", _("Imported allocation table")


@audited()
class RandomizationList(models.Model):
    """One version of a stratum's allocation list (a site's, when stratified by site)."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(
        "studies.Site",
        on_delete=models.PROTECT,
        related_name="randomization_lists",
        null=True,
        blank=True,
        help_text=_("Empty when the study is not stratified by site."),
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=ListStatus.choices, default=ListStatus.DRAFT
    )
    source = models.CharField(_("source"), max_length=10, choices=ListSource.choices)
    ratio = ArrayField(models.PositiveSmallIntegerField(), verbose_name=_("allocation ratio"))
    arm_codes = ArrayField(models.CharField(max_length=16), verbose_name=_("arms, in ratio order"))
    block_sizes = ArrayField(
        models.PositiveSmallIntegerField(), verbose_name=_("block sizes"), default=list
    )
    seeds = ArrayField(
        models.BigIntegerField(),
        verbose_name=_("seeds (one per generation or extension)"),
        default=list,
        blank=True,
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    exhausted_notified_at = models.DateTimeField(
        _("statisticians told the list ran out"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("randomization list")
        verbose_name_plural = _("randomization lists")
        ordering = ["site__code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "site", "version"],
                name="list_version_unique_per_stratum",
                nulls_distinct=False,
            ),
            models.UniqueConstraint(
                fields=["study", "site"],
                condition=models.Q(status="active"),
                name="one_active_list_per_stratum",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        stratum = self.site.code if self.site_id else "all sites"  # type: ignore[union-attr]
        return f"{stratum} v{self.version} ({self.status})"


@guarded
@audited()
class Slot(models.Model):
    """One position of a list: its block and arm, and the participant who took it."""

    randomization_list = models.ForeignKey(
        RandomizationList, on_delete=models.PROTECT, related_name="slots"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    block = models.PositiveIntegerField(_("block"))
    block_size = models.PositiveSmallIntegerField(_("block size"))
    arm = models.ForeignKey("studies.Arm", on_delete=models.PROTECT, related_name="+")
    participant = models.OneToOneField(
        "participants.Participant",
        on_delete=models.PROTECT,
        related_name="allocation",
        null=True,
        blank=True,
    )
    randomization_number = models.CharField(
        _("randomization number"), max_length=20, null=True, blank=True, unique=True
    )
    allocated_at = models.DateTimeField(_("randomized at"), null=True, blank=True)
    allocated_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = _("randomization slot")
        verbose_name_plural = _("randomization slots")
        ordering = ["randomization_list", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["randomization_list", "sequence"], name="slot_sequence_unique_per_list"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(participant__isnull=True, allocated_at__isnull=True)
                    | models.Q(participant__isnull=False, allocated_at__isnull=False)
                ),
                name="slot_allocation_complete",
            ),
        ]
        indexes = [
            models.Index(
                fields=["randomization_list", "sequence"],
                condition=models.Q(participant__isnull=True),
                name="free_slots",
            )
        ]

    def __str__(self) -> str:
        return f"{self.randomization_list} #{self.sequence}"


class AllocationRequest(models.Model):
    """A randomize request by its idempotency key: a replay returns the first answer."""

    key = models.CharField(max_length=200)
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="+"
    )
    slot = models.OneToOneField(Slot, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requested_by", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key
