"""Queries: a monitor's or data manager's question on one field, and its thread."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import audited
from ecrf.common import messages


class QueryStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


@audited()
class Query(models.Model):
    """A question on one field of one form of a participant, open until closed."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="queries"
    )
    record = models.CharField(_("form"), max_length=40)
    record_id = models.BigIntegerField(_("record"), null=True, blank=True)
    field = models.CharField(_("field"), max_length=60)
    status = models.CharField(
        _("status"), max_length=10, choices=QueryStatus.choices, default=QueryStatus.OPEN
    )
    opened_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    edit_check = models.SlugField(_("raised by edit check"), max_length=60, blank=True)
    edit_check_params = models.JSONField(
        _("parameters of the edit check's finding"), default=dict, blank=True
    )

    class Meta:
        verbose_name = _("query")
        verbose_name_plural = _("queries")
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "answered", "closed"]),
                name="query_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.record}.{self.field}: {self.status}"


class MessageKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Re-opened")


@audited()
class QueryMessage(models.Model):
    """One step of a query's thread: opened, answered, closed or re-opened, with the text."""

    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(_("step"), max_length=10, choices=MessageKind.choices)
    text = models.TextField(_("text"), blank=True)
    author = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    written_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        verbose_name = _("query message")
        verbose_name_plural = _("query messages")
        ordering = ["query", "written_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:40]}"

    @property
    def text_shown(self) -> str:
        """The step's words for the reader: the finding that opened an edit check's query
        in the reader's language (``text`` keeps it in English); a person's words as typed."""
        query = self.query
        if self.kind == MessageKind.OPENED and self.author_id is None and query.edit_check:
            return messages.render(query.edit_check, query.edit_check_params, fallback=self.text)
        return self.text
