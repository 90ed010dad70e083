"""Export jobs: what someone asked to export, how far it has come, and the file it made.

A job is not study data: it records who took which data away, when, with which
checksum and which head of the audit chain, and it is kept after its file expires.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ExportKind(models.TextChoices):
    """What an export holds (API contract: ``kind``)."""

    AUDIT_TRAIL = "audit_trail", _("Audit trail")
    CLINICAL_DATA = "clinical_data", _("Clinical data")
    DATA_DICTIONARY = "data_dictionary", _("Data dictionary")
    SDTM = "sdtm", _("SDTM submission datasets")
    CASEBOOK = "casebook", _("Casebook of one participant (certified copy)")
    ARCHIVE = "archive", _("Site archive (signed and time-stamped certified copy)")


class ExportFileFormat(models.TextChoices):
    """How an export is written (API contract: ``format``)."""

    CSV = "csv", _("CSV")
    ODM = "odm", _("CDISC ODM 1.3.2 (XML)")
    XPT = "xpt", _("SAS transport (XPT v5)")
    DATASET_JSON = "dataset-json", _("CDISC Dataset-JSON v1.1")
    PDF = "pdf", _("PDF")
    ZIP = "zip", _("ZIP")


class ExportStatus(models.TextChoices):
    """Where a job stands; ``expired`` once its file was deleted after the retention period."""

    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", pgettext_lazy("export status", "Done")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


#: Statuses in which a worker still has to do something.
OPEN_STATUSES: frozenset[str] = frozenset({ExportStatus.PENDING, ExportStatus.RUNNING})


class ExportJob(models.Model):
    """One export asked for by one user, run by a worker, downloadable by her alone.

    The file lives at ``MEDIA_ROOT/exports/<file_name>``; ``file_name`` is made from the
    job's own id, never from anything the user typed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="export_jobs",
        verbose_name=_("requested by"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ExportKind.choices)
    format = models.CharField(_("format"), max_length=20, choices=ExportFileFormat.choices)
    site = models.ForeignKey(
        "studies.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    subject_id = models.CharField(_("subject ID"), max_length=16, blank=True)
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)

    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    file_name = models.CharField(_("file name"), max_length=100, blank=True)
    size = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    checksum = models.CharField(_("SHA-256 checksum"), max_length=64, blank=True)
    chain_head = models.CharField(_("audit chain head"), max_length=64, blank=True)
    row_count = models.BigIntegerField(_("rows"), null=True, blank=True)
    #: What the file holds, as the run resolved it: the download is served only while
    #: the owner could still make the same export.
    scope_site_ids = ArrayField(
        models.PositiveIntegerField(), verbose_name=_("sites exported"), default=list, blank=True
    )
    scope_concealed = ArrayField(
        models.CharField(max_length=100),
        verbose_name=_("records left out (concealment)"),
        default=list,
        blank=True,
    )
    scope_arm_visible = models.BooleanField(_("arm shown"), default=False)

    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="exportjob_owner_created"),
            models.Index(fields=["status"], name="exportjob_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="exportjob_progress_percent"
            ),
            models.CheckConstraint(
                condition=models.Q(since__isnull=True)
                | models.Q(until__isnull=True)
                | models.Q(until__gte=models.F("since")),
                name="exportjob_date_range_ordered",
                violation_error_message=_("The end of the date range is before its start."),
            ),
            models.CheckConstraint(
                condition=~models.Q(status="done")
                | (
                    ~models.Q(checksum="")
                    & ~models.Q(file_name="")
                    & models.Q(size__isnull=False, expires_at__isnull=False)
                ),
                name="exportjob_done_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.format} {self.created_at:%Y-%m-%d %H:%M} ({self.status})"
