"""Safety data: adverse events, and the outbox of serious-adverse-event notifications."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecrf.audit.tracking import audited
from ecrf.common.guard import guarded
from ecrf.notifications.models import OutboxMessage


class SeriousnessCriterion(models.TextChoices):
    """Why an adverse event is serious (ICH E2A; Clinical Trials Act reporting)."""

    DEATH = "death", _("Results in death")
    LIFE_THREATENING = "life_threatening", _("Life-threatening")
    HOSPITALISATION = "hospitalisation", _("Requires hospitalisation or its prolongation")
    DISABILITY = "disability", _("Persistent or significant disability or incapacity")
    CONGENITAL_ANOMALY = "congenital_anomaly", _("Congenital anomaly or birth defect")
    OTHER_MEDICALLY_IMPORTANT = "other_medically_important", _("Other medically important event")


class ActionTaken(models.TextChoices):
    """What was done with tacrolimus because of the event."""

    NONE = "none", _("Dose not changed")
    DOSE_REDUCED = "dose_reduced", _("Dose reduced")
    INTERRUPTED = "interrupted", _("Drug interrupted")
    WITHDRAWN = "withdrawn", _("Drug withdrawn")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class Outcome(models.TextChoices):
    """The outcome of the event (API contract codes)."""

    RECOVERED = "recovered", _("Recovered")
    RECOVERING = "recovering", _("Recovering")
    NOT_RECOVERED = "not_recovered", _("Not recovered")
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", _("Recovered with sequelae")
    FATAL = "fatal", _("Fatal")
    UNKNOWN = "unknown", _("Unknown")


CTCAE_GRADES = [(grade, str(grade)) for grade in range(1, 6)]
FATAL_GRADE = 5


@guarded
@audited()
class AdverseEvent(models.Model):
    """One adverse event of a participant, graded by CTCAE, with its seriousness.

    A serious event must reach the sponsor within 24 hours of ``learned_at`` (protocol,
    Safety); an investigator of the site confirms the assessment.
    """

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="adverse_events"
    )
    term = models.CharField(_("adverse event term"), max_length=200)
    onset_date = models.DateField(_("onset date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    ctcae_grade = models.PositiveSmallIntegerField(_("CTCAE grade"), choices=CTCAE_GRADES)
    serious = models.BooleanField(_("serious"))
    seriousness_criteria = ArrayField(
        models.CharField(max_length=30, choices=SeriousnessCriterion.choices),
        verbose_name=_("seriousness criteria"),
        default=list,
        blank=True,
    )
    related = models.BooleanField(_("related to tacrolimus"))
    action_taken = models.CharField(
        _("action taken with tacrolimus"), max_length=20, choices=ActionTaken.choices, blank=True
    )
    outcome = models.CharField(
        pgettext_lazy("adverse event", "outcome"), max_length=30, choices=Outcome.choices
    )
    learned_at = models.DateTimeField(_("site learned of it at"), default=timezone.now)
    pre_treatment = models.BooleanField(
        _("before the first dose"),
        default=False,
        help_text=_(
            "Set by the eCRF: the onset comes before her first dose (or her planned first "
            "dosing day while no dose is recorded)."
        ),
    )
    recorded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last saved"), auto_now=True)
    confirmed_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        # Not "..._adverseevent": a table name ending in "event" reads as an audit table.
        db_table = "safety_adverse_events"
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")
        ordering = ["participant", "onset_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ctcae_grade__gte=1, ctcae_grade__lte=5),
                name="ae_ctcae_grade_1_to_5",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("onset_date")),
                name="ae_ends_after_onset",
            ),
            models.CheckConstraint(
                condition=models.Q(ctcae_grade=FATAL_GRADE, outcome=Outcome.FATAL, serious=True)
                | (~models.Q(ctcae_grade=FATAL_GRADE) & ~models.Q(outcome=Outcome.FATAL)),
                name="ae_grade_5_is_fatal_and_serious",
            ),
            models.CheckConstraint(
                condition=models.Q(serious=True) | models.Q(seriousness_criteria__len=0),
                name="ae_criteria_only_when_serious",
            ),
            models.CheckConstraint(
                condition=models.Q(seriousness_criteria__contained_by=SeriousnessCriterion.values),
                name="ae_seriousness_criteria_known",
            ),
            models.CheckConstraint(
                condition=models.Q(action_taken__in=["", *ActionTaken.values]),
                name="ae_action_taken_known",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=Outcome.values), name="ae_outcome_known"
            ),
            models.CheckConstraint(
                condition=models.Q(confirmed_by__isnull=True, confirmed_at__isnull=True)
                | models.Q(confirmed_by__isnull=False, confirmed_at__isnull=False),
                name="ae_confirmation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant}: {self.term} (grade {self.ctcae_grade})"

    @property
    def criteria_missing(self) -> bool:
        """Serious, but the seriousness criteria are still to be given (see the services)."""
        return self.serious and not self.seriousness_criteria


class SafetyNotification(OutboxMessage):
    """The sponsor's e-mail about a serious adverse event: written first, then sent once.

    Written in the transaction that made the event serious, so the notification exists
    exactly when the event does; a task sends it and marks it sent (see
    :func:`ecrf.safety.services.safety_notification_send`).
    """

    adverse_event = models.ForeignKey(
        AdverseEvent, on_delete=models.PROTECT, related_name="notifications"
    )

    class Meta:
        verbose_name = _("SAE notification")
        verbose_name_plural = _("SAE notifications")
        ordering = ["created_at", "pk"]
