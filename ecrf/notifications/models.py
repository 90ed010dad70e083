"""The outbox: e-mails written in the transaction of the change they tell of, sent after.

A row exists exactly when the change does; a worker sends it and marks it sent, and a
beat job queues again whatever is still unsent, so a broker that was down or a worker
that died delays a message but never loses it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OutboxMessage(models.Model):
    """One e-mail owed: its text, and the record of sending it."""

    subject = models.CharField(pgettext_lazy("e-mail", "subject"), max_length=300)
    body = models.TextField(pgettext_lazy("e-mail", "body"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.subject


class StaffNotificationKind(models.TextChoices):
    UNBLINDING = "unblinding", _("Unblinding")
    LIST_EXHAUSTED = "list_exhausted", _("Randomization list run out")


class StaffNotification(OutboxMessage):
    """An e-mail to one member of the study's staff, in her language, about one event."""

    kind = models.CharField(_("kind"), max_length=30, choices=StaffNotificationKind.choices)
    recipient = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient"),
    )

    class Meta:
        verbose_name = _("staff notification")
        verbose_name_plural = _("staff notifications")
        ordering = ["created_at", "pk"]
