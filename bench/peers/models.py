"""One form, four times: bare, under django-simple-history, under pghistory as this
project tracks its models, and under pghistory with the project's hash chain.

The form has the columns of the biochemical pregnancy form and the bookkeeping every case
report form here has (who entered it, when it changed, a comment).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from ecrf.audit.tracking import audited


class Form(models.Model):
    participant_code = models.CharField(max_length=20)
    assessed_on = models.DateField()
    serum_hcg_miu_ml = models.DecimalField(max_digits=12, decimal_places=2)
    result = models.CharField(max_length=10)
    comment = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.participant_code} {self.assessed_on}"


class BareForm(Form):
    pass


class SimpleHistoryForm(Form):
    history = HistoricalRecords()


@audited()
class UnchainedForm(Form):
    """Tracked as the project tracks its models; the benchmark takes the chain off its
    event table."""


@audited()
class AuditedForm(Form):
    """Tracked as the project tracks its models, under the hash chain."""
